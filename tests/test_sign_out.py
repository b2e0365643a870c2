"""Signing out takes a worker out of assignment at once: no client is ever given to a
worker without an open console, and the clients a worker had go back to the front of the
queue with an honest notice when they sign out or their last console has been closed for
the grace period. Consumers against the real application; timers are called directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import ConsoleConnection, Presence
from chat import selectors
from chat.models import Conversation, Message
from chat.services.presence import (
    presence_check_offline,
    presence_console_closed,
    presence_console_opened,
)
from chat.services.timed import presence_sweep_offline, timed_sweep
from tests import factories
from tests.factories import client_start, is_event, next_frame, settle, system_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def auto_ekonomi(ekonomi):
    ekonomi.auto_assign = True
    ekonomi.save(update_fields=["auto_assign"])
    return ekonomi


@sync_to_async
def sign_out(cookie: bytes) -> int:
    """Press "Logga ut" in the browser that holds `cookie` (a POST, as the page does)."""
    name, value = cookie.decode().split("=", 1)
    browser = Client()
    browser.cookies[name] = value
    return browser.post("/accounts/logout/").status_code


@sync_to_async
def conversation(pk: int) -> Conversation:
    return Conversation.objects.select_related("worker").get(pk=pk)


@sync_to_async
def events_of(pk: int) -> list[str]:
    return system_events(Conversation.objects.get(pk=pk))


async def close_code(comm) -> int:
    """Read past the frames still on their way until the server closes the socket."""
    for _ in range(50):
        output = await comm.receive_output(timeout=factories.RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            return output["code"]
    raise AssertionError("the socket was never closed")


async def signed_in_console(ws, user):
    """A console socket and the cookie of its browser session."""
    cookie = await factories.session_cookie_for(user)
    comm = factories.communicator("/ws/console/", cookie=cookie)
    ws._open.append(comm)
    connected, _code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
    assert connected
    await factories.receive_type(comm, "console.snapshot")
    await settle(comm)
    return comm, cookie


async def test_it_never_gives_a_client_to_a_worker_who_signed_out(ws, auto_ekonomi, anna):
    console, cookie = await signed_in_console(ws, anna)

    assert await sign_out(cookie) in (200, 302)
    # A client starts the moment after, before the console's socket may have closed.
    client = await ws.client()
    sync, _token = await client_start(client, auto_ekonomi)
    await settle(client)

    waiting = await conversation(sync["conversation"])
    assert waiting.state == Conversation.State.QUEUED
    assert waiting.worker is None
    assert Message.Event.ACCEPTED not in await events_of(waiting.pk)
    # The signed-out browser's console is closed as signed out.
    assert await close_code(console) == 4401


async def test_a_client_of_a_worker_who_signed_out_goes_back_first_in_line_and_is_told(
    ws, ekonomi, anna
):
    console, cookie = await signed_in_console(ws, anna)
    await factories.waiting_client(ws, ekonomi, "Jag väntar också.")
    client, talk_id = await factories.waiting_client(ws, ekonomi)
    await console.send_json_to({"type": "accept", "conversation": talk_id})
    await next_frame(client, "conversation.message", where=is_event("accepted"))

    await sign_out(cookie)

    notice = await next_frame(client, "conversation.message", where=is_event("worker_gone"))
    assert notice["state"] == Conversation.State.QUEUED
    back = await conversation(talk_id)
    assert back.state == Conversation.State.QUEUED and back.worker is None
    # Ahead of the client who was already waiting: they had been taken once.
    queue = await sync_to_async(
        lambda: list(
            selectors.conversation_list_waiting(unit_ids=[ekonomi.pk]).values_list("pk", flat=True)
        )
    )()
    assert queue[0] == talk_id


async def test_signing_out_of_one_browser_keeps_the_consoles_of_another(ws, auto_ekonomi, anna):
    _home, home_cookie = await signed_in_console(ws, anna)
    office, _office_cookie = await signed_in_console(ws, anna)

    await sign_out(home_cookie)
    client = await ws.client()
    sync, _token = await client_start(client, auto_ekonomi)

    assigned = await next_frame(office, "conversation.assigned")
    assert assigned["conversation"] == sync["conversation"]
    assert (await conversation(sync["conversation"])).worker_id == anna.pk


# --- the grace period after the last console closed (service level) --------------------------


def _active_for(worker, unit) -> Conversation:
    talk, _token = factories.start_conversation(unit)
    return factories.accept(worker, talk)


@pytest.mark.django_db
def test_closing_the_last_console_stops_new_clients_at_once_and_returns_the_rest_after_grace(
    auto_ekonomi, anna, django_capture_on_commit_callbacks
):
    presence_console_opened(worker=anna, channel_name="console.a", session_key="s")
    talk = _active_for(anna, auto_ekonomi)

    with django_capture_on_commit_callbacks(execute=True):
        presence_console_closed(worker=anna, channel_name="console.a")
        new, _token = factories.start_conversation(auto_ekonomi)
    new.refresh_from_db()
    assert new.state == Conversation.State.QUEUED  # no console: no new client
    talk.refresh_from_db()
    assert talk.worker_id == anna.pk  # a reload within the grace keeps the conversation

    presence_check_offline(worker=anna)  # a timer firing too early changes nothing
    talk.refresh_from_db()
    assert talk.state == Conversation.State.ACTIVE

    Presence.objects.filter(user=anna).update(
        last_seen=timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + 1)
    )
    presence_check_offline(worker=anna)

    talk.refresh_from_db()
    assert talk.state == Conversation.State.QUEUED and talk.worker is None
    assert talk.transferred is True
    assert system_events(talk)[-1] == Message.Event.WORKER_GONE


@pytest.mark.django_db
def test_the_sweep_finds_a_worker_whose_server_died_with_their_console_open(ekonomi, anna):
    presence_console_opened(worker=anna, channel_name="console.dead", session_key="s")
    talk = _active_for(anna, ekonomi)
    Presence.objects.filter(user=anna).update(
        last_seen=timezone.now() - timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + 1)
    )

    timed_sweep()

    talk.refresh_from_db()
    assert talk.state == Conversation.State.QUEUED
    assert not ConsoleConnection.objects.filter(user=anna).exists()
    assert presence_sweep_offline() == 0  # nothing left to find


@pytest.mark.django_db
def test_the_sweep_leaves_a_worker_whose_console_speaks(ekonomi, anna):
    presence_console_opened(worker=anna, channel_name="console.live", session_key="s")
    talk = _active_for(anna, ekonomi)

    assert presence_sweep_offline() == 0
    talk.refresh_from_db()
    assert talk.state == Conversation.State.ACTIVE
