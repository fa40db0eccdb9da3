"""What the connectors share: names, optional imports, secrets kept out of text."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["MASK", "check_name", "check_timeout", "redact_url", "require"]

MASK = "***"


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import an optional dependency, or say which extra brings it.

    Raises:
        ImportError: the module is not installed; the message has the pip line.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the {module!r} package, which is not installed; "
            f"install it with: pip install 'tickwork[{extra}]'"
        ) from exc


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


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        user = parts.username or ""
        netloc = f"{user}:{MASK}@{host}"
        return urlunsplit(
            SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment)
        )
    except ValueError:
        return "<unparsable URL>"


def describe_secret(value: Any) -> str:
    return "None" if value is None else MASK
