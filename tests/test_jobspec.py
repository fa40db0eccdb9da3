"""Job specs: the JSON form of jobs shared by the HTTP API, config files and the CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import tickwork as tw
from tickwork._jobspec import SpecError, job_to_data, parse_job_spec, run_to_data


def spec(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "sync",
        "service": "noop",
        "trigger": {"type": "interval", "minutes": 5},
    }
    base.update(fields)
    return base


def test_a_full_spec_becomes_add_job_arguments(sched: tw.Scheduler) -> None:
    parsed = parse_job_spec(
        spec(
            extra="region=eu",
            misfire="skip",
            overlap="queue",
            grace=0,
            jitter=1.5,
            timeout=30,
            retry={"attempts": 2, "backoff": 3, "factor": 1, "max_backoff": None},
            active=False,
        )
    )
    assert parsed.name == "sync"
    job = sched.add_job("sync", "noop", parsed.trigger, **parsed.add_kwargs())  # type: ignore[arg-type]
    assert job.misfire == "skip"
    assert job.overlap == "queue"
    assert job.grace == timedelta(0)
    assert job.jitter == timedelta(seconds=1.5)
    assert job.timeout == timedelta(seconds=30)
    assert job.retry == tw.Retry(attempts=2, backoff=timedelta(seconds=3), factor=1)
    assert job.active is False
    assert job.extra == "region=eu"


def test_job_data_round_trips(sched: tw.Scheduler) -> None:
    job = sched.add_job(
        "nightly", "noop", tw.Cron("30 2 * * *", tz="Europe/London"), extra={"a": [1, 2]},
        timeout=timedelta(seconds=9),
    )  # fmt: skip
    data = job_to_data(job)
    assert data["trigger"] == {"type": "cron", "expr": "30 2 * * *", "tz": "Europe/London"}
    assert data["trigger_text"] == job.trigger.describe()
    assert data["next_fire_time"] == job.next_fire_time.isoformat()  # type: ignore[union-attr]
    again = parse_job_spec(
        {
            k: v
            for k, v in data.items()
            if k not in ("trigger_text", "status", "next_fire_time", "runs")
        }
    )
    assert again.trigger == job.trigger
    assert again.extra == {"a": [1, 2]}
    assert again.options["timeout"] == timedelta(seconds=9)


def test_times_show_in_the_zone_asked_for(sched: tw.Scheduler) -> None:
    from zoneinfo import ZoneInfo

    job = sched.add_job("j", "noop", tw.OneTime(at="2026-07-01 09:00", tz="Europe/London"))
    assert job_to_data(job, ZoneInfo("Europe/London"))["next_fire_time"] == (
        "2026-07-01T09:00:00+01:00"
    )
    [run] = sched.advance(days=200)
    data = run_to_data(run, ZoneInfo("America/New_York"))
    assert data["scheduled_for"] == "2026-07-01T04:00:00-04:00"
    assert data["outcome"] == "ok"
    assert data["cid"] == run.cid


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ([], "job", "must be an object"),
        ({"name": "a", "service": "s"}, "trigger", "is required"),
        (spec(name=""), "name", "non-empty string"),
        (spec(service=3), "service", "non-empty string"),
        (spec(trigger="*/5 * * * *"), "trigger", "must be an object"),
        (spec(trigger={"type": "weekly"}), "trigger", "unknown trigger type 'weekly'"),
        (spec(trigger={"type": "cron", "expr": "61 * * * *"}), "trigger", "minute field"),
        (spec(trigger={"type": "interval"}), "trigger", "non-zero length"),
        (spec(trigger={"type": "interval", "minutes": 1, "bogus": 2}), "trigger", "bogus"),
        (spec(misfire="later"), "misfire", "coalesce, skip, all"),
        (spec(overlap="never"), "overlap", "skip, queue, allow"),
        (spec(timeout=0), "timeout", "> 0"),
        (spec(grace=-1), "grace", ">= 0"),
        (spec(jitter="5s"), "jitter", "number of seconds"),
        (spec(retry={"attempts": 0}), "retry.attempts", "must be 1 to 1000, got 0"),
        (spec(retry={"tries": 2}), "retry.tries", "unknown field"),
        (spec(active="yes"), "active", "true or false"),
        (spec(timeout=1e300), "timeout", "too long"),
        (spec(retry={"backoff": 1e300}), "retry.backoff", "too long"),
        *[
            (spec(**{name: value}), name, words)
            for name in ("grace", "jitter", "timeout")
            for value, words in [
                (float("nan"), "must be a finite number of seconds, got nan"),
                (float("inf"), "must be a finite number of seconds, got inf"),
                (float("-inf"), "must be a finite number of seconds, got -inf"),
                (-0.5, ">= 0" if name == "grace" else "> 0"),
                (1e300, r"1e\+300 seconds is too long: at most 1000000000"),
                (10**30, "seconds is too long: at most 1000000000"),
                (1_000_000_001, "seconds is too long"),
            ]
        ],
        (spec(retry={"backoff": float("nan")}), "retry.backoff", "finite number"),
        (spec(retry={"max_backoff": float("inf")}), "retry.max_backoff", "finite number"),
        (spec(retry={"factor": float("nan")}), "retry.factor", "from 1 to 1000, got nan"),
        (spec(retry={"factor": float("inf")}), "retry.factor", "from 1 to 1000, got inf"),
        (spec(retry={"factor": 1e308}), "retry.factor", r"from 1 to 1000, got 1e\+308"),
        (spec(retry={"factor": True}), "retry.factor", "must be a number, got True"),
        (spec(retry={"factor": 0.5}), "retry.factor", "from 1 to 1000"),
        (spec(retry={"attempts": 10**30}), "retry.attempts", "must be 1 to 1000"),
        (spec(retry={"attempts": 1001}), "retry.attempts", "must be 1 to 1000"),
        (spec(retry={"attempts": 3.0}), "retry.attempts", "whole number"),
        (spec(retry={"backoff": 1e9}), "retry.backoff", "from 0 to 1 day"),
        (spec(retry={"max_backoff": 90_000}), "retry.max_backoff", "1 day"),
        (spec(when="now"), "when", "unknown field"),
    ],
)
def test_bad_specs_name_the_field(data: object, field: str, words: str) -> None:
    with pytest.raises(SpecError, match=words) as info:
        parse_job_spec(data)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "retry",
    [
        {"attempts": 1000, "factor": 1, "backoff": 5},
        {"attempts": 31, "factor": 2},  # the waits stop growing at one day
        {"attempts": 200, "factor": 2, "max_backoff": 60},
        {"attempts": 2, "factor": 1000, "backoff": 86_400},
    ],
)
def test_retries_at_the_limits_are_taken(retry: dict[str, Any]) -> None:
    parsed = parse_job_spec(spec(retry=retry))
    assert parsed.options["retry"].attempts == retry["attempts"]


def test_durations_at_the_limit_are_taken() -> None:
    parsed = parse_job_spec(spec(grace=1_000_000_000, jitter=1e9, timeout=0.001))
    assert parsed.options["grace"] == timedelta(seconds=1_000_000_000)
    assert parsed.options["jitter"] == timedelta(seconds=1_000_000_000)
    assert parsed.options["timeout"] == timedelta(milliseconds=1)


def test_a_partial_spec_updates_only_what_it_gives(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), extra="keep", misfire="skip")
    update = parse_job_spec({"trigger": {"type": "interval", "minutes": 7}}, partial=True)
    job = sched.update_job("j", **update.update_kwargs())
    assert job.trigger.to_dict()["minutes"] == 7
    assert job.extra == "keep"
    assert job.misfire == "skip"
    cleared = parse_job_spec({"extra": None}, partial=True)
    assert sched.update_job("j", **cleared.update_kwargs()).extra is None
