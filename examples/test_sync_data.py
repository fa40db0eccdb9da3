"""The canonical example end to end, checked on the servers' side."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tickwork as tw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sync_data  # noqa: E402 - the example is a script next to this test


@pytest.mark.slow  # the system clock: about 4 s
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_demo_fetches_mails_and_stores() -> None:
    out = io.StringIO()
    result = sync_data.run_demo(emails=3, timeout=20, out=out)
    assert result.redis
    assert len(result.mails) >= 3
    by_cid = {f["cid"]: f for f in result.fetched}
    for mail in result.mails:
        message = mail.message
        assert message["Subject"] == "New data"
        assert message["To"] == "hello@example.com"
        assert message["Cc"] == "hello.cc@example.com"
        assert sorted(mail.rcpt_tos) == ["hello.cc@example.com", "hello@example.com"]
        assert mail.body().strip() == "Check attached data"
        attached = mail.attachments()["my.data.txt"].decode()
        assert attached.startswith("id,reading,sensor\n")
        # The run's cid went to the data source and into the e-mail.
        assert by_cid[message["X-Correlation-ID"]]["path"] == "/data"
    # Both jobs ran the service (every 2 s and every 3rd second), and every
    # run that finished sent its e-mail.
    assert {r.job for r in result.runs} == {"sync-every-5-minutes", "sync-hourly"}
    assert all(r.outcome == "ok" for r in result.runs)
    assert {r.cid for r in result.runs} == {m.message["X-Correlation-ID"] for m in result.mails}
    # Redis holds what a run fetched and mailed (the last one to store it).
    sent = {m.attachments()["my.data.txt"] for m in result.mails}
    assert result.stored in sent
    text = out.getvalue()
    assert "fetched" in text
    assert "sent    'New data'" in text
    assert "stored  latest.data" in text


def test_build_app_from_environment() -> None:
    app = sync_data.build_app(
        {
            "SYNC_SOURCE_URL": "https://data.example.com",
            "SYNC_SOURCE_PATH": "/v1/readings",
            "SYNC_SMTP_HOST": "smtp.example.com",
            "SYNC_SMTP_USERNAME": "bot",
            "SYNC_SMTP_PASSWORD": "hunter2-secret",
            "SYNC_REDIS_URL": "redis://:pw-secret@127.0.0.1:6379/2",
        }
    )
    try:
        rest = app.connections.rest("My Data Source")
        assert rest.url_for() == ("https://data.example.com/v1/readings", {})
        smtp = app.connections.smtp("My SMTP")
        assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.com", 587, "starttls")
        assert smtp.from_ == "scheduler@example.com"
        text = repr(app.connections) + repr(smtp) + repr(app.connections.kvdb)
        assert "hunter2-secret" not in text
        assert "pw-secret" not in text
        sched = tw.Scheduler(app, clock=tw.FakeClock("2026-03-29T00:00:00Z"), tz="Europe/London")
        sync_data.add_jobs(sched, tw.Interval(minutes=5), tw.Cron("2 * * * *"))
        jobs = {job.name: job for job in sched.jobs()}
        assert jobs["sync-every-5-minutes"].extra == "source=interval"
        assert jobs["sync-hourly"].extra == '{"source": "cron"}'
        # 01:02 London does not exist on 2026-03-29; the cron job's next is 02:02 BST.
        assert jobs["sync-hourly"].next_fire_time.isoformat() == "2026-03-29T00:02:00+00:00"
        sched.shutdown()
    finally:
        app.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_demo_command_line() -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "sync_data.py"), "--demo", "--emails", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("sent    'New data'") >= 2
    assert "stored  latest.data" in done.stdout
