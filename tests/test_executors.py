from __future__ import annotations

import asyncio
import threading

import pytest

import tickwork as tw

from .helpers import wait_for


def test_async_service_on_a_thread_executor_runs_on_the_workers_loop(
    app: tw.App, clock: tw.FakeClock
) -> None:
    loops: list[int] = []

    @app.service("async")
    async def run(request: tw.Request) -> None:
        await asyncio.sleep(0)
        loops.append(threading.get_ident())

    sched = tw.Scheduler(app, clock=clock, executor=tw.ThreadExecutor(max_workers=2))
    try:
        # advance() outpaces the workers: let the runs overlap.
        sched.add_job("j", "async", tw.Interval(minutes=1), overlap="allow")
        runs = sched.advance(minutes=3)
        wait_for(lambda: all(r.outcome is not None for r in runs))
        assert [r.outcome for r in runs] == ["ok", "ok", "ok"]
        assert threading.get_ident() not in loops
    finally:
        sched.shutdown()


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "4"])
def test_thread_executor_validates_max_workers(workers: object) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        tw.ThreadExecutor(max_workers=workers)  # type: ignore[arg-type]


def test_a_run_submitted_after_shutdown_is_recorded_as_an_error(
    app: tw.App, clock: tw.FakeClock
) -> None:
    executor = tw.ThreadExecutor(max_workers=1)
    sched = tw.Scheduler(app, clock=clock, executor=executor)
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    executor.shutdown()
    runs = sched.advance(minutes=1)
    assert [r.outcome for r in runs] == ["error"]
    assert "shut down" in (runs[0].error or "")
    assert sched.get_job("j").next_fire_time is not None  # the scheduler goes on


def test_inline_executor_runs_async_services_before_submit_returns(
    app: tw.App, clock: tw.FakeClock
) -> None:
    @app.service("async")
    async def run(request: tw.Request) -> str:
        await asyncio.sleep(0)
        return "done"

    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("j", "async", tw.Interval(minutes=1))
    assert [r.outcome for r in sched.advance(minutes=2)] == ["ok", "ok"]
    sched.shutdown()


def test_hung_runs_get_their_workers_replaced_then_the_pool_says_it_is_exhausted(
    app: tw.App, clock: tw.FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    release = threading.Event()
    ran: list[str] = []
    hanging: list[str] = []

    @app.service("hang")
    def hang(request: tw.Request) -> None:
        hanging.append(request.cid)
        release.wait(60)

    @app.service("tick")
    def tick(request: tw.Request) -> None:
        assert request.job is not None
        ran.append(f"{request.job.scheduled_for:%H:%M}")

    executor = tw.ThreadExecutor(max_workers=1)
    sched = tw.Scheduler(app, clock=clock, executor=executor)
    try:
        sched.add_job("hang", "hang", tw.Interval(minutes=1), timeout=timedelta(seconds=10))
        sched.add_job("tick", "tick", tw.Interval(minutes=1))
        sched.advance(minutes=1)  # hang takes the only worker; tick waits behind it
        wait_for(lambda: len(hanging) == 1)  # started: its timeout is armed
        sched.advance(seconds=10)  # hang times out: abandoned, its worker replaced
        wait_for(lambda: ran == ["00:01"])
        assert executor.hung == 1
        sched.advance(seconds=50)  # 00:02: hang takes the replacement, and times out
        wait_for(lambda: len(hanging) == 2)
        sched.advance(seconds=10)
        assert executor.hung == 2
        assert "ThreadExecutor exhausted: 2 worker(s) are held by hung runs" in caplog.text
        assert ran == ["00:01"]  # tick's 00:02 waits: no worker is free
        release.set()  # the hung runs end: one worker leaves, one stays
        wait_for(lambda: ran == ["00:01", "00:02"])
        wait_for(lambda: executor.hung == 0)
        timeouts = [r.outcome for r in sched.history("hang")]
        assert timeouts == ["timeout", "timeout"]
    finally:
        release.set()
        executor.shutdown(wait=True, timeout=10)
