"""InlineExecutor: runs each task in the caller's thread, before submit returns."""

from __future__ import annotations

import asyncio
import weakref

from .._loops import finish_loop
from ._base import Executor, Task

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Runs every task at once, in the scheduler's own thread.

    Deterministic, so it is what fake-clock tests use. Async services run on
    an event loop the executor keeps for the purpose. A run can't be
    interrupted here: one past its timeout is recorded as ``timeout`` when it ends.
    """

    inline = True

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, task: Task) -> None:
        if task.is_async:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                # Close the loop with the executor even when nobody calls shutdown().
                weakref.finalize(self, finish_loop, self._loop)
            self._loop.run_until_complete(task.arun())
        else:
            task.run()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        if self._loop is not None:
            finish_loop(self._loop)
        self._loop = None

    def __repr__(self) -> str:
        return "InlineExecutor()"
