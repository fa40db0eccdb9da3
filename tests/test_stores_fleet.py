"""The fleet methods of the shared stores, driven directly: leases, heartbeats,
the change feed and claims fenced by leases."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import tickwork as tw
from tickwork.stores import SHARDS, shard_of

Opener = Callable[[], tw.Store]


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[tw.Store] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    def open_store() -> tw.Store:
        store: tw.Store = (
            tw.RedisStore(url, prefix="unit")
            if request.param == "redis"
            else tw.SQLiteStore(tmp_path / "jobs.db")
        )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def test_shares_even_out_and_a_dead_scheduler_is_replaced(opener: Opener) -> None:
    a, b, c = opener(), opener(), opener()
    held, live = a.fleet_round(0.5)
    assert (len(held), live) == (SHARDS, 1)
    b.fleet_round(0.5)  # b sees two live schedulers, but every shard is a's
    c.fleet_round(0.5)
    for _ in range(3):  # a gives up its excess, b and c take what is free
        shares = [store.fleet_round(0.5) for store in (a, b, c)]
    held_a, held_b, held_c = (held for held, _ in shares)
    assert max(len(held_a), len(held_b), len(held_c)) == 22  # ceil(64 / 3)
    assert held_a | held_b | held_c == frozenset(range(SHARDS))
    assert len(held_a) + len(held_b) + len(held_c) == SHARDS  # no shard held twice

    time.sleep(0.6)  # b stops sending heartbeats and is dead once they run out
    a.fleet_round(0.5)
    c.fleet_round(0.5)
    held_a, live = a.fleet_round(0.5)
    held_c, _ = c.fleet_round(0.5)
    assert live == 2
    assert held_a | held_c == frozenset(range(SHARDS))

    c.fleet_leave()  # a clean stop frees its shards at once
    held_a, live = a.fleet_round(0.5)
    assert (len(held_a), live) == (SHARDS, 1)


def test_a_claim_on_a_shard_another_live_scheduler_holds_is_refused(
    app: tw.App, clock: tw.FakeClock, opener: Opener
) -> None:
    a, b = opener(), opener()
    sched = tw.Scheduler(app, clock=clock, store=a)
    job = sched.add_job("j", "noop", tw.Interval(minutes=1))
    b.fleet_round(5.0)  # b holds every shard, j's included
    a.update_state(job, next_fire_us=2, runs=1, last_due_us=1, active=True, expected_last_due=None)
    assert a.flush() == {"j"}
    b.update_state(job, next_fire_us=2, runs=1, last_due_us=1, active=True, expected_last_due=None)
    assert b.flush() == set()
    assert shard_of("j") in b.fleet_round(5.0)[0]


def test_the_feed_carries_the_others_changes(
    app: tw.App, clock: tw.FakeClock, opener: Opener
) -> None:
    a, b = opener(), opener()
    cursor, names = b.changes(None, 0)
    assert names == []
    sched = tw.Scheduler(app, clock=clock, store=a)
    sched.add_job("x", "noop", tw.Interval(minutes=1))
    sched.pause_job("x")
    sched.add_job("y", "noop", tw.Interval(minutes=1))
    cursor, names = b.changes(cursor, 1.0)
    assert names == ["x", "y"]
    cursor, names = b.changes(cursor, 0.05)
    assert names == []  # nothing new
    other = tw.Scheduler(app, clock=clock, store=b)
    other.remove_job("y")
    _, own = b.changes(cursor, 0.05)
    assert own == []  # its own changes are not news to it
    assert a.changes(None, 0)[1] == []


def test_sqlite_feed_trimmed_past_the_cursor_means_read_everything(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path
) -> None:
    a, b = tw.SQLiteStore(tmp_path / "jobs.db"), tw.SQLiteStore(tmp_path / "jobs.db")
    cursor, _ = b.changes(None, 0)
    sched = tw.Scheduler(app, clock=clock, store=a)
    for i in range(3):
        sched.add_job(f"j{i}", "noop", tw.Interval(minutes=1))
    db = sqlite3.connect(tmp_path / "jobs.db")
    db.execute("DELETE FROM tickwork_changes WHERE seq <= 2")
    db.commit()
    db.close()
    assert b.changes(cursor, 0)[1] is None
    a.close()
    b.close()


def test_a_refused_fire_leaves_no_run_and_no_missed_record(
    app: tw.App, clock: tw.FakeClock, opener: Opener
) -> None:
    a, b = opener(), opener()
    sched = tw.Scheduler(app, clock=clock, store=a)
    sched.add_job("j", "noop", tw.Interval(minutes=1), misfire="skip", grace=timedelta(0))
    b.fleet_round(5.0)  # a live scheduler holds j's shard
    clock.advance(minutes=3)  # 00:01 and 00:02 are missed, 00:03 is due now
    runs = sched.run_pending()
    assert [r.outcome for r in runs] == ["missed"]  # what it saw (00:01 and 00:02)...
    assert sched.history("j") == []  # ...but its claim was refused: nothing is kept
    assert "j" in {job.name for job in b.load_jobs()}
