"""Resources bound to one event loop, closed before that loop closes.

Async clients (``httpx.AsyncClient``, ``redis.asyncio.Redis``) belong to the
loop they were made on. Connections keep one per loop and register a closer
here; whoever ends a loop tickwork runs (the executors, ``App.invoke`` of an
async service, ``Scheduler.serve``) calls :func:`close_loop_resources` first,
so no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["at_loop_end", "close_loop_resources", "finish_loop"]

log = logging.getLogger("tickwork.connections")

Closer = Callable[[], Awaitable[None]]

# Keyed by the loop itself: a loop's closers are dropped when they have run.
# A loop ended by someone else keeps its entry until the App is closed.
_closers: dict[asyncio.AbstractEventLoop, list[Closer]] = {}


def at_loop_end(loop: asyncio.AbstractEventLoop, closer: Closer) -> None:
    """Run ``closer`` on ``loop`` before it is closed."""
    _closers.setdefault(loop, []).append(closer)


def discard(loop: asyncio.AbstractEventLoop, closer: Closer) -> None:
    """Forget a closer that has done its work already."""
    closers = _closers.get(loop)
    if closers is not None:
        with contextlib.suppress(ValueError):
            closers.remove(closer)
        if not closers:
            _closers.pop(loop, None)


async def close_loop_resources() -> None:
    """Run, on the running loop, every closer registered for it."""
    loop = asyncio.get_running_loop()
    while True:
        closers = _closers.pop(loop, None)
        if not closers:
            return
        for closer in closers:
            try:
                await closer()
            except Exception:  # closing must go on for the others
                log.exception("closing an async client failed")


def finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop that is not running, after its resources."""
    if loop.is_closed():
        _closers.pop(loop, None)
        return
    if loop in _closers:
        loop.run_until_complete(close_loop_resources())
    loop.close()
