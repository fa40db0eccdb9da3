"""Interval: every N weeks/days/hours/minutes/seconds of elapsed time."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from .._exceptions import InvalidTrigger
from .._time import MAX_US, MIN_US, td_to_us, us_to_dt
from ._base import Trigger, check_count

__all__ = ["Interval"]

_UNIT_US = (
    ("weeks", 604_800_000_000),
    ("days", 86_400_000_000),
    ("hours", 3_600_000_000),
    ("minutes", 60_000_000),
    ("seconds", 1_000_000),
)
# The shortest interval: shorter ones fire faster than a scheduler can run a
# job and record it, so every fire would be late and the loop would never rest.
MIN_STEP_US = 1_000


class Interval(Trigger):
    """Fires every fixed amount of elapsed time.

    Fire times lie on the grid ``start + k * interval``. Elapsed time, not
    wall time: ``Interval(hours=1)`` is every 3600 s across DST changes.

    Args:
        weeks, days, hours, minutes, seconds: the interval; they add up.
        start: the grid's origin. Given, the job's first fire is the first
            grid point at or after the moment it is added. Omitted, the grid
            starts at the moment of adding and the first fire is one interval later.
        end: no fire after this instant.
        repeats: the job is done after this many scheduled runs. ``upcoming``
            shows the grid and ignores it; the scheduler counts runs.
        tz: the zone naive ``start``/``end`` are read in (default: the
            scheduler's zone, UTC when used alone).

    Raises:
        InvalidTrigger: all units are zero, the total is negative or under
            1 millisecond, a unit is not a number, ``end`` is before ``start``,
            ``repeats`` < 1, or the zone is unknown.
    """

    __slots__ = ("_end_raw", "_start_raw", "end_us", "repeats", "start_us", "step_us")

    kind = "interval"

    def __init__(
        self,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        repeats: int | None = None,
        tz: str | tzinfo | None = None,
    ) -> None:
        super().__init__(tz)
        if int is type(weeks) is type(days) is type(hours) is type(minutes) is type(seconds):
            # Whole numbers (the common case) add up exactly, without a timedelta.
            step = ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds) * 1_000_000
        else:
            step = _step_us(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step == 0 and not any((weeks, days, hours, minutes, seconds)):
            raise InvalidTrigger(
                "an interval needs a non-zero length: all of weeks, days, hours, "
                "minutes and seconds are zero"
            )
        if step < 0:
            raise InvalidTrigger(
                f"an interval must be positive, got {timedelta(microseconds=step)}"
            )
        if step < MIN_STEP_US:
            units = {"weeks": weeks, "days": days, "hours": hours, "minutes": minutes}
            given = ", ".join(f"{k}={v!r}" for k, v in {**units, "seconds": seconds}.items() if v)
            raise InvalidTrigger(f"the interval {given} is shorter than the minimum, 1 millisecond")
        if step > _MAX_STEP_US:
            raise InvalidTrigger("the interval is too large: longer than the years 1 to 9999")
        # Jobs mostly share a few intervals: one int object each, not one per job.
        self.step_us = _STEPS.setdefault(step, step) if len(_STEPS) < 4096 else step
        self._start_raw = start
        self._end_raw = end
        self.start_us, self.end_us = self._read_bounds(start, end)
        self.repeats = check_count(repeats, "repeats")

    @property
    def interval(self) -> timedelta:
        return timedelta(microseconds=self.step_us)

    @property
    def start(self) -> datetime | None:
        start = self.start_us
        # A grid bound past the year 9999 (a long interval added late) never fires.
        return None if start is None or start > MAX_US else us_to_dt(start, self.tz)

    @property
    def end(self) -> datetime | None:
        return None if self.end_us is None else us_to_dt(self.end_us, self.tz)

    def next_fire(self, after_us: int) -> int | None:
        start = self.start_us
        step = self.step_us
        if start is None:
            nxt = after_us + step  # unbound: the grid is anchored at `after`
        elif after_us < start:
            nxt = start
        else:
            nxt = start + ((after_us - start) // step + 1) * step
        end = self.end_us
        if (end is not None and nxt > end) or nxt > MAX_US:
            return None  # past the end, or past the year 9999: no more fires
        return nxt

    def first_fire(self, added_us: int) -> int | None:
        # The first grid point at or after the moment of adding.
        return self.next_fire(added_us - 1)

    def _clone(self) -> Interval:
        # Spelled out: add_job copies an Interval for nearly every job it adds.
        clone = object.__new__(Interval)
        clone.tz = self.tz
        clone._tz_given = self._tz_given
        clone._wall_inputs = self._wall_inputs
        clone.step_us = self.step_us
        clone.start_us = self.start_us
        clone.end_us = self.end_us
        clone.repeats = self.repeats
        clone._start_raw = self._start_raw
        clone._end_raw = self._end_raw
        return clone

    def _fill(self, added_us: int, fresh: bool) -> Interval:
        if self.start_us is not None:
            return self
        # Anchor the grid at the moment of adding: start + k*step, k >= 1, is
        # the grid (start + step) + k*step, k >= 0.
        bound = self if fresh else self._clone()
        bound.start_us = added_us + self.step_us
        bound._start_raw = None  # read from start_us
        return bound

    def _units(self) -> dict[str, float]:
        """The interval in its largest exact unit (kept as one number, not the
        arguments, so a trigger stays small: a million jobs keep a million)."""
        step = self.step_us
        for unit, size in _UNIT_US:
            if step % size == 0:
                return {unit: step // size}
        return {"seconds": step / 1_000_000}

    def _args(self) -> dict[str, Any]:
        return {
            **self._units(),
            "start": _raw(self._start_raw, self.start),
            "end": _raw(self._end_raw, self.end),
            "repeats": self.repeats,
            "tz": self.tz_name,
        }

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        # Stores keep resolved instants, so a restart never re-reads wall times.
        data["start"] = None if self.start is None else self.start.isoformat()
        data["end"] = None if self.end is None else self.end.isoformat()
        return {k: v for k, v in data.items() if v is not None}

    def describe(self) -> str:
        parts = []
        for unit, value in self._units().items():
            name = unit if value != 1 else unit[:-1]
            parts.append(f"{value:g} {name}")
        text = "every " + ", ".join(parts)
        if self.repeats is not None:
            text += f", {self.repeats} time{'s' if self.repeats != 1 else ''}"
        if self.end_us is not None:
            text += f", until {self.end.isoformat()}"  # type: ignore[union-attr]
        return text


_STEPS: dict[int, int] = {}
# Longer than the span of datetime (years 1 to 9999), an interval cannot fire twice.
_MAX_STEP_US = MAX_US - MIN_US


def _step_us(**units: Any) -> int:
    for unit, value in units.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidTrigger(f"{unit} must be a number, got {value!r}")
        if value != value:  # NaN: timedelta would raise a bare ValueError
            raise InvalidTrigger(f"{unit} must be a number, got {value!r}")
    try:
        return td_to_us(timedelta(**units))
    except OverflowError:
        raise InvalidTrigger("the interval is too large") from None


def _raw(value: datetime | str | None, resolved: datetime | None) -> str | None:
    """The argument as given (a wall time stays a wall time), else the instant."""
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None and resolved is not None:
        return resolved.isoformat()
    return value
