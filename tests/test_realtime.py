"""The few tests on the real clock: start/shutdown, waking the loop, executors,
serve() and run_forever(). Bounds are generous; nothing asserts speed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest

import tickwork as tw

from .helpers import wait_for

pytestmark = pytest.mark.slow


def make_app(hits: list[str]) -> tw.App:
    app = tw.App()
    lock = threading.Lock()

    @app.service("hit")
    def hit(request: tw.Request) -> None:
        with lock:
            hits.append(request.cid)

    @app.service("ahit")
    async def ahit(request: tw.Request) -> None:
        await asyncio.sleep(0)
        with lock:
            hits.append(request.cid)

    return app


def test_start_runs_jobs_and_shutdown_stops_them() -> None:
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits))
    sched.add_job("j", "hit", tw.Interval(seconds=0.05))
    sched.start()
    assert sched.running
    wait_for(lambda: len(hits) >= 3)
    sched.shutdown()
    assert not sched.running
    count = len(hits)
    time.sleep(0.2)
    assert len(hits) == count


def test_a_job_added_from_another_thread_wakes_the_loop() -> None:
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits))
    # The loop sleeps until a far-away fire...
    sched.add_job("far", "hit", tw.Interval(hours=1))
    with sched:
        time.sleep(0.05)
        started = time.monotonic()
        threading.Thread(
            target=sched.add_job,
            args=("soon", "hit", tw.Interval(seconds=0.05)),
        ).start()
        wait_for(lambda: len(hits) >= 1)
        assert time.monotonic() - started < 5  # woke at once, not after an hour


def test_thread_executor_runs_in_parallel() -> None:
    app = tw.App()
    barrier = threading.Barrier(3, timeout=10)

    @app.service("meet")
    def meet(request: tw.Request) -> None:
        barrier.wait()

    sched = tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=3))
    for n in range(3):
        sched.add_job(f"j{n}", "meet", tw.OneTime(at=sched.clock.now() + timedelta(seconds=0.05)))
    with sched:
        wait_for(lambda: len(sched.history(limit=10)) == 3)
    assert {r.outcome for r in sched.history(limit=10)} == {"ok"}


def test_asyncio_executor_runs_async_and_sync_services() -> None:
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits), executor=tw.AsyncioExecutor())
    sched.add_job("a", "ahit", tw.Interval(seconds=0.05))
    sched.add_job("s", "hit", tw.Interval(seconds=0.05))
    with sched:
        wait_for(lambda: {r.job for r in sched.history(limit=50)} == {"a", "s"})
    assert all(r.outcome == "ok" for r in sched.history(limit=50))


def test_serve_under_asyncio_until_cancelled() -> None:
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits), executor=tw.AsyncioExecutor())
    sched.add_job("a", "ahit", tw.Interval(seconds=0.05))

    async def main() -> None:
        task = asyncio.create_task(sched.serve())
        deadline = time.monotonic() + 10
        while len(hits) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(hits) >= 3
    assert not sched.running


def test_execute_now_while_running() -> None:
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits))
    sched.add_job("j", "hit", tw.Interval(hours=1))
    with sched:
        cid = sched.execute_now("j")
        wait_for(lambda: cid in hits)
    assert sched.history("j")[0].manual


def test_run_forever_stops_gracefully_on_sigterm(tmp_path: object) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        import tickwork as tw

        app = tw.App()

        @app.service("slow")
        def slow(request):
            print("started", flush=True)
            time.sleep(0.5)
            print("finished", flush=True)

        sched = tw.Scheduler(app)
        sched.add_job("j", "slow", tw.Interval(seconds=0.1, start=sched.clock.now()))
        sched.run_forever()
        print("stopped", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = out.split()
    assert lines[0] == "finished"  # the running job was allowed to finish
    assert lines[-1] == "stopped"


def test_jobs_added_and_removed_from_many_threads_fire_exactly_once() -> None:
    hits: list[str] = []
    app = make_app(hits)
    fired: dict[str, int] = {}
    lock = threading.Lock()

    @app.service("count")
    def count(request: tw.Request) -> None:
        assert request.job is not None
        with lock:
            fired[request.job.name] = fired.get(request.job.name, 0) + 1

    sched = tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=4))
    barrier = threading.Barrier(4)

    def churn(worker: int) -> None:
        barrier.wait()
        for n in range(150):
            at = sched.clock.now() + timedelta(milliseconds=20 + n % 30)
            sched.add_job(f"w{worker}-{n}", "count", tw.OneTime(at=at))
            if n % 3 == 0:
                sched.remove_job(f"w{worker}-{n}")

    with sched:
        threads = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        expected = {f"w{w}-{n}" for w in range(4) for n in range(150) if n % 3}
        wait_for(lambda: set(fired) >= expected)
        time.sleep(0.1)  # nothing more may arrive
    assert set(fired) == expected
    assert set(fired.values()) == {1}


def test_an_overloaded_loop_still_lets_callers_and_shutdown_in() -> None:
    # 60,000 jobs due every 0.2 s: more than a pass can serve, so the loop is
    # always behind and never sleeps. Calls and shutdown must still get in.
    app = tw.App()
    app.service("noop")(lambda request: None)
    sched = tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=2))
    for i in range(60_000):
        sched.add_job(f"j{i}", "noop", tw.Interval(seconds=0.2))
    sched.start()
    time.sleep(1.0)
    done = threading.Event()

    def calls() -> None:
        sched.get_job("j1")
        sched.add_job("late", "noop", tw.Interval(hours=1))
        sched.shutdown(wait=False)
        done.set()

    threading.Thread(target=calls, daemon=True).start()
    assert done.wait(60), "the overloaded loop kept the scheduler's lock"


def test_a_store_that_waits_does_not_block_reads(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    path = Path(str(tmp_path)) / "jobs.db"
    hits: list[str] = []
    sched = tw.Scheduler(make_app(hits), store=tw.SQLiteStore(path))
    sched.add_job("j", "hit", tw.Interval(seconds=0.1))
    sched.start()
    foreign = sqlite3.connect(path, isolation_level=None)
    try:
        wait_for(lambda: len(hits) >= 1)
        foreign.execute("BEGIN IMMEDIATE")  # another process's write lock on the file
        time.sleep(0.5)  # fires come due; the loop's write waits for the lock
        read: list[tw.Job] = []
        reader = threading.Thread(target=lambda: read.append(sched.get_job("j")), daemon=True)
        reader.start()
        reader.join(15)  # the lock is held all along: only a read that does not wait ends
        assert read, "get_job() waited for the store's lock"
        assert [job.name for job in sched.jobs()] == ["j"]
    finally:
        foreign.execute("ROLLBACK")
        foreign.close()
    count = len(hits)
    wait_for(lambda: len(hits) > count + 2)  # the fires go on once the lock is gone
    sched.shutdown()
    sched.store.close()
