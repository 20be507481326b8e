"""Run every benchmark and print one table: figure, measured value, target (issue 6), PASS/FAIL.

    python bench/run_all.py            # or: make bench   (~8-10 minutes on a 2-core machine)
    python bench/run_all.py --quick    # smaller N everywhere (~3 minutes), for trying the suite out

Each script runs as its own process and hands its figures back as JSON; the ratios issue 6 asks for
(Sluice vs the ceiling, vs GNU parallel) and the growth factors are computed here from figures of this run.
FAIL is reported as measured: these are benchmarks, not tests, and nothing here asserts on wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent
CEILING_SHARE = 60.0
PARALLEL_FACTOR = 10.0


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def plan(quick: bool) -> list[tuple[str, list[str]]]:
    if quick:
        return [
            ("gen_store.py", ["--runs", "100000"]),
            ("bench_store.py", ["--sizes", "10000,100000"]),
            ("bench_backfill.py", ["--history", "0"]),
            ("bench_dispatch.py", ["--sizes", "200,500", "--latency", "200"]),
            ("ceiling.py", ["--sizes", "200,500", "--parallel", "100"]),
        ]
    return [
        ("gen_store.py", ["--runs", "1000000"]),
        ("bench_store.py", ["--sizes", "10000,100000,1000000"]),
        ("bench_backfill.py", ["--history", "100000"]),
        ("bench_dispatch.py", ["--sizes", "500,2000", "--latency", "500"]),
        ("ceiling.py", ["--sizes", "500,2000", "--parallel", "2000"]),
    ]


def run_script(script: str, args: list[str]) -> tuple[list[common.Figure], float, int]:
    with tempfile.NamedTemporaryFile(suffix=".json", dir=common.WORK) as out:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(HERE / script), *args, "--figures", out.name], check=False,
                                env=common.child_env())
        took = time.perf_counter() - start
        text = Path(out.name).read_text()
    figures = [common.Figure(**figure) for figure in json.loads(text)] if text.strip() else []
    return figures, took, result.returncode


def derived(figures: list[common.Figure], sizes: list[int]) -> list[common.Figure]:
    """The side-by-side ratios and growth factors, from figures of this run."""
    by_key = {figure.key: figure.value for figure in figures if figure.key and figure.value is not None}
    out: list[common.Figure] = []
    top = max(sizes)
    sluice = by_key.get(f"dispatch.sshd.{top}")
    ceiling = by_key.get(f"ceiling.sshd.{top}")
    if sluice is not None and ceiling is not None:
        share = 100 * sluice / ceiling
        out.append(common.Figure(f"Sluice (b) / ceiling (b), N={top:,}", share, "%", f">= {CEILING_SHARE:g} %",
                                 share >= CEILING_SHARE, f"{sluice:.1f} vs {ceiling:.1f} jobs/s, same sshd nodes"))
    else:
        out.append(common.Figure(f"Sluice (b) / ceiling (b), N={top:,}", None, "%", f">= {CEILING_SHARE:g} %",
                                 False, "a figure is missing (sshd skipped or failed)"))
    parallel_m, parallel_ssh = by_key.get("parallel.M"), by_key.get("parallel.ssh")
    parallel = parallel_m if parallel_m is not None else parallel_ssh
    if sluice is not None and parallel is not None:
        factor = sluice / parallel
        which = "-M" if parallel_m is not None else "ControlMaster via ssh -o (-M failed)"
        out.append(common.Figure("Sluice (b) / GNU parallel", factor, "x", f">= {PARALLEL_FACTOR:g} x",
                                 factor >= PARALLEL_FACTOR, f"{sluice:.1f} vs {parallel:.1f} jobs/s ({which})"))
    else:
        out.append(common.Figure("Sluice (b) / GNU parallel", None, "x", f">= {PARALLEL_FACTOR:g} x", False,
                                 "GNU parallel or Sluice (b) has no valid figure in this run"))
    for kind in ("local", "sshd"):
        low, high = by_key.get(f"dispatch.{kind}.{min(sizes)}"), by_key.get(f"dispatch.{kind}.{top}")
        if low and high and top != min(sizes):
            out.append(common.Figure(f"growth: dispatch {kind} jobs/s at N={top:,} / N={min(sizes):,}", high / low,
                                     "x", None, None, "1.0 = linear (same rate at any N); below 1 = worse"))
    store_sizes = sorted({int(key.split(".")[1]) for key in by_key if key.startswith("store.")})
    if len(store_sizes) > 1:
        small, large = store_sizes[0], store_sizes[-1]
        for name, label in (("cli", "sluice runs --json"), ("window", "console first window"),
                            ("deep", "deep keyset page"), ("status_counts", "count by status"),
                            ("console", "console runs screen")):
            a, b = by_key.get(f"store.{small}.{name}"), by_key.get(f"store.{large}.{name}")
            if a and b:
                out.append(common.Figure(f"growth: {label}, {large:,} / {small:,} runs", b / a, "x", None, None,
                                         f"history grew {large // small:,}x; linear would be {large // small:,}x"))
    return out


def print_table(figures: list[common.Figure]) -> None:
    width = max(len(figure.name) for figure in figures)
    print(f"\n{'FIGURE':<{width}}  {'MEASURED':>16}  {'TARGET':<14} RESULT")
    for figure in figures:
        verdict = "" if figure.ok is None else ("PASS" if figure.ok else "FAIL")
        print(f"{figure.name:<{width}}  {figure.shown():>16}  {figure.target or '':<14} {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller N everywhere")
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args()
    common.WORK.mkdir(parents=True, exist_ok=True)
    print(f"Sluice benchmarks on {common.machine()}", flush=True)
    print(f"work folder {common.WORK} (SLUICE_BENCH_DIR)", flush=True)
    print(f"load average before: {_load()}" + ("  (WARNING: the machine is busy; other work skews every figure)"
                                               if os.getloadavg()[0] > 0.5 else "") + "\n", flush=True)
    figures: list[common.Figure] = []
    began = time.perf_counter()
    steps = plan(args.quick)
    for script, script_args in steps:
        print(f"== {script} {' '.join(script_args)}", flush=True)
        found, took, code = run_script(script, script_args)
        figures += found
        if code != 0:
            figures.append(common.Figure(f"{script} exited {code}", None, "", "exit 0", False))
        print(f"   ({took:.0f} s; load average {_load()})\n", flush=True)
    dispatch_sizes = [int(size) for size in dict(steps)["bench_dispatch.py"][1].split(",")]
    figures += derived(figures, dispatch_sizes)
    print_table(figures)
    notes = [figure for figure in figures if figure.note and (figure.value is None or figure.ok is False)]
    if notes:
        print("\nnotes on FAIL and n/a:")
        for figure in notes:
            print(f"  {figure.name}: {figure.note}")
    targeted = [figure for figure in figures if figure.ok is not None]
    passed = sum(1 for figure in targeted if figure.ok)
    print(f"\n{passed} of {len(targeted)} targets PASS; {len(figures)} figures; "
          f"{(time.perf_counter() - began) / 60:.1f} minutes; load average after {_load()}; {common.machine()}")
    if args.json:
        Path(args.json).write_text(json.dumps([figure.__dict__ for figure in figures], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
