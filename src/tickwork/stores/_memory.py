"""MemoryStore: jobs and history in this process."""

from __future__ import annotations

import copy
import heapq
import threading
from typing import Any

from .._model import Run
from ._base import Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Keeps everything in memory: fast, and gone when the process ends.

    A new scheduler built on the same MemoryStore object continues its jobs.

    Args:
        history_limit: runs kept per job; older ones are dropped (>= 1).
    """

    def __init__(self, history_limit: int = 1000) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a whole number, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit!r}")
        self.history_limit = history_limit
        self._jobs: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, list[Run]] = {}
        self._order = 0
        self._lock = threading.Lock()

    def load_jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(record) for record in self._jobs.values()]

    def put_job(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._jobs[record["name"]] = copy.deepcopy(record)

    def update_state(
        self,
        name: str,
        *,
        next_fire_us: int | None,
        runs: int,
        last_due_us: int | None,
        active: bool,
    ) -> None:
        record = self._jobs.get(name)
        if record is not None:
            record["next_fire_us"] = next_fire_us
            record["runs"] = runs
            record["last_due_us"] = last_due_us
            record["active"] = active

    def remove_job(self, name: str) -> None:
        with self._lock:
            self._jobs.pop(name, None)

    def add_run(self, run: Run) -> None:
        runs = self._runs.get(run.job)
        if runs is None:
            runs = self._runs[run.job] = []
        runs.append(run)
        # Trim in batches so each append stays O(1) amortized.
        if len(runs) >= 2 * self.history_limit:
            del runs[: len(runs) - self.history_limit]

    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        with self._lock:
            if job is not None:
                runs = self._runs.get(job, [])[-min(limit, self.history_limit) :]
                return runs[::-1]
            streams = [reversed(r[-self.history_limit :]) for r in self._runs.values()]
        merged = heapq.merge(*streams, key=_recency, reverse=True)
        return [run for _, run in zip(range(limit), merged, strict=False)]

    def __repr__(self) -> str:
        return f"MemoryStore(jobs={len(self._jobs)}, history_limit={self.history_limit})"


def _recency(run: Run) -> int:
    return run.finished_us if run.finished_us is not None else run.scheduled_us
