"""The scheduler: a heap of next fire times, the policies, and the loop.

One lock guards all scheduler state. The due queue is a calendar queue: a
binary heap of the distinct due instants, and for each instant a FIFO bucket
of the jobs due then. Adding a job to an existing instant is O(1), a new
instant O(log k) for k distinct instants, and firing a job O(1) within its
instant, so a million jobs cost per fire what a thousand do. A job's bucket
entry is valid while ``state._queued_at`` equals the bucket's instant:
pausing, removing or rescheduling a job is O(1) and the stale entry is
dropped when its instant comes. Timed work that is not a fire (a jittered
start, a retry, a timeout) sits in a second, small heap of timers.

The loop thread sleeps on a condition until the earliest deadline; anything
that changes the schedule notifies it, so it never polls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from heapq import heapify, heappop, heappush, nsmallest
from itertools import count
from queue import SimpleQueue
from types import FrameType
from typing import Any

from ._app import App
from ._clock import Clock, FakeClock, SystemClock, step_of
from ._exceptions import (
    DuplicateJob,
    InvalidTrigger,
    JobNotFound,
    ServiceNotFound,
    StoreReset,
)
from ._loops import close_loop_resources
from ._model import (
    MISFIRE_POLICIES,
    OVERLAP_POLICIES,
    Event,
    Job,
    Retry,
    Run,
    check_job_name,
)
from ._service import JobInfo, Request, Service, new_cid, run_service_async, run_service_sync
from ._time import get_zone, td_to_us, us_to_dt, zone_name
from .executors import Executor, InlineExecutor, ThreadExecutor
from .stores import NO_CLAIM, SHARDS, MemoryStore, RunRequest, Store, shard_of
from .triggers import Trigger

__all__ = ["Scheduler"]

log = logging.getLogger("tickwork.scheduler")

_UNSET: Any = object()
# The fields of a Job that update_job may change (the rest is state).
_DEFINITION = (
    "service",
    "trigger",
    "extra",
    "misfire",
    "grace_us",
    "overlap",
    "jitter_us",
    "timeout_us",
    "retry",
)
_DEFAULT_GRACE = timedelta(seconds=60)
# The most due times one catch-up walks through for one job; past that the
# remaining ones are folded into the last (a job every second, down for years).
_MAX_CATCH_UP = 1_000_000
# With a durable store, how many fires of one pass are written (and their runs
# started) together: fewer commits, but the first run waits for the batch.
_WRITE_AHEAD_BATCH = 256
# When the store cannot be written, the loop retries after this, doubling up
# to the cap, and fires nothing new meanwhile.
_STORE_RETRY_US = 250_000
_STORE_RETRY_MAX_US = 4_000_000
# How soon the next fleet round comes while the fleet is changing (seconds).
_QUICK_ROUND = 0.25


class _RunTask:
    """One attempt of one run, handed to the executor."""

    __slots__ = ("cancel", "extra", "finished", "not_before", "record", "sched", "state")

    def __init__(self, sched: Scheduler, state: Job, run: Run, extra: Any) -> None:
        self.sched = sched
        self.state = state
        self.record = run
        self.extra = extra
        self.finished = False
        self.cancel: Callable[[], Any] | None = None
        self.not_before = run.scheduled_us

    @property
    def is_async(self) -> bool:
        cls = self.sched.app._services.get(self.state.service)
        return cls is not None and cls.is_async()

    def on_cancel(self, cancel: Any) -> None:
        self.cancel = cancel

    def _request(self) -> Request:
        run = self.record
        job = JobInfo(run.job, run.scheduled_us, run.run_number, run.manual, run.attempt)
        return Request(self.extra, cid=run.cid, channel="scheduler", job=job)

    def run(self) -> None:
        sched = self.sched
        if not sched._begin(self):
            return
        try:
            cls = sched.app.get_service(self.state.service)
            run_service_sync(cls(sched.app, self._request()))
        except Exception as exc:
            sched._finish(self, "error", exc)
        else:
            sched._finish(self, "ok", None)

    async def arun(self) -> None:
        sched = self.sched
        if not sched._begin(self):
            return
        try:
            cls = sched.app.get_service(self.state.service)
            await run_service_async(cls(sched.app, self._request()))
        except asyncio.CancelledError:
            sched._finish(self, "timeout", None)
        except Exception as exc:
            sched._finish(self, "error", exc)
        else:
            sched._finish(self, "ok", None)


class _Span:
    """Consecutive due times of one job that did not run, for one record."""

    __slots__ = ("count", "first", "last", "outcome")

    def __init__(self, outcome: str, first: int) -> None:
        self.outcome = outcome
        self.first = self.last = first
        self.count = 1


# A run written ahead, waiting for its flush before it starts: the job, the
# run, the instant it was planned at, and for a retry the task to launch.
_Pending = tuple[Job, Run, int, "_RunTask | None"]


class Scheduler:
    """Runs services as jobs: one-time, interval and cron.

    Args:
        app: the services (and connections) jobs refer to by name.
        clock: where the time comes from (default :class:`SystemClock`).
        executor: where runs execute (default :class:`ThreadExecutor`;
            :class:`InlineExecutor` when ``clock`` is a :class:`FakeClock`,
            so fake-clock tests are deterministic).
        store: where jobs and history are kept (default :class:`MemoryStore`).
            Jobs already in the store are loaded and continue.
        tz: the zone of triggers created without one, and of displays.
        shutdown_timeout: how long, in seconds, a graceful shutdown waits for
            running jobs.
        batch_window: when two or more due instants fall within this window
            after a pass over due fires, the loop sleeps to the end of the
            window and starts everything due by then in one pass: under a
            dense load one wake-up serves many fires, each at most this late
            (never early); a lone fire is woken for on time. Only on a real
            clock; ``timedelta(0)`` turns it off.
        lease_ttl: with a store several schedulers share (SQLiteStore,
            RedisStore), how long this scheduler's hold on its share of the
            jobs outlives its last heartbeat (sent every third of it): when a
            scheduler dies, the others take over its jobs within about
            ``lease_ttl`` plus a third.

    Example::

        sched = tw.Scheduler(app)
        sched.add_job("sync", "api.scheduler.sync", tw.Interval(minutes=5))
        with sched:
            ...
    """

    def __init__(
        self,
        app: App,
        clock: Clock | None = None,
        executor: Executor | None = None,
        store: Store | None = None,
        tz: str = "UTC",
        *,
        shutdown_timeout: float = 30.0,
        batch_window: timedelta = timedelta(milliseconds=1),
        lease_ttl: timedelta = timedelta(seconds=6),
    ) -> None:
        if not isinstance(app, App):
            raise TypeError(f"Scheduler needs a tickwork App, got {app!r}")
        self.app = app
        self.clock: Clock = clock if clock is not None else SystemClock()
        if executor is None:
            executor = InlineExecutor() if isinstance(self.clock, FakeClock) else ThreadExecutor()
        self.executor = executor
        self.store: Store = store if store is not None else MemoryStore()
        self._durable = self.store.durable
        # A fleet (a shared store): the shards this scheduler holds, once it
        # runs; None before, when it fires every job and claims fence it.
        self._shared = self.store.shared
        self._owned: frozenset[int] | None = None
        self._owned_seen: frozenset[int] | None = None  # the last share the store gave
        # Work from the fleet thread, for the loop to do under the lock.
        self._inbox: SimpleQueue[Callable[[], None]] = SimpleQueue()
        ttl = _duration_us(lease_ttl, "lease_ttl")
        assert ttl is not None
        self._lease_ttl = ttl / 1_000_000
        self._fleet_thread: threading.Thread | None = None
        # With a durable store, the runs a pass over due fires starts wait here
        # until the pass's writes are flushed (see _run_due).
        self._deferred: list[_Pending] | None = None
        # Runs written ahead whose flush failed (the store could not be
        # reached): they start once a flush succeeds, and until then no job
        # fires. Their claims wait in the store's buffer.
        self._held: list[_Pending] = []
        # While the loop flushes without the lock: the claims other callers'
        # flushes saw refused (see _flush_unlocked).
        self._refusals: set[str] | None = None
        self._store_failures = 0
        self._retry_at = 0
        self.tz = zone_name(get_zone(tz, what="the scheduler's tz"))
        self.shutdown_timeout = shutdown_timeout
        window = _duration_us(batch_window, "batch_window", allow_zero=True) or 0
        self._batch_us = 0 if isinstance(self.clock, FakeClock) else window
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._due: list[int] = []  # heap of the instants that have a bucket
        # A lone job is its instant's bucket; a list only when jobs share it (a
        # list per instant would be garbage the collector scans under load).
        self._buckets: dict[int, Job | list[Job]] = {}
        self._stale = 0
        self._timers: list[tuple[int, int, Callable[[Any], None], Any]] = []
        self._seq = count()
        self._listeners: list[Callable[[Event], None]] = []
        self._collect: list[Run] | None = None
        self._firing: Job | None = None  # the job whose fires are being started
        # Jobs whose run a worker finished, for the loop to release (lock-free hand-back).
        self._done: SimpleQueue[Job] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._load()

    # ------------------------------------------------------------------ jobs
    def add_job(
        self,
        name: str,
        service: str,
        trigger: Trigger,
        extra: Any = None,
        *,
        misfire: str = "coalesce",
        grace: timedelta | None = _DEFAULT_GRACE,
        overlap: str = "skip",
        jitter: timedelta | None = None,
        timeout: timedelta | None = None,
        retry: Retry | None = None,
        active: bool = True,
        replace: bool = False,
    ) -> Job:
        """Add a job that runs ``service`` on ``trigger``'s times.

        Args:
            name: the job's unique name.
            service: the name of a registered service.
            trigger: a :class:`OneTime`, :class:`Interval` or :class:`Cron`.
            extra: context for the service: ``request.raw_request`` as given,
                ``request.payload`` parsed.
            misfire: ``coalesce``, ``skip`` or ``all`` (see docs/policies.md).
            grace: how late a fire may start before it counts as missed
                (None: never missed).
            overlap: ``skip``, ``queue`` or ``allow``.
            jitter: delay each start by a random amount in [0, jitter).
            timeout: a run past it is recorded as ``timeout``.
            retry: retry failed runs.
            active: False adds the job paused.
            replace: replace a job of the same name instead of raising.

        Raises:
            ServiceNotFound: no service by that name is registered.
            DuplicateJob: the name is taken and ``replace`` is false.
            InvalidTrigger: the trigger never fires from now on.
            ValueError, TypeError: a bad policy name or argument (named in the message).
        """
        check_job_name(name)
        if not isinstance(active, bool):
            raise TypeError(f"active must be True or False, got {active!r}")
        definition = self._define(
            name,
            service,
            self._check_trigger(trigger),
            extra,
            misfire=misfire,
            grace=grace,
            overlap=overlap,
            jitter=jitter,
            timeout=timeout,
            retry=retry,
            active=active,
        )
        with self._lock:
            if name in self._jobs and not replace:
                raise DuplicateJob(name)
            now = self.clock.now_us()
            definition.trigger = self._bind(definition.trigger, now)
            first = definition.trigger.first_fire(now)
            if first is None:
                raise InvalidTrigger(
                    f"trigger {definition.trigger!r} of job {name!r} never fires after "
                    f"{us_to_dt(now).isoformat()}"
                )
            self.store.validate(definition)
            old = self._jobs.get(name)
            if old is not None:
                self._drop(old)
            state = definition  # the record is the scheduler's live job, too
            if active:
                self._schedule(state, first)
            self._jobs[name] = state
            self.store.put_job(definition)
            self._emit("job_added", name)
            if self._thread is not None:
                self._cond.notify_all()  # the loop may sleep past this job's first fire
            return self._snapshot(state)

    def declare_job(
        self,
        name: str,
        service: str,
        trigger: Trigger,
        extra: Any = None,
        *,
        misfire: str = "coalesce",
        grace: timedelta | None = _DEFAULT_GRACE,
        overlap: str = "skip",
        jitter: timedelta | None = None,
        timeout: timedelta | None = None,
        retry: Retry | None = None,
        active: bool | None = None,
    ) -> Job:
        """Make sure the job exists as declared: the idempotent form of
        :meth:`add_job`, for code that runs at every start (config files use it).

        - No job by that name: it is added, as :meth:`add_job` adds it.
        - A job by that name (active, paused or done) with the same
          definition: nothing changes. A done job stays done, with its run
          count and history, so a deploy never runs a finished job again.
        - A changed definition: the job is updated as :meth:`update_job`
          does (its run count stays; options not given go back to their
          defaults); a done job whose new trigger has fires left is active
          again. A trigger counts as the same when it is declared the same:
          an Interval declared without ``start`` keeps the start it got
          when it was added.
        - ``active``: False pauses the job and True resumes it, when it is
          not so already; None (the default) leaves an existing job as it is
          and adds a new one active.

        Arguments and errors are those of :meth:`add_job`.
        """
        self._check_trigger(trigger)
        with self._lock:
            existing = self._jobs.get(name)
            if existing is None:
                return self.add_job(
                    name,
                    service,
                    trigger,
                    extra,
                    misfire=misfire,
                    grace=grace,
                    overlap=overlap,
                    jitter=jitter,
                    timeout=timeout,
                    retry=retry,
                    active=active is not False,
                )
            wanted = self._define(
                name,
                service,
                trigger,
                extra,
                misfire=misfire,
                grace=grace,
                overlap=overlap,
                jitter=jitter,
                timeout=timeout,
                retry=retry,
                active=existing.active,
            )
            changes: dict[str, Any] = {}
            if not self._same_trigger(existing.trigger, trigger):
                changes["trigger"] = trigger
            for field, value in (
                ("service", service),
                ("extra", extra),
                ("misfire", misfire),
                ("grace", grace),
                ("overlap", overlap),
                ("jitter", jitter),
                ("timeout", timeout),
                ("retry", retry),
            ):
                attr = f"{field}_us" if field in ("grace", "jitter", "timeout") else field
                if getattr(wanted, attr) != getattr(existing, attr):
                    changes[field] = value
            if changes:
                self.update_job(name, **changes)
            if active is False and existing.status == "active":
                self.pause_job(name)
            elif active is True and not existing.active:
                self.resume_job(name)
            return self._snapshot(existing)

    def _same_trigger(self, stored: Trigger, given: Trigger) -> bool:
        """Whether ``given`` declares the trigger a job keeps as ``stored``
        (what the moment of adding filled in, such as an Interval's start, is
        not the declaration's to change)."""
        given_data = given.to_dict()
        bound = given.for_job(self.clock.now_us(), self.tz).to_dict()
        stored_data = stored.to_dict()
        if "start" not in given_data:
            bound.pop("start", None)
            stored_data.pop("start", None)
        return bound == stored_data

    def get_job(self, name: str) -> Job:
        """A snapshot of the job.

        Raises:
            JobNotFound: no job by that name.
        """
        with self._lock:
            return self._snapshot(self._state(name))

    def jobs(self, *, include_done: bool = False) -> list[Job]:
        """Snapshots of the active and paused jobs, by name; with
        ``include_done``, of the done ones too."""
        with self._lock:
            found = (self._jobs[name] for name in sorted(self._jobs))
            return [self._snapshot(job) for job in found if include_done or job.status != "done"]

    def jobs_page(
        self, offset: int, limit: int, *, text: str = "", active: bool | None = None
    ) -> tuple[list[Job], int]:
        """One page of the jobs, by name, and how many jobs match in all.

        ``text`` keeps jobs whose name or service contains it (ignoring case);
        ``active`` keeps active (True) or paused (False) jobs; done jobs are
        listed only when it is None. Only the page's
        jobs are snapshot, so a page of a very large schedule is cheap.
        """
        wanted = text.casefold()
        with self._lock:
            names = sorted(
                name
                for name, job in self._jobs.items()
                if (active is None or (job.status == "active" if active else not job.active))
                and (not wanted or wanted in name.casefold() or wanted in job.service.casefold())
            )
            page = [self._snapshot(self._jobs[name]) for name in names[offset : offset + limit]]
        return page, len(names)

    def job_counts(self) -> tuple[int, int]:
        """How many jobs there are (done ones included), and how many of them
        are active (neither paused nor done); without a snapshot of each, so
        cheap with very many jobs."""
        with self._lock:
            jobs = list(self._jobs.values())
        return len(jobs), sum(1 for job in jobs if job.status == "active")

    def soonest_jobs(self, count: int) -> list[Job]:
        """Snapshots of the (at most) ``count`` active jobs whose next fire
        times come first, soonest first (ties by name); jobs with no next fire
        time are left out."""
        with self._lock:
            jobs = list(self._jobs.values())
        due = [
            (nxt, job.name, job)
            for job in jobs
            if job.active and (nxt := job.next_fire_us) is not None and not job._removed
        ]
        soonest = nsmallest(count, due, key=lambda item: (item[0], item[1]))
        with self._lock:
            return [self._snapshot(job) for _, _, job in soonest]

    def update_job(
        self,
        name: str,
        *,
        trigger: Trigger = _UNSET,
        service: str = _UNSET,
        extra: Any = _UNSET,
        misfire: str = _UNSET,
        grace: timedelta | None = _UNSET,
        overlap: str = _UNSET,
        jitter: timedelta | None = _UNSET,
        timeout: timedelta | None = _UNSET,
        retry: Retry | None = _UNSET,
    ) -> Job:
        """Change a job; what is not given stays. A new trigger takes effect at once.

        Its run count stays; a due time the job already had never runs again.

        Raises:
            JobNotFound: no job by that name.
            ServiceNotFound, InvalidTrigger, ValueError, TypeError: as for :meth:`add_job`;
                the job is left unchanged.
        """
        new_trigger = None if trigger is _UNSET else self._check_trigger(trigger)
        with self._lock:
            old = state = self._state(name)
            # A new definition is validated whole before it replaces the old
            # one, so a bad argument changes nothing.
            definition = self._define(
                name,
                old.service if service is _UNSET else service,
                old.trigger,
                old.extra if extra is _UNSET else extra,
                misfire=old.misfire if misfire is _UNSET else misfire,
                grace=old.grace if grace is _UNSET else grace,
                overlap=old.overlap if overlap is _UNSET else overlap,
                jitter=old.jitter if jitter is _UNSET else jitter,
                timeout=old.timeout if timeout is _UNSET else timeout,
                retry=old.retry if retry is _UNSET else retry,
                active=state.active,
            )
            now = self.clock.now_us()
            first: int | None = None
            if new_trigger is not None:
                new_trigger = self._bind(new_trigger, now)
                first = new_trigger.first_fire(now)
                if (
                    first is not None
                    and state.last_due_us is not None
                    and first <= state.last_due_us
                ):
                    first = new_trigger.next_fire(state.last_due_us)
                if first is None:
                    raise InvalidTrigger(
                        f"trigger {new_trigger!r} of job {name!r} never fires after "
                        f"{us_to_dt(now).isoformat()}"
                    )
                definition.trigger = new_trigger
            definition.runs, definition.last_due_us = state.runs, state.last_due_us
            self.store.validate(definition)
            # The record is changed in place: runs in flight hold it.
            for field in _DEFINITION:
                setattr(state, field, getattr(definition, field))
            if new_trigger is not None and state.active:
                left = self._runs_left(state)
                if left is None or left > 0:
                    state._done = False  # a done job with fires left is active again
                    self._schedule(state, first)
                else:
                    self._unschedule(state)
                    state.next_fire_us = None
            self.store.put_job(state, keep_state=True)
            self._emit("job_updated", name)
            self._maybe_done(state)
            self._cond.notify_all()
            return self._snapshot(state)

    def pause_job(self, name: str) -> Job:
        """Stop a job from firing until resumed (a queued fire is dropped).
        A done job stays done.

        Raises:
            JobNotFound: no job by that name.
        """
        with self._lock:
            state = self._state(name)
            if state.status == "active":
                state.active = False
                self._unschedule(state)
                state.next_fire_us = None
                state._backlog = None
                self._save_state(state)
                self._flush()  # durable when the call returns
                self._emit("job_paused", name)
            return self._snapshot(state)

    def resume_job(self, name: str) -> Job:
        """Let a paused job fire again, from its first fire time after now.

        Times passed while paused are not misfires. A job with no fire time
        left is done.

        Raises:
            JobNotFound: no job by that name.
        """
        with self._lock:
            state = self._state(name)
            if not state.active:
                state.active = True
                nxt = state._fire_after_resume(self.clock.now_us())
                left = self._runs_left(state)
                if nxt is not None and (left is None or left > 0):
                    self._schedule(state, nxt)  # else it stays without one: exhausted
                self._save_state(state)
                self._flush()
                self._emit("job_resumed", name)
                self._maybe_done(state)
                self._cond.notify_all()
            return self._snapshot(state)

    def remove_job(self, name: str) -> None:
        """Remove a job (its history stays). A run in progress finishes.

        Raises:
            JobNotFound: no job by that name.
        """
        with self._lock:
            state = self._state(name)
            self._drop(state)
            del self._jobs[name]
            self.store.remove_job(name)
            self._emit("job_removed", name)

    def execute_now(self, name: str, extra: Any = None) -> str:
        """Run a job at once, even when paused, on the scheduler's executor.

        Neither its next fire time nor its run count changes.

        Args:
            name: the job.
            extra: the extra for this run only (default: the job's).

        Returns:
            The run's cid.

        Raises:
            JobNotFound: no job by that name.
        """
        return self._execute_now(name, extra, new_cid())

    def _execute_now(self, name: str, extra: Any, cid: str) -> str:
        with self._lock:
            state = self._state(name)
            now = self.clock.now_us()
            # A manual run carries the number the next scheduled run will have
            # and does not use it up.
            run = Run(cid, name, state.service, now, manual=True, run_number=state.runs + 1)
            if self._durable:  # written ahead: a crash during it leaves a record
                self.store.run_started(run)
                try:
                    self._flush()
                except Exception:
                    self.store.withdraw([run])  # not started: no record of it
                    raise
            state._busy += 1
            task = _RunTask(self, state, run, state.extra if extra is None else extra)
            self._launch(task)
            return run.cid

    def history(self, name: str | None = None, limit: int = 100) -> list[Run]:
        """Recorded runs of a job (or of every job), newest first.

        A removed or finished job's history is still there.
        """
        return self.store.history(name, limit)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`Event`; returns an unsubscribe function.

        Callbacks run in the scheduler's (or a worker's) thread; one that raises is logged.
        """
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    # ------------------------------------------------------- running: fake clock
    def advance(self, delta: timedelta | None = None, **timedelta_kwargs: Any) -> list[Run]:
        """Step a :class:`FakeClock` through every due instant up to now + delta.

        What is due at each instant runs in order, with no threads (on the
        default inline executor) and no real sleeping.

        Returns:
            Every Run recorded meanwhile, missed and skipped ones included.

        Raises:
            TypeError: the clock is not a FakeClock.
            ValueError: the step is negative.
        """
        clock = self._fake_clock("advance")
        step = step_of(delta, timedelta_kwargs)
        if step < timedelta(0):
            raise ValueError(f"advance() needs a step >= 0, got {step!r}")
        runs: list[Run] = []
        with self._lock:
            target = clock.now_us() + td_to_us(step)
            outer, self._collect = self._collect, runs
            try:
                while True:
                    now = clock.now_us()
                    deadline = self._next_deadline()
                    if deadline is None or deadline > max(target, now):
                        break
                    if deadline > now:
                        clock._move_to(deadline)
                        now = deadline
                    self._run_due(now)
                if clock.now_us() < target:
                    clock._move_to(target)
            finally:
                self._collect = outer
                if outer is not None:
                    outer.extend(runs)
        return runs

    def run_pending(self) -> list[Run]:
        """Run what is due now, on any clock; returns the Runs recorded."""
        runs: list[Run] = []
        with self._lock:
            outer, self._collect = self._collect, runs
            try:
                self._run_due(self.clock.now_us())
            finally:
                self._collect = outer
                if outer is not None:
                    outer.extend(runs)
        return runs

    # ------------------------------------------------------- running: real time
    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Run the schedule in a background thread (idempotent)."""
        with self._lock:
            if self.running:
                return
            self._stopping = False
            self.executor.start()
            self.clock.watch(self._wake)
        if self._shared:
            self._fleet_round(now=True)  # take a share of the jobs before the first fire
        with self._lock:
            if self.running:
                return
            self._thread = threading.Thread(
                target=self._loop, name="tickwork-scheduler", daemon=True
            )
            self._thread.start()
            if self._shared:
                self._fleet_thread = threading.Thread(
                    target=self._fleet_loop, name="tickwork-fleet", daemon=True
                )
                self._fleet_thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the loop; with ``wait``, let running jobs finish (up to
        ``shutdown_timeout`` seconds)."""
        self._stopping = True  # seen by a loop that is behind, between two passes
        with self._lock:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        fleet = self._fleet_thread
        if fleet is not None and fleet is not threading.current_thread():
            fleet.join()
        self._thread = self._fleet_thread = None
        self.clock.unwatch(self._wake)
        if self._held:
            self._settle_held()
        self.executor.shutdown(wait=wait, timeout=self.shutdown_timeout)
        try:
            self.store.flush()  # the runs that just finished
            if self._shared and self._owned is not None:
                self.store.fleet_leave()  # the others take its jobs at once
                self._owned = self._owned_seen = None
        except Exception:
            log.exception("the store could not save the last runs at shutdown")

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True)

    def run_forever(self) -> None:
        """Run in the calling thread until SIGINT or SIGTERM (or :meth:`shutdown`).

        On a signal, no new runs start and running ones may finish for up to
        ``shutdown_timeout`` seconds.
        """
        previous: dict[signal.Signals, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s: shutting down", signal.Signals(signum).name)
            self._stopping = True
            with self._lock:
                self._cond.notify_all()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            self.start()
            thread = self._thread
            while thread is not None and thread.is_alive():
                thread.join(0.25)  # short joins keep the main thread responsive to signals
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.shutdown(wait=True)

    async def serve(self) -> None:
        """Run under asyncio until cancelled (or :meth:`shutdown`).

        An :class:`AsyncioExecutor` runs its async services on this loop.
        """
        from .executors import AsyncioExecutor

        loop = asyncio.get_running_loop()
        if isinstance(self.executor, AsyncioExecutor):
            self.executor.bind(loop)
        self.start()
        thread = self._thread
        try:
            if thread is not None:
                await loop.run_in_executor(None, thread.join)
        finally:
            with self._lock:
                self._stopping = True
                self._cond.notify_all()
            if thread is not None:
                await loop.run_in_executor(None, thread.join)
            if isinstance(self.executor, AsyncioExecutor):
                await self.executor.drain(self.shutdown_timeout)
            self.shutdown(wait=True)
            await close_loop_resources()

    # ------------------------------------------------------------ the loop
    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                try:
                    self._run_due(self.clock.now_us())
                except Exception:  # pragma: no cover - _run_due guards each job already
                    log.exception("scheduler loop error")
                if self._stopping:
                    break
                # Fires queued while this pass ran wait for runs that may have
                # finished meanwhile: release those before sleeping.
                self._drain_done(self.clock.now_us())
                wake_at = self._wake_at()
                if wake_at is not None and wake_at <= self.clock.now_us():
                    # Behind: no sleep to let go of the lock in, so let the
                    # API's callers (and shutdown) in between two passes.
                    self._cond.release()
                    time.sleep(0)
                    self._cond.acquire()
                    continue
                self.clock.wait(self._cond, wake_at)

    def _wake_at(self) -> int | None:
        """When the loop should wake: the next deadline, or the end of the
        batch window when two or more due instants fall inside it (see batch_window)."""
        deadline = self._next_deadline()
        if deadline is not None and self._batch_us:
            now = self.clock.now_us()
            end = now + self._batch_us
            # Only worth it when another instant is due inside the window too
            # (the heap's second-smallest is one of the root's two children).
            if now < deadline < end and len(self._due) > 1 and min(self._due[1:3]) < end:
                return end
        return deadline

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _next_deadline(self) -> int | None:
        if self._held:
            due: int | None = self._retry_at  # no fire before the store answers
        else:
            due = self._due[0] if self._due else None
        if self._timers:
            timer = self._timers[0][0]
            if due is None or timer < due:
                return timer
        return due

    def _drain_done(self, now: int) -> None:
        """Release the jobs whose runs workers finished (see ``_finish``)."""
        done = self._done
        while not done.empty():
            self._release(done.get(), now)

    def _run_due(self, now: int) -> None:
        if not self._inbox.empty():
            self._drain_inbox()
        if not self._durable:
            self._run_due_pass(now)
            return
        if self._held and (now < self._retry_at or not self._start_deferred([])):
            self._run_due_pass(now)  # the store is out of reach: timers only, no fires
            return
        # A durable store: the pass saves state and writes runs ahead; they
        # are flushed together (every _WRITE_AHEAD_BATCH fires in a long pass)
        # before those runs start.
        self._deferred = []
        try:
            self._run_due_pass(now)
        finally:
            deferred, self._deferred = self._deferred, None
            if deferred:
                self._start_deferred(deferred)

    def _start_deferred(self, deferred: list[_Pending]) -> bool:
        """Flush, then start the runs written ahead (``deferred``, and any
        held since a failed flush) whose claims held. If the store cannot be
        written, hold them instead, and return False."""
        try:
            refused = self._flush_unlocked()
        except Exception as exc:
            self._hold(deferred, exc)
            return False
        self._flushed(refused, deferred)
        return True

    def _flush_unlocked(self) -> set[str]:
        """The loop's flush, with the scheduler's lock let go while the store
        works: a store that waits (a SQLite file another process has locked,
        a slow network) must not block the API's reads and the workers that
        finish runs. Claims another caller's flush sees refused meanwhile are
        added to this one's, so no run of a refused claim starts."""
        if threading.current_thread() is not self._thread:
            return self._flush_store()  # a fake clock's advance, or an API call
        self._refusals = set()
        lock: Any = self._lock
        saved = lock._release_save()  # the whole hold, however deep (as Condition.wait)
        try:
            refused = self._flush_store()
        finally:
            lock._acquire_restore(saved)
            seen, self._refusals = self._refusals, None
        return refused | seen

    def _flush(self) -> None:
        """Flush for an API call: raise if the store cannot be written."""
        self._flushed(self._flush_store(), [])

    def _flush_store(self) -> set[str]:
        """The store's flush; if the store finds it was wiped or replaced,
        write back the jobs this scheduler holds first, then flush again."""
        try:
            return self.store.flush()
        except StoreReset as exc:
            self._write_back(exc)
            return self.store.flush()

    def _write_back(self, error: StoreReset) -> None:
        """The store lost its data (Redis restarted empty, the SQLite file
        deleted or replaced): write back the jobs this scheduler runs, with
        their state, so that they go on firing instead of being dropped as
        removed. In a fleet each scheduler writes back the jobs of the shards
        it holds (another's state for the rest may be behind)."""
        with self._lock:
            owned = self._owned
            jobs = [
                state
                for state in self._jobs.values()
                if owned is None or shard_of(state.name) in owned
            ]
            log.error(
                "%r lost its data (%s); writing back the %d job(s) this scheduler runs",
                self.store,
                error,
                len(jobs),
            )
            for state in jobs:
                self.store.put_job(state)
                if state._backlog:  # the queued fire is the stored next fire
                    self._save_state(state)

    def _flushed(self, refused: set[str], deferred: list[_Pending]) -> None:
        """A flush succeeded: start ``deferred`` and the runs held until now
        (their claims were written with it), except those refused."""
        if self._refusals is not None and refused:
            self._refusals |= refused  # the loop's flush, unlocked, must see them too
        if self._held:
            log.warning(
                "the store can be written again; %d run(s) held since %d failed "
                "write(s) start now, late",
                len(self._held),
                self._store_failures,
            )
            deferred = [*self._held, *deferred]
            self._held = []
        self._store_failures = 0
        for state, run, at, task in deferred:
            if state.name not in refused:
                if task is None:
                    self._start_run(state, run, at)
                else:
                    self._launch(task)
            elif task is not None:
                state._busy -= 1  # a retry the store refused: the job is free
        if refused:
            try:
                self._taken_elsewhere(refused)
            except Exception:  # read again when the store next changes them
                log.exception("jobs taken by another scheduler could not be read")

    def _hold(self, runs: list[_Pending], error: Exception) -> None:
        """The store could not be written: keep ``runs`` (their claims stay in
        the store's buffer) and fire nothing until a retry succeeds."""
        self._held.extend(runs)
        self._store_failures += 1
        failures = self._store_failures
        delay = min(_STORE_RETRY_MAX_US, _STORE_RETRY_US << min(failures - 1, 8))
        self._retry_at = self.clock.now_us() + delay
        if failures == 1 or failures % 50 == 0:
            log.error(
                "the store could not be written (%s); %d run(s) wait for it and no "
                "job fires until it can (%d failed write(s), retrying every %.2f s)",
                error,
                len(self._held),
                failures,
                delay / 1e6,
            )
        self._cond.notify_all()

    def _settle_held(self) -> None:
        """At shutdown, with runs held: start them if the store can be
        written now, else take their records and claims back from its buffer,
        so that their fires stay due (the next scheduler runs them as
        misfires) instead of being recorded as done."""
        with self._lock:
            if self._start_deferred([]):
                return
            held, self._held = self._held, []
            written = self.store.withdraw([run for _, run, _, _ in held])
            log.error(
                "shutting down with the store out of reach: %d fire(s) did not start; "
                "they stay due in the store",
                len(held) - len(written),
            )
            for state, run, at, task in held:
                if run.cid not in written:
                    if task is not None:
                        state._busy -= 1
                elif task is None:  # written by the store meanwhile: due to start
                    self._start_run(state, run, at)
                else:
                    self._launch(task)

    def _run_due_pass(self, now: int) -> None:
        if not self._done.empty():
            self._drain_done(now)
        timers = self._timers
        while True:
            progressed = False
            due_heap = self._due
            while due_heap and due_heap[0] <= now and not self._held:
                due = heappop(due_heap)
                progressed = True
                bucket = self._buckets.pop(due)
                if isinstance(bucket, list):
                    for i, state in enumerate(bucket):
                        self._fire_entry(state, due, now)
                        deferred = self._deferred
                        if deferred is not None and len(deferred) >= _WRITE_AHEAD_BATCH:
                            self._deferred = []  # a long pass: start these now
                            if not self._start_deferred(deferred):
                                self._requeue(due, bucket[i + 1 :])  # they fire later
                                break
                else:
                    self._fire_entry(bucket, due, now)
            while timers and timers[0][0] <= now:
                _, _, action, arg = heappop(timers)
                progressed = True
                try:
                    action(arg)
                except Exception:
                    log.exception("scheduler timer failed")
            if not progressed:
                return
            if self._stale > 1024 and self._stale > len(self._jobs):
                self._compact()

    def _requeue(self, due: int, entries: list[Job]) -> None:
        """Queue again the bucket entries a pass did not get to; drop the
        stale ones, as the pass would have."""
        for state in entries:
            if state._queued_at == due:
                state._queued_at = None  # popped with its bucket
                self._schedule(state, due)
            else:
                self._stale -= 1

    def _fire_entry(self, state: Job, due: int, now: int) -> None:
        if state._queued_at != due:
            self._stale -= 1  # paused, removed or rescheduled since it was queued
            return
        state._queued_at = None
        try:
            self._fire(state, due, now)
        except Exception:
            log.exception("job %r could not be fired; it is paused", state.name)
            state.active = False
            state.next_fire_us = None

    def _compact(self) -> None:
        """Drop stale bucket entries (left by removed or rescheduled jobs)."""
        buckets: dict[int, Job | list[Job]] = {}
        for bucket_due, bucket in self._buckets.items():
            members = bucket if isinstance(bucket, list) else [bucket]
            live = [state for state in members if state._queued_at == bucket_due]
            if live:
                buckets[bucket_due] = live if len(live) > 1 else live[0]
        self._buckets = buckets
        self._due = list(buckets)
        heapify(self._due)
        self._stale = 0

    # ------------------------------------------------------------- firing
    def _fire(self, state: Job, due: int, now: int) -> None:
        trigger = state.trigger
        nxt = trigger.next_fire(due)
        if nxt is not None and nxt <= now:
            dues = [due]
            while nxt is not None and nxt <= now:
                if len(dues) >= _MAX_CATCH_UP:
                    dues[-1] = nxt
                else:
                    dues.append(nxt)
                nxt = trigger.next_fire(nxt)
        elif state._busy == 0 and (state.grace_us is None or now - due <= state.grace_us):
            # The common case: one due time, on time, nothing running.
            self._fire_one(state, due, nxt, now)
            return
        else:
            dues = [due]
        plan = self._plan(state, dues, now)
        starts = sum(1 for kind, _ in plan if kind in ("start", "queue"))
        claimed_from = state.last_due_us
        # The claim takes the due times handled now (started or recorded) up
        # to the first one that waits in the backlog: a queued fire is not
        # taken until it starts (see _release), so the store keeps it due and
        # a crash cannot lose it (the stored next fire is the backlog's head).
        if not state._backlog:
            for kind, when in plan:
                if kind == "queue":
                    break
                state.last_due_us = when
            else:
                state.last_due_us = dues[-1]
        left = self._runs_left(state)
        if left is not None and left <= starts:
            nxt = None
        self._set_next(state, nxt)
        # Inline runs finish inside this loop; the job may only be finished
        # (removed) once every planned start has happened.
        outer, self._firing = self._firing, state
        # Fires that do not run are recorded as spans: consecutive due times
        # of one outcome make one record (a day down costs one record per
        # job, not one per due time). With a durable store they follow the
        # claim, so that a refused claim takes them with it.
        spans: list[_Span] = []
        extend = False
        try:
            for kind, when in plan:
                if state._removed:
                    break
                if kind == "start":
                    if spans and not self._durable:
                        self._record_spans(state, spans, now)
                        spans = []
                    extend = False
                    state.runs += 1
                    self._start(state, when, now)
                elif kind == "queue":
                    extend = False
                    if state._backlog is None:
                        state._backlog = deque()
                    state._backlog.append(when)
                elif extend and spans[-1].outcome == kind:
                    spans[-1].last = when
                    spans[-1].count += 1
                else:
                    spans.append(_Span(kind, when))
                    extend = True
        finally:
            self._firing = outer
        self._save_state(state, claimed_from)
        if spans:
            self._record_spans(state, spans, now)
        self._maybe_done(state)

    def _fire_one(self, state: Job, due: int, nxt: int | None, now: int) -> None:
        claimed_from = state.last_due_us
        state.last_due_us = due
        state.runs += 1
        left = self._runs_left(state)
        if left is not None and left <= 0:
            nxt = None
        self._set_next(state, nxt)
        self._save_state(state, claimed_from)
        self._start(state, due, now)
        if nxt is None:  # exhausted: the job is done once nothing waits
            self._maybe_done(state)

    def _plan(self, state: Job, dues: list[int], now: int) -> list[tuple[str, int]]:
        """Decide, per due time, whether it starts, queues, is skipped or missed."""
        grace = state.grace_us
        missed_any = grace is not None and now - dues[0] > grace
        candidates: list[tuple[str, int]]
        if state.misfire == "coalesce":
            candidates = [("start", dues[-1])] if missed_any else [("start", d) for d in dues]
        elif state.misfire == "skip":
            candidates = [
                ("missed" if grace is not None and now - d > grace else "start", d) for d in dues
            ]
        else:
            candidates = [("start", d) for d in dues]
        left = self._runs_left(state)
        busy = state._busy > 0
        queued = len(state._backlog or ())
        plan: list[tuple[str, int]] = []
        for kind, when in candidates:
            if kind != "start":
                plan.append((kind, when))
                continue
            if left is not None and left <= 0:
                break
            if busy and state.overlap != "allow":
                if state.misfire == "all" and (len(dues) > 1 or queued):
                    # Catch-up runs go one after another, and a fire due while
                    # a catch-up still waits joins it: it cannot start before
                    # the backlog drains, so it is a misfire too.
                    plan.append(("queue", when))
                elif state.overlap == "queue" and queued == 0:
                    plan.append(("queue", when))
                    queued += 1
                else:
                    plan.append(("skipped", when))
                    continue
            else:
                plan.append(("start", when))
                busy = busy or not self.executor.inline or bool(state.jitter_us)
            if left is not None:
                left -= 1
        return plan

    def _set_next(self, state: Job, nxt: int | None) -> None:
        if nxt is None:
            state.next_fire_us = None  # exhausted
        elif state.active and not state._removed:
            self._schedule(state, nxt)

    def _start(self, state: Job, due: int, now: int) -> None:
        """Start one scheduled run (its run number is ``state.runs``), whose
        claim the caller has just handed to the store (see _save_state)."""
        run = Run(new_cid(), state.name, state.service, due, run_number=state.runs)
        if self._durable:
            self._write_ahead((state, run, now, None))
            return
        self._start_run(state, run, now)

    def _write_ahead(self, pending: _Pending) -> None:
        """The chokepoint of every start on a durable store: the run is
        written ahead, with the claim that precedes it, and starts only once
        that write is flushed and the claim held (see _flushed)."""
        self.store.run_started(pending[1])
        if self._deferred is not None:
            self._deferred.append(pending)
        else:
            self._start_deferred([pending])

    def _start_run(self, state: Job, run: Run, now: int) -> None:
        if self.executor.inline and not (state.jitter_us or state.timeout_us or state.retry):
            cls = self.app._services.get(state.service)
            if cls is not None and not cls.is_async():
                self._run_inline(state, run, cls)
                return
        state._busy += 1
        task = _RunTask(self, state, run, state.extra)
        if state.jitter_us:
            at = max(now, run.scheduled_us + random.randrange(state.jitter_us))
            task.not_before = at
            self._push_timer(at, self._launch, task)
        else:
            self._launch(task)

    def _run_inline(self, state: Job, run: Run, cls: type[Service]) -> None:
        """The fast path for the common case: a sync service on the inline
        executor, with no jitter, timeout or retry. It behaves exactly as the
        general path (``_launch`` -> ``_RunTask.run`` -> ``_finish``) would,
        with a fraction of the calls: this is what a fire costs in tests and
        simulations."""
        if self._collect is not None:
            self._collect.append(run)
        if self._listeners:
            self._emit("run_started", run.job, run)
        state._busy += 1
        clock = self.clock
        run.started_us = clock.now_us()
        info = JobInfo(run.job, run.scheduled_us, run.run_number)
        try:
            run_service_sync(
                cls(self.app, Request(state.extra, cid=run.cid, channel="scheduler", job=info))
            )
        except Exception as exc:
            run.finished_us = clock.now_us()
            run.outcome = "error"
            self._note_error(run, exc)
        else:
            run.finished_us = clock.now_us()
            run.outcome = "ok"
        self._record_run(run, "run_finished")
        self._release(state, run.finished_us)

    def _launch(self, task: _RunTask) -> None:
        run = task.record
        if self._collect is not None:
            self._collect.append(run)
        if self._listeners:
            self._emit("run_started", run.job, run)
        try:
            self.executor.submit(task)
        except Exception as exc:
            log.error("run %s of job %r could not be submitted: %s", run.cid, run.job, exc)
            self._finish(task, "error", exc)

    def _begin(self, task: _RunTask) -> bool:
        """Called by the task as it starts: stamp it, judge lateness, arm its timeout.

        The common case takes no lock, so workers starting runs never wait for
        a loop that is handing out a burst of fires.
        """
        run = task.record
        job = task.state
        now = self.clock.now_us()
        if self.executor.inline:
            run.started_us = now  # an inline run can't be stopped: judged when it ends
            return True
        grace = job.grace_us
        late = (
            job.misfire == "skip"
            and grace is not None
            and not run.manual
            and run.attempt == 1
            and now - task.not_before > grace
        )
        if not late and not job.timeout_us:
            run.started_us = now
            return True
        with self._lock:
            # Stamped under the lock, so a run seen as started has its timeout armed.
            now = self.clock.now_us()
            run.started_us = now
            if late:
                # The executor was saturated: the fire could not start within grace.
                task.finished = True
                run.started_us = None
                run.outcome = "missed"
                run.finished_us = now
                run.error = "could not start within grace (executor busy or store unreachable)"
                self._record_run(run, "run_missed")
                self._release(task.state, now)
                return False
            self._push_timer(now + job.timeout_us, self._on_timeout, task)  # type: ignore[operator]
        return True

    def _finish(self, task: _RunTask, outcome: str, error: BaseException | None) -> None:
        state = task.state
        if not (state.timeout_us or state.retry or state._backlog or self.executor.inline):
            # No timer can race this run, no retry follows and no fire waits
            # for its end: record it here, without the scheduler lock, and hand
            # the job back to the loop through a queue (see _drain_done).
            run = task.record
            task.finished = True
            run.finished_us = self.clock.now_us()
            if error is not None:
                self._note_error(run, error)
            run.outcome = outcome  # type: ignore[assignment]
            self._record_run(run, "run_finished")
            self._done.put(state)
            # The loop queues a fire behind a busy job, then drains before it
            # sleeps. Either that drain saw this put, or the fire was queued
            # before it: then it is visible here, and the loop must wake.
            if state._backlog:
                self._wake()
            return
        with self._lock:
            run = task.record
            if task.finished:
                if run.outcome == "timeout":
                    log.warning(
                        "run %s of job %r finished after its timeout (%s); result discarded",
                        run.cid,
                        run.job,
                        "error" if error else "ok",
                    )
                return
            task.finished = True
            now = self.clock.now_us()
            run.finished_us = now
            if run.started_us is None:
                run.started_us = now
            if (
                outcome != "timeout"
                and state.timeout_us
                and now - run.started_us > state.timeout_us
            ):
                outcome = "timeout"
            if error is not None:
                self._note_error(run, error)
            if outcome == "timeout" and run.error is None:
                run.error = f"timed out after {_us_td(state.timeout_us)}"
            run.outcome = outcome  # type: ignore[assignment]
            self._record_run(run, "run_finished")
            self._after_attempt(task, now)

    def _note_error(self, run: Run, error: BaseException) -> None:
        run.error = "".join(traceback.format_exception_only(error)).strip()
        log.error(
            "run %s of job %r (service %r) failed: %s",
            run.cid,
            run.job,
            run.service,
            run.error,
            exc_info=(type(error), error, error.__traceback__),
        )

    def _on_timeout(self, task: _RunTask) -> None:
        run = task.record
        if task.finished:
            return
        task.finished = True
        now = self.clock.now_us()
        run.finished_us = now
        run.outcome = "timeout"
        run.error = f"timed out after {_us_td(task.state.timeout_us)}"
        log.warning("run %s of job %r timed out; abandoned", run.cid, run.job)
        if task.cancel is not None:
            task.cancel()
        else:  # a thread cannot be stopped: its worker may be replaced
            self.executor.abandon(task)
        self._record_run(run, "run_finished")
        self._after_attempt(task, now)

    def _after_attempt(self, task: _RunTask, now: int) -> None:
        run = task.record
        state = task.state
        retry = state.retry
        if (
            run.outcome in ("error", "timeout")
            and retry is not None
            and run.attempt < retry.attempts
        ):
            base = run.cid.rsplit(".", 1)[0] if run.attempt > 1 else run.cid
            again = Run(
                f"{base}.{run.attempt + 1}",
                run.job,
                run.service,
                run.scheduled_us,
                manual=run.manual,
                run_number=run.run_number,
                attempt=run.attempt + 1,
            )
            retry_task = _RunTask(self, state, again, task.extra)
            at = now + retry.delay_us(run.attempt)
            retry_task.not_before = at
            self._push_timer(at, self._retry, retry_task)
            return
        self._release(state, now)

    def _retry(self, task: _RunTask) -> None:
        """Start a retry attempt (a timer's action). On a durable store it
        goes through the same claim as a fire: a scheduler that no longer
        holds the job (its lease lapsed while it was frozen, or the job was
        changed) cannot start it."""
        state = task.state
        now = self.clock.now_us()
        if state._removed or self._stopping:
            self._release(state, now)
            return
        if not self._durable:
            self._launch(task)
            return
        if not task.record.manual:  # a manual run claims no due time
            self._save_state(state, state.last_due_us)
        self._write_ahead((state, task.record, now, task))

    def _release(self, state: Job, now: int) -> None:
        """A run (with its retries) is over: start a queued fire, or finish the job.

        A queued fire starts through the same claim as any other: it takes
        its due time from the store only now. While the scheduler stops, it
        stays queued in the store (its due time is the stored next fire) for
        the next start, instead of being handed to an executor that is
        shutting down.
        """
        state._busy -= 1
        if (
            state._backlog
            and state._busy == 0
            and not state._removed
            and state.active
            and not self._stopping
        ):
            due = state._backlog.popleft()
            claimed_from = state.last_due_us
            state.last_due_us = due
            state.runs += 1
            self._save_state(state, claimed_from)
            self._start(state, due, now)
        if state.next_fire_us is None:  # only an exhausted job can be done
            self._maybe_done(state)

    def _maybe_done(self, state: Job) -> None:
        """Mark an exhausted job done (once): it is kept, with its run count
        and history, until it is removed or replaced."""
        if (
            state.active
            and state.next_fire_us is None  # exhausted: no fire time left
            and not state._backlog
            and not state._removed
            and not state._done
            and state is not self._firing
        ):
            state._done = True
            self._emit("job_done", state.name)

    def _record_spans(self, state: Job, spans: list[_Span], now: int) -> None:
        for span in spans:
            self._record_unrun(state, span.first, now, span.outcome, span.last, span.count)

    def _record_unrun(
        self,
        state: Job,
        due: int,
        now: int,
        outcome: str,
        last: int | None = None,
        count: int = 1,
    ) -> None:
        """Record a fire that did not run; with ``count`` > 1, one record for
        that many consecutive due times from ``due`` to ``last``, which its
        error text names."""
        run = Run(
            new_cid(),
            state.name,
            state.service,
            due,
            finished_us=now,
            run_number=state.runs,
        )
        run.outcome = outcome  # type: ignore[assignment]
        if count > 1 and last is not None:
            run.error = (
                f"{outcome} {count} due times, {us_to_dt(due).isoformat()} to "
                f"{us_to_dt(last).isoformat()}"
            )
        if self._collect is not None:
            self._collect.append(run)
        self._record_run(run, "run_skipped" if outcome == "skipped" else "run_missed", unrun=True)

    def _record_run(self, run: Run, event: str, unrun: bool = False) -> None:
        if unrun:
            self.store.add_unrun(run)  # kept only if the fire's claim holds
        else:
            self.store.add_run(run)
        if self._listeners:
            self._emit(event, run.job, run)

    # ------------------------------------------------------------- helpers
    def _schedule(self, state: Job, when: int | None) -> None:
        state.next_fire_us = when
        owned = self._owned
        if owned is not None and shard_of(state.name) not in owned:
            when = None  # another scheduler of the fleet runs it
        if state._queued_at == when:
            return  # already in that bucket (or unscheduled and staying so)
        if state._queued_at is not None:
            self._stale += 1
        state._queued_at = when
        if when is None:
            return
        bucket = self._buckets.get(when)
        if bucket is None:
            self._buckets[when] = state
            heappush(self._due, when)
        elif isinstance(bucket, list):
            bucket.append(state)
        else:
            self._buckets[when] = [bucket, state]

    def _unschedule(self, state: Job) -> None:
        if state._queued_at is not None:
            self._stale += 1
            state._queued_at = None

    def _drop(self, state: Job) -> None:
        self._unschedule(state)
        state._removed = True
        state._backlog = None

    def _push_timer(self, at: int, action: Callable[[Any], None], arg: Any) -> None:
        heappush(self._timers, (at, next(self._seq), action, arg))
        self._cond.notify_all()

    def _runs_left(self, state: Job) -> int | None:
        """Scheduled runs the job may still start (queued fires included), or
        None without ``repeats``."""
        repeats = state.trigger.repeats
        if repeats is None:
            return None
        return repeats - state.runs - len(state._backlog or ())

    def _save_state(self, state: Job, claimed_from: Any = NO_CLAIM) -> None:
        """Hand the job's state to the store; a fire passes the last due time
        the job had before it (``claimed_from``), which makes the change a claim."""
        backlog = state._backlog
        self.store.update_state(
            state,
            # A fire waiting in the backlog is still due: the store keeps it
            # as the next fire until it starts, so a restart finds it.
            next_fire_us=backlog[0] if backlog else state.next_fire_us,
            runs=state.runs,
            last_due_us=state.last_due_us,
            active=state.active,
            expected_last_due=claimed_from,
        )

    def _taken_elsewhere(self, names: set[str]) -> None:
        """The store refused these jobs' claims: another scheduler changed or
        took them. Take them up again as the store has them."""
        if not names:
            return
        for name in names:
            log.info("job %r was changed or taken by another scheduler", name)
        self._refresh(sorted(names), authoritative=True)

    # ------------------------------------------------------------- fleets
    def _refresh(
        self, names: list[str], fresh: list[Job] | None = None, *, authoritative: bool = False
    ) -> None:
        """Take up ``names`` as the store has them (``fresh``: already read;
        ``authoritative``: after a refused claim, see :meth:`_adopt`)."""
        if fresh is None:
            fresh = self.store.load_jobs(names)
        found = {job.name: job for job in fresh}
        for name in names:
            job = found.get(name)
            if job is not None:
                self._adopt(job, authoritative=authoritative)
                continue
            state = self._jobs.pop(name, None)
            if state is not None:
                self._drop(state)
                self._emit("job_removed", name)

    def _adopt(self, fresh: Job, *, authoritative: bool = False) -> None:
        """Make the store's record of a job the one this scheduler holds.

        ``authoritative``: the store refused this scheduler's claim on the
        job, so every plan it had for the job (the due times it took, the
        fires queued behind a run) is void: the store's state replaces it.
        Otherwise (a change another process made) a state behind what this
        scheduler already claimed is not taken (the feed can bring an old
        write), and the queued fires stay while the due time they follow is
        still the store's.
        """
        state = self._jobs.get(fresh.name)
        if state is None:
            state = fresh
            state._queued_at = None
            state._busy = 0
            state._backlog = None
            state._removed = False
            self._jobs[fresh.name] = state
        else:
            for field in _DEFINITION:
                setattr(state, field, getattr(fresh, field))
            mine = self._owned is None or shard_of(state.name) in self._owned
            behind = state.last_due_us is not None and (
                fresh.last_due_us is None or fresh.last_due_us < state.last_due_us
            )
            if authoritative or fresh.last_due_us != state.last_due_us:
                state._backlog = None
            # With fires still queued, the store holds what this scheduler
            # claimed: its plan stands.
            if not state._backlog and (authoritative or not (mine and behind)):
                state.runs = fresh.runs
                state.last_due_us = fresh.last_due_us
                state.next_fire_us = fresh.next_fire_us
            state.active = fresh.active
        state._done = state.status == "done"
        self._unschedule(state)
        if not state.active:
            state._backlog = None
            state.next_fire_us = None
        elif state.next_fire_us is not None:
            self._schedule(state, state.next_fire_us)
        self._cond.notify_all()

    def _fleet_round(self, now: bool = False) -> int:
        """Heartbeat and leases; then drop the jobs of shards given up and take
        up those of shards taken, as the store has them. Returns how many
        schedulers are alive.

        The fleet thread never waits for the scheduler's lock (a loop that is
        behind holds it for a whole pass, and a late heartbeat loses the
        leases): it hands the change to the loop, which makes it between two
        passes. ``now`` makes it at once (at start, before the loop runs).
        """
        owned, live = self.store.fleet_round(self._lease_ttl)
        before = self._owned_seen
        if owned == before:
            return live
        self._owned_seen = owned
        gained = owned if before is None else owned - before
        fresh = [job for job in self.store.load_jobs() if shard_of(job.name) in gained]

        def apply() -> None:
            self._owned = owned
            for state in list(self._jobs.values()):
                if shard_of(state.name) not in owned:
                    self._unschedule(state)
                    state._backlog = None
            self._refresh([job.name for job in fresh], fresh)
            log.info(
                "fleet: this scheduler (%s) holds %d of %d shards",
                self.store.instance,
                len(owned),
                SHARDS,
            )

        if now:
            with self._lock:
                apply()
        else:
            self._post(apply)
        return live

    def _post(self, work: Callable[[], None]) -> None:
        """Hand ``work`` to the loop, to run under the lock between two passes."""
        self._inbox.put(work)
        if self._lock.acquire(timeout=0.01):  # an idle loop sleeps: wake it
            try:
                self._cond.notify_all()
            finally:
                self._lock.release()

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        while not inbox.empty():
            try:
                inbox.get()()
            except Exception:
                log.exception("fleet: a change could not be applied")

    def _fleet_loop(self) -> None:
        """Keep this scheduler's leases, and follow the jobs the others change."""
        store = self.store
        every = self._lease_ttl / 3
        next_round = time.monotonic() + _QUICK_ROUND
        # After the fleet changes (a scheduler joined or left), rounds come
        # quickly for two round periods: a scheduler that must give shards up
        # sees the change at its next round, up to a period later, and the
        # others take those shards within a quarter of a second, not at their
        # own next round.
        live_seen = 0  # so the first round starts them
        quick_until = 0.0
        next_resync = time.monotonic() + 60.0
        cursor: Any = None
        while not self._stopping:
            try:
                if cursor is None:
                    cursor, _ = store.changes(None, 0)
                now = time.monotonic()
                if now >= next_round:
                    live = self._fleet_round()
                    if live != live_seen:
                        live_seen = live
                        quick_until = now + 2 * every
                    next_round = now + (_QUICK_ROUND if now < quick_until else every)
                if now >= next_resync:  # a safety net under the change feed
                    names: list[str] | None = None
                    next_resync = now + 60.0
                else:
                    wait = max(0.0, min(0.25, next_round - time.monotonic()))
                    cursor, names = store.changes(cursor, wait)
                if names is None:
                    everything = store.load_jobs()

                    def resync(fresh: list[Job] = everything) -> None:
                        stored = {job.name for job in fresh}
                        gone = [name for name in self._jobs if name not in stored]
                        self._refresh([*stored, *gone], fresh)

                    self._post(resync)
                elif names:
                    changed = store.load_jobs(names)

                    def follow(which: list[str] = names, fresh: list[Job] = changed) -> None:
                        self._refresh(which, fresh)

                    self._post(follow)
                owned = self._owned_seen
                if owned:
                    for request in store.take_requests(owned, self.clock.now_us()):
                        self._post(partial(self._run_request, request))
            except StoreReset as exc:  # the loop writes the jobs back, then rounds resume
                self._post(partial(self._write_back_and_flush, exc))
            except Exception:
                log.exception("fleet: the store could not be reached; retrying")
                time.sleep(1.0)

    def _write_back_and_flush(self, error: StoreReset) -> None:
        try:
            self._write_back(error)
            self._flush()
        except Exception:
            log.exception("the jobs could not be written back to %r; retrying", self.store)

    def _run_request(self, request: RunRequest) -> None:
        """Run a job now for a request taken from the store (``tickwork execute``)."""
        try:
            self._execute_now(
                request.job, request.extra if request.has_extra else None, request.cid
            )
        except JobNotFound:
            log.warning("a request to run job %r now: no such job here", request.job)
        else:
            log.info(
                "job %r runs now, as requested through the store (cid %s)", request.job, request.cid
            )

    def _state(self, name: str) -> Job:
        try:
            return self._jobs[name]
        except KeyError:
            raise JobNotFound(name) from None

    def _check_trigger(self, trigger: Trigger) -> Trigger:
        if not isinstance(trigger, Trigger):
            raise TypeError(
                f"trigger must be a tickwork trigger (OneTime, Interval, Cron), got {trigger!r}"
            )
        return trigger

    def _bind(self, trigger: Trigger, now: int) -> Trigger:
        return trigger.for_job(now, self.tz)

    def _define(
        self,
        name: str,
        service: str,
        trigger: Trigger,
        extra: Any,
        *,
        misfire: str,
        grace: timedelta | None,
        overlap: str,
        jitter: timedelta | None,
        timeout: timedelta | None,
        retry: Retry | None,
        active: bool,
    ) -> Job:
        """A job definition from checked arguments.

        Raises:
            ServiceNotFound, ValueError, TypeError: an argument is bad (named).
        """
        self._check(service, misfire, overlap, retry)
        return Job(
            name,
            service,
            trigger,
            extra,
            active=active,
            misfire=misfire,
            grace_us=_duration_us(grace, "grace", allow_zero=True),
            overlap=overlap,
            jitter_us=_duration_us(jitter, "jitter"),
            timeout_us=_duration_us(timeout, "timeout"),
            retry=retry,
        )

    def _check(self, service: str, misfire: str, overlap: str, retry: Retry | None) -> None:
        if not isinstance(service, str) or service not in self.app:
            raise ServiceNotFound(service)
        if misfire not in MISFIRE_POLICIES:
            raise ValueError(
                f"unknown misfire policy {misfire!r}; use one of {', '.join(MISFIRE_POLICIES)}"
            )
        if overlap not in OVERLAP_POLICIES:
            raise ValueError(
                f"unknown overlap policy {overlap!r}; use one of {', '.join(OVERLAP_POLICIES)}"
            )
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(f"retry must be a tickwork Retry or None, got {retry!r}")

    def _fake_clock(self, what: str) -> FakeClock:
        if not isinstance(self.clock, FakeClock):
            raise TypeError(f"{what}() needs a scheduler on a FakeClock, not {self.clock!r}")
        return self.clock

    def _emit(self, kind: str, job: str, run: Run | None = None) -> None:
        if not self._listeners:
            return
        event = Event(kind, job, us_to_dt(self.clock.now_us()), run)
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:
                log.exception("event listener %r failed on %s", callback, kind)

    def _snapshot(self, job: Job) -> Job:
        snapshot = Job(
            job.name,
            job.service,
            job.trigger,
            job.extra,
            active=job.active,
            next_fire_us=job.next_fire_us,
            runs=job.runs,
            misfire=job.misfire,
            grace_us=job.grace_us,
            overlap=job.overlap,
            jitter_us=job.jitter_us,
            timeout_us=job.timeout_us,
            retry=job.retry,
            last_due_us=job.last_due_us,
        )
        if job._backlog:
            snapshot._backlog = deque(job._backlog)
        snapshot._done = job._done
        return snapshot

    def _load(self) -> None:
        """Take up the jobs already in the store."""
        for job in self.store.load_jobs():
            try:
                self._check(job.service, job.misfire, job.overlap, job.retry)
                for what in ("grace_us", "jitter_us", "timeout_us"):
                    value = getattr(job, what)
                    if value is not None and value < 0:
                        raise ValueError(f"{what[:-3]} is negative: {value} us")
            except Exception as exc:
                log.error("job %r in the store cannot be taken up: %s", job.name, exc)
                continue
            state = job
            # A MemoryStore hands back the live record of the scheduler that
            # stopped: a fire still queued there is due first.
            backlog = state._backlog
            if backlog:
                state.next_fire_us = backlog[0]
            # Fresh runtime fields: a record may come from a scheduler that stopped.
            state._queued_at = None
            state._busy = 0
            state._backlog = None
            state._removed = False
            state._done = state.status == "done"
            if state.active and job.next_fire_us is not None:
                self._schedule(state, job.next_fire_us)
            self._jobs[job.name] = state

    def __repr__(self) -> str:
        return (
            f"Scheduler(jobs={len(self._jobs)}, clock={self.clock!r}, executor={self.executor!r}, "
            f"running={self.running})"
        )


_DURATIONS: dict[timedelta, int] = {}


def _duration_us(value: timedelta | None, what: str, *, allow_zero: bool = False) -> int | None:
    if value is None:
        return None
    known = _DURATIONS.get(value) if isinstance(value, timedelta) else None
    if known is not None:
        return known  # validated before (only durations > 0 are kept)
    if not isinstance(value, timedelta):
        raise TypeError(f"{what} must be a timedelta or None, got {value!r}")
    us = td_to_us(value)
    if us < 0 or (us == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>=' if allow_zero else '>'} 0, got {value!r}")
    # Jobs mostly share a few durations (the default grace above all): one int
    # object each, not one per job.
    if us > 0 and len(_DURATIONS) < 1024:
        us = _DURATIONS.setdefault(value, us)
    return us


def _us_td(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=value)
