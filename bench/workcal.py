"""Benchmark of WorkCalendar.add() against plain datetime arithmetic; measures only, asserts nothing.

Run: python3 bench/workcal.py [--starts 1000] [--rounds 5]
"""

import argparse
import random
import sys
import time as clock
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.workcal import Duration, WorkCalendar  # noqa: E402

DURATIONS = [Duration(30, "m"), Duration(2, "h"), Duration(4, "h"), Duration(1, "d"), Duration(2, "d")]


def starts(n: int, seed: int = 5) -> list[datetime]:
    rng = random.Random(seed)
    zone = ZoneInfo("Asia/Shanghai")
    base = datetime(2025, 1, 1, tzinfo=zone)
    span = int(timedelta(days=700).total_seconds())
    return [base + timedelta(seconds=rng.randrange(span)) for _ in range(n)]


def best_rate(work, calls: int, rounds: int) -> float:
    """Calls per second of the fastest of `rounds` runs."""
    best = float("inf")
    for _ in range(rounds):
        began = clock.perf_counter()
        work()
        best = min(best, clock.perf_counter() - began)
    return calls / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    moments = starts(args.starts)
    jobs = [(at, DURATIONS[i % len(DURATIONS)]) for i, at in enumerate(moments)]
    plain = [(at, timedelta(hours=4)) for at in moments]
    n = len(jobs)

    def baseline():
        for at, delta in plain:
            at + delta

    def cold():
        cal = WorkCalendar()  # fresh calendar: every day looked up once
        for at, duration in jobs:
            cal.add(at, duration)

    warm_cal = WorkCalendar()
    for at, duration in jobs:
        warm_cal.add(at, duration)

    def warm():
        for at, duration in jobs:
            warm_cal.add(at, duration)

    raw = best_rate(baseline, n, args.rounds)
    print(f"{n} random starts in 2025–2026, durations {', '.join(map(str, DURATIONS))}")
    print(f"baseline datetime + timedelta: {raw:>12,.0f} calls/s")
    for name, work in (("add(), cold cache", cold), ("add(), warm cache", warm)):
        rate = best_rate(work, n, args.rounds)
        print(f"{name:<30} {rate:>12,.0f} calls/s   {raw / rate:6.1f}× slower than baseline")


if __name__ == "__main__":
    main()
