from __future__ import annotations

import threading
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
