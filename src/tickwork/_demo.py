"""The demo behind ``python -m tickwork demo``: real services on the system clock."""

from __future__ import annotations

import logging
import sys
import threading
import time
from datetime import timedelta
from typing import Any

from ._app import App
from ._clock import Clock, FakeClock
from ._model import Event, Retry
from ._scheduler import Scheduler
from ._service import Request, Service
from ._time import get_zone
from .triggers import Cron, Interval, OneTime

__all__ = ["build_demo_app", "run_demo"]


class Inventory(Service):
    """A class-based service: reads its job's extra as ``key=value`` pairs."""

    name = "demo.inventory"

    def handle(self) -> None:
        items = self.request.payload  # "apples=3; pears=5" -> {"apples": "3", "pears": "5"}
        total = sum(int(v) for v in items.values())
        self.response.payload = f"{total} items in {', '.join(sorted(items))}"


def build_demo_app() -> App:
    app = App()
    app.add_service(Inventory)
    attempts: dict[str, int] = {}

    @app.service("demo.heartbeat")
    def heartbeat(request: Request) -> str:
        assert request.job is not None
        return f"beat #{request.job.run_number}"

    @app.service("demo.report")
    def report(request: Request) -> str:
        # Invokes another service by name, as a Zato service would.
        return f"report: {app.invoke('demo.inventory', request.raw_request)}"

    @app.service("demo.flaky")
    def flaky(request: Request) -> str:
        # Fails on its first attempt of each run, to show retries.
        assert request.job is not None
        key = f"{request.job.name}:{request.job.run_number}"
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] == 1:
            raise ConnectionError("upstream not ready (first attempt fails on purpose)")
        return "recovered on attempt 2"

    return app


class _BriefFormatter(logging.Formatter):
    """One line per record: the demo's failures are on purpose, no tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_info = None
        record.exc_text = None
        return super().format(record)


def run_demo(
    seconds: float = 10.0, tz: str = "UTC", out: Any = None, clock: Clock | None = None
) -> int:
    """Schedule the demo jobs, run them for ``seconds``, print every run.

    The demo runs on the system clock. Given a :class:`FakeClock`, it runs
    the same schedule in simulated time, at once and the same way every
    time (its test does that).
    """
    stream = out if out is not None else sys.stdout
    zone = get_zone(tz)
    app = build_demo_app()
    sched = Scheduler(app, clock=clock, tz=tz)
    simulated = isinstance(sched.clock, FakeClock)
    lock = threading.Lock()
    finished: list[Event] = []

    def show(event: Event) -> None:
        if event.run is None:
            line = f"{event.time.astimezone(zone):%H:%M:%S}  {event.kind:<12} {event.job}"
        else:
            run = event.run
            detail = run.error or ""
            manual = " (manual)" if run.manual else ""
            attempt = f" attempt {run.attempt}" if run.attempt > 1 else ""
            line = (
                f"{event.time.astimezone(zone):%H:%M:%S}  {run.outcome or 'started':<12} "
                f"{run.job:<10} run {run.run_number}{manual}{attempt}  cid={run.cid}  {detail}"
            )
        with lock:
            if event.kind == "run_finished":
                finished.append(event)
            print(line, file=stream, flush=True)

    sched.subscribe(show)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_BriefFormatter("%(asctime)s  log %(levelname)s %(message)s", "%H:%M:%S"))
    logging.getLogger("tickwork").addHandler(handler)
    logging.getLogger("tickwork").propagate = False
    now = sched.clock.now().replace(microsecond=0)
    on = "a fake clock" if simulated else "the system clock"
    print(f"tickwork demo: {seconds:g} s on {on}, times in {tz}", file=stream)
    sched.add_job(
        "once", "demo.report", OneTime(at=now + timedelta(seconds=3)), extra="apples=3; pears=5"
    )
    sched.add_job(
        "heartbeat", "demo.heartbeat", Interval(seconds=2, repeats=4), extra='{"source": "demo"}'
    )
    sched.add_job("every-3s", "demo.inventory", Cron("*/3 * * * * *"), extra="plums=7")
    sched.add_job(
        "flaky",
        "demo.flaky",
        Interval(seconds=4),
        retry=Retry(attempts=2, backoff=timedelta(milliseconds=500)),
    )
    for job in sched.jobs():
        when = job.next_fire_time.astimezone(zone) if job.next_fire_time else None
        print(
            f"  job {job.name:<10} {job.trigger.describe():<36} next {when:%H:%M:%S}", file=stream
        )
    if simulated:
        cid = sched.execute_now("heartbeat", extra="by hand")
        print(f"  execute_now('heartbeat') -> cid {cid}", file=stream, flush=True)
        sched.advance(seconds=seconds)
    else:
        with sched:
            cid = sched.execute_now("heartbeat", extra="by hand")
            print(f"  execute_now('heartbeat') -> cid {cid}", file=stream, flush=True)
            time.sleep(seconds)
    outcomes: dict[str, int] = {}
    for event in finished:
        assert event.run is not None
        outcome = event.run.outcome or "?"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    print(f"done: {len(finished)} runs finished ({summary})", file=stream)
    logging.getLogger("tickwork").removeHandler(handler)
    logging.getLogger("tickwork").propagate = True
    return 0
