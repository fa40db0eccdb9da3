"""Real time with threads: achieved fires/s and lateness.

tickwork: ``tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=10))`` on
the SystemClock. APScheduler 3.11: ``BackgroundScheduler`` with a
``ThreadPoolExecutor(10)`` and a ``MemoryJobStore``. Same policies on both
sides: coalesce misfires, 60 s grace (tickwork's default; APScheduler's
default grace of 1 s would silently drop late runs), one instance per job
(tickwork ``overlap="skip"``, APScheduler ``max_instances=1``).

N no-op jobs fire every second for ``--seconds`` (8) seconds:

* burst: every job starts at the same instant, so N fires are due together
  each second;
* spread: job i starts at T0 + i/N s, a steady rate of N fires per second.

Each job records ``time.time()`` first thing in its handler, with its due time:
tickwork's ``request.job.scheduled_for``; for APScheduler the scheduled run
time it was submitted with (``run_times[-1]``, read by a thin wrapper around
``apscheduler.executors.pool.run_job`` into a thread-local, which is exact even
when a fire is more than one interval late). Lateness = handler start - due.
Fires due in the first second are dropped as warm-up. After the last second,
the run waits until the scheduler has caught up (or 15 s) before stopping.

Each (library, layout, N) runs alone in its own subprocess, one after another.

    .venv/bin/python benchmarks/bench_realtime.py          # burst 1k, 10k; spread 10k/s
    .venv/bin/python benchmarks/bench_realtime.py --full   # + burst 20k; spread 20k, 50k/s
"""

from __future__ import annotations

import argparse
import logging
import math
import resource
import threading
import time
from datetime import UTC, datetime
from typing import Any

from _common import (
    check_quiet,
    machine_info,
    md_table,
    parse_args,
    percentile,
    ratio,
    run_child,
    window_lateness,
)

WORKERS = 10
DRAIN_MAX_S = 15.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _starts(n: int, layout: str, t0: int) -> list[datetime]:
    if layout == "burst":
        return [datetime.fromtimestamp(t0, UTC)] * n
    return [datetime.fromtimestamp(t0 + i / n, UTC) for i in range(n)]


def child(p: dict[str, Any]) -> dict[str, Any]:
    n, layout, lib, seconds = p["n"], p["layout"], p["lib"], p["seconds"]
    warm = p["warm"]
    logging.getLogger().setLevel(logging.ERROR)  # no per-skip warnings on stderr, both sides
    rec: list[tuple[float, datetime]] = []
    append = rec.append
    # Leave time to add the jobs before the first fire (both libraries add < 100 us/job).
    t0 = math.ceil(time.time() + 1.5 + n * 150e-6)
    starts = _starts(n, layout, t0)

    if lib == "tickwork":
        import tickwork as tw

        app = tw.App()

        @app.service("noop")
        def noop(request: Any) -> None:
            append((time.time(), request.job.scheduled_for))

        sched = tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=WORKERS))
        for i, start in enumerate(starts):
            sched.add_job(f"j{i}", "noop", tw.Interval(seconds=1, start=start, tz="UTC"))
        sched.start()

        def stop() -> None:
            sched.shutdown(wait=False)
    else:
        import apscheduler.executors.pool as aps_pool
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        local = threading.local()
        run_job = aps_pool.run_job

        def run_job_noting_due(job: Any, alias: str, run_times: list[datetime], name: str) -> Any:
            local.due = run_times[-1]
            return run_job(job, alias, run_times, name)

        aps_pool.run_job = run_job_noting_due  # type: ignore[assignment]

        def noop_aps() -> None:
            append((time.time(), local.due))

        sched = BackgroundScheduler(
            timezone=UTC,
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(WORKERS)},
            job_defaults={"coalesce": True, "misfire_grace_time": 60, "max_instances": 1},
        )
        for i, start in enumerate(starts):
            trigger = IntervalTrigger(seconds=1, start_date=start, timezone=UTC)
            sched.add_job(noop_aps, trigger, id=f"j{i}")
        sched.start()

        def stop() -> None:
            sched.shutdown(wait=False)

    setup_slack = t0 - time.time()
    w0, w1 = t0 + warm, t0 + seconds
    time.sleep(max(0.0, w0 - time.time()))
    cpu0 = _cpu_s()
    time.sleep(max(0.0, w1 - time.time()))
    cpu1 = _cpu_s()
    # Drain: wait until a fire due after the window has started (the scheduler caught up).
    deadline = w1 + DRAIN_MAX_S
    caught_up = False
    while time.time() < deadline:
        if rec and rec[-1][1].timestamp() >= w1:
            caught_up = True
            break
        time.sleep(0.05)
    time.sleep(0.2)
    stop()
    data = list(rec)
    lateness, started_in_window = window_lateness(data, w0, w1)
    expected = n * (seconds - warm)
    return {
        "expected": expected,
        "ran": len(lateness),
        "fires_per_s": started_in_window / (seconds - warm),
        "p50_ms": percentile(lateness, 50),
        "p99_ms": percentile(lateness, 99),
        "max_ms": lateness[-1] if lateness else None,
        "cpu_util": (cpu1 - cpu0) / (seconds - warm),
        "setup_slack_s": setup_slack,
        "caught_up": caught_up,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--burst", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--spread", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warm", type=int, default=1, help="seconds dropped as warm-up")
    args = parse_args(parser, child)
    burst = args.burst or ([1_000, 10_000, 20_000] if args.full else [1_000, 10_000])
    spread = args.spread or ([10_000, 20_000, 50_000] if args.full else [10_000])
    print(f"## Real time with threads\n\n{machine_info()}\n")
    print(
        f"{args.seconds} s of fires, the first {args.warm} s dropped as warm-up; "
        f"{WORKERS} worker threads each.\n"
    )
    rows = []
    p99: dict[tuple[str, str, int], float | None] = {}
    for layout, sizes in (("burst", burst), ("spread", spread)):
        for n in sizes:
            res = {}
            for lib in ("tickwork", "apscheduler"):
                params = {
                    "lib": lib,
                    "n": n,
                    "layout": layout,
                    "seconds": args.seconds,
                    "warm": args.warm,
                }
                check_quiet()
                r = res[lib] = run_child(__file__, params, timeout=120)
                p99[lib, layout, n] = r["p99_ms"]
                print(f"# {lib:11} {layout:6} N={n:>6,}: {r}", flush=True)
                if r["setup_slack_s"] < 0.1:
                    print("#   WARNING: adding the jobs overran the first fire time")
            tw_r, aps_r = res["tickwork"], res["apscheduler"]
            rows.append(
                [
                    layout,
                    f"{n:,}/s",
                    tw_r["fires_per_s"],
                    f"{tw_r['ran'] / tw_r['expected']:.1%}",
                    tw_r["p50_ms"],
                    tw_r["p99_ms"],
                    f"{tw_r['cpu_util']:.0%}",
                    aps_r["fires_per_s"],
                    f"{aps_r['ran'] / aps_r['expected']:.1%}",
                    aps_r["p50_ms"],
                    aps_r["p99_ms"],
                    f"{aps_r['cpu_util']:.0%}",
                    ratio(tw_r["p99_ms"], aps_r["p99_ms"]),
                ]
            )
    print()
    print(
        md_table(
            [
                "layout",
                "due rate",
                "tickwork fires/s",
                "tickwork ran/due",
                "tickwork p50 ms",
                "tickwork p99 ms",
                "tickwork CPU",
                "APScheduler fires/s",
                "APScheduler ran/due",
                "APScheduler p50 ms",
                "APScheduler p99 ms",
                "APScheduler CPU",
                "p99 tickwork/APScheduler",
            ],
            rows,
        )
    )
    print(
        "\n- fires/s: handler starts during the measured window per second; ran/due: "
        "fires due in the window that ran at all (the rest were coalesced or skipped); "
        "CPU: process CPU time / wall time in the window (2 cores = 200%)."
    )
    print("- target: burst p99 lateness of tickwork <= 1/5 of APScheduler's (ratio <= 0.20x)")


if __name__ == "__main__":
    main()
