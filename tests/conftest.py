from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import tickwork as tw
from tickwork.channels.http import HTTPChannel, serve
from tickwork.testing.servers import RedisServer


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def app() -> tw.App:
    application = tw.App()

    @application.service("noop")
    def noop(request: tw.Request) -> None:
        return None

    @application.service("fail")
    def fail(request: tw.Request) -> None:
        raise RuntimeError("boom")

    return application


@pytest.fixture
def clock() -> tw.FakeClock:
    return tw.FakeClock(start="2026-03-01T00:00:00Z")


@pytest.fixture
def sched(app: tw.App, clock: tw.FakeClock) -> tw.Scheduler:
    return tw.Scheduler(app, clock=clock)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the session: its URL."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (tests/run installs Debian's package)")
    with RedisServer(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_url(redis_server: str, request: pytest.FixtureRequest) -> str:
    """The session's server, with the database emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def start() -> Iterator[Callable[[HTTPChannel], str]]:
    """Serve an HTTP channel on a free loopback port in a thread; its base URL."""
    running: list[tuple[Any, threading.Thread]] = []

    def start_(channel: HTTPChannel) -> str:
        server = serve(channel, port=0)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start_
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(5)
