"""A scheduler process for the fault tests (tests/test_faults.py), run as a script.

    python fault_child.py run STORE LEDGER [LEASE_TTL]
    python fault_child.py declare STORE LEDGER AT_US

STORE is ``sqlite:PATH`` (a SQLiteStore) or ``redis:URL`` (a RedisStore with
the prefix "faults"). ``run`` runs the jobs the test put in the store;
``declare`` first declares its two jobs with ``Scheduler.declare_job``, as
code that runs at every start does (a OneTime at AT_US, microseconds since
the epoch, and an Interval with three repeats). Either prints "ready" once
the scheduler runs (its SIGTERM handler in place and, on a store a fleet
shares, its share of the jobs taken), and runs until SIGTERM, when it exits
0, or until killed.

The one service, "record" (also the :data:`Record` class a TOML config names
as ``tests.fault_child:Record``), appends a line "job due_us run_number pid
time" (time: seconds since the epoch) to the file named by
$TICKWORK_FAULT_LEDGER as the run starts, with one O_APPEND write, which a
SIGKILL cannot tear or lose; then it sleeps for the "sleep" seconds of the
job's extra, if any.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import tickwork as tw

PREFIX = "faults"
LEDGER_ENV = "TICKWORK_FAULT_LEDGER"


def record(request: tw.Request) -> None:
    job = request.job
    assert job is not None
    line = f"{job.name} {job.scheduled_us} {job.run_number} {os.getpid()} {time.time():.6f}\n"
    ledger = os.open(os.environ[LEDGER_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(ledger, line.encode())
    finally:
        os.close(ledger)
    payload = request.payload
    if isinstance(payload, dict) and payload.get("sleep"):
        time.sleep(float(payload["sleep"]))


Record = tw.service("record")(record)


def open_store(where: str) -> tw.Store:
    """The store ``where`` names (see the module doc)."""
    kind, _, address = where.partition(":")
    interval = timedelta(milliseconds=5)
    if kind == "redis":
        return tw.RedisStore(address, prefix=PREFIX, flush_interval=interval)
    if kind == "sqlite":
        return tw.SQLiteStore(address, flush_interval=interval)
    raise SystemExit(f"fault_child: unknown store {where!r}")


def main() -> None:
    mode, where, ledger = sys.argv[1:4]
    os.environ[LEDGER_ENV] = ledger
    app = tw.App()
    app.add_service(Record)
    store = open_store(where)
    lease_ttl = timedelta(seconds=6)
    if mode == "run" and len(sys.argv) > 4:
        lease_ttl = timedelta(seconds=float(sys.argv[4]))
    sched = tw.Scheduler(
        app, store=store, executor=tw.ThreadExecutor(max_workers=8), lease_ttl=lease_ttl
    )
    if mode == "declare":
        at = datetime.fromtimestamp(int(sys.argv[4]) / 1e6, UTC)
        sched.declare_job("once", "record", tw.OneTime(at))
        sched.declare_job("thrice", "record", tw.Interval(seconds=0.3, repeats=3))
    elif mode != "run":
        raise SystemExit(f"fault_child: unknown mode {mode!r}")

    def announce() -> None:
        # Once the loop runs, run_forever has put its SIGTERM handler in place
        # and, on a store a fleet shares, taken a share of the jobs.
        while not sched.running:
            time.sleep(0.005)
        print("ready", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    sched.run_forever()  # until SIGTERM: then a clean shutdown
    store.close()


if __name__ == "__main__":
    main()
