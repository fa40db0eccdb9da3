"""The canonical example: fetch new data over REST, e-mail it, keep it in Redis.

One service, ``api.scheduler.sync``, exactly as in the API contract: it GETs
the data source, mails the data as an attachment (with a CC), and stores it
in Redis under ``latest.data``. Two jobs run it: an Interval job every
5 minutes and a Cron job at minute 2 of each hour in the user's time zone,
each with its own extra.

Run it against your own systems (configured from the environment)::

    SYNC_SOURCE_URL=https://data.example.com SYNC_SOURCE_PATH=/data \\
    SYNC_SMTP_HOST=smtp.example.com SYNC_SMTP_USERNAME=bot SYNC_SMTP_PASSWORD=... \\
    SYNC_REDIS_URL=redis://127.0.0.1:6379/0 SYNC_TZ=Europe/London \\
    python examples/sync_data.py

Or see it work on this machine, with everything on loopback: a small HTTP
data source, an SMTP server that keeps what it receives, and a redis-server
if one is installed, on short intervals until three e-mails have arrived::

    pip install -e '.[examples]' && python examples/sync_data.py --demo

The variables, with their defaults:

=====================  ========================  =====================================
SYNC_SOURCE_URL        http://127.0.0.1:8080     the data source's address
SYNC_SOURCE_PATH       /data                     the path of the data
SYNC_SMTP_HOST         127.0.0.1                 the SMTP server
SYNC_SMTP_PORT         by security (587/465/25)
SYNC_SMTP_SECURITY     starttls                  starttls, ssl or none
SYNC_SMTP_USERNAME     (none)                    log in with these when set
SYNC_SMTP_PASSWORD     (none)
SYNC_SMTP_FROM         scheduler@example.com     the sender
SYNC_REDIS_URL         redis://127.0.0.1:6379/0  the KVDB
SYNC_TZ                UTC                       the user's time zone, for the cron job
SYNC_INTERVAL_MINUTES  5                         the interval job's period
SYNC_CRON              2 * * * *                 the cron job's expression
SYNC_STORE             (memory)                  a SQLite file to keep jobs and history in
=====================  ========================  =====================================
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

import tickwork as tw


class SyncData(tw.Service):
    name = "api.scheduler.sync"

    def handle(self) -> None:  # may also be `async def handle`
        data = self.out.plain_http["My Data Source"].conn.get(self.cid).text
        message = tw.SMTPMessage()
        message.subject = "New data"
        message.body = "Check attached data"
        message.to = "hello@example.com"
        message.cc = "hello.cc@example.com"
        message.attach("my.data.txt", data)
        self.email.smtp["My SMTP"].conn.send(message)
        self.kvdb.conn.set("latest.data", data)


# -- configuration ------------------------------------------------------------
def build_app(env: Mapping[str, str]) -> tw.App:
    """The App with the service and its three connections, from ``env``."""
    app = tw.App()
    app.add_service(SyncData)
    app.connections.add_rest(
        "My Data Source",
        address=env.get("SYNC_SOURCE_URL", "http://127.0.0.1:8080"),
        path=env.get("SYNC_SOURCE_PATH", "/data"),
        timeout=10.0,
    )
    port = env.get("SYNC_SMTP_PORT")
    app.connections.add_smtp(
        "My SMTP",
        host=env.get("SYNC_SMTP_HOST", "127.0.0.1"),
        port=int(port) if port else None,
        username=env.get("SYNC_SMTP_USERNAME") or None,
        password=env.get("SYNC_SMTP_PASSWORD") or None,
        security=env.get("SYNC_SMTP_SECURITY", "starttls"),  # type: ignore[arg-type]
        from_=env.get("SYNC_SMTP_FROM", "scheduler@example.com"),
        timeout=10.0,
    )
    redis_url = env.get("SYNC_REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_url:
        app.connections.set_kvdb(url=redis_url)
    return app


def add_jobs(sched: tw.Scheduler, interval: tw.Interval, cron: tw.Cron) -> None:
    """The two jobs that run the service, each with its extra."""
    sched.add_job(
        "sync-every-5-minutes", SyncData.name, interval, extra="source=interval", replace=True
    )
    sched.add_job("sync-hourly", SyncData.name, cron, extra='{"source": "cron"}', replace=True)


def main_from_env(env: Mapping[str, str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = build_app(env)
    store = tw.SQLiteStore(env["SYNC_STORE"]) if env.get("SYNC_STORE") else None
    tz = env.get("SYNC_TZ", "UTC")
    sched = tw.Scheduler(app, tz=tz, store=store)
    add_jobs(
        sched,
        tw.Interval(minutes=int(env.get("SYNC_INTERVAL_MINUTES", "5"))),
        tw.Cron(env.get("SYNC_CRON", "2 * * * *"), tz=tz),
    )
    for job in sched.jobs():
        print(f"{job.name:22} {job.trigger.describe():40} next {job.next_fire_time}")
    try:
        sched.run_forever()  # SIGINT / SIGTERM stop it gracefully
    finally:
        app.close()
    return 0


# -- the demo: everything on loopback -------------------------------------------
class DataSource:
    """A small HTTP data source: each GET returns the readings since the last one."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._next_id = 1
        self._lock = threading.Lock()
        source = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with source._lock:
                    first = source._next_id
                    source._next_id += 3
                    source.requests.append(
                        {"path": self.path, "cid": self.headers.get("X-Correlation-ID")}
                    )
                rows = [
                    f"{i},{20 + i % 7}.{i % 10},sensor-{i % 3}" for i in range(first, first + 3)
                ]
                body = ("id,reading,sensor\n" + "\n".join(rows) + "\n").encode()
                self.send_response(200 if self.path == "/data" else 404)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DataSource:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@dataclass
class DemoResult:
    """What the demo's servers saw: for its caller (and the example's test) to check."""

    fetched: list[dict[str, Any]] = field(default_factory=list)
    mails: list[Any] = field(default_factory=list)  # tickwork.testing.servers.ReceivedMail
    stored: bytes | None = None
    runs: list[tw.Run] = field(default_factory=list)
    redis: bool = False


def run_demo(emails: int = 3, timeout: float = 30.0, out: TextIO | None = None) -> DemoResult:
    """Start the loopback servers, run both jobs on short intervals until
    ``emails`` e-mails have arrived, and print what was fetched, sent and stored."""
    from tickwork.testing.servers import RedisServer, SMTPSink

    stream = out if out is not None else sys.stdout
    result = DemoResult()
    with ExitStack() as stack:
        source = stack.enter_context(DataSource())
        smtp = stack.enter_context(SMTPSink())
        env = {
            "SYNC_SOURCE_URL": source.url,
            "SYNC_SOURCE_PATH": "/data",
            "SYNC_SMTP_HOST": smtp.host,
            "SYNC_SMTP_PORT": str(smtp.port),
            "SYNC_SMTP_SECURITY": "none",  # the demo's SMTP server is plain, on loopback
            "SYNC_REDIS_URL": "",
        }
        if shutil.which("redis-server"):
            redis = stack.enter_context(RedisServer())
            env["SYNC_REDIS_URL"] = redis.url
            result.redis = True
        app = build_app(env)
        stack.callback(app.close)
        print(f"data source  {source.url}/data", file=stream)
        print(f"SMTP server  {smtp.host}:{smtp.port} (keeps what it receives)", file=stream)
        if result.redis:
            print(f"Redis        {env['SYNC_REDIS_URL']}", file=stream)
        else:
            print("Redis        none (not installed): runs fail at the Redis step", file=stream)
        sched = tw.Scheduler(app, executor=tw.ThreadExecutor(max_workers=2))
        # The demo's short periods: every 2 s, and cron on every 3rd second.
        add_jobs(sched, tw.Interval(seconds=2), tw.Cron("*/3 * * * * *"))
        lock = threading.Lock()

        def show(event: tw.Event) -> None:
            if event.kind == "run_finished" and event.run is not None:
                run = event.run
                with lock:
                    result.runs.append(run)
                print(
                    f"  run  {run.job:22} #{run.run_number:<3} {run.outcome:6} cid={run.cid}"
                    + (f"  {run.error}" if run.error else ""),
                    file=stream,
                    flush=True,
                )

        sched.subscribe(show)
        sched.start()
        try:
            smtp.wait_for(emails, timeout)
        except TimeoutError as exc:
            print(f"gave up: {exc}", file=stream)
        finally:
            sched.shutdown()
        result.fetched = list(source.requests)
        result.mails = list(smtp.messages)
        if result.redis:
            result.stored = app.connections.kvdb.conn.get("latest.data")

    print(f"\nfetched {len(result.fetched)} times from the data source", file=stream)
    for mail in result.mails:
        files = ", ".join(f"{n} ({len(d)} bytes)" for n, d in mail.attachments().items())
        print(
            f"sent    {mail.message['Subject']!r} to {mail.message['To']}, "
            f"cc {mail.message['Cc']}, attached {files}, cid {mail.message['X-Correlation-ID']}",
            file=stream,
        )
    if result.stored is not None:
        print("stored  latest.data =", json.dumps(result.stored.decode()), file=stream)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="run everything on loopback")
    parser.add_argument("--emails", type=int, default=3, help="demo: stop after this many")
    parser.add_argument("--timeout", type=float, default=30.0, help="demo: give up after (s)")
    args = parser.parse_args(argv)
    if not args.demo:
        return main_from_env(os.environ)
    started = time.monotonic()
    result = run_demo(args.emails, args.timeout)
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0 if len(result.mails) >= args.emails else 1


if __name__ == "__main__":
    raise SystemExit(main())
