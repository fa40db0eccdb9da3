"""The admin API routes the dashboard reads: GET /overview, GET /upcoming,
GET /jobs?outcomes=, and the paging of GET /history, served on a loopback
port and read with a real HTTP client, on a FakeClock-driven scheduler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from heapq import merge
from itertools import islice
from typing import Any

import httpx
import pytest

import tickwork as tw
from tickwork._exceptions import StoreError
from tickwork.channels.http import HTTPChannel

TOKEN = "admin-token-0123456789"
READ_TOKEN = "reader-token-0123456789"
START = "2026-03-28T00:00:00Z"  # the day before the clocks spring forward in London


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture
def http_app() -> tw.App:
    app = tw.App()

    @app.service("echo")
    def echo(request: tw.Request) -> Any:
        return request.payload

    @app.service("fail")
    def fail(request: tw.Request) -> None:
        raise RuntimeError("it broke")

    return app


@pytest.fixture
def clock() -> tw.FakeClock:
    return tw.FakeClock(start=START)


@pytest.fixture
def sched(http_app: tw.App, clock: tw.FakeClock) -> tw.Scheduler:
    return tw.Scheduler(http_app, clock=clock)


@pytest.fixture
def connect() -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def connect_(base_url: str, token: str = TOKEN) -> httpx.Client:
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        clients.append(client)
        return client

    yield connect_
    for client in clients:
        client.close()


@pytest.fixture
def url(start: Callable[[HTTPChannel], str], http_app: tw.App, sched: tw.Scheduler) -> str:
    return start(HTTPChannel(http_app, sched, token=TOKEN, read_only_token=READ_TOKEN))


@pytest.fixture
def client(connect: Callable[..., httpx.Client], url: str) -> httpx.Client:
    return connect(url)


def get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def bad_parameter(client: httpx.Client, path: str, **params: Any) -> str:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_parameter"
    field: str = error["field"]
    return field


def run_ten_minutes(sched: tw.Scheduler) -> list[tw.Run]:
    """'a' runs every minute, 'b' fails every two, 'c' is paused: 10 minutes."""
    sched.add_job("a", "echo", tw.Interval(minutes=1))
    sched.add_job("b", "fail", tw.Interval(minutes=2))
    sched.add_job("c", "echo", tw.Interval(minutes=1), active=False)
    return sched.advance(minutes=10)  # now 00:10; runs at 00:01 ... 00:10


@pytest.fixture
def ten_minutes(sched: tw.Scheduler) -> list[tw.Run]:
    return run_ten_minutes(sched)


# -- GET /overview ------------------------------------------------------------------


def test_overview_counts_jobs_and_runs(client: httpx.Client, ten_minutes: list[tw.Run]) -> None:
    assert len(ten_minutes) == 15
    data = get(client, "/overview")
    assert data["now"] == "2026-03-28T00:10:00+00:00"
    assert data["tz"] == "UTC"
    assert data["jobs"] == {"total": 3, "active": 2, "paused": 1}
    # The last hour: the 60 minutes that end with the current one (00:10).
    hour = data["last_hour"]
    assert (hour["start"], hour["end"]) == (
        "2026-03-27T23:11:00+00:00",
        "2026-03-28T00:11:00+00:00",
    )
    assert hour["bucket_seconds"] == 300
    assert hour["runs_series"] == [0] * 10 + [7, 8]  # 00:01-00:05, 00:06-00:10
    assert hour["failures_series"] == [0] * 10 + [2, 3]
    assert (hour["runs"], hour["failures"]) == (15, 5)
    # The chart, by default the last hour in 60 one-minute buckets.
    chart = data["chart"]
    assert (chart["start"], chart["end"]) == (
        "2026-03-27T23:11:00+00:00",
        "2026-03-28T00:11:00+00:00",
    )
    assert chart["bucket_seconds"] == 60
    assert chart["runs"] == [0] * 50 + [1, 2] * 5
    assert chart["failures"] == [0] * 50 + [0, 1] * 5


def test_overview_chart_ranges_and_buckets(client: httpx.Client, ten_minutes: list[tw.Run]) -> None:
    # Five minutes in 5-second buckets: (00:05:05, 00:10:05], the last holding now.
    chart = get(client, "/overview", range=300)["chart"]
    assert (chart["start"], chart["bucket_seconds"]) == ("2026-03-28T00:05:05+00:00", 5)
    assert len(chart["runs"]) == 60
    assert [i for i, n in enumerate(chart["runs"]) if n] == [11, 23, 35, 47, 59]
    assert (sum(chart["runs"]), sum(chart["failures"])) == (8, 3)
    # More buckets than seconds: one a second.
    chart = get(client, "/overview", range=300, buckets=500)["chart"]
    assert (chart["bucket_seconds"], len(chart["runs"])) == (1, 300)
    # A length that does not divide: ceil(1000 / 7) = 143 s, 7 buckets.
    chart = get(client, "/overview", range=1000, buckets=7)["chart"]
    assert (chart["bucket_seconds"], len(chart["runs"])) == (143, 7)
    assert sum(chart["runs"]) == 15
    # 30 days in days: aligned to midnight, the last one today.
    chart = get(client, "/overview", range=2_592_000, buckets=30)["chart"]
    assert chart["bucket_seconds"] == 86_400
    assert (chart["start"], chart["end"]) == (
        "2026-02-27T00:00:00+00:00",
        "2026-03-29T00:00:00+00:00",
    )
    assert chart["runs"] == [0] * 29 + [15]
    assert chart["failures"] == [0] * 29 + [5]
    # One bucket.
    chart = get(client, "/overview", range=3600, buckets=1)["chart"]
    assert (chart["runs"], chart["failures"]) == ([15], [5])


def test_overview_in_a_zone(client: httpx.Client, ten_minutes: list[tw.Run]) -> None:
    data = get(client, "/overview", tz="Asia/Kolkata", range=2_592_000, buckets=30)
    assert data["now"] == "2026-03-28T05:40:00+05:30"
    assert data["tz"] == "Asia/Kolkata"
    assert data["last_hour"]["start"] == "2026-03-28T04:41:00+05:30"
    # Day buckets start at the zone's midnight.
    assert data["chart"]["start"] == "2026-02-27T00:00:00+05:30"
    assert data["chart"]["end"] == "2026-03-29T00:00:00+05:30"
    assert data["chart"]["runs"][-1] == 15
    hourly = get(client, "/overview", tz="America/New_York", range=86_400, buckets=24)
    assert hourly["now"] == "2026-03-27T20:10:00-04:00"
    assert hourly["chart"]["start"] == "2026-03-26T21:00:00-04:00"
    assert hourly["chart"]["runs"][-1] == 15


def test_overview_of_an_empty_scheduler(client: httpx.Client) -> None:
    data = get(client, "/overview", range=604_800, buckets=7)
    assert data["jobs"] == {"total": 0, "active": 0, "paused": 0}
    assert data["last_hour"]["runs_series"] == [0] * 12
    assert data["chart"]["runs"] == [0] * 7


def test_overview_parameters_are_checked(client: httpx.Client) -> None:
    assert bad_parameter(client, "/overview", range=299) == "range"
    assert bad_parameter(client, "/overview", range=2_592_001) == "range"
    assert bad_parameter(client, "/overview", range="1h") == "range"
    assert bad_parameter(client, "/overview", buckets=0) == "buckets"
    assert bad_parameter(client, "/overview", buckets=501) == "buckets"
    assert bad_parameter(client, "/overview", tz="Mars/Olympus") == "tz"


def test_overview_answers_the_read_only_token_and_needs_a_scheduler(
    connect: Callable[..., httpx.Client],
    url: str,
    start: Callable[[HTTPChannel], str],
    http_app: tw.App,
) -> None:
    reader = connect(url, token=READ_TOKEN)
    assert reader.get("/overview").status_code == 200
    assert reader.get("/upcoming").status_code == 200
    assert httpx.get(url + "/overview").status_code == 401
    bare = connect(start(HTTPChannel(http_app, token=TOKEN)))
    for path in ("/overview", "/upcoming"):
        response = bare.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "no_scheduler"


def test_overview_store_errors_are_503(
    client: httpx.Client, sched: tw.Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise StoreError("the disk is gone")

    monkeypatch.setattr(sched.store, "run_counts", broken)
    response = client.get("/overview")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_error"
    assert "disk" not in response.text


# -- GET /upcoming ------------------------------------------------------------------


def test_upcoming_merges_the_jobs_fire_times(client: httpx.Client, sched: tw.Scheduler) -> None:
    sched.add_job("a", "echo", tw.Interval(minutes=7))
    sched.add_job("b", "fail", tw.Interval(minutes=10))
    sched.add_job("r", "echo", tw.Interval(minutes=5, repeats=2))
    sched.add_job("once", "echo", tw.OneTime("2026-03-28T00:15:00Z"))
    sched.add_job("paused", "echo", tw.Interval(minutes=1), active=False)
    data = get(client, "/upcoming", count=9)
    assert (data["tz"], data["count"]) == ("UTC", 9)
    got = [(t["at"][11:16], t["job"], t["service"]) for t in data["times"]]
    assert got == [
        ("00:05", "r", "echo"),
        ("00:07", "a", "echo"),
        ("00:10", "b", "fail"),  # a tie: by name
        ("00:10", "r", "echo"),  # r's second and last run
        ("00:14", "a", "echo"),
        ("00:15", "once", "echo"),
        ("00:20", "b", "fail"),
        ("00:21", "a", "echo"),
        ("00:28", "a", "echo"),
    ]
    first = data["times"][0]
    assert first == {
        "job": "r",
        "service": "echo",
        "at": "2026-03-28T00:05:00+00:00",
        "utc": "2026-03-28T00:05:00+00:00",
        "dst": None,
    }
    # Runs made use up the repeats: after 00:05, r has one left.
    sched.advance(minutes=5)
    assert [t["job"] for t in get(client, "/upcoming", count=4)["times"]] == ["a", "b", "r", "a"]
    sched.advance(minutes=5)
    assert "r" not in {t["job"] for t in get(client, "/upcoming", count=20)["times"]}


def test_upcoming_default_count_and_fewer_times_than_asked(
    client: httpx.Client, sched: tw.Scheduler
) -> None:
    assert get(client, "/upcoming")["times"] == []
    sched.add_job("a", "echo", tw.Interval(minutes=1))
    assert len(get(client, "/upcoming")["times"]) == 50
    sched.remove_job("a")
    sched.add_job("once", "echo", tw.OneTime("2026-03-28T01:00:00Z"))
    assert [t["job"] for t in get(client, "/upcoming", count=500)["times"]] == ["once"]


def test_upcoming_has_the_dst_marks_of_the_jobs_own_next_times(
    client: httpx.Client, sched: tw.Scheduler
) -> None:
    sched.add_job("nightly", "echo", tw.Cron("30 1 * * *", tz="Europe/London"))
    upcoming = get(client, "/upcoming", count=3, tz="Europe/London")["times"]
    own = get(client, "/jobs/nightly/next", count=3, tz="Europe/London")["times"]
    assert [{k: t[k] for k in ("at", "utc", "dst")} for t in upcoming] == own
    assert [t["at"] for t in upcoming] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T02:00:00+01:00",
        "2026-03-30T01:30:00+01:00",
    ]
    assert upcoming[1]["dst"] == (
        "01:30 does not exist (the clocks sprang forward); "
        "it runs at the first instant after the gap"
    )
    assert upcoming[0]["dst"] is None


def test_upcoming_with_many_jobs_is_the_merge_of_every_jobs_times(
    client: httpx.Client, sched: tw.Scheduler
) -> None:
    for k in range(1000):
        sched.add_job(
            f"job-{k:04d}",
            "echo",
            tw.Interval(minutes=1 + k % 17, start=f"2026-03-28T00:{k % 60:02d}:{k % 7:02d}Z"),
            active=k % 10 != 3,
        )
    times = get(client, "/upcoming", count=200)["times"]
    streams = []
    for job in sched.jobs():
        if job.active and job.next_fire_time is not None:
            after = job.next_fire_time - timedelta(microseconds=1)
            streams.append([(when, job.name) for when in job.trigger.upcoming(after, 200)])
    expected = list(islice(merge(*streams), 200))
    got = [(datetime.fromisoformat(t["utc"]), t["job"]) for t in times]
    assert got == expected


def test_upcoming_count_is_checked(client: httpx.Client) -> None:
    assert bad_parameter(client, "/upcoming", count=0) == "count"
    assert bad_parameter(client, "/upcoming", count=501) == "count"


# -- GET /jobs?outcomes= ---------------------------------------------------------------


def test_jobs_page_with_last_outcomes(
    client: httpx.Client,
    sched: tw.Scheduler,
    ten_minutes: list[tw.Run],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sched.execute_now("c")
    page = get(client, "/jobs", outcomes=3)
    assert [(j["name"], j["last_outcomes"]) for j in page["jobs"]] == [
        ("a", ["ok", "ok", "ok"]),
        ("b", ["error", "error", "error"]),
        ("c", ["ok"]),  # the paused job's manual run
    ]
    # Without outcomes (or 0), the jobs are as before.
    for params in ({}, {"outcomes": 0}):
        assert all("last_outcomes" not in j for j in get(client, "/jobs", **params)["jobs"])
    # One read of the store for the page, for its jobs only.
    calls: list[tuple[list[str], int]] = []
    real = sched.store.last_outcomes

    def spy(names: list[str], count: int) -> dict[str, list[str]]:
        calls.append((list(names), count))
        return real(names, count)

    monkeypatch.setattr(sched.store, "last_outcomes", spy)
    page = get(client, "/jobs", outcomes=20, limit=1, offset=1)
    assert [(j["name"], len(j["last_outcomes"])) for j in page["jobs"]] == [("b", 5)]
    assert calls == [(["b"], 20)]
    assert bad_parameter(client, "/jobs", outcomes=21) == "outcomes"


def test_jobs_outcomes_newest_first(client: httpx.Client, sched: tw.Scheduler) -> None:
    sched.add_job("j", "echo", tw.Interval(minutes=1), misfire="skip")
    sched.advance(minutes=2)  # 00:01 and 00:02 run
    sched.clock.set("2026-03-28T00:06:00Z")  # type: ignore[attr-defined]
    made = sched.run_pending()  # 00:03, 00:04 missed (over a minute late), one record
    assert [r.outcome for r in made] == ["missed", "ok", "ok"]
    outcomes = get(client, "/jobs", outcomes=20)["jobs"][0]["last_outcomes"]
    assert outcomes == ["ok", "ok", "missed", "ok", "ok"]
    assert outcomes == [r.outcome for r in sched.history("j")]


# -- GET /history paging ---------------------------------------------------------------


def test_history_pages_with_offset(client: httpx.Client, ten_minutes: list[tw.Run]) -> None:
    whole = get(client, "/history", limit=12)
    assert (whole["limit"], whole["offset"], whole["job"]) == (12, 0, None)
    pages = [get(client, "/history", limit=4, offset=offset) for offset in (0, 4, 8, 12, 16)]
    assert [p["offset"] for p in pages] == [0, 4, 8, 12, 16]
    assert [r["cid"] for p in pages[:3] for r in p["runs"]] == [r["cid"] for r in whole["runs"]]
    assert len(pages[3]["runs"]) == 3  # 15 runs in all
    assert pages[4]["runs"] == []
    job = get(client, "/history", job="b", limit=2, offset=1)
    assert [r["scheduled_for"][11:16] for r in job["runs"]] == ["00:08", "00:06"]
    own = get(client, "/jobs/b/history", limit=2, offset=1)
    assert own["runs"] == job["runs"]
    assert (own["offset"], own["job"]) == (1, "b")
    assert bad_parameter(client, "/history", offset=100_001) == "offset"
    assert bad_parameter(client, "/jobs/b/history", offset=-1) == "offset"


# -- the same answers on the durable stores -------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_overview_jobs_and_history_on_a_durable_store(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Any,
    http_app: tw.App,
    clock: tw.FakeClock,
    start: Callable[[HTTPChannel], str],
    connect: Callable[..., httpx.Client],
) -> None:
    store: tw.stores.Store = (
        tw.SQLiteStore(tmp_path / "jobs.db")
        if kind == "sqlite"
        else tw.RedisStore(request.getfixturevalue("redis_url"))
    )
    sched = tw.Scheduler(http_app, clock=clock, store=store)
    try:
        run_ten_minutes(sched)
        client = connect(start(HTTPChannel(http_app, sched, token=TOKEN)))
        data = get(client, "/overview")
        assert data["jobs"] == {"total": 3, "active": 2, "paused": 1}
        assert data["last_hour"]["runs_series"] == [0] * 10 + [7, 8]
        assert data["last_hour"]["failures_series"] == [0] * 10 + [2, 3]
        assert data["chart"]["runs"] == [0] * 50 + [1, 2] * 5
        short = get(client, "/overview", range=300)["chart"]  # 5-second buckets
        assert [i for i, n in enumerate(short["runs"]) if n] == [11, 23, 35, 47, 59]
        assert sum(short["failures"]) == 3
        jobs = get(client, "/jobs", outcomes=2)["jobs"]
        assert [j["last_outcomes"] for j in jobs] == [["ok", "ok"], ["error", "error"], []]
        pages = [get(client, "/history", limit=5, offset=k)["runs"] for k in (0, 5, 10)]
        assert [r["cid"] for page in pages for r in page] == [r.cid for r in sched.history()]
    finally:
        store.close()
