"""Three scheduler processes on one store (Redis, or one SQLite file); one is
killed half-way.

From the ledger the service writes:

- no (job, due time) ran twice;
- a job with misfire="all" lost no due time. The kill lands on a due time:
  a fire the killed scheduler had claimed and written ahead, but not yet run,
  is recorded as interrupted by a survivor and never run again (at most
  once). The test checks that the store has each such run, at the kill;
- a job with misfire="coalesce" lost only due times while shards changed
  hands: at the start, until the three schedulers hold even shares (the first
  to start holds them all, then gives some up), and in the failover window
  (the killed scheduler's lease running out, then a survivor's next round).
  A fire that waits for its shard's new holder past its grace is a misfire,
  and coalesce makes one run of the fires missed.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import tickwork as tw

from . import fleet_child

CHILD = Path(fleet_child.__file__)
JOBS = 500
RUN_FOR = 30.0
KILL_AT = 15.0
LEASE_TTL = 6.0


def shares(where: str) -> Counter[str]:
    """How many shards each scheduler holds, as the store has it."""
    kind, _, address = where.partition(":")
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(address, decode_responses=True)
        try:
            return Counter(client.hgetall("fleet:leases").values())
        finally:
            client.close()
    db = sqlite3.connect(address)
    try:
        return Counter(owner for (owner,) in db.execute("SELECT owner FROM tickwork_leases"))
    finally:
        db.close()


def interrupted_runs(kind: str, where: str) -> set[tuple[str, int]]:
    """(job, due time) of the runs the store records as interrupted."""
    address = where.partition(":")[2]
    store = tw.RedisStore(address, prefix="fleet") if kind == "redis" else tw.SQLiteStore(address)
    try:
        return {
            (run.job, run.scheduled_us)
            for i in range(JOBS)
            for run in store.history(f"job-{i}", limit=100)
            if run.error is not None and run.error.startswith("interrupted")
        }
    finally:
        store.close()


def watch_until_even(where: str, settled: list[float], stop: threading.Event) -> None:
    """Record when three schedulers first hold even shares of the 64."""
    while not stop.wait(0.02):
        held = shares(where)
        if len(held) == 3 and sum(held.values()) == 64 and max(held.values()) <= 22:
            settled.append(time.time())
            return


def start_child(where: str, ledger: Path, instance: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), where, str(ledger), str(instance)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_three_schedulers_one_killed_no_duplicates_no_losses(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    start = datetime.now(UTC) + timedelta(seconds=4)
    app = tw.App()
    app.service("record")(lambda request: None)
    store: tw.Store
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        where = f"redis:{url}"
        store = tw.RedisStore(url, prefix="fleet")
    else:
        where = f"sqlite:{tmp_path / 'jobs.db'}"
        store = tw.SQLiteStore(tmp_path / "jobs.db")
    setup = tw.Scheduler(app, store=store)  # never started: it only adds the jobs
    for i in range(JOBS):
        setup.add_job(
            f"job-{i}",
            "record",
            tw.Interval(seconds=1, start=start),
            misfire="all" if i % 2 else "coalesce",
            grace=timedelta(seconds=0.5),
            overlap="allow",
        )
    store.close()

    settled: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_until_even, args=(where, settled, stop))
    watcher.start()
    try:
        children = [start_child(where, ledger, i) for i in range(3)]
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            child.stdout.close()
        deadline = start.timestamp() + KILL_AT - 1.0
        while not settled and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join()
    assert settled, f"the fleet did not settle into even shares: {shares(where)}"
    began = start.timestamp()
    time.sleep(max(0.0, began + KILL_AT - time.time()))
    children[1].send_signal(signal.SIGKILL)
    killed = time.time()
    children[1].wait()
    time.sleep(max(0.0, began + RUN_FOR - time.time()))
    stopped = time.time()
    for child in (children[0], children[2]):
        child.send_signal(signal.SIGTERM)
    for child in (children[0], children[2]):
        assert child.wait(timeout=30) == 0

    lines = [line.split() for line in ledger.read_text().splitlines()]
    ran = Counter((job, int(due)) for job, due, _ in lines)
    twice = {key: n for key, n in ran.items() if n > 1}
    assert not twice, f"{len(twice)} due times ran twice, e.g. {list(twice.items())[:5]}"

    by_instance = Counter(instance for _, _, instance in lines)
    assert set(by_instance) == {"0", "1", "2"}  # every scheduler had a share

    start_us = int(began * 1e6)
    last_due = int((stopped - 1.0) * 1e6)  # later ones may not have started
    windows = [
        (began, settled[0] + 1.0),  # shards handed out at the start
        (killed - 1.0, killed + LEASE_TTL + LEASE_TTL / 3 + 1.0),  # failover
    ]
    interrupted = interrupted_runs(kind, where)
    assert all(killed - 2.0 <= due / 1e6 <= killed for _, due in interrupted), interrupted
    lost_all, lost_outside = [], []
    for i in range(JOBS):
        name = f"job-{i}"
        for due in range(start_us, last_due, 1_000_000):
            if (name, due) in ran or (name, due) in interrupted:
                continue
            if i % 2:
                lost_all.append((name, due))
            elif not any(low <= due / 1e6 <= high for low, high in windows):
                lost_outside.append((name, due))
    assert not lost_all, f"misfire='all' lost {len(lost_all)}, e.g. {lost_all[:5]}"
    assert not lost_outside, f"lost outside the failover window: {lost_outside[:5]}"
    assert sum(ran.values()) > JOBS * (RUN_FOR - 2 * LEASE_TTL)
