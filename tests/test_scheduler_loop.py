"""The real-time loop's wake-up rule, on a clock set by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

import tickwork as tw
from tickwork._time import dt_to_us, us_to_dt


class HandClock(tw.Clock):
    """A clock that is not a FakeClock (so the batch window applies)."""

    def __init__(self) -> None:
        self.us = dt_to_us(datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return us_to_dt(self.us)

    def wait(self, cond: threading.Condition, deadline_us: int | None) -> None:
        raise AssertionError("not used here")


def make(app: tw.App, **kwargs: object) -> tuple[tw.Scheduler, HandClock]:
    clock = HandClock()
    sched = tw.Scheduler(app, clock=clock, executor=tw.InlineExecutor(), **kwargs)  # type: ignore[arg-type]
    return sched, clock


def test_close_deadlines_wait_for_the_end_of_the_batch_window(app: tw.App) -> None:
    sched, clock = make(app)
    start = us_to_dt(clock.us)
    sched.add_job("a", "noop", tw.OneTime(at=start + timedelta(microseconds=300)))
    sched.add_job("b", "noop", tw.OneTime(at=start + timedelta(microseconds=700)))
    assert sched._wake_at() == clock.us + 1000  # two instants in 1 ms: one wake-up
    clock.us += 200
    assert sched._wake_at() == clock.us + 1000  # never earlier than the fires


def test_a_lone_close_deadline_is_woken_for_on_time(app: tw.App) -> None:
    sched, clock = make(app)
    start = us_to_dt(clock.us)
    sched.add_job("a", "noop", tw.OneTime(at=start + timedelta(microseconds=300)))
    sched.add_job("b", "noop", tw.OneTime(at=start + timedelta(microseconds=1500)))
    assert sched._wake_at() == clock.us + 300  # nothing else in the window


def test_a_far_deadline_or_a_due_one_is_not_moved(app: tw.App) -> None:
    sched, clock = make(app)
    start = us_to_dt(clock.us)
    sched.add_job("far", "noop", tw.OneTime(at=start + timedelta(seconds=5)))
    assert sched._wake_at() == clock.us + 5_000_000
    clock.us += 6_000_000
    assert sched._wake_at() == clock.us - 1_000_000  # already due: no waiting at all


def test_the_window_can_be_turned_off_and_is_off_on_a_fake_clock(app: tw.App) -> None:
    sched, clock = make(app, batch_window=timedelta(0))
    sched.add_job("j", "noop", tw.OneTime(at=us_to_dt(clock.us + 300)))
    sched.add_job("k", "noop", tw.OneTime(at=us_to_dt(clock.us + 400)))
    assert sched._wake_at() == clock.us + 300
    fake = tw.Scheduler(app, clock=tw.FakeClock())
    fake.add_job("j", "noop", tw.OneTime(at=fake.clock.now() + timedelta(microseconds=300)))
    assert fake._wake_at() == fake.clock.now_us() + 300


def test_bad_batch_window(app: tw.App) -> None:
    with pytest.raises(ValueError, match="batch_window"):
        tw.Scheduler(app, batch_window=timedelta(seconds=-1))
