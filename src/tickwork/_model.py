"""Plain records: jobs, runs, retry policy and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ._time import dt_to_us, td_to_us, us_to_dt
from .triggers import Trigger, trigger_from_dict

__all__ = [
    "MISFIRE_POLICIES",
    "OVERLAP_POLICIES",
    "Event",
    "Job",
    "Outcome",
    "Retry",
    "Run",
]

Outcome = Literal["ok", "error", "timeout", "skipped", "missed"]
MISFIRE_POLICIES = ("coalesce", "skip", "all")
OVERLAP_POLICIES = ("skip", "queue", "allow")


@dataclass(frozen=True, slots=True)
class Retry:
    """Retry a failed (or timed-out) run.

    Args:
        attempts: how many attempts in all, the first included (>= 1).
        backoff: the wait before the second attempt.
        factor: each further wait is the previous one times this (>= 1).
        max_backoff: no wait is longer than this.

    Raises:
        ValueError: an argument is out of range.
    """

    attempts: int = 3
    backoff: timedelta = timedelta(seconds=1)
    factor: float = 2.0
    max_backoff: timedelta | None = None

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError(f"Retry attempts must be a whole number, got {self.attempts!r}")
        if self.attempts < 1:
            raise ValueError(f"Retry attempts must be >= 1, got {self.attempts!r}")
        if not isinstance(self.backoff, timedelta) or self.backoff < timedelta(0):
            raise ValueError(f"Retry backoff must be a timedelta >= 0, got {self.backoff!r}")
        if not isinstance(self.factor, int | float) or self.factor < 1:
            raise ValueError(f"Retry factor must be a number >= 1, got {self.factor!r}")
        if self.max_backoff is not None and (
            not isinstance(self.max_backoff, timedelta) or self.max_backoff < timedelta(0)
        ):
            raise ValueError(
                f"Retry max_backoff must be a timedelta >= 0 or None, got {self.max_backoff!r}"
            )

    def delay_us(self, failed_attempt: int) -> int:
        """The wait after attempt number ``failed_attempt`` (1-based) failed."""
        delay = self.backoff * (self.factor ** (failed_attempt - 1))
        if self.max_backoff is not None and delay > self.max_backoff:
            delay = self.max_backoff
        return td_to_us(delay)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "backoff": self.backoff.total_seconds(),
            "factor": self.factor,
            "max_backoff": None if self.max_backoff is None else self.max_backoff.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Retry:
        max_backoff = data.get("max_backoff")
        return cls(
            attempts=int(data["attempts"]),
            backoff=timedelta(seconds=data["backoff"]),
            factor=float(data["factor"]),
            max_backoff=None if max_backoff is None else timedelta(seconds=max_backoff),
        )


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
        *,
        started_us: int | None = None,
        finished_us: int | None = None,
        outcome: Outcome | None = None,
        error: str | None = None,
        manual: bool = False,
        run_number: int = 0,
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


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of a job: its definition and its state.

    Returned by ``Scheduler.get_job`` and ``Scheduler.jobs``; changing a job
    goes through the scheduler (``update_job``, ``pause_job`` ...).
    """

    name: str
    service: str
    trigger: Trigger
    extra: Any = None
    active: bool = True
    next_fire_time: datetime | None = None
    runs: int = 0
    misfire: str = "coalesce"
    grace: timedelta | None = timedelta(seconds=60)
    overlap: str = "skip"
    jitter: timedelta | None = None
    timeout: timedelta | None = None
    retry: Retry | None = None
    last_due: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) for stores."""
        return {
            "name": self.name,
            "service": self.service,
            "trigger": self.trigger.to_dict(),
            "extra": self.extra,
            "active": self.active,
            "next_fire_us": _us(self.next_fire_time),
            "runs": self.runs,
            "misfire": self.misfire,
            "grace": _secs(self.grace),
            "overlap": self.overlap,
            "jitter": _secs(self.jitter),
            "timeout": _secs(self.timeout),
            "retry": None if self.retry is None else self.retry.to_dict(),
            "last_due_us": _us(self.last_due),
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
            next_fire_time=_from_us(data.get("next_fire_us")),
            runs=int(data.get("runs", 0)),
            misfire=str(data.get("misfire", "coalesce")),
            grace=_from_secs(data.get("grace", 60.0)),
            overlap=str(data.get("overlap", "skip")),
            jitter=_from_secs(data.get("jitter")),
            timeout=_from_secs(data.get("timeout")),
            retry=None if retry is None else Retry.from_dict(retry),
            last_due=_from_us(data.get("last_due_us")),
        )


def _us(value: datetime | None) -> int | None:
    return None if value is None else dt_to_us(value)


def _from_us(value: int | None) -> datetime | None:
    return None if value is None else us_to_dt(int(value))


def _secs(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _from_secs(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


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
