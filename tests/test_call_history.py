"""Calls in the conversation's history and its transcript: who, when, how long, voice or
video, never the content (chat/services/calls.py, chat/transcripts.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from chat.models import Call, Message
from chat.services.access import conversation_transcript
from chat.services.calls import CLIENT, WORKER, call_accept, call_end, call_join, call_offer
from chat.services.conversations import conversation_end, conversation_quick_exit
from chat.services.participants import participant_invite_link, participant_join_by_link
from chat.transcripts import call_text, entries
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def talking(ekonomi, anna):
    """Anna's active conversation: (conversation, token)."""
    conversation, token = factories.start_conversation(ekonomi, "Hej, kan vi prata?")
    factories.accept(anna, conversation)
    conversation.refresh_from_db()
    return conversation, token


def call_events(conversation):
    return list(
        Message.objects.filter(conversation=conversation, event=Message.Event.CALL)
        .order_by("seq")
        .values_list("author__username", "body")
    )


def test_an_answered_call_is_kept_with_its_worker_medium_and_length(talking, anna):
    conversation, _token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VIDEO)
    call_accept(conversation=conversation, call_id=call.pk, media=Call.Media.VOICE)
    # It lasted 3 min 12 s.
    Call.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=192))
    call_end(conversation=conversation, call_id=call.pk, side=WORKER, actor=anna)

    assert call_events(conversation) == [("anna", "voice 192")]
    assert factories.system_events(conversation) == ["accepted", "call"]


def test_a_declined_and_an_unanswered_call_say_so(talking, anna):
    conversation, _token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VIDEO)
    call_end(conversation=conversation, call_id=call.pk, side=CLIENT, reason=Call.Reason.DECLINED)
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VOICE)
    call_end(conversation=conversation, call_id=call.pk, side=WORKER, actor=anna)

    assert call_events(conversation) == [("anna", "video declined"), ("anna", "voice unanswered")]


def test_the_quick_exit_ends_the_call_before_the_conversation(talking, anna):
    conversation, token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VIDEO)
    call_accept(conversation=conversation, call_id=call.pk, media=Call.Media.VIDEO)
    conversation_quick_exit(token=token)

    assert factories.system_events(conversation) == ["accepted", "call", "quick_exit"]
    assert Call.objects.get().reason == Call.Reason.QUICK_EXIT


def test_the_transcript_shows_the_call_and_nothing_of_its_content(talking, anna):
    conversation, _token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VIDEO)
    call_accept(conversation=conversation, call_id=call.pk, media=Call.Media.VIDEO)
    Call.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=75))
    conversation.refresh_from_db()
    conversation_end(conversation=conversation, actor=anna)
    conversation.refresh_from_db()

    with translation.override("en"):
        rows = entries(
            conversation_transcript(
                actor=anna,
                conversation_id=conversation.pk,
                include_notes=False,
                request_id=uuid.uuid4(),
            )
        )
    texts = [row["text"] for row in rows if row["system"]]
    assert "Video call, 1 min 15 s." in texts
    assert texts.index("Video call, 1 min 15 s.") < texts.index("The chat ended.")


@pytest.mark.parametrize(
    "body, english, swedish",
    [
        ("video 192", "Video call, 3 min 12 s.", "Videosamtal, 3 min 12 s."),
        ("voice 45", "Voice call, 45 s.", "Röstsamtal, 45 s."),
        ("voice declined", "Voice call, declined.", "Röstsamtal, avböjt."),
        ("video unanswered", "Video call, not answered.", "Videosamtal, inte besvarat."),
        ("video -1", "Video call, not answered.", "Videosamtal, inte besvarat."),
    ],
)
def test_a_call_reads_in_both_languages(body, english, swedish):
    with translation.override("en"):
        assert call_text(body) == english
    with translation.override("sv"):
        assert call_text(body) == swedish


def test_a_handover_ends_the_call_of_the_worker_who_lets_go(talking, anna, bengt):
    from chat.services.handover import conversation_hand_over, handover_accept

    conversation, _token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VOICE)
    call_accept(conversation=conversation, call_id=call.pk, media=Call.Media.VOICE)
    handover = conversation_hand_over(
        conversation=conversation, actor=anna, note="Bengt tar över.", to_worker_id=bengt.pk
    )
    handover_accept(handover=handover, actor=bengt)

    call.refresh_from_db()
    assert (call.state, call.reason) == (Call.State.ENDED, Call.Reason.HANDED_ON)
    assert call_events(conversation) == [("anna", "voice 0")]
    # The new worker may offer a call of their own.
    conversation.refresh_from_db()
    assert (
        call_offer(conversation=conversation, actor=bengt, media=Call.Media.VIDEO).worker == bengt
    )


def test_an_interpreter_joining_the_call_is_in_the_history_and_the_transcript(talking, anna):
    conversation, _token = talking
    call = call_offer(conversation=conversation, actor=anna, media=Call.Media.VIDEO)
    call_accept(conversation=conversation, call_id=call.pk, media=Call.Media.VIDEO)
    invitation = participant_invite_link(conversation=conversation, actor=anna)
    seat = participant_join_by_link(invitation=invitation, token=factories.new_token())
    call_join(participant=seat, call_id=call.pk)
    call_end(conversation=conversation, call_id=call.pk, side=WORKER, actor=anna)

    assert factories.system_events(conversation) == [
        "accepted",
        "participant_joined",
        "call_joined",
        "call",
    ]
    with translation.override("en"):
        rows = entries(
            conversation_transcript(
                actor=anna,
                conversation_id=conversation.pk,
                include_notes=False,
                request_id=uuid.uuid4(),
            )
        )
    texts = [row["text"] for row in rows if row["system"]]
    call_row = next(i for i, text in enumerate(texts) if text.startswith("Video call, "))
    assert texts.index("An interpreter joined the call.") < call_row
