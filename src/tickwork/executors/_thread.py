"""ThreadExecutor: a pool of worker threads fed from one queue."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from queue import SimpleQueue

from .._loops import finish_loop
from ._base import Executor, Task

__all__ = ["ThreadExecutor"]

log = logging.getLogger("tickwork.executor")


class ThreadExecutor(Executor):
    """Runs tasks on up to ``max_workers`` threads.

    The hand-off is a ``queue.SimpleQueue`` read by long-lived workers: no
    Future per task, no per-task locking, so a burst of thousands of fires a
    second costs the scheduler thread one C-level ``put`` each. Async
    services run on an event loop each worker keeps.

    A run the scheduler abandons (a thread run past its ``timeout``: Python
    cannot stop a thread) still holds its worker. The pool replaces such a
    worker, up to ``max_workers`` replacements, so hung runs do not starve
    every other job; past that the pool is exhausted: a warning says so, and
    fires wait in the queue (under ``misfire="skip"`` a fire that cannot start
    within its grace is recorded ``missed``, saying why). A worker whose
    abandoned run ends at last leaves the pool if it was replaced.

    Args:
        max_workers: the number of worker threads (>= 1).
    """

    def __init__(self, max_workers: int = 10) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a whole number >= 1, got {max_workers!r}")
        self.max_workers = max_workers
        self._queue: SimpleQueue[Task | None] = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._abandoned: set[int] = set()  # id() of the tasks given up on, still running
        self._replacements = 0  # workers started in place of ones that hung
        self._exhausted = False  # warned that every replacement is taken

    def start(self) -> None:
        with self._lock:
            self._closed = False

    def submit(self, task: Task) -> None:
        if self._closed:
            raise RuntimeError("ThreadExecutor is shut down")
        if not self._workers:
            self._start_workers()
        self._queue.put(task)

    def _start_workers(self) -> None:
        with self._lock:
            if self._workers:
                return
            for number in range(1, self.max_workers + 1):
                self._add_worker(f"tickwork-worker-{number}")

    def _add_worker(self, name: str) -> None:
        worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._workers.append(worker)
        worker.start()

    @property
    def hung(self) -> int:
        """How many workers abandoned runs hold now."""
        return len(self._abandoned)

    def abandon(self, task: Task) -> None:
        with self._lock:
            if self._closed:
                return
            self._abandoned.add(id(task))
            if self._replacements < self.max_workers:
                self._replacements += 1
                self._add_worker(f"tickwork-worker-r{self._replacements}")
                return
            if not self._exhausted:
                self._exhausted = True
                log.warning(
                    "ThreadExecutor exhausted: %d worker(s) are held by hung runs (past their "
                    "timeout) and every replacement is taken; fires wait for a free worker",
                    len(self._abandoned),
                )

    def _done_with(self, task: Task) -> bool:
        """After a task ends: True when this worker should leave the pool (its
        run had been abandoned and a replacement took its place)."""
        if id(task) not in self._abandoned:
            return False
        with self._lock:
            self._abandoned.discard(id(task))
            log.info("an abandoned run ended at last; its worker leaves the pool")
            if self._replacements > 0:
                self._replacements -= 1
                self._exhausted = False
                current = threading.current_thread()
                if current in self._workers:
                    self._workers.remove(current)
                return True
            return False

    def _work(self) -> None:
        loop: asyncio.AbstractEventLoop | None = None
        queue = self._queue
        try:
            while True:
                task = queue.get()
                if task is None:
                    return
                try:
                    if task.is_async:
                        if loop is None:
                            loop = asyncio.new_event_loop()
                        loop.run_until_complete(task.arun())
                    else:
                        task.run()
                except BaseException:  # a task records its own errors; this is a last guard
                    log.exception("a task raised out of its runner")
                if self._abandoned and self._done_with(task):
                    return
        finally:
            if loop is not None:
                finish_loop(loop)

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for _ in workers:
            self._queue.put(None)
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for worker in workers:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                worker.join(left)
                if worker.is_alive():
                    log.warning(
                        "shutdown: %s still running after the wait; left behind", worker.name
                    )

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers})"
