"""When nobody answers (chat/services/queue.py conversation_flag_unanswered,
selectors.conversation_list_unanswered): a conversation whose worker has not written within
the unit's unanswered_minutes of accepting, or of the client's last message, is flagged on
the worker's console and the unit's dashboard; a worker message clears the flag; a unit with
return_unanswered puts it back at the front of its queue. Time is moved by writing the
timestamps, never by sleeping."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import realtime, selectors
from chat.models import Conversation, Message
from chat.services.conversations import conversation_accept
from chat.services.handover import handover_accept
from chat.services.timed import conversation_flag_unanswered, timed_sweep
from tests import factories
from tests.factories import frames_until, is_event, next_frame, settle
from tests.handover_personas import (
    active_conversation,
    client_says,
    fresh,
    hand_over,
    sent_to,
    staff_says,
    types_to,
)
from tests.security_personas import private_rates  # noqa: F401 - fixture

# vera, memory_layer and the other queue fixtures, by name.
pytest_plugins = ["tests.queue_personas"]

pytestmark = pytest.mark.django_db


def silent_since(conversation, minutes, **fields):
    """The conversation was accepted `minutes` ago, after the client's last message (other
    timestamps as given)."""
    at = timezone.now() - timedelta(minutes=minutes)
    fields.setdefault("last_client_message_at", at - timedelta(minutes=1))
    Conversation.objects.filter(pk=conversation.pk).update(accepted_at=at, **fields)
    return at


def ago(minutes):
    return timezone.now() - timedelta(minutes=minutes)


@pytest.fixture
def talk(ekonomi, anna):
    conversation, _token = active_conversation(ekonomi, anna)
    return conversation


# --- flagging -------------------------------------------------------------------------------
def test_it_flags_a_conversation_the_worker_has_not_answered_since_accepting(
    talk, anna, ekonomi, published, django_capture_on_commit_callbacks
):
    silent_since(talk, ekonomi.unanswered_minutes + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_flag_unanswered() == 1

    talk.refresh_from_db()
    assert talk.unanswered_flagged_at is not None
    assert (talk.state, talk.worker) == (Conversation.State.ACTIVE, anna)
    assert sent_to(published, realtime.worker_group(anna.pk)) == [realtime.unanswered_event(talk)]
    assert selectors.unit_stats(unit=ekonomi)["unanswered"] == [talk.pk]
    (dashboard,) = sent_to(published, realtime.unit_supervisors_group(ekonomi.pk))
    assert dashboard["unit"]["unanswered"] == [talk.pk]


def test_it_waits_the_units_set_time_before_flagging(talk, ekonomi):
    silent_since(talk, ekonomi.unanswered_minutes - 1)

    assert conversation_flag_unanswered() == 0
    assert fresh(talk).unanswered_flagged_at is None
    assert selectors.unit_stats(unit=ekonomi)["unanswered"] == []


def test_it_uses_each_units_own_time(talk, ekonomi, vald, anna, cecilia):
    ekonomi.unanswered_minutes = 30
    ekonomi.save()
    vald.unanswered_minutes = 2
    vald.save()
    in_vald, _ = active_conversation(vald, cecilia)
    for conversation in (talk, in_vald):
        silent_since(conversation, 10)

    assert list(selectors.conversation_list_unanswered()) == [in_vald]
    assert conversation_flag_unanswered() == 1
    assert fresh(talk).unanswered_flagged_at is None


def test_it_leaves_a_conversation_alone_once_the_worker_has_written(talk, anna, ekonomi):
    silent_since(talk, 20, last_staff_message_at=ago(19))

    assert conversation_flag_unanswered() == 0


def test_it_flags_a_client_message_that_waits_too_long_for_an_answer(talk, ekonomi):
    silent_since(
        talk,
        30,
        last_staff_message_at=ago(25),
        last_client_message_at=ago(ekonomi.unanswered_minutes + 1),
    )

    assert conversation_flag_unanswered() == 1


def test_it_flags_a_conversation_once(
    talk, anna, ekonomi, published, django_capture_on_commit_callbacks
):
    silent_since(talk, ekonomi.unanswered_minutes + 1)
    conversation_flag_unanswered()

    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_flag_unanswered() == 0

    assert types_to(published, realtime.worker_group(anna.pk)) == []


def test_it_flags_in_the_queue_sweep(talk, ekonomi):
    silent_since(talk, ekonomi.unanswered_minutes + 1)

    timed_sweep()

    assert fresh(talk).unanswered_flagged_at is not None


def test_it_clears_the_flag_when_the_worker_writes(talk, anna, ekonomi):
    silent_since(talk, ekonomi.unanswered_minutes + 1)
    conversation_flag_unanswered()

    staff_says(talk, anna, "Förlåt att det dröjde.")

    talk.refresh_from_db()
    assert talk.unanswered_flagged_at is None
    assert talk.last_staff_message_at is not None
    assert selectors.unit_stats(unit=ekonomi)["unanswered"] == []


def test_it_keeps_the_flag_while_only_the_client_writes(talk, ekonomi):
    silent_since(talk, ekonomi.unanswered_minutes + 1)
    conversation_flag_unanswered()

    client_says(talk, "Hallå? Är någon där?")

    assert fresh(talk).unanswered_flagged_at is not None
    assert selectors.unit_stats(unit=ekonomi)["unanswered"] == [talk.pk]


def test_it_never_flags_a_waiting_or_ended_conversation(ekonomi, anna):
    waiting, _ = factories.start_conversation(ekonomi)
    ended, _ = active_conversation(ekonomi, anna)
    Conversation.objects.filter(pk=ended.pk).update(
        state=Conversation.State.ENDED, accepted_at=ago(60)
    )
    Conversation.objects.filter(pk=waiting.pk).update(queued_at=ago(60))

    assert conversation_flag_unanswered() == 0


# --- back to the queue ----------------------------------------------------------------------
@pytest.fixture
def returning(ekonomi):
    ekonomi.return_unanswered = True
    ekonomi.save()
    return ekonomi


def test_it_puts_an_unanswered_conversation_back_at_the_front_of_the_queue(
    returning, talk, anna, published, django_capture_on_commit_callbacks
):
    earlier, _ = factories.start_conversation(returning, "Jag har väntat länge.")
    Conversation.objects.filter(pk=earlier.pk).update(queued_at=ago(30))
    silent_since(talk, returning.unanswered_minutes + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert conversation_flag_unanswered() == 1

    talk.refresh_from_db()
    assert (talk.state, talk.worker, talk.transferred) == ("queued", None, True)
    assert factories.system_events(talk)[-1] == Message.Event.RETURNED
    assert realtime.left_event(talk.pk, reason="returned") in sent_to(
        published, realtime.worker_group(anna.pk)
    )
    returned = [
        event["message"]["event"]
        for event in sent_to(published, realtime.conversation_group(talk.pk))
        if event["type"] == "conversation.message"
    ]
    assert returned == [Message.Event.RETURNED]
    waiting = selectors.conversation_list_waiting(unit_ids=[returning.pk])
    assert [c.pk for c in waiting] == [talk.pk, earlier.pk]


def test_it_lets_a_colleague_take_the_returned_conversation(returning, talk, anna, bengt):
    silent_since(talk, returning.unanswered_minutes + 1)
    conversation_flag_unanswered()

    assert conversation_accept(worker=bengt) == talk
    assert fresh(talk).worker == bengt


def test_it_gives_the_next_worker_a_fresh_start_after_a_return(returning, talk, anna, bengt):
    silent_since(talk, returning.unanswered_minutes + 1)
    conversation_flag_unanswered()
    conversation_accept(worker=bengt)

    assert selectors.unit_stats(unit=returning)["unanswered"] == []
    silent_since(talk, returning.unanswered_minutes + 1)
    returning.return_unanswered = False
    returning.save()
    assert conversation_flag_unanswered() == 1


def test_it_gives_the_receiver_of_a_handover_a_fresh_start(talk, anna, bengt, ekonomi):
    silent_since(talk, ekonomi.unanswered_minutes + 1)
    conversation_flag_unanswered()
    handover_accept(handover=hand_over(talk, anna, to_worker=bengt), actor=bengt)

    assert selectors.unit_stats(unit=ekonomi)["unanswered"] == []


def test_it_does_not_return_a_conversation_the_worker_answered_meanwhile(
    returning, talk, anna, monkeypatch
):
    silent_since(talk, returning.unanswered_minutes + 1)
    due = selectors.conversation_list_unanswered

    def due_then_answered(**kwargs):
        # The sweep has read the list; the worker's answer commits before it locks the row.
        found = list(due(**kwargs))
        staff_says(talk, anna, "Här är jag!")
        return found

    monkeypatch.setattr(selectors, "conversation_list_unanswered", due_then_answered)

    conversation_flag_unanswered()

    talk.refresh_from_db()
    assert (talk.state, talk.worker) == (Conversation.State.ACTIVE, anna)
    assert talk.unanswered_flagged_at is None


# --- over the sockets ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_rates", "memory_layer")
async def test_it_flags_the_conversation_on_the_workers_console(ws, ekonomi, anna):
    _client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await database_sync_to_async(silent_since)(
        Conversation(pk=conversation_id), ekonomi.unanswered_minutes + 1
    )

    assert await database_sync_to_async(conversation_flag_unanswered)() == 1

    flagged = await next_frame(console, "conversation.unanswered")
    assert flagged == {"type": "conversation.unanswered", "conversation": conversation_id}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_rates", "memory_layer")
async def test_it_takes_a_returned_conversation_off_the_workers_console(ws, ekonomi, anna):
    ekonomi.return_unanswered = True
    await database_sync_to_async(ekonomi.save)()
    client, console, conversation_id = await factories.accepted(ws, anna, ekonomi)
    await settle(console)
    await database_sync_to_async(silent_since)(
        Conversation(pk=conversation_id), ekonomi.unanswered_minutes + 1
    )

    await database_sync_to_async(conversation_flag_unanswered)()

    frames = await frames_until(console, "conversation.left", conversation=conversation_id)
    assert frames[-1]["reason"] == "returned"
    returned = await next_frame(client, "conversation.message", where=is_event("returned"))
    assert returned["state"] == "queued"
    # The console no longer follows the conversation.
    await database_sync_to_async(client_says)(Conversation(pk=conversation_id), "Hallå?")
    assert all(
        frame.get("conversation") != conversation_id or frame["type"] == "queue.updated"
        for frame in await settle(console)
    )
