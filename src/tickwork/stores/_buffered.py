"""The write buffer that the durable stores share.

State changes and the records of runs about to start are buffered until the
scheduler flushes them (once per pass over due fires, before any of those
runs starts); finished runs are flushed by a background thread within
``flush_interval``. A subclass writes a whole batch at once, atomically, in
:meth:`BufferedStore._write_batch`.

A state change made by a fire is a *claim*: it carries the last due time the
scheduler believed the job had, and the store applies it only if the stored
one still matches (and, in a fleet, only if this scheduler holds the job).
A refused claim means another scheduler took the job: the runs written ahead
for it are dropped with it, and :meth:`flush` names the job.

A batch that cannot be written because the store is out of reach (a
:class:`StoreError` from the subclass) stays pending, whole, for the next
flush. One that fails for any other reason holds a record that cannot be
stored (text that is not valid Unicode, an integer too large for the store):
it is written again record by record, and each record that still fails is
logged at ERROR, naming its job and cid, and dropped, so that one bad record
never stops the others. Text a service produced (a run's error) is made
storable before it is written (see :func:`clean_text`), so that this is rare.

A store that finds it was wiped or replaced since it was opened makes itself
usable again (empty) and raises :class:`StoreReset`. The batch that found it
stays pending and is written by the next :meth:`BufferedStore.flush` only:
until then neither the background flusher nor a read writes it, and
:meth:`put_job` does not flush first, so that the caller can write its jobs
back before their claims are judged.
"""

from __future__ import annotations

import json
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .._exceptions import StoreError, StoreReset
from .._model import Job, Run
from .._time import td_to_us
from ._base import NO_CLAIM, Store

__all__ = ["BufferedStore", "StateChange", "clean_text"]

log = logging.getLogger("tickwork.stores")


def clean_text(text: Any) -> Any:
    """``text`` made storable as UTF-8: unchanged unless it holds lone
    surrogates, which no UTF-8 store can take (SQLite and redis-py raise
    UnicodeEncodeError). Those that stand for undecodable bytes (as
    ``os.fsdecode`` and ``surrogateescape`` make them) become the bytes'
    ``\\xNN`` escapes; any other becomes its ``\\uXXXX`` escape. A value that
    is not a str is returned as it is.
    """
    if type(text) is not str or text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:  # undecodable bytes smuggled in as surrogates: show the bytes
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(slots=True)
class StateChange:
    """A job's new state, and the claim it makes (``expected`` is the last due
    time the store must still hold, or NO_CLAIM)."""

    name: str
    next_fire_us: int | None
    runs: int
    last_due_us: int | None
    active: bool
    expected: Any = NO_CLAIM


class BufferedStore(Store):
    """A store that batches its writes (see the module doc)."""

    durable = True

    def __init__(
        self,
        flush_interval: timedelta,
        history_limit: int,
        history_max_age: timedelta | None,
    ) -> None:
        if not isinstance(flush_interval, timedelta) or flush_interval < timedelta(0):
            raise ValueError(f"flush_interval must be a timedelta >= 0, got {flush_interval!r}")
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a whole number, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit!r}")
        if history_max_age is not None and (
            not isinstance(history_max_age, timedelta) or history_max_age <= timedelta(0)
        ):
            raise ValueError(f"history_max_age must be a timedelta > 0, got {history_max_age!r}")
        self.history_limit = history_limit
        self._max_age_us = None if history_max_age is None else td_to_us(history_max_age)
        self._interval = flush_interval.total_seconds()
        self._write_lock = threading.RLock()  # one batch at a time, in order
        self._pending = threading.Condition(threading.Lock())
        self._states: dict[str, StateChange] = {}
        self._started: list[Run] = []
        self._finished: list[Run] = []
        # Runs from add_unrun: written only if their job's claim holds.
        self._fenced: set[str] = set()
        self._flusher: threading.Thread | None = None
        self._closed = False
        # Jobs whose claims were refused, kept until flush() hands them over
        # (a flush made for a read, or by the background thread, keeps them).
        self._refused: set[str] = set()
        # After the store was found wiped or replaced: the StoreReset, until
        # flush() raised it ("found"), then True until a flush() succeeds.
        # Meanwhile only flush() writes the pending batch (see the module doc).
        self._reset: StoreReset | bool = False

    # --------------------------------------------------- what subclasses write
    @abstractmethod
    def _write_batch(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        """Write one batch atomically; return the jobs whose claims were refused
        (their started runs must not be written).

        Raises:
            StoreError: the store cannot be written now (the batch is kept).
            StoreReset: the store was wiped or replaced (see the module doc);
                it is usable again, empty, and the batch is kept.
            Exception: any other error means a record cannot be stored: the
                batch is handed to :meth:`_write_each`.
        """

    def _write_each(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        """Write a batch that :meth:`_write_batch` could not, because of a
        record that cannot be stored: the records that can be, atomically,
        each of the others logged (by :meth:`_dropped`) and left out.

        This default writes nothing and raises: a subclass that does not
        split batches keeps the old behaviour (the batch stays pending)."""
        raise StoreError(f"{self!r}: a record of the batch cannot be stored")

    def _dropped(self, what: StateChange | Run, exc: BaseException) -> None:
        """Log a record that cannot be stored, which is left out of its batch."""
        if isinstance(what, StateChange):
            log.error(
                "%r: the state of job %r cannot be stored, so it is dropped: %s: %s",
                self,
                clean_text(what.name),
                type(exc).__name__,
                clean_text(str(exc)),
            )
        else:
            log.error(
                "%r: run %r of job %r cannot be stored, so it is dropped: %s: %s",
                self,
                clean_text(what.cid),
                clean_text(what.job),
                type(exc).__name__,
                clean_text(str(exc)),
            )

    def _reset_error(self, what: str) -> StoreReset:
        """The StoreReset to raise when the store finds it was wiped or
        replaced (``what`` says how), after making itself usable again."""
        return StoreReset(
            f"{self!r} was wiped or replaced since it was opened ({what}): the jobs it held "
            "are gone; it is empty now, and usable"
        )

    def _raise_unreported_reset(self) -> None:
        """Raise the StoreReset that a read or the background flusher found,
        if no caller was told yet (for :meth:`fleet_round`)."""
        with self._write_lock:
            reset = self._reset
            if isinstance(reset, StoreReset):
                self._reset = True
                raise reset

    # ---------------------------------------------------------------- jobs
    def validate(self, job: Job) -> None:
        if clean_text(job.name) != job.name:
            raise ValueError(
                f"job {job.name!r} cannot be kept in a {type(self).__name__}: its name is "
                "not valid Unicode text (it holds a lone surrogate)"
            )
        self._encode(job)

    def _encode(self, job: Job) -> str:
        """A job's definition as JSON text (its state is kept apart).

        Raises:
            TypeError: the extra is not JSON data (the job is named).
        """
        data = job.to_dict()
        for state in ("next_fire_us", "runs", "last_due_us", "active"):
            del data[state]
        try:
            return json.dumps(data, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"job {job.name!r} cannot be kept in a {type(self).__name__}: its extra must "
                f"be JSON data (str, number, bool, None, list, dict): {exc}"
            ) from None

    def _decode(
        self,
        name: str,
        definition: str,
        read_state: Callable[[], tuple[int | None, int, int | None, bool]],
        where: str,
    ) -> Job | None:
        """Rebuild a job from its stored definition (JSON text) and its state
        (``read_state`` gives next fire, runs, last due, active). One that
        cannot be read is logged, naming it and ``where``, and gives None."""
        try:
            data = json.loads(definition)
            if not isinstance(data, dict):
                raise ValueError("the definition is not a JSON object")
            next_fire_us, runs, last_due_us, active = read_state()
            data.update(
                name=name,
                next_fire_us=next_fire_us,
                runs=runs,
                last_due_us=last_due_us,
                active=active,
            )
            return Job.from_dict(data)
        except Exception as exc:
            log.error(
                "job %r in %s cannot be read, so it is left out: %s: %s",
                name,
                where,
                type(exc).__name__,
                exc,
            )
            return None

    # ------------------------------------------------------------ reading
    def last_outcomes(self, names: Collection[str], count: int) -> dict[str, list[str]]:
        wanted = list(dict.fromkeys(names))
        found: dict[str, list[str]] = {name: [] for name in wanted}
        count = min(count, self.history_limit)
        if count <= 0 or not wanted:
            return found
        self._flush_pending()
        self._read_last_outcomes(wanted, count, found)
        return found

    @abstractmethod
    def _read_last_outcomes(
        self, names: list[str], count: int, found: dict[str, list[str]]
    ) -> None:
        """Append to ``found[name]`` the ``count`` newest outcomes of each of
        ``names`` (distinct, flushed), newest first, in one read."""

    # ------------------------------------------------------------ buffering
    def update_state(
        self,
        job: Job,
        *,
        next_fire_us: int | None,
        runs: int,
        last_due_us: int | None,
        active: bool,
        expected_last_due: Any = NO_CLAIM,
    ) -> None:
        with self._pending:
            earlier = self._states.get(job.name)
            if earlier is not None and earlier.expected is not NO_CLAIM:
                expected_last_due = earlier.expected  # the store still holds the first one's
            self._states[job.name] = StateChange(
                job.name, next_fire_us, runs, last_due_us, active, expected_last_due
            )

    def _forget_state(self, name: str) -> None:
        with self._pending:
            self._states.pop(name, None)

    def run_started(self, run: Run) -> None:
        with self._pending:
            self._started.append(run)

    def add_unrun(self, run: Run) -> None:
        with self._pending:
            self._fenced.add(run.cid)
        self.add_run(run)

    def _kept(self, runs: list[Run], refused: set[str]) -> list[Run]:
        """``runs`` without the unrun ones whose job's claim was refused."""
        if not refused:
            return runs
        fenced = self._fenced
        return [run for run in runs if not (run.job in refused and run.cid in fenced)]

    def withdraw(self, runs: Collection[Run]) -> set[str]:
        # Under the write lock: a batch being written holds them, or not.
        with self._write_lock, self._pending:
            pending = {run.cid for run in self._started}
            taken = {run.cid for run in runs if run.cid in pending}
            if taken:
                jobs = {run.job for run in runs if run.cid in taken and not run.manual}
                self._started = [run for run in self._started if run.cid not in taken]
                for name in jobs:  # a claim is written with its runs, or not at all
                    change = self._states.get(name)
                    if change is not None and change.expected is not NO_CLAIM:
                        del self._states[name]
                fenced = self._fenced
                dropped = {r.cid for r in self._finished if r.job in jobs and r.cid in fenced}
                if dropped:  # records of skipped or missed fires of those claims
                    self._finished = [run for run in self._finished if run.cid not in dropped]
                    fenced -= dropped
        return {run.cid for run in runs if run.cid not in taken}

    def add_run(self, run: Run) -> None:
        with self._pending:
            self._finished.append(run)
            if len(self._finished) == 1:
                self._pending.notify()
            if self._flusher is None and not self._closed:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name=f"tickwork-{type(self).__name__}", daemon=True
                )
                self._flusher.start()

    def flush(self) -> set[str]:
        """Write what is pending; return the jobs whose claims were refused
        since the last call (their runs written ahead were dropped).

        On failure (a StoreError from the subclass) the writes stay pending,
        for the next flush.

        Raises:
            StoreReset: the store was found wiped or replaced (by this flush,
                or by a read or the background flusher since the last one);
                see the module doc.
            StoreError: the store cannot be written now.
        """
        with self._write_lock:
            reset = self._reset
            if isinstance(reset, StoreReset):  # found meanwhile: this caller must know
                self._reset = True
                raise reset
            self._flush_pending(after_reset=True)
            self._reset = False
        with self._pending:
            refused, self._refused = self._refused, set()
        return refused

    def _flush_pending(self, *, after_reset: bool = False) -> None:
        """Write what is pending, keeping any refusals for :meth:`flush`.

        After a reset, only :meth:`flush` (``after_reset``) writes."""
        with self._write_lock:
            if self._reset is not False and not after_reset:
                return
            with self._pending:
                states = list(self._states.values())
                started, finished = self._started, self._finished
                self._states, self._started, self._finished = {}, [], []
            if not (states or started or finished):
                return
            try:
                try:
                    refused = self._write_batch(states, started, finished)
                except StoreError:
                    raise
                except Exception as exc:
                    # Not an outage: a record the store cannot take. Write
                    # the others, so that it blocks nothing.
                    log.warning(
                        "%r: a batch of writes failed (%s: %s); writing its records one by one",
                        self,
                        type(exc).__name__,
                        clean_text(str(exc)),
                    )
                    refused = self._write_each(states, started, finished)
            except BaseException as exc:
                with self._pending:  # newer changes win; keep the order of runs
                    for change in states:
                        self._states.setdefault(change.name, change)
                    self._started[:0] = started
                    self._finished[:0] = finished
                if isinstance(exc, StoreReset):
                    # flush() raises it now; found by anything else, flush() raises it next
                    self._reset = True if after_reset else exc
                raise
            with self._pending:
                self._refused |= refused
                if self._fenced:
                    self._fenced.difference_update(run.cid for run in finished)

    def _flush_loop(self) -> None:
        while True:
            with self._pending:
                while not self._finished and not self._closed:
                    self._pending.wait()
                if self._closed:
                    return
            # Let a burst of finishing runs gather, then write them together
            # (after a reset, they wait for flush(): look again now and then).
            threading.Event().wait(self._interval if self._reset is False else 0.5)
            try:
                self._flush_pending()
            except Exception:
                log.exception("%r: could not write finished runs; will retry", self)
                threading.Event().wait(1.0)

    def _stop_flusher(self) -> bool:
        """Stop the background thread; False if the store was closed already."""
        with self._pending:
            if self._closed:
                return False
            self._closed = True
            self._pending.notify_all()
        flusher = self._flusher
        if flusher is not None:
            flusher.join()
        return True
