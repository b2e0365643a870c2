"""Personas and builders for the queue tests: presence, opening hours, estimates and the
supervisor's dashboard. The everyday cast (ekonomi, vald, anna, bengt, cecilia, sara) comes
from tests/conftest.py; this module adds the supervisors the queue needs.

| fixture  | who                                              | units          |
|----------|--------------------------------------------------|----------------|
| `vera`   | supervisor (gruppledare) of Våld i nära relationer | vald           |
| `gunnar` | area manager: supervisor of both units           | ekonomi, vald  |

Import the fixtures into a test module with
`from tests.queue_personas import gunnar, vera  # noqa: F401 - fixtures`.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ConsoleConnection, Presence, Unit, User
from chat.models import Conversation
from chat.selectors import token_hash
from tests import factories
from tests.factories import new_case

STOCKHOLM = ZoneInfo("Europe/Stockholm")
FRAMES_TO_SKIP = 30  # most unrelated frames a socket may show before the one we wait for


# --- personas -----------------------------------------------------------------------------
@pytest.fixture
def vera(vald: Unit) -> User:
    """Supervisor of Våld i nära relationer only: a stranger to Ekonomiskt bistånd."""
    return factories.make_user("vera", role=User.Role.SUPERVISOR, units=[vald])


@pytest.fixture
def gunnar(ekonomi: Unit, vald: Unit) -> User:
    """Area manager: supervisor of both units, so he may move clients between them."""
    return factories.make_user("gunnar", role=User.Role.SUPERVISOR, units=[ekonomi, vald])


@pytest.fixture
def private_cache(settings) -> None:
    """A cache of the test's own for the per-address flood limits: every test socket comes
    from one address and the windows (an hour for queue entries) outlive a test, so a
    shared cache would let tests starve each other. Never `cache.clear()`: on Redis that
    empties a database other runs use."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"queue-tests-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def memory_layer(request: pytest.FixtureRequest, settings) -> None:
    """Channels' in-memory layer for a consumer test, even when REDIS_URL is set: on Redis
    every last disconnect waits a full second (gotcha G11). Tests marked `redis` keep the
    layer that their `redis_layer` fixture (tests/conftest.py) sets."""
    if request.node.get_closest_marker("redis") is None:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


# --- time -----------------------------------------------------------------------------------
def stockholm(*args: int) -> datetime:
    """An aware datetime on the Stockholm wall clock: stockholm(2025, 6, 2, 8, 0)."""
    return datetime(*args, tzinfo=STOCKHOLM)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- presence -------------------------------------------------------------------------------
def set_presence(
    worker: User,
    *,
    status: str = Presence.Status.AVAILABLE,
    capacity: int = 3,
    seen_ago: timedelta | None = timedelta(0),
    idle_since: datetime | None = None,
    console: bool = True,
) -> Presence:
    """Write the worker's presence row as it would stand after some console traffic, with
    a console open unless `console=False`; `seen_ago=None` means no console ever spoke."""
    presence, _created = Presence.objects.update_or_create(
        user=worker,
        defaults={
            "status": status,
            "capacity": capacity,
            "last_seen": None if seen_ago is None else timezone.now() - seen_ago,
            "idle_since": idle_since,
        },
    )
    if console and seen_ago is not None:
        ConsoleConnection.objects.get_or_create(
            channel_name=f"test.console.{worker.pk}",
            defaults={"user": worker, "session_hash": "test"},
        )
    else:
        ConsoleConnection.objects.filter(user=worker).delete()
    return presence


# --- conversations --------------------------------------------------------------------------
def waited(conversation: Conversation, seconds: float, *, at: datetime | None = None) -> None:
    """Make the conversation have been queued `seconds` before `at` (default now)."""
    queued_at = (at or timezone.now()) - timedelta(seconds=seconds)
    Conversation.objects.filter(pk=conversation.pk).update(queued_at=queued_at)
    conversation.queued_at = queued_at


def client_silent_for(conversation: Conversation, seconds: float) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        client_seen_at=timezone.now() - timedelta(seconds=seconds)
    )


def finished_conversation(
    unit: Unit,
    worker: User,
    *,
    minutes: float,
    ended_at: datetime | None = None,
    state: str = Conversation.State.ENDED,
) -> Conversation:
    """A conversation that was accepted and ended `minutes` later (a handling-time sample)."""
    ended_at = ended_at or timezone.now() - timedelta(hours=1)
    accepted_at = ended_at - timedelta(minutes=minutes)
    return Conversation.objects.create(
        unit=unit,
        case=new_case(unit),
        worker=worker,
        state=state,
        token_hash=token_hash(secrets.token_urlsafe(32)),
        queued_at=accepted_at - timedelta(minutes=2),
        accepted_at=accepted_at,
        ended_at=ended_at,
        ended_by=Conversation.EndedBy.WORKER,
    )


def queue_of(unit: Unit) -> list[int]:
    from chat.selectors import conversation_list_waiting

    return list(conversation_list_waiting(unit_ids=[unit.pk]).values_list("pk", flat=True))


def active_of(worker: User) -> list[int]:
    return list(
        Conversation.objects.filter(worker=worker, state=Conversation.State.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- websockets -----------------------------------------------------------------------------
def staff_session_cookie(user: User, *, second_factor: bool = True) -> str:
    """A real signed-in session as the Cookie header value `sessionid=...`; with
    `second_factor` it has also passed two-factor login, as every staff session must."""
    client = Client()
    client.force_login(user)
    session = client.session
    if second_factor:
        device, _created = TOTPDevice.objects.get_or_create(
            user=user, name="test authenticator", defaults={"confirmed": True}
        )
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class StaffSockets:
    """Console and dashboard sockets of signed-in staff; `staff_ws` disconnects them all."""

    def __init__(self) -> None:
        self._open: list[WebsocketCommunicator] = []

    async def open(
        self, path: str, user: User | None, *, second_factor: bool = True
    ) -> WebsocketCommunicator:
        """A socket that has not connected yet; `user=None` is anonymous."""
        cookie = None
        if user is not None:
            make_cookie = database_sync_to_async(staff_session_cookie)
            cookie = (await make_cookie(user, second_factor=second_factor)).encode()
        comm = factories.communicator(path, cookie=cookie)
        self._open.append(comm)
        return comm

    async def connect(self, path: str, user: User, first: str) -> tuple[Any, dict[str, Any]]:
        comm = await self.open(path, user)
        connected, _code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
        assert connected
        return comm, await factories.receive_type(comm, first)

    async def console(self, user: User) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """A connected console and its console.snapshot."""
        return await self.connect("/ws/console/", user, "console.snapshot")

    async def dashboard(self, user: User) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """A connected dashboard and its dashboard.snapshot."""
        return await self.connect("/ws/dashboard/", user, "dashboard.snapshot")

    async def close_all(self) -> None:
        while self._open:
            comm = self._open.pop()
            with contextlib.suppress(Exception):  # the app may have closed it already
                await comm.disconnect()


@pytest.fixture
async def staff_ws():
    sockets = StaffSockets()
    yield sockets
    await sockets.close_all()


# --- frames -----------------------------------------------------------------------------
async def next_frame(comm: WebsocketCommunicator, type_: str, **match: Any) -> dict[str, Any]:
    """The next frame of `type_` whose top-level fields equal `match`, skipping the others
    (queue and message broadcasts interleave freely); fails after FRAMES_TO_SKIP frames."""
    skipped = []
    for _ in range(FRAMES_TO_SKIP):
        frame = await factories.receive(comm)
        if frame.get("type") == type_ and all(frame.get(k) == v for k, v in match.items()):
            return frame
        skipped.append(frame)
    raise AssertionError(f"no {type_} frame matching {match}; got {skipped}")


async def next_unit_frame(comm: WebsocketCommunicator, unit: Unit) -> dict[str, Any]:
    """The next `dashboard.unit` frame about `unit`; returns its stats."""
    skipped = []
    for _ in range(FRAMES_TO_SKIP):
        frame = await factories.receive(comm)
        if frame.get("type") == "dashboard.unit" and frame["unit"]["id"] == unit.pk:
            return frame["unit"]
        skipped.append(frame)
    raise AssertionError(f"no dashboard.unit frame for unit {unit.pk}; got {skipped}")


async def unit_frame_where(comm: WebsocketCommunicator, unit: Unit, check) -> dict[str, Any]:
    """The first `dashboard.unit` frame about `unit` whose stats satisfy `check`: an action
    may announce the unit more than once (e.g. a dispatch after a capacity change)."""
    seen = []
    for _ in range(FRAMES_TO_SKIP):
        stats = await next_unit_frame(comm, unit)
        if check(stats):
            return stats
        seen.append(stats)
    raise AssertionError(f"no dashboard.unit frame for unit {unit.pk} passed; got {seen}")


async def assert_silent(comm: WebsocketCommunicator) -> None:
    """Nothing more is waiting on the socket (a short, bounded look, not a sync point)."""
    assert await comm.receive_nothing(timeout=0.1)
