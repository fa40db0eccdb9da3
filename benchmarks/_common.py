"""Shared helpers for the benchmark scripts (not a benchmark itself).

Each script runs its measurements in child processes (``--child JSON``) so the
two libraries never share a heap, a GC history or a CPU, and prints a markdown
table in the parent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SNAPSHOT_ROOT = "/tmp/tickwork-bench-src"

#: The instant every simulated (fake clock) run starts at.
SIM_T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------- lateness
def window_lateness(
    records: Iterable[tuple[float, datetime]], w0: float, w1: float
) -> tuple[list[float], int]:
    """From (handler start, due time) records (epoch seconds, aware datetime):
    the lateness in ms of the fires due in [w0, w1), sorted, and how many
    fires started in [w0, w1)."""
    lateness = []
    started_in_window = 0
    for started, due_dt in records:
        due = due_dt.timestamp()
        if w0 <= due < w1:
            lateness.append((started - due) * 1000)
        if w0 <= started < w1:
            started_in_window += 1
    lateness.sort()
    return lateness, started_in_window


# --------------------------------------------------------------- reporting
def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; numbers are right-aligned."""
    rows = [[_cell(v) for v in row] for row in rows]
    align = []
    for i, _ in enumerate(headers):
        numeric = rows and all(_is_num(r[i]) for r in rows if r[i] not in ("", "n/a", "-"))
        align.append("---:" if numeric else "---")
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_num(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("x%"))
    except ValueError:
        return False
    return True


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as text like ``3.2x`` (n/a when either is missing)."""
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def machine_info() -> str:
    load = os.getloadavg()
    return (
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Linux {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"tickwork {version('tickwork')} ({source_label()}), APScheduler {version('APScheduler')}; "
        f"load average at start {load[0]:.2f}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


# --------------------------------------------------------------- which tickwork
def add_source_arg(parser: Any) -> None:
    parser.add_argument(
        "--rev",
        help="benchmark tickwork as of this git revision (exported to "
        f"{SNAPSHOT_ROOT}/<sha>, put first on PYTHONPATH for every child) instead of "
        "the working tree, which may be mid-edit",
    )


def parse_args(parser: Any, child: Any) -> Any:
    """Add ``--child`` and ``--rev``, parse, and point children at the source.

    In a child process (``--child JSON``) this runs ``child(params)`` and
    emits its result, which ends the process; otherwise it returns the args.
    """
    parser.add_argument("--child", help=argparse.SUPPRESS)
    add_source_arg(parser)
    args = parser.parse_args()
    use_source(args.rev)
    if args.child:
        emit(child(json.loads(args.child)))
    return args


def use_source(rev: str | None) -> None:
    """Make every child import tickwork from a snapshot of ``rev`` (None: the working tree)."""
    if not rev:
        return
    sha = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short=12", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = os.path.join(SNAPSHOT_ROOT, sha)
    if not os.path.isdir(os.path.join(dest, "src", "tickwork")):
        os.makedirs(dest, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", REPO, "archive", sha, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    os.environ["PYTHONPATH"] = os.path.join(dest, "src")
    sys.path.insert(0, os.path.join(dest, "src"))  # for in-process runs (--profile)
    os.environ["TICKWORK_BENCH_REV"] = sha


def source_label() -> str:
    sha = os.environ.get("TICKWORK_BENCH_REV")
    return f"commit {sha}" if sha else "working tree"


def check_source(result: dict[str, Any]) -> None:
    """Fail loudly if a child imported tickwork from somewhere other than intended."""
    where = result.get("tickwork_file")
    sha = os.environ.get("TICKWORK_BENCH_REV")
    if where and sha and f"/{sha}/" not in where:
        raise RuntimeError(f"child imported tickwork from {where}, not the snapshot {sha}")


def busy_fraction(seconds: float = 1.0) -> float:
    """The fraction of all CPUs busy over ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    dt = total1 - total0
    return 0.0 if dt <= 0 else 1.0 - (idle1 - idle0) / dt


def busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def check_quiet(max_busy: float = 0.25, tries: int = 20) -> float:
    """Wait (up to ~``tries`` s) for the machine to be mostly idle; warn if it never is."""
    busy = 1.0
    for _ in range(tries):
        busy = busy_fraction(1.0)
        if busy <= max_busy:
            return busy
        print(f"# machine is {busy:.0%} busy; waiting for it to settle ...", file=sys.stderr)
    print(f"# WARNING: machine still {busy:.0%} busy; results may be noisy", file=sys.stderr)
    return busy


# --------------------------------------------------------------- processes
def proc_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (0.0 if None or gone)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(
    script: str,
    params: dict[str, Any],
    timeout: float = 900,
    helper_pids: Sequence[int] = (),
) -> dict[str, Any]:
    """Run ``script --child JSON`` in a fresh interpreter; returns its JSON result.

    ``helper_pids``: processes that work for the measurement (a database
    server); their CPU is not counted as other load.
    """
    cmd = [sys.executable, os.path.join(HERE, script), "--child", json.dumps(params)]
    busy0, wall0 = busy_seconds(), time.monotonic()
    helpers0 = sum(proc_cpu_s(pid) for pid in helper_pids)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    child_cpu += sum(proc_cpu_s(pid) for pid in helper_pids) - helpers0
    wall = time.monotonic() - wall0
    # CPU used meanwhile by every other process (in CPUs): noise from other work.
    other_load = max(0.0, (busy_seconds() - busy0 - child_cpu) / wall) if wall > 0 else 0.0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"child {script} {params} failed with exit code {proc.returncode}")
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    check_source(result)
    result["other_load"] = other_load
    if other_load > 0.3:
        print(
            f"# WARNING: other processes used {other_load:.2f} CPUs during {script} {params}",
            file=sys.stderr,
        )
    return result


def measure_quietly(
    script: str, params: dict[str, Any], retries: int = 2, quiet_tries: int = 20
) -> dict[str, Any]:
    """run_child, run again (after waiting for quiet) when other processes were busy."""
    for attempt in range(retries + 1):
        r = run_child(script, params)
        if r["other_load"] <= 0.3 or attempt == retries:
            return r
        print(f"# other load {r['other_load']:.2f} CPU; measuring again", file=sys.stderr)
        check_quiet(tries=quiet_tries)
    raise AssertionError("unreachable")


def emit(result: dict[str, Any]) -> None:
    """Print a child's result as the last stdout line, then exit at once.

    ``os._exit`` skips interpreter teardown (freeing millions of objects, joining
    daemon threads), which is not what is being measured.
    """
    module = sys.modules.get("tickwork")
    if module is not None:
        result["tickwork_file"] = module.__file__
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def rss_kib() -> int:
    """The resident set size of this process now, in KiB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def peak_rss_kib() -> int:
    """This process's peak resident set size, in KiB.

    ``VmHWM`` from /proc/self/status: it belongs to the address space, which
    ``exec`` replaces. ``ru_maxrss`` is not reset by ``exec``: a child forked
    from a parent holding 150 MiB reports at least 150 MiB.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --------------------------------------------------------------- APScheduler
class FakeNow:
    """A stand-in for the ``datetime`` name inside APScheduler modules.

    APScheduler 3.x reads the time only through ``datetime.now(tz)`` in
    ``apscheduler.schedulers.base`` (and in ``executors.base.run_job``'s misfire
    check); :func:`patch_apscheduler_clock` points those names here, so the
    scheduler runs in simulated time like tickwork's FakeClock.
    """

    current: datetime = SIM_T0

    @classmethod
    def now(cls, tz: Any = None) -> datetime:
        return cls.current if tz is None else cls.current.astimezone(tz)


def patch_apscheduler_clock() -> None:
    import apscheduler.executors.base as aps_executors_base
    import apscheduler.schedulers.base as aps_schedulers_base

    aps_schedulers_base.datetime = FakeNow  # type: ignore[attr-defined]
    aps_executors_base.datetime = FakeNow  # type: ignore[attr-defined]


def apscheduler_sim_scheduler() -> Any:
    """APScheduler's core with no thread: BaseScheduler + MemoryJobStore + DebugExecutor.

    DebugExecutor is APScheduler's own synchronous executor (it calls
    ``run_job`` inline, like tickwork's InlineExecutor). ``wakeup`` is a no-op;
    the caller drives ``_process_jobs()`` (the body of APScheduler's main loop)
    at each due instant, see :func:`apscheduler_advance`.
    """
    from apscheduler.executors.debug import DebugExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.base import BaseScheduler

    class SimScheduler(BaseScheduler):  # type: ignore[misc]
        def shutdown(self, wait: bool = True) -> None:
            super().shutdown(wait)

        def wakeup(self) -> None:
            pass

    patch_apscheduler_clock()
    FakeNow.current = SIM_T0
    sched = SimScheduler(
        timezone=UTC,
        jobstores={"default": MemoryJobStore()},
        executors={"default": DebugExecutor()},
    )
    sched.start(paused=True)  # adds go straight into the store; resume() before advancing
    return sched


def apscheduler_advance(sched: Any, delta: timedelta) -> None:
    """Step APScheduler's simulated time through every due instant up to now + delta."""
    store = sched._jobstores["default"]
    target = FakeNow.current + delta
    process = sched._process_jobs
    while True:
        nxt = store.get_next_run_time()
        if nxt is None or nxt > target:
            break
        FakeNow.current = nxt
        process()
    FakeNow.current = target


def save_results(name: str, text: str) -> str:
    """Write a run's report to benchmarks/results/<name>.md; its path, from the project."""
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"{name}.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return os.path.relpath(path, os.path.dirname(HERE))


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]
