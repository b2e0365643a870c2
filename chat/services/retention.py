from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from chat.models import (
    AccessLog,
    Conversation,
    FollowUp,
    Handover,
    Message,
    PrivateNote,
    PurgeReport,
    SurveyAnswer,
)
from chat.services.risk import risk_forget_words

CLOSED_STATES = (
    Conversation.State.ENDED,
    Conversation.State.ABANDONED,
    Conversation.State.OFFLINE,
)


def _cutoff(kind: str, now: datetime) -> datetime:
    return now - timedelta(days=settings.RETENTION_DAYS[kind])


def retention_purge(*, now: datetime | None = None) -> PurgeReport:
    """Remove what the retention decision says is due and write a report.

    Conversations closed before their cutoff (anonymous clients' or identified clients'
    cases) lose their messages, private notes and resume token; the row stays (unit,
    times, state) for statistics. Questions left outside opening hours, other follow-ups,
    and survey answers go after their own cutoffs. A legal hold on the conversation or its
    case keeps everything and is counted. Access-log rows older than their cutoff are
    deleted: the only delete the append-only log allows, inside this transaction alone.
    """
    now = now or timezone.now()
    with transaction.atomic():
        closed = Conversation.objects.filter(state__in=CLOSED_STATES, purged_at__isnull=True)
        due = closed.filter(
            Q(case__client__subject="", ended_at__lt=_cutoff("anonymous_conversations", now))
            | (~Q(case__client__subject="") & Q(ended_at__lt=_cutoff("identified_cases", now)))
        )
        on_hold = Q(legal_hold=True) | Q(case__legal_hold=True)
        held = due.filter(on_hold).count()
        ids = list(due.exclude(on_hold).values_list("pk", flat=True))
        PrivateNote.objects.filter(conversation_id__in=ids).delete()
        # Handover notes and reasons are staff text about the client too.
        Handover.objects.filter(conversation_id__in=ids).update(note="", decline_reason="")
        risk_forget_words(conversation_ids=ids)
        followups_held = Q(case__legal_hold=True)
        offline_questions, _by_model = (
            FollowUp.objects.filter(
                conversation__state=Conversation.State.OFFLINE,
                created_at__lt=_cutoff("offline_questions", now),
            )
            .exclude(followups_held)
            .delete()
        )
        followups, _by_model = (
            FollowUp.objects.filter(
                Q(case__client__subject="", created_at__lt=_cutoff("anonymous_conversations", now))
                | (
                    ~Q(case__client__subject="")
                    & Q(created_at__lt=_cutoff("identified_cases", now))
                )
            )
            .exclude(followups_held)
            .delete()
        )
        surveys, _by_model = SurveyAnswer.objects.filter(
            created_at__lt=_cutoff("survey_answers", now)
        ).delete()
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
                "offline_questions_deleted": offline_questions,
                "followups_deleted": followups,
                "survey_answers_deleted": surveys,
                "access_log_rows_deleted": access_rows,
            }
        )
