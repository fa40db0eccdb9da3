"""RedisStore: jobs, their state and their history in Redis (extra ``redis``).

Keys, all under the store's prefix ``P`` (default ``tickwork``):

==================  ======  ==================================================
key                 type    holds
==================  ======  ==================================================
``P:meta``          hash    ``schema_version``
``P:def``           hash    job name -> definition (JSON)
``P:state``         hash    job name -> ``next_fire_us|runs|last_due_us|active``
``P:open``          hash    cid -> a run written ahead, not finished (JSON)
``P:hist:<job>``    list    ``recorded_us|run JSON``, newest first
``P:hist``          list    the same for every job, newest first
==================  ======  ==================================================

Everything is plain data: JSON and numbers in text, never pickles. Writes are
batched (see ``_buffered``): one Lua script applies a batch atomically: the
claims of fires (each applied only while the stored job is active and holds
the last due time the scheduler saw), the runs written ahead, and the
finished runs with their history trimmed. A key of the wrong type under the
prefix is reported by name and left alone.

Durability is Redis's: with its default snapshots a Redis crash can lose the
last writes; ``appendonly yes`` with ``appendfsync everysec`` bounds that to
a second. A scheduler process crash loses nothing that was flushed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._exceptions import StoreError
from .._model import Job, Run
from .._time import td_to_us
from ._base import NO_CLAIM
from ._buffered import BufferedStore, StateChange

__all__ = ["RedisStore"]

log = logging.getLogger("tickwork.stores.redis")

SCHEMA_VERSION = 1
INTERRUPTED = "interrupted: the scheduler stopped before the run finished"
_GLOBAL_HISTORY = 10_000

_FLUSH_LUA = """
local p = ARGV[1]
local limit = tonumber(ARGV[2])
local glimit = tonumber(ARGV[3])
local cutoff = tonumber(ARGV[4])
local state_key, def_key, open_key = p .. ':state', p .. ':def', p .. ':open'
local refused, refused_set, bad, bad_set = {}, {}, {}, {}
local function usable(key)
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'list' or kind == 'none' then return true end
  if not bad_set[key] then bad_set[key] = true; bad[#bad + 1] = key end
  return false
end
local function trim_old(key)
  while true do
    local tail = redis.call('LINDEX', key, -1)
    if not tail then return end
    local recorded = tonumber(string.match(tail, '^(%-?%d+)|'))
    if recorded == nil or recorded >= cutoff then return end
    redis.call('RPOP', key)
  end
end
local i = 5
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local name, state, expect = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local ok
  if expect == '*' then
    ok = redis.call('HEXISTS', def_key, name) == 1
  else
    local stored = redis.call('HGET', state_key, name)
    ok = false
    if stored then
      local last, active = string.match(stored, '^[^|]*|[^|]*|([^|]*)|([01])$')
      ok = last == expect and active == '1'
    end
  end
  if ok then
    redis.call('HSET', state_key, name, state)
  else
    refused_set[name] = true
    refused[#refused + 1] = name
  end
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local job, cid, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  if not refused_set[job] then redis.call('HSET', open_key, cid, entry) end
end
n = tonumber(ARGV[i]); i = i + 1
local global = p .. ':hist'
for _ = 1, n do
  local job, cid, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  redis.call('HDEL', open_key, cid)
  local key = global .. ':' .. job
  if usable(key) then
    redis.call('LPUSH', key, entry)
    redis.call('LTRIM', key, 0, limit - 1)
    if cutoff >= 0 then trim_old(key) end
  end
  if usable(global) then redis.call('LPUSH', global, entry) end
end
if n > 0 and usable(global) then
  redis.call('LTRIM', global, 0, glimit - 1)
  if cutoff >= 0 then trim_old(global) end
end
return {refused, bad}
"""


def _state_text(next_fire_us: int | None, runs: int, last_due_us: int | None, active: bool) -> str:
    return f"{_num(next_fire_us)}|{runs}|{_num(last_due_us)}|{int(active)}"


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def _int(text: str) -> int | None:
    return None if text == "" else int(text)


def _run_json(run: Run, owner: str | None = None) -> str:
    row = list(run.as_row())
    if owner is not None:
        row.append(owner)
    return json.dumps(row, separators=(",", ":"))


def _history_entry(run: Run) -> str:
    recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
    return f"{recorded}|{_run_json(run)}"


def _run_of_entry(entry: str) -> Run:
    _, _, text = entry.partition("|")
    row = json.loads(text)
    run = Run.from_row(tuple(row[:11]))
    run.manual = bool(run.manual)
    return run


def safe_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisStore(BufferedStore):
    """Keeps jobs, their state and their run history in Redis.

    Args:
        url: ``redis://[user:password@]host:port/db``; ``rediss://`` for TLS
            (certificate checks on by default; redis-py's URL options such as
            ``ssl_ca_certs`` apply). The password never appears in logs,
            reprs or errors.
        prefix: the namespace of every key (see the module doc).
        history_limit: runs kept per job (>= 1).
        history_max_age: runs recorded longer ago than this are dropped too.
        flush_interval: how long a finished run's record may wait before it
            is written.
        client: an existing ``redis.Redis`` client to use instead of ``url``
            (it must decode responses).

    Raises:
        ImportError: the ``redis`` extra is not installed.
        StoreError: the server cannot be reached, a key under the prefix has
            the wrong type (named), or the data was written by a newer tickwork.
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "tickwork",
        *,
        history_limit: int = 1000,
        history_max_age: timedelta | None = None,
        flush_interval: timedelta = timedelta(milliseconds=20),
        client: Any = None,
    ) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - exercised without the extra
            raise ImportError("RedisStore needs redis-py: pip install 'tickwork[redis]'") from None
        if isinstance(history_limit, bool) or not isinstance(history_limit, int):
            raise ValueError(f"history_limit must be a whole number, got {history_limit!r}")
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit!r}")
        if history_max_age is not None and (
            not isinstance(history_max_age, timedelta) or history_max_age <= timedelta(0)
        ):
            raise ValueError(f"history_max_age must be a timedelta > 0, got {history_max_age!r}")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"prefix must be a non-empty string without spaces, got {prefix!r}")
        super().__init__(flush_interval)
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        self.url = safe_url(url)
        self._secret = urlsplit(url).password
        self.prefix = prefix
        self.history_limit = history_limit
        self._max_age_us = None if history_max_age is None else td_to_us(history_max_age)
        self._latest_us = 0
        #: This process's mark on the runs it starts.
        self.owner = uuid.uuid4().hex[:12]
        self._reported: set[str] = set()
        self._client: Any = (
            client
            if client is not None
            else redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        )
        self._flush_script = self._client.register_script(_FLUSH_LUA)
        self._call(self._check_keys)

    # ------------------------------------------------------------ plumbing
    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _call(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except self._redis_errors as exc:
            message = str(exc)
            if self._secret:
                message = message.replace(self._secret, "***")
            raise StoreError(
                f"Redis store {self.url} (prefix {self.prefix!r}): {type(exc).__name__}: {message}"
            ) from None

    def _check_keys(self) -> None:
        client: Any = self._client
        expected = {"meta": "hash", "def": "hash", "state": "hash", "open": "hash", "hist": "list"}
        for part, kind in expected.items():
            key = self._key(part)
            found = client.type(key)
            if found not in ("none", kind):
                raise StoreError(
                    f"Redis store {self.url}: key {key!r} is a {found}, not a {kind}: "
                    f"something else uses the prefix {self.prefix!r}"
                )
        version = client.hget(self._key("meta"), "schema_version")
        if version is None:
            client.hset(self._key("meta"), "schema_version", SCHEMA_VERSION)
        elif int(version) > SCHEMA_VERSION:
            raise StoreError(
                f"Redis store {self.url} (prefix {self.prefix!r}) has schema version "
                f"{version}, newer than this tickwork's ({SCHEMA_VERSION}): upgrade tickwork"
            )

    # --------------------------------------------------------------- jobs
    def validate(self, job: Job) -> None:
        self._encode(job)

    def _encode(self, job: Job) -> str:
        data = job.to_dict()
        for state in ("next_fire_us", "runs", "last_due_us", "active"):
            del data[state]
        try:
            return json.dumps(data, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"job {job.name!r} cannot be kept in a RedisStore: its extra must be "
                f"JSON data (str, number, bool, None, list, dict): {exc}"
            ) from None

    def load_jobs(self) -> list[Job]:
        self.flush()
        self._recover()
        definitions, states = self._call(
            lambda: (
                self._client.hgetall(self._key("def")),
                self._client.hgetall(self._key("state")),
            )
        )
        jobs: list[Job] = []
        for name in sorted(definitions):
            try:
                data = json.loads(definitions[name])
                if not isinstance(data, dict):
                    raise ValueError("the definition is not a JSON object")
                state = states.get(name)
                if state is None:
                    raise ValueError("it has no state")
                next_fire, runs, last_due, active = state.split("|")
                data.update(
                    name=name,
                    next_fire_us=_int(next_fire),
                    runs=int(runs),
                    last_due_us=_int(last_due),
                    active=active == "1",
                )
                jobs.append(Job.from_dict(data))
            except Exception as exc:
                log.error(
                    "job %r in Redis store %s (key %r) cannot be read, so it is left out: %s: %s",
                    name,
                    self.url,
                    self._key("def"),
                    type(exc).__name__,
                    exc,
                )
        return jobs

    def _recover(self) -> None:
        """Record the runs other processes wrote ahead and never finished."""
        open_key = self._key("open")
        open_runs = self._call(lambda: self._client.hgetall(open_key))
        unreadable: list[str] = []
        for cid, text in open_runs.items():
            try:
                row = json.loads(text)
                owner = row[11] if len(row) > 11 else None
                if owner == self.owner:
                    continue
                run = Run.from_row(tuple(row[:11]))
                run.manual = bool(run.manual)
            except Exception as exc:
                log.error("Redis store %s: open run %r cannot be read: %s", self.url, cid, exc)
                unreadable.append(cid)
                continue
            run.outcome = "error"
            run.error = INTERRUPTED
            self.add_run(run)
        if unreadable:
            self._call(lambda: self._client.hdel(open_key, *unreadable))
        self.flush()

    def put_job(self, job: Job) -> None:
        definition = self._encode(job)
        state = _state_text(job.next_fire_us, job.runs, job.last_due_us, job.active)
        self._forget_state(job.name)

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._key("def"), job.name, definition)
            pipe.hset(self._key("state"), job.name, state)
            pipe.execute()

        self._apply(write)

    def remove_job(self, name: str) -> None:
        self._forget_state(name)

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(self._key("def"), name)
            pipe.hdel(self._key("state"), name)
            pipe.execute()

        self._apply(write)

    def _apply(self, write: Callable[[], Any]) -> None:
        with self._write_lock:
            self.flush()
            self._call(write)

    # --------------------------------------------------------------- runs
    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        self.flush()
        key = self._key("hist", job) if job is not None else self._key("hist")
        entries = self._call(lambda: self._client.lrange(key, 0, limit - 1))
        runs = []
        for entry in entries:
            try:
                runs.append(_run_of_entry(entry))
            except Exception as exc:
                log.error("Redis store %s: a run in %r cannot be read: %s", self.url, key, exc)
        return runs

    def _write_batch(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        args: list[Any] = [
            self.prefix,
            self.history_limit,
            max(_GLOBAL_HISTORY, self.history_limit),
        ]
        for run in finished:
            recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
            self._latest_us = max(self._latest_us, recorded)
        cutoff = -1 if self._max_age_us is None else self._latest_us - self._max_age_us
        args.append(cutoff)
        args.append(len(states))
        for change in states:
            expect = "*" if change.expected is NO_CLAIM else _num(change.expected)
            state = _state_text(change.next_fire_us, change.runs, change.last_due_us, change.active)
            args += (change.name, state, expect)
        args.append(len(started))
        for run in started:
            args += (run.job, run.cid, _run_json(run, self.owner))
        args.append(len(finished))
        for run in finished:
            args += (run.job, run.cid, _history_entry(run))
        script = self._flush_script
        refused, bad = self._call(lambda: script(args=args))
        for key in bad:
            if key not in self._reported:
                self._reported.add(key)
                log.error(
                    "Redis store %s: key %r under the prefix is not a list, so runs are not "
                    "recorded there; remove it or use another prefix",
                    self.url,
                    key,
                )
        if refused:
            log.warning(
                "Redis store %s: claims refused for %s (another scheduler has them)",
                self.url,
                ", ".join(sorted(map(repr, refused))),
            )
        return set(refused)

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        if not self._stop_flusher():
            return
        try:
            self.flush()
        finally:
            self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"
