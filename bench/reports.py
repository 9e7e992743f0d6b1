"""Benchmark: how long writing the reports of a large class takes.

Grades the bundled example submissions once (the real CLI), then builds a class of N
students from their results (each student a copy of one of the examples under a new id,
so every kind of report appears: full marks, typical mistakes, notebooks) and times,
in this process, ``write_reports`` for the whole class: results.json, grades.csv, every
student's HTML page and the class overview. The target (issue 7): 1,000 student reports
in under 10 s.

    python bench/reports.py              # N = 1000, best of 3
    python bench/reports.py --quick      # N = 50, one repeat (CI)

Exit status 0 when the runs completed (it is a measurement), 1 when grading failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.reports import write_reports  # noqa: E402
from grader.results import GradingRun  # noqa: E402

TARGET_SECONDS = 10.0  # for 1,000 students
TARGET_N = 1000


def graded_examples(work: Path) -> GradingRun:
    out = work / "examples"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(ROOT / "examples" / "submissions"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        sys.exit(f"grading the examples failed:\n{proc.stderr}")
    return GradingRun.from_dict(json.loads((out / "results.json").read_text(encoding="utf-8")))


def large_class(run: GradingRun, n: int) -> GradingRun:
    """N students, cycling through the examples' results under new ids."""
    students = [
        replace(run.students[i % len(run.students)], id=f"student-{i:05d}") for i in range(n)
    ]
    return replace(run, students=students)


def timed(run: GradingRun, out: Path) -> tuple[float, int, int]:
    """Seconds to write every report into a fresh folder; files and bytes written."""
    started = time.perf_counter()
    written = write_reports(run, out)
    seconds = time.perf_counter() - started
    return seconds, len(written), sum(p.stat().st_size for p in written)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=TARGET_N, help=f"students (default {TARGET_N})")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts (default 3)")
    parser.add_argument("--quick", action="store_true", help="CI: N = 50, one repeat")
    args = parser.parse_args()
    n, repeat = (50, 1) if args.quick else (args.n, args.repeat)
    with tempfile.TemporaryDirectory(prefix="grader-bench-reports-") as tmp:
        work = Path(tmp)
        base = graded_examples(work)
        run = large_class(base, n)
        timed(large_class(base, 3), work / "warm-up")  # templates compiled, modules imported
        runs = [timed(run, work / f"run-{i}") for i in range(repeat)]
    best, files, size = min(runs)
    per_1000 = best / n * TARGET_N
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{len(base.students)} example students, {len(base.students[0].exercises)} exercises each"
    )
    print()
    print("| measurement | measured | target |")
    print("|---|---|---|")
    print(
        f"| write_reports, {n} students (best of {repeat}) | {best:.2f} s "
        f"({files} files, {size / 2**20:.1f} MiB) | |"
    )
    print(f"| per student | {best / n * 1000:.1f} ms | |")
    # A small class says too little about 1,000 (one run, a noisy CI machine): no verdict.
    verdict = (
        ("pass" if per_1000 < TARGET_SECONDS else "MISS")
        if n >= TARGET_N
        else "judged on a full run"
    )
    print(
        f"| scaled to {TARGET_N} students | {per_1000:.2f} s | < {TARGET_SECONDS:g} s: {verdict} |"
    )
    print(f"runs (s): {', '.join(f'{r[0]:.2f}' for r in runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
