"""Executors: where runs execute."""

from ._asyncio import AsyncioExecutor
from ._base import Executor, Task
from ._inline import InlineExecutor
from ._thread import ThreadExecutor

__all__ = ["AsyncioExecutor", "Executor", "InlineExecutor", "Task", "ThreadExecutor"]
