"""Plain records: jobs, runs, retry policy and events."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ._time import td_to_us, us_to_dt
from .triggers import Trigger, trigger_from_dict

__all__ = [
    "MAX_JOB_NAME",
    "MISFIRE_POLICIES",
    "OVERLAP_POLICIES",
    "Event",
    "Job",
    "Outcome",
    "Retry",
    "Run",
    "check_job_name",
]

Outcome = Literal["ok", "error", "timeout", "skipped", "missed"]
#: The longest job name, in characters: a name is a key in every store, a
#: path segment of the HTTP API and a word in every log line about the job.
MAX_JOB_NAME = 200


def check_job_name(name: object) -> str:
    """``name`` if it can name a job, else ValueError saying why.

    A name is a non-empty string of at most :data:`MAX_JOB_NAME` characters
    that UTF-8 can encode (no lone surrogates) and that holds no control
    characters (a newline in a name would forge log lines).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a job name must be a non-empty string, got {name!r}")
    if len(name) > MAX_JOB_NAME:
        raise ValueError(
            f"a job name must be at most {MAX_JOB_NAME} characters, got {len(name)}: "
            f"{name[:40]!r}..."
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"a job name must be valid Unicode text, got {name!r}") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"a job name must not hold control characters, got {name!r}")
    return name


MISFIRE_POLICIES = ("coalesce", "skip", "all")
OVERLAP_POLICIES = ("skip", "queue", "allow")


@dataclass(frozen=True, slots=True)
class Retry:
    """Retry a failed (or timed-out) run.

    Args:
        attempts: how many attempts in all, the first included (1 to 10,000).
        backoff: the wait before the second attempt (0 to one day).
        factor: each further wait is the previous one times this (1 to 1,000).
        max_backoff: no wait is longer than this (0 to one day); ``None``
            caps the waits at one day.

    The bounds keep every wait representable: a long run of failures with a
    large factor grows the wait up to the cap and no further.

    Raises:
        ValueError: an argument is out of range; the message names it.
    """

    attempts: int = 3
    backoff: timedelta = timedelta(seconds=1)
    factor: float = 2.0
    max_backoff: timedelta | None = None

    # Bounds of the arguments (not dataclass fields: no annotation).
    MAX_ATTEMPTS = 10_000
    MAX_FACTOR = 1000.0
    MAX_WAIT = timedelta(days=1)

    def __post_init__(self) -> None:
        attempts, factor = self.attempts, self.factor
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise ValueError(f"Retry attempts must be a whole number, got {attempts!r}")
        if not 1 <= attempts <= self.MAX_ATTEMPTS:
            raise ValueError(
                f"Retry attempts must be >= 1 and at most {self.MAX_ATTEMPTS}, got {attempts!r}"
            )
        self._check_wait("backoff", self.backoff)
        # The chained comparison is False for nan as well as for out-of-range values.
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not 1 <= factor <= self.MAX_FACTOR
        ):
            raise ValueError(
                f"Retry factor must be a number from 1 to {self.MAX_FACTOR:g}, got {factor!r}"
            )
        if self.max_backoff is not None:
            self._check_wait("max_backoff", self.max_backoff, none_ok=True)

    def _check_wait(self, field: str, value: object, *, none_ok: bool = False) -> None:
        if not isinstance(value, timedelta) or not timedelta(0) <= value <= self.MAX_WAIT:
            allowed = "a timedelta from 0 to 1 day" + (" or None" if none_ok else "")
            raise ValueError(f"Retry {field} must be {allowed}, got {value!r}")

    def delay_us(self, failed_attempt: int) -> int:
        """The wait after attempt number ``failed_attempt`` (1-based) failed.

        Never raises: the wait grows by ``factor`` per attempt up to
        ``max_backoff`` (one day when None), whatever the attempt number.
        """
        cap = td_to_us(self.MAX_WAIT if self.max_backoff is None else self.max_backoff)
        first = min(td_to_us(self.backoff), cap)
        steps = failed_attempt - 1
        if first == 0 or steps <= 0 or self.factor == 1:
            return first
        try:
            grown = first * float(self.factor) ** steps
        except OverflowError:  # far past the cap
            return cap
        return cap if grown >= cap else round(grown)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "backoff": self.backoff.total_seconds(),
            "factor": self.factor,
            "max_backoff": None if self.max_backoff is None else self.max_backoff.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Retry:
        """A Retry from :meth:`to_dict`'s form.

        Raises:
            ValueError: the data is not a retry policy; the message names the bad field.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a stored Retry must be an object, got {data!r}")
        for field in ("attempts", "backoff", "factor"):
            if field not in data:
                raise ValueError(f"a stored Retry has no {field!r}")
        attempts = data["attempts"]
        if isinstance(attempts, float) and attempts.is_integer():
            attempts = int(attempts)  # JSON from another writer may spell 3 as 3.0
        max_backoff = data.get("max_backoff")
        return cls(
            attempts=attempts,
            backoff=cls._stored_wait("backoff", data["backoff"]),
            factor=data["factor"],
            max_backoff=None
            if max_backoff is None
            else cls._stored_wait("max_backoff", max_backoff),
        )

    @classmethod
    def _stored_wait(cls, field: str, seconds: object) -> timedelta:
        # Checked here, before timedelta(), which would raise OverflowError or
        # TypeError without naming the field.
        limit = cls.MAX_WAIT.total_seconds()
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= limit
        ):
            raise ValueError(f"Retry {field} must be from 0 to {limit:g} seconds, got {seconds!r}")
        return timedelta(seconds=seconds)


class Run:
    """One run of a job (or one attempt of it), as kept in history.

    Times are kept as integer microseconds and shown as aware UTC datetimes.
    ``outcome`` is None while the run is going.
    """

    __slots__ = (
        "attempt",
        "cid",
        "error",
        "finished_us",
        "job",
        "manual",
        "outcome",
        "run_number",
        "scheduled_us",
        "service",
        "started_us",
    )

    def __init__(
        self,
        cid: str,
        job: str,
        service: str,
        scheduled_us: int,
        run_number: int = 0,
        *,
        started_us: int | None = None,
        finished_us: int | None = None,
        outcome: Outcome | None = None,
        error: str | None = None,
        manual: bool = False,
        attempt: int = 1,
    ) -> None:
        self.cid = cid
        self.job = job
        self.service = service
        self.scheduled_us = scheduled_us
        self.started_us = started_us
        self.finished_us = finished_us
        self.outcome = outcome
        self.error = error
        self.manual = manual
        self.run_number = run_number
        self.attempt = attempt

    @property
    def scheduled_for(self) -> datetime:
        return us_to_dt(self.scheduled_us)

    @property
    def started_at(self) -> datetime | None:
        return None if self.started_us is None else us_to_dt(self.started_us)

    @property
    def finished_at(self) -> datetime | None:
        return None if self.finished_us is None else us_to_dt(self.finished_us)

    @property
    def duration(self) -> timedelta | None:
        if self.started_us is None or self.finished_us is None:
            return None
        return timedelta(microseconds=self.finished_us - self.started_us)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Run.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(**data)

    # A run as a tuple of plain values, in __slots__ order (for compact stores).
    ROW_FINISHED = 3
    ROW_SCHEDULED = 8

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.attempt,
            self.cid,
            self.error,
            self.finished_us,
            self.job,
            self.manual,
            self.outcome,
            self.run_number,
            self.scheduled_us,
            self.service,
            self.started_us,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Run:
        run = object.__new__(cls)
        for name, value in zip(Run.__slots__, row, strict=True):
            object.__setattr__(run, name, value)
        return run

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Run(job={self.job!r}, cid={self.cid!r}, outcome={self.outcome!r}, "
            f"scheduled_for={self.scheduled_for.isoformat()!r}"
            + (f", manual=True" if self.manual else "")  # noqa: F541
            + (f", attempt={self.attempt}" if self.attempt != 1 else "")
            + (f", error={self.error!r}" if self.error else "")
            + ")"
        )


class Job:
    """A snapshot of a job: its definition and its state.

    Returned by ``Scheduler.add_job``, ``get_job`` and ``jobs``; changing a
    job goes through the scheduler (``update_job``, ``pause_job`` ...), never
    through the snapshot. Instants and durations are kept as integer
    microseconds (a million jobs keep a million snapshots in a MemoryStore)
    and shown as aware UTC datetimes and timedeltas.

    Attributes:
        name, service, trigger, extra, active, runs, misfire, overlap, retry:
            as given to ``add_job`` (``runs``: scheduled runs started so far).
        status: ``"active"``, ``"paused"`` or ``"done"``.
        next_fire_time: the next due time, or None (paused, or done).
        grace, jitter, timeout: the policies' durations, or None.
        last_due: the latest due time the job has handled, or None.
    """

    __slots__ = (
        # The scheduler's runtime fields for the job it holds (see _scheduler):
        # a job's record is also its live state there, one object per job.
        "_backlog",
        "_busy",
        "_done",
        "_queued_at",
        "_removed",
        "active",
        "extra",
        "grace_us",
        "jitter_us",
        "last_due_us",
        "misfire",
        "name",
        "next_fire_us",
        "overlap",
        "retry",
        "runs",
        "service",
        "timeout_us",
        "trigger",
    )

    def __init__(
        self,
        name: str,
        service: str,
        trigger: Trigger,
        extra: Any = None,
        *,
        active: bool = True,
        next_fire_us: int | None = None,
        runs: int = 0,
        misfire: str = "coalesce",
        grace_us: int | None = 60_000_000,
        overlap: str = "skip",
        jitter_us: int | None = None,
        timeout_us: int | None = None,
        retry: Retry | None = None,
        last_due_us: int | None = None,
    ) -> None:
        self.name = name
        self.service = service
        self.trigger = trigger
        self.extra = extra
        self.active = active
        self.next_fire_us = next_fire_us
        self.runs = runs
        self.misfire = misfire
        self.grace_us = grace_us
        self.overlap = overlap
        self.jitter_us = jitter_us
        self.timeout_us = timeout_us
        self.retry = retry
        self.last_due_us = last_due_us
        self._queued_at: int | None = None  # the instant it is queued at, if any
        self._busy = 0  # its runs going (retries included)
        self._backlog: deque[int] | None = None  # fires waiting for a run to end
        self._removed = False
        self._done = False  # its job_done event was sent

    @property
    def status(self) -> str:
        """``"active"``, ``"paused"`` or ``"done"`` (no fire time left and
        nothing waiting: a OneTime that fired, an Interval whose ``repeats``
        or ``end`` are used up). A done job is kept, with its run count and
        history, until it is removed or replaced."""
        if not self.active:
            return "paused"
        if self.next_fire_us is None and not self._backlog:
            return "done"
        return "active"

    @property
    def next_fire_time(self) -> datetime | None:
        return None if self.next_fire_us is None else us_to_dt(self.next_fire_us)

    @property
    def last_due(self) -> datetime | None:
        return None if self.last_due_us is None else us_to_dt(self.last_due_us)

    @property
    def grace(self) -> timedelta | None:
        return _td(self.grace_us)

    @property
    def jitter(self) -> timedelta | None:
        return _td(self.jitter_us)

    @property
    def timeout(self) -> timedelta | None:
        return _td(self.timeout_us)

    def _fire_after_resume(self, now_us: int) -> int | None:
        """The first fire time strictly after resuming at ``now_us`` (and
        after the last due time it had): times passed while paused are not
        misfires. None: the trigger has none left."""
        after = now_us if self.last_due_us is None else max(now_us, self.last_due_us)
        return self.trigger.next_fire(after)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Job):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _JOB_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Job(name={self.name!r}, service={self.service!r}, trigger={self.trigger!r}, "
            f"extra={self.extra!r}, active={self.active}, "
            f"next_fire_time={_iso(self.next_fire_time)}, runs={self.runs})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) for stores."""
        return {
            "name": self.name,
            "service": self.service,
            "trigger": self.trigger.to_dict(),
            "extra": self.extra,
            "active": self.active,
            "next_fire_us": self.next_fire_us,
            "runs": self.runs,
            "misfire": self.misfire,
            "grace": _secs(self.grace_us),
            "overlap": self.overlap,
            "jitter": _secs(self.jitter_us),
            "timeout": _secs(self.timeout_us),
            "retry": None if self.retry is None else self.retry.to_dict(),
            "last_due_us": self.last_due_us,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        """Rebuild a job from :meth:`to_dict` data.

        Raises:
            InvalidTrigger: the trigger data is bad.
            KeyError, ValueError, TypeError: other fields are missing or bad.
        """
        retry = data.get("retry")
        return cls(
            name=str(data["name"]),
            service=str(data["service"]),
            trigger=trigger_from_dict(data["trigger"]),
            extra=data.get("extra"),
            active=bool(data.get("active", True)),
            next_fire_us=_int_or_none(data.get("next_fire_us")),
            runs=int(data.get("runs", 0)),
            misfire=str(data.get("misfire", "coalesce")),
            grace_us=_us_of_secs(data.get("grace", 60.0)),
            overlap=str(data.get("overlap", "skip")),
            jitter_us=_us_of_secs(data.get("jitter")),
            timeout_us=_us_of_secs(data.get("timeout")),
            retry=None if retry is None else Retry.from_dict(retry),
            last_due_us=_int_or_none(data.get("last_due_us")),
        )


_JOB_FIELDS = tuple(n for n in Job.__slots__ if not n.startswith("_"))


def _iso(value: datetime | None) -> str:
    return "None" if value is None else repr(value.isoformat())


def _td(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(microseconds=value)


def _secs(value: int | None) -> float | None:
    return None if value is None else value / 1_000_000


def _us_of_secs(value: float | None) -> int | None:
    return None if value is None else round(float(value) * 1_000_000)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


EVENT_KINDS = (
    "job_added",
    "job_updated",
    "job_removed",
    "job_paused",
    "job_resumed",
    "job_done",
    "run_started",
    "run_finished",
    "run_skipped",
    "run_missed",
)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a scheduler, given to ``subscribe`` callbacks.

    Attributes:
        kind: one of ``job_added``, ``job_updated``, ``job_removed``,
            ``job_paused``, ``job_resumed``, ``job_done``, ``run_started``,
            ``run_finished``, ``run_skipped``, ``run_missed``.
        job: the job's name.
        time: when it happened, on the scheduler's clock.
        run: the run, for ``run_*`` events.
    """

    kind: str
    job: str
    time: datetime
    run: Run | None = None
