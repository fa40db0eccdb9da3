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

Each job keeps at most ``history_limit`` finished runs: the batch that writes
a job's runs deletes its oldest ones beyond that, in the same transaction.
Triggers keep each job's count of finished runs (``tickwork_run_counts``), so
that this costs what it deletes, however long the history kept.

The store remembers which file it opened (device and inode). Before each
batch it checks that the path still names that file: one deleted or replaced
under it makes the store open the path anew (a new, empty file when it is
gone) and raise :class:`StoreReset`.
"""

from __future__ import annotations

import contextlib
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
from functools import partial
from typing import Any

from .._exceptions import StoreError, StoreReset
from .._model import Job, Run
from ._base import NO_CLAIM, SHARDS, RunRequest, bucket_count, shard_of
from ._buffered import BufferedStore, StateChange, clean_text

__all__ = ["SQLiteStore"]

log = logging.getLogger("tickwork.stores.sqlite")

SCHEMA_VERSION = 4

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
    [
        # Each job's count of finished runs, kept by triggers whoever writes,
        # so that trimming a job to history_limit reads only what it deletes.
        """CREATE TABLE tickwork_run_counts (
            job TEXT PRIMARY KEY,
            finished INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "INSERT INTO tickwork_run_counts (job, finished) "
        "SELECT job, count(*) FROM tickwork_runs WHERE outcome IS NOT NULL GROUP BY job",
        """CREATE TRIGGER tickwork_runs_counted AFTER INSERT ON tickwork_runs
        WHEN NEW.outcome IS NOT NULL BEGIN
            INSERT INTO tickwork_run_counts (job, finished) VALUES (NEW.job, 1)
            ON CONFLICT (job) DO UPDATE SET finished = finished + 1;
        END""",
        """CREATE TRIGGER tickwork_runs_finished AFTER UPDATE OF outcome ON tickwork_runs
        WHEN OLD.outcome IS NULL AND NEW.outcome IS NOT NULL BEGIN
            INSERT INTO tickwork_run_counts (job, finished) VALUES (NEW.job, 1)
            ON CONFLICT (job) DO UPDATE SET finished = finished + 1;
        END""",
        """CREATE TRIGGER tickwork_runs_deleted AFTER DELETE ON tickwork_runs
        WHEN OLD.outcome IS NOT NULL BEGIN
            UPDATE tickwork_run_counts SET finished = finished - 1 WHERE job = OLD.job;
        END""",
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
# The jobs, among those named, that keep more finished runs than the limit.
_OVER_SQL = "SELECT job, finished FROM tickwork_run_counts WHERE job IN ({marks}) AND finished > ?"
# A job's oldest finished runs, read from the head of tickwork_runs_by_job.
_TRIM_SQL = (
    "DELETE FROM tickwork_runs WHERE rowid IN (SELECT rowid FROM tickwork_runs "
    "WHERE job = ? AND outcome IS NOT NULL ORDER BY recorded_us, rowid LIMIT ?)"
)
# Errors of sqlite3 that say a record cannot be stored (a NOT NULL column left
# empty, a value of a type it cannot bind), not that the file cannot be written.
_DATA_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)
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
    cid, job, service, error = run.cid, run.job, run.service, run.error
    if not (
        cid.isascii() and job.isascii() and service.isascii() and (error is None or error.isascii())
    ):  # rare: cleaned only then (see clean_text)
        cid, job, service, error = map(clean_text, (cid, job, service, error))
    return (
        cid,
        job,
        service,
        run.scheduled_us,
        run.run_number,
        run.attempt,
        int(run.manual),
        run.started_us,
        run.finished_us,
        run.outcome,
        error,
        recorded,
        owner,
    )


def _write_row(db: sqlite3.Connection, sql: str, run: Run, owner: str) -> None:
    db.execute(sql, _run_row(run, owner))


def _is_data_error(exc: BaseException) -> bool:
    """True when ``exc`` says a record cannot be stored, not that the file
    cannot be written (see _DATA_ERRORS); any error that is not sqlite3's
    (UnicodeEncodeError, OverflowError for an int beyond 64 bits, ...) too."""
    if isinstance(exc, sqlite3.Error):
        return isinstance(exc, _DATA_ERRORS)
    return isinstance(exc, Exception)


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
        self._latest_us = 0  # the newest recorded time seen: "now" for history_max_age
        # The file opened, as (device, inode): the path naming another file,
        # or none, means it was replaced or deleted. None for ":memory:".
        self._file_id: tuple[int, int] | None = None
        # Its WAL and shared-memory files ("-wal", "-shm"), the same way.
        self._sidecars: dict[str, tuple[int, int] | None] = {}
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
        self._file_id = self._file_now()
        # Opening wrote (the schema version): the WAL files exist now, and
        # stay while this connection is open.
        self._sidecars = {suffix: self._file_now(suffix) for suffix in ("-wal", "-shm")}
        return db

    def _file_now(self, suffix: str = "") -> tuple[int, int] | None:
        """The file the path (with ``suffix``) names now, as (device, inode);
        None for an in-memory database, or when the path names no file."""
        if self.path in ("", ":memory:"):
            return None
        try:
            found = os.stat(self.path + suffix)
        except FileNotFoundError:
            return None
        return found.st_dev, found.st_ino

    def _check_file(self) -> None:
        """Raise StoreReset, after opening the path anew, when it no longer
        names the file this store opened (deleted, or replaced by another)."""
        if self._file_id is None:
            return
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            what = "the file was deleted"
        except OSError:  # cannot tell (say, a permission): the write will say
            return
        else:
            if (found.st_dev, found.st_ino) == self._file_id:
                return
            what = "the path names another file"
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        # The old file's WAL and shared-memory files outlive it under their
        # names (SQLite leaves them to a file that is gone), and SQLite would
        # take that WAL for the new file's: remove them, if they are still
        # the ones this store had (not those of a new file another process
        # opened meanwhile).
        for suffix, old in self._sidecars.items():
            if old is None or self._file_now(suffix) != old:
                continue
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreError(
                    f"SQLite store {self.path!r}: {what}, and its old {suffix} file "
                    f"cannot be removed: {exc}"
                ) from None
        self._db = self._open()
        raise self._reset_error(what)

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
            self._write(lambda db: self._interrupt(db, self._live(db)))
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
        """Record the runs that schedulers no longer alive started and never finished.

        Called in a write transaction (with ``live`` read in it): of several
        schedulers doing this at once, the first changes the open rows, in
        place, and the others find none; a run's finished record written
        later updates the same row. So a run is never recorded twice."""
        open_runs = db.execute(
            "SELECT DISTINCT owner, job FROM tickwork_runs WHERE outcome IS NULL"
        ).fetchall()
        dead = {owner for owner, _ in open_runs} - live - {self.instance}
        for owner in dead:
            db.execute(
                "UPDATE tickwork_runs SET outcome = 'error', error = ? "
                "WHERE outcome IS NULL AND owner IS ?",
                (INTERRUPTED, owner),
            )
        if dead:
            self._trim(db, {job for owner, job in open_runs if owner in dead})

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
            args = (clean_text(job),)  # as its runs were stored
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
        return self._write_runs(states, started, finished, each=False)

    def _write_each(
        self, states: list[StateChange], started: list[Run], finished: list[Run]
    ) -> set[str]:
        return self._write_runs(states, started, finished, each=True)

    def _write_runs(
        self, states: list[StateChange], started: list[Run], finished: list[Run], *, each: bool
    ) -> set[str]:
        """Write a batch in one transaction. With ``each``, every record in a
        savepoint of its own: one that cannot be stored is logged, dropped
        and rolled back alone, and the others are written."""
        refused: set[str] = set()

        def attempt(
            db: sqlite3.Connection, what: StateChange | Run, write: Callable[[], Any]
        ) -> bool:
            if not each:
                write()
                return True
            db.execute("SAVEPOINT tickwork_record")
            try:
                write()
            except Exception as exc:
                if not _is_data_error(exc):
                    raise
                db.execute("ROLLBACK TO tickwork_record")
                db.execute("RELEASE tickwork_record")
                self._dropped(what, exc)
                return False
            db.execute("RELEASE tickwork_record")
            return True

        def write_runs(db: sqlite3.Connection, sql: str, runs: list[Run]) -> list[Run]:
            """Write ``runs`` with ``sql``; return those written."""
            if not each:
                if runs:
                    db.executemany(sql, [_run_row(run, self.instance) for run in runs])
                return runs
            return [
                run
                for run in runs
                if attempt(db, run, partial(_write_row, db, sql, run, self.instance))
            ]

        def work(db: sqlite3.Connection) -> None:
            now = time.time()
            for change in states:
                if change.expected is NO_CLAIM:

                    def state(change: StateChange = change) -> None:
                        db.execute(
                            _STATE_SQL, (change.next_fire_us, int(change.active), change.name)
                        )
                        db.execute(_CHANGE_SQL, (change.name, self.instance))

                    attempt(db, change, state)
                    continue

                def claim(change: StateChange = change) -> None:
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

                attempt(db, change, claim)
            write_runs(db, _STARTED_SQL, [run for run in started if run.job not in refused])
            written = write_runs(db, _FINISHED_SQL, self._kept(finished, refused))
            if written:
                self._retain(db, written)

        with self._db_lock:
            self._check_file()
            self._write(work, data_errors=not each)
        if refused:
            log.warning(
                "SQLite store %r: claims refused for %s (another scheduler has them)",
                self.path,
                ", ".join(sorted(map(repr, refused))),
            )
        return refused

    def _write(
        self, work: Callable[[sqlite3.Connection], object], *, data_errors: bool = False
    ) -> None:
        """Run ``work`` in a write transaction, rolled back if it raises.

        Raises:
            StoreError: the file cannot be written; with ``data_errors``, not
                for the sqlite3 errors that say a record cannot be stored
                (see _DATA_ERRORS), which are raised as they are.
        """
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                work(db)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if data_errors and isinstance(exc, _DATA_ERRORS):
                raise
            raise StoreError(f"SQLite store {self.path!r}: write failed: {exc}") from None

    # --------------------------------------------------------- retention
    def _retain(self, db: sqlite3.Connection, written: list[Run]) -> None:
        """Apply the retention rules after ``written`` were recorded: each of
        their jobs keeps its ``history_limit`` newest finished runs, and with
        ``history_max_age`` none older than that."""
        for run in written:
            recorded = run.finished_us if run.finished_us is not None else run.scheduled_us
            if recorded > self._latest_us:
                self._latest_us = recorded
        self._trim(db, {clean_text(run.job) for run in written})
        if self._max_age_us is not None:
            db.execute(
                "DELETE FROM tickwork_runs WHERE recorded_us < ? AND outcome IS NOT NULL",
                (self._latest_us - self._max_age_us,),
            )

    def _trim(self, db: sqlite3.Connection, jobs: Collection[str]) -> None:
        """Delete the oldest finished runs of ``jobs`` beyond ``history_limit``:
        one read of the counts, then a delete for each job over the limit,
        reading only the rows it deletes."""
        names = list(jobs)
        limit = self.history_limit
        for at in range(0, len(names), 500):
            chunk = names[at : at + 500]
            query = _OVER_SQL.format(marks=", ".join("?" * len(chunk)))
            over = db.execute(query, (*chunk, limit)).fetchall()
            if over:
                db.executemany(_TRIM_SQL, [(job, count - limit) for job, count in over])

    # -------------------------------------------------------------- fleets
    def fleet_round(self, ttl: float) -> tuple[frozenset[int], int]:
        self._raise_unreported_reset()
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

        with self._write_lock, self._db_lock:  # in the order a flush takes them
            try:
                self._check_file()
            except StoreReset:
                self._reset = True  # told to the caller now: flush() need not
                raise
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
            self._flush_pending(after_reset=True)
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
