"""What the connectors share: names, optional imports, secrets kept out of text."""

from __future__ import annotations

from .._optional import require
from .._secrets import MASK, redact_url

__all__ = ["MASK", "check_name", "check_timeout", "redact_url", "require"]


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a {kind} connection needs a non-empty string name, got {name!r}")
    return name


def check_timeout(where: str, timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(
            f"{where}: timeout must be a number of seconds > 0 or None, got {timeout!r}"
        )
    return float(timeout)
