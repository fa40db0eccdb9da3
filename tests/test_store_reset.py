"""A durable store wiped or replaced under a running scheduler says so.

A SQLite file deleted or swapped for another, a redis-server that lost its
data (FLUSHALL, as a restart without persistence leaves it): the next flush
raises tw.StoreReset, after the store made itself usable again (empty, with
its schema). The batch that found it stays pending until the caller wrote
its jobs back and flushed again.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tickwork as tw

T0_US = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z
MIN = 60_000_000


def a_job() -> tw.Job:
    return tw.Job("j", "noop", tw.Interval(minutes=1, start="2026-03-01T00:01:00Z"))


def fire(store: tw.Store, job: tw.Job, minute: int) -> tw.Run:
    """What a scheduler hands the store for a fire at ``minute``: the claim of
    the job's new state, and the run written ahead (the job's record is the
    scheduler's live one, changed as the fire changed it)."""
    expected = job.last_due_us
    job.last_due_us = T0_US + minute * MIN
    job.next_fire_us = job.last_due_us + MIN
    job.runs += 1
    store.update_state(
        job, next_fire_us=job.next_fire_us, runs=job.runs, last_due_us=job.last_due_us,
        active=True, expected_last_due=expected,
    )  # fmt: skip
    run = tw.Run(f"run-{minute}", "j", "noop", job.last_due_us, job.runs)
    store.run_started(run)
    return run


def tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()


def open_cids(store: tw.Store) -> set[str]:
    if isinstance(store, tw.SQLiteStore):
        with store._db_lock:
            rows = store._db.execute("SELECT cid FROM tickwork_runs WHERE outcome IS NULL")
            return {cid for (cid,) in rows}
    assert isinstance(store, tw.RedisStore)
    return set(store._client.hkeys(store._key("open")))


def check_reset_and_restore(store: tw.Store, wipe: object) -> None:
    """Fire, flush, wipe; the next fire's flush raises StoreReset; writing the
    job back and flushing again writes the fire that found the reset."""
    job = a_job()
    store.put_job(job)
    fire(store, job, 1)
    assert store.flush() == set()  # a store left alone raises nothing
    assert callable(wipe)
    wipe()
    run = fire(store, job, 2)
    with pytest.raises(tw.StoreReset, match="wiped or replaced"):
        store.flush()
    assert store.load_jobs() == []  # usable again, and empty
    assert run.cid not in open_cids(store)  # the batch waits for the caller
    store.put_job(job)  # the caller writes its jobs back...
    assert store.flush() == set()  # ...and the pending claim holds: the run may start
    assert run.cid in open_cids(store)
    (loaded,) = store.load_jobs()
    assert (loaded.name, loaded.runs, loaded.last_due_us) == ("j", 2, T0_US + 2 * MIN)
    fire(store, job, 3)
    assert store.flush() == set()  # and the store goes on as before
    assert store.load_jobs()[0].runs == 3


# -- SQLite ---------------------------------------------------------------------
@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


def test_sqlite_file_deleted_under_the_store(db_path: Path) -> None:
    store = tw.SQLiteStore(db_path)

    def delete() -> None:
        db_path.unlink()
        assert not db_path.exists()

    check_reset_and_restore(store, delete)
    assert db_path.exists()
    assert {"tickwork_jobs", "tickwork_runs", "tickwork_meta"} <= tables(db_path)
    store.close()
    (again,) = tw.SQLiteStore(db_path).load_jobs()  # on disk, for the next process
    assert again.runs == 3


def test_sqlite_file_replaced_under_the_store(db_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    tw.SQLiteStore(other).close()  # an empty store, swapped in (a backup restored, say)
    store = tw.SQLiteStore(db_path)
    check_reset_and_restore(store, lambda: shutil.move(other, db_path))
    store.close()


def test_sqlite_reset_found_by_a_read_is_raised_by_the_next_flush(db_path: Path) -> None:
    store = tw.SQLiteStore(db_path)
    job = a_job()
    store.put_job(job)
    db_path.unlink()
    fire(store, job, 1)
    with pytest.raises(tw.StoreReset):
        store.history()  # a read flushes first, and finds it...
    assert store.history() == []
    with pytest.raises(tw.StoreReset):
        store.flush()  # ...and the scheduler's next flush is told, all the same
    store.put_job(job)
    assert store.flush() == set()
    assert store.load_jobs()[0].runs == 1
    store.close()


def test_sqlite_fleet_round_raises_store_reset(db_path: Path) -> None:
    store = tw.SQLiteStore(db_path)
    held, live = store.fleet_round(5.0)
    assert live == 1
    db_path.unlink()
    with pytest.raises(tw.StoreReset, match=str(db_path.name)):
        store.fleet_round(5.0)
    held, live = store.fleet_round(5.0)
    assert (len(held), live) == (tw.stores.SHARDS, 1)
    assert db_path.exists()
    store.close()


def test_sqlite_in_memory_is_never_reset() -> None:
    store = tw.SQLiteStore(":memory:")
    check_idle = a_job()
    store.put_job(check_idle)
    fire(store, check_idle, 1)
    assert store.flush() == set()
    store.close()


# -- Redis ----------------------------------------------------------------------
@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    yield conn
    conn.close()


def test_redis_flushall_under_the_store(redis_url: str, client: redis.Redis) -> None:
    store = tw.RedisStore(redis_url)
    identity = client.hget("tickwork:meta", "identity")
    assert identity
    check_reset_and_restore(store, client.flushall)
    meta = client.hgetall("tickwork:meta")
    assert meta["schema_version"] == "1"
    assert meta["identity"] not in ("", identity)
    store.close()


def test_redis_fleet_round_raises_store_reset_and_schedulers_agree_on_a_new_identity(
    redis_url: str, client: redis.Redis
) -> None:
    a, b = tw.RedisStore(redis_url), tw.RedisStore(redis_url)
    a.fleet_round(5.0)
    b.fleet_round(5.0)
    client.flushall()
    with pytest.raises(tw.StoreReset, match=r"lost its identity"):
        a.fleet_round(5.0)
    with pytest.raises(tw.StoreReset):
        b.fleet_round(5.0)  # b takes the identity a wrote, not one of its own...
    for _ in range(2):  # ...so that neither finds the other's a reset again
        a.fleet_round(5.0)
        b.fleet_round(5.0)
    a.put_job(a_job())
    assert a.flush() == set()
    assert b.flush() == set()
    a.close()
    b.close()


def test_redis_store_opened_on_data_of_an_older_tickwork_gets_an_identity(
    redis_url: str, client: redis.Redis
) -> None:
    client.hset("tickwork:meta", "schema_version", 1)  # no identity yet
    store = tw.RedisStore(redis_url)
    assert client.hget("tickwork:meta", "identity")
    job = a_job()
    store.put_job(job)
    fire(store, job, 1)
    assert store.flush() == set()
    store.close()


# -- the scheduler writes its jobs back -----------------------------------------------


@pytest.fixture
def app() -> tw.App:
    application = tw.App()

    @application.service("noop")
    def noop(request: tw.Request) -> None:
        return None

    return application


def test_a_scheduler_writes_its_jobs_back_to_a_deleted_sqlite_file(
    app: tw.App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "jobs.db"
    clock = tw.FakeClock(start="2026-03-01T00:00:00Z")
    sched = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(path))
    sched.add_job("a", "noop", tw.Interval(minutes=1))
    sched.add_job("once", "noop", tw.OneTime(at="2026-03-01T00:01:00Z"))
    sched.advance(minutes=1)
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"jobs.db{suffix}").unlink(missing_ok=True)
    assert [r.outcome for r in sched.advance(minutes=2)] == ["ok", "ok"]
    assert "lost its data" in caplog.text
    assert [j.name for j in sched.jobs(include_done=True)] == ["a", "once"]
    reader = tw.SQLiteStore(path)
    stored = {job.name: (job.status, job.runs) for job in reader.load_jobs()}
    assert stored == {"a": ("active", 3), "once": ("done", 1)}
    assert [r.scheduled_for.minute for r in reader.history("a")] == [3, 2, 1]  # none lost
    reader.close()
    sched.store.close()
