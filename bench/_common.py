"""Shared helpers for the benchmarks in this folder: a scratch database, Django set-up,
a daphne subprocess, a minimal websocket client, percentiles and a plain table.

Nothing here is imported by the application. Network targets are 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_PREFIX = "ccbench"

# All benchmark clients come from 127.0.0.1, so the per-address flood limits (sockets,
# messages and queue entries per address) would refuse them; they are lifted, not removed:
# every check still runs, against limits no benchmark reaches.
LIFTED_LIMITS = {
    "RATE_FRAMES_PER_SECOND": "100000",
    "RATE_FRAME_BURST": "100000",
    "RATE_SOCKETS_PER_MINUTE": "1000000",
    "RATE_MESSAGES_PER_MINUTE": "1000000",
    "RATE_QUEUE_ENTRIES_PER_HOUR": "1000000",
}


# --- scratch database and Django ---------------------------------------------------------
class ScratchDatabase:
    """A database made for one run and removed afterwards: a PostgreSQL database named
    `name` (dropped first if a crashed run left it), or an SQLite file in a temp folder."""

    def __init__(self, backend: str, name: str, pg_admin_url: str = PG_ADMIN_URL) -> None:
        self.backend = backend
        self.name = name
        self.pg_admin_url = pg_admin_url
        self.tmpdir: str | None = None
        self.url = ""

    def create(self) -> str:
        if self.backend == "postgres":
            import psycopg

            with psycopg.connect(_libpq(self.pg_admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            base = self.pg_admin_url.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"
        else:
            self.tmpdir = tempfile.mkdtemp(prefix="ccbench-")
            self.url = f"sqlite:///{self.tmpdir}/{self.name}.sqlite3"
        return self.url

    def drop(self) -> None:
        if self.backend == "postgres" and self.url:
            import psycopg

            with psycopg.connect(_libpq(self.pg_admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def _libpq(url: str) -> str:
    """postgres://user@host:port/db -> a libpq keyword string psycopg accepts."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    items = {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "dbname": parts.path.lstrip("/") or "postgres",
    }
    if parts.password:
        items["password"] = parts.password
    return " ".join(f"{k}={v}" for k, v in items.items())


def bench_env(database_url: str, redis_url: str | None, *, debug: bool = True) -> dict[str, str]:
    """The environment for the app, in this process and in any daphne it starts. With
    `debug=False` the app runs as in production (no SQL kept per connection), with a
    throwaway secret key and without the HTTPS redirects (everything is 127.0.0.1)."""
    env = {
        "DATABASE_URL": database_url,
        "DEBUG": "true" if debug else "false",
        "STAFF_TWO_FACTOR": "false",
        "REDIS_PREFIX": REDIS_PREFIX,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "chatcounsel.settings",
        **LIFTED_LIMITS,
    }
    if not debug:
        env["SECRET_KEY"] = base64.urlsafe_b64encode(os.urandom(48)).decode()
        env["SECURE"] = "false"
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def django_setup(env: dict[str, str], *, unset_redis: bool) -> None:
    os.environ.update(env)
    if unset_redis:
        os.environ.pop("REDIS_URL", None)
    os.environ.pop("CHATCOUNSEL_TEST_DB_NAME", None)
    import django

    django.setup()


def migrate() -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    return time.perf_counter() - started


def flush_redis_prefix(redis_url: str, prefix: str = REDIS_PREFIX) -> int:
    """Delete only this benchmark's keys (cache entries such as rate-limit counters)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deleted = 0
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            deleted += int(client.delete(key))
    finally:
        client.close()
    return deleted


def close_db_connections() -> None:
    from django.db import connections

    connections.close_all()


# --- daphne subprocess -------------------------------------------------------------------
def _port_range() -> range | None:
    """`BENCH_PORTS=8600-8699`: the servers listen only on ports in that range (on a machine
    shared with others, each their own); unset, any free port the system gives."""
    raw = os.environ.get("BENCH_PORTS", "").strip()
    if not raw:
        return None
    low, _, high = raw.partition("-")
    return range(int(low), int(high or low) + 1)


_ports_given: set[int] = set()


def free_port() -> int:
    ports = _port_range()
    if ports is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for port in ports:
        if port in _ports_given:
            continue
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            _ports_given.add(port)
            return port
    raise RuntimeError(f"no free port left in BENCH_PORTS={os.environ['BENCH_PORTS']}")


class Daphne:
    """One daphne process serving an ASGI app on 127.0.0.1, started and stopped by PID: by
    default this checkout's application; `root` and `app` serve another (another checkout,
    the relay in bench/relay/)."""

    def __init__(
        self,
        env: dict[str, str],
        logdir: str,
        label: str,
        *,
        root: Path = PROJECT_ROOT,
        app: str = "chatcounsel.asgi:application",
        max_message_bytes: int = 65536,
    ) -> None:
        self.port = free_port()
        self.label = label
        self.log_path = Path(logdir) / f"daphne-{label}.log"
        full_env = {**os.environ, **env}
        full_env.pop("CHATCOUNSEL_TEST_DB_NAME", None)
        full_env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        if "REDIS_URL" not in env:
            full_env.pop("REDIS_URL", None)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                str(max_message_bytes),
                app,
            ],
            cwd=root,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"daphne did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (Linux /proc)."""
        return process_cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def rss_bytes(self) -> int:
        return process_rss_bytes(self.proc.pid)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (Linux /proc/<pid>/stat), in seconds; nan if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_children_cpu_seconds(pid: int) -> float:
    """cutime + cstime: CPU of the process's children that ended and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def process_parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def process_rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS in /proc/<pid>/status); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PostgresBackends:
    """CPU time of the PostgreSQL backends serving one database, read from /proc: the
    processes that `pg_stat_activity` lists with that `datname` (the servers' pooled
    connections, autovacuum workers on it), plus the backends that ended meanwhile, which
    the postmaster's cutime + cstime collect (a server without a pool opens and closes one
    per request). Those are the whole cluster's: on a shared PostgreSQL, other databases'
    short connections count too. Asked over its own connection to the `postgres`
    database, which lives on and so never counts. Needs PostgreSQL on this machine."""

    ENDED = -1  # the key under which cpu() reports the ended backends' total

    def __init__(self, admin_url: str, database: str) -> None:
        import psycopg

        self.database = database
        self.conn = psycopg.connect(_libpq(admin_url), autocommit=True)
        row = self.conn.execute("SELECT pg_backend_pid()").fetchone()
        self.postmaster = process_parent(int(row[0])) if row else 0

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far per live backend, and under ENDED those of ended ones."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
        ).fetchall()
        found = {int(pid): process_cpu_seconds(int(pid)) for (pid,) in rows}
        if self.postmaster:
            found[self.ENDED] = process_children_cpu_seconds(self.postmaster)
        return {pid: seconds for pid, seconds in found.items() if seconds == seconds}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds used between two readings: backends present in both by their growth,
        backends that appeared meanwhile in full, and the ended ones' total by its growth (a
        backend live at the first reading that ended before the second counts its earlier
        CPU twice)."""
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        self.conn.close()


def redis_cpu_seconds(client: Any) -> float:
    """The Redis server's own CPU time (INFO cpu: used_cpu_user + used_cpu_sys). The whole
    server: on a shared Redis, other users' work counts too."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def raise_open_files(wanted: int) -> int:
    """Raise this process's soft limit of open files towards `wanted` (never above the hard
    limit); child processes inherit it. Returns the limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


# --- a minimal RFC 6455 client (text frames, client-side masking) -------------------------
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketClosed(Exception):
    pass


class WebSocket:
    """Just enough websocket for the benchmarks: connect with Origin and Cookie headers,
    send masked text frames, receive text frames (answering pings), close."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.closed = False
        self.close_code: int | None = None

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str,
        *,
        cookie: str | None = None,
        timeout: float = 30.0,
    ) -> WebSocket:
        host = "127.0.0.1"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: http://{host}:{port}",
        ]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in f"{status} ":
            writer.close()
            raise ConnectionError(f"handshake refused: {status}")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
        if headers.get("sec-websocket-accept") != expected:
            writer.close()
            raise ConnectionError("bad Sec-WebSocket-Accept")
        return cls(reader, writer)

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        mask = os.urandom(4)
        if length:
            key = (mask * (length // 4 + 1))[:length]
            masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
                length, "big"
            )
        else:
            masked = b""
        return header + mask + masked

    async def send_json(self, data: dict[str, Any]) -> None:
        if self.closed:
            raise WebSocketClosed()
        self.writer.write(self._frame(0x1, json.dumps(data).encode()))
        await self.writer.drain()

    async def recv_text(self) -> str:
        """The next text message; raises WebSocketClosed when the server closes."""
        parts: list[bytes] = []
        while True:
            try:
                first, second = await self.reader.readexactly(2)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.closed = True
                raise WebSocketClosed() from None
            fin, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if second & 0x80 else b""
            payload = await self.reader.readexactly(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                self.closed = True
                if len(payload) >= 2:
                    (self.close_code,) = struct.unpack("!H", payload[:2])
                with contextlib.suppress(Exception):
                    self.writer.write(self._frame(0x8, payload[:2]))
                raise WebSocketClosed()
            if opcode == 0x9:
                self.writer.write(self._frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if fin:
                return b"".join(parts).decode()

    async def recv_json(self) -> dict[str, Any]:
        return json.loads(await self.recv_text())

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.write(self._frame(0x8, struct.pack("!H", 1000)))
                await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


# --- numbers --------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "—" if seconds != seconds else f"{seconds * 1000:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_line() -> str:
    load = os.getloadavg()
    return f"cpus={os.cpu_count()} load(1/5/15 min)={load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
