"""Run requests through a shared store: taken once, by the holder of the job's shard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tickwork as tw
from tickwork._admin import StoreAdmin, store_from_url
from tickwork.stores import SHARDS, RunRequest, shard_of

ALL = frozenset(range(SHARDS))


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'jobs.db'}"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[tw.Store]:
    opened = store_from_url(store_url)
    yield opened
    opened.close()


def request(job: str, cid: str, expires_us: int, extra: object = None) -> RunRequest:
    return RunRequest(job, cid, extra, extra is not None, expires_us)


def test_a_request_is_taken_once_by_its_shard(store: tw.Store) -> None:
    store.request_run(request("a", "cid-a", 10**18, extra={"x": 1}))
    other = frozenset(range(SHARDS)) - {shard_of("a")}
    assert store.take_requests(other, 0) == []
    [taken] = store.take_requests(frozenset({shard_of("a")}), 0)
    assert taken == RunRequest("a", "cid-a", {"x": 1}, True, 10**18)
    assert store.take_requests(ALL, 0) == []


def test_expired_requests_are_dropped(store: tw.Store) -> None:
    store.request_run(request("a", "old", 1_000))
    store.request_run(request("b", "new", 5_000))
    assert [r.cid for r in store.take_requests(ALL, 2_000)] == ["new"]
    assert store.take_requests(ALL, 0) == []


def test_requests_keep_their_order(store: tw.Store) -> None:
    for n in range(5):
        store.request_run(request("same", f"cid-{n}", 10**18))
    assert [r.cid for r in store.take_requests(ALL, 0)] == [f"cid-{n}" for n in range(5)]


def test_memory_store_refuses_requests() -> None:
    admin = StoreAdmin(tw.MemoryStore())
    with pytest.raises(tw.JobNotFound):
        admin.request_run("nothing")


def test_a_running_scheduler_runs_what_the_store_asks(store_url: str) -> None:
    """A scheduler in this process, an admin on its own store object, as the
    command line has: the request runs on the scheduler with its cid and extra."""
    app = tw.App()
    seen: list[tuple[str, object, bool]] = []

    @app.service("echo")
    def echo(req: tw.Request) -> None:
        assert req.job is not None
        seen.append((req.cid, req.raw_request, req.job.manual))

    sched = tw.Scheduler(app, store=store_from_url(store_url))
    sched.add_job("job", "echo", tw.Interval(hours=1), extra="own")
    sched.start()
    admin = StoreAdmin(store_from_url(store_url))
    try:
        cid = admin.request_run("job", "asked", has_extra=True)
        run = admin.wait_for_run("job", cid, timeout=10)
        assert run is not None
        assert run.outcome == "ok"
        assert run.manual
        cid_default = admin.request_run("job")
        assert admin.wait_for_run("job", cid_default, timeout=10) is not None
    finally:
        admin.store.close()
        sched.shutdown()
        sched.store.close()
    assert seen == [(cid, "asked", True), (cid_default, "own", True)]


@pytest.mark.slow  # the system clock: about 2 s
def test_pause_and_resume_through_the_store_reach_the_running_scheduler(store_url: str) -> None:
    app = tw.App()
    fired: list[float] = []

    @app.service("tick")
    def tick(req: tw.Request) -> None:
        fired.append(time.monotonic())

    sched = tw.Scheduler(app, store=store_from_url(store_url))
    sched.add_job("tick", "tick", tw.Interval(seconds=0.2))
    sched.start()
    admin = StoreAdmin(store_from_url(store_url))
    try:
        deadline = time.monotonic() + 10
        while len(fired) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fired) >= 2
        assert admin.pause("tick").active is False
        deadline = time.monotonic() + 10
        while sched.get_job("tick").active and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sched.get_job("tick").active is False
        count = len(fired)
        time.sleep(1.1)  # five periods of the job
        # Paused: nothing more but a fire handed out before the pause landed,
        # however late a loaded machine lets it run (one at most: overlap="skip").
        assert len(fired) <= count + 1
        resumed = admin.resume("tick")
        assert resumed.active
        assert resumed.next_fire_us is not None
        count = len(fired)
        deadline = time.monotonic() + 10
        while len(fired) == count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fired) > count
    finally:
        admin.store.close()
        sched.shutdown()
        sched.store.close()


def test_resume_of_a_job_whose_trigger_ended_while_paused_says_so(tmp_path: Path) -> None:
    app = tw.App()

    @app.service("noop")
    def noop(req: tw.Request) -> None:
        return None

    clock = tw.FakeClock("2026-01-01T00:00:00Z")
    url = f"sqlite://{tmp_path / 'jobs.db'}"
    sched = tw.Scheduler(app, clock=clock, store=store_from_url(url))
    sched.add_job("short", "noop", tw.Interval(minutes=1, end="2026-01-01T00:05:00Z"))
    sched.advance(minutes=2)
    sched.pause_job("short")
    sched.shutdown()
    sched.store.close()
    clock.advance(minutes=10)  # the trigger ends while the job is paused
    admin = StoreAdmin(store_from_url(url), clock=clock)
    try:
        with pytest.raises(ValueError, match="'short' has no fire time left"):
            admin.resume("short")
        assert admin.job("short").active is False  # unchanged
    finally:
        admin.store.close()
