"""App: the registry of services and connections."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._exceptions import ServiceNotFound
from ._loops import loop_running
from ._service import (
    Channel,
    Request,
    Response,
    Service,
    _check_name,
    run_coroutine_blocking,
    run_service_async,
    run_service_sync,
    service,
)
from .connections import Connections

if TYPE_CHECKING:
    from ._scheduler import Scheduler
    from .channels.http import HTTPChannel

__all__ = ["App"]


class App:
    """Services and connections by name, and the way to run services outside
    the scheduler.

    ``app.connections`` holds the outgoing connections services use (see
    :class:`~tickwork.connections.Connections`). ``close()`` (or ``with app:``)
    closes their pooled sockets.

    Example::

        app = tw.App()
        app.add_service(SyncData)

        @app.service("ping")
        def ping(request):
            return "pong"

        app.invoke("ping")
    """

    def __init__(self) -> None:
        self._services: dict[str, type[Service]] = {}
        self.connections = Connections()

    def close(self) -> None:
        """Close the connections' pooled sockets (they reopen when used again)."""
        self.connections.close()

    async def aclose(self) -> None:
        """:meth:`close` from async code, with the running loop's async clients."""
        await self.connections.aclose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- registry ---------------------------------------------------------
    def add_service(self, cls: type[Service], *, replace: bool = False) -> type[Service]:
        """Register a Service subclass under its ``name``.

        Raises:
            TypeError: ``cls`` is not a Service subclass.
            ValueError: it has no name, or the name is taken and ``replace`` is false.
        """
        if not (inspect.isclass(cls) and issubclass(cls, Service)):
            raise TypeError(f"add_service() takes a Service subclass, got {cls!r}")
        _check_name(cls.name)
        existing = self._services.get(cls.name)
        if existing is not None and existing is not cls and not replace:
            raise ValueError(
                f"a service by the name of {cls.name!r} is registered already; "
                "pass replace=True to replace it"
            )
        self._services[cls.name] = cls
        return cls

    def service(
        self, name: str, *, expose_http: bool = True
    ) -> Callable[[Callable[..., Any]], type[Service]]:
        """Decorator: make a function into a service and register it."""
        make = service(name, expose_http=expose_http)

        def decorate(func: Callable[..., Any]) -> type[Service]:
            return self.add_service(make(func))

        return decorate

    def remove_service(self, name: str) -> None:
        if self._services.pop(name, None) is None:
            raise ServiceNotFound(name)

    def get_service(self, name: str) -> type[Service]:
        """The service class registered under ``name``.

        Raises:
            ServiceNotFound: nothing is registered under ``name``.
        """
        try:
            return self._services[name]
        except KeyError:
            raise ServiceNotFound(name) from None

    def services(self) -> list[str]:
        return sorted(self._services)

    def __contains__(self, name: object) -> bool:
        return name in self._services

    # -- running ----------------------------------------------------------
    def invoke(self, name: str, payload: Any = None) -> Any:
        """Run a service once, outside the scheduler; returns its response payload.

        Async services run on a fresh event loop; from inside a running loop,
        use :meth:`ainvoke`.

        Raises:
            ServiceNotFound: nothing is registered under ``name``.
            Exception: whatever the service raised.
        """
        return self._invoke(name, payload, channel="invoke")

    async def ainvoke(self, name: str, payload: Any = None) -> Any:
        """Run a service once from async code; returns its response payload."""
        return await self._ainvoke(name, payload, channel="invoke")

    def _invoke(self, name: str, payload: Any, *, channel: Channel, cid: str | None = None) -> Any:
        return self._respond(name, payload, channel=channel, cid=cid).payload

    def _respond(
        self, name: str, payload: Any, *, channel: Channel, cid: str | None = None
    ) -> Response:
        """Run a service; its whole Response (for channels that carry headers)."""
        cls = self.get_service(name)
        instance = cls(self, Request(payload, cid=cid, channel=channel))
        if cls.is_async():
            if loop_running():
                raise RuntimeError(
                    f"service {name!r} is async and an event loop is running in this "
                    "thread; use `await app.ainvoke(...)` or `await self.ainvoke(...)`"
                )
            run_coroutine_blocking(run_service_async(instance))
        else:
            run_service_sync(instance)
        return instance.response

    async def _ainvoke(
        self, name: str, payload: Any, *, channel: Channel, cid: str | None = None
    ) -> Any:
        cls = self.get_service(name)
        instance = cls(self, Request(payload, cid=cid, channel=channel))
        if cls.is_async():
            return await run_service_async(instance)
        return await asyncio.to_thread(run_service_sync, instance)

    # -- channels ---------------------------------------------------------
    def wsgi(self, scheduler: Scheduler | None = None, **options: Any) -> HTTPChannel:
        """The HTTP channel for these services (and ``scheduler``'s jobs), a WSGI app.

        ``options`` go to :class:`~tickwork.channels.http.HTTPChannel`:
        ``token``, ``read_only_token``, ``max_body``, ``tz``. See docs/http.md.

        Example::

            channel = app.wsgi(sched, token=os.environ["TICKWORK_TOKEN"])
            # gunicorn 'myapp:channel'
        """
        from .channels.http import HTTPChannel

        return HTTPChannel(self, scheduler, **options)

    def __repr__(self) -> str:
        return f"App(services={self.services()!r})"
