"""Config files (``tickwork run --config``), loaded in process with
``load_config(path, env)``: every section, secrets from the environment,
errors that name the file and the part, and jobs in a durable store that
keep their state when the file is loaded again."""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import tickwork as tw
import tickwork._config
from tickwork._config import ConfigError, load_config

ENV = {
    "SMTP_PASSWORD": "smtp-s3cret",
    "REDIS_URL": "redis://127.0.0.1:6390/2",
    "SOURCE_ADDRESS": "https://reader:rest-s3cret@secret.example.com",
}

FULL = """\
services = ["tests.cli_app:Echo", "tests.cli_app:Boom"]

[scheduler]
tz = "Europe/London"
store = "sqlite://@DB@"
executor = "thread"
max_workers = 3

[connections.rest."My Data Source"]
address = "https://data.example.com"
path = "/data/{day}"
timeout = 5.0
headers = { Accept = "application/json" }

[connections.rest.Secret]
address_env = "SOURCE_ADDRESS"

[connections.smtp."My SMTP"]
host = "smtp.example.com"
port = 2525
username = "scheduler"
password_env = "SMTP_PASSWORD"
from = "scheduler@example.com"

[connections.kvdb]
url_env = "REDIS_URL"
timeout = 2.0

[[jobs]]
name = "sync"
service = "echo"
trigger = { type = "interval", minutes = 5 }
extra = "region=eu"
misfire = "all"
grace = 30
overlap = "queue"
jitter = 2
timeout = 60
retry = { attempts = 3, backoff = 1, factor = 2, max_backoff = 10 }

[[jobs]]
name = "nightly"
service = "boom"
trigger = { type = "cron", expr = "30 2 * * *", tz = "America/New_York" }
active = false

[[jobs]]
name = "once"
service = "echo"
trigger = { type = "onetime", at = "2099-12-01 09:00" }
extra = { day = "mon", n = 1 }
"""


@pytest.fixture
def loaded() -> Iterator[list[tw.Scheduler]]:
    """The schedulers a test loads, closed after it."""
    schedulers: list[tw.Scheduler] = []
    yield schedulers
    for sched in schedulers:
        sched.app.close()
        sched.store.close()


def write(tmp_path: Path, text: str, name: str = "tickwork.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(loaded: list[tw.Scheduler], path: Path, env: dict[str, str] | None = None) -> tw.Scheduler:
    sched = load_config(path, ENV if env is None else env)
    loaded.append(sched)
    return sched


def test_every_section(tmp_path: Path, loaded: list[tw.Scheduler]) -> None:
    db = tmp_path / "jobs.db"
    sched = load(loaded, write(tmp_path, FULL.replace("@DB@", str(db))))

    assert sched.tz == "Europe/London"
    assert isinstance(sched.executor, tw.ThreadExecutor)
    assert sched.executor.max_workers == 3
    assert isinstance(sched.store, tw.SQLiteStore)
    assert sched.store.path == str(db)
    assert sorted(sched.app.services()) == ["boom", "echo"]

    connections = sched.app.connections
    rest = connections.rest("My Data Source")
    assert rest.address == "https://data.example.com"
    assert rest.path == "/data/{day}"
    assert rest.timeout == 5.0
    assert rest.headers["Accept"] == "application/json"
    secret = connections.rest("Secret")  # credentials in the address become basic auth
    assert secret.address == "https://secret.example.com"
    assert secret.auth is not None
    smtp = connections.smtp("My SMTP")
    assert (smtp.host, smtp.port, smtp.username) == ("smtp.example.com", 2525, "scheduler")
    assert smtp.password == "smtp-s3cret"
    assert smtp.from_ == "scheduler@example.com"
    assert connections.kvdb.url == "redis://127.0.0.1:6390/2"
    assert connections.kvdb.timeout == 2.0
    assert connections.names() == {
        "rest": ["My Data Source", "Secret"],
        "smtp": ["My SMTP"],
        "kvdb": ["kvdb"],
    }

    jobs = {job.name: job for job in sched.jobs()}
    assert sorted(jobs) == ["nightly", "once", "sync"]
    sync = jobs["sync"]
    assert (sync.service, sync.extra, sync.active) == ("echo", "region=eu", True)
    assert sync.trigger.describe() == "every 5 minutes"
    assert sync.trigger.to_dict()["tz"] == "Europe/London"  # the scheduler's zone
    assert (sync.misfire, sync.overlap) == ("all", "queue")
    assert (sync.grace, sync.jitter, sync.timeout) == (
        timedelta(seconds=30),
        timedelta(seconds=2),
        timedelta(seconds=60),
    )
    assert sync.retry == tw.Retry(
        attempts=3,
        backoff=timedelta(seconds=1),
        factor=2,
        max_backoff=timedelta(seconds=10),
    )
    nightly = jobs["nightly"]
    assert nightly.trigger.describe() == "At 02:30 (America/New_York)"
    assert (nightly.service, nightly.active, nightly.next_fire_us) == ("boom", False, None)
    once = jobs["once"]
    assert once.trigger.to_dict()["at"].startswith("2099-12-01T09:00:00+00:00")
    assert once.extra == {"day": "mon", "n": 1}
    assert once.next_fire_us is not None

    stored = tw.SQLiteStore(db)  # the jobs are in the file's store
    try:
        assert sorted(job.name for job in stored.load_jobs()) == ["nightly", "once", "sync"]
    finally:
        stored.close()


def test_an_empty_file_is_a_scheduler_with_the_defaults(
    tmp_path: Path, loaded: list[tw.Scheduler]
) -> None:
    sched = load(loaded, write(tmp_path, ""))
    assert sched.tz == "UTC"
    assert isinstance(sched.store, tw.MemoryStore)
    assert isinstance(sched.executor, tw.ThreadExecutor)
    assert sched.executor.max_workers == 10
    assert sched.jobs() == []
    assert sched.app.services() == []


@pytest.mark.parametrize(
    ("executor", "kind"),
    [("thread", tw.ThreadExecutor), ("inline", tw.InlineExecutor), ("asyncio", tw.AsyncioExecutor)],
)
def test_executors(
    tmp_path: Path, loaded: list[tw.Scheduler], executor: str, kind: type[tw.Executor]
) -> None:
    sched = load(loaded, write(tmp_path, f'[scheduler]\nexecutor = "{executor}"\n'))
    assert type(sched.executor) is kind


def test_secrets_come_from_the_env_given(tmp_path: Path, loaded: list[tw.Scheduler]) -> None:
    path = write(
        tmp_path,
        '[connections.smtp.Mail]\nhost = "mail.example.com"\nusername_env = "USER"\n'
        'password_env = "PASS"\n',
    )
    sched = load(loaded, path, {"USER": "me", "PASS": "from-env"})
    smtp = sched.app.connections.smtp("Mail")
    assert (smtp.username, smtp.password) == ("me", "from-env")


# -- errors name the file and the part -----------------------------------------------
JOB = 'services = ["tests.cli_app:Echo"]\n'
GOOD_JOB = '[[jobs]]\nname = "ok"\nservice = "echo"\ntrigger = { type = "interval", seconds = 5 }\n'


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ('[schedular]\ntz = "UTC"\n', "unknown section 'schedular'"),
        ("[scheduler]\ntimezone = 'UTC'\n", "scheduler.timezone: unknown"),
        ("[scheduler]\nexecutor = 'process'\n", "scheduler.executor 'process': use thread"),
        ("[scheduler]\ntz = 'Mars/Base'\n", "scheduler: unknown time zone 'Mars/Base'"),
        (
            "[scheduler]\nstore = 'sqlite://'\n",
            "scheduler.store: store URL 'sqlite://' names no file",
        ),
        ("scheduler = 5\n", "scheduler must be a table"),
        (
            JOB + GOOD_JOB + '[[jobs]]\nname = "b"\nservice = "echo"\n'
            'trigger = { type = "cron", expr = "61 * * * *" }\n',
            "jobs[1] ('b').trigger: minute field '61'",
        ),
        (
            JOB + '[[jobs]]\nname = "a"\nservice = "echo"\ntrigger = { type = "weekly" }\n',
            "jobs[0] ('a').trigger: unknown trigger type 'weekly'",
        ),
        (
            JOB + '[[jobs]]\nname = "a"\nservice = "echo"\ntrigger = "*/5 * * * *"\n',
            "jobs[0] ('a').trigger: must be an object with a type",
        ),
        (
            JOB + GOOD_JOB.replace('name = "ok"', 'name = "a"\nmisfire = "never"'),
            "jobs[0] ('a').misfire: must be one of",
        ),
        (JOB + '[[jobs]]\nname = "a"\nservice = "echo"\n', "jobs[0] ('a').trigger: is required"),
        (
            JOB + GOOD_JOB.replace('service = "echo"', 'schedule = "x"'),
            "jobs[0] ('ok').schedule: unknown field",
        ),
        (
            JOB + GOOD_JOB + "retry = { tries = 3 }\n",
            "jobs[0] ('ok').retry.tries: unknown field",
        ),
        (JOB + GOOD_JOB + "timeout = 0\n", "jobs[0] ('ok').timeout: must be > 0 seconds"),
        (
            JOB + GOOD_JOB.replace('service = "echo"', 'service = "nope"'),
            "jobs[0] ('ok'): No service by the name of 'nope'",
        ),
        ("jobs = 5\n", "jobs must be a list"),
        ('services = "tests.cli_app:Echo"\n', "services must be a list"),
        (
            'services = ["tests.cli_app:app"]\n',
            "services[0] 'tests.cli_app:app' is not a Service class",
        ),
        (
            'services = ["tests.cli_app:Echo", "tests.cli_app:NotAService"]\n',
            "services[1] 'tests.cli_app:NotAService' is not a Service class",
        ),
        ("services = [5]\n", "services[0] 5 is not a Service class"),
        (
            '[connections.smtp.Mail]\nhost = "mail.example.com"\nusername = "u"\n'
            'password_env = "NOT_SET_ANYWHERE"\n',
            "connections.smtp.'Mail'.password_env: environment variable 'NOT_SET_ANYWHERE' "
            "is not set",
        ),
        (
            "[connections.kvdb]\nurl_env = 'NOPE'\n",
            "connections.kvdb.url_env: environment variable 'NOPE'",
        ),
        ("[connections.ftp.x]\nhost = 'h'\n", "connections.ftp: unknown kind"),
        (
            '[connections.rest.A]\naddress = "https://a.example.com"\nbogus = 1\n',
            "connections.rest.'A': ",
        ),
        (
            "[connections.rest]\naddress = 'https://a.example.com'\n",
            "connections.rest.'address' must be a table",
        ),
        (
            "[connections.kvdb]\nurl = 'http://not-redis'\n",
            "connections.kvdb: KVDB: url must start with redis://",
        ),
    ],
)
def test_errors_name_the_file_and_the_part(tmp_path: Path, text: str, part: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert part in message


@pytest.mark.parametrize(
    ("line", "part"),
    [
        ("grace = nan", "jobs[0] ('ok').grace: must be a finite number of seconds, got nan"),
        ("grace = inf", "jobs[0] ('ok').grace: must be a finite number of seconds, got inf"),
        ("grace = -inf", "jobs[0] ('ok').grace: must be a finite number of seconds, got -inf"),
        ("grace = -5", "jobs[0] ('ok').grace: must be >= 0 seconds, got -5"),
        ("grace = 1e300", "jobs[0] ('ok').grace: 1e+300 seconds is too long"),
        ("jitter = nan", "jobs[0] ('ok').jitter: must be a finite number of seconds"),
        ("jitter = 1e300", "jobs[0] ('ok').jitter: 1e+300 seconds is too long"),
        ("timeout = inf", "jobs[0] ('ok').timeout: must be a finite number of seconds"),
        ("timeout = -1", "jobs[0] ('ok').timeout: must be > 0 seconds, got -1"),
        ("retry = { factor = nan }", "jobs[0] ('ok').retry.factor: must be a number from 1"),
        ("retry = { factor = 1e308 }", "jobs[0] ('ok').retry.factor: must be a number from 1"),
        ("retry = { attempts = 99999999999 }", "jobs[0] ('ok').retry.attempts: must be 1 to"),
        ("retry = { backoff = nan }", "jobs[0] ('ok').retry.backoff: must be a finite number"),
        ("retry = { max_backoff = inf }", "jobs[0] ('ok').retry.max_backoff: must be a finite"),
        ("retry = { backoff = 1e6 }", "jobs[0] ('ok').retry.backoff: Retry backoff must be"),
    ],
)
def test_bad_job_numbers_are_config_errors_naming_the_job_and_field(
    tmp_path: Path, line: str, part: str
) -> None:
    path = write(tmp_path, JOB + GOOD_JOB + line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert str(caught.value) == f"{path}: {part}" or str(caught.value).startswith(
        f"{path}: {part}"
    ), str(caught.value)


def test_a_job_without_a_name_is_named_by_its_place(tmp_path: Path) -> None:
    trigger = 'trigger = { type = "interval", seconds = nan }'
    path = write(tmp_path, JOB + f'[[jobs]]\nservice = "echo"\n{trigger}\n')
    with pytest.raises(ConfigError, match=r"jobs\[0\]\.trigger: seconds must be a number, got nan"):
        load_config(path, ENV)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=r"cannot read config '.*missing\.toml'"):
        load_config(missing, ENV)
    bad = write(tmp_path, "[scheduler\n")
    with pytest.raises(ConfigError, match=r"config '.*tickwork\.toml' is not valid TOML"):
        load_config(bad, ENV)


def test_a_service_module_that_cannot_be_imported_names_the_file_and_the_part(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, 'services = ["tests.cli_app:Echo", "no_such_module:Thing"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    message = str(caught.value)
    assert "cannot import module 'no_such_module'" in message
    assert message.startswith(f"{path}: services[1]"), message


@pytest.mark.parametrize("value", ['"ten"', "0"])
def test_a_bad_max_workers_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[scheduler]\nmax_workers = {value}\n")
    with pytest.raises(ConfigError) as caught:  # not a bare ValueError from int() or the executor
        load_config(path, ENV)
    assert str(caught.value).startswith(f"{path}: scheduler.max_workers")


def test_two_services_of_one_name_are_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'services = ["tests.cli_app:Echo", "tests.cli_app:EchoTwin"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    message = str(caught.value)
    assert message.startswith(f"{path}: services[1]"), message
    assert "'echo'" in message


def test_two_jobs_of_one_name_are_a_config_error(tmp_path: Path) -> None:
    """A file that defines a job twice is a mistake: the second must not
    silently replace the first."""
    path = write(tmp_path, JOB + GOOD_JOB + GOOD_JOB.replace("seconds = 5", "seconds = 7"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    message = str(caught.value)
    assert message.startswith(f"{path}: jobs[1]"), message
    assert "'ok'" in message


def test_the_example_in_the_module_docstring_is_laid_out_as_load_config_reads_it() -> None:
    """The docstring's example is the format's reference (docs/cli.md too):
    its ``services`` must be a top-level key, not one of [scheduler]'s (TOML
    puts every key after a table header into that table)."""
    doc = tickwork._config.__doc__
    assert doc is not None
    block = doc.split("::\n", 1)[1].split("\nAny connection setting", 1)[0]
    example = tomllib.loads("\n".join(line[4:] for line in block.splitlines()))
    assert set(example) <= {"scheduler", "services", "connections", "jobs"}
    assert set(example["scheduler"]) <= {"tz", "store", "executor", "max_workers"}
    assert "services" in example


# -- a durable store: loading the file again -------------------------------------------------
RUNNER = """\
services = ["tests.cli_app:Echo"]

[scheduler]
store = "@STORE@"
executor = "inline"

[[jobs]]
name = "tick"
service = "echo"
trigger = { type = "interval", seconds = 0.05 }
grace = 0
extra = "first"
@MORE@
"""


def runner(tmp_path: Path, extra: str = '"first"', more: str = "") -> Path:
    text = RUNNER.replace("@STORE@", f"sqlite://{tmp_path / 'jobs.db'}")
    return write(tmp_path, text.replace('"first"', extra).replace("@MORE@", more))


def run_some(sched: tw.Scheduler, count: int) -> None:
    # grace = 0: however late run_pending comes (a loaded machine), the due
    # times since the last call coalesce into one run
    for _ in range(count):
        time.sleep(0.06)
        assert [run.outcome for run in sched.run_pending()] == ["ok"]


def test_loading_again_keeps_the_run_counts(tmp_path: Path, loaded: list[tw.Scheduler]) -> None:
    first = load(loaded, runner(tmp_path))
    run_some(first, 3)
    assert first.get_job("tick").runs == 3
    first.store.close()

    again = load(loaded, runner(tmp_path, extra='"second"'))
    job = again.get_job("tick")
    assert job.runs == 3  # updated, not reset
    assert job.extra == "second"
    run_some(again, 1)
    assert again.get_job("tick").runs == 4
    assert [run.run_number for run in again.history("tick")] == [4, 3, 2, 1]


def test_loading_again_changes_the_trigger_and_pauses_as_told(
    tmp_path: Path, loaded: list[tw.Scheduler]
) -> None:
    first = load(loaded, runner(tmp_path))
    run_some(first, 2)
    first.store.close()
    path = runner(tmp_path)
    text = path.read_text().replace("seconds = 0.05", "minutes = 10") + "active = false\n"
    path.write_text(text)
    again = load(loaded, path)
    job = again.get_job("tick")
    assert job.runs == 2
    assert job.trigger.describe() == "every 10 minutes"
    assert job.active is False
    assert job.next_fire_us is None


def test_jobs_the_file_does_not_name_are_left_alone(
    tmp_path: Path, loaded: list[tw.Scheduler]
) -> None:
    more = (
        '[[jobs]]\nname = "other"\nservice = "echo"\n'
        'trigger = { type = "cron", expr = "0 9 * * *" }\n'
    )
    first = load(loaded, runner(tmp_path, more=more))
    assert sorted(job.name for job in first.jobs()) == ["other", "tick"]
    first.store.close()
    again = load(loaded, runner(tmp_path))
    assert sorted(job.name for job in again.jobs()) == ["other", "tick"]


def test_loading_the_same_file_again_keeps_the_schedule(
    tmp_path: Path, loaded: list[tw.Scheduler]
) -> None:
    """A restart with an unchanged file must not move the jobs' next fire
    times: an hourly job on a scheduler restarted every half hour would
    otherwise never run (and a downtime's missed fires are never seen, so the
    misfire policy never applies)."""
    text = RUNNER.replace("@STORE@", f"sqlite://{tmp_path / 'jobs.db'}").replace("@MORE@", "")
    path = write(tmp_path, text.replace("seconds = 0.05", "hours = 1"))
    first = load(loaded, path)
    planned = first.get_job("tick").next_fire_us
    first.store.close()
    time.sleep(0.2)
    again = load(loaded, path)
    assert again.get_job("tick").next_fire_us == planned


def test_loading_again_resets_what_the_file_no_longer_sets(
    tmp_path: Path, loaded: list[tw.Scheduler]
) -> None:
    """The jobs are "updated to the file's definition": a policy removed from
    the file goes back to its default, as the extra does."""
    first = load(loaded, runner(tmp_path, more='misfire = "all"\ntimeout = 5\noverlap = "allow"\n'))
    job = first.get_job("tick")
    assert (job.misfire, job.timeout, job.overlap) == ("all", timedelta(seconds=5), "allow")
    first.store.close()
    again = load(loaded, runner(tmp_path))
    job = again.get_job("tick")
    assert (job.misfire, job.timeout, job.overlap) == ("coalesce", None, "skip")


def test_a_store_error_is_not_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"[scheduler]\nstore = '{tmp_path / 'no-such-dir' / 'jobs.db'}'\n")
    with pytest.raises(tw.StoreError, match=re.escape("cannot open SQLite store")):
        load_config(path, ENV)


def test_the_config_in_the_docs_loads(tmp_path: Path, loaded: list[tw.Scheduler]) -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    [block] = re.findall(r"```toml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    text = (
        block.replace(
            '"myapp.services:SyncData", "myapp.reports:DailyReport"',
            '"tests.cli_app:Echo", "tests.cli_app:Boom"',
        )
        .replace('"sync-data"', '"echo"')
        .replace('"daily-report"', '"boom"')
        .replace("sqlite:///var/lib/tickwork/jobs.db", f"sqlite://{tmp_path / 'jobs.db'}")
    )
    env = {"PARTNER_URL": "https://u:p@partner.example.com", **ENV}
    sched = load(loaded, write(tmp_path, text), env)
    assert [job.name for job in sched.jobs()] == ["launch", "nightly-report", "sync"]
    assert sched.app.connections.names() == {
        "rest": ["My Data Source", "Partner API"],
        "smtp": ["My SMTP"],
        "kvdb": ["kvdb"],
    }
