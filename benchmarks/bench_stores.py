"""Durable stores: tickwork's SQLiteStore vs APScheduler's SQLAlchemyJobStore on SQLite.

Three measurements, each in its own fresh subprocess with its own fresh
database file (under a temporary directory, removed at the end):

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

Peak RSS (``ru_maxrss``) of every child is reported as a side figure.

    .venv/bin/python benchmarks/bench_stores.py --rev HEAD   # ~2.5 min
    .venv/bin/python benchmarks/bench_stores.py --full       # + 20k/s, 100k fake, 500k stored
    .venv/bin/python benchmarks/bench_stores.py --profile fake       # cProfile advance() on SQLite
    .venv/bin/python benchmarks/bench_stores.py --profile load       # cProfile the 100k-job load
    .venv/bin/python benchmarks/bench_stores.py --profile realtime   # cProfile the scheduler thread
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import pickle
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from _common import (
    SIM_T0,
    check_quiet,
    machine_info,
    md_table,
    parse_args,
    peak_rss_kib,
    percentile,
    ratio,
    run_child,
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
}
LIB_LABEL = {
    "tickwork": "tickwork SQLiteStore",
    "tickwork-memory": "tickwork MemoryStore (reference: not durable)",
    "apscheduler": "APScheduler SQLAlchemyJobStore (SQLAlchemy defaults)",
    "apscheduler-wal": "APScheduler SQLAlchemyJobStore (WAL, synchronous=NORMAL)",
}
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


def _aps_scheduler(path: str, wal: bool = False) -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    if wal:
        store = SQLAlchemyJobStore(engine=_aps_engine(path, wal=True))
    else:
        store = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    return BackgroundScheduler(
        timezone=UTC,
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(WORKERS)},
    )


# --------------------------------------------------------------- 1. real time
def _tickwork_realtime(n: int, db: str | None, start: datetime, append: Any) -> tuple[Any, float]:
    import tickwork as tw

    app = tw.App()

    @app.service("noop")
    def noop(request: Any) -> None:
        append((time.time(), request.job.scheduled_for))

    store = tw.SQLiteStore(db) if db is not None else tw.MemoryStore()
    sched = tw.Scheduler(app, store=store, executor=tw.ThreadExecutor(max_workers=WORKERS))
    t0 = time.perf_counter()
    for i in range(n):
        sched.add_job(f"j{i}", "noop", tw.Interval(seconds=1, start=start, tz="UTC"))
    return sched, time.perf_counter() - t0


def _aps_realtime(n: int, db: str, start: datetime, wal: bool) -> tuple[Any, float]:
    import apscheduler.executors.pool as aps_pool

    run_job = aps_pool.run_job

    def run_job_noting_due(job: Any, alias: str, run_times: list[datetime], name: str) -> Any:
        _APS_LOCAL.due = run_times[-1]
        return run_job(job, alias, run_times, name)

    aps_pool.run_job = run_job_noting_due  # type: ignore[assignment]
    sched = _aps_scheduler(db, wal=wal)
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
    lib, n, warm, seconds, db = p["lib"], p["n"], p["warm"], p["seconds"], p["db"]
    logging.getLogger().setLevel(logging.ERROR)  # no per-skip warnings on stderr, both sides
    append = RECORD.append
    first = math.ceil(time.time() + 1.0 + n * ADD_ESTIMATE_S[lib])
    start = datetime.fromtimestamp(first, UTC)
    if lib.startswith("tickwork"):
        sched, add_s = _tickwork_realtime(n, db if lib == "tickwork" else None, start, append)
        if p.get("profile"):
            sched._loop = _profiled(sched._loop, p["profile"])  # diagnostics only
        sched.start()
    else:
        sched, add_s = _aps_realtime(n, db, start, wal=lib == "apscheduler-wal")
        sched.resume()
    # Fires are due every whole second from `first`; if adding overran it, both
    # libraries put a late job on the next second of the same grid.
    w0 = max(first, math.ceil(time.time())) + warm
    w1 = w0 + seconds
    slack = first - time.time()
    time.sleep(max(0.0, w0 - time.time()))
    cpu0 = _cpu_s()
    time.sleep(max(0.0, w1 - time.time()))
    cpu1 = _cpu_s()
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
        checks = _check_tickwork_file(db)
        checks["calls"] = len(RECORD)
    data = list(RECORD)
    lateness = []
    started_in_window = 0
    for started, due_dt in data:
        due = due_dt.timestamp()
        if w0 <= due < w1:
            lateness.append((started - due) * 1000)
        if w0 <= started < w1:
            started_in_window += 1
    lateness.sort()
    return {
        "expected": n * seconds,
        "ran": len(lateness),
        "fires_per_s": started_in_window / seconds,
        "p50_ms": percentile(lateness, 50),
        "p99_ms": percentile(lateness, 99),
        "max_ms": lateness[-1] if lateness else None,
        "cpu_util": (cpu1 - cpu0) / seconds,
        "add_s": add_s,
        "setup_slack_s": slack,
        "caught_up": caught_up,
        "shutdown_s": shutdown_s,
        "db_mib": _file_mib(db) if os.path.exists(db) else None,
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
    return child_load(p)


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
            params = {
                "kind": "realtime",
                "lib": "tickwork",
                "n": args.sizes[0],
                "warm": args.warm,
                "seconds": args.seconds,
                "db": db,
                "profile": out,
            }
            r = run_child(__file__, params, timeout=600)
            print(
                f"# cProfile of tickwork's scheduler thread (SQLiteStore, real time, "
                f"{args.sizes[0]:,} jobs every second): {r['fires_per_s']:,.0f} fires/s"
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
    parser.add_argument("--only", default="realtime,fake,startup")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the DB files go")
    parser.add_argument("--profile", choices=("fake", "load", "realtime"))
    args = parse_args(parser, child)
    args.sizes = args.sizes or ([10_000, 20_000] if args.full else [10_000])
    args.fake_sizes = args.fake_sizes or ([10_000, 100_000] if args.full else [10_000])
    args.startup_sizes = args.startup_sizes or ([100_000, 500_000] if args.full else [100_000])
    if args.profile:
        profile(args.profile, args)
        return
    only = set(args.only.split(","))
    root = tempfile.mkdtemp(prefix="tickwork-bench-stores-", dir=args.dir)
    print(f"## Durable stores (SQLite)\n\n{machine_info()}\n")
    print(
        f"SQLAlchemy {version('SQLAlchemy')}, SQLite {sqlite3.sqlite_version}; database files "
        f"in {root} ({_fs_type(root)}). tickwork SQLiteStore: WAL, synchronous=NORMAL. "
        "APScheduler SQLAlchemyJobStore: SQLAlchemy's SQLite defaults (rollback journal, "
        "synchronous=FULL) unless marked WAL.\n"
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
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
