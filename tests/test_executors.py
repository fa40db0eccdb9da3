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
