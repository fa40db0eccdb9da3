"""SQLiteStore: jobs, their state and their history in one SQLite file.

The embedded default for durability with nothing to install (the standard
library's sqlite3). Everything is plain data: a job's definition is a JSON
column, its state and its runs are plain columns; nothing is pickled or
evaluated.

Writes are buffered and committed in batches, in one transaction each:

- the scheduler's state changes after a fire and the records of the runs it
  is about to start are committed together, by :meth:`SQLiteStore.flush`,
  which the scheduler calls before any of those runs starts (write-ahead: a
  due time whose run started is never run again after a crash);
- finished runs are committed by a background flusher within
  ``flush_interval`` (and by any flush before that). A run whose record had
  not been committed when the process died keeps its write-ahead record, and
  the next start marks it ``error`` with ``interrupted: ...`` as its error.

The file is opened in WAL mode with ``synchronous=NORMAL``: a commit survives
the process being killed; only a power cut can lose the last commits.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from .._exceptions import StoreError
from .._model import Job, Run
from ._base import NO_CLAIM, SHARDS, RunRequest, bucket_count, shard_of
from ._buffered import BufferedStore, StateChange

__all__ = ["SQLiteStore"]

log = logging.getLogger("tickwork.stores.sqlite")

SCHEMA_VERSION = 3

# _MIGRATIONS[n] takes a file from schema version n to n + 1.
_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE tickwork_jobs (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            next_fire_us INTEGER,
            runs INTEGER NOT NULL DEFAULT 0,
            last_due_us INTEGER,
            active INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE tickwork_runs (
            cid TEXT PRIMARY KEY,
            job TEXT NOT NULL,
            service TEXT NOT NULL,
            scheduled_us INTEGER NOT NULL,
            run_number INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            manual INTEGER NOT NULL,
            started_us INTEGER,
            finished_us INTEGER,
            outcome TEXT,
            error TEXT,
            recorded_us INTEGER NOT NULL,
            owner TEXT
        )""",
        "CREATE INDEX tickwork_runs_by_job ON tickwork_runs (job, recorded_us)",
        "CREATE INDEX tickwork_runs_by_time ON tickwork_runs (recorded_us)",
        "CREATE INDEX tickwork_runs_open ON tickwork_runs (owner) WHERE outcome IS NULL",
    ],
    [
        # Fleets: jobs dealt in shards, leases on shards, schedulers' heartbeats
        # and a feed of the changes made to jobs.
        "ALTER TABLE tickwork_jobs ADD COLUMN shard INTEGER NOT NULL DEFAULT -1",
        "CREATE INDEX tickwork_jobs_by_shard ON tickwork_jobs (shard)",
        """CREATE TABLE tickwork_instances (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            expires REAL NOT NULL
        )""",
        "CREATE TABLE tickwork_leases (shard INTEGER PRIMARY KEY, owner TEXT NOT NULL)",
        """CREATE TABLE tickwork_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            author TEXT NOT NULL
        )""",
    ],
    [
        # Requests to run a job now, from outside any scheduler (tickwork execute).
        """CREATE TABLE tickwork_requests (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            shard INTEGER NOT NULL,
            body TEXT NOT NULL,
            expires_us INTEGER NOT NULL
        )""",
    ],
]

# A change that is not a fire (pause, resume): only what it decides.
_STATE_SQL = "UPDATE tickwork_jobs SET next_fire_us = ?, active = ? WHERE name = ?"
# A fire's claim: applied only while the stored job is active, still has the
# last due time the scheduler saw, and no other live scheduler holds its shard.
_CLAIM_SQL = (
    "UPDATE tickwork_jobs SET next_fire_us = ?, runs = ?, last_due_us = ?, active = ? "
    "WHERE name = ? AND active = 1 AND last_due_us IS ? AND NOT EXISTS ("
    "SELECT 1 FROM tickwork_leases AS l JOIN tickwork_instances AS i ON i.id = l.owner "
    "WHERE l.shard = tickwork_jobs.shard AND l.owner != ? AND i.expires > ?)"
)
_CHANGE_SQL = "INSERT INTO tickwork_changes (name, author) VALUES (?, ?)"
_RUN_COLUMNS = (
    "cid, job, service, scheduled_us, run_number, attempt, manual, started_us, "
    "finished_us, outcome, error, recorded_us, owner"
)
_STARTED_SQL = (
    f"INSERT OR IGNORE INTO tickwork_runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 13)})"
)
_FINISHED_SQL = (
    f"INSERT INTO tickwork_runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 13)}) "
    "ON CONFLICT (cid) DO UPDATE SET started_us = excluded.started_us, "
    "finished_us = excluded.finished_us, outcome = excluded.outcome, "
    "error = excluded.error, recorded_us = excluded.recorded_us"
)
_HISTORY_COLUMNS = (
    "attempt, cid, error, finished_us, job, manual, outcome, run_number, scheduled_us, "
    "service, started_us"
)  # Run.__slots__ order, for Run.from_row
INTERRUPTED = "interrupted: the scheduler stopped before the run finished"
# Runs and failures per bucket of recorded time. A range holding a small share
# of the table is read through tickwork_runs_by_time; one holding most of it
# is read faster by a plain scan (the index would cost a lookup of the table
# per row to read the outcome): {source} is "NOT INDEXED" then.
_COUNTS_SQL = (
    "SELECT (recorded_us - ?) / ?, count(*), "
    "count(CASE WHEN outcome IN ('error', 'timeout') THEN 1 END) "
    "FROM tickwork_runs {source} WHERE recorded_us >= ? AND recorded_us < ? "
    "AND outcome IS NOT NULL GROUP BY 1"
)
_SPAN_SQL = (
    "SELECT (SELECT min(recorded_us) FROM tickwork_runs), "
    "(SELECT max(recorded_us) FROM tickwork_runs)"
)
# Each named job's newest finished runs: for each name, the head of its
# (job, recorded_us) index, read newest first and cut at the limit, so a job's
# older history is never read (a window function would rank all of it).
_OUTCOMES_SQL = (
    "WITH names (name) AS (VALUES {marks}) "
    "SELECT names.name, r.outcome FROM names JOIN tickwork_runs AS r ON r.rowid IN ("
    "SELECT rowid FROM tickwork_runs WHERE job = names.name AND outcome IS NOT NULL "
    "ORDER BY recorded_us DESC, rowid DESC LIMIT ?) "
    "ORDER BY names.name, r.recorded_us DESC, r.rowid DESC"
)


def _run_row(run: Run, owner: str) -> tuple[Any, ...]:
    recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
    return (
        run.cid,
        run.job,
        run.service,
        run.scheduled_us,
        run.run_number,
        run.attempt,
        int(run.manual),
        run.started_us,
        run.finished_us,
        run.outcome,
        run.error,
        recorded,
        owner,
    )


class SQLiteStore(BufferedStore):
    shared = True

    """Keeps jobs, their state and their run history in a SQLite file.

    Args:
        path: the file (created when missing, with its tables). Other tables
            in the file are left alone: tickwork's are named ``tickwork_*``.
        history_limit: runs kept per job (>= 1); older ones are deleted.
        history_max_age: runs recorded longer ago than this are deleted too
            (None: kept by count only).
        flush_interval: how long a finished run's record may wait before it
            is committed (see the module doc).

    Raises:
        StoreError: the file cannot be opened, is not a SQLite database, or
            was written by a newer tickwork (its schema version is named).
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        history_limit: int = 1000,
        history_max_age: timedelta | None = None,
        flush_interval: timedelta = timedelta(milliseconds=20),
    ) -> None:
        super().__init__(flush_interval, history_limit, history_max_age)
        self.path = os.fspath(path)
        #: This store object's scheduler: its mark on runs, leases and changes.
        self.instance = uuid.uuid4().hex[:12]
        self._host = socket.gethostname()
        self._db_lock = threading.RLock()
        self._touched: dict[str, int] = {}  # job -> runs recorded since its last trim
        self._latest_us = 0  # the newest recorded time seen: "now" for history_max_age
        self._since_age_trim = 0
        self._db = self._open()

    # ----------------------------------------------------------- opening
    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        except StoreError:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS tickwork_meta (key TEXT PRIMARY KEY, value TEXT)"
            )
            row = db.execute(
                "SELECT value FROM tickwork_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"SQLite store {self.path!r} has schema version {version}, newer than "
                    f"this tickwork's ({SCHEMA_VERSION}): upgrade tickwork to use it"
                )
            for step in _MIGRATIONS[version:]:
                for statement in step:
                    db.execute(statement)
            if version < 2:  # shards are computed here, not in SQL
                names = [name for (name,) in db.execute("SELECT name FROM tickwork_jobs")]
                db.executemany(
                    "UPDATE tickwork_jobs SET shard = ? WHERE name = ?",
                    [(shard_of(name), name) for name in names],
                )
            db.execute(
                "INSERT OR REPLACE INTO tickwork_meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._db_lock:
            row = self._db.execute(
                "SELECT value FROM tickwork_meta WHERE key = 'schema_version'"
            ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------- jobs
    def load_jobs(self, names: Collection[str] | None = None) -> list[Job]:
        self._flush_pending()
        with self._db_lock:
            live = self._live(self._db)
            self._write(lambda db: self._interrupt(db, live))
            query = (
                "SELECT name, definition, next_fire_us, runs, last_due_us, active "
                "FROM tickwork_jobs"
            )
            if names is None:
                rows = self._db.execute(query + " ORDER BY name").fetchall()
            else:
                rows = []
                wanted = list(names)
                for at in range(0, len(wanted), 500):
                    chunk = wanted[at : at + 500]
                    marks = ", ".join("?" * len(chunk))
                    rows += self._db.execute(f"{query} WHERE name IN ({marks})", chunk).fetchall()
        where = f"SQLite store {self.path!r}"
        jobs: list[Job] = []
        for name, definition, next_fire_us, runs, last_due_us, active in rows:
            state = (next_fire_us, runs, last_due_us, bool(active))
            job = self._decode(name, definition, lambda: state, where)  # noqa: B023 - called at once
            if job is not None:
                jobs.append(job)
        return jobs

    def _interrupt(self, db: sqlite3.Connection, live: set[str]) -> None:
        """Record the runs that schedulers no longer alive started and never finished."""
        open_owners = {
            owner
            for (owner,) in db.execute(
                "SELECT DISTINCT owner FROM tickwork_runs WHERE outcome IS NULL"
            )
        }
        for owner in open_owners - live - {self.instance}:
            db.execute(
                "UPDATE tickwork_runs SET outcome = 'error', error = ? "
                "WHERE outcome IS NULL AND owner IS ?",
                (INTERRUPTED, owner),
            )

    def _live(self, db: sqlite3.Connection) -> set[str]:
        """The schedulers alive now: a heartbeat not expired, and on this host
        a process that still exists."""
        now = time.time()
        live = set()
        for instance, host, pid, expires in db.execute(
            "SELECT id, host, pid, expires FROM tickwork_instances"
        ):
            if expires > now and (host != self._host or _process_exists(pid)):
                live.add(instance)
        return live

    def put_job(self, job: Job, *, keep_state: bool = False) -> None:
        definition = self._encode(job)
        values = (
            job.name,
            definition,
            job.next_fire_us,
            job.runs,
            job.last_due_us,
            int(job.active),
            shard_of(job.name),
        )
        keep = (
            "definition = excluded.definition, next_fire_us = excluded.next_fire_us, "
            "active = excluded.active"
        )
        if not keep_state:
            keep += ", runs = excluded.runs, last_due_us = excluded.last_due_us"
        self._forget_state(job.name)  # superseded by the record

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO tickwork_jobs (name, definition, next_fire_us, runs, last_due_us, "
                f"active, shard) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                f"{keep}",
                values,
            )
            db.execute(_CHANGE_SQL, (job.name, self.instance))

        self._apply(work)

    def remove_job(self, name: str) -> None:
        self._forget_state(name)

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM tickwork_jobs WHERE name = ?", (name,))
            db.execute(_CHANGE_SQL, (name, self.instance))

        self._apply(work)

    def _apply(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """Flush what is pending, then write ``work`` in a transaction of its own."""
        with self._write_lock:
            self._flush_pending()
            with self._db_lock:
                self._write(work)

    def history(self, job: str | None = None, limit: int = 100) -> list[Run]:
        if limit <= 0:
            return []
        self._flush_pending()
        limit = min(limit, self.history_limit if job is not None else limit)
        query = f"SELECT {_HISTORY_COLUMNS} FROM tickwork_runs WHERE outcome IS NOT NULL"
        args: tuple[Any, ...] = ()
        if job is not None:
            query += " AND job = ?"
            args = (job,)
        query += " ORDER BY recorded_us DESC, rowid DESC LIMIT ?"
        with self._db_lock:
            rows = self._db.execute(query, (*args, limit)).fetchall()
        runs = []
        for row in rows:
            run = Run.from_row(row)
            run.manual = bool(run.manual)
            runs.append(run)
        return runs

    def run_counts(
        self, since_us: int, until_us: int, bucket_us: int
    ) -> tuple[list[int], list[int]]:
        n = bucket_count(since_us, until_us, bucket_us)
        runs, failures = [0] * n, [0] * n
        if n == 0:
            return runs, failures
        self._flush_pending()
        with self._db_lock:
            low, high = self._db.execute(_SPAN_SQL).fetchone()
            if low is None:
                return runs, failures
            # The share of the table's time span the range covers stands for
            # the share of its rows: above ~30%, a scan beats the index.
            covered = min(until_us, high + 1) - max(since_us, low)
            scan = covered * 10 > (high + 1 - low) * 3
            query = _COUNTS_SQL.format(source="NOT INDEXED" if scan else "")
            rows = self._db.execute(query, (since_us, bucket_us, since_us, until_us)).fetchall()
        for i, count, failed in rows:
            runs[i] = count
            failures[i] = failed
        return runs, failures

    def _read_last_outcomes(
        self, names: list[str], count: int, found: dict[str, list[str]]
    ) -> None:
        for at in range(0, len(names), 500):
            chunk = names[at : at + 500]
            query = _OUTCOMES_SQL.format(marks=", ".join(["(?)"] * len(chunk)))
            with self._db_lock:
                rows = self._db.execute(query, (*chunk, count)).fetchall()
            for name, outcome in rows:
                found[name].append(outcome)

    # ---------------------------------------------------------- writing
    def _write_batch(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        refused: set[str] = set()
        finished_rows: list[tuple[Any, ...]] = []

        def work(db: sqlite3.Connection) -> None:
            now = time.time()
            for change in states:
                if change.expected is NO_CLAIM:
                    db.execute(_STATE_SQL, (change.next_fire_us, int(change.active), change.name))
                    db.execute(_CHANGE_SQL, (change.name, self.instance))
                    continue
                values = (
                    change.next_fire_us,
                    change.runs,
                    change.last_due_us,
                    int(change.active),
                    change.name,
                    change.expected,
                    self.instance,
                    now,
                )
                if db.execute(_CLAIM_SQL, values).rowcount == 0:
                    refused.add(change.name)
            rows = [_run_row(run, self.instance) for run in started if run.job not in refused]
            if rows:
                db.executemany(_STARTED_SQL, rows)
            finished_rows[:] = [
                _run_row(run, self.instance) for run in self._kept(finished, refused)
            ]
            if finished_rows:
                db.executemany(_FINISHED_SQL, finished_rows)

        with self._db_lock:
            self._write(work)
            if finished_rows:
                self._note_recorded(finished_rows)
        if refused:
            log.warning(
                "SQLite store %r: claims refused for %s (another scheduler has them)",
                self.path,
                ", ".join(sorted(map(repr, refused))),
            )
        return refused

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path!r}: write failed: {exc}") from None

    # --------------------------------------------------------- retention
    def _note_recorded(self, rows: list[tuple[Any, ...]]) -> None:
        trim: list[str] = []
        every = max(16, self.history_limit // 8)
        for row in rows:
            job = row[1]
            count = self._touched.get(job, 0) + 1
            self._touched[job] = count
            if count >= every:
                trim.append(job)
            if row[11] > self._latest_us:
                self._latest_us = row[11]
        self._since_age_trim += len(rows)
        by_age = self._max_age_us is not None and self._since_age_trim >= 512
        if trim or by_age:
            self._trim(trim, by_age)

    def _trim(self, jobs: list[str], by_age: bool) -> None:
        def work(db: sqlite3.Connection) -> None:
            for job in jobs:
                self._touched.pop(job, None)
                db.execute(
                    "DELETE FROM tickwork_runs WHERE job = ? AND outcome IS NOT NULL AND "
                    "rowid NOT IN (SELECT rowid FROM tickwork_runs WHERE job = ? AND "
                    "outcome IS NOT NULL ORDER BY recorded_us DESC, rowid DESC LIMIT ?)",
                    (job, job, self.history_limit),
                )
            if by_age and self._max_age_us is not None:
                self._since_age_trim = 0
                db.execute(
                    "DELETE FROM tickwork_runs WHERE recorded_us < ? AND outcome IS NOT NULL",
                    (self._latest_us - self._max_age_us,),
                )

        self._write(work)

    # -------------------------------------------------------------- fleets
    def fleet_round(self, ttl: float) -> tuple[frozenset[int], int]:
        result: list[Any] = []

        def work(db: sqlite3.Connection) -> None:
            now = time.time()
            db.execute(
                "INSERT INTO tickwork_instances (id, host, pid, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET expires = excluded.expires",
                (self.instance, self._host, os.getpid(), now + ttl),
            )
            live = self._live(db)
            db.execute(
                f"DELETE FROM tickwork_instances WHERE id NOT IN ({', '.join('?' * len(live))})",
                tuple(live),
            )
            leases = dict(db.execute("SELECT shard, owner FROM tickwork_leases").fetchall())
            mine = sorted(shard for shard, owner in leases.items() if owner == self.instance)
            free = [s for s in range(SHARDS) if leases.get(s) not in live]
            target = math.ceil(SHARDS / len(live))
            if len(mine) > target:
                give_up = mine[target:]
                db.executemany(
                    "DELETE FROM tickwork_leases WHERE shard = ? AND owner = ?",
                    [(shard, self.instance) for shard in give_up],
                )
                mine = mine[:target]
            elif len(mine) < target:
                take = free[: target - len(mine)]
                db.executemany(
                    "INSERT OR REPLACE INTO tickwork_leases (shard, owner) VALUES (?, ?)",
                    [(shard, self.instance) for shard in take],
                )
                mine += take
            self._interrupt(db, live)
            # The feed keeps the last 10,000 changes; a scheduler further
            # behind than that reads every job again.
            db.execute(
                "DELETE FROM tickwork_changes WHERE seq < "
                "(SELECT max(seq) FROM tickwork_changes) - 10000"
            )
            result[:] = [frozenset(mine), len(live)]

        with self._db_lock:
            self._write(work)
        return result[0], result[1]

    def fleet_leave(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM tickwork_leases WHERE owner = ?", (self.instance,))
            db.execute("DELETE FROM tickwork_instances WHERE id = ?", (self.instance,))

        with self._db_lock:
            self._write(work)

    def changes(self, cursor: Any, wait: float) -> tuple[Any, list[str] | None]:
        query = "SELECT seq, name, author FROM tickwork_changes WHERE seq > ? ORDER BY seq"
        with self._db_lock:
            newest, oldest = self._db.execute(
                "SELECT max(seq), min(seq) FROM tickwork_changes"
            ).fetchone()
            if cursor is None:
                return newest or 0, []
            if oldest is not None and cursor < oldest - 1:
                return newest, None  # trimmed past the cursor: read everything again
        deadline = time.monotonic() + wait
        while True:
            with self._db_lock:
                rows = self._db.execute(query, (cursor,)).fetchall()
            if rows:
                cursor = rows[-1][0]
                names = sorted({name for _, name, author in rows if author != self.instance})
                if names:
                    return cursor, names
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return cursor, []
            time.sleep(min(0.05, remaining))

    def request_run(self, request: RunRequest) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO tickwork_requests (shard, body, expires_us) VALUES (?, ?, ?)",
                (shard_of(request.job), request.to_json(), request.expires_us),
            )

        with self._db_lock:
            self._write(work)

    def take_requests(self, shards: frozenset[int], now_us: int) -> list[RunRequest]:
        if not shards:
            return []
        with self._db_lock:  # a read first: most rounds find none, and write nothing
            if self._db.execute("SELECT 1 FROM tickwork_requests LIMIT 1").fetchone() is None:
                return []
        taken: list[RunRequest] = []

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM tickwork_requests WHERE expires_us < ?", (now_us,))
            marks = ", ".join("?" * len(shards))
            rows = db.execute(
                f"SELECT seq, body FROM tickwork_requests WHERE shard IN ({marks}) ORDER BY seq",
                tuple(shards),
            ).fetchall()
            if rows:
                db.executemany(
                    "DELETE FROM tickwork_requests WHERE seq = ?", [(r[0],) for r in rows]
                )
            taken[:] = [RunRequest.from_json(body) for _, body in rows]

        with self._db_lock:
            self._write(work)
        return taken

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        if not self._stop_flusher():
            return
        try:
            self._flush_pending()
        finally:
            with self._db_lock:
                self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, history_limit={self.history_limit})"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True
