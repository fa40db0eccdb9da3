"""Store.run_counts and Store.last_outcomes on every store, from runs a
FakeClock-driven scheduler made (and a few records written directly, for the
edges a scheduler cannot reach on demand).

Every store must give the same answers: MemoryStore, SQLiteStore in a
temporary file, RedisStore on a real redis-server, and the Store ABC's
defaults (built on ``history()``), through a MemoryStore that drops its
overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import tickwork as tw
from tickwork._model import Run
from tickwork.stores import MemoryStore, Store
from tickwork.stores import _redis as redis_store

T0 = "2026-03-01T00:00:00Z"
T0_US = 1_772_323_200_000_000  # 2026-03-01T00:00:00Z
SEC = 1_000_000
MIN = 60 * SEC

KINDS = ["memory", "default", "sqlite", "redis"]


class DefaultStore(MemoryStore):
    """A MemoryStore that answers with the Store ABC's defaults."""

    run_counts = Store.run_counts
    last_outcomes = Store.last_outcomes


@pytest.fixture(params=KINDS)
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., tw.stores.Store]]:
    kind: str = request.param
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    made: list[Store] = []

    def make(**kwargs: Any) -> Store:
        store: Store
        if kind == "memory":
            store = MemoryStore(**kwargs)
        elif kind == "default":
            store = DefaultStore(**kwargs)
        elif kind == "sqlite":
            store = tw.SQLiteStore(tmp_path / "jobs.db", **kwargs)
        else:
            store = tw.RedisStore(url, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()


@pytest.fixture
def slow_app(app: tw.App, clock: tw.FakeClock) -> tw.App:
    @app.service("slow")
    def slow(request: tw.Request) -> None:
        clock.advance(seconds=30)  # a run that takes 30 s of the fake clock

    return app


@pytest.fixture
def sched(slow_app: tw.App, clock: tw.FakeClock, store: Store) -> tw.Scheduler:
    return tw.Scheduler(slow_app, clock=clock, store=store)


def at(minutes: float) -> int:
    """T0 plus some minutes, in microseconds."""
    return T0_US + round(minutes * MIN)


def record(
    store: Store, job: str, outcome: str, finished_us: int | None, scheduled_us: int | None = None
) -> Run:
    """Write one finished (or judged) run straight to the store."""
    run = Run(
        f"{job}-{outcome}-{finished_us}-{scheduled_us}",
        job,
        "noop",
        scheduled_us if scheduled_us is not None else (finished_us or 0),
        started_us=finished_us,
        finished_us=finished_us,
        outcome=outcome,  # type: ignore[arg-type]
    )
    store.add_run(run)
    return run


def ok_and_failing(sched: tw.Scheduler) -> list[Run]:
    """'ok' runs every minute, 'bad' fails every two: ten minutes of them."""
    sched.add_job("ok", "noop", tw.Interval(minutes=1))
    sched.add_job("bad", "fail", tw.Interval(minutes=2))
    runs = sched.advance(minutes=10)
    sched.store.flush()
    return runs


# -- run_counts -----------------------------------------------------------------


def test_counts_per_minute_with_failures(sched: tw.Scheduler) -> None:
    runs = ok_and_failing(sched)
    assert len(runs) == 15
    store = sched.store
    # Runs finish at their due time (inline, a fake clock): 00:01 ... 00:10.
    counts = store.run_counts(T0_US, at(11), MIN)
    assert counts == (
        [0, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2],
        [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    )
    # Five-minute buckets: [00:00, 00:05) and [00:05, 00:10), 00:10 left out.
    assert store.run_counts(T0_US, at(10), 5 * MIN) == ([6, 7], [2, 2])
    # One bucket for all.
    assert store.run_counts(T0_US, at(60), 60 * MIN) == ([15], [5])


def test_bucket_edges_start_inclusive_end_exclusive(sched: tw.Scheduler) -> None:
    ok_and_failing(sched)
    store = sched.store
    # A run recorded exactly at a bucket's start is in it; at its end, in the next.
    assert store.run_counts(at(2), at(4), MIN) == ([2, 1], [1, 0])
    # until is exclusive: the runs at 00:04 are out; a microsecond more takes them in.
    assert store.run_counts(at(2), at(4), 2 * MIN) == ([3], [1])
    assert store.run_counts(at(2), at(4) + 1, 2 * MIN) == ([3, 2], [1, 1])
    # The last bucket is cut at until: 00:01-00:03 in 2-minute buckets.
    assert store.run_counts(at(1), at(3), 2 * MIN) == ([3], [1])
    assert store.run_counts(at(1), at(4), 2 * MIN) == ([3, 1], [1, 0])


def test_buckets_that_are_not_whole_minutes(sched: tw.Scheduler) -> None:
    ok_and_failing(sched)
    store = sched.store
    # 30-second buckets from 00:00:30: the runs at 00:01 fall in the second.
    runs, failures = store.run_counts(at(0.5), at(4.5), 30 * SEC)
    assert runs == [0, 1, 0, 2, 0, 1, 0, 2]
    assert failures == [0, 0, 0, 1, 0, 0, 0, 1]
    # 7-second buckets from 00:01:55: 00:02 is the first's, 00:03 the 10th's.
    assert store.run_counts(at(1) + 55 * SEC, at(3) + SEC, 7 * SEC) == (
        [2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )


@pytest.mark.parametrize(
    ("since", "until", "bucket"),
    [
        (0, 600, 60),  # hours
        (30, 600, 90),  # hour-and-a-half buckets from 00:30
        (0, 1440, 720),  # half days
        (-75, 1440 + 75, 45),  # across midnights, buckets that straddle hours
        (7, 593, 1),  # minutes; the range cut mid-hour at both ends
        (17, 598, 120),  # the last bucket cut at until
        (0.5, 600.25, 60),  # not whole minutes: exact all the same
    ],
)
def test_counts_over_hours_and_days(
    store: Store, since: float, until: float, bucket: float
) -> None:
    # A run every 7 minutes and 13 seconds for 26 hours, one in five failed.
    times = [at(-120) + k * (7 * MIN + 13 * SEC) for k in range(220)]
    for k, when in enumerate(times):
        record(store, f"j{k % 4}", "timeout" if k % 5 == 0 else "ok", when)
    store.flush()
    lo, hi, step = at(since), at(until), round(bucket * MIN)
    n = -(-(hi - lo) // step)
    expected_runs, expected_failures = [0] * n, [0] * n
    for k, when in enumerate(times):
        if lo <= when < hi:
            expected_runs[(when - lo) // step] += 1
            expected_failures[(when - lo) // step] += k % 5 == 0
    assert store.run_counts(lo, hi, step) == (expected_runs, expected_failures)


def test_ranges_with_no_runs(sched: tw.Scheduler, store: Store) -> None:
    assert store.run_counts(T0_US, at(60), 5 * MIN) == ([0] * 12, [0] * 12)  # an empty store
    ok_and_failing(sched)
    assert store.run_counts(at(-60), T0_US, 5 * MIN) == ([0] * 12, [0] * 12)  # before any
    assert store.run_counts(at(11), at(71), 5 * MIN) == ([0] * 12, [0] * 12)  # after all
    assert store.run_counts(at(3), at(3), MIN) == ([], [])  # an empty range
    assert store.run_counts(at(0.5), at(0.75), SEC) == ([0] * 15, [0] * 15)


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="bucket_us"):
        store.run_counts(T0_US, at(1), 0)
    with pytest.raises(ValueError, match="before since_us"):
        store.run_counts(at(1), T0_US, MIN)


def test_missed_records_count_when_judged_and_are_not_failures(
    sched: tw.Scheduler, clock: tw.FakeClock
) -> None:
    sched.add_job("late", "noop", tw.Interval(minutes=5), misfire="skip")
    clock.set("2026-03-01T00:21:00Z")  # down for 21 minutes: 00:05-00:15 missed
    made = sched.run_pending()
    sched.store.flush()
    assert [r.outcome for r in made] == ["missed", "ok"]  # one record for the three
    # Every store files them at the instant they were judged (their finish time).
    assert sched.store.run_counts(T0_US, at(25), 5 * MIN) == ([0, 0, 0, 0, 2], [0] * 5)


def test_timeouts_are_failures_and_count_when_they_end(sched: tw.Scheduler) -> None:
    sched.add_job("slow", "slow", tw.Interval(minutes=1), timeout=timedelta(seconds=10))
    made = sched.advance(minutes=1)
    sched.store.flush()
    assert [(r.outcome, r.finished_at) for r in made] == [("timeout", sched.clock.now())]
    assert made[0].finished_us == at(1.5)
    assert sched.store.run_counts(T0_US, at(2), 30 * SEC) == ([0, 0, 0, 1], [0, 0, 0, 1])


def test_records_without_a_finish_time_count_at_their_due_time(store: Store) -> None:
    record(store, "j", "skipped", None, scheduled_us=at(2))
    record(store, "j", "ok", at(3) + 5 * SEC)
    store.flush()
    assert store.run_counts(T0_US, at(4), MIN) == ([0, 0, 1, 1], [0, 0, 0, 0])


def test_runs_still_going_are_not_counted(store: Store) -> None:
    going = Run("going-1", "j", "noop", at(1), started_us=at(1))  # no outcome yet
    store.run_started(going)  # written ahead by a durable store, with no outcome
    record(store, "j", "error", at(1) + SEC)
    store.flush()
    assert store.run_counts(T0_US, at(2), MIN) == ([0, 1], [0, 1])
    assert store.last_outcomes(["j"], 5) == {"j": ["error"]}
    going.finished_us, going.outcome = at(2) + SEC, "ok"
    store.add_run(going)  # now it is finished, and counts where it finished
    store.flush()
    assert store.run_counts(T0_US, at(3), MIN) == ([0, 1, 1], [0, 1, 0])
    assert store.last_outcomes(["j"], 5) == {"j": ["ok", "error"]}


def test_counts_match_history_with_many_runs(make_store: Callable[..., Store]) -> None:
    # More than the default implementation's first read of history (1000).
    store = make_store(history_limit=5000)
    outcomes = ["ok", "error", "ok", "timeout", "skipped", "missed", "ok"]
    for k in range(2500):
        record(store, f"j{k % 3}", outcomes[k % len(outcomes)], at(k * 0.1))
    store.flush()
    runs, failures = store.run_counts(T0_US, at(250), 10 * MIN)
    assert runs == [100] * 25
    assert sum(failures) == sum(1 for k in range(2500) if outcomes[k % 7] in ("error", "timeout"))
    assert store.run_counts(at(100), at(110), 10 * MIN) == ([100], [failures[10]])


def test_counts_follow_the_history_kept(kind_store: tuple[str, Store]) -> None:
    kind, store = kind_store
    # Memory and SQLite count what history keeps; Redis counts every run in its
    # per-minute counters, whatever the history keeps.
    for k in range(6):
        record(store, "j", "ok", at(k))
    store.flush()  # SQLite trims what it keeps to the limit with each flush
    runs, _ = store.run_counts(T0_US, at(6), MIN)
    assert runs == ([1] * 6 if kind == "redis" else [0, 0, 0, 0, 1, 1])


@pytest.fixture
def kind_store(
    make_store: Callable[..., Store], request: pytest.FixtureRequest
) -> tuple[str, Store]:
    return request.node.callspec.params["make_store"], make_store(history_limit=2)


# -- last_outcomes ------------------------------------------------------------------


def test_last_outcomes_newest_first(sched: tw.Scheduler, clock: tw.FakeClock) -> None:
    ok_and_failing(sched)
    sched.add_job("late", "slow", tw.Interval(minutes=5), misfire="skip")
    clock.set("2026-03-01T00:31:00Z")
    sched.run_pending()  # 00:15-00:25 missed (one record, at 00:31), 00:30 runs
    sched.store.flush()
    found = sched.store.last_outcomes(["ok", "bad", "late", "nothing", "ok"], 3)
    assert found == {
        "ok": ["ok", "ok", "ok"],
        "bad": ["error", "error", "error"],
        "late": ["ok", "missed"],
        "nothing": [],
    }
    assert sched.store.last_outcomes(["late"], 20) == {"late": ["ok", "missed"]}
    assert sched.store.last_outcomes(["ok", "bad"], 0) == {"ok": [], "bad": []}
    assert sched.store.last_outcomes([], 5) == {}


def test_last_outcomes_of_every_kind(store: Store) -> None:
    for k, outcome in enumerate(["ok", "error", "timeout", "skipped", "missed", "ok"]):
        record(store, "j", outcome, at(k))
    record(store, "other", "error", at(10))
    store.flush()
    assert store.last_outcomes(["j"], 5) == {"j": ["ok", "missed", "skipped", "timeout", "error"]}
    assert store.last_outcomes(["j", "other"], 1) == {"j": ["ok"], "other": ["error"]}


def test_last_outcomes_are_capped_by_the_history_kept(make_store: Callable[..., Store]) -> None:
    store = make_store(history_limit=3)
    for k in range(10):
        record(store, "j", "ok" if k % 2 else "error", at(k))
    store.flush()
    assert store.last_outcomes(["j"], 20) == {"j": ["ok", "error", "ok"]}


def test_last_outcomes_for_many_names(store: Store) -> None:
    names = [f"job-{k:04d}" for k in range(1200)]  # SQLite reads 500 names at a time
    for k, name in enumerate(names):
        record(store, name, "error" if k % 7 == 0 else "ok", at(k / 100))
    store.flush()
    found = store.last_outcomes(names, 2)
    assert list(found) == names
    assert all(found[n] == (["error"] if k % 7 == 0 else ["ok"]) for k, n in enumerate(names))


# -- RedisStore: the per-minute counters ----------------------------------------------


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def test_redis_counters_are_per_utc_day_and_minute(redis_url: str, redis_client: Any) -> None:
    store = tw.RedisStore(redis_url, prefix="acme")
    record(store, "a", "ok", at(1) + 5 * SEC)
    record(store, "a", "error", at(1) + 50 * SEC)
    record(store, "b", "timeout", at(24 * 60 - 1))  # 23:59 of the same day
    record(store, "b", "ok", at(24 * 60))  # the next day, minute 0
    store.flush()
    assert redis_client.hgetall("acme:stats:20260301") == {
        "1:runs": "2",
        "1:fail": "1",
        "h0:runs": "2",
        "h0:fail": "1",
        "1439:runs": "1",
        "1439:fail": "1",
        "h23:runs": "1",
        "h23:fail": "1",
    }
    assert redis_client.hgetall("acme:stats:20260302") == {"0:runs": "1", "h0:runs": "1"}
    # Whole minutes: from the counters; a range over two days reads both.
    assert store.run_counts(at(24 * 60 - 2), at(24 * 60 + 1), MIN) == ([0, 1, 1], [0, 1, 0])
    store.close()


def test_redis_sub_minute_buckets_fall_back_to_minutes_when_history_is_short(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "_GLOBAL_HISTORY", 3)
    store = tw.RedisStore(redis_url, history_limit=3)  # the global list keeps 3 runs
    record(store, "a", "ok", at(0) + 30 * SEC)  # trimmed from the list
    record(store, "a", "ok", at(1) + 45 * SEC)
    record(store, "a", "error", at(2) + 50 * SEC)
    record(store, "a", "ok", at(3) + 5 * SEC)
    store.flush()
    # Exact where the list reaches back past the range's start (by a minute) ...
    assert store.run_counts(at(2) + 50 * SEC, at(3) + 20 * SEC, 10 * SEC) == (
        [1, 1, 0],
        [1, 0, 0],
    )
    # ... else each minute goes to the bucket that holds its start (the first
    # bucket for the minute the range starts in), as documented. Exact would
    # be [1, 0, 0, 1, 0, 2] and [0, 0, 0, 0, 0, 1].
    assert store.run_counts(at(0) + 15 * SEC, at(3) + 15 * SEC, 30 * SEC) == (
        [1, 1, 0, 1, 0, 1],
        [0, 0, 0, 1, 0, 0],
    )
    # Whole minutes are exact from the counters.
    assert store.run_counts(T0_US, at(4), MIN) == ([1, 1, 1, 1], [0, 0, 1, 0])
    store.close()


def test_redis_counters_key_of_the_wrong_type_is_reported_and_left_alone(
    redis_url: str, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    redis_client.set("tickwork:stats:20260301", "not a hash")
    store = tw.RedisStore(redis_url)
    with caplog.at_level(logging.ERROR):
        record(store, "a", "ok", at(1))
        store.flush()
    assert "'tickwork:stats:20260301'" in caplog.text
    assert "not a hash" in caplog.text
    assert redis_client.get("tickwork:stats:20260301") == "not a hash"
    assert [r.outcome for r in store.history("a")] == ["ok"]  # the run is recorded
    assert store.run_counts(T0_US, at(2), MIN) == ([0, 0], [0, 0])  # not counted, no error
    store.close()


def test_redis_records_of_refused_claims_are_not_counted(
    redis_url: str, app: tw.App, clock: tw.FakeClock
) -> None:
    # Two schedulers on one store, neither in a fleet yet: both fire the job;
    # the second's claim is refused, and its missed records are dropped with it.
    first = tw.Scheduler(app, clock=clock, store=tw.RedisStore(redis_url))
    first.add_job("j", "noop", tw.Interval(minutes=5), misfire="skip")
    second = tw.Scheduler(app, clock=clock, store=tw.RedisStore(redis_url))
    clock.set("2026-03-01T00:11:00Z")
    assert [r.outcome for r in first.run_pending()] == ["missed", "ok"]
    first.store.flush()
    second.run_pending()
    second.store.flush()
    assert first.store.run_counts(T0_US, at(15), 5 * MIN) == ([0, 0, 2], [0, 0, 0])
    assert [r.outcome for r in first.history("j")] == ["ok", "missed"]
    first.store.close()
    second.store.close()
