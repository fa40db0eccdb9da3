"""A real HTTP/1.1 server on 127.0.0.1 for the REST connector's tests.

It runs ``http.server.ThreadingHTTPServer`` in a background thread and keeps
every request it receives (method, path, query, headers, body and the
client's port), so a test asserts what went over the wire. It speaks
HTTP/1.1 with keep-alive and always sends Content-Length, so a pooled client
reuses one TCP connection; it also notes the client ports whose connection
has ended, so a test can see a client close its sockets.

Routes (the query string is ignored unless said otherwise):

- ``/text``: 200, ``text/plain`` body ``TEXT``.
- ``/status/<code>``: that status, a JSON body ``{"status": code}``.
- ``/redirect?to=<url>&code=<3xx>``: a redirect (302 by default) to ``to``.
- ``/loop``: a 302 to itself, for ever.
- ``/slow``: answers after ``SLOW_SECONDS`` (at once when the server stops).
- ``/gate``: answers once the test sets ``server.gate`` (or the server stops).
- anything else: 200, JSON ``{"method": ..., "path": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["SLOW_SECONDS", "TEXT", "HTTPSource", "Seen"]

TEXT = "hello, wörld"
SLOW_SECONDS = 0.5


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str  # as on the request line: percent-encoding kept, no query
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    port: int  # the client's TCP port

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        """The one value of a header (case-insensitive); None when absent."""
        values = self.header_all(name)
        assert len(values) <= 1, f"{name} sent {len(values)} times: {values}"
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class _State:
    seen: list[Seen] = field(default_factory=list)
    closed_ports: list[int] = field(default_factory=list)
    open_sockets: set[socket.socket] = field(default_factory=set)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPSource

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.open_sockets.add(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            with self.server.state.lock:
                self.server.state.open_sockets.discard(self.connection)
                self.server.state.closed_ports.append(self.client_address[1])

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(
            method=self.command,
            path=parts.path,
            raw_query=parts.query,
            headers=list(self.headers.items()),
            body=body,
            port=self.client_address[1],
        )
        self.server.state.seen.append(seen)
        status, headers, payload = self.server.respond(seen)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class HTTPSource(ThreadingHTTPServer):
    """The server; use it as a context manager (it stops and closes on exit)."""

    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = _State()
        self.gate = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.01}, name="http-source"
        )

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        return self.state.seen

    @property
    def closed_ports(self) -> list[int]:
        with self.state.lock:
            return list(self.state.closed_ports)

    def respond(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        path = seen.path
        if path == "/text":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, TEXT.encode()
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return code, {"Content-Type": "application/json"}, json.dumps({"status": code}).encode()
        if path == "/redirect":
            query = seen.query
            code = int(query.get("code", ["302"])[0])
            return code, {"Location": query["to"][0]}, b""
        if path == "/loop":
            return 302, {"Location": "/loop"}, b""
        if path == "/slow":
            self._stopping.wait(SLOW_SECONDS)
        elif path == "/gate":
            self.gate.wait(10)
        answer = {"method": seen.method, "path": path}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, OSError):
            self.state.errors.append(error)

    def __enter__(self) -> HTTPSource:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.gate.set()
        self.shutdown()
        self._thread.join()
        # Kick connections a client still keeps alive, so their threads end.
        with self.state.lock:
            sockets = list(self.state.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.server_close()
