"""Done jobs are kept, and declaring jobs is idempotent (docs/policies.md,
"Done jobs" and "Declaring jobs")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import tickwork as tw

from .conftest import utc


def durable(app: tw.App, clock: tw.FakeClock, path: Path) -> tw.Scheduler:
    return tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(path))


def test_a_onetime_job_is_kept_done_with_its_count_and_history(sched: tw.Scheduler) -> None:
    events: list[tuple[str, str]] = []
    sched.subscribe(lambda event: events.append((event.kind, event.job)))
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T09:00:00Z"))
    assert sched.get_job("once").status == "active"
    (run,) = sched.advance(hours=10)
    job = sched.get_job("once")
    assert (job.status, job.active, job.runs, job.next_fire_time) == ("done", True, 1, None)
    assert sched.history("once") == [run]
    assert sched.jobs() == []
    assert [j.name for j in sched.jobs(include_done=True)] == ["once"]
    assert events.count(("job_done", "once")) == 1
    assert sched.advance(days=3) == []


def test_repeats_and_end_finish_a_job_as_done(sched: tw.Scheduler) -> None:
    sched.add_job("three", "noop", tw.Interval(minutes=5, repeats=3))
    sched.add_job("ends", "noop", tw.Interval(minutes=10, end="2026-03-01T00:25:00Z"))
    sched.advance(hours=1)
    assert sched.get_job("three").status == "done"
    assert sched.get_job("three").runs == 3
    assert sched.get_job("ends").status == "done"
    assert sched.get_job("ends").runs == 2


def test_a_done_name_is_taken_until_replaced_or_removed(sched: tw.Scheduler) -> None:
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
    sched.advance(hours=2)
    with pytest.raises(tw.DuplicateJob, match="'once'"):
        sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T05:00:00Z"))
    job = sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T05:00:00Z"), replace=True)
    assert (job.status, job.runs) == ("active", 0)
    assert [r.scheduled_for for r in sched.advance(hours=4)] == [utc(2026, 3, 1, 5)]
    sched.remove_job("once")
    with pytest.raises(tw.JobNotFound):
        sched.get_job("once")


def test_pause_and_resume_leave_a_done_job_done(sched: tw.Scheduler) -> None:
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
    sched.advance(hours=2)
    assert sched.pause_job("once").status == "done"
    assert sched.resume_job("once").status == "done"
    assert sched.advance(days=1) == []


def test_a_done_job_runs_by_hand_without_counting(sched: tw.Scheduler) -> None:
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
    sched.advance(hours=2)
    sched.execute_now("once")
    assert sched.get_job("once").runs == 1
    assert [r.manual for r in sched.history("once")] == [True, False]


def test_a_done_job_given_a_trigger_with_fires_left_is_active_again(
    sched: tw.Scheduler,
) -> None:
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
    sched.advance(hours=2)
    job = sched.update_job("once", trigger=tw.OneTime(at="2026-03-01T06:00:00Z"))
    assert (job.status, job.runs) == ("active", 1)
    assert [r.run_number for r in sched.advance(hours=5)] == [2]
    assert sched.get_job("once").status == "done"


def test_a_done_job_survives_a_restart_and_does_not_run_again(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path
) -> None:
    first = durable(app, clock, tmp_path / "jobs.db")
    first.add_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
    first.add_job("three", "noop", tw.Interval(minutes=5, repeats=3))
    first.advance(hours=2)
    first.store.close()
    again = durable(app, clock, tmp_path / "jobs.db")
    assert {j.name: (j.status, j.runs) for j in again.jobs(include_done=True)} == {
        "once": ("done", 1),
        "three": ("done", 3),
    }
    assert again.advance(days=1) == []
    assert len(again.history("three")) == 3
    again.store.close()


# -- declare_job -------------------------------------------------------------------
def test_declaring_a_new_job_adds_it(sched: tw.Scheduler) -> None:
    job = sched.declare_job("j", "noop", tw.Interval(minutes=5), extra="a=1")
    assert (job.status, job.extra) == ("active", "a=1")
    assert sched.declare_job("p", "noop", tw.Interval(minutes=5), active=False).status == "paused"


def test_declaring_the_same_job_again_changes_nothing(sched: tw.Scheduler) -> None:
    events: list[str] = []
    sched.declare_job("j", "noop", tw.Interval(minutes=5), grace=timedelta(seconds=30))
    sched.advance(minutes=12)
    before = sched.get_job("j")
    sched.subscribe(lambda event: events.append(event.kind))
    sched.clock.advance(minutes=1)  # type: ignore[attr-defined]
    after = sched.declare_job("j", "noop", tw.Interval(minutes=5), grace=timedelta(seconds=30))
    assert after == before  # the grid keeps the start it got when it was added
    assert events == []


def test_redeclaring_a_done_job_leaves_it_done(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path
) -> None:
    runs = 0
    for _ in range(3):  # three deploys of the same code
        sched = durable(app, clock, tmp_path / "jobs.db")
        sched.declare_job("once", "noop", tw.OneTime(at="2026-03-01T01:00:00Z"))
        sched.declare_job("three", "noop", tw.Interval(minutes=5, repeats=3))
        runs += len(sched.advance(hours=2))
        sched.store.close()
    assert runs == 4
    sched = durable(app, clock, tmp_path / "jobs.db")
    assert [(j.name, j.status, j.runs) for j in sched.jobs(include_done=True)] == [
        ("once", "done", 1),
        ("three", "done", 3),
    ]
    sched.store.close()


def test_redeclaring_with_a_change_updates_and_keeps_the_count(sched: tw.Scheduler) -> None:
    sched.declare_job("j", "noop", tw.Interval(minutes=5, repeats=3))
    sched.advance(minutes=11)
    job = sched.declare_job("j", "noop", tw.Interval(minutes=5, repeats=3), extra="v=2")
    assert (job.extra, job.runs, job.status) == ("v=2", 2, "active")
    job = sched.declare_job("j", "noop", tw.Interval(minutes=5, repeats=3))  # extra back to None
    assert job.extra is None
    sched.advance(hours=1)
    # A done job whose new trigger has fires left is active again, its count kept.
    assert sched.get_job("j").status == "done"
    job = sched.declare_job("j", "noop", tw.Interval(minutes=5, repeats=5))
    assert (job.status, job.runs) == ("active", 3)
    assert [r.run_number for r in sched.advance(hours=1)] == [4, 5]


def test_declaring_active_pauses_or_resumes_only_when_given(sched: tw.Scheduler) -> None:
    sched.declare_job("j", "noop", tw.Interval(minutes=5))
    assert sched.declare_job("j", "noop", tw.Interval(minutes=5), active=False).status == "paused"
    assert sched.declare_job("j", "noop", tw.Interval(minutes=5)).status == "paused"
    assert sched.declare_job("j", "noop", tw.Interval(minutes=5), active=True).status == "active"


def test_declaring_bad_input_changes_nothing(sched: tw.Scheduler) -> None:
    sched.declare_job("j", "noop", tw.Interval(minutes=5))
    with pytest.raises(tw.ServiceNotFound, match="'nope'"):
        sched.declare_job("j", "nope", tw.Interval(minutes=5))
    with pytest.raises(ValueError, match="'sometimes'"):
        sched.declare_job("j", "noop", tw.Interval(minutes=5), misfire="sometimes")
    with pytest.raises(TypeError, match="trigger"):
        sched.declare_job("j", "noop", "every minute")  # type: ignore[arg-type]
    assert sched.get_job("j").service == "noop"
