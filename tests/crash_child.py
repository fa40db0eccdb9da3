"""A scheduler process for the crash tests (run as a script, killed at random).

    python crash_child.py DB LEDGER START_US

Opens a SQLiteStore at DB, adds the test's jobs if the store has none (their
times counted from START_US, microseconds since the epoch), and runs until
killed or sent SIGTERM. The one service appends "job due_us" lines to LEDGER
with single O_APPEND writes, which a SIGKILL cannot tear or lose.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import tickwork as tw

# name -> (interval in seconds, misfire, grace in seconds, repeats)
INTERVALS = {
    "all": (0.2, "all", 0.1, None),
    "skip": (0.15, "skip", 0.1, None),
    "coalesce": (0.25, "coalesce", 0.05, None),
    "repeats": (0.3, "all", 0.1, 15),
}
ONE_TIME_COUNT = 12
ONE_TIME_EVERY = 0.9


def main() -> None:
    db, ledger_path, start_text = sys.argv[1:4]
    start = datetime.fromtimestamp(int(start_text) / 1e6, UTC)
    ledger = os.open(ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    app = tw.App()

    @app.service("record")
    def record(request: tw.Request) -> None:
        job = request.job
        assert job is not None
        os.write(ledger, f"{job.name} {job.scheduled_us}\n".encode())
        time.sleep(random.random() * 0.03)  # so that kills land inside runs too

    store = tw.SQLiteStore(db, flush_interval=timedelta(milliseconds=5))
    sched = tw.Scheduler(app, store=store, executor=tw.ThreadExecutor(max_workers=4))
    if not sched.jobs():
        for name, (seconds, misfire, grace, repeats) in INTERVALS.items():
            sched.add_job(
                name,
                "record",
                tw.Interval(seconds=seconds, start=start, repeats=repeats),
                misfire=misfire,
                grace=timedelta(seconds=grace),
                overlap="allow",
            )
        for i in range(ONE_TIME_COUNT):
            sched.add_job(
                f"once-{i}",
                "record",
                tw.OneTime(start + timedelta(seconds=ONE_TIME_EVERY * (i + 1))),
                misfire="coalesce" if i % 2 else "skip",
                grace=timedelta(seconds=0.1),
            )
    print("ready", flush=True)
    sched.run_forever()
    store.close()


if __name__ == "__main__":
    main()
