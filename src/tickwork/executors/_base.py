"""The Executor ABC: where runs execute."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, Protocol

__all__ = ["Executor", "Task"]


class Task(Protocol):
    """One unit of work handed to an executor by the scheduler.

    A task records its own outcome; an executor only runs it, calling
    :meth:`run` for sync work or awaiting :meth:`arun` for async work.
    """

    @property
    def is_async(self) -> bool: ...

    def run(self) -> None: ...

    def arun(self) -> Coroutine[Any, Any, None]: ...

    def on_cancel(self, cancel: Any) -> None:
        """Give the task a callable that cancels it (async runs)."""


class Executor(ABC):
    """Runs tasks.

    Two methods matter: :meth:`submit` hands over a task and must return
    quickly (or, for an inline executor, run it then and there), and
    :meth:`shutdown` stops taking tasks and optionally waits for the running
    ones, up to a bound.
    """

    #: True when ``submit`` runs the task before returning.
    inline: bool = False

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Run ``task``, now or soon."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare to take tasks (called when the scheduler starts)."""

    def abandon(self, task: Task) -> None:  # noqa: B027 - optional hook
        """The scheduler gave up on ``task`` (it ran past its timeout and
        cannot be cancelled): an executor whose worker it still holds may
        replace that worker, so that hung runs do not starve the others."""

    @abstractmethod
    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop; with ``wait``, let running tasks finish for up to ``timeout`` seconds."""
