from __future__ import annotations

import io
import subprocess
import sys

import pytest

from tickwork._demo import run_demo


@pytest.mark.slow
def test_demo_runs_every_kind_of_job() -> None:
    out = io.StringIO()
    assert run_demo(seconds=4.5, out=out) == 0
    text = out.getvalue()
    assert "execute_now('heartbeat') -> cid" in text
    for job in ("once", "heartbeat", "every-3s", "flaky"):
        assert f" {job}" in text
    assert "ok           once" in text
    assert "error        flaky" in text
    assert "attempt 2" in text
    assert "done:" in text


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
