from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tickwork as tw

from .conftest import utc


def test_fires_once() -> None:
    trig = tw.OneTime(at="2026-12-01T09:00:00Z")
    assert trig.upcoming("2026-01-01T00:00:00Z", 5) == [utc(2026, 12, 1, 9)]
    assert trig.upcoming("2026-12-01T09:00:00Z") == []


def test_string_is_wall_time_in_tz() -> None:
    trig = tw.OneTime(at="2026-12-01 09:00", tz="Europe/London")
    assert trig.at == datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Europe/London"))
    summer = tw.OneTime(at="2026-07-01 09:00", tz="Europe/London")
    assert summer.at.astimezone(UTC) == utc(2026, 7, 1, 8)


def test_aware_input_keeps_its_instant() -> None:
    at = datetime(2026, 5, 5, 12, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert tw.OneTime(at=at, tz="America/New_York").at == at


def test_gap_time_raises() -> None:
    with pytest.raises(tw.InvalidTrigger, match="gap"):
        tw.OneTime(at="2026-03-29 01:30", tz="Europe/London")
    with pytest.raises(tw.InvalidTrigger, match="does not exist"):
        tw.OneTime(at=datetime(2026, 3, 8, 2, 30), tz="America/New_York")


def test_ambiguous_time_is_first_pass_unless_fold() -> None:
    first = tw.OneTime(at=datetime(2026, 10, 25, 1, 30), tz="Europe/London")
    second = tw.OneTime(at=datetime(2026, 10, 25, 1, 30, fold=1), tz="Europe/London")
    assert first.at.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert second.at.astimezone(UTC) == utc(2026, 10, 25, 1, 30)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"at": "yesterday-ish"}, "at"),
        ({"at": 12345}, "at"),
        ({"at": "2026-01-01", "tz": "Nowhere/City"}, "Nowhere/City"),
        ({"at": "2026-01-01", "tz": ""}, "tz"),
    ],
)
def test_bad_input(kwargs: dict, needle: str) -> None:
    with pytest.raises(tw.InvalidTrigger, match=needle):
        tw.OneTime(**kwargs)


@given(
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_property_fires_at_most_once_and_after(at: datetime, after: datetime) -> None:
    trig = tw.OneTime(at=at.replace(tzinfo=UTC))
    fires = trig.upcoming(after.replace(tzinfo=UTC), 3)
    if at > after:
        assert fires == [at.replace(tzinfo=UTC)]
    else:
        assert fires == []


def test_round_trip_keeps_instant() -> None:
    from tickwork.triggers import trigger_from_dict

    trig = tw.OneTime(at="2026-12-01 09:00", tz="America/New_York")
    again = trigger_from_dict(trig.to_dict())
    assert again.upcoming("2026-01-01T00:00:00Z") == trig.upcoming("2026-01-01T00:00:00Z")
    assert again.at - trig.at == timedelta(0)


def test_an_ambiguous_wall_time_equals_its_utc_instant() -> None:
    # 01:30 on 25 October 2026 happens twice in London: 00:30 UTC, then 01:30 UTC.
    first = tw.OneTime(datetime(2026, 10, 25, 1, 30), tz="Europe/London")
    second = tw.OneTime(datetime(2026, 10, 25, 1, 30, fold=1), tz="Europe/London")
    assert first.upcoming("2026-10-01T00:00:00Z") == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]
    assert second.upcoming("2026-10-01T00:00:00Z") == [datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]
    assert first.upcoming("2026-10-01T00:00:00Z")[0].tzinfo is UTC
