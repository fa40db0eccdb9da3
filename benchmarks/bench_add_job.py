"""The cost of add_job while a scheduler grows to N jobs.

Each variant runs in a fresh subprocess that adds N interval jobs (every 60 s,
a no-op service/function), timing every block of 1,000 adds. Reported: the
mean per add over all N, the first and the last 1,000 adds (the marginal cost
at size N), and the slowest block. Building the trigger is inside the timed
loop for both libraries (APScheduler builds it inside ``add_job``).

Variants:

* tickwork, not started: ``tw.Scheduler(app)`` (SystemClock, ThreadExecutor,
  MemoryStore), ``sched.add_job(name, "noop", tw.Interval(seconds=60))``.
* tickwork, running: the same after ``sched.start()`` (each add wakes the loop).
* tickwork, start+tz given: ``tw.Interval(seconds=60, start=<datetime>, tz="UTC")``,
  not started (the trigger needs no re-binding to the scheduler's zone/now).
* APScheduler: ``BackgroundScheduler`` with a MemoryJobStore, started paused
  (``start(paused=True)``, so adds go into the store's sorted list, not the
  pending list), ``scheduler.add_job(func, "interval", seconds=60, id=name)``.

    .venv/bin/python benchmarks/bench_add_job.py           # N = 10k
    .venv/bin/python benchmarks/bench_add_job.py --full    # N = 10k and 100k
    .venv/bin/python benchmarks/bench_add_job.py --profile 20000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    check_quiet,
    machine_info,
    md_table,
    parse_args,
    ratio,
    run_child,
)

BLOCK = 1000
VARIANTS = ("tickwork", "tickwork-running", "tickwork-start-tz", "apscheduler")
LABELS = {
    "tickwork": "tickwork, not started",
    "tickwork-running": "tickwork, running",
    "tickwork-start-tz": "tickwork, start+tz given",
    "apscheduler": "APScheduler 3.11, started paused",
}


def make_tickwork(variant: str) -> tuple[Any, Any]:
    import tickwork as tw

    app = tw.App()

    @app.service("noop")
    def noop(request: Any) -> None:
        return None

    sched = tw.Scheduler(app)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=60)

    if variant == "tickwork-start-tz":

        def add(i: int) -> None:
            sched.add_job(f"j{i}", "noop", tw.Interval(seconds=60, start=start, tz="UTC"))
    else:

        def add(i: int) -> None:
            sched.add_job(f"j{i}", "noop", tw.Interval(seconds=60))

    if variant == "tickwork-running":
        sched.start()
    return sched, add


def make_apscheduler() -> tuple[Any, Any]:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    def noop() -> None:
        return None

    sched = BackgroundScheduler(
        timezone=UTC,
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(10)},
    )
    sched.start(paused=True)

    def add(i: int) -> None:
        sched.add_job(noop, "interval", seconds=60, id=f"j{i}")

    return sched, add


def child(p: dict[str, Any]) -> dict[str, Any]:
    n, variant = p["n"], p["variant"]
    sched, add = make_apscheduler() if variant == "apscheduler" else make_tickwork(variant)
    blocks = []
    perf = time.perf_counter
    t_start = perf()
    for b in range(0, n, BLOCK):
        t0 = perf()
        for i in range(b, min(n, b + BLOCK)):
            add(i)
        blocks.append((perf() - t0) / (min(n, b + BLOCK) - b) * 1e6)
    total = perf() - t_start
    jobs = len(sched.get_jobs()) if variant == "apscheduler" else len(sched._jobs)
    assert jobs == n, (jobs, n)
    return {
        "mean_us": total / n * 1e6,
        "first_us": blocks[0],
        "last_us": blocks[-1],
        "max_us": max(blocks),
    }


def profile(n: int) -> None:
    import cProfile
    import pstats

    _, add = make_tickwork("tickwork")
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        add(i)
    prof.disable()
    print(f"# cProfile of tickwork add_job x {n:,} (Interval(seconds=60), not started)")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="N = 10k and 100k")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile tickwork add_job")
    args = parse_args(parser, child)
    if args.profile:
        profile(args.profile)
        return
    sizes = args.sizes or ([10_000, 100_000] if args.full else [10_000])
    check_quiet()
    print(f"## add_job cost\n\n{machine_info()}\n")
    rows = []
    means: dict[tuple[str, int], float] = {}
    for n in sizes:
        for variant in VARIANTS:
            r = run_child(__file__, {"n": n, "variant": variant})
            means[variant, n] = r["mean_us"]
            rows.append(
                [LABELS[variant], n, r["mean_us"], r["first_us"], r["last_us"], r["max_us"]]
            )
            print(
                f"# {variant:18} N={n:>7,}: mean {r['mean_us']:.1f} us/job, "
                f"other load {r['other_load']:.2f} CPU",
                flush=True,
            )
    print()
    print(
        md_table(
            [
                "variant",
                "jobs N",
                "mean us/add",
                "first 1k us/add",
                "last 1k us/add",
                "slowest 1k block us/add",
            ],
            rows,
        )
    )
    print()
    for n in sizes:
        print(
            f"- N={n:,}: tickwork (not started) / APScheduler mean cost: "
            f"{ratio(means['tickwork', n], means['apscheduler', n])}; "
            f"tickwork running / APScheduler: "
            f"{ratio(means['tickwork-running', n], means['apscheduler', n])}"
        )
    print("- target: tickwork <= 5 us/add, flat in N")


if __name__ == "__main__":
    main()
