"""Ten workers on two daphne processes claim forty waiting clients at once, through real
websockets, over PostgreSQL row locks and Redis pub/sub: nobody is served twice, nobody
is lost, nobody goes above capacity. And auto-assign racing the workers' own accepts in
threads never fills a worker above capacity. PostgreSQL only (SQLite ignores row locks, G9).

The websocket client is a few lines of RFC 6455 on asyncio streams (see `Console`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Presence, Unit
from chat.errors import Conflict
from chat.models import Conversation, Message
from chat.services.conversations import conversation_accept
from chat.services.queue import queue_dispatch
from tests.factories import make_unit, make_user, start_conversation
from tests.queue_personas import staff_session_cookie

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WAITING = 40
WORKERS = 10
CAPACITY = 10
ACCEPTS_EACH = 10  # most accept frames one worker sends
FRAME_TIMEOUT = 15  # seconds for the answer to one accept
OVERALL_TIMEOUT = 60
SERVER_START_TIMEOUT = 30
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


# --- two servers --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    """Poll until the server listens; fail with its log if it dies or never listens."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"daphne on {port} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)  # polling a port that nothing can notify us about
    pytest.fail(f"daphne on {port} did not listen:\n{log.read_text()[-3000:]}")


@pytest.fixture
def two_servers(django_db_setup, redis_url, tmp_path):
    """Two daphne processes on the test database and one Redis prefix; yields their ports
    and terminates exactly these two children."""
    from django.db import connection

    env = {
        **os.environ,
        "CHATCOUNSEL_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"{os.environ.get('REDIS_PREFIX', 'cc')}.claims.{uuid.uuid4().hex[:12]}",
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    procs: list[subprocess.Popen] = []
    ports: list[int] = []
    try:
        for name in ("a", "b"):
            port = _free_port()
            log = tmp_path / f"daphne-{name}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "chatcounsel.asgi:application",
                    ],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append(proc)
            _wait_for_port(port, proc, log)
            ports.append(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


# --- a websocket console ------------------------------------------------------------------
class Console:
    """A minimal RFC 6455 client on asyncio streams: text frames only, masked as a client
    must. (autobahn's asyncio flavour cannot load here: daphne, in INSTALLED_APPS, has
    already set txaio to Twisted in this process, and no other websocket client is
    installed.)"""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.close_code: int | None = None

    @classmethod
    async def open(cls, port: int, cookie: str, path: str = "/ws/console/") -> Console:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                f"Origin: http://127.0.0.1:{port}\r\n"
                f"Cookie: {cookie}\r\n"
                "\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), FRAME_TIMEOUT)
        status, *headers = head.decode("latin-1").split("\r\n")
        assert status.startswith("HTTP/1.1 101"), head
        accept = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode(), usedforsecurity=False).digest()
        ).decode()
        assert f"sec-websocket-accept: {accept.lower()}" in [h.lower() for h in headers], head
        return cls(reader, writer)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    def send_frame(self, frame: dict) -> None:
        self._send(0x1, json.dumps(frame).encode())

    async def _read_frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        assert not second & 0x80, "a server never masks"
        assert first & 0x80, "the server fragments no frame of ours"
        return first & 0x0F, await self.reader.readexactly(length)

    async def next_where(self, wanted) -> dict:
        """The next JSON frame that `wanted` accepts, skipping the others."""
        for _ in range(10_000):  # bounded; each read is bounded by FRAME_TIMEOUT
            opcode, payload = await asyncio.wait_for(self._read_frame(), FRAME_TIMEOUT)
            if opcode == 0x9:  # ping
                self._send(0xA, payload)
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else None
                self._send(0x8, payload[:2])  # answer the close, as RFC 6455 asks
                raise ConnectionError(f"console closed with {self.close_code}")
            elif opcode == 0x1:
                frame = json.loads(payload.decode())
                if wanted(frame):
                    return frame
        raise AssertionError("too many frames")

    async def close(self) -> None:
        try:
            if self.close_code is None:
                self._send(0x8, struct.pack("!H", 1000))
                await self.writer.drain()
                for _ in range(1000):  # the server's close answers ours
                    opcode, _payload = await asyncio.wait_for(self._read_frame(), 5)
                    if opcode == 0x8:
                        break
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the socket is going away either way
        finally:
            self.writer.close()


async def open_console(port: int, cookie: str) -> Console:
    return await Console.open(port, cookie)


async def claim_until_empty(console: Console) -> tuple[list[int], list[dict]]:
    """Accept again and again; returns the conversations assigned and any unexpected errors."""
    await console.next_where(lambda f: f["type"] == "console.snapshot")
    assigned: list[int] = []
    errors: list[dict] = []
    for _attempt in range(ACCEPTS_EACH):
        console.send_frame({"type": "accept"})
        answer = await console.next_where(lambda f: f["type"] in {"conversation.assigned", "error"})
        if answer["type"] == "conversation.assigned":
            assigned.append(answer["conversation"])
            continue
        if answer["code"] != "nothing_waiting":
            errors.append(answer)
        break
    return assigned, errors


async def claim_on_two_servers(ports: list[int], cookies: list[str]):
    consoles = []
    try:
        for index, cookie in enumerate(cookies):
            consoles.append(await open_console(ports[index % 2], cookie))
        return await asyncio.wait_for(
            asyncio.gather(*(claim_until_empty(c) for c in consoles)), OVERALL_TIMEOUT
        )
    finally:
        await asyncio.gather(*(c.close() for c in consoles))


# --- the test -----------------------------------------------------------------------------------
@pytest.mark.redis
def test_it_never_gives_one_client_to_two_workers_across_two_servers(two_servers, published):
    unit = make_unit("Ekonomiskt bistånd", "ekonomiskt-bistand", default_capacity=CAPACITY)
    workers = [make_user(f"worker{n:02}", units=[unit]) for n in range(WORKERS)]
    for worker in workers:
        Presence.objects.create(user=worker, capacity=CAPACITY)
    waiting = [start_conversation(unit)[0].pk for _ in range(WAITING)]
    cookies = [staff_session_cookie(worker) for worker in workers]  # five on each server

    results = asyncio.run(claim_on_two_servers(two_servers, cookies))

    assert [errors for _assigned, errors in results] == [[]] * WORKERS
    received = Counter(pk for assigned, _errors in results for pk in assigned)
    assert sum(received.values()) == WAITING
    assert set(received) == set(waiting)
    assert max(received.values()) == 1  # no conversation reached two workers

    conversations = Conversation.objects.filter(pk__in=waiting)
    assert conversations.filter(state=Conversation.State.ACTIVE, worker__isnull=False).count() == (
        WAITING
    )
    accepted = Counter(
        Message.objects.filter(
            conversation__in=conversations, event=Message.Event.ACCEPTED
        ).values_list("conversation_id", flat=True)
    )
    assert accepted == Counter({pk: 1 for pk in waiting})
    load = Counter(conversations.values_list("worker_id", flat=True))
    assert max(load.values()) <= CAPACITY
    # What each worker was told is what the database gave them.
    told = {
        worker.pk: sorted(assigned)
        for worker, (assigned, _errors) in zip(workers, results, strict=True)
    }
    stored = {
        worker.pk: sorted(conversations.filter(worker=worker).values_list("pk", flat=True))
        for worker in workers
    }
    assert told == stored


def test_it_never_fills_a_worker_above_capacity_when_dispatch_and_accepts_race(published):
    """Auto-assign and the workers' own accepts, in eight threads on eight connections,
    all want the same two workers: the presence row lock keeps each at capacity."""
    unit = make_unit("Ekonomiskt bistånd", "ekonomiskt-bistand")
    workers = [make_user(f"worker{n}", units=[unit]) for n in range(2)]
    for worker in workers:
        Presence.objects.create(
            user=worker, status=Presence.Status.AVAILABLE, capacity=2, last_seen=timezone.now()
        )
    waiting = [start_conversation(unit)[0].pk for _ in range(12)]
    Unit.objects.filter(pk=unit.pk).update(auto_assign=True)  # after the starts: no dispatch yet
    jobs = [lambda: queue_dispatch(unit_id=unit.pk)] * 4 + [
        lambda worker=worker: conversation_accept(worker=worker) for worker in workers * 2
    ]
    start_together = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def run(job) -> None:
        try:
            start_together.wait(timeout=10)
            job()
        except Conflict:
            pass  # at capacity: the answer a worker gets when the race is lost
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            connection.close()  # this thread's own connection, or the test DB cannot drop

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    load = Counter(
        Conversation.objects.filter(state=Conversation.State.ACTIVE).values_list(
            "worker_id", flat=True
        )
    )
    assert load == {worker.pk: 2 for worker in workers}
    accepted = Message.objects.filter(conversation__in=waiting, event=Message.Event.ACCEPTED)
    assert accepted.count() == 4
    assert Conversation.objects.filter(state=Conversation.State.QUEUED).count() == 8
