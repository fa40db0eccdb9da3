from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tickwork as tw


def make_recorder(
    calls: list[str], *, fail: bool = False, is_async: bool = False
) -> type[tw.Service]:
    class Recorder(tw.Service):
        name = "recorder"

        def before_job(self) -> None:
            calls.append("before_job")

        def before_handle(self) -> None:
            calls.append("before_handle")

        def after_handle(self) -> None:
            calls.append("after_handle")

        def after_job(self) -> None:
            calls.append("after_job")

        def finalize_handle(self) -> None:
            calls.append("finalize_handle")

    if is_async:

        async def handle(self: tw.Service) -> None:
            await asyncio.sleep(0)
            calls.append("handle")
            if fail:
                raise ValueError("bad")
            self.response.payload = "done"

    else:

        def handle(self: tw.Service) -> None:  # type: ignore[misc]
            calls.append("handle")
            if fail:
                raise ValueError("bad")
            self.response.payload = "done"

    Recorder.handle = handle  # type: ignore[method-assign]
    return Recorder


@pytest.mark.parametrize("is_async", [False, True])
def test_hook_order_on_the_scheduler_channel(is_async: bool) -> None:
    calls: list[str] = []
    app = tw.App()
    app.add_service(make_recorder(calls, is_async=is_async))
    sched = tw.Scheduler(app, clock=tw.FakeClock())
    sched.add_job("j", "recorder", tw.Interval(minutes=1))
    runs = sched.advance(minutes=1)
    assert [r.outcome for r in runs] == ["ok"]
    assert calls == [
        "before_job",
        "before_handle",
        "handle",
        "after_handle",
        "after_job",
        "finalize_handle",
    ]


@pytest.mark.parametrize("is_async", [False, True])
def test_invoke_skips_job_hooks_and_finalize_runs_after_error(is_async: bool) -> None:
    calls: list[str] = []
    app = tw.App()
    app.add_service(make_recorder(calls, fail=True, is_async=is_async))
    with pytest.raises(ValueError, match="bad"):
        app.invoke("recorder")
    assert calls == ["before_handle", "handle", "finalize_handle"]


def test_request_for_a_scheduled_run() -> None:
    seen: list[tw.Request] = []
    app = tw.App()

    class Sync(tw.Service):
        name = "sync"

        def handle(self) -> None:
            seen.append(self.request)
            assert self.cid == self.request.cid
            self.logger.info("running")

    app.add_service(Sync)
    sched = tw.Scheduler(app, clock=tw.FakeClock(start="2026-01-01T00:00:00Z"))
    sched.add_job("sync", "sync", tw.Interval(minutes=5), extra="key=value")
    sched.advance(minutes=10)
    first, second = seen
    assert first.raw_request == "key=value"
    assert first.payload == {"key": "value"}
    assert first.channel == "scheduler"
    assert first.cid != second.cid
    assert first.job is not None
    assert second.job is not None
    assert first.job.name == "sync"
    assert (first.job.run_number, second.job.run_number) == (1, 2)
    assert first.job.scheduled_for.isoformat() == "2026-01-01T00:05:00+00:00"
    assert first.job.manual is False


def test_function_services() -> None:
    app = tw.App()

    @app.service("double")
    def double(request: tw.Request) -> Any:
        return request.payload * 2

    @tw.service("adouble")
    async def adouble(request: tw.Request) -> Any:
        await asyncio.sleep(0)
        return request.payload * 2

    assert issubclass(double, tw.Service)
    assert double.name == "double"
    app.add_service(adouble)
    assert app.invoke("double", 21) == 42
    assert app.invoke("adouble", 4) == 8
    assert asyncio.run(app.ainvoke("adouble", 5)) == 10
    assert asyncio.run(app.ainvoke("double", 5)) == 10


def test_service_invokes_another_with_the_same_cid() -> None:
    app = tw.App()
    cids: list[str] = []

    @app.service("inner")
    def inner(request: tw.Request) -> str:
        cids.append(request.cid)
        assert request.channel == "invoke"
        return f"inner got {request.payload}"

    class Outer(tw.Service):
        name = "outer"

        def handle(self) -> None:
            cids.append(self.cid)
            self.response.payload = self.invoke("inner", {"x": 1})

    app.add_service(Outer)
    assert app.invoke("outer") == "inner got {'x': 1}"
    assert cids[0] == cids[1]


def test_async_service_awaits_ainvoke() -> None:
    app = tw.App()

    @app.service("inner")
    async def inner(request: tw.Request) -> int:
        return 7

    class Outer(tw.Service):
        name = "outer"

        async def handle(self) -> None:
            self.response.payload = await self.ainvoke("inner") + 1

    app.add_service(Outer)
    assert app.invoke("outer") == 8


def test_registry_errors() -> None:
    app = tw.App()
    with pytest.raises(tw.ServiceNotFound, match="'missing'"):
        app.invoke("missing")
    with pytest.raises(LookupError):
        app.get_service("missing")
    with pytest.raises(TypeError):
        app.add_service(object)  # type: ignore[arg-type]

    class Nameless(tw.Service):
        pass

    with pytest.raises(ValueError, match="name"):
        app.add_service(Nameless)
    with pytest.raises(ValueError, match="name"):
        tw.service("")

    @app.service("taken")
    def first(request: tw.Request) -> None:
        return None

    with pytest.raises(ValueError, match="taken"):

        @app.service("taken")
        def second(request: tw.Request) -> None:
            return None

    assert app.services() == ["taken"]


def test_handle_not_implemented() -> None:
    app = tw.App()

    class Empty(tw.Service):
        name = "empty"

    app.add_service(Empty)
    with pytest.raises(NotImplementedError, match="empty"):
        app.invoke("empty")


def test_sync_invoke_of_async_service_inside_a_loop_says_what_to_do() -> None:
    app = tw.App()

    @app.service("a")
    async def a(request: tw.Request) -> None:
        return None

    async def main() -> None:
        with pytest.raises(RuntimeError, match="ainvoke"):
            app.invoke("a")

    asyncio.run(main())
