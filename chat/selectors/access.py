"""The read-access log and who took part in what."""

from __future__ import annotations

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from chat.models import (
    AccessLog,
    Case,
    Conversation,
    FollowUp,
    Handover,
    Message,
    Participant,
)
from chat.permissions import can
from chat.selectors.units import unit_list_supervised


def access_log_list(
    *,
    supervisor: User,
    actor_id: int | None = None,
    conversation_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    standing_out: bool = False,
) -> QuerySet[AccessLog]:
    """Reads in the supervisor's units, newest first, filtered as asked; `standing_out`:
    only those up for review (`AccessLogQuerySet.stands_out_rule`)."""
    if not can(supervisor, "chat.review_access_log"):
        return AccessLog.objects.none()
    rows = AccessLog.objects.with_stands_out().filter(
        unit_id__in=unit_list_supervised(user=supervisor).values("pk")
    )
    if actor_id is not None:
        rows = rows.filter(actor_id=actor_id)
    if conversation_id is not None:
        rows = rows.filter(conversation_id=conversation_id)
    if since is not None:
        rows = rows.filter(at__date__gte=since)
    if until is not None:
        rows = rows.filter(at__date__lte=until)
    if standing_out:
        rows = rows.standing_out()
    return rows.order_by("-at", "-pk")


def staff_took_part(
    *, user: User, conversation: Conversation | None = None, case: Case | None = None
) -> bool:
    """Did the staff member take any part in the conversation (or in any conversation or
    follow-up of the case): assigned, wrote or ended (a message or event of theirs), handed
    it over or took it over, or was invited? The access log marks every other read."""
    if conversation is not None:
        conversations = Conversation.objects.filter(pk=conversation.pk)
    else:
        assert case is not None  # noqa: S101 - one of the two is given
        if case.owner_id == user.pk:
            return True
        conversations = Conversation.objects.filter(case_id=case.pk)
        if FollowUp.objects.filter(
            Q(asked_by=user) | Q(answered_by=user), case_id=case.pk
        ).exists():
            return True
    return conversations.filter(_took_part(user)).exists()


def _took_part(user: User) -> Q:
    """A conversation the staff member took part in (`staff_took_part`)."""
    return (
        Q(worker=user)
        | Exists(Message.objects.filter(conversation=OuterRef("pk"), author=user))
        | Exists(Handover.objects.filter(conversation=OuterRef("pk"), from_worker=user))
        | Exists(
            Handover.objects.filter(
                conversation=OuterRef("pk"), to_worker=user, state=Handover.State.ACCEPTED
            )
        )
        | Exists(Participant.objects.filter(conversation=OuterRef("pk"), user=user))
    )


def staff_took_part_in(*, user: User, conversation_id: int) -> Exists:
    """`staff_took_part` of one conversation as an SQL expression, for a row written in
    bulk: each row's answer is worked out inside the one INSERT, not by a read per row."""
    return Exists(Conversation.objects.filter(_took_part(user), pk=conversation_id))
