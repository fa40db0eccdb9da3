"""A zone's UTC offset as a step function of time, for the cron search.

Cron finds fire times one *period* at a time: a stretch of real time over
which the zone's offset does not change, so that wall time and real time
differ by one constant there. This module finds those periods for any
``tzinfo``, once: ``zoneinfo`` does not expose its transitions, so they are
found by probing the offset every three days and bisecting each change to
the second. The result is cached per zone in chunks of 52 weeks, so the
probing is paid once per zone and year that is ever searched.

Periods may end at a chunk boundary where the offset does not change; the
search treats such a boundary like any other, with equal offsets either side.
Two offset changes less than three days apart would be seen as one; between
1900 and 2100 the tz database has no such pair (the closest are 3.99 days
apart, Africa/Freetown in 1939, and 6.9 days, several zones since 2000).

All values here are whole seconds since the epoch; offsets are whole seconds
east of UTC (a sub-second part of a ``datetime.timezone`` offset is dropped).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["LAST_S", "Offsets", "offsets_for"]

_STEP = 3 * 86_400
_CHUNK = 364 * 86_400
# The range ``datetime.fromtimestamp`` can represent with any offset.
FIRST_S = int(datetime(1, 1, 3, tzinfo=UTC).timestamp())
LAST_S = int(datetime(9999, 12, 29, tzinfo=UTC).timestamp())

Period = tuple[int, int, int, int]
"""``(start, end, offset, offset_before)``: the offset holds on [start, end);
``offset_before`` held just before ``start``."""


def _seconds(delta: timedelta | None) -> int:
    if delta is None:
        raise ValueError("the zone returned no UTC offset")
    return delta.days * 86_400 + delta.seconds


class Offsets:
    """The periods of one zone, computed lazily and cached by chunk."""

    __slots__ = ("_chunks", "fixed", "zone")

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._chunks: dict[int, tuple[list[int], list[int], int]] = {}
        #: The offset of a zone that never changes (``datetime.timezone``), else None.
        self.fixed: int | None = None
        if isinstance(zone, timezone):
            self.fixed = _seconds(zone.utcoffset(None))

    def period(self, t: int) -> Period:
        """The period that contains instant ``t``."""
        fixed = self.fixed
        if fixed is not None:
            return FIRST_S, LAST_S, fixed, fixed
        index = t // _CHUNK
        chunk = self._chunks.get(index)
        if chunk is None:
            chunk = self._chunks[index] = self._probe(index)
        bounds, offsets, before = chunk
        i = bisect_right(bounds, t) - 1
        return bounds[i], bounds[i + 1], offsets[i], offsets[i - 1] if i else before

    def _probe(self, index: int) -> tuple[list[int], list[int], int]:
        low = index * _CHUNK
        high = low + _CHUNK
        zone = self.zone
        at = datetime.fromtimestamp
        if low - 1 < FIRST_S or high > LAST_S:  # the edges of datetime's range
            low, high = max(low, FIRST_S + 1), min(high, LAST_S)
        current = at(low, zone).utcoffset()
        bounds = [index * _CHUNK]
        offsets = [_seconds(current)]
        probe = low
        while probe < high:
            ahead = probe + _STEP
            if ahead > high:
                ahead = high
            seen = at(ahead, zone).utcoffset()
            if seen != current:
                lo, hi = probe, ahead  # the offset is `current` at lo, `seen` at hi
                while hi - lo > 1:
                    mid = (lo + hi) >> 1
                    if at(mid, zone).utcoffset() == seen:
                        hi = mid
                    else:
                        lo = mid
                if hi < high:  # a change exactly at `high` starts the next chunk
                    bounds.append(hi)
                    offsets.append(_seconds(seen))
                current = seen
            probe = ahead
        bounds.append(index * _CHUNK + _CHUNK)
        return bounds, offsets, _seconds(at(low - 1, zone).utcoffset())


_BY_ZONE: dict[object, Offsets] = {}


def offsets_for(zone: tzinfo) -> Offsets:
    """The shared :class:`Offsets` of a zone (zones that cannot be hashed are
    keyed by identity, and the cache keeps them alive)."""
    try:
        found = _BY_ZONE.get(zone)
        key: object = zone
    except TypeError:  # e.g. dateutil zones define __eq__ without __hash__
        key = ("id", id(zone))
        found = _BY_ZONE.get(key)
    if found is None:
        found = _BY_ZONE[key] = Offsets(zone)
    return found
