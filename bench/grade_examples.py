"""Benchmark: `grader grade examples/submissions`, wall time and peak memory.

Peak memory is the RSS summed over the whole process tree (grader, sandbox runner and
its forked children), sampled every 20 ms from /proc. Linux only.

    python bench/grade_examples.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list[str]) -> tuple[float, int, int]:
    """(seconds, peak tree RSS KiB, peak single-process RSS KiB)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_tree = peak_one = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_one
        while not done.is_set():
            sizes = [rss_kib(p) for p in descendants(proc.pid)]
            peak_tree = max(peak_tree, sum(sizes))
            peak_one = max(peak_one, max(sizes, default=0))
            time.sleep(0.02)

    started = time.monotonic()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    elapsed = time.monotonic() - started
    done.set()
    thread.join()
    if code != 0:
        sys.exit(f"grader exited with {code}")
    return elapsed, peak_tree, peak_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    students = len([p for p in (ROOT / "examples" / "submissions").iterdir() if p.is_dir()])
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            rows.append(measure([sys.executable, "-m", "grader", "grade", "examples/submissions", "--out", out]))
        import_torch = min(measure([sys.executable, "-c", "import torch"])[0] for _ in range(3))
    best = min(rows)
    print(f"grader grade examples/submissions ({students} students, 11 exercises), best of {args.repeat}")
    print(f"{'wall time':32} {best[0]:8.1f} s   (runs: {', '.join(f'{r[0]:.1f}' for r in rows)})")
    print(f"{'per submission (incl. reference)':32} {best[0] / students:8.1f} s")
    print(f"{'peak RSS, whole process tree':32} {max(r[1] for r in rows) / 1024:8.0f} MiB")
    print(f"{'peak RSS, largest process':32} {max(r[2] for r in rows) / 1024:8.0f} MiB")
    label = 'python -c "import torch"'
    print(f"{label:32} {import_torch:8.2f} s")


if __name__ == "__main__":
    main()
