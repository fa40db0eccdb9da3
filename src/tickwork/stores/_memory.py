"""MemoryStore: jobs and history in this process."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Collection
from typing import Any

from .._model import Job, Run
from ._base import FAILED, Store, bucket_count

__all__ = ["MemoryStore"]

_ROW_OUTCOME = Run.__slots__.index("outcome")


class MemoryStore(Store):
    """Keeps everything in memory: fast, and gone when the process ends.

    A new scheduler built on the same MemoryStore object continues its jobs
    (one scheduler at a time: the records are the live jobs of the scheduler
    that holds them). It keeps the :class:`Job` records it is given, so a fire
    allocates nothing here; history rows are tuples of plain values, which
    cost less memory than objects and which the garbage collector stops
    scanning, so a million-job scheduler does not slow down as its history
    grows.

    Args:
        history_limit: runs kept per job; older ones are dropped (>= 1). A
            history row costs about 200 bytes: mind the product of this and
            the number of jobs.
    """

    def __init__(self, history_limit: int = 100) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a whole number, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit!r}")
        self.history_limit = history_limit
        self._trim_at = history_limit + max(8, history_limit // 4)
        self._jobs: dict[str, Job] = {}
        self._runs: dict[str, list[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()

    def load_jobs(self, names: Collection[str] | None = None) -> list[Job]:
        # The records themselves: the next scheduler writes its state into them.
        with self._lock:
            if names is None:
                return list(self._jobs.values())
            return [self._jobs[name] for name in names if name in self._jobs]

    def put_job(self, job: Job, *, keep_state: bool = False) -> None:
        with self._lock:
            self._jobs[job.name] = job

    def update_state(
        self,
        job: Job,
        *,
        next_fire_us: int | None,
        runs: int,
        last_due_us: int | None,
        active: bool,
        expected_last_due: Any = None,
    ) -> None:
        # One scheduler at a time: claims always hold. The record is the
        # object this store keeps (see put_job), and the scheduler holding it
        # has already set these values there: its next fire too, which stays
        # the scheduler's even while a queued fire is due first (a scheduler
        # loading the record later starts from that queued fire).
        if self._jobs.get(job.name) is job:
            return
        job.next_fire_us = next_fire_us
        job.runs = runs
        job.last_due_us = last_due_us
        job.active = active

    def remove_job(self, name: str) -> None:
        with self._lock:
            self._jobs.pop(name, None)

    def add_run(self, run: Run) -> None:
        # Workers call this concurrently: setdefault, append and the slice
        # delete are each atomic, so no row is lost and no lock is needed.
        rows = self._runs.get(run.job)
        if rows is None:
            # A list, not a deque(maxlen=...): a deque costs over 600 bytes a
            # job before its first row.
            rows = self._runs.setdefault(run.job, [])
        rows.append(run.as_row())
        if len(rows) >= self._trim_at:  # trimmed in batches: O(1) amortized
            del rows[: len(rows) - self.history_limit]

    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        with self._lock:
            keep = min(limit, self.history_limit)
            if job is not None:
                rows = self._runs.get(job, [])[-keep:]
                return [Run.from_row(row) for row in reversed(rows)]
            streams = [reversed(rows[-self.history_limit :]) for rows in self._runs.values()]
        merged = heapq.merge(*streams, key=_recency, reverse=True)
        return [Run.from_row(row) for _, row in zip(range(limit), merged, strict=False)]

    def run_counts(
        self, since_us: int, until_us: int, bucket_us: int
    ) -> tuple[list[int], list[int]]:
        # One pass over the history kept (what history() shows, no more).
        n = bucket_count(since_us, until_us, bucket_us)
        runs, failures = [0] * n, [0] * n
        keep = self.history_limit
        with self._lock:
            streams = list(self._runs.values())
        finished_at, scheduled_at = Run.ROW_FINISHED, Run.ROW_SCHEDULED
        for rows in streams:
            for row in rows[-keep:]:
                at = row[finished_at]
                if at is None:
                    at = row[scheduled_at]
                if since_us <= at < until_us:
                    i = (at - since_us) // bucket_us
                    runs[i] += 1
                    if row[_ROW_OUTCOME] in FAILED:
                        failures[i] += 1
        return runs, failures

    def last_outcomes(self, names: Collection[str], count: int) -> dict[str, list[str]]:
        keep = min(count, self.history_limit)
        found: dict[str, list[str]] = {}
        for name in names:
            rows = self._runs.get(name)
            if keep <= 0 or not rows:
                found[name] = []
                continue
            found[name] = [row[_ROW_OUTCOME] for row in reversed(rows[-keep:])]
        return found

    def __repr__(self) -> str:
        return f"MemoryStore(jobs={len(self._jobs)}, history_limit={self.history_limit})"


def _recency(row: tuple[Any, ...]) -> int:
    run_finished = row[Run.ROW_FINISHED]
    return int(run_finished if run_finished is not None else row[Run.ROW_SCHEDULED])
