"""OneTime: fires once."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from .._time import us_to_dt
from ._base import Trigger

__all__ = ["OneTime"]


class OneTime(Trigger):
    """Fires once, at ``at``; then the job is done.

    Args:
        at: an aware datetime, or a naive datetime or ISO 8601 string read as
            a wall time in ``tz``. An ambiguous wall time (the repeated hour
            when clocks fall back) means its first pass unless ``fold=1``.
        tz: the zone of a naive ``at`` (default: the scheduler's, UTC alone).

    Raises:
        InvalidTrigger: ``at`` cannot be read, names a wall time inside a DST
            gap, or the zone is unknown.
    """

    __slots__ = ("_at_raw", "at_us")

    kind = "onetime"

    def __init__(self, at: datetime | str, tz: str | tzinfo | None = None) -> None:
        super().__init__(tz)
        self._at_raw = at
        self.at_us = self._read(at, "at")

    @property
    def at(self) -> datetime:
        return us_to_dt(self.at_us, self.tz)

    def next_fire(self, after_us: int) -> int | None:
        return self.at_us if self.at_us > after_us else None

    def first_fire(self, added_us: int) -> int | None:
        # A time already past when the job is added is a misfire, judged by the
        # scheduler against the job's grace; so it is returned all the same.
        return self.at_us

    def _args(self) -> dict[str, Any]:
        raw = self._at_raw
        at = raw.isoformat() if isinstance(raw, datetime) else raw
        return {"at": at, "tz": self.tz_name}

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        # Stores keep the resolved instant so a restart never re-reads wall time.
        data["at"] = self.at.isoformat()
        return data

    def describe(self) -> str:
        return f"once at {self.at.isoformat()}"
