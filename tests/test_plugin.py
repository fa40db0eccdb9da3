"""The pytest plugin users get: run a user's test file through pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_users_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import tickwork as tw

        class Report(tw.Service):
            name = "report"

            def handle(self):
                self.response.payload = "done"

        def test_runs_every_five_minutes_three_times(fake_scheduler):
            fake_scheduler.app.add_service(Report)
            fake_scheduler.add_job("r", "report", tw.Interval(minutes=5, repeats=3))
            runs = fake_scheduler.advance(hours=1)
            assert [r.scheduled_for.minute for r in runs] == [5, 10, 15]
            assert [r.outcome for r in runs] == ["ok", "ok", "ok"]
            assert fake_scheduler.jobs() == []

        def test_default_start(fake_clock):
            assert fake_clock.now().isoformat() == "2026-01-01T00:00:00+00:00"

        @pytest.mark.fake_clock_start("2026-03-29T00:30:00Z")
        def test_marked_start(fake_clock, tickwork_app):
            assert fake_clock.now().isoformat() == "2026-03-29T00:30:00+00:00"
            assert tickwork_app.services() == []
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)
