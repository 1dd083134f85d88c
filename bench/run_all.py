"""Every benchmark in turn, then a summary of the figures that count (`make bench` runs this).

Run: .venv/bin/python -m bench.run_all [--full] [--only NAME ...]
Quick parameters by default (about 15 minutes on the 2-core machine); --full uses the parameters of the
figures in bench/README.md (about 35 minutes). Needs wrk (apt-get install -y wrk) and PostgreSQL at
STARTKLAAR_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
Other work on the machine changes the figures: the summary prints the load average before each benchmark.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bench:
    name: str
    issue: int
    quick: tuple[str, ...]
    full: tuple[str, ...]
    summary: str  # lines of the output that go into the summary


BENCHES = [
    Bench("first_load", 2, (), (), r"^(FIRST PAINT|screens loaded later|all frontend files)"),
    Bench(
        "plan_load",
        3,
        ("--db", "both", "--seconds", "8"),
        ("--db", "both", "--seconds", "15"),
        r"^(\[|GET |plan/healthz)",
    ),
    Bench(
        "kaart_bench",
        4,
        ("--db", "both", "--seconds", "10"),
        ("--db", "both", "--seconds", "15"),
        r"^(\[|load \+ publish|search,|RSS|5,000-row)",
    ),
    Bench(
        "push_throughput",
        5,
        ("--reminders", "10000", "--db", "postgres", "--latency-ms", "0", "50"),
        ("--reminders", "100000", "--db", "postgres", "--latency-ms", "0", "50"),
        r"^(sink answers|  sequential|  \d worker)",
    ),
    Bench(
        "load",
        7,
        ("--db", "both", "--seconds", "20"),
        ("--db", "both", "--seconds", "60"),
        r"^(\[|\d+ VUs|  all |  error rate)",
    ),
]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(bench: Bench, full: bool) -> tuple[int, float, list[str]]:
    """Run one benchmark, echoing its output as it comes; returns (exit code, seconds, summary lines)."""
    cmd = [sys.executable, "-m", f"bench.{bench.name}", *(bench.full if full else bench.quick)]
    print(f"\n=== {bench.name} (issue {bench.issue}): {' '.join(cmd[1:])}  [load average {load_average()}]", flush=True)
    started = time.monotonic()
    lines = []
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    pattern = re.compile(bench.summary + r"|^server (logged|did not stop)")
    return proc.returncode, time.monotonic() - started, [line for line in lines if pattern.search(line)]


def main() -> None:
    names = [b.name for b in BENCHES]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="the parameters of the figures in bench/README.md")
    p.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"some of: {', '.join(names)}")
    a = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    chosen = [b for b in BENCHES if not a.only or b.name in a.only]
    outcomes = []
    for bench in chosen:
        before = load_average()
        code, seconds, summary = run(bench, a.full)
        outcomes.append((bench, before, code, seconds, summary))

    print("\n" + "=" * 100)
    print(f"SUMMARY ({'full' if a.full else 'quick'} parameters; figures on a shared machine are noisy)")
    for bench, before, code, seconds, summary in outcomes:
        state = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"\n{bench.name} (issue {bench.issue}): {state}, {seconds:.0f} s, load average before: {before}")
        for line in summary:
            print(f"  {line}")
    if any(code for _, _, code, _, _ in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
