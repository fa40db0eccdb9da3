"""The App's connections by name, and what a service sees of them.

``app.connections`` holds REST and SMTP connections by name and the one
KVDB. They can be added, replaced and removed while a scheduler runs: a run
that has started keeps the connection it looked up; the next lookup sees the
change. A replaced or removed connection closes its pooled sockets once no
call is using them.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._exceptions import ConnectionNotFound
from .._loops import close_loop_resources, forget_closed_loops, loop_running
from ._kvdb import KVDB
from ._rest import RESTClient, RESTConnection
from ._smtp import Security, SMTPClient, SMTPConnection

if TYPE_CHECKING:
    from .._service import Service

__all__ = ["Connections", "EmailAccess", "KVDBAccess", "OutgoingAccess"]

C = TypeVar("C", RESTConnection, SMTPConnection)


class Connections:
    """Named outgoing connections of one App.

    Example::

        app.connections.add_rest("My Data Source", address="http://127.0.0.1:8080", path="/data")
        app.connections.add_smtp("My SMTP", host="127.0.0.1", port=1025, security="none",
                                 from_="scheduler@example.com")
        app.connections.set_kvdb(url="redis://127.0.0.1:6379/0")
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: dict[str, RESTConnection] = {}
        self._smtp: dict[str, SMTPConnection] = {}
        self._kvdb: KVDB | None = None

    # -- REST ------------------------------------------------------------------
    def add_rest(
        self,
        name: str,
        address: str,
        path: str = "",
        timeout: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        verify: bool | str | ssl.SSLContext = True,
        *,
        cert: str | tuple[str, str] | None = None,
        follow_redirects: bool = True,
        max_connections: int = 100,
        replace: bool = False,
    ) -> RESTConnection:
        """Add (or with ``replace=True``, replace) an outgoing REST connection.

        See :class:`~tickwork.connections.RESTConnection` for the arguments.

        Raises:
            ValueError: the name is taken and ``replace`` is false, or an argument is bad.
            ImportError: httpx is not installed (``pip install 'tickwork[rest]'``).
        """
        connection = RESTConnection(
            name,
            address,
            path,
            timeout=timeout,
            headers=headers,
            auth=auth,
            verify=verify,
            cert=cert,
            follow_redirects=follow_redirects,
            max_connections=max_connections,
        )
        self._put(self._rest, connection, replace)
        return connection

    def remove_rest(self, name: str) -> None:
        """Remove a REST connection; runs already using it finish their calls.

        Raises:
            ConnectionNotFound: no REST connection by that name.
        """
        self._pop(self._rest, "REST", name).retire()

    def rest(self, name: str) -> RESTConnection:
        """The REST connection by that name.

        Raises:
            ConnectionNotFound: none by that name; the message lists the known ones.
        """
        return _get(self._rest, "REST", name)

    # -- SMTP ------------------------------------------------------------------
    def add_smtp(
        self,
        name: str,
        host: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        from_: str | None = None,
        timeout: float | None = 10.0,
        *,
        verify: bool | str | ssl.SSLContext = True,
        keep_alive: float = 30.0,
        max_idle: int = 4,
        local_hostname: str | None = None,
        allow_insecure_auth: bool = False,
        replace: bool = False,
    ) -> SMTPConnection:
        """Add (or with ``replace=True``, replace) an outgoing SMTP connection.

        See :class:`~tickwork.connections.SMTPConnection` for the arguments.

        Raises:
            ValueError: the name is taken and ``replace`` is false, or an argument is bad.
        """
        connection = SMTPConnection(
            name,
            host,
            port,
            username,
            password,
            security,
            from_,
            timeout,
            verify=verify,
            keep_alive=keep_alive,
            max_idle=max_idle,
            local_hostname=local_hostname,
            allow_insecure_auth=allow_insecure_auth,
        )
        self._put(self._smtp, connection, replace)
        return connection

    def remove_smtp(self, name: str) -> None:
        """Remove an SMTP connection; a send in progress finishes.

        Raises:
            ConnectionNotFound: no SMTP connection by that name.
        """
        self._pop(self._smtp, "SMTP", name).retire()

    def smtp(self, name: str) -> SMTPConnection:
        """The SMTP connection by that name.

        Raises:
            ConnectionNotFound: none by that name; the message lists the known ones.
        """
        return _get(self._smtp, "SMTP", name)

    # -- KVDB ------------------------------------------------------------------
    def set_kvdb(
        self, url: str | None = None, *, timeout: float | None = 10.0, **options: Any
    ) -> KVDB | None:
        """Use Redis at ``url`` as the KVDB (replacing any before); None removes it.

        Raises:
            ValueError: not a Redis URL (the message never shows its password).
            ImportError: redis-py is not installed (``pip install 'tickwork[redis]'``).
        """
        kvdb = None if url is None else KVDB(url, timeout=timeout, **options)
        with self._lock:
            old, self._kvdb = self._kvdb, kvdb
        if old is not None:
            old.retire()
        return kvdb

    @property
    def kvdb(self) -> KVDB:
        """The KVDB.

        Raises:
            ConnectionNotFound: none is set.
        """
        kvdb = self._kvdb
        if kvdb is None:
            raise ConnectionNotFound(
                "KVDB", "kvdb", [], hint="set one with app.connections.set_kvdb(url=...)"
            )
        return kvdb

    # -- all -------------------------------------------------------------------
    def names(self) -> dict[str, list[str]]:
        """The names by kind: ``{"rest": [...], "smtp": [...], "kvdb": [...]}``."""
        with self._lock:
            return {
                "rest": sorted(self._rest),
                "smtp": sorted(self._smtp),
                "kvdb": [] if self._kvdb is None else ["kvdb"],
            }

    def close(self) -> None:
        """Close every pooled socket (the connections stay configured and
        open new ones when used again). Async clients on a loop that is still
        running in another thread close there; those of the calling thread's
        running loop need :meth:`aclose`."""
        with self._lock:
            rest = list(self._rest.values())
            smtp = list(self._smtp.values())
            kvdb = self._kvdb
        for connection in rest:
            connection.close()
        for mail in smtp:
            mail.close()
        if kvdb is not None:
            kvdb.close()
        forget_closed_loops()

    async def aclose(self) -> None:
        """:meth:`close`, and the async clients of the running loop."""
        await close_loop_resources()
        await asyncio.to_thread(self.close)

    def _put(self, table: dict[str, C], connection: C, replace: bool) -> None:
        with self._lock:
            old = table.get(connection.name)
            if old is not None and not replace:
                raise ValueError(
                    f"a {connection.kind} connection by the name of {connection.name!r} "
                    "exists already; pass replace=True to replace it"
                )
            table[connection.name] = connection
        if old is not None:
            old.retire()

    def _pop(self, table: dict[str, C], kind: str, name: str) -> C:
        with self._lock:
            connection = table.pop(name, None)
            if connection is None:
                raise ConnectionNotFound(kind, name, list(table))
        return connection

    def __repr__(self) -> str:
        names = self.names()
        return f"Connections(rest={names['rest']!r}, smtp={names['smtp']!r}, kvdb={self._kvdb!r})"


def _get(table: dict[str, C], kind: str, name: str) -> C:
    try:
        return table[name]
    except KeyError:
        raise ConnectionNotFound(kind, name, list(table)) from None


# -- what a service sees ----------------------------------------------------------
class _Entry(Generic[C]):
    """``self.out.plain_http[name]``: the connection's settings and its ``conn``."""

    __slots__ = ("config", "conn", "name")

    def __init__(self, config: C, conn: Any) -> None:
        self.name = config.name
        self.config: C = config
        self.conn = conn

    def __repr__(self) -> str:
        return f"<{self.config.kind} connection {self.name!r}>"


class _Lookup(Generic[C]):
    """Connections of one kind by name, as a read-only mapping."""

    __slots__ = ("_cid", "_client", "_kind", "_table")

    def __init__(self, table: dict[str, C], kind: str, client: Any, cid: str) -> None:
        self._table: dict[str, C] = table
        self._kind = kind
        self._client = client
        self._cid = cid

    def __getitem__(self, name: str) -> _Entry[C]:
        config = _get(self._table, self._kind, name)
        return _Entry(config, self._client(config, self._cid))

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self._table else default

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._table))

    def keys(self) -> list[str]:
        return sorted(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"<{self._kind} connections {sorted(self._table)!r}>"


class OutgoingAccess:
    """``self.out``: ``plain_http`` (also ``rest``) by name."""

    __slots__ = ("plain_http",)

    def __init__(self, connections: Connections, cid: str) -> None:
        self.plain_http: _Lookup[RESTConnection] = _Lookup(
            connections._rest, "REST", RESTClient, cid
        )

    @property
    def rest(self) -> _Lookup[RESTConnection]:
        return self.plain_http


class EmailAccess:
    """``self.email``: ``smtp`` by name."""

    __slots__ = ("smtp",)

    def __init__(self, connections: Connections, cid: str) -> None:
        self.smtp: _Lookup[SMTPConnection] = _Lookup(connections._smtp, "SMTP", SMTPClient, cid)


class KVDBAccess:
    """``self.kvdb``: ``conn`` is a ``redis.Redis`` for a sync service, a
    ``redis.asyncio.Redis`` (for the running loop) for an async one;
    ``sync_conn`` and ``async_conn`` pick one explicitly."""

    __slots__ = ("_connections", "_service")

    def __init__(self, connections: Connections, service: Service) -> None:
        self._connections = connections
        self._service = service

    @property
    def conn(self) -> Any:
        kvdb = self._connections.kvdb
        if type(self._service).is_async() and loop_running():
            return kvdb.async_conn
        return kvdb.conn

    @property
    def sync_conn(self) -> Any:
        return self._connections.kvdb.conn

    @property
    def async_conn(self) -> Any:
        return self._connections.kvdb.async_conn
