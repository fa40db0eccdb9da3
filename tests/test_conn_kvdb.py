"""The KVDB against a real redis-server: sync and async services, replacement, secrets."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import tickwork as tw
from tickwork.testing.servers import RedisServer


@pytest.fixture
def kv_app(redis_url: str) -> Iterator[tw.App]:
    app = tw.App()
    app.connections.set_kvdb(url=redis_url)
    yield app
    app.close()


def test_sync_service_gets_a_redis_client(kv_app: tw.App) -> None:
    import redis

    @kv_app.service("store")
    def store(request: tw.Request) -> None:
        raise AssertionError("replaced below")

    class Store(tw.Service):
        name = "store"

        def handle(self) -> None:
            assert isinstance(self.kvdb.conn, redis.Redis)
            self.kvdb.conn.set("latest.data", self.request.payload["data"])
            self.response.payload = self.kvdb.conn.get("latest.data")

    kv_app.add_service(Store, replace=True)
    assert kv_app.invoke("store", {"data": "abc"}) == b"abc"
    assert kv_app.connections.kvdb.conn.get("latest.data") == b"abc"


def test_options_pass_through_to_redis_py(redis_url: str) -> None:
    with tw.App() as app:
        app.connections.set_kvdb(url=redis_url, decode_responses=True)
        app.connections.kvdb.conn.set("k", "v")
        assert app.connections.kvdb.conn.get("k") == "v"


def test_async_service_gets_an_asyncio_client_per_loop(redis_url: str) -> None:
    import redis.asyncio

    kv_app = tw.App()
    kv_app.connections.set_kvdb(url=redis_url, client_name="tw-per-loop-test")

    seen: list[Any] = []

    class AsyncStore(tw.Service):
        name = "astore"

        async def handle(self) -> None:
            conn = self.kvdb.conn
            assert isinstance(conn, redis.asyncio.Redis)
            assert conn is self.kvdb.async_conn  # one client per loop
            seen.append(conn)
            await conn.incr("count")
            self.response.payload = int(await conn.get("count"))
            # The sync client is there too, when a service wants it.
            assert self.kvdb.sync_conn is kv_app.connections.kvdb.conn

    kv_app.add_service(AsyncStore)
    # Each app.invoke of an async service runs on a fresh loop, whose client
    # is closed with it (filterwarnings=error would catch a leaked socket).
    assert kv_app.invoke("astore") == 1
    assert kv_app.invoke("astore") == 2
    assert seen[0] is not seen[1]

    async def twice_on_one_loop() -> list[Any]:
        results = [await kv_app.ainvoke("astore"), await kv_app.ainvoke("astore")]
        await kv_app.aclose()
        return results

    assert asyncio.run(twice_on_one_loop()) == [3, 4]
    assert seen[2] is seen[3]
    sync = kv_app.connections.kvdb.conn
    assert [c["name"] for c in sync.client_list()].count("tw-per-loop-test") == 1
    kv_app.close()


def test_asyncio_run_of_your_own_closes_the_loops_clients(redis_url: str) -> None:
    """``asyncio.run`` ends its loop by finalising async generators; tickwork
    watches each loop that way, so a loop of the user's own that never calls
    ``app.aclose()`` still closes its async clients before it closes."""
    from tickwork import _loops

    app = tw.App()
    app.connections.set_kvdb(url=redis_url, client_name="tw-own-loop-test")

    class Touch(tw.Service):
        name = "touch"

        async def handle(self) -> None:
            await self.kvdb.conn.incr("touched")

    app.add_service(Touch)

    async def main() -> None:
        await app.ainvoke("touch")
        await app.ainvoke("touch")

    for _ in range(3):
        asyncio.run(main())
    sync = app.connections.kvdb.conn
    assert sync.get("touched") == b"6"
    assert [c["name"] for c in sync.client_list()].count("tw-own-loop-test") == 1  # this one
    assert app.connections.kvdb._aclients == {}
    assert not any(loop.is_closed() for loop in _loops._closers)
    app.close()


def test_async_service_on_the_scheduler(kv_app: tw.App) -> None:
    class Count(tw.Service):
        name = "count"

        async def handle(self) -> None:
            await self.kvdb.conn.rpush("runs", str(self.request.job.run_number))

    kv_app.add_service(Count)
    clock = tw.FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    sched = tw.Scheduler(kv_app, clock=clock)
    sched.add_job("count", "count", tw.Interval(minutes=5, repeats=3))
    runs = sched.advance(minutes=20)
    sched.shutdown()
    assert [r.outcome for r in runs] == ["ok", "ok", "ok"]
    assert kv_app.connections.kvdb.conn.lrange("runs", 0, -1) == [b"1", b"2", b"3"]


def test_async_service_on_the_asyncio_executor(redis_url: str) -> None:
    """The executor's own loop keeps one async client for every run, and
    closes it before the loop closes: the server sees its connection go."""
    kv_app = tw.App()
    kv_app.connections.set_kvdb(url=redis_url, client_name="tw-executor-test")
    clients: list[Any] = []
    done = threading.Event()

    class Mark(tw.Service):
        name = "mark"

        async def handle(self) -> None:
            clients.append(self.kvdb.conn)
            await self.kvdb.conn.rpush("marked", self.cid)
            if len(clients) == 3:
                done.set()

    kv_app.add_service(Mark)
    sched = tw.Scheduler(kv_app, executor=tw.AsyncioExecutor())
    sched.add_job("job", "mark", tw.Interval(hours=1), active=False)
    sched.start()
    try:
        cids = [sched.execute_now("job") for _ in range(3)]
        assert done.wait(10)
    finally:
        sched.shutdown()
    assert clients[0] is clients[1] is clients[2]
    sync = kv_app.connections.kvdb.conn
    marked = sync.lrange("marked", 0, -1)
    assert sorted(m.decode() for m in marked) == sorted(cids)
    ours = [c for c in sync.client_list() if c["name"] == "tw-executor-test"]
    assert len(ours) == 1  # the sync client asking; the loop's async client is gone
    kv_app.close()


def test_not_configured_raises_connection_not_found() -> None:
    app = tw.App()

    @app.service("uses-kvdb")
    def uses(request: tw.Request) -> None:
        raise AssertionError("not reached")

    class Uses(tw.Service):
        name = "uses-kvdb"

        def handle(self) -> None:
            self.kvdb.conn.get("x")

    app.add_service(Uses, replace=True)
    with pytest.raises(tw.ConnectionNotFound, match="set_kvdb") as info:
        app.invoke("uses-kvdb")
    assert isinstance(info.value, LookupError)
    assert "'kvdb'" in str(info.value)


def test_replacing_the_kvdb_while_in_use(redis_url: str) -> None:
    with RedisServer() as other, tw.App() as app:
        app.connections.set_kvdb(url=redis_url)
        first = app.connections.kvdb.conn
        first.set("where", "first")
        app.connections.set_kvdb(url=other.url)
        assert app.connections.kvdb.conn.get("where") is None
        app.connections.kvdb.conn.set("where", "second")
        # A run holding the old client can still finish its work.
        assert first.get("where") == b"first"
        first.close()
        app.connections.set_kvdb(None)
        with pytest.raises(tw.ConnectionNotFound):
            _ = app.connections.kvdb


def test_password_never_shown() -> None:
    with RedisServer(password="s3cr3t-pw") as server, tw.App() as app:
        kvdb = app.connections.set_kvdb(url=server.url)
        assert kvdb is not None
        kvdb.conn.set("k", "v")
        for text in (repr(kvdb), repr(app.connections), kvdb.url):
            assert "s3cr3t-pw" not in text
        assert "***" in kvdb.url
        app.connections.set_kvdb(url=server.url.replace("s3cr3t-pw", "wrong-pw"))
        import redis

        with pytest.raises(redis.AuthenticationError) as info:
            app.connections.kvdb.conn.get("k")
        assert "wrong-pw" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "", "mysql://u:topsecret@h/db"]
)
def test_bad_urls_are_refused_without_showing_secrets(url: str) -> None:
    app = tw.App()
    with pytest.raises(ValueError, match="redis://") as info:
        app.connections.set_kvdb(url=url)
    assert "topsecret" not in str(info.value)
    with pytest.raises(tw.ConnectionNotFound):
        _ = app.connections.kvdb


def test_missing_extra_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"pip install 'tickwork\[redis\]'"):
        tw.App().connections.set_kvdb(url="redis://127.0.0.1:6379/0")
