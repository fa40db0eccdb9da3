from __future__ import annotations

import json

import pytest

import tickwork as tw


def test_history_limit_keeps_the_newest(app: tw.App, clock: tw.FakeClock) -> None:
    store = tw.MemoryStore(history_limit=5)
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    sched.advance(minutes=30)
    hist = sched.history("j", limit=100)
    assert [r.scheduled_for.minute for r in hist] == [30, 29, 28, 27, 26]


def test_history_of_every_job_is_merged_newest_first(app: tw.App, clock: tw.FakeClock) -> None:
    sched = tw.Scheduler(app, clock=clock)
    sched.add_job("a", "noop", tw.Interval(minutes=2))
    sched.add_job("b", "noop", tw.Interval(minutes=3))
    sched.advance(minutes=6)
    hist = sched.history(limit=10)
    assert [(r.job, r.scheduled_for.minute) for r in hist][:2] in (
        [("a", 6), ("b", 6)],
        [("b", 6), ("a", 6)],
    )
    finished = [r.finished_at for r in hist]
    assert finished == sorted(finished, reverse=True)  # type: ignore[type-var]
    assert sched.history(limit=0) == []


def test_records_are_plain_json(app: tw.App, clock: tw.FakeClock) -> None:
    store = tw.MemoryStore()
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job(
        "j",
        "noop",
        tw.Cron("*/5 * * * *", tz="Europe/Paris"),
        extra={"k": [1, 2]},
        retry=tw.Retry(attempts=2),
    )
    sched.advance(minutes=5)
    (stored,) = store.load_jobs()
    record = stored.to_dict()
    text = json.dumps(record)  # no pickles, no objects
    assert json.loads(text) == record
    assert record["trigger"] == {"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Paris"}
    assert record["runs"] == 1
    job = tw.Job.from_dict(record)
    assert job.trigger == tw.Cron("*/5 * * * *", tz="Europe/Paris")
    assert job.retry == tw.Retry(attempts=2)
    run = store.history("j")[0]
    assert tw.Run.from_dict(json.loads(json.dumps(run.to_dict()))) == run


def test_a_job_that_cannot_be_taken_up_is_logged_and_the_others_load(
    app: tw.App, clock: tw.FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = tw.MemoryStore()
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("good", "noop", tw.Interval(minutes=1))
    sched.add_job("orphan", "fail", tw.Interval(minutes=1))
    app.remove_service("fail")  # the next scheduler's app lacks it
    again = tw.Scheduler(app, clock=clock, store=store)
    assert [j.name for j in again.jobs()] == ["good"]
    assert "'orphan'" in caplog.text
    assert "'fail'" in caplog.text
    assert [r.outcome for r in again.advance(minutes=1)] == ["ok"]


def test_a_record_with_bad_trigger_data_says_which_part() -> None:
    record = tw.Job("j", "noop", tw.Interval(minutes=1)).to_dict()
    record["trigger"] = {"type": "sundial"}
    with pytest.raises(tw.InvalidTrigger, match="sundial"):
        tw.Job.from_dict(record)


def test_bad_history_limit() -> None:
    with pytest.raises(ValueError, match="history_limit"):
        tw.MemoryStore(history_limit=0)


def test_add_run_from_many_threads_loses_no_row() -> None:
    import threading

    store = tw.MemoryStore(history_limit=10_000)
    barrier = threading.Barrier(8)

    def record(worker: int) -> None:
        barrier.wait()
        for n in range(500):
            store.add_run(tw.Run(f"{worker}-{n}", "j", "noop", n, finished_us=n))

    threads = [threading.Thread(target=record, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history("j", limit=100_000)) == 4000
