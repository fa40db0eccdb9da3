"""Every start of a scheduled run goes through one claim, and queued fires
are durable (docs/policies.md, "Every due time accounted for").

A held executor keeps the runs it is given until the test runs them, so a
job stays busy on a FakeClock and fires queue behind it, deterministically.
A "crash" is a scheduler dropped without shutdown, and a new one built on
the same file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import tickwork as tw
from tickwork.executors import Executor, Task

from .conftest import utc


class HeldExecutor(Executor):
    """Keeps submitted tasks until :meth:`run_next` (or shutdown) runs them."""

    def __init__(self) -> None:
        self.held: list[Task] = []

    def submit(self, task: Task) -> None:
        self.held.append(task)

    def run_next(self) -> None:
        self.held.pop(0).run()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        while wait and self.held:
            self.run_next()


@pytest.fixture
def ledger() -> list[tuple[str, Any, int]]:
    return []


@pytest.fixture
def app(ledger: list[tuple[str, Any, int]]) -> tw.App:
    application = tw.App()

    @application.service("record")
    def record(request: tw.Request) -> None:
        assert request.job is not None
        ledger.append((request.job.name, request.job.scheduled_for, request.job.run_number))

    @application.service("fail")
    def fail(request: tw.Request) -> None:
        assert request.job is not None
        ledger.append((request.job.name, request.job.scheduled_for, request.job.run_number))
        raise RuntimeError("boom")

    return application


def on_file(
    app: tw.App, clock: tw.FakeClock, path: Path, executor: Executor | None = None
) -> tw.Scheduler:
    return tw.Scheduler(app, clock=clock, store=tw.SQLiteStore(path), executor=executor)


def minute(m: int) -> Any:
    return utc(2026, 3, 1, 0, m)


def test_a_queued_fire_survives_a_crash(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    first = on_file(app, clock, tmp_path / "jobs.db", held)
    first.add_job("q", "record", tw.Interval(minutes=1), overlap="queue")
    first.advance(minutes=2)  # 00:01 starts (held), 00:02 queues behind it
    assert len(held.held) == 1
    first.store.flush()  # whatever the pass left buffered is written (as later passes do)
    # Crash: the process is gone with its queue. The store still has 00:02 due.
    again = on_file(app, clock, tmp_path / "jobs.db")
    assert again.get_job("q").next_fire_time == minute(2)
    again.run_pending()
    assert ledger == [("q", minute(2), 2)]
    outcomes = {r.scheduled_for: (r.outcome, r.run_number) for r in again.history("q")}
    assert outcomes[minute(1)][0] == "error"  # interrupted: recorded, not lost
    assert outcomes[minute(2)] == ("ok", 2)
    again.store.close()


def test_a_catch_up_backlog_survives_a_crash(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    first = on_file(app, clock, tmp_path / "jobs.db", held)
    first.add_job("all", "record", tw.Interval(minutes=1), misfire="all", overlap="queue")
    first.advance(minutes=1)
    clock.set(minute(6))
    first.run_pending()  # 00:02 .. 00:06 wait behind the held 00:01
    first.store.flush()
    again = on_file(app, clock, tmp_path / "jobs.db")
    again.run_pending()
    assert [when for _, when, _ in ledger] == [minute(m) for m in range(2, 7)]
    assert [number for _, _, number in ledger] == [2, 3, 4, 5, 6]
    again.store.close()


def test_repeats_with_a_queued_fire_count_right_across_a_restart(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    first = on_file(app, clock, tmp_path / "jobs.db", held)
    first.add_job("r", "record", tw.Interval(minutes=1, repeats=4), overlap="queue")
    first.advance(minutes=2)
    held.run_next()  # 00:01 ends: the queued 00:02 starts, claimed, as run 2
    first.run_pending()
    held.run_next()
    first.store.close()
    again = on_file(app, clock, tmp_path / "jobs.db")
    assert again.get_job("r").runs == 2
    again.advance(minutes=10)
    assert [number for _, _, number in ledger] == [1, 2, 3, 4]
    assert again.get_job("r").status == "done"
    again.store.close()


def test_a_refused_claim_drops_the_queued_fires(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    a = on_file(app, clock, tmp_path / "jobs.db", held)
    a.add_job("all", "record", tw.Interval(minutes=1), misfire="all", overlap="queue")
    b = on_file(app, clock, tmp_path / "jobs.db")  # another scheduler on the file
    a.advance(minutes=1)
    clock.set(minute(5))
    a.run_pending()  # 00:02 .. 00:05 queue behind a's held 00:01
    b.run_pending()  # b's first claim is refused: it takes the job as stored
    b.run_pending()  # and runs the queued due times itself
    assert [when for _, when, _ in ledger] == [minute(m) for m in range(2, 6)]
    held.run_next()  # a's 00:01 ends; its queued 00:02 is no longer its to start
    a.run_pending()
    assert not held.held
    dues = [when for _, when, _ in ledger]
    assert sorted(dues) == [minute(m) for m in range(1, 6)]  # each once
    a.store.close()
    b.store.close()


def test_a_retry_of_a_job_taken_elsewhere_does_not_start(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    a = on_file(app, clock, tmp_path / "jobs.db", held)
    retry = tw.Retry(attempts=3, backoff=timedelta(seconds=10), factor=1)
    a.add_job("r", "fail", tw.Interval(minutes=1), retry=retry, overlap="allow")
    b = on_file(app, clock, tmp_path / "jobs.db")
    a.advance(minutes=1)
    held.run_next()  # attempt 1 of 00:01 fails; attempt 2 waits 10 s
    b.run_pending()  # refused: b takes the job as stored
    clock.set(minute(2))
    b.run_pending()  # b runs 00:02 (attempts 1..3 inline)
    a.advance(seconds=10)  # a's attempt 2 of 00:01: its claim is refused
    assert held.held == []
    assert [(when, number) for _, when, number in ledger].count((minute(1), 1)) == 1
    a.store.close()
    b.store.close()


def test_a_retry_is_written_ahead(app: tw.App, clock: tw.FakeClock, tmp_path: Path) -> None:
    held = HeldExecutor()
    a = on_file(app, clock, tmp_path / "jobs.db", held)
    a.add_job("r", "fail", tw.Interval(minutes=1), retry=tw.Retry(attempts=2, factor=1))
    a.advance(minutes=1)
    held.run_next()
    a.advance(seconds=1)  # attempt 2 is claimed and written ahead, then held
    assert len(held.held) == 1
    again = on_file(app, clock, tmp_path / "jobs.db")  # a crash during attempt 2
    attempts = {r.attempt: r.outcome for r in again.history("r")}
    assert attempts == {1: "error", 2: "error"}  # the second as interrupted
    again.store.close()


def test_shutdown_leaves_queued_fires_due_and_records_no_error(
    app: tw.App, clock: tw.FakeClock, tmp_path: Path, ledger: list[Any]
) -> None:
    held = HeldExecutor()
    first = on_file(app, clock, tmp_path / "jobs.db", held)
    first.add_job("all", "record", tw.Interval(minutes=1), misfire="all", overlap="queue")
    first.advance(minutes=1)
    clock.set(minute(4))
    first.run_pending()
    first.shutdown()  # the held 00:01 finishes; 00:02 .. 00:04 do not start
    assert [when for _, when, _ in ledger] == [minute(1)]
    assert [r.outcome for r in first.history("all")] == ["ok"]
    first.store.close()
    again = on_file(app, clock, tmp_path / "jobs.db")
    again.run_pending()
    assert [when for _, when, _ in ledger] == [minute(m) for m in range(1, 5)]
    assert all(r.outcome == "ok" for r in again.history("all"))
    again.store.close()


def test_memory_store_queued_fires_carry_over_to_the_next_scheduler(
    app: tw.App, clock: tw.FakeClock, ledger: list[Any]
) -> None:
    store = tw.MemoryStore()
    held = HeldExecutor()
    first = tw.Scheduler(app, clock=clock, store=store, executor=held)
    first.add_job("q", "record", tw.Interval(minutes=1), overlap="queue")
    first.advance(minutes=2)
    again = tw.Scheduler(app, clock=clock, store=store)
    again.run_pending()
    assert ledger == [("q", minute(2), 2)]
