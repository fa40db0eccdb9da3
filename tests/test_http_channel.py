"""The HTTP channel, served on a loopback port and exercised with a real HTTP client.

Every answer the ``client`` fixture sees is checked for the security headers
and for the absence of a traceback (see ``_check_answer``).
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import tickwork as tw
from tickwork.channels import http as channel_http
from tickwork.channels.http import HTTPChannel, openapi_document, serve

TOKEN = "admin-token-0123456789"
READ_TOKEN = "reader-token-0123456789"
START = "2026-03-28T00:00:00Z"


# -- fixtures -----------------------------------------------------------------------


class Seen:
    """What the services saw, by cid."""

    def __init__(self) -> None:
        self.requests: dict[str, tw.Request] = {}
        self.lock = threading.Lock()

    def note(self, request: tw.Request) -> None:
        with self.lock:
            self.requests[request.cid] = request


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def http_app(seen: Seen) -> tw.App:
    app = tw.App()

    @app.service("echo")
    def echo(request: tw.Request) -> Any:
        """Answers what it was given."""
        seen.note(request)
        return request.payload

    @app.service("aecho")
    async def aecho(request: tw.Request) -> Any:
        seen.note(request)
        await asyncio.sleep(0)
        return {"async": request.payload}

    @app.service("fail")
    def fail(request: tw.Request) -> None:
        seen.note(request)
        raise RuntimeError("it broke")

    @app.service("not-json")
    def not_json(request: tw.Request) -> object:
        return object()

    @app.service("hidden", expose_http=False)
    def hidden(request: tw.Request) -> str:
        return "secret"

    class Internal(tw.Service):
        name = "internal"
        expose_http = False

        def handle(self) -> None:
            self.response.payload = "internal"

    app.add_service(Internal)
    return app


@pytest.fixture
def clock() -> tw.FakeClock:
    return tw.FakeClock(start=START)


@pytest.fixture
def sched(http_app: tw.App, clock: tw.FakeClock) -> tw.Scheduler:
    return tw.Scheduler(http_app, clock=clock)


def _check_answer(response: httpx.Response) -> None:
    response.read()
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        error = response.json()["error"]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)


@pytest.fixture
def connect() -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def connect_(base_url: str, token: str | None = TOKEN) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=5,
            event_hooks={"response": [_check_answer]},
        )
        clients.append(client)
        return client

    yield connect_
    for client in clients:
        client.close()


@pytest.fixture
def channel(http_app: tw.App, sched: tw.Scheduler) -> HTTPChannel:
    return HTTPChannel(http_app, sched, token=TOKEN, read_only_token=READ_TOKEN)


@pytest.fixture
def url(start: Callable[[HTTPChannel], str], channel: HTTPChannel) -> str:
    return start(channel)


@pytest.fixture
def client(connect: Callable[..., httpx.Client], url: str) -> httpx.Client:
    return connect(url)


def add(client: httpx.Client, name: str, **spec: Any) -> httpx.Response:
    body = {"name": name, "service": "echo", "trigger": {"type": "interval", "minutes": 5}}
    body.update(spec)
    return client.post("/jobs", json=body)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# -- the open routes and the document ---------------------------------------------------


def test_health_needs_no_token(connect: Callable[..., httpx.Client], url: str) -> None:
    response = connect(url, token=None).get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_openapi_document_is_served_without_a_token(
    connect: Callable[..., httpx.Client], url: str
) -> None:
    response = connect(url, token=None).get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == openapi_document()
    assert response.json()["openapi"].startswith("3.1")


def test_every_route_is_in_the_openapi_document() -> None:
    paths = openapi_document()["paths"]
    for route in channel_http._ROUTES:
        path = "/" + "/".join("{name}" if seg is None else seg for seg in route.pattern)
        assert route.method.lower() in paths[path], (route.method, path)
    documented = {(m, p) for p, ops in paths.items() for m in ops}
    assert len(documented) == len(channel_http._ROUTES)


def test_openapi_document_is_a_fresh_copy() -> None:
    doc = openapi_document()
    doc["paths"].clear()
    assert openapi_document()["paths"]


def test_head_answers_headers_only(client: httpx.Client) -> None:
    response = client.head("/jobs")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


# -- authentication ---------------------------------------------------------------


def test_missing_token_is_401_with_a_bearer_challenge(
    connect: Callable[..., httpx.Client], url: str
) -> None:
    anonymous = connect(url, token=None)
    for method, path in [("GET", "/services"), ("POST", "/services/echo"), ("GET", "/jobs")]:
        response = anonymous.request(method, path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert error_of(response)["code"] == "unauthorized"


def test_unknown_routes_need_the_token_too(connect: Callable[..., httpx.Client], url: str) -> None:
    assert connect(url, token=None).get("/nothing/here").status_code == 401


def test_wrong_token_is_401(connect: Callable[..., httpx.Client], url: str) -> None:
    response = connect(url, token="not-the-token").get("/services")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert TOKEN not in response.text


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + TOKEN,
        TOKEN,
        "Bearer",
        "Bearer " + TOKEN + " x",
        "Bearer " + TOKEN + "x",
        "Bearer é",
    ],
)
def test_malformed_authorization_is_401(url: str, header: str) -> None:
    response = httpx.get(url + "/services", headers={"Authorization": header.encode()})
    assert response.status_code == 401


def test_scheme_is_case_insensitive(url: str) -> None:
    response = httpx.get(url + "/services", headers={"Authorization": "bearer " + TOKEN})
    assert response.status_code == 200


def test_read_only_token_reads_but_does_not_write(
    connect: Callable[..., httpx.Client], url: str, client: httpx.Client
) -> None:
    assert add(client, "job").status_code == 201
    reader = connect(url, token=READ_TOKEN)
    assert reader.get("/jobs").status_code == 200
    assert reader.get("/jobs/job").status_code == 200
    assert reader.get("/services").status_code == 200
    assert reader.get("/history").status_code == 200
    for method, path in [
        ("POST", "/services/echo"),
        ("POST", "/jobs/job/pause"),
        ("POST", "/jobs/job/execute"),
        ("DELETE", "/jobs/job"),
        ("PATCH", "/jobs/job"),
    ]:
        response = reader.request(method, path)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["code"] == "forbidden"
    assert client.get("/jobs/job").json()["active"] is True


def test_tokens_are_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, client: httpx.Client
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(channel_http.hmac, "compare_digest", spy)
    assert client.get("/services").status_code == 200
    assert (TOKEN.encode(), TOKEN.encode()) in calls
    # Both tokens are always compared: the time taken tells neither apart.
    assert (TOKEN.encode(), READ_TOKEN.encode()) in calls


def test_generated_token(http_app: tw.App, start: Callable[[HTTPChannel], str]) -> None:
    channel = HTTPChannel(http_app)
    other = HTTPChannel(http_app)
    assert len(channel.token) >= 40
    assert channel.token != other.token
    url = start(channel)
    assert httpx.get(url + "/services").status_code == 401
    response = httpx.get(url + "/services", headers={"Authorization": f"Bearer {channel.token}"})
    assert response.status_code == 200


def test_repr_never_shows_the_tokens(channel: HTTPChannel) -> None:
    assert TOKEN not in repr(channel)
    assert READ_TOKEN not in repr(channel)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"token": ""}, ValueError),
        ({"token": "has space"}, ValueError),
        ({"token": "ünicode"}, ValueError),
        ({"token": "same", "read_only_token": "same"}, ValueError),
        ({"read_only_token": ""}, ValueError),
        ({"max_body": 0}, ValueError),
        ({"max_body": True}, ValueError),
        ({"tz": "Mars/Olympus"}, tw.InvalidTrigger),
    ],
)
def test_bad_options_raise(http_app: tw.App, kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        HTTPChannel(http_app, **kwargs)


def test_wrong_app_or_scheduler_raises(http_app: tw.App, sched: tw.Scheduler) -> None:
    with pytest.raises(TypeError):
        HTTPChannel(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HTTPChannel(http_app, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="another App"):
        HTTPChannel(tw.App(), sched)


def test_app_wsgi_builds_the_channel(http_app: tw.App, sched: tw.Scheduler) -> None:
    channel = http_app.wsgi(sched, token=TOKEN, tz="Europe/Paris")
    assert isinstance(channel, HTTPChannel)
    assert channel.scheduler is sched
    assert channel.token == TOKEN
    assert http_app.wsgi().scheduler is None


def test_serve_binds_loopback_by_default(channel: HTTPChannel) -> None:
    import inspect

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    server = serve(channel, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.server_port > 0
    finally:
        server.server_close()


# -- services -----------------------------------------------------------------------


def test_list_services(client: httpx.Client) -> None:
    services = {s["name"]: s for s in client.get("/services").json()["services"]}
    assert set(services) == {"echo", "aecho", "fail", "not-json", "hidden", "internal"}
    assert services["echo"] == {
        "name": "echo",
        "async": False,
        "exposed": True,
        "doc": "Answers what it was given.",
    }
    assert services["aecho"]["async"] is True
    assert services["hidden"]["exposed"] is False
    assert services["internal"]["exposed"] is False


def test_invoke_answers_the_payload_with_the_cid_in_a_header(
    client: httpx.Client, seen: Seen
) -> None:
    response = client.post("/services/echo", json={"a": [1, 2], "b": "ü"})
    assert response.status_code == 200
    assert response.json() == {"a": [1, 2], "b": "ü"}
    cid = response.headers["x-correlation-id"]
    request = seen.requests[cid]
    assert request.cid == cid
    assert request.channel == "http"
    assert request.raw_request == {"a": [1, 2], "b": "ü"}
    assert request.job is None


def test_a_service_sets_response_headers(
    http_app: tw.App, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    class Tagged(tw.Service):
        name = "tagged"

        def handle(self) -> None:
            self.response.payload = {"ok": True}
            self.response.headers["X-Report-Version"] = "7"
            self.response.headers["Content-Type"] = "text/html"  # the channel's own: not sent
            self.response.headers["X-Bad"] = "two\r\nlines"  # not a header value: not sent

    http_app.add_service(Tagged)
    with caplog.at_level(logging.WARNING, logger="tickwork.http"):
        response = client.post("/services/tagged")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-report-version"] == "7"
    assert response.headers["content-type"].startswith("application/json")
    assert "x-bad" not in response.headers
    warned = {r.args[1] for r in caplog.records if r.args}  # type: ignore[index]
    assert warned == {"Content-Type", "X-Bad"}


def test_invoke_with_no_body_gives_a_null_payload(client: httpx.Client, seen: Seen) -> None:
    response = client.post("/services/echo")
    assert response.status_code == 200
    assert response.json() is None
    assert seen.requests[response.headers["x-correlation-id"]].payload is None


def test_invoke_reads_a_string_payload_like_an_extra(client: httpx.Client, seen: Seen) -> None:
    response = client.post("/services/echo", json="region=eu; size=3")
    assert response.json() == {"region": "eu", "size": "3"}
    request = seen.requests[response.headers["x-correlation-id"]]
    assert request.raw_request == "region=eu; size=3"


def test_each_invocation_has_its_own_cid(client: httpx.Client) -> None:
    cids = {client.post("/services/echo", json=1).headers["x-correlation-id"] for _ in range(3)}
    assert len(cids) == 3


def test_invoke_an_async_service(client: httpx.Client) -> None:
    response = client.post("/services/aecho", json=[1])
    assert response.status_code == 200
    assert response.json() == {"async": [1]}


def test_a_failing_service_is_a_500_without_a_traceback(
    client: httpx.Client, seen: Seen, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="tickwork.http"):
        response = client.post("/services/fail", json={})
    assert response.status_code == 500
    error = error_of(response)
    cid = response.headers["x-correlation-id"]
    assert error == {"code": "service_error", "message": "RuntimeError: it broke", "cid": cid}
    assert cid in seen.requests
    # The traceback is in the server's log, not in the answer.
    assert any(r.exc_info and "it broke" in str(r.exc_info[1]) for r in caplog.records)


def test_a_payload_that_is_not_json_is_a_500_naming_the_service(client: httpx.Client) -> None:
    response = client.post("/services/not-json")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "bad_response"
    assert "'not-json'" in error["message"]
    assert error["cid"] == response.headers["x-correlation-id"]


def test_unknown_service_is_404(client: httpx.Client) -> None:
    response = client.post("/services/nope", json={})
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "service_not_found",
        "message": "No service by the name of 'nope' is registered",
    }


@pytest.mark.parametrize("name", ["hidden", "internal"])
def test_services_not_exposed_are_404(client: httpx.Client, name: str) -> None:
    response = client.post(f"/services/{name}", json={})
    assert response.status_code == 404
    assert error_of(response)["code"] == "service_not_exposed"
    assert "secret" not in response.text


def test_concurrent_requests_are_served_in_parallel(
    http_app: tw.App, connect: Callable[..., httpx.Client], url: str
) -> None:
    barrier = threading.Barrier(4, timeout=3)

    @http_app.service("meet")
    def meet(request: tw.Request) -> int:
        barrier.wait()  # only returns once four requests are in at the same time
        return int(request.payload)

    client = connect(url)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.post("/services/meet", json=i), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json() for a in answers) == list(range(8))
    assert len({a.headers["x-correlation-id"] for a in answers}) == 8


def test_concurrent_job_changes(client: httpx.Client) -> None:
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: add(client, f"job-{i:02}"), range(16)))
    assert {r.status_code for r in created} == {201}
    assert client.get("/jobs").json()["total"] == 16


# -- malformed input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"{", b"{'a': 1}", b"[1,]", b"NaN", b"\xff\xfe", b"1 2", b"[" * 100_000]
)
def test_malformed_json_is_400(client: httpx.Client, body: bytes) -> None:
    for path in ["/services/echo", "/jobs"]:
        response = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, body[:10])
        assert error_of(response)["code"] == "bad_json"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", ""],
)
def test_a_body_that_is_not_json_is_415(client: httpx.Client, content_type: str) -> None:
    response = client.post("/services/echo", content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_json_media_types_are_accepted(client: httpx.Client) -> None:
    for content_type in ["application/json", "application/merge-patch+json", "Application/JSON"]:
        response = client.post(
            "/services/echo", content=b"[1]", headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, content_type


def test_oversized_body_is_413(
    http_app: tw.App, start: Callable[[HTTPChannel], str], connect: Callable[..., httpx.Client]
) -> None:
    client = connect(start(HTTPChannel(http_app, token=TOKEN, max_body=1024)))
    assert client.post("/services/echo", json="x" * 1000).status_code == 200
    response = client.post("/services/echo", json="x" * 100_000)
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert "1024" in error_of(response)["message"]


def test_oversized_body_is_refused_before_it_is_sent(url: str) -> None:
    # Content-Length says a gigabyte; none of it is sent, yet the answer comes.
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /services/echo HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.0 413 ")


def wsgi_call(
    channel: HTTPChannel,
    method: str,
    path: str,
    body: bytes | io.RawIOBase = b"",
    headers: dict[str, str] | None = None,
    **environ: Any,
) -> tuple[str, dict[str, str], bytes]:
    """Call the WSGI app directly (no server)."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path.split("?")[0],
        "QUERY_STRING": path.split("?", 1)[1] if "?" in path else "",
        "wsgi.input": stream,
        "HTTP_AUTHORIZATION": f"Bearer {TOKEN}",
    }
    if isinstance(body, bytes) and body:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/json"
    for key, value in (headers or {}).items():
        env[key] = value
    env.update(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> Callable[[bytes], None]:
        answer["status"] = status
        answer["headers"] = dict(headers)
        return lambda data: None

    chunks = channel(env, start_response)
    return answer["status"], answer["headers"], b"".join(chunks)


class Unreadable(io.RawIOBase):
    """A request body that must never be read."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


class Endless(io.RawIOBase):
    """A chunked body that never ends; counts what was read."""

    def __init__(self) -> None:
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "read everything of an endless body"
        self.taken += size
        return b"x" * size


def test_a_content_length_over_the_limit_is_never_read(channel: HTTPChannel) -> None:
    status, _, body = wsgi_call(
        channel,
        "POST",
        "/services/echo",
        Unreadable(),
        CONTENT_LENGTH=str(10**12),
        CONTENT_TYPE="application/json",
    )
    assert status.startswith("413")
    assert json.loads(body)["error"]["code"] == "body_too_large"


def test_a_chunked_body_is_read_up_to_the_limit_only(http_app: tw.App) -> None:
    channel = HTTPChannel(http_app, token=TOKEN, max_body=4096)
    endless = Endless()
    status, _, _ = wsgi_call(
        channel,
        "POST",
        "/services/echo",
        endless,
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_TYPE="application/json",
        **{"wsgi.input_terminated": True},
    )
    assert status.startswith("413")
    assert endless.taken == 4097


def test_a_chunked_body_the_server_cannot_delimit_is_411(channel: HTTPChannel) -> None:
    status, _, body = wsgi_call(
        channel,
        "POST",
        "/services/echo",
        Unreadable(),
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_TYPE="application/json",
    )
    assert status.startswith("411")
    assert json.loads(body)["error"]["code"] == "length_required"


def test_a_chunked_body_within_the_limit_is_taken(channel: HTTPChannel) -> None:
    status, headers, body = wsgi_call(
        channel,
        "POST",
        "/services/echo",
        io.BytesIO(b'{"n": 1}'),
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_TYPE="application/json",
        **{"wsgi.input_terminated": True},
    )
    assert status == "200 OK"
    assert json.loads(body) == {"n": 1}
    assert "X-Correlation-ID" in headers


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "١٢"])
def test_a_bad_content_length_is_400(channel: HTTPChannel, length: str) -> None:
    status, _, _ = wsgi_call(
        channel, "POST", "/services/echo", io.BytesIO(b"{}"), CONTENT_LENGTH=length
    )
    assert status.startswith("400")


def test_a_body_shorter_than_its_length_is_400(channel: HTTPChannel) -> None:
    status, _, _ = wsgi_call(
        channel,
        "POST",
        "/services/echo",
        io.BytesIO(b"{}"),
        CONTENT_LENGTH="10",
        CONTENT_TYPE="application/json",
    )
    assert status.startswith("400")


def test_unknown_route_is_404(client: httpx.Client) -> None:
    for path in ["/", "/nope", "/jobs/a/b/c/d", "/services/", "/jobs/x/unknown"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.put("/jobs")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    response = client.get("/services/echo")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.request("OPTIONS", "/jobs/x").headers["allow"] == "DELETE, GET, HEAD, PATCH"


def test_bad_query_parameters_are_400_naming_them(client: httpx.Client) -> None:
    for path, name in [
        ("/jobs?limit=0", "limit"),
        ("/jobs?limit=1001", "limit"),
        ("/jobs?limit=x", "limit"),
        ("/jobs?offset=-1", "offset"),
        ("/jobs?active=maybe", "active"),
        ("/history?limit=", "limit"),
        ("/jobs?active=", "active"),
        ("/cron/preview?expr=*+*+*+*+*&count=101", "count"),
    ]:
        response = client.get(path)
        assert response.status_code == 400, path
        assert error_of(response)["field"] == name, path


def test_a_query_string_that_is_not_utf8_is_400(client: httpx.Client) -> None:
    assert client.get("/jobs?q=%ff").status_code == 400


def test_internal_errors_are_500_without_details(
    client: httpx.Client,
    sched: tw.Scheduler,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(sched, "jobs_page", broken)
    with caplog.at_level(logging.ERROR, logger="tickwork.http"):
        response = client.get("/jobs")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"
    assert "hunter2" not in response.text
    assert any("hunter2" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_store_errors_are_503_without_details(
    client: httpx.Client, sched: tw.Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> list[tw.Run]:
        raise tw.StoreError("SQLite store '/secret/path.db': disk I/O error")

    monkeypatch.setattr(sched, "history", broken)
    response = client.get("/history")
    assert response.status_code == 503
    assert error_of(response)["code"] == "store_error"
    assert "/secret" not in response.text


# -- the job admin API -----------------------------------------------------------------


def test_create_and_get_a_job(client: httpx.Client) -> None:
    response = add(client, "sync", extra="region=eu", timeout=30, retry={"attempts": 2})
    assert response.status_code == 201
    assert response.headers["location"] == "/jobs/sync"
    job = response.json()
    assert job["name"] == "sync"
    assert job["service"] == "echo"
    assert job["trigger"]["type"] == "interval"
    assert job["trigger_text"] == "every 5 minutes"
    assert job["extra"] == "region=eu"
    assert job["next_fire_time"] == "2026-03-28T00:05:00+00:00"
    assert job["timeout"] == 30
    assert job["retry"]["attempts"] == 2
    assert client.get("/jobs/sync").json() == job


def test_create_answers_the_spec_errors_with_their_field(client: httpx.Client) -> None:
    every = {"type": "interval", "minutes": 1}
    bad_cron = {"type": "cron", "expr": "61 * * * *"}
    cases = [
        ({"service": "echo", "trigger": every}, "name"),
        ({"name": "x", "service": "echo"}, "trigger"),
        ({"name": "x", "service": "echo", "trigger": {"type": "daily"}}, "trigger"),
        ({"name": "x", "service": "echo", "trigger": {"type": "interval"}}, "trigger"),
        ({"name": "x", "service": "echo", "trigger": bad_cron}, "trigger"),
        ({"name": "x", "service": "nope", "trigger": every}, "service"),
        ({"name": "x", "service": "echo", "trigger": every, "colour": 1}, "colour"),
        ({"name": "x", "service": "echo", "trigger": every, "misfire": "never"}, "misfire"),
        (
            {"name": "x", "service": "echo", "trigger": every, "retry": {"attempts": 0}},
            "retry.attempts",
        ),
        ({"name": " ", "service": "echo", "trigger": every}, "name"),
        ([1, 2], "job"),
    ]  # fmt: skip
    for body, field in cases:
        response = client.post("/jobs", json=body)
        assert response.status_code == 400, body
        error = error_of(response)
        assert error["field"] == field, (body, error)
        assert error["code"] in {"invalid_spec", "service_not_found"}


def test_an_interval_under_a_millisecond_is_400_naming_the_trigger(client: httpx.Client) -> None:
    for trigger in [
        {"type": "interval", "seconds": 0.000001},
        {"type": "interval", "seconds": 0.0009},
    ]:
        response = add(client, "fast", trigger=trigger)
        assert response.status_code == 400, trigger
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid_spec", "trigger")
        assert "shorter than the minimum, 1 millisecond" in error["message"]
    assert client.get("/jobs").json()["total"] == 0
    add(client, "slow")
    response = client.patch("/jobs/slow", json={"trigger": {"type": "interval", "seconds": 1e-6}})
    assert response.status_code == 400
    assert error_of(response)["field"] == "trigger"
    assert client.get("/jobs/slow").json()["trigger_text"] == "every 5 minutes"


def test_create_without_a_body_is_400(client: httpx.Client) -> None:
    response = client.post("/jobs")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_spec"


def test_numbers_out_of_range_are_400(client: httpx.Client) -> None:
    for spec in [
        {"trigger": {"type": "interval", "days": 10**12}},
        {"trigger": {"type": "interval", "weeks": 1e300}},
        {"trigger": {"type": "interval", "weeks": 420_000}},  # first fire past the year 9999
        {"grace": 1e300},
        {"retry": {"backoff": 1e300}},
    ]:
        response = add(client, "big", **spec)
        assert response.status_code == 400, spec
    assert client.get("/jobs").json()["total"] == 0


def test_job_numbers_out_of_range_are_400_naming_the_field(client: httpx.Client) -> None:
    cases = [
        ({"grace": 1e300}, "grace", "too long"),
        ({"grace": -1}, "grace", ">= 0"),
        ({"jitter": 1e12}, "jitter", "too long"),
        ({"timeout": 10**30}, "timeout", "too long"),
        ({"retry": {"factor": 1e308}}, "retry.factor", "from 1 to 1000"),
        ({"retry": {"attempts": 10**30}}, "retry.attempts", "1 to 1000"),
        ({"retry": {"max_backoff": 1e300}}, "retry.max_backoff", "too long"),
        ({"retry": {"backoff": 1e8}}, "retry.backoff", "from 0 to 1 day"),
    ]
    for spec, field, words in cases:
        response = add(client, "big", **spec)
        assert response.status_code == 400, spec
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid_spec", field), (spec, error)
        assert words in error["message"], (spec, error)
    add(client, "sync")
    response = client.patch("/jobs/sync", json={"retry": {"factor": 1e308}})
    assert response.status_code == 400
    assert error_of(response)["field"] == "retry.factor"
    # NaN and Infinity are not JSON: the body itself is refused.
    response = client.post(
        "/jobs",
        content=b'{"name": "n", "service": "echo", "trigger": {"type": "interval", "minutes": 5},'
        b' "grace": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert client.get("/jobs").json()["total"] == 1


def test_a_one_time_job(client: httpx.Client) -> None:
    response = add(client, "once", trigger={"type": "onetime", "at": "2026-03-28T06:00:00"})
    assert response.status_code == 201
    assert response.json()["next_fire_time"] == "2026-03-28T06:00:00+00:00"


def test_duplicate_is_409_unless_replace(client: httpx.Client) -> None:
    assert add(client, "sync").status_code == 201
    response = add(client, "sync")
    assert response.status_code == 409
    assert error_of(response)["code"] == "job_exists"
    response = client.post(
        "/jobs?replace=true",
        json={"name": "sync", "service": "echo", "trigger": {"type": "cron", "expr": "0 9 * * *"}},
    )
    assert response.status_code == 201
    assert client.get("/jobs/sync").json()["trigger"]["type"] == "cron"


def test_list_jobs_pages_sorted_by_name(client: httpx.Client) -> None:
    for name in ["delta", "alpha", "echo", "charlie", "bravo"]:
        assert add(client, name).status_code == 201
    page = client.get("/jobs", params={"limit": 2, "offset": 1}).json()
    assert [j["name"] for j in page["jobs"]] == ["bravo", "charlie"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    everything = client.get("/jobs").json()
    assert [j["name"] for j in everything["jobs"]] == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert (everything["limit"], everything["offset"]) == (100, 0)
    past_the_end = client.get("/jobs", params={"offset": 10}).json()
    assert past_the_end["jobs"] == []
    assert past_the_end["total"] == 5


def test_list_jobs_filters(client: httpx.Client) -> None:
    for name in ["sync-eu", "sync-us", "report"]:
        add(client, name)
    add(client, "other", service="aecho")
    client.post("/jobs/sync-us/pause")
    assert [j["name"] for j in client.get("/jobs?q=SYNC").json()["jobs"]] == ["sync-eu", "sync-us"]
    assert [j["name"] for j in client.get("/jobs?q=aecho").json()["jobs"]] == ["other"]
    paused = client.get("/jobs?active=false").json()
    assert [j["name"] for j in paused["jobs"]] == ["sync-us"]
    assert paused["total"] == 1
    assert client.get("/jobs?active=true&q=sync").json()["total"] == 1


def test_get_unknown_job_is_404(client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/jobs/nope"),
        ("PATCH", "/jobs/nope"),
        ("DELETE", "/jobs/nope"),
        ("POST", "/jobs/nope/pause"),
        ("POST", "/jobs/nope/resume"),
        ("POST", "/jobs/nope/execute"),
        ("GET", "/jobs/nope/history"),
        ("GET", "/jobs/nope/next"),
    ]:
        kwargs = {"json": {"extra": 1}} if method == "PATCH" else {}
        response = client.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert error_of(response) == {
            "code": "job_not_found",
            "message": "No job by the name of 'nope' was found",
        }


def test_update_a_job(client: httpx.Client) -> None:
    add(client, "sync")
    response = client.patch(
        "/jobs/sync",
        json={"trigger": {"type": "cron", "expr": "0 9 * * *"}, "extra": {"k": 1}, "timeout": 5},
    )
    assert response.status_code == 200
    job = response.json()
    assert job["trigger"]["expr"] == "0 9 * * *"
    assert job["extra"] == {"k": 1}
    assert job["timeout"] == 5
    assert job["service"] == "echo"
    assert job["next_fire_time"] == "2026-03-28T09:00:00+00:00"
    assert client.patch("/jobs/sync", json={"name": "sync", "extra": None}).json()["extra"] is None
    assert client.patch("/jobs/sync", json={}).json()["name"] == "sync"


def test_update_pauses_and_resumes_with_active(client: httpx.Client) -> None:
    add(client, "sync")
    job = client.patch("/jobs/sync", json={"active": False}).json()
    assert (job["active"], job["next_fire_time"]) == (False, None)
    job = client.patch("/jobs/sync", json={"active": True}).json()
    assert job["active"] is True
    assert job["next_fire_time"] is not None


def test_update_errors(client: httpx.Client) -> None:
    add(client, "sync")
    for body, field in [
        ({"name": "other"}, "name"),
        ({"trigger": {"type": "interval", "minutes": -1}}, "trigger"),
        ({"service": "nope"}, "service"),
        ({"grace": -1}, "grace"),
        ({"active": "yes"}, "active"),
        ("text", "job"),
    ]:
        response = client.patch("/jobs/sync", json=body)
        assert response.status_code == 400, body
        assert error_of(response)["field"] == field, body
    assert client.patch("/jobs/sync").status_code == 400
    assert client.get("/jobs/sync").json()["service"] == "echo"


def test_remove_a_job(client: httpx.Client) -> None:
    add(client, "sync")
    response = client.delete("/jobs/sync")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/jobs/sync").status_code == 404


def test_pause_and_resume(client: httpx.Client, clock: tw.FakeClock) -> None:
    add(client, "sync")
    job = client.post("/jobs/sync/pause").json()
    assert (job["active"], job["next_fire_time"]) == (False, None)
    assert client.post("/jobs/sync/pause").json()["active"] is False  # idempotent
    clock.advance(minutes=12)
    job = client.post("/jobs/sync/resume").json()
    assert job["active"] is True
    assert job["next_fire_time"] == "2026-03-28T00:15:00+00:00"


def test_execute_now(client: httpx.Client, seen: Seen, sched: tw.Scheduler) -> None:
    add(client, "sync", extra="region=eu")
    response = client.post("/jobs/sync/execute")
    assert response.status_code == 202
    cid = response.json()["cid"]
    assert response.json() == {"cid": cid, "job": "sync"}
    assert response.headers["x-correlation-id"] == cid
    request = seen.requests[cid]
    assert request.channel == "scheduler"
    assert request.payload == {"region": "eu"}
    assert request.job is not None
    assert request.job.manual is True
    [run] = sched.history("sync")
    assert run.cid == cid


def test_execute_now_with_extra(client: httpx.Client, seen: Seen) -> None:
    add(client, "sync", extra="region=eu")
    cid = client.post("/jobs/sync/execute", json={"extra": {"region": "us"}}).json()["cid"]
    assert seen.requests[cid].payload == {"region": "us"}
    cid = client.post("/jobs/sync/execute", json={"extra": None}).json()["cid"]
    assert seen.requests[cid].payload == {"region": "eu"}


def test_execute_now_bad_body(client: httpx.Client) -> None:
    add(client, "sync")
    for body, field in [([1], "body"), ({"extra": 1, "when": "now"}, "when")]:
        response = client.post("/jobs/sync/execute", json=body)
        assert response.status_code == 400
        assert error_of(response)["field"] == field


def test_history(client: httpx.Client, sched: tw.Scheduler) -> None:
    add(client, "ok")
    add(client, "bad", service="fail")
    sched.advance(minutes=15)
    runs = client.get("/jobs/ok/history").json()
    assert runs["job"] == "ok"
    assert runs["limit"] == 100
    assert [r["scheduled_for"] for r in runs["runs"]] == [
        "2026-03-28T00:15:00+00:00",
        "2026-03-28T00:10:00+00:00",
        "2026-03-28T00:05:00+00:00",
    ]
    assert {r["outcome"] for r in runs["runs"]} == {"ok"}
    assert len(client.get("/jobs/ok/history?limit=2").json()["runs"]) == 2
    failed = client.get("/history", params={"job": "bad", "limit": 1}).json()["runs"]
    assert [(r["outcome"], r["error"]) for r in failed] == [("error", "RuntimeError: it broke")]
    assert "Traceback" not in json.dumps(failed)
    assert len(client.get("/history").json()["runs"]) == 6


def test_history_of_a_removed_job(client: httpx.Client, sched: tw.Scheduler) -> None:
    add(client, "gone")
    sched.advance(minutes=5)
    client.delete("/jobs/gone")
    assert client.get("/jobs/gone/history").status_code == 404
    assert len(client.get("/history?job=gone").json()["runs"]) == 1


def test_times_in_the_zone_asked_for(client: httpx.Client, sched: tw.Scheduler) -> None:
    add(client, "sync")
    sched.advance(minutes=5)
    job = client.get("/jobs/sync?tz=America/New_York").json()
    assert job["next_fire_time"] == "2026-03-27T20:10:00-04:00"
    [run] = client.get("/history?tz=Asia/Tokyo").json()["runs"]
    assert run["scheduled_for"] == "2026-03-28T09:05:00+09:00"
    listed = client.get("/jobs?tz=Europe/Paris").json()["jobs"][0]
    assert listed["next_fire_time"] == "2026-03-28T01:10:00+01:00"


def test_the_channels_zone_is_the_default(
    http_app: tw.App,
    sched: tw.Scheduler,
    start: Callable[[HTTPChannel], str],
    connect: Callable[..., httpx.Client],
) -> None:
    client = connect(start(HTTPChannel(http_app, sched, token=TOKEN, tz="Asia/Kolkata")))
    add(client, "sync")
    assert client.get("/jobs/sync").json()["next_fire_time"] == "2026-03-28T05:35:00+05:30"
    assert client.get("/jobs/sync?tz=UTC").json()["next_fire_time"] == "2026-03-28T00:05:00+00:00"


def test_a_bad_zone_is_400_naming_it(client: httpx.Client) -> None:
    add(client, "sync")
    for path in ["/jobs/sync", "/jobs", "/history", "/jobs/sync/next", "/cron/preview?expr=@daily"]:
        response = client.get(path + ("&" if "?" in path else "?") + "tz=Mars/Olympus")
        assert response.status_code == 400, path
        error = error_of(response)
        assert error["field"] == "tz"
        assert "'Mars/Olympus'" in error["message"]


def test_next_fire_times_with_dst_marks(client: httpx.Client) -> None:
    add(client, "night", trigger={"type": "cron", "expr": "30 1 * * *", "tz": "Europe/London"})
    answer = client.get("/jobs/night/next", params={"count": 3, "tz": "Europe/London"}).json()
    assert answer["job"] == "night"
    assert answer["active"] is True
    assert answer["tz"] == "Europe/London"
    times = answer["times"]
    assert [t["at"] for t in times] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T02:00:00+01:00",
        "2026-03-30T01:30:00+01:00",
    ]
    assert times[1]["utc"] == "2026-03-29T01:00:00+00:00"
    assert times[0]["dst"] is None
    assert "sprang forward" in times[1]["dst"]
    assert times[2]["dst"] is None
    autumn = client.get("/jobs/night/next", params={"after": "2026-10-24T12:00:00Z", "count": 1})
    assert "fall back" in autumn.json()["times"][0]["dst"]


def test_next_fire_times_of_other_triggers(client: httpx.Client, clock: tw.FakeClock) -> None:
    add(client, "every", trigger={"type": "interval", "hours": 1, "repeats": 3})
    times = client.get("/jobs/every/next").json()["times"]
    assert [t["at"] for t in times] == [
        "2026-03-28T01:00:00+00:00",
        "2026-03-28T02:00:00+00:00",
        "2026-03-28T03:00:00+00:00",
    ]
    assert {t["dst"] for t in times} == {None}
    add(client, "once", trigger={"type": "onetime", "at": "2026-04-01T09:00:00"})
    assert [t["at"] for t in client.get("/jobs/once/next").json()["times"]] == [
        "2026-04-01T09:00:00+00:00"
    ]


def test_next_fire_times_of_a_paused_job_start_from_now(
    client: httpx.Client, clock: tw.FakeClock
) -> None:
    add(client, "sync")
    client.post("/jobs/sync/pause")
    clock.advance(minutes=7)
    answer = client.get("/jobs/sync/next?count=2").json()
    assert answer["active"] is False
    assert [t["at"] for t in answer["times"]] == [
        "2026-03-28T00:10:00+00:00",
        "2026-03-28T00:15:00+00:00",
    ]


def test_next_with_a_bad_after_is_400(client: httpx.Client) -> None:
    add(client, "sync")
    response = client.get("/jobs/sync/next?after=not-a-time")
    assert response.status_code == 400
    assert error_of(response)["field"] == "after"


def test_cron_preview(client: httpx.Client) -> None:
    response = client.get(
        "/cron/preview",
        params={
            "expr": "30 2 * * *",
            "tz": "America/New_York",
            "count": 2,
            "after": "2026-03-07T12:00",
        },
    )
    assert response.status_code == 200
    preview = response.json()
    assert preview["expr"] == "30 2 * * *"
    assert preview["tz"] == "America/New_York"
    assert preview["fixed_time"] is True
    assert "02:30" in preview["description"]
    assert [t["at"] for t in preview["times"]] == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    assert "sprang forward" in preview["times"][0]["dst"]


def test_cron_preview_starts_at_the_schedulers_now(client: httpx.Client) -> None:
    times = client.get("/cron/preview?expr=0+*+*+*+*&count=1").json()["times"]
    assert times[0]["at"] == "2026-03-28T01:00:00+00:00"


def test_cron_preview_errors(client: httpx.Client) -> None:
    response = client.get("/cron/preview", params={"expr": "61 * * * *"})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_cron", "expr")
    assert "61" in error["message"]
    assert "minute" in error["message"]
    for params in [{}, {"expr": ""}]:
        response = client.get("/cron/preview", params=params)
        assert response.status_code == 400
        assert error_of(response)["field"] == "expr"


# -- without a scheduler ---------------------------------------------------------------


def test_without_a_scheduler_the_job_routes_are_404(
    http_app: tw.App, start: Callable[[HTTPChannel], str], connect: Callable[..., httpx.Client]
) -> None:
    client = connect(start(HTTPChannel(http_app, token=TOKEN)))
    for method, path in [("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/history")]:
        response = client.request(method, path)
        assert response.status_code == 404
        assert error_of(response)["code"] == "no_scheduler"
    assert client.post("/services/echo", json=1).json() == 1
    assert client.get("/cron/preview?expr=@daily").status_code == 200


# -- names that need percent-encoding ----------------------------------------------------


@pytest.mark.parametrize("name", ["a/b", "with space", "ünïcödé", "q?x#y&z=1", "%41", "..", "a/"])
def test_job_names_that_need_encoding(client: httpx.Client, name: str) -> None:
    response = add(client, name)
    assert response.status_code == 201
    # Dot segments are spelled %2E, or clients would resolve them away.
    path = "/jobs/" + (quote(name, safe="") if name.strip(".") else name.replace(".", "%2E"))
    assert response.headers["location"] == path
    assert client.get(path).json()["name"] == name
    assert client.get(path + "/next").json()["job"] == name
    assert client.post(path + "/pause").json()["active"] is False
    assert client.post(path + "/execute").status_code == 202
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


def test_service_names_that_need_encoding(http_app: tw.App, client: httpx.Client) -> None:
    @http_app.service("api/v1 sync")
    def odd(request: tw.Request) -> str:
        return "odd"

    assert client.post("/services/" + quote("api/v1 sync", safe="")).json() == "odd"


def test_mounted_below_a_script_name(channel: HTTPChannel, sched: tw.Scheduler) -> None:
    sched.add_job("a/b", "echo", tw.Interval(minutes=1))
    status, _, body = wsgi_call(
        channel,
        "GET",
        "/jobs/a/b",
        SCRIPT_NAME="/api/v1",
        RAW_URI="/api/v1/jobs/a%2Fb?tz=UTC",
    )
    assert status == "200 OK"
    assert json.loads(body)["name"] == "a/b"


def test_without_a_raw_uri_paths_come_from_path_info(
    channel: HTTPChannel, sched: tw.Scheduler
) -> None:
    sched.add_job("ü x", "echo", tw.Interval(minutes=1))
    path = "/jobs/ü x".encode().decode("latin-1")  # WSGI text: the bytes as Latin-1
    status, _, body = wsgi_call(channel, "GET", path)
    assert status == "200 OK"
    assert json.loads(body)["name"] == "ü x"
    # A raw URI that does not match PATH_INFO (a proxy rewrote it) is ignored.
    status, _, _ = wsgi_call(channel, "GET", "/jobs/ü x".encode().decode("latin-1"), RAW_URI="/x")
    assert status == "200 OK"


# -- a durable store -------------------------------------------------------------------------


def test_jobs_added_over_http_are_kept_in_sqlite(
    http_app: tw.App,
    clock: tw.FakeClock,
    tmp_path: Path,
    start: Callable[[HTTPChannel], str],
    connect: Callable[..., httpx.Client],
) -> None:
    store = tw.SQLiteStore(tmp_path / "jobs.db")
    sched = tw.Scheduler(http_app, clock=clock, store=store)
    try:
        client = connect(start(HTTPChannel(http_app, sched, token=TOKEN)))
        assert add(client, "kept", extra={"n": 1}).status_code == 201
        client.post("/jobs/kept/execute")
        sched.advance(minutes=5)
        assert len(client.get("/jobs/kept/history").json()["runs"]) == 2
    finally:
        sched.shutdown()
        store.close()
    store = tw.SQLiteStore(tmp_path / "jobs.db")
    try:
        again = tw.Scheduler(http_app, clock=clock, store=store)
        assert again.get_job("kept").extra == {"n": 1}
        assert len(again.history("kept")) == 2
        again.shutdown()
    finally:
        store.close()


# -- serving ---------------------------------------------------------------------------------


def test_requests_are_logged_to_the_tickwork_http_logger(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def logged() -> bool:
        return any(
            "GET /health" in r.getMessage() for r in caplog.records if r.name == "tickwork.http"
        )

    with caplog.at_level(logging.INFO, logger="tickwork.http"):
        client.get("/health")
        # The server's thread logs the request after the client has the answer.
        deadline = time.monotonic() + 5
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert logged()


def test_a_broken_request_line_does_not_reach_the_app(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1 extra\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert b"400" in answer
    assert b"Traceback" not in answer


def test_serve_on_ipv6_loopback(channel: HTTPChannel) -> None:
    try:
        server = serve(channel, host="::1", port=0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = httpx.get(f"http://[::1]:{server.server_port}/health")
        assert response.json() == {"status": "ok"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_large_body_without_the_token_gets_its_401(url: str) -> None:
    # The body is never read (the server drops what comes in while it closes
    # the connection); the client sees the answer, not a connection reset.
    response = httpx.post(url + "/services/echo", content=b"x" * 300_000)
    assert response.status_code == 401


def test_the_module_exports() -> None:
    assert set(channel_http.__all__) == {"HTTPChannel", "openapi_document", "serve"}


def test_the_dashboard_files_need_no_token_and_carry_their_own_csp(url: str) -> None:
    with httpx.Client(base_url=url, timeout=5) as plain:  # no token
        page = plain.get("/dashboard/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"].startswith(
            "default-src 'none'; script-src 'self'"
        )
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert '<script type="module" src="app.js">' in page.text
        script = plain.get("/dashboard/app.js")
        assert script.headers["content-type"] == "text/javascript; charset=utf-8"
        assert int(script.headers["content-length"]) == len(script.content) > 0
        assert plain.head("/dashboard/style.css").content == b""
        moved = plain.get("/dashboard")
        assert moved.status_code == 301
        assert moved.headers["location"] == "/dashboard/"
        missing = plain.get("/dashboard/secrets.txt")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        refused = plain.post("/dashboard/", json={})
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD"
        assert refused.headers["content-type"] == "application/json; charset=utf-8"


def test_a_job_name_too_long_to_address_is_refused(client: httpx.Client) -> None:
    response = add(client, "n" * 100_000)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_spec", "name")
    assert "at most 200 characters" in error["message"]
    assert client.get("/jobs").json()["total"] == 0
    name = "n" * 200
    assert add(client, name).status_code == 201
    assert client.get(f"/jobs/{name}").json()["name"] == name
