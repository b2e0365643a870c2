"""Identified clients: signing in with e-ID (OpenID Connect), the callback, the client's own
page and signing out. A client's sign-in never signs anyone in as staff: it puts only the
client record's id in the session, under its own key, and staff pages read `request.user`.
"""

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from chat import eid, selectors
from chat.eid import EidRefused
from chat.errors import ChatError
from chat.parsing import session_id
from chat.services.clients import client_record_identify, conversation_identify
from chat.transcripts import transcript_text
from frontend.case_views import RETURN_SESSION_KEY

logger = logging.getLogger("chatcounsel.eid")

CLIENT_SESSION_KEY = eid.SESSION_CLIENT
# Identified inside a chat, waiting for consent: {"client", "acr", "conversation"}.
CONSENT_SESSION_KEY = "eid_consent"

REFUSAL_TEXTS = {
    "state": _(
        "This sign-in could not be finished: it was started in another window, took too "
        "long or was already used. Please start again."
    ),
    "cancelled": _("You cancelled the identification. Nothing was saved."),
    "provider": _("The e-ID service did not accept the sign-in. Please try again."),
    "token": _("We could not verify the answer from the e-ID service, so you are not signed in."),
    "issuer": _("The answer came from an e-ID service we do not use, so you are not signed in."),
    "loa": _(
        "This service needs an e-ID with a high level of assurance, such as BankID or "
        "Freja+. The one you used is not enough."
    ),
    "claims": _(
        "The e-ID service did not tell us what we need to identify you, so you are not signed in."
    ),
    "unavailable": _("The e-ID service cannot be reached right now. Please try again later."),
}


def _require_configured() -> None:
    if not eid.is_configured():
        raise Http404


def identified_client(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The identified client signed in in this session, or None."""
    data = request.session.get(CLIENT_SESSION_KEY)
    if not isinstance(data, dict):
        return None
    return selectors.client_record_get_identified(record_id=session_id(data.get("client")))


def allow_sign_in_form(response: HttpResponse) -> HttpResponse:
    """Let this page's sign-in form lead to the provider (see eid.authorization_origin)."""
    origin = eid.authorization_origin() if eid.is_configured() else None
    if origin:
        response._csp_update = {"form-action": [origin]}  # type: ignore[attr-defined]  # django-csp
    return response


def _refused(
    request: HttpRequest, refusal: EidRefused, *, back_to_chat: bool = False
) -> HttpResponse:
    # Reason and detail only: never a claim, a code, a token or the state.
    logger.warning(
        "e-ID sign-in refused: reason=%s detail=%s request=%s",
        refusal.reason,
        refusal.detail or "-",
        getattr(request, "id", "-"),
    )
    return allow_sign_in_form(
        render(
            request,
            "frontend/eid_error.html",
            {
                "reason": refusal.reason,
                "text": REFUSAL_TEXTS[refusal.reason],
                "back_to_chat": back_to_chat,
                "quick_exit_url": settings.QUICK_EXIT_URL,
            },
            status=200 if refusal.reason == "cancelled" else 400,
        )
    )


def _go_to_provider(request: HttpRequest, plan: dict[str, object]) -> HttpResponse:
    """Redirect to the provider, remembering under the new state what to do on return."""
    try:
        state, response = eid.authorization_redirect(
            request,
            redirect_uri=request.build_absolute_uri(reverse("eid-callback")),
            language=get_language() or "sv",
        )
    except EidRefused as refusal:
        return _refused(request, refusal)
    pending = request.session.get(eid.SESSION_PENDING)
    pending = pending if isinstance(pending, dict) else {}
    # A few tabs may start at once; only the newest few are kept.
    pending = dict(list(pending.items())[-4:])
    pending[state] = plan
    request.session[eid.SESSION_PENDING] = pending
    return response


@never_cache
@require_POST
def eid_start(request: HttpRequest) -> HttpResponse:
    """Go to the provider. A POST with the CSRF token: another site cannot start it."""
    _require_configured()
    return _go_to_provider(request, {"next": "my-page"})


@never_cache
@require_POST
def eid_step_up(request: HttpRequest) -> HttpResponse:
    """An anonymous client identifies inside their chat: the chat's token comes in the form
    body. They come back to a consent screen, then to the same chat (its token stays in
    the tab's sessionStorage, its unsent messages in the tab's outbox)."""
    _require_configured()
    try:
        conversation = selectors.conversation_get_for_client(token=request.POST.get("token", ""))
    except ChatError:
        raise Http404 from None
    if not conversation.is_open or conversation.identified:
        return redirect("client")
    return _go_to_provider(request, {"next": "step-up", "conversation": conversation.pk})


@never_cache
def eid_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer. Verified, the client is signed in with a new session key:
    whatever the session held before (a staff sign-in too) is gone."""
    _require_configured()
    pending = request.session.get(eid.SESSION_PENDING)
    pending = pending if isinstance(pending, dict) else {}
    try:
        state, identity = eid.complete(request)
    except EidRefused as refusal:
        plan = pending.pop(request.GET.get("state", ""), None) or {}
        request.session[eid.SESSION_PENDING] = pending
        stepping_up = plan.get("next") == "step-up"
        if stepping_up and refusal.reason == "cancelled":
            logger.info("e-ID step-up cancelled: request=%s", getattr(request, "id", "-"))
            return redirect("client")  # back to the same anonymous chat
        return _refused(request, refusal, back_to_chat=stepping_up)
    plan = pending.pop(state, None) or {"next": "my-page"}
    record = client_record_identify(identity=identity)
    request.session.flush()  # a new key, and nothing of a staff sign-in or an older client
    logger.info("e-ID sign-in: request=%s", getattr(request, "id", "-"))
    if plan["next"] == "step-up":
        # Not signed in yet: only consent links the chat and signs the client in.
        request.session[CONSENT_SESSION_KEY] = {
            "client": record.pk,
            "acr": identity.acr,
            "conversation": plan["conversation"],
        }
        return redirect("eid-consent")
    request.session[CLIENT_SESSION_KEY] = {"client": record.pk, "acr": identity.acr}
    return redirect(plan["next"])


@never_cache
def eid_consent(request: HttpRequest) -> HttpResponse:
    """After identifying inside a chat: link the chat to the identified client, or not.
    Either way the client goes back to the same chat; only "link" signs them in."""
    data = request.session.get(CONSENT_SESSION_KEY)
    data = data if isinstance(data, dict) else {}
    client = selectors.client_record_get_identified(record_id=session_id(data.get("client")))
    conversation_id = session_id(data.get("conversation"))
    if client is None or conversation_id is None:
        return redirect("client")
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "link":
            try:
                conversation_identify(conversation_id=conversation_id, client=client)
            except ChatError:
                error = str(_("The chat has ended, so it could not be linked to you."))
            else:
                del request.session[CONSENT_SESSION_KEY]
                request.session[CLIENT_SESSION_KEY] = {"client": client.pk, "acr": data.get("acr")}
                logger.info("e-ID step-up linked: request=%s", getattr(request, "id", "-"))
                return redirect("client")
        else:
            del request.session[CONSENT_SESSION_KEY]
            logger.info("e-ID step-up declined: request=%s", getattr(request, "id", "-"))
            return redirect("client")
    return render(
        request,
        "frontend/eid_consent.html",
        {"client": client, "error": error, "quick_exit_url": settings.QUICK_EXIT_URL},
        status=409 if error else 200,
    )


@never_cache
def my_page(request: HttpRequest) -> HttpResponse:
    """The identified client's own page; without a sign-in, the way to sign in."""
    client = identified_client(request)
    return allow_sign_in_form(
        render(
            request,
            "frontend/my_page.html",
            {
                "client": client,
                "cases": (
                    selectors.case_list_for_client(client=client, language=get_language() or "sv")
                    if client
                    else []
                ),
                "eid_available": eid.is_configured(),
                "quick_exit_url": settings.QUICK_EXIT_URL,
            },
        )
    )


@never_cache
@require_POST
def my_case_open(request: HttpRequest, case_id: int) -> HttpResponse:
    """Go to one of the client's cases: its questions, a new question, a new chat on it.
    The case page is the one a case code opens; the session now holds this case."""
    client = identified_client(request)
    if client is None:
        return redirect("my-page")
    try:
        case = selectors.case_get_for_client(client=client, case_id=case_id)
    except ChatError:
        raise Http404 from None
    request.session[RETURN_SESSION_KEY] = case.pk
    return redirect("return-case")


@never_cache
def my_transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A finished conversation on one of the client's cases, as text to read or save."""
    client = identified_client(request)
    if client is None:
        return redirect("my-page")
    try:
        transcript = selectors.transcript_for_identified_client(
            client=client, conversation_id=conversation_id
        )
    except ChatError:
        raise Http404 from None
    return HttpResponse(transcript_text(transcript), content_type="text/plain; charset=utf-8")


@never_cache
@require_POST
def eid_sign_out(request: HttpRequest) -> HttpResponse:
    """Sign out: the whole session goes, and the browser is asked to forget the site."""
    request.session.flush()
    response = redirect("client")
    response["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
