from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import tickwork as tw


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
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (tests/run installs Debian's package)")
    workdir = tmp_path_factory.mktemp("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"redis-server did not start; see {workdir / 'redis.log'}")
        time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str, request: pytest.FixtureRequest) -> str:
    """The session's server, with the database emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server
