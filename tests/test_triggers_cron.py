"""Cron: the common cases and the DST rules (the exhaustive tables are issue 3's)."""

from __future__ import annotations

import itertools
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tickwork as tw

from .conftest import utc

LONDON = ZoneInfo("Europe/London")


def wall(times: list[datetime], zone: str) -> list[str]:
    """The fire times as wall times in ``zone`` (upcoming() answers in UTC)."""
    return [f"{t.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S%z}" for t in times]


def test_every_five_minutes() -> None:
    assert tw.Cron("*/5 * * * *").upcoming("2026-01-01T00:03:00Z", 3) == [
        utc(2026, 1, 1, 0, 5),
        utc(2026, 1, 1, 0, 10),
        utc(2026, 1, 1, 0, 15),
    ]


def test_weekdays_at_nine_in_new_york() -> None:
    fires = tw.Cron("0 9 * * 1-5", tz="America/New_York").upcoming("2026-11-27 12:00", 3)
    assert wall(fires, "America/New_York") == [
        "2026-11-30 09:00:00-0500",
        "2026-12-01 09:00:00-0500",
        "2026-12-02 09:00:00-0500",
    ]


def test_six_fields_put_seconds_first() -> None:
    fires = tw.Cron("30 */15 * * * *").upcoming("2026-01-01T00:00:00Z", 3)
    assert fires == [
        utc(2026, 1, 1, 0, 0, 30),
        utc(2026, 1, 1, 0, 15, 30),
        utc(2026, 1, 1, 0, 30, 30),
    ]


def test_names_and_sunday_as_seven() -> None:
    by_name = tw.Cron("0 12 * jan sun").upcoming("2026-01-01T00:00:00Z", 2)
    by_seven = tw.Cron("0 12 * 1 7").upcoming("2026-01-01T00:00:00Z", 2)
    assert by_name == by_seven == [utc(2026, 1, 4, 12), utc(2026, 1, 11, 12)]


@pytest.mark.parametrize(
    ("macro", "expr"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros(macro: str, expr: str) -> None:
    after = "2026-02-10T10:10:00Z"
    assert tw.Cron(macro).upcoming(after, 3) == tw.Cron(expr).upcoming(after, 3)


def test_dom_and_dow_both_restricted_means_or() -> None:
    # The 13th, or any Friday.
    fires = tw.Cron("0 0 13 * 5").upcoming("2026-02-01T00:00:00Z", 4)
    assert [f.day for f in fires] == [6, 13, 20, 27]


def test_dom_or_dow_starting_with_star_means_and() -> None:
    # Every other day of the month that is also a Monday.
    fires = tw.Cron("0 0 */2 * 1").upcoming("2026-02-01T00:00:00Z", 3)
    assert all(f.weekday() == 0 and f.day % 2 == 1 for f in fires)
    assert [f.day for f in fires] == [9, 23, 9]


def test_leap_day() -> None:
    assert tw.Cron("0 0 29 2 *").upcoming("2026-01-01T00:00:00Z", 2) == [
        utc(2028, 2, 29),
        utc(2032, 2, 29),
    ]


def test_last_day_of_month_and_nth_weekday() -> None:
    assert [f.day for f in tw.Cron("0 0 L * *").upcoming("2026-01-15T00:00:00Z", 3)] == [31, 28, 31]
    third_fridays = tw.Cron("0 0 * * 5#3").upcoming("2026-01-01T00:00:00Z", 2)
    assert third_fridays == [utc(2026, 1, 16), utc(2026, 2, 20)]


# -- DST ----------------------------------------------------------------------
def test_fixed_time_in_spring_gap_runs_once_after_the_gap() -> None:
    fires = tw.Cron("30 1 * * *", tz="Europe/London").upcoming("2026-03-28 12:00", 3)
    assert [f.astimezone(UTC) for f in fires] == [
        utc(2026, 3, 29, 1, 0),  # 01:30 GMT does not exist; the gap ends at 01:00 UTC
        utc(2026, 3, 30, 0, 30),
        utc(2026, 3, 31, 0, 30),
    ]


def test_fixed_time_in_repeated_hour_runs_once_on_first_pass() -> None:
    fires = tw.Cron("30 1 * * *", tz="Europe/London").upcoming("2026-10-24 12:00", 2)
    assert [f.astimezone(UTC) for f in fires] == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_fixed_time_started_in_second_pass_waits_for_tomorrow() -> None:
    after = utc(2026, 10, 25, 1, 0)  # 01:00 GMT, the second pass of 01:00-02:00
    fires = tw.Cron("30 1 * * *", tz="Europe/London").upcoming(after, 1)
    assert [f.astimezone(UTC) for f in fires] == [utc(2026, 10, 26, 1, 30)]


def test_wildcard_follows_real_time() -> None:
    spring = tw.Cron("*/30 * * * *", tz="Europe/London").upcoming("2026-03-29T00:00:00Z", 3)
    assert [f.astimezone(UTC) for f in spring] == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 30),
    ]
    autumn = tw.Cron("*/30 1 * * *", tz="Europe/London").upcoming("2026-10-24T23:00:00Z", 4)
    assert [f.astimezone(UTC) for f in autumn] == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 0),
        utc(2026, 10, 25, 1, 30),
    ]


@pytest.mark.parametrize(
    "trigger",
    [
        tw.Cron("30 1 * * *", tz="Europe/London"),
        tw.Cron("*/20 * * * *", tz="America/New_York"),
        tw.Interval(minutes=45, start="2026-10-24 23:00", tz="Europe/London"),
        tw.OneTime("2026-10-25 01:30", tz="Europe/London"),
        tw.OneTime("2026-10-25 01:30", tz=LONDON),  # a tzinfo, not a name
    ],
    ids=repr,
)
def test_upcoming_answers_in_utc_for_every_kind(trigger: tw.Trigger) -> None:
    fires = trigger.upcoming("2026-10-24T12:00:00Z", 5)
    assert fires
    assert all(f.tzinfo is UTC for f in fires)


def test_an_ambiguous_wall_time_fire_equals_its_utc_instant() -> None:
    # 01:30 happens twice in London on 25 October 2026; a wildcard job fires on both.
    fires = tw.Cron("30 * * * *", tz=LONDON).upcoming("2026-10-25T01:00:00+01:00", 2)
    assert fires == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]
    assert fires[1] - fires[0] == timedelta(hours=1)


def test_explain_answers_in_utc_with_the_rule_in_wall_time() -> None:
    cron = tw.Cron("30 2 * * *", tz="America/New_York")
    explained = cron.explain("2026-03-07T12:00:00Z", 2)
    assert [when for when, _ in explained] == [utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)]
    assert all(when.tzinfo is UTC for when, _ in explained)
    shown = [when.astimezone(ZoneInfo(cron.tz_name)).isoformat() for when, _ in explained]
    assert shown == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    assert explained[0][1] == (
        "02:30 does not exist (the clocks sprang forward); "
        "it runs at the first instant after the gap"
    )
    assert explained[1][1] is None


def test_start_and_end_bound_fires() -> None:
    trig = tw.Cron("0 * * * *", start="2026-01-01T05:30:00Z", end="2026-01-01T08:00:00Z")
    assert trig.upcoming("2026-01-01T00:00:00Z", 10) == [
        utc(2026, 1, 1, 6),
        utc(2026, 1, 1, 7),
        utc(2026, 1, 1, 8),
    ]


@pytest.mark.parametrize(
    ("expr", "needles"),
    [
        ("61 * * * *", ["minute", "61"]),
        ("0 24 * * *", ["hour", "24"]),
        ("0 0 32 * *", ["day-of-month", "32"]),
        ("0 0 * 13 *", ["month", "13"]),
        ("0 0 * * 8", ["day-of-week", "8"]),
        ("0 0 * * mon-xyz", ["day-of-week", "xyz"]),
        ("*/0 * * * *", ["minute", "step"]),
        ("* * * *", ["5 fields", "4"]),
        ("@reboot", ["@reboot"]),
        ("@often", ["@often"]),
        ("0 0 30 2 *", ["never"]),
        ("0 0 31 4,6,9,11 *", ["never"]),
        ("0 0 1-5W * *", ["day-of-month", "1-5W"]),
        ("0 0 32W * *", ["day-of-month", "32W", "1-31"]),
        ("0 0 * * 9L", ["day-of-week", "9L"]),
        ("0 0 * * 5#6", ["day-of-week", "5#6"]),
        ("0 0 0W * *", ["day-of-month", "0W", "1-31"]),
        ("0 0 \u0661W * *", ["day-of-month", "\u0661W"]),  # only ASCII digits
        ("0 0 * * \u0665L", ["day-of-week", "\u0665L"]),
        ("0 0 * * L", ["day-of-week", "L follows a weekday"]),
        ("0 0 1L * *", ["day-of-month", "1l"]),
        ("0 L * * *", ["hour", "'l'"]),
        ("*,0 * * * *", ["minute", "'*,0'", "'*' cannot be listed"]),
        ("0 5,* * * *", ["hour", "'5,*'", "'*' cannot be listed"]),
        ("0 0 *,1 * *", ["day-of-month", "'*,1'", "'*' cannot be listed"]),
        ("0 0 * 1,* *", ["month", "'1,*'", "'*' cannot be listed"]),
        ("0 0 * * *,1", ["day-of-week", "'*,1'", "'*' cannot be listed"]),
        ("0 0 * * ?,1", ["day-of-week", "'?,1'", "'?' cannot be listed"]),
        ("0 0 * * 5#", ["day-of-week", "'5#'", "week number 1-5 after '#', got ''"]),
        ("0 0 1,,2 * *", ["day-of-month", "'1,,2'", "'' is not a number"]),
        ("* * * * \u00b2", ["day-of-week", "'\u00b2' is not a number"]),  # a digit to isdigit()
        ("*/\u00b2 * * * *", ["minute", "bad step '\u00b2'"]),
    ],
)
def test_bad_expressions_name_the_bad_part(expr: str, needles: list[str]) -> None:
    with pytest.raises(tw.InvalidTrigger) as info:
        tw.Cron(expr)
    for needle in needles:
        assert needle in str(info.value)


def test_bad_zone_and_type() -> None:
    with pytest.raises(tw.InvalidTrigger, match="Atlantis"):
        tw.Cron("* * * * *", tz="Atlantis/Capital")
    with pytest.raises(tw.InvalidTrigger, match="string"):
        tw.Cron(5)  # type: ignore[arg-type]


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    span = st.tuples(value, value).map(lambda ab: f"{min(ab)}-{max(ab)}")
    step = st.integers(1, high - low + 1)
    return st.one_of(
        st.just("*"),
        step.map(lambda n: f"*/{n}"),
        value.map(str),
        span,
        st.tuples(span, step).map(lambda sn: f"{sn[0]}/{sn[1]}"),
        st.lists(value, min_size=1, max_size=4).map(lambda vs: ",".join(map(str, vs))),
    )


_DOM = st.one_of(
    _field(1, 31),
    st.sampled_from(["L", "LW", "1W", "15W", "31W", "L,15", "1,15W"]),
)
_DOW = st.one_of(
    _field(0, 7),
    st.sampled_from(["mon-fri", "SUN", "5#3", "1#1", "0#5", "5L", "friL", "2L,6", "?"]),
)
_VALID_EXPRS = st.one_of(
    st.tuples(_field(0, 59), _field(0, 23), _DOM, _field(1, 12), _DOW).map(" ".join),
    st.tuples(_field(0, 59), _field(0, 59), _field(0, 23), _DOM, _field(1, 12), _DOW).map(" ".join),
    st.sampled_from(["@yearly", "@monthly", "@weekly", "@daily", "@hourly", "0 0 29 2 *"]),
)
_ANY_ZONE = st.sampled_from(
    ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney",
     "Asia/Kolkata", "America/Santiago", "Pacific/Chatham", "America/St_Johns",
     "Africa/Casablanca", "Pacific/Apia", "Europe/Dublin", "Antarctica/Troll"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    expr=_VALID_EXPRS,
    zone=_ANY_ZONE,
    after=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    bounds=st.tuples(st.integers(-400, 400), st.integers(0, 2000)),
    probe=st.floats(0.01, 0.99),
)
def test_property_random_expressions_fire_in_order_within_bounds(
    expr: str, zone: str, after: datetime, bounds: tuple[int, int], probe: float
) -> None:
    try:
        cron = tw.Cron(expr, tz=zone)
    except tw.InvalidTrigger as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert "never matches" in refused  # the only way a generated expression is bad
        return
    at = after.replace(tzinfo=UTC)
    start = at + timedelta(days=bounds[0])
    end = start + timedelta(days=bounds[1])
    bounded = tw.Cron(expr, tz=zone, start=start, end=end)
    for trigger, lowest, highest in [(cron, at, None), (bounded, max(at, start), end)]:
        fires = [f.astimezone(UTC) for f in trigger.upcoming(at, 8)]
        if highest is None:
            assert len(fires) == 8  # an expression that matches keeps matching
        assert all(f > at and f >= lowest for f in fires)
        assert highest is None or all(f <= highest for f in fires)
        assert all(a < b for a, b in itertools.pairwise(fires))
        # Nothing fires between two consecutive fires.
        for a, b in itertools.pairwise(fires):
            between = a + (b - a) * probe
            assert [f.astimezone(UTC) for f in trigger.upcoming(between, 1)] == [b]


_EXPRS = st.sampled_from(
    ["*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 0 29 2 *", "15 */3 1,15 * *", "0 0 L * *",
     "*/20 * * * * *", "0 1 * * 0", "30 1 * * *", "*/30 1 * * *"]
)  # fmt: skip
_ZONES = st.sampled_from(
    ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney",
     "Asia/Kolkata"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    expr=_EXPRS,
    zone=_ZONES,
    after=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
)
def test_property_fires_strictly_increase_after_after(
    expr: str, zone: str, after: datetime
) -> None:
    start = after.replace(tzinfo=UTC)
    fires = tw.Cron(expr, tz=zone).upcoming(start, 6)
    assert len(fires) == 6
    real = [f.astimezone(UTC) for f in fires]
    assert real[0] > start
    assert all(a < b for a, b in itertools.pairwise(real))


@settings(max_examples=500, deadline=timedelta(seconds=2))  # generous: "returns promptly"
@given(text=st.text(alphabet="0123456789*/-,LW#? abcdefjmnorstuvy@", max_size=40))
def test_property_random_text_raises_only_invalid_trigger(text: str) -> None:
    try:
        trig = tw.Cron(text)
    except tw.InvalidTrigger:
        return
    trig.upcoming("2026-01-01T00:00:00Z", 2)


_JUNK_BASES = st.one_of(
    st.sampled_from(
        ["*", "?", "0", "1", "5", "7", "12", "24", "31", "32", "60", "L", "W", "LW", "1W",
         "5L", "mon", "jan", "-1", "00", "99999999999999999999", "\u0663", ""]
    ),
    st.text(max_size=3),
)  # fmt: skip
_JUNK_PART = st.one_of(
    _JUNK_BASES,
    st.tuples(_JUNK_BASES, st.sampled_from("-/#"), _JUNK_BASES).map("".join),
    st.tuples(_JUNK_BASES, _JUNK_BASES, _JUNK_BASES).map(lambda p: f"{p[0]}-{p[1]}/{p[2]}"),
)
_JUNK_FIELD = st.lists(_JUNK_PART, min_size=1, max_size=3).map(",".join)
_FIELD_OR_JUNK = st.one_of(st.sampled_from(["*", "0", "1"]), _JUNK_FIELD)


@settings(max_examples=1000, deadline=timedelta(seconds=2))  # generous: "returns promptly"
@given(fields=st.lists(_FIELD_OR_JUNK, min_size=5, max_size=6))
def test_property_junk_in_the_fields_raises_only_invalid_trigger(fields: list[str]) -> None:
    # Five or six fields, so that the junk reaches the field parser (random
    # text mostly has the wrong number of fields and stops at the count).
    try:
        trig = tw.Cron(" ".join(fields))
    except tw.InvalidTrigger:
        return
    trig.upcoming("2026-01-01T00:00:00Z", 2)
    trig.explain("2026-01-01T00:00:00Z", 2)
    trig.describe()


# -- day extensions, checked against the 2026 calendar ------------------------
def days_of(expr: str, n: int) -> list[str]:
    fires = tw.Cron(expr).upcoming("2025-12-31T12:00:00Z", n)
    return [f"{t:%b %d %a}" + ("" if t.year == 2026 else f" {t.year}") for t in fires]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # the weekday nearest day N, never leaving the month
        ("0 0 1W * *", ["Jan 01 Thu", "Feb 02 Mon", "Mar 02 Mon", "Apr 01 Wed"]),
        ("0 0 1W 8 *", ["Aug 03 Mon"]),  # Sat 1 Aug: Monday the 3rd, not Friday 31 July
        ("0 0 15W 2,3,8 *", ["Feb 16 Mon", "Mar 16 Mon", "Aug 14 Fri"]),
        # not in 30-day months
        ("0 0 31W * *", ["Jan 30 Fri", "Mar 31 Tue", "May 29 Fri", "Jul 31 Fri"]),
        ("0 0 LW * *", ["Jan 30 Fri", "Feb 27 Fri", "Mar 31 Tue", "Apr 30 Thu", "May 29 Fri"]),
        ("0 0 L * *", ["Jan 31 Sat", "Feb 28 Sat", "Mar 31 Tue"]),
        ("0 0 L,15 * *", ["Jan 15 Thu", "Jan 31 Sat", "Feb 15 Sun"]),
        # the last (or nth) such weekday of the month
        ("0 0 * * 5L", ["Jan 30 Fri", "Feb 27 Fri", "Mar 27 Fri", "Apr 24 Fri", "May 29 Fri"]),
        ("0 0 * * FRIL", ["Jan 30 Fri", "Feb 27 Fri"]),
        ("0 0 * * 5L,1", ["Jan 05 Mon", "Jan 12 Mon", "Jan 19 Mon", "Jan 26 Mon", "Jan 30 Fri"]),
        ("0 0 * * 0#5", ["Mar 29 Sun", "May 31 Sun", "Aug 30 Sun", "Nov 29 Sun"]),
        ("0 0 * * 7#1", ["Jan 04 Sun", "Feb 01 Sun"]),
        # both day fields restricted: either; one starting with '*': both
        ("0 0 15W * 5L", ["Jan 15 Thu", "Jan 30 Fri", "Feb 16 Mon", "Feb 27 Fri"]),
        ("0 0 1-7 * */5", ["Jan 02 Fri", "Jan 04 Sun", "Feb 01 Sun", "Feb 06 Fri"]),
        ("0 0 * * 1#2", ["Jan 12 Mon", "Feb 09 Mon"]),
        # days 1, 11, 21 and 31 that are also the month's last Tuesday
        ("0 0 */10 * 2L", ["Mar 31 Tue", "Aug 31 Tue 2027"]),
    ],
)
def test_day_extensions(expr: str, expected: list[str]) -> None:
    assert days_of(expr, len(expected)) == expected


# -- describe() -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("15 30 8 * * *", "At 08:30:15"),
        ("@daily", "At 00:00"),
        ("0 12 * * 5#3", "At 12:00, on the third Friday of the month"),
        ("0 0 LW * *", "At 00:00, on the last weekday of the month"),
    ],
)
def test_describe_in_words_with_cron_descriptor(expr: str, words: str) -> None:
    assert tw.Cron(expr, tz="Europe/London").describe() == f"{words} (Europe/London)"


def test_describe_falls_back_without_cron_descriptor_or_for_mixed_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tickwork.triggers._cron import in_words

    assert tw.Cron("0 0 * * 5L,1").describe() == "cron '0 0 * * 5L,1' in UTC"
    in_words.cache_clear()
    monkeypatch.setitem(sys.modules, "cron_descriptor", None)  # import fails
    try:
        assert tw.Cron("0 9 * * 1-5", tz="Asia/Kolkata").describe() == (
            "cron '0 9 * * 1-5' in Asia/Kolkata"
        )
    finally:
        in_words.cache_clear()
