"""Clocks: where the scheduler gets the time from.

This is the only module in tickwork that reads the real time. Everything else
asks a :class:`Clock`, so a :class:`FakeClock` makes every schedule testable
in milliseconds of real time.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.parser import isoparse

from ._time import US_PER_SECOND, dt_to_us, td_to_us, us_to_dt

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(ABC):
    """The source of time for a scheduler.

    Three methods: :meth:`now` tells the time, :meth:`wait` blocks until a
    deadline on this clock (or an earlier wake-up), and :meth:`watch` lets the
    scheduler learn when a clock's time is moved by hand.
    """

    @abstractmethod
    def now(self) -> datetime:
        """The current instant, an aware datetime in UTC."""

    def now_us(self) -> int:
        """The current instant in microseconds since the epoch."""
        return dt_to_us(self.now())

    @abstractmethod
    def wait(self, cond: threading.Condition, deadline_us: int | None) -> None:
        """Block on ``cond`` (held by the caller) until notified or the deadline.

        ``deadline_us`` is an instant on this clock; ``None`` waits for a
        notification only. Spurious early returns are allowed: callers re-check.
        """

    def watch(self, callback: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Call ``callback`` whenever the time is moved by hand (fake clocks)."""

    def unwatch(self, callback: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Stop calling ``callback``."""


class SystemClock(Clock):
    """The real wall clock (UTC).

    A wait for a deadline sleeps in slices of at most :attr:`wall_check`
    seconds and reads the wall clock after each one: a timed sleep runs on
    the monotonic clock, so without the slices a wall-clock step forward (an
    NTP step, a resume from suspend) would delay the fires by the size of
    the step. The cost is one wake-up per slice while a deadline is pending.
    """

    wall_check: float = 1.0
    """The longest sleep between two readings of the wall clock, in seconds."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def wait(self, cond: threading.Condition, deadline_us: int | None) -> None:
        if deadline_us is None:
            cond.wait()  # nothing due: only a notification can change that
            return
        while True:
            delay = (deadline_us - self.now_us()) / US_PER_SECOND
            if delay <= 0 or cond.wait(min(delay, self.wall_check)):
                return

    def __repr__(self) -> str:
        return "SystemClock()"


def _to_instant(value: datetime | str, what: str) -> int:
    if isinstance(value, str):
        try:
            value = isoparse(value)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime or an ISO 8601 string")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} {value.isoformat()!r} is naive; a clock needs an aware instant "
            "(a datetime with tzinfo, or a string ending in 'Z' or '+00:00')"
        )
    return dt_to_us(value)


class FakeClock(Clock):
    """A clock that moves only when told to, for tests.

    Args:
        start: the initial instant, an aware datetime or an ISO 8601 string
            with an offset. Defaults to 2026-01-01T00:00:00Z.

    Example::

        clock = tw.FakeClock(start="2026-03-29T00:00:00Z")
        clock.advance(minutes=5)
    """

    def __init__(self, start: datetime | str = "2026-01-01T00:00:00Z") -> None:
        self._us = _to_instant(start, "start")
        self._lock = threading.Lock()
        self._watchers: list[Callable[[], None]] = []

    def now(self) -> datetime:
        return us_to_dt(self._us)

    def now_us(self) -> int:
        return self._us

    def advance(self, delta: timedelta | None = None, **timedelta_kwargs: Any) -> datetime:
        """Move the clock forward by ``delta`` (or by ``timedelta(**kwargs)``).

        Returns:
            The new current instant.

        Raises:
            ValueError: the step is negative (use :meth:`set` to move back).
        """
        step = step_of(delta, timedelta_kwargs)
        if step < timedelta(0):
            raise ValueError(f"FakeClock.advance() needs a step >= 0, got {step!r}; use set()")
        self._move_to(self._us + td_to_us(step))
        return us_to_dt(self._us)

    def set(self, when: datetime | str) -> datetime:
        """Move the clock to ``when``, forwards or backwards (a jumping wall clock)."""
        self._move_to(_to_instant(when, "when"))
        return us_to_dt(self._us)

    def _move_to(self, instant: int) -> None:
        with self._lock:
            self._us = instant
            watchers = list(self._watchers)
        for callback in watchers:
            callback()

    def wait(self, cond: threading.Condition, deadline_us: int | None) -> None:
        if deadline_us is not None and deadline_us <= self._us:
            return
        cond.wait()

    def watch(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._watchers:
                self._watchers.remove(callback)

    def __repr__(self) -> str:
        return f"FakeClock(start={us_to_dt(self._us).isoformat()!r})"


def step_of(delta: timedelta | None, kwargs: dict[str, Any]) -> timedelta:
    """The step given to an ``advance`` call, as a timedelta."""
    if delta is not None and kwargs:
        raise TypeError("pass either a timedelta or keyword arguments, not both")
    if delta is None:
        return timedelta(**kwargs)
    if not isinstance(delta, timedelta):
        raise TypeError(f"delta must be a timedelta, got {type(delta).__name__}")
    return delta
