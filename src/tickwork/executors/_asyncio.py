"""AsyncioExecutor: async services on an event loop, sync ones in its worker threads."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from .._loops import close_loop_resources
from ._base import Executor, Task

__all__ = ["AsyncioExecutor"]

log = logging.getLogger("tickwork.executor")


class AsyncioExecutor(Executor):
    """Runs async services as tasks on an event loop; sync services in the
    loop's default thread pool.

    Under ``await scheduler.serve()`` it uses the running loop. Otherwise it
    starts a loop of its own in a background thread.

    Args:
        loop: a loop to use (it must be running by the time tasks arrive).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._own_thread: threading.Thread | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop`` (the scheduler's ``serve`` calls this)."""
        with self._lock:
            self._loop = loop

    def start(self) -> None:
        self._ensure_loop()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="tickwork-asyncio", daemon=True)
            thread.start()
            ready.wait()
            self._loop = loop
            self._own_thread = thread
            return loop

    def submit(self, task: Task) -> None:
        loop = self._ensure_loop()
        loop.call_soon_threadsafe(self._spawn, task)

    def _spawn(self, task: Task) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any]
        if task.is_async:
            fut = loop.create_task(task.arun())
            task.on_cancel(lambda: loop.call_soon_threadsafe(fut.cancel))
        else:
            fut = loop.run_in_executor(None, task.run)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if wait and self._tasks:

            async def drain() -> None:
                pending = list(self._tasks)
                if pending:
                    await asyncio.wait(pending, timeout=timeout)

            if self._own_thread is not None:
                asyncio.run_coroutine_threadsafe(drain(), loop).result()
            # On a borrowed loop, serve() awaits the drain itself.
        if self._own_thread is not None:
            if loop.is_running():
                closing = asyncio.run_coroutine_threadsafe(close_loop_resources(), loop)
                try:
                    closing.result(timeout)
                except Exception:
                    log.exception("closing the loop's connections failed")
            loop.call_soon_threadsafe(loop.stop)
            self._own_thread.join(timeout)
            loop.close()
            self._own_thread = None
            self._loop = None

    async def drain(self, timeout: float | None = None) -> None:
        """Wait, on the loop, for the running tasks (for ``serve``)."""
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def __repr__(self) -> str:
        return "AsyncioExecutor()"
