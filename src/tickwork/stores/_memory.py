"""MemoryStore: jobs and history in this process."""

from __future__ import annotations

import copy
import heapq
import threading
from collections import deque
from typing import Any

from .._model import Job, Run
from ._base import Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keeps everything in memory: fast, and gone when the process ends.

    A new scheduler built on the same MemoryStore object continues its jobs.
    Job state and history are kept as tuples of plain values: they cost less
    memory than objects, and the garbage collector stops scanning them, which
    keeps a million-job scheduler from slowing down as its history grows.

    Args:
        history_limit: runs kept per job; older ones are dropped (>= 1).
    """

    def __init__(self, history_limit: int = 1000) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a whole number, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit!r}")
        self.history_limit = history_limit
        self._jobs: dict[str, Job] = {}
        self._states: dict[str, tuple[int | None, int, int | None, bool]] = {}
        self._runs: dict[str, deque[tuple[Any, ...]]] = {}
        self._lock = threading.Lock()

    def load_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            records = []
            for name, job in self._jobs.items():
                record = job.to_dict()
                state = self._states.get(name)
                if state is not None:
                    next_us, runs, last_due_us, active = state
                    record.update(
                        next_fire_us=next_us, runs=runs, last_due_us=last_due_us, active=active
                    )
                records.append(copy.deepcopy(record))
            return records

    def put_job(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.name] = job
            self._states.pop(job.name, None)

    def update_state(
        self,
        name: str,
        *,
        next_fire_us: int | None,
        runs: int,
        last_due_us: int | None,
        active: bool,
    ) -> None:
        if name in self._jobs:
            self._states[name] = (next_fire_us, runs, last_due_us, active)

    def remove_job(self, name: str) -> None:
        with self._lock:
            self._jobs.pop(name, None)
            self._states.pop(name, None)

    def add_run(self, run: Run) -> None:
        rows = self._runs.get(run.job)
        if rows is None:
            rows = self._runs[run.job] = deque(maxlen=self.history_limit)
        rows.append(run.as_row())

    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        with self._lock:
            if job is not None:
                rows = list(self._runs.get(job, ()))[-limit:]
                return [Run.from_row(row) for row in reversed(rows)]
            streams = [reversed(list(rows)) for rows in self._runs.values()]
        merged = heapq.merge(*streams, key=_recency, reverse=True)
        return [Run.from_row(row) for _, row in zip(range(limit), merged, strict=False)]

    def __repr__(self) -> str:
        return f"MemoryStore(jobs={len(self._jobs)}, history_limit={self.history_limit})"


def _recency(row: tuple[Any, ...]) -> int:
    run_finished = row[Run.ROW_FINISHED]
    return int(run_finished if run_finished is not None else row[Run.ROW_SCHEDULED])
