"""Jobs as plain data: what the HTTP admin API, the config file and the CLI read and write.

A job spec is a JSON object (or a TOML table)::

    {"name": "sync", "service": "api.scheduler.sync",
     "trigger": {"type": "interval", "minutes": 5},
     "extra": "region=eu", "misfire": "coalesce", "overlap": "skip",
     "grace": 60, "jitter": null, "timeout": 30, "active": true,
     "retry": {"attempts": 3, "backoff": 1, "factor": 2, "max_backoff": null}}

Triggers: ``{"type": "interval", "weeks"|"days"|"hours"|"minutes"|"seconds": n,
"start": ..., "end": ..., "repeats": n, "tz": ...}``, ``{"type": "cron",
"expr": "*/5 * * * *", "tz": ..., "start": ..., "end": ...}``, ``{"type":
"onetime", "at": "2026-12-01 09:00", "tz": ...}``. Durations are
seconds, finite and at most :data:`MAX_SECONDS`. Errors are ``ValueError``
(``InvalidTrigger`` for a trigger) naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from typing import Any

from ._exceptions import InvalidTrigger
from ._model import MISFIRE_POLICIES, OVERLAP_POLICIES, Job, Retry, Run, check_job_name
from ._time import us_to_dt
from .triggers import Trigger, trigger_from_dict

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_FACTOR",
    "MAX_SECONDS",
    "JobSpec",
    "SpecError",
    "job_to_data",
    "parse_job_spec",
    "run_to_data",
]

#: The longest duration a spec may give (about 31.7 years): beyond any real
#: grace, jitter, timeout or backoff, and far enough from what a datetime or a
#: store's 64-bit integer holds that adding it to a time stays representable.
MAX_SECONDS = 1_000_000_000
#: The most retry attempts, and the largest backoff factor, a spec may give.
MAX_ATTEMPTS = 1000
MAX_FACTOR = 1000

_FIELDS = {
    "name",
    "service",
    "trigger",
    "extra",
    "misfire",
    "grace",
    "overlap",
    "jitter",
    "timeout",
    "retry",
    "active",
}
_RETRY_FIELDS = {"attempts", "backoff", "factor", "max_backoff"}


class SpecError(ValueError):
    """A job spec is not valid; ``field`` names the part (``trigger.minutes``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


@dataclass
class JobSpec:
    """A checked job spec: the arguments of ``Scheduler.add_job`` (or of
    ``update_job``, for the fields that were given)."""

    name: str | None
    service: str | None
    trigger: Trigger | None
    extra: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()

    def add_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``add_job`` (after name, service and trigger)."""
        return {"extra": self.extra, **self.options}

    def update_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``update_job``: only what the spec gave."""
        kwargs: dict[str, Any] = {k: v for k, v in self.options.items() if k != "active"}
        if self.trigger is not None:
            kwargs["trigger"] = self.trigger
        if self.service is not None:
            kwargs["service"] = self.service
        if "extra" in self.given:
            kwargs["extra"] = self.extra
        return kwargs


def parse_job_spec(data: object, *, partial: bool = False) -> JobSpec:
    """Check a job spec; ``partial`` allows leaving out name, service and
    trigger (an update).

    Raises:
        SpecError: a field is missing, unknown or bad (named in ``field``).
    """
    if not isinstance(data, Mapping):
        raise SpecError("job", f"must be an object, got {type(data).__name__}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise SpecError(unknown[0], f"unknown field; the fields are {', '.join(sorted(_FIELDS))}")
    name = data.get("name")
    if name is not None:
        try:
            check_job_name(name)
        except ValueError as exc:
            raise SpecError("name", str(exc).removeprefix("a job name ")) from None
    service = data.get("service")
    if service is not None and (not isinstance(service, str) or not service.strip()):
        raise SpecError("service", f"must be a non-empty string, got {service!r}")
    trigger = None
    if data.get("trigger") is not None:
        trigger = parse_trigger(data["trigger"])
    if not partial:
        for required in ("name", "service", "trigger"):
            if data.get(required) is None:
                raise SpecError(required, "is required")
    options: dict[str, Any] = {}
    for policy, allowed in (("misfire", MISFIRE_POLICIES), ("overlap", OVERLAP_POLICIES)):
        if policy in data:
            value = data[policy]
            if value not in allowed:
                raise SpecError(policy, f"must be one of {', '.join(allowed)}, got {value!r}")
            options[policy] = value
    for duration in ("grace", "jitter", "timeout"):
        if duration in data:
            options[duration] = _seconds(duration, data[duration], allow_zero=duration == "grace")
    if "retry" in data:
        options["retry"] = _retry(data["retry"])
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise SpecError("active", f"must be true or false, got {data['active']!r}")
        options["active"] = data["active"]
    return JobSpec(
        name=name,
        service=service,
        trigger=trigger,
        extra=data.get("extra"),
        options=options,
        given=frozenset(data),
    )


def parse_trigger(data: object) -> Trigger:
    """A trigger from its spec.

    Raises:
        SpecError: the spec is not an object with a known ``type``, or an argument is bad.
    """
    if not isinstance(data, Mapping):
        raise SpecError("trigger", f"must be an object with a type, got {type(data).__name__}")
    try:
        return trigger_from_dict(dict(data))
    except InvalidTrigger as exc:
        raise SpecError("trigger", str(exc)) from None
    except (ValueError, TypeError) as exc:  # a trigger's own argument checks
        raise SpecError("trigger", str(exc)) from None
    except OverflowError:
        raise SpecError("trigger", "a time or length is out of range") from None


def _seconds(name: str, value: object, *, allow_zero: bool = False) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(name, f"must be a number of seconds or null, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(name, f"must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise SpecError(name, f"must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    if value > MAX_SECONDS:
        raise SpecError(
            name, f"{value!r} seconds is too long: at most {MAX_SECONDS} (about 31 years)"
        )
    return timedelta(seconds=value)


def _retry(value: object) -> Retry | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SpecError("retry", f"must be an object or null, got {type(value).__name__}")
    unknown = sorted(set(value) - _RETRY_FIELDS)
    if unknown:
        raise SpecError(f"retry.{unknown[0]}", "unknown field")
    kwargs: dict[str, Any] = {}
    if "attempts" in value:
        attempts = value["attempts"]
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise SpecError("retry.attempts", f"must be a whole number, got {attempts!r}")
        if not 1 <= attempts <= MAX_ATTEMPTS:
            raise SpecError("retry.attempts", f"must be 1 to {MAX_ATTEMPTS}, got {attempts!r}")
        kwargs["attempts"] = attempts
    if "backoff" in value:
        backoff = _seconds("retry.backoff", value["backoff"], allow_zero=True)
        if backoff is None:
            raise SpecError("retry.backoff", "must be a number of seconds")
        kwargs["backoff"] = backoff
    if "factor" in value:
        factor = value["factor"]
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            raise SpecError("retry.factor", f"must be a number, got {factor!r}")
        if not (math.isfinite(factor) and 1 <= factor <= MAX_FACTOR):
            raise SpecError(
                "retry.factor", f"must be a number from 1 to {MAX_FACTOR}, got {factor!r}"
            )
        kwargs["factor"] = factor
    if "max_backoff" in value:
        kwargs["max_backoff"] = _seconds("retry.max_backoff", value["max_backoff"], allow_zero=True)
    try:
        return Retry(**kwargs)
    except ValueError as exc:  # "Retry backoff must be ...": name the field it names
        words = str(exc).split()
        field = words[1] if len(words) > 1 and words[1] in _RETRY_FIELDS else None
        raise SpecError("retry" if field is None else f"retry.{field}", str(exc)) from None


def _iso(us_value: int | None, tz: tzinfo | None) -> str | None:
    if us_value is None:
        return None
    when = us_to_dt(us_value)
    return (when.astimezone(tz) if tz is not None else when).isoformat()


def _secs(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def job_to_data(job: Job, tz: tzinfo | None = None) -> dict[str, Any]:
    """A job as JSON-ready data: its spec, plus its state (times in ``tz``, default UTC)."""
    return {
        "name": job.name,
        "service": job.service,
        "trigger": job.trigger.to_dict(),
        "trigger_text": job.trigger.describe(),
        "extra": job.extra,
        "active": job.active,
        "status": job.status,
        "next_fire_time": _iso(job.next_fire_us, tz),
        "runs": job.runs,
        "misfire": job.misfire,
        "grace": _secs(job.grace),
        "overlap": job.overlap,
        "jitter": _secs(job.jitter),
        "timeout": _secs(job.timeout),
        "retry": None if job.retry is None else job.retry.to_dict(),
    }


def run_to_data(run: Run, tz: tzinfo | None = None) -> dict[str, Any]:
    """A run as JSON-ready data (times in ``tz``, default UTC)."""
    duration = run.duration
    return {
        "cid": run.cid,
        "job": run.job,
        "service": run.service,
        "scheduled_for": _iso(run.scheduled_us, tz),
        "started_at": _iso(run.started_us, tz),
        "finished_at": _iso(run.finished_us, tz),
        "duration": None if duration is None else duration.total_seconds(),
        "outcome": run.outcome,
        "error": run.error,
        "run_number": run.run_number,
        "attempt": run.attempt,
        "manual": run.manual,
    }
