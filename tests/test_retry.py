"""Retry's bounds: every wait is representable, bad values are refused by name."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest

import tickwork as tw

from .conftest import utc

SECOND = 1_000_000


@pytest.mark.parametrize(
    "retry",
    [
        tw.Retry(attempts=1000, backoff=timedelta(seconds=1), factor=2,
                 max_backoff=timedelta(seconds=60)),
        tw.Retry(attempts=10_000, backoff=timedelta(days=1), factor=1000),
        tw.Retry(attempts=10_000, backoff=timedelta(microseconds=1), factor=1.0001),
        tw.Retry(attempts=3, backoff=timedelta(seconds=1), factor=1000, max_backoff=None),
        tw.Retry(attempts=5, backoff=timedelta(seconds=90), max_backoff=timedelta(seconds=30)),
    ],
)  # fmt: skip
def test_delay_never_raises_grows_and_stays_capped(retry: tw.Retry) -> None:
    cap = retry.max_backoff if retry.max_backoff is not None else tw.Retry.MAX_WAIT
    cap_us = cap // timedelta(microseconds=1)
    delays = [retry.delay_us(n) for n in range(1, 2001)]
    assert all(isinstance(d, int) for d in delays)
    assert delays == sorted(delays)
    assert max(delays) <= cap_us
    assert retry.delay_us(10**9) == cap_us


def test_delay_doubles_then_holds_at_max_backoff() -> None:
    retry = tw.Retry(
        attempts=1000, backoff=timedelta(seconds=1), factor=2, max_backoff=timedelta(seconds=60)
    )
    assert [retry.delay_us(n) // SECOND for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry.delay_us(48) == retry.delay_us(2000) == 60 * SECOND


def test_without_max_backoff_waits_stop_at_one_day() -> None:
    retry = tw.Retry(attempts=100, backoff=timedelta(seconds=1), factor=10)
    assert retry.delay_us(3) == 100 * SECOND
    assert retry.delay_us(99) == 86_400 * SECOND


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attempts": 10_001}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"factor": float("nan")}, "factor"),
        ({"factor": float("inf")}, "factor"),
        ({"factor": 1001}, "factor"),
        ({"factor": "2"}, "factor"),
        ({"backoff": timedelta(days=1, microseconds=1)}, "backoff"),
        ({"backoff": 5}, "backoff"),
        ({"max_backoff": timedelta(days=2)}, "max_backoff"),
        ({"max_backoff": timedelta.max}, "max_backoff"),
    ],
)
def test_out_of_range_values_are_refused_by_name(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"Retry {field} must be") as info:
        tw.Retry(**kwargs)
    assert repr(next(iter(kwargs.values()))) in str(info.value)


def test_the_bounds_themselves_are_allowed() -> None:
    retry = tw.Retry(
        attempts=10_000, backoff=timedelta(days=1), factor=1000, max_backoff=timedelta(days=1)
    )
    assert tw.Retry.from_dict(retry.to_dict()) == retry


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attempts": 1e300}, "attempts"),
        ({"attempts": float("inf")}, "attempts"),
        ({"attempts": "3"}, "attempts"),
        ({"attempts": 20_000}, "attempts"),
        ({"factor": float("nan")}, "factor"),
        ({"factor": None}, "factor"),
        ({"backoff": 1e20}, "backoff"),
        ({"backoff": "1"}, "backoff"),
        ({"backoff": float("nan")}, "backoff"),
        ({"max_backoff": 1e20}, "max_backoff"),
        ({"max_backoff": -1}, "max_backoff"),
    ],
)
def test_bad_stored_data_gives_the_same_clean_errors(change: dict[str, Any], field: str) -> None:
    data = {"attempts": 3, "backoff": 1.0, "factor": 2.0, "max_backoff": None} | change
    with pytest.raises(ValueError, match=rf"Retry {field} must be"):
        tw.Retry.from_dict(data)


@pytest.mark.parametrize("missing", ["attempts", "backoff", "factor"])
def test_stored_data_without_a_field_names_it(missing: str) -> None:
    data = {"attempts": 3, "backoff": 1.0, "factor": 2.0}
    del data[missing]
    with pytest.raises(ValueError, match=repr(missing)):
        tw.Retry.from_dict(data)


def test_stored_data_round_trips() -> None:
    retry = tw.Retry(attempts=4, backoff=timedelta(seconds=5), max_backoff=timedelta(minutes=1))
    assert tw.Retry.from_dict(retry.to_dict()) == retry
    assert tw.Retry.from_dict(retry.to_dict() | {"attempts": 4.0}) == retry


def test_a_long_run_of_failures_keeps_retrying_at_max_backoff(
    sched: tw.Scheduler, clock: tw.FakeClock
) -> None:
    retry = tw.Retry(
        attempts=1000, backoff=timedelta(seconds=1), factor=2, max_backoff=timedelta(seconds=60)
    )
    sched.add_job("j", "fail", tw.OneTime(at="2026-03-01T00:00:10Z"), retry=retry)
    sched.add_job("beat", "noop", tw.Interval(hours=1))
    runs = [r for r in sched.advance(hours=17) if r.job == "j"]
    assert [r.attempt for r in runs] == list(range(1, 1001))
    assert {r.outcome for r in runs} == {"error"}
    starts = [r.started_us or 0 for r in runs]
    gaps = [(b - a) // SECOND for a, b in itertools.pairwise(starts)]
    assert gaps[:7] == [1, 2, 4, 8, 16, 32, 60]
    assert set(gaps[6:]) == {60}  # past attempt 48 too: no overflow, no stall
    assert runs[-1].started_at == utc(2026, 3, 1, 0, 0, 10) + timedelta(seconds=63 + 60 * 993)
    # The job is free again: its later fires are not wedged behind a stuck retry.
    assert "j" not in {job.name for job in sched.jobs()}  # a spent OneTime is done
    beats = [r for r in sched.history("beat", limit=100) if r.outcome == "ok"]
    assert len(beats) == 17


def test_an_interval_job_retrying_for_long_still_fires_after(sched: tw.Scheduler) -> None:
    retry = tw.Retry(
        attempts=100, backoff=timedelta(seconds=1), factor=2, max_backoff=timedelta(seconds=60)
    )
    sched.add_job("j", "fail", tw.Interval(hours=2), retry=retry)
    runs = sched.advance(hours=6)
    firsts = [r for r in runs if r.attempt == 1]
    # Each fire's 100 attempts take about 94 minutes, inside the 2 h interval:
    # every fire runs, none is skipped as busy.
    assert [(r.scheduled_for.hour, r.outcome) for r in firsts] == [
        (2, "error"), (4, "error"), (6, "error")
    ]  # fmt: skip
    assert max(r.attempt for r in runs) == 100
    assert "skipped" not in {r.outcome for r in runs}
