"""Cron: ISC/Vixie cron expressions in a time zone, with exact DST rules.

croniter is the grammar: ``_cronspec`` parses and expands the fields with it
and finds matching *wall times* (local clock readings). This module maps them
to real instants by the DST rules of ``SEMANTICS.md``:

- fixed-time job (seconds, minute and hour fields do not start with ``*``):
  a wall time inside a spring-forward gap fires once at the first instant
  after the gap; a wall time inside the repeated fall-back hour fires once,
  on the first pass.
- wildcard job: follows real time; nothing in the gap, both passes of the
  repeated hour.

The search walks the zone's periods of constant UTC offset (``_offsets``)
from the one that holds ``after``: inside a period, wall time is real time
plus one constant, so the first matching wall time of the period is its
first fire. Between periods it applies the rules above. All of it is integer
arithmetic on seconds; a zone's offsets are probed once and cached.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from .._exceptions import InvalidTrigger
from .._time import US_PER_SECOND, dt_to_us, parse_instant, us_to_dt
from ._base import Trigger
from ._cronspec import DAY_S, HORIZON_DAYS, Spec, parse
from ._offsets import Offsets, offsets_for

__all__ = ["Cron"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


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

    __slots__ = (
        "_end_raw",
        "_normalized",
        "_offsets",
        "_spec",
        "_start_raw",
        "end_us",
        "expr",
        "start_us",
    )

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
        self._spec, self._normalized = parse(expr)
        self._offsets = offsets_for(self.tz)
        self._start_raw = start
        self._end_raw = end
        self.start_us, self.end_us = self._read_bounds(start, end)

    @property
    def fixed_time(self) -> bool:
        """True when the seconds, minute and hour fields name fixed values (the
        DST rules for fixed-time jobs apply), False for a wildcard job."""
        return self._spec.fixed_time

    def next_fire(self, after_us: int) -> int | None:
        start_us = self.start_us
        if start_us is not None and after_us < start_us:
            after_us = start_us - 1
        offsets = self._offsets
        if offsets.zone is not self.tz:  # a copy given another zone
            offsets = self._offsets = offsets_for(self.tz)
        found = next_fire_second(self._spec, offsets, after_us // US_PER_SECOND)
        if found is None:
            return None
        nxt = found * US_PER_SECOND
        end_us = self.end_us
        if end_us is not None and nxt > end_us:
            return None
        return nxt

    def explain(self, after: datetime | str, count: int = 1) -> list[tuple[datetime, str | None]]:
        """:meth:`upcoming` (UTC datetimes), with the DST rule that shaped each
        fire: a short sentence about the wall times in the trigger's zone, or
        None where no rule applied.

        Raises:
            InvalidTrigger: ``after`` cannot be read as an instant.
            ValueError: ``count`` is negative.
        """
        offsets = self._offsets
        if offsets.zone is not self.tz:
            offsets = self._offsets = offsets_for(self.tz)
        fires = self.upcoming(after, count)
        seconds = [dt_to_us(fire) // US_PER_SECOND for fire in fires]
        previous = [parse_instant(after, self.tz, what="after") // US_PER_SECOND, *seconds]
        return [
            (fire, dst_rule(self._spec, offsets, second, before))
            for fire, second, before in zip(fires, seconds, previous, strict=False)
        ]

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
        """The expression in words with its zone, such as ``At 09:00, Monday
        through Friday (Europe/London)``, when the optional cron-descriptor
        package is installed (``pip install 'tickwork[describe]'``); otherwise,
        and for lists that mix L, W or # with other values (which it misreads),
        ``cron '0 9 * * 1-5' in Europe/London``."""
        words = in_words(self._normalized)
        if words is None:
            return f"cron {self.expr!r} in {self.tz_name}"
        return f"{words} ({self.tz_name})"


def dst_rule(spec: Spec, offsets: Offsets, fire: int, previous: int) -> str | None:
    """Which DST rule, if any, shaped instant ``fire`` (whole seconds), the
    first fire after instant ``previous``."""
    start, end, offset, before = offsets.period(fire)
    wall = fire + offset
    if before < offset and previous < start:  # the clocks sprang forward since `previous`
        skipped = _walls_between(spec, start + before, start + offset)
        if skipped and spec.fixed_time and fire == start:
            verb = "does" if len(skipped) == 1 else "do"
            return (
                f"{_listed(skipped)} {verb} not exist (the clocks sprang forward); "
                "it runs at the first instant after the gap"
            )
        if skipped and not spec.fixed_time:
            day = date.fromordinal((start + before) // DAY_S + _EPOCH_ORDINAL)
            verb, them = ("does", "it") if len(skipped) == 1 else ("do", "them")
            return (
                f"{_listed(skipped)} on {day.isoformat()} {verb} not exist (the clocks "
                f"sprang forward); a wildcard job skips {them}"
            )
    if before > offset and wall < start + before:
        return f"{_hhmm(wall)} happens twice (the clocks fell back); this is the second pass"
    _, _, next_offset, _ = offsets.period(end)
    if next_offset < offset and wall >= end + next_offset:
        if spec.fixed_time:
            return (
                f"{_hhmm(wall)} happens twice (the clocks fall back); "
                "a fixed-time job runs on the first pass only"
            )
        return f"{_hhmm(wall)} happens twice (the clocks fall back); this is the first pass"
    return None


def _walls_between(spec: Spec, low: int, high: int) -> list[str]:
    """The matching wall times in [low, high), as text (four at most)."""
    found: list[str] = []
    horizon = low // DAY_S + 1
    wall = spec.next_wall(low, horizon)
    while wall is not None and wall < high and len(found) < 4:
        found.append(_hhmm(wall))
        wall = spec.next_wall(wall + 1, horizon)
    return found


def _listed(times: list[str]) -> str:
    if len(times) > 3:
        return ", ".join(times[:3]) + ", ..."
    return " and ".join(times) if len(times) < 3 else f"{times[0]}, {times[1]} and {times[2]}"


def _hhmm(wall: int) -> str:
    hours, rest = divmod(wall % DAY_S, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02}:{minutes:02}" + (f":{seconds:02}" if seconds else "")


@lru_cache(maxsize=1024)
def in_words(text: str) -> str | None:
    """cron-descriptor's English reading of a six-field expression, or None."""
    fields = text.split(" ")
    if any(_mixes_extensions(field) for field in fields[3:]):
        return None
    try:
        from cron_descriptor import ExpressionDescriptor, Options
    except ImportError:
        return None
    options = Options()
    options.locale_code = "en_US"
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = True
    try:
        return str(ExpressionDescriptor(text, options).get_description())
    except Exception:  # its parser is stricter than croniter in places; fall back
        return None


def _mixes_extensions(field: str) -> bool:
    parts = field.upper().split(",")
    return len(parts) > 1 and any(c in part for part in parts for c in "LW#")


def _raw(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def next_fire_second(spec: Spec, offsets: Offsets, after: int) -> int | None:
    """The first fire instant (whole seconds) strictly after instant ``after``,
    or None when there is none within the search horizon."""
    fixed = offsets.fixed
    if fixed is not None:
        lo = after + fixed + 1
        wall = spec.next_wall(lo, lo // DAY_S + HORIZON_DAYS)
        return None if wall is None else wall - fixed
    start, end, offset, before = offsets.period(after)
    fixed_time = spec.fixed_time
    lo = after + offset + 1
    if fixed_time and before > offset:
        # The second pass of a repeated hour: its wall times fired on the first.
        lo = max(lo, start + before)
    horizon = lo // DAY_S + HORIZON_DAYS
    wall = spec.next_wall(lo, horizon)
    while wall is not None:
        if wall < end + offset:  # inside this period
            return wall - offset
        _, next_end, next_offset, _ = offsets.period(end)
        if fixed_time and offset < next_offset and wall < end + next_offset:
            return end  # inside the gap: the first instant after it
        # The first wall time the next period can fire at: its first reading,
        # or for a fixed-time job after a fall-back, the end of the repeat.
        next_lo = end + (offset if fixed_time and offset > next_offset else next_offset)
        if next_lo < lo or wall < next_lo:
            wall = spec.next_wall(next_lo, horizon)
        lo = next_lo
        end, offset = next_end, next_offset
    return None
