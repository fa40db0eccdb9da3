from __future__ import annotations

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
