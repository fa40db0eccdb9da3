"""Services: units of integration logic, run by the scheduler, invoked, or called over channels."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ._extra import parse_extra
from ._loops import close_loop_resources
from ._time import us_to_dt

if TYPE_CHECKING:
    from ._app import App
    from .connections import EmailAccess, KVDBAccess, OutgoingAccess

__all__ = [
    "Channel",
    "JobInfo",
    "Request",
    "Response",
    "Service",
    "new_cid",
    "service",
]

Channel = Literal["scheduler", "invoke", "cli", "http"]

_CID_PREFIX = os.urandom(6).hex()
_cid_counter = count(1)
_cid_lock = threading.Lock()


def new_cid() -> str:
    """A correlation id unique to one run: a random per-process prefix and a counter.

    Cheaper than uuid4 (it runs on every fire) and just as unique in practice:
    48 random bits tell processes apart, the counter tells runs apart.
    """
    return "%s%010x" % (_CID_PREFIX, next(_cid_counter))  # noqa: UP031 - the fastest form


class JobInfo:
    """What a service run by the scheduler knows of its job.

    Attributes:
        name: the job's name.
        scheduled_for: the due time this run is for (an aware UTC datetime).
        run_number: the number of the job's scheduled run, from 1; a manual
            run carries the number the next scheduled run will have.
        manual: True for ``execute_now`` runs.
        attempt: 1, or the retry attempt's number.
    """

    __slots__ = ("attempt", "manual", "name", "run_number", "scheduled_us")

    def __init__(
        self, name: str, scheduled_us: int, run_number: int, manual: bool = False, attempt: int = 1
    ) -> None:
        self.name = name
        self.scheduled_us = scheduled_us
        self.run_number = run_number
        self.manual = manual
        self.attempt = attempt

    @property
    def scheduled_for(self) -> datetime:
        return us_to_dt(self.scheduled_us)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobInfo):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in JobInfo.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"JobInfo(name={self.name!r}, scheduled_for={self.scheduled_for.isoformat()!r}, "
            f"run_number={self.run_number}, manual={self.manual}, attempt={self.attempt})"
        )


class Request:
    """What a service is asked to do.

    Attributes:
        raw_request: the job's extra (or the invoke payload) exactly as given.
        payload: the parsed form of it (see ``parse_extra``).
        cid: the correlation id, unique per run.
        channel: how the service was reached: ``scheduler``, ``invoke``, ``cli``, ``http``.
        job: for scheduler runs, the job's name, ``scheduled_for``, ``run_number``
            and ``manual``; None otherwise.
    """

    __slots__ = ("_parsed", "_payload", "channel", "cid", "job", "raw_request")

    def __init__(
        self,
        raw_request: Any = None,
        *,
        cid: str | None = None,
        channel: Channel = "invoke",
        job: JobInfo | None = None,
        payload: Any = None,
        parsed: bool = False,
    ) -> None:
        self.raw_request = raw_request
        self.cid = cid if cid is not None else new_cid()
        self.channel = channel
        self.job = job
        self._payload = payload
        self._parsed = parsed

    @property
    def payload(self) -> Any:
        if not self._parsed:
            self._payload = parse_extra(self.raw_request)
            self._parsed = True
        return self._payload

    def __repr__(self) -> str:
        return f"Request(cid={self.cid!r}, channel={self.channel!r}, job={self.job!r})"


class Response:
    """What a service answers: set ``payload``."""

    __slots__ = ("headers", "payload")

    def __init__(self) -> None:
        self.payload: Any = None
        self.headers: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Response(payload={self.payload!r})"


class Service:
    """Integration logic. Subclass it, set ``name`` and write ``handle``.

    ``handle`` may be a plain method or ``async def``; so may the hooks. They
    run in this order: ``before_job``, ``before_handle``, ``handle``,
    ``after_handle``, ``after_job``, then ``finalize_handle``, which always
    runs, also after an error. ``before_job`` and ``after_job`` run only when
    the scheduler runs the service.

    Example::

        class Ping(tw.Service):
            name = "ping"

            def handle(self) -> None:
                self.response.payload = {"pong": self.request.payload}
    """

    name: ClassVar[str] = ""
    #: False keeps the service off the HTTP channel (``POST /services/{name}``
    #: answers 404); the scheduler, ``invoke`` and the command line still run it.
    expose_http: ClassVar[bool] = True

    app: App
    request: Request
    response: Response

    def __init__(self, app: App, request: Request) -> None:
        self.app = app
        self.request = request
        self.response = Response()

    @property
    def logger(self) -> logging.Logger:
        """A stdlib logger named after the service (``tickwork.service.<name>``)."""
        cls = type(self)
        cached = cls.__dict__.get("_tw_logger")
        if cached is None:
            cached = logging.getLogger(f"tickwork.service.{cls.name or cls.__name__}")
            cls._tw_logger = cached  # type: ignore[attr-defined]
        return cached

    @property
    def cid(self) -> str:
        return self.request.cid

    @property
    def out(self) -> OutgoingAccess:
        """Outgoing connections: ``self.out.plain_http[name].conn`` (alias
        ``self.out.rest``), sending this run's cid as ``X-Correlation-ID``."""
        from .connections import OutgoingAccess

        return OutgoingAccess(self.app.connections, self.request.cid)

    @property
    def email(self) -> EmailAccess:
        """E-mail connections: ``self.email.smtp[name].conn.send(message)``."""
        from .connections import EmailAccess

        return EmailAccess(self.app.connections, self.request.cid)

    @property
    def kvdb(self) -> KVDBAccess:
        """The KVDB: ``self.kvdb.conn`` is a redis-py client (asyncio for async services)."""
        from .connections import KVDBAccess

        return KVDBAccess(self.app.connections, self)

    def handle(self) -> Any:
        """The service's logic. Override it (sync or async)."""
        raise NotImplementedError(f"service {self.name!r} does not implement handle()")

    def before_job(self) -> Any:
        """Runs first, on the scheduler channel only."""

    def before_handle(self) -> Any:
        """Runs right before ``handle``."""

    def after_handle(self) -> Any:
        """Runs after ``handle`` returned without an error."""

    def after_job(self) -> Any:
        """Runs after ``after_handle``, on the scheduler channel only."""

    def finalize_handle(self) -> Any:
        """Always runs last, also after an error."""

    def invoke(self, name: str, payload: Any = None) -> Any:
        """Run another service by name with the same cid; returns its response payload.

        Raises:
            ServiceNotFound: no service by that name is registered.
        """
        return self.app._invoke(name, payload, channel="invoke", cid=self.cid)

    async def ainvoke(self, name: str, payload: Any = None) -> Any:
        """:meth:`invoke` for async services: awaits an async target on this loop."""
        return await self.app._ainvoke(name, payload, channel="invoke", cid=self.cid)

    @classmethod
    def is_async(cls) -> bool:
        """True when any of the service's steps must be awaited."""
        cached = _IS_ASYNC.get(cls)
        if cached is None:
            cached = _IS_ASYNC[cls] = any(
                inspect.iscoroutinefunction(getattr(cls, hook))
                for hook in (*_SCHEDULER_HOOKS, "handle")
            )
        return cached

    @classmethod
    def _overridden(cls) -> tuple[str, ...]:
        """The hooks this class overrides, so the runner skips the empty ones."""
        cached = _HOOKS.get(cls)
        if cached is None:
            cached = _HOOKS[cls] = tuple(
                h for h in _SCHEDULER_HOOKS if getattr(cls, h) is not getattr(Service, h)
            )
        return cached


_SCHEDULER_HOOKS = ("before_job", "before_handle", "after_handle", "after_job", "finalize_handle")
# Per service class, looked up on every run: keyed by the class itself (a
# class's own __dict__ is a new mappingproxy on each access). Weak keys, so
# classes made on the fly (tests, function services) can still go away.
_HOOKS: weakref.WeakKeyDictionary[type, tuple[str, ...]] = weakref.WeakKeyDictionary()
_IS_ASYNC: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def run_service_sync(instance: Service) -> Any:
    """Run a sync service's steps in order; returns the response payload."""
    hooks = type(instance)._overridden()
    scheduled = instance.request.channel == "scheduler"
    try:
        if scheduled and "before_job" in hooks:
            instance.before_job()
        if "before_handle" in hooks:
            instance.before_handle()
        instance.handle()
        if "after_handle" in hooks:
            instance.after_handle()
        if scheduled and "after_job" in hooks:
            instance.after_job()
    finally:
        if "finalize_handle" in hooks:
            instance.finalize_handle()
    return instance.response.payload


async def run_service_async(instance: Service) -> Any:
    """Run a service whose steps may be async; returns the response payload."""
    scheduled = instance.request.channel == "scheduler"
    try:
        if scheduled:
            await _maybe_await(instance.before_job())
        await _maybe_await(instance.before_handle())
        await _maybe_await(instance.handle())
        await _maybe_await(instance.after_handle())
        if scheduled:
            await _maybe_await(instance.after_job())
    finally:
        await _maybe_await(instance.finalize_handle())
    return instance.response.payload


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def service(
    name: str, *, expose_http: bool = True
) -> Callable[[Callable[..., Any]], type[Service]]:
    """Make a function into a service class.

    The function receives the :class:`Request`; its return value becomes the
    response payload. ``async def`` functions make async services. A function
    that takes a second argument also receives the Service instance, for its
    connections (``service.out``, ``service.email``, ``service.kvdb``), its
    logger and ``invoke``. ``expose_http=False`` keeps it off the HTTP channel.

    Example::

        @tw.service("greet")
        def greet(request: tw.Request) -> str:
            return f"hello {request.payload['who']}"

        @tw.service("fetch")
        def fetch(request: tw.Request, service: tw.Service) -> str:
            return service.out.rest["Source"].conn.get().text
    """
    _check_name(name)

    def decorate(func: Callable[..., Any]) -> type[Service]:
        with_service = _takes_two(func)
        if inspect.iscoroutinefunction(func):

            async def handle_async(self: Service) -> None:
                result: Awaitable[Any] = (
                    func(self.request, self) if with_service else func(self.request)
                )
                self.response.payload = await result

            namespace: dict[str, Any] = {"handle": handle_async}
        elif with_service:

            def handle_with_service(self: Service) -> None:
                self.response.payload = func(self.request, self)

            namespace = {"handle": handle_with_service}
        else:

            def handle_sync(self: Service) -> None:
                self.response.payload = func(self.request)

            namespace = {"handle": handle_sync}
        namespace.update(
            name=name,
            expose_http=expose_http,
            __doc__=func.__doc__,
            __module__=func.__module__,
            __qualname__=func.__qualname__,
            __wrapped__=func,
        )
        return type(func.__name__, (Service,), namespace)

    return decorate


def _takes_two(func: Callable[..., Any]) -> bool:
    """True when ``func`` requires a second positional argument."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    # Only a required second parameter: ``f(request, limit=10)`` keeps its default.
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 2 and positional[1].default is inspect.Parameter.empty


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a service name must be a non-empty string, got {name!r}")


def run_coroutine_blocking(coro: Awaitable[Any]) -> Any:
    """Run a coroutine to completion from sync code on a thread with no running loop."""

    async def wrapper() -> Any:
        try:
            return await coro
        finally:
            await close_loop_resources()

    return asyncio.run(wrapper())
