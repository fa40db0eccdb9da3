"""The pytest plugin tickwork registers (entry point ``pytest11``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._app import App
from .._clock import FakeClock
from .._scheduler import Scheduler
from ..executors import InlineExecutor

DEFAULT_START = "2026-01-01T00:00:00Z"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_clock_start(when): the instant the fake_clock fixture starts at"
    )


@pytest.fixture
def fake_clock(request: pytest.FixtureRequest) -> FakeClock:
    """A FakeClock at 2026-01-01T00:00:00Z (or the test's ``fake_clock_start`` mark)."""
    marker = request.node.get_closest_marker("fake_clock_start")
    start = marker.args[0] if marker is not None else DEFAULT_START
    return FakeClock(start=start)


@pytest.fixture
def tickwork_app() -> App:
    """An empty App to register services on."""
    return App()


@pytest.fixture
def fake_scheduler(tickwork_app: App, fake_clock: FakeClock) -> Iterator[Scheduler]:
    """A Scheduler on ``tickwork_app`` and ``fake_clock``, with the inline executor."""
    scheduler = Scheduler(tickwork_app, clock=fake_clock, executor=InlineExecutor())
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=True)
