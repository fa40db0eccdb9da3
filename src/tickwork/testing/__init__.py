"""Testing support: fixtures for users' own tests of their schedules.

Installing tickwork registers a pytest plugin (``tickwork.testing.plugin``)
that provides:

- ``fake_clock``: a :class:`tickwork.FakeClock` at 2026-01-01T00:00:00Z; a
  test can move it with ``advance()`` / ``set()``. Mark a test with
  ``@pytest.mark.fake_clock_start("2026-03-29T00:00:00Z")`` for another start.
- ``tickwork_app``: an empty :class:`tickwork.App`.
- ``fake_scheduler``: a :class:`tickwork.Scheduler` on ``tickwork_app`` and
  ``fake_clock`` with the inline executor, shut down after the test.

For services that use connections, ``tickwork.testing.servers`` has real
servers on loopback: ``SMTPSink`` (aiosmtpd; keeps what it receives) and
``RedisServer`` (a ``redis-server`` process).

Example::

    def test_runs_three_times(fake_scheduler):
        fake_scheduler.app.add_service(Report)
        fake_scheduler.add_job("r", "report", tw.Interval(minutes=5, repeats=3))
        runs = fake_scheduler.advance(hours=1)
        assert [r.outcome for r in runs] == ["ok", "ok", "ok"]
"""

from .._clock import FakeClock

__all__ = ["FakeClock"]
