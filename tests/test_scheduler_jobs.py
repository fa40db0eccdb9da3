"""Adding, changing and removing jobs; the errors of bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

import tickwork as tw

from .conftest import utc


def test_add_get_and_list(sched: tw.Scheduler) -> None:
    job = sched.add_job("sync", "noop", tw.Interval(minutes=5), extra="k=v")
    assert job.name == "sync"
    assert job.service == "noop"
    assert job.extra == "k=v"
    assert job.active is True
    assert job.runs == 0
    assert job.next_fire_time == utc(2026, 3, 1, 0, 5)
    assert isinstance(job.trigger, tw.Interval)
    assert sched.get_job("sync") == job
    sched.add_job("another", "noop", tw.Cron("0 * * * *"))
    assert [j.name for j in sched.jobs()] == ["another", "sync"]


def test_unknown_service(sched: tw.Scheduler) -> None:
    with pytest.raises(tw.ServiceNotFound, match="'nope'"):
        sched.add_job("j", "nope", tw.Interval(minutes=1))
    assert sched.jobs() == []


def test_duplicate_and_replace(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    with pytest.raises(tw.DuplicateJob, match="'j'"):
        sched.add_job("j", "noop", tw.Interval(minutes=2))
    assert sched.get_job("j").next_fire_time == utc(2026, 3, 1, 0, 1)
    job = sched.add_job("j", "noop", tw.Interval(minutes=2), replace=True)
    assert job.next_fire_time == utc(2026, 3, 1, 0, 2)
    runs = sched.advance(minutes=2)
    assert [r.scheduled_for for r in runs] == [utc(2026, 3, 1, 0, 2)]  # the old entry is gone


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"misfire": "sometimes"}, ValueError, "sometimes"),
        ({"overlap": "stack"}, ValueError, "stack"),
        ({"grace": 60}, TypeError, "grace"),
        ({"grace": timedelta(seconds=-1)}, ValueError, "grace"),
        ({"jitter": timedelta(0)}, ValueError, "jitter"),
        ({"timeout": timedelta(seconds=-5)}, ValueError, "timeout"),
        ({"retry": 3}, TypeError, "retry"),
        ({"active": "yes"}, TypeError, "active"),
    ],
)
def test_bad_arguments_name_the_bad_part(
    sched: tw.Scheduler, kwargs: dict, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle):
        sched.add_job("j", "noop", tw.Interval(minutes=1), **kwargs)
    assert sched.jobs() == []


def test_bad_trigger_and_name(sched: tw.Scheduler) -> None:
    with pytest.raises(TypeError, match="trigger"):
        sched.add_job("j", "noop", "*/5 * * * *")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        sched.add_job("", "noop", tw.Interval(minutes=1))
    with pytest.raises(tw.InvalidTrigger, match="never fires"):
        sched.add_job(
            "j",
            "noop",
            tw.Interval(minutes=1, start="2020-01-01T00:00:00Z", end="2020-02-01T00:00:00Z"),
        )


def test_job_not_found(sched: tw.Scheduler) -> None:
    for call in (sched.get_job, sched.pause_job, sched.resume_job, sched.remove_job):
        with pytest.raises(tw.JobNotFound, match="'ghost'"):
            call("ghost")
    with pytest.raises(tw.JobNotFound):
        sched.execute_now("ghost")
    with pytest.raises(tw.JobNotFound):
        sched.update_job("ghost", extra="x")


def test_remove_keeps_history(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    sched.advance(minutes=2)
    sched.remove_job("j")
    assert sched.jobs() == []
    assert sched.advance(minutes=5) == []
    assert len(sched.history("j")) == 2


def test_update_trigger_takes_effect_at_once(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=10))
    sched.advance(minutes=3)
    job = sched.update_job("j", trigger=tw.Interval(minutes=1), extra="new")
    assert job.next_fire_time == utc(2026, 3, 1, 0, 4)
    assert job.extra == "new"
    runs = sched.advance(minutes=2)
    assert [r.scheduled_for.minute for r in runs] == [4, 5]


def test_update_keeps_runs_and_never_repeats_a_due_time(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1, start="2026-03-01T00:00:00Z"))
    sched.advance(minutes=2)  # ran 00:00, 00:01, 00:02
    job = sched.update_job("j", trigger=tw.Interval(minutes=1, start="2026-03-01T00:00:00Z"))
    assert job.runs == 3
    assert job.next_fire_time == utc(2026, 3, 1, 0, 3)


def test_bad_update_changes_nothing(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1), extra="old")
    before = sched.get_job("j")
    with pytest.raises(ValueError, match="weird"):
        sched.update_job("j", extra="new", overlap="weird")
    with pytest.raises(tw.ServiceNotFound):
        sched.update_job("j", extra="new", service="missing")
    with pytest.raises(TypeError):
        sched.update_job("j", trigger="5 minutes")  # type: ignore[arg-type]
    assert sched.get_job("j") == before


def test_scheduler_tz_is_the_default_for_triggers_without_one(app: tw.App) -> None:
    clock = tw.FakeClock(start="2026-07-01T00:00:00Z")
    sched = tw.Scheduler(app, clock=clock, tz="America/New_York")
    job = sched.add_job("j", "noop", tw.Cron("0 9 * * *"))
    assert job.next_fire_time == utc(2026, 7, 1, 13)  # 09:00 EDT
    explicit = sched.add_job("k", "noop", tw.Cron("0 9 * * *", tz="UTC"))
    assert explicit.next_fire_time == utc(2026, 7, 1, 9)
    once = sched.add_job("o", "noop", tw.OneTime(at="2026-07-02 09:00"))
    assert once.next_fire_time == utc(2026, 7, 2, 13)


def test_unknown_scheduler_tz(app: tw.App) -> None:
    with pytest.raises(tw.InvalidTrigger, match="Moon/Base"):
        tw.Scheduler(app, tz="Moon/Base")


def test_add_job_paused(sched: tw.Scheduler) -> None:
    job = sched.add_job("j", "noop", tw.Interval(minutes=1), active=False)
    assert job.active is False
    assert job.next_fire_time is None
    assert sched.advance(minutes=10) == []


def test_events(sched: tw.Scheduler) -> None:
    events: list[tw.Event] = []
    unsubscribe = sched.subscribe(events.append)
    sched.add_job("j", "noop", tw.Interval(minutes=1, repeats=2))
    sched.add_job("f", "fail", tw.OneTime(at="2026-03-01T00:00:30Z"))
    sched.pause_job("j")
    sched.resume_job("j")
    sched.advance(minutes=3)
    kinds = [(e.kind, e.job) for e in events]
    assert kinds == [
        ("job_added", "j"),
        ("job_added", "f"),
        ("job_paused", "j"),
        ("job_resumed", "j"),
        ("run_started", "f"),
        ("run_finished", "f"),
        ("job_done", "f"),
        ("run_started", "j"),
        ("run_finished", "j"),
        ("run_started", "j"),
        ("run_finished", "j"),
        ("job_done", "j"),
    ]
    assert events[5].run is not None
    assert events[5].run.outcome == "error"
    unsubscribe()
    sched.add_job("k", "noop", tw.Interval(minutes=1))
    assert len(events) == len(kinds)


def test_a_failing_listener_does_not_stop_the_scheduler(sched: tw.Scheduler) -> None:
    def bad(event: tw.Event) -> None:
        raise RuntimeError("listener bug")

    sched.subscribe(bad)
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    assert [r.outcome for r in sched.advance(minutes=2)] == ["ok", "ok"]


def test_many_removed_jobs_are_compacted_away_and_the_rest_fire_once(
    sched: tw.Scheduler,
) -> None:
    for n in range(3000):
        # Jobs share some instants (a bucket list) and have some to themselves.
        sched.add_job(f"j{n}", "noop", tw.Interval(seconds=60 + n % 7 + (n % 3) * 0.001))
    for n in range(2500):
        sched.remove_job(f"j{n}")
    runs = sched.advance(minutes=3)
    per_job: dict[str, int] = {}
    for run in runs:
        per_job[run.job] = per_job.get(run.job, 0) + 1
    assert set(per_job) == {f"j{n}" for n in range(2500, 3000)}
    assert set(per_job.values()) <= {2, 3}
    assert len(sched._buckets) <= 500  # stale entries were dropped
    assert all(len({r.scheduled_for for r in runs if r.job == j}) == c for j, c in per_job.items())


def test_jobs_page_filters_and_snapshots_only_the_page(sched: tw.Scheduler) -> None:
    for n in range(25):
        sched.add_job(f"job-{n:02d}", "noop", tw.Interval(minutes=1 + n), active=n % 5 != 0)
    page, total = sched.jobs_page(10, 5)
    assert total == 25
    assert [job.name for job in page] == [f"job-{n}" for n in range(10, 15)]
    paused, total_paused = sched.jobs_page(0, 100, active=False)
    assert total_paused == 5
    assert all(not job.active for job in paused)
    found, count = sched.jobs_page(0, 3, text="JOB-2")  # ignoring case
    assert count == 5  # job-20 ... job-24
    assert [job.name for job in found] == ["job-20", "job-21", "job-22"]
    assert sched.jobs_page(0, 10, text="NOOP")[1] == 25  # the service matches too
    found[0].extra = "changed"  # a snapshot: the job itself is untouched
    assert sched.get_job("job-20").extra is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("x" * 201, "at most 200 characters, got 201"),
        ("report-\udcff", "valid Unicode"),
        ("two\nlines", "control characters"),
        ("   ", "non-empty"),
    ],
)
def test_a_bad_job_name_is_refused_and_changes_nothing(
    sched: tw.Scheduler, name: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        sched.add_job(name, "noop", tw.Interval(minutes=1))
    with pytest.raises(ValueError, match=why):
        sched.declare_job(name, "noop", tw.Interval(minutes=1))
    assert sched.jobs() == []
    assert sched.add_job("x" * 200, "noop", tw.Interval(minutes=1)).name == "x" * 200
