"""What the browser's pages do on the wire, in asyncio, for tests that run real server
processes (tests/test_chaos.py): the reconnecting socket of `socket.js`, the gapless
thread and outbox of `thread.js` and `outbox.js`, and the client page and the console as
`client.js` and `console/main.js` drive them (docs/realtime.md, "Delivery guarantees").

Nothing here takes a shortcut the browser does not have: messages go into an outbox first
and are resent with the same `client_id` until acknowledged (once after each reconnect,
and when the ack is long in coming; a sync answer on the same socket sends only what has
not gone out on it); a live message is applied only if it is the next `seq`, a gap asks for
a resync from the last `seq`, one in flight per conversation (`resync.js`); a reconnect
resumes (client) or syncs every conversation (console) from the last `seq`; a `pong`'s
`last_seq` or `last_seqs` and the check 1.5 s after an `ack` catch a lost last broadcast.

Each thread keeps the log a page would show, so a test can check that every side saw every
message once, in order, with no gap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import os
import random
import secrets
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Frame = dict[str, Any]
HOST = "127.0.0.1"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
HANDSHAKE_TIMEOUT = 10.0
ACK_CHECK_SECONDS = 1.5  # thread.js: the broadcast of an acknowledged message may be lost
STALE_SECONDS = 5.0  # outbox.js: resend what has waited this long for its ack
RESYNC_TIMEOUT = 10.0  # resync.js: a request unanswered this long is forgotten
# socket.js: the ceiling doubles from BACKOFF_START (0.5, 1, 2 ...) up to RECENT_BACKOFF_MAX
# for a page that was connected a moment ago, each wait a random time up to it.
BACKOFF_START = 0.5
RECENT_BACKOFF_MAX = 5.0
BACKOFF_FLOOR = 0.1


class Closed(Exception):
    """The socket is gone (closed by the server, reset, or never opened)."""


# --- a minimal RFC 6455 client: text frames, masked as a client must ----------------------
class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.close_code: int | None = None

    @classmethod
    async def open(cls, port: int, path: str, cookie: str = "") -> WebSocket:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, port), HANDSHAKE_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            raise Closed(f"cannot connect: {error}") from error
        key = base64.b64encode(os.urandom(16)).decode()
        head = [
            f"GET {path} HTTP/1.1",
            f"Host: {HOST}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: http://{HOST}:{port}",
        ]
        if cookie:
            head.append(f"Cookie: {cookie}")
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANDSHAKE_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            writer.close()
            raise Closed(f"handshake failed: {error!r}") from error
        status, *lines = answer.decode("latin-1").split("\r\n")
        expected = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode(), usedforsecurity=False).digest()
        ).decode()
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        if " 101 " not in f"{status} " or headers.get("sec-websocket-accept") != expected:
            writer.close()
            raise Closed(f"handshake refused: {status}")
        return cls(reader, writer)

    def _send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        mask = os.urandom(4)
        key = (mask * (length // 4 + 1))[:length]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
            length, "big"
        )
        self.writer.write(header + mask + masked)

    def send(self, frame: Frame) -> None:
        if self.writer.is_closing():
            raise Closed("socket closing")
        self._send(0x1, json.dumps(frame).encode())

    async def recv(self) -> Frame:
        """The next JSON text frame; answers pings; raises Closed when the socket ends."""
        for _ in range(10_000):  # control frames in a row; bounded
            try:
                first, second = await self.reader.readexactly(2)
                length = second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError) as error:
                raise Closed(f"connection lost: {error!r}") from error
            opcode = first & 0x0F
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.abort()
                raise Closed(f"closed by the server ({self.close_code})")
            if opcode == 0x9:
                with contextlib.suppress(OSError):
                    self._send(0xA, payload)
                continue
            if opcode == 0x1:
                assert first & 0x80, "the server fragments no text frame"
                return json.loads(payload.decode())
        raise Closed("too many control frames")

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


# --- socket.js ------------------------------------------------------------------------------
class Link:
    """One page's socket: reconnects with backoff and full jitter, pings every heartbeat,
    drops a socket silent for two heartbeats, stops on 4401/4403 (recorded as `refused`)."""

    def __init__(
        self,
        port: int,
        path: str,
        *,
        handlers: dict[str, Callable[[Frame], None]],
        on_open: Callable[[], None],
        heartbeat: float,
        cookie: str = "",
        rng: random.Random,
    ) -> None:
        self.port = port
        self.path = path
        self.cookie = cookie
        self.handlers = handlers
        self.on_open = on_open
        self.heartbeat = heartbeat
        self.rng = rng
        self.ws: WebSocket | None = None
        self.attempt = 0
        self.opened_at: float | None = None
        self.last_frame_at = 0.0
        self.opens = 0
        self.silent_drops = 0  # sockets dropped by the heartbeat check
        self.frames: dict[str, int] = {}  # frames received, by type
        self.heartbeat_task: asyncio.Task | None = None
        self.pings = 0
        self.refused: int | None = None
        self.stopped = False

    def send(self, frame: Frame) -> bool:
        """False when no socket is open: the item simply waits for the next flush."""
        if self.ws is None:
            return False
        try:
            self.ws.send(frame)
        except (Closed, OSError):
            return False
        return True

    def backoff(self) -> float:
        ceiling = min(RECENT_BACKOFF_MAX, BACKOFF_START * 2**self.attempt)
        self.attempt += 1
        return BACKOFF_FLOOR + self.rng.random() * ceiling

    async def run(self) -> None:
        while not self.stopped:
            try:
                self.ws = await WebSocket.open(self.port, self.path, self.cookie)
            except Closed:
                self.ws = None
                await asyncio.sleep(self.backoff())
                continue
            self.attempt = 0
            self.opens += 1
            self.opened_at = self.last_frame_at = time.monotonic()
            heartbeat = self.heartbeat_task = asyncio.create_task(self._heartbeat(self.ws))
            try:
                self.on_open()
                while True:
                    frame = await self.ws.recv()
                    self.last_frame_at = time.monotonic()
                    kind = frame.get("type", "")
                    if kind == "error":
                        kind = f"error:{frame.get('code')}"
                    self.frames[kind] = self.frames.get(kind, 0) + 1
                    handler = self.handlers.get(frame.get("type", ""))
                    if handler is not None:
                        handler(frame)
            except Closed:
                pass
            finally:
                heartbeat.cancel()
                code = self.ws.close_code if self.ws else None
                if self.ws is not None:
                    self.ws.abort()
                self.ws = None
            if code in (4401, 4403):
                self.refused = code
                return
            await asyncio.sleep(self.backoff())

    async def _heartbeat(self, ws: WebSocket) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            if time.monotonic() - self.last_frame_at > 2 * self.heartbeat:
                self.silent_drops += 1
                ws.abort()  # the reader sees the loss and reconnects
                return
            self.pings += 1
            self.send({"type": "ping"})

    def stop(self) -> None:
        self.stopped = True
        if self.ws is not None:
            self.ws.abort()


# --- resync.js, thread.js and outbox.js -------------------------------------------------------
@dataclass
class Item:
    client_id: str
    body: str
    sent_at: float = 0.0
    sent_on: object = None  # the socket it last went out on


@dataclass
class Thread:
    """One conversation as one page holds it."""

    side: str  # "client" or "worker": who writes from this page
    send: Callable[[Frame], bool]
    request_sync: Callable[[int], bool]  # `resume` or `sync` after a seq; False if not sent
    connection: Callable[[], object]  # the socket frames go out on now
    conversation: int | None = None
    last_seq: int = 0
    log: list[Frame] = field(default_factory=list)  # what the page shows, in order
    outbox: dict[str, Item] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> seq from its ack
    posted: dict[str, str] = field(default_factory=dict)  # client_id -> body, everything written
    refused: list[Frame] = field(default_factory=list)
    gaps: int = 0  # resyncs this thread asked for to fill a gap (not those of a reconnect)
    gap_signs: int = 0  # signs of a gap it saw (one resync in flight answers many)
    resends: int = 0  # items sent again (after a reconnect or when stale)
    ack_check: asyncio.TimerHandle | None = None
    # resync.js: the socket of the request in flight, its timeout, and the highest seq a
    # sign named while it was out (0: none).
    resync_on: object = None
    resync_timer: asyncio.TimerHandle | None = None
    resync_again: float = 0

    def apply_sync(self, frame: Frame) -> None:
        self.conversation = frame["conversation"]
        for message in frame["messages"]:
            self.accept(message)
        self.resync_answered(frame["last_seq"])
        self.flush()

    def ask_sync(self) -> None:
        """After a (re)connect: ask for everything after the last seq."""
        self.resync_need(float("inf"), for_gap=False)

    def need(self, seq: float) -> None:
        """A sign that the server has messages up to `seq`."""
        if seq > self.last_seq:
            self.gap_signs += 1
            self.resync_need(seq)

    def resync_need(self, seq: float, *, for_gap: bool = True) -> None:
        if self.resync_on is not None and self.resync_on is self.connection():
            self.resync_again = max(self.resync_again, seq)
            return
        self.resync_send(for_gap=for_gap)

    def resync_answered(self, last_seq: int) -> None:
        again = max(self.resync_again, last_seq)
        self.resync_forget()
        if again > self.last_seq:
            self.resync_send()

    def resync_send(self, *, for_gap: bool = True) -> None:
        self.resync_forget()
        if not self.request_sync(self.last_seq):
            return
        self.gaps += for_gap
        sent_on = self.resync_on = self.connection()
        self.resync_timer = asyncio.get_running_loop().call_later(
            RESYNC_TIMEOUT, self.resync_expire, sent_on
        )

    def resync_expire(self, sent_on: object) -> None:
        if self.resync_on is not sent_on:
            return
        again = self.resync_again
        self.resync_forget()
        if again > self.last_seq:
            self.resync_send()

    def resync_forget(self) -> None:
        if self.resync_timer is not None:
            self.resync_timer.cancel()
        self.resync_timer = None
        self.resync_on = None
        self.resync_again = 0

    def receive(self, frame: Frame) -> None:
        message = frame["message"]
        if message["seq"] <= self.last_seq:
            return  # a duplicate: dropped by seq
        if message["seq"] > self.last_seq + 1:
            self.need(message["seq"])  # dropped; the resync brings it in order
            return
        self.accept(message)

    def accept(self, message: Frame) -> None:
        if message["seq"] != self.last_seq + 1:
            return
        self.last_seq = message["seq"]
        self.log.append(message)
        if message.get("client_id"):
            self.outbox.pop(message["client_id"], None)

    def ack(self, frame: Frame) -> None:
        self.outbox.pop(frame["client_id"], None)
        self.acked[frame["client_id"]] = frame["seq"]
        if self.ack_check is not None:
            self.ack_check.cancel()
        self.ack_check = asyncio.get_running_loop().call_later(
            ACK_CHECK_SECONDS, self.check_arrived, frame["seq"]
        )

    def check_arrived(self, seq: int) -> None:
        self.need(seq)

    def fail(self, frame: Frame) -> None:
        item = self.outbox.get(frame["client_id"])
        if item is None:
            return
        if frame["code"] == "rate_limited":  # not a refusal: it goes again shortly
            for waiting in self.outbox.values():  # the limit may have dropped others silently
                waiting.sent_on = None
            asyncio.get_running_loop().call_later(frame.get("retry_after") or 1, self.flush)
            return
        del self.outbox[frame["client_id"]]
        self.refused.append(frame)

    def post(self, body: str) -> None:
        item = Item(client_id=str(uuid.uuid4()), body=body)
        self.outbox[item.client_id] = item
        self.posted[item.client_id] = body
        self.send_item(item)

    def frame_for(self, item: Item) -> Frame:
        frame: Frame = {"type": "message", "body": item.body, "client_id": item.client_id}
        if self.conversation is not None:
            frame["conversation"] = self.conversation
        return frame

    def send_item(self, item: Item) -> None:
        self.resends += item.sent_at > 0
        item.sent_at = time.monotonic()
        item.sent_on = self.connection() if self.send(self.frame_for(item)) else None

    def flush(self) -> None:
        """After a sync answer: what has not gone out on this socket yet."""
        now = self.connection()
        for item in list(self.outbox.values()):
            if item.sent_on is None or item.sent_on is not now:
                self.send_item(item)

    def flush_stale(self) -> None:
        now = time.monotonic()
        for item in list(self.outbox.values()):
            if now - item.sent_at > STALE_SECONDS:
                self.send_item(item)


# --- the client page (client.js) --------------------------------------------------------------
class ClientPage:
    def __init__(
        self, port: int, *, unit: int, first: str, heartbeat: float, rng: random.Random
    ) -> None:
        self.token = secrets.token_urlsafe(32)  # as newToken(): 43 base64url characters
        self.start: Frame | None = {"unit": unit, "body": first, "client_id": str(uuid.uuid4())}
        self.errors: list[Frame] = []
        self.thread = Thread(
            side="client",
            send=self._send,
            request_sync=self._resync,
            connection=lambda: self.link.ws,
        )
        self.thread.posted[self.start["client_id"]] = first
        self.link = Link(
            port,
            "/ws/client/",
            handlers={
                "conversation.sync": self.on_sync,
                "conversation.message": self.thread.receive,
                "pong": self.on_pong,
                "ack": self.thread.ack,
                "error": self.on_error,
            },
            on_open=self.on_open,
            heartbeat=heartbeat,
            rng=rng,
        )

    def _send(self, frame: Frame) -> bool:
        return self.link.send(frame)

    def _resync(self, after: int) -> bool:
        return self.link.send({"type": "resume", "token": self.token, "after": after})

    def on_open(self) -> None:
        if self.start is not None:
            self.link.send({"type": "start", "token": self.token, **self.start})
        else:
            self.thread.ask_sync()

    def on_sync(self, frame: Frame) -> None:
        if self.start is not None:
            # The first message is stored: the sync is its acknowledgement.
            self.thread.acked[self.start["client_id"]] = 1
            self.start = None
        self.thread.apply_sync(frame)

    def on_pong(self, frame: Frame) -> None:
        self.thread.need(frame.get("last_seq", 0))
        self.thread.flush_stale()

    def on_error(self, frame: Frame) -> None:
        if frame.get("client_id") and frame.get("in_reply_to") == "message":
            self.thread.fail(frame)
        elif frame.get("code") != "rate_limited":
            self.errors.append(frame)


# --- the console (console/main.js) ------------------------------------------------------------
class ConsolePage:
    def __init__(self, port: int, cookie: str, *, heartbeat: float, rng: random.Random) -> None:
        self.threads: dict[int, Thread] = {}
        self.errors: list[Frame] = []
        self.snapshots = 0
        self.last_pong: Frame = {}
        self.assigned: asyncio.Queue[int] = asyncio.Queue()
        self.link = Link(
            port,
            "/ws/console/",
            cookie=cookie,
            handlers={
                "console.snapshot": self.on_snapshot,
                "conversation.assigned": self.on_assigned,
                "conversation.sync": self.on_sync,
                "conversation.message": self.on_message,
                "pong": self.on_pong,
                "ack": self.on_ack,
                "error": self.on_error,
            },
            on_open=lambda: None,  # the server sends the snapshot
            heartbeat=heartbeat,
            rng=rng,
        )

    def thread(self, conversation: int) -> Thread:
        if conversation not in self.threads:
            self.threads[conversation] = Thread(
                side="worker",
                send=self.link.send,
                request_sync=functools.partial(self.request_sync, conversation),
                connection=lambda: self.link.ws,
                conversation=conversation,
            )
        return self.threads[conversation]

    def request_sync(self, conversation: int, after: int) -> bool:
        return self.link.send({"type": "sync", "conversation": conversation, "after": after})

    def on_snapshot(self, frame: Frame) -> None:
        self.snapshots += 1
        for conversation in frame["conversations"]:
            self.thread(conversation["id"])
        for thread in self.threads.values():
            thread.ask_sync()

    def on_assigned(self, frame: Frame) -> None:
        self.thread(frame["conversation"]).apply_sync(frame["sync"])
        self.assigned.put_nowait(frame["conversation"])

    def on_sync(self, frame: Frame) -> None:
        if frame["conversation"] in self.threads:
            self.threads[frame["conversation"]].apply_sync(frame)

    def on_message(self, frame: Frame) -> None:
        if frame["conversation"] in self.threads:
            self.threads[frame["conversation"]].receive(frame)

    def on_pong(self, frame: Frame) -> None:
        self.last_pong = frame
        for conversation, last_seq in frame.get("last_seqs", {}).items():
            thread = self.threads.get(int(conversation))
            if thread is not None:
                thread.need(last_seq)
        for thread in self.threads.values():
            thread.flush_stale()

    def on_ack(self, frame: Frame) -> None:
        if frame.get("conversation") in self.threads:
            self.threads[frame["conversation"]].ack(frame)

    def on_error(self, frame: Frame) -> None:
        thread = self.threads.get(frame.get("conversation", -1))
        if thread is not None and frame.get("client_id") and frame.get("in_reply_to") == "message":
            thread.fail(frame)
        elif frame.get("code") != "rate_limited":
            self.errors.append(frame)
