from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tickwork as tw
from tickwork._time import dt_to_us

from .conftest import utc


def test_grid_with_start_includes_start() -> None:
    trig = tw.Interval(minutes=5, start="2026-01-01T00:00:00Z")
    assert trig.upcoming("2025-12-31T23:00:00Z", 3) == [
        utc(2026, 1, 1, 0, 0),
        utc(2026, 1, 1, 0, 5),
        utc(2026, 1, 1, 0, 10),
    ]


def test_upcoming_is_strictly_after() -> None:
    trig = tw.Interval(minutes=5, start="2026-01-01T00:00:00Z")
    assert trig.upcoming(utc(2026, 1, 1, 0, 5)) == [utc(2026, 1, 1, 0, 10)]


def test_units_add_up() -> None:
    trig = tw.Interval(weeks=1, days=1, hours=1, minutes=1, seconds=1)
    assert trig.interval == timedelta(weeks=1, days=1, hours=1, minutes=1, seconds=1)


def test_without_start_the_grid_is_anchored_at_after() -> None:
    trig = tw.Interval(seconds=30)
    assert trig.upcoming(utc(2026, 1, 1, 12, 0, 7), 2) == [
        utc(2026, 1, 1, 12, 0, 37),
        utc(2026, 1, 1, 12, 1, 7),
    ]


def test_end_bounds_fires() -> None:
    trig = tw.Interval(hours=1, start="2026-01-01T00:00:00Z", end="2026-01-01T02:30:00Z")
    assert trig.upcoming("2026-01-01T00:00:00Z", 10) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]


def test_end_equal_to_a_grid_point_fires_there() -> None:
    trig = tw.Interval(hours=1, start="2026-01-01T00:00:00Z", end="2026-01-01T02:00:00Z")
    assert trig.upcoming("2026-01-01T00:30:00Z", 10) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]


def test_elapsed_time_across_spring_forward() -> None:
    # Europe/London springs forward at 01:00 UTC on 2026-03-29.
    london = ZoneInfo("Europe/London")
    trig = tw.Interval(hours=1, start="2026-03-29 00:00", tz="Europe/London")
    fires = trig.upcoming("2026-03-28T23:30:00Z", 4)
    assert [f.astimezone(london).hour for f in fires] == [0, 2, 3, 4]


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/London", "2026-03-28 22:00"),  # the gap: 01:00-02:00 on 29 March
        ("America/New_York", "2026-03-07 22:00"),  # 02:00-03:00 on 8 March
        ("Australia/Lord_Howe", "2026-10-03 22:00"),  # a 30-minute gap, 02:00-02:30
        ("Europe/London", "2026-10-24 22:00"),  # fall back: 01:00-02:00 twice
    ],
)
def test_hourly_across_a_dst_change_is_one_hour_apart_as_returned(zone: str, start: str) -> None:
    fires = tw.Interval(hours=1, start=start, tz=zone).upcoming(start, 8)
    # No astimezone(UTC) first: upcoming() answers in UTC, so `-` is elapsed time.
    assert [b - a for a, b in itertools.pairwise(fires)] == [timedelta(hours=1)] * 7
    assert {f.tzinfo for f in fires} == {UTC}
    # Shown in the zone, the wall clock jumps (or repeats) where the offset changes.
    walls = [f.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for f in fires]
    assert {b - a for a, b in itertools.pairwise(walls)} != {timedelta(hours=1)}


def test_elapsed_time_across_fall_back() -> None:
    trig = tw.Interval(minutes=30, start="2026-10-25T00:00:00Z", tz="Europe/London")
    fires = trig.upcoming("2026-10-24T23:59:00Z", 4)
    assert [f.astimezone(UTC) for f in fires] == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 0),
        utc(2026, 10, 25, 1, 30),
    ]
    # 00:30 and 01:30 UTC are both 01:30 wall time in London: elapsed time shows both.
    assert fires[1].astimezone(ZoneInfo("Europe/London")).hour == 1
    assert fires[3].astimezone(ZoneInfo("Europe/London")).hour == 1
    # Returned in UTC, both passes of the repeated 01:30 equal their UTC instants
    # (in the zone, an ambiguous wall time compares unequal to every other zone's).
    assert fires[1] == utc(2026, 10, 25, 0, 30)
    assert fires[3] == utc(2026, 10, 25, 1, 30)


def test_naive_start_is_wall_time_in_tz() -> None:
    trig = tw.Interval(hours=1, start=datetime(2026, 7, 1, 9, 0), tz="America/New_York")
    assert trig.start == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "zero"),
        ({"seconds": 0, "minutes": 0}, "zero"),
        ({"minutes": -5}, "positive"),
        ({"minutes": 5, "seconds": -400}, "positive"),
        ({"seconds": 0.000001}, r"seconds=1e-06 is shorter than the minimum, 1 millisecond"),
        ({"seconds": 0.0009}, r"seconds=0.0009 is shorter than the minimum, 1 millisecond"),
        ({"seconds": 1e-9}, r"seconds=1e-09 is shorter than the minimum"),
        ({"minutes": 1, "seconds": -59.9995}, "shorter than the minimum, 1 millisecond"),
        ({"seconds": float("nan")}, "seconds must be a number, got nan"),
        ({"seconds": float("inf")}, "too large"),
        ({"weeks": 10**30}, "too large"),
        ({"minutes": "5"}, "minutes"),
        ({"seconds": True}, "seconds"),
        ({"minutes": 1, "repeats": 0}, "repeats"),
        ({"minutes": 1, "repeats": 2.5}, "repeats"),
        ({"minutes": 1, "tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"minutes": 1, "start": "not a date"}, "start"),
        ({"minutes": 1, "start": "2026-01-02T00:00Z", "end": "2026-01-01T00:00Z"}, "before"),
        ({"minutes": 1, "start": "0001-01-01T00:30:00+01:00"}, "start .* is out of range"),
        ({"minutes": 1, "end": datetime.max, "tz": "America/New_York"}, "end .* out of range"),
        ({"minutes": 1, "start": "2026-01-01T00:00:00+25:00"}, "start .* cannot be read"),
    ],
)
def test_bad_input_raises_invalid_trigger_naming_the_part(kwargs: dict, needle: str) -> None:
    with pytest.raises(tw.InvalidTrigger, match=needle):
        tw.Interval(**kwargs)


def test_one_millisecond_is_the_shortest_interval() -> None:
    trig = tw.Interval(seconds=0.001, start="2026-01-01T00:00:00Z")
    assert trig.interval == timedelta(milliseconds=1)
    assert trig.upcoming("2026-01-01T00:00:00Z", 2) == [
        utc(2026, 1, 1) + timedelta(milliseconds=1),
        utc(2026, 1, 1) + timedelta(milliseconds=2),
    ]


def test_upcoming_ends_at_the_year_9999_instead_of_overflowing() -> None:
    trig = tw.Interval(weeks=1, start="2026-01-02T12:00:00Z", tz="Pacific/Kiritimati")
    fires = trig.upcoming("9999-12-10T12:00:00Z", 5)
    assert [f.astimezone(UTC) for f in fires] == [
        datetime(9999, 12, 17, 12, tzinfo=UTC),
        datetime(9999, 12, 24, 12, tzinfo=UTC),
        datetime(9999, 12, 31, 12, tzinfo=UTC),
    ]
    assert trig.next_fire(dt_to_us(fires[-1])) is None
    assert tw.Interval(hours=1).upcoming(datetime.max.replace(tzinfo=UTC), 3) == []
    # No end given may be spelled as the last datetime.
    assert tw.Interval(hours=1, end=datetime.max).upcoming("9999-12-31T21:30:00Z", 5) == [
        datetime(9999, 12, 31, 22, 30, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
    ]


def test_a_grid_bound_past_the_year_9999_never_fires() -> None:
    trig = tw.Interval(weeks=420_000)  # about 8000 years
    bound = trig.bind(dt_to_us(utc(2026, 1, 1)))
    assert bound.start is None
    assert bound.first_fire(dt_to_us(utc(2026, 1, 1))) is None
    assert bound.upcoming("2026-01-01T00:00:00Z", 3) == []
    assert "start" not in bound.to_dict()
    assert bound.describe() == "every 420000 weeks"
    with pytest.raises(tw.InvalidTrigger, match="too large"):
        tw.Interval(weeks=530_000)  # longer than the years 1 to 9999


def test_invalid_trigger_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="zero"):
        tw.Interval()


def test_upcoming_ignores_repeats_and_handles_count() -> None:
    trig = tw.Interval(seconds=1, start="2026-01-01T00:00:00Z", repeats=2)
    assert len(trig.upcoming("2026-01-01T00:00:00Z", 5)) == 5
    assert trig.upcoming("2026-01-01T00:00:00Z", 0) == []
    with pytest.raises(ValueError, match="count"):
        trig.upcoming("2026-01-01T00:00:00Z", -1)


def test_round_trips_through_plain_data() -> None:
    trig = tw.Interval(minutes=90, start="2026-01-01 08:00", end="2026-02-01", tz="Europe/Paris")
    data = trig.to_dict()
    assert data["type"] == "interval"
    from tickwork.triggers import trigger_from_dict

    again = trigger_from_dict(data)
    assert again == trig
    assert again.upcoming("2026-01-05T00:00:00Z", 3) == trig.upcoming("2026-01-05T00:00:00Z", 3)


# -- properties ---------------------------------------------------------------
_BASE = dt_to_us(utc(2026, 1, 1))
instants = st.integers(min_value=_BASE - 10**14, max_value=_BASE + 10**14)
steps = st.integers(min_value=1_000, max_value=10**12)  # 1 ms (the minimum) .. ~11.6 days


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


@given(step=steps, start=instants, after=instants, count=st.integers(1, 20))
def test_property_fires_increase_lie_after_and_on_the_grid(
    step: int, start: int, after: int, count: int
) -> None:
    trig = tw.Interval(seconds=step / 1_000_000, start=_dt(start))
    real_step = trig.step_us
    fires = [dt_to_us(f) for f in trig.upcoming(_dt(after), count)]
    assert len(fires) == count
    assert all(a < b for a, b in itertools.pairwise(fires))
    assert fires[0] > after
    assert fires[0] >= start
    assert all((f - start) % real_step == 0 for f in fires)
    # No grid point is skipped: the one before the first fire is not after `after`.
    assert fires[0] - real_step <= after or fires[0] == start


@given(step=steps, start=instants, length=st.integers(0, 10**13), after=instants)
def test_property_respects_end(step: int, start: int, length: int, after: int) -> None:
    trig = tw.Interval(seconds=step / 1_000_000, start=_dt(start), end=_dt(start + length))
    fires = [dt_to_us(f) for f in trig.upcoming(_dt(after), 50)]
    assert all(start <= f <= start + length for f in fires)
    assert all(f > after for f in fires)


def test_clone_copies_every_slot() -> None:
    from tickwork.triggers._base import _slots_of

    trig = tw.Interval(
        minutes=5, start="2026-01-01 00:00", end="2026-02-01", repeats=3, tz="Europe/Paris"
    )
    clone = trig._clone()
    names, read = _slots_of(tw.Interval)
    assert read(clone) == read(trig)
    assert set(names) == {*tw.Interval.__slots__, *tw.Trigger.__slots__}
