"""Two schedulers in one process on one shared store, on the real clock: a
change made through either takes effect on the one that runs the job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import tickwork as tw
from tickwork.stores import shard_of

from .helpers import wait_for

pytestmark = pytest.mark.slow  # the real clock: a few seconds each


@pytest.fixture(params=["sqlite", "redis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[tw.Scheduler]]:
    calls: list[tuple[str, int]] = []
    lock = threading.Lock()
    scheds = []
    for i in range(2):
        app = tw.App()

        @app.service("record")
        def record(req: tw.Request, i: int = i) -> None:
            assert req.job is not None
            with lock:
                calls.append((req.job.name, i))

        store: tw.Store
        if request.param == "redis":
            store = tw.RedisStore(request.getfixturevalue("redis_url"), prefix="pair")
        else:
            store = tw.SQLiteStore(tmp_path / "jobs.db")
        scheds.append(tw.Scheduler(app, store=store, lease_ttl=timedelta(seconds=1.5)))
    for sched in scheds:
        sched.start()
    wait_for(lambda: all(len(s._owned or ()) == 32 for s in scheds))
    scheds[0].calls = calls  # type: ignore[attr-defined]
    yield scheds
    for sched in scheds:
        sched.shutdown()
        sched.store.close()


def name_in_shards_of(sched: tw.Scheduler, prefix: str) -> str:
    owned = sched._owned or frozenset()
    return next(f"{prefix}-{i}" for i in range(1000) if shard_of(f"{prefix}-{i}") in owned)


def runs_of(calls: list[tuple[str, int]], name: str) -> list[int]:
    return [i for job, i in list(calls) if job == name]


def test_a_job_added_through_one_runs_on_the_other(pair: list[tw.Scheduler]) -> None:
    a, b = pair
    calls = a.calls  # type: ignore[attr-defined]
    name = name_in_shards_of(b, "added")
    a.add_job(name, "record", tw.Interval(seconds=0.2))
    wait_for(lambda: len(runs_of(calls, name)) >= 3, timeout=5)
    assert set(runs_of(calls, name)) == {1}  # only the scheduler holding its shard


def test_pause_resume_update_remove_through_the_other(pair: list[tw.Scheduler]) -> None:
    a, b = pair
    calls = a.calls  # type: ignore[attr-defined]
    name = name_in_shards_of(b, "steered")
    b.add_job(name, "record", tw.Interval(seconds=0.2))
    wait_for(lambda: len(runs_of(calls, name)) >= 2, timeout=5)

    a.pause_job(name)
    wait_for(lambda: b.get_job(name).active is False, timeout=10)  # the change reached b
    paused_at = len(runs_of(calls, name))
    time.sleep(0.8)
    assert len(runs_of(calls, name)) <= paused_at + 1  # a fire may have been under way

    a.resume_job(name)
    wait_for(lambda: len(runs_of(calls, name)) >= paused_at + 3, timeout=5)

    a.update_job(name, trigger=tw.Interval(hours=1))
    wait_for(lambda: b.get_job(name).trigger.describe() == "every 1 hour", timeout=10)
    updated_at = len(runs_of(calls, name))
    time.sleep(0.8)
    assert len(runs_of(calls, name)) <= updated_at + 1

    a.remove_job(name)
    wait_for(lambda: name not in {j.name for j in b.jobs()}, timeout=5)
    assert set(runs_of(calls, name)) == {1}


def test_execute_now_runs_where_it_is_asked(pair: list[tw.Scheduler]) -> None:
    a, b = pair
    calls = a.calls  # type: ignore[attr-defined]
    name = name_in_shards_of(b, "manual")
    b.add_job(name, "record", tw.Interval(hours=1))
    wait_for(lambda: name in {j.name for j in a.jobs()}, timeout=5)
    cid = a.execute_now(name)
    wait_for(lambda: runs_of(calls, name) == [0], timeout=5)
    wait_for(lambda: [r.cid for r in b.history(name)] == [cid], timeout=5)


def test_shutdown_hands_the_jobs_to_the_other(pair: list[tw.Scheduler]) -> None:
    a, b = pair
    calls = a.calls  # type: ignore[attr-defined]
    name = name_in_shards_of(b, "handed")
    a.add_job(name, "record", tw.Interval(seconds=0.2))
    wait_for(lambda: len(runs_of(calls, name)) >= 2, timeout=5)
    b.shutdown()
    wait_for(lambda: len(a._owned or ()) == 64, timeout=5)
    before = len(runs_of(calls, name))
    wait_for(lambda: len(runs_of(calls, name)) >= before + 3, timeout=5)
    assert runs_of(calls, name)[-1] == 0


def when(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    """The monotonic time at which ``predicate`` first held (polled every 5 ms)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
    return time.monotonic()


def test_a_scheduler_that_joins_takes_the_shards_given_up_within_a_quarter_second(
    redis_url: str,
) -> None:
    # Rounds every 2 s (lease_ttl 6 s). The holder gives up half its shards at
    # its first round after the second scheduler joined; the newcomer, in
    # quick rounds while the fleet changes, takes them within about 0.25 s
    # instead of at its own next round (up to 2 s later).
    app = tw.App()
    app.service("noop")(lambda request: None)
    first, second = (
        tw.Scheduler(app, store=tw.RedisStore(redis_url, prefix="join")) for _ in range(2)
    )
    first.start()
    try:
        wait_for(lambda: len(first._owned_seen or ()) == 64)
        second.start()
        assert second._owned_seen == frozenset()  # the first holds them all
        released = when(lambda: len(first._owned_seen or ()) == 32)
        taken = when(lambda: len(second._owned_seen or ()) == 32)
        assert taken - released < 0.6
    finally:
        for sched in (first, second):
            sched.shutdown()
            sched.store.close()
