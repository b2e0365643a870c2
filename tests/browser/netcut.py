"""A TCP proxy on 127.0.0.1 that can cut the network the way a dropped mobile network does.

    proxy = NetCut(target_port).start()
    page.goto(proxy.url)          # the browser talks to the server through the proxy
    proxy.cut()                   # black hole: nothing is forwarded, nothing is closed
    proxy.restore()               # the held connections are closed, forwarding resumes
    proxy.stop()

While cut, every open connection is held open without forwarding a byte either way (the
browser's socket stays "open" and only its heartbeat can notice), and new connections are
accepted but never connected upstream (a connection attempt hangs). `restore()` closes all
of them, as a network that comes back after the server gave up on the old TCP connections.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from tests.browser.server import free_port

HOST = "127.0.0.1"
POLL_SECONDS = 0.05


class _Connection:
    def __init__(self, proxy: NetCut, downstream: socket.socket) -> None:
        self.proxy = proxy
        self.downstream = downstream
        self.upstream: socket.socket | None = None
        self.killed = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="netcut-conn", daemon=True)

    def start(self, *, connect: bool) -> None:
        if connect:
            try:
                self.upstream = socket.create_connection((HOST, self.proxy.target_port), 5)
                self.upstream.settimeout(None)
            except OSError:
                self.upstream = None
                self.killed.set()
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.killed.is_set() and not self.proxy.stopping.is_set():
                if self.upstream is None or self.proxy.is_cut:
                    # Held: never read, never answer, never close until killed.
                    self.killed.wait(POLL_SECONDS)
                    continue
                readable, _, _ = select.select(
                    [self.downstream, self.upstream], [], [], POLL_SECONDS
                )
                for source in readable:
                    target = self.upstream if source is self.downstream else self.downstream
                    # Read and forward under the proxy's lock: once cut() has returned,
                    # not one more byte crosses.
                    with self.proxy.lock:
                        if self.proxy.is_cut:
                            break
                        data = source.recv(65536)
                        if not data:
                            return
                        target.sendall(data)
        except OSError:
            return
        finally:
            for sock in (self.downstream, self.upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
            self.proxy.forget(self)
            self.done.set()

    def kill(self) -> None:
        self.killed.set()


class NetCut:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.lock = threading.Lock()
        self.is_cut = False
        self.stopping = threading.Event()
        self.connections: set[_Connection] = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, free_port()))  # in TEST_PORTS when set
        self.listener.listen(128)
        self.listener.settimeout(POLL_SECONDS)
        self.port = self.listener.getsockname()[1]
        self.accept_thread = threading.Thread(target=self._accept, name="netcut", daemon=True)
        # Connections made through the proxy, held or not: tests can see that the browser
        # really went through it.
        self.accepted = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> NetCut:
        self.accept_thread.start()
        return self

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            downstream.settimeout(None)
            connection = _Connection(self, downstream)
            with self.lock:
                self.accepted += 1
                self.connections.add(connection)
                held = self.is_cut
            connection.start(connect=not held)

    def forget(self, connection: _Connection) -> None:
        with self.lock:
            self.connections.discard(connection)

    def cut(self) -> None:
        """Stop forwarding both ways; hold every connection open without answering."""
        with self.lock:
            self.is_cut = True

    def restore(self) -> None:
        """Close every held connection (old and new), then forward again."""
        with self.lock:
            held = list(self.connections)
            for connection in held:
                connection.kill()
        for connection in held:
            connection.done.wait(5)
        with self.lock:
            self.is_cut = False

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.accept_thread.join(5)
        with self.lock:
            remaining = list(self.connections)
        for connection in remaining:
            connection.kill()
            connection.done.wait(5)
