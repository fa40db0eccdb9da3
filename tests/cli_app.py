"""The app the command line tests run in subprocesses: ``tickwork run cli_app:make``.

Importable as ``cli_app`` (the tests put this directory on PYTHONPATH).

- ``make``: a Scheduler on the store named by $CLI_APP_STORE (a SQLite path or
  ``sqlite:///`` URL, or a ``redis://`` URL, prefix "tickwork"; in memory when
  unset), with the jobs ``tick`` (every second, extra "from=job"), ``daily``
  (cron ``0 9 * * *``) and ``broken`` (the failing service, daily);
- ``app``: a function returning the App alone;
- ``Echo``, ``Boom``: Service classes, for config files (``cli_app:Echo``);
  when $CLI_APP_LEDGER names a file, ``echo`` appends a JSON line there for
  each scheduled or manual run (job, manual, raw extra, channel, cid);
- ``not_an_app``, ``NotAService``, ``EchoTwin`` (a second "echo"),
  ``needs_args``: what a reference must not name.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tickwork as tw


class Echo(tw.Service):
    """Answers what it was asked, and how."""

    name = "echo"

    def handle(self) -> None:
        job = self.request.job
        answer = {
            "payload": self.request.payload,
            "raw": self.request.raw_request,
            "channel": self.request.channel,
            "cid": self.request.cid,
            "job": None if job is None else job.name,
        }
        ledger = os.environ.get("CLI_APP_LEDGER")
        if ledger and job is not None:
            line = dict(answer, manual=job.manual, run_number=job.run_number)
            with open(ledger, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
        self.response.payload = answer


class Boom(tw.Service):
    """Always fails."""

    name = "boom"

    def handle(self) -> None:
        raise RuntimeError("the boom service always fails")


class NotAService:
    name = "plain"


class EchoTwin(tw.Service):
    """Another service named "echo": two of them cannot be registered."""

    name = "echo"

    def handle(self) -> None:
        self.response.payload = "twin"


not_an_app: Any = 42


def needs_args(store: str) -> tw.Scheduler:
    raise AssertionError("never called: a reference must name something callable without arguments")


def app() -> tw.App:
    application = tw.App()
    application.add_service(Echo)
    application.add_service(Boom)
    return application


def _store() -> tw.Store | None:
    url = os.environ.get("CLI_APP_STORE")
    if not url:
        return None
    if url.startswith("redis://"):
        return tw.RedisStore(url)
    return tw.SQLiteStore(url.removeprefix("sqlite://"))


def make() -> tw.Scheduler:
    sched = tw.Scheduler(app(), store=_store())
    names = {job.name for job in sched.jobs()}
    if "tick" not in names:
        sched.add_job("tick", "echo", tw.Interval(seconds=1), extra="from=job")
    if "daily" not in names:
        sched.add_job("daily", "echo", tw.Cron("0 9 * * *"))
    if "broken" not in names:
        sched.add_job("broken", "boom", tw.Cron("0 9 * * *"))
    return sched
