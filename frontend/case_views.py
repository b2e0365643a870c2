"""Pages for cases and follow-up: the client's way back with a case code, the staff case
page, the follow-up inbox, and transcripts."""

import uuid

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from chat import selectors
from chat.errors import ChatError
from chat.models import FollowUp
from chat.parsing import parse_id, session_id
from chat.ratelimit import address_key
from chat.services.access import case_read, conversation_transcript, followup_inbox_read
from chat.services.cases import (
    case_close,
    case_open_by_code,
    case_protect,
    followup_ask,
    followup_client_answer,
    followup_client_ask,
    followup_mark_read,
    followup_worker_answer,
)
from chat.transcripts import entries, transcript_text
from frontend.decorators import staff_page

RETURN_SESSION_KEY = "case_id"


def _client_address(request: HttpRequest) -> str:
    return address_key({"client": (request.META.get("REMOTE_ADDR", ""), 0)})


# --- the client's way back ------------------------------------------------------------------
@never_cache
def return_page(request: HttpRequest) -> HttpResponse:
    """Enter a case code. A wrong code says nothing about whether a case exists."""
    error = ""
    if request.method == "POST":
        try:
            case = case_open_by_code(
                code=request.POST.get("code", ""), address=_client_address(request)
            )
        except ChatError:
            error = _(
                "We could not open a case with that code. Check it and try again. "
                "After several tries you have to wait a while."
            )
        else:
            request.session.cycle_key()
            request.session[RETURN_SESSION_KEY] = case.pk
            return redirect("return-case")
    return render(
        request,
        "frontend/return.html",
        {"error": error, "quick_exit_url": settings.QUICK_EXIT_URL},
        status=400 if error else 200,
    )


@never_cache
def return_case_page(request: HttpRequest) -> HttpResponse:
    """The returning client's case: questions to answer, their own questions and the
    answers, a new question, and a new chat about the same case."""
    case = selectors.case_get_returning(case_id=session_id(request.session.get(RETURN_SESSION_KEY)))
    if case is None:
        return redirect("return")
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "answer":
                followup_client_answer(
                    case=case,
                    followup_id=parse_id(request.POST.get("followup"), name="followup"),
                    answer=request.POST.get("answer") or request.POST.get("choice", ""),
                )
            elif action == "ask":
                followup_client_ask(case=case, body=request.POST.get("body", ""))
            elif action == "forget":
                request.session.flush()
                return redirect("client")
            return redirect("return-case")
        except ChatError:
            error = _("That could not be saved. Write a few words and try again.")
    language = get_language() or "sv"
    followups = selectors.followup_list_for_client(case=case)
    response = render(
        request,
        "frontend/return_case.html",
        {
            "case": case,
            # The unit's name in the page's language, or the Swedish (marked lang="sv").
            "unit": selectors.unit_texts(units=[case.unit], language=language)[case.unit_id],
            "to_answer": [f for f in followups if f.kind == FollowUp.Kind.TO_CLIENT],
            "my_questions": [f for f in followups if f.kind == FollowUp.Kind.FROM_CLIENT],
            "is_open": selectors.unit_is_open(unit=case.unit),
            "error": error,
            "quick_exit_url": settings.QUICK_EXIT_URL,
        },
        status=400 if error else 200,
    )
    followup_mark_read(case=case)
    return response


@require_POST
def client_transcript(request: HttpRequest) -> HttpResponse:
    """The client saves their own transcript. The token comes in the form body, never
    in a URL; nothing is e-mailed."""
    try:
        transcript = selectors.transcript_for_client(token=request.POST.get("token", ""))
    except ChatError:
        raise Http404 from None
    response = HttpResponse(transcript_text(transcript), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="chat.txt"'
    return response


# --- staff ---------------------------------------------------------------------------------
# The client languages a follow-up question's quick answers can be given in besides Swedish.
QUICK_ANSWER_LANGUAGES = [code for code, _name in settings.CLIENT_LANGUAGES if code != "sv"]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@never_cache
@staff_page("chat.use_console")
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    """A case's timeline for staff of its unit; every opening is in the access log."""
    user = request.user
    try:
        case = case_read(actor=user, case_id=case_id, request_id=request.id)  # type: ignore[arg-type,attr-defined]
    except ChatError:
        raise Http404 from None
    error = ""
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "ask":
                followup_ask(
                    case=case,
                    actor=user,  # type: ignore[arg-type]
                    body=request.POST.get("body", ""),
                    choices=_lines(request.POST.get("choices", "")),
                    translated_choices={
                        code: _lines(request.POST.get(f"choices_{code}", ""))
                        for code in QUICK_ANSWER_LANGUAGES
                    },
                )
            elif action == "answer":
                followup = selectors.followup_get_for_staff(
                    user=user,  # type: ignore[arg-type]
                    followup_id=parse_id(request.POST.get("followup"), name="followup"),
                )
                followup_worker_answer(
                    followup=followup,
                    actor=user,  # type: ignore[arg-type]
                    answer=request.POST.get("answer", ""),
                )
            elif action == "close":
                case_close(case=case, actor=user)  # type: ignore[arg-type]
            elif action == "protect":
                staff = {u.pk: u for u in selectors.case_staff_to_name(case=case)}
                named = [
                    staff[parse_id(value, name="named")]
                    for value in request.POST.getlist("named")
                    if parse_id(value, name="named") in staff
                ]
                case_protect(case=case, actor=user, named=named)  # type: ignore[arg-type]
            return redirect("case", case_id=case.pk)
        except ChatError:
            error = _("That could not be saved. Check the text and try again.")
    return render(
        request,
        "frontend/case.html",
        {
            "case": case,
            "timeline": selectors.case_timeline(user=user, case=case),  # type: ignore[arg-type]
            "named_staff": list(case.named_staff.order_by("first_name", "username")),
            "staff_to_name": selectors.case_staff_to_name(case=case),
            "quick_answer_languages": QUICK_ANSWER_LANGUAGES,
            "error": error,
        },
        status=400 if error else 200,
    )


@never_cache
@staff_page("chat.use_console")
def inbox_page(request: HttpRequest) -> HttpResponse:
    """The follow-up inbox of the worker's units, kept live by the console socket."""
    cutoff = selectors.followup_reminder_cutoff()
    items = followup_inbox_read(actor=request.user, request_id=request.id)  # type: ignore[arg-type,attr-defined]
    return render(
        request,
        "frontend/inbox.html",
        {
            "items": items,
            "overdue": {
                f.pk for f in items if selectors.followup_is_waiting_long(f, cutoff=cutoff)
            },
            "reminder_days": settings.FOLLOWUP_REMINDER_DAYS,
            "socket_settings": {"heartbeatSeconds": settings.CHAT_HEARTBEAT_SECONDS},
        },
    )


def _staff_transcript(request: HttpRequest, conversation_id: int):
    try:
        return conversation_transcript(
            actor=request.user,  # type: ignore[arg-type]
            conversation_id=conversation_id,
            include_notes=request.GET.get("notes") == "1",
            request_id=getattr(request, "id", uuid.uuid4()),
        )
    except ChatError:
        raise Http404 from None


@never_cache
@staff_page("chat.use_console")
def transcript_download(request: HttpRequest, conversation_id: int) -> HttpResponse:
    transcript = _staff_transcript(request, conversation_id)
    response = HttpResponse(transcript_text(transcript), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conversation-{conversation_id}.txt"'
    return response


@never_cache
@staff_page("chat.use_console")
def transcript_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    transcript = _staff_transcript(request, conversation_id)
    return render(
        request,
        "frontend/transcript.html",
        {
            "transcript": transcript,
            "conversation": transcript.conversation,
            "rows": entries(transcript),
            "with_notes": bool(transcript.notes),
        },
    )
