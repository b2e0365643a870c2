"""The retention purge: what the municipality's retention decision says is due goes, a
legal hold keeps it, and every run leaves a report."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat.errors import NotFound
from chat.models import AccessLog, Conversation, Message, PurgeReport
from chat.selectors import conversation_get_for_client
from chat.services.conversations import conversation_end
from chat.services.retention import retention_purge
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def days(settings):
    return settings.RETENTION_DAYS["anonymous_conversations"]


def ended(unit, worker, *, days_ago: float, body: str = "Gammalt samtal.", **fields):
    """A conversation that ended `days_ago` days ago; returns (conversation, token)."""
    conversation, token = factories.start_conversation(unit, body)
    factories.accept(worker, conversation)
    conversation_end(conversation=conversation, actor=worker)
    Conversation.objects.filter(pk=conversation.pk).update(
        ended_at=timezone.now() - timedelta(days=days_ago), **fields
    )
    conversation.refresh_from_db()
    return conversation, token


def test_the_defaults_match_the_retention_decision(settings):
    assert settings.RETENTION_DAYS == {
        "anonymous_conversations": 90,
        "identified_cases": 730,
        "offline_questions": 180,
        "survey_answers": 365,
        "access_log": 1095,
    }


def test_a_conversation_closed_before_the_cutoff_loses_its_messages_and_token(ekonomi, anna, days):
    old, token = ended(ekonomi, anna, days_ago=days + 1)

    report = retention_purge()

    old.refresh_from_db()
    assert not Message.objects.filter(conversation=old).exists()
    assert old.purged_at is not None
    assert old.token_hash.startswith("purged-")
    assert old.client_seen_at is None
    with pytest.raises(NotFound):
        conversation_get_for_client(token=token)
    # The row stays for statistics.
    assert (old.unit_id, old.state) == (ekonomi.pk, Conversation.State.ENDED)
    assert report.counts["conversations_purged"] == 1
    assert report.counts["messages_deleted"] >= 3  # first message, accepted, ended


@pytest.mark.parametrize("state", ["abandoned", "offline"])
def test_every_closed_state_is_purged(ekonomi, state, days):
    conversation, _ = factories.start_conversation(ekonomi, "x")
    Conversation.objects.filter(pk=conversation.pk).update(
        state=state, ended_at=timezone.now() - timedelta(days=days + 1)
    )

    retention_purge()

    assert not Message.objects.filter(conversation=conversation).exists()


def test_recent_and_open_conversations_are_untouched(ekonomi, anna, bengt, days):
    recent, recent_token = ended(ekonomi, anna, days_ago=days - 1)
    waiting, waiting_token = factories.start_conversation(ekonomi, "Jag väntar.")
    active, _ = factories.start_conversation(ekonomi, "Vi pratar.")
    factories.accept(bengt, active)
    # Open for longer than the retention period: an open conversation is never purged.
    Conversation.objects.filter(pk__in=[waiting.pk, active.pk]).update(
        queued_at=timezone.now() - timedelta(days=days * 2)
    )
    before = {
        pk: list(Message.objects.filter(conversation_id=pk).values_list("seq", "body"))
        for pk in (recent.pk, waiting.pk, active.pk)
    }

    report = retention_purge()

    for pk, messages in before.items():
        assert list(Message.objects.filter(conversation_id=pk).values_list("seq", "body")) == (
            messages
        )
        assert Conversation.objects.get(pk=pk).purged_at is None
    assert conversation_get_for_client(token=recent_token).pk == recent.pk
    assert conversation_get_for_client(token=waiting_token).pk == waiting.pk
    assert report.counts["conversations_purged"] == 0


def test_a_legal_hold_keeps_the_conversation_and_is_counted(ekonomi, anna, days):
    held, token = ended(ekonomi, anna, days_ago=days + 30, legal_hold=True)
    purged, _ = ended(ekonomi, anna, days_ago=days + 30)
    kept = list(Message.objects.filter(conversation=held).values_list("seq", "body"))

    report = retention_purge()

    assert list(Message.objects.filter(conversation=held).values_list("seq", "body")) == kept
    held.refresh_from_db()
    assert held.purged_at is None
    assert conversation_get_for_client(token=token).pk == held.pk
    assert report.counts["conversations_on_legal_hold"] == 1
    assert report.counts["conversations_purged"] == 1
    assert not Message.objects.filter(conversation=purged).exists()


def test_a_second_purge_finds_nothing_more(ekonomi, anna, days):
    ended(ekonomi, anna, days_ago=days + 1)
    retention_purge()

    report = retention_purge()

    assert report.counts["conversations_purged"] == 0
    assert report.counts["messages_deleted"] == 0


def test_the_purge_honours_a_shorter_retention_setting(settings, ekonomi, anna):
    settings.RETENTION_DAYS = {**settings.RETENTION_DAYS, "anonymous_conversations": 7}
    old, _ = ended(ekonomi, anna, days_ago=8)
    young, _ = ended(ekonomi, anna, days_ago=6)

    retention_purge()

    assert not Message.objects.filter(conversation=old).exists()
    assert Message.objects.filter(conversation=young).exists()


def _log_row(actor, unit, *, days_ago: float) -> AccessLog:
    then = timezone.now() - timedelta(days=days_ago)
    with mock.patch("django.utils.timezone.now", return_value=then):
        return AccessLog.objects.create(
            actor=actor,
            actor_name=actor.username,
            unit_id=unit.pk,
            unit_name=unit.name,
            conversation_id=None,
            action=AccessLog.Action.READ_MESSAGES,
            took_part=True,
            request_id=uuid.uuid4(),
        )


def test_access_log_rows_older_than_their_retention_are_deleted(settings, ekonomi, anna):
    keep_days = settings.RETENTION_DAYS["access_log"]
    old = _log_row(anna, ekonomi, days_ago=keep_days + 1)
    young = _log_row(anna, ekonomi, days_ago=keep_days - 1)

    report = retention_purge()

    assert not AccessLog.objects.filter(pk=old.pk).exists()
    assert AccessLog.objects.filter(pk=young.pk).exists()
    assert report.counts["access_log_rows_deleted"] == 1


def test_the_access_log_outlives_the_conversations_it_speaks_of(ekonomi, anna, days):
    """A purged conversation's reads stay reviewable until the log's own retention."""
    ended(ekonomi, anna, days_ago=days + 1)
    _log_row(anna, ekonomi, days_ago=days + 1)

    retention_purge()

    assert AccessLog.objects.count() == 1


def test_every_run_writes_a_report(ekonomi):
    retention_purge()
    retention_purge()

    reports = list(PurgeReport.objects.all())
    assert len(reports) == 2
    assert set(reports[0].counts) >= {
        "conversations_purged",
        "messages_deleted",
        "conversations_on_legal_hold",
        "access_log_rows_deleted",
    }


def test_the_purge_command_runs_it_and_prints_the_report(ekonomi, anna, days):
    ended(ekonomi, anna, days_ago=days + 1)
    out = StringIO()

    call_command("purge", stdout=out)

    assert "conversations_purged': 1" in out.getvalue()
    assert PurgeReport.objects.count() == 1


def test_a_purged_conversation_loses_its_private_notes(ekonomi, anna, days):
    from chat.models import PrivateNote
    from chat.services.messages import private_note_post

    conversation, _ = factories.start_conversation(ekonomi, "x")
    factories.accept(anna, conversation)
    private_note_post(
        conversation=conversation,
        author=anna,
        body="Misstänker våld i hemmet.",
        client_id=factories.new_client_id(),
    )
    conversation_end(conversation=conversation, actor=anna)
    Conversation.objects.filter(pk=conversation.pk).update(
        ended_at=timezone.now() - timedelta(days=days + 1)
    )

    retention_purge()

    assert not PrivateNote.objects.filter(conversation=conversation).exists()


def test_a_purged_conversation_keeps_no_staff_notes_about_the_client(ekonomi, vald, anna, days):
    from chat.models import Handover, PrivateNote
    from chat.services.handover import conversation_hand_over
    from chat.services.messages import private_note_post

    conversation, _ = factories.start_conversation(ekonomi, "x")
    factories.accept(anna, conversation)
    private_note_post(
        conversation=conversation,
        author=anna,
        body="Misstänker våld i hemmet.",
        client_id=factories.new_client_id(),
    )
    conversation_hand_over(
        conversation=conversation,
        actor=anna,
        note="Barnen är rädda för pappan.",
        to_unit_id=vald.pk,
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.ENDED, ended_at=timezone.now() - timedelta(days=days + 1)
    )

    retention_purge()

    assert not PrivateNote.objects.filter(conversation=conversation).exists()
    assert not Handover.objects.filter(conversation=conversation).exclude(note="").exists()
