"""The store cannot be written for a while (a Redis or database outage).

A pass over due fires writes their claims and the records of the runs it is
about to start in one flush. When that flush fails, the runs are held, not
lost: they start once a retry succeeds, and no job fires meanwhile, so the
fires due during the outage follow their misfire policy afterwards. A
scheduler shut down during an outage takes its held writes back, so that the
fires stay due for the next one.

Most tests put a real SQLiteStore out of service by making its batch write
fail for a while; the last one takes a real redis-server away from a running
scheduler (the server refuses its connections) and gives it back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tickwork as tw
from tickwork.stores._buffered import StateChange

from .helpers import wait_for


class OutOfService(tw.SQLiteStore):
    """A SQLiteStore whose writes fail while ``down`` (or for the next
    ``failures`` writes), as they would with the database out of reach."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.down = False
        self.failures = 0
        self.refusals = 0

    def _write_batch(
        self, states: list[StateChange], started: list[tw.Run], finished: list[tw.Run]
    ) -> set[str]:
        if self.down or self.failures:
            self.failures = max(0, self.failures - 1)
            self.refusals += 1
            raise tw.StoreError(f"SQLite store {self.path}: disk I/O error (simulated)")
        return super()._write_batch(states, started, finished)


T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def ran() -> list[tuple[str, datetime]]:
    return []


@pytest.fixture
def app(ran: list[tuple[str, datetime]]) -> tw.App:
    application = tw.App()

    @application.service("record")
    def record(request: tw.Request) -> None:
        assert request.job is not None
        ran.append((request.job.name, request.job.scheduled_for))

    return application


@pytest.fixture
def clock() -> tw.FakeClock:
    return tw.FakeClock(start=T0)


@pytest.fixture
def store(tmp_path: Path) -> OutOfService:
    return OutOfService(tmp_path / "jobs.db")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_fire_whose_write_fails_runs_once_the_store_answers(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10), misfire="all")
    store.down = True
    assert sched.advance(seconds=35) == []  # held, and nothing else fires meanwhile
    assert ran == []
    assert store.refusals > 3  # it kept retrying
    store.down = False
    sched.advance(seconds=3)  # the retries are 4 s apart by now: the next is at 00:37.75
    assert ran == [("sync", at(s)) for s in (10, 20, 30)]  # the held one, then the misfires
    sched.advance(seconds=2)
    assert ran[-1] == ("sync", at(40))
    store.flush()
    history = sched.history("sync")
    assert sorted(r.scheduled_for for r in history) == [at(s) for s in (10, 20, 30, 40)]
    assert all(r.outcome == "ok" for r in sched.history("sync"))


def test_fires_due_during_the_outage_are_coalesced(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10), grace=timedelta(seconds=1))
    store.down = True
    sched.advance(seconds=45)
    store.down = False
    sched.advance(seconds=4)
    # the fire claimed before the outage was known runs late; 20, 30 and 40
    # were missed while the store was out of reach, and become one run
    assert ran == [("sync", at(10)), ("sync", at(40))]
    assert sched.get_job("sync").next_fire_time == at(50)


def test_a_write_that_fails_once_delays_the_runs_by_the_first_retry(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10))
    store.failures = 1
    runs = sched.advance(seconds=10)
    assert runs == []
    assert ran == []
    runs = sched.advance(seconds=0.25)
    assert [(r.scheduled_for, r.outcome, r.started_at) for r in runs] == [(at(10), "ok", at(10.25))]


def test_a_long_pass_that_fails_halfway_loses_none_of_its_jobs(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    # 600 jobs due at one instant: the pass flushes every 256 fires, and the
    # first of those flushes fails. The jobs it had not reached yet stay due.
    sched = tw.Scheduler(app, clock=clock, store=store)
    for i in range(600):
        sched.add_job(f"job-{i}", "record", tw.Interval(seconds=10), misfire="all")
    store.failures = 1
    sched.advance(seconds=10)
    assert ran == []
    sched.advance(seconds=1)
    assert Counter(ran) == {(f"job-{i}", at(10)): 1 for i in range(600)}
    sched.advance(seconds=10)
    assert Counter(ran) == {(f"job-{i}", at(s)): 1 for i in range(600) for s in (10, 20)}


def test_runs_finishing_meanwhile_are_recorded_once_the_store_answers(
    clock: tw.FakeClock, store: OutOfService
) -> None:
    app = tw.App()
    gate = threading.Event()
    app.service("slow")(lambda request: gate.wait(5))
    sched = tw.Scheduler(app, clock=clock, store=store, executor=tw.ThreadExecutor(2))
    try:
        sched.add_job("slow", "slow", tw.Interval(seconds=10), overlap="allow")
        [first] = sched.advance(seconds=10)  # starts on a worker
        store.down = True
        gate.set()
        wait_for(lambda: first.outcome == "ok")  # finished, its record waits in the buffer
        assert sched.advance(seconds=10) == []  # 00:20 is held
        store.down = False
        [second] = sched.advance(seconds=5)
        wait_for(lambda: second.outcome == "ok")
    finally:
        sched.shutdown()
    outcomes = sorted((r.scheduled_for, r.outcome) for r in sched.history("slow"))
    assert outcomes == [(at(10), "ok"), (at(20), "ok")]


def test_a_skip_job_whose_held_run_is_past_grace_records_it_missed(
    clock: tw.FakeClock, store: OutOfService
) -> None:
    app = tw.App()
    app.service("noop")(lambda request: None)
    sched = tw.Scheduler(app, clock=clock, store=store, executor=tw.ThreadExecutor(2))
    try:
        sched.add_job(
            "sync", "noop", tw.Interval(seconds=10), misfire="skip", grace=timedelta(seconds=2)
        )
        store.down = True
        sched.advance(seconds=15)
        store.down = False
        [run] = sched.advance(seconds=3)  # the retry at 00:17.75 writes it; it starts late
        wait_for(lambda: run.outcome is not None)
    finally:
        sched.shutdown()
    assert (run.scheduled_for, run.outcome) == (at(10), "missed")
    assert run.error is not None
    assert "within grace" in run.error
    assert [r.outcome for r in sched.history("sync")] == ["missed"]


def test_shutdown_during_an_outage_leaves_the_fires_due(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ran: list[tuple[str, datetime]]
) -> None:
    store = OutOfService(tmp_path / "jobs.db")
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10), misfire="all")
    store.down = True
    sched.advance(seconds=12)
    sched.shutdown()
    store.down = False
    store.close()  # writes what is still buffered: not the claim of 00:10

    again = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(tmp_path / "jobs.db"))
    job = again.get_job("sync")
    assert job.next_fire_time == at(10)
    assert job.runs == 0
    again.advance(seconds=10)
    assert ran == [("sync", at(10)), ("sync", at(20))]
    again.store.flush()
    history = again.history("sync")
    assert [r.outcome for r in history] == ["ok", "ok"]  # no run recorded as interrupted
    again.store.close()


def test_shutdown_when_the_store_answers_again_starts_the_held_runs(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10), misfire="all")
    store.failures = 1
    sched.advance(seconds=10)
    assert ran == []
    sched.shutdown()  # the retry at shutdown succeeds: the claim is written, so the run starts
    assert ran == [("sync", at(10))]
    store.close()


def test_execute_now_during_an_outage_raises_and_records_nothing(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, ran: list[tuple[str, datetime]]
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(hours=1))
    store.down = True
    with pytest.raises(tw.StoreError, match="disk I/O error"):
        sched.execute_now("sync")
    store.down = False
    sched.advance(seconds=1)
    store.flush()
    assert ran == []
    assert sched.history("sync") == []
    cid = sched.execute_now("sync")
    store.flush()
    assert [r.cid for r in sched.history("sync")] == [cid]


def test_the_outage_and_the_recovery_are_logged(
    app: tw.App, clock: tw.FakeClock, store: OutOfService, caplog: pytest.LogCaptureFixture
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10))
    store.down = True
    with caplog.at_level(logging.WARNING, logger="tickwork.scheduler"):
        sched.advance(seconds=20)
        store.down = False
        sched.advance(seconds=5)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per outage, not per retry
    assert "the store could not be written" in errors[0]
    assert "disk I/O error" in errors[0]
    assert "1 run(s) wait for it" in errors[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("can be written again; 1 run(s) held" in m for m in warnings)


def test_retries_back_off_to_four_seconds(
    app: tw.App, clock: tw.FakeClock, store: OutOfService
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("sync", "record", tw.Interval(seconds=10))
    store.down = True
    sched.advance(seconds=10)
    tries = store.refusals
    sched.advance(seconds=0.25 + 0.5 + 1 + 2 + 4)
    assert store.refusals - tries == 5
    tries = store.refusals
    sched.advance(seconds=40)
    assert store.refusals - tries == 10
    store.down = False


# ---------------------------------------------------------------- real Redis
def redis_admin(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, decode_responses=True)


@pytest.mark.slow
def test_a_redis_outage_delays_fires_and_loses_none(redis_url: str) -> None:
    """The server refuses the scheduler's connections for about 1.5 s."""
    admin = redis_admin(redis_url)
    admin.execute_command("ACL", "SETUSER", "admin", "on", ">admin-pw", "~*", "&*", "+@all")
    admin.close()
    admin = redis_admin(redis_url.replace("redis://", "redis://admin:admin-pw@"))

    app = tw.App()
    seen: list[datetime] = []
    lock = threading.Lock()

    @app.service("tick")
    def tick(request: tw.Request) -> None:
        assert request.job is not None
        with lock:
            seen.append(request.job.scheduled_for)

    store = tw.RedisStore(redis_url, prefix="outage", flush_interval=timedelta(milliseconds=5))
    sched = tw.Scheduler(app, store=store, executor=tw.ThreadExecutor(max_workers=4))
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    sched.add_job(
        "tick", "tick", tw.Interval(seconds=0.2, start=first), misfire="all", overlap="allow"
    )
    sched.start()
    try:
        time.sleep(max(0.0, (first - datetime.now(UTC)).total_seconds()) + 0.7)
        admin.execute_command("ACL", "SETUSER", "default", "off")
        admin.execute_command("CLIENT", "KILL", "USER", "default")
        time.sleep(1.5)
        with lock:
            during = len(seen)
        time.sleep(0.3)
        with lock:
            assert len(seen) == during  # nothing ran while the store was out of reach
        admin.execute_command("ACL", "SETUSER", "default", "on")
        time.sleep(2.0)
    finally:
        admin.execute_command("ACL", "SETUSER", "default", "on")
        sched.shutdown()
        store.close()
        admin.execute_command("ACL", "DELUSER", "admin")
        admin.close()
    assert sched.running is False
    counted = Counter(seen)
    assert all(n == 1 for n in counted.values()), "a due time ran twice"
    last = max(seen)
    expected = []
    due = first
    while due <= last:
        expected.append(due)
        due += timedelta(seconds=0.2)
    assert sorted(counted) == expected  # every due time from the first to the last
    assert last > first + timedelta(seconds=3)  # and it went on after the outage
