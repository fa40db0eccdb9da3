"""The ``tickwork`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwork",
        description="Service-oriented job scheduling.",
        epilog="Example: tickwork demo --seconds 10",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="schedule real services on the system clock for a few seconds",
        description=(
            "Run a one-time, an interval (with repeats) and a cron job on the "
            "system clock, plus an execute-now, printing every run."
        ),
    )
    demo.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    demo.add_argument("--tz", default="UTC", help="the zone the demo's times are shown in")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        return run_demo(seconds=args.seconds, tz=args.tz)
    parser.print_help(sys.stderr)
    return 2
