"""Triggers: when jobs fire. Pure functions of an instant; they never read a clock."""

from __future__ import annotations

from typing import Any

from .._exceptions import InvalidTrigger
from ._base import Trigger
from ._cron import Cron
from ._interval import Interval
from ._onetime import OneTime

__all__ = ["Cron", "Interval", "OneTime", "Trigger", "trigger_from_dict"]

_KINDS: dict[str, type[Trigger]] = {"cron": Cron, "interval": Interval, "onetime": OneTime}


def trigger_from_dict(data: dict[str, Any]) -> Trigger:
    """Rebuild a trigger from :meth:`Trigger.to_dict` data.

    Raises:
        InvalidTrigger: the data names no known trigger type or holds bad arguments.
    """
    if not isinstance(data, dict):
        raise InvalidTrigger(f"trigger data must be a mapping, got {type(data).__name__}")
    args = dict(data)
    kind = args.pop("type", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidTrigger(f"unknown trigger type {kind!r}; known: {', '.join(_KINDS)}")
    try:
        return cls(**args)
    except TypeError as exc:
        raise InvalidTrigger(f"bad {kind} trigger data: {exc}") from None
