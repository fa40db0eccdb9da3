"""Restart semantics (SEMANTICS.md) on every store, and SQLiteStore's own duties.

A "restart" is a new Scheduler on the same store: the same MemoryStore
object, or a new SQLiteStore on the same file (the old one abandoned
unclosed, as a killed process would leave it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import tickwork as tw

from .helpers import wait_for

Reopen = Callable[[], tw.Store]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    """Returns the store as a restarted process would find it."""
    opened: list[tw.Store] = []
    memory = tw.MemoryStore()
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def open_store() -> tw.Store:
        if request.param == "memory":
            return memory
        store: tw.Store
        if request.param == "sqlite":
            store = tw.SQLiteStore(tmp_path / "jobs.db")
        else:
            store = tw.RedisStore(url, prefix="test")
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def restart(app: tw.App, clock: tw.FakeClock, reopen: Reopen) -> tw.Scheduler:
    return tw.Scheduler(app, clock=clock, store=reopen())


def times(runs: list[tw.Run]) -> list[tuple[str, str, str | None]]:
    return [(r.job, f"{r.scheduled_for:%H:%M}", r.outcome) for r in runs]


def test_state_and_definitions_survive_a_restart(
    app: tw.App, clock: tw.FakeClock, reopen: Reopen
) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job(
        "sync",
        "noop",
        tw.Cron("*/5 * * * *", tz="Europe/Paris"),
        extra={"key": ["value", 1]},
        misfire="all",
        grace=timedelta(seconds=30),
        overlap="queue",
        retry=tw.Retry(attempts=2, backoff=timedelta(seconds=3)),
    )
    sched.add_job("later", "noop", tw.Interval(hours=1), active=False)
    sched.advance(minutes=11)
    before = sched.jobs()
    again = restart(app, clock, reopen)
    assert again.jobs() == before
    assert again.get_job("sync").runs == 2
    assert again.get_job("later").active is False
    assert [r.scheduled_for.minute for r in again.history("sync")] == [10, 5]


def test_repeats_count_survives_a_restart(app: tw.App, clock: tw.FakeClock, reopen: Reopen) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job("thrice", "noop", tw.Interval(minutes=1, repeats=3))
    assert len(sched.advance(minutes=2)) == 2
    again = restart(app, clock, reopen)
    assert times(again.advance(minutes=5)) == [("thrice", "00:03", "ok")]
    assert again.jobs() == []
    assert restart(app, clock, reopen).jobs() == []


def test_one_time_job_never_runs_twice(app: tw.App, clock: tw.FakeClock, reopen: Reopen) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job("once", "noop", tw.OneTime("2026-03-01T00:05:00Z"))
    assert times(sched.advance(minutes=10)) == [("once", "00:05", "ok")]
    clock.set("2026-03-01T00:01:00Z")  # the clock jumps back, and the process restarts
    again = restart(app, clock, reopen)
    assert again.jobs() == []
    assert again.advance(minutes=10) == []
    assert [r.job for r in again.history()] == ["once"]


def test_paused_jobs_stay_paused(app: tw.App, clock: tw.FakeClock, reopen: Reopen) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    sched.advance(minutes=1)
    sched.pause_job("j")
    again = restart(app, clock, reopen)
    assert again.get_job("j").active is False
    assert again.advance(minutes=5) == []
    again.resume_job("j")
    assert times(again.advance(minutes=1)) == [("j", "00:07", "ok")]


@pytest.mark.parametrize(
    ("misfire", "expected"),
    [
        ("coalesce", [("j", "00:05", "ok")]),
        ("skip", [("j", "00:02", "missed"), ("j", "00:05", "ok")]),
        ("all", [("j", "00:02", "ok"), ("j", "00:03", "ok"), ("j", "00:04", "ok"),
                 ("j", "00:05", "ok")]),
    ],
)  # fmt: skip
def test_fires_missed_while_down_follow_the_misfire_policy(
    app: tw.App,
    clock: tw.FakeClock,
    reopen: Reopen,
    misfire: str,
    expected: list[tuple[str, str, str]],
) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job("j", "noop", tw.Interval(minutes=1), misfire=misfire, grace=timedelta(0))
    sched.advance(minutes=1)
    clock.advance(minutes=4)  # down from 00:01 to 00:05: 00:02-00:04 are missed
    again = restart(app, clock, reopen)
    assert times(again.run_pending()) == expected


def test_updates_and_removals_are_kept(app: tw.App, clock: tw.FakeClock, reopen: Reopen) -> None:
    sched = restart(app, clock, reopen)
    sched.add_job("a", "noop", tw.Interval(minutes=1))
    sched.add_job("b", "noop", tw.Interval(minutes=1))
    sched.update_job("a", trigger=tw.Interval(minutes=10), extra="x=1")
    sched.remove_job("b")
    again = restart(app, clock, reopen)
    assert [j.name for j in again.jobs()] == ["a"]
    assert again.get_job("a").extra == "x=1"
    assert again.get_job("a").trigger == tw.Interval(
        minutes=10, start="2026-03-01T00:10:00Z", tz="UTC"
    )


# -- SQLiteStore ------------------------------------------------------------------
@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


def test_sqlite_keeps_plain_json_and_columns_never_pickles(
    app: tw.App, clock: tw.FakeClock, db_path: Path
) -> None:
    store = tw.SQLiteStore(db_path)
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Cron("0 9 * * 1-5", tz="Europe/Paris"), extra={"a": [1, "b"]})
    sched.advance(days=3)
    store.close()
    db = sqlite3.connect(db_path)
    (definition,) = db.execute("SELECT definition FROM tickwork_jobs").fetchone()
    data = json.loads(definition)
    assert data["trigger"] == {"type": "cron", "expr": "0 9 * * 1-5", "tz": "Europe/Paris"}
    assert data["extra"] == {"a": [1, "b"]}
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {t for t in tables if not t.startswith("sqlite_")} == {
        "tickwork_meta", "tickwork_jobs", "tickwork_runs",
        "tickwork_instances", "tickwork_leases", "tickwork_changes", "tickwork_requests",
        "tickwork_run_counts",
    }  # fmt: skip
    outcomes = db.execute("SELECT outcome, typeof(scheduled_us) FROM tickwork_runs").fetchall()
    assert outcomes == [("ok", "integer")] * 2  # 2 March (Monday) and 3 March, 09:00 Paris
    db.close()


def test_sqlite_refuses_an_extra_that_is_not_json_and_changes_nothing(
    app: tw.App, clock: tw.FakeClock, db_path: Path
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(db_path))
    sched.add_job("j", "noop", tw.Interval(minutes=1), extra="ok")
    with pytest.raises(TypeError, match=r"job 'bad'.*extra must be JSON"):
        sched.add_job("bad", "noop", tw.Interval(minutes=1), extra={1, 2})
    with pytest.raises(TypeError, match=r"job 'j'.*extra must be JSON"):
        sched.update_job("j", extra=object())
    assert [j.name for j in sched.jobs()] == ["j"]
    assert sched.get_job("j").extra == "ok"
    assert [r.outcome for r in sched.advance(minutes=1)] == ["ok"]


def test_sqlite_run_cut_short_by_a_crash_is_recorded_as_interrupted(
    app: tw.App, clock: tw.FakeClock, db_path: Path
) -> None:
    release = threading.Event()
    calls: list[int] = []

    @app.service("slow")
    def slow(request: tw.Request) -> None:
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)  # the first run hangs until the test ends

    store = tw.SQLiteStore(db_path)
    sched = tw.Scheduler(app, clock=clock, store=store, executor=tw.ThreadExecutor(max_workers=2))
    sched.add_job("j", "slow", tw.Interval(minutes=1))
    sched.advance(minutes=1)  # the run starts on a worker and hangs: then the process "dies"
    wait_for(lambda: sched.get_job("j").runs == 1)
    # A new process opens the file; the old one never finished or closed anything.
    again = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(db_path))
    (run,) = again.history("j")
    assert (run.outcome, run.error) == ("error", tw.stores._sqlite.INTERRUPTED)
    assert run.scheduled_for.minute == 1
    assert again.get_job("j").runs == 1  # 00:01 is taken: it never runs again
    assert times(again.advance(minutes=1)) == [("j", "00:02", "ok")]
    release.set()
    sched.shutdown()


def test_sqlite_a_bad_record_is_named_and_the_others_run(
    app: tw.App, clock: tw.FakeClock, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(db_path))
    for name in ("good", "garbled", "sundial", "array"):
        sched.add_job(name, "noop", tw.Interval(minutes=1))
    db = sqlite3.connect(db_path)
    db.execute("UPDATE tickwork_jobs SET definition = '{not json' WHERE name = 'garbled'")
    db.execute(
        "UPDATE tickwork_jobs SET definition = json_set(definition, '$.trigger.type', 'sundial') "
        "WHERE name = 'sundial'"
    )
    db.execute("UPDATE tickwork_jobs SET definition = '[1, 2]' WHERE name = 'array'")
    db.commit()
    db.close()
    with caplog.at_level(logging.ERROR):
        again = tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(db_path))
    assert [j.name for j in again.jobs()] == ["good"]
    for name, reason in [
        ("garbled", "JSONDecodeError"),
        ("sundial", "sundial"),
        ("array", "object"),
    ]:
        assert any(
            f"job {name!r}" in r.message and reason in r.message and str(db_path) in r.message
            for r in caplog.records
        ), name
    assert times(again.advance(minutes=1)) == [("good", "00:01", "ok")]


def test_sqlite_history_retention_by_count_and_age(
    app: tw.App, clock: tw.FakeClock, db_path: Path
) -> None:
    store = tw.SQLiteStore(db_path, history_limit=20)
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Interval(seconds=1))
    sched.advance(minutes=5)
    kept = sched.history("j", limit=1000)
    assert len(kept) == 20
    assert kept[0].scheduled_for.minute == 5
    (rows,) = sqlite3.connect(db_path).execute("SELECT count(*) FROM tickwork_runs").fetchone()
    assert rows <= 20 + max(16, 20 // 8)  # trimmed in batches
    store.close()

    aged = tw.SQLiteStore(db_path, history_limit=10_000, history_max_age=timedelta(minutes=2))
    sched = tw.Scheduler(app, clock=clock, store=aged)
    sched.advance(minutes=20)
    oldest = sched.history("j", limit=100_000)[-1].scheduled_for
    assert oldest >= clock.now() - timedelta(minutes=2, seconds=600)  # batches of 512 runs
    assert sched.history("j", limit=1)[0].scheduled_for == clock.now()
    aged.close()


def test_sqlite_refuses_a_newer_schema_and_a_file_that_is_not_a_database(db_path: Path) -> None:
    tw.SQLiteStore(db_path).close()
    db = sqlite3.connect(db_path)
    db.execute("UPDATE tickwork_meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(tw.StoreError, match=r"schema version 99, newer than this tickwork's \(4\)"):
        tw.SQLiteStore(db_path)
    junk = db_path.with_name("junk.db")
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(tw.StoreError, match=r"junk\.db"):
        tw.SQLiteStore(junk)


def test_sqlite_shares_a_file_with_other_tables(db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    store = tw.SQLiteStore(db_path)
    assert store.schema_version == 4
    store.close()
    assert tw.SQLiteStore(db_path).schema_version == 4  # opening again migrates nothing


def test_sqlite_migrates_a_version_1_file(app: tw.App, clock: tw.FakeClock, db_path: Path) -> None:
    from tickwork.stores import _sqlite

    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE tickwork_meta (key TEXT PRIMARY KEY, value TEXT)")
    for statement in _sqlite._MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO tickwork_meta VALUES ('schema_version', '1')")
    definition = json.dumps(
        {"name": "old", "service": "noop", "trigger": {"type": "interval", "seconds": 60.0},
         "extra": None, "misfire": "coalesce", "grace": 60.0, "overlap": "skip",
         "jitter": None, "timeout": None, "retry": None}
    )  # fmt: skip
    db.execute(
        "INSERT INTO tickwork_jobs VALUES ('old', ?, ?, 3, NULL, 1)",
        (definition, clock.now_us() + 60_000_000),
    )
    db.commit()
    db.close()
    store = tw.SQLiteStore(db_path)
    assert store.schema_version == 4
    sched = tw.Scheduler(app, clock=clock, store=store)
    assert sched.get_job("old").runs == 3
    assert [r.outcome for r in sched.advance(minutes=1)] == ["ok"]
    (shard,) = sqlite3.connect(db_path).execute("SELECT shard FROM tickwork_jobs").fetchone()
    assert shard == tw.stores.shard_of("old")
    store.close()


def test_sqlite_bad_arguments() -> None:
    with pytest.raises(ValueError, match="history_limit"):
        tw.SQLiteStore(":memory:", history_limit=0)
    with pytest.raises(ValueError, match="history_max_age"):
        tw.SQLiteStore(":memory:", history_max_age=timedelta(0))


def test_sqlite_finished_runs_are_committed_by_the_flusher(app: tw.App, db_path: Path) -> None:
    store = tw.SQLiteStore(db_path, flush_interval=timedelta(milliseconds=5))
    sched = tw.Scheduler(app, store=store)
    sched.add_job("j", "noop", tw.Interval(seconds=0.05))
    with sched:

        def committed() -> int:
            db = sqlite3.connect(db_path)
            try:
                query = "SELECT count(*) FROM tickwork_runs WHERE outcome = 'ok'"
                return int(db.execute(query).fetchone()[0])
            finally:
                db.close()

        wait_for(lambda: committed() >= 3)
    store.close()
