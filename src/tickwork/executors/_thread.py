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
                worker = threading.Thread(
                    target=self._work, name=f"tickwork-worker-{number}", daemon=True
                )
                self._workers.append(worker)
                worker.start()

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
