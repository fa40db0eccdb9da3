"""How a user tests a schedule: tickwork's pytest plugin gives ``fake_scheduler``.

Run it with:  python -m pytest examples/test_my_schedule.py
"""

from __future__ import annotations

import pytest

import tickwork as tw


class Report(tw.Service):
    name = "report"

    def handle(self) -> None:
        self.response.payload = f"report for {self.request.job.scheduled_for:%H:%M}"


def test_runs_every_five_minutes_three_times_then_stops(fake_scheduler: tw.Scheduler) -> None:
    fake_scheduler.app.add_service(Report)
    fake_scheduler.add_job("report", "report", tw.Interval(minutes=5, repeats=3))

    runs = fake_scheduler.advance(hours=1)  # one hour of fake time, in milliseconds

    assert [r.scheduled_for.strftime("%H:%M") for r in runs] == ["00:05", "00:10", "00:15"]
    assert all(r.outcome == "ok" for r in runs)
    assert fake_scheduler.jobs() == []  # done after three runs


@pytest.mark.fake_clock_start("2026-03-28T12:00:00Z")
def test_a_daily_job_across_the_spring_forward_night(fake_scheduler: tw.Scheduler) -> None:
    fake_scheduler.app.add_service(Report)
    fake_scheduler.add_job("nightly", "report", tw.Cron("30 1 * * *", tz="Europe/London"))

    runs = fake_scheduler.advance(days=2)

    # 01:30 does not exist in London on 2026-03-29: it runs once, as the clocks jump.
    assert [r.scheduled_for.isoformat() for r in runs] == [
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]
