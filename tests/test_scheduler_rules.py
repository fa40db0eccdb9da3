"""The rules of SEMANTICS.md, each on a FakeClock: one-time, interval, repeats,
misfires, pause, execute-now, extra, errors and clock jumps."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

import tickwork as tw

from .conftest import utc
from .helpers import wait_for


def times(runs: list[tw.Run]) -> list[tuple[str, str | None]]:
    return [(f"{r.scheduled_for:%H:%M}", r.outcome) for r in runs]


# -- OneTime ------------------------------------------------------------------
def test_onetime_fires_once_then_is_done_and_keeps_history(sched: tw.Scheduler) -> None:
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T09:00:00Z"))
    runs = sched.advance(hours=10)
    assert times(runs) == [("09:00", "ok")]
    assert runs[0].started_at == utc(2026, 3, 1, 9)
    done = sched.get_job("once")  # kept, as done (docs/policies.md, "Done jobs")
    assert (done.status, done.runs, done.next_fire_time) == ("done", 1, None)
    assert sched.jobs() == []
    assert [job.name for job in sched.jobs(include_done=True)] == ["once"]
    assert sched.advance(days=2) == []
    assert [r.cid for r in sched.history("once")] == [runs[0].cid]


@pytest.mark.parametrize(
    ("misfire", "outcome"), [("coalesce", "ok"), ("all", "ok"), ("skip", "missed")]
)
def test_onetime_in_the_past_is_a_misfire_judged_at_add_time(
    sched: tw.Scheduler, misfire: str, outcome: str
) -> None:
    sched.add_job("late", "noop", tw.OneTime(at="2026-02-28T23:00:00Z"), misfire=misfire)
    runs = sched.run_pending()
    assert times(runs) == [("23:00", outcome)]
    assert sched.jobs() == []


def test_onetime_just_past_within_grace_runs_normally(sched: tw.Scheduler) -> None:
    sched.add_job("late", "noop", tw.OneTime(at="2026-02-28T23:59:30Z"), misfire="skip")
    assert times(sched.run_pending()) == [("23:59", "ok")]


# -- Interval -----------------------------------------------------------------
def test_interval_without_start_first_fires_one_interval_after_adding(sched: tw.Scheduler) -> None:
    sched.advance(seconds=7)
    job = sched.add_job("j", "noop", tw.Interval(minutes=5))
    assert job.next_fire_time == utc(2026, 3, 1, 0, 5, 7)
    runs = sched.advance(minutes=15)
    assert [r.scheduled_for for r in runs] == [
        utc(2026, 3, 1, 0, 5, 7),
        utc(2026, 3, 1, 0, 10, 7),
        utc(2026, 3, 1, 0, 15, 7),
    ]


def test_interval_start_now_runs_at_once(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5, start="2026-03-01T00:00:00Z"))
    assert times(sched.run_pending()) == [("00:00", "ok")]


def test_interval_grid_points_before_adding_are_not_misfires(sched: tw.Scheduler) -> None:
    job = sched.add_job(
        "j", "noop", tw.Interval(minutes=7, start="2026-02-01T00:00:00Z"), misfire="skip"
    )
    # The first grid point at or after 2026-03-01 00:00: 28 days = 5760 * 7 minutes exactly.
    assert job.next_fire_time == utc(2026, 3, 1, 0, 0)
    sched.clock.advance(minutes=1)  # type: ignore[attr-defined]
    job = sched.add_job(
        "k", "noop", tw.Interval(minutes=7, start="2026-02-01T00:00:00Z"), misfire="skip"
    )
    assert job.next_fire_time == utc(2026, 3, 1, 0, 7)
    assert all(r.outcome != "missed" for r in sched.advance(minutes=10))


def test_interval_grid_never_drifts_when_runs_start_late(app: tw.App, clock: tw.FakeClock) -> None:
    @app.service("slow")
    def slow(request: tw.Request) -> None:
        clock.advance(seconds=40)  # each run takes 40 s of (fake) time

    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("j", "slow", tw.Interval(minutes=1))
    runs = sched.advance(minutes=5)
    assert [r.scheduled_for.second for r in runs] == [0] * len(runs)
    assert [r.scheduled_for.minute for r in runs] == [1, 2, 3, 4, 5]


def test_interval_end_finishes_the_job(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=10, end="2026-03-01T00:25:00Z"))
    runs = sched.advance(hours=1)
    assert times(runs) == [("00:10", "ok"), ("00:20", "ok")]
    assert sched.jobs() == []
    assert len(sched.history("j")) == 2


# -- repeats --------------------------------------------------------------------
def test_repeats_then_done(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5, repeats=3))
    runs = sched.advance(hours=1)
    assert times(runs) == [("00:05", "ok"), ("00:10", "ok"), ("00:15", "ok")]
    assert [r.run_number for r in runs] == [1, 2, 3]
    assert sched.jobs() == []


def test_repeats_a_coalesced_run_counts_once(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5, repeats=3))
    sched.clock.set("2026-03-01T01:00:00Z")  # type: ignore[attr-defined]
    runs = sched.run_pending()
    assert times(runs) == [("01:00", "ok")]
    assert sched.get_job("j").runs == 1
    assert times(sched.advance(minutes=30)) == [("01:05", "ok"), ("01:10", "ok")]
    assert sched.jobs() == []


def test_repeats_missed_and_manual_runs_do_not_count(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5, repeats=2), misfire="skip")
    sched.execute_now("j")
    sched.clock.set("2026-03-01T00:17:00Z")  # type: ignore[attr-defined]
    (missed,) = sched.run_pending()  # 00:05, 00:10, 00:15: one record
    assert (missed.outcome, missed.error) == (
        "missed",
        "missed 3 due times, 2026-03-01T00:05:00+00:00 to 2026-03-01T00:15:00+00:00",
    )
    assert sched.get_job("j").runs == 0
    runs = sched.advance(minutes=20)
    assert times(runs) == [("00:20", "ok"), ("00:25", "ok")]
    assert sched.jobs() == []


def test_repeats_skipped_runs_do_not_count(app: tw.App, clock: tw.FakeClock) -> None:
    import threading

    release = threading.Event()

    @app.service("block")
    def block(request: tw.Request) -> None:
        release.wait(10)

    sched = tw.Scheduler(app, clock=clock, executor=tw.ThreadExecutor(max_workers=2))
    try:
        sched.add_job("j", "block", tw.Interval(minutes=1, repeats=2))
        first = sched.advance(minutes=1)
        skipped = sched.advance(minutes=1)
        assert [r.outcome for r in skipped] == ["skipped"]
        release.set()
        wait_for(lambda: first[0].outcome == "ok")
        assert sched.get_job("j").runs == 1
        sched.advance(minutes=1)
        wait_for(lambda: sched.jobs() == [])
    finally:
        release.set()
        sched.shutdown()


# -- misfires -----------------------------------------------------------------
def test_coalesce_folds_missed_fires_into_one_run_for_the_latest(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5))
    sched.clock.set("2026-03-01T01:02:00Z")  # type: ignore[attr-defined]
    runs = sched.run_pending()
    assert times(runs) == [("01:00", "ok")]
    assert runs[0].started_at == utc(2026, 3, 1, 1, 2)
    assert sched.get_job("j").next_fire_time == utc(2026, 3, 1, 1, 5)


def test_skip_records_the_missed_fires_of_a_catch_up_once(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), misfire="skip")
    sched.clock.set("2026-03-01T00:21:00Z")  # type: ignore[attr-defined]
    runs = sched.run_pending()
    assert times(runs) == [("00:05", "missed"), ("00:20", "ok")]
    assert runs[0].error == (
        "missed 3 due times, 2026-03-01T00:05:00+00:00 to 2026-03-01T00:15:00+00:00"
    )
    assert sched.get_job("j").next_fire_time == utc(2026, 3, 1, 0, 25)


def test_all_runs_every_missed_fire_oldest_first(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), misfire="all")
    sched.clock.set("2026-03-01T00:16:00Z")  # type: ignore[attr-defined]
    runs = sched.run_pending()
    assert times(runs) == [("00:05", "ok"), ("00:10", "ok"), ("00:15", "ok")]


@pytest.mark.parametrize(
    "trigger",
    [
        tw.Interval(minutes=5, repeats=3),
        tw.Interval(minutes=5, start="2026-03-01T00:05:00Z", end="2026-03-01T00:15:00Z"),
    ],
)
def test_all_runs_every_missed_fire_up_to_the_last_one(
    sched: tw.Scheduler, trigger: tw.Interval
) -> None:
    sched.add_job("j", "noop", trigger, misfire="all")
    sched.clock.set("2026-03-01T00:30:00Z")  # type: ignore[attr-defined]
    runs = sched.run_pending()
    assert times(runs) == [("00:05", "ok"), ("00:10", "ok"), ("00:15", "ok")]
    assert sched.jobs() == []


def test_grace_late_fires_within_it_run_normally(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), misfire="skip", grace=timedelta(minutes=2))
    sched.clock.set("2026-03-01T00:06:59Z")  # type: ignore[attr-defined]
    assert times(sched.run_pending()) == [("00:05", "ok")]
    sched.clock.set("2026-03-01T00:12:01Z")  # type: ignore[attr-defined]
    assert times(sched.run_pending()) == [("00:10", "missed")]


def test_grace_none_never_misses(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), misfire="skip", grace=None)
    sched.clock.set("2026-03-01T00:11:00Z")  # type: ignore[attr-defined]
    assert times(sched.run_pending()) == [("00:05", "ok"), ("00:10", "ok")]


def test_clock_jumping_back_never_reruns_a_due_time(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5))
    assert len(sched.advance(minutes=10)) == 2
    sched.clock.set("2026-03-01T00:00:00Z")  # type: ignore[attr-defined]
    assert sched.advance(minutes=10) == []
    assert times(sched.advance(minutes=5)) == [("00:15", "ok")]


def test_clock_jumping_forward_makes_misfires(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Cron("0 * * * *"), misfire="skip")
    sched.clock.set("2026-03-01T03:30:00Z")  # type: ignore[attr-defined]
    (missed,) = sched.run_pending()
    assert (f"{missed.scheduled_for:%H:%M}", missed.outcome) == ("01:00", "missed")
    assert str(missed.error).startswith("missed 3 due times, ")


def test_restart_on_the_same_store_continues_without_double_runs(
    app: tw.App, clock: tw.FakeClock
) -> None:
    store = tw.MemoryStore()
    first = tw.Scheduler(app, clock=clock, store=store)
    first.add_job("j", "noop", tw.Interval(minutes=5, repeats=4), misfire="skip")
    first.add_job("p", "noop", tw.Interval(minutes=1), active=False)
    assert len(first.advance(minutes=10)) == 2
    first.shutdown()
    clock.advance(minutes=7)  # down over 00:15, past its grace
    second = tw.Scheduler(app, clock=clock, store=store)
    assert second.get_job("j").runs == 2
    assert second.get_job("p").active is False
    runs = second.run_pending()
    assert times(runs) == [("00:15", "missed")]
    assert times(second.advance(minutes=10)) == [("00:20", "ok"), ("00:25", "ok")]
    assert [j.name for j in second.jobs()] == ["p"]
    assert len(second.history("j")) == 5


# -- pause, resume, execute now ----------------------------------------------------
def test_paused_job_does_not_fire_and_resumes_after_now_without_misfires(
    sched: tw.Scheduler,
) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=5), misfire="skip")
    sched.advance(minutes=5)
    sched.pause_job("j")
    assert sched.advance(minutes=30) == []
    job = sched.resume_job("j")
    assert job.next_fire_time == utc(2026, 3, 1, 0, 40)
    assert times(sched.advance(minutes=5)) == [("00:40", "ok")]


def test_resume_of_a_passed_onetime_finishes_it(sched: tw.Scheduler) -> None:
    sched.add_job("o", "noop", tw.OneTime(at="2026-03-01T00:10:00Z"))
    sched.pause_job("o")
    sched.advance(minutes=20)
    sched.resume_job("o")
    assert sched.jobs() == []
    assert sched.history("o") == []


def test_execute_now_runs_even_when_paused_and_changes_nothing(sched: tw.Scheduler) -> None:
    seen: list[tw.Request] = []

    @sched.app.service("see")
    def see(request: tw.Request) -> None:
        seen.append(request)

    sched.add_job("j", "see", tw.Interval(minutes=5, repeats=2), extra="a=1")
    sched.pause_job("j")
    cid = sched.execute_now("j")
    cid2 = sched.execute_now("j", extra="a=2")
    assert [r.cid for r in seen] == [cid, cid2]
    assert [r.payload for r in seen] == [{"a": "1"}, {"a": "2"}]
    assert all(r.job is not None and r.job.manual for r in seen)
    assert [r.job.run_number for r in seen if r.job] == [1, 1]  # the next number, not used up
    job = sched.get_job("j")
    assert job.runs == 0
    assert job.next_fire_time is None
    assert [r.manual for r in sched.history("j")] == [True, True]
    sched.resume_job("j")
    assert sched.get_job("j").next_fire_time == utc(2026, 3, 1, 0, 5)


# -- errors -------------------------------------------------------------------------
def test_failing_service_is_recorded_logged_and_does_not_stop_others(
    sched: tw.Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    sched.add_job("bad", "fail", tw.Interval(minutes=1))
    sched.add_job("good", "noop", tw.Interval(minutes=1))
    with caplog.at_level(logging.ERROR, logger="tickwork"):
        runs = sched.advance(minutes=2)
    assert sorted((r.job, r.outcome) for r in runs) == [
        ("bad", "error"), ("bad", "error"), ("good", "ok"), ("good", "ok")
    ]  # fmt: skip
    bad = next(r for r in runs if r.job == "bad")
    assert bad.error == "RuntimeError: boom"
    assert any(bad.cid in record.getMessage() for record in caplog.records)
    assert sched.get_job("bad").next_fire_time == utc(2026, 3, 1, 0, 3)


def test_service_removed_from_the_app_gives_an_error_run(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    sched.app.remove_service("noop")
    runs = sched.advance(minutes=1)
    assert runs[0].outcome == "error"
    assert "ServiceNotFound" in (runs[0].error or "")


def test_history_newest_first_and_limit(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    sched.add_job("k", "noop", tw.Interval(minutes=2))
    sched.advance(minutes=10)
    hist = sched.history("j", limit=3)
    assert [r.scheduled_for.minute for r in hist] == [10, 9, 8]
    everything = sched.history(limit=1000)
    assert len(everything) == 15
    assert everything[0].finished_at == utc(2026, 3, 1, 0, 10)


def test_three_schedulers_in_turn_on_one_store_keep_the_count(
    app: tw.App, clock: tw.FakeClock
) -> None:
    store = tw.MemoryStore()
    first = tw.Scheduler(app, clock=clock, store=store)
    first.add_job("j", "noop", tw.Interval(minutes=5, repeats=6))
    assert len(first.advance(minutes=10)) == 2
    second = tw.Scheduler(app, clock=clock, store=store)
    assert len(second.advance(minutes=10)) == 2
    third = tw.Scheduler(app, clock=clock, store=store)
    assert third.get_job("j").runs == 4
    assert times(third.advance(minutes=10)) == [("00:25", "ok"), ("00:30", "ok")]
    assert third.jobs() == []
