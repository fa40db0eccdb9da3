"""Time helpers: zones, parsing, and the integer-microsecond instants used inside.

Inside tickwork an instant is an ``int``: microseconds since the Unix epoch in
UTC. Integers are exact (``start + k * step`` never drifts), compare fast in
the due-queue heap, and serialize as plain JSON. Datetimes appear only at the
public surface, always aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as _dateparser

from ._exceptions import InvalidTrigger

__all__ = [
    "EPOCH",
    "MAX_US",
    "MIN_US",
    "US_PER_SECOND",
    "dt_to_us",
    "get_zone",
    "local_to_us",
    "parse_instant",
    "td_to_us",
    "us_to_dt",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_SECOND = 1_000_000
_ONE_US = timedelta(microseconds=1)
#: The first and last instants a datetime can hold (years 1 and 9999, UTC).
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_799_999_999


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def get_zone(tz: str | tzinfo | None, *, what: str = "tz") -> tzinfo:
    """Return the zone for an IANA name (or pass a tzinfo through).

    Raises:
        InvalidTrigger: the name is not a known IANA zone.
    """
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise InvalidTrigger(f"{what} must be an IANA time zone name, got {tz!r}")
    try:
        return _zone(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTrigger(f"unknown time zone {tz!r} given as {what}") from None


def zone_name(zone: tzinfo) -> str:
    """The IANA name of a zone, for serialization and messages."""
    if zone is UTC:
        return "UTC"
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) else str(zone)


def dt_to_us(value: datetime) -> int:
    """Microseconds since the epoch for an aware datetime (exact, no float)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def us_to_dt(value: int, zone: tzinfo = UTC) -> datetime:
    """The aware datetime for an instant, in ``zone`` (UTC by default).

    Within a day of the first or last instant (:data:`MIN_US`, :data:`MAX_US`)
    the zone's offset can push the wall time out of datetime's range; then
    the same instant comes back in UTC, rather than an error.

    Raises:
        OverflowError: the instant is outside ``MIN_US`` .. ``MAX_US``.
    """
    dt = EPOCH + timedelta(microseconds=value)
    if zone is UTC:
        return dt
    try:
        return dt.astimezone(zone)
    except OverflowError:
        return dt


def td_to_us(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * US_PER_SECOND + value.microseconds


def is_nonexistent(local: datetime) -> bool:
    """True when the naive-with-zone ``local`` lies in a DST gap of its zone."""
    roundtrip = local.astimezone(UTC).astimezone(local.tzinfo)
    return roundtrip.replace(tzinfo=None) != local.replace(tzinfo=None)


def local_to_us(local: datetime, zone: tzinfo, *, what: str, reject_gap: bool = True) -> int:
    """Read a naive datetime as a wall time in ``zone``.

    An ambiguous wall time (the repeated hour when clocks fall back) means the
    first pass unless ``local.fold == 1``.

    Raises:
        InvalidTrigger: ``reject_gap`` is set and the wall time does not exist
            in the zone (it falls in a spring-forward gap).
    """
    placed = local.replace(tzinfo=zone)
    if reject_gap and zone is not UTC and is_nonexistent(placed):
        raise InvalidTrigger(
            f"{what} {local.isoformat()} does not exist in {zone_name(zone)}: "
            "it falls in the gap when clocks spring forward"
        )
    return dt_to_us(placed)


def _parse_text(text: str, what: str) -> datetime:
    # The standard library's parser is C and reads what stores write; dateutil
    # reads the rest of ISO 8601, then free-form text.
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return _dateparser.isoparse(text)
    except ValueError:
        pass
    try:
        return _dateparser.parse(text)
    except (ValueError, OverflowError):
        raise InvalidTrigger(f"{what} {text!r} is not a date and time") from None


def parse_instant(value: object, zone: tzinfo, *, what: str) -> int:
    """Parse a datetime or string into an instant; naive values are wall times in ``zone``.

    Raises:
        InvalidTrigger: the value is neither a datetime nor a parseable string,
            names a wall time that does not exist in ``zone``, or lies outside
            the years 1 to 9999 in UTC.
    """
    text = value
    if isinstance(value, str):
        value = _parse_text(value, what)
    if not isinstance(value, datetime):
        raise InvalidTrigger(
            f"{what} must be a datetime or an ISO 8601 string, got {type(value).__name__}"
        )
    out_of_range = InvalidTrigger(
        f"{what} {_shown(text)} is out of range: in UTC it falls outside the years 1 to 9999"
    )
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            instant = local_to_us(value, zone, what=what)
        else:
            instant = dt_to_us(value)
    except OverflowError:  # the zone's offset takes it past datetime's range
        raise out_of_range from None
    except InvalidTrigger:
        raise
    except ValueError as exc:  # a tzinfo whose offset datetime refuses (+25:00)
        raise InvalidTrigger(f"{what} {_shown(text)} cannot be read: {exc}") from None
    if not MIN_US <= instant <= MAX_US:
        raise out_of_range
    return instant


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
