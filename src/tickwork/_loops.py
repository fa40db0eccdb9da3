"""Resources bound to one event loop, closed before that loop closes.

Async clients (``httpx.AsyncClient``, ``redis.asyncio.Redis``) belong to the
loop they were made on. Connections keep one per loop and register a closer
here. Whoever ends a loop tickwork runs (the executors, ``App.invoke`` of an
async service, ``Scheduler.serve``) calls :func:`close_loop_resources` first.

A loop of the user's own is covered too: the first closer for a loop also
starts a small async generator on it. ``asyncio.run`` (and ``Runner``) end
every loop by finalising its async generators while it still runs, and that
generator's ``finally`` runs the closers. So no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = [
    "at_loop_end",
    "close_loop_resources",
    "discard",
    "finish_loop",
    "forget_closed_loops",
    "loop_running",
]

log = logging.getLogger("tickwork.connections")

Closer = Callable[[], Awaitable[None]]

# Keyed by the loop itself: a loop's closers are dropped when they have run.
_closers: dict[asyncio.AbstractEventLoop, list[Closer]] = {}
# The watching generator of each loop with closers (see the module's docstring).
_watchers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] = {}


def at_loop_end(loop: asyncio.AbstractEventLoop, closer: Closer) -> None:
    """Run ``closer`` on ``loop`` before it is closed.

    Call it from the loop's own thread while the loop runs (where async
    clients are made), so the loop's end can be watched.
    """
    _closers.setdefault(loop, []).append(closer)
    if loop not in _watchers and loop.is_running():
        _watch(loop)


def _watch(loop: asyncio.AbstractEventLoop) -> None:
    async def watcher() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if _watchers.get(loop) is generator:
                del _watchers[loop]
                await close_loop_resources()

    generator = watcher()
    # Step it to its ``yield`` now, synchronously: the first step registers it
    # with the running loop (its asyncgen hooks), which finalises it at the end.
    step = generator.asend(None)
    try:
        step.send(None)
    except StopIteration:
        _watchers[loop] = generator


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
    watcher = _watchers.pop(loop, None)
    while True:
        closers = _closers.pop(loop, None)
        if not closers:
            break
        for closer in closers:
            try:
                await closer()
            except Exception:  # closing must go on for the others
                log.exception("closing an async client failed")
    if watcher is not None:
        await watcher.aclose()  # done with; its finally sees it is no longer watching


def loop_running() -> bool:
    """Whether this thread is inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def forget_closed_loops() -> None:
    """Drop the closers of loops that closed without running them (their
    clients' sockets are then closed by the garbage collector)."""
    for loop in [loop for loop in _closers if loop.is_closed()]:
        _closers.pop(loop, None)
        _watchers.pop(loop, None)


def finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop that is not running, after its resources."""
    if loop.is_closed():
        _closers.pop(loop, None)
        _watchers.pop(loop, None)
        return
    if loop in _closers or loop in _watchers:
        loop.run_until_complete(close_loop_resources())
    loop.close()
