"""Cron expressions: parsing (with croniter as the grammar) and the wall-time search.

A wall time here is a whole number of seconds since 1970-01-01 00:00 on a
naive local clock, so that day and time of day are plain integer division.
:meth:`Spec.next_wall` finds the first matching wall time at or after a given
one; mapping wall times to real instants across DST is ``_cron``'s work.

croniter parses and expands the fields. The day extensions croniter does not
read correctly are read here: ``nW`` (croniter silently drops the ``W``),
``LW`` and ``dL`` (croniter refuses it; it reads the same day as ``Ld``).
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from datetime import date
from functools import lru_cache
from typing import Any

from croniter import croniter

from .._exceptions import InvalidTrigger

__all__ = ["DAY_S", "MACROS", "Spec", "parse"]

DAY_S = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST_DAY = date(1, 1, 2).toordinal() - _EPOCH_ORDINAL
_LAST_DAY = date(9998, 12, 31).toordinal() - _EPOCH_ORDINAL
# Every pattern of days repeats within 400 years (the Gregorian cycle), and
# the longest wait for a day an expression can name (29 February on a given
# weekday) is 40 years; a search that finds nothing in this span never will.
# (It can find a wall time that the zone never has, such as 02:30 on the
# Sunday when New York springs forward, for a wildcard job: then the search
# gives up at the horizon, and that is what bounds its cost.)
HORIZON_DAYS = 50 * 366
# Above this many times of day per day, search hour, minute and second apart
# instead of keeping one sorted list.
_FLAT_TIMES = 2048

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
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
_NEAREST_WEEKDAY = re.compile(r"([0-9]{1,2})W")
_LAST_WEEKDAY_OF = re.compile(r"(.+)L")


class Spec:
    """A parsed expression: the field values and the day rules, with caches."""

    __slots__ = (
        "_masks",
        "dom_all",
        "dom_last",
        "dom_last_weekday",
        "dom_nearest",
        "dom_set",
        "dow_all",
        "dow_last",
        "dow_nth",
        "dow_set",
        "dow_special",
        "either_day",
        "first_month",
        "first_time",
        "fixed_time",
        "hours",
        "minutes",
        "month_ok",
        "next_month",
        "seconds",
        "times",
    )

    def __init__(self, fields: list[str], expr: str) -> None:
        sec_f, min_f, hour_f, dom_f, mon_f, dow_f = fields
        dom_rest, nearest, last_weekday = _split_dom(dom_f)
        dow_rest, last_of = _split_dow(dow_f)
        text = " ".join((sec_f, min_f, hour_f, dom_rest or "1", mon_f, dow_rest or "1"))
        try:
            expanded, nth = croniter.expand(text, second_at_beginning=True)
        except Exception as exc:  # croniter raises several types; all mean bad input
            reason = _diagnose(fields)
            raise InvalidTrigger(reason or f"bad cron expression {expr!r}: {exc}") from None
        minutes, hours, dom, months, dow, seconds = expanded
        self.seconds = _values(seconds, 0, 59)
        self.minutes = _values(minutes, 0, 59)
        self.hours = _values(hours, 0, 23)
        month_set = set(_values(months, 1, 12))
        self.month_ok = tuple(m in month_set for m in range(13))
        self.first_month = min(month_set)
        # The next month in the set after each month; 0 when it is next year.
        self.next_month = tuple(min((n for n in month_set if n > m), default=0) for m in range(13))
        if dom_rest:
            self.dom_all = dom == ["*"]
            self.dom_set = frozenset(v for v in dom if isinstance(v, int))
            self.dom_last = "l" in dom
        else:
            self.dom_all, self.dom_set, self.dom_last = False, frozenset(), False
        self.dom_nearest = nearest
        self.dom_last_weekday = last_weekday
        if dow_rest:
            self.dow_all = dow == ["*"]
            self.dow_set = frozenset(v % 7 for v in dow if isinstance(v, int))
        else:
            self.dow_all, self.dow_set = False, frozenset()
        self.dow_nth: dict[int, frozenset[int]] = {}
        self.dow_last = last_of
        # Weekdays named with '#' or 'L' match only on those days of the month.
        self.dow_special = frozenset(day % 7 for day in nth) if dow_rest else frozenset()
        for day, which in nth.items():
            if "l" in which:
                self.dow_last |= {day % 7}
            numbers = frozenset(n for n in which if isinstance(n, int))
            if numbers:
                self.dow_nth[day % 7] = numbers
        # Vixie cron: when either day field starts with '*', a day must match
        # both; when both are restricted, either.
        self.either_day = not (dom_f.startswith(("*", "?")) or dow_f.startswith(("*", "?")))
        self.fixed_time = not any(f.startswith("*") for f in (sec_f, min_f, hour_f))
        count = len(self.hours) * len(self.minutes) * len(self.seconds)
        self.times: list[int] | None = None
        if count <= _FLAT_TIMES:
            self.times = [
                h * 3600 + m * 60 + s
                for h in self.hours
                for m in self.minutes
                for s in self.seconds
            ]
        self.first_time = self.hours[0] * 3600 + self.minutes[0] * 60 + self.seconds[0]
        self._masks: dict[tuple[int, int], int] = {}

    # -- days ----------------------------------------------------------------

    def _mask(self, weekday1: int, ndays: int) -> int:
        """Bit d set for each matching day d of a month of ``ndays`` days whose
        first day is ``weekday1`` (cron numbering, Sunday is 0)."""
        key = (weekday1, ndays)
        mask = self._masks.get(key)
        if mask is not None:
            return mask
        dom = 0
        dow = 0
        for day in range(1, ndays + 1):
            weekday = (weekday1 + day - 1) % 7
            if self.dom_all or day in self.dom_set or (self.dom_last and day == ndays):
                dom |= 1 << day
            if (
                self.dow_all
                or (weekday in self.dow_set and weekday not in self.dow_special)
                or (weekday in self.dow_nth and (day + 6) // 7 in self.dow_nth[weekday])
                or (weekday in self.dow_last and day + 7 > ndays)
            ):
                dow |= 1 << day
        for wanted in self.dom_nearest:
            if wanted <= ndays:
                dom |= 1 << _nearest_weekday(wanted, weekday1, ndays)
        if self.dom_last_weekday:
            dom |= 1 << _nearest_weekday(ndays, weekday1, ndays)
        mask = dom | dow if self.either_day else dom & dow
        self._masks[key] = mask
        return mask

    def _day_matches(self, day: int) -> bool:
        when = date.fromordinal(day + _EPOCH_ORDINAL)
        month = when.month
        if not self.month_ok[month]:
            return False
        first = day - when.day + 1
        mask = self._mask((first + 4) % 7, _month_days(when.year, month))
        return bool(mask >> when.day & 1)

    def next_day(self, day: int, horizon: int) -> int | None:
        """The first matching day at or after ``day`` (days since 1970-01-01),
        or None when there is none before ``horizon``."""
        when = date.fromordinal(day + _EPOCH_ORDINAL)
        year, month, mday = when.year, when.month, when.day
        first = day - mday + 1
        limit = min(horizon, _LAST_DAY)
        while first <= limit:
            if self.month_ok[month]:
                ndays = _month_days(year, month)
                rest = self._mask((first + 4) % 7, ndays) >> mday
                if rest:
                    found = first + mday - 1 + (rest & -rest).bit_length() - 1
                    return found if found <= limit else None
            following = self.next_month[month]
            if following:
                month = following
            else:
                year += 1
                month = self.first_month
            first = date(year, month, 1).toordinal() - _EPOCH_ORDINAL if year <= 9998 else limit + 1
            mday = 1
        return None

    # -- times of day --------------------------------------------------------

    def _time_at_or_after(self, second_of_day: int) -> int | None:
        times = self.times
        if times is not None:
            i = bisect_left(times, second_of_day)
            return times[i] if i < len(times) else None
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        ih = bisect_left(hours, hour)
        while ih < len(hours):
            hh = hours[ih]
            if hh != hour:
                return hh * 3600 + minutes[0] * 60 + seconds[0]
            im = bisect_left(minutes, minute)
            while im < len(minutes):
                mm = minutes[im]
                if mm != minute:
                    return hh * 3600 + mm * 60 + seconds[0]
                isec = bisect_left(seconds, second)
                if isec < len(seconds):
                    return hh * 3600 + mm * 60 + seconds[isec]
                im += 1
                minute = -1
            ih += 1
            hour = minute = -1
        return None

    def next_wall(self, wall: int, horizon: int) -> int | None:
        """The first matching wall time at or after ``wall``, or None when there
        is none before day ``horizon``."""
        day, second_of_day = divmod(wall, DAY_S)
        if day > _LAST_DAY:
            return None
        if day < _FIRST_DAY:
            day, second_of_day = _FIRST_DAY, 0
        found = self._time_at_or_after(second_of_day)
        if found is not None and self._day_matches(day):
            return day * DAY_S + found
        next_day = self.next_day(day + 1, horizon)
        return None if next_day is None else next_day * DAY_S + self.first_time


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _nearest_weekday(wanted: int, weekday1: int, ndays: int) -> int:
    """The weekday (Monday to Friday) nearest to day ``wanted``, in the same month."""
    weekday = (weekday1 + wanted - 1) % 7
    if weekday == 6:  # Saturday: the Friday before, or the Monday after the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 0:  # Sunday: the Monday after, or the Friday before the last day
        return wanted + 1 if wanted < ndays else wanted - 2
    return wanted


def _split_dom(field: str) -> tuple[str, tuple[int, ...], bool]:
    """Take ``nW`` and ``LW`` out of a day-of-month field for croniter."""
    rest: list[str] = []
    nearest: list[int] = []
    last_weekday = False
    for part in field.split(","):
        upper = part.upper()
        if upper == "LW":
            last_weekday = True
            continue
        match = _NEAREST_WEEKDAY.fullmatch(upper)
        if match:
            wanted = int(match.group(1))
            if not 1 <= wanted <= 31:
                raise InvalidTrigger(
                    f"day-of-month field {field!r}: {part!r} names day {wanted}, out of range 1-31"
                )
            nearest.append(wanted)
            continue
        if "W" in upper:
            raise InvalidTrigger(
                f"day-of-month field {field!r}: {part!r} is not valid; W follows a single "
                "day (15W) or L (LW)"
            )
        rest.append(part)
    return ",".join(rest), tuple(nearest), last_weekday


def _split_dow(field: str) -> tuple[str, frozenset[int]]:
    """Take ``dL`` (the last such weekday of the month) out of a day-of-week field."""
    rest: list[str] = []
    last: set[int] = set()
    names = _NAMES["day-of-week"]
    for part in field.split(","):
        match = _LAST_WEEKDAY_OF.fullmatch(part.lower().replace("l", "L"))
        if match is None:
            rest.append(part)
            continue
        day = match.group(1)
        if day in ("0", "1", "2", "3", "4", "5", "6", "7"):
            last.add(int(day) % 7)
        elif day in names:
            last.add(names[day])
        else:
            raise InvalidTrigger(
                f"day-of-week field {field!r}: {part!r} is not valid; L follows a single "
                "weekday, 0-7 or SUN-SAT (5L is the last Friday)"
            )
    return ",".join(rest), frozenset(last)


def _values(items: list[Any], low: int, high: int) -> list[int]:
    if items == ["*"]:
        return list(range(low, high + 1))
    return sorted({int(v) for v in items})


def _digits(text: str) -> bool:
    # ASCII only: str.isdigit() is true of '²' and '٣', which int() refuses or cron does not mean.
    return text.isascii() and text.isdigit()


def _diagnose(fields: list[str]) -> str | None:
    """Name the field and value croniter refused, for a readable message."""
    for name, field in zip(FIELDS, fields, strict=True):
        low, high = _RANGES[name]
        names = _NAMES.get(name, {})
        for part in field.lower().split(","):
            base, _, step = part.partition("/")
            if step and (not _digits(step) or int(step) == 0):
                return f"{name} field {field!r}: bad step {step!r}"
            if name == "day-of-week" and "#" in base:
                day, _, nth = base.partition("#")
                if not (day in names or (_digits(day) and int(day) <= 7)):
                    return f"day-of-week field {field!r}: {day!r} in {part!r} is not a weekday"
                if not _digits(nth):
                    return (
                        f"day-of-week field {field!r}: {part!r} needs a week number 1-5 "
                        f"after '#', got {nth!r}"
                    )
                if not 1 <= int(nth) <= 5:
                    return f"day-of-week field {field!r}: {part!r} asks for week {nth}, not 1-5"
                continue
            if base == "l" and name == "day-of-week":
                return f"day-of-week field {field!r}: L follows a weekday (5L is the last Friday)"
            if base in ("*", "?"):
                continue
            if name == "day-of-month" and (base in ("l", "lw") or base[-1:] == "w"):
                continue  # L, LW and nW; nW's day was checked before croniter
            if name == "day-of-week" and base.endswith("l"):
                continue  # dL was read before croniter
            for bound in base.split("-"):
                if bound in names:
                    continue
                if not _digits(bound):
                    return f"{name} field {field!r}: {bound!r} is not a number or name"
                if not low <= int(bound) <= high:
                    return f"{name} field {field!r}: {bound} is out of range {low}-{high}"
    return None


def _check_lists(fields: list[str]) -> None:
    """Refuse ``*`` (or ``?``) as one value of a list such as ``*,0``: croniter
    expands it to a mix of ``'*'`` and numbers that means neither "every" nor
    the numbers, and a list that holds "every" already is "every"."""
    for name, field in zip(FIELDS, fields, strict=True):
        parts = field.split(",")
        if len(parts) < 2:
            continue
        for part in parts:
            if part in ("*", "?"):
                raise InvalidTrigger(
                    f"{name} field {field!r}: {part!r} cannot be listed with other values "
                    "(alone it already means every value)"
                )


_REFERENCE_DAY = date(2000, 1, 1).toordinal() - _EPOCH_ORDINAL


@lru_cache(maxsize=4096)
def parse(expr: str) -> tuple[Spec, str]:
    """The :class:`Spec` of an expression, and its text with macros expanded
    and seconds first (cached: jobs that share an expression share the Spec).

    Raises:
        InvalidTrigger: the expression is malformed or never matches.
    """
    text = " ".join(expr.split())
    if text.startswith("@"):
        if text.lower() == "@reboot":
            raise InvalidTrigger("@reboot is not supported: a scheduler has no boot to run at")
        if text.lower() not in MACROS:
            raise InvalidTrigger(f"unknown cron macro {text!r}; known: {', '.join(MACROS)}")
        text = MACROS[text.lower()]
    fields = text.split(" ")
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        raise InvalidTrigger(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 (seconds first), got {len(fields)} in {expr!r}"
        )
    _check_lists(fields)
    spec = Spec(fields, expr)
    if spec.next_day(_REFERENCE_DAY, _REFERENCE_DAY + 400 * 366) is None:
        raise InvalidTrigger(f"cron expression {expr!r} never matches any date")
    return spec, " ".join(fields)
