"""The Trigger ABC: a pure function from an instant to the next fire times."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, tzinfo
from operator import attrgetter
from typing import Any, ClassVar, Self

from .._exceptions import InvalidTrigger
from .._time import MAX_US, get_zone, parse_instant, us_to_dt, zone_name

__all__ = ["Trigger"]


class Trigger(ABC):
    """When a job fires.

    A trigger is pure: it never reads a clock. The scheduler asks it for
    :meth:`first_fire` when a job is added and :meth:`next_fire` after every
    due time; users ask :meth:`upcoming`. Instants inside are integer
    microseconds since the epoch (see ``tickwork._time``).

    Subclasses keep the arguments they were built from, so that a trigger
    created without a ``tz`` can take its scheduler's zone, and so stores can
    keep it as plain data (:meth:`to_dict` / :func:`trigger_from_dict`).
    """

    __slots__ = ("_tz_given", "_wall_inputs", "tz")

    kind: ClassVar[str]
    #: The number of scheduled runs after which the job is done, or None.
    repeats: int | None = None

    def __init__(self, tz: str | tzinfo | None) -> None:
        self._tz_given = tz is not None
        self.tz: tzinfo = get_zone(tz)
        # True when an input was read as a wall time in `tz` (a naive datetime
        # or a string), so that taking another zone means reading it again.
        self._wall_inputs = False

    def _read(self, value: datetime | str, what: str) -> int:
        """Read an instant argument, noting whether it was a wall time."""
        if isinstance(value, str) or (isinstance(value, datetime) and value.utcoffset() is None):
            self._wall_inputs = True
        return parse_instant(value, self.tz, what=what)

    def _read_bounds(
        self, start: datetime | str | None, end: datetime | str | None
    ) -> tuple[int | None, int | None]:
        """Read a ``start`` / ``end`` pair of bounds on fire times.

        Raises:
            InvalidTrigger: a bound cannot be read, or ``end`` is before ``start``.
        """
        start_us = None if start is None else self._read(start, "start")
        end_us = None if end is None else self._read(end, "end")
        if start_us is not None and end_us is not None and end_us < start_us:
            raise InvalidTrigger(f"end {end!s} is before start {start!s}")
        return start_us, end_us

    def _clone(self) -> Self:
        clone = object.__new__(type(self))
        names, read = _slots_of(type(self))
        for name, value in zip(names, read(self), strict=True):
            setattr(clone, name, value)
        return clone

    @property
    def tz_name(self) -> str:
        return zone_name(self.tz)

    @abstractmethod
    def next_fire(self, after_us: int) -> int | None:
        """The first fire time strictly after ``after_us``, or None when exhausted."""

    def first_fire(self, added_us: int) -> int | None:
        """The first fire time of a job added at ``added_us``.

        Defaults to the first fire strictly after the moment of adding.
        """
        return self.next_fire(added_us)

    def bind(self, added_us: int) -> Trigger:
        """The trigger to keep for a job added at ``added_us`` (fills in what the
        moment of adding decides, such as an Interval's start)."""
        return self._fill(added_us, fresh=False)

    def for_job(self, added_us: int, default_tz: str) -> Trigger:
        """What a job added at ``added_us`` keeps: :meth:`with_default_tz`, then
        :meth:`bind`, with at most one copy made (``add_job`` runs this)."""
        trigger = self.with_default_tz(default_tz)
        return trigger._fill(added_us, fresh=trigger is not self)

    def _fill(self, added_us: int, fresh: bool) -> Trigger:
        """:meth:`bind`'s work; ``fresh`` says ``self`` is a private copy to change."""
        return self

    @abstractmethod
    def _args(self) -> dict[str, Any]:
        """The constructor arguments (JSON-ready) that rebuild this trigger."""

    @abstractmethod
    def describe(self) -> str:
        """The trigger in words, such as ``every 5 minutes``."""

    def with_default_tz(self, tz: str) -> Trigger:
        """This trigger, or a copy in ``tz`` when it was created without a zone."""
        if self._tz_given:
            return self
        if not self._wall_inputs:
            clone = self._clone()
            clone.tz = get_zone(tz)
            clone._tz_given = True
            return clone
        args = self._args()
        args["tz"] = tz
        return type(self)(**args)

    def upcoming(self, after: datetime | str, count: int = 1) -> list[datetime]:
        """The next ``count`` fire times strictly after ``after``, as aware UTC
        datetimes (``tzinfo`` is ``datetime.UTC``, as ``Run.scheduled_for``), so
        that ``==`` and ``-`` compare instants: in the trigger's zone, Python
        would compare and subtract wall times. Show them in the zone with
        ``fire.astimezone(ZoneInfo(trigger.tz_name))``.

        Naive datetimes and strings are read in the trigger's zone. The list
        is shorter (or empty) when the trigger is exhausted, or its next fire
        would come after the last instant a datetime holds (the year 9999).

        Raises:
            InvalidTrigger: ``after`` cannot be read as an instant.
            ValueError: ``count`` is negative.
        """
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a whole number >= 0, got {count!r}")
        at = parse_instant(after, self.tz, what="after")
        times: list[datetime] = []
        for _ in range(count):
            nxt = self.next_fire(at)
            if nxt is None or nxt > MAX_US:
                break
            if nxt <= at:  # a broken subclass must not loop forever
                raise RuntimeError(f"{type(self).__name__} returned a time not after {at}")
            times.append(us_to_dt(nxt))
            at = nxt
        return times

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) for stores."""
        args = self._args()
        if not self._tz_given:
            args.pop("tz", None)
        return {"type": self.kind, **args}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Trigger)
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_dict().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({args})"


_SLOTS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _slots_of(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """Every slot of a trigger class and its bases (triggers keep no __dict__),
    with a getter that reads them all at once."""
    found = _SLOTS.get(cls)
    if found is None:
        names: list[str] = []
        for klass in cls.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            names.extend([slots] if isinstance(slots, str) else slots)
        found = _SLOTS[cls] = (tuple(names), attrgetter(*names))
    return found


def check_count(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidTrigger(f"{what} must be a whole number >= 1 or None, got {value!r}")
    return value
