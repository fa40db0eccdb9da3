"""Run every benchmark in turn and save the combined markdown output.

    .venv/bin/python benchmarks/run_all.py           # small sizes, a few minutes
    .venv/bin/python benchmarks/run_all.py --full    # the sizes in docs/benchmarks.md
    .venv/bin/python benchmarks/run_all.py --full --rev HEAD   # a committed snapshot

The output goes to stdout and to ``benchmarks/results/<small|full>-<UTC time>.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from _common import HERE, add_source_arg, use_source

SCRIPTS = (
    "bench_core_throughput.py",
    "bench_add_job.py",
    "bench_memory.py",
    "bench_realtime.py",
    "bench_cron.py",
    "bench_stores.py",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true")
    add_source_arg(parser)
    args = parser.parse_args()
    use_source(args.rev)  # resolve once, so every script benchmarks the same commit
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(HERE, "results", f"{'full' if args.full else 'small'}-{stamp}.md")
    t0 = time.monotonic()
    with open(path, "w") as out:
        for script in SCRIPTS:
            cmd = [sys.executable, os.path.join(HERE, script)] + (["--full"] if args.full else [])
            if args.rev:
                cmd += ["--rev", os.environ["TICKWORK_BENCH_REV"]]
            started = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            sys.stderr.write(proc.stderr)
            text = proc.stdout + f"\n_{script}: {time.monotonic() - started:.0f} s_\n\n"
            sys.stdout.write(text)
            sys.stdout.flush()
            out.write(text)
            if proc.returncode != 0:
                raise SystemExit(f"{script} failed with exit code {proc.returncode}")
        out.write(f"_total: {time.monotonic() - t0:.0f} s_\n")
    print(f"_total: {time.monotonic() - t0:.0f} s; saved to {path}_")


if __name__ == "__main__":
    main()
