"""The ``tickwork`` command line (also ``python -m tickwork``).

Exit codes: 0 done; 1 the work failed (a service raised, a run ended in
error, nothing took a request in time); 2 a usage error (bad arguments, a
bad reference, expression or config); 3 the store cannot be reached or read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from ._time import us_to_dt

__all__ = ["main"]

OK, FAILED, USAGE, STORE = 0, 1, 2, 3

log = logging.getLogger("tickwork.cli")


class UsageError(Exception):
    """A bad argument; the message says which."""


# -- helpers ---------------------------------------------------------------------
def _zone(name: str | None) -> tzinfo:
    from ._time import get_zone

    name = name or os.environ.get("TZ") or "UTC"
    if name.startswith(":"):  # POSIX: ":Europe/London", or a path into a zoneinfo tree
        name = name[1:]
        if "zoneinfo/" in name:
            name = name.split("zoneinfo/", 1)[1]
    try:
        return get_zone(name)
    except Exception:
        raise UsageError(f"unknown time zone {name!r}") from None


def _when(us_value: int | None, zone: tzinfo) -> str:
    if us_value is None:
        return "-"
    return us_to_dt(us_value, zone).isoformat(sep=" ", timespec="seconds")


def _open_store(url: str | None, prefix: str) -> Any:
    from ._admin import store_from_url

    url = url or os.environ.get("TICKWORK_STORE")
    if not url:
        raise UsageError(
            "give --store URL (or set TICKWORK_STORE): sqlite:///path.db or redis://..."
        )
    try:
        return store_from_url(url, prefix=prefix, must_exist=True)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [headers, *rows]:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.I)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_interval(text: str) -> dict[str, float] | None:
    """``5m``, ``1h30m``, ``every 90s``, ``2d`` -> Interval arguments; None if
    ``text`` is not an interval spec."""
    spec = text.strip().lower()
    if spec.startswith("every "):
        spec = spec[len("every ") :].strip()
    compact = spec.replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        return None
    args: dict[str, float] = {}
    for number, unit in _DURATION.findall(compact):
        key = _UNITS[unit.lower()]
        args[key] = args.get(key, 0.0) + float(number)
    return args


def _payload(args: argparse.Namespace) -> Any:
    if args.payload is not None and args.payload_file is not None:
        raise UsageError("give --payload or --payload-file, not both")
    text = args.payload
    if args.payload_file is not None:
        try:
            text = Path(args.payload_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --payload-file: {exc}") from None
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the payload is not JSON: {exc}") from None


def _app_ref(ref: str) -> tuple[Any, Any]:
    from ._config import ConfigError, app_and_scheduler

    try:
        return app_and_scheduler(ref)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


# -- run's log lines ---------------------------------------------------------------
class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = getattr(record, "tw", None)
        if fields:
            line += "  " + " ".join(
                f"{k}={v:.6f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in fields.items()
                if v is not None
            )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "tw", None) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def _setup_logging(fmt: str, level: str, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JSONFormatter() if fmt == "json" else _LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _log_runs(sched: Any) -> None:
    runs = logging.getLogger("tickwork.runs")

    def on_event(event: Any) -> None:
        run = event.run
        if event.kind != "run_finished" or run is None:
            return
        duration = run.duration
        fields = {
            "cid": run.cid,
            "job": run.job,
            "service": run.service,
            "outcome": run.outcome,
            "duration": None if duration is None else round(duration.total_seconds(), 6),
            "scheduled_for": run.scheduled_for.isoformat(),
            "run_number": run.run_number,
            "manual": run.manual or None,
            "error": run.error,
        }
        level = logging.INFO if run.outcome == "ok" else logging.WARNING
        runs.log(level, "run %s of %s: %s", run.cid, run.job, run.outcome, extra={"tw": fields})

    sched.subscribe(on_event)


# -- commands --------------------------------------------------------------------
def _load(args: argparse.Namespace, what: str) -> tuple[Any, Any]:
    """The App and Scheduler of ``run`` and ``serve``: from APP_REF or --config."""
    from ._config import ConfigError, load_config

    _setup_logging(args.log_format, args.log_level, sys.stderr)
    if args.config and args.app_ref:
        raise UsageError("give APP_REF or --config, not both")
    if args.config:
        try:
            sched = load_config(args.config)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        return sched.app, sched
    if args.app_ref:
        return _app_ref(args.app_ref)
    raise UsageError(f"give APP_REF (package.module:{what}) or --config FILE")


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    _app, sched = _load(args, "scheduler")
    if sched is None:
        raise UsageError(f"{args.app_ref!r} names an App; `tickwork run` needs a Scheduler")
    _log_runs(sched)
    log.info("tickwork: %d jobs; stop with Ctrl-C (SIGINT) or SIGTERM", len(sched.jobs()))
    try:
        sched.run_forever()  # graceful on SIGINT / SIGTERM
    finally:
        sched.app.close()
    log.info("tickwork: stopped")
    return OK


def cmd_jobs(args: argparse.Namespace, out: TextIO) -> int:
    from ._jobspec import job_to_data

    zone = _zone(args.tz)
    with _admin_for(args) as admin:
        jobs = admin.jobs()
        last = admin.last_runs(job.name for job in jobs)  # the jobs just read, not read again
    if args.json:
        data = [
            job_to_data(job, zone) | {"last_outcome": _outcome(last.get(job.name))} for job in jobs
        ]
        print(json.dumps(data, indent=2, default=str), file=out)
        return OK
    rows = [
        [
            job.name,
            job.service,
            job.trigger.describe(),
            "active" if job.active else "paused",
            _when(job.next_fire_us, zone),
            _outcome(last.get(job.name)) or "-",
        ]
        for job in jobs
    ]
    zone_name = getattr(zone, "key", str(zone))
    _table(["NAME", "SERVICE", "TRIGGER", "STATUS", f"NEXT ({zone_name})", "LAST"], rows, out)
    if not jobs:
        print("(no jobs)", file=out)
    return OK


def _outcome(run: Any) -> str | None:
    return None if run is None else (run.outcome or "running")


def cmd_next(args: argparse.Namespace, out: TextIO) -> int:
    from ._exceptions import InvalidTrigger
    from ._time import dt_to_us, parse_instant
    from .triggers import Cron, Interval

    zone = _zone(args.tz)
    zone_name = getattr(zone, "key", "UTC")
    if args.count < 1 or args.count > 1000:
        raise UsageError("--count must be 1 to 1000")
    after: Any = datetime.now(UTC)
    if args.after is not None:
        try:
            after = us_to_dt(parse_instant(args.after, zone, what="--after"))
        except InvalidTrigger as exc:
            raise UsageError(str(exc)) from None
    interval = parse_interval(args.expr)
    try:
        if interval is not None:
            units: dict[str, Any] = dict(interval)
            trigger: Any = Interval(**units, start=after, tz=zone_name)
            fires = [(fire, None) for fire in trigger.upcoming(after, args.count)]
        else:
            trigger = Cron(args.expr, tz=zone_name)
            fires = trigger.explain(after, args.count)
    except InvalidTrigger as exc:
        raise UsageError(f"{args.expr!r}: {exc}") from None
    if not fires:  # only near the end of time: every expression that parses matches again
        raise UsageError(
            f"{args.expr!r} has no fire time after {_when(dt_to_us(after), zone)} "
            "(times run out near the year 9999)"
        )
    print(f"{trigger.describe()}; times in {zone_name}", file=out)
    for fire, rule in fires:
        local = us_to_dt(dt_to_us(fire), zone)  # in UTC where the zone would pass the year 9999
        line = f"{local.isoformat(sep=' ')}  {local:%a}"
        if rule:
            line += f"  [{rule}]"
        print(line, file=out)
    return OK


@contextmanager
def _admin_for(args: argparse.Namespace) -> Iterator[Any]:
    """A StoreAdmin on the command's store, closed when the block ends."""
    from ._admin import StoreAdmin

    admin = StoreAdmin(_open_store(args.store, args.prefix))
    try:
        yield admin
    finally:
        admin.store.close()


def cmd_pause(args: argparse.Namespace, out: TextIO) -> int:
    with _admin_for(args) as admin:
        job = admin.pause(args.name)
    print(f"paused {job.name!r}", file=out)
    return OK


def cmd_resume(args: argparse.Namespace, out: TextIO) -> int:
    with _admin_for(args) as admin:
        zone = _zone(args.tz)
        try:
            job = admin.resume(args.name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(f"resumed {job.name!r}; next {_when(job.next_fire_us, zone)}", file=out)
    return OK


def cmd_execute(args: argparse.Namespace, out: TextIO) -> int:
    with _admin_for(args) as admin:
        wait = 0.0 if args.no_wait else args.wait
        cid = admin.request_run(
            args.name, args.extra, has_extra=args.extra is not None, expires_in=max(wait, 1.0) + 5.0
        )
        if args.no_wait:
            print(f"requested a run of {args.name!r}; cid {cid}", file=out)
            return OK
        run = admin.wait_for_run(args.name, cid, wait)
    if run is None:
        print(
            f"no scheduler ran {args.name!r} within {wait:g} s (is one running on this store?); "
            f"the request lapses; cid {cid}",
            file=sys.stderr,
        )
        return FAILED
    duration = run.duration.total_seconds() if run.duration is not None else 0.0
    print(f"ran {args.name!r}: {run.outcome} in {duration:.3f} s; cid {cid}", file=out)
    if run.error:
        print(run.error, file=out)
    return OK if run.outcome == "ok" else FAILED


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    from ._jobspec import run_to_data

    zone = _zone(args.tz)
    with _admin_for(args) as admin:
        runs = admin.history(args.name, args.limit)  # a removed job's runs too
    if args.json:
        print(json.dumps([run_to_data(run, zone) for run in runs], indent=2), file=out)
        return OK
    rows = []
    for run in runs:
        duration = run.duration
        rows.append(
            [
                _when(run.scheduled_us, zone),
                run.job,
                run.outcome or "running",
                "-" if duration is None else f"{duration.total_seconds():.3f}s",
                run.cid,
                "; ".join(
                    note
                    for note in ("manual" if run.manual else "", _first_line(run.error))
                    if note
                ),
            ]
        )
    zone_name = getattr(zone, "key", str(zone))
    _table([f"SCHEDULED ({zone_name})", "JOB", "OUTCOME", "TOOK", "CID", "NOTE"], rows, out)
    if not runs:
        print("(no runs)", file=out)
    return OK


def _first_line(text: str | None) -> str:
    return "" if not text else text.splitlines()[0]


def cmd_invoke(args: argparse.Namespace, out: TextIO) -> int:
    from ._exceptions import ServiceNotFound

    payload = _payload(args)
    app, sched = _app_ref(args.app_ref)
    if sched is not None:  # only its App is needed; let go of its store at once
        sched.shutdown()
        sched.store.close()
    try:
        result = app._invoke(args.service, payload, channel="cli")
    except ServiceNotFound as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:
        print(f"service {args.service!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    finally:
        app.close()
    if result is not None:
        try:
            print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
        except TypeError:
            print(repr(result), file=out)
    return OK


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from .channels.http import HTTPChannel, serve

    app, sched = _load(args, "scheduler or :app")
    token = args.token or os.environ.get("TICKWORK_TOKEN")
    try:
        channel = HTTPChannel(app, sched, token=token, read_only_token=args.read_only_token)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    server = serve(channel, host=args.host, port=args.port)
    if sched is not None:
        _log_runs(sched)
        sched.start()
    base = f"http://{args.host}:{server.server_port}"
    print(f"tickwork: serving {base}/", file=out, flush=True)
    if sched is not None:
        print(f"tickwork: dashboard at {base}/dashboard/", file=out, flush=True)
    if token is None:
        print(f"tickwork: bearer token (shown once): {channel.token}", file=out, flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=server.serve_forever, name="tickwork-http", daemon=True)
    thread.start()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        if sched is not None:
            sched.shutdown()
        app.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return OK


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from ._demo import run_demo

    return run_demo(seconds=args.seconds, tz=args.tz or "UTC")


# -- the parser --------------------------------------------------------------------
def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the schedulers' store: sqlite:///path/jobs.db or redis://host:6379/0 "
        "(default: $TICKWORK_STORE)",
    )
    parser.add_argument("--prefix", default="tickwork", help="a RedisStore's key prefix")


def _tz_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tz", help="show times in this zone (default: $TZ, else UTC)")


def _log_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines as text (default) or JSON lines",
    )
    parser.add_argument("--log-level", default="INFO", help="INFO (default), DEBUG, WARNING")


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="tickwork",
        description="Service-oriented job scheduling: run schedulers, see and steer their jobs.",
        epilog="Examples:\n  tickwork run myapp.schedule:sched\n  tickwork next '30 2 * * *' "
        "--tz Europe/London\n  tickwork jobs --store sqlite:///jobs.db\n\n"
        "Run `tickwork COMMAND --help` for a command's options and examples.",
        formatter_class=raw,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, examples: str, func: Callable[..., int]) -> Any:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="Examples:\n" + examples,
            formatter_class=raw,
        )
        sub.set_defaults(func=func)
        return sub

    run = command(
        "run",
        "run a scheduler defined in a module or a config file, until SIGINT or SIGTERM",
        "  tickwork run myapp.schedule:sched\n  tickwork run --config tickwork.toml "
        "--log-format json",
        cmd_run,
    )
    run.add_argument(
        "app_ref",
        nargs="?",
        metavar="APP_REF",
        help="package.module:name of a Scheduler (or a function returning one)",
    )
    run.add_argument("--config", metavar="FILE", help="a tickwork.toml config file")
    _log_args(run)

    jobs = command(
        "jobs",
        "list the jobs in a store: trigger, next fire time, last outcome",
        "  tickwork jobs --store sqlite:///jobs.db --tz Europe/London\n"
        "  tickwork jobs --store redis://127.0.0.1:6379/0 --json",
        cmd_jobs,
    )
    _store_args(jobs)
    _tz_arg(jobs)
    jobs.add_argument("--json", action="store_true", help="print JSON instead of a table")

    nxt = command(
        "next",
        "preview the next fire times of a cron expression or an interval, with DST rules",
        "  tickwork next '30 2 * * *' --tz America/New_York --count 5\n"
        "  tickwork next 'every 90m' --after 2026-03-08T00:00:00Z",
        cmd_next,
    )
    nxt.add_argument(
        "expr", metavar="EXPR", help="a cron expression, or an interval: 5m, 1h30m, every 2d"
    )
    _tz_arg(nxt)
    nxt.add_argument("--count", type=int, default=10, help="how many fire times (default 10)")
    nxt.add_argument(
        "--after", metavar="ISO_INSTANT", help="start after this instant (default: now)"
    )

    for name, help_text, func in (
        (
            "pause",
            "pause a job in a store (a running scheduler follows within a second)",
            cmd_pause,
        ),
        ("resume", "resume a paused job in a store, from its next fire time after now", cmd_resume),
    ):
        sub = command(
            name, help_text, f"  tickwork {name} nightly-report --store sqlite:///jobs.db", func
        )
        sub.add_argument("name", metavar="NAME", help="the job")
        _store_args(sub)
        _tz_arg(sub)

    execute = command(
        "execute",
        "run a job now on the scheduler that runs it (through their store) and wait for it",
        "  tickwork execute sync --store sqlite:///jobs.db\n"
        "  tickwork execute sync --store redis://127.0.0.1:6379/0 --extra 'region=us' --no-wait",
        cmd_execute,
    )
    execute.add_argument("name", metavar="NAME", help="the job")
    _store_args(execute)
    execute.add_argument("--extra", help="the extra for this run only (default: the job's)")
    execute.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="wait this long for the run to finish (default 30)",
    )
    execute.add_argument("--no-wait", action="store_true", help="only leave the request")

    history = command(
        "history",
        "show recorded runs, newest first",
        "  tickwork history --store sqlite:///jobs.db\n"
        "  tickwork history sync --store sqlite:///jobs.db --limit 50 --json",
        cmd_history,
    )
    history.add_argument("name", nargs="?", metavar="NAME", help="one job (default: all)")
    _store_args(history)
    _tz_arg(history)
    history.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")

    invoke = command(
        "invoke",
        "run one service once, on the command line channel, and print its response payload",
        "  tickwork invoke myapp.schedule:app api.scheduler.sync\n"
        '  tickwork invoke myapp.schedule:sched report --payload \'{"day": "mon"}\'',
        cmd_invoke,
    )
    invoke.add_argument(
        "app_ref", metavar="APP_REF", help="package.module:name of an App or Scheduler"
    )
    invoke.add_argument("service", metavar="SERVICE", help="the service's name")
    invoke.add_argument("--payload", metavar="JSON", help="the payload, as JSON")
    invoke.add_argument("--payload-file", metavar="FILE", help="read the JSON payload from a file")

    serve = command(
        "serve",
        "serve services and the scheduler's admin API over HTTP (and run the scheduler)",
        "  tickwork serve myapp.schedule:sched --port 8080\n"
        "  TICKWORK_TOKEN=s3cret tickwork serve --config tickwork.toml",
        cmd_serve,
    )
    serve.add_argument("app_ref", nargs="?", metavar="APP_REF", help="package.module:name")
    serve.add_argument("--config", metavar="FILE", help="a tickwork.toml config file")
    serve.add_argument("--host", default="127.0.0.1", help="the address (default: loopback)")
    serve.add_argument(
        "--port", type=int, default=8080, help="the port (default 8080; 0: any free)"
    )
    serve.add_argument(
        "--token",
        help="the bearer token (default: $TICKWORK_TOKEN, else one is made and printed once)",
    )
    serve.add_argument("--read-only-token", help="a token that may only read")
    _log_args(serve)

    demo = command(
        "demo",
        "schedule real services on the system clock for a few seconds",
        "  tickwork demo --seconds 10",
        cmd_demo,
    )
    demo.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    demo.add_argument("--tz", default="UTC", help="the zone the demo's times are shown in")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    from ._exceptions import JobNotFound, StoreError

    stream = out if out is not None else sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return USAGE
    try:
        result: int = func(args, stream)
        return result
    except UsageError as exc:
        print(f"tickwork {args.command}: {exc}", file=sys.stderr)
        return USAGE
    except JobNotFound as exc:
        print(f"tickwork {args.command}: {exc}", file=sys.stderr)
        return USAGE
    except StoreError as exc:
        print(f"tickwork {args.command}: {exc}", file=sys.stderr)
        return STORE
    except KeyboardInterrupt:
        return 130
