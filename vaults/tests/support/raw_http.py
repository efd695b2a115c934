"""Raw HTTP/1.1 to a test gunicorn: from a chosen loopback address (127.0.0.2 is another client
than 127.0.0.1), with header bytes no HTTP library would send, and held half-sent.

A request held half-sent occupies one sync worker (it waits for the rest of the headers), so
every other request meanwhile is served by the other worker: which worker serves what becomes
certain instead of left to the kernel. The access log (ACCESS_LOG_ARGS) names each request's
worker, so a test can show that both took part.
"""

import http.client
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from vaults.tests.support.production import BEHIND_TLS

# Test-only gunicorn flags: one access-log line per request with the worker's pid.
ACCESS_LOG_ARGS = ("--access-logfile", "-", "--access-logformat", "access pid=%(p)s status=%(s)s request=%(r)s")
_ACCESS = re.compile(r"access pid=<(\d+)> status=(\d+) request=(.*)$")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HeldRequest:
    """Connects and sends the request line; `finish()` sends the rest and reads the reply."""

    def __init__(
        self,
        base: str,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        source: str = "127.0.0.1",
    ) -> None:
        url = urlsplit(base)
        fields = {"Host": url.netloc, **BEHIND_TLS, **(headers or {})}
        lines = [f"{name}: {value}" for name, value in fields.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("Connection: close")
        self._rest = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self._sock = socket.create_connection((url.hostname, url.port), timeout=15, source_address=(source, 0))
        self._sock.sendall(f"{method} {path} HTTP/1.1\r\n".encode("latin-1"))

    def finish(self) -> Reply:
        try:
            self._sock.sendall(self._rest)
            response = http.client.HTTPResponse(self._sock)
            response.begin()
            return Reply(response.status, response.headers, response.read())
        finally:
            self._sock.close()


def send(base: str, path: str, **kwargs) -> Reply:
    return HeldRequest(base, path, **kwargs).finish()


def workers_by_request(log: Path) -> dict[str, set[str]]:
    """{request line: pids of the workers that served it} from the access log."""
    served: dict[str, set[str]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _ACCESS.search(line)
        if match:
            served.setdefault(match.group(3), set()).add(match.group(1))
    return served
