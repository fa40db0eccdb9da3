"""serve()'s server on loopback: a cap on connections, and idle ones closed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

import tickwork as tw
from tickwork.channels.http import HTTPChannel, serve

from .helpers import wait_for


@contextmanager
def running(**options: Any) -> Iterator[tuple[Any, str]]:
    """A served channel on a free loopback port, and its base URL."""
    server = serve(HTTPChannel(tw.App()), port=0, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def idle_sockets(port: int, count: int) -> list[socket.socket]:
    """Connections that send nothing (the kernel completes them even unaccepted)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]


def test_serve_checks_its_limits() -> None:
    channel = HTTPChannel(tw.App())
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="max_connections"):
            serve(channel, port=0, max_connections=bad)  # type: ignore[arg-type]
    for bad in (0, -1, float("nan"), float("inf"), "5"):
        with pytest.raises(ValueError, match="idle_timeout"):
            serve(channel, port=0, idle_timeout=bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_idle_connections_past_the_cap_get_no_thread() -> None:
    with running(max_connections=4, idle_timeout=60) as (server, url):
        before = threading.active_count()
        held = idle_sockets(server.server_port, 200)
        try:
            wait_for(lambda: threading.active_count() >= before + 4)
            time.sleep(0.5)  # time for the server to take more, if it would
            assert threading.active_count() <= before + 4
        finally:
            for sock in held:
                sock.close()
        # The clients gave up: their slots come back and a request is served.
        answer = httpx.get(f"{url}/health", timeout=30)
        assert answer.json() == {"status": "ok"}
        wait_for(lambda: threading.active_count() <= before, timeout=30)


@pytest.mark.slow
def test_a_request_behind_idle_connections_is_served_once_they_time_out() -> None:
    with running(max_connections=2, idle_timeout=0.5) as (server, url):
        held = idle_sockets(server.server_port, 4)  # never send, never close
        try:
            started = time.monotonic()
            answer = httpx.get(f"{url}/health", timeout=60)
            assert answer.json() == {"status": "ok"}
            # Two rounds of two idle connections, each closed after 0.5 s
            # idle and up to 1 s of lingering; the bound is for a loaded machine.
            assert time.monotonic() - started < 30
            for sock in held:  # each was closed by the server, none answered
                sock.settimeout(30)
                assert sock.recv(1024) == b""
        finally:
            for sock in held:
                sock.close()
