"""Simulated core throughput: fires per second of wall time on a fake clock.

tickwork: ``tw.Scheduler(app, clock=tw.FakeClock(...), executor=tw.InlineExecutor())``
driven by ``sched.advance(...)``; a fire is one Run returned by ``advance``.

APScheduler 3.11: its core with no thread -- ``BaseScheduler`` + ``MemoryJobStore``
+ ``DebugExecutor`` (APScheduler's own synchronous executor) -- with
``datetime.now`` inside ``apscheduler.schedulers.base`` / ``executors.base``
patched to a simulated clock; the driver calls ``_process_jobs()`` (the body of
APScheduler's main loop) at every due instant, as tickwork's ``advance`` does.
A fire is one call of the job function.

Both run N interval jobs every 60 s calling a no-op, in two layouts:

* spread: job i first fires at T0 + (i+1) * 60 s / N, so the fires are spread
  evenly over the minute (one due instant per fire);
* burst: every job fires at the same instant, once a minute.

Each (library, layout, N) runs in a fresh subprocess. Time is measured over at
least ``--min-fires`` fires (whole minutes) after a warm-up; GC stays on (the
default a user gets) and the time spent in GC during the measurement is reported.

    .venv/bin/python benchmarks/bench_core_throughput.py          # N = 1k, 10k, 100k
    .venv/bin/python benchmarks/bench_core_throughput.py --full   # also N = 1M
    .venv/bin/python benchmarks/bench_core_throughput.py --profile 100000
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from datetime import UTC, timedelta
from typing import Any

from _common import (
    SIM_T0,
    FakeNow,
    apscheduler_advance,
    apscheduler_sim_scheduler,
    check_quiet,
    machine_info,
    md_table,
    parse_args,
    peak_rss_kib,
    ratio,
    run_child,
)

PERIOD_S = 60
PERIOD_US = PERIOD_S * 1_000_000
# APScheduler's MemoryJobStore keeps jobs in one sorted Python list and
# re-inserts a job after each fire (O(N) memmove): at 1M jobs a fire costs
# about a millisecond, so only this many fires are timed there.
APS_MAX_FIRES_AT_1M = 20_000


class GcTimer:
    """Total wall time spent in the cyclic GC while enabled."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t0
            self.collections += info["generation"] == 2

    def reset(self) -> None:
        self.total = 0.0
        self.collections = 0


def _chunk(n: int, layout: str) -> timedelta:
    """The simulated time per advance call: about 5,000 fires' worth, whole minutes for burst."""
    if layout == "burst":
        return timedelta(seconds=PERIOD_S)
    seconds = min(max(PERIOD_S * 5000 / n, 0.01), PERIOD_S)
    return timedelta(seconds=seconds)


def _offset(i: int, n: int) -> timedelta:
    return timedelta(microseconds=(i + 1) * PERIOD_US // n)


# --------------------------------------------------------------- tickwork
def setup_tickwork(n: int, layout: str) -> tuple[Any, Any]:
    import tickwork as tw

    app = tw.App()

    @app.service("noop")
    def noop(request: Any) -> None:
        return None

    clock = tw.FakeClock(start=SIM_T0)
    sched = tw.Scheduler(app, clock=clock, executor=tw.InlineExecutor())
    if layout == "spread":
        for i in range(n):
            trigger = tw.Interval(seconds=PERIOD_S, start=SIM_T0 + _offset(i, n), tz="UTC")
            sched.add_job(f"j{i}", "noop", trigger)
    else:
        for i in range(n):
            sched.add_job(f"j{i}", "noop", tw.Interval(seconds=PERIOD_S))
    return sched, tw


def child_tickwork(p: dict[str, Any]) -> dict[str, Any]:
    n, layout = p["n"], p["layout"]
    t0 = time.perf_counter()
    sched, _ = setup_tickwork(n, layout)
    setup_s = time.perf_counter() - t0
    chunk = _chunk(n, layout)
    # Warm-up: about min(N, 20k) fires (one whole minute for a burst of <= 100k).
    if layout == "spread":
        sched.advance(seconds=PERIOD_S * min(n, 20_000) / n)
    elif n <= 100_000:
        sched.advance(seconds=PERIOD_S)
    minutes = max(1, math.ceil(p["min_fires"] / n))
    end = sched.clock.now_us() + minutes * PERIOD_US
    gct = GcTimer()
    fires = 0
    t0 = time.perf_counter()
    while sched.clock.now_us() < end:
        step = min(chunk, timedelta(microseconds=end - sched.clock.now_us()))
        runs = sched.advance(step)
        fires += len(runs)
    elapsed = time.perf_counter() - t0
    bad = sum(1 for r in runs if r.outcome != "ok")
    return {
        "fires": fires,
        "elapsed": elapsed,
        "setup_s": setup_s,
        "gc_s": gct.total,
        "gc2": gct.collections,
        "not_ok_in_last_chunk": bad,
        "peak_rss_mib": peak_rss_kib() / 1024,
    }


# --------------------------------------------------------------- APScheduler
def child_apscheduler(p: dict[str, Any]) -> dict[str, Any]:
    from apscheduler.triggers.interval import IntervalTrigger

    n, layout = p["n"], p["layout"]
    count = [0]

    def noop() -> None:
        count[0] += 1

    t0 = time.perf_counter()
    sched = apscheduler_sim_scheduler()
    for i in range(n):
        start = SIM_T0 + (_offset(i, n) if layout == "spread" else timedelta(seconds=PERIOD_S))
        trigger = IntervalTrigger(seconds=PERIOD_S, start_date=start, timezone=UTC)
        sched.add_job(noop, trigger, id=f"j{i}")
    sched.resume()
    setup_s = time.perf_counter() - t0
    chunk = _chunk(n, layout)
    max_fires = p.get("max_fires")
    if max_fires:
        chunk = min(chunk, timedelta(seconds=PERIOD_S * min(max_fires, 5000) / n))
    if layout == "spread":
        apscheduler_advance(sched, timedelta(seconds=PERIOD_S * min(n, 20_000) / n))
    elif n <= 100_000:
        apscheduler_advance(sched, timedelta(seconds=PERIOD_S))
    minutes = max(1, math.ceil(p["min_fires"] / n))
    end = FakeNow.current + timedelta(minutes=minutes)
    gct = GcTimer()
    count[0] = 0
    t0 = time.perf_counter()
    while FakeNow.current < end:
        apscheduler_advance(sched, min(chunk, end - FakeNow.current))
        if max_fires and count[0] >= max_fires:
            break
    elapsed = time.perf_counter() - t0
    return {
        "fires": count[0],
        "elapsed": elapsed,
        "setup_s": setup_s,
        "gc_s": gct.total,
        "gc2": gct.collections,
        "not_ok_in_last_chunk": 0,
        "peak_rss_mib": peak_rss_kib() / 1024,
    }


# --------------------------------------------------------------- profile
def profile(n: int, layout: str) -> None:
    import cProfile
    import pstats

    sched, _ = setup_tickwork(n, layout)
    sched.advance(seconds=PERIOD_S * min(n, 20_000) / n if layout == "spread" else PERIOD_S)
    prof = cProfile.Profile()
    fires = 0
    chunk = _chunk(n, layout)
    end = sched.clock.now_us() + max(1, math.ceil(100_000 / n)) * PERIOD_US
    prof.enable()
    while sched.clock.now_us() < end:
        fires += len(sched.advance(min(chunk, timedelta(microseconds=end - sched.clock.now_us()))))
    prof.disable()
    print(f"# cProfile of tickwork advance(): N={n:,} {layout}, {fires:,} fires")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(22)
    stats.sort_stats("cumulative").print_stats(22)


# --------------------------------------------------------------- parent
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="add N = 1,000,000")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--layouts", default="spread,burst")
    parser.add_argument("--min-fires", type=int, default=200_000)
    parser.add_argument("--no-apscheduler", action="store_true")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile tickwork at N")
    args = parse_args(
        parser, lambda p: child_tickwork(p) if p["lib"] == "tickwork" else child_apscheduler(p)
    )
    if args.profile:
        profile(args.profile, args.layouts.split(",")[0])
        return
    sizes = args.sizes or ([1_000, 10_000, 100_000] + ([1_000_000] if args.full else []))
    print(f"## Core throughput (simulated time)\n\n{machine_info()}\n")
    rows = []
    per_fire: dict[tuple[str, str, int], float] = {}
    fps: dict[tuple[str, str, int], float] = {}
    for layout in args.layouts.split(","):
        for n in sizes:
            res: dict[str, dict[str, Any] | None] = {}
            for lib in ("tickwork", "apscheduler"):
                params: dict[str, Any] = {
                    "lib": lib,
                    "n": n,
                    "layout": layout,
                    "min_fires": args.min_fires,
                }
                if lib == "apscheduler":
                    if args.no_apscheduler or (layout == "burst" and n > 100_000):
                        res[lib] = None  # one _process_jobs call of 1M O(N) re-inserts
                        continue
                    if n > 100_000:
                        params["max_fires"] = APS_MAX_FIRES_AT_1M
                check_quiet()
                r = res[lib] = run_child(__file__, params, timeout=1800)
                per_fire[lib, layout, n] = r["elapsed"] / r["fires"] * 1e6
                fps[lib, layout, n] = r["fires"] / r["elapsed"]
                print(
                    f"# {lib:11} {layout:6} N={n:>9,}: {r['fires']:>9,} fires in "
                    f"{r['elapsed']:.2f}s, setup {r['setup_s']:.1f}s, gc {r['gc_s']:.2f}s, "
                    f"peak RSS {r['peak_rss_mib']:.0f} MiB, other load {r['other_load']:.2f} CPU",
                    flush=True,
                )
            tw_r, aps_r = res["tickwork"], res["apscheduler"]
            assert tw_r is not None
            rows.append(
                [
                    layout,
                    n,
                    tw_r["fires"],
                    fps["tickwork", layout, n],
                    per_fire["tickwork", layout, n],
                    f"{tw_r['gc_s'] / tw_r['elapsed']:.0%}",
                    None if aps_r is None else aps_r["fires"],
                    fps.get(("apscheduler", layout, n)),
                    per_fire.get(("apscheduler", layout, n)),
                    ratio(fps["tickwork", layout, n], fps.get(("apscheduler", layout, n))),
                ]
            )
    print()
    print(
        md_table(
            [
                "layout",
                "jobs N",
                "tickwork fires timed",
                "tickwork fires/s",
                "tickwork us/fire",
                "tickwork time in GC",
                "APScheduler fires timed",
                "APScheduler fires/s",
                "APScheduler us/fire",
                "tickwork/APScheduler fires/s",
            ],
            rows,
        )
    )
    print()
    lo, hi = min(sizes), max(sizes)
    for layout in args.layouts.split(","):
        for lib in ("tickwork", "apscheduler"):
            a, b = per_fire.get((lib, layout, hi)), per_fire.get((lib, layout, lo))
            if a and b and hi != lo:
                print(f"- {lib} {layout}: per-fire cost at N={hi:,} vs N={lo:,}: {ratio(a, b)}")
        if 100_000 in sizes:
            print(
                f"- tickwork {layout}: fires/s at N=100,000: "
                f"{fps['tickwork', layout, 100_000]:,.0f} (target >= 200,000)"
            )
    print("- targets: per-fire cost at 1M <= 1.5x the cost at 1k; >= 200,000 fires/s at 100k")


if __name__ == "__main__":
    main()
