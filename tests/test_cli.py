"""The command line, run for real: ``python -m tickwork`` in subprocesses,
against SQLite files and a real redis-server, with schedulers running in
other subprocesses (``tickwork run``). The app they load is ``cli_app``
(this directory is put on PYTHONPATH).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import tickwork as tw
from tickwork.testing.servers import free_port

from . import cli_app

TESTS = Path(__file__).resolve().parent
COMMANDS = [
    "run",
    "jobs",
    "next",
    "pause",
    "resume",
    "execute",
    "history",
    "invoke",
    "serve",
    "demo",
]
STORE_COMMANDS = [
    ["jobs"],
    ["history"],
    ["pause", "tick"],
    ["resume", "tick"],
    ["execute", "tick", "--wait", "1"],
]
NO_STORE = "give --store URL (or set TICKWORK_STORE)"
# The commands' compiled modules are cached out of the source tree (where
# PYTHONDONTWRITEBYTECODE would have each of them compile tickwork again).
PYCACHE = Path(tempfile.gettempdir()) / f"tickwork-cli-tests-pycache-{os.getuid()}"


# -- running the command line --------------------------------------------------------
def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a command: this one, with this directory importable
    and none of the variables the command line reads (unless given)."""
    drop = {"TICKWORK_STORE", "TICKWORK_TOKEN", "TZ", "CLI_APP_STORE", "CLI_APP_LEDGER"}
    drop.add("PYTHONDONTWRITEBYTECODE")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def tickwork(
    *args: str, cwd: Path | None = None, timeout: float = 60.0, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickwork", *args],
        capture_output=True,
        text=True,
        env=cli_env(**env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


class Running:
    """A ``tickwork run`` (or ``serve``) in the background; stderr goes to a file."""

    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc = proc
        self.log_path = log

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the scheduler exited ({self.proc.returncode}):\n{self.log()}")

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        wait_until(lambda: text in self.log(), timeout, self, f"{text!r} in the log")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


@contextmanager
def background(
    tmp_path: Path, command: str, *args: str, stdout: Any = subprocess.DEVNULL, **env: str
) -> Iterator[Running]:
    log = tmp_path / f"{command}-{time.monotonic_ns()}.log"
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tickwork", command, *args],
            stdout=stdout,
            stderr=err,
            text=True,
            env=cli_env(**env),
            cwd=tmp_path,
        )
    try:
        yield Running(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def wait_until(
    predicate: Callable[[], object], timeout: float, running: Running | None, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if running is not None:
            running.check_alive()
        if time.monotonic() > deadline:
            log = "" if running is None else f"; the log:\n{running.log()}"
            raise AssertionError(f"no {what} within {timeout} s{log}")
        time.sleep(0.1)


def history(store: str, name: str | None = None) -> list[dict[str, Any]]:
    result = tickwork(
        "history", *([name] if name else []), "--store", store, "--json", "--limit", "200"
    )
    assert result.returncode == 0, result.stderr
    runs: list[dict[str, Any]] = json.loads(result.stdout)
    return runs


def scheduled_runs(store: str, name: str) -> list[dict[str, Any]]:
    return [run for run in history(store, name) if not run["manual"] and run["outcome"]]


def wait_for_runs(
    store: str, name: str, count: int, running: Running, timeout: float = 20.0
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        found[:] = scheduled_runs(store, name)
        return len(found) >= count

    wait_until(enough, timeout, running, f"{count} runs of {name!r}")
    return found


def jobs_json(store: str) -> dict[str, dict[str, Any]]:
    result = tickwork("jobs", "--store", store, "--json")
    assert result.returncode == 0, result.stderr
    return {job["name"]: job for job in json.loads(result.stdout)}


def store_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return f"sqlite://{tmp_path / 'jobs.db'}"  # sqlite:///abs/path


def open_store(url: str) -> tw.Store:
    if url.startswith("redis://"):
        return tw.RedisStore(url)
    return tw.SQLiteStore(url.removeprefix("sqlite://"))


def seed(url: str) -> None:
    """The jobs of cli_app.make in a store, and no scheduler running them."""
    store = open_store(url)
    try:
        sched = tw.Scheduler(cli_app.app(), store=store)
        sched.add_job("tick", "echo", tw.Interval(seconds=1), extra="from=job")
        sched.add_job("daily", "echo", tw.Cron("0 9 * * *"))
    finally:
        store.close()


# -- --help -------------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    result = tickwork(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Examples:" in result.stdout
    assert f"tickwork {command} " in result.stdout.split("Examples:")[1]


def test_top_level_help_and_no_command() -> None:
    result = tickwork("--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout
    for command in COMMANDS:
        assert command in result.stdout
    bare = tickwork()
    assert bare.returncode == 2
    assert "usage: tickwork" in bare.stderr


def test_the_console_script_is_the_same_program() -> None:
    script = Path(sys.executable).with_name("tickwork")
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    result = subprocess.run(
        [str(script), "next", "5m", "--count", "1", "--after", "2026-01-01T00:00:00Z"],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "every 5 minutes; times in UTC\n2026-01-01 00:05:00+00:00  Thu\n"


# -- next -----------------------------------------------------------------------------
def test_next_cron_shows_the_spring_forward_rule() -> None:
    result = tickwork(
        "next", "30 2 * * *", "--tz", "America/New_York", "--count", "3",
        "--after", "2026-03-07T00:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "At 02:30 (America/New_York); times in America/New_York\n"
        "2026-03-07 02:30:00-05:00  Sat\n"
        "2026-03-08 03:00:00-04:00  Sun  [02:30 does not exist (the clocks sprang forward); "
        "it runs at the first instant after the gap]\n"
        "2026-03-09 02:30:00-04:00  Mon\n"
    )


def test_next_cron_shows_the_fall_back_rule_for_a_fixed_time() -> None:
    result = tickwork(
        "next", "30 1 * * *", "--tz", "Europe/London", "--count", "3",
        "--after", "2026-10-24T00:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "At 01:30 (Europe/London); times in Europe/London\n"
        "2026-10-24 01:30:00+01:00  Sat\n"
        "2026-10-25 01:30:00+01:00  Sun  [01:30 happens twice (the clocks fall back); "
        "a fixed-time job runs on the first pass only]\n"
        "2026-10-26 01:30:00+00:00  Mon\n"
    )


def test_next_cron_without_dst_has_no_rule_and_counts_ten_by_default() -> None:
    result = tickwork("next", "*/15 * * * *", "--after", "2026-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Every 15 minutes (UTC); times in UTC"
    assert len(lines) == 11
    assert lines[1] == "2026-01-01 00:15:00+00:00  Thu"
    assert lines[10] == "2026-01-01 02:30:00+00:00  Thu"
    assert "[" not in result.stdout


@pytest.mark.parametrize(
    ("expr", "extra", "expected"),
    [
        (
            "5m",
            ["--count", "3"],
            "every 5 minutes; times in UTC\n2026-01-01 00:05:00+00:00  Thu\n"
            "2026-01-01 00:10:00+00:00  Thu\n2026-01-01 00:15:00+00:00  Thu\n",
        ),
        (
            "1h30m",
            ["--count", "2"],
            "every 90 minutes; times in UTC\n2026-01-01 01:30:00+00:00  Thu\n"
            "2026-01-01 03:00:00+00:00  Thu\n",
        ),
        (
            "every 2d",
            ["--count", "2", "--tz", "Europe/Paris"],
            "every 2 days; times in Europe/Paris\n2026-01-03 01:00:00+01:00  Sat\n"
            "2026-01-05 01:00:00+01:00  Mon\n",
        ),
        (
            "every 90s",
            ["--count", "1"],
            "every 90 seconds; times in UTC\n2026-01-01 00:01:30+00:00  Thu\n",
        ),
    ],
)
def test_next_interval_specs(expr: str, extra: list[str], expected: str) -> None:
    result = tickwork("next", expr, "--after", "2026-01-01T00:00:00Z", *extra)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_next_interval_is_elapsed_time_across_dst() -> None:
    result = tickwork(
        "next", "1d", "--tz", "America/New_York", "--count", "2",
        "--after", "2026-03-07T12:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "2026-03-08 08:00:00-04:00  Sun",  # 24 h after 07:00 EST
        "2026-03-09 08:00:00-04:00  Mon",
    ]


def test_next_reads_a_naive_after_in_the_zone() -> None:
    result = tickwork(
        "next", "0 * * * *", "--tz", "America/New_York", "--count", "1",
        "--after", "2026-01-01T00:00:00",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "2026-01-01 01:00:00-05:00  Thu"


def test_next_defaults_to_the_tz_variable_then_utc() -> None:
    args = ("next", "0 9 * * *", "--count", "1", "--after", "2026-01-01T00:00:00Z")
    tokyo = tickwork(*args, TZ="Asia/Tokyo")
    assert tokyo.returncode == 0, tokyo.stderr
    assert (
        tokyo.stdout
        == "At 09:00 (Asia/Tokyo); times in Asia/Tokyo\n2026-01-02 09:00:00+09:00  Fri\n"
    )
    utc = tickwork(*args)
    assert utc.stdout == "At 09:00 (UTC); times in UTC\n2026-01-01 09:00:00+00:00  Thu\n"


def test_next_without_after_starts_from_now() -> None:
    result = tickwork("next", "1h", "--count", "1")
    assert result.returncode == 0, result.stderr
    first = datetime.fromisoformat(result.stdout.splitlines()[1].rsplit("  ", 1)[0])
    assert timedelta(minutes=59) < first - datetime.now(UTC) <= timedelta(hours=1)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "minute field '61': 61 is out of range 0-59"),
        ("* 25 * * *", "hour field '25'"),
        ("* * 32 * *", "day-of-month field '32'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * * 8", "day-of-week field '8'"),
        ("x * * * *", "minute field 'x'"),
        ("* * * *", "a cron expression has 5 fields"),
        ("0 0 30 2 *", "never matches"),
        ("every 0m", "non-zero"),
        ("*,0 * * * *", "minute field '*,0': '*' cannot be listed with other values"),
        ("0.0005s", "the interval seconds=0.0005 is shorter than the minimum, 1 millisecond"),
    ],
)
def test_next_bad_expression_is_a_usage_error_naming_the_field(expr: str, message: str) -> None:
    result = tickwork("next", expr, "--after", "2026-01-01T00:00:00Z")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"tickwork next: {expr!r}: ")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["5m", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["* * * * *", "--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["5m", "--count", "0"], "--count must be 1 to 1000"),
        (["5m", "--count", "1001"], "--count must be 1 to 1000"),
        (["* * * * *", "--after", "garbage"], "'garbage' is not a date and time"),
        (["5m", "--after", "garbage"], "--after 'garbage' is not a date and time"),
        (["5m", "--count", "many"], "invalid int value: 'many'"),
    ],
)
def test_next_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    result = tickwork("next", *args)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["1h", "--after", "9999-12-31T23:00:00Z"],
            "'1h' has no fire time after 9999-12-31 23:00:00+00:00 (times run out near the "
            "year 9999)",
        ),
        (
            ["0 0 * * *", "--after", "9999-12-31T00:00:00Z", "--tz", "Pacific/Kiritimati"],
            "'0 0 * * *' has no fire time after 9999-12-31 14:00:00+14:00",
        ),
        (
            ["1h", "--after", "0001-01-01T00:30:00+01:00"],
            "--after '0001-01-01T00:30:00+01:00' is out of range: in UTC it falls outside "
            "the years 1 to 9999",
        ),
        (
            ["0 0 * * *", "--after", "9999-12-31T23:00:00", "--tz", "America/New_York"],
            "--after '9999-12-31T23:00:00' is out of range",
        ),
        (
            ["0 0 * * *", "--after", "0001-01-01T01:00:00", "--tz", "Asia/Tokyo"],
            "--after '0001-01-01T01:00:00' is out of range",
        ),
        (
            ["1h", "--after", "2026-01-01T00:00:00+25:00"],
            "--after '2026-01-01T00:00:00+25:00' cannot be read",
        ),
        (["1h", "--after", ""], "--after '' is not a date and time"),
    ],
)
def test_next_at_the_ends_of_time_is_one_usage_error_line(args: list[str], message: str) -> None:
    result = tickwork("next", *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"tickwork next: {message}\n" or (
        result.stderr.startswith(f"tickwork next: {message}") and result.stderr.count("\n") == 1
    ), result.stderr


def test_next_near_the_year_9999_lists_the_fire_times_there_are() -> None:
    result = tickwork(
        "next", "1w", "--tz", "Pacific/Kiritimati", "--count", "5",
        "--after", "9999-12-10T12:00:00Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "9999-12-18 02:00:00+14:00  Sat",
        "9999-12-25 02:00:00+14:00  Sat",
        # 12:00 UTC on 31 December is 02:00 on 1 January 10000 in Kiritimati,
        # past what a datetime holds: shown in UTC instead.
        "9999-12-31 12:00:00+00:00  Fri",
    ]


def test_a_posix_tz_with_a_leading_colon_is_understood() -> None:
    # TZ=":Europe/London" is POSIX's spelling of a zone file; libc and
    # `date` accept it, and many images set TZ that way.
    result = tickwork(
        "next", "0 9 * * *", "--count", "1", "--after", "2026-07-01T00:00:00Z", TZ=":Europe/London"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("2026-07-01 09:00:00+01:00  Wed\n")


# -- invoke -------------------------------------------------------------------------------
def test_invoke_prints_the_response_payload(tmp_path: Path) -> None:
    result = tickwork("invoke", "cli_app:app", "echo", "--payload", '{"a": [1, 2]}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["payload"] == {"a": [1, 2]}
    assert answer["raw"] == {"a": [1, 2]}
    assert answer["channel"] == "cli"
    assert answer["job"] is None
    assert re.fullmatch(r"[0-9a-f]{22}", answer["cid"])


def test_invoke_reads_a_payload_file_through_a_scheduler_reference(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"day": "mon", "who": "h\u00e9l\u00e8ne"}', encoding="utf-8")
    result = tickwork(
        "invoke", "cli_app:make", "echo", "--payload-file", str(payload), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["payload"] == {"day": "mon", "who": "h\u00e9l\u00e8ne"}
    assert "h\u00e9l\u00e8ne" in result.stdout  # printed as is, not escaped


def test_invoke_without_a_payload_gives_none(tmp_path: Path) -> None:
    result = tickwork("invoke", "cli_app:app", "echo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["payload"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--payload", "1", "--payload-file", "p.json"],
            "give --payload or --payload-file, not both",
        ),
        (["--payload", "{bad"], "the payload is not JSON"),
        (["--payload-file", "missing.json"], "cannot read --payload-file"),
    ],
)
def test_invoke_payload_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "p.json").write_text("1")
    result = tickwork("invoke", "cli_app:app", "echo", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_invoke_an_unknown_service_is_a_usage_error(tmp_path: Path) -> None:
    result = tickwork("invoke", "cli_app:app", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "tickwork invoke:" in result.stderr
    assert "'nope'" in result.stderr


def test_invoke_a_failing_service_exits_1_with_the_error(tmp_path: Path) -> None:
    result = tickwork("invoke", "cli_app:app", "boom", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "service 'boom' failed: RuntimeError: the boom service always fails" in result.stderr


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("cli_app", "'cli_app' is not a reference of the form package.module:name"),
        (":app", "is not a reference of the form package.module:name"),
        ("cli_app:", "is not a reference of the form package.module:name"),
        ("no_such_module:app", "cannot import module 'no_such_module'"),
        ("cli_app:missing", "module 'cli_app' has no 'missing'"),
        (
            "cli_app:not_an_app",
            "'cli_app:not_an_app' is a int; it must name a tickwork Scheduler or App",
        ),
        ("cli_app:Echo", "it must name a tickwork Scheduler or App"),
        ("cli_app:NotAService", "it must name a tickwork Scheduler or App"),
    ],
)
def test_invoke_bad_references_are_usage_errors(tmp_path: Path, ref: str, message: str) -> None:
    result = tickwork("invoke", ref, "echo", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("tickwork invoke: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_reference_is_found_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "here_app.py").write_text(
        "import tickwork as tw\napp = tw.App()\napp.service('hi')(lambda request: 'hello')\n"
    )
    env = cli_env()
    env.pop("PYTHONPATH")
    result = subprocess.run(
        [sys.executable, "-m", "tickwork", "invoke", "here_app:app", "hi"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == '"hello"\n'


@pytest.mark.parametrize(
    ("source", "ref", "message"),
    [
        ("def make(store):\n    return None\n", "broken_ref:make", "broken_ref:make"),
        ("raise RuntimeError('this module cannot start')\n", "broken_ref:app", "broken_ref"),
        ("def (:\n", "broken_ref:app", "broken_ref"),
    ],
    ids=["factory-needs-arguments", "module-raises", "module-syntax-error"],
)
def test_a_reference_that_cannot_be_loaded_is_a_usage_error(
    tmp_path: Path, source: str, ref: str, message: str
) -> None:
    """Exit 2 (a bad reference) with a message naming it, not a traceback and
    exit 1 ("the work failed")."""
    (tmp_path / "broken_ref.py").write_text(source)
    result = tickwork("invoke", ref, "echo", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("tickwork invoke: ")
    assert message in result.stderr


# -- run --------------------------------------------------------------------------------
def test_run_usage_errors(tmp_path: Path) -> None:
    nothing = tickwork("run", cwd=tmp_path)
    assert nothing.returncode == 2
    assert "give APP_REF (package.module:scheduler) or --config FILE" in nothing.stderr

    an_app = tickwork("run", "cli_app:app", cwd=tmp_path)
    assert an_app.returncode == 2
    assert "'cli_app:app' names an App; `tickwork run` needs a Scheduler" in an_app.stderr

    missing = tickwork("run", "--config", "missing.toml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "cannot read config 'missing.toml'" in missing.stderr

    (tmp_path / "bad.toml").write_text('[schedular]\ntz = "UTC"\n')
    bad = tickwork("run", "--config", "bad.toml", cwd=tmp_path)
    assert bad.returncode == 2
    assert "tickwork run: bad.toml: unknown section 'schedular'" in bad.stderr

    (tmp_path / "job.toml").write_text(
        'services = ["cli_app:Echo"]\n[[jobs]]\nname = "a"\nservice = "echo"\n'
        'trigger = { type = "cron", expr = "61 * * * *" }\n'
    )
    job = tickwork("run", "--config", "job.toml", cwd=tmp_path)
    assert job.returncode == 2
    assert "job.toml: jobs[0] ('a').trigger: minute field '61'" in job.stderr


def test_run_on_an_unreachable_store_exits_3(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    by_ref = tickwork("run", "cli_app:make", cwd=tmp_path, CLI_APP_STORE=url)
    assert by_ref.returncode == 3, by_ref.stderr
    assert "Connection refused" in by_ref.stderr or "connecting" in by_ref.stderr
    (tmp_path / "c.toml").write_text(f'[scheduler]\nstore = "{url}"\n')
    by_config = tickwork("run", "--config", "c.toml", cwd=tmp_path)
    assert by_config.returncode == 3, by_config.stderr
    assert f"127.0.0.1:{url.split(':')[2]}" in by_config.stderr


CONFIG = """\
services = ["cli_app:Echo", "cli_app:Boom"]

[scheduler]
tz = "Europe/London"
store = "{store}"
executor = "thread"
max_workers = 4

[[jobs]]
name = "tick"
service = "echo"
trigger = {{ type = "interval", seconds = 1 }}
extra = "region=eu"

[[jobs]]
name = "fail"
service = "boom"
trigger = {{ type = "interval", seconds = 1 }}

[[jobs]]
name = "nightly"
service = "echo"
trigger = {{ type = "cron", expr = "30 2 * * *" }}
misfire = "skip"
overlap = "queue"
retry = {{ attempts = 2, backoff = 0.5 }}
"""


@pytest.mark.slow
def test_run_config_logs_json_stops_on_sigint_and_a_second_run_keeps_counts(
    tmp_path: Path,
) -> None:
    store = f"sqlite://{tmp_path / 'jobs.db'}"
    config = tmp_path / "tickwork.toml"
    config.write_text(CONFIG.format(store=store))
    with background(tmp_path, "run", "--config", str(config), "--log-format", "json") as running:
        running.wait_for_log('"tickwork: 3 jobs')
        wait_for_runs(store, "tick", 1, running)
        wait_for_runs(store, "fail", 1, running)
        assert running.stop(signal.SIGINT) == 0
    records = [json.loads(line) for line in running.log().splitlines()]
    messages = [record["message"] for record in records]
    assert "tickwork: 3 jobs; stop with Ctrl-C (SIGINT) or SIGTERM" in messages
    assert "signal SIGINT: shutting down" in messages
    assert messages[-1] == "tickwork: stopped"
    runs = [record for record in records if record["logger"] == "tickwork.runs"]
    for record in runs:
        assert {"time", "level", "cid", "job", "service", "outcome", "duration"} <= set(record)
        assert isinstance(record["duration"], float)
        assert record["duration"] >= 0
        assert re.fullmatch(r"[0-9a-f]{22}", record["cid"])
    ticks = [record for record in runs if record["job"] == "tick"]
    fails = [record for record in runs if record["job"] == "fail"]
    assert ticks
    assert fails
    assert {(r["level"], r["outcome"], r["service"]) for r in ticks} == {("info", "ok", "echo")}
    assert {(r["level"], r["outcome"]) for r in fails} == {("warning", "error")}
    assert fails[0]["error"] == "RuntimeError: the boom service always fails"
    assert [r["run_number"] for r in ticks] == list(range(1, len(ticks) + 1))

    before = jobs_json(store)
    assert before["nightly"]["trigger_text"] == "At 02:30 (Europe/London)"
    assert before["nightly"]["misfire"] == "skip"
    assert before["nightly"]["overlap"] == "queue"
    assert before["nightly"]["retry"]["attempts"] == 2
    assert before["tick"]["extra"] == "region=eu"
    counted = before["tick"]["runs"]
    assert counted == len(ticks)

    # The same config on the same store: the jobs are updated, not reset.
    with background(tmp_path, "run", "--config", str(config)) as again:
        wait_for_runs(store, "tick", counted + 1, again)
        assert again.stop(signal.SIGTERM) == 0
    after = jobs_json(store)
    assert sorted(after) == ["fail", "nightly", "tick"]
    assert after["tick"]["runs"] > counted
    numbers = sorted(run["run_number"] for run in scheduled_runs(store, "tick"))
    assert numbers == list(range(1, len(numbers) + 1))  # counting on, no number twice
    text = again.log()
    assert "tickwork: 3 jobs" in text
    assert "signal SIGTERM: shutting down" in text
    assert text.rstrip().endswith("tickwork: stopped")


# -- acting on a running scheduler through its store ----------------------------------------
LINE = re.compile(
    r"^\S+ (INFO|WARNING) +tickwork\.runs: run (?P<cid>\w+) of (?P<job>\S+): (?P<outcome>\w+)"
    r"  cid=(?P=cid) job=(?P=job) service=\S+ outcome=(?P=outcome) duration=\d+\.\d{6} "
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_jobs_execute_pause_resume_history_on_a_running_scheduler(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = store_url(kind, request, tmp_path)
    ledger = tmp_path / "ledger.jsonl"
    env = {"CLI_APP_STORE": store, "CLI_APP_LEDGER": str(ledger)}
    with background(tmp_path, "run", "cli_app:make", **env) as running:
        running.wait_for_log("tickwork: 3 jobs")
        wait_for_runs(store, "tick", 1, running)

        # jobs: a table in --tz, and JSON
        table = tickwork("jobs", "--store", store, "--tz", "America/New_York")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].split() == [
            "NAME", "SERVICE", "TRIGGER", "STATUS", "NEXT", "(America/New_York)", "LAST"
        ]  # fmt: skip
        assert [line.split()[0] for line in lines[1:]] == ["broken", "daily", "tick"]
        rows = dict(zip(["broken", "daily", "tick"], lines[1:], strict=True))
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d-0[45]:00"
        assert re.fullmatch(rf"tick +echo +every 1 second +active +{stamp} +ok", rows["tick"])
        assert re.fullmatch(rf"broken +boom +At 09:00 \(UTC\) +active +{stamp} +-", rows["broken"])
        data = jobs_json(store)
        daily = datetime.fromisoformat(data["daily"]["next_fire_time"])
        assert daily.astimezone(UTC).time().isoformat() == "09:00:00"
        assert timedelta(0) < daily - datetime.now(UTC) <= timedelta(days=1)
        shown = daily.astimezone(ZoneInfo("America/New_York")).isoformat(sep=" ")
        assert re.fullmatch(
            rf"daily +echo +At 09:00 \(UTC\) +active +{re.escape(shown)} +-", rows["daily"]
        )
        assert data["tick"]["runs"] >= 1
        assert data["tick"]["last_outcome"] == "ok"
        assert data["tick"]["trigger_text"] == "every 1 second"
        assert data["tick"]["service"] == "echo"
        assert data["tick"]["active"] is True
        assert data["broken"]["last_outcome"] is None

        # execute: a manual run on the running scheduler, with this run's extra
        done = tickwork("execute", "tick", "--store", store, "--extra", "x", "--wait", "20")
        assert done.returncode == 0, done.stderr
        found = re.fullmatch(r"ran 'tick': ok in \d+\.\d{3} s; cid ([0-9a-f]{22})\n", done.stdout)
        assert found, done.stdout
        cid = found[1]
        [run] = [run for run in history(store, "tick") if run["cid"] == cid]
        assert run["manual"] is True
        assert run["outcome"] == "ok"
        [seen] = [
            entry
            for entry in map(json.loads, ledger.read_text().splitlines())
            if entry["cid"] == cid
        ]
        assert seen["raw"] == "x"
        assert seen["channel"] == "scheduler"
        assert seen["manual"] is True
        assert seen["job"] == "tick"

        failed = tickwork("execute", "broken", "--store", store, "--wait", "20")
        assert failed.returncode == 1
        assert re.match(r"ran 'broken': error in \d+\.\d{3} s; cid [0-9a-f]{22}\n", failed.stdout)
        assert "RuntimeError: the boom service always fails" in failed.stdout
        assert jobs_json(store)["broken"]["last_outcome"] == "error"

        # pause: the running scheduler stops firing the job
        paused = tickwork("pause", "tick", "--store", store)
        assert paused.returncode == 0, paused.stderr
        assert paused.stdout == "paused 'tick'\n"
        # The scheduler follows within ~0.25 s, later on a loaded machine, and
        # a run in flight lands: settled once no run came for 1.5 s (the job
        # fires every second).
        settled, quiet_since = len(scheduled_runs(store, "tick")), time.monotonic()
        give_up = quiet_since + 20
        while time.monotonic() - quiet_since < 1.5:
            assert time.monotonic() < give_up, "the paused job still fires"
            time.sleep(0.25)
            if (now_seen := len(scheduled_runs(store, "tick"))) != settled:
                settled, quiet_since = now_seen, time.monotonic()
        window = time.monotonic() + 2.0  # two fire times of a job that runs every second
        shown_paused = tickwork("jobs", "--store", store)
        assert re.search(r"^tick +echo +every 1 second +paused +- +ok$", shown_paused.stdout, re.M)
        assert jobs_json(store)["tick"]["active"] is False

        # history (while the pause lasts): a table in --tz, newest first, manual runs noted
        shown = tickwork("history", "--store", store, "--limit", "100", "--tz", "Asia/Tokyo")
        assert shown.returncode == 0, shown.stderr
        rows_h = shown.stdout.splitlines()
        assert rows_h[0].split() == [
            "SCHEDULED", "(Asia/Tokyo)", "JOB", "OUTCOME", "TOOK", "CID", "NOTE"
        ]  # fmt: skip
        [manual] = [row for row in rows_h if cid in row]
        assert re.fullmatch(rf"\S+ \S+\+09:00 +tick +ok +\d+\.\d{{3}}s +{cid} +manual", manual)
        failure = r" broken +error +.*manual; RuntimeError: the boom service always fails$"
        assert any(re.search(failure, row) for row in rows_h)
        times = [row[:25] for row in rows_h[1:]]
        assert times == sorted(times, reverse=True)
        assert {run["job"] for run in history(store, "tick")} == {"tick"}

        time.sleep(max(0.0, window - time.monotonic()))
        assert len(scheduled_runs(store, "tick")) == settled
        running.check_alive()

        # resume: it fires again
        resumed = tickwork("resume", "tick", "--store", store, "--tz", "Asia/Tokyo")
        assert resumed.returncode == 0, resumed.stderr
        assert re.fullmatch(
            r"resumed 'tick'; next \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+09:00\n", resumed.stdout
        )
        wait_for_runs(store, "tick", settled + 1, running, timeout=15)
        assert jobs_json(store)["tick"]["active"] is True

        assert running.stop(signal.SIGTERM) == 0

    log = running.log().splitlines()
    assert log[-1].endswith("tickwork.cli: tickwork: stopped")
    assert any(line.endswith("tickwork.scheduler: signal SIGTERM: shutting down") for line in log)
    run_lines = [line for line in log if " tickwork.runs: " in line]
    assert run_lines
    for line in run_lines:
        assert LINE.match(line), line
    [manual_line] = [line for line in run_lines if cid in line]
    assert "manual=True" in manual_line
    assert any("job=broken" in line and "outcome=error" in line for line in run_lines)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_store_commands_with_no_scheduler_running(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = store_url(kind, request, tmp_path)
    seed(store)
    # execute waits for a scheduler to take the request; none does (checked below,
    # after the other commands ran meanwhile)
    began = time.monotonic()
    waiting = subprocess.Popen(
        [sys.executable, "-m", "tickwork", "execute", "tick", "--store", store, "--wait", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        # unknown jobs are usage errors
        for command in ("execute", "pause", "resume"):
            result = tickwork(command, "nope", "--store", store)
            assert result.returncode == 2, (command, result.stderr)
            assert result.stderr.startswith(f"tickwork {command}: ")
            assert "nope" in result.stderr
        none = tickwork("history", "nope", "--store", store)
        assert none.returncode == 0
        assert none.stdout.splitlines()[-1] == "(no runs)"

        # pause and resume change the store (a scheduler would follow)
        assert tickwork("pause", "daily", "--store", store).stdout == "paused 'daily'\n"
        again = tickwork("pause", "daily", "--store", store)
        assert (again.returncode, again.stdout) == (0, "paused 'daily'\n")
        data = jobs_json(store)["daily"]
        assert (data["active"], data["next_fire_time"]) == (False, None)
        resumed = tickwork("resume", "daily", "--store", store, "--tz", "America/New_York")
        assert resumed.returncode == 0, resumed.stderr
        assert re.fullmatch(
            r"resumed 'daily'; next \d{4}-\d\d-\d\d 0[45]:00:00-0[45]:00\n", resumed.stdout
        )
        assert jobs_json(store)["daily"]["active"] is True

        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
        waiting.communicate()
    assert waiting.returncode == 1
    assert time.monotonic() - began >= 1.0
    assert out == ""
    assert re.fullmatch(
        r"no scheduler ran 'tick' within 1 s \(is one running on this store\?\); "
        r"the request lapses; cid [0-9a-f]{22}\n",
        err,
    )
    left = tickwork("execute", "tick", "--store", store, "--no-wait")
    assert left.returncode == 0, left.stderr
    assert re.fullmatch(r"requested a run of 'tick'; cid [0-9a-f]{22}\n", left.stdout)
    assert history(store, "tick") == []


def test_jobs_and_history_of_an_empty_store(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'empty.db'}"
    missing = tickwork("jobs", "--store", store)  # never created by a scheduler
    assert missing.returncode == 3
    assert "does not exist" in missing.stderr
    assert not (tmp_path / "empty.db").exists()  # and not made by looking
    tw.SQLiteStore(tmp_path / "empty.db").close()
    jobs = tickwork("jobs", "--store", store)
    assert jobs.returncode == 0, jobs.stderr
    assert jobs.stdout == "NAME  SERVICE  TRIGGER  STATUS  NEXT (UTC)  LAST\n(no jobs)\n"
    assert tickwork("jobs", "--store", store, "--json").stdout == "[]\n"
    runs = tickwork("history", "--store", store)
    assert runs.stdout.splitlines()[-1] == "(no runs)"


def test_store_from_the_environment_and_tz_default(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    seed(str(db))  # a plain path is a SQLite store too
    for url in (str(db), f"sqlite://{db}"):
        result = tickwork("jobs", TICKWORK_STORE=url, TZ="Asia/Tokyo")
        assert result.returncode == 0, result.stderr
        assert "NEXT (Asia/Tokyo)" in result.stdout.splitlines()[0]
        assert re.search(
            r"^daily +echo +At 09:00 \(UTC\) +active +\S+ 18:00:00\+09:00 +-$", result.stdout, re.M
        )
    relative = tickwork("jobs", "--store", "jobs.db", cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr
    assert "daily" in relative.stdout


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: c[0])
def test_a_missing_store_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    result = tickwork(*command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tickwork {command[0]}: {NO_STORE}")


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_store_exits_3(command: list[str]) -> None:
    port = free_port()
    result = tickwork(*command, "--store", f"redis://:s3cret@127.0.0.1:{port}/0")
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"tickwork {command[0]}: Redis store redis://")
    assert f"127.0.0.1:{port}" in result.stderr
    assert "s3cret" not in result.stderr  # the password is never shown


@pytest.mark.parametrize(
    ("store", "code", "message"),
    [
        ("/nonexistent-dir/jobs.db", 3, "SQLite store '/nonexistent-dir/jobs.db' does not exist"),
        ("not-a-db.txt", 3, "file is not a database"),
        ("sqlite://", 2, "store URL 'sqlite://' names no file"),
    ],
)
def test_bad_sqlite_stores(tmp_path: Path, store: str, code: int, message: str) -> None:
    (tmp_path / "not-a-db.txt").write_text("hello, this is not SQLite\n" * 10)
    result = tickwork("jobs", "--store", store, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr


def test_bad_tz_for_store_commands(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path / 'jobs.db'}"
    seed(store)
    for command in (["jobs"], ["history"], ["resume", "daily"]):
        result = tickwork(*command, "--store", store, "--tz", "Mars/Base")
        assert result.returncode == 2
        assert "unknown time zone 'Mars/Base'" in result.stderr


# -- serve ------------------------------------------------------------------------------
def stdout_lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The lines ``proc`` prints, as they come (read on a thread of their own)."""
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stream = proc.stdout

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.slow
def test_serve_answers_health_and_stops_on_sigint(tmp_path: Path) -> None:
    if importlib.util.find_spec("tickwork.channels.http") is None:
        pytest.skip("tickwork.channels.http is not there yet")
    httpx = pytest.importorskip("httpx")
    with background(
        tmp_path, "serve", "cli_app:make", "--port", "0", stdout=subprocess.PIPE
    ) as running:
        lines = stdout_lines(running.proc)
        first = lines.get(timeout=20)
        found = re.fullmatch(r"tickwork: serving http://127\.0\.0\.1:(\d+)/\n", first)
        assert found, first + running.log()
        assert (
            lines.get(timeout=5)
            == f"tickwork: dashboard at http://127.0.0.1:{found[1]}/dashboard/\n"
        )
        token_line = lines.get(timeout=5)
        assert token_line.startswith("tickwork: bearer token (shown once): ")
        answer = httpx.get(f"http://127.0.0.1:{found[1]}/health", timeout=10)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}
        page = httpx.get(f"http://127.0.0.1:{found[1]}/dashboard/", timeout=10)
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert running.stop(signal.SIGINT) == 0
