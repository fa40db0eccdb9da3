from __future__ import annotations

import io
import subprocess
import sys

import pytest

import tickwork as tw
from tickwork._demo import run_demo


def test_demo_runs_every_kind_of_job() -> None:
    # On a fake clock: the same schedule as `tickwork demo`, at once and the
    # same every time (on the real clock, a 4.5 s window could end before
    # the retry at 4.5 s).
    out = io.StringIO()
    assert run_demo(seconds=10, out=out, clock=tw.FakeClock()) == 0
    text = out.getvalue()
    assert "10 s on a fake clock" in text
    assert "execute_now('heartbeat') -> cid" in text
    for job in ("once", "heartbeat", "every-3s", "flaky"):
        assert f" {job}" in text
    assert "00:00:00  ok           heartbeat  run 1 (manual)" in text
    assert "00:00:03  ok           once       run 1" in text
    assert "00:00:04  error        flaky      run 1  cid=" in text
    assert "00:00:04  ok           flaky      run 1 attempt 2" in text
    assert "00:00:08  ok           flaky      run 2 attempt 2" in text
    assert "00:00:09  ok           every-3s   run 3" in text
    assert "00:00:08  job_done     heartbeat" in text
    assert text.endswith("done: 13 runs finished (2 error, 11 ok)\n")


@pytest.mark.slow
def test_demo_runs_on_the_system_clock() -> None:
    # What a run shows depends on timing; only that it starts and ends does not.
    out = io.StringIO()
    assert run_demo(seconds=0.5, out=out) == 0
    text = out.getvalue()
    assert "0.5 s on the system clock" in text
    assert "execute_now('heartbeat') -> cid" in text
    assert "\ndone: " in text


def test_cli_help_and_unknown_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tickwork", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "demo" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "tickwork"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
