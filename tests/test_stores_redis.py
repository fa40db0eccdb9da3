"""RedisStore against a real redis-server: its data, bad keys, TLS, passwords."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import trustme

import tickwork as tw
from tickwork.stores._redis import INTERRUPTED
from tickwork.testing.servers import free_port

PASSWORD = "s3cr3t-Pa55"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    yield conn
    conn.close()


def test_keys_hold_plain_data(
    app: tw.App, clock: tw.FakeClock, redis_url: str, client: redis.Redis
) -> None:
    store = tw.RedisStore(redis_url, prefix="acme")
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Cron("*/5 * * * *", tz="Europe/Paris"), extra={"a": [1]})
    sched.advance(minutes=10)
    store.flush()
    assert sorted(client.keys("acme:*")) == [
        "acme:changes", "acme:def", "acme:hist", "acme:hist:j", "acme:meta", "acme:state",
        "acme:stats:20260301",
    ]  # fmt: skip
    # Runs per minute and hour of the UTC day (for run_counts): 00:05 and 00:10, no failure.
    assert client.hgetall("acme:stats:20260301") == {"5:runs": "1", "10:runs": "1", "h0:runs": "2"}
    assert 35 * 86_400 < client.ttl("acme:stats:20260301") <= 36 * 86_400
    definition = json.loads(client.hget("acme:def", "j"))  # type: ignore[arg-type]
    assert definition["trigger"] == {"type": "cron", "expr": "*/5 * * * *", "tz": "Europe/Paris"}
    assert definition["extra"] == {"a": [1]}
    next_fire, runs, last_due, active = client.hget("acme:state", "j").split("|")  # type: ignore[union-attr]
    assert (runs, active) == ("2", "1")
    assert int(last_due) < int(next_fire)
    entry = client.lindex("acme:hist:j", 0)
    recorded, _, run = entry.partition("|")  # type: ignore[union-attr]
    assert json.loads(run)[6] == "ok"
    assert int(recorded) > 0
    assert client.hlen("acme:open") == 0  # written ahead, then finished
    store.close()


def test_run_cut_short_is_interrupted_and_its_due_time_taken(
    app: tw.App, clock: tw.FakeClock, redis_url: str
) -> None:
    first = tw.RedisStore(redis_url)
    sched = tw.Scheduler(app, clock=clock, store=first)
    sched.add_job("j", "noop", tw.Interval(minutes=1))
    # A run written ahead that never finished: what a killed process leaves.
    run = tw.Run("cid-1", "j", "noop", clock.now_us() + 60_000_000, run_number=1)
    first.update_state(
        sched._jobs["j"], next_fire_us=run.scheduled_us + 60_000_000, runs=1,
        last_due_us=run.scheduled_us, active=True, expected_last_due=None,
    )  # fmt: skip
    first.run_started(run)
    assert first.flush() == set()
    again = tw.Scheduler(app, clock=clock, store=tw.RedisStore(redis_url))
    (recorded,) = again.history("j")
    assert (recorded.cid, recorded.outcome, recorded.error) == ("cid-1", "error", INTERRUPTED)
    assert [r.scheduled_for.minute for r in again.advance(minutes=2)] == [2]
    first.close()
    again.store.close()


def test_claims_are_refused_when_the_stored_job_moved_on(
    app: tw.App, clock: tw.FakeClock, redis_url: str
) -> None:
    store = tw.RedisStore(redis_url)
    sched = tw.Scheduler(app, clock=clock, store=store)
    job = sched.add_job("j", "noop", tw.Interval(minutes=1))
    store.update_state(
        job, next_fire_us=1, runs=1, last_due_us=5, active=True, expected_last_due=None
    )
    assert store.flush() == set()
    store.update_state(job, next_fire_us=2, runs=2, last_due_us=6, active=True, expected_last_due=4)
    store.run_started(tw.Run("c", "j", "noop", 6))
    assert store.flush() == {"j"}  # the store holds 5, not 4: someone else fired it
    sched.pause_job("j")
    store.update_state(job, next_fire_us=3, runs=3, last_due_us=7, active=True, expected_last_due=5)
    assert store.flush() == {"j"}  # paused in the store
    store.close()


def test_bad_records_and_foreign_keys_are_named(
    app: tw.App,
    clock: tw.FakeClock,
    redis_url: str,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sched = tw.Scheduler(app, clock=clock, store=tw.RedisStore(redis_url))
    sched.add_job("good", "noop", tw.Interval(minutes=1))
    sched.add_job("stateless", "noop", tw.Interval(minutes=1))
    client.hset("tickwork:def", "garbled", "{not json")
    client.hset("tickwork:state", "garbled", "|0||1")
    client.hdel("tickwork:state", "stateless")
    client.set("tickwork:hist:good", "a string, not a list")
    with caplog.at_level(logging.ERROR):
        again = tw.Scheduler(app, clock=clock, store=tw.RedisStore(redis_url))
        assert [j.name for j in again.jobs()] == ["good"]
        assert [r.outcome for r in again.advance(minutes=1)] == ["ok"]
        again.store.flush()
    text = caplog.text
    assert "'garbled'" in text
    assert "JSONDecodeError" in text
    assert "'stateless'" in text
    assert "no state" in text
    assert "'tickwork:hist:good'" in text
    assert "not a list" in text
    assert [r.job for r in again.history()] == ["good"]  # the global history still works
    again.store.close()
    sched.store.close()

    client.set("other:def", "x")
    with pytest.raises(tw.StoreError, match=r"key 'other:def' is a string, not a hash"):
        tw.RedisStore(redis_url, prefix="other")


def test_newer_schema_is_refused(redis_url: str, client: redis.Redis) -> None:
    client.hset("tickwork:meta", "schema_version", 7)
    with pytest.raises(tw.StoreError, match=r"schema version 7, newer than this tickwork's \(1\)"):
        tw.RedisStore(redis_url)


def test_history_retention(app: tw.App, clock: tw.FakeClock, redis_url: str) -> None:
    store = tw.RedisStore(redis_url, history_limit=10)
    sched = tw.Scheduler(app, clock=clock, store=store)
    sched.add_job("j", "noop", tw.Interval(seconds=1))
    sched.advance(minutes=1)
    assert len(sched.history("j", limit=100)) == 10
    store.close()
    aged = tw.RedisStore(redis_url, history_limit=10_000, history_max_age=timedelta(seconds=30))
    sched = tw.Scheduler(app, clock=clock, store=aged)
    sched.advance(minutes=2)
    kept = sched.history("j", limit=10_000)
    assert len(kept) == 31  # 30 s of runs, both ends included
    aged.close()


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    with pytest.raises(tw.StoreError) as info:
        tw.RedisStore(url)
    assert PASSWORD not in str(info.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in str(info.value)


# -- TLS and a password ---------------------------------------------------------
@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (tests/run installs Debian's package)")
    workdir = tmp_path_factory.mktemp("redis-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    cert.private_key_pem.write_to_path(str(workdir / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(workdir / "cert.pem"))
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(workdir / "cert.pem"), "--tls-key-file", str(workdir / "key.pem"),
         "--tls-ca-cert-file", str(workdir / "ca.pem"), "--tls-auth-clients", "no",
         "--requirepass", PASSWORD, "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={workdir / 'ca.pem'}"
    deadline = time.monotonic() + 10
    while True:
        try:
            conn = redis.Redis.from_url(url)
            conn.ping()
            conn.close()
            break
        except redis.RedisError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server with TLS did not start; see {workdir / 'redis.log'}")
            time.sleep(0.05)
    yield url, workdir
    proc.terminate()
    proc.wait(timeout=10)


def test_tls_and_password_work_and_the_password_never_shows(
    app: tw.App,
    clock: tw.FakeClock,
    secure_redis: tuple[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, _workdir = secure_redis
    with caplog.at_level(logging.DEBUG):
        store = tw.RedisStore(url, prefix="secure")
        sched = tw.Scheduler(app, clock=clock, store=store)
        sched.add_job("j", "noop", tw.Interval(minutes=1))
        assert [r.outcome for r in sched.advance(minutes=2)] == ["ok", "ok"]
        assert [j.name for j in tw.Scheduler(app, clock=clock, store=store).jobs()] == ["j"]
    assert PASSWORD not in repr(store)
    assert "***" in repr(store)
    assert PASSWORD not in caplog.text
    store.close()

    wrong = url.replace(PASSWORD, "wrong-password")
    with pytest.raises(tw.StoreError) as info:
        tw.RedisStore(wrong)
    assert "wrong-password" not in str(info.value)
    assert PASSWORD not in str(info.value)

    untrusted = url.split("?")[0]  # no CA given: the self-signed certificate is refused
    with pytest.raises(tw.StoreError) as info:
        tw.RedisStore(untrusted)
    assert "SSL" in str(info.value) or "certificate" in str(info.value)
    assert PASSWORD not in str(info.value)
