"""Acting on the jobs of running schedulers through their durable store.

The command line (``tickwork jobs``, ``pause``, ``resume``, ``execute``,
``history``) reaches a scheduler that runs elsewhere through the store they
share, never over another channel:

- reading jobs and history reads the store;
- pause and resume write the job's state the way a scheduler does; the
  store's change feed brings it to the scheduler that runs the job within
  about 0.25 s (and a scheduler that starts later reads it);
- execute leaves a run request in the store; the scheduler that holds the
  job's shard takes it within about 0.25 s and runs the job with the cid the
  request carries, so the caller can find the run in history.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from ._clock import Clock, SystemClock
from ._exceptions import JobNotFound, StoreError
from ._model import Job, Run
from ._service import new_cid
from .stores import RedisStore, RunRequest, SQLiteStore, Store

__all__ = ["StoreAdmin", "store_from_url"]


def store_from_url(url: str, *, prefix: str = "tickwork", must_exist: bool = False) -> Store:
    """A durable store from a URL: ``sqlite:///abs/path.db``, ``sqlite://rel.db``,
    a plain file path, or ``redis://``, ``rediss://``, ``unix://`` (a RedisStore).

    Raises:
        StoreError: the store cannot be opened (the message names it, without
            a password).
        ValueError: the URL is empty.

    ``must_exist``: a SQLite file that is not there is a StoreError, not a new file
    (for commands that read what a scheduler wrote).
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("a store URL is needed: sqlite:///path/to/jobs.db or redis://host:6379/0")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, prefix=prefix)
    path = url
    for scheme in ("sqlite://", "sqlite:"):
        if path.startswith(scheme):
            path = path[len(scheme) :]
            break
    if not path:
        raise ValueError(f"store URL {url!r} names no file")
    if must_exist and not os.path.exists(path):
        raise StoreError(f"SQLite store {path!r} does not exist")
    return SQLiteStore(path)


class StoreAdmin:
    """Jobs and history of the schedulers that share ``store``."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    def jobs(self) -> list[Job]:
        return sorted(self.store.load_jobs(), key=lambda job: job.name)

    def job(self, name: str) -> Job:
        """The job's stored record.

        Raises:
            JobNotFound: the store has no job by that name.
        """
        found = self.store.load_jobs([name])
        if not found:
            raise JobNotFound(name)
        return found[0]

    def history(self, name: str | None = None, limit: int = 20) -> list[Run]:
        return self.store.history(name, limit)

    def last_runs(self, names: Iterable[str]) -> dict[str, Run]:
        """The newest recorded run of each of these jobs (that has one)."""
        latest: dict[str, Run] = {}
        for name in names:
            runs = self.store.history(name, 1)
            if runs:
                latest[name] = runs[0]
        return latest

    def pause(self, name: str) -> Job:
        """Stop a job from firing, as ``Scheduler.pause_job`` does.

        Raises:
            JobNotFound: the store has no job by that name.
        """
        job = self.job(name)
        if job.active:
            job.active = False
            job.next_fire_us = None
            self._save(job)
        return job

    def resume(self, name: str) -> Job:
        """Let a paused job fire again from its first fire time after now.

        Raises:
            JobNotFound: the store has no job by that name.
            ValueError: the job has no fire time left (remove it instead).
        """
        job = self.job(name)
        if job.active:
            return job
        following = job._fire_after_resume(self.clock.now_us())
        repeats = job.trigger.repeats
        if following is None or (repeats is not None and job.runs >= repeats):
            raise ValueError(f"job {name!r} has no fire time left; remove it instead")
        job.active = True
        job.next_fire_us = following
        self._save(job)
        return job

    def _save(self, job: Job) -> None:
        self.store.update_state(
            job,
            next_fire_us=job.next_fire_us,
            runs=job.runs,
            last_due_us=job.last_due_us,
            active=job.active,
        )
        self.store.flush()

    def request_run(
        self, name: str, extra: Any = None, *, has_extra: bool = False, expires_in: float = 60.0
    ) -> str:
        """Ask the scheduler that runs ``name`` to run it now; returns the run's cid.

        Raises:
            JobNotFound: the store has no job by that name.
            StoreError: the store is not one schedulers share.
        """
        self.job(name)
        cid = new_cid()
        expires_us = self.clock.now_us() + int(expires_in * 1_000_000)
        try:
            self.store.request_run(RunRequest(name, cid, extra, has_extra, expires_us))
        except NotImplementedError:
            raise StoreError(f"{self.store!r} is not shared by schedulers") from None
        return cid

    def wait_for_run(
        self, name: str, cid: str, timeout: float, *, finished: bool = True
    ) -> Run | None:
        """The run with ``cid`` once it is recorded (finished, unless
        ``finished`` is false), or None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for run in self.store.history(name, 50):
                if run.cid == cid and (run.outcome is not None or not finished):
                    return run
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
