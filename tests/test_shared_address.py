"""Many clients behind one address (a women's shelter, a school, a mobile operator's shared
address): with the shipped limits they all get in, and one of them flooding is limited
without the others noticing. The rate limiter's clock is faked, never the machine's."""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat import ratelimit
from chat.models import Conversation
from tests import factories
from tests.security_personas import clear_local_cache

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 40


class FakeTime:
    """`time` for chat/ratelimit.py: the start of a minute in an hour of its own (a rerun
    never meets an earlier run's counts in a shared Redis), moved on by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0 + 3600 * secrets.randbelow(10**6)
        self.ticks = 0.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.ticks


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    clear_local_cache()
    fake = FakeTime()
    monkeypatch.setattr(
        ratelimit, "time", SimpleNamespace(time=fake.time, monotonic=fake.monotonic)
    )
    yield fake
    clear_local_cache()


def start_frame(unit_id: int, body: str) -> dict:
    return {
        "type": "start",
        "unit": unit_id,
        "token": factories.new_token(),
        "body": body,
        "client_id": factories.new_client_id(),
    }


async def test_forty_clients_behind_one_address_all_reach_the_queue_within_a_minute(
    ws, fake_time, ekonomi
):
    address = factories.new_address()
    syncs = []
    for n in range(CLIENTS):
        comm = factories.communicator("/ws/client/", address=address)
        ws._open.append(comm)
        assert (await comm.connect(timeout=3))[0]
        await comm.send_json_to(start_frame(ekonomi.pk, f"Hej, jag är nummer {n}."))
        syncs.append(await factories.next_frame(comm, "conversation.sync"))
        fake_time.now += 60 / CLIENTS  # all forty within one minute and one hour window

    waiting = await database_sync_to_async(
        lambda: Conversation.objects.filter(unit=ekonomi, state=Conversation.State.QUEUED).count()
    )()
    assert [sync["state"] for sync in syncs] == ["queued"] * CLIENTS
    assert waiting == CLIENTS
    # The shipped limits are what let them in, with room to spare.
    assert settings.RATE_SOCKETS_PER_MINUTE >= 5 * CLIENTS
    assert settings.RATE_QUEUE_ENTRIES_PER_HOUR >= 5 * CLIENTS


async def test_one_socket_flooding_messages_is_limited_and_its_neighbour_is_not(
    ws, fake_time, ekonomi
):
    address = factories.new_address()
    flooder = factories.communicator("/ws/client/", address=address)
    neighbour = factories.communicator("/ws/client/", address=address)
    for comm in (flooder, neighbour):
        ws._open.append(comm)
        assert (await comm.connect(timeout=3))[0]
    await factories.client_start(flooder, ekonomi, "Första.")
    await factories.client_start(neighbour, ekonomi, "Jag också.")

    limit = settings.RATE_MESSAGES_PER_MINUTE
    acks = []
    for n in range(limit):
        fake_time.ticks += 1.0  # a frame a second: the frame bucket never trips
        client_id = await factories.send_message(flooder, f"Meddelande {n}")
        acks.append((await factories.frames_until(flooder, "ack", client_id=client_id))[-1])
    fake_time.ticks += 1.0
    await factories.send_message(flooder, "Ett för mycket")
    refused = (await factories.frames_until(flooder, "error"))[-1]
    fake_time.now += 5
    client_id = await factories.send_message(neighbour, "Är någon där?")
    neighbours_ack = (await factories.frames_until(neighbour, "ack", client_id=client_id))[-1]

    assert [ack["seq"] for ack in acks] == list(range(2, limit + 2))
    assert refused["code"] == "rate_limited" and refused["what"] == "messages"
    assert refused["in_reply_to"] == "message" and refused["client_id"]
    assert refused["retry_after"] == 60  # the minute had just begun
    assert neighbours_ack["seq"] == 2
    # The flood is one strike against the address: far from the strict limits.
    assert not await database_sync_to_async(ratelimit.abusive)(
        ratelimit.address_key({"client": (address, 0)})
    )


async def test_a_fast_typist_is_not_limited(ws, fake_time, ekonomi):
    """Twenty short messages in twenty seconds, a typing notice with each: all stored."""
    comm = factories.communicator("/ws/client/")
    ws._open.append(comm)
    assert (await comm.connect(timeout=3))[0]
    await factories.client_start(comm, ekonomi, "Hej.")

    for n in range(20):
        fake_time.ticks += 1.0
        fake_time.now += 1.0
        await comm.send_json_to({"type": "typing"})
        client_id = await factories.send_message(comm, f"Rad {n}")
        await factories.frames_until(comm, "ack", client_id=client_id)
