"""Overlap, jitter, timeout and retry, on a FakeClock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

import tickwork as tw

from .conftest import utc
from .helpers import wait_for


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def threaded(app: tw.App, clock: tw.FakeClock, gate: threading.Event) -> Iterator[tw.Scheduler]:
    @app.service("block")
    def block(request: tw.Request) -> None:
        gate.wait(10)

    sched = tw.Scheduler(app, clock=clock, executor=tw.ThreadExecutor(max_workers=4))
    yield sched
    gate.set()
    sched.shutdown()


# -- overlap ----------------------------------------------------------------------
def test_overlap_skip_records_fires_due_while_running(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1))
    first = threaded.advance(minutes=1)
    skipped = threaded.advance(minutes=2)
    assert [(r.scheduled_for.minute, r.outcome) for r in skipped] == [
        (2, "skipped"),
        (3, "skipped"),
    ]
    gate.set()
    wait_for(lambda: first[0].outcome == "ok")
    after = threaded.advance(minutes=1)
    wait_for(lambda: after[0].outcome == "ok")
    assert after[0].scheduled_for == utc(2026, 3, 1, 0, 4)


def test_overlap_queue_keeps_at_most_one_waiting(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1), overlap="queue")
    threaded.advance(minutes=1)
    extra = threaded.advance(minutes=2)  # 00:02 waits, 00:03 is skipped
    assert [(r.scheduled_for.minute, r.outcome) for r in extra] == [(3, "skipped")]
    gate.set()
    wait_for(lambda: len([r for r in threaded.history("j") if r.outcome == "ok"]) == 2)
    ok = [r for r in threaded.history("j") if r.outcome == "ok"]
    assert sorted(r.scheduled_for.minute for r in ok) == [1, 2]
    assert threaded.get_job("j").runs == 2


def test_overlap_allow_runs_side_by_side(threaded: tw.Scheduler, gate: threading.Event) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1), overlap="allow")
    runs = threaded.advance(minutes=3)
    assert len(runs) == 3
    assert all(r.outcome is None for r in runs)  # all three going at once
    gate.set()
    wait_for(lambda: all(r.outcome == "ok" for r in runs))


def test_execute_now_counts_as_a_running_run_for_overlap(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1))
    threaded.execute_now("j")
    assert [r.outcome for r in threaded.advance(minutes=1)] == ["skipped"]


def test_misfire_all_runs_catch_up_one_after_another(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1), misfire="all")
    threaded.clock.set("2026-03-01T00:05:00Z")  # type: ignore[attr-defined]
    threaded.run_pending()
    gate.set()
    wait_for(lambda: len(threaded.history("j")) == 5)
    hist = threaded.history("j")[::-1]
    assert [r.scheduled_for.minute for r in hist] == [1, 2, 3, 4, 5]
    assert all(r.outcome == "ok" for r in hist)
    starts = [r.started_at for r in hist]
    ends = [r.finished_at for r in hist]
    assert all(s is not None for s in starts)
    assert all(e is not None for e in ends)


def test_misfire_all_queues_a_late_batch_even_without_grace(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1), misfire="all", grace=None)
    threaded.clock.set("2026-03-01T00:03:00Z")  # type: ignore[attr-defined]
    assert [r.outcome for r in threaded.run_pending()] == [None]  # one going, two queued
    gate.set()
    wait_for(lambda: len(threaded.history("j")) == 3)
    assert [r.outcome for r in threaded.history("j")] == ["ok"] * 3


def test_saturated_executor_with_skip_records_missed(app: tw.App, clock: tw.FakeClock) -> None:
    gate = threading.Event()

    @app.service("block")
    def block(request: tw.Request) -> None:
        gate.wait(10)

    sched = tw.Scheduler(app, clock=clock, executor=tw.ThreadExecutor(max_workers=1))
    try:
        sched.add_job("a", "block", tw.Interval(minutes=1, repeats=1))
        sched.add_job("b", "noop", tw.Interval(minutes=1, repeats=1), misfire="skip")
        runs = sched.advance(minutes=1)  # b waits behind a on the only worker
        wait_for(lambda: runs[0].started_at is not None)
        clock.advance(minutes=5)
        gate.set()
        wait_for(lambda: all(r.outcome is not None for r in runs))
        outcome = {r.job: r.outcome for r in runs}
        assert outcome == {"a": "ok", "b": "missed"}
    finally:
        gate.set()
        sched.shutdown()


# -- jitter -------------------------------------------------------------------------
def test_jitter_delays_the_start_but_not_scheduled_for_or_the_grid(sched: tw.Scheduler) -> None:
    sched.add_job("j", "noop", tw.Interval(minutes=1), jitter=timedelta(seconds=30))
    runs = sched.advance(minutes=10, seconds=30)  # the 00:10 start may be as late as 00:10:29
    assert [r.scheduled_for.minute for r in runs] == list(range(1, 11))
    delays = [(r.started_at - r.scheduled_for).total_seconds() for r in runs]  # type: ignore[operator]
    assert all(0 <= d < 30 for d in delays)
    assert len(set(delays)) > 1
    assert sched.get_job("j").next_fire_time == utc(2026, 3, 1, 0, 11)


# -- timeout ------------------------------------------------------------------------
def test_timeout_abandons_a_thread_run(threaded: tw.Scheduler, gate: threading.Event) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=10), timeout=timedelta(seconds=30))
    runs = threaded.advance(minutes=10)
    wait_for(lambda: runs[0].started_at is not None)
    threaded.advance(seconds=31)
    assert runs[0].outcome == "timeout"
    assert "timed out" in (runs[0].error or "")
    # The job is free again: the next fire is not skipped as an overlap.
    gate.set()
    nxt = threaded.advance(minutes=10)
    assert nxt[0].outcome != "skipped"


def test_timeout_cancels_an_async_run(app: tw.App, clock: tw.FakeClock) -> None:
    cancelled = threading.Event()

    @app.service("sleepy")
    async def sleepy(request: tw.Request) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    executor = tw.AsyncioExecutor()
    sched = tw.Scheduler(app, clock=clock, executor=executor)
    try:
        sched.add_job("j", "sleepy", tw.Interval(minutes=1), timeout=timedelta(seconds=5))
        runs = sched.advance(minutes=1)
        wait_for(lambda: runs[0].started_at is not None)
        sched.advance(seconds=6)
        assert cancelled.wait(5)
        assert runs[0].outcome == "timeout"
    finally:
        sched.shutdown()


def test_timeout_on_the_inline_executor_is_judged_when_the_run_ends(
    app: tw.App, clock: tw.FakeClock
) -> None:
    @app.service("slow")
    def slow(request: tw.Request) -> None:
        clock.advance(seconds=90)

    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("j", "slow", tw.Interval(minutes=5), timeout=timedelta(seconds=60))
    sched.add_job("k", "slow", tw.Interval(minutes=5), timeout=timedelta(seconds=120))
    outcomes = {r.job: r.outcome for r in sched.advance(minutes=5)}
    assert outcomes == {"j": "timeout", "k": "ok"}


# -- retry ----------------------------------------------------------------------------
def test_retry_with_backoff(sched: tw.Scheduler) -> None:
    retry = tw.Retry(attempts=3, backoff=timedelta(seconds=10), factor=2.0)
    sched.add_job("j", "fail", tw.Interval(minutes=5, repeats=1), retry=retry)
    runs = sched.advance(minutes=6)
    assert [(r.attempt, r.outcome) for r in runs] == [(1, "error"), (2, "error"), (3, "error")]
    assert [r.started_at for r in runs] == [
        utc(2026, 3, 1, 0, 5, 0),
        utc(2026, 3, 1, 0, 5, 10),
        utc(2026, 3, 1, 0, 5, 30),
    ]
    base = runs[0].cid
    assert [r.cid for r in runs] == [base, f"{base}.2", f"{base}.3"]
    assert {r.run_number for r in runs} == {1}
    assert {r.scheduled_for for r in runs} == {utc(2026, 3, 1, 0, 5)}


def test_retry_stops_at_the_first_success_and_honours_max_backoff(
    app: tw.App, clock: tw.FakeClock
) -> None:
    attempts: list[int] = []

    @app.service("flaky")
    def flaky(request: tw.Request) -> None:
        assert request.job is not None
        attempts.append(request.job.attempt)
        if request.job.attempt < 3:
            raise ConnectionError("not yet")

    sched = tw.Scheduler(app, clock=clock)
    retry = tw.Retry(
        attempts=5, backoff=timedelta(seconds=10), factor=10, max_backoff=timedelta(seconds=15)
    )
    sched.add_job("j", "flaky", tw.OneTime(at="2026-03-01T00:01:00Z"), retry=retry)
    runs = sched.advance(minutes=2)
    assert [r.outcome for r in runs] == ["error", "error", "ok"]
    assert [r.started_at.second for r in runs] == [0, 10, 25]  # type: ignore[union-attr]
    assert attempts == [1, 2, 3]


def test_a_retrying_run_keeps_the_job_busy(app: tw.App, clock: tw.FakeClock) -> None:
    sched = tw.Scheduler(app, clock=clock)
    retry = tw.Retry(attempts=2, backoff=timedelta(seconds=90))
    sched.add_job("j", "fail", tw.Interval(minutes=1), retry=retry)
    runs = sched.advance(minutes=2)
    assert [(r.scheduled_for.minute, r.attempt, r.outcome) for r in runs] == [
        (1, 1, "error"),
        (2, 1, "skipped"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": 0}, {"attempts": 1.5}, {"backoff": -1}, {"factor": 0.5},
     {"max_backoff": timedelta(seconds=-1)}],
)  # fmt: skip
def test_retry_validates(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        tw.Retry(**kwargs)


def test_update_while_a_run_is_going_leaves_the_job_free_after_it(
    threaded: tw.Scheduler, gate: threading.Event
) -> None:
    threaded.add_job("j", "block", tw.Interval(minutes=1))
    first = threaded.advance(minutes=1)
    wait_for(lambda: first[0].started_at is not None)
    threaded.update_job("j", extra="changed", trigger=tw.Interval(minutes=2))
    gate.set()
    wait_for(lambda: first[0].outcome == "ok")
    later = threaded.advance(minutes=2)
    assert [r.outcome for r in later] != ["skipped"]  # the finished run released the job
    wait_for(lambda: all(r.outcome == "ok" for r in later))
    assert threaded.get_job("j").extra == "changed"
