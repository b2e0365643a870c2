"""Races that only a real database can show: SQLite ignores row locks (gotcha G9), so these
run on PostgreSQL only and are deselected elsewhere.

Each thread is one "request" with its own database connection, closed when it is done, and
all threads start together at a barrier.
"""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection

from accounts.models import Unit
from chat.errors import NothingWaiting
from chat.models import Conversation, Message
from chat.services.conversations import conversation_accept
from chat.services.messages import message_post
from tests.factories import accept, make_user, seqs, start_conversation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREAD_TIMEOUT = 60  # seconds; only a hang ever gets near it


def run_together(workers):
    """Run each callable in its own thread, all released at once; re-raise the first error.
    Every thread closes its own connection, or dropping the test database would fail."""
    barrier = threading.Barrier(len(workers))
    errors = []

    def run(work):
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            work()
        except BaseException as error:  # handed to the test thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_it_numbers_concurrent_messages_from_both_sides_without_gaps(ekonomi, anna, published):
    threads, per_thread = 8, 25
    conversation, _token = start_conversation(ekonomi)
    accept(anna, conversation)  # seq 2: accepted
    published.clear()

    def poster(author):
        def work():
            for _ in range(per_thread):
                message_post(
                    conversation_id=conversation.pk,
                    author=author,
                    body="Samtidigt",
                    client_id=uuid.uuid4(),
                )

        return work

    run_together([poster(anna if n % 2 else None) for n in range(threads)])

    total = 2 + threads * per_thread
    assert seqs(conversation) == list(range(1, total + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == total
    assert Counter(Message.objects.filter(seq__gt=2).values_list("sender", flat=True)) == {
        "client": threads // 2 * per_thread,
        "worker": threads // 2 * per_thread,
    }
    broadcast = sorted(
        event["message"]["seq"]
        for _group, event in published
        if event["type"] == "conversation.message"
    )
    assert broadcast == list(range(3, total + 1))


@pytest.mark.parametrize("who", ["client", "worker"])
def test_it_stores_a_client_id_once_when_the_same_message_races_in(ekonomi, anna, published, who):
    """The copies that lose the race fail on the unique constraint and are rolled back
    whole: the seq they took is given back, so the next message is seq 4, not 9."""
    conversation, _token = start_conversation(ekonomi)
    accept(anna, conversation)  # seq 2: accepted
    author = anna if who == "worker" else None
    client_id = uuid.uuid4()
    answers = []
    published.clear()

    def resend():
        message, created = message_post(
            conversation_id=conversation.pk,
            author=author,
            body="Skickat på nytt",
            client_id=client_id,
        )
        answers.append((message.seq, created))

    run_together([resend] * 6)

    assert sorted(answers) == [(3, False)] * 5 + [(3, True)]
    assert seqs(conversation) == [1, 2, 3]
    conversation.refresh_from_db()
    assert conversation.last_seq == 3
    assert [event["message"]["seq"] for _group, event in published] == [3]
    after, _created = message_post(
        conversation_id=conversation.pk, author=None, body="Nästa", client_id=uuid.uuid4()
    )
    assert after.seq == 4


def test_it_never_gives_one_client_to_two_workers(db, published):
    conversations, workers, most_each = 20, 6, 10
    # Capacity 10 (the most allowed), so no worker is ever full before the queue is empty.
    unit = Unit.objects.create(name="Barn och familj", slug="barn-och-familj", default_capacity=10)
    staff = [make_user(f"worker{n}", units=[unit]) for n in range(workers)]
    waiting = [start_conversation(unit)[0].pk for _ in range(conversations)]
    taken = {worker.pk: [] for worker in staff}

    def take_until_empty(worker):
        def work():
            for _ in range(most_each):
                try:
                    taken[worker.pk].append(conversation_accept(worker=worker).pk)
                except NothingWaiting:
                    return

        return work

    run_together([take_until_empty(worker) for worker in staff])

    everything_taken = [pk for pks in taken.values() for pk in pks]
    assert sorted(everything_taken) == sorted(waiting)  # each once, none lost
    assert all(len(pks) <= most_each for pks in taken.values())
    for worker in staff:
        assert set(
            Conversation.objects.filter(worker=worker, state="active").values_list("pk", flat=True)
        ) == set(taken[worker.pk])
    assert not Conversation.objects.filter(state=Conversation.State.QUEUED).exists()
    accepted_events = Counter(
        Message.objects.filter(event=Message.Event.ACCEPTED).values_list(
            "conversation_id", flat=True
        )
    )
    assert accepted_events == dict.fromkeys(waiting, 1)
