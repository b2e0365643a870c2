"""What happens with time: the one home of the timed rules.

`timed_sweep` finds what has come due and applies each rule, whose effect lives with its
subject: waiting clients silent for the grace period leave the queue, handover offers not
answered in time go back, conversations nobody answers are flagged or returned, workers
without a console for the grace period are offline and their clients go back to the
queue, urgent referrals nobody accepted escalate, clients' follow-up questions waiting too long
get their reminder recorded, every unit's numbers are refreshed and its
staffing is sampled for the statistics, and calls whose client or whose worker has not
come back within their grace end.
`timed_nightly` is the nightly work: the retention purge, then the statistics' roll-up of
the days that closed (catching up any night that was missed).

Exactly one trigger runs them per deployment: the scheduler process
(`manage.py run_scheduler`) where several processes share Redis, and one in-process timer
(chat/timers.py) in the embedded default. Nothing else does: not heartbeats, not sockets
closing.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Presence, Unit, User
from chat import selectors
from chat.models import Call, Conversation, Handover, PurgeReport
from chat.services.calls import call_end_if_client_gone, call_end_if_worker_gone
from chat.services.cases import followup_remind_waiting_long
from chat.services.conversations import conversation_abandon_if_silent
from chat.services.handover import handover_expire_if_due
from chat.services.presence import presence_check_offline
from chat.services.queue import conversation_flag_if_unanswered, queue_announce
from chat.services.referrals import referral_escalate_if_due
from chat.services.retention import retention_purge
from chat.services.statistics import staffing_sample_take, statistics_roll_up

SWEEP_SECONDS = 15  # how often the trigger runs the sweep


def timed_sweep() -> int:
    """Apply every timed rule that has come due. Returns how many waiting clients left."""
    left = conversation_abandon_silent()
    handover_expire_due()
    conversation_flag_unanswered()
    # Before the presence rule: a call whose worker is gone ends as `worker_left`, not as
    # `handed_on` when their conversations go back to the queue.
    call_end_workers_gone()
    presence_sweep_offline()
    referral_escalate_due()
    followup_remind_due()
    call_end_clients_gone()
    staffing_sample_take()
    # Presence turns offline by time alone: every unit's numbers are shown afresh.
    for unit_id in Unit.objects.values_list("pk", flat=True):
        queue_announce(unit_id=unit_id)
    return left


def timed_nightly() -> PurgeReport:
    """The nightly rules: the retention purge (chat/services/retention.py), then the
    statistics' roll-up of every closed day not rolled up yet (statistics_roll_up_closed_days).
    Returns the purge's report."""
    report = retention_purge()
    statistics_roll_up_closed_days()
    return report


def statistics_roll_up_closed_days() -> int:
    """Every unit's closed days that have no roll-up yet get one (chat/services/statistics.py):
    yesterday, and any day a missed night or a conversation still open then left behind.
    Idempotent. Returns how many (unit, day) rows were written."""
    return statistics_roll_up()


def conversation_abandon_silent() -> int:
    """Waiting clients whose socket has been silent for QUEUE_GRACE_SECONDS have left the
    queue (one who comes back within QUEUE_REJOIN_SECONDS gets the place back)."""
    cutoff = timezone.now() - timedelta(seconds=settings.QUEUE_GRACE_SECONDS)
    # An urgent referral waits for a worker whether or not the person's tab is still open:
    # the partner told how to reach them.
    silent = Conversation.objects.filter(
        state=Conversation.State.QUEUED, client_seen_at__lt=cutoff, referral__isnull=True
    ).values_list("pk", flat=True)
    return sum(conversation_abandon_if_silent(conversation_id=pk) for pk in list(silent))


def call_end_clients_gone() -> int:
    """Calls whose client's socket has been silent for CALL_RECONNECT_GRACE_SECONDS end (a
    socket that drops keeps the call until then: the browsers' connection may well live on
    through it). Returns how many ended."""
    cutoff = timezone.now() - timedelta(seconds=settings.CALL_RECONNECT_GRACE_SECONDS)
    gone = (
        Call.objects.exclude(state=Call.State.ENDED)
        .filter(conversation__client_seen_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    return sum(call_end_if_client_gone(call_id=pk) for pk in list(gone))


def call_end_workers_gone() -> int:
    """Calls whose worker has had no console speak for CALL_RECONNECT_GRACE_SECONDS end (a
    console that drops or reloads keeps the call until then: the page connects again when
    it is back). Returns how many ended."""
    cutoff = timezone.now() - timedelta(seconds=settings.CALL_RECONNECT_GRACE_SECONDS)
    gone = (
        Call.objects.exclude(state=Call.State.ENDED)
        .filter(
            Q(worker__presence__last_seen__lt=cutoff) | Q(worker__presence__last_seen__isnull=True)
        )
        .values_list("pk", flat=True)
    )
    return sum(call_end_if_worker_gone(call_id=pk) for pk in list(gone))


def handover_expire_due() -> int:
    """Offers nobody answered within HANDOVER_OFFER_SECONDS go back to their sender."""
    due = Handover.objects.filter(
        state=Handover.State.OFFERED, expires_at__lt=timezone.now()
    ).values_list("pk", flat=True)
    return sum(handover_expire_if_due(handover_id=pk) for pk in list(due))


def conversation_flag_unanswered() -> int:
    """Conversations whose worker has not written within the unit's set time are flagged
    (or returned to the queue, where the unit says so). Returns how many."""
    due = [c.pk for c in selectors.conversation_list_unanswered()]
    return sum(conversation_flag_if_unanswered(conversation_id=pk) for pk in due)


def followup_remind_due() -> int:
    """Clients' questions unanswered for FOLLOWUP_REMINDER_DAYS get their reminder recorded
    (the inbox marks them waiting long; the statistics count reminders). Returns how many."""
    return followup_remind_waiting_long()


def referral_escalate_due() -> int:
    """Urgent referrals nobody accepted in REFERRAL_ESCALATE_MINUTES go to the unit's
    supervisors, then along the referral chain. Returns how many escalated."""
    return sum(referral_escalate_if_due(referral_id=pk) for pk in selectors.referral_list_due())


def presence_sweep_offline() -> int:
    """Workers with clients or console rows whose consoles have all been silent for
    PRESENCE_GRACE_SECONDS (closed, or on a process that died) are offline and their
    clients go back to the queue. Returns how many workers were found gone."""
    cutoff = timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)
    worker_ids = (
        Presence.objects.filter(last_seen__lt=cutoff)
        .filter(
            Q(user__assigned_conversations__state=Conversation.State.ACTIVE)
            | Q(user__console_connections__isnull=False)
        )
        .values_list("user_id", flat=True)
        .distinct()
    )
    workers = list(User.objects.filter(pk__in=list(worker_ids)))
    for worker in workers:
        presence_check_offline(worker=worker)
    return len(workers)
