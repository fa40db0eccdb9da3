"""Cron: ISC/Vixie cron expressions in a time zone, with exact DST rules.

croniter is the grammar: it parses and expands the fields. Finding the fire
instants is done here, in two steps: find the next matching *wall time* (a
naive local datetime), then map that wall time to real instants by the DST
rules of ``SEMANTICS.md``:

- fixed-time job (seconds, minute and hour fields do not start with ``*``):
  a wall time inside a spring-forward gap fires once at the first instant
  after the gap; a wall time inside the repeated fall-back hour fires once,
  on the first pass.
- wildcard job: follows real time; nothing in the gap, both passes of the
  repeated hour.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from croniter import croniter
from croniter.croniter import CroniterError

from .._exceptions import InvalidTrigger
from .._time import EPOCH, US_PER_SECOND, dt_to_us, us_to_dt
from ._base import Trigger

__all__ = ["Cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_RANGES = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (0, 7),
}
_NAMES = {
    "month": {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "day-of-week": {d.lower(): (i + 1) % 7 for i, d in enumerate(calendar.day_abbr)},
}
# How far the search for a matching wall time may go: 28 years cover every
# combination of date and weekday; past that an expression never matches.
_MAX_MONTHS = 12 * 40
# The widest DST shift considered when a wall time is searched back from.
_DAY_US = 86_400 * US_PER_SECOND


class _Spec:
    """A parsed expression: sorted field values and the day-matching rules."""

    __slots__ = (
        "dom_all",
        "dom_last",
        "dom_set",
        "dom_star",
        "dow_all",
        "dow_set",
        "dow_star",
        "fixed_time",
        "hours",
        "minutes",
        "months",
        "nth",
        "seconds",
    )

    def __init__(self, fields: list[str]) -> None:
        try:
            expanded, nth = croniter.expand(" ".join(fields), second_at_beginning=True)
        except (CroniterError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise InvalidTrigger(_diagnose(fields) or f"bad cron expression: {exc}") from None
        sec_f, min_f, hour_f, dom_f, _mon_f, dow_f = fields
        minutes, hours, dom, months, dow, seconds = expanded
        self.seconds = _values(seconds, 0, 59)
        self.minutes = _values(minutes, 0, 59)
        self.hours = _values(hours, 0, 23)
        self.months = frozenset(_values(months, 1, 12))
        self.dom_last = "l" in dom
        self.dom_all = dom == ["*"]
        self.dom_set = frozenset(v for v in dom if isinstance(v, int))
        self.dow_all = dow == ["*"]
        self.dow_set = frozenset(v % 7 for v in dow if isinstance(v, int))
        self.nth = {k % 7: frozenset(v) for k, v in nth.items()}
        self.dom_star = dom_f.startswith(("*", "?"))
        self.dow_star = dow_f.startswith(("*", "?"))
        self.fixed_time = not any(f.startswith("*") for f in (sec_f, min_f, hour_f))

    def day_matches(self, year: int, month: int, day: int, ndays: int) -> bool:
        dom_ok = self.dom_all or day in self.dom_set or (self.dom_last and day == ndays)
        if self.dow_all:
            dow_ok = True
        else:
            weekday = (calendar.weekday(year, month, day) + 1) % 7  # cron: Sunday is 0
            dow_ok = weekday in self.dow_set
            if dow_ok and weekday in self.nth:
                dow_ok = (day - 1) // 7 + 1 in self.nth[weekday]
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def time_at_or_after(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        ih = bisect_left(hours, hour)
        while ih < len(hours):
            hh = hours[ih]
            if hh != hour:
                return hh, minutes[0], seconds[0]
            im = bisect_left(minutes, minute)
            while im < len(minutes):
                mm = minutes[im]
                if mm != minute:
                    return hh, mm, seconds[0]
                isec = bisect_left(seconds, second)
                if isec < len(seconds):
                    return hh, mm, seconds[isec]
                im += 1
                minute = -1
            ih += 1
            hour = minute = -1
        return None

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall time strictly after ``wall`` (naive)."""
        t = wall.replace(microsecond=0) + timedelta(seconds=1)
        year, month, day = t.year, t.month, t.day
        hour, minute, second = t.hour, t.minute, t.second
        for _ in range(_MAX_MONTHS):
            if month in self.months:
                ndays = calendar.monthrange(year, month)[1]
                while day <= ndays:
                    if self.day_matches(year, month, day, ndays):
                        found = self.time_at_or_after(hour, minute, second)
                        if found is not None:
                            return datetime(year, month, day, *found)
                    day += 1
                    hour = minute = second = 0
            month += 1
            day = 1
            hour = minute = second = 0
            if month > 12:
                month = 1
                year += 1
                if year > 9998:
                    return None
        return None


def _values(items: list[Any], low: int, high: int) -> list[int]:
    if items == ["*"]:
        return list(range(low, high + 1))
    return sorted({int(v) for v in items})


@lru_cache(maxsize=4096)
def _parse(expr: str) -> tuple[_Spec, str]:
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise InvalidTrigger("@reboot is not supported: a scheduler has no boot to run at")
        if text.lower() not in _MACROS:
            raise InvalidTrigger(f"unknown cron macro {text!r}; known: {', '.join(_MACROS)}")
        text = _MACROS[text.lower()]
    fields = text.split(" ")
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        raise InvalidTrigger(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 (seconds first), got {len(fields)} in {expr!r}"
        )
    for name, field in (("day-of-month", fields[3]), ("day-of-week", fields[5])):
        upper = field.upper()
        if "W" in upper.replace("WED", "") or (name == "day-of-week" and upper[-1:] == "L"):
            raise InvalidTrigger(
                f"{name} field {field!r}: the W and L extensions of this field are not "
                "supported yet"
            )
    spec = _Spec(fields)
    if spec.next_wall(datetime(2000, 1, 1)) is None:
        raise InvalidTrigger(f"cron expression {expr!r} never matches any date")
    return spec, text


def _diagnose(fields: list[str]) -> str | None:
    """Name the field and value croniter refused, for a readable message."""
    for name, field in zip(_FIELDS, fields, strict=True):
        low, high = _RANGES[name]
        names = _NAMES.get(name, {})
        for part in field.lower().split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"{name} field {field!r}: bad step {step!r}"
            if base in ("*", "?", "l") or base.endswith(("l", "w")) or "#" in base:
                continue
            for bound in base.split("-"):
                if bound in names:
                    continue
                if not bound.isdigit():
                    return f"{name} field {field!r}: {bound!r} is not a number or name"
                if not low <= int(bound) <= high:
                    return f"{name} field {field!r}: {bound} is out of range {low}-{high}"
    return None


class Cron(Trigger):
    """Fires on the times a cron expression names, in a time zone.

    Five fields ``minute hour day-of-month month day-of-week``, or six with
    seconds first; names ``JAN-DEC`` and ``SUN-SAT``; Sunday is 0 or 7; the
    macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly``.
    Day of month and day of week: when both are restricted either may match;
    when either starts with ``*`` both must.

    Args:
        expr: the expression.
        tz: the zone the expression is read in (default: the scheduler's zone,
            UTC when used alone).
        start, end: bounds on the fire times (naive values read in ``tz``).

    Raises:
        InvalidTrigger: the expression is malformed (the message names the
            field and value), never matches, or a bound or the zone is bad.
    """

    __slots__ = ("_end_raw", "_normalized", "_spec", "_start_raw", "end_us", "expr", "start_us")

    kind = "cron"

    def __init__(
        self,
        expr: str,
        tz: str | tzinfo | None = None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
    ) -> None:
        super().__init__(tz)
        if not isinstance(expr, str):
            raise InvalidTrigger(f"a cron expression must be a string, got {expr!r}")
        self.expr = expr
        self._spec, self._normalized = _parse(expr)
        self._start_raw = start
        self._end_raw = end
        self.start_us, self.end_us = self._read_bounds(start, end)

    @property
    def fixed_time(self) -> bool:
        return self._spec.fixed_time

    def next_fire(self, after_us: int) -> int | None:
        if self.start_us is not None and after_us < self.start_us:
            after_us = self.start_us - 1
        nxt = self._next_instant(after_us)
        if nxt is None or (self.end_us is not None and nxt > self.end_us):
            return None
        return nxt

    def _next_instant(self, after_us: int) -> int | None:
        zone = self.tz
        spec = self._spec
        if zone is UTC:
            wall = _naive(after_us)
            found = spec.next_wall(wall)
            return None if found is None else _wall_us(found)
        after = us_to_dt(after_us, zone)
        # A wall time earlier than `after`'s can still be a later instant when
        # the clocks fall back soon; start the search back by that shift.
        later_offset = us_to_dt(after_us + _DAY_US, zone).utcoffset()
        now_offset = after.utcoffset()
        assert later_offset is not None
        assert now_offset is not None
        back = max(now_offset - later_offset, timedelta(0))
        wall = after.replace(tzinfo=None) - back - timedelta(microseconds=1)
        best: int | None = None
        while True:
            found = spec.next_wall(wall)
            if found is None:
                return best
            instants, earliest = _instants(found, zone, spec.fixed_time)
            if best is not None and earliest >= best:
                return best
            for instant in instants:
                if instant > after_us and (best is None or instant < best):
                    best = instant
            wall = found

    def _args(self) -> dict[str, Any]:
        return {
            "expr": self.expr,
            "tz": self.tz_name,
            "start": _raw(self._start_raw),
            "end": _raw(self._end_raw),
        }

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["start"] = None if self.start_us is None else us_to_dt(self.start_us).isoformat()
        data["end"] = None if self.end_us is None else us_to_dt(self.end_us).isoformat()
        return {k: v for k, v in data.items() if v is not None}

    def describe(self) -> str:
        return f"cron {self.expr!r} in {self.tz_name}"


def _raw(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _naive(instant: int) -> datetime:
    return (EPOCH + timedelta(microseconds=instant)).replace(tzinfo=None)


def _wall_us(wall: datetime) -> int:
    return dt_to_us(wall.replace(tzinfo=UTC))


def _instants(wall: datetime, zone: tzinfo, fixed_time: bool) -> tuple[list[int], int]:
    """The instants a matching wall time fires at, and the earliest it could map to."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    off_first = first.utcoffset()
    off_second = second.utcoffset()
    assert off_first is not None
    assert off_second is not None
    base = _wall_us(wall)
    us_first = base - _td_us(off_first)
    if off_first == off_second:
        return [us_first], us_first
    us_second = base - _td_us(off_second)
    earliest = min(us_first, us_second)
    if off_first > off_second:
        # The repeated hour: first pass, then second pass.
        return ([us_first] if fixed_time else [us_first, us_second]), earliest
    # The gap: fixed-time jobs fire at the first instant after it.
    if not fixed_time:
        return [], earliest
    return [_transition(zone, us_second, us_first)], earliest


def _td_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def _transition(zone: tzinfo, low: int, high: int) -> int:
    """The instant in (low, high] where the zone's offset changes (to the second)."""
    target = us_to_dt(high, zone).utcoffset()
    lo, hi = low // US_PER_SECOND, -(-high // US_PER_SECOND)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if us_to_dt(mid * US_PER_SECOND, zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi * US_PER_SECOND
