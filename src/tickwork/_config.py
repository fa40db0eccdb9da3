"""Where the command line finds an App and a Scheduler: a reference to an
object in a module (``package.module:name``) or a TOML config file.

A config file (``tickwork run --config tickwork.toml``)::

    services = ["myapp.services:SyncData", "myapp.reports:daily"]   # Service classes

    [scheduler]
    tz = "Europe/London"                 # the zone of triggers without one
    store = "sqlite:///var/lib/tickwork/jobs.db"   # or redis://...; default: in memory
    executor = "thread"                  # thread (default), inline or asyncio
    max_workers = 10

    [connections.rest."My Data Source"]
    address = "https://data.example.com"
    path = "/data"

    [connections.smtp."My SMTP"]
    host = "smtp.example.com"
    username = "scheduler"
    password_env = "SMTP_PASSWORD"       # secrets come from the environment

    [connections.kvdb]
    url_env = "REDIS_URL"

    [[jobs]]
    name = "sync"
    service = "api.scheduler.sync"
    trigger = { type = "interval", minutes = 5 }
    extra = "region=eu"

Any connection setting ``x`` may be given as ``x_env``, the name of an
environment variable that holds it. Jobs use the same fields as the HTTP
admin API (see ``docs/cli.md``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from ._app import App
from ._exceptions import StoreError
from ._jobspec import SpecError, parse_job_spec
from ._scheduler import Scheduler
from ._service import Service

# add_job's defaults: an option the file no longer sets goes back to its default.
_ADD_DEFAULTS: dict[str, Any] = {
    "misfire": "coalesce",
    "grace": timedelta(seconds=60),
    "overlap": "skip",
    "jitter": None,
    "timeout": None,
    "retry": None,
}

__all__ = ["ConfigError", "load_config", "resolve_ref"]


class ConfigError(ValueError):
    """A reference or a config file is wrong; the message names the part."""


def resolve_ref(ref: str) -> Any:
    """The object ``package.module:attr`` (dots after the colon reach into it).

    The current directory is searched first, as ``python -m`` does.

    Raises:
        ConfigError: the reference is malformed, the module cannot be
            imported, or it has no such attribute.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{ref!r} is not a reference of the form package.module:name")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raised as it ran
        raise ConfigError(
            f"cannot import module {module_name!r} (from {ref!r}): {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"module {module_name!r} has no {attr!r} (from {ref!r})") from None
    return target


def app_and_scheduler(ref: str) -> tuple[App, Scheduler | None]:
    """What ``ref`` names: a Scheduler (with its App), an App, or a callable
    that returns either.

    Raises:
        ConfigError: it is none of those.
    """
    target = resolve_ref(ref)
    if callable(target) and not isinstance(target, App | Scheduler) and not inspect.isclass(target):
        try:
            inspect.signature(target).bind()
        except TypeError:
            raise ConfigError(
                f"{ref!r} is a function that needs arguments; give one that needs none"
            ) from None
        except ValueError:  # no signature to read: try the call
            pass
        try:
            target = target()
        except StoreError:
            raise  # the store it opens is unreachable: not a reference error
        except Exception as exc:
            raise ConfigError(f"{ref!r} raised {type(exc).__name__}: {exc}") from exc
    if isinstance(target, Scheduler):
        return target.app, target
    if isinstance(target, App):
        return target, None
    raise ConfigError(
        f"{ref!r} is a {type(target).__name__}; it must name a tickwork Scheduler or App "
        "(or a function that returns one)"
    )


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Scheduler:
    """A Scheduler, its App, connections and jobs, from a TOML file.

    Jobs already in a durable store are updated to the file's definition and
    keep their run counts; jobs the file does not name are left alone.

    Raises:
        ConfigError: the file cannot be read or a part of it is wrong; the
            message names the file and the part (``jobs[2] ('sync').trigger``).
    """
    env = os.environ if env is None else env
    where = os.fspath(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {where!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {where!r} is not valid TOML: {exc}") from None
    known = {"scheduler", "services", "connections", "jobs"}
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{where}: unknown section {key!r}; known: {', '.join(sorted(known))}"
            )
    app = App()
    for index, ref in enumerate(_list(where, "services", data.get("services", []))):
        try:
            cls = resolve_ref(ref) if isinstance(ref, str) else None
        except ConfigError as exc:
            raise ConfigError(f"{where}: services[{index}]: {exc}") from None
        if not (inspect.isclass(cls) and issubclass(cls, Service)):
            raise ConfigError(f"{where}: services[{index}] {ref!r} is not a Service class")
        try:
            app.add_service(cls)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: services[{index}] {ref!r}: {exc}") from None
    _connections(where, app, data.get("connections", {}), env)
    sched = _scheduler(where, app, data.get("scheduler", {}))
    seen: dict[str, int] = {}
    for index, item in enumerate(_list(where, "jobs", data.get("jobs", []))):
        label = f"jobs[{index}]"
        try:
            spec = parse_job_spec(item)
        except SpecError as exc:
            raise ConfigError(f"{where}: {label}{_named(item)}.{exc.field}: {exc.detail}") from None
        assert spec.name is not None
        assert spec.service is not None
        assert spec.trigger is not None
        if spec.name in seen:
            raise ConfigError(
                f"{where}: {label} ({spec.name!r}): the name is used by jobs[{seen[spec.name]}] too"
            )
        seen[spec.name] = index
        # Declared, not added: a restart (or a reload) takes up the stored job
        # where it was, keeps a done job done, and applies what the file changed.
        kwargs: dict[str, Any] = {**_ADD_DEFAULTS, **spec.options}
        try:
            sched.declare_job(spec.name, spec.service, spec.trigger, spec.extra, **kwargs)
        except (LookupError, ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(f"{where}: {label} ({spec.name!r}): {exc}") from None
    return sched


def _named(item: object) -> str:
    """`` ('name')`` for a job table that names itself, so a message finds it."""
    name = item.get("name") if isinstance(item, Mapping) else None
    return f" ({name!r})" if isinstance(name, str) and name.strip() else ""


def _list(where: str, key: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key} must be a list")
    return value


def _settings(where: str, label: str, table: object, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: {label} must be a table")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key.endswith("_env"):
            name = key[: -len("_env")]
            if not isinstance(value, str) or value not in env:
                raise ConfigError(
                    f"{where}: {label}.{key}: environment variable {value!r} is not set"
                )
            settings[name] = env[value]
        else:
            settings[key] = value
    return settings


def _connections(where: str, app: App, table: object, env: Mapping[str, str]) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: connections must be a table")
    for kind in table:
        if kind not in ("rest", "smtp", "kvdb"):
            raise ConfigError(f"{where}: connections.{kind}: unknown kind; known: rest, smtp, kvdb")
    for kind, add in (("rest", app.connections.add_rest), ("smtp", app.connections.add_smtp)):
        named = table.get(kind, {})
        if not isinstance(named, Mapping):
            raise ConfigError(f"{where}: connections.{kind} must be a table of named connections")
        for name, raw in named.items():
            label = f"connections.{kind}.{name!r}"
            settings = _settings(where, label, raw, env)
            if kind == "smtp" and "from" in settings:
                settings["from_"] = settings.pop("from")
            try:
                add(name, **settings)
            except (TypeError, ValueError, ImportError) as exc:
                raise ConfigError(f"{where}: {label}: {exc}") from None
    if "kvdb" in table:
        settings = _settings(where, "connections.kvdb", table["kvdb"], env)
        try:
            app.connections.set_kvdb(**settings)
        except (TypeError, ValueError, ImportError) as exc:
            raise ConfigError(f"{where}: connections.kvdb: {exc}") from None


def _scheduler(where: str, app: App, table: object) -> Scheduler:
    from . import executors
    from ._admin import store_from_url

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: scheduler must be a table")
    allowed = {"tz", "store", "executor", "max_workers"}
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}: scheduler.{key}: unknown; known: {', '.join(sorted(allowed))}"
            )
    kind = table.get("executor", "thread")
    workers = table.get("max_workers", 10)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(
            f"{where}: scheduler.max_workers must be a whole number >= 1, got {workers!r}"
        )
    if kind == "thread":
        executor: executors.Executor = executors.ThreadExecutor(workers)
    elif kind == "inline":
        executor = executors.InlineExecutor()
    elif kind == "asyncio":
        executor = executors.AsyncioExecutor()
    else:
        raise ConfigError(f"{where}: scheduler.executor {kind!r}: use thread, inline or asyncio")
    store = None
    if table.get("store"):
        try:
            store = store_from_url(str(table["store"]))
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{where}: scheduler.store: {exc}") from None
    try:
        return Scheduler(app, tz=str(table.get("tz", "UTC")), store=store, executor=executor)
    except (LookupError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: scheduler: {exc}") from None
