"""Run the fault tests with SLUICE_RELIABILITY_REPORT set and render docs/reliability.md's table from what they measured.

    python bench/reliability_table.py                     # every fault test in TESTS (load at the test's scale)
    python bench/reliability_table.py --all               # and the LONG ones too (the ~100 s sshd outage)
    python bench/reliability_table.py --load-runs 2000 --only tests/test_load.py   # the issue's full 2,000 runs
    python bench/reliability_table.py --repeat 3 --json figures.jsonl

TESTS is what runs by default: the crash points, the SIGKILL storm, the load test, the network partition and the
slow link (real OpenSSH in a network namespace; skipped where `ip netns` or sshd is missing), the two store-fault
tests, the store locked past its timeout, the log file cut short and the full bastion disk (a tmpfs mount, root
only), a node renamed or removed while running, and a lost node fenced on its return. LONG holds the tests too
slow for every invocation (the default lease outliving a 67 s sshd outage: about 100 s); --all adds them.
--only runs just the given files or pytest node ids instead.

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
TESTS = [
    "tests/test_crash_points.py",
    "tests/test_crash_safety.py",
    "tests/test_load.py",
    "tests/test_network_partition.py::test_a_dropped_link_is_detected_by_keepalive_and_the_run_reattaches_with_"
    "nothing_lost",
    "tests/test_network_partition.py::test_megabytes_of_output_over_a_1_mbit_link_arrive_complete_and_byte_exact",
    "tests/test_scheduler_memory.py::test_a_run_whose_end_failed_to_commit_is_still_watched_and_ends",
    "tests/test_scheduler_memory.py::test_a_launch_result_whose_commit_failed_is_recorded_by_a_later_pass",
    "tests/test_store_busy.py::test_a_scheduler_outlasts_a_store_locked_past_its_timeout_and_says_so",
    "tests/test_log_capture.py",
    "tests/test_config_changes.py",
    "tests/test_node_loss.py::test_lost_node_runs_move_elsewhere_and_the_stale_attempt_is_fenced",
]
#: Too slow for every invocation; --all adds them.
LONG = ["tests/test_lease.py::test_the_default_lease_outlives_a_65_second_sshd_outage_on_real_openssh"]
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
    parser.add_argument("--only", action="append",
                        help="a test file or pytest node id to run instead of TESTS (repeatable)")
    parser.add_argument("--all", action="store_true", help="also run the LONG tests (the ~100 s sshd outage)")
    parser.add_argument("--json", help="also keep every figure here, one JSON line per fault")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    failed = 0
    for number in range(args.repeat):
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "figures.jsonl"
            started = time.monotonic()
            code, output = run_tests(report, args.load_runs, args.only or (TESTS + LONG if args.all else TESTS))
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
