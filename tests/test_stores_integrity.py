"""What the durable stores keep, whatever they are given: a service's error
that is not valid Unicode, a record the store cannot take, several schedulers
recovering the same dead scheduler's run, and a history that must hold
exactly ``history_limit`` runs per job.

SQLite in a temporary file; Redis on a real redis-server.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import tickwork as tw
from tickwork.stores import _sqlite
from tickwork.stores._buffered import BufferedStore, StateChange, clean_text
from tickwork.stores._redis import INTERRUPTED

T0_US = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z, the clock fixture's start
MIN = 60_000_000
POISON = "cannot read " + os.fsdecode(b"report-\xff.csv")  # holds the lone surrogate '\udcff'

Make = Callable[..., tw.Store]


@pytest.fixture(params=["sqlite", "redis"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    """Opens a durable store (SQLite file or Redis prefix), the same one each call."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    opened: list[tw.Store] = []

    def make_(**kwargs: Any) -> tw.Store:
        store: tw.Store = (
            tw.RedisStore(url, prefix="t", **kwargs)
            if request.param == "redis"
            else tw.SQLiteStore(tmp_path / "jobs.db", **kwargs)
        )
        opened.append(store)
        return store

    yield make_
    for store in opened:
        store.close()


def finished(cid: str, job: str, minute: int, **fields: Any) -> tw.Run:
    at = T0_US + minute * MIN
    values: dict[str, Any] = {
        "scheduled_us": at,
        "run_number": minute,
        "started_us": at,
        "finished_us": at,
        "outcome": "ok",
    }
    values.update(fields)
    scheduled_us = values.pop("scheduled_us")
    run_number = values.pop("run_number")
    return tw.Run(cid, job, "noop", scheduled_us, run_number, **values)


def add_in_one_batch(store: tw.Store, runs: list[tw.Run]) -> None:
    """Add ``runs`` so that one batch holds them all, whoever writes it (the
    background flusher or the next flush)."""
    assert isinstance(store, BufferedStore)
    with store._write_lock:
        for run in runs:
            store.add_run(run)


# -- poison input ---------------------------------------------------------------
def test_clean_text_shows_undecodable_bytes_and_keeps_good_text() -> None:
    assert clean_text(POISON) == "cannot read report-\\xff.csv"
    assert clean_text("lone \ud800 high") == "lone \\ud800 high"
    assert clean_text("été ✓") == "été ✓"
    assert clean_text(None) is None
    assert clean_text(5) == 5


def test_a_service_error_that_is_not_valid_unicode_is_recorded_and_blocks_nothing(
    app: tw.App, clock: tw.FakeClock, make: Make
) -> None:
    @app.service("poison")
    def poison(request: tw.Request) -> None:
        raise RuntimeError(POISON)

    sched = tw.Scheduler(app, clock=clock, store=make())
    sched.add_job("p", "poison", tw.Interval(minutes=1))
    sched.add_job("n", "noop", tw.Interval(minutes=1))
    for minute in (1, 2, 3):
        ran = sched.advance(minutes=1)
        assert sorted((r.job, r.outcome) for r in ran) == [("n", "ok"), ("p", "error")], minute
    kept = sched.history("p")
    assert [r.scheduled_for.minute for r in kept] == [3, 2, 1]
    for run in kept:
        assert run.error == "RuntimeError: cannot read report-\\xff.csv"
        assert run.error.encode("utf-8")  # readable: valid Unicode text
    assert len(sched.history("n")) == 3
    sched.pause_job("p")
    assert [r.job for r in sched.advance(minutes=1)] == ["n"]
    again = tw.Scheduler(app, clock=clock, store=make())  # a restart reads it all
    assert again.get_job("p").active is False
    assert [r.error for r in again.history("p")] == [kept[0].error] * 3


def test_a_job_name_that_is_not_valid_unicode_is_refused(
    app: tw.App, clock: tw.FakeClock, make: Make
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=make())
    name = os.fsdecode(b"job-\xff")
    with pytest.raises(ValueError, match=r"must be valid Unicode text, got 'job-\\udcff'"):
        sched.add_job(name, "noop", tw.Interval(minutes=1))
    assert sched.jobs() == []


def test_sqlite_a_run_too_large_to_store_is_dropped_and_its_batch_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = tw.SQLiteStore(tmp_path / "jobs.db")
    huge = 2**70  # beyond SQLite's 64-bit integers: OverflowError
    runs = [
        finished("good-1", "j", 1),
        finished("too-big", "j", 2, run_number=huge),
        finished("good-2", "k", 3),
    ]
    with caplog.at_level(logging.ERROR, logger="tickwork.stores"):
        add_in_one_batch(store, runs)
        store.flush()
    assert [r.cid for r in store.history()] == ["good-2", "good-1"]
    (dropped,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "'too-big'" in dropped.message
    assert "'j'" in dropped.message
    assert "OverflowError" in dropped.message
    store.add_run(finished("later", "j", 4))  # and the store goes on
    store.flush()
    assert [r.cid for r in store.history("j")] == ["later", "good-1"]
    store.close()


def test_a_record_of_a_type_no_store_takes_is_dropped_and_its_batch_written(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    store = make()
    job = tw.Job("j", "noop", tw.Interval(minutes=1, start="2026-03-01T00:01:00Z"))
    store.put_job(job)
    runs = [
        finished("good-1", "j", 1),
        finished("odd", "j", 2, outcome={"not": "text"}),  # no store can bind or send it
        finished("good-2", "j", 3),
    ]
    with caplog.at_level(logging.ERROR, logger="tickwork.stores"):
        add_in_one_batch(store, runs)
        store.update_state(
            job, next_fire_us=T0_US + 5 * MIN, runs=3, last_due_us=T0_US + 3 * MIN, active=True,
            expected_last_due=None,
        )  # fmt: skip
        assert store.flush() == set()
    assert [r.cid for r in store.history("j")] == ["good-2", "good-1"]
    assert any("'odd'" in r.message and "'j'" in r.message for r in caplog.records)
    (loaded,) = store.load_jobs()
    assert (loaded.runs, loaded.last_due_us) == (3, T0_US + 3 * MIN)  # the state, written too


def test_an_outage_still_keeps_the_whole_batch(tmp_path: Path) -> None:
    """A StoreError is an outage, not a bad record: nothing is dropped."""

    class Down(tw.SQLiteStore):
        down = True

        def _write_batch(
            self, states: list[StateChange], started: list[tw.Run], finished: list[tw.Run]
        ) -> set[str]:
            if self.down:
                raise tw.StoreError("disk I/O error (simulated)")
            return super()._write_batch(states, started, finished)

    store = Down(tmp_path / "jobs.db")
    add_in_one_batch(store, [finished("a", "j", 1), finished("b", "j", 2)])
    with pytest.raises(tw.StoreError, match="simulated"):
        store.flush()
    store.down = False
    store.flush()
    assert [r.cid for r in store.history("j")] == ["b", "a"]
    store.close()


# -- each run recorded once -----------------------------------------------------
class Stalling(tw.RedisStore):
    """A RedisStore whose next batch write fails, as in a short outage."""

    stall = False

    def _write_batch(
        self, states: list[StateChange], started: list[tw.Run], finished: list[tw.Run]
    ) -> set[str]:
        if self.stall:
            self.stall = False
            raise tw.StoreError("connection reset (simulated)")
        return super()._write_batch(states, started, finished)


@pytest.fixture
def dead_run(redis_url: str) -> Iterator[tuple[tw.RedisStore, tw.Run]]:
    """A scheduler that never said it was alive left a run written ahead."""
    dead = tw.RedisStore(redis_url)
    job = tw.Job("j", "noop", tw.Interval(minutes=1, start="2026-03-01T00:01:00Z"))
    dead.put_job(job)
    run = tw.Run("cid-1", "j", "noop", T0_US + MIN, 1)
    dead.update_state(
        job, next_fire_us=T0_US + 2 * MIN, runs=1, last_due_us=T0_US + MIN, active=True,
        expected_last_due=None,
    )  # fmt: skip
    dead.run_started(run)
    assert dead.flush() == set()
    yield dead, run
    dead.close()


def test_redis_survivors_record_a_dead_schedulers_run_once(
    redis_url: str, dead_run: tuple[tw.RedisStore, tw.Run]
) -> None:
    a, b = Stalling(redis_url), tw.RedisStore(redis_url)
    a.stall = True
    with pytest.raises(tw.StoreError, match="simulated"):
        a.fleet_round(5.0)  # a finds the run, but cannot write its record yet
    b.fleet_round(5.0)  # b finds it too, and records it
    a.flush()
    a.fleet_round(5.0)
    assert [(r.cid, r.outcome, r.error) for r in b.history("j")] == [
        ("cid-1", "error", INTERRUPTED)
    ]
    assert len(b.history()) == 1
    a.close()
    b.close()


def test_redis_a_run_that_finished_after_all_is_not_also_interrupted(
    redis_url: str, dead_run: tuple[tw.RedisStore, tw.Run]
) -> None:
    dead, run = dead_run
    survivor = Stalling(redis_url)
    survivor.stall = True
    with pytest.raises(tw.StoreError, match="simulated"):
        survivor.fleet_round(5.0)  # takes the silent scheduler for dead
    run.started_us, run.finished_us, run.outcome = run.scheduled_us, run.scheduled_us + 5, "ok"
    dead.add_run(run)  # it was only slow: its run finishes, and is recorded
    dead.flush()
    survivor.flush()
    assert [(r.cid, r.outcome) for r in survivor.history("j")] == [("cid-1", "ok")]
    survivor.close()


def test_sqlite_survivors_record_a_dead_schedulers_run_once(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path
) -> None:
    """SQLite changes the open row in place, in a write transaction: checked,
    not changed (one row per run, whoever gets there first)."""
    path = tmp_path / "jobs.db"
    dead = tw.SQLiteStore(path)
    tw.Scheduler(app, clock=clock, store=dead).add_job("j", "noop", tw.Interval(minutes=1))
    dead.run_started(tw.Run("cid-1", "j", "noop", T0_US + MIN, 1))
    dead.flush()
    a, b = tw.SQLiteStore(path), tw.SQLiteStore(path)
    a.fleet_round(5.0)
    b.fleet_round(5.0)
    assert [(r.cid, r.error) for r in b.history()] == [("cid-1", _sqlite.INTERRUPTED)]
    for store in (a, b, dead):
        store.close()


# -- history_limit, exactly -----------------------------------------------------
def kept_in_sqlite(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        query = "SELECT job, count(*) FROM tickwork_runs WHERE outcome IS NOT NULL GROUP BY job"
        return dict(db.execute(query).fetchall())
    finally:
        db.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_history_keeps_exactly_history_limit_runs_per_job(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    store: tw.Store
    if kind == "memory":
        store = tw.MemoryStore(history_limit=20)
    elif kind == "sqlite":
        store = tw.SQLiteStore(tmp_path / "jobs.db", history_limit=20)
    else:
        store = tw.RedisStore(request.getfixturevalue("redis_url"), history_limit=20)
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Interval(seconds=1))
    sched.add_job("k", "fail", tw.Interval(seconds=2))
    for second in range(1, 61):
        sched.advance(seconds=1)
        expected = {"j": min(second, 20), "k": min(second // 2, 20)}
        assert {name: len(sched.history(name, 1000)) for name in "jk"} == expected, second
        if kind != "redis":  # Redis keeps one list of every job's newest runs besides
            every = sched.history(None, 1000)
            assert {name: sum(r.job == name for r in every) for name in "jk"} == expected
        if kind == "sqlite":
            store.flush()
            assert kept_in_sqlite(tmp_path / "jobs.db") == {n: c for n, c in expected.items() if c}
        if kind == "redis":
            client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
            assert client.llen("tickwork:hist:j") == expected["j"]
            client.close()
    # Memory and SQLite count what they keep; Redis counts every run (see test_stores_stats).
    counted = store.run_counts(T0_US, T0_US + MIN + 1, MIN + 1)
    assert counted == (([90], [30]) if kind == "redis" else ([40], [20]))
    if isinstance(store, BufferedStore):
        store.close()


def test_sqlite_a_long_backlog_is_trimmed_to_the_limit_in_one_flush(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = tw.SQLiteStore(path, history_limit=100)
    add_in_one_batch(store, [finished(f"c{i}", "j", i) for i in range(3000)])
    store.add_run(finished("other", "k", 1))
    store.flush()
    assert kept_in_sqlite(path) == {"j": 100, "k": 1}
    kept = store.history("j", 1000)
    assert [r.cid for r in kept] == [f"c{i}" for i in range(2999, 2899, -1)]  # the newest
    store.close()
    db = sqlite3.connect(path)  # the counts the triggers keep agree
    assert dict(db.execute("SELECT job, finished FROM tickwork_run_counts")) == {"j": 100, "k": 1}
    db.close()


def test_sqlite_a_version_3_file_is_counted_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE tickwork_meta (key TEXT PRIMARY KEY, value TEXT)")
    for step in _sqlite._MIGRATIONS[:3]:
        for statement in step:
            db.execute(statement)
    db.execute("INSERT INTO tickwork_meta VALUES ('schema_version', '3')")
    db.executemany(
        f"INSERT INTO tickwork_runs ({_sqlite._RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})",
        [_sqlite._run_row(finished(f"c{i}", "j", i), "old") for i in range(30)],
    )
    db.commit()
    db.close()
    store = tw.SQLiteStore(path, history_limit=20)
    assert store.schema_version == 4
    store.add_run(finished("c30", "j", 30))
    store.flush()
    assert kept_in_sqlite(path) == {"j": 20}
    assert store.history("j", 100)[-1].cid == "c11"
    store.close()


def test_sqlite_history_max_age_is_applied_with_each_flush(tmp_path: Path) -> None:
    store = tw.SQLiteStore(tmp_path / "jobs.db", history_max_age=timedelta(minutes=10))
    add_in_one_batch(store, [finished(f"c{i}", "j", i) for i in range(30)])
    store.flush()
    kept = store.history("j", 100)
    assert [r.cid for r in kept] == [f"c{i}" for i in range(29, 18, -1)]  # minutes 19-29
    store.close()
