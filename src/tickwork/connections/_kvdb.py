"""The key-value database: Redis through redis-py (the ``redis`` extra).

One KVDB per App. ``conn`` is a pooled, thread-safe ``redis.Redis``; async
services get a ``redis.asyncio.Redis`` made for their event loop (one per
loop, closed with it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .._loops import at_loop_end
from ._common import check_timeout, redact_url, require

__all__ = ["KVDB"]

_SCHEMES = ("redis://", "rediss://", "unix://")


class KVDB:
    """Redis as the App's key-value store.

    Args:
        url: ``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS,
            or ``unix:///path/to/socket``. The password never appears in a repr,
            a log line or an error tickwork writes.
        timeout: seconds for connecting and for each command; None waits forever.
        options: passed to ``redis.Redis.from_url`` (and the asyncio form), e.g.
            ``decode_responses=True`` to get str instead of bytes.

    Raises:
        ValueError: the URL is not a Redis URL.
        ImportError: redis-py is not installed (``pip install 'tickwork[redis]'``).
    """

    kind = "KVDB"

    def __init__(self, url: str, *, timeout: float | None = 10.0, **options: Any) -> None:
        self._redis = require("redis", "redis", "the KVDB connection")
        if not isinstance(url, str) or not url.startswith(_SCHEMES):
            shown = redact_url(url) if isinstance(url, str) else repr(url)
            raise ValueError(
                f"KVDB: url must start with redis://, rediss:// or unix://, got {shown!r}"
            )
        self._url = url
        self.url = redact_url(url)
        self.timeout = check_timeout("KVDB", timeout)
        self._options = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            **options,
        }
        try:
            self._client: Any = self._redis.Redis.from_url(url, **self._options)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"KVDB {self.url!r}: {exc}") from None
        self._aclients: dict[asyncio.AbstractEventLoop, Any] = {}

    @property
    def conn(self) -> Any:
        """The ``redis.Redis`` client (thread-safe, pooled)."""
        return self._client

    @property
    def async_conn(self) -> Any:
        """A ``redis.asyncio.Redis`` for the running event loop.

        Raises:
            RuntimeError: no event loop is running in this thread.
        """
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = self._redis.asyncio.Redis.from_url(self._url, **self._options)
            self._aclients[loop] = client

            async def closer() -> None:
                self._aclients.pop(loop, None)
                await client.aclose()

            at_loop_end(loop, closer)
        return client

    def retire(self) -> None:
        """Disconnect the idle pooled connections; commands in flight finish."""
        self._client.connection_pool.disconnect(inuse_connections=False)

    def close(self) -> None:
        """Close the sync client's pool (async clients close with their loops)."""
        self._client.close()
        for loop in [loop for loop in self._aclients if loop.is_closed()]:
            self._aclients.pop(loop, None)

    def __repr__(self) -> str:
        return f"KVDB(url={self.url!r})"
