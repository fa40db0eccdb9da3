"""Outgoing connections: tickwork's pooled REST and kept-alive SMTP vs a fresh connection per call.

tickwork keeps one ``httpx.Client`` per REST connection (and one
``httpx.AsyncClient`` per event loop), and idle SMTP sessions for
``keep_alive`` seconds. This measures what that saves against opening a new
connection for every run, on loopback servers:

* **REST, sync.** A ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive, a small
  JSON body with Content-Length), also behind TLS with a ``trustme``
  certificate (ECDSA, TLS 1.3). Each call timed, after a warm-up:
  - tickwork, as services write it: ``self.out.plain_http["src"].conn.get(self.cid)``
    in a service run by ``app.invoke("fetch")``;
  - tickwork, bare: ``app.connections.rest("src").request("GET")`` (no service);
  - httpx, fresh per call: ``httpx.get(url)`` as usually written (a new
    Client, so a new SSL context loading the system's CAs, even for http://),
    and ``httpx.get(url, verify=ctx)`` with ``ctx`` built once (the new
    connection alone; the https rows have only this one);
  - httpx, one shared ``httpx.Client()``: the floor;
  - tickwork, an *async* service (``aget``) run by the sync ``app.invoke``:
    each call gets a new event loop, so a new ``AsyncClient``.
* **REST, async.** The same on one event loop (``asyncio.run``): an async
  service awaiting ``self.out.rest["src"].conn.aget()`` via
  ``await app.ainvoke("afetch")``, then ``await app.aclose()``; bare
  ``conn.arequest("GET")``; ``async with httpx.AsyncClient() as c: await
  c.get(url)`` per call (and with ``verify=ctx``); one shared ``AsyncClient``.
* **SMTP.** ``tickwork.testing.servers.SMTPSink`` (aiosmtpd), security
  ``none``, and ``starttls`` with AUTH. Each message a fresh
  ``tw.SMTPMessage`` (to + cc, a CSV attachment) sent with
  ``app.connections.smtp("mail").send(msg)``: kept-alive sessions (the
  default ``keep_alive=30``) vs ``keep_alive=0`` (a session per message) vs
  plain ``smtplib.SMTP(...)`` + ``send_message`` per message (an equal
  ``EmailMessage`` built each time), and one smtplib session for all (the
  floor). Also 4 threads sending through one connection (``max_idle=4``). The
  sink must hold exactly the messages sent, each with its recipients and its
  attachment intact, or the run fails.

Every row runs in a fresh subprocess, once per round (3 rounds, alternating
order, so that drift on a shared machine hits every row alike); percentiles
are over every call of the rounds. Each row's server runs in a process of its
own (client and server do not share a GIL; on 2 cores each gets one);
``--in-process-servers`` runs it in a thread of the measuring process. The
server counts connections, SMTP logins and client ports, so the tables show
what each row opened; each child counts its open sockets before and after
closing the App or client, and records ResourceWarnings.

The test server sends each response in one write (``wbufsize = -1``) with
TCP_NODELAY. ``BaseHTTPRequestHandler``'s default, headers and body in two
small writes, meets Nagle's algorithm and the client's delayed ACK on a
kept-alive connection: every call then waits ~40 ms, and a pooled client looks
30x slower than a fresh one.

    .venv/bin/python benchmarks/bench_connections.py            # ~2 min on 2 cores
    .venv/bin/python benchmarks/bench_connections.py --quick    # smoke run, 1 round, ~20 s
    .venv/bin/python benchmarks/bench_connections.py --rev HEAD --save  # + benchmarks/results/
    .venv/bin/python benchmarks/bench_connections.py --only smtp --messages 300
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from typing import Any

from _common import (
    check_quiet,
    machine_info,
    md_table,
    measure_quietly,
    parse_args,
    percentile,
    proc_cpu_s,
    ratio,
    save_results,
)

BODY = json.dumps({"ok": True, "source": "bench", "items": list(range(20))}).encode()
PATH = "/data"
EXPECTED = (200, BODY)
SENDER = "scheduler@example.com"
TO = "ops@example.com"
CC = "audit@example.com"
TEXT = "The nightly export is attached.\n"
ATTACHMENT = "id,value\n" + "".join(f"{i},{i * i}\n" for i in range(100))
ATTACHMENT_NAME = "data.csv"
USER, PASSWORD = "bench", "bench-password"

REST_VARIANTS = ("service", "request", "client", "fresh", "fresh-ctx")
SMTP_VARIANTS = ("keepalive", "fresh", "smtplib", "smtplib-session")


# ================================================================= servers
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body in one write; flushed after each request
    server: _HTTPServer

    def setup(self) -> None:
        self.server.count("connections")
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.server.tls is not None:  # socketserver closes the plain socket only
                self.request.close()

    def do_GET(self) -> None:
        self.server.count("requests")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.stats = {"connections": 0, "requests": 0, "errors": 0}
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.count("errors")


def _server_tls(spec: dict[str, Any]) -> ssl.SSLContext | None:
    if not spec.get("cert"):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(spec["cert"])
    return ctx


class _Served:
    """The server itself: HTTP(S) on a thread, or an SMTPSink (its own thread)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind = spec["kind"]
        tls = _server_tls(spec)
        if self.kind == "http":
            self.httpd = _HTTPServer(tls)
            self.port = self.httpd.server_address[1]
            self.thread = threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self.thread.start()
        else:
            from tickwork.testing.servers import SMTPSink

            # aiosmtpd 1.4 logs "Session.login_data is deprecated" at WARNING on every
            # successful AUTH, from its own code; not about this benchmark.
            logging.getLogger("mail.log").setLevel(logging.ERROR)
            auth = spec["security"] != "none"
            self.sink = SMTPSink(
                security=spec["security"],
                tls_context=tls,
                username=USER if auth else None,
                password=PASSWORD if auth else None,
            ).start()
            self.port = self.sink.port

    def stats(self, full: bool = False) -> dict[str, Any]:
        if self.kind == "http":
            with self.httpd._lock:
                return dict(self.httpd.stats)
        messages = list(self.sink.messages)
        out: dict[str, Any] = {"messages": len(messages), "logins": len(self.sink.logins)}
        if full:
            want = ATTACHMENT.encode()
            out["attached"] = sum(
                1 for m in messages if m.attachments().get(ATTACHMENT_NAME) == want
            )
            out["rcpts_ok"] = sum(1 for m in messages if sorted(m.rcpt_tos) == sorted((TO, CC)))
            out["peers"] = [m.peer[1] for m in messages]
        return out

    def stop(self) -> None:
        if self.kind == "http":
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
        else:
            self.sink.stop()


def serve(spec: dict[str, Any]) -> None:
    """A server process: prints its port, then answers 'stats'/'full' lines until 'stop'."""
    served = _Served(spec)
    print(json.dumps({"port": served.port}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stop":
            break
        print(json.dumps(served.stats(full=command == "full")), flush=True)
    served.stop()


class LocalServer:
    """A loopback server for one measurement: in a process of its own, or in this one."""

    def __init__(self, spec: dict[str, Any], in_process: bool) -> None:
        self.spec = spec
        self.in_process = in_process
        self._served: _Served | None = None
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> LocalServer:
        if self.in_process:
            self._served = _Served(self.spec)
            self.port = self._served.port
        else:
            self._proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--serve", json.dumps(self.spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            assert self._proc.stdout is not None
            self.port = json.loads(self._proc.stdout.readline())["port"]
        return self

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def cpu_s(self) -> float | None:
        """The server process's CPU seconds so far (None when it runs in this process)."""
        return None if self._proc is None else proc_cpu_s(self._proc.pid)

    def stats(self, full: bool = False) -> dict[str, Any]:
        if self._served is not None:
            return self._served.stats(full)
        assert self._proc is not None
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write("full\n" if full else "stats\n")
        self._proc.stdin.flush()
        result: dict[str, Any] = json.loads(self._proc.stdout.readline())
        return result

    def __exit__(self, *exc: object) -> None:
        if self._served is not None:
            self._served.stop()
        if self._proc is not None:
            assert self._proc.stdin is not None
            assert self._proc.stdout is not None
            try:
                self._proc.stdin.write("stop\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()


# ================================================================= children
def client_tls(p: dict[str, Any]) -> ssl.SSLContext:
    """Trust the benchmark's trustme CA (what ``ca.configure_trust(ctx)`` does, from its PEM)."""
    with open(p["ca"]) as f:
        return ssl.create_default_context(cadata=f.read())


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


class Watch:
    """Counters around the timed part: wall, CPU (here and in the server), the server's tallies."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server

    def start(self) -> None:
        gc.collect()
        self.before = self.server.stats()
        self.cpu0 = time.process_time()
        self.server_cpu0 = self.server.cpu_s()
        self.t0 = time.perf_counter()

    def stop(self, n: int) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        cpu = time.process_time() - self.cpu0
        server_cpu = self.server.cpu_s()
        after = self.server.stats()
        out = {
            "n": n,
            "wall_s": wall,
            "per_s": n / wall,
            "cpu_us": cpu / n * 1e6,
            "server_cpu_us": None
            if server_cpu is None or self.server_cpu0 is None
            else (server_cpu - self.server_cpu0) / n * 1e6,
            "sockets_during": open_sockets(),
        }
        for key, value in after.items():
            out[f"server_{key}"] = value - self.before.get(key, 0)
        return out


def _fetch_service(tw: Any) -> type:
    class Fetch(tw.Service):  # type: ignore[misc,name-defined]
        name = "fetch"

        def handle(self) -> None:
            response = self.out.plain_http["src"].conn.get(self.cid)
            self.response.payload = (response.status_code, response.content)

    return Fetch


def _afetch_service(tw: Any) -> type:
    class AFetch(tw.Service):  # type: ignore[misc,name-defined]
        name = "afetch"

        async def handle(self) -> None:
            response = await self.out.rest["src"].conn.aget()
            self.response.payload = (response.status_code, response.content)

    return AFetch


def _app(p: dict[str, Any], server: LocalServer, ctx: ssl.SSLContext | None) -> Any:
    import tickwork as tw

    app = tw.App()
    options: dict[str, Any] = {} if ctx is None else {"verify": ctx}
    app.connections.add_rest(
        "src", address=f"{p['scheme']}://127.0.0.1:{server.port}", path=PATH, **options
    )
    app.add_service(_fetch_service(tw))
    app.add_service(_afetch_service(tw))
    return app


def _rest_setup(p: dict[str, Any], server: LocalServer) -> tuple[Any, ...]:
    """A REST child's parameters, URL, client TLS context and open sockets before."""
    url = f"{p['scheme']}://127.0.0.1:{server.port}{PATH}"
    ctx = client_tls(p) if p["scheme"] == "https" else None
    return p["variant"], p["n"], p["warm"], url, ctx, open_sockets()


def child_rest(p: dict[str, Any], server: LocalServer) -> dict[str, Any]:
    import httpx

    variant, n, warm, url, ctx, sockets0 = _rest_setup(p, server)
    close: Callable[[], None] = lambda: None  # noqa: E731
    app = None
    if variant in ("service", "request", "invoke-async"):
        app = _app(p, server, ctx)
        close = app.close
        if variant == "service":

            def call() -> Any:
                return app.invoke("fetch")

        elif variant == "invoke-async":  # a fresh event loop per call, so a fresh AsyncClient

            def call() -> Any:
                return app.invoke("afetch")

        else:
            connections = app.connections

            def call() -> Any:
                r = connections.rest("src").request("GET")
                return r.status_code, r.content

    elif variant == "client":
        client = httpx.Client() if ctx is None else httpx.Client(verify=ctx)
        close = client.close

        def call() -> Any:
            r = client.get(url)
            return r.status_code, r.content

    elif variant == "fresh":
        if ctx is not None:
            raise ValueError("fresh without verify= cannot trust the test CA; use fresh-ctx")

        def call() -> Any:
            r = httpx.get(url)
            return r.status_code, r.content

    else:  # fresh-ctx
        shared = ctx if ctx is not None else ssl.create_default_context()

        def call() -> Any:
            r = httpx.get(url, verify=shared)
            return r.status_code, r.content

    for _ in range(warm):
        assert call() == EXPECTED
    watch = Watch(server)
    perf = time.perf_counter
    times = [0.0] * n
    watch.start()
    for i in range(n):
        t0 = perf()
        result = call()
        times[i] = perf() - t0
        if result != EXPECTED:
            raise AssertionError(f"call {i}: {result!r}")
    out = watch.stop(n)
    close()
    out["times"] = times
    out["sockets_before"] = sockets0
    return out


def child_arest(p: dict[str, Any], server: LocalServer) -> dict[str, Any]:
    import httpx

    variant, n, warm, url, ctx, sockets0 = _rest_setup(p, server)

    async def main() -> dict[str, Any]:
        async def nothing() -> None:
            return None

        close: Callable[[], Any] = nothing
        if variant in ("service", "request"):
            app = _app(p, server, ctx)
            close = app.aclose
            if variant == "service":

                async def call() -> Any:
                    return await app.ainvoke("afetch")

            else:
                connections = app.connections

                async def call() -> Any:
                    r = await connections.rest("src").arequest("GET")
                    return r.status_code, r.content

        elif variant == "client":
            client = httpx.AsyncClient() if ctx is None else httpx.AsyncClient(verify=ctx)
            close = client.aclose

            async def call() -> Any:
                r = await client.get(url)
                return r.status_code, r.content

        elif variant == "fresh":
            if ctx is not None:
                raise ValueError("fresh without verify= cannot trust the test CA")

            async def call() -> Any:
                async with httpx.AsyncClient() as c:
                    r = await c.get(url)
                return r.status_code, r.content

        else:  # fresh-ctx
            shared = ctx if ctx is not None else ssl.create_default_context()

            async def call() -> Any:
                async with httpx.AsyncClient(verify=shared) as c:
                    r = await c.get(url)
                return r.status_code, r.content

        for _ in range(warm):
            assert await call() == EXPECTED
        watch = Watch(server)
        perf = time.perf_counter
        times = [0.0] * n
        watch.start()
        for i in range(n):
            t0 = perf()
            result = await call()
            times[i] = perf() - t0
            if result != EXPECTED:
                raise AssertionError(f"call {i}: {result!r}")
        out = watch.stop(n)
        await close()
        out["times"] = times
        return out

    out = asyncio.run(main())
    out["sockets_before"] = sockets0
    return out


def stdlib_message(i: int) -> EmailMessage:
    """What tw.SMTPMessage(...).build() makes, built with the standard library alone."""
    msg = EmailMessage()
    msg["Subject"] = f"Nightly export {i}"
    msg["From"] = SENDER
    msg["To"] = TO
    msg["Cc"] = CC
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(TEXT)
    msg.add_attachment(
        ATTACHMENT.encode(), "text", "csv", filename=ATTACHMENT_NAME, params={"charset": "utf-8"}
    )
    return msg


def child_smtp(p: dict[str, Any], server: LocalServer) -> dict[str, Any]:
    variant, m, warm, threads = p["variant"], p["n"], p["warm"], p["threads"]
    security = p["security"]
    auth = security != "none"
    ctx = client_tls(p) if auth else None
    sockets0 = open_sockets()
    close: Callable[[], Any] = lambda: None  # noqa: E731
    if variant in ("keepalive", "fresh"):
        import tickwork as tw

        app = tw.App()
        options: dict[str, Any] = {"keep_alive": 30.0 if variant == "keepalive" else 0}
        if auth:
            options.update(username=USER, password=PASSWORD, verify=ctx)
        app.connections.add_smtp(
            "mail", host="127.0.0.1", port=server.port, security=security, from_=SENDER, **options
        )
        close = app.close
        connections = app.connections

        def send(i: int) -> None:
            msg = tw.SMTPMessage(subject=f"Nightly export {i}", body=TEXT, to=TO, cc=CC)
            msg.attach(ATTACHMENT_NAME, ATTACHMENT)
            assert connections.smtp("mail").send(msg)

    elif variant == "smtplib":

        def send(i: int) -> None:
            msg = stdlib_message(i)
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as session:
                if auth:
                    session.starttls(context=ctx)
                    session.login(USER, PASSWORD)
                assert not session.send_message(msg)

    else:  # smtplib-session: one session for every message, opened before the timing
        if threads != 1:
            raise ValueError("smtplib-session is one session: threads must be 1")
        session = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
        if auth:
            session.starttls(context=ctx)
            session.login(USER, PASSWORD)
        close = session.quit

        def send(i: int) -> None:
            assert not session.send_message(stdlib_message(i))

    for i in range(warm):
        send(i)
    times: list[float] = []
    errors: list[BaseException] = []
    perf = time.perf_counter

    def worker(k: int) -> None:
        try:
            for i in range(warm + k, warm + m, threads):
                t0 = perf()
                send(i)
                times.append(perf() - t0)
        except BaseException as exc:
            errors.append(exc)
            raise

    watch = Watch(server)
    watch.start()
    if threads == 1:
        worker(0)
    else:
        workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    if errors:
        raise errors[0]
    out = watch.stop(m)
    close()
    final = server.stats(full=True)
    sent = warm + m
    # A broken run must not report figures: every message arrived, whole, once.
    assert final["messages"] == sent, (final["messages"], sent)
    assert final["attached"] == sent, (final["attached"], sent)
    assert final["rcpts_ok"] == sent, (final["rcpts_ok"], sent)
    assert out["server_messages"] == m, (out["server_messages"], m)
    out["sessions"] = len(set(final["peers"][warm:]))
    out["times"] = times
    out["sockets_before"] = sockets0
    return out


def child(p: dict[str, Any]) -> dict[str, Any]:
    caught: list[str] = []

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        caught.append(f"{category.__name__}: {message}")

    warnings.simplefilter("always", ResourceWarning)
    warnings.showwarning = show
    spec: dict[str, Any] = {"kind": "smtp" if p["part"] == "smtp" else "http"}
    if p["part"] == "smtp":
        spec["security"] = p["security"]
        if p["security"] != "none":
            spec["cert"] = p["cert"]
    elif p["scheme"] == "https":
        spec["cert"] = p["cert"]
    with LocalServer(spec, p["in_process"]) as server:
        run = {"rest": child_rest, "arest": child_arest, "smtp": child_smtp}[p["part"]]
        out = run(p, server)
        gc.collect()
        out["sockets_after_close"] = open_sockets()
    gc.collect()
    out["resource_warnings"] = caught
    return out


# ================================================================= parent
REST_LABELS = {
    "service": 'tickwork service: `self.out.plain_http["src"].conn.get(self.cid)`, `app.invoke`',
    "request": 'tickwork bare: `app.connections.rest("src").request("GET")`',
    "client": "httpx, one shared `httpx.Client()` (floor)",
    "fresh": "httpx, fresh per call: `httpx.get(url)`",
    "fresh-ctx": "httpx, fresh per call: `httpx.get(url, verify=ctx)`, `ctx` built once",
    "invoke-async": "tickwork **async** service (`aget`) called with sync `app.invoke`: "
    "a new event loop, so a new AsyncClient, per call",
}
AREST_LABELS = {
    "service": 'tickwork async service: `await self.out.rest["src"].conn.aget()`, '
    "`await app.ainvoke`",
    "request": 'tickwork bare: `await app.connections.rest("src").arequest("GET")`',
    "client": "httpx, one shared `httpx.AsyncClient()` (floor)",
    "fresh": "httpx, fresh per call: `async with httpx.AsyncClient() as c: await c.get(url)`",
    "fresh-ctx": "httpx, fresh per call: `httpx.AsyncClient(verify=ctx)`, `ctx` built once",
}
SMTP_LABELS = {
    "keepalive": 'tickwork `smtp("mail").send(msg)`, kept-alive sessions (`keep_alive=30`)',
    "fresh": "tickwork, `keep_alive=0` (a new session per message)",
    "smtplib": "smtplib, `with smtplib.SMTP(...)` + `send_message` per message",
    "smtplib-session": "smtplib, one session for all messages (floor)",
}

_out: list[str] = []


def log(text: str = "") -> None:
    print(text, flush=True)
    _out.append(text)


def measure(params: dict[str, Any]) -> dict[str, Any]:
    return measure_quietly(__file__, params, retries=1, quiet_tries=5)


def summarize(times: list[float]) -> dict[str, float]:
    """Median, p90, p99, max and mean in ms of per-call times in s."""
    times = sorted(times)
    pct = {q: percentile(times, q) or 0.0 for q in (50, 90, 99)}
    return {
        "median_ms": pct[50] * 1e3,
        "p90_ms": pct[90] * 1e3,
        "p99_ms": pct[99] * 1e3,
        "max_ms": times[-1] * 1e3,
        "mean_ms": sum(times) / len(times) * 1e3,
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row's rounds as one: percentiles over every call, rates over the summed time."""
    n = sum(r["n"] for r in runs)
    out: dict[str, Any] = summarize([t for r in runs for t in r["times"]])
    server_cpu = [r["server_cpu_us"] for r in runs]
    out.update(
        n=n,
        rounds=len(runs),
        per_s=n / sum(r["wall_s"] for r in runs),
        cpu_us=sum(r["cpu_us"] * r["n"] for r in runs) / n,
        server_cpu_us=None
        if None in server_cpu
        else sum(c * r["n"] for c, r in zip(server_cpu, runs, strict=True)) / n,
        round_medians=[summarize(r["times"])["median_ms"] for r in runs],
        connections=sum(r.get("server_connections", 0) for r in runs),
        sessions=sum(r.get("sessions", 0) for r in runs),
        logins=sum(r.get("server_logins", 0) for r in runs),
        sockets_left=max(r["sockets_after_close"] - r["sockets_before"] for r in runs),
        warnings=[w for r in runs for w in r["resource_warnings"]],
        other_load=max(r["other_load"] for r in runs),
    )
    return out


def run_rows(
    tag: str, rows: list[tuple[str, dict[str, Any]]], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Every row once per round, in alternating order, each in a fresh subprocess."""
    check_quiet(tries=3 if args.quick else 20)
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _ in rows}
    for rnd in range(args.rounds):
        for key, params in rows if rnd % 2 == 0 else rows[::-1]:
            r = measure(params)
            runs[key].append(r)
            s = summarize(r["times"])
            opened = r.get("sessions", r.get("server_connections"))
            log(
                f"# {tag:14} {key:16} round {rnd + 1}: n={r['n']:>5,}, median "
                f"{s['median_ms']:7.3f} ms, p99 {s['p99_ms']:7.3f} ms, {r['per_s']:7,.0f}/s, "
                f"connections/sessions {opened}, warnings {len(r['resource_warnings'])}, "
                f"other load {r['other_load']:.2f} CPU"
            )
    return {key: combine(v) for key, v in runs.items()}


def spread(r: dict[str, Any]) -> str:
    meds = r["round_medians"]
    return f"{min(meds):.2f}-{max(meds):.2f}" if len(meds) > 1 else f"{meds[0]:.2f}"


def sockets_note(r: dict[str, Any], in_process: bool) -> str:
    if in_process:
        return "n/a"
    return "0" if r["sockets_left"] == 0 else f"**{r['sockets_left']}**"


def rest_table(part: str, results: dict[str, dict[str, Any]], in_process: bool) -> str:
    labels = REST_LABELS if part == "rest" else AREST_LABELS
    ref = results["service"]
    rows = [
        [
            labels[variant],
            r["n"],
            r["median_ms"],
            spread(r),
            r["p90_ms"],
            r["p99_ms"],
            r["per_s"],
            r["cpu_us"],
            r["server_cpu_us"],
            r["connections"],
            sockets_note(r, in_process),
            ratio(r["median_ms"], ref["median_ms"]),
            ratio(ref["per_s"], r["per_s"]),
        ]
        for variant, r in results.items()
    ]
    return md_table(
        [
            "call",
            "calls timed",
            "median ms",
            "round medians ms",
            "p90 ms",
            "p99 ms",
            "calls/s",
            "client CPU us/call",
            "server CPU us/call",
            "connections opened",
            "sockets left after close",
            "median / tickwork service",
            "tickwork service calls/s / this",
        ],
        rows,
    )


def smtp_table(security: str, results: dict[str, dict[str, Any]], in_process: bool) -> str:
    ref = results["keepalive"]
    rows = []
    for key, r in results.items():
        variant, _, threads = key.partition("x")
        label = SMTP_LABELS[variant] + (f", **{threads} threads**" if threads else "")
        rows.append(
            [
                label,
                r["n"],
                r["per_s"],
                r["median_ms"],
                spread(r),
                r["p99_ms"],
                r["cpu_us"] / 1000,
                None if r["server_cpu_us"] is None else r["server_cpu_us"] / 1000,
                r["sessions"],
                r["logins"] if security != "none" else "-",
                sockets_note(r, in_process),
                ratio(ref["per_s"], r["per_s"]),
            ]
        )
    return md_table(
        [
            "sender",
            "messages timed",
            "messages/s",
            "median ms",
            "round medians ms",
            "p99 ms",
            "client CPU ms/msg",
            "server CPU ms/msg",
            "sessions used",
            "logins",
            "sockets left after close",
            "kept-alive msg/s / this",
        ],
        rows,
    )


def compare(what: str, a: dict[str, Any], b: dict[str, Any]) -> list[Any]:
    return [
        what,
        ratio(a["median_ms"], b["median_ms"]),
        ratio(b["per_s"], a["per_s"]),
        ratio(a["cpu_us"], b["cpu_us"]),
    ]


FRESH_SHORT = {
    ("rest", "fresh"): "`httpx.get(url)`",
    ("rest", "fresh-ctx"): "`httpx.get(url, verify=ctx)`",
    ("arest", "fresh"): "fresh `httpx.AsyncClient()`",
    ("arest", "fresh-ctx"): "fresh `AsyncClient(verify=ctx)`",
}


def run_all(args: argparse.Namespace, only: set[str], base: dict[str, Any]) -> None:
    versions = ", ".join(
        f"{m} {version(m)}" for m in ("httpx", "httpcore", "h11", "aiosmtpd", "trustme")
    )
    log("## Outgoing connections: pooled vs fresh per call\n")
    log(f"{machine_info()}; {versions}; {ssl.OPENSSL_VERSION}\n")
    where = (
        "in a thread of the measuring process"
        if args.in_process_servers
        else "in a process of its own (its CPU is the server column)"
    )
    fresh_warm = max(5, args.warm // 10)
    log(
        f"Each row runs in a fresh subprocess with its own loopback server on 127.0.0.1, "
        f"{where}; {args.rounds} rounds, every row once per round, in alternating order; "
        "percentiles are over every timed call of the rounds, 'round medians' the spread "
        f"between rounds. Per row and round: REST, {args.calls:,} timed calls after "
        f"{args.warm} warm-up calls for pooled rows, {args.fresh_calls:,} after {fresh_warm} "
        f"for `verify=ctx` fresh rows and {certifi_calls(args):,} for the fresh rows that "
        f"build an SSL context per call; a {len(BODY)}-byte JSON body, HTTP/1.1. SMTP, "
        f"{args.messages} timed messages after {args.smtp_warm}, each to 1 + cc 1 with a "
        f"{len(ATTACHMENT)}-byte CSV attachment. TLS: a trustme ECDSA certificate. GC on.\n"
    )
    sections: list[str] = []
    headline: list[list[Any]] = []
    seen: list[str] = []
    schemes = ["http"] + ([] if args.no_tls else ["https"])
    for part, name in (("rest", "sync"), ("arest", "async")):
        if ("rest" if part == "rest" else "async") not in only:
            continue
        for scheme in schemes:
            rows = []
            for variant in REST_VARIANTS + (("invoke-async",) if part == "rest" else ()):
                if scheme == "https" and variant == "fresh":
                    continue  # the test CA must be given: that is fresh-ctx
                if variant == "fresh" or (variant == "invoke-async" and scheme == "http"):
                    n, warm = certifi_calls(args), fresh_warm
                elif variant in ("fresh-ctx", "invoke-async"):
                    n, warm = args.fresh_calls, fresh_warm
                else:
                    n, warm = args.calls, args.warm
                params = {**base, "part": part, "scheme": scheme, "variant": variant}
                rows.append((variant, {**params, "n": n, "warm": warm}))
            res = run_rows(f"{part} {scheme}", rows, args)
            sections.append(
                f"### REST, {name}, {scheme}\n\n{rest_table(part, res, args.in_process_servers)}\n"
            )
            svc = res["service"]
            for fresh in ("fresh", "fresh-ctx"):
                if fresh in res:
                    what = f"REST {name} {scheme}: {FRESH_SHORT[part, fresh]} / tickwork service"
                    headline.append(compare(what, res[fresh], svc))
            headline.append(
                compare(
                    f"REST {name} {scheme}: tickwork service / shared httpx client",
                    svc,
                    res["client"],
                )
            )
            if "invoke-async" in res:
                what = f"REST {name} {scheme}: async service via sync `app.invoke` / sync service"
                headline.append(compare(what, res["invoke-async"], svc))
            headline.append(
                compare(
                    f"REST {name} {scheme}: tickwork service / bare `request`", svc, res["request"]
                )
            )
            seen += [w for r in res.values() for w in r["warnings"]]
    if "smtp" in only:
        for security in ["none"] + ([] if args.no_tls else ["starttls"]):
            rows = []
            runs = [(v, 1) for v in SMTP_VARIANTS]
            if args.threads > 1:
                runs += [("keepalive", args.threads), ("fresh", args.threads)]
            for variant, threads in runs:
                key = variant if threads == 1 else f"{variant}x{threads}"
                params = {**base, "part": "smtp", "security": security, "variant": variant}
                params.update(threads=threads, n=args.messages, warm=args.smtp_warm)
                rows.append((key, params))
            res = run_rows(f"smtp {security}", rows, args)
            auth = "STARTTLS + AUTH" if security != "none" else "plain, no AUTH"
            sections.append(
                f"### SMTP, security `{security}` ({auth})\n\n"
                f"{smtp_table(security, res, args.in_process_servers)}\n"
            )
            ka = res["keepalive"]
            for key, what in (
                ("fresh", "tickwork `keep_alive=0`"),
                ("smtplib", "smtplib, new connection per message"),
                ("smtplib-session", "smtplib, one session"),
            ):
                headline.append(
                    compare(f"SMTP {security}: {what} / tickwork kept-alive", res[key], ka)
                )
            threaded = res.get(f"keepalivex{args.threads}")
            if threaded:
                headline.append(
                    compare(
                        f"SMTP {security}: tickwork kept-alive, 1 thread / {args.threads} threads",
                        ka,
                        threaded,
                    )
                )
                headline.append(
                    compare(
                        f"SMTP {security}: tickwork `keep_alive=0` / kept-alive, "
                        f"{args.threads} threads each",
                        res[f"freshx{args.threads}"],
                        threaded,
                    )
                )
            seen += [w for r in res.values() for w in r["warnings"]]
    log()
    for text in sections:
        log(text)
    log("### Ratios\n")
    log(
        md_table(
            [
                "comparison (A / B)",
                "median latency A / B",
                "throughput B / A",
                "client CPU per call A / B",
            ],
            headline,
        )
    )
    log(
        "\n- above 1.00x: B is cheaper (faster, more calls per second, less CPU). Throughput "
        "is calls (or messages) per second of the timed loops; latency and CPU are per call "
        "(with 4 threads, per message of the whole process)."
    )
    log(
        f"- ResourceWarnings recorded in the measuring processes: {len(seen)}"
        + (": " + "; ".join(sorted(set(seen))[:5]) if seen else "")
    )
    log(
        "- 'connections opened' (REST) and 'logins' (SMTP): counted by the server during the "
        "timed calls, all rounds; 'sessions used': distinct client ports among the timed "
        "messages, summed over the rounds (each round is a new process and App); 'sockets "
        "left after close': the measuring process's open sockets after it closed the App or "
        "client, minus those open before it made it (largest over the rounds)."
    )


def certifi_calls(args: argparse.Namespace) -> int:
    """Calls per round for the rows that build an SSL context per call (~20 ms each)."""
    return max(10, args.fresh_calls // 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round, few calls")
    parser.add_argument("--rounds", type=int, help="rounds of every row (3)")
    parser.add_argument("--calls", type=int, help="timed calls per pooled REST row and round (600)")
    parser.add_argument(
        "--fresh-calls",
        type=int,
        help="timed calls per fresh REST row and round (150; a third of it when the fresh "
        "call also builds an SSL context)",
    )
    parser.add_argument("--warm", type=int, help="warm-up calls per pooled REST row (100)")
    parser.add_argument("--messages", type=int, help="timed messages per SMTP row and round (100)")
    parser.add_argument("--smtp-warm", type=int, help="warm-up messages per SMTP row (5)")
    parser.add_argument("--threads", type=int, default=4, help="senders in the SMTP threads rows")
    parser.add_argument("--only", default="rest,async,smtp", help="any of rest,async,smtp")
    parser.add_argument("--no-tls", action="store_true", help="skip the https and starttls rows")
    parser.add_argument(
        "--in-process-servers",
        action="store_true",
        help="run each server in a thread of the measuring process, not a process of its own",
    )
    parser.add_argument(
        "--save", action="store_true", help="also write benchmarks/results/connections-<UTC>.md"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parse_args(parser, child)
    if args.serve:
        serve(json.loads(args.serve))
        return
    q = args.quick
    args.rounds = args.rounds or (1 if q else 3)
    args.calls = args.calls or (200 if q else 600)
    args.fresh_calls = args.fresh_calls or (30 if q else 150)
    args.warm = args.warm if args.warm is not None else (20 if q else 100)
    args.messages = args.messages or (30 if q else 100)
    args.smtp_warm = args.smtp_warm if args.smtp_warm is not None else (2 if q else 5)
    only = set(args.only.split(","))
    if only - {"rest", "async", "smtp"}:
        parser.error(f"--only takes rest, async and smtp, got {args.only!r}")

    import trustme

    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
    tmp = tempfile.mkdtemp(prefix="tickwork-bench-conn-")
    try:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_path, cert_path = os.path.join(tmp, "ca.pem"), os.path.join(tmp, "server.pem")
        ca.cert_pem.write_to_path(ca_path)
        cert.private_key_and_cert_chain_pem.write_to_path(cert_path)
        base = {"ca": ca_path, "cert": cert_path, "in_process": args.in_process_servers}
        run_all(args, only, base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"\n_bench_connections.py: {time.monotonic() - started:.0f} s_")
    if args.save:
        saved = save_results(f"connections-{stamp}", "\n".join(_out))
        print(f"_saved to {saved}_")


if __name__ == "__main__":
    main()
