from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import tickwork as tw
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
