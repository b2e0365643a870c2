"""Cases and follow-up: for the returning client, for staff, and surveys in aggregate."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from chat.errors import NotFound
from chat.models import (
    Case,
    ClientRecord,
    Conversation,
    FollowUp,
    SurveyAnswer,
)
from chat.permissions import can, require
from chat.selectors.conversations import (
    message_list_all_after,
    private_note_list,
    visible_from_seq,
)
from chat.selectors.handovers import handover_trail
from chat.selectors.risk import risk_trail
from chat.selectors.units import unit_list_supervised, unit_texts
from chat.transcripts import Transcript


def case_get_returning(*, case_id: int | None) -> Case | None:
    """The case a returning client opened with its code (kept in their session; read it
    with chat.parsing.session_id)."""
    if case_id is None:
        return None
    return Case.objects.select_related("unit").filter(pk=case_id).first()


def client_record_get_identified(*, record_id: int | None) -> ClientRecord | None:
    """The identified client an e-ID sign-in put in this session (read the id with
    chat.parsing.session_id), or None."""
    if record_id is None:
        return None
    return ClientRecord.objects.exclude(subject="").filter(pk=record_id).first()


def case_list_for_client(*, client: ClientRecord, language: str = "sv") -> list[dict[str, Any]]:
    """An identified client's cases with this municipality, newest first: per case its
    unit and the unit's name in `language` (units.unit_texts), state, the questions waiting
    for their answer, answers they have not read, and the finished conversations whose
    transcripts they may read."""
    cases = list(Case.objects.filter(client=client).select_related("unit").order_by("-created_at"))
    followups = FollowUp.objects.filter(case__in=cases)
    conversations = (
        Conversation.objects.filter(case__in=cases)
        .exclude(state__in=Conversation.OPEN_STATES)
        .filter(purged_at__isnull=True)
        .order_by("-created_at")
    )
    texts = unit_texts(units=[case.unit for case in cases], language=language)
    rows = []
    for case in cases:
        mine = [f for f in followups if f.case_id == case.pk]
        rows.append(
            {
                "case": case,
                "unit": texts[case.unit_id],
                "waiting": sum(
                    1 for f in mine if f.kind == FollowUp.Kind.TO_CLIENT and not f.is_answered
                ),
                "new_answers": sum(
                    1
                    for f in mine
                    if f.kind == FollowUp.Kind.FROM_CLIENT and f.is_answered and f.read_at is None
                ),
                "conversations": [c for c in conversations if c.case_id == case.pk],
            }
        )
    return rows


def case_get_for_client(*, client: ClientRecord, case_id: int) -> Case:
    """One of the identified client's own cases; any other is not found."""
    case = Case.objects.select_related("unit").filter(pk=case_id, client=client).first()
    if case is None:
        raise NotFound("no such case")
    return case


def transcript_for_identified_client(*, client: ClientRecord, conversation_id: int) -> Transcript:
    """A finished conversation on one of the identified client's cases, as the client's
    transcript (no notes, no staff names)."""
    conversation = (
        Conversation.objects.filter(pk=conversation_id, case__client=client)
        .exclude(state__in=Conversation.OPEN_STATES)
        .first()
    )
    if conversation is None:
        raise NotFound("no such conversation")
    return Transcript(
        conversation=conversation,
        messages=message_list_all_after(conversation=conversation, after=0),
        for_client=True,
    )


def case_staff_to_name(*, case: Case) -> list[User]:
    """Staff of the case's unit who could be named on it (protected identity) and are not
    yet."""
    return list(
        User.objects.filter(
            units=case.unit_id,
            is_active=True,
            role__in=[User.Role.WORKER, User.Role.SUPERVISOR],
        )
        .exclude(named_cases=case)
        .order_by("first_name", "last_name", "username")
    )


def case_get_for_staff(*, user: User, case_id: int) -> Case:
    case = Case.objects.select_related("unit", "owner").filter(pk=case_id).first()
    return require(user, "chat.manage_case", case, hide=True)


def followup_list_for_client(*, case: Case) -> list[FollowUp]:
    return list(FollowUp.objects.filter(case=case).order_by("created_at", "pk"))


def followup_count_left_in(*, conversation_id: int) -> int:
    """How many questions the worker left for the client as this conversation ended, still
    unanswered: the client's end screen says how many, never what (the count only)."""
    return FollowUp.objects.filter(
        conversation_id=conversation_id,
        kind=FollowUp.Kind.TO_CLIENT,
        answered_at__isnull=True,
    ).count()


def followup_reminder_cutoff(*, now: datetime | None = None) -> datetime:
    """A client's question asked before this and still unanswered is waiting long: the
    inbox marks it and the timed rule records the reminder (FOLLOWUP_REMINDER_DAYS)."""
    return (now or timezone.now()) - timedelta(days=settings.FOLLOWUP_REMINDER_DAYS)


def followup_is_waiting_long(followup: FollowUp, *, cutoff: datetime) -> bool:
    return (
        followup.kind == FollowUp.Kind.FROM_CLIENT
        and not followup.answered_at
        and followup.created_at < cutoff
    )


def followup_inbox(*, user: User, limit: int = 200) -> list[FollowUp]:
    """The follow-up inbox of the worker's units: clients' questions still waiting for an
    answer, longest waiting first; then answers (clients' to the unit's questions, and
    the unit's to clients'), newest first."""
    rows = FollowUp.objects.filter(case__unit__in=user.units.all()).select_related(
        "case", "case__unit", "asked_by", "answered_by"
    )
    waiting = rows.filter(kind=FollowUp.Kind.FROM_CLIENT, answered_at__isnull=True).order_by(
        "created_at", "pk"
    )
    answered = rows.filter(answered_at__isnull=False).order_by("-answered_at", "-pk")
    first = list(waiting[:limit])
    return first + list(answered[: max(0, limit - len(first))])


def case_timeline(*, user: User, case: Case) -> list[dict[str, Any]]:
    """Everything on a case the reader may see, oldest first: conversations, the handovers
    of their unit or their own, follow-ups, and private notes of conversations whose notes
    they may read."""
    entries: list[dict[str, Any]] = []
    shown: set[int] = set()
    for c in case.conversations.order_by("created_at"):
        entries.append({"at": c.created_at, "kind": "conversation", "item": c})
        for h in handover_trail(user=user, conversation=c):
            entries.append({"at": h.created_at, "kind": "handover", "item": h})
            shown.add(h.pk)
        if can(user, "chat.private_notes", c):
            for n in private_note_list(
                conversation=c, from_seq=visible_from_seq(user=user, conversation=c)
            ):
                entries.append({"at": n.created_at, "kind": "note", "item": n})
        # What the risk rules did, and who lowered it and why (the risk audit trail).
        for r in risk_trail(conversation=c):
            entries.append({"at": r.at, "kind": f"risk_{r.kind}", "item": r.item})
    # Handovers that took a conversation of this case to another unit's case: the record
    # of where the client went stays, while what happened there does not.
    unit_ids = set(user.units.values_list("pk", flat=True))
    for h in case.handovers_out.exclude(pk__in=shown).select_related(
        "from_worker", "to_worker", "to_unit"
    ):
        if h.from_unit_id in unit_ids or h.from_worker_id == user.pk:
            entries.append({"at": h.created_at, "kind": "handover", "item": h})
    for f in case.followups.select_related("asked_by", "answered_by"):
        entries.append({"at": f.created_at, "kind": "followup", "item": f})
    return sorted(entries, key=lambda e: e["at"])


def followup_get_for_staff(*, user: User, followup_id: int) -> FollowUp:
    followup = FollowUp.objects.select_related("case").filter(pk=followup_id).first()
    require(user, "chat.manage_case", followup.case if followup else None, hide=True)
    return followup  # type: ignore[return-value]  # require() refused None


SURVEY_MIN_ANSWERS = 5


def survey_summary(*, supervisor: User, since: date | None = None) -> list[dict[str, Any]]:
    """Survey answers per unit of the supervisor, as counts and an average only: no single
    answer, comment or conversation is ever shown, and a unit with fewer than
    SURVEY_MIN_ANSWERS answers shows only that there are too few (one answer would be
    that client's)."""
    rows = []
    for unit in unit_list_supervised(user=supervisor):
        answers = SurveyAnswer.objects.filter(conversation__unit=unit)
        if since is not None:
            answers = answers.filter(created_at__date__gte=since)
        counts = {
            choice: answers.filter(helped=choice).count() for choice in SurveyAnswer.Helped.values
        }
        rated = answers.filter(rating__isnull=False)
        total_rating = sum(r or 0 for r in rated.values_list("rating", flat=True))
        rows.append(
            {
                "unit": unit,
                "answers": answers.count(),
                "helped": counts,
                "ratings": rated.count(),
                "average_rating": round(total_rating / rated.count(), 1)
                if rated.exists()
                else None,
                "comments": answers.exclude(comment="").count(),
                "too_few": answers.count() < SURVEY_MIN_ANSWERS,
            }
        )
    return rows
