"""The one exception tree of tickwork.

Every error tickwork raises on purpose derives from :class:`TickworkError`.
Leaves also derive from the matching built-in, so code that already catches
``ValueError`` or ``LookupError`` keeps working::

    TickworkError
    ├── InvalidTrigger(ValueError)       a trigger argument is wrong
    ├── ServiceNotFound(LookupError)     no service registered by that name
    ├── JobNotFound(LookupError)         no job by that name
    ├── DuplicateJob(ValueError)         a job by that name exists already
    ├── ConnectionNotFound(LookupError)  no connection by that name
    ├── StoreError                       a store cannot be opened, read or written
    │   └── StoreReset                   ... because it was wiped or replaced under it
    └── OutgoingError                    a call over an outgoing connection failed
        ├── RESTError                    the HTTP exchange could not complete
        │   └── RESTTimeout(TimeoutError)  ... because it timed out
        └── SMTPError                    connecting, TLS, login or sending failed

An :class:`OutgoingError` names the connection (never its secrets) and keeps
the library's own error as ``__cause__``. HTTP error statuses are answers,
not failures: a REST call returns the response, whatever its status.

Messages quote the offending name with ``!r``.
"""

from __future__ import annotations

__all__ = [
    "ConnectionNotFound",
    "DuplicateJob",
    "InvalidTrigger",
    "JobNotFound",
    "OutgoingError",
    "RESTError",
    "RESTTimeout",
    "SMTPError",
    "ServiceNotFound",
    "StoreError",
    "StoreReset",
    "TickworkError",
]


class TickworkError(Exception):
    """Root of every error tickwork raises on purpose."""


class InvalidTrigger(TickworkError, ValueError):
    """A trigger was given a bad argument; the message names the bad part."""


class ServiceNotFound(TickworkError, LookupError):
    """No service is registered under the given name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No service by the name of {name!r} is registered")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class JobNotFound(TickworkError, LookupError):
    """No job exists under the given name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No job by the name of {name!r} was found")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateJob(TickworkError, ValueError):
    """A job with the given name exists already (pass ``replace=True`` to replace it)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"A job by the name of {name!r} exists already; pass replace=True to replace it"
        )
        self.name = name


class ConnectionNotFound(TickworkError, LookupError):
    """No connection of the requested kind exists under the given name."""

    def __init__(
        self, kind: str, name: str, known: list[str] | None = None, hint: str = ""
    ) -> None:
        known_text = ", ".join(repr(n) for n in sorted(known or [])) or "none"
        super().__init__(
            f"No {kind} connection by the name of {name!r}; the known ones are: {known_text}"
            + (f"; {hint}" if hint else "")
        )
        self.kind = kind
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class StoreError(TickworkError):
    """A store cannot be opened, read or written; the message names the store
    (never its credentials) and the part that failed."""


class StoreReset(StoreError):
    """The store was wiped or replaced since it was opened: a Redis server
    restarted without its data (or FLUSHALL), a SQLite file deleted or
    swapped for another. The jobs it held are gone.

    Raised by ``flush()`` and ``fleet_round()``. The store has made itself
    usable again before raising (an empty store, schema included); the writes
    that were pending stay pending until the next ``flush()``, so that the
    caller can first write its jobs back with ``put_job``. The message names
    the store.
    """


class OutgoingError(TickworkError):
    """A call over an outgoing connection failed.

    Attributes:
        connection: the connection's name.
    """

    kind = "outgoing"

    def __init__(self, connection: str, detail: str) -> None:
        super().__init__(f"{self.kind} connection {connection!r}: {detail}")
        self.connection = connection

    def __str__(self) -> str:
        return str(self.args[0])


class RESTError(OutgoingError):
    """An HTTP request could not complete: refused, reset, TLS, protocol,
    too many redirects. Not raised for 4xx and 5xx answers."""

    kind = "REST"


class RESTTimeout(RESTError, TimeoutError):
    """Connecting, or a read or a write, took longer than the connection's timeout."""


class SMTPError(OutgoingError):
    """Sending e-mail failed.

    Attributes:
        stage: where it failed: ``connect``, ``tls``, ``auth`` or ``send``.
        code: the server's SMTP reply code, when it gave one.
        refused: for ``send``, the recipients the server refused, each with
            its ``(code, reply)``.
    """

    kind = "SMTP"

    def __init__(
        self,
        connection: str,
        detail: str,
        *,
        stage: str,
        code: int | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(connection, detail)
        self.stage = stage
        self.code = code
        self.refused = refused or {}
