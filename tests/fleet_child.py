"""One scheduler of a fleet, for the fleet test (run as a script).

    python fleet_child.py STORE LEDGER INSTANCE

Runs a scheduler on STORE (``redis:URL`` for a RedisStore with the prefix
"fleet", ``sqlite:PATH`` for a SQLiteStore) until killed or sent SIGTERM.
The one service appends "job due_us instance" lines to LEDGER with single
O_APPEND writes.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import tickwork as tw


def main() -> None:
    where, ledger_path, instance = sys.argv[1:4]
    ledger = os.open(ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    app = tw.App()

    @app.service("record")
    def record(request: tw.Request) -> None:
        job = request.job
        assert job is not None
        os.write(ledger, f"{job.name} {job.scheduled_us} {instance}\n".encode())

    kind, _, address = where.partition(":")
    interval = timedelta(milliseconds=5)
    store: tw.Store
    if kind == "redis":
        store = tw.RedisStore(address, prefix="fleet", flush_interval=interval)
    else:
        store = tw.SQLiteStore(address, flush_interval=interval)
    sched = tw.Scheduler(
        app, store=store, executor=tw.ThreadExecutor(max_workers=8), lease_ttl=timedelta(seconds=6)
    )
    sched.start()
    print("ready", flush=True)
    sched.run_forever()
    store.close()


if __name__ == "__main__":
    main()
