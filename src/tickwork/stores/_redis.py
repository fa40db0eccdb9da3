"""RedisStore: jobs, their state and their history in Redis (extra ``redis``).

Keys, all under the store's prefix ``P`` (default ``tickwork``):

==================  ======  ==================================================
key                 type    holds
==================  ======  ==================================================
``P:meta``          hash    ``schema_version``, and ``identity``: a random token
                            set when the store was first opened
``P:def``           hash    job name -> definition (JSON)
``P:state``         hash    job name -> ``next_fire_us|runs|last_due_us|active``
``P:open``          hash    cid -> a run written ahead, not finished (JSON)
``P:hist:<job>``    list    ``recorded_us|run JSON``, newest first
``P:hist``          list    the same for every job, newest first
``P:stats:<day>``   hash    runs recorded per minute and per hour of a UTC day
                            (``yyyymmdd``): ``<minute>:runs``, ``<minute>:fail``
                            (minute 0-1439 of the day) and ``h<hour>:runs``,
                            ``h<hour>:fail`` (hour 0-23); expires 36 days after
                            it was last written
==================  ======  ==================================================

Everything is plain data: JSON and numbers in text, never pickles. Writes are
batched (see ``_buffered``): one Lua script applies a batch atomically: the
claims of fires (each applied only while the stored job is active and holds
the last due time the scheduler saw), the runs written ahead, and the
finished runs with their history trimmed and counted in the per-minute
counters (``P:stats:<day>``, for :meth:`RedisStore.run_counts`). A key of the
wrong type under the prefix is reported by name and left alone.

Text is made storable before it is written (``clean_text``): a service's
error holding lone surrogates is kept with them escaped. A batch holding a
record redis-py cannot send anyway (a value of a type it refuses) is sent
again without it, the record logged at ERROR (see ``_buffered``).

The runs that a scheduler no longer alive wrote ahead and never finished are
recorded as interrupted by whichever live scheduler removes their entry from
``P:open`` (inside the flush script): one record, however many schedulers
recover them at once, and none when the run's own record was written first.

Every flush script, and the fleet round's, first checks that ``P:meta`` still
holds the identity this store read when it was opened. When it does not, the
server lost its data (restarted without persistence, FLUSHALL): the script
writes nothing, the store writes ``P:meta`` again (adopting the identity of
another scheduler that did so first) and raises :class:`StoreReset`.

Durability is Redis's: with its default snapshots a Redis crash can lose the
last writes; ``appendonly yes`` with ``appendfsync everysec`` bounds that to
a second. A scheduler process crash loses nothing that was flushed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Collection
from datetime import date, timedelta
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urlsplit

from .._exceptions import StoreError, StoreReset
from .._model import Job, Run
from .._optional import require
from .._secrets import redact_url
from ._base import FAILED, NO_CLAIM, SHARDS, RunRequest, bucket_count, recorded_us, shard_of
from ._buffered import BufferedStore, StateChange, clean_text

__all__ = ["RedisStore"]

log = logging.getLogger("tickwork.stores.redis")

SCHEMA_VERSION = 1
INTERRUPTED = "interrupted: the scheduler stopped before the run finished"
_GLOBAL_HISTORY = 10_000
_MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000
_KINDS = ("runs", "fail")  # a counter field's suffixes
_DAY_US = 86_400_000_000
#: How long a day's per-minute counters are kept after they were last written.
_STATS_TTL = 36 * 86_400  # seconds: 30-day charts, and a margin
_EPOCH = date(1970, 1, 1)
# The global history list is in the order runs were written, which may stray
# from the order of their recorded times by a flush or two (several schedulers
# write it): reading it for a range goes on this far past the range's start.
_ORDER_SLACK_US = 60_000_000
_ROW_OUTCOME = Run.__slots__.index("outcome")

_PUT_LUA = """
local p, me, name, definition, state, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local state_key = p .. ':state'
if keep == '1' then
  local stored = redis.call('HGET', state_key, name)
  if stored then
    local runs, last = string.match(stored, '^[^|]*|([^|]*)|([^|]*)|[01]$')
    local nxt, active = string.match(state, '^([^|]*)|[^|]*|[^|]*|([01])$')
    state = nxt .. '|' .. runs .. '|' .. last .. '|' .. active
  end
end
redis.call('HSET', p .. ':def', name, definition)
redis.call('HSET', state_key, name, state)
redis.call('XADD', p .. ':changes', 'MAXLEN', '~', 10000, '*', 'name', name, 'author', me)
return 1
"""

# Take every queued run request of the given shards' lists, atomically:
# each request goes to one scheduler.
_TAKE_LUA = """
local taken = {}
for _, key in ipairs(KEYS) do
  local items = redis.call('LRANGE', key, 0, -1)
  if #items > 0 then
    redis.call('DEL', key)
    for _, item in ipairs(items) do taken[#taken + 1] = item end
  end
end
return taken
"""

_ROUND_LUA = """
local p, me, ttl_ms, shards = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HGET', p .. ':meta', 'identity') ~= ARGV[5] then
  return {{}, {}, 1}  -- the data is gone: see the module doc
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local instances, leases = p .. ':instances', p .. ':leases'
redis.call('ZADD', instances, now + ttl_ms, me)
redis.call('ZREMRANGEBYSCORE', instances, '-inf', now)
local live_list = redis.call('ZRANGE', instances, 0, -1)
local live = {}
for _, id in ipairs(live_list) do live[id] = true end
local held = redis.call('HGETALL', leases)
local owner_of = {}
for k = 1, #held, 2 do owner_of[tonumber(held[k])] = held[k + 1] end
local mine, free = {}, {}
for shard = 0, shards - 1 do
  local owner = owner_of[shard]
  if owner == me then mine[#mine + 1] = shard
  elseif owner == nil or not live[owner] then free[#free + 1] = shard end
end
local target = math.ceil(shards / #live_list)
if #mine > target then
  for k = #mine, target + 1, -1 do
    redis.call('HDEL', leases, mine[k])
    mine[k] = nil
  end
elseif #mine < target then
  for k = 1, math.min(#free, target - #mine) do
    redis.call('HSET', leases, free[k], me)
    mine[#mine + 1] = free[k]
  end
end
return {mine, live_list, 0}
"""

_FLUSH_LUA = """
local p = ARGV[1]
local limit = tonumber(ARGV[2])
local glimit = tonumber(ARGV[3])
local cutoff = tonumber(ARGV[4])
local me = ARGV[5]
local stats_ttl = tonumber(ARGV[6])
if redis.call('HGET', p .. ':meta', 'identity') ~= ARGV[7] then
  return {{}, {}, 1}  -- the data is gone: see the module doc
end
local state_key, def_key, open_key = p .. ':state', p .. ':def', p .. ':open'
local leases_key, instances_key, changes_key = p .. ':leases', p .. ':instances', p .. ':changes'
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local refused, refused_set, bad, bad_set = {}, {}, {}, {}
local function usable(key, want)
  local kind = redis.call('TYPE', key)['ok']
  if kind == want or kind == 'none' then return true end
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
local i = 8
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local name, state, expect, shard = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  local stored = redis.call('HGET', state_key, name)
  if expect == '*' then
    -- not a fire: only the next fire time and whether it is active
    if stored then
      local runs, last = string.match(stored, '^[^|]*|([^|]*)|([^|]*)|[01]$')
      local nxt, active = string.match(state, '^([^|]*)|[^|]*|[^|]*|([01])$')
      redis.call('HSET', state_key, name, nxt .. '|' .. runs .. '|' .. last .. '|' .. active)
      redis.call('XADD', changes_key, 'MAXLEN', '~', 10000, '*', 'name', name, 'author', me)
    end
  else
    local ok = false
    if stored then
      local last, active = string.match(stored, '^[^|]*|[^|]*|([^|]*)|([01])$')
      ok = last == expect and active == '1'
    end
    if ok then
      local holder = redis.call('HGET', leases_key, shard)
      if holder and holder ~= me then
        local expires = redis.call('ZSCORE', instances_key, holder)
        if expires and tonumber(expires) > now_ms then ok = false end
      end
    end
    if ok then
      redis.call('HSET', state_key, name, state)
    else
      refused_set[name] = true
      refused[#refused + 1] = name
    end
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
local counted = {}
for _ = 1, n do
  local job, cid, entry, mode = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local day, minute, failed = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  i = i + 7
  local keep
  if mode == '2' then
    -- a dead scheduler's run, interrupted: recorded only by the one who
    -- removes its open entry, and never once its own record was written
    keep = redis.call('HDEL', open_key, cid) == 1
  else
    redis.call('HDEL', open_key, cid)
    -- a skipped or missed record of a fire whose claim was refused: dropped
    keep = not (mode == '1' and refused_set[job])
  end
  local key = global .. ':' .. job
  if keep then
    if usable(key, 'list') then
      redis.call('LPUSH', key, entry)
      redis.call('LTRIM', key, 0, limit - 1)
      if cutoff >= 0 then trim_old(key) end
    end
    if usable(global, 'list') then redis.call('LPUSH', global, entry) end
    if day ~= '' then
      local stats = p .. ':stats:' .. day
      if counted[stats] == nil then counted[stats] = usable(stats, 'hash') end
      if counted[stats] then
        local hour = 'h' .. math.floor(tonumber(minute) / 60)
        redis.call('HINCRBY', stats, minute .. ':runs', 1)
        redis.call('HINCRBY', stats, hour .. ':runs', 1)
        if failed == '1' then
          redis.call('HINCRBY', stats, minute .. ':fail', 1)
          redis.call('HINCRBY', stats, hour .. ':fail', 1)
        end
      end
    end
  end
end
for stats, ok in pairs(counted) do
  if ok then redis.call('EXPIRE', stats, stats_ttl) end
end
if n > 0 and usable(global, 'list') then
  redis.call('LTRIM', global, 0, glimit - 1)
  if cutoff >= 0 then trim_old(global) end
end
return {refused, bad, 0}
"""


def _state_text(next_fire_us: int | None, runs: int, last_due_us: int | None, active: bool) -> str:
    return f"{_num(next_fire_us)}|{runs}|{_num(last_due_us)}|{int(active)}"


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def _int(text: str) -> int | None:
    return None if text == "" else int(text)


def _state_of(text: str | None) -> tuple[int | None, int, int | None, bool]:
    if text is None:
        raise ValueError("it has no state")
    next_fire, runs, last_due, active = text.split("|")
    return _int(next_fire), int(runs), _int(last_due), active == "1"


def _run_json(run: Run, owner: str | None = None) -> str:
    row = list(run.as_row())
    if owner is not None:
        row.append(owner)
    text = json.dumps(row, separators=(",", ":"))
    # JSON escapes every surrogate as \udxxx: text holding one may hold a
    # lone one, kept readable only once cleaned (a pair, such as an emoji, is
    # left as it is by clean_text).
    if "\\ud" in text:
        text = json.dumps([clean_text(value) for value in row], separators=(",", ":"))
    return text


def _history_entry(run: Run) -> str:
    recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
    return f"{recorded}|{_run_json(run)}"


def _run_of_entry(entry: str) -> Run:
    _, _, text = entry.partition("|")
    row = json.loads(text)
    run = Run.from_row(tuple(row[:11]))
    run.manual = bool(run.manual)
    return run


def _state_args(change: StateChange) -> tuple[Any, ...]:
    """A state change's arguments to the flush script."""
    expect = "*" if change.expected is NO_CLAIM else _num(change.expected)
    state = _state_text(change.next_fire_us, change.runs, change.last_due_us, change.active)
    return change.name, state, expect, shard_of(change.name)


def _started_args(run: Run, owner: str) -> tuple[Any, ...]:
    """A run written ahead: its arguments to the flush script."""
    return clean_text(run.job), clean_text(run.cid), _run_json(run, owner)


def _finished_args(run: Run, mode: str) -> tuple[Any, ...]:
    """A recorded run's arguments to the flush script (``mode``: 0 plain, 1
    fenced by its fire's claim, 2 interrupted by recovery)."""
    day, minute = _minute_of(recorded_us(run))
    return (
        clean_text(run.job),
        clean_text(run.cid),
        _history_entry(run),
        mode,
        day,
        minute,
        "1" if run.outcome in FAILED else "0",
    )


@lru_cache(maxsize=64)
def _day_key(day: int) -> str:
    """A UTC day (days since the epoch) as ``yyyymmdd``; '' out of range."""
    try:
        return (_EPOCH + timedelta(days=day)).strftime("%Y%m%d")
    except OverflowError:
        return ""


def _minute_of(instant_us: int) -> tuple[str, int]:
    """The counters' key part (UTC day ``yyyymmdd``) and minute of that day."""
    day, rest = divmod(instant_us, _DAY_US)
    return _day_key(day), rest // _MINUTE_US


class RedisStore(BufferedStore):
    shared = True

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
        redis = require("redis", "redis", "RedisStore")
        if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"prefix must be a non-empty string without spaces, got {prefix!r}")
        super().__init__(flush_interval, history_limit, history_max_age)
        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        # redis-py's error for a value it cannot send: a record, not the server.
        self._data_error: type[BaseException] = redis.DataError
        self.url = redact_url(url)
        self._secret = urlsplit(url).password
        self.prefix = prefix
        self._latest_us = 0
        #: This store object's scheduler: its mark on runs, leases and changes.
        self.instance = uuid.uuid4().hex[:12]
        self._reported: set[str] = set()
        # Runs of dead schedulers, pending as interrupted (see _recover).
        self._interrupted: set[str] = set()
        self._identity = ""  # P:meta's identity, read at open (see the module doc)
        self._client: Any = (
            client
            if client is not None
            else redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        )
        self._flush_script: Any = self._client.register_script(_FLUSH_LUA)
        self._put_script: Any = self._client.register_script(_PUT_LUA)
        self._round_script: Any = self._client.register_script(_ROUND_LUA)
        self._take_script: Any = self._client.register_script(_TAKE_LUA)
        self._call(self._check_keys)

    # ------------------------------------------------------------ plumbing
    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _call(self, work: Callable[[], Any], *, data_errors: bool = False) -> Any:
        """Run ``work``, its Redis errors raised as StoreError (with
        ``data_errors``, redis-py's DataError, which says a value cannot be
        sent, is raised as it is)."""
        try:
            return work()
        except self._redis_errors as exc:
            if data_errors and isinstance(exc, self._data_error):
                raise
            message = str(exc)
            if self._secret:
                message = message.replace(self._secret, "***")
            raise StoreError(
                f"Redis store {self.url} (prefix {self.prefix!r}): {type(exc).__name__}: {message}"
            ) from None

    def _check_keys(self) -> None:
        client: Any = self._client
        expected = {
            "meta": "hash",
            "def": "hash",
            "state": "hash",
            "open": "hash",
            "hist": "list",
            "leases": "hash",
            "instances": "zset",
            "changes": "stream",
        }
        for part, kind in expected.items():
            key = self._key(part)
            found = client.type(key)
            if found not in ("none", kind):
                raise StoreError(
                    f"Redis store {self.url}: key {key!r} is a {found}, not a {kind}: "
                    f"something else uses the prefix {self.prefix!r}"
                )
        version = client.hget(self._key("meta"), "schema_version")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise StoreError(
                f"Redis store {self.url} (prefix {self.prefix!r}) has schema version "
                f"{version}, newer than this tickwork's ({SCHEMA_VERSION}): upgrade tickwork"
            )
        self._write_meta()

    def _write_meta(self) -> None:
        """Write ``P:meta`` where it is missing (the schema version, and a new
        identity), and take the identity it holds as this store's."""
        meta = self._key("meta")
        pipe = self._client.pipeline(transaction=True)
        pipe.hsetnx(meta, "schema_version", SCHEMA_VERSION)
        pipe.hsetnx(meta, "identity", uuid.uuid4().hex)
        pipe.hget(meta, "identity")
        self._identity = pipe.execute()[-1]

    def _after_wipe(self) -> StoreReset:
        """The data is gone (see the module doc): write ``P:meta`` again, and
        return the StoreReset to raise."""
        self._call(self._write_meta)
        return self._reset_error(
            f"key {self._key('meta')!r} lost its identity: the server restarted without "
            "its data, or the keys were deleted"
        )

    # --------------------------------------------------------------- jobs
    def load_jobs(self, names: Collection[str] | None = None) -> list[Job]:
        self._flush_pending()
        self._recover(None)
        def_key, state_key = self._key("def"), self._key("state")
        if names is None:
            definitions, states = self._call(
                lambda: (self._client.hgetall(def_key), self._client.hgetall(state_key))
            )
        else:
            wanted = list(names)
            found = self._call(
                lambda: (
                    self._client.hmget(def_key, wanted) if wanted else [],
                    self._client.hmget(state_key, wanted) if wanted else [],
                )
            )
            definitions = {n: d for n, d in zip(wanted, found[0], strict=True) if d is not None}
            states = {n: v for n, v in zip(wanted, found[1], strict=True) if v is not None}
        where = f"Redis store {self.url} (key {def_key!r})"
        jobs: list[Job] = []
        for name in sorted(definitions):
            text = states.get(name)
            job = self._decode(name, definitions[name], lambda: _state_of(text), where)  # noqa: B023
            if job is not None:
                jobs.append(job)
        return jobs

    def _recover(self, live: set[str] | None) -> None:
        """Record the runs that schedulers no longer alive wrote ahead and
        never finished (``live``: the live schedulers; None: read them)."""
        if live is None:
            live = self._live()
        open_key = self._key("open")
        open_runs = self._call(lambda: self._client.hgetall(open_key))
        unreadable: list[str] = []
        for cid, text in open_runs.items():
            try:
                row = json.loads(text)
                owner = row[11] if len(row) > 11 else None
                if owner == self.instance or owner in live:
                    continue
                run = Run.from_row(tuple(row[:11]))
                run.manual = bool(run.manual)
            except Exception as exc:
                log.error("Redis store %s: open run %r cannot be read: %s", self.url, cid, exc)
                unreadable.append(cid)
                continue
            run.outcome = "error"
            run.error = INTERRUPTED
            with self._pending:  # recorded only if its open entry is still there
                self._interrupted.add(cid)
            self.add_run(run)
        if unreadable:
            self._call(lambda: self._client.hdel(open_key, *unreadable))
        self._flush_pending()

    def put_job(self, job: Job, *, keep_state: bool = False) -> None:
        definition = self._encode(job)
        state = _state_text(job.next_fire_us, job.runs, job.last_due_us, job.active)
        self._forget_state(job.name)
        args: list[Any] = [self.prefix, self.instance, job.name, definition, state, int(keep_state)]
        script: Any = self._put_script
        self._apply(lambda: script(args=args))

    def remove_job(self, name: str) -> None:
        self._forget_state(name)

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hdel(self._key("def"), name)
            pipe.hdel(self._key("state"), name)
            pipe.xadd(
                self._key("changes"),
                {"name": name, "author": self.instance},
                maxlen=10_000,
                approximate=True,
            )
            pipe.execute()

        self._apply(write)

    def _apply(self, write: Callable[[], Any]) -> None:
        with self._write_lock:
            self._flush_pending()
            self._call(write)

    # --------------------------------------------------------------- runs
    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        self._flush_pending()
        key = self._key("hist", clean_text(job)) if job is not None else self._key("hist")
        entries = self._call(lambda: self._client.lrange(key, 0, limit - 1))
        runs = []
        for entry in entries:
            try:
                runs.append(_run_of_entry(entry))
            except Exception as exc:
                log.error("Redis store %s: a run in %r cannot be read: %s", self.url, key, exc)
        return runs

    def run_counts(
        self, since_us: int, until_us: int, bucket_us: int
    ) -> tuple[list[int], list[int]]:
        """See :meth:`Store.run_counts`. Counted from the per-minute counters
        (``P:stats:<day>``, kept ~35 days, whatever the history keeps): exact
        when ``since_us`` and ``bucket_us`` are whole minutes. Otherwise the
        global history list is read instead when it reaches back past
        ``since_us`` (exact); when it does not (more runs in the range than
        it keeps), each minute's counts go to the bucket that holds the
        minute's start (the first bucket for the minute ``since_us`` falls in)."""
        n = bucket_count(since_us, until_us, bucket_us)
        if n == 0:
            return [], []
        self._flush_pending()
        if since_us % _MINUTE_US or bucket_us % _MINUTE_US:
            exact = self._counts_from_history(since_us, until_us, bucket_us, n)
            if exact is not None:
                return exact
        return self._counts_from_minutes(since_us, until_us, bucket_us, n)

    def _counts_from_minutes(
        self, since_us: int, until_us: int, bucket_us: int, n: int
    ) -> tuple[list[int], list[int]]:
        """Counts from the counters: the range cut in whole hours where an hour
        falls in one bucket, and in minutes elsewhere, each piece read with
        one HMGET per day (a 30-day range in 12-hour buckets reads ~1,500
        fields, not 86,400)."""
        runs, failures = [0] * n, [0] * n
        wanted: dict[int, list[tuple[str, int]]] = {}  # day -> (field, bucket)
        at = since_us - since_us % _MINUTE_US
        end = -(-until_us // _MINUTE_US) * _MINUTE_US
        while at < end:
            i = max(0, at - since_us) // bucket_us
            day, rest = divmod(at, _DAY_US)
            if (
                rest % _HOUR_US == 0
                and at + _HOUR_US <= end
                and (at + _HOUR_US - 1 - since_us) // bucket_us == i
            ):
                wanted.setdefault(day, []).append((f"h{rest // _HOUR_US}", i))
                at += _HOUR_US
            else:
                wanted.setdefault(day, []).append((str(rest // _MINUTE_US), i))
                at += _MINUTE_US
        days = sorted(wanted)
        keys = [self._key("stats", _day_key(day)) for day in days]

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for day, key in zip(days, keys, strict=True):
                pipe.hmget(key, [f"{f}:{kind}" for f, _ in wanted[day] for kind in _KINDS])
            return list(pipe.execute(raise_on_error=False))

        for day, key, values in zip(days, keys, self._call(read), strict=True):
            if isinstance(values, Exception):  # not a hash: reported when written
                log.debug("Redis store %s: %r cannot be read: %s", self.url, key, values)
                continue
            for k, (_, i) in enumerate(wanted[day]):
                ran, failed = values[2 * k], values[2 * k + 1]
                try:
                    runs[i] += int(ran or 0)
                    failures[i] += int(failed or 0)
                except ValueError:
                    continue
        return runs, failures

    def _counts_from_history(
        self, since_us: int, until_us: int, bucket_us: int, n: int
    ) -> tuple[list[int], list[int]] | None:
        """Counts from the global history list, or None when it does not
        reach back past ``since_us``."""
        runs, failures = [0] * n, [0] * n
        key = self._key("hist")
        kept = max(_GLOBAL_HISTORY, self.history_limit)
        at, chunk = 0, 1000
        while True:
            entries = self._call(lambda: self._client.lrange(key, at, at + chunk - 1))  # noqa: B023
            for entry in entries:
                head, _, text = entry.partition("|")
                try:
                    recorded = int(head)
                    if recorded < since_us - _ORDER_SLACK_US:
                        return runs, failures
                    if not since_us <= recorded < until_us:
                        continue
                    outcome = json.loads(text)[_ROW_OUTCOME]
                except (ValueError, IndexError, TypeError):
                    continue
                i = (recorded - since_us) // bucket_us
                runs[i] += 1
                if outcome in FAILED:
                    failures[i] += 1
            if len(entries) < chunk:  # the whole list: all of history, unless it was trimmed
                trimmed = at + len(entries) >= kept or self._max_age_us is not None
                return None if trimmed else (runs, failures)
            at += chunk

    def _read_last_outcomes(
        self, names: list[str], count: int, found: dict[str, list[str]]
    ) -> None:
        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.lrange(self._key("hist", name), 0, count - 1)
            return list(pipe.execute(raise_on_error=False))

        for name, entries in zip(names, self._call(read), strict=True):
            if isinstance(entries, Exception):  # not a list: reported when written
                continue
            for entry in entries:
                try:
                    outcome = json.loads(entry.partition("|")[2])[_ROW_OUTCOME]
                except (ValueError, IndexError, TypeError) as exc:
                    log.error("Redis store %s: a run of %r cannot be read: %s", self.url, name, exc)
                    continue
                found[name].append(outcome)

    def _write_batch(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        return self._write_runs(states, started, finished, each=False)

    def _write_each(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        return self._write_runs(states, started, finished, each=True)

    def _write_runs(
        self, states: list[StateChange], started: list[Run], finished: list[Run], *, each: bool
    ) -> set[str]:
        """Write a batch with one call of the flush script. With ``each``,
        every record's arguments are checked first (made, and encoded as
        redis-py would send them): one that fails is logged and left out,
        before anything is sent, so that the script writes the others."""
        encode = self._client.get_encoder().encode if hasattr(self._client, "get_encoder") else str

        def record_args(what: StateChange | Run, make: Callable[[], tuple[Any, ...]]) -> list[Any]:
            if not each:
                return list(make())
            try:
                values = make()
                for value in values:
                    encode(value)
            except Exception as exc:
                self._dropped(what, exc)
                return []
            return list(values)

        for run in finished:
            recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
            if isinstance(recorded, int):
                self._latest_us = max(self._latest_us, recorded)
        cutoff = -1 if self._max_age_us is None else self._latest_us - self._max_age_us
        args: list[Any] = [
            self.prefix,
            self.history_limit,
            max(_GLOBAL_HISTORY, self.history_limit),
            cutoff,
            self.instance,
            _STATS_TTL,
            self._identity,
        ]
        part: list[Any] = []
        for change in states:
            part += record_args(change, partial(_state_args, change))
        args += (len(part) // 4, *part)
        part = []
        for run in started:
            part += record_args(run, partial(_started_args, run, self.instance))
        args += (len(part) // 3, *part)
        part = []
        fenced, interrupted = self._fenced, self._interrupted
        for run in finished:
            mode = "2" if run.cid in interrupted else "1" if run.cid in fenced else "0"
            part += record_args(run, partial(_finished_args, run, mode))
        args += (len(part) // 7, *part)
        script: Any = self._flush_script
        refused, bad, reset = self._call(lambda: script(args=args), data_errors=not each)
        if reset:
            raise self._after_wipe()
        if interrupted:
            with self._pending:
                self._interrupted.difference_update(run.cid for run in finished)
        for key in bad:
            if key not in self._reported:
                self._reported.add(key)
                log.error(
                    "Redis store %s: key %r under the prefix is not a %s, so runs are not "
                    "recorded there; remove it or use another prefix",
                    self.url,
                    key,
                    "hash" if key.startswith(self._key("stats", "")) else "list",
                )
        if refused:
            log.warning(
                "Redis store %s: claims refused for %s (another scheduler has them)",
                self.url,
                ", ".join(sorted(map(repr, refused))),
            )
        return set(refused)

    # -------------------------------------------------------------- fleets
    def _live(self) -> set[str]:
        key = self._key("instances")
        now_s, now_us = self._call(lambda: self._client.time())
        now_ms = now_s * 1000 + now_us // 1000
        return set(self._call(lambda: self._client.zrangebyscore(key, now_ms, "+inf")))

    def fleet_round(self, ttl: float) -> tuple[frozenset[int], int]:
        self._raise_unreported_reset()
        args: list[Any] = [self.prefix, self.instance, int(ttl * 1000), SHARDS, self._identity]
        script: Any = self._round_script
        mine, live, reset = self._call(lambda: script(args=args))
        if reset:
            with self._write_lock:  # told to the caller now: flush() need not
                self._reset = True
            raise self._after_wipe()
        self._recover(set(live))
        return frozenset(int(shard) for shard in mine), len(live)

    def fleet_leave(self) -> None:
        leases = self._key("leases")

        def write() -> None:
            held = self._client.hgetall(leases)
            mine = [shard for shard, owner in held.items() if owner == self.instance]
            pipe = self._client.pipeline(transaction=True)
            if mine:
                pipe.hdel(leases, *mine)
            pipe.zrem(self._key("instances"), self.instance)
            pipe.execute()

        self._call(write)

    def changes(self, cursor: Any, wait: float) -> tuple[Any, list[str] | None]:
        key = self._key("changes")
        if cursor is None:
            newest = self._call(lambda: self._client.xrevrange(key, count=1))
            return (newest[0][0] if newest else "0-0"), []
        block = max(1, int(wait * 1000))
        found = self._call(lambda: self._client.xread({key: cursor}, count=5000, block=block))
        if not found:
            return cursor, []
        entries = found[0][1]
        names = sorted(
            {fields["name"] for _, fields in entries if fields.get("author") != self.instance}
        )
        return entries[-1][0], names

    def request_run(self, request: RunRequest) -> None:
        key = self._key(f"requests:{shard_of(request.job)}")
        self._call(lambda: self._client.rpush(key, request.to_json()))

    def take_requests(self, shards: frozenset[int], now_us: int) -> list[RunRequest]:
        if not shards:
            return []
        keys = [self._key(f"requests:{shard}") for shard in sorted(shards)]
        bodies = self._call(lambda: self._take_script(keys=keys))
        found = [RunRequest.from_json(body) for body in bodies]
        return [request for request in found if request.expires_us >= now_us]

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        if not self._stop_flusher():
            return
        try:
            self._flush_pending(after_reset=True)
        finally:
            self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"
