"""The Store ABC: where job definitions, job state and run history live."""

from __future__ import annotations

import json
import zlib
from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any, ClassVar, NamedTuple

from .._model import Job, Run

__all__ = [
    "FAILED",
    "NO_CLAIM",
    "SHARDS",
    "RunRequest",
    "Store",
    "bucket_count",
    "recorded_us",
    "shard_of",
]

#: Jobs are dealt to the schedulers of a fleet in this many shards.
SHARDS = 64


class RunRequest(NamedTuple):
    """A request, written to a shared store, to run a job now.

    ``extra`` replaces the job's extra for this run when ``has_extra``.
    A request not taken by ``expires_us`` is dropped.
    """

    job: str
    cid: str
    extra: Any
    has_extra: bool
    expires_us: int

    def to_json(self) -> str:
        return json.dumps(self._asdict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRequest:
        return cls(**json.loads(text))


def shard_of(name: str) -> int:
    """The shard of a job (stable across processes and versions)."""
    return zlib.crc32(name.encode("utf-8")) % SHARDS


#: The outcomes that count as failures in :meth:`Store.run_counts`.
FAILED = frozenset({"error", "timeout"})


def recorded_us(run: Run) -> int:
    """The instant a run is filed under in history: when it finished, or for
    a record with no finish time, its due time."""
    return run.finished_us if run.finished_us is not None else run.scheduled_us


def bucket_count(since_us: int, until_us: int, bucket_us: int) -> int:
    """How many buckets of ``bucket_us`` cover [since_us, until_us) (the last
    one may reach past ``until_us``).

    Raises:
        ValueError: ``bucket_us`` < 1 or ``until_us`` < ``since_us``.
    """
    if bucket_us < 1:
        raise ValueError(f"bucket_us must be >= 1, got {bucket_us!r}")
    if until_us < since_us:
        raise ValueError(f"until_us ({until_us}) is before since_us ({since_us})")
    return -(-(until_us - since_us) // bucket_us)


class _NoClaim:
    def __repr__(self) -> str:
        return "NO_CLAIM"


#: ``update_state(..., expected_last_due=NO_CLAIM)``: a change that is not a fire.
NO_CLAIM: Any = _NoClaim()


class Store(ABC):
    """Keeps jobs and their history as plain data, never pickles.

    A job record is the JSON-ready dict of ``Job.to_dict()``: the definition
    (name, service, trigger data, extra, policies) and the state
    (``next_fire_us``, ``runs``, ``last_due_us``, ``active``; instants as
    integer microseconds since the epoch). The scheduler hands over a job's
    :class:`Job` record, state included, when it is added or changed (a
    durable store writes ``job.to_dict()``), and only the state after each
    fire, so that path can be cheap. The record is also the scheduler's live
    job: it goes on changing it, so a store that keeps the object (as
    MemoryStore does) sees the changes, and one that writes data copies it.
    Runs arrive when recorded (finished, skipped or missed).

    A scheduler built on a store loads its records at start: a scheduler
    restarted on the same store continues where the last one left off.

    A *durable* store (``durable = True``) may buffer writes; the scheduler
    calls :meth:`flush` before any scheduled run starts, so that the state
    saying a due time was taken, and the run's record (:meth:`run_started`),
    are on disk before the service runs: a crash then never lets a restarted
    scheduler run that due time again.
    """

    #: True when writes must be flushed before a run starts (see the class doc).
    durable: ClassVar[bool] = False
    #: True when several schedulers, in any process, may use the store at once
    #: (see "Fleets" in docs/stores.md): it then implements the fleet methods.
    shared: ClassVar[bool] = False
    #: This store object's scheduler, as the store's records name it.
    instance: str = "local"

    @abstractmethod
    def load_jobs(self, names: Collection[str] | None = None) -> list[Job]:
        """Every job record (or those of ``names`` that exist), state included
        (a durable store rebuilds them with ``Job.from_dict``; one it cannot
        read it logs, naming it, and leaves out). A scheduler built on the
        store hands these same objects back to :meth:`update_state`."""

    @abstractmethod
    def put_job(self, job: Job, *, keep_state: bool = False) -> None:
        """Add or replace a job's whole record. With ``keep_state`` (a changed
        definition), the stored run count and last due time stay as they are:
        in a fleet, the scheduler that runs the job owns them."""

    @abstractmethod
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
        """Change the state fields of ``job``, the record last given to
        :meth:`put_job` (a job no longer kept is ignored). Called after each
        fire; handing over the record, not its name, spares a lookup there.

        A fire passes ``expected_last_due``, the last due time the job had
        before it: a store that several schedulers may share applies the
        change only if it still holds that value (a *claim*), and
        :meth:`flush` names the jobs whose claims it refused. A store for one
        scheduler may ignore it."""

    @abstractmethod
    def remove_job(self, name: str) -> None:
        """Forget a job's record (its history stays). A missing job is ignored."""

    @abstractmethod
    def add_run(self, run: Run) -> None:
        """Record a run in history. Called from worker threads too, at once:
        it must be safe to call concurrently."""

    def add_unrun(self, run: Run) -> None:
        """Record a fire that did not run (``skipped`` or ``missed``). A store
        that takes claims keeps it only if the claim of the fire that made it
        holds (see :meth:`update_state`)."""
        self.add_run(run)

    @abstractmethod
    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        """Runs of ``job`` (or of every job), newest first, at most ``limit``."""

    def run_counts(
        self, since_us: int, until_us: int, bucket_us: int
    ) -> tuple[list[int], list[int]]:
        """How many runs were recorded in each bucket of time, and how many of
        them failed.

        Bucket ``i`` is [``since_us + i * bucket_us``, ``since_us + (i + 1) *
        bucket_us``), cut at ``until_us``; there are :func:`bucket_count` of
        them. A run counts at its recorded time: when it finished, or for a
        record with no finish time, its due time (skipped and missed records
        are stamped with the instant they were judged). Runs still going are
        not counted; every record in history is (skipped and missed ones
        included), and those whose outcome is ``error`` or ``timeout`` are
        failures too.

        This default reads :meth:`history` (newest first) until it is past
        ``since_us``: it counts what the store keeps, at the cost of reading
        it all. Stores override it.

        Returns:
            ``(runs, failures)``: two lists with one number per bucket.

        Raises:
            ValueError: ``bucket_us`` < 1 or ``until_us`` < ``since_us``.
        """
        n = bucket_count(since_us, until_us, bucket_us)
        runs, failures = [0] * n, [0] * n
        limit = 1000
        while True:
            found = self.history(None, limit)
            if len(found) < limit or (found and recorded_us(found[-1]) < since_us):
                break
            limit *= 4
        for run in found:
            if run.outcome is None:
                continue
            at = recorded_us(run)
            if since_us <= at < until_us:
                i = (at - since_us) // bucket_us
                runs[i] += 1
                if run.outcome in FAILED:
                    failures[i] += 1
        return runs, failures

    def last_outcomes(self, names: Collection[str], count: int) -> dict[str, list[str]]:
        """Each job's newest ``count`` outcomes, newest first (runs still
        going left out), for every name in ``names`` (a name with no runs: an
        empty list).

        This default calls :meth:`history` once per name; stores override it
        with one read for all of them.
        """
        if count <= 0:
            return {name: [] for name in names}
        return {
            name: [run.outcome for run in self.history(name, count) if run.outcome is not None]
            for name in names
        }

    def validate(self, job: Job) -> None:  # noqa: B027 - optional hook
        """Raise ValueError or TypeError, naming the part, if ``job`` cannot be
        kept (say, an extra that is not JSON). Called before a job is added or
        changed, so that a refused job changes nothing."""

    def run_started(self, run: Run) -> None:  # noqa: B027 - optional hook
        """A scheduled run is about to start (its outcome is None): a durable
        store writes it ahead, with the job's state, so that a run cut short by
        a crash is found at the next start instead of being lost."""

    def flush(self) -> set[str]:
        """Make every write so far durable (a store that buffers nothing has
        nothing to do); return the jobs whose claims were refused (see
        :meth:`update_state`): their runs written ahead are dropped, and they
        must not start."""
        return set()

    def withdraw(self, runs: Collection[Run]) -> set[str]:
        """Take back ``runs`` written ahead (see :meth:`run_started`) whose
        flush failed, with the claims of their jobs' fires, while they are
        still unwritten: the scheduler will not start them, and the store must
        then not say their fires happened (a manual run claims nothing).

        Returns the cids of those that were written meanwhile (they must start).
        A store that buffers nothing has written them all."""
        return {run.cid for run in runs}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    # -- fleets: shared stores only -------------------------------------------
    def fleet_round(self, ttl: float) -> tuple[frozenset[int], int]:
        """Say this scheduler is alive for ``ttl`` seconds more, then renew,
        give up or take shard leases toward an even share among the live
        schedulers, and record the runs of dead ones as interrupted.

        Returns the shards this scheduler now holds, and how many schedulers
        are alive. A claim (see :meth:`update_state`) is applied only for a job
        whose shard this scheduler holds, or that no live scheduler holds."""
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")

    def fleet_leave(self) -> None:  # noqa: B027 - optional hook
        """Give up this scheduler's leases and say it is gone (a clean stop)."""

    def changes(self, cursor: Any, wait: float) -> tuple[Any, list[str] | None]:
        """Jobs other schedulers added, changed or removed since ``cursor``
        (None: from now on), waiting up to ``wait`` seconds for one.

        Returns the new cursor and the names, or None when the feed lost
        track (then every job must be read again)."""
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")

    def request_run(self, request: RunRequest) -> None:
        """Ask the scheduler that holds the job's shard to run it now, from
        outside any scheduler (``tickwork execute``)."""
        raise NotImplementedError(f"{type(self).__name__} is not a shared store")

    def take_requests(self, shards: frozenset[int], now_us: int) -> list[RunRequest]:
        """Take the run requests for jobs in ``shards``: each is taken by one
        scheduler only; those that expired before ``now_us`` are dropped."""
        return []
