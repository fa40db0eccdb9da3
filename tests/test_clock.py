from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

import tickwork as tw

from .conftest import utc


def test_fake_clock_starts_where_told() -> None:
    assert tw.FakeClock(start="2026-03-29T00:00:00Z").now() == utc(2026, 3, 29)
    assert tw.FakeClock(start=utc(2027, 1, 1)).now() == utc(2027, 1, 1)
    assert tw.FakeClock().now() == utc(2026, 1, 1)


def test_advance_and_set() -> None:
    clock = tw.FakeClock(start="2026-03-29T00:00:00Z")
    assert clock.advance(minutes=5) == utc(2026, 3, 29, 0, 5)
    assert clock.advance(timedelta(hours=1)) == utc(2026, 3, 29, 1, 5)
    assert clock.advance() == utc(2026, 3, 29, 1, 5)
    clock.set("2026-03-28T00:00:00Z")  # a wall clock may jump back
    assert clock.now() == utc(2026, 3, 28)


def test_negative_advance_raises() -> None:
    clock = tw.FakeClock()
    with pytest.raises(ValueError, match="set"):
        clock.advance(seconds=-1)
    assert clock.now() == utc(2026, 1, 1)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        tw.FakeClock(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        tw.FakeClock(start="2026-01-01T00:00:00")
    with pytest.raises(ValueError, match="ISO"):
        tw.FakeClock(start="soon")


def test_advance_takes_a_delta_or_keywords_not_both() -> None:
    with pytest.raises(TypeError):
        tw.FakeClock().advance(timedelta(seconds=1), seconds=1)


def test_watchers_hear_moves_and_wait_returns_at_deadline() -> None:
    clock = tw.FakeClock()
    heard: list[datetime] = []
    clock.watch(lambda: heard.append(clock.now()))
    clock.advance(seconds=1)
    assert heard == [utc(2026, 1, 1, 0, 0, 1)]
    cond = threading.Condition()
    with cond:
        clock.wait(cond, clock.now_us())  # deadline reached: returns at once


def test_system_clock_is_aware_utc_and_close_to_now() -> None:
    now = tw.SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert abs(tw.SystemClock().now_us() / 1e6 - now.timestamp()) < 5


class SteppedClock(tw.SystemClock):
    """The real clock, plus an offset a test moves: a wall clock that steps."""

    def __init__(self) -> None:
        self.offset_us = 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_us() / 1e6, UTC)

    def now_us(self) -> int:
        return super().now_us() + self.offset_us


def _wait_in_thread(clock: tw.Clock, deadline_us: int) -> tuple[threading.Thread, list[int]]:
    """Run ``clock.wait`` (never notified) in a thread; the list gets the time it returned."""
    cond = threading.Condition()
    returned: list[int] = []

    def waiter() -> None:
        with cond:
            clock.wait(cond, deadline_us)
        returned.append(clock.now_us())

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    return thread, returned


@pytest.mark.slow
def test_system_clock_wait_notices_a_wall_clock_step_forward() -> None:
    clock = SteppedClock()
    thread, returned = _wait_in_thread(clock, clock.now_us() + 120_000_000)  # 2 minutes
    time.sleep(0.3)
    assert not returned
    stepped = time.monotonic()
    clock.offset_us = 120_000_000  # an NTP step, a resume from suspend
    thread.join(10)  # a single sleep to the deadline would take 2 minutes
    assert returned
    # About one slice (1 s); the bound leaves room for a loaded machine.
    assert time.monotonic() - stepped < 5


@pytest.mark.slow
def test_system_clock_wait_returns_only_once_the_wall_clock_reaches_the_deadline() -> None:
    clock = SteppedClock()
    deadline = clock.now_us() + 1_000_000
    thread, returned = _wait_in_thread(clock, deadline)
    thread.join(30)
    assert len(returned) == 1
    assert returned[0] >= deadline  # no step: sleeps until the deadline

    deadline = clock.now_us() + 1_000_000
    thread, returned = _wait_in_thread(clock, deadline)
    time.sleep(0.2)
    clock.offset_us -= 500_000  # the wall clock steps back half a second
    thread.join(30)
    assert len(returned) == 1
    assert returned[0] >= deadline  # the deadline is on the wall clock


@pytest.mark.slow
def test_a_running_scheduler_fires_soon_after_a_wall_clock_step() -> None:
    app = tw.App()
    fired = threading.Event()

    @app.service("mark")
    def mark(request: tw.Request) -> None:
        fired.set()

    clock = SteppedClock()
    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("j", "mark", tw.OneTime(at=clock.now() + timedelta(hours=1)))
    with sched:
        time.sleep(0.3)
        assert not fired.is_set()
        clock.offset_us = 3_600_000_000  # the machine wakes from an hour's suspend
        assert fired.wait(10)
