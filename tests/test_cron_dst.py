"""Cron across DST, as tables: every rule of SEMANTICS.md in six zones, 2026 and 2027.

Each row gives a zone, an expression, the instant to search after (with its
offset, so first and second passes of a repeated hour are unambiguous) and
the expected fires as local wall times with their UTC offsets.

The transitions, as zoneinfo has them:

=====================  ==========================  =======================
zone                   gap (spring forward)        repeated (fall back)
=====================  ==========================  =======================
Europe/London          01:00-02:00                 01:00-02:00
                       2026-03-29, 2027-03-28      2026-10-25, 2027-10-31
America/New_York       02:00-03:00                 01:00-02:00
                       2026-03-08, 2027-03-14      2026-11-01, 2027-11-07
Australia/Sydney       02:00-03:00                 02:00-03:00
                       2026-10-04, 2027-10-03      2026-04-05, 2027-04-04
Australia/Lord_Howe    02:00-02:30                 01:30-02:00
                       2026-10-04, 2027-10-03      2026-04-05, 2027-04-04
Asia/Kolkata, UTC      none                        none
=====================  ==========================  =======================
"""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import tickwork as tw


def fires(zone: str, expr: str, after: str, count: int) -> list[str]:
    times = tw.Cron(expr, tz=zone).upcoming(datetime.fromisoformat(after), count)
    return [f"{t.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M%z}" for t in times]


def case(zone: str, expr: str, after: str, *expected: str) -> object:
    return pytest.param(zone, expr, after, list(expected), id=f"{zone} {expr!r} after {after}")


LONDON = "Europe/London"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
LORD_HOWE = "Australia/Lord_Howe"

# -- fixed-time jobs: a wall time in the gap fires once, at the end of the gap --
GAP_FIXED = [
    # Europe/London: 01:00 GMT jumps to 02:00 BST.
    case(LONDON, "30 1 * * *", "2026-03-28T12:00+00:00",
         "2026-03-29 02:00+0100", "2026-03-30 01:30+0100"),
    case(LONDON, "30 1 * * *", "2026-03-29T00:59:59+00:00",  # the last second before the gap
         "2026-03-29 02:00+0100", "2026-03-30 01:30+0100"),
    case(LONDON, "30 1 * * *", "2026-03-29T02:00+01:00",  # the first instant after it
         "2026-03-30 01:30+0100"),
    case(LONDON, "30 1 * * *", "2026-03-29T05:00+01:00", "2026-03-30 01:30+0100"),
    case(LONDON, "30 1 * * *", "2027-03-27T12:00+00:00",
         "2027-03-28 02:00+0100", "2027-03-29 01:30+0100"),
    case(LONDON, "0,20,40 1 * * *", "2027-03-27T12:00+00:00",  # three gap times, one fire
         "2027-03-28 02:00+0100", "2027-03-29 01:00+0100", "2027-03-29 01:20+0100"),
    case(LONDON, "0 1,2 * * *", "2026-03-28T12:00+00:00",  # the gap's fire and 02:00 coincide
         "2026-03-29 02:00+0100",
         "2026-03-30 01:00+0100", "2026-03-30 02:00+0100"),
    # America/New_York: 02:00 EST jumps to 03:00 EDT.
    case(NEW_YORK, "30 2 * * *", "2026-03-07T12:00-05:00",
         "2026-03-08 03:00-0400", "2026-03-09 02:30-0400"),
    case(NEW_YORK, "30 2 * * *", "2026-03-08T01:59:59-05:00",
         "2026-03-08 03:00-0400", "2026-03-09 02:30-0400"),
    case(NEW_YORK, "30 2 * * *", "2026-03-08T03:00-04:00", "2026-03-09 02:30-0400"),
    case(NEW_YORK, "30 2 * * *", "2026-03-08T09:00-04:00", "2026-03-09 02:30-0400"),
    case(NEW_YORK, "0 2 * * *", "2027-03-13T12:00-05:00",
         "2027-03-14 03:00-0400", "2027-03-15 02:00-0400"),
    case(NEW_YORK, "59 2 * * 0", "2027-03-13T12:00-05:00",  # weekly, Sundays
         "2027-03-14 03:00-0400", "2027-03-21 02:59-0400"),
    case(NEW_YORK, "30 2 * 3 0#2", "2026-01-01T00:00-05:00",  # always the DST Sunday
         "2026-03-08 03:00-0400", "2027-03-14 03:00-0400", "2028-03-12 03:00-0400"),
    case(NEW_YORK, "15 30 2 * * *", "2026-03-07T12:00-05:00",  # 6 fields: 02:30:15
         "2026-03-08 03:00-0400", "2026-03-09 02:30-0400"),
    # Australia/Sydney: 02:00 AEST jumps to 03:00 AEDT.
    case(SYDNEY, "30 2 * * *", "2026-10-03T12:00+10:00",
         "2026-10-04 03:00+1100", "2026-10-05 02:30+1100"),
    case(SYDNEY, "30 2 * * *", "2026-10-04T01:59:59+10:00",
         "2026-10-04 03:00+1100", "2026-10-05 02:30+1100"),
    case(SYDNEY, "30 2 * * *", "2026-10-04T03:00+11:00", "2026-10-05 02:30+1100"),
    case(SYDNEY, "30 2 * * *", "2027-10-02T12:00+10:00",
         "2027-10-03 03:00+1100", "2027-10-04 02:30+1100"),
    # Australia/Lord_Howe: 02:00 +10:30 jumps to 02:30 +11:00 (a 30-minute gap).
    case(LORD_HOWE, "15 2 * * *", "2026-10-03T12:00+10:30",
         "2026-10-04 02:30+1100", "2026-10-05 02:15+1100"),
    case(LORD_HOWE, "15 2 * * *", "2026-10-04T01:59:59+10:30",
         "2026-10-04 02:30+1100", "2026-10-05 02:15+1100"),
    case(LORD_HOWE, "15 2 * * *", "2026-10-04T02:30+11:00", "2026-10-05 02:15+1100"),
    case(LORD_HOWE, "45 2 * * *", "2026-10-03T12:00+10:30",  # just after the gap: exists
         "2026-10-04 02:45+1100", "2026-10-05 02:45+1100"),
    case(LORD_HOWE, "0 2 * * *", "2027-10-02T12:00+10:30",
         "2027-10-03 02:30+1100", "2027-10-04 02:00+1100"),
]  # fmt: skip

# -- fixed-time jobs: a wall time in the repeated hour fires once, on the first pass --
REPEAT_FIXED = [
    # Europe/London: 02:00 BST falls back to 01:00 GMT.
    case(LONDON, "30 1 * * *", "2026-10-24T12:00+01:00",
         "2026-10-25 01:30+0100", "2026-10-26 01:30+0000"),
    case(LONDON, "30 1 * * *", "2026-10-25T01:10+01:00",  # first pass, before the fire
         "2026-10-25 01:30+0100", "2026-10-26 01:30+0000"),
    case(LONDON, "30 1 * * *", "2026-10-25T01:45+01:00",  # first pass, after it
         "2026-10-26 01:30+0000"),
    case(LONDON, "30 1 * * *", "2026-10-25T01:10+00:00",  # second pass
         "2026-10-26 01:30+0000"),
    case(LONDON, "30 1 * * *", "2026-10-25T03:00+00:00", "2026-10-26 01:30+0000"),
    case(LONDON, "0 1 * * *", "2027-10-30T12:00+01:00",
         "2027-10-31 01:00+0100", "2027-11-01 01:00+0000"),
    case(LONDON, "0 1 * * *", "2027-10-31T01:00+00:00",  # the second pass's first instant
         "2027-11-01 01:00+0000"),
    # America/New_York: 02:00 EDT falls back to 01:00 EST.
    case(NEW_YORK, "30 1 * * *", "2026-10-31T12:00-04:00",
         "2026-11-01 01:30-0400", "2026-11-02 01:30-0500"),
    case(NEW_YORK, "30 1 * * *", "2026-11-01T01:10-04:00",
         "2026-11-01 01:30-0400", "2026-11-02 01:30-0500"),
    case(NEW_YORK, "30 1 * * *", "2026-11-01T01:45-04:00", "2026-11-02 01:30-0500"),
    case(NEW_YORK, "30 1 * * *", "2026-11-01T01:10-05:00", "2026-11-02 01:30-0500"),
    case(NEW_YORK, "30 1 * * *", "2026-11-01T04:00-05:00", "2026-11-02 01:30-0500"),
    case(NEW_YORK, "0,30 1 * * *", "2027-11-06T12:00-04:00",
         "2027-11-07 01:00-0400", "2027-11-07 01:30-0400", "2027-11-08 01:00-0500"),
    case(NEW_YORK, "0,30 1 * * *", "2027-11-07T01:15-05:00",
         "2027-11-08 01:00-0500", "2027-11-08 01:30-0500"),
    # Australia/Sydney: 03:00 AEDT falls back to 02:00 AEST.
    case(SYDNEY, "30 2 * * *", "2026-04-04T12:00+11:00",
         "2026-04-05 02:30+1100", "2026-04-06 02:30+1000"),
    case(SYDNEY, "30 2 * * *", "2026-04-05T02:10+11:00",
         "2026-04-05 02:30+1100", "2026-04-06 02:30+1000"),
    case(SYDNEY, "30 2 * * *", "2026-04-05T02:45+11:00", "2026-04-06 02:30+1000"),
    case(SYDNEY, "30 2 * * *", "2026-04-05T02:10+10:00", "2026-04-06 02:30+1000"),
    case(SYDNEY, "30 2 * * *", "2027-04-03T12:00+11:00",
         "2027-04-04 02:30+1100", "2027-04-05 02:30+1000"),
    # Australia/Lord_Howe: 02:00 +11:00 falls back to 01:30 +10:30.
    case(LORD_HOWE, "45 1 * * *", "2026-04-04T12:00+11:00",
         "2026-04-05 01:45+1100", "2026-04-06 01:45+1030"),
    case(LORD_HOWE, "45 1 * * *", "2026-04-05T01:35+11:00",
         "2026-04-05 01:45+1100", "2026-04-06 01:45+1030"),
    case(LORD_HOWE, "45 1 * * *", "2026-04-05T01:50+11:00", "2026-04-06 01:45+1030"),
    case(LORD_HOWE, "45 1 * * *", "2026-04-05T01:35+10:30", "2026-04-06 01:45+1030"),
    case(LORD_HOWE, "15 1 * * *", "2027-04-03T12:00+11:00",  # before the repeat: once
         "2027-04-04 01:15+1100", "2027-04-05 01:15+1030"),
]  # fmt: skip

# -- wildcard jobs follow real time: nothing in the gap, both passes of the repeat --
WILDCARD = [
    case(LONDON, "*/20 1 * * *", "2026-03-28T12:00+00:00",
         "2026-03-30 01:00+0100", "2026-03-30 01:20+0100"),
    case(LONDON, "*/30 * * * *", "2026-03-29T00:00+00:00",
         "2026-03-29 00:30+0000", "2026-03-29 02:00+0100", "2026-03-29 02:30+0100"),
    case(LONDON, "*/30 1 * * *", "2026-10-24T12:00+01:00",
         "2026-10-25 01:00+0100", "2026-10-25 01:30+0100",
         "2026-10-25 01:00+0000", "2026-10-25 01:30+0000", "2026-10-26 01:00+0000"),
    case(LONDON, "*/30 1 * * *", "2026-10-25T01:45+01:00",
         "2026-10-25 01:00+0000", "2026-10-25 01:30+0000", "2026-10-26 01:00+0000"),
    case(LONDON, "*/30 1 * * *", "2026-10-25T01:10+00:00",
         "2026-10-25 01:30+0000", "2026-10-26 01:00+0000"),
    case(LONDON, "*/30 1 * * *", "2027-10-31T03:00+00:00", "2027-11-01 01:00+0000"),
    case(LONDON, "0 * * * *", "2027-10-30T23:30+01:00",
         "2027-10-31 00:00+0100", "2027-10-31 01:00+0100", "2027-10-31 01:00+0000",
         "2027-10-31 02:00+0000"),
    case(NEW_YORK, "*/30 2 * * *", "2026-03-07T12:00-05:00",
         "2026-03-09 02:00-0400", "2026-03-09 02:30-0400"),
    case(NEW_YORK, "*/15 * * * *", "2026-03-08T01:40-05:00",
         "2026-03-08 01:45-0500", "2026-03-08 03:00-0400", "2026-03-08 03:15-0400"),
    case(NEW_YORK, "*/30 1 * * *", "2026-10-31T12:00-04:00",
         "2026-11-01 01:00-0400", "2026-11-01 01:30-0400",
         "2026-11-01 01:00-0500", "2026-11-01 01:30-0500", "2026-11-02 01:00-0500"),
    case(NEW_YORK, "*/30 1 * * *", "2026-11-01T01:10-05:00",
         "2026-11-01 01:30-0500", "2026-11-02 01:00-0500"),
    case(NEW_YORK, "* 2 * * *", "2027-03-14T01:58-05:00",  # a whole hour lost
         "2027-03-15 02:00-0400", "2027-03-15 02:01-0400"),
    case(NEW_YORK, "0 */1 * * *", "2027-11-07T00:30-04:00",
         "2027-11-07 01:00-0400", "2027-11-07 01:00-0500", "2027-11-07 02:00-0500"),
    case(SYDNEY, "*/30 2 * * *", "2026-04-04T12:00+11:00",
         "2026-04-05 02:00+1100", "2026-04-05 02:30+1100",
         "2026-04-05 02:00+1000", "2026-04-05 02:30+1000", "2026-04-06 02:00+1000"),
    case(SYDNEY, "*/30 2 * * *", "2026-10-03T12:00+10:00",
         "2026-10-05 02:00+1100", "2026-10-05 02:30+1100"),
    case(SYDNEY, "*/30 2 * * *", "2027-04-04T02:40+11:00",
         "2027-04-04 02:00+1000", "2027-04-04 02:30+1000"),
    case(LORD_HOWE, "*/15 1 * * *", "2026-04-04T12:00+11:00",
         "2026-04-05 01:00+1100", "2026-04-05 01:15+1100", "2026-04-05 01:30+1100",
         "2026-04-05 01:45+1100", "2026-04-05 01:30+1030", "2026-04-05 01:45+1030",
         "2026-04-06 01:00+1030"),
    case(LORD_HOWE, "*/15 2 * * *", "2026-10-03T12:00+10:30",
         "2026-10-04 02:30+1100", "2026-10-04 02:45+1100", "2026-10-05 02:00+1100"),
    case(LORD_HOWE, "*/15 1 * * *", "2027-04-04T01:40+10:30",
         "2027-04-04 01:45+1030", "2027-04-05 01:00+1030"),
]  # fmt: skip

# -- zones without DST: the same expressions fire every day, at the same time --
NO_DST = [
    case("Asia/Kolkata", "30 2 * * *", "2026-03-07T12:00+05:30",
         "2026-03-08 02:30+0530", "2026-03-09 02:30+0530"),
    case("Asia/Kolkata", "30 1 * * *", "2026-10-31T12:00+05:30",
         "2026-11-01 01:30+0530", "2026-11-02 01:30+0530"),
    case("Asia/Kolkata", "*/30 1 * * *", "2027-11-07T00:45+05:30",
         "2027-11-07 01:00+0530", "2027-11-07 01:30+0530", "2027-11-08 01:00+0530"),
    case("UTC", "30 1 * * *", "2026-03-28T12:00+00:00",
         "2026-03-29 01:30+0000", "2026-03-30 01:30+0000"),
    case("UTC", "*/30 1 * * *", "2027-10-31T00:45+00:00",
         "2027-10-31 01:00+0000", "2027-10-31 01:30+0000", "2027-11-01 01:00+0000"),
]  # fmt: skip


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), GAP_FIXED)
def test_fixed_time_in_a_gap_fires_once_at_its_end(
    zone: str, expr: str, after: str, expected: list[str]
) -> None:
    assert fires(zone, expr, after, len(expected)) == expected


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), REPEAT_FIXED)
def test_fixed_time_in_a_repeated_hour_fires_on_the_first_pass(
    zone: str, expr: str, after: str, expected: list[str]
) -> None:
    assert fires(zone, expr, after, len(expected)) == expected


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), WILDCARD)
def test_wildcard_follows_real_time(zone: str, expr: str, after: str, expected: list[str]) -> None:
    assert fires(zone, expr, after, len(expected)) == expected


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), NO_DST)
def test_zones_without_dst(zone: str, expr: str, after: str, expected: list[str]) -> None:
    assert fires(zone, expr, after, len(expected)) == expected


def test_fixed_time_is_read_from_the_fields() -> None:
    assert tw.Cron("30 2 * * *").fixed_time
    assert tw.Cron("0-30/15 2 * * *").fixed_time  # a range is fixed: only '*' is not
    assert tw.Cron("0 30 2 * * *").fixed_time
    assert not tw.Cron("*/15 2 * * *").fixed_time
    assert not tw.Cron("0 * * * *").fixed_time
    assert not tw.Cron("* 30 2 * * *").fixed_time  # seconds first


def test_after_inside_a_gap_as_wall_time_is_refused() -> None:
    with pytest.raises(tw.InvalidTrigger, match="does not exist in America/New_York"):
        tw.Cron("30 2 * * *", tz=NEW_YORK).upcoming("2026-03-08 02:30", 1)


def test_after_as_ambiguous_wall_time_means_the_first_pass_unless_fold() -> None:
    cron = tw.Cron("*/30 1 * * *", tz=NEW_YORK)
    first = cron.upcoming(datetime(2026, 11, 1, 1, 10), 1)
    second = cron.upcoming(datetime(2026, 11, 1, 1, 10, fold=1), 1)
    shown = [t.astimezone(ZoneInfo(NEW_YORK)) for t in first + second]
    assert [f"{t:%H:%M%z}" for t in shown] == ["01:30-0400", "01:30-0500"]


# -- OneTime and Interval around the same transitions -------------------------
def test_one_time_in_a_gap_raises_saying_so() -> None:
    for zone, wall in [
        (LONDON, "2026-03-29 01:30"),
        (NEW_YORK, "2027-03-14 02:00"),
        (SYDNEY, "2026-10-04 02:59"),
        (LORD_HOWE, "2026-10-04 02:15"),
    ]:
        with pytest.raises(tw.InvalidTrigger, match=f"does not exist in {zone}.*gap"):
            tw.OneTime(wall, tz=zone)


def test_one_time_ambiguous_means_first_pass_unless_fold() -> None:
    for zone, wall, first, second in [
        (LONDON, datetime(2026, 10, 25, 1, 30), "+0100", "+0000"),
        (NEW_YORK, datetime(2027, 11, 7, 1, 30), "-0400", "-0500"),
        (SYDNEY, datetime(2026, 4, 5, 2, 30), "+1100", "+1000"),
        (LORD_HOWE, datetime(2026, 4, 5, 1, 45), "+1100", "+1030"),
    ]:
        long_ago = wall.replace(year=2020)
        at_first = tw.OneTime(wall, tz=zone).upcoming(long_ago, 1)
        at_second = tw.OneTime(wall.replace(fold=1), tz=zone).upcoming(long_ago, 1)
        shown = [t.astimezone(ZoneInfo(zone)) for t in at_first + at_second]
        assert [f"{t:%H:%M%z}" for t in shown] == [
            f"{wall:%H:%M}{first}",
            f"{wall:%H:%M}{second}",
        ]


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Elapsed time: every 6 hours of real time, so the wall times shift by the DST step.
        (LONDON, "2026-03-28 20:00", ["03:00+0100", "09:00+0100", "15:00+0100"]),
        (NEW_YORK, "2026-10-31 20:00", ["01:00-0500", "07:00-0500", "13:00-0500"]),
        (LORD_HOWE, "2026-10-03 20:00", ["02:30+1100", "08:30+1100", "14:30+1100"]),
        ("Asia/Kolkata", "2026-03-28 20:00", ["02:00+0530", "08:00+0530", "14:00+0530"]),
    ],
)
def test_interval_is_elapsed_time_across_dst(zone: str, start: str, expected: list[str]) -> None:
    trigger = tw.Interval(hours=6, start=start, tz=zone)
    times = trigger.upcoming(start, 3)
    assert [f"{t.astimezone(ZoneInfo(zone)):%H:%M%z}" for t in times] == expected
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert gaps == {6 * 3600}


def test_interval_in_days_is_24_hours_not_the_same_wall_time() -> None:
    trigger = tw.Interval(days=1, start="2026-03-07 12:00", tz=NEW_YORK)
    times = trigger.upcoming("2026-03-07 12:00", 2)
    shown = [t.astimezone(ZoneInfo(NEW_YORK)) for t in times]
    assert [f"{t:%m-%d %H:%M%z}" for t in shown] == ["03-08 13:00-0400", "03-09 13:00-0400"]


# -- on a scheduler, FakeClock ------------------------------------------------
def scheduler_at(start: str, zone: str) -> tw.Scheduler:
    app = tw.App()

    @app.service("noop")
    def noop(request: tw.Request) -> None:
        return None

    return tw.Scheduler(app, clock=tw.FakeClock(start=start), tz=zone)


def local_runs(runs: list[tw.Run], zone: str) -> list[str]:
    return [f"{r.scheduled_for.astimezone(ZoneInfo(zone)):%m-%d %H:%M%z}" for r in runs]


def test_scheduler_daily_0230_across_spring_forward_runs_once() -> None:
    sched = scheduler_at("2026-03-07T12:00:00-05:00", NEW_YORK)
    sched.add_job("nightly", "noop", tw.Cron("30 2 * * *"))
    runs = sched.advance(days=3)
    assert local_runs(runs, NEW_YORK) == [
        "03-08 03:00-0400",
        "03-09 02:30-0400",
        "03-10 02:30-0400",
    ]
    assert {r.outcome for r in runs} == {"ok"}


def test_scheduler_daily_0130_across_fall_back_runs_once() -> None:
    sched = scheduler_at("2026-10-24T12:00:00+01:00", LONDON)
    sched.add_job("nightly", "noop", tw.Cron("30 1 * * *"))
    runs = sched.advance(days=3)
    assert local_runs(runs, LONDON) == ["10-25 01:30+0100", "10-26 01:30+0000", "10-27 01:30+0000"]


def test_scheduler_quarter_hourly_runs_in_both_passes_of_the_repeated_hour() -> None:
    sched = scheduler_at("2026-11-01T00:50:00-04:00", NEW_YORK)
    sched.add_job("poll", "noop", tw.Cron("*/15 * * * *"))
    runs = sched.advance(hours=3)
    assert local_runs(runs, NEW_YORK) == [
        "11-01 01:00-0400", "11-01 01:15-0400", "11-01 01:30-0400", "11-01 01:45-0400",
        "11-01 01:00-0500", "11-01 01:15-0500", "11-01 01:30-0500", "11-01 01:45-0500",
        "11-01 02:00-0500", "11-01 02:15-0500", "11-01 02:30-0500", "11-01 02:45-0500",
    ]  # fmt: skip
    assert len({r.scheduled_for for r in runs}) == 12


def test_scheduler_restarted_in_the_second_pass_does_not_rerun_a_fixed_time_job() -> None:
    # The job ran at 01:30 BST; a scheduler started during the second pass of
    # 01:00-02:00 (GMT) must not run 01:30 again.
    sched = scheduler_at("2026-10-25T01:10:00+00:00", LONDON)
    sched.add_job("nightly", "noop", tw.Cron("30 1 * * *"))
    assert local_runs(sched.advance(hours=2), LONDON) == []
    assert local_runs(sched.advance(days=1), LONDON) == ["10-26 01:30+0000"]


# -- explain(): the rule that shaped each fire ------------------------------------
@pytest.mark.parametrize(
    ("zone", "expr", "after", "expected"),
    [
        (LONDON, "30 1 * * *", "2026-03-28 12:00", [
            ("03-29 02:00+0100", "01:30 does not exist (the clocks sprang forward); "
                                 "it runs at the first instant after the gap"),
            ("03-30 01:30+0100", None),
        ]),
        (NEW_YORK, "0,30 2 * * *", "2026-03-07 12:00", [
            ("03-08 03:00-0400", "02:00 and 02:30 do not exist (the clocks sprang forward); "
                                 "it runs at the first instant after the gap"),
        ]),
        (NEW_YORK, "*/30 * * * *", "2026-03-08 01:15", [
            ("03-08 01:30-0500", None),
            ("03-08 03:00-0400", "02:00 and 02:30 on 2026-03-08 do not exist (the clocks "
                                 "sprang forward); a wildcard job skips them"),
        ]),
        (LORD_HOWE, "* 2 * * *", "2026-10-03 12:00", [
            ("10-04 02:30+1100", "02:00, 02:01, 02:02, ... on 2026-10-04 do not exist (the "
                                 "clocks sprang forward); a wildcard job skips them"),
        ]),
        (LONDON, "30 1 * * *", "2026-10-24 12:00", [
            ("10-25 01:30+0100", "01:30 happens twice (the clocks fall back); "
                                 "a fixed-time job runs on the first pass only"),
            ("10-26 01:30+0000", None),
        ]),
        (SYDNEY, "15 */1 * * *", "2026-04-05T01:30:00+11:00", [
            ("04-05 02:15+1100", "02:15 happens twice (the clocks fall back); this is the "
                                 "first pass"),
            ("04-05 02:15+1000", "02:15 happens twice (the clocks fell back); this is the "
                                 "second pass"),
            ("04-05 03:15+1000", None),
        ]),
        ("Asia/Kolkata", "30 2 * * *", "2026-03-07 12:00", [("03-08 02:30+0530", None)]),
    ],
)  # fmt: skip
def test_explain_names_the_dst_rule_of_each_fire(
    zone: str, expr: str, after: str, expected: list[tuple[str, str | None]]
) -> None:
    explained = tw.Cron(expr, tz=zone).explain(after, len(expected))
    shown = [(t.astimezone(ZoneInfo(zone)), note) for t, note in explained]
    assert [(f"{t:%m-%d %H:%M%z}", note) for t, note in shown] == expected
