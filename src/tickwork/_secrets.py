"""Secrets kept out of text: what reprs, logs and errors show instead."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["MASK", "redact_url"]

MASK = "***"


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
