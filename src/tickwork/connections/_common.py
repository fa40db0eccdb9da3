"""What the connectors share: names, optional imports, secrets kept out of text."""

from __future__ import annotations

import ssl

from .._optional import require
from .._secrets import MASK, redact_url

__all__ = ["MASK", "check_name", "check_timeout", "redact_url", "require", "tls_context"]


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


def tls_context(where: str, verify: object) -> ssl.SSLContext:
    """The client TLS context for ``verify``: True (the system's CAs), False
    (no checks; tests only), a CA bundle's path, or an ``ssl.SSLContext`` as is.

    Raises:
        ValueError: the CA bundle cannot be loaded.
        TypeError: ``verify`` is none of those.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"{where}: cannot load the CA bundle {verify!r}: {exc}") from None
    raise TypeError(f"{where}: verify must be True, False, a CA bundle path or an SSLContext")
