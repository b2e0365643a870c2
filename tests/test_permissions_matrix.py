"""Who may do what: every HTTP page and every websocket action, for every persona.

EXPECTED is the role x action table of docs/security.md. Each (persona, action) runs against
the real application (HTTP through Django's test client, websockets through the ASGI
application with a real session cookie) and the observed outcome must equal the table:
every unexpected allow fails the test, and so does every unexpected refusal.

Outcomes:
  "200", "204", "403", "405"  HTTP status
  "login", "admin_login"      redirect to the staff or the admin sign-in
  "exit"                      redirect to the neutral quick-exit page
  "revoked"                   the user's every session was ended
  "closed:4401", ...          the socket was accepted and then closed with that code
  "ok"                        the action took effect on the target (checked in the database)
  "target" / "own"            a client action reached the target / only a conversation of
                              the persona's own
  "error:<code>"              an error frame with that code, and no effect
  "pong"                      the heartbeat was answered
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import Presence, User
from chat.models import (
    AccessLog,
    CannedReply,
    Conversation,
    Handover,
    Message,
    Participant,
    PrivateNote,
    Referral,
    RiskRule,
)
from tests import factories
from tests.security_personas import (
    ANONYMOUS,
    FIRST_BODY,
    OTHER_BODY,
    PERSONAS,
    REFERRAL_NOTE,
    STAFF_WITHOUT_CONSOLE,
    Cast,
    accept_target,
    error_code,
    first_reply,
    http_client,
    keys_anywhere,
    open_socket,
    reload,
    reply_or_close,
    reply_to,
    stored_messages,
    text_of,
)

# The personas and fixtures of tests/security_personas.py (cast, private_rates, ...).
pytest_plugins = ["tests.security_personas"]

pytestmark = pytest.mark.usefixtures("private_rates")


def table(default: str, **outcomes: str) -> dict[str, str]:
    """One row: `default` for every persona not named."""
    row = dict.fromkeys(PERSONAS, default)
    row.update(outcomes)
    return row


def by_group(**groups: str) -> dict[str, str]:
    """Expand group names (anonymous, no_console, unit_staff, other_staff) into personas."""
    names = {
        "anonymous": ANONYMOUS,
        "no_console": STAFF_WITHOUT_CONSOLE,
        "unit_staff": ("assigned_worker", "unit_worker", "unit_supervisor"),
        "other_staff": ("other_unit_worker", "other_unit_supervisor"),
        "workers": ("assigned_worker", "unit_worker", "other_unit_worker"),
        "supervisors": ("unit_supervisor", "other_unit_supervisor"),
    }
    row: dict[str, str] = {}
    for group, outcome in groups.items():
        for persona in names.get(group, (group,)):
            row[persona] = outcome
    assert set(row) == set(PERSONAS), sorted(set(PERSONAS) - set(row))
    return row


# Partner staff have one page: any staff page sends them back to their referral form.
PARTNER_HOME = "redirect:/partner/"
ONLY_PARTNER = {
    "anonymous": "login",
    "no_console": "403",
    "partner": "200",
    "workers": "403",
    "supervisors": "403",
}

CONSOLE_CLOSED = {"anonymous": "closed:4401", "no_console": "closed:4403"}
DASHBOARD_CLOSED = {
    "anonymous": "closed:4401",
    "no_console": "closed:4403",
    "workers": "closed:4403",
}

EXPECTED: dict[str, dict[str, str]] = {
    # --- HTTP pages -------------------------------------------------------------------
    "GET /": table("200"),
    "GET /console/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="200",
    ),
    "GET /dashboard/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    "GET /dashboard/access-log/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    "GET /dashboard/access-log.csv": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    # Statistics: supervisors (their units) and administrators (every unit), aggregates only.
    "GET /dashboard/statistics/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    )
    | {"admin": "200"},
    # One's own statistics: everyone in the console, about themselves.
    "GET /console/my-statistics/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="200",
    ),
    # The staffing plan: the unit's supervisors set it; another unit's are refused the unit.
    "GET /dashboard/staffing/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    "POST /dashboard/staffing/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        workers="403",
        unit_supervisor="saved",
        other_unit_supervisor="400",
    ),
    "GET /dashboard/statistics.csv": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    )
    | {"admin": "200"},
    "GET /exit/": table("exit"),
    # The beacon carries whatever token the persona holds: only the target's own ends it.
    "POST /exit/": table("204", own_client="204:target_ended"),
    "GET /accounts/two-factor/": table("200", **dict.fromkeys(ANONYMOUS, "login")),
    "GET /accounts/two-factor/setup/": table("200", **dict.fromkeys(ANONYMOUS, "login")),
    "POST /accounts/logout-everywhere/": table("revoked", **dict.fromkeys(ANONYMOUS, "login")),
    "GET /accounts/logout-everywhere/": table("405"),
    "GET /admin/": table("admin_login", admin="200"),
    "GET /console/replies/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="200",
    ),
    # A canned reply for the whole unit: only its supervisors may write one.
    "POST /console/replies/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        assigned_worker="200",
        unit_worker="200",
        other_unit_worker="200",
        unit_supervisor="saved",
        other_unit_supervisor="200",
    ),
    "GET /dashboard/risk-rules/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    # A risk rule for the unit: only its supervisors may keep one.
    "POST /dashboard/risk-rules/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        workers="403",
        unit_supervisor="saved",
        other_unit_supervisor="200",
    ),
    "GET /console/inbox/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="200",
    ),
    "GET /console/cases/{case}/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="404",
    ),
    "GET /console/conversations/{target}/transcript/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="404",
    ),
    "GET /console/conversations/{target}/transcript.txt": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="404",
    ),
    # The client's own transcript, by the token in the form body.
    "POST /transcript/": table("404", own_client="200:target", other_client="200:own"),
    "GET /return/": table("200"),
    "GET /return/case/": table("redirect:/return/"),
    "GET /interpret/": table("200"),
    # --- partner staff: the referral form and their organisation's receipts, nothing more ---
    "GET /partner/": by_group(**ONLY_PARTNER),
    "POST /partner/": by_group(**{**ONLY_PARTNER, "partner": "sent"}),
    "GET /partner/referrals/{referral}/": by_group(**ONLY_PARTNER),
    "GET /partner/referrals/{referral}/status": by_group(**ONLY_PARTNER),
    # Chat now: the cast's referral has another contact way, so its page says it cannot open.
    "GET /partner/referrals/{referral}/chat/": by_group(**ONLY_PARTNER),
    "POST /partner/referrals/{referral}/chat/exit": by_group(**{**ONLY_PARTNER, "partner": "204"}),
    "GET /partner/posters/": by_group(**ONLY_PARTNER),
    "GET /partner/posters/place/{place}/{language}/": by_group(**ONLY_PARTNER),
    # --- posters: a unit's by its staff ---
    "GET /console/posters/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="200",
    ),
    "GET /console/posters/unit/{unit}/{language}/": by_group(
        anonymous="login",
        no_console="403",
        partner=PARTNER_HOME,
        unit_staff="200",
        other_staff="404",
    ),
    # e-ID (not configured here): the client's own page offers nothing; signing in and out
    # are the client's own session's business.
    "GET /me/": table("200"),
    "GET /eid/start/": table("405"),
    "POST /eid/start/": table("404"),
    "GET /eid/callback/": table("404"),
    "POST /eid/sign-out/": table("redirect:/"),
    "POST /eid/step-up/": table("404"),
    "GET /eid/consent/": table("redirect:/"),
    # An identified client's own cases and transcripts: nobody here signed in with e-ID
    # (tests/test_eid_my_pages.py has the identified clients).
    "POST /me/cases/{case}/": table("redirect:/me/"),
    "GET /me/conversations/{target}/transcript/": table("redirect:/me/"),
    "GET /dashboard/surveys/": by_group(
        anonymous="login", no_console="403", partner=PARTNER_HOME, workers="403", supervisors="200"
    ),
    # --- the client's socket: it reaches exactly the conversation whose token it holds ---
    "client.start": table("own", own_client="target"),
    "client.resume": table("error:not_found", own_client="target", other_client="own"),
    "client.message": table("error:no_conversation", own_client="target", other_client="own"),
    "client.end": table("error:no_conversation", own_client="target", other_client="own"),
    "client.ping": table("pong"),
    # --- the console ----------------------------------------------------------------------
    "console.connect": by_group(**CONSOLE_CLOSED, unit_staff="ok", other_staff="ok"),
    "console.accept_named": by_group(
        **CONSOLE_CLOSED, unit_staff="ok", other_staff="error:conflict"
    ),
    "console.accept_next": by_group(
        **CONSOLE_CLOSED, unit_staff="ok", other_staff="error:nothing_waiting"
    ),
    "console.message": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="ok",
        unit_worker="error:forbidden",
        unit_supervisor="error:forbidden",
        other_staff="error:not_found",
    ),
    "console.sync": by_group(**CONSOLE_CLOSED, unit_staff="ok", other_staff="error:not_found"),
    "console.end": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="ok",
        unit_worker="error:forbidden",
        unit_supervisor="error:forbidden",
        other_staff="error:not_found",
    ),
    "console.presence": by_group(**CONSOLE_CLOSED, unit_staff="ok", other_staff="ok"),
    # Lowering a raise (the target waits, raised by the unit's risk rules): its unit's staff.
    "console.lower_risk": by_group(
        **CONSOLE_CLOSED, unit_staff="ok", other_staff="error:not_found"
    ),
    "console.note": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="ok",
        unit_worker="error:forbidden",
        unit_supervisor="ok",
        other_staff="error:not_found",
    ),
    "console.hand_over": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="ok",
        unit_worker="error:forbidden",
        unit_supervisor="error:forbidden",
        other_staff="error:not_found",
    ),
    "console.invite": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="ok",
        unit_worker="error:forbidden",
        unit_supervisor="error:forbidden",
        other_staff="error:not_found",
    ),
    # Anna has offered the target to Bengt by name: only he answers.
    "console.handover_accept": by_group(
        **CONSOLE_CLOSED,
        assigned_worker="error:not_found",
        unit_worker="ok",
        unit_supervisor="error:not_found",
        other_staff="error:not_found",
    ),
    # --- the interpreter's socket: Tove is invited into the target ---------------------------
    "interpreter.resume": table("error:not_found", interpreter="ok"),
    # --- the dashboard --------------------------------------------------------------------
    "dashboard.connect": by_group(**DASHBOARD_CLOSED, supervisors="ok"),
    "dashboard.set_priority": by_group(
        **DASHBOARD_CLOSED, unit_supervisor="ok", other_unit_supervisor="error:not_found"
    ),
    "dashboard.move": by_group(
        **DASHBOARD_CLOSED, unit_supervisor="ok", other_unit_supervisor="error:not_found"
    ),
    "dashboard.set_capacity": by_group(
        **DASHBOARD_CLOSED, unit_supervisor="ok", other_unit_supervisor="error:not_found"
    ),
    "dashboard.set_presence": by_group(
        **DASHBOARD_CLOSED, unit_supervisor="ok", other_unit_supervisor="error:not_found"
    ),
}

HTTP_ACTIONS = [action for action in EXPECTED if action.split(" ")[0] in {"GET", "POST"}]
SOCKET_ACTIONS = [action for action in EXPECTED if action not in HTTP_ACTIONS]


def test_the_table_covers_every_persona_and_every_permission():
    from chat.permissions import PERMISSIONS

    for action, row in EXPECTED.items():
        assert set(row) == set(PERSONAS), action
    # Every permission of chat/permissions.py is exercised by at least one action here.
    exercised_by = {
        "chat.use_console": "console.connect",
        "chat.view_dashboard": "dashboard.connect",
        "chat.read_conversation": "console.sync",
        "chat.accept_conversation": "console.accept_named",
        "chat.write_conversation": "console.message",
        "chat.end_conversation": "console.end",
        "chat.manage_waiting": "dashboard.set_priority",
        "chat.receive_moved": "dashboard.move",
        "accounts.set_presence": "dashboard.set_presence",
        "accounts.set_capacity": "dashboard.set_capacity",
        "chat.review_access_log": "GET /dashboard/access-log/",
        "chat.view_statistics": "GET /dashboard/statistics/",
        "chat.view_own_statistics": "GET /console/my-statistics/",
        "chat.manage_staffing": "POST /dashboard/staffing/",
        "chat.private_notes": "console.note",
        "chat.hand_over": "console.hand_over",
        "chat.answer_handover": "console.handover_accept",
        "chat.invite": "console.invite",
        "chat.manage_case": "GET /console/cases/{case}/",
        "chat.manage_unit_replies": "POST /console/replies/",
        "chat.manage_risk_rules": "POST /dashboard/risk-rules/",
        "chat.lower_risk": "console.lower_risk",
        "chat.refer": "POST /partner/",
        "chat.view_referral_receipt": "GET /partner/referrals/{referral}/",
        "chat.print_unit_poster": "GET /console/posters/unit/{unit}/{language}/",
        "chat.print_place_poster": "GET /partner/posters/place/{place}/{language}/",
    }
    assert set(exercised_by) == set(PERMISSIONS)
    assert set(exercised_by.values()) <= set(EXPECTED)


# Routes that take no input and show nothing of anyone: sign-in, language, health.
NOT_IN_THE_TABLE = {
    "accounts/login/",
    "accounts/logout/",
    "i18n/",
    "jsi18n/",
    "healthz",
}


def test_the_table_covers_every_page():
    from chatcounsel.urls import urlpatterns

    routes = {str(pattern.pattern) for pattern in urlpatterns} - NOT_IN_THE_TABLE
    in_table = {
        re.sub(r"\{[a-z]+\}", "<>", action.split(" ", 1)[1].lstrip("/")) for action in HTTP_ACTIONS
    }
    missing = {route for route in routes if re.sub(r"<[^>]+>", "<>", route) not in in_table}
    assert not missing, f"pages without a row in EXPECTED: {sorted(missing)}"


# --- HTTP ---------------------------------------------------------------------------------
def observe_http(cast: Cast, persona: str, action: str) -> str:
    method, template = action.split(" ", 1)
    path = template.format(
        case=cast.target.case_id,
        target=cast.target.pk,
        referral=cast.extra["referral"].pk,
        unit=cast.unit.pk,
        place=cast.extra["place"].pk,
        language="sv",
    )
    user = cast.user(persona)
    client = http_client(user)
    if method == "GET":
        response = client.get(path)
    elif path in {"/exit/", "/transcript/"}:
        response = client.post(path, {"token": cast.token_of(persona)})
    elif path == "/console/replies/":
        response = client.post(
            path,
            {"scope": str(cast.unit.pk), "language": "sv", "title": "Hej", "body": "Hej igen."},
        )
        if CannedReply.objects.filter(unit=cast.unit).exists():
            return "saved"
    elif path == "/dashboard/risk-rules/":
        response = client.post(
            path,
            {
                "save": "1",
                "unit": str(cast.unit.pk),
                "label": "Hot",
                "phrases": "döda mig",
                "action": "urgent",
                "active": "on",
            },
        )
        if RiskRule.objects.filter(unit=cast.unit).exists():
            return "saved"
    elif path == "/partner/":
        before = Referral.objects.count()
        response = client.post(
            path,
            {
                "code_word": "on",
                "place": cast.extra["place"].pk,
                "contact": "self",
                "children": "no",
            },
        )
        if Referral.objects.count() == before + 1:
            return "sent"
    elif path == "/dashboard/staffing/":
        from chat.models import StaffingMinimum

        response = client.post(
            path,
            {
                "form": "minimum",
                "unit": str(cast.unit.pk),
                "weekdays": ["0"],
                "first_hour": "8",
                "last_hour": "9",
                "minimum": "1",
            },
        )
        if StaffingMinimum.objects.filter(unit=cast.unit).exists():
            return "saved"
    else:
        response = client.post(path)
    if response.status_code in (301, 302):
        location = response["Location"]
        if location.startswith(settings.QUICK_EXIT_URL):
            return "exit"
        if location.startswith("/admin/login/"):
            return "admin_login"
        if location.startswith("/accounts/login/"):
            if path == "/accounts/logout-everywhere/" and user is not None:
                epoch = User.objects.get(pk=user.pk).session_epoch
                return "revoked" if epoch == user.session_epoch + 1 else "login"
            return "login"
        return f"redirect:{location}"
    outcome = str(response.status_code)
    if path == "/exit/" and method == "POST":
        cast.target.refresh_from_db()
        if not cast.target.is_open:
            outcome += ":target_ended"
    if path == "/transcript/" and response.status_code == 200:
        outcome += ":target" if FIRST_BODY in response.content.decode() else ":own"
    if response.status_code == 200:
        # What the partner wrote reaches the unit's staff in the console only: no page shows it.
        assert REFERRAL_NOTE not in response.content.decode(), f"{persona} read it on {path}"
    if response.status_code == 200 and persona not in ("own_client",) and path != "/":
        # No page but the client's own transcript shows the target's text to anyone.
        assert FIRST_BODY not in response.content.decode() or persona in (
            "assigned_worker",
            "unit_worker",
            "unit_supervisor",
        ), f"{persona} read the target's first message on {path}"
    return outcome


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", HTTP_ACTIONS)
def test_http_pages_allow_exactly_the_table(cast, persona, action):
    assert observe_http(cast, persona, action) == EXPECTED[action][persona]


# --- websockets ---------------------------------------------------------------------------
async def client_action(ws, cast: Cast, persona: str, action: str) -> str:
    comm, _ = await open_socket(ws, "/ws/client/", cast.user(persona))
    token = cast.token_of(persona)
    before = await stored_messages(cast.target.pk)
    body = "Ett nytt meddelande."

    if action == "client.start":
        frames = await reply_to(
            comm,
            {
                "type": "start",
                "unit": cast.unit.pk,
                "token": token,
                "body": body,
                "client_id": factories.new_client_id(),
            },
        )
        outcome = error_code(frames) or _which(cast, first_reply(frames, "conversation.sync"))
    else:
        resumed = await reply_to(comm, {"type": "resume", "token": token, "after": 0})
        if action == "client.resume":
            outcome = error_code(resumed) or _which(cast, first_reply(resumed, "conversation.sync"))
        elif action == "client.message":
            frames = await reply_to(
                comm, {"type": "message", "body": body, "client_id": factories.new_client_id()}
            )
            outcome = error_code(frames) or _which(cast, first_reply(frames, "ack"))
        elif action == "client.end":
            frames = await reply_to(comm, {"type": "end"})
            target = await reload(cast.target)
            other = await reload(cast.other)
            outcome = error_code(frames) or (
                "target" if not target.is_open else "own" if not other.is_open else "no_effect"
            )
        else:  # client.ping, on a socket the persona could not attach to the target
            await comm.send_json_to({"type": "ping"})
            outcome = (await factories.receive(comm))["type"]

    after = await stored_messages(cast.target.pk)
    if outcome != "target":
        assert after == before, f"{persona} changed the target's messages with {action}"
    return outcome


def _which(cast: Cast, frame: dict[str, Any] | None) -> str:
    assert frame is not None
    if frame["conversation"] == cast.target.pk:
        return "target"
    assert frame["conversation"] != cast.target.pk
    return "own"


async def console_action(ws, cast: Cast, persona: str, action: str) -> str:
    if action in {
        "console.message",
        "console.sync",
        "console.end",
        "console.note",
        "console.hand_over",
        "console.invite",
        "console.handover_accept",
    }:
        await accept_target(cast)
    if action == "console.handover_accept":
        handover_id = await _offer_target_to(cast, "unit_worker")
    user = cast.user(persona)
    comm, first = await open_socket(ws, "/ws/console/", user)
    if isinstance(first, str):
        return first
    assert first["type"] == "console.snapshot"
    await factories.settle(comm)
    target = cast.target.pk

    if action == "console.connect":
        return "ok"
    if action in {"console.accept_named", "console.accept_next"}:
        frame: dict[str, Any] = {"type": "accept"}
        if action == "console.accept_named":
            frame["conversation"] = target
        else:
            # Only the target waits: the other conversation is out of the way.
            await database_sync_to_async(Conversation.objects.filter(pk=cast.other.pk).update)(
                state=Conversation.State.ABANDONED
            )
        frames = await reply_to(comm, frame)
        conversation = await reload(cast.target)
        if conversation.worker_id == user.pk and conversation.state == "active":
            return "ok"
        return error_code(frames) or "no_effect"
    if action == "console.message":
        frames = await reply_to(
            comm,
            {
                "type": "message",
                "conversation": target,
                "body": "Svar från socialtjänsten.",
                "client_id": factories.new_client_id(),
            },
        )
        ack = first_reply(frames, "ack")
        if ack is not None and ack["conversation"] == target:
            stored = await stored_messages(target)
            assert stored[-1][3] == "Svar från socialtjänsten."
            return "ok"
        return error_code(frames) or "no_effect"
    if action == "console.sync":
        logged = database_sync_to_async(
            lambda: AccessLog.objects.filter(actor=user, conversation_id=target).count()
        )
        # (A worker given the conversation has one logged read already: the assignment
        # carried its messages.)
        before = await logged()
        frames = await reply_to(comm, {"type": "sync", "conversation": target, "after": 0})
        sync = first_reply(frames, "conversation.sync")
        if sync is not None:
            assert sync["conversation"] == target
            assert FIRST_BODY in [m["body"] for m in sync["messages"]]
            assert await logged() == before + 1, "a read that was not logged"
            return "ok"
        assert FIRST_BODY not in text_of(frames)
        assert await logged() == before
        return error_code(frames) or "no_effect"
    if action == "console.end":
        frames = await reply_to(comm, {"type": "end", "conversation": target})
        conversation = await reload(cast.target)
        return "ok" if not conversation.is_open else error_code(frames) or "no_effect"
    if action == "console.lower_risk":
        await database_sync_to_async(Conversation.objects.filter(pk=target).update)(
            priority=Conversation.Priority.URGENT,
            risk={"unit": cast.unit.pk, "rule": "Hot", "effect": "urgent", "lowered": None},
        )
        frames = await reply_to(
            comm, {"type": "lower_risk", "conversation": target, "reason": "Ingen risk."}
        )
        conversation = await reload(cast.target)
        if conversation.priority == Conversation.Priority.NORMAL:
            assert first_reply(frames, "risk.lowered") is not None
            return "ok"
        assert FIRST_BODY not in text_of(frames)
        return error_code(frames) or "no_effect"
    if action == "console.note":
        frames = await reply_to(
            comm,
            {
                "type": "note",
                "conversation": target,
                "body": "Privat.",
                "client_id": factories.new_client_id(),
            },
        )
        stored = await database_sync_to_async(
            lambda: PrivateNote.objects.filter(conversation_id=target, author=user).exists()
        )()
        return "ok" if stored else error_code(frames) or "no_effect"
    if action == "console.hand_over":
        frames = await reply_to(
            comm,
            {
                "type": "hand_over",
                "conversation": target,
                "to_unit": cast.other_unit.pk,
                "note": "Till Våld.",
                "share_history": False,
            },
        )
        moved = (await reload(cast.target)).unit_id == cast.other_unit.pk
        return "ok" if moved else error_code(frames) or "no_effect"
    if action == "console.invite":
        frames = await reply_to(
            comm,
            {"type": "invite", "conversation": target, "user": cast.user("interpreter").pk},
        )
        seated = await database_sync_to_async(
            lambda: Participant.objects.filter(conversation_id=target).exists()
        )()
        return "ok" if seated else error_code(frames) or "no_effect"
    if action == "console.handover_accept":
        frames = await reply_to(comm, {"type": "handover_accept", "handover": handover_id})
        accepted = await database_sync_to_async(
            lambda: Handover.objects.filter(pk=handover_id, state="accepted").exists()
        )()
        conversation = await reload(cast.target)
        if accepted and conversation.worker_id == user.pk:
            return "ok"
        return error_code(frames) or "no_effect"
    if action == "console.presence":
        frames = await reply_to(comm, {"type": "presence", "status": "available"})
        status = await database_sync_to_async(
            lambda: Presence.objects.filter(user=user).values_list("status", flat=True).first()
        )()
        return "ok" if status == "available" else error_code(frames) or "no_effect"
    raise AssertionError(action)


@database_sync_to_async
def _offer_target_to(cast: Cast, persona: str) -> int:
    from chat.services.handover import conversation_hand_over

    handover = conversation_hand_over(
        conversation=cast.target,
        actor=cast.user("assigned_worker"),
        note="Kan du ta över?",
        to_worker_id=cast.user(persona).pk,
    )
    return handover.pk


@database_sync_to_async
def _invite_interpreter(cast: Cast) -> None:
    from chat.services.participants import participant_invite

    factories.accept(cast.user("assigned_worker"), cast.target)
    participant_invite(
        conversation=cast.target,
        actor=cast.user("assigned_worker"),
        user_id=cast.user("interpreter").pk,
    )


async def interpreter_action(ws, cast: Cast, persona: str, action: str) -> str:
    await _invite_interpreter(cast)
    comm, _ = await open_socket(ws, "/ws/interpreter/", cast.user(persona))
    frames = await reply_to(comm, {"type": "resume", "after": 0})
    sync = first_reply(frames, "conversation.sync")
    if sync is not None:
        assert sync["conversation"] == cast.target.pk
        assert FIRST_BODY not in text_of(frames), "an interpreter saw what came before"
        assert "author" not in keys_anywhere(frames)
        return "ok"
    return error_code(frames) or "no_effect"


async def dashboard_action(ws, cast: Cast, persona: str, action: str) -> str:
    user = cast.user(persona)
    anna = cast.user("assigned_worker")
    comm, first = await open_socket(ws, "/ws/dashboard/", user)
    if isinstance(first, str):
        return first
    assert first["type"] == "dashboard.snapshot"
    target = cast.target.pk

    if action == "dashboard.connect":
        return "ok"
    if action == "dashboard.set_priority":
        frames = await reply_to(
            comm, {"type": "set_priority", "conversation": target, "priority": 1}
        )
        changed = (await reload(cast.target)).priority == 1
    elif action == "dashboard.move":
        frames = await reply_to(
            comm, {"type": "move", "conversation": target, "unit": cast.third_unit.pk}
        )
        changed = (await reload(cast.target)).unit_id == cast.third_unit.pk
    elif action == "dashboard.set_capacity":
        frames = await reply_to(comm, {"type": "set_capacity", "worker": anna.pk, "capacity": 2})
        changed = await database_sync_to_async(
            lambda: Presence.objects.filter(user=anna, capacity=2).exists()
        )()
    elif action == "dashboard.set_presence":
        frames = await reply_to(
            comm, {"type": "set_presence", "worker": anna.pk, "presence": "available"}
        )
        changed = await database_sync_to_async(
            lambda: Presence.objects.filter(user=anna, status="available").exists()
        )()
    else:
        raise AssertionError(action)
    return "ok" if changed else error_code(frames) or "no_effect"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", SOCKET_ACTIONS)
async def test_websocket_actions_allow_exactly_the_table(ws, cast, persona, action):
    kind = action.split(".")[0]
    handler = {
        "client": client_action,
        "console": console_action,
        "dashboard": dashboard_action,
        "interpreter": interpreter_action,
    }
    observed = await handler[kind](ws, cast, persona, action)

    assert observed == EXPECTED[action][persona]


# --- what each socket hears ---------------------------------------------------------------
def _about(frame: dict[str, Any], conversation_id: int, unit_id: int) -> bool:
    text = text_of(frame)
    return (
        frame.get("conversation") == conversation_id
        or frame.get("unit") == unit_id
        or (isinstance(frame.get("unit"), dict) and frame["unit"].get("id") == unit_id)
        or FIRST_BODY in text
    )


@pytest.mark.django_db(transaction=True)
async def test_staff_of_another_unit_hear_nothing_of_the_units_conversations(ws, cast):
    cecilia = cast.user("other_unit_worker")
    vera = cast.user("other_unit_supervisor")
    stranger_console, snapshot = await ws.console(cecilia)
    assert snapshot["waiting"] == []
    stranger_dashboard, first = await open_socket(ws, "/ws/dashboard/", vera)
    assert [unit["id"] for unit in first["units"]] == [cast.other_unit.pk]

    # A client queues in Ekonomiskt bistånd, Anna takes them, they write to each other.
    client, console, conversation_id = await factories.accepted(
        ws, cast.user("assigned_worker"), cast.unit
    )
    await factories.send_message(client, "Jag vågar inte gå hem.")
    await factories.frames_until(console, "conversation.message", where=_body("Jag vågar"))
    await factories.send_message(console, "Vi hjälper dig.", conversation=conversation_id)
    await factories.frames_until(client, "conversation.message", where=_body("Vi hjälper"))
    await factories.client_start(await ws.client(), cast.unit, "En till i kön.")
    await factories.frames_until(console, "queue.updated")

    for stranger in (stranger_console, stranger_dashboard):
        heard = await factories.settle(stranger)
        about = [f for f in heard if _about(f, conversation_id, cast.unit.pk)]
        assert about == [], about
        assert await stranger.receive_nothing(timeout=0.2)


def _body(text: str):
    return lambda frame: frame["message"]["body"].startswith(text)


@pytest.mark.django_db(transaction=True)
async def test_a_client_socket_hears_only_its_own_conversation_and_no_staff_names(ws, cast):
    bystander, bystander_id = await factories.waiting_client(ws, cast.unit, "Jag väntar.")
    console, _snapshot = await ws.console(cast.user("assigned_worker"))
    client = await ws.client()
    heard: list[dict[str, Any]] = []
    sync, token = await factories.client_start(client, cast.unit, "Hjälp.")
    conversation_id = sync["conversation"]
    heard.append(sync)
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await factories.next_frame(console, "conversation.assigned", conversation=conversation_id)
    heard += await factories.frames_until(
        client, "conversation.message", where=factories.is_event("accepted")
    )
    await factories.send_message(console, "Jag heter Anna.", conversation=conversation_id)
    heard += await factories.frames_until(
        client, "conversation.message", where=_body("Jag heter Anna")
    )
    # A resume by the same client gets the whole thread again, staff messages included.
    await client.send_json_to({"type": "resume", "token": token, "after": 0})
    heard += await factories.frames_until(client, "conversation.sync")
    heard += await factories.settle(client)
    bystander_heard = await factories.settle(bystander)

    assert {f.get("conversation") for f in heard} <= {conversation_id, None}
    assert {f.get("conversation") for f in bystander_heard} <= {bystander_id, None}
    assert not any("Jag heter Anna" in text_of(f) for f in bystander_heard)
    for frame in heard + bystander_heard:
        assert "author" not in keys_anywhere(frame), frame
        assert "Anna" not in text_of(frame).replace("Jag heter Anna", ""), frame


@pytest.mark.django_db(transaction=True)
async def test_admin_site_shows_conversation_metadata_but_never_message_text(cast):
    admin = cast.user("admin")
    await accept_target(cast)
    browser = await database_sync_to_async(http_client)(admin)

    get = database_sync_to_async(browser.get)
    listing = await get("/admin/chat/conversation/")
    change = await get(f"/admin/chat/conversation/{cast.target.pk}/change/")
    messages = await get("/admin/chat/message/")

    assert listing.status_code == 200 and change.status_code == 200
    assert messages.status_code == 404
    for response in (listing, change):
        text = response.content.decode()
        assert FIRST_BODY not in text and OTHER_BODY not in text


# --- holes: permissions read from a stale user --------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_deactivated_worker_s_open_console_reads_nothing_more(ws, cast):
    bengt = cast.user("unit_worker")
    comm, _snapshot = await ws.console(bengt)
    await database_sync_to_async(User.objects.filter(pk=bengt.pk).update)(is_active=False)

    frames = await _frames_or_close(comm, {"type": "sync", "conversation": cast.target.pk})

    assert FIRST_BODY not in text_of(frames)


@pytest.mark.django_db(transaction=True)
async def test_a_worker_whose_role_was_taken_away_reads_nothing_more(ws, cast):
    bengt = cast.user("unit_worker")
    comm, _snapshot = await ws.console(bengt)
    await database_sync_to_async(User.objects.filter(pk=bengt.pk).update)(role="partner")

    frames = await _frames_or_close(comm, {"type": "ping"})
    frames += await _frames_or_close(comm, {"type": "sync", "conversation": cast.target.pk})

    assert FIRST_BODY not in text_of(frames)


async def _frames_or_close(comm, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """What the socket sends after `frame`, up to its pong or its close."""
    frames, _closed = await reply_or_close(comm, frame)
    return frames


@pytest.mark.django_db(transaction=True)
async def test_a_worker_taken_out_of_the_unit_reads_nothing_more(ws, cast):
    """Unit membership is read from the database on every action, so this one holds."""
    bengt = cast.user("unit_worker")
    comm, _snapshot = await ws.console(bengt)
    await database_sync_to_async(bengt.units.clear)()

    frames = await reply_to(comm, {"type": "sync", "conversation": cast.target.pk})

    assert error_code(frames) == "error:not_found"
    assert FIRST_BODY not in text_of(frames)
    assert await database_sync_to_async(Message.objects.filter(body=FIRST_BODY).count)() == 1


# --- secrecy across invitations, handovers and cases ----------------------------------------
NOTE_BEFORE = "Anteckning innan: pappan har vapen hemma."


async def _note(console, conversation_id: int, body: str) -> None:
    frames = await reply_to(
        console,
        {
            "type": "note",
            "conversation": conversation_id,
            "body": body,
            "client_id": factories.new_client_id(),
        },
    )
    assert first_reply(frames, "ack") is not None, frames


async def _client_writes(cast: Cast, body: str) -> None:
    from chat.selectors import conversation_get_for_client
    from chat.services.messages import message_post

    def write():
        conversation = conversation_get_for_client(token=cast.token)
        message_post(
            conversation_id=conversation.pk,
            author=None,
            body=body,
            client_id=factories.new_client_id(),
        )

    await database_sync_to_async(write)()


@pytest.mark.django_db(transaction=True)
async def test_an_invited_colleague_sees_no_message_from_before_they_joined(ws, cast):
    anna, cecilia = cast.user("assigned_worker"), cast.user("other_unit_worker")
    await accept_target(cast)
    console, _ = await ws.console(anna)
    await reply_to(console, {"type": "invite", "conversation": cast.target.pk, "user": cecilia.pk})
    invited, _ = await ws.console(cecilia)

    frames = await reply_to(invited, {"type": "sync", "conversation": cast.target.pk, "after": 0})

    sync = first_reply(frames, "conversation.sync")
    assert sync is not None
    assert FIRST_BODY not in text_of(frames)


@pytest.mark.django_db(transaction=True)
async def test_an_invited_colleague_sees_no_private_note_from_before_they_joined(ws, cast):
    anna, cecilia = cast.user("assigned_worker"), cast.user("other_unit_worker")
    await accept_target(cast)
    console, _ = await ws.console(anna)
    await _note(console, cast.target.pk, NOTE_BEFORE)
    await _client_writes(cast, "Ett meddelande till innan tolken.")
    await reply_to(console, {"type": "invite", "conversation": cast.target.pk, "user": cecilia.pk})
    invited, _ = await ws.console(cecilia)

    frames = await reply_to(invited, {"type": "sync", "conversation": cast.target.pk, "after": 0})

    assert first_reply(frames, "conversation.sync") is not None
    assert NOTE_BEFORE not in text_of(frames)


async def _hand_over_without_history(ws, cast: Cast):
    """Anna writes a private note, then sends the target to Våld i nära relationer's queue
    without its history; Cecilia takes it there."""
    anna, cecilia = cast.user("assigned_worker"), cast.user("other_unit_worker")
    await accept_target(cast)
    console, _ = await ws.console(anna)
    await _note(console, cast.target.pk, NOTE_BEFORE)
    frames = await reply_to(
        console,
        {
            "type": "hand_over",
            "conversation": cast.target.pk,
            "to_unit": cast.other_unit.pk,
            "note": "Till Våld: hon vill inte att ekonomi vet.",
            "share_history": False,
        },
    )
    assert error_code(frames) is None, frames
    await database_sync_to_async(factories.accept)(cecilia, cast.target)
    receiver, _ = await ws.console(cecilia)
    return receiver


@pytest.mark.django_db(transaction=True)
async def test_the_receiving_unit_sees_no_message_from_before_a_handover_without_history(ws, cast):
    receiver = await _hand_over_without_history(ws, cast)

    frames = await reply_to(receiver, {"type": "sync", "conversation": cast.target.pk, "after": 0})

    assert first_reply(frames, "conversation.sync") is not None
    assert FIRST_BODY not in text_of(frames)


@pytest.mark.django_db(transaction=True)
async def test_the_receiving_unit_sees_no_private_note_from_before_a_handover_without_history(
    ws, cast
):
    receiver = await _hand_over_without_history(ws, cast)

    frames = await reply_to(receiver, {"type": "sync", "conversation": cast.target.pk, "after": 0})

    assert first_reply(frames, "conversation.sync") is not None
    assert NOTE_BEFORE not in text_of(frames)


def _handed_on_twice(cast: Cast) -> tuple[str, str]:
    """The target's case belongs to Ekonomiskt bistånd. Anna sends the conversation to
    Våld; Cecilia takes it, writes a private note, and sends it on to Barn och familj with a
    note meant for that unit. Returns (Cecilia's private note, her handover note)."""
    from chat.services.handover import conversation_hand_over
    from chat.services.messages import private_note_post

    anna, cecilia = cast.user("assigned_worker"), cast.user("other_unit_worker")
    factories.accept(anna, cast.target)
    conversation_hand_over(
        conversation=cast.target,
        actor=anna,
        note="Till Våld.",
        to_unit_id=cast.other_unit.pk,
        share_history=False,
    )
    factories.accept(cecilia, cast.target)
    private = "Våld: skyddat boende ordnat, adressen är hemlig."
    private_note_post(
        conversation=cast.target, author=cecilia, body=private, client_id=factories.new_client_id()
    )
    onward = "Till Barn: barnen är placerade, ekonomi ska inte veta var."
    conversation_hand_over(
        conversation=cast.target,
        actor=cecilia,
        note=onward,
        to_unit_id=cast.third_unit.pk,
        share_history=False,
    )
    return private, onward


@pytest.mark.django_db
def test_the_case_page_keeps_a_handover_note_with_the_units_it_was_for(cast):
    _private, onward = _handed_on_twice(cast)
    bengt = cast.user("unit_worker")

    response = http_client(bengt).get(f"/console/cases/{cast.target.case_id}/")

    assert response.status_code == 200
    assert onward not in response.content.decode()


@pytest.mark.django_db
def test_the_case_page_shows_no_private_note_written_in_another_unit(cast):
    private, _onward = _handed_on_twice(cast)
    sara = cast.user("unit_supervisor")

    response = http_client(sara).get(f"/console/cases/{cast.target.case_id}/")

    assert response.status_code == 200
    assert private not in response.content.decode()


@pytest.mark.django_db
def test_reading_clients_follow_up_texts_in_the_inbox_is_logged(cast):
    from chat.services.cases import followup_client_ask

    case = cast.target.case
    followup_client_ask(case=case, body="Kan ni ringa mig efter klockan fem?")
    bengt = cast.user("unit_worker")

    response = http_client(bengt).get("/console/inbox/")

    assert "Kan ni ringa mig" in response.content.decode()
    assert AccessLog.objects.filter(actor=bengt, case_id=case.pk).exists()


@pytest.mark.django_db
def test_the_case_page_is_for_the_case_unit_only_and_logged(cast):
    case_id = cast.target.case_id
    for persona, status in [
        ("unit_worker", 200),
        ("unit_supervisor", 200),
        ("other_unit_worker", 404),
        ("other_unit_supervisor", 404),
        ("interpreter", 403),
        ("partner", 302),  # back to the referral form, and nothing read
        ("admin", 403),
    ]:
        response = http_client(cast.user(persona)).get(f"/console/cases/{case_id}/")
        assert response.status_code == status, persona
        if status == 302:
            assert response["Location"] == "/partner/"
    logged = set(
        AccessLog.objects.filter(case_id=case_id).values_list("actor__username", flat=True)
    )
    assert logged == {"bengt", "sara"}
