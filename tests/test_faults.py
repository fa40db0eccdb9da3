"""Issue 12: a due time never runs twice and is never lost beyond its
misfire policy, whatever happens to the scheduler process or its store.

Real scheduler processes (tests/fault_child.py, or ``python -m tickwork
run --config``) on a SQLite file or a real redis-server, stopped with real
signals: deployed three times in a row, frozen with SIGSTOP past their lease
in a fleet, killed or stopped with a catch-up backlog waiting, and left with
a store that lost its data. The service appends "job due_us run_number pid
time" to a ledger with single O_APPEND writes as each run starts. Every test
accounts exactly, from the ledger and the store's history: each due time ran
once, or was recorded (skipped, or interrupted by a kill), as its policies
say; none ran twice.

The waits poll for conditions with generous deadlines; the fixed sleeps are
the faults themselves (how long a process stays down or frozen), never what
an assertion depends on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import tickwork as tw
from tickwork.testing.servers import free_port

from . import fault_child

pytestmark = pytest.mark.slow

Popen = subprocess.Popen[bytes]
ROOT = Path(__file__).resolve().parents[1]
SRC = Path(tw.__file__).resolve().parents[1]  # the children import this tickwork
CHILD = Path(fault_child.__file__)
INTERRUPTED = "interrupted"  # how the error of a run cut short by a kill starts


# ---------------------------------------------------------------- processes
class Procs:
    """The processes a test starts; whatever is still running at the end is
    killed (continued first, in case it was stopped), so a failing test
    leaves nothing behind."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[tuple[Popen, Path]] = []

    def spawn(self, argv: list[str], ledger: Path, name: str) -> Popen:
        log = self.tmp_path / f"{name}-{len(self.started)}.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SRC), str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        env[fault_child.LEDGER_ENV] = str(ledger)
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.started.append((proc, log))
        return proc

    def child(self, mode: str, where: str, ledger: Path, *more: str) -> Popen:
        """A fault_child.py process, once it is ready."""
        proc = self.spawn(
            [sys.executable, str(CHILD), mode, where, str(ledger), *more], ledger, mode
        )
        self.wait_until(
            lambda: "ready" in self.log(proc).splitlines(), 60, "the child to start", proc
        )
        return proc

    def wait_until(
        self, condition: Callable[[], object], timeout: float, what: str, proc: Popen
    ) -> None:
        """wait_until, watching ``proc``; a failure shows the end of its output."""
        try:
            wait_until(condition, timeout, what, proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its output ends:\n{self.tail(proc)}") from None

    def log(self, proc: Popen) -> str:
        for started, log in self.started:
            if started is proc:
                return log.read_text(errors="replace")
        raise KeyError(proc)

    def tail(self, proc: Popen) -> str:
        return "\n".join(self.log(proc).splitlines()[-25:])

    def terminate(self, proc: Popen) -> None:
        """SIGTERM: the process must shut down cleanly and exit 0."""
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        assert code == 0, f"exit code {code} after SIGTERM:\n{self.tail(proc)}"

    def cleanup(self) -> None:
        for proc, _ in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.cleanup()


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    *watched: Popen,
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds, or
    at once when a ``watched`` process has exited."""
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in watched:
            if proc.poll() is not None:
                raise AssertionError(f"waiting for {what}: a process exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        time.sleep(0.02)


def poll(condition: Callable[[], object], timeout: float) -> bool:
    """Like wait_until, but say whether it held instead of failing."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ------------------------------------------------------------- the records
class Line(NamedTuple):
    job: str
    due: int
    run_number: int
    pid: int
    at: float


def ledger_lines(ledger: Path) -> list[Line]:
    if not ledger.exists():
        return []
    lines = []
    # A line another process is writing may show half-written: leave it out.
    for text in ledger.read_text().split("\n")[:-1]:
        job, due, number, pid, at = text.split()
        lines.append(Line(job, int(due), int(number), int(pid), float(at)))
    return lines


def twice(lines: list[Line]) -> dict[tuple[str, int], int]:
    ran = Counter((line.job, line.due) for line in lines)
    return {key: n for key, n in ran.items() if n > 1}


def app() -> tw.App:
    application = tw.App()
    application.add_service(fault_child.Record)
    return application


def history(where: str) -> list[tw.Run]:
    """Every run the store recorded, once no scheduler runs on it (loading
    the jobs records the runs a kill cut short as interrupted)."""
    store = fault_child.open_store(where)
    try:
        jobs = store.load_jobs()
        if where.startswith("sqlite:"):
            return store.history(limit=1_000_000)
        return [run for job in jobs for run in store.history(job.name, limit=100_000)]
    finally:
        store.close()


def finished(db: Path, names: list[str]) -> bool:
    """Each named job is done (kept as done, or, before issue 12, removed),
    and no run is going."""
    store = tw.SQLiteStore(db)
    try:
        jobs = {job.name: job for job in store.load_jobs()}
    finally:
        store.close()
    for name in names:
        job = jobs.get(name)
        if job is not None and getattr(job, "status", None) != "done":
            return False
    return not sql(db, "SELECT 1 FROM tickwork_runs WHERE outcome IS NULL")


def sql(db: Path, query: str, *args: Any) -> list[Any]:
    connection = sqlite3.connect(db, timeout=10)
    try:
        return connection.execute(query, args).fetchall()
    finally:
        connection.close()


def grid(first: datetime, step: float, count: int) -> list[int]:
    start = int(first.timestamp() * 1_000_000)
    return [start + round(k * step * 1_000_000) for k in range(count)]


def aligned(seconds_ahead: float) -> datetime:
    """A whole tenth of a second, about ``seconds_ahead`` from now."""
    now = time.time() + seconds_ahead
    return datetime.fromtimestamp(round(now, 1), UTC)


# ------------------------------------------------------ 1. deploy cycles
def deploy_three_times(start: Callable[[], Popen], procs: Procs, db: Path) -> None:
    """Start, wait for the jobs to be done, stop with SIGTERM; three times."""
    for _ in range(3):
        proc = start()
        began = time.monotonic()
        procs.wait_until(lambda: finished(db, ["once", "thrice"]), 60, "the jobs to be done", proc)
        # Give a start that wrongly fires the jobs again the time to do it.
        time.sleep(max(0.0, 1.5 - (time.monotonic() - began)))
        procs.terminate(proc)


def check_deployed(db: Path, ledger: Path) -> None:
    lines = ledger_lines(ledger)
    ran = Counter(line.job for line in lines)
    assert ran == {"once": 1, "thrice": 3}, (
        f"runs per job over three starts: {dict(ran)}; the OneTime must run once and "
        "the Interval with repeats=3 three times in all"
    )
    assert not twice(lines)
    assert sorted(line.run_number for line in lines if line.job == "thrice") == [1, 2, 3]
    sched = tw.Scheduler(app(), store=tw.SQLiteStore(db))  # never started: it only reads
    try:
        for name, runs in (("once", 1), ("thrice", 3)):
            job = sched.get_job(name)
            assert (job.status, job.runs) == ("done", runs)
        assert sched.jobs() == []
        done = sched.jobs(include_done=True)
        assert [job.name for job in done] == ["once", "thrice"]
    finally:
        sched.store.close()


def test_a_config_file_deployed_three_times_runs_finished_jobs_once(
    tmp_path: Path, procs: Procs
) -> None:
    db, ledger, config = tmp_path / "jobs.db", tmp_path / "ledger.txt", tmp_path / "tickwork.toml"
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    config.write_text(
        f"""services = ["tests.fault_child:Record"]

[scheduler]
store = "sqlite://{db}"

[[jobs]]
name = "once"
service = "record"
trigger = {{ type = "onetime", at = "{at.isoformat()}" }}

[[jobs]]
name = "thrice"
service = "record"
trigger = {{ type = "interval", seconds = 0.3, repeats = 3 }}
""",
        encoding="utf-8",
    )

    def start() -> Popen:
        argv = [sys.executable, "-m", "tickwork", "run", "--config", str(config)]
        proc = procs.spawn(argv, ledger, "run")
        # Registered in the store: run_forever has its SIGTERM handler in place.
        procs.wait_until(
            lambda: db.exists() and registered(db, proc.pid), 60, "`tickwork run` to start", proc
        )
        return proc

    deploy_three_times(start, procs, db)
    check_deployed(db, ledger)


def registered(db: Path, pid: int) -> bool:
    try:
        return bool(sql(db, "SELECT 1 FROM tickwork_instances WHERE pid = ?", pid))
    except sqlite3.Error:  # the tables are not there yet
        return False


def test_code_that_declares_its_jobs_at_every_start_runs_finished_jobs_once(
    tmp_path: Path, procs: Procs
) -> None:
    db, ledger = tmp_path / "jobs.db", tmp_path / "ledger.txt"
    at_us = int((time.time() + 3) * 1_000_000)
    deploy_three_times(
        lambda: procs.child("declare", f"sqlite:{db}", ledger, str(at_us)), procs, db
    )
    check_deployed(db, ledger)


# ---------------------------------------------- 2. a fleet member frozen
FLEET_JOBS = 30
FLEET_EVERY = 0.2
FLEET_SLEEP = 0.1  # a catch-up's queued fires take a while to drain
LEASE_TTL = 1.5
FROZEN_FOR = 3.5  # well past the lease: the others take its shards meanwhile


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_fleet_member_frozen_past_its_lease_runs_no_due_time_twice(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, procs: Procs
) -> None:
    """Three schedulers share a store; one freezes (SIGSTOP) for a moment,
    so that on SIGCONT it catches up with queued fires, then at once for
    more than its lease, and the others take its jobs; then it goes on.
    Twice, on two members. No due time runs twice; with misfire="all" none
    is lost: each ran, or is in the history."""
    ledger = tmp_path / "ledger.txt"
    if kind == "redis":
        where = f"redis:{request.getfixturevalue('redis_url')}"
    else:
        where = f"sqlite:{tmp_path / 'jobs.db'}"
    first = aligned(3.0)
    store = fault_child.open_store(where)
    setup = tw.Scheduler(app(), store=store)  # never started: it only adds the jobs
    names = [f"job-{i}" for i in range(FLEET_JOBS)]
    for name in names:
        setup.add_job(
            name,
            "record",
            tw.Interval(seconds=FLEET_EVERY, start=first),
            extra={"sleep": FLEET_SLEEP},
            misfire="all",
        )
    store.close()

    members = [procs.child("run", where, ledger, str(LEASE_TTL)) for _ in range(3)]
    wait_until(
        lambda: {line.pid for line in ledger_lines(ledger)} == {p.pid for p in members},
        30,
        "each member of the fleet to run jobs",
        *members,
    )
    for victim in (members[1], members[2]):
        victim.send_signal(signal.SIGSTOP)
        time.sleep(0.7)  # within its lease
        victim.send_signal(signal.SIGCONT)
        time.sleep(0.15)  # it catches up: fires queue behind the first run of each job
        victim.send_signal(signal.SIGSTOP)
        time.sleep(FROZEN_FOR)
        victim.send_signal(signal.SIGCONT)
        resumed = time.time()
        # Caught up: every job runs on time again (a fire queued behind a
        # catch-up would still be waiting otherwise).
        on_time_us = int((resumed + 1.0) * 1_000_000)
        wait_until(
            lambda: {x.job for x in ledger_lines(ledger) if x.due >= on_time_us} == set(names),  # noqa: B023
            30,
            "the fleet to run every job on time again",
            *members,
        )
    for member in members:
        procs.terminate(member)

    lines = ledger_lines(ledger)
    doubled = twice(lines)
    example = sorted(doubled)[:5]
    pids = {key: [x.pid for x in lines if (x.job, x.due) == key] for key in example}
    assert not doubled, (
        f"{len(doubled)} due times ran twice, e.g. (job, due) -> pids {pids}; "
        f"the frozen members were {[members[1].pid, members[2].pid]}"
    )
    # misfire="all": every due time up to the last resume ran, or is in the
    # history (skipped behind a catch-up, or started by the frozen member and
    # recorded as interrupted by the others).
    ran = {(line.job, line.due) for line in lines}
    recorded = {(run.job, run.scheduled_us) for run in history(where)}
    dues = grid(first, FLEET_EVERY, int((resumed - first.timestamp()) / FLEET_EVERY))
    lost = [(name, due) for name in names for due in dues if (name, due) not in ran | recorded]
    assert not lost, f"misfire='all' lost {len(lost)} due times, e.g. {lost[:5]}"


# -------------------------------------- 3, 4. stopped with a backlog waiting
BACKLOG_EVERY = 0.1
BACKLOG_SLEEP = 0.06  # each run takes this long: the catch-up drains slowly
DOWN_FOR = 2.0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_catch_up_backlog_survives_the_scheduler_stopping(
    sig: signal.Signals, tmp_path: Path, procs: Procs
) -> None:
    """A scheduler that was down catches up misfire="all" fires one after
    another. Stopped with part of that backlog waiting, the next start runs
    the rest: no due time is lost unrecorded, none runs twice. SIGTERM
    records none of them as an error (the executor being shut down)."""
    db, ledger = tmp_path / "jobs.db", tmp_path / "ledger.txt"
    where = f"sqlite:{db}"
    names = ["catch-up", "catch-up-queue"]
    first = aligned(0.1)
    store = fault_child.open_store(where)
    setup = tw.Scheduler(app(), store=store)  # never started: it only adds the jobs
    for name, overlap in zip(names, ("skip", "queue"), strict=True):
        setup.add_job(
            name,
            "record",
            tw.Interval(seconds=BACKLOG_EVERY, start=first),
            extra={"sleep": BACKLOG_SLEEP},
            misfire="all",
            overlap=overlap,
        )
    store.close()
    time.sleep(DOWN_FOR)  # no scheduler runs: a backlog of fires comes due

    child = procs.child("run", where, ledger)
    wait_until(
        lambda: (
            all(n >= 3 for n in Counter(x.job for x in ledger_lines(ledger)).values())
            and len({x.job for x in ledger_lines(ledger)}) == len(names)
        ),
        30,
        "the catch-up to begin",
        child,
    )
    child.send_signal(sig)  # with most of the backlog still waiting
    code = child.wait(timeout=60)
    stopped_at = time.time()
    before = ledger_lines(ledger)
    late = {name: sum(1 for x in before if x.job == name) for name in names}
    due_by_then = len(grid(first, BACKLOG_EVERY, int(DOWN_FOR / BACKLOG_EVERY)))
    assert all(n < due_by_then - 5 for n in late.values()), (
        f"the backlog had drained before the stop ({late} runs): nothing was tested"
    )
    if sig == signal.SIGTERM:
        assert code == 0, procs.tail(child)
        errors = [(r.job, r.scheduled_us, r.error) for r in history(where) if r.outcome == "error"]
        assert not errors, (
            f"SIGTERM recorded {len(errors)} fires that had not started as errors, "
            f"e.g. {errors[:3]}; they must stay due for the next start"
        )

    again = procs.child("run", where, ledger)
    restarted = time.time()
    # Caught up: each job runs on time again, past what the backlog held.
    on_time_us = int((max(restarted, stopped_at) + 1.0) * 1_000_000)
    wait_until(
        lambda: all(
            any(x.job == name and x.due >= on_time_us for x in ledger_lines(ledger))
            for name in names
        ),
        60,
        "the restarted scheduler to catch up",
        again,
    )
    procs.terminate(again)

    lines = ledger_lines(ledger)
    assert not twice(lines), f"due times that ran twice: {twice(lines)}"
    runs = history(where)
    errors = [
        (r.job, r.scheduled_us, r.error)
        for r in runs
        if r.outcome == "error" and not (r.error or "").startswith(INTERRUPTED)
    ]
    assert not errors, f"runs recorded as errors: {errors[:5]}"
    ran = {(x.job, x.due) for x in lines}
    # Fires that did not run: skipped (overlap, on-time fires while the
    # job was busy) or cut short by the kill. A due time that ran is not
    # also recorded as skipped or missed.
    unrun = {
        (r.job, r.scheduled_us): r
        for r in runs
        if r.outcome in ("skipped", "missed")
        or (r.outcome == "error" and (r.error or "").startswith(INTERRUPTED))
    }
    both = [key for key, r in unrun.items() if key in ran and r.outcome != "error"]
    assert not both, f"due times that ran and were recorded as not run: {both[:5]}"
    lost = []
    for name in names:
        last = max(x.due for x in lines if x.job == name)
        count = int((last / 1e6 - first.timestamp()) / BACKLOG_EVERY + 0.5) + 1
        for due in grid(first, BACKLOG_EVERY, count):
            if (name, due) not in ran and (name, due) not in unrun:
                lost.append((name, due))
    assert not lost, (
        f"{len(lost)} due times before the last run neither ran nor were recorded, "
        f"e.g. {lost[:5]} (stopped {stopped_at:.3f}, runs before the stop: {late})"
    )


# -------------------------------- 5. repeats with a queued fire, restarted
def test_repeats_with_a_queued_fire_run_exactly_n_times_across_restarts(
    tmp_path: Path, procs: Procs
) -> None:
    db, ledger = tmp_path / "jobs.db", tmp_path / "ledger.txt"
    where = f"sqlite:{db}"
    store = fault_child.open_store(where)
    setup = tw.Scheduler(app(), store=store)  # never started: it only adds the jobs
    setup.add_job(
        "four",
        "record",
        tw.Interval(seconds=0.25, start=aligned(2.0), repeats=4),
        extra={"sleep": 0.6},  # longer than the interval: the next fire queues
        overlap="queue",
    )
    store.close()

    def queued(pid: int) -> bool:
        # A run of this process started 0.4 s ago and still going: the fire
        # due 0.25 s after it waits behind it.
        mine = [x for x in ledger_lines(ledger) if x.pid == pid]
        return bool(mine) and time.time() - mine[-1].at >= 0.4

    for _ in range(2):  # stopped twice with a fire waiting, if the job lasts
        child = procs.child("run", where, ledger)
        poll(lambda: queued(child.pid) or finished(db, ["four"]), 30)  # noqa: B023
        procs.terminate(child)
        if finished(db, ["four"]):
            break
    child = procs.child("run", where, ledger)
    procs.wait_until(lambda: finished(db, ["four"]), 60, "the job to be done", child)
    procs.terminate(child)

    lines = ledger_lines(ledger)
    runs = sorted(history(where), key=lambda r: r.scheduled_us)
    recorded = [(r.scheduled_us, r.run_number, r.outcome, r.error) for r in runs]
    assert sorted(x.run_number for x in lines) == [1, 2, 3, 4], (
        f"run numbers of the runs of a job with repeats=4: {[x.run_number for x in lines]}; "
        f"the history: {recorded}"
    )
    assert not twice(lines)
    outcomes = Counter(r.outcome for r in runs if r.outcome in ("ok", "error"))
    assert outcomes == {"ok": 4}, recorded


# ---------------------------------------------- 6. a store that lost its data
def start_redis(port: int, workdir: Path, procs: Procs) -> Popen:
    """A redis-server without persistence on ``port``: a restart loses everything."""
    import redis

    workdir.mkdir(exist_ok=True)
    argv = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    server = procs.spawn(argv, workdir / "unused", "redis")

    def answers() -> bool:
        client = redis.Redis(port=port, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    wait_until(answers, 30, "redis-server to answer", server)
    return server


def stored_jobs(where: str) -> set[str]:
    """The names of the jobs the store holds, read without a tickwork store
    (which could create what the test checks for)."""
    kind, _, address = where.partition(":")
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(address, socket_timeout=1, decode_responses=True)
        try:
            return set(client.hkeys(f"{fault_child.PREFIX}:def"))
        except redis.RedisError:
            return set()
        finally:
            client.close()
    if not Path(address).exists():
        return set()
    try:
        return {name for (name,) in sql(Path(address), "SELECT name FROM tickwork_jobs")}
    except sqlite3.Error:
        return set()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_store_that_lost_its_data_gets_the_jobs_back_and_they_keep_firing(
    kind: str, tmp_path: Path, procs: Procs
) -> None:
    """Redis restarted without persistence, or the SQLite file deleted, under
    a running scheduler: it writes its jobs back and they keep firing."""
    import shutil

    ledger = tmp_path / "ledger.txt"
    if kind == "redis":
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        port = free_port()
        server = start_redis(port, tmp_path / "redis-1", procs)
        where = f"redis:redis://127.0.0.1:{port}/0"
    else:
        db = tmp_path / "jobs.db"
        where = f"sqlite:{db}"
    names = [f"job-{i}" for i in range(5)]
    store = fault_child.open_store(where)
    setup = tw.Scheduler(app(), store=store)  # never started: it only adds the jobs
    for name in names:
        setup.add_job(name, "record", tw.Interval(seconds=0.2, start=aligned(1.0)))
    store.close()

    child = procs.child("run", where, ledger)
    wait_until(
        lambda: {x.job for x in ledger_lines(ledger)} == set(names), 30, "every job to run", child
    )
    if kind == "redis":
        server.terminate()
        server.wait(timeout=30)
        start_redis(port, tmp_path / "redis-2", procs)  # the same address, empty
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    wait_until(
        lambda: stored_jobs(where) == set(names),
        20,
        "the scheduler to write its jobs back to the store that lost them",
        child,
    )
    back_us = int((time.time() + 0.5) * 1_000_000)
    wait_until(
        lambda: {x.job for x in ledger_lines(ledger) if x.due >= back_us} == set(names),
        30,
        "every job to fire again",
        child,
    )
    procs.terminate(child)
    lines = ledger_lines(ledger)
    assert not twice(lines), f"due times that ran twice: {twice(lines)}"
