"""Benchmark: what the bubblewrap sandbox costs per submission.

Grades one full submission (all eleven exercises) with each sandbox kind, several
times through a started worker (so torch's import is not counted), and times an empty
sandbox start (paid once per worker). Prints a table.

    python bench/sandbox_overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course.loading import load_course  # noqa: E402
from grader.grading.grader import Grader  # noqa: E402
from grader.sandbox import bwrap  # noqa: E402
from grader.sandbox.choice import choose  # noqa: E402
from grader.submissions.folders import collect  # noqa: E402


def grade_seconds(kind: str, repeat: int) -> list[float]:
    course = load_course(ROOT)
    times = []
    # The fallback unconfined even as root: this measures the sandbox, not the root
    # fallback's users (whose Python may be one they cannot reach, under /root).
    with Grader(course, sandbox=choose(kind).unconfined()) as g:
        g.reference()  # computed once, outside the timing
        for _ in range(repeat):
            started = time.monotonic()
            g.grade_submission(collect(ROOT / "examples" / "submissions" / "ada_correct", course))
            times.append(time.monotonic() - started)
    return times


def start_seconds(repeat: int) -> tuple[float, float]:
    """An empty sandbox start: `true` inside bubblewrap, against `true` outside."""
    with tempfile.TemporaryDirectory() as tmp:
        box, shared = Path(tmp) / "box", Path(tmp) / "shared"
        box.mkdir()
        shared.mkdir()
        inside = bwrap.command(box, shared, {}, ["/bin/true"])
        results = []
        for cmd in (inside, ["/bin/true"]):
            runs = []
            for _ in range(repeat):
                started = time.monotonic()
                subprocess.run(cmd, check=True)
                runs.append(time.monotonic() - started)
            results.append(statistics.median(runs))
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    usable, why = bwrap.availability()
    if not usable:
        sys.exit(f"bubblewrap is not usable here: {why}")
    plain = grade_seconds("subprocess", args.repeat)
    wrapped = grade_seconds("bubblewrap", args.repeat)
    empty_inside, empty_outside = start_seconds(20)
    p, w = statistics.median(plain), statistics.median(wrapped)
    print(f"one full submission (11 exercises, 86 checks), median of {args.repeat}")
    print(f"{'plain subprocess':28} {p:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in plain)})")
    print(
        f"{'bubblewrap sandbox':28} {w:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in wrapped)})"
    )
    print(f"{'overhead per submission':28} {w - p:+7.2f} s   ({100 * (w - p) / p:+.1f} %)")
    print(
        f"{'empty sandbox start':28} {1000 * (empty_inside - empty_outside):7.1f} ms  "
        "(bwrap + true vs true)"
    )


if __name__ == "__main__":
    main()
