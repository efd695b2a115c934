"""A TCP proxy in front of the test database's server that loses a connection at the
worst moment: while a release chunk's COMMIT is on its way.

It relays the PostgreSQL protocol byte for byte (127.0.0.1 to the server's Unix socket).
Armed, it watches each client's queries; on the first connection that has sent a chunk's
write statement (INSERT INTO operations), at that transaction's COMMIT it either
- drops the connection before the COMMIT reaches the server (the chunk rolls back), or
- lets the COMMIT through, waits for the server to act on it, then drops the connection
  before the answer reaches the client (the chunk committed, and the client cannot know).
It fires once. What a network failure, a pooler restart or a failover does, at a chosen byte.
"""

import contextlib
import glob
import os
import socket
import threading
import time
from pathlib import Path

BEFORE_COMMIT = "before"
AFTER_COMMIT = "after"
CHUNK_WRITE = b"INSERT INTO operations"


class FaultProxy:
    def __init__(self, server: dict) -> None:
        self.upstream = _socket_path(server)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode: str | None = None
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self._closed = False

    def arm(self, mode: str) -> None:
        self.mode = mode

    def __enter__(self) -> "FaultProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closed = True
        self.listener.close()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.upstream)
            muted = threading.Event()  # set: the server's answers no longer reach the client
            threading.Thread(target=self._client_to_server, args=(client, server, muted), daemon=True).start()
            threading.Thread(target=_relay, args=(server, client, muted), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket, muted: threading.Event) -> None:
        wrote_chunk = False
        try:
            while data := client.recv(65536):
                wrote_chunk = wrote_chunk or CHUNK_WRITE in data
                if wrote_chunk and b"COMMIT" in data and self._take_the_shot():
                    muted.set()
                    if self.mode == AFTER_COMMIT:
                        server.sendall(data)
                        time.sleep(0.5)  # the server commits; its answer never leaves
                    _drop(client, server)
                    return
                if b"COMMIT" in data or b"ROLLBACK" in data:
                    wrote_chunk = False
                server.sendall(data)
        except OSError:
            pass
        _drop(client, server)

    def _take_the_shot(self) -> bool:
        with self._lock:
            if self.mode is None or self.fired.is_set():
                return False
            self.fired.set()
            return True


def _relay(source: socket.socket, target: socket.socket, muted: threading.Event) -> None:
    try:
        while data := source.recv(65536):
            if muted.is_set():
                break
            target.sendall(data)
    except OSError:
        pass
    _drop(source, target)


def _drop(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def _socket_path(server: dict) -> str:
    """The server's Unix socket file (the embedded server and the throwaway clusters listen
    on a socket only)."""
    directory = str(server["HOST"])
    if server.get("PORT"):
        return os.path.join(directory, f".s.PGSQL.{server['PORT']}")
    (path,) = glob.glob(str(Path(directory) / ".s.PGSQL.*[0-9]"))
    return path
