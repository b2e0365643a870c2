from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chat.models import AccessLog, Conversation, Message, PurgeReport

CLOSED_STATES = (
    Conversation.State.ENDED,
    Conversation.State.ABANDONED,
    Conversation.State.OFFLINE,
)


def _cutoff(kind: str, now: datetime) -> datetime:
    return now - timedelta(days=settings.RETENTION_DAYS[kind])


def retention_purge(*, now: datetime | None = None) -> PurgeReport:
    """Remove what the retention decision says is due and write a report.

    Conversations closed before the cutoff lose their messages and their resume token;
    the row stays (unit, times, state) for statistics. Conversations on legal hold are
    kept and counted. Access-log rows older than their cutoff are deleted: the only
    delete the append-only log allows, inside this transaction alone.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = Conversation.objects.filter(
            state__in=CLOSED_STATES,
            ended_at__lt=_cutoff("anonymous_conversations", now),
            purged_at__isnull=True,
        )
        held = due.filter(legal_hold=True).count()
        ids = list(due.filter(legal_hold=False).values_list("pk", flat=True))
        messages, _by_model = Message.objects.filter(conversation_id__in=ids).delete()
        for pk in ids:
            Conversation.objects.filter(pk=pk).update(
                purged_at=now, token_hash=f"purged-{pk}", client_seen_at=None
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL chatcounsel.purge = 'on'")
        access_rows, _by_model = AccessLog.objects.filter(
            at__lt=_cutoff("access_log", now)
        ).delete()
        return PurgeReport.objects.create(
            counts={
                "conversations_purged": len(ids),
                "messages_deleted": messages,
                "conversations_on_legal_hold": held,
                "access_log_rows_deleted": access_rows,
            }
        )
