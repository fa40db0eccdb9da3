"""Kill a scheduler process with SIGKILL at random points, restart it, and
check from the ledger its service wrote that no due time ran twice and that
every due time ran or was handled by its job's misfire policy."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import tickwork as tw
from tickwork.stores._sqlite import INTERRUPTED

from . import crash_child

CHILD = Path(crash_child.__file__)
KILLS = 20


def start_child(db: Path, ledger: Path, start_us: int) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(ledger), str(start_us)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the jobs are loaded
    proc.stdout.close()
    assert line.strip() == "ready", line
    return proc, time.time()


@pytest.mark.slow
def test_sigkill_at_random_points_never_runs_a_due_time_twice(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    db, ledger = tmp_path / "jobs.db", tmp_path / "ledger.txt"
    start_us = int((time.time() + 1.5) * 1e6)
    # When the scheduler was down: (from, to) in seconds since the epoch.
    down: list[list[float]] = [[0.0, 0.0]]
    for _ in range(KILLS):
        proc, ready = start_child(db, ledger, start_us)
        down[-1][1] = ready
        time.sleep(rng.uniform(0.15, 0.9))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        down.append([time.time(), 0.0])
    proc, ready = start_child(db, ledger, start_us)
    down[-1][1] = ready
    time.sleep(1.5)
    stopped = time.time()
    proc.send_signal(signal.SIGTERM)  # the last one stops gracefully
    assert proc.wait(timeout=30) == 0
    end_us = int((stopped - 0.3) * 1e6)  # due times later than this may not have started

    ran = Counter(
        (name, int(due)) for name, due in (line.split() for line in ledger.read_text().splitlines())
    )
    twice = {key: n for key, n in ran.items() if n > 1}
    assert not twice, f"due times that ran more than once: {twice}"

    store = tw.SQLiteStore(db)
    store.load_jobs()  # marks the runs the last kill cut short
    history = store.history(limit=1_000_000)
    recorded = {(r.job, r.scheduled_us): r for r in history}
    interrupted = sum(1 for r in recorded.values() if r.error == INTERRUPTED)
    store.close()
    # One missed record covers the due times of one catch-up, from its
    # scheduled_for to the last one its error names (docs/policies.md).
    missed_spans = [
        (r.job, r.scheduled_us, missed_until(r)) for r in history if r.outcome == "missed"
    ]

    def was_missed(name: str, due: int) -> bool:
        return any(job == name and first <= due <= last for job, first, last in missed_spans)

    def was_down(due_us: int, grace: float) -> bool:
        due = due_us / 1e6
        return any(start - 0.05 <= due and due - grace <= end + 0.5 for start, end in down)

    unexplained: list[str] = []
    total = 0
    for name, (seconds, misfire, grace, repeats) in crash_child.INTERVALS.items():
        step = round(seconds * 1e6)
        dues = [start_us + k * step for k in range((end_us - start_us) // step + 1)]
        dues = dues[: repeats or None]
        for due in dues:
            total += 1
            if (name, due) in ran:
                continue
            run = recorded.get((name, due))
            if run is not None and (
                run.outcome == "missed" or (run.outcome == "error" and run.error == INTERRUPTED)
            ):
                continue
            if misfire == "coalesce" and was_down(due, grace):
                continue  # folded into the one run after the restart
            if was_missed(name, due):
                continue
            unexplained.append(f"{name} {due} ({misfire}): {run!r}")
        if repeats is not None:
            assert sum(n for (job, _), n in ran.items() if job == name) <= repeats
    for i in range(crash_child.ONE_TIME_COUNT):
        name = f"once-{i}"
        due = start_us + int(crash_child.ONE_TIME_EVERY * (i + 1) * 1e6)
        if due > end_us:
            continue
        total += 1
        run = recorded.get((name, due))
        handled = (name, due) in ran or (
            run is not None and run.outcome in ("missed", "error")  # skip, or interrupted
        )
        if not handled:
            unexplained.append(f"{name} {due}: {run!r}")
    print(f"{total} due times, {sum(ran.values())} runs, {interrupted} interrupted")
    assert total > 200
    assert not unexplained, "\n".join(unexplained)
    assert os.path.getsize(db) > 0


def missed_until(run: tw.Run) -> int:
    """The last due time a missed record covers (it names it when it covers more than one)."""
    if run.error and run.error.startswith("missed ") and " to " in run.error:
        last = datetime.fromisoformat(run.error.rsplit(" to ", 1)[1])
        return (last - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return run.scheduled_us
