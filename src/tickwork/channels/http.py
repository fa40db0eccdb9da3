"""The HTTP channel: services and a scheduler's jobs over a JSON API, as a WSGI application.

``HTTPChannel(app, sched)`` (or ``app.wsgi(sched)``) is a WSGI callable; serve
it with any WSGI server (gunicorn, uWSGI, waitress...) or, for one process,
with :func:`serve` (``tickwork serve`` uses it). Standard library only.

Every route but ``GET /health`` and ``GET /openapi.json`` needs
``Authorization: Bearer <token>``. Bodies and answers are JSON; errors are
``{"error": {"code": ..., "message": ..., "field": ...}}`` with a 4xx status,
and a 500 only for a bug in the channel itself, whose traceback goes to the
``tickwork.http`` logger and never into a response. The routes are in
``docs/http.md`` and in the OpenAPI document, :func:`openapi_document`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from heapq import heapify, heappop, heappush
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .._exceptions import DuplicateJob, InvalidTrigger, JobNotFound, ServiceNotFound, StoreError
from .._jobspec import SpecError, job_to_data, parse_job_spec, run_to_data
from .._service import new_cid
from .._time import dt_to_us, get_zone, parse_instant, us_to_dt, zone_name
from ._dashboard import CSP, static_file
from ._openapi import openapi_document

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .._app import App
    from .._model import Job, Run
    from .._scheduler import Scheduler
    from ..triggers import Trigger

__all__ = ["HTTPChannel", "openapi_document", "serve"]

logger = logging.getLogger("tickwork.http")

JSON_TYPE = "application/json; charset=utf-8"
#: Headers on every answer: nothing is cached, nothing is sniffed into HTML.
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)
CID_HEADER = "X-Correlation-ID"

_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: it travels in a header
_DIGITS = re.compile(r"[0-9]{1,15}")
_MAX_QUERY_FIELDS = 50
_MAX_ERROR_TEXT = 2000
# Lingering close (see _Server.shutdown_request): how long and how much.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * 1_048_576
# At the connection cap, how long one round of the accept loop waits for a slot.
_SLOT_WAIT_SECONDS = 0.1
_SECOND_US = 1_000_000
_MINUTE_US = 60 * _SECOND_US
# GET /overview's last hour: twelve buckets of five minutes.
_HOUR_BUCKETS = 12
_HOUR_BUCKET_US = 5 * _MINUTE_US
# The instants a datetime can show: the years 1 to 9999.
_MIN_US = dt_to_us(datetime.min.replace(tzinfo=UTC))
_MAX_US = dt_to_us(datetime.max.replace(tzinfo=UTC))
# GET /history and /jobs/{name}/history page up to this far back.
_MAX_HISTORY_OFFSET = 100_000


class _Fail(Exception):
    """An error answer, raised from anywhere in a route."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        cid: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.cid = cid
        self.headers = headers or []

    def answer(self) -> _Answer:
        error: dict[str, Any] = {"code": self.code, "message": _clip(self.message)}
        if self.field is not None:
            error["field"] = self.field
        headers = list(self.headers)
        if self.cid is not None:
            error["cid"] = self.cid
            headers.append((CID_HEADER, self.cid))
        return _Answer(self.status, _dumps({"error": error}), headers)


@dataclass
class _Answer:
    status: int
    body: bytes | None  # None: no body at all (204)
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON_TYPE  # of a body


def _ok(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> _Answer:
    return _Answer(status, _dumps(data), headers or [])


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: tuple[str | None, ...]  # None: a parameter segment
    handler: str
    public: bool = False  # no token needed
    jobs: bool = False  # needs a scheduler

    def matches(self, segments: list[str]) -> bool:
        return len(segments) == len(self.pattern) and all(
            want == got if want is not None else got != ""
            for want, got in zip(self.pattern, segments, strict=True)
        )


_ROUTES = (
    _Route("GET", ("health",), "_health", public=True),
    _Route("GET", ("openapi.json",), "_openapi", public=True),
    _Route("GET", ("session",), "_session"),
    _Route("GET", ("services",), "_list_services"),
    _Route("POST", ("services", None), "_invoke_service"),
    _Route("GET", ("jobs",), "_list_jobs", jobs=True),
    _Route("POST", ("jobs",), "_create_job", jobs=True),
    _Route("GET", ("jobs", None), "_get_job", jobs=True),
    _Route("PATCH", ("jobs", None), "_update_job", jobs=True),
    _Route("DELETE", ("jobs", None), "_remove_job", jobs=True),
    _Route("POST", ("jobs", None, "pause"), "_pause_job", jobs=True),
    _Route("POST", ("jobs", None, "resume"), "_resume_job", jobs=True),
    _Route("POST", ("jobs", None, "execute"), "_execute_job", jobs=True),
    _Route("GET", ("jobs", None, "history"), "_job_history", jobs=True),
    _Route("GET", ("jobs", None, "next"), "_job_next", jobs=True),
    _Route("GET", ("history",), "_history", jobs=True),
    _Route("GET", ("overview",), "_overview", jobs=True),
    _Route("GET", ("upcoming",), "_upcoming", jobs=True),
    _Route("GET", ("cron", "preview"), "_cron_preview"),
)


class _Call:
    """One request, as the routes see it."""

    __slots__ = ("_zone", "channel", "environ", "query")

    def __init__(self, channel: HTTPChannel, environ: WSGIEnvironment) -> None:
        self.channel = channel
        self.environ = environ
        self.query = _query(environ)
        self._zone: tzinfo | None = None

    def zone(self) -> tzinfo:
        """The zone for times in the answer: ``?tz=`` or the channel's."""
        if self._zone is None:
            name = self.query.get("tz")
            if not name:  # absent, or empty as a form sends it: the default
                self._zone = self.channel.tz
            else:
                try:
                    self._zone = get_zone(name, what="tz")
                except InvalidTrigger as exc:
                    raise _Fail(400, "bad_parameter", str(exc), field="tz") from None
        return self._zone

    def number(self, name: str, default: int, low: int, high: int) -> int:
        text = self.query.get(name)
        if text is None:
            return default
        value = int(text) if _DIGITS.fullmatch(text) else None
        if value is None or not low <= value <= high:
            raise _Fail(
                400,
                "bad_parameter",
                f"{name} must be a whole number from {low} to {high}, got {text!r}",
                field=name,
            )
        return value

    def flag(self, name: str) -> bool | None:
        text = self.query.get(name)
        if text is None:
            return None
        value = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
        if value is None:
            raise _Fail(
                400, "bad_parameter", f"{name} must be true or false, got {text!r}", field=name
            )
        return value

    def instant(self, name: str, default: int) -> int:
        """An instant from an ISO 8601 parameter (naive: in the answer's zone)."""
        text = self.query.get(name)
        if not text:
            return default
        try:
            return parse_instant(text, self.zone(), what=name)
        except (ValueError, OverflowError) as exc:
            raise _Fail(400, "bad_parameter", str(exc), field=name) from None

    def body(self) -> bytes:
        return _read_body(self.environ, self.channel.max_body)

    def json(self) -> tuple[bool, Any]:
        """(whether there was a body, its JSON value)."""
        data = self.body()
        if not data:
            return False, None
        _check_json_type(self.environ)
        return True, _loads(data)


class HTTPChannel:
    """A WSGI application: services and a scheduler's jobs over a JSON API.

    Thread-safe: one instance serves any number of concurrent requests.

    Args:
        app: the services ``POST /services/{name}`` invokes.
        scheduler: the scheduler whose jobs ``/jobs`` and ``/history``
            administer (its app must be ``app``); without one, those routes
            answer 404.
        token: the bearer token every route but ``/health`` and
            ``/openapi.json`` needs. None generates one
            (``secrets.token_urlsafe(32)``); read it from :attr:`token`.
        read_only_token: a second token that may only read (``GET``); other
            methods answer 403 to it.
        max_body: the largest request body accepted, in bytes (413 above it).
        tz: the zone for times in answers (default UTC); ``?tz=`` overrides
            it per request.

    Attributes:
        token: the full-access token (generated when none was given).

    Raises:
        TypeError: ``app`` or ``scheduler`` is not what it should be.
        ValueError: a token is empty or holds spaces or non-ASCII characters,
            the two tokens are equal, ``max_body`` is not a positive number,
            or the scheduler runs another app's services.
        InvalidTrigger: ``tz`` is not a known zone.
    """

    def __init__(
        self,
        app: App,
        scheduler: Scheduler | None = None,
        *,
        token: str | None = None,
        read_only_token: str | None = None,
        max_body: int = 1_048_576,
        tz: str | tzinfo | None = None,
    ) -> None:
        from .._app import App
        from .._scheduler import Scheduler

        if not isinstance(app, App):
            raise TypeError(f"HTTPChannel needs a tickwork App, got {app!r}")
        if scheduler is not None:
            if not isinstance(scheduler, Scheduler):
                raise TypeError(
                    f"scheduler must be a tickwork Scheduler or None, got {scheduler!r}"
                )
            if scheduler.app is not app:
                raise ValueError("the scheduler runs the services of another App than this channel")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ValueError(f"max_body must be a whole number of bytes >= 1, got {max_body!r}")
        self.app = app
        self.scheduler = scheduler
        self.token = secrets.token_urlsafe(32) if token is None else _check_token(token, "token")
        self.read_only_token = (
            None if read_only_token is None else _check_token(read_only_token, "read_only_token")
        )
        if self.read_only_token == self.token:
            raise ValueError("read_only_token must differ from token")
        self._token = self.token.encode()
        self._read_token = None if self.read_only_token is None else self.read_only_token.encode()
        self.max_body = max_body
        self.tz: tzinfo = get_zone(tz, what="tz")
        self._openapi_body = _dumps(openapi_document())

    def __repr__(self) -> str:  # never the tokens
        return (
            f"HTTPChannel(services={len(self.app.services())}, "
            f"scheduler={'yes' if self.scheduler is not None else 'no'}, tz={zone_name(self.tz)!r})"
        )

    # -- WSGI ---------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        page = _dashboard_page(environ, method)
        if page is not None:
            return _respond(start_response, method, page, DASHBOARD_HEADERS)
        try:
            answer = self._dispatch(environ, method)
        except _Fail as fail:
            answer = fail.answer()
        except Exception:
            logger.exception(
                "internal error in the HTTP channel on %s %s",
                method,
                environ.get("PATH_INFO", ""),
            )
            answer = _Fail(
                500, "internal_error", "internal server error; the server's log has the details"
            ).answer()
        return _respond(start_response, method, answer, SECURITY_HEADERS)

    def _dispatch(self, environ: WSGIEnvironment, method: str) -> _Answer:
        segments = _segments(environ)
        routes = [route for route in _ROUTES if route.matches(segments)]
        read_only = False
        if not (routes and all(route.public for route in routes)):
            read_only = self._authorize(environ)
        if not routes:
            raise _Fail(404, "not_found", f"there is nothing at {'/' + '/'.join(segments)!r}")
        wanted = "GET" if method == "HEAD" else method
        route = next((r for r in routes if r.method == wanted), None)
        if route is None:
            allowed = sorted(
                {r.method for r in routes} | {"HEAD" for r in routes if r.method == "GET"}
            )
            raise _Fail(
                405,
                "method_not_allowed",
                f"{method} is not allowed here; allowed: {', '.join(allowed)}",
                headers=[("Allow", ", ".join(allowed))],
            )
        if read_only and route.method != "GET":
            raise _Fail(403, "forbidden", "the read-only token may only read (GET)")
        if route.jobs and self.scheduler is None:
            raise _Fail(404, "no_scheduler", "this channel serves no scheduler: there are no jobs")
        params = [seg for want, seg in zip(route.pattern, segments, strict=True) if want is None]
        handler: Callable[..., _Answer] = getattr(self, route.handler)
        return handler(_Call(self, environ), *params)

    def _authorize(self, environ: WSGIEnvironment) -> bool:
        """Check the bearer token; True when it is the read-only one."""
        header = str(environ.get("HTTP_AUTHORIZATION", "")).strip()
        if not header:
            raise _Fail(
                401,
                "unauthorized",
                "a bearer token is required: send the header 'Authorization: Bearer <token>'",
                headers=[("WWW-Authenticate", 'Bearer realm="tickwork"')],
            )
        scheme, _, credentials = header.partition(" ")
        # Header values are Latin-1 text in WSGI: back to the bytes sent.
        given = credentials.strip().encode("latin-1", "replace")
        # Both comparisons always run, so the time taken says nothing about either token.
        full = hmac.compare_digest(given, self._token)
        read = self._read_token is not None and hmac.compare_digest(given, self._read_token)
        if scheme.lower() != "bearer" or not (full or read):
            raise _Fail(
                401,
                "unauthorized",
                "the bearer token is not valid",
                headers=[("WWW-Authenticate", 'Bearer realm="tickwork", error="invalid_token"')],
            )
        return not full

    def _jobs(self) -> Scheduler:
        assert self.scheduler is not None  # _dispatch checked
        return self.scheduler

    # -- routes: open ---------------------------------------------------------
    def _health(self, call: _Call) -> _Answer:
        return _ok(200, {"status": "ok"})

    def _session(self, call: _Call) -> _Answer:
        """What the token may do: the dashboard hides what a read-only token cannot."""
        read_only = self._authorize(call.environ)
        return _ok(200, {"read_only": read_only, "scheduler": self.scheduler is not None})

    def _openapi(self, call: _Call) -> _Answer:
        return _Answer(200, self._openapi_body)

    # -- routes: services -------------------------------------------------
    def _list_services(self, call: _Call) -> _Answer:
        items = []
        for name in self.app.services():
            try:
                cls = self.app.get_service(name)
            except ServiceNotFound:  # removed meanwhile
                continue
            items.append(
                {
                    "name": name,
                    "async": cls.is_async(),
                    "exposed": bool(cls.expose_http),
                    "doc": _first_line(cls.__doc__),
                }
            )
        return _ok(200, {"services": items})

    def _invoke_service(self, call: _Call, name: str) -> _Answer:
        try:
            cls = self.app.get_service(name)
        except ServiceNotFound as exc:
            raise _Fail(404, "service_not_found", str(exc)) from None
        if not cls.expose_http:
            raise _Fail(404, "service_not_exposed", f"service {name!r} is not exposed over HTTP")
        _, payload = call.json()
        cid = new_cid()
        try:
            response = self.app._respond(name, payload, channel="http", cid=cid)
            result = response.payload
        except ServiceNotFound as exc:
            if exc.name == name and name not in self.app:  # removed meanwhile
                raise _Fail(404, "service_not_found", str(exc)) from None
            raise _service_failed(name, cid, exc) from None
        except Exception as exc:
            raise _service_failed(name, cid, exc) from None
        try:
            body = _dumps(result)
        except (TypeError, ValueError, RecursionError) as exc:
            logger.error(
                "service %r (cid %s) answered a payload that is not JSON", name, cid, exc_info=exc
            )
            raise _Fail(
                500,
                "bad_response",
                f"service {name!r} answered a {type(result).__name__} payload that is not JSON",
                cid=cid,
            ) from None
        return _Answer(200, body, [*_service_headers(name, response.headers), (CID_HEADER, cid)])

    # -- routes: jobs -------------------------------------------------------
    def _list_jobs(self, call: _Call) -> _Answer:
        limit = call.number("limit", 100, 1, 1000)
        offset = call.number("offset", 0, 0, 10**12)
        text = call.query.get("q", "").casefold()
        active = call.flag("active")
        outcomes = call.number("outcomes", 0, 0, 20)
        zone = call.zone()
        sched = self._jobs()
        page, total = sched.jobs_page(offset, limit, text=text, active=active)
        items = [_job_data(job, zone) for job in page]
        if outcomes and page:
            with _store_errors():  # one read for the page
                last = sched.store.last_outcomes([job.name for job in page], outcomes)
            for item in items:
                item["last_outcomes"] = last.get(item["name"], [])
        return _ok(200, {"jobs": items, "total": total, "limit": limit, "offset": offset})

    def _create_job(self, call: _Call) -> _Answer:
        replace = bool(call.flag("replace"))
        zone = call.zone()
        present, data = call.json()
        if not present:
            raise _Fail(400, "invalid_spec", "a job spec is required in the body", field="job")
        sched = self._jobs()
        with _spec_errors():
            spec = parse_job_spec(data)
            assert spec.name is not None
            assert spec.service is not None
            assert spec.trigger is not None
            _check_representable(spec.trigger, sched)
            job = sched.add_job(
                spec.name, spec.service, spec.trigger, **spec.add_kwargs(), replace=replace
            )
        location = "/jobs/" + _quote_segment(job.name)
        return _ok(201, _job_data(job, zone), [("Location", location)])

    def _get_job(self, call: _Call, name: str) -> _Answer:
        zone = call.zone()
        with _store_errors():
            job = self._jobs().get_job(name)
        return _ok(200, _job_data(job, zone))

    def _update_job(self, call: _Call, name: str) -> _Answer:
        zone = call.zone()
        present, data = call.json()
        if not present:
            raise _Fail(400, "invalid_spec", "a (partial) job spec is required in the body")
        if isinstance(data, dict) and "name" in data:
            if data["name"] != name:
                raise _Fail(
                    400,
                    "invalid_spec",
                    f"name: must be absent or the job's name {name!r}, got {data['name']!r}",
                    field="name",
                )
            data = {k: v for k, v in data.items() if k != "name"}
        sched = self._jobs()
        with _spec_errors():
            spec = parse_job_spec(data, partial=True)
            kwargs = spec.update_kwargs()
            if spec.trigger is not None:
                _check_representable(spec.trigger, sched)
            job = sched.update_job(name, **kwargs) if kwargs else sched.get_job(name)
            active = spec.options.get("active")
            if active is True and not job.active:
                job = sched.resume_job(name)
            elif active is False and job.active:
                job = sched.pause_job(name)
        return _ok(200, _job_data(job, zone))

    def _remove_job(self, call: _Call, name: str) -> _Answer:
        with _store_errors():
            self._jobs().remove_job(name)
        return _Answer(204, None)

    def _pause_job(self, call: _Call, name: str) -> _Answer:
        zone = call.zone()
        with _store_errors():
            job = self._jobs().pause_job(name)
        return _ok(200, _job_data(job, zone))

    def _resume_job(self, call: _Call, name: str) -> _Answer:
        zone = call.zone()
        with _store_errors():
            job = self._jobs().resume_job(name)
        return _ok(200, _job_data(job, zone))

    def _execute_job(self, call: _Call, name: str) -> _Answer:
        present, data = call.json()
        extra = None
        if present:
            if not isinstance(data, dict):
                raise _Fail(
                    400,
                    "invalid_body",
                    f'the body must be an object like {{"extra": ...}}, got {_json_kind(data)}',
                    field="body",
                )
            unknown = sorted(set(data) - {"extra"})
            if unknown:
                raise _Fail(
                    400,
                    "invalid_body",
                    f"{unknown[0]}: unknown field; the one field is extra",
                    field=unknown[0],
                )
            extra = data.get("extra")
        with _store_errors():
            cid = self._jobs().execute_now(name, extra)
        return _ok(202, {"cid": cid, "job": name}, [(CID_HEADER, cid)])

    def _job_history(self, call: _Call, name: str) -> _Answer:
        limit = call.number("limit", 100, 1, 1000)
        offset = call.number("offset", 0, 0, _MAX_HISTORY_OFFSET)
        zone = call.zone()
        sched = self._jobs()
        with _store_errors():
            sched.get_job(name)
            runs = sched.history(name, offset + limit)[offset:]
        return _ok(200, _runs_data(runs, zone, limit, name, offset))

    def _history(self, call: _Call) -> _Answer:
        limit = call.number("limit", 100, 1, 1000)
        offset = call.number("offset", 0, 0, _MAX_HISTORY_OFFSET)
        job = call.query.get("job") or None
        zone = call.zone()
        with _store_errors():
            runs = self._jobs().history(job, offset + limit)[offset:]
        return _ok(200, _runs_data(runs, zone, limit, job, offset))

    def _overview(self, call: _Call) -> _Answer:
        span = call.number("range", 3600, 300, 2_592_000)
        buckets = call.number("buckets", 60, 1, 500)
        zone = call.zone()
        sched = self._jobs()
        now = sched.clock.now_us()
        total, active = sched.job_counts()
        # The last hour: the 60 whole minutes that end with the current one.
        hour_end = (now // _MINUTE_US + 1) * _MINUTE_US
        hour_start = hour_end - _HOUR_BUCKETS * _HOUR_BUCKET_US
        # The chart: buckets of whole seconds, aligned to multiples of their
        # length in the answer's zone (days start at its midnight), the last
        # one holding now; as many as cover the range, at most ``buckets``.
        step = -(-span // buckets)
        count = -(-span // step)
        step_us = step * _SECOND_US
        shift = _utc_offset_us(now, zone)
        end = ((now + shift) // step_us + 1) * step_us - shift
        start = end - count * step_us
        store = sched.store
        with _store_errors():
            hour_runs, hour_failures = store.run_counts(hour_start, hour_end, _HOUR_BUCKET_US)
            runs, failures = store.run_counts(start, end, step_us)
        return _ok(
            200,
            {
                "now": _iso_at(now, zone),
                "tz": zone_name(zone),
                "jobs": {"total": total, "active": active, "paused": total - active},
                "last_hour": {
                    "start": _iso_at(hour_start, zone),
                    "end": _iso_at(hour_end, zone),
                    "bucket_seconds": _HOUR_BUCKET_US // _SECOND_US,
                    "runs": sum(hour_runs),
                    "failures": sum(hour_failures),
                    "runs_series": hour_runs,
                    "failures_series": hour_failures,
                },
                "chart": {
                    "start": _iso_at(start, zone),
                    "end": _iso_at(end, zone),
                    "bucket_seconds": step,
                    "runs": runs,
                    "failures": failures,
                },
            },
        )

    def _upcoming(self, call: _Call) -> _Answer:
        count = call.number("count", 50, 1, 500)
        zone = call.zone()
        with _store_errors():
            jobs = self._jobs().soonest_jobs(count)
        # Each job's stored next fire time starts a stream of its fire times;
        # the streams are merged on a heap, and a job's next fire time after
        # one taken is computed only then. Only the ``count`` jobs due first
        # can give any of the first ``count`` times.
        heap: list[tuple[int, str, int, int | None, Job]] = []
        for job in jobs:
            at = job.next_fire_us
            if not job.active or at is None or not _MIN_US <= at <= _MAX_US:
                continue
            left = None if job.trigger.repeats is None else job.trigger.repeats - job.runs
            if left is None or left > 0:
                heap.append((at, job.name, at - 1, left, job))
        heapify(heap)
        times: list[dict[str, Any]] = []
        while heap and len(times) < count:
            at, name, before, left, job = heappop(heap)
            trigger = job.trigger
            times.append(
                {
                    "job": name,
                    "service": job.service,
                    **_time_item(us_to_dt(at), _dst_rule(trigger, at, before), zone),
                }
            )
            if left is not None:
                left -= 1
                if left <= 0:
                    continue
            try:
                nxt = trigger.next_fire(at)
            except OverflowError:
                nxt = None
            if nxt is not None and at < nxt <= _MAX_US:  # past the year 9999: the end
                heappush(heap, (nxt, name, at, left, job))
        return _ok(200, {"tz": zone_name(zone), "count": count, "times": times})

    def _job_next(self, call: _Call, name: str) -> _Answer:
        count = call.number("count", 10, 1, 100)
        zone = call.zone()
        sched = self._jobs()
        with _store_errors():
            job = sched.get_job(name)
        now = sched.clock.now_us()
        if call.query.get("after"):
            after = call.instant("after", now)
        elif job.next_fire_us is not None:
            after = job.next_fire_us - 1  # the due time the job waits for comes first
        else:  # paused (or done): what resuming now would give
            after = max(now, job.last_due_us or now)
        trigger = job.trigger
        if trigger.repeats is not None:  # runs already made use up the repeats
            count = min(count, max(0, trigger.repeats - job.runs))
        return _ok(
            200,
            {
                "job": job.name,
                "active": job.active,
                "trigger_text": trigger.describe(),
                "tz": zone_name(zone),
                "times": _fire_times(trigger, after, count, zone),
            },
        )

    def _cron_preview(self, call: _Call) -> _Answer:
        from ..triggers import Cron

        expr = call.query.get("expr")
        if not expr:
            raise _Fail(400, "bad_parameter", "expr is required: a cron expression", field="expr")
        count = call.number("count", 10, 1, 100)
        zone = call.zone()
        now = self.scheduler.clock.now_us() if self.scheduler is not None else _now_us()
        after = call.instant("after", now)
        try:
            cron = Cron(expr, tz=zone)
        except (InvalidTrigger, ValueError, TypeError) as exc:
            raise _Fail(400, "invalid_cron", str(exc), field="expr") from None
        return _ok(
            200,
            {
                "expr": expr,
                "tz": zone_name(zone),
                "description": cron.describe(),
                "fixed_time": cron.fixed_time,
                "times": _fire_times(cron, after, count, zone),
            },
        )


# -- helpers: requests ------------------------------------------------------------


def _check_token(value: object, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"{what} must be a non-empty string of printable ASCII characters without spaces"
        )
    return value


def _quote_segment(name: str) -> str:
    """A name as one path segment; ``.`` and ``..`` as ``%2E`` so clients keep them."""
    return quote(name, safe="") if name.strip(".") else name.replace(".", "%2E")


def _respond(
    start_response: StartResponse,
    method: str,
    answer: _Answer,
    base: tuple[tuple[str, str], ...],
) -> Iterable[bytes]:
    """Send an answer: ``base`` headers first, then its own, type and length."""
    headers = [*base, *answer.headers]
    body = answer.body
    if body is not None:
        if answer.content_type is not None:
            headers.append(("Content-Type", answer.content_type))
        headers.append(("Content-Length", str(len(body))))
    status = HTTPStatus(answer.status)
    start_response(f"{status.value} {status.phrase}", headers)
    return [] if body is None or method == "HEAD" else [body]


#: The dashboard's files: cached only after a check, and their own CSP.
DASHBOARD_HEADERS = (
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", CSP),
)


def _dashboard_page(environ: WSGIEnvironment, method: str) -> _Answer | None:
    """The dashboard's files under ``/dashboard/`` (GET and HEAD, no token);
    None for every other path, which the API answers."""
    path = str(environ.get("PATH_INFO", ""))
    if path != "/dashboard" and not path.startswith("/dashboard/"):
        return None
    if method not in ("GET", "HEAD"):
        return _Fail(
            405,
            "method_not_allowed",
            f"{method} is not allowed here; allowed: GET, HEAD",
            headers=[("Allow", "GET, HEAD")],
        ).answer()
    if path == "/dashboard":
        location = str(environ.get("SCRIPT_NAME", "")) + "/dashboard/"
        return _Answer(301, b"", [("Location", location)], content_type=None)
    found = static_file(path[len("/dashboard/") :])
    if found is None:
        return _Fail(404, "not_found", f"there is nothing at {path!r}").answer()
    content, kind = found
    return _Answer(200, content, content_type=kind)


def _segments(environ: WSGIEnvironment) -> list[str]:
    """The path's segments below the application's mount point, each decoded.

    PATH_INFO has %2F decoded into a slash already, so a job named ``a/b``
    would look like two segments. The raw request URI, when the server gives
    one (``RAW_URI``: gunicorn and :func:`serve`; ``REQUEST_URI``: uWSGI,
    mod_wsgi), keeps it; it is used when it agrees with SCRIPT_NAME + PATH_INFO.
    """
    script = str(environ.get("SCRIPT_NAME", ""))
    path_info = str(environ.get("PATH_INFO", ""))
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    parts: list[str] | None = None
    if isinstance(raw, str) and raw:
        raw_path = raw.split("?", 1)[0].split("#", 1)[0]
        if "://" in raw_path:  # absolute-form request target
            raw_path = urlsplit(raw_path).path
        if unquote(raw_path, encoding="latin-1") == script + path_info:
            pieces = raw_path.split("/")
            taken = 1
            while taken < len(pieces) and unquote(
                "/".join(pieces[:taken]), encoding="latin-1"
            ) != script.rstrip("/"):
                taken += 1
            if taken < len(pieces):
                parts = pieces[taken:]
    try:
        if parts is not None:
            return [unquote(part, encoding="utf-8", errors="strict") for part in parts]
        # WSGI text is Latin-1 for the bytes sent; the bytes are UTF-8.
        text = path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise _Fail(400, "bad_path", "the path is not UTF-8") from None
    return text.split("/")[1:] if text.startswith("/") else [text]


def _query(environ: WSGIEnvironment) -> dict[str, str]:
    """The query parameters, the first of each name."""
    raw = str(environ.get("QUERY_STRING", ""))
    try:
        text = raw.encode("latin-1").decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except (UnicodeError, ValueError):
        raise _Fail(
            400,
            "bad_query",
            f"the query string is not UTF-8 or has over {_MAX_QUERY_FIELDS} fields",
        ) from None
    query: dict[str, str] = {}
    for key, value in pairs:
        query.setdefault(key, value)
    return query


def _read_body(environ: WSGIEnvironment, max_body: int) -> bytes:
    """The request body, never reading more than ``max_body`` + 1 bytes."""
    stream = environ["wsgi.input"]
    length_text = str(environ.get("CONTENT_LENGTH", "")).strip()
    if not length_text:
        if "chunked" not in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
            return b""
        if not environ.get("wsgi.input_terminated"):  # the server cannot tell where it ends
            raise _Fail(411, "length_required", "a body needs a Content-Length header")
        data = stream.read(max_body + 1)
        if len(data) > max_body:
            raise _too_large(max_body)
        return bytes(data)
    if not _DIGITS.fullmatch(length_text):
        raise _Fail(400, "bad_request", f"Content-Length {length_text!r} is not a number")
    length = int(length_text)
    if length > max_body:
        raise _too_large(max_body)
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    if left:
        raise _Fail(400, "bad_request", "the body is shorter than its Content-Length")
    return b"".join(chunks)


def _too_large(max_body: int) -> _Fail:
    return _Fail(413, "body_too_large", f"the body is larger than the limit of {max_body} bytes")


def _check_json_type(environ: WSGIEnvironment) -> None:
    value = str(environ.get("CONTENT_TYPE", ""))
    media, *params = (part.strip() for part in value.split(";"))
    media = media.lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    charset = next(
        (
            p.split("=", 1)[1].strip().strip('"').lower()
            for p in params
            if p.lower().startswith("charset=")
        ),
        "utf-8",
    )
    if not is_json or charset not in ("utf-8", "utf8"):
        raise _Fail(
            415,
            "unsupported_media_type",
            f"a body must be JSON (Content-Type: application/json), got {value or 'none'!r}",
        )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Fail(400, "bad_json", "the body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise _Fail(
            400,
            "bad_json",
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None
    except (ValueError, RecursionError) as exc:  # NaN, a number too long, nesting too deep
        raise _Fail(400, "bad_json", f"the body is not valid JSON: {exc}") from None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# -- helpers: answers ----------------------------------------------------------------


def _service_failed(name: str, cid: str, exc: BaseException) -> _Fail:
    """The answer to a service that raised: its type and message, not its
    traceback (which would show code, paths and locals); that goes to the log."""
    logger.error("service %r failed over HTTP (cid %s)", name, cid, exc_info=exc)
    return _Fail(500, "service_error", f"{type(exc).__name__}: {exc}", cid=cid)


@contextmanager
def _store_errors() -> Iterator[None]:
    """Map the errors of reading and changing jobs to answers."""
    try:
        yield
    except JobNotFound as exc:
        raise _Fail(404, "job_not_found", str(exc)) from None
    except StoreError as exc:
        logger.error("the job store failed", exc_info=exc)
        raise _Fail(
            503, "store_error", "the job store failed; the server's log has the details"
        ) from None


@contextmanager
def _spec_errors() -> Iterator[None]:
    """:func:`_store_errors`, and the errors of a bad job spec, as 400s naming the field."""
    with _store_errors():
        try:
            yield
        except SpecError as exc:
            raise _Fail(400, "invalid_spec", str(exc), field=exc.field) from None
        except DuplicateJob as exc:
            raise _Fail(409, "job_exists", str(exc), field="name") from None
        except ServiceNotFound as exc:
            raise _Fail(400, "service_not_found", str(exc), field="service") from None
        except InvalidTrigger as exc:
            raise _Fail(400, "invalid_spec", f"trigger: {exc}", field="trigger") from None
        except OverflowError:
            raise _Fail(400, "invalid_spec", "a number or a time is out of range") from None
        except (ValueError, TypeError) as exc:
            raise _Fail(400, "invalid_spec", str(exc)) from None


def _check_representable(trigger: Trigger, sched: Scheduler) -> None:
    """Refuse a trigger that would never fire because its first fire time lies
    past the year 9999 (an ``end`` that leaves it none is the caller's to give)."""
    now = sched.clock.now_us()
    unbounded = getattr(trigger, "end_us", None) is None
    if unbounded and trigger.for_job(now, sched.tz).first_fire(now) is None:
        raise SpecError("trigger", "it never fires: its first fire time is past the year 9999")


def _job_data(job: Job, zone: tzinfo) -> dict[str, Any]:
    try:
        return job_to_data(job, zone)
    except OverflowError:  # a time near year 1 or 9999 that the zone's offset pushes out
        return job_to_data(job, None)


def _run_data(run: Run, zone: tzinfo) -> dict[str, Any]:
    try:
        return run_to_data(run, zone)
    except OverflowError:
        return run_to_data(run, None)


def _runs_data(
    runs: list[Run], zone: tzinfo, limit: int, job: str | None, offset: int
) -> dict[str, Any]:
    return {
        "runs": [_run_data(run, zone) for run in runs],
        "limit": limit,
        "offset": offset,
        "job": job,
    }


def _iso_at(instant_us: int, zone: tzinfo) -> str:
    """An instant in ``zone`` (in UTC where the zone's offset would push it
    past the year 1 or 9999; instants past those, as the first or last)."""
    when = us_to_dt(min(max(instant_us, _MIN_US), _MAX_US))
    try:
        return when.astimezone(zone).isoformat()
    except OverflowError:
        return when.isoformat()


def _utc_offset_us(instant_us: int, zone: tzinfo) -> int:
    """The zone's offset from UTC at an instant, in whole seconds (as us)."""
    try:
        offset = us_to_dt(instant_us).astimezone(zone).utcoffset()
    except OverflowError:
        return 0
    return 0 if offset is None else int(offset.total_seconds()) * _SECOND_US


def _dst_rule(trigger: Trigger, at_us: int, before_us: int) -> str | None:
    """The DST rule that shaped the fire time ``at_us`` that follows
    ``before_us`` (a Cron's ``explain``), or None."""
    explain = getattr(trigger, "explain", None)
    if not callable(explain):
        return None
    try:
        pairs: list[tuple[datetime, str | None]] = explain(us_to_dt(before_us), 1)
    except (OverflowError, ValueError, InvalidTrigger):
        return None
    if pairs and dt_to_us(pairs[0][0]) == at_us:
        return pairs[0][1]
    return None


def _time_item(when: datetime, rule: str | None, zone: tzinfo) -> dict[str, Any]:
    """A fire time as the answers show it: in ``zone``, in UTC, and its DST rule."""
    instant = dt_to_us(when)
    shown = us_to_dt(instant, zone)  # in UTC where the zone would pass the year 9999
    return {"at": shown.isoformat(), "utc": us_to_dt(instant).isoformat(), "dst": rule}


def _fire_times(trigger: Trigger, after_us: int, count: int, zone: tzinfo) -> list[dict[str, Any]]:
    """The next ``count`` fire times after an instant, each with the DST rule
    that shaped it (a Cron's ``explain``), shown in ``zone``. The triggers
    answer in UTC; the list ends where the times pass the year 9999."""
    after = us_to_dt(after_us)
    explain = getattr(trigger, "explain", None)
    pairs: list[tuple[datetime, str | None]] = (
        explain(after, count)
        if callable(explain)
        else [(when, None) for when in trigger.upcoming(after, count)]
    )
    return [_time_item(when, rule, zone) for when, rule in pairs]


# Headers a service may not set: the channel's own, and those that frame the body.
_RESERVED_HEADERS = frozenset(
    {
        "content-type", "content-length", "transfer-encoding", "connection",
        "cache-control", "x-content-type-options", "content-security-policy",
        CID_HEADER.lower(),
    }
)  # fmt: skip


def _service_headers(name: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    """The headers a service set on ``self.response.headers`` that HTTP can carry;
    the others are left out, with a warning in the server's log."""
    sent = []
    for key, value in headers.items():
        ok = (
            isinstance(key, str)
            and isinstance(value, str)
            and key.isascii()
            and value.isascii()
            and bool(key)
            and not any(c in key for c in ":\r\n \t")
            and not any(c in value for c in "\r\n")
            and key.lower() not in _RESERVED_HEADERS
        )
        if ok:
            sent.append((key, value))
        else:
            logger.warning("service %r set response header %r, which is not sent", name, key)
    return sent


def _first_line(doc: str | None) -> str | None:
    if not doc:
        return None
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return None


def _now_us() -> int:
    from .._clock import SystemClock

    return SystemClock().now_us()


# -- serving ------------------------------------------------------------------------


class _LogStream:
    """wsgiref's error stream, into the ``tickwork.http`` logger."""

    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("%s", text.rstrip())
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


class _Handler(WSGIRequestHandler):
    server_version = "tickwork"
    sys_version = ""
    timeout = 60  # seconds; a client that stalls mid-request is dropped

    def setup(self) -> None:
        super().setup()
        # The server's idle timeout, for each read and write on the socket.
        idle = getattr(self.server, "idle_timeout", None)
        if idle is not None:
            self.connection.settimeout(idle)

    def get_environ(self) -> WSGIEnvironment:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path  # PATH_INFO has %2F decoded; job names need it kept
        return environ

    def get_stderr(self) -> _LogStream:
        return _LogStream()

    def handle(self) -> None:
        # WSGIRequestHandler.handle, telling the app that it runs multithreaded.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = ServerHandler(
            self.rfile,
            cast("IO[bytes]", self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.server_software = self.server_version
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.client_address[0], format % args)

    def log_error(self, format: str, *args: Any) -> None:
        logger.warning("%s %s", self.client_address[0], format % args)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, a thread per connection, at most ``max_connections`` at a time.

    Past the cap a connection is not accepted: it waits in the kernel's
    listen backlog, with no thread and no file descriptor of ours, until a
    connection ends. ``idle_timeout`` bounds how long any connection can
    hold its thread without sending (or taking) a byte.
    """

    daemon_threads = True
    # The base's backlog of 5 drops connections under a burst (clients retry
    # after a second); this is what the kernel usually allows.
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        server_address: tuple[str, int],
        handler: type[_Handler],
        *,
        max_connections: int = 128,
        idle_timeout: float = 60.0,
    ) -> None:
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(server_address, handler)

    def get_request(self) -> tuple[Any, Any]:
        # Called when the listening socket is readable. At the cap, wait a
        # short while for a slot, then give up this round without accepting:
        # serve_forever ignores the OSError and polls again, which keeps
        # shutdown() prompt without a busy loop.
        if not self._slots.acquire(timeout=_SLOT_WAIT_SECONDS):
            raise OSError("connection cap reached")
        try:
            return super().get_request()
        except BaseException:
            self._slots.release()
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: nothing else will free the slot
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        # A shorter poll than the base's 0.5 s: shutdown() waits for the next poll.
        super().serve_forever(poll_interval)

    def server_bind(self) -> None:
        # HTTPServer.server_bind, without its reverse DNS lookup of the host
        # (which can stall start-up for seconds where DNS is slow).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("error serving %s", client_address, exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        # A lingering close: a client still sending a body that was refused
        # unread (413, 401...) would see a reset instead of the answer if the
        # socket closed with data in it; so the write side closes first and
        # what still comes in is read and dropped, for a bounded time and size.
        try:
            request.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            left = _LINGER_BYTES
            while left > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                request.settimeout(remaining)
                data = request.recv(min(65536, left))
                if not data:
                    break
                left -= len(data)
        except OSError:
            pass
        self.close_request(request)


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve(
    channel: HTTPChannel,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    max_connections: int = 128,
    idle_timeout: float = 60.0,
) -> WSGIServer:
    """A threaded ``wsgiref`` server for ``channel``, bound and ready.

    Call ``serve_forever()`` on it (in a thread of its own, if need be), then
    ``shutdown()`` and ``server_close()`` (or use it as a context manager).
    ``port=0`` takes a free port: read it from ``.server_port``. Requests are
    logged to the ``tickwork.http`` logger at INFO.

    It binds to the loopback interface by default: anything else exposes the
    API to the network, where only the token protects it, and the traffic
    (token included) is plain HTTP; put a TLS proxy in front.

    Args:
        channel: the WSGI application to serve.
        host: the address to bind.
        port: the port to bind; 0 for any free one.
        max_connections: connections served at once, each on a thread of its
            own; more wait, unaccepted, in the kernel's listen backlog.
        idle_timeout: seconds a connection may go without sending or taking
            a byte before it is closed (an idle client gives its slot back).

    Raises:
        ValueError: ``max_connections`` or ``idle_timeout`` is out of range.
        OSError: the address cannot be bound.
    """
    if (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 1
    ):
        raise ValueError(f"max_connections must be a whole number >= 1, got {max_connections!r}")
    if (
        isinstance(idle_timeout, bool)
        or not isinstance(idle_timeout, int | float)
        or not 0 < idle_timeout < float("inf")
    ):
        raise ValueError(f"idle_timeout must be a number of seconds > 0, got {idle_timeout!r}")
    server_class = _Server6 if ":" in host else _Server
    server = server_class(
        (host, port),
        _Handler,
        max_connections=max_connections,
        idle_timeout=float(idle_timeout),
    )
    server.set_app(channel)
    return server
