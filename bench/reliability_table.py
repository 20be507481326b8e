"""Run the fault tests with SLUICE_RELIABILITY_REPORT set and render docs/reliability.md's table from what they measured.

    python bench/reliability_table.py                     # crash points, SIGKILL storm, load at the test's scale
    python bench/reliability_table.py --load-runs 2000    # the load test at the issue's full 2,000 runs
    python bench/reliability_table.py --repeat 3 --json figures.jsonl

Every figure comes from a test run of this invocation: one row per fault and run (with --repeat, one row per
repetition). Nothing here asserts on time; a test that fails is reported with its pytest output and no row is
invented for it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/test_crash_points.py", "tests/test_crash_safety.py", "tests/test_load.py"]
COLUMNS = [("fault", "fault"), ("injection", "how it is injected"), ("runs", "runs"), ("lost", "lost"),
           ("duplicated", "duplicated (started twice, start ledger)"), ("log_bytes_lost", "log bytes lost"),
           ("recover_seconds", "time to recover (s)"), ("observed", "seen right after the fault"),
           ("test", "test")]


def run_tests(report: Path, load_runs: int | None, tests: list[str]) -> tuple[int, str]:
    env = {**os.environ, "SLUICE_RELIABILITY_REPORT": str(report), "PYTHONPATH": str(ROOT)}
    if load_runs is not None:
        env["SLUICE_LOAD_RUNS"] = str(load_runs)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr


def render(rows: list[dict[str, object]]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [str(row.get(key, "")).replace("|", "/") for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-runs", type=int, help="runs for tests/test_load.py (default: the test's own)")
    parser.add_argument("--repeat", type=int, default=1, help="run the tests this many times")
    parser.add_argument("--only", action="append", help="a test file to run instead of all of them (repeatable)")
    parser.add_argument("--json", help="also keep every figure here, one JSON line per fault")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    failed = 0
    for number in range(args.repeat):
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "figures.jsonl"
            started = time.monotonic()
            code, output = run_tests(report, args.load_runs, args.only or TESTS)
            took = time.monotonic() - started
            found = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
        print(f"run {number + 1}: pytest exit {code} in {took:.0f} s, {len(found)} figures, "
              f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        if code != 0:
            failed += 1
            print(output[-6000:], file=sys.stderr)
        rows += found
    print(render(rows))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
