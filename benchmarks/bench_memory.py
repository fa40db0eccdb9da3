"""Memory per job, and memory growth per fire.

For each library, in a fresh subprocess: build the scheduler, ``gc.collect()``,
read RSS (``/proc/self/statm``); add N interval jobs (every 60 s, no-op);
``gc.collect()``, read RSS again: (delta / N) is the memory per job. Then let
every job fire a few times in simulated time and read RSS a third time: the
growth per fire is what run bookkeeping (history) keeps.

A second subprocess per library repeats this under ``tracemalloc`` (Python
allocations only, no allocator slack) and lists the top allocation sites.

Both run in simulated time so the fire phase is quick: tickwork on a
``FakeClock`` + ``InlineExecutor`` with ``tw.Interval(seconds=60)``;
APScheduler's ``BaseScheduler`` + ``MemoryJobStore`` + ``DebugExecutor`` (the
job objects are the same as under ``BackgroundScheduler``) with
``add_job(func, "interval", seconds=60, id=...)``.

    .venv/bin/python benchmarks/bench_memory.py          # N = 20k
    .venv/bin/python benchmarks/bench_memory.py --full   # N = 100k
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    FakeNow,
    apscheduler_advance,
    apscheduler_sim_scheduler,
    check_quiet,
    machine_info,
    md_table,
    parse_args,
    ratio,
    rss_kib,
    run_child,
)


def build(lib: str) -> tuple[Any, Any, Any]:
    """(scheduler, add(i), advance(timedelta) -> fires)."""
    if lib == "tickwork":
        import tickwork as tw

        app = tw.App()

        @app.service("noop")
        def noop(request: Any) -> None:
            return None

        sched = tw.Scheduler(app, clock=tw.FakeClock(), executor=tw.InlineExecutor())

        def add(i: int) -> None:
            sched.add_job(f"j{i}", "noop", tw.Interval(seconds=60))

        def advance(delta: timedelta) -> int:
            fires = 0
            end = sched.clock.now_us() + delta // timedelta(microseconds=1)
            while sched.clock.now_us() < end:  # in 10 s steps: the Run lists stay short
                step = min(
                    timedelta(seconds=10), timedelta(microseconds=end - sched.clock.now_us())
                )
                fires += len(sched.advance(step))
            return fires

        return sched, add, advance

    count = [0]

    def noop_aps() -> None:
        count[0] += 1

    sched = apscheduler_sim_scheduler()
    # "interval" without start_date starts at the real now + 60 s: run the fake clock from now.
    FakeNow.current = datetime.now(UTC)

    def add_aps(i: int) -> None:
        sched.add_job(noop_aps, "interval", seconds=60, id=f"j{i}")

    def advance_aps(delta: timedelta) -> int:
        sched.resume()
        before = count[0]
        apscheduler_advance(sched, delta)
        return count[0] - before

    return sched, add_aps, advance_aps


def child(p: dict[str, Any]) -> dict[str, Any]:
    n, lib, cycles = p["n"], p["lib"], p["cycles"]
    _sched, add, advance = build(lib)
    add(-1)  # warm the code paths (imports, caches) before the baseline
    traced = p["method"] == "tracemalloc"
    gc.collect()
    if traced:
        tracemalloc.start(1)
        snap0 = tracemalloc.take_snapshot()
    rss0 = rss_kib()
    for i in range(n):
        add(i)
    gc.collect()
    rss1 = rss_kib()
    if traced:
        snap1 = tracemalloc.take_snapshot()
    fires = advance(timedelta(minutes=cycles, seconds=10))
    gc.collect()
    rss2 = rss_kib()
    out: dict[str, Any] = {
        "kib_per_job": (rss1 - rss0) / n,
        "fires": fires,
        "bytes_per_fire": (rss2 - rss1) * 1024 / max(fires, 1),
        "kib_per_job_after": (rss2 - rss0) / n,
    }
    if traced:
        snap2 = tracemalloc.take_snapshot()
        jobs_diff = snap1.compare_to(snap0, "lineno")
        fires_diff = snap2.compare_to(snap1, "lineno")
        out["kib_per_job"] = sum(d.size_diff for d in jobs_diff) / 1024 / n
        out["bytes_per_fire"] = sum(d.size_diff for d in fires_diff) / max(fires, 1)
        out["kib_per_job_after"] = out["kib_per_job"] + out["bytes_per_fire"] * fires / n / 1024
        out["top_jobs"] = [(_site(d), d.size_diff / n) for d in jobs_diff[:8]]
        out["top_fires"] = [(_site(d), d.size_diff / max(fires, 1)) for d in fires_diff[:5]]
    return out


def _site(diff: Any) -> str:
    frame = diff.traceback[0]
    name = frame.filename
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="N = 100k")
    parser.add_argument("--n", type=int)
    parser.add_argument("--cycles", type=int, default=3, help="fires per job in the fire phase")
    args = parse_args(parser, child)
    n = args.n or (100_000 if args.full else 20_000)
    check_quiet()
    print(f"## Memory per job\n\n{machine_info()}\n")
    res: dict[tuple[str, str], dict[str, Any]] = {}
    for method in ("rss", "tracemalloc"):
        for lib in ("tickwork", "apscheduler"):
            # tracemalloc slows every allocation ~5x: one fire per job is enough there.
            cycles = args.cycles if method == "rss" else 1
            params = {"lib": lib, "n": n, "method": method, "cycles": cycles}
            res[lib, method] = run_child(__file__, params, timeout=1800)
            print(f"# {lib:11} {method:11} done", flush=True)
    rows = []
    for method in ("rss", "tracemalloc"):
        tw_r, aps_r = res["tickwork", method], res["apscheduler", method]
        rows.append(
            [
                method,
                n,
                tw_r["kib_per_job"],
                aps_r["kib_per_job"],
                ratio(tw_r["kib_per_job"], aps_r["kib_per_job"]),
                tw_r["bytes_per_fire"],
                aps_r["bytes_per_fire"],
                tw_r["kib_per_job_after"],
                aps_r["kib_per_job_after"],
            ]
        )
    print()
    print(
        md_table(
            [
                "view",
                "jobs N",
                "tickwork KiB/job",
                "APScheduler KiB/job",
                "tickwork/APScheduler",
                "tickwork bytes kept per fire",
                "APScheduler bytes kept per fire",
                "tickwork KiB/job after the fires",
                "APScheduler KiB/job after the fires",
            ],
            rows,
        )
    )
    print(
        f"\n- fires: {args.cycles} per job in the RSS view, 1 per job under tracemalloc; "
        "the 'after the fires' columns include them.\n- target: tickwork <= 0.5 KiB/job (RSS)\n"
    )
    for lib in ("tickwork", "apscheduler"):
        r = res[lib, "tracemalloc"]
        print(f"Top tracemalloc sites, {lib}, adding {n:,} jobs (bytes/job):\n")
        print(md_table(["site", "bytes/job"], r["top_jobs"]))
        print(f"\nTop tracemalloc sites, {lib}, {r['fires']:,} fires (bytes/fire):\n")
        print(md_table(["site", "bytes/fire"], r["top_fires"]))
        print()


if __name__ == "__main__":
    main()
