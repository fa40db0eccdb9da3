"""The REST connector, end to end against a real HTTP server on 127.0.0.1.

Services reach a connection as ``self.out.plain_http[name].conn`` (alias
``self.out.rest``); every test goes through ``app.invoke`` or a scheduler
run and asserts what the server received (see ``tests/_http_source.py``).
"""

from __future__ import annotations

import base64
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

import tickwork as tw
from tickwork.testing.servers import free_port

from ._http_source import TEXT, HTTPSource
from .helpers import wait_for


# -- services ------------------------------------------------------------------------
class Call(tw.Service):
    """Makes the call its payload describes: ``{"conn", "via", "method", "args",
    "kwargs"}``; answers ``(self.cid, response)``."""

    name = "call"

    def handle(self) -> None:
        spec: dict[str, Any] = self.request.raw_request or {}
        lookup = self.out.rest if spec.get("via") == "rest" else self.out.plain_http
        conn = lookup[spec.get("conn", "src")].conn
        method = getattr(conn, spec.get("method", "get"))
        response = method(*spec.get("args", ()), **spec.get("kwargs", {}))
        self.response.payload = (self.cid, response)


class ACall(tw.Service):
    """:class:`Call` for async code: awaits ``conn.a<method>(...)`` ``times`` times;
    answers ``(self.cid, [responses])``."""

    name = "acall"

    async def handle(self) -> None:
        spec: dict[str, Any] = self.request.raw_request or {}
        conn = self.out.rest[spec.get("conn", "src")].conn
        method = getattr(conn, "a" + spec.get("method", "get"))
        responses = [
            await method(*spec.get("args", ()), **spec.get("kwargs", {}))
            for _ in range(spec.get("times", 1))
        ]
        self.response.payload = (self.cid, responses)


class Outer(tw.Service):
    """Calls ``call`` through ``self.invoke``; answers ``(self.cid, call's answer)``."""

    name = "outer"

    def handle(self) -> None:
        self.response.payload = (self.cid, self.invoke("call"))


def call(app: tw.App, method: str = "get", conn: str = "src", **kwargs: Any) -> httpx.Response:
    """Run the ``call`` service once; the response it got."""
    _cid, response = app.invoke("call", {"conn": conn, "method": method, "kwargs": kwargs})
    assert isinstance(response, httpx.Response)
    return response


def call_with_cid(app: tw.App, **spec: Any) -> tuple[str, httpx.Response]:
    cid, response = app.invoke("call", spec)
    return cid, response


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- fixtures ------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[HTTPSource]:
    with HTTPSource() as source:
        yield source
    assert source.state.errors == []


@pytest.fixture
def other_server() -> Iterator[HTTPSource]:
    """A second server: another port, so another origin."""
    with HTTPSource() as source:
        yield source
    assert source.state.errors == []


@pytest.fixture
def app() -> Iterator[tw.App]:
    """An App with the test services; closed (its pooled sockets too) at the end."""
    application = tw.App()
    for cls in (Call, ACall, Outer):
        application.add_service(cls)
    with application:
        yield application


@pytest.fixture
def src(app: tw.App, server: HTTPSource) -> tw.App:
    """``app`` with the connection ``src`` to the server's ``/echo``."""
    app.connections.add_rest("src", address=server.url, path="/echo")
    return app


# -- answers -------------------------------------------------------------------------
def test_get_returns_the_response_with_a_json_body(src: tw.App, server: HTTPSource) -> None:
    response = call(src)
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200
    assert response.json() == {"method": "GET", "path": "/echo"}
    [seen] = server.seen
    assert (seen.method, seen.path, seen.raw_query, seen.body) == ("GET", "/echo", "", b"")


def test_get_with_a_text_body_and_query_params(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/text")
    response = call(app, params={"q": "a b&c", "n": 3})
    assert response.text == TEXT
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert server.seen[0].query == {"q": ["a b&c"], "n": ["3"]}


def test_the_alias_rest_is_plain_http(src: tw.App, server: HTTPSource) -> None:
    for via in ("rest", "plain_http"):
        _cid, response = call_with_cid(src, via=via)
        assert response.status_code == 200
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    ("method", "kwargs", "body", "content_type"),
    [
        ("post", {"json": {"a": [1, 2], "b": None}}, b'{"a":[1,2],"b":null}', "application/json"),
        ("post", {"data": "héllo"}, "héllo".encode(), None),
        (
            "post",
            {"data": "<x/>", "headers": {"Content-Type": "application/xml"}},
            b"<x/>",
            "application/xml",
        ),
        ("put", {"data": b"\x00\xffraw"}, b"\x00\xffraw", None),
        (
            "patch",
            {"data": {"name": "Ann Lee", "tag": "x&y"}},
            b"name=Ann+Lee&tag=x%26y",
            "application/x-www-form-urlencoded",
        ),
        ("delete", {"json": ["gone"]}, b'["gone"]', "application/json"),
        ("delete", {}, b"", None),
        ("put", {"json": []}, b"[]", "application/json"),  # a falsy body is still a body
    ],
)
def test_methods_send_their_body_and_content_type(
    src: tw.App,
    server: HTTPSource,
    method: str,
    kwargs: dict[str, Any],
    body: bytes,
    content_type: str | None,
) -> None:
    response = call(src, method, **kwargs)
    assert response.json() == {"method": method.upper(), "path": "/echo"}
    [seen] = server.seen
    assert seen.method == method.upper()
    assert seen.body == body
    assert seen.header("Content-Type") == content_type


def test_a_bytearray_body_is_sent_as_is(src: tw.App, server: HTTPSource) -> None:
    # _rest.py accepts bytearray as a raw body, but hands it to httpx as
    # content=, which httpx reads as an iterable of ints.
    response = call(src, "post", data=bytearray(b"raw bytes"))
    assert response.status_code == 200
    assert server.seen[0].body == b"raw bytes"


def test_data_and_json_together_are_refused(src: tw.App, server: HTTPSource) -> None:
    with pytest.raises(ValueError, match="data= or json="):
        call(src, "post", data="x", json={"x": 1})
    assert server.seen == []


@pytest.mark.parametrize("status", [400, 404, 418, 500, 503])
def test_error_statuses_are_answers_not_errors(
    app: tw.App, server: HTTPSource, status: int
) -> None:
    app.connections.add_rest("src", address=server.url, path=f"/status/{status}")
    response = call(app)
    assert response.status_code == status
    assert response.json() == {"status": status}
    with pytest.raises(httpx.HTTPStatusError) as info:
        response.raise_for_status()
    assert info.value.response.status_code == status


# -- failures ------------------------------------------------------------------------
def test_a_timeout_raises_rest_timeout(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("slow src", address=server.url, path="/slow", timeout=0.2)
    # The source answers after half a second: a RESTTimeout at all shows the
    # 0.2 s timeout cut the call short (timing it would fail on a loaded machine).
    with pytest.raises(tw.RESTTimeout) as info:
        call(app, conn="slow src", params={"token": "query-secret"})
    error = info.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error, tw.RESTError)
    assert isinstance(error, tw.OutgoingError)
    assert error.connection == "slow src"
    message = str(error)
    assert "'slow src'" in message
    assert f"GET {server.url}/slow " in message
    assert "query-secret" not in message
    assert "token" not in message
    assert isinstance(error.__cause__, httpx.TimeoutException)
    assert server.seen[0].query == {"token": ["query-secret"]}  # sent, just not shown


def test_a_call_can_shorten_the_timeout(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("patient", address=server.url, path="/slow", timeout=10)
    with pytest.raises(tw.RESTTimeout, match="'patient'"):
        call(app, conn="patient", timeout=0.2)
    with pytest.raises(ValueError, match="timeout"):
        call(app, conn="patient", timeout=0)
    assert len(server.seen) == 1


@pytest.mark.parametrize("timeout", [5, None])
def test_a_call_can_lengthen_the_timeout(
    app: tw.App, server: HTTPSource, timeout: float | None
) -> None:
    app.connections.add_rest("hasty", address=server.url, path="/slow", timeout=0.2)
    assert call(app, conn="hasty", timeout=timeout).status_code == 200


def test_connection_refused_raises_rest_error(app: tw.App) -> None:
    port = free_port()
    app.connections.add_rest("gone", address=f"http://127.0.0.1:{port}", path="/x")
    with pytest.raises(tw.RESTError) as info:
        call(app, conn="gone")
    error = info.value
    assert not isinstance(error, tw.RESTTimeout)
    assert error.connection == "gone"
    assert f"REST connection 'gone': GET http://127.0.0.1:{port}/x failed" in str(error)
    assert isinstance(error.__cause__, httpx.ConnectError)


def test_too_many_redirects_raise_rest_error(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/loop")
    with pytest.raises(tw.RESTError, match="'src'") as info:
        call(app)
    assert isinstance(info.value.__cause__, httpx.TooManyRedirects)


# -- redirects -----------------------------------------------------------------------
def test_redirects_are_followed(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/redirect")
    response = call(app, params={"to": "/final"})
    assert response.status_code == 200
    assert response.json() == {"method": "GET", "path": "/final"}
    assert [r.status_code for r in response.history] == [302]
    assert [s.path for s in server.seen] == ["/redirect", "/final"]


def test_redirects_are_not_followed_when_off(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/redirect", follow_redirects=False)
    response = call(app, params={"to": "/final"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/final"
    assert [s.path for s in server.seen] == ["/redirect"]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [(tw.BearerAuth("tok-123"), "Bearer tok-123"), (tw.BasicAuth("al", "pw"), basic("al", "pw"))],
)
def test_authorization_stays_with_its_origin(
    app: tw.App, server: HTTPSource, other_server: HTTPSource, auth: Any, expected: str
) -> None:
    app.connections.add_rest("src", address=server.url, path="/redirect", auth=auth)
    assert call(app, params={"to": "/same"}).json()["path"] == "/same"
    response = call(app, params={"to": f"{other_server.url}/land"})
    assert response.json() == {"method": "GET", "path": "/land"}
    assert [(s.path, s.header("Authorization")) for s in server.seen] == [
        ("/redirect", expected),
        ("/same", expected),
        ("/redirect", expected),
    ]
    [landed] = other_server.seen
    assert landed.header("Authorization") is None
    assert landed.header("X-Correlation-ID") == server.seen[-1].header("X-Correlation-ID")


# -- headers and auth ----------------------------------------------------------------
def test_default_headers_are_sent_and_a_call_overrides_them(
    app: tw.App, server: HTTPSource
) -> None:
    app.connections.add_rest(
        "src", address=server.url, headers={"X-Api-Key": "default", "X-Team": "ops"}
    )
    call(app)
    call(app, headers={"x-api-key": "mine", "X-Extra": "1"})
    first, second = server.seen
    assert (first.header("X-Api-Key"), first.header("X-Team")) == ("default", "ops")
    assert first.header("X-Extra") is None
    assert (second.header("X-Api-Key"), second.header("X-Team")) == ("mine", "ops")
    assert second.header("X-Extra") == "1"


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (tw.BasicAuth("alice", "s3cret"), basic("alice", "s3cret")),
        (("alice", "s3cret"), basic("alice", "s3cret")),
        (tw.BearerAuth("tok-123"), "Bearer tok-123"),
        (httpx.BasicAuth("bob", "pw"), basic("bob", "pw")),
    ],
)
def test_auth_sends_the_authorization_header(
    app: tw.App, server: HTTPSource, auth: Any, expected: str
) -> None:
    app.connections.add_rest("src", address=server.url, path="/echo", auth=auth)
    call(app)
    call(app)
    assert [s.header("Authorization") for s in server.seen] == [expected, expected]


def test_credentials_in_the_address_become_basic_auth(app: tw.App, server: HTTPSource) -> None:
    address = f"http://alice:s%40cret@127.0.0.1:{server.port}/api/"
    connection = app.connections.add_rest("src", address=address, path="data")
    assert connection.address == f"{server.url}/api"
    assert connection.auth == tw.BasicAuth("alice", "s@cret")
    call(app)
    [seen] = server.seen
    assert seen.path == "/api/data"
    assert seen.header("Authorization") == basic("alice", "s@cret")
    assert seen.header("Host") == f"127.0.0.1:{server.port}"


def test_credentials_in_the_address_and_in_auth_are_refused(app: tw.App) -> None:
    with pytest.raises(ValueError, match="not both"):
        app.connections.add_rest("src", address="http://u:p@127.0.0.1:1", auth=("u", "p"))
    assert app.connections.names()["rest"] == []


# -- path params ---------------------------------------------------------------------
def test_path_params_are_quoted_and_the_rest_go_to_the_query(
    app: tw.App, server: HTTPSource
) -> None:
    app.connections.add_rest("src", address=server.url + "/v1", path="/users/{user_id}/orders")
    params = {"user_id": "a b/c", "page": 2}
    response = call(app, params=params)
    assert response.json()["path"] == "/v1/users/a%20b%2Fc/orders"
    [seen] = server.seen
    assert seen.path == "/v1/users/a%20b%2Fc/orders"
    assert seen.query == {"page": ["2"]}
    assert params == {"user_id": "a b/c", "page": 2}  # the caller's dict is left alone


def test_a_placeholder_used_twice_and_nothing_left_for_the_query(
    app: tw.App, server: HTTPSource
) -> None:
    app.connections.add_rest("src", address=server.url, path="/{a}/x/{a}/{b}")
    call(app, params={"a": 1, "b": "é"})
    [seen] = server.seen
    assert (seen.path, seen.raw_query) == ("/1/x/1/%C3%A9", "")


def test_a_missing_path_param_is_named(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/users/{user_id}/orders")
    with pytest.raises(ValueError, match="'user_id'"):
        call(app, params={"page": 2})
    with pytest.raises(ValueError, match="'user_id'"):
        call(app)
    assert server.seen == []


def test_escaped_braces_mean_the_same_with_or_without_placeholders(
    app: tw.App, server: HTTPSource
) -> None:
    # Placeholders follow str.format, where "{{" is a literal "{": the path
    # is formatted only when it has a placeholder, so without one the braces
    # stay doubled.
    app.connections.add_rest("plain", address=server.url, path="/a/{{x}}")
    app.connections.add_rest("filled", address=server.url, path="/a/{{x}}/{id}")
    call(app, conn="filled", params={"id": 1})
    call(app, conn="plain")
    filled, plain = server.seen
    assert filled.path == "/a/%7Bx%7D/1"
    assert plain.path == "/a/%7Bx%7D"


@pytest.mark.parametrize(
    "path", ["/users/{0}", "/users/{a.b}", "/users/{}", "/x/{a!r}", "/x/{a:>5}", "/x/{a[0]}", "/{"]
)
def test_bad_placeholders_are_refused_when_added(app: tw.App, path: str) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        app.connections.add_rest("src", address="http://127.0.0.1:1", path=path)
    assert app.connections.names()["rest"] == []


# -- the correlation header ----------------------------------------------------------
def test_a_service_sends_its_cid(src: tw.App, server: HTTPSource) -> None:
    cid_implicit, _ = call_with_cid(src)  # .get() with no cid
    cid_positional, _ = call_with_cid(src, args=[None])
    sent = [s.header("X-Correlation-ID") for s in server.seen]
    assert sent == [cid_implicit, cid_positional]
    assert cid_implicit != cid_positional  # one cid per run


def test_the_seed_style_call_sends_self_cid(app: tw.App, server: HTTPSource) -> None:
    got: list[str] = []

    class SyncData(tw.Service):
        name = "api.scheduler.sync"

        def handle(self) -> None:
            got.append(self.out.plain_http["My Data Source"].conn.get(self.cid).text)
            got.append(self.cid)

    app.add_service(SyncData)
    app.connections.add_rest("My Data Source", address=server.url, path="/text")
    app.invoke("api.scheduler.sync")
    assert got[0] == TEXT
    assert server.seen[0].header("X-Correlation-ID") == got[1]


def test_an_explicit_cid_wins(src: tw.App, server: HTTPSource) -> None:
    run_cid, _ = call_with_cid(src, method="post", kwargs={"cid": "my-cid", "json": {}})
    assert run_cid != "my-cid"
    assert server.seen[0].header("X-Correlation-ID") == "my-cid"


def test_a_nested_invoke_keeps_the_cid(src: tw.App, server: HTTPSource) -> None:
    outer_cid, (inner_cid, _response) = src.invoke("outer")
    assert inner_cid == outer_cid
    assert server.seen[0].header("X-Correlation-ID") == outer_cid


@pytest.mark.parametrize("name", ["X-Correlation-ID", "x-correlation-id"])
def test_one_correlation_header_whatever_the_case_of_a_given_one(
    src: tw.App, server: HTTPSource, name: str
) -> None:
    # A header of the same name in another case must not make a second one.
    run_cid, _ = call_with_cid(src, kwargs={"headers": {name: "from-headers"}})
    assert server.seen[0].header_all("X-Correlation-ID") == [run_cid]


def test_a_connection_used_directly_makes_a_cid_per_call(src: tw.App, server: HTTPSource) -> None:
    connection = src.connections.rest("src")
    connection.request("get")
    connection.request("GET")
    first, second = (s.header("X-Correlation-ID") for s in server.seen)
    assert first
    assert second
    assert first != second


@pytest.mark.parametrize("job_options", [{}, {"timeout": timedelta(seconds=30)}])
def test_a_scheduled_run_sends_the_cid_in_its_history(
    src: tw.App, server: HTTPSource, clock: tw.FakeClock, job_options: dict[str, Any]
) -> None:
    sched = tw.Scheduler(src, clock=clock)
    sched.add_job("sync", "call", tw.Interval(minutes=5), **job_options)
    runs = sched.advance(minutes=10)
    assert [r.outcome for r in runs] == ["ok", "ok"]
    history = sched.history("sync")
    assert [r.cid for r in reversed(history)] == [r.cid for r in runs]
    assert [s.header("X-Correlation-ID") for s in server.seen] == [r.cid for r in runs]
    assert len({r.cid for r in runs}) == 2
    cid = sched.execute_now("sync")
    assert server.seen[-1].header("X-Correlation-ID") == cid
    assert sched.history("sync")[0].cid == cid
    sched.shutdown()


def test_a_failed_call_fails_the_run(app: tw.App, clock: tw.FakeClock) -> None:
    app.connections.add_rest("src", address=f"http://127.0.0.1:{free_port()}")
    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("sync", "call", tw.Interval(minutes=5))
    [run] = sched.advance(minutes=5)
    assert run.outcome == "error"
    assert run.error is not None
    assert "RESTError" in run.error
    assert "'src'" in run.error
    sched.shutdown()


# -- pooling -------------------------------------------------------------------------
def test_calls_on_one_connection_share_one_tcp_connection(src: tw.App, server: HTTPSource) -> None:
    call(src)
    call(src, "post", json={"n": 1})
    call(src, "delete")
    ports = {s.port for s in server.seen}
    assert len(server.seen) == 3
    assert len(ports) == 1
    assert server.closed_ports == []
    src.close()  # closes the pooled socket; the next call opens another
    wait_for(lambda: server.seen[0].port in server.closed_ports)
    call(src)
    assert server.seen[-1].port not in ports


def test_two_connections_have_their_own_pools(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("one", address=server.url)
    app.connections.add_rest("two", address=server.url)
    for name in ("one", "two", "one", "two"):
        call(app, conn=name)
    one_a, two_a, one_b, two_b = (s.port for s in server.seen)
    assert one_a == one_b
    assert two_a == two_b
    assert one_a != two_a


# -- async services ------------------------------------------------------------------
def test_an_async_service_calls_with_await(src: tw.App, server: HTTPSource) -> None:
    cid, responses = src.invoke("acall", {"times": 3})
    assert [r.json() for r in responses] == [{"method": "GET", "path": "/echo"}] * 3
    assert [s.header("X-Correlation-ID") for s in server.seen] == [cid] * 3
    assert len({s.port for s in server.seen}) == 1  # pooled within the run
    # The run's loop ends with invoke, and its client's socket with it.
    wait_for(lambda: server.seen[0].port in server.closed_ports)


@pytest.mark.parametrize(
    ("method", "kwargs", "body"),
    [
        ("post", {"json": {"a": 1}}, b'{"a":1}'),
        ("put", {"data": "raw"}, b"raw"),
        ("patch", {"data": {"k": "v"}}, b"k=v"),
        ("delete", {"cid": "mine"}, b""),
    ],
)
def test_async_methods(
    src: tw.App, server: HTTPSource, method: str, kwargs: dict[str, Any], body: bytes
) -> None:
    cid, [response] = src.invoke("acall", {"method": method, "kwargs": kwargs})
    assert response.json() == {"method": method.upper(), "path": "/echo"}
    [seen] = server.seen
    assert seen.method == method.upper()
    assert seen.body == body
    assert seen.header("X-Correlation-ID") == kwargs.get("cid", cid)


def test_async_timeout_and_refusal(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("slow", address=server.url, path="/slow", timeout=0.2)
    app.connections.add_rest("gone", address=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(tw.RESTTimeout, match="'slow'") as info:
        app.invoke("acall", {"conn": "slow"})
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    with pytest.raises(tw.RESTError, match="'gone'") as refused:
        app.invoke("acall", {"conn": "gone"})
    assert isinstance(refused.value.__cause__, httpx.ConnectError)


def test_an_async_job_on_the_asyncio_executor(
    src: tw.App, server: HTTPSource, clock: tw.FakeClock
) -> None:
    sched = tw.Scheduler(src, clock=clock, executor=tw.AsyncioExecutor())
    try:
        sched.add_job("sync", "acall", tw.Interval(minutes=1), extra={"times": 2})
        runs: list[tw.Run] = []
        for _ in range(2):  # one at a time: an overlapping fire would be skipped
            [run] = sched.advance(minutes=1)
            wait_for(lambda run=run: run.outcome is not None)
            runs.append(run)
        assert [r.outcome for r in runs] == ["ok", "ok"]
        sent = sorted(s.header("X-Correlation-ID") or "" for s in server.seen)
        assert sent == sorted([r.cid for r in runs] * 2)
        assert {r.cid for r in sched.history("sync")} == {r.cid for r in runs}
        assert len({s.port for s in server.seen}) == 1  # one loop, one pooled client
    finally:
        sched.shutdown()
    wait_for(lambda: server.seen[0].port in server.closed_ports)


def test_an_async_job_inline_then_shutdown_then_close(
    src: tw.App, server: HTTPSource, clock: tw.FakeClock
) -> None:
    sched = tw.Scheduler(src, clock=clock)
    sched.add_job("sync", "acall", tw.Interval(minutes=1))
    [run] = sched.advance(minutes=1)
    assert run.outcome == "ok"
    assert server.seen[0].header("X-Correlation-ID") == run.cid
    sched.shutdown()
    src.close()
    wait_for(lambda: server.seen[0].port in server.closed_ports)


@pytest.mark.parametrize("executor", [tw.InlineExecutor, tw.ThreadExecutor])
def test_closing_the_app_before_the_scheduler_closes_async_sockets(
    src: tw.App, server: HTTPSource, clock: tw.FakeClock, executor: type[tw.Executor]
) -> None:
    # app.close() while the run's loop is idle queues the client's close on
    # that loop; ending the loop afterwards must still close the socket.
    sched = tw.Scheduler(src, clock=clock, executor=executor())
    sched.add_job("sync", "acall", tw.Interval(minutes=1))
    [run] = sched.advance(minutes=1)
    wait_for(lambda: run.outcome is not None)
    assert run.outcome == "ok"
    src.close()
    sched.shutdown()
    wait_for(lambda: server.seen[0].port in server.closed_ports)


# -- changing connections while in use -----------------------------------------------
def _in_background(app: tw.App) -> tuple[threading.Thread, list[Any]]:
    """Run ``call`` in a thread; its (cid, response) or error lands in the list."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(app.invoke("call"))
        except Exception as exc:  # the test asserts on it
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_replacing_a_connection_in_use(app: tw.App, server: HTTPSource) -> None:
    old = app.connections.add_rest("src", address=server.url, path="/gate")
    thread, result = _in_background(app)
    wait_for(lambda: len(server.seen) == 1)
    new = app.connections.add_rest("src", address=server.url, path="/v2", replace=True)
    assert app.connections.rest("src") is new
    assert call(app).json()["path"] == "/v2"  # the next lookup sees the new one
    server.gate.set()
    thread.join(2)
    [(_cid, response)] = result
    assert response.json()["path"] == "/gate"  # the call in flight completed
    # The old one's pooled socket closes once its call is done ...
    wait_for(lambda: server.seen[0].port in server.closed_ports)
    # ... and a call still made on it is answered.
    assert old.request("GET").json()["path"] == "/gate"


def test_removing_a_connection_in_use(app: tw.App, server: HTTPSource) -> None:
    app.connections.add_rest("src", address=server.url, path="/gate")
    app.connections.add_rest("other", address=server.url)
    thread, result = _in_background(app)
    wait_for(lambda: len(server.seen) == 1)
    app.connections.remove_rest("src")
    with pytest.raises(tw.ConnectionNotFound) as info:
        call(app)
    assert isinstance(info.value, LookupError)
    assert str(info.value) == (
        "No REST connection by the name of 'src'; the known ones are: 'other'"
    )
    with pytest.raises(tw.ConnectionNotFound, match="'src'"):
        app.connections.rest("src")
    with pytest.raises(tw.ConnectionNotFound, match="'src'"):
        app.connections.remove_rest("src")
    server.gate.set()
    thread.join(2)
    [(_cid, response)] = result
    assert response.status_code == 200
    assert app.connections.names()["rest"] == ["other"]
    wait_for(lambda: server.seen[0].port in server.closed_ports)


def test_a_service_looking_up_an_unknown_name(app: tw.App) -> None:
    with pytest.raises(tw.ConnectionNotFound, match="'nope'; the known ones are: none"):
        call(app, conn="nope")
    app.connections.add_rest("b", address="http://127.0.0.1:1")
    app.connections.add_rest("a", address="http://127.0.0.1:1")
    with pytest.raises(tw.ConnectionNotFound, match="'nope'; the known ones are: 'a', 'b'"):
        call(app, conn="nope")


def test_a_taken_name_needs_replace(app: tw.App) -> None:
    first = app.connections.add_rest("src", address="http://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"'src'.*replace=True"):
        app.connections.add_rest("src", address="http://127.0.0.1:2")
    assert app.connections.rest("src") is first


# -- bad arguments -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"address": "ftp://127.0.0.1"}, ValueError, "address"),
        ({"address": "127.0.0.1:8080"}, ValueError, "address"),
        ({"address": "http://"}, ValueError, "address"),
        ({"address": "http://127.0.0.1/?key=1"}, ValueError, "query"),
        ({"address": "http://127.0.0.1/#top"}, ValueError, "fragment"),
        ({"address": "http://127.0.0.1:99999"}, ValueError, "address"),
        ({"address": b"http://127.0.0.1"}, TypeError, "address"),
        ({"address": None}, TypeError, "address"),
        ({"path": "/x?y=1"}, ValueError, "path"),
        ({"path": "/x y"}, ValueError, "path"),
        ({"path": 5}, TypeError, "path"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -1.5}, ValueError, "timeout"),
        ({"timeout": "5"}, ValueError, "timeout"),
        ({"timeout": True}, ValueError, "timeout"),
        ({"headers": {"X-A": "v\r\nX-Injected: 1"}}, ValueError, "header 'X-A'"),
        ({"headers": {"X-A\n": "v"}}, ValueError, "header"),
        ({"headers": {"Bad Name": "v"}}, ValueError, "header 'Bad Name'"),
        ({"headers": {"X-A": 1}}, TypeError, "header 'X-A'"),
        ({"headers": [("X-A", "v")]}, TypeError, "headers"),
        ({"auth": "user:pw"}, TypeError, "auth"),
        ({"auth": ("user",)}, TypeError, "auth"),
        ({"auth": ("user", 5)}, TypeError, "auth"),
        ({"auth": {"user": "pw"}}, TypeError, "auth"),
        ({"verify": 5}, TypeError, "verify"),
        ({"verify": "/no/such/ca.pem"}, ValueError, "CA bundle"),
        ({"cert": 5}, TypeError, "cert"),
        ({"follow_redirects": "yes"}, TypeError, "follow_redirects"),
        ({"max_connections": 0}, ValueError, "max_connections"),
        ({"max_connections": 2.5}, TypeError, "max_connections"),
        ({"name": ""}, ValueError, "name"),
        ({"name": None}, ValueError, "name"),
    ],
)
def test_bad_arguments_name_the_bad_part(
    app: tw.App, kwargs: dict[str, Any], error: type[Exception], needle: str
) -> None:
    arguments: dict[str, Any] = {"name": "src", "address": "http://127.0.0.1:1", **kwargs}
    with pytest.raises(error, match=needle) as info:
        app.connections.add_rest(**arguments)
    if arguments["name"]:
        assert "'src'" in str(info.value)
    assert app.connections.names()["rest"] == []


def test_bad_auth_objects() -> None:
    with pytest.raises(TypeError, match="username and a password"):
        tw.BasicAuth("user", None)  # type: ignore[arg-type]
    for token in ("", "a\nb", None):
        with pytest.raises(ValueError, match="token"):
            tw.BearerAuth(token)  # type: ignore[arg-type]


# -- secrets -------------------------------------------------------------------------
def test_secrets_stay_out_of_reprs(app: tw.App, server: HTTPSource) -> None:
    seen: list[str] = []

    class Peek(tw.Service):
        name = "peek"

        def handle(self) -> None:
            for name in ("basic", "bearer", "in-url"):
                entry = self.out.rest[name]
                seen.extend([repr(entry), repr(entry.conn), repr(entry.config)])
            seen.append(repr(self.out.rest))

    app.add_service(Peek)
    app.connections.add_rest("basic", address=server.url, auth=("alice", "pw-basic"))
    app.connections.add_rest("bearer", address=server.url, auth=tw.BearerAuth("pw-token"))
    app.connections.add_rest("in-url", address=f"http://alice:pw-in-url@127.0.0.1:{server.port}")
    app.invoke("peek")
    seen += [repr(app.connections), repr(tw.BasicAuth("a", "pw-x")), repr(tw.BearerAuth("pw-y"))]
    text = "\n".join(seen)
    assert "pw-" not in text
    assert "alice" in text  # the user name is not a secret
    assert "'basic'" in text
    assert "'in-url'" in text


def test_secrets_stay_out_of_errors(app: tw.App) -> None:
    port = free_port()
    app.connections.add_rest("in-url", address=f"http://alice:pw-in-url@127.0.0.1:{port}")
    app.connections.add_rest(
        "bearer", address=f"http://127.0.0.1:{port}", auth=tw.BearerAuth("pw-token")
    )
    messages = []
    for name in ("in-url", "bearer"):
        with pytest.raises(tw.RESTError) as info:
            call(app, conn=name)
        messages.append(str(info.value))
        messages.append(repr(info.value))
    for address in ("ftp://u:pw-scheme@127.0.0.1", "http://u:pw-query@127.0.0.1/?a=1"):
        with pytest.raises(ValueError) as bad:
            app.connections.add_rest("bad", address=address)
        messages.append(str(bad.value))
    text = "\n".join(messages)
    assert "pw-" not in text
    assert "'in-url'" in text
    assert "'bad'" in text


# -- the extra -----------------------------------------------------------------------
def test_without_httpx_add_rest_says_which_extra(
    app: tw.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"pip install 'tickwork\[rest\]'"):
        app.connections.add_rest("src", address="http://127.0.0.1:1")
    assert app.connections.names()["rest"] == []
