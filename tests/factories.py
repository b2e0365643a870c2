"""Personas and small builders for the tests (conventions habit 15).

Plain functions, so a test can make one more of anything; tests/conftest.py wraps the
usual cast in fixtures:

| fixture   | who                                   | units               |
|-----------|---------------------------------------|---------------------|
| `ekonomi` | unit "Ekonomiskt bistånd"             |                     |
| `vald`    | unit "Våld i nära relationer"         |                     |
| `anna`    | social worker                         | ekonomi             |
| `bengt`   | social worker                         | ekonomi             |
| `cecilia` | social worker                         | vald                |
| `sara`    | supervisor                            | ekonomi             |
| `pelle`   | partner staff (no console)            | ekonomi             |

Keep every worker at two or fewer active conversations per test: a worker's capacity
defaults to 3 (the unit's default) and a full worker is refused with `at_capacity`.

The websocket helpers talk to the real ASGI application. Sockets also get news they did not
ask for (queue, position, presence, dashboard: `BACKGROUND`); `next_frame` passes over
those and nothing else, and `settle` reads whatever is still on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.test import Client

from accounts.models import Unit, User
from chat.models import Case, ClientRecord, Conversation, Message
from chat.selectors import token_hash
from chat.services.conversations import conversation_accept, conversation_start

# What a browser on http://127.0.0.1 sends: the origin check compares the two.
ORIGIN = b"http://127.0.0.1"
HOST = b"127.0.0.1"
RECEIVE_TIMEOUT = 3  # seconds to wait for a frame that must come
FRAME_LIMIT = 30  # most frames read while looking for one
# Frames that state changes elsewhere send to every interested socket at any time: the
# helpers below pass over them (and only them) while waiting for the frame a test is about.
BACKGROUND = frozenset(
    # (conversation.context: pushed to the staff in a conversation after every handover or
    # invitation change, whatever else a test is waiting for.)
    {
        "queue.position",
        "queue.updated",
        "presence.updated",
        "dashboard.unit",
        "conversation.context",
        # The client's page connected or went: told to the staff in the conversation.
        "conversation.client",
    }
)


# --- people and places ------------------------------------------------------------------
def make_unit(name: str, slug: str, **fields: Any) -> Unit:
    return Unit.objects.create(name=name, slug=slug, **fields)


def new_case(unit: Unit) -> Case:
    """A new anonymous client's case in `unit`: every conversation belongs to one."""
    return Case.objects.create(client=ClientRecord.objects.create(), unit=unit)


def make_user(
    username: str, *, role: str = User.Role.WORKER, units: Iterable[Unit] = (), **fields: Any
) -> User:
    fields.setdefault("first_name", username.capitalize())
    user = User.objects.create_user(username=username, password=None, role=role, **fields)
    user.units.set(list(units))
    return user


def new_token() -> str:
    """A resume token as the browser makes it: 32 random bytes, base64url, 43 characters."""
    return secrets.token_urlsafe(32)


def new_client_id() -> str:
    return str(uuid.uuid4())


def start_conversation(
    unit: Unit, body: str = "Hej, jag behöver hjälp.", *, token: str | None = None
) -> tuple[Conversation, str]:
    """A client queues in `unit` with a first message; returns (conversation, token)."""
    token = token or new_token()
    conversation, _created = conversation_start(
        unit_id=unit.pk, token=token, body=body, client_id=uuid.uuid4()
    )
    return conversation, token


def past_conversation(
    unit: Unit,
    *,
    came: datetime,
    waited: float | None = 2,
    talked: float = 10,
    state: str = Conversation.State.ENDED,
    worker: User | None = None,
    last_seq: int = 0,
) -> Conversation:
    """History for the statistics: a conversation that began at `came`, was first answered
    after `waited` minutes (None: never) and lasted `talked` minutes, with `last_seq`
    messages counted and none stored."""
    first = came + timedelta(minutes=waited) if waited is not None else None
    ended = None
    if state in (Conversation.State.ENDED, Conversation.State.ABANDONED):
        ended = (first or came) + timedelta(minutes=talked)
    conversation = Conversation.objects.create(
        unit=unit,
        case=new_case(unit),
        state=state,
        token_hash=token_hash(new_token()),
        worker=worker if state in (Conversation.State.ACTIVE, Conversation.State.ENDED) else None,
        queued_at=came,
        accepted_at=first,
        first_accepted_at=first,
        ended_at=ended,
        last_seq=last_seq,
    )
    Conversation.objects.filter(pk=conversation.pk).update(created_at=came)
    conversation.created_at = came
    return conversation


def accept(worker: User, conversation: Conversation) -> Conversation:
    """The worker takes this very conversation."""
    return conversation_accept(worker=worker, conversation_id=conversation.pk)


def seqs(conversation: Conversation) -> list[int]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def system_events(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, sender=Message.Sender.SYSTEM)
        .order_by("seq")
        .values_list("event", flat=True)
    )


# --- websockets -------------------------------------------------------------------------
@database_sync_to_async
def session_cookie_for(user: User, *, second_factor: bool = True) -> bytes:
    """A real signed-in session for `user`, as the browser's Cookie header. With
    `second_factor` the session has also passed two-factor login with a confirmed
    authenticator of the user's, as every staff session must."""
    client = Client()
    client.force_login(user)
    if second_factor and apps.is_installed("django_otp"):
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="tests", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    sessionid = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={sessionid}".encode()


def new_address() -> str:
    """A client address of its own (IPv6 documentation range), so one test's sockets never
    spend another's per-address rate limits, not even in a shared Redis cache."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def communicator(
    path: str,
    *,
    cookie: bytes | None = None,
    origin: bytes | None = ORIGIN,
    address: str | None = None,
    host: bytes = HOST,
) -> WebsocketCommunicator:
    """A communicator against the real ASGI application (origin check and auth run), from
    `address` (a fresh one by default) as daphne would report it."""
    from chatcounsel.asgi import application

    headers = [(b"host", host)]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", cookie))
    comm = WebsocketCommunicator(application, path, headers=headers)
    # The application starts on first use, so the scope can still be completed here.
    comm.scope["client"] = (address or new_address(), 50000)
    return comm


async def receive(comm: WebsocketCommunicator) -> dict[str, Any]:
    return await comm.receive_json_from(timeout=RECEIVE_TIMEOUT)


async def receive_type(comm: WebsocketCommunicator, expected: str) -> dict[str, Any]:
    """The next frame, which must be of type `expected`."""
    frame = await receive(comm)
    assert frame["type"] == expected, frame
    return frame


def _matches(frame: dict[str, Any], type_: str, where, match: dict[str, Any]) -> bool:
    return (
        frame["type"] == type_
        and all(frame.get(key) == value for key, value in match.items())
        and (where is None or where(frame))
    )


async def frames_until(
    comm: WebsocketCommunicator, type_: str, *, where=None, **match: Any
) -> list[dict[str, Any]]:
    """Every frame up to and including the first of `type_` whose fields equal `match` (and
    for which `where(frame)` holds). Fails if it does not come."""
    frames: list[dict[str, Any]] = []
    while len(frames) < FRAME_LIMIT:
        frames.append(await receive(comm))
        if _matches(frames[-1], type_, where, match):
            return frames
    raise AssertionError(f"no {type_} {match} among {frames}")


async def next_frame(
    comm: WebsocketCommunicator,
    type_: str,
    *,
    skip: frozenset[str] = BACKGROUND,
    where=None,
    **match: Any,
) -> dict[str, Any]:
    """The next frame of `type_` (see `frames_until`); only frames whose type is in `skip`
    may come before it."""
    frames = await frames_until(comm, type_, where=where, **match)
    unexpected = [frame for frame in frames[:-1] if frame["type"] not in skip]
    assert not unexpected, f"before {type_} {match} came {unexpected}"
    return frames[-1]


async def settle(comm: WebsocketCommunicator) -> list[dict[str, Any]]:
    """Read everything already on its way to this socket; returns those frames.

    A ping is answered after the events the consumer has already taken from the channel
    layer, but when an event and the ping are ready at the same moment Channels handles the
    ping first, so one pong proves little. Each further round flushes at least one event
    that was already queued, so ping again until a round (after the first) brings nothing.
    """
    frames: list[dict[str, Any]] = []
    for round_ in range(10):
        await comm.send_json_to({"type": "ping"})
        before_pong = (await frames_until(comm, "pong"))[:-1]
        frames.extend(before_pong)
        if round_ and not before_pong:
            return frames
    raise AssertionError(f"the socket never went quiet: {frames}")


class Sockets:
    """Communicators for one test; the `ws` fixture disconnects them all at the end."""

    def __init__(self) -> None:
        self._open: list[WebsocketCommunicator] = []

    async def open(
        self,
        path: str,
        *,
        user: User | None = None,
        origin: bytes | None = ORIGIN,
        second_factor: bool = True,
        host: bytes = HOST,
    ) -> WebsocketCommunicator:
        """A communicator that has not connected yet, signed in as `user` if given."""
        cookie = (
            await session_cookie_for(user, second_factor=second_factor)
            if user is not None
            else None
        )
        comm = communicator(path, cookie=cookie, origin=origin, host=host)
        self._open.append(comm)
        return comm

    async def client(self) -> WebsocketCommunicator:
        """A connected client socket without a conversation."""
        comm = await self.open("/ws/client/")
        connected, _code = await comm.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        return comm

    async def console(self, user: User) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """A connected console for `user` and the snapshot it opened with. It has settled:
        the presence and queue news its own arrival caused have been read."""
        comm = await self.open("/ws/console/", user=user)
        connected, _code = await comm.connect(timeout=RECEIVE_TIMEOUT)
        assert connected
        snapshot = await receive_type(comm, "console.snapshot")
        in_flight = await settle(comm)
        assert all(frame["type"] in BACKGROUND for frame in in_flight), in_flight
        return comm, snapshot

    async def disconnect(self, comm: WebsocketCommunicator) -> None:
        self._open.remove(comm)
        await comm.disconnect()

    async def close_all(self) -> None:
        while self._open:
            comm = self._open.pop()
            # A receive that timed out has cancelled the application: its disconnect
            # re-raises CancelledError. The test has already failed; finish the teardown.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await comm.disconnect()


async def client_start(
    comm: WebsocketCommunicator,
    unit: Unit,
    body: str = "Hej, jag behöver hjälp.",
    *,
    token: str | None = None,
    client_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Send `start` on a client socket; returns the conversation.sync frame and the token."""
    token = token or new_token()
    await comm.send_json_to(
        {
            "type": "start",
            "unit": unit.pk,
            "token": token,
            "body": body,
            "client_id": client_id or new_client_id(),
        }
    )
    return await receive_type(comm, "conversation.sync"), token


async def send_message(
    comm: WebsocketCommunicator, body: str, *, client_id: str | None = None, **fields: Any
) -> str:
    """Send a `message` frame; returns its client_id."""
    client_id = client_id or new_client_id()
    await comm.send_json_to({"type": "message", "body": body, "client_id": client_id, **fields})
    return client_id


async def waiting_client(
    ws: Sockets, unit: Unit, body: str = "Hej, jag behöver hjälp."
) -> tuple[WebsocketCommunicator, int]:
    """A settled client socket whose conversation waits in `unit`'s queue; (socket, id)."""
    client = await ws.client()
    sync, _token = await client_start(client, unit, body)
    await settle(client)
    return client, sync["conversation"]


async def accepted(
    ws: Sockets, worker: User, unit: Unit
) -> tuple[WebsocketCommunicator, WebsocketCommunicator, int]:
    """A client and the worker's console, the worker having accepted the client by name;
    (client socket, console socket, conversation id)."""
    console, _snapshot = await ws.console(worker)
    client, conversation_id = await waiting_client(ws, unit)
    await console.send_json_to({"type": "accept", "conversation": conversation_id})
    await next_frame(console, "conversation.assigned", conversation=conversation_id)
    await next_frame(client, "conversation.message", where=is_event("accepted"))
    return client, console, conversation_id


def is_event(name: str):
    """A `where` for next_frame: a conversation.message carrying system event `name`."""
    return lambda frame: frame["message"]["event"] == name
