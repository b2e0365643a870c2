"""A real daphne in a subprocess, serving tests.browser.asgi on the test database.

pytest-django's `live_server` is WSGI and cannot serve websockets (testing recipe G4), so
the browser tests start daphne themselves. The child gets the test database's name through
CHATCOUNSEL_TEST_DB_NAME (read by chatcounsel/settings.py) and a one-second heartbeat, so a
dead network is noticed by the browser within about two seconds.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30
# Every browser in these tests comes from 127.0.0.1, so the whole suite is one client
# address to the flood limits (chat/ratelimit.py): its queue entries per hour would run out
# after ten chats. Raised unless the environment sets them; the per-socket frame bucket
# stays as in production.
ADDRESS_LIMITS = {
    "RATE_QUEUE_ENTRIES_PER_HOUR": "100000",
    "RATE_SOCKETS_PER_MINUTE": "100000",
    "RATE_MESSAGES_PER_MINUTE": "100000",
    # Other tests post wrong case codes from 127.0.0.1 too; with the shared Redis cache those
    # tries would lock this server's clients out of /return/.
    "CASE_CODE_TRIES": "100000",
}
STOP_TIMEOUT_SECONDS = 10


_GIVEN: deque[int] = deque(maxlen=10)  # the ports handed out last


def free_port() -> int:
    """A free port: any, or one in TEST_PORTS ("8300-8399") where test runs on one machine
    must keep to their own ports."""
    low, _dash, high = os.environ.get("TEST_PORTS", "0-0").partition("-")
    ports = list(range(int(low), int(high or low) + 1))
    # Not one of the last ports handed out: two ports asked for before either is bound (the
    # e-ID provider's and the server's) must differ.
    for port in random.sample(ports, len(ports)):
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
            given: int = sock.getsockname()[1]
        _GIVEN.append(given)
        return given
    raise RuntimeError(f"no free port in TEST_PORTS={os.environ['TEST_PORTS']}")


def port_is_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class LiveServer:
    def __init__(
        self,
        *,
        db_name: str,
        log_dir: Path,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        app: str = "tests.browser.asgi:application",
    ) -> None:
        self.db_name = db_name
        self.extra_env = extra_env or {}
        # The weight tests serve chatcounsel.asgi as it is, static files by whitenoise.
        self.app = app
        self.port = port or free_port()
        self.log_path = log_dir / f"daphne-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {
            **ADDRESS_LIMITS,
            **os.environ,
            **self.extra_env,
            "CHATCOUNSEL_TEST_DB_NAME": self.db_name,
            "CHAT_HEARTBEAT_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            # The tests flush the tables between tests: no timer of the server's writes then.
            "TIMED_RULES": "off",
        }
        # Only the test process may run sync ORM under Playwright's loop (recipe G3).
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        return env

    def start(self) -> LiveServer:
        if self.proc is not None:
            raise RuntimeError("the server is already running")
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            HOST,
            "-p",
            str(self.port),
            "--websocket-max-message-size",
            "65536",
            self.app,
        ]
        # Made here each time: any pytest run in the project may wipe test-results/
        # (pytest-playwright's autouse `delete_output_dir`), even while this one runs.
        os.makedirs(self.log_path.parent, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- starting daphne on port {self.port} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()
        return self

    def _wait_until_up(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"daphne exited with {code}:\n{self.log_tail()}")
            if port_is_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"daphne did not open port {self.port}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate our own child by its PID; kill it if it has not gone in 10 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)

    def restart(self) -> LiveServer:
        """Stop, then start again on the same port."""
        self.stop()
        return self.start()

    @property
    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
