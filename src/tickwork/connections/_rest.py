"""Outgoing REST (plain HTTP) connections, on httpx (the ``rest`` extra).

One :class:`RESTConnection` per name holds the address, the path template,
defaults and a pooled ``httpx.Client`` that every run reuses (keep-alive, TLS
sessions). Async services get the same calls with an ``a`` in front
(``aget``, ``apost``, ...), served by one ``httpx.AsyncClient`` per event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import string
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .._exceptions import RESTError, RESTTimeout
from .._loops import at_loop_end, discard
from .._service import new_cid
from ._common import MASK, check_name, check_timeout, require, tls_context

if TYPE_CHECKING:
    import httpx

__all__ = ["BasicAuth", "BearerAuth", "RESTClient", "RESTConnection"]

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_LOWER = CORRELATION_HEADER.lower()

_DEFAULT: Any = object()
_tasks: set[asyncio.Task[Any]] = set()


class BasicAuth:
    """HTTP basic authentication; the password never appears in a repr."""

    __slots__ = ("password", "username")

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError("BasicAuth takes a username and a password, both strings")
        self.username = username
        self.password = password

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasicAuth):
            return NotImplemented
        return (self.username, self.password) == (other.username, other.password)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={MASK!r})"


class BearerAuth:
    """``Authorization: Bearer <token>``; the token never appears in a repr."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            raise ValueError("BearerAuth takes a non-empty token on one line")
        self.token = token

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BearerAuth):
            return NotImplemented
        return self.token == other.token

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"BearerAuth(token={MASK!r})"


class RESTConnection:
    """A named outgoing HTTP connection.

    Args:
        name: the name services look it up by.
        address: scheme, host and optional port (and base path), e.g.
            ``https://api.example.com``. A ``user:password@`` in it becomes
            basic auth and leaves the URL.
        path: appended to the address; ``{name}`` placeholders are filled from
            the call's ``params`` (URL-quoted) and the other params become the
            query string.
        timeout: seconds for connecting, and for each read and write; None waits forever.
        headers: sent with every request (a call's own headers win).
        auth: ``BasicAuth(user, password)``, a ``(user, password)`` tuple,
            ``BearerAuth(token)``, or any ``httpx.Auth``.
        verify: TLS verification: True (the system's CAs), False (not
            verified; for tests only), a CA bundle's path or an ``ssl.SSLContext``.
        cert: a client certificate: a PEM path, or ``(certfile, keyfile)``.
        follow_redirects: follow 3xx answers (up to 20), as browsers and
            ``requests`` do; an Authorization header is not sent to another origin.
        max_connections: the pool's limit on open connections.

    Raises:
        ValueError, TypeError: a bad argument, named in the message.
        ImportError: httpx is not installed (``pip install 'tickwork[rest]'``).
    """

    kind = "REST"

    def __init__(
        self,
        name: str,
        address: str,
        path: str = "",
        *,
        timeout: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
        follow_redirects: bool = True,
        max_connections: int = 100,
    ) -> None:
        self._httpx = require("httpx", "rest", "the REST connector")
        self.name = check_name("REST", name)
        where = f"REST connection {name!r}"
        self.address, url_auth = _check_address(where, address)
        self.path = _check_path(where, path)
        self._fields = _placeholders(where, self.path)
        # With or without placeholders, "{{" and "}}" are literal braces.
        self._literal_path = "" if self._fields else self.path.format_map({})
        self.timeout = check_timeout(where, timeout)
        self.headers = _check_headers(where, headers)
        if url_auth is not None and auth is not None:
            raise ValueError(f"{where}: give credentials in the address or in auth=, not both")
        self.auth = _check_auth(where, url_auth if url_auth is not None else auth, self._httpx)
        self.verify = verify
        self.cert = cert
        self._tls = _tls(where, verify, cert)
        if not isinstance(follow_redirects, bool):
            raise TypeError(f"{where}: follow_redirects must be True or False")
        self.follow_redirects = follow_redirects
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"{where}: max_connections must be an int")
        if max_connections < 1:
            raise ValueError(f"{where}: max_connections must be >= 1, got {max_connections}")
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._users = 0
        self._retired = False
        # loop -> [client, users, closer]; each entry is touched only on its loop.
        self._aclients: dict[asyncio.AbstractEventLoop, list[Any]] = {}

    # -- clients -------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        httpx = self._httpx
        headers = dict(self.headers)
        auth: Any = None
        if isinstance(self.auth, BasicAuth):
            auth = httpx.BasicAuth(self.auth.username, self.auth.password)
        elif isinstance(self.auth, BearerAuth):
            headers["Authorization"] = f"Bearer {self.auth.token}"
        else:
            auth = self.auth
        return {
            "timeout": httpx.Timeout(self.timeout),
            "headers": headers,
            "auth": auth,
            "verify": self._tls,
            "follow_redirects": self.follow_redirects,
            "limits": httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=min(20, self.max_connections),
            ),
        }

    def _sync_client(self) -> httpx.Client:
        client = self._client
        if client is None:
            client = self._client = self._httpx.Client(**self._client_options())
        return client

    def _async_entry(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is None:
            client = self._httpx.AsyncClient(**self._client_options())

            async def closer() -> None:
                self._aclients.pop(loop, None)
                await client.aclose()

            entry = self._aclients[loop] = [client, 0, closer]
            at_loop_end(loop, closer)
        return entry

    def retire(self) -> None:
        """Stop pooling: close the clients once no call is using them.

        A retired connection still answers a call made on it (with a client
        just for that call); the registry retires a connection it replaced or removed.
        """
        with self._lock:
            self._retired = True
        self._release(force=False)

    def close(self) -> None:
        """Close the pooled clients now; the next call opens new ones."""
        self._release(force=True)

    def _release(self, force: bool) -> None:
        with self._lock:
            if self._client is not None and (force or self._users == 0):
                self._client.close()
                self._client = None
        for loop, entry in list(self._aclients.items()):
            if loop.is_closed():  # ended without its closers; the collector closes the rest
                self._aclients.pop(loop, None)
            elif entry[1] == 0:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(self._aclose_idle, loop)

    def _aclose_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        entry = self._aclients.get(loop)
        if entry is not None and entry[1] == 0:
            discard(loop, entry[2])
            task = loop.create_task(entry[2]())
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

            async def closed() -> None:  # a loop ending meanwhile waits for the close
                await task

            at_loop_end(loop, closed)

    # -- building requests ------------------------------------------------
    def url_for(self, params: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """The URL for these params, and the params left for the query string.

        Raises:
            ValueError: a path placeholder has no value in ``params``.
        """
        query = dict(params) if params else {}
        if not self._fields:
            return self.address + self._literal_path, query
        values = {}
        for field in self._fields:
            if field not in query:
                raise ValueError(
                    f"REST connection {self.name!r}: path {self.path!r} needs the parameter "
                    f"{field!r}; params had {sorted(query)!r}"
                )
            values[field] = quote(str(query.pop(field)), safe="")
        return self.address + self.path.format_map(values), query

    def _build(
        self,
        method: str,
        cid: str | None,
        data: Any,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: Any,
    ) -> tuple[str, dict[str, Any]]:
        url, query = self.url_for(params)
        sent_headers = (
            {k: v for k, v in headers.items() if k.lower() != _CORRELATION_LOWER} if headers else {}
        )
        sent_headers[CORRELATION_HEADER] = cid if cid is not None else new_cid()
        options: dict[str, Any] = {"headers": sent_headers}
        if query:
            options["params"] = query
        if data is not None and json is not None:
            raise ValueError(f"REST connection {self.name!r}: give data= or json=, not both")
        if json is not None:
            options["json"] = json
        elif isinstance(data, str | bytes):
            options["content"] = data
        elif isinstance(data, bytearray | memoryview):
            options["content"] = bytes(data)  # httpx reads other buffers as chunk iterables
        elif data is not None:
            options["data"] = data
        if timeout is not _DEFAULT:
            where = f"REST connection {self.name!r}"
            options["timeout"] = self._httpx.Timeout(check_timeout(where, timeout))
        return url, options

    def _failed(self, method: str, url: str, exc: Exception) -> RESTError:
        # The query string may carry keys; the error shows the URL without it.
        parts = urlsplit(url)
        shown = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        detail = str(exc) or type(exc).__name__
        cls = RESTTimeout if isinstance(exc, self._httpx.TimeoutException) else RESTError
        return cls(self.name, f"{method} {shown} failed: {type(exc).__name__}: {detail}")

    # -- calls -------------------------------------------------------------
    def request(
        self,
        method: str,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        """Send one request and return the ``httpx.Response`` (any status).

        Raises:
            RESTTimeout: the connection, a read or a write timed out.
            RESTError: the exchange could not complete (refused, TLS, protocol,
                too many redirects); ``__cause__`` is httpx's error.
            ValueError: a path placeholder is missing, or both data and json were given.
        """
        method = method.upper()
        url, options = self._build(method, cid, data, json, params, headers, timeout)
        with self._lock:
            self._users += 1
            client = self._sync_client()
        try:
            return client.request(method, url, **options)
        except (self._httpx.HTTPError, self._httpx.InvalidURL) as exc:
            raise self._failed(method, url, exc) from exc
        finally:
            with self._lock:
                self._users -= 1
                if self._retired and self._users == 0 and self._client is not None:
                    self._client.close()
                    self._client = None

    async def arequest(
        self,
        method: str,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        """:meth:`request` for async code, on this loop's pooled ``httpx.AsyncClient``."""
        method = method.upper()
        url, options = self._build(method, cid, data, json, params, headers, timeout)
        entry = self._async_entry()
        entry[1] += 1
        try:
            response: httpx.Response = await entry[0].request(method, url, **options)
            return response
        except (self._httpx.HTTPError, self._httpx.InvalidURL) as exc:
            raise self._failed(method, url, exc) from exc
        finally:
            entry[1] -= 1
            if self._retired and entry[1] == 0 and not entry[0].is_closed:
                loop = asyncio.get_running_loop()
                discard(loop, entry[2])
                await entry[2]()

    def __repr__(self) -> str:
        return (
            f"RESTConnection(name={self.name!r}, address={self.address!r}, path={self.path!r}, "
            f"timeout={self.timeout!r}, auth={self.auth!r})"
        )


class RESTClient:
    """What a service holds as ``self.out.plain_http[name].conn``.

    Every call sends the run's cid as ``X-Correlation-ID`` unless given another.
    ``get(cid=None, params=None, headers=None)``; ``post``, ``put``, ``patch``
    and ``delete`` also take ``data`` (str or bytes: the body; a dict: a form)
    and ``json``. Each returns an ``httpx.Response``, whatever its status;
    call ``raise_for_status()`` to turn 4xx and 5xx into an error. The
    ``a``-prefixed forms (``aget``, ...) are the same calls for async services.
    """

    __slots__ = ("_cid", "connection")

    def __init__(self, connection: RESTConnection, cid: str | None = None) -> None:
        self.connection = connection
        self._cid = cid

    def get(
        self,
        cid: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        return self.connection.request(
            "GET", _cid(cid, self._cid), params=params, headers=headers, timeout=timeout
        )

    async def aget(
        self,
        cid: str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        return await self.connection.arequest(
            "GET", _cid(cid, self._cid), params=params, headers=headers, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"RESTClient({self.connection.name!r}, cid={self._cid!r})"

    # post, put, patch and delete (and their async forms) differ only in the verb.
    post: BodyCall
    put: BodyCall
    patch: BodyCall
    delete: BodyCall
    apost: AsyncBodyCall
    aput: AsyncBodyCall
    apatch: AsyncBodyCall
    adelete: AsyncBodyCall


def _cid(given: str | None, bound: str | None) -> str | None:
    return given if given is not None else bound


class BodyCall(Protocol):
    def __call__(
        self,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response: ...


class AsyncBodyCall(Protocol):
    async def __call__(
        self,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response: ...


def _body_calls(verb: str) -> tuple[Any, Any]:
    def call(
        self: RESTClient,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        return self.connection.request(
            verb, _cid(cid, self._cid), data, json, params, headers, timeout=timeout
        )

    async def acall(
        self: RESTClient,
        cid: str | None = None,
        data: Any = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: Any = _DEFAULT,
    ) -> httpx.Response:
        return await self.connection.arequest(
            verb, _cid(cid, self._cid), data, json, params, headers, timeout=timeout
        )

    call.__name__ = verb.lower()
    call.__qualname__ = f"RESTClient.{call.__name__}"
    acall.__name__ = "a" + verb.lower()
    acall.__qualname__ = f"RESTClient.{acall.__name__}"
    call.__doc__ = f"Send a {verb} with an optional body; returns the ``httpx.Response``."
    acall.__doc__ = f"{verb} for async services, on this loop's ``httpx.AsyncClient``."
    return call, acall


for _verb in ("POST", "PUT", "PATCH", "DELETE"):
    _sync, _async = _body_calls(_verb)
    setattr(RESTClient, _verb.lower(), _sync)
    setattr(RESTClient, "a" + _verb.lower(), _async)
del _verb, _sync, _async


# -- argument checks ----------------------------------------------------------
def _check_address(where: str, address: object) -> tuple[str, BasicAuth | None]:
    if not isinstance(address, str):
        raise TypeError(f"{where}: address must be a string, got {type(address).__name__}")
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{where}: address is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{where}: address must be an http:// or https:// URL with a host, "
            f"got {address if parts.password is None else '<URL with a password>'!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{where}: address must not have a query or fragment; use params")
    auth = None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    if parts.username is not None:
        auth = BasicAuth(unquote(parts.username), unquote(parts.password or ""))
    base = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return base, auth


def _check_path(where: str, path: object) -> str:
    if path is None:
        return ""
    if not isinstance(path, str):
        raise TypeError(f"{where}: path must be a string, got {type(path).__name__}")
    if any(c in path for c in "?#\r\n "):
        raise ValueError(f"{where}: path {path!r} must not hold '?', '#' or whitespace")
    if path and not path.startswith("/"):
        path = "/" + path
    return path


def _placeholders(where: str, path: str) -> tuple[str, ...]:
    fields = []
    try:
        parsed = list(string.Formatter().parse(path))
    except ValueError as exc:
        raise ValueError(f"{where}: path {path!r} has a bad placeholder: {exc}") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(
                f"{where}: path {path!r} has placeholder {{{field}}}; placeholders are "
                "plain names such as {user_id}"
            )
        if field not in fields:
            fields.append(field)
    return tuple(fields)


def _check_headers(where: str, headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{where}: headers must be a mapping of names to values")
    checked = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{where}: header {key!r} must map a string to a string")
        if not key or any(c in key for c in ":\r\n ") or any(c in value for c in "\r\n"):
            raise ValueError(f"{where}: header {key!r} is not a valid name or one-line value")
        checked[key] = value
    return checked


def _check_auth(where: str, auth: object, httpx: Any) -> Any:
    if auth is None or isinstance(auth, BasicAuth | BearerAuth | httpx.Auth):
        return auth
    if isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(x, str) for x in auth):
        return BasicAuth(auth[0], auth[1])
    raise TypeError(
        f"{where}: auth must be BasicAuth(user, password), a (user, password) tuple, "
        f"BearerAuth(token) or an httpx.Auth, got {type(auth).__name__}"
    )


def _tls(where: str, verify: object, cert: object) -> bool | ssl.SSLContext:
    if cert is not None and not (
        isinstance(cert, str)
        or (isinstance(cert, tuple) and len(cert) == 2 and all(isinstance(x, str) for x in cert))
    ):
        raise TypeError(f"{where}: cert must be a PEM path or a (certfile, keyfile) tuple")
    if cert is None and isinstance(verify, bool):
        return verify  # httpx makes the context itself
    context = tls_context(where, verify)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        try:
            context.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"{where}: cannot load the client certificate: {exc}") from None
    return context
