"""Where croniter and cronsim disagree with tickwork around DST transitions.

Not a timing benchmark: a reproducible record of the peer behaviour that
docs/triggers.md cites. For each zone, each 2026 transition, each expression
and starts every 20 minutes over the two days around it, compare the next 6
fire times. tickwork's fires are checked against a minute-by-minute oracle in
tests/test_cron_differential.py, so a disagreement here is the peer's.

    .venv/bin/python benchmarks/compare_cron_dst.py
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from zoneinfo import ZoneInfo

from croniter import croniter
from cronsim import CronSim

import tickwork as tw

TRANSITIONS = {
    "Europe/London": [(2026, 3, 28), (2026, 10, 24)],
    "America/New_York": [(2026, 3, 7), (2026, 10, 31)],
    "Australia/Lord_Howe": [(2026, 4, 4), (2026, 10, 3)],
}
EXPRS = [
    "30 2 * * *", "30 1 * * *", "15 2 * * *", "45 1 * * *", "0 2 * * *",
    "*/15 * * * *", "*/15 1 * * *", "*/15 2 * * *", "0 * * * *", "30 * * * *",
    "0,30 1,2 * * *", "*/30 1-2 * * *",
]  # fmt: skip
COUNT = 6


def peer_fires(library: str, expr: str, start: datetime) -> list[datetime]:
    if library == "cronsim":
        it = CronSim(expr, start)
        return [next(it) for _ in range(COUNT)]
    iterator = croniter(expr, start, implement_cron_bug=True, second_at_beginning=True)
    return [iterator.get_next(datetime) for _ in range(COUNT)]


def classify(want: list[datetime], got: list[datetime], start: datetime, fixed: bool) -> str:
    if any(t <= start for t in got):
        return "returns a time not after the start"
    horizon = min(max(want), max(got))
    if any(t not in want for t in got if t <= horizon):
        if fixed:
            return "runs a fixed-time job twice (both passes of the repeated hour)"
        return "runs a wildcard job for a wall time in the gap"
    return "misses a fire"


def iso(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).isoformat() for t in times[:3]]


def main() -> None:
    totals: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for zone_name, days in TRANSITIONS.items():
        zone = ZoneInfo(zone_name)
        for day in days:
            noon = datetime(*day, 12, tzinfo=zone).astimezone(UTC)
            for expr in EXPRS:
                cron = tw.Cron(expr, tz=zone_name)
                for minutes in range(0, 48 * 60, 20):
                    start = (noon + timedelta(minutes=minutes)).astimezone(zone)
                    want = [t.astimezone(UTC) for t in cron.upcoming(start, COUNT)]
                    for library in ("croniter", "cronsim"):
                        totals[library] += 1
                        got = [t.astimezone(UTC) for t in peer_fires(library, expr, start)]
                        if got == want:
                            continue
                        kind = classify(want, got, start.astimezone(UTC), cron.fixed_time)
                        kinds[(library, kind)] += 1
                        key = (library, kind)
                        if key not in examples:
                            examples[key] = (
                                f"{expr!r} in {zone_name} after {start.isoformat()}:\n"
                                f"      tickwork {iso(want, zone)}\n"
                                f"      {library:8} {iso(got, zone)}"
                            )
    print(
        f"croniter {version('croniter')} (implement_cron_bug=True, second_at_beginning=True), "
        f"cronsim {version('cronsim')}; next {COUNT} fires per start\n"
    )
    for library in ("croniter", "cronsim"):
        wrong = sum(n for (lib, _), n in kinds.items() if lib == library)
        print(f"{library}: {wrong} of {totals[library]} starts disagree")
        for (lib, kind), n in sorted(kinds.items()):
            if lib == library:
                print(f"  {n:4}  {kind}\n    e.g. {examples[(lib, kind)]}")
        print()


if __name__ == "__main__":
    main()
