"""Personas and helpers for the security tests (permission matrix, fuzzing, staff login,
rate limits, access log, quick exit).

The everyday cast (ekonomi, vald, anna, bengt, cecilia, sara) comes from tests/conftest.py;
`cast` adds the rest and names everyone by the part they play towards one conversation, the
*target*, which waits in or is active in Ekonomiskt bistånd:

| persona                 | who        | role        | units                    |
|-------------------------|------------|-------------|--------------------------|
| `own_client`            | (no user)  | client      | holds the target's token |
| `other_client`          | (no user)  | client      | holds another conversation's token |
| `assigned_worker`       | anna       | worker      | ekonomi (the target is hers when active) |
| `unit_worker`           | bengt      | worker      | ekonomi                  |
| `other_unit_worker`     | cecilia    | worker      | vald                     |
| `unit_supervisor`       | sara       | supervisor  | ekonomi, barn            |
| `other_unit_supervisor` | vera       | supervisor  | vald                     |
| `interpreter`           | tove       | interpreter | none                     |
| `partner`               | petra      | partner     | ekonomi (and a pharmacy) |
| `admin`                 | ada        | admin, superuser, staff | ekonomi (listed, yet no reads) |
| `outsider`              | (no user)  | anonymous   | knows nothing            |

The admin and the partner are listed in the target's unit on purpose: only their role keeps
them out, so a rule that forgot the role would show up here. Petra is partner staff of a
pharmacy and has sent a referral (waiting in an on-call unit none of the cast works in).

Use with `pytest_plugins = ["tests.security_personas"]` or import the fixtures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.test import Client

from accounts.models import PartnerOrganisation, PartnerPlace, Unit, User
from chat.models import Conversation, Message, Referral
from chat.services.referrals import ReferralForm, referral_send
from tests import factories

PERSONAS = (
    "own_client",
    "other_client",
    "assigned_worker",
    "unit_worker",
    "other_unit_worker",
    "unit_supervisor",
    "other_unit_supervisor",
    "interpreter",
    "partner",
    "admin",
    "outsider",
)
CLIENTS = ("own_client", "other_client")
ANONYMOUS = ("own_client", "other_client", "outsider")
STAFF_WITHOUT_CONSOLE = ("interpreter", "partner", "admin")
WORKERS = ("assigned_worker", "unit_worker", "other_unit_worker")
SUPERVISORS = ("unit_supervisor", "other_unit_supervisor")

FIRST_BODY = "Han slår mig när han dricker."  # the target's first message: secret
REFERRAL_NOTE = "Mannen väntar utanför apoteket."  # the partner's note: staff only, later
OTHER_BODY = "Jag har inte råd med hyran."


@dataclass
class Cast:
    unit: Unit  # ekonomi: the target's unit
    other_unit: Unit  # vald
    third_unit: Unit  # barn: the unit supervisor's second unit, a place to move to
    users: dict[str, User | None]
    token: str  # the target's resume token (own_client holds it)
    other_token: str  # other_client's token, for a conversation of its own
    target: Conversation
    other: Conversation
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, persona: str) -> User | None:
        return self.users[persona]

    def token_of(self, persona: str) -> str:
        """What the persona can put in a `token` field: only the clients know one."""
        if persona == "own_client":
            return self.token
        if persona == "other_client":
            return self.other_token
        return factories.new_token()  # a guess


def make_cast(ekonomi: Unit, vald: Unit, anna, bengt, cecilia, sara) -> Cast:
    barn = factories.make_unit("Barn och familj", "barn-och-familj")
    sara.units.add(barn)
    vera = factories.make_user("vera_sec", role=User.Role.SUPERVISOR, units=[vald])
    tove = factories.make_user("tove", role=User.Role.INTERPRETER)
    pharmacy = PartnerOrganisation.objects.create(
        name="Apoteket", kind=PartnerOrganisation.Kind.PHARMACY
    )
    place = PartnerPlace.objects.create(organisation=pharmacy, name="Torget")
    petra = factories.make_user(
        "petra", role=User.Role.PARTNER, units=[ekonomi], partner_organisation=pharmacy
    )
    ada = factories.make_user(
        "ada", role=User.Role.ADMIN, units=[ekonomi], is_superuser=True, is_staff=True
    )
    target, token = factories.start_conversation(ekonomi, FIRST_BODY)
    other, other_token = factories.start_conversation(ekonomi, OTHER_BODY)
    # Petra's referral waits in the on-call unit, where none of the cast works, so every
    # queue the cast serves is as it was.
    factories.make_unit("Socialjouren", "socialjouren", referral_order=1)
    referral = referral_send(
        partner=petra,
        form=ReferralForm(
            place_id=place.pk,
            contact=Referral.Contact.SELF,
            children=Referral.Children.UNKNOWN,
            note=REFERRAL_NOTE,
        ),
    )
    cast = Cast(
        unit=ekonomi,
        other_unit=vald,
        third_unit=barn,
        users={
            "own_client": None,
            "other_client": None,
            "assigned_worker": anna,
            "unit_worker": bengt,
            "other_unit_worker": cecilia,
            "unit_supervisor": sara,
            "other_unit_supervisor": vera,
            "interpreter": tove,
            "partner": petra,
            "admin": ada,
            "outsider": None,
        },
        token=token,
        other_token=other_token,
        target=target,
        other=other,
    )
    cast.extra["referral"] = referral
    cast.extra["place"] = place
    return cast


@pytest.fixture
def cast(ekonomi, vald, anna, bengt, cecilia, sara) -> Cast:
    """Everyone, and two waiting conversations in Ekonomiskt bistånd: the target and the
    other client's."""
    return make_cast(ekonomi, vald, anna, bengt, cecilia, sara)


def clear_local_cache() -> None:
    """Empty the rate-limit counters when the cache is this process's own. A shared Redis
    cache is never flushed (other runs use it): there, every socket comes from an address
    of its own (factories.new_address), so no two tests share a counter."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def private_rates(settings):
    """Empty rate-limit counters, and limits a test's own traffic never reaches."""
    clear_local_cache()
    settings.RATE_FRAMES_PER_SECOND = 1000
    settings.RATE_FRAME_BURST = 1000
    settings.RATE_MESSAGES_PER_MINUTE = 1000
    settings.RATE_QUEUE_ENTRIES_PER_HOUR = 1000
    settings.RATE_SOCKETS_PER_MINUTE = 1000
    yield settings
    clear_local_cache()


# --- sessions ------------------------------------------------------------------------------
def verify_session(client: Client, user: User) -> None:
    """Mark the client's session as past the second factor with a confirmed device."""
    if not apps.is_installed("django_otp"):
        return
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="tests", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def http_client(user: User | None, *, second_factor: bool = True, **kwargs: Any) -> Client:
    """A browser: anonymous, or signed in as `user` (past the second factor by default)."""
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
        if second_factor:
            verify_session(client, user)
    return client


def cookie_of(client: Client) -> bytes:
    """The client's session as a websocket's Cookie header."""
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


# --- sockets -------------------------------------------------------------------------------
async def open_socket(
    ws: factories.Sockets, path: str, user: User | None, *, address: str | None = None
) -> tuple[WebsocketCommunicator, str | dict[str, Any]]:
    """Connect to `path` as `user` (anonymous for None). Returns the socket and either
    "closed:<code>" or the first frame (the snapshot on staff sockets; {} on the client's and
    the interpreter's, which speak only when spoken to)."""
    cookie = await factories.session_cookie_for(user) if user is not None else None
    comm = factories.communicator(path, cookie=cookie, address=address)
    ws._open.append(comm)
    connected, code = await comm.connect(timeout=factories.RECEIVE_TIMEOUT)
    if not connected:
        return comm, f"refused:{code}"
    if path in {"/ws/client/", "/ws/interpreter/"}:  # these speak only when spoken to
        return comm, {}
    output = await comm.receive_output(timeout=factories.RECEIVE_TIMEOUT)
    if output["type"] == "websocket.close":
        return comm, f"closed:{output.get('code')}"
    return comm, json.loads(output["text"])


REPLIES = frozenset(
    {"error", "ack", "conversation.sync", "conversation.assigned", "pong", "console.snapshot"}
)


async def reply_to(comm: WebsocketCommunicator, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Send `frame`, then a ping (unless it was one); every frame that came before the pong.
    The consumer handles one frame at a time, so whatever the first frame caused directly
    comes before the pong. Fails if the socket closes instead."""
    frames, closed = await reply_or_close(comm, frame)
    if closed is not None:
        raise AssertionError(f"the socket closed ({closed}) after {frame}: {frames}")
    return frames


async def reply_or_close(
    comm: WebsocketCommunicator, frame: dict[str, Any]
) -> tuple[list[dict[str, Any]], int | None]:
    """As `reply_to`, but a close ends the reading: (frames before it, close code)."""
    await comm.send_json_to(frame)
    if frame.get("type") != "ping":
        await comm.send_json_to({"type": "ping"})
    frames: list[dict[str, Any]] = []
    for _ in range(factories.FRAME_LIMIT):
        output = await comm.receive_output(timeout=factories.RECEIVE_TIMEOUT)
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        received = json.loads(output["text"])
        if received["type"] == "pong":
            return frames, None
        frames.append(received)
    raise AssertionError(f"no pong after {frame}: {frames}")


def first_reply(frames: Iterable[dict[str, Any]], *types: str) -> dict[str, Any] | None:
    for received in frames:
        if received["type"] in types:
            return received
    return None


def error_code(frames: Iterable[dict[str, Any]]) -> str | None:
    error = first_reply(frames, "error")
    return None if error is None else f"error:{error['code']}"


def text_of(value: Any) -> str:
    """A JSON value as searchable text (non-ASCII left as it is)."""
    return json.dumps(value, ensure_ascii=False)


def keys_anywhere(value: Any) -> set[str]:
    """Every dict key at any depth of a JSON value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            found |= keys_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            found |= keys_anywhere(item)
    return found


# --- the database, from async tests --------------------------------------------------------
@database_sync_to_async
def reload(obj):
    obj.refresh_from_db()
    return obj


@database_sync_to_async
def stored_messages(conversation_id: int) -> list[tuple[int, str, str, str]]:
    return list(
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("seq")
        .values_list("seq", "sender", "event", "body")
    )


@database_sync_to_async
def all_messages() -> dict[tuple[int, int], tuple[str, str, str]]:
    return {
        (conversation_id, seq): (sender, event, body)
        for conversation_id, seq, sender, event, body in Message.objects.values_list(
            "conversation_id", "seq", "sender", "event", "body"
        )
    }


@database_sync_to_async
def accept_target(cast: Cast, persona: str = "assigned_worker") -> Conversation:
    """The target becomes active with the persona (anna by default) as its worker."""
    factories.accept(cast.user(persona), cast.target)
    cast.target.refresh_from_db()
    return cast.target
