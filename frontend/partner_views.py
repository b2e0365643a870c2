"""Partner staff's pages: the referral form and the receipt. A partner sees when social
services received the referral, never anything of the conversation it became."""

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from chat import selectors
from chat.errors import ChatError, InvalidInput
from chat.models import Referral
from chat.services.conversations import conversation_quick_exit
from chat.services.referrals import ReferralForm as ReferralInput
from chat.services.referrals import referral_open_chat, referral_send
from frontend.decorators import staff_page
from frontend.forms import ReferralForm

INVALID_TEXT = {
    "phone_required": gettext_lazy("Write the number to call."),
    "phone_invalid": gettext_lazy("Write the number with digits only, for example 070-123 45 67."),
}


def _time(moment) -> str:  # type: ignore[no-untyped-def]
    return formats.time_format(timezone.localtime(moment), "H:i")


def receipt_text(receipt: selectors.Receipt) -> str:
    """The one sentence the partner may read to the person."""
    if receipt.no_unit_open:
        return _("No unit at social services is open right now. Do this instead:")
    if receipt.received_at is not None:
        return _("Received by social services at %(time)s, being handled.") % {
            "time": _time(receipt.received_at)
        }
    return _("Sent at %(time)s. Waiting for a social worker to take it.") % {
        "time": _time(receipt.sent_at)
    }


@never_cache
@staff_page("chat.refer")
def referral_page(request: HttpRequest) -> HttpResponse:
    """The referral form; sending it shows the receipt at once."""
    user = request.user
    places = selectors.partner_place_list(partner=user)  # type: ignore[arg-type]
    form = ReferralForm(request.POST or None, places=places, code_word=settings.REFERRAL_CODE_WORD)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            referral = referral_send(
                partner=user,  # type: ignore[arg-type]
                form=ReferralInput(
                    place_id=data["place"].pk,
                    contact=Referral.Contact(data["contact"]),
                    children=Referral.Children(data["children"]),
                    phone=data["phone"],
                    safe_time=data["safe_time"],
                    language=data["language"],
                    interpreter=data["interpreter"],
                    note=data["note"],
                ),
            )
        except InvalidInput as error:
            form.add_error("phone", INVALID_TEXT.get(error.code, _("Check what you wrote.")))
        else:
            return redirect("referral-receipt", referral_id=referral.pk)
    return render(
        request,
        "frontend/partner_referral.html",
        {
            "form": form,
            "code_word": settings.REFERRAL_CODE_WORD,
            "recent": [
                (receipt, receipt_text(receipt))
                for receipt in selectors.referral_list_recent(partner=user)  # type: ignore[arg-type]
            ],
        },
    )


def _receipt(request: HttpRequest, referral_id: int) -> selectors.Receipt:
    try:
        referral = selectors.referral_get_receipt(partner=request.user, referral_id=referral_id)  # type: ignore[arg-type]
    except ChatError:
        raise Http404 from None
    return selectors.referral_receipt(referral=referral)


@never_cache
@staff_page("chat.refer")
def receipt_page(request: HttpRequest, referral_id: int) -> HttpResponse:
    receipt = _receipt(request, referral_id)
    return render(
        request,
        "frontend/partner_receipt.html",
        {
            "receipt": receipt,
            "text": receipt_text(receipt),
            "advice_name": settings.REFERRAL_ADVICE_PHONE_NAME,
            "advice_phone": settings.REFERRAL_ADVICE_PHONE,
        },
    )


@never_cache
@staff_page("chat.refer")
def receipt_status(request: HttpRequest, referral_id: int) -> JsonResponse:
    """The receipt's sentence, for the page to show as it changes."""
    receipt = _receipt(request, referral_id)
    return JsonResponse(
        {"received": receipt.received_at is not None, "text": receipt_text(receipt)}
    )


@never_cache
@staff_page("chat.refer")
def referral_chat_page(request: HttpRequest, referral_id: int) -> HttpResponse:
    """ "Chat now": the person chats with social services from the partner's device. The
    page keeps its token in memory only (POSTed here once, as JSON, to open the chat), and
    nothing of the chat is stored on the device or readable with the partner's session.
    The POST carries the page's language too, as a client's `start` does."""
    receipt = _receipt(request, referral_id)
    if request.method == "POST":
        try:
            sent = json.loads(request.body or b"{}")
            token, language = sent.get("token", ""), sent.get("language", "")
            if not isinstance(language, str):
                raise ValueError("language must be a text")
            referral_open_chat(
                partner=request.user,  # type: ignore[arg-type]
                referral_id=referral_id,
                token=token if isinstance(token, str) else "",
                language=language,
            )
        except (ValueError, AttributeError):
            return JsonResponse({"code": "invalid"}, status=400)
        except ChatError as error:
            return JsonResponse({"code": error.code}, status=error.http_status)
        return HttpResponse(status=204)
    return render(
        request,
        "frontend/partner_chat.html",
        {
            "receipt": receipt,
            "can_open": receipt.chat_now and not receipt.chat_opened and not receipt.no_unit_open,
            "quick_exit_url": settings.QUICK_EXIT_URL,
            "socket_settings": {
                "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
                "heartbeatSeconds": settings.CHAT_HEARTBEAT_SECONDS,
            },
        },
    )


@require_POST
@staff_page("chat.refer")
def referral_chat_exit(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Quick exit from "chat now": the conversation ends as a client's quick exit does, but
    the partner's session and the site's data on their device stay as they were."""
    _receipt(request, referral_id)
    conversation_quick_exit(token=request.POST.get("token", ""))
    return HttpResponse(status=204)
