"""Durable stores: tickwork's SQLiteStore and RedisStore vs APScheduler's
SQLAlchemyJobStore (on SQLite) and RedisJobStore.

Four measurements, each in its own fresh subprocess with its own fresh
database file or Redis server (under a temporary directory, removed at the end):

1. **Real time, fires/s on a durable store.** N no-op jobs (10k) every second,
   all starting at the same instant (a burst of N fires due every second, an
   offered load of N fires/s), 10 worker threads, the real clock. The jobs are
   added before the measurement (not timed); the first ``--warm`` (3) seconds
   are dropped, then handler starts are counted over ``--seconds`` (10) s.

   * tickwork: ``tw.Scheduler(app, store=tw.SQLiteStore(path),
     executor=tw.ThreadExecutor(max_workers=10))``, jobs
     ``tw.Interval(seconds=1, start=T)`` on a ``@app.service`` function;
     coalesce, 60 s grace, overlap skip (its defaults).
   * APScheduler 3.11: ``BackgroundScheduler`` with
     ``SQLAlchemyJobStore(url="sqlite:///path")`` and ``ThreadPoolExecutor(10)``,
     jobs ``add_job(noop, "interval", seconds=1, start_date=T,
     misfire_grace_time=60, coalesce=True, max_instances=1)``, added with the
     scheduler started paused, then resumed. APScheduler pickles each job into
     its row and rewrites the row after every fire, one transaction each.
     SQLAlchemy's defaults for SQLite: a rollback journal with
     ``synchronous=FULL``, so every commit is fsynced.
   * APScheduler again with the same engine switched to WAL and
     ``synchronous=NORMAL`` (what tickwork's SQLiteStore uses), by a
     ``connect`` event on the engine: the same library with its database
     tuned like tickwork's. Off with ``--no-aps-wal``.

   Each handler records ``time.time()`` first thing with its due time
   (tickwork: ``request.job.scheduled_for``; APScheduler: the ``run_times[-1]``
   it was submitted with, read by a thin wrapper around
   ``apscheduler.executors.pool.run_job``). fires/s = handler starts in the
   window / its length; lateness = handler start - due, for fires due in the
   window; ran/due = the share of fires due in the window that ran at all
   (the rest were coalesced). After the window the run waits up to 5 s for the
   scheduler to catch up. tickwork is then shut down (waiting for its runs)
   and its file is checked: every service call must have an ``ok`` run row.

2. **FakeClock, tickwork only** (APScheduler has no fake clock): the same N jobs
   every second, ``tw.Scheduler(app, clock=tw.FakeClock(...),
   store=tw.SQLiteStore(path))`` (InlineExecutor, no worker threads; the store's
   background flusher is the only other thread). After 2 simulated seconds of
   warm-up, ``sched.advance(seconds=10)`` and then ``store.flush()`` (the last
   finished runs) are timed: the cost of scheduling plus the store. The same
   with the default MemoryStore, for the price of durability.

3. **Startup with stored jobs.** A child fills a file with N jobs (100k, half
   ``tw.Interval(seconds=60)``, half ``tw.Cron("*/5 * * * *")``) through
   ``sched.add_job``; then, ``--repeats`` times, a fresh child times
   ``tw.Scheduler(app, store=tw.SQLiteStore(path))``, which loads every job.
   ``import tickwork`` is timed apart. For APScheduler the same N jobs
   (``IntervalTrigger(seconds=60)`` / ``CronTrigger.from_crontab``) are added
   to a paused scheduler's MemoryJobStore and their pickled states bulk-inserted
   into a ``SQLAlchemyJobStore`` table in one transaction (the rows
   ``SQLAlchemyJobStore.add_job`` writes, only faster to build); a fresh child
   times ``BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(...)})``,
   ``start(paused=True)`` and ``get_jobs()``. APScheduler loads lazily (each
   wake-up queries the due rows), so ``get_jobs()`` -- every job unpickled --
   is the counterpart of tickwork's constructor. The files were just written,
   so they are in the OS page cache.

4. **Redis, real time** (``--only redis``; skipped when there is no
   ``redis-server``): the measurement of 1. on Redis, N (10k) jobs every
   second. Every row gets a fresh ``redis-server`` started here on a free
   127.0.0.1 port with ``--save '' --appendonly no``, stopped after the row.

   * tickwork, 1 instance: ``tw.Scheduler(app, store=tw.RedisStore(url,
     prefix="bench"), executor=tw.ThreadExecutor(max_workers=10))``, jobs as in 1.
   * tickwork, ``--fleet`` (3) instances: a child adds the N jobs through a
     never-started Scheduler on the store (start a few seconds ahead); then
     three child processes, each ``tw.Scheduler`` on ``tw.RedisStore(url,
     prefix="bench")`` with ``lease_ttl=timedelta(seconds=--lease-ttl)`` (3 s,
     so a round every 1 s; tickwork's default is 6 s), are told to start at
     once. The parent watches the leases in Redis until every live instance
     holds its share (20-22 of 64 shards for 3) for a round and more, then
     opens the window (``--warm`` s later, on a whole second) and sends it to
     the children. Each counts its own handler starts in that wall-clock window
     and, after it, writes every start to its own ledger as ``time job due_us``;
     the parent sums them, takes lateness over all of them, and counts the
     (job, due) pairs run more than once across the fleet (must be 0).
   * APScheduler 3.11: ``BackgroundScheduler`` with ``RedisJobStore`` (1
     instance: it has no way to share a store safely), ``ThreadPoolExecutor(10)``,
     jobs as in 1. (``coalesce=True``, ``misfire_grace_time=60``).

   For tickwork, after shutdown, the store is read back: every service call
   must have an ``ok`` run in its job's history, the run counters must add up
   to the calls, no run may be left written ahead, and no due time may appear
   twice in a job's history. The redis-server's CPU over the window and its
   ``used_memory`` afterwards are reported too.

Peak RSS (``VmHWM``) of every child is reported as a side figure.

    .venv/bin/python benchmarks/bench_stores.py --rev HEAD   # ~3.5 min
    .venv/bin/python benchmarks/bench_stores.py --rev HEAD --only redis   # Redis only, ~70 s
    .venv/bin/python benchmarks/bench_stores.py --full       # + 20k/s (both), 100k fake, 500k rows
    .venv/bin/python benchmarks/bench_stores.py --profile fake       # cProfile advance() on SQLite
    .venv/bin/python benchmarks/bench_stores.py --profile load       # cProfile the 100k-job load
    .venv/bin/python benchmarks/bench_stores.py --profile realtime   # cProfile the scheduler thread
    .venv/bin/python benchmarks/bench_stores.py --profile realtime-redis   # ... on a RedisStore
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pickle
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from itertools import pairwise
from typing import Any

from _common import (
    SIM_T0,
    busy_seconds,
    check_quiet,
    check_source,
    machine_info,
    md_table,
    parse_args,
    peak_rss_kib,
    percentile,
    proc_cpu_s,
    ratio,
    run_child,
    window_lateness,
)

WORKERS = 10
DRAIN_MAX_S = 5.0
SHUTDOWN_MAX_S = 30.0
#: Rough seconds per add_job, to leave time to add the jobs before their first fire.
ADD_ESTIMATE_S = {
    "tickwork": 150e-6,
    "tickwork-memory": 50e-6,
    "apscheduler": 1.5e-3,
    "apscheduler-wal": 400e-6,
    "tickwork-redis": 250e-6,
    "apscheduler-redis": 500e-6,
}
LIB_LABEL = {
    "tickwork": "tickwork SQLiteStore",
    "tickwork-memory": "tickwork MemoryStore (reference: not durable)",
    "apscheduler": "APScheduler SQLAlchemyJobStore (SQLAlchemy defaults)",
    "apscheduler-wal": "APScheduler SQLAlchemyJobStore (WAL, synchronous=NORMAL)",
    "tickwork-redis": "tickwork RedisStore, 1 instance",
    "tickwork-fleet": "tickwork RedisStore, {k} instances (processes), aggregate",
    "apscheduler-redis": "APScheduler RedisJobStore, 1 instance",
}
#: tickwork's shards (tickwork.stores._base.SHARDS), to tell when a fleet has settled.
SHARDS = 64
TARGET_FIRES = 5_000
TARGET_RATIO = 3.0
TARGET_STARTUP_S = 2.0
TARGET_STARTUP_N = 100_000
APS_STARTUP_LIMIT_S = 60.0

#: The job function for APScheduler, found again by reference (``__main__:aps_noop``)
#: when a job is unpickled. It appends (start time, due time) to RECORD.
RECORD: list[tuple[float, datetime]] = []
_APS_LOCAL = threading.local()


def aps_noop() -> None:
    RECORD.append((time.time(), getattr(_APS_LOCAL, "due", SIM_T0)))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _file_mib(path: str) -> float:
    return sum(
        os.path.getsize(p) for p in (path, path + "-wal", path + "-journal") if os.path.exists(p)
    ) / (1 << 20)


def _aps_engine(path: str, wal: bool) -> Any:
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}")
    if wal:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")

    return engine


def _aps_scheduler(path: str | None, wal: bool = False, store: Any = None) -> Any:
    """A BackgroundScheduler on a SQLAlchemyJobStore at ``path``, or on ``store``."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    if store is not None:
        pass
    elif wal:
        store = SQLAlchemyJobStore(engine=_aps_engine(str(path), wal=True))
    else:
        store = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    return BackgroundScheduler(
        timezone=UTC,
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(WORKERS)},
    )


# --------------------------------------------------------------- 1. real time
def _tw_store(p: dict[str, Any]) -> Any:
    """The tickwork store a real-time child measures (``p["lib"]``)."""
    import tickwork as tw

    if p["lib"] == "tickwork":
        return tw.SQLiteStore(p["db"])
    if p["lib"] == "tickwork-redis":
        return tw.RedisStore(p["url"], prefix=p["prefix"])
    return tw.MemoryStore()


def _tickwork_realtime(n: int, store: Any, start: datetime, append: Any) -> tuple[Any, float]:
    import tickwork as tw

    app = tw.App()

    @app.service("noop")
    def noop(request: Any) -> None:
        append((time.time(), request.job.scheduled_for))

    sched = tw.Scheduler(app, store=store, executor=tw.ThreadExecutor(max_workers=WORKERS))
    t0 = time.perf_counter()
    for i in range(n):
        sched.add_job(f"j{i}", "noop", tw.Interval(seconds=1, start=start, tz="UTC"))
    return sched, time.perf_counter() - t0


def _aps_store(p: dict[str, Any]) -> Any:
    """APScheduler's job store for a real-time child (None: SQLAlchemyJobStore on p["db"])."""
    if p["lib"] != "apscheduler-redis":
        return None
    from apscheduler.jobstores.redis import RedisJobStore

    host, _, port = p["url"].removeprefix("redis://").partition("/")[0].partition(":")
    return RedisJobStore(
        jobs_key=f"{p['prefix']}.jobs",
        run_times_key=f"{p['prefix']}.run_times",
        host=host,
        port=int(port),
    )


def _aps_realtime(
    n: int, db: str | None, start: datetime, wal: bool, store: Any = None
) -> tuple[Any, float]:
    import apscheduler.executors.pool as aps_pool

    run_job = aps_pool.run_job

    def run_job_noting_due(job: Any, alias: str, run_times: list[datetime], name: str) -> Any:
        _APS_LOCAL.due = run_times[-1]
        return run_job(job, alias, run_times, name)

    aps_pool.run_job = run_job_noting_due  # type: ignore[assignment]
    sched = _aps_scheduler(db, wal=wal, store=store)
    sched.start(paused=True)  # adds go straight into the store
    t0 = time.perf_counter()
    for i in range(n):
        sched.add_job(
            aps_noop,
            "interval",
            seconds=1,
            id=f"j{i}",
            start_date=start,
            misfire_grace_time=60,
            coalesce=True,
            max_instances=1,
        )
    return sched, time.perf_counter() - t0


def _check_tickwork_file(db: str) -> dict[str, Any]:
    """What the file says after shutdown: run rows by outcome, and the jobs' run counters."""
    con = sqlite3.connect(db)
    try:
        outcomes = dict(
            con.execute(
                "SELECT coalesce(outcome, 'open'), count(*) FROM tickwork_runs GROUP BY 1"
            ).fetchall()
        )
        (runs_sum,) = con.execute("SELECT sum(runs) FROM tickwork_jobs").fetchone()
    finally:
        con.close()
    return {"outcomes": outcomes, "runs_sum": runs_sum}


def child_realtime(p: dict[str, Any]) -> dict[str, Any]:
    lib, n, warm, seconds, db = p["lib"], p["n"], p["warm"], p["seconds"], p.get("db")
    server = p.get("server_pid")  # a redis-server working for this run: its CPU is sampled too
    logging.getLogger().setLevel(logging.ERROR)  # no per-skip warnings on stderr, both sides
    logs = _count_tickwork_logs() if lib == "tickwork-redis" else None
    append = RECORD.append
    first = math.ceil(time.time() + 1.0 + n * ADD_ESTIMATE_S[lib])
    start = datetime.fromtimestamp(first, UTC)
    if lib.startswith("tickwork"):
        sched, add_s = _tickwork_realtime(n, _tw_store(p), start, append)
        if p.get("profile"):
            sched._loop = _profiled(sched._loop, p["profile"])  # diagnostics only
        sched.start()
    else:
        sched, add_s = _aps_realtime(n, db, start, lib == "apscheduler-wal", _aps_store(p))
        sched.resume()
    # Fires are due every whole second from `first`; if adding overran it, both
    # libraries put a late job on the next second of the same grid.
    w0 = max(first, math.ceil(time.time())) + warm
    w1 = w0 + seconds
    slack = first - time.time()
    time.sleep(max(0.0, w0 - time.time()))
    cpu0, server0 = _cpu_s(), proc_cpu_s(server)
    time.sleep(max(0.0, w1 - time.time()))
    cpu1, server1 = _cpu_s(), proc_cpu_s(server)
    deadline = w1 + DRAIN_MAX_S
    caught_up = False
    while time.time() < deadline:
        if RECORD and RECORD[-1][1].timestamp() >= w1:
            caught_up = True
            break
        time.sleep(0.05)
    checks: dict[str, Any] = {}
    # tickwork: wait for the queued runs to finish and the store to be flushed.
    shutdown_s, stuck_at = _shutdown_within(sched, lib.startswith("tickwork"))
    if stuck_at is not None:
        checks["shutdown_stuck_at"] = stuck_at
    elif lib == "tickwork":
        checks = _check_tickwork_file(str(db))
        checks["calls"] = len(RECORD)
    elif lib == "tickwork-redis":
        checks = check_redis(p["url"], p["prefix"], w0, w1)
        checks["calls"] = len(RECORD)
    if p.get("url"):
        checks["redis_mib"] = _redis_used_mib(p["url"])
    if logs is not None:
        checks["logs"], checks["first_logs"] = dict(logs.counts), logs.first
    data = list(RECORD)
    lateness, started_in_window = window_lateness(data, w0, w1)
    return {
        "expected": n * seconds,
        "ran": len(lateness),
        "fires_per_s": started_in_window / seconds,
        "p50_ms": percentile(lateness, 50),
        "p99_ms": percentile(lateness, 99),
        "max_ms": lateness[-1] if lateness else None,
        "cpu_util": (cpu1 - cpu0) / seconds,
        "server_cpu_util": (server1 - server0) / seconds if server else None,
        "add_s": add_s,
        "setup_slack_s": slack,
        "caught_up": caught_up,
        "shutdown_s": shutdown_s,
        "db_mib": _file_mib(db) if db and os.path.exists(db) else None,
        "peak_rss_mib": peak_rss_kib() / 1024,
        **checks,
    }


def _shutdown_within(sched: Any, wait: bool) -> tuple[float | None, str | None]:
    """``sched.shutdown(wait)`` in a thread, given SHUTDOWN_MAX_S to return.

    Returns (seconds taken, None), or (None, where it is stuck) when it did not
    return in time: the innermost frames of the thread calling shutdown.
    """
    thread = threading.Thread(target=sched.shutdown, kwargs={"wait": wait}, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    thread.join(SHUTDOWN_MAX_S)
    if not thread.is_alive():
        return time.perf_counter() - t0, None
    frame = sys._current_frames().get(thread.ident or 0)
    if frame is None:
        return None, "?"
    top = traceback.extract_stack(frame)[-1]
    return None, f"{top.filename.split('/src/')[-1]}:{top.lineno} in {top.name}: {top.line}"


def _profiled(loop: Any, out: str) -> Any:
    """Wrap the scheduler thread's loop in cProfile (cProfile sees one thread only)."""

    def run() -> None:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        try:
            loop()
        finally:
            prof.disable()
            prof.dump_stats(out)

    return run


# --------------------------------------------------------------- 2. fake clock
def _fake_scheduler(n: int, store_kind: str, db: str) -> tuple[Any, Any, list[int]]:
    import tickwork as tw

    app = tw.App()
    calls = [0]

    @app.service("noop")
    def noop(request: Any) -> None:
        calls[0] += 1

    store = tw.SQLiteStore(db) if store_kind == "sqlite" else tw.MemoryStore()
    sched = tw.Scheduler(app, clock=tw.FakeClock(start=SIM_T0), store=store)
    start = SIM_T0 + timedelta(seconds=1)
    for i in range(n):
        sched.add_job(f"j{i}", "noop", tw.Interval(seconds=1, start=start, tz="UTC"))
    return sched, store, calls


def child_fake(p: dict[str, Any]) -> dict[str, Any]:
    n, store_kind, seconds, db = p["n"], p["store"], p["seconds"], p["db"]
    t0 = time.perf_counter()
    sched, store, calls = _fake_scheduler(n, store_kind, db)
    add_s = time.perf_counter() - t0
    sched.advance(seconds=2)  # warm-up: two fires per job
    calls[0] = 0
    t0 = time.perf_counter()
    runs = sched.advance(seconds=seconds)
    t1 = time.perf_counter()
    store.flush()  # the finished runs still buffered (MemoryStore: nothing)
    t2 = time.perf_counter()
    result: dict[str, Any] = {
        "fires": len(runs),
        "calls": calls[0],
        "not_ok": sum(1 for r in runs if r.outcome != "ok"),
        "advance_s": t1 - t0,
        "flush_s": t2 - t1,
        "add_s": add_s,
        "peak_rss_mib": peak_rss_kib() / 1024,
    }
    if store_kind == "sqlite":
        result.update(_check_tickwork_file(db))
        result["db_mib"] = _file_mib(db)
    return result


# --------------------------------------------------------------- 3. startup
def child_build(p: dict[str, Any]) -> dict[str, Any]:
    n, db = p["n"], p["db"]
    t0 = time.perf_counter()
    if p["lib"] == "tickwork":
        import tickwork as tw

        app = tw.App()
        app.service("noop")(_tw_noop)
        store = tw.SQLiteStore(db)
        sched = tw.Scheduler(app, store=store)
        for i in range(n):
            trigger = tw.Interval(seconds=60) if i % 2 == 0 else tw.Cron("*/5 * * * *")
            sched.add_job(f"j{i}", "noop", trigger)
        store.close()
    else:
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger
        from apscheduler.util import datetime_to_utc_timestamp

        staging = BackgroundScheduler(timezone=UTC, jobstores={"default": MemoryJobStore()})
        staging.start(paused=True)
        cron = CronTrigger.from_crontab("*/5 * * * *", timezone=UTC)
        for i in range(n):
            trigger = IntervalTrigger(seconds=60, timezone=UTC) if i % 2 == 0 else cron
            staging.add_job(aps_noop, trigger, id=f"j{i}")
        jobs = staging.get_jobs()
        sql = SQLAlchemyJobStore(url=f"sqlite:///{db}")
        sql.start(staging, "sql")  # creates the table
        rows = [
            {
                "id": job.id,
                "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "job_state": pickle.dumps(job.__getstate__(), sql.pickle_protocol),
            }
            for job in jobs
        ]
        with sql.engine.begin() as conn:
            conn.execute(sql.jobs_t.insert(), rows)
        sql.shutdown()
    return {"build_s": time.perf_counter() - t0, "db_mib": _file_mib(db)}


def _tw_noop(request: Any) -> None:
    return None


def child_load(p: dict[str, Any]) -> dict[str, Any]:
    db = p["db"]
    perf = time.perf_counter
    if p["lib"] == "tickwork":
        t0 = perf()
        import tickwork as tw

        import_s = perf() - t0
        app = tw.App()
        app.service("noop")(_tw_noop)
        t0 = perf()
        store = tw.SQLiteStore(db)
        t1 = perf()
        sched = tw.Scheduler(app, store=store)
        t2 = perf()
        loaded = len(sched.jobs())  # not timed: a check that every job came back
        return {
            "import_s": import_s,
            "open_s": t1 - t0,
            "construct_s": t2 - t1,
            "start_s": None,
            "get_jobs_s": None,
            "total_s": t2 - t0,
            "loaded": loaded,
            "peak_rss_mib": peak_rss_kib() / 1024,
        }
    t0 = perf()
    import apscheduler.schedulers.background  # noqa: F401
    import sqlalchemy  # noqa: F401
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: F401

    import_s = perf() - t0
    t0 = perf()
    sched = _aps_scheduler(db)
    t1 = perf()
    sched.start(paused=True)
    t2 = perf()
    jobs = sched.get_jobs()
    t3 = perf()
    return {
        "import_s": import_s,
        "open_s": None,
        "construct_s": t1 - t0,
        "start_s": t2 - t1,
        "get_jobs_s": t3 - t2,
        "total_s": t3 - t0,
        "loaded": len(jobs),
        "peak_rss_mib": peak_rss_kib() / 1024,
    }


def child(p: dict[str, Any]) -> dict[str, Any]:
    kind = p["kind"]
    if kind == "realtime":
        return child_realtime(p)
    if kind == "fake":
        return child_fake(p)
    if kind == "build":
        return child_build(p)
    if kind == "fleet-setup":
        return child_fleet_setup(p)
    if kind == "fleet-member":
        return child_fleet_member(p)
    return child_load(p)


# --------------------------------------------------------------- 4. Redis
class _LogCounter(logging.Handler):
    """Counts tickwork's warnings and errors (by level) and keeps the first few."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1
        if len(self.first) < 5:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:300]}")


def _count_tickwork_logs() -> _LogCounter:
    counter = _LogCounter()
    logger = logging.getLogger("tickwork")
    logger.setLevel(logging.WARNING)
    logger.addHandler(counter)
    logger.propagate = False
    return counter


def check_redis(url: str, prefix: str, w0: float, w1: float) -> dict[str, Any]:
    """What a tickwork RedisStore holds after shutdown: its runs by outcome (each
    job's history list), the jobs' run counters, runs written ahead and never
    finished, and due times recorded twice in one job's history. Also how many
    runs not ``ok`` were due in the window [w0, w1)."""
    import redis

    lo, hi = w0 * 1_000_000, w1 * 1_000_000
    not_ok_in_window = 0
    not_ok_dues: set[int] = set()
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        states = client.hgetall(f"{prefix}:state")
        open_runs = client.hlen(f"{prefix}:open")
        outcomes: Counter[str] = Counter()
        errors: Counter[str] = Counter()  # error texts of runs with outcome "error"
        dup_kinds: Counter[str] = Counter()  # the outcomes of one due time recorded twice
        dups = dup_same_cid = 0
        names = sorted(states)
        for i in range(0, len(names), 1000):
            pipe = client.pipeline(transaction=False)
            for name in names[i : i + 1000]:
                pipe.lrange(f"{prefix}:hist:{name}", 0, -1)
            for entries in pipe.execute():
                by_due: dict[int, list[tuple[str, str]]] = {}
                for entry in entries:
                    row = json.loads(entry.partition("|")[2])  # Run.as_row()
                    outcome = row[6] or "open"
                    outcomes[outcome] += 1
                    if outcome != "ok":
                        not_ok_dues.add(row[8])
                        not_ok_in_window += lo <= row[8] < hi
                    if outcome == "error":
                        errors[str(row[2])[:70]] += 1
                    by_due.setdefault(row[8], []).append((outcome, row[1]))
                for records in by_due.values():
                    if len(records) > 1:
                        dups += len(records) - 1
                        dup_kinds[" + ".join(sorted(o for o, _ in records))] += 1
                        dup_same_cid += len({cid for _, cid in records}) < len(records)
    finally:
        client.close()
    return {
        "outcomes": dict(outcomes),
        "runs_sum": sum(int(state.split("|")[1]) for state in states.values()),
        "open_runs": open_runs,
        "hist_dups": dups,
        "hist_dup_kinds": dict(dup_kinds),
        "hist_dup_same_cid": dup_same_cid,
        "errors": dict(errors.most_common(3)),
        "not_ok_in_window": not_ok_in_window,
        # the due instants (s from the window's start) of the runs not ok
        "not_ok_due_s": sorted({round(d / 1e6 - w0, 3) for d in not_ok_dues})[:20],
    }


def _redis_used_mib(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"]) / (1 << 20)
    finally:
        client.close()


class RedisServer:
    """A fresh ``redis-server`` on a free loopback port, no persistence; stopped on exit."""

    def __init__(self, binary: str, root: str, name: str) -> None:
        self.binary = binary
        self.workdir = os.path.join(root, f"redis-{name}")
        os.makedirs(self.workdir)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> RedisServer:
        for _ in range(5):  # the port may be taken between the probe and the bind
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            log = os.path.join(self.workdir, "redis.log")
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.workdir, "--logfile", log],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(16).startswith(b"+PONG"):
                            return self
                except OSError:
                    pass
                time.sleep(0.02)
            self._stop()
        raise RuntimeError(f"redis-server did not start; see {self.workdir}/redis.log")

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def child_fleet_setup(p: dict[str, Any]) -> dict[str, Any]:
    """Add the jobs of a fleet run through a never-started Scheduler on the store."""
    import tickwork as tw

    n = p["n"]
    first = math.ceil(time.time() + p["lead_s"] + n * ADD_ESTIMATE_S["tickwork-redis"])
    start = datetime.fromtimestamp(first, UTC)
    app = tw.App()
    app.service("noop")(_tw_noop)
    store = tw.RedisStore(p["url"], prefix=p["prefix"])
    sched = tw.Scheduler(app, store=store)  # never started: it takes no share
    t0 = time.perf_counter()
    for i in range(n):
        sched.add_job(f"j{i}", "noop", tw.Interval(seconds=1, start=start, tz="UTC"))
    add_s = time.perf_counter() - t0
    store.close()
    return {"first": first, "add_s": add_s, "peak_rss_mib": peak_rss_kib() / 1024}


def _say(*words: Any) -> None:
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()


def child_fleet_member(p: dict[str, Any]) -> dict[str, Any]:
    """One scheduler of a fleet. Talks with the parent on stdin/stdout:
    prints ``ready``, starts on ``start``, reads the window ``w0 w1``, and
    after it writes every handler start to its ledger as ``time job due_us``."""
    logging.getLogger().setLevel(logging.ERROR)
    logs = _count_tickwork_logs()
    import tickwork as tw

    record: list[tuple[float, str, int]] = []
    append = record.append
    app = tw.App()

    @app.service("noop")
    def noop(request: Any) -> None:
        job = request.job
        append((time.time(), job.name, job.scheduled_us))

    t0 = time.perf_counter()
    store = tw.RedisStore(p["url"], prefix=p["prefix"])
    sched = tw.Scheduler(
        app,
        store=store,
        executor=tw.ThreadExecutor(max_workers=WORKERS),
        lease_ttl=timedelta(seconds=p["lease_ttl"]),
    )
    construct_s = time.perf_counter() - t0
    timings = _time_fleet_rounds(sched, store)
    _say("ready", store.instance)
    sys.stdin.readline()  # "start"
    sched.start()
    _say("started", repr(time.time()))
    w0, w1 = (float(x) for x in sys.stdin.readline().split())
    time.sleep(max(0.0, w0 - time.time()))
    cpu0 = _cpu_s()
    time.sleep(max(0.0, w1 - time.time()))
    cpu1 = _cpu_s()
    caught_up = False
    while time.time() < w1 + DRAIN_MAX_S:
        if record and record[-1][2] >= w1 * 1e6:
            caught_up = True
            break
        time.sleep(0.05)
    shutdown_s, stuck_at = _shutdown_within(sched, True)
    data = list(record)
    with open(p["ledger"], "w") as f:
        f.writelines(f"{t!r} {name} {due}\n" for t, name, due in data)
    return {
        "instance": store.instance,
        "construct_s": construct_s,
        "calls": len(data),
        "cpu_util": (cpu1 - cpu0) / (w1 - w0),
        "caught_up": caught_up,
        "shutdown_s": shutdown_s,
        "shutdown_stuck_at": stuck_at,
        "logs": dict(logs.counts),
        "first_logs": logs.first,
        "peak_rss_mib": peak_rss_kib() / 1024,
        **_round_stats(timings, w0, w1),
    }


def _time_fleet_rounds(sched: Any, store: Any) -> dict[str, list[tuple[float, float]]]:
    """Diagnostics: record (start time, seconds) of every fleet round
    (``Scheduler._fleet_round``: heartbeat, leases, recovery, taking up jobs),
    of its heartbeat (``store.fleet_round``) and of every ``store.load_jobs``."""
    timings: dict[str, list[tuple[float, float]]] = {"round": [], "heartbeat": [], "load": []}

    def timed(fn: Any, into: list[tuple[float, float]]) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.time()
            try:
                return fn(*a, **kw)
            finally:
                into.append((t0, time.time() - t0))

        return wrapper

    sched._fleet_round = timed(sched._fleet_round, timings["round"])
    store.fleet_round = timed(store.fleet_round, timings["heartbeat"])
    store.load_jobs = timed(store.load_jobs, timings["load"])
    return timings


def _round_stats(timings: dict[str, list[tuple[float, float]]], w0: float, w1: float) -> dict:
    """The longest gap between two heartbeats, and the longest round, heartbeat
    call and job load, over the window and the catch-up after it."""

    def longest(kind: str) -> float:
        return max((d for t, d in timings[kind] if w0 <= t < w1 + DRAIN_MAX_S), default=0.0)

    beats = [t for t, _ in timings["heartbeat"] if w0 - 3 <= t < w1 + DRAIN_MAX_S]
    gaps = [b - a for a, b in pairwise(beats)]
    return {
        "beat_gap_max_s": max(gaps, default=None),
        "round_max_s": longest("round"),
        "heartbeat_max_s": longest("heartbeat"),
        "load_max_s": longest("load"),
        "loads": sum(1 for t, _ in timings["load"] if w0 <= t < w1 + DRAIN_MAX_S),
    }


def _fleet_shares(url: str, prefix: str) -> tuple[dict[str, int], int]:
    """The shards each live scheduler holds now, and how many shards are held at all."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        now_s, now_us = client.time()
        live = client.zrangebyscore(f"{prefix}:instances", now_s * 1000 + now_us // 1000, "+inf")
        leases = client.hgetall(f"{prefix}:leases")
    finally:
        client.close()
    shares = dict.fromkeys(live, 0)
    held = 0
    for owner in leases.values():
        if owner in shares:
            shares[owner] += 1
            held += 1
    return shares, held


def _settled(shares: dict[str, int], held: int, k: int) -> bool:
    """Every shard held by one of the ``k`` live schedulers, each with its share
    (at most ceil(64/k), the rest spread: 22/22/20 for 3)."""
    target = math.ceil(SHARDS / k)
    low = SHARDS - (k - 1) * target
    return len(shares) == k and held == SHARDS and all(low <= c <= target for c in shares.values())


def _read_line(proc: subprocess.Popen[str], what: str, err_path: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        with open(err_path) as f:
            sys.stderr.write(f.read())
        raise RuntimeError(f"fleet member {proc.pid} exited ({proc.returncode}) before {what!r}")
    return line


def run_fleet(args: argparse.Namespace, n: int, server: RedisServer, root: str) -> dict[str, Any]:
    """k scheduler processes on one RedisStore: aggregate fires/s over one window."""
    k, prefix = args.fleet, "bench"
    setup = run_child(
        __file__,
        {"kind": "fleet-setup", "n": n, "url": server.url, "prefix": prefix, "lead_s": 3.0},
        timeout=600,
        helper_pids=[server.pid],
    )
    ledgers = [os.path.join(root, f"fleet-{n}-{i}.txt") for i in range(k)]
    params = {"kind": "fleet-member", "url": server.url, "prefix": prefix}
    params["lease_ttl"] = args.lease_ttl
    procs: list[subprocess.Popen[str]] = []
    errs = [path + ".stderr" for path in ledgers]
    results: list[dict[str, Any]] = []
    try:
        for ledger, err in zip(ledgers, errs, strict=True):
            cmd = [sys.executable, __file__, "--child", json.dumps({**params, "ledger": ledger})]
            with open(err, "w") as err_file:
                procs.append(
                    subprocess.Popen(
                        cmd,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=err_file,
                        text=True,
                    )
                )
        for proc, err in zip(procs, errs, strict=True):
            _read_line(proc, "ready", err)
        for proc in procs:  # all at once
            assert proc.stdin is not None
            proc.stdin.write("start\n")
            proc.stdin.flush()
        started = max(
            float(_read_line(proc, "started", err).split()[1])
            for proc, err in zip(procs, errs, strict=True)
        )
        settle_deadline = time.time() + 20 * args.lease_ttl
        stable_since: float | None = None
        shares: dict[str, int] = {}
        while True:  # settled: the shares stayed right for one round (lease_ttl / 3) and more
            shares, held = _fleet_shares(server.url, prefix)
            now = time.time()
            if not _settled(shares, held, k):
                stable_since = None
            elif stable_since is None:
                stable_since = now
            elif now - stable_since >= args.lease_ttl / 3 + 0.5:
                break
            if now > settle_deadline:
                raise RuntimeError(f"the fleet did not settle: {shares}, {held} shards held")
            time.sleep(0.1)
        settled_at = stable_since
        w0 = max(setup["first"], math.ceil(time.time())) + args.warm
        w1 = w0 + args.seconds
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{w0} {w1}\n")
            proc.stdin.flush()
        time.sleep(max(0.0, w0 - time.time()))
        busy0, server0 = busy_seconds(), proc_cpu_s(server.pid)
        shares_w0 = shares
        time.sleep(max(0.0, w1 - time.time()))
        busy1, server1 = busy_seconds(), proc_cpu_s(server.pid)
        shares_w1, held_w1 = _fleet_shares(server.url, prefix)
        for proc, err in zip(procs, errs, strict=True):
            out, _ = proc.communicate(timeout=DRAIN_MAX_S + SHUTDOWN_MAX_S + 60)
            if proc.returncode != 0 or not out.strip():
                with open(err) as f:
                    sys.stderr.write(f.read())
                raise RuntimeError(f"fleet member {proc.pid} failed ({proc.returncode})")
            results.append(json.loads(out.strip().splitlines()[-1]))
            check_source(results[-1])
            with open(err) as f:
                sys.stderr.write(f.read())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    seen: Counter[tuple[str, int]] = Counter()
    lateness: list[float] = []
    started_in_window = 0
    lo, hi = w0 * 1_000_000, w1 * 1_000_000
    for ledger in ledgers:
        with open(ledger) as f:
            for line in f:
                t_text, name, due_text = line.split()
                t, due = float(t_text), int(due_text)
                seen[name, due] += 1
                if w0 <= t < w1:
                    started_in_window += 1
                if lo <= due < hi and seen[name, due] == 1:
                    lateness.append(t - due / 1e6)
    lateness = sorted(x * 1000 for x in lateness)
    duplicates = {key: c for key, c in seen.items() if c > 1}
    server_cpu = (server1 - server0) / args.seconds
    members_cpu = sum(r["cpu_util"] for r in results)
    return {
        "expected": n * args.seconds,
        "ran": len(lateness),
        "fires_per_s": started_in_window / args.seconds,
        "member_fires_per_s": [_fires_in(ledger, w0, w1) / args.seconds for ledger in ledgers],
        "p50_ms": percentile(lateness, 50),
        "p99_ms": percentile(lateness, 99),
        "max_ms": lateness[-1] if lateness else None,
        "cpu_util": members_cpu,
        "member_cpu": [r["cpu_util"] for r in results],
        "server_cpu_util": server_cpu,
        "other_load": max(0.0, (busy1 - busy0) / args.seconds - members_cpu - server_cpu),
        "add_s": setup["add_s"],
        "settle_s": settled_at - started,
        "shares_w0": sorted(shares_w0.values()),
        "shares_w1": sorted(shares_w1.values()),
        "held_w1": held_w1,
        "calls": sum(r["calls"] for r in results),
        "duplicates": len(duplicates),
        "duplicate_examples": [f"{name} {due}" for name, due in list(duplicates)[:5]],
        "caught_up": all(r["caught_up"] for r in results),
        "shutdown_s": [r["shutdown_s"] for r in results],
        "shutdown_stuck_at": [r["shutdown_stuck_at"] for r in results if r["shutdown_stuck_at"]],
        "construct_s": [r["construct_s"] for r in results],
        "logs": [r["logs"] for r in results],
        "rounds": [
            {k: r[k] for k in ("beat_gap_max_s", "round_max_s", "heartbeat_max_s", "load_max_s")}
            | {"loads": r["loads"]}
            for r in results
        ],
        "first_logs": [m for r in results for m in r["first_logs"]],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
        "member_rss_mib": [r["peak_rss_mib"] for r in results],
        "setup_rss_mib": setup["peak_rss_mib"],
        "redis_mib": _redis_used_mib(server.url),
        **check_redis(server.url, prefix, w0, w1),
    }


def _fires_in(ledger: str, w0: float, w1: float) -> int:
    with open(ledger) as f:
        return sum(1 for line in f if w0 <= float(line.split(" ", 1)[0]) < w1)


def run_redis(args: argparse.Namespace, root: str) -> tuple[list[list[Any]], list[str]]:
    libs = ["tickwork-redis", "tickwork-fleet"]
    if not args.no_apscheduler:
        libs.append("apscheduler-redis")
    rows: list[list[Any]] = []
    notes: list[str] = []
    for n in args.redis_sizes:
        res: dict[str, dict[str, Any]] = {}
        for lib in libs:
            check_quiet()
            with RedisServer(args.redis_server, root, f"{lib}-{n}") as server:
                if lib == "tickwork-fleet":
                    r = run_fleet(args, n, server, root)
                else:
                    params = {
                        "kind": "realtime",
                        "lib": lib,
                        "n": n,
                        "warm": args.warm,
                        "seconds": args.seconds,
                        "url": server.url,
                        "prefix": "bench",
                        "server_pid": server.pid,
                    }
                    r = run_child(__file__, params, timeout=600, helper_pids=[server.pid])
            res[lib] = r
            print(f"# redis {lib:17} N={n:>6,}: {r}", flush=True)
            if lib == "tickwork-fleet" and r["other_load"] > 0.3:  # run_child warns for the others
                print(
                    f"# WARNING: other processes used {r['other_load']:.2f} CPUs", file=sys.stderr
                )
        for lib in libs:
            r = res[lib]
            rows.append(
                [
                    LIB_LABEL[lib].format(k=args.fleet),
                    n,
                    f"{n:,}/s",
                    r["fires_per_s"],
                    f"{r['ran'] / r['expected']:.1%}",
                    r["p50_ms"],
                    r["p99_ms"],
                    f"{r['cpu_util']:.0%}",
                    f"{r['server_cpu_util']:.0%}",
                    r["add_s"],
                    r["peak_rss_mib"],
                    r["redis_mib"],
                    ratio(res["tickwork-fleet"]["fires_per_s"], r["fires_per_s"])
                    if lib.startswith("apscheduler")
                    else "-",
                ]
            )
        notes += _redis_notes(args, n, res)
    return rows, notes


def _s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.3f}"


def _redis_notes(args: argparse.Namespace, n: int, res: dict[str, dict[str, Any]]) -> list[str]:
    notes = []
    for lib in ("tickwork-redis", "tickwork-fleet"):
        r = res[lib]
        label = LIB_LABEL[lib].format(k=args.fleet).removesuffix(", aggregate")
        ok = r["outcomes"].get("ok", 0)
        # Fires recorded as not run, by policy: "skipped" (overlap: the job's
        # previous run had not finished) and "missed" (past the grace time).
        unrun = {key: v for key, v in r["outcomes"].items() if key in ("skipped", "missed")}
        other = {key: v for key, v in r["outcomes"].items() if key not in ("ok", *unrun)}
        intact = (
            ok == r["calls"] == r["runs_sum"]
            and not other
            and not r["open_runs"]
            and not r["hist_dups"]
        )
        notes.append(
            f"- {label}, N={n:,}: {r['calls']:,} service calls; after shutdown the store "
            f"holds {ok:,} `ok` runs in the jobs' histories"
            + (
                f" (and fires recorded as not run: {unrun}, {r['not_ok_in_window']:,} of them "
                "due in the window; their due times, in s from the window's start: "
                f"{', '.join(f'{x:g}' for x in r['not_ok_due_s'])})"
                if unrun
                else ""
            )
            + (f", **other outcomes: {other}**" if other else "")
            + f", {r['open_runs']} runs written ahead and never finished, "
            f"{r['hist_dups']} due times recorded twice"
            + (
                f" ({r['hist_dup_kinds']}; {r['hist_dup_same_cid']:,} of them the same run, "
                "by its cid)"
                if r["hist_dups"]
                else ""
            )
            + (f", errors {r['errors']}" if r["errors"] else "")
            + f", and the jobs' run counters sum to {r['runs_sum']:,}: "
            + ("every run recorded once." if intact else "**MISMATCH**.")
        )
        stuck = r.get("shutdown_stuck_at")
        if stuck:
            notes.append(
                f"- **{label}, N={n:,}: `shutdown()` had not returned {SHUTDOWN_MAX_S:.0f} s "
                f"after it was called**; it was at: `{stuck}`"
            )
        if not r["caught_up"]:
            notes.append(
                f"- {label}, N={n:,}: had not caught up {DRAIN_MAX_S:.0f} s after the window"
            )
    f = res["tickwork-fleet"]
    logs: Counter[str] = Counter()
    for counts in f["logs"]:
        logs.update(counts)
    notes.append(
        f"- {args.fleet} instances, N={n:,}: each a separate process; the fleet settled "
        f"{f['settle_s']:.1f} s after the last one started (lease_ttl={args.lease_ttl:g} s, "
        f"a round every {args.lease_ttl / 3:.1f} s); shards per instance (sorted) at the "
        f"window's start "
        f"{f['shares_w0']}, at its end {f['shares_w1']} ({f['held_w1']} of {SHARDS} held). "
        f"Fires/s per instance: {', '.join(f'{x:,.0f}' for x in f['member_fires_per_s'])}; "
        f"CPU per instance: {', '.join(f'{x:.0%}' for x in f['member_cpu'])}; peak RSS per "
        f"instance {', '.join(f'{x:.0f}' for x in f['member_rss_mib'])} MiB. "
        f"**(job, due) run twice across the {args.fleet}: {f['duplicates']}**"
        + (f" (e.g. {f['duplicate_examples']})" if f["duplicates"] else "")
        + f"; tickwork warnings/errors logged: {dict(logs) or 'none'}."
    )
    if f["first_logs"]:
        notes.append(f"  - the first: `{f['first_logs'][0][:200]} ...`")
    notes.append(
        f"  - fleet rounds per instance, over the window and {DRAIN_MAX_S:.0f} s after it "
        "(longest gap between two heartbeats / longest round / longest heartbeat call / "
        "longest `load_jobs`, s; loads): "
        + "; ".join(
            f"{_s(x['beat_gap_max_s'])} / {_s(x['round_max_s'])} / {_s(x['heartbeat_max_s'])} / "
            f"{_s(x['load_max_s'])}; {x['loads']}"
            for x in f["rounds"]
        )
        + f" (a lease lapses when the gap exceeds lease_ttl = {args.lease_ttl:g} s)"
    )
    fps = f["fires_per_s"]
    aps = res.get("apscheduler-redis")
    met = fps >= TARGET_FIRES and (aps is None or fps >= TARGET_RATIO * aps["fires_per_s"])
    notes.append(
        f"- target at N={n:,} (>= {TARGET_FIRES:,} fires/s aggregate for {args.fleet} "
        f"instances{f', and >= {TARGET_RATIO:.0f}x APScheduler RedisJobStore' if aps else ''}): "
        f"{fps:,.0f} fires/s"
        + (f", {ratio(fps, aps['fires_per_s'])} APScheduler" if aps else "")
        + f"; duplicates {f['duplicates']}: "
        + ("met" if met and not f["duplicates"] else "**not met**")
        + (
            "; every fire offered ran, so this is a floor of the fleet's capacity."
            if f["ran"] == f["expected"]
            else "."
        )
    )
    one = res["tickwork-redis"]
    if aps:
        notes.append(
            f"- 1 tickwork instance: {one['fires_per_s']:,.0f} fires/s, "
            f"{ratio(one['fires_per_s'], aps['fires_per_s'])} APScheduler."
        )
    return notes


# --------------------------------------------------------------- profile
def profile(what: str, args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    root = tempfile.mkdtemp(prefix="tickwork-bench-stores-")
    try:
        db = os.path.join(root, "profile.db")
        prof = cProfile.Profile()
        if what == "fake":
            n = args.sizes[0]
            sched, store, _ = _fake_scheduler(n, "sqlite", db)
            sched.advance(seconds=2)
            prof.enable()
            fires = len(sched.advance(seconds=10))
            store.flush()
            prof.disable()
            print(f"# cProfile of tickwork advance(seconds=10) on a SQLiteStore: {fires:,} fires")
        elif what == "load":
            n = args.startup_sizes[0]
            run_child(__file__, {"kind": "build", "lib": "tickwork", "n": n, "db": db})
            import tickwork as tw

            app = tw.App()
            app.service("noop")(_tw_noop)
            prof.enable()
            sched = tw.Scheduler(app, store=tw.SQLiteStore(db))
            prof.disable()
            print(f"# cProfile of tw.Scheduler(app, store=tw.SQLiteStore(path)) with {n:,} jobs")
            assert len(sched.jobs()) == n
        else:  # realtime: the scheduler thread only, in a child
            out = os.path.join(root, "loop.prof")
            redis = what == "realtime-redis"
            n = args.redis_sizes[0] if redis else args.sizes[0]
            params = {
                "kind": "realtime",
                "lib": "tickwork-redis" if redis else "tickwork",
                "n": n,
                "warm": args.warm,
                "seconds": args.seconds,
                "db": db,
                "profile": out,
            }
            if redis:
                with RedisServer(args.redis_server, root, "profile") as server:
                    params.update(url=server.url, prefix="bench", server_pid=server.pid)
                    r = run_child(__file__, params, timeout=600, helper_pids=[server.pid])
            else:
                r = run_child(__file__, params, timeout=600)
            print(
                f"# cProfile of tickwork's scheduler thread "
                f"({'RedisStore' if redis else 'SQLiteStore'}, real time, "
                f"{n:,} jobs every second): {r['fires_per_s']:,.0f} fires/s"
            )
            stats = pstats.Stats(out)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(25)
            return
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------- parent
def _fs_type(path: str) -> str:
    best, kind = "", "?"
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            mount, fstype = fields[1], fields[2]
            inside = path == mount or path.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, kind = mount, fstype
    return kind


def run_realtime(args: argparse.Namespace, root: str) -> tuple[list[list[Any]], list[str]]:
    libs = ["tickwork"] + ([] if args.no_memory else ["tickwork-memory"])
    if not args.no_apscheduler:
        libs += ["apscheduler"] + ([] if args.no_aps_wal else ["apscheduler-wal"])
    rows, notes = [], []
    for n in args.sizes:
        res: dict[str, dict[str, Any]] = {}
        for lib in libs:
            db = os.path.join(root, f"rt-{lib}-{n}.db")
            params = {
                "kind": "realtime",
                "lib": lib,
                "n": n,
                "warm": args.warm,
                "seconds": args.seconds,
                "db": db,
            }
            check_quiet()
            r = res[lib] = run_child(__file__, params, timeout=600)
            print(f"# realtime {lib:15} N={n:>6,}: {r}", flush=True)
            if r["setup_slack_s"] < 0:
                print(
                    f"#   note: adding the jobs overran the first fire by "
                    f"{-r['setup_slack_s']:.1f}s"
                )
        for lib in libs:
            r = res[lib]
            rows.append(
                [
                    LIB_LABEL[lib],
                    n,
                    f"{n:,}/s",
                    r["fires_per_s"],
                    f"{r['ran'] / r['expected']:.1%}",
                    r["p50_ms"],
                    r["p99_ms"],
                    f"{r['cpu_util']:.0%}",
                    r["add_s"],
                    r["peak_rss_mib"],
                    ratio(res["tickwork"]["fires_per_s"], r["fires_per_s"])
                    if lib.startswith("apscheduler")
                    else "-",
                ]
            )
        for lib in libs:
            stuck = res[lib].get("shutdown_stuck_at")
            if stuck:
                notes.append(
                    f"- **{LIB_LABEL[lib]}, N={n:,}: `shutdown()` had not returned "
                    f"{SHUTDOWN_MAX_S:.0f} s after it was called**; it was at: `{stuck}`"
                )
        tw_r = res["tickwork"]
        if "outcomes" in tw_r:
            ok = tw_r["outcomes"].get("ok", 0)
            other = {k: v for k, v in tw_r["outcomes"].items() if k != "ok"}
            intact = ok == tw_r["calls"] == tw_r["runs_sum"] and not other
            notes.append(
                f"- tickwork N={n:,}: {tw_r['calls']:,} service calls; after shutdown the file "
                f"holds {ok:,} `ok` run rows{f' and {other}' if other else ''}, and the jobs' "
                f"run counters sum to {tw_r['runs_sum']:,}: "
                + ("every run recorded." if intact else "**MISMATCH**.")
            )
        fps = tw_r["fires_per_s"]
        aps = res.get("apscheduler")
        met = fps >= TARGET_FIRES and (aps is None or fps >= TARGET_RATIO * aps["fires_per_s"])
        vs_aps = f" and >= {TARGET_RATIO:.0f}x APScheduler" if aps else ""
        notes.append(
            f"- target at N={n:,} (>= {TARGET_FIRES:,} fires/s{vs_aps}): "
            f"tickwork {fps:,.0f} fires/s"
            + (f", {ratio(fps, aps['fires_per_s'])} APScheduler" if aps else "")
            + (
                f", {ratio(fps, res['apscheduler-wal']['fires_per_s'])} APScheduler with WAL"
                if "apscheduler-wal" in res
                else ""
            )
            + f": {'met' if met else '**not met**'}"
            + (
                "; tickwork ran every fire offered, so this is a floor of its capacity."
                if tw_r["ran"] == tw_r["expected"]
                else "."
            )
        )
    return rows, notes


def run_fake(args: argparse.Namespace, root: str) -> list[list[Any]]:
    rows = []
    for n in args.fake_sizes:
        for store in ("sqlite", "memory"):
            db = os.path.join(root, f"fake-{store}-{n}.db")
            params = {"kind": "fake", "store": store, "n": n, "seconds": 10, "db": db}
            check_quiet()
            r = run_child(__file__, params, timeout=900)
            print(f"# fake {store:6} N={n:>7,}: {r}", flush=True)
            elapsed = r["advance_s"] + r["flush_s"]
            if r["not_ok"] or r["calls"] != r["fires"]:
                print(
                    f"#   WARNING: {r['not_ok']} runs not ok; {r['calls']} calls", file=sys.stderr
                )
            rows.append(
                [
                    "SQLiteStore" if store == "sqlite" else "MemoryStore",
                    n,
                    r["fires"],
                    r["advance_s"],
                    r["flush_s"],
                    r["fires"] / elapsed,
                    elapsed / r["fires"] * 1e6,
                    r["peak_rss_mib"],
                ]
            )
    return rows


def run_startup(args: argparse.Namespace, root: str) -> tuple[list[list[Any]], list[str]]:
    libs = ["tickwork"] + ([] if args.no_apscheduler else ["apscheduler"])
    rows, notes = [], []
    for n in args.startup_sizes:
        medians: dict[str, float] = {}
        for lib in libs:
            db = os.path.join(root, f"startup-{lib}-{n}.db")
            check_quiet()
            built = run_child(__file__, {"kind": "build", "lib": lib, "n": n, "db": db}, 1800)
            print(f"# build {lib:11} N={n:>7,}: {built}", flush=True)
            loads = []
            for _ in range(args.repeats):
                check_quiet()
                r = run_child(__file__, {"kind": "load", "lib": lib, "n": n, "db": db}, 900)
                print(f"# load  {lib:11} N={n:>7,}: {r}", flush=True)
                if r["loaded"] != n:
                    print(f"#   WARNING: {r['loaded']:,} of {n:,} jobs loaded", file=sys.stderr)
                loads.append(r)
                if r["total_s"] > APS_STARTUP_LIMIT_S:
                    break  # one sample is enough at that size

            def med(key: str, loads: list[dict[str, Any]] = loads) -> float | str:
                vals = [r[key] for r in loads if r[key] is not None]
                return statistics.median(vals) if vals else "-"

            totals = [r["total_s"] for r in loads]
            medians[lib] = statistics.median(totals)
            rows.append(
                [
                    "tickwork" if lib == "tickwork" else "APScheduler",
                    n,
                    med("import_s"),
                    med("open_s"),
                    med("construct_s"),
                    med("start_s"),
                    med("get_jobs_s"),
                    med("total_s"),
                    max(totals),
                    f"{loads[0]['loaded']:,}",
                    built["db_mib"],
                    med("peak_rss_mib"),
                    built["build_s"],
                ]
            )
            if lib == "tickwork" and n == TARGET_STARTUP_N:
                worst = max(totals)
                notes.append(
                    f"- target at N={n:,} (Scheduler construction <= {TARGET_STARTUP_S:.0f} s): "
                    f"median {medians[lib]:.2f} s, worst {worst:.2f} s of {len(loads)}: "
                    + ("met" if worst <= TARGET_STARTUP_S else "**not met**")
                )
            elif lib == "tickwork":
                notes.append(
                    f"- tickwork at N={n:,}: median {medians[lib]:.2f} s, "
                    f"{medians[lib] * 100_000 / n:.2f} s per 100k jobs (the target is for 100k)"
                )
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
        if "apscheduler" in medians:
            notes.append(
                f"- N={n:,}: APScheduler's median total / tickwork's: "
                f"{ratio(medians['apscheduler'], medians['tickwork'])}."
            )
    return rows, notes


def print_redis(args: argparse.Namespace, root: str) -> None:
    server_version = subprocess.run(
        [args.redis_server, "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    rows, notes = run_redis(args, root)
    print(
        f"\n### Redis: fires/s on a shared store ({WORKERS} worker threads per scheduler, "
        f"{args.warm} s warm-up, {args.seconds} s window)\n"
    )
    print(
        f"redis-py {version('redis')}, {' '.join(server_version[:3])}; a fresh server per "
        "row on a free 127.0.0.1 port (`--save '' --appendonly no`), stopped after it. "
        f"The {args.fleet} instances are {args.fleet} processes started together, with "
        f"`lease_ttl=timedelta(seconds={args.lease_ttl:g})`; the window opens after their "
        "shares have settled.\n"
    )
    print(
        md_table(
            [
                "scheduler / store",
                "jobs",
                "offered",
                "fires/s",
                "ran/due",
                "p50 ms",
                "p99 ms",
                "CPU",
                "redis-server CPU",
                "adding the jobs, s",
                "peak RSS MiB",
                "Redis used MiB",
                f"tickwork x{args.fleet} / this (fires/s)",
            ],
            rows,
        )
    )
    print()
    print("\n".join(notes))
    print(
        "- fires/s: handler starts in the window per second (for the fleet, the sum of the "
        "instances' starts in one wall-clock window); ran/due: the share of fires due in the "
        "window that ran at all (the rest were coalesced); lateness (handler start - due) of "
        "those that ran, over every instance; CPU: process CPU time / wall time in the "
        f"window ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%), for the fleet the "
        "sum of the instances'; peak RSS: for the fleet, the largest instance's. "
        "redis-server CPU: the server process over the window. Redis used MiB: `used_memory` "
        "after the run (tickwork keeps run history there, APScheduler none)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="bigger sizes (see the doc)")
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--sizes", type=ints, help="real-time jobs (fires/s), default 10000")
    parser.add_argument("--fake-sizes", type=ints, help="FakeClock jobs, default 10000")
    parser.add_argument("--startup-sizes", type=ints, help="stored jobs, default 100000")
    parser.add_argument("--seconds", type=int, default=10, help="real-time window, s")
    parser.add_argument("--warm", type=int, default=3, help="real-time warm-up, s")
    parser.add_argument("--repeats", type=int, default=3, help="startup loads per size")
    parser.add_argument("--no-apscheduler", action="store_true")
    parser.add_argument("--no-aps-wal", action="store_true", help="skip the WAL APScheduler row")
    parser.add_argument("--no-memory", action="store_true", help="skip the MemoryStore row")
    parser.add_argument(
        "--redis-sizes", type=ints, help="Redis real-time jobs (fires/s), default 10000"
    )
    parser.add_argument(
        "--fleet", type=int, default=3, help="tickwork instances (processes) on one RedisStore"
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=3.0,
        help="the fleet's lease_ttl, s (tickwork's default: 6)",
    )
    parser.add_argument(
        "--redis-server",
        default=shutil.which("redis-server"),
        help="the redis-server binary (started afresh on a loopback port for every Redis run)",
    )
    parser.add_argument("--only", default="realtime,fake,startup,redis")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the DB files go")
    parser.add_argument("--profile", choices=("fake", "load", "realtime", "realtime-redis"))
    args = parse_args(parser, child)
    args.sizes = args.sizes or ([10_000, 20_000] if args.full else [10_000])
    args.fake_sizes = args.fake_sizes or ([10_000, 100_000] if args.full else [10_000])
    args.startup_sizes = args.startup_sizes or ([100_000, 500_000] if args.full else [100_000])
    args.redis_sizes = args.redis_sizes or ([10_000, 20_000] if args.full else [10_000])
    if args.profile:
        profile(args.profile, args)
        return
    only = set(args.only.split(","))
    if "redis" in only and not args.redis_server:
        print("# redis-server not found: the Redis part is skipped", file=sys.stderr)
        only.discard("redis")
    root = tempfile.mkdtemp(prefix="tickwork-bench-stores-", dir=args.dir)
    kinds = ["SQLite"] if only & {"realtime", "fake", "startup"} else []
    kinds += ["Redis"] if "redis" in only else []
    print(f"## Durable stores ({', '.join(kinds)})\n\n{machine_info()}\n")
    if kinds[:1] == ["SQLite"]:
        print(
            f"SQLAlchemy {version('SQLAlchemy')}, SQLite {sqlite3.sqlite_version}; database "
            f"files in {root} ({_fs_type(root)}). tickwork SQLiteStore: WAL, "
            "synchronous=NORMAL. APScheduler SQLAlchemyJobStore: SQLAlchemy's SQLite defaults "
            "(rollback journal, synchronous=FULL) unless marked WAL.\n"
        )
    try:
        if "realtime" in only:
            rows, notes = run_realtime(args, root)
            print(
                f"\n### Real time: fires/s on a durable store ({WORKERS} worker threads, "
                f"{args.warm} s warm-up, {args.seconds} s window)\n"
            )
            print(
                md_table(
                    [
                        "scheduler / store",
                        "jobs",
                        "offered",
                        "fires/s",
                        "ran/due",
                        "p50 ms",
                        "p99 ms",
                        "CPU",
                        "adding the jobs, s",
                        "peak RSS MiB",
                        "tickwork / this (fires/s)",
                    ],
                    rows,
                )
            )
            print()
            print("\n".join(notes))
            print(
                "- fires/s: handler starts in the window per second; ran/due: the share of "
                "fires due in the window that ran at all (the rest were coalesced); lateness "
                "of those that ran; CPU: process CPU time / wall time in the window "
                f"({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%)."
            )
        if "fake" in only:
            rows = run_fake(args, root)
            print("\n### FakeClock, tickwork only: scheduling + store cost, no worker threads\n")
            print(
                md_table(
                    [
                        "tickwork store",
                        "jobs",
                        "fires timed",
                        "advance(10 s) s",
                        "then flush() s",
                        "fires/s",
                        "us/fire",
                        "peak RSS MiB",
                    ],
                    rows,
                )
            )
            print(
                "\n- fires/s = fires / (advance + flush); every run checked `ok`. APScheduler "
                "has no fake clock, so there is no column for it."
            )
        if "startup" in only:
            rows, notes = run_startup(args, root)
            print(f"\n### Startup with stored jobs (median of {args.repeats} fresh processes)\n")
            print(
                md_table(
                    [
                        "library",
                        "stored jobs",
                        "import s",
                        "open store s",
                        "construct s",
                        "start(paused) s",
                        "get_jobs() s",
                        "total s",
                        "worst total s",
                        "jobs loaded",
                        "DB MiB",
                        "peak RSS MiB",
                        "building the file s",
                    ],
                    rows,
                )
            )
            print()
            print("\n".join(notes))
            print(
                "- tickwork total = `tw.SQLiteStore(path)` + `tw.Scheduler(app, store=...)` "
                "(which loads every job); APScheduler total = `BackgroundScheduler(...)` + "
                "`start(paused=True)` + `get_jobs()` (every job unpickled; APScheduler itself "
                "loads lazily). Imports not included. Building the file: tickwork through "
                "`add_job` (one commit each); APScheduler through a MemoryJobStore and one "
                "bulk insert of the pickled states (not APScheduler's own add path)."
            )
        if "redis" in only:
            print_redis(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
