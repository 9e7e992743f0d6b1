"""Benchmark: what a notebook submission costs against a .py submission with the same code.

Generates two classes of N students who all hand in the eleven reference solutions:
class ``py`` as ``FILE.py``, class ``ipynb`` as ``FILE.ipynb``. Each notebook starts
from the stub ``grader build`` writes (``grader.build.notebook``): the solution file's
text goes into the first cell tagged ``role: solution`` (the other solution cells are
removed), the setup, helper and example cells are dropped, so the notebook's code is
exactly the .py file's (the setup cell's imports are the solution's first lines); the
markdown stays, and the solution cell carries saved outputs of a typical size (a
~30 KB PNG display_data and a few stream outputs). Every file starts with a comment
naming its student, in both classes; nothing else differs.

Then, on this machine, with the real CLI in subprocesses:

- ``grader grade CLASS --out OUT --jobs 2 --force`` on each class (best of --repeat,
  the two classes alternating, a fresh OUT per run);
- a cold single submission of each kind (one student's folder; best of --repeat);

and in this process:

- ``grader.submissions.notebooks.read_notebook`` on one of the class's notebooks (alone, and with
  ``cells_to_source``, which judges that read code ask for) and on one with 50 MB of base64 PNG
  outputs; ``cells_to_source``'s import of IPython, paid once per grader process, is
  timed apart in a fresh interpreter;
- the reference path, for context: executing two of the class's notebooks with nbclient
  and a real kernel, as a grader running a kernel per notebook would (before any check).

Every graded student must score full marks in both classes, with every file graded as
the kind its class submitted; otherwise the comparison is meaningless and the run
fails. Linux only.

    python bench/notebooks.py               # N = 40, best of 2
    python bench/notebooks.py --quick       # N = 4, one repeat (CI smoke)
    python bench/notebooks.py --out DIR     # keep the classes, reports and logs in DIR

Exit status 0 when every run completed (it is a measurement, there are no targets);
1 when a grader run failed (an exit code other than 0, no results.json, or not full
marks) or a kernel run failed.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course.build import notebook as stub_notebook  # noqa: E402
from grader.course.loading import load_course  # noqa: E402
from grader.course.model import Course, Exercise  # noqa: E402
from grader.submissions.notebooks import cells_to_source, read_notebook  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import Run, grade_cmd, machine_line, measure, sandbox_line  # noqa: E402

KINDS = ("py", "ipynb")
KERNEL_FILES = ("training_loop", "tensor_ops")  # notebooks run through a real kernel
KERNEL_TIMEOUT = 120  # s per cell, nbclient's timeout
PNG_SIDE = 100  # a 100 x 100 RGB noise PNG: ~30 KB, the size of a small matplotlib figure
BIG_MB = 50  # the large notebook: this many MB of base64 PNG outputs
BIG_IMAGE_SIDE = 512  # its images: ~770 KB of PNG, ~1 MB of base64 each
PARSE_LOOPS = 200  # read_notebook calls per timing of the class's (small) notebook
DROPPED_ROLES = ("setup", "helper", "example")


# --------------------------------------------------------------------------- the classes
def png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG of random pixels (incompressible: its size is width * height * 3)."""
    rng = random.Random(seed)
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def image_output(png_b64: str):
    import nbformat

    return nbformat.v4.new_output(
        "display_data",
        data={"image/png": png_b64, "text/plain": "<Figure size 640x480 with 1 Axes>"},
        metadata={},
    )


def saved_outputs(png_b64: str) -> list:
    """What a cell holds after a student ran it: a few prints, a warning, one figure."""
    import nbformat

    new = nbformat.v4.new_output
    losses = "".join(f"epoch {e:3d}  loss {1.5 * 0.93**e:.4f}\n" for e in range(0, 200, 10))
    return [
        new("stream", name="stdout", text="torch 2 ready; trying my functions\n"),
        new("stream", name="stdout", text=losses),
        new("stream", name="stderr", text="UserWarning: the figure layout has changed to tight\n"),
        image_output(png_b64),
        new("stream", name="stdout", text="all my examples PASS\n"),
    ]


def class_notebook(ex: Exercise, code: str, png_b64: str, dropped: Counter):
    """The stub notebook of ``ex`` holding ``code`` (the .py file's text) as its only code."""
    import nbformat

    nb = stub_notebook(ex)
    cells, placed = [], False
    for cell in nb.cells:
        if cell.cell_type != "code":
            cells.append(cell)  # the prompt and the examples' heading
            continue
        role = (cell.metadata.get("grader") or {}).get("role")
        if role == "solution":
            if not placed:
                cell.source = code.rstrip("\n")
                cell.execution_count = 1
                cell.outputs = saved_outputs(png_b64)
                cells.append(cell)
                placed = True
            else:
                dropped["solution (after the first)"] += 1
        elif role in DROPPED_ROLES:
            dropped[role] += 1
        else:
            raise SystemExit(
                f"notebooks.py: the stub of {ex.id} has a code cell of role {role!r}; "
                "this benchmark knows setup, solution, helper and example: update it"
            )
    if not placed:
        raise SystemExit(f"notebooks.py: the stub of {ex.id} has no solution cell")
    nb.cells = cells
    nbformat.validate(nb)
    return nb


@dataclass
class Classes:
    root: Path
    students: list[str]
    files: list[str]  # exercise file names (tensor_ops, ...)
    dropped: Counter
    sizes: dict[str, int]  # kind -> bytes of one student's eleven files

    def folder(self, kind: str) -> Path:
        return self.root / kind


def generate(course: Course, root: Path, n: int) -> Classes:
    import nbformat

    png_b64 = base64.b64encode(png(PNG_SIDE, PNG_SIDE, seed=0)).decode("ascii")
    solutions = {
        ex.file: (course.solutions / f"{ex.file}.py").read_text(encoding="utf-8")
        for ex in course.exercises
    }
    students = [f"s{i:04d}" for i in range(1, n + 1)]
    dropped: Counter = Counter()
    sizes = dict.fromkeys(KINDS, 0)
    for student in students:
        py_dir, nb_dir = root / "py" / student, root / "ipynb" / student
        py_dir.mkdir(parents=True)
        nb_dir.mkdir(parents=True)
        for ex in course.exercises:
            code = f"# submitted by {student}\n{solutions[ex.file]}"
            (py_dir / f"{ex.file}.py").write_text(code, encoding="utf-8")
            nb = class_notebook(ex, code, png_b64, dropped if student == students[0] else Counter())
            nbformat.write(nb, nb_dir / f"{ex.file}.ipynb")
            if student == students[0]:
                sizes["py"] += (py_dir / f"{ex.file}.py").stat().st_size
                sizes["ipynb"] += (nb_dir / f"{ex.file}.ipynb").stat().st_size
    return Classes(root, students, [ex.file for ex in course.exercises], dropped, sizes)


# --------------------------------------------------------------------------- runs
def marks_problem(out: Path, students: list[str], kind: str, files: list[str]) -> str:
    """Why OUT/results.json does not show every student with full marks, every file
    graded as ``kind`` ("" when it does)."""
    path = out / "results.json"
    if not path.is_file():
        return f"exit 0 but no {path}"
    data = json.loads(path.read_text(encoding="utf-8"))
    found = {s.get("id"): s for s in data.get("students", [])}
    problems = []
    if sorted(found) != sorted(students):
        missing, extra = sorted(set(students) - set(found)), sorted(set(found) - set(students))
        problems.append(f"students graded differ: missing {missing[:5]}, unexpected {extra[:5]}")
    expected_files = {f"{name}.{kind}" for name in files}
    for sid in students:
        student = found.get(sid)
        if student is None:
            continue
        exercises = student.get("exercises", [])
        graded = {e.get("file") for e in exercises}
        if graded != expected_files:
            problems.append(
                f"{sid}: files graded {sorted(map(str, graded))}, expected every "
                f"exercise as .{kind}"
            )
        for e in exercises:
            if e.get("score") != e.get("max_score"):
                message = " ".join(str(e.get("message", "")).split())[:240]
                problems.append(
                    f"{sid} {e.get('file')}: {e.get('score')}/{e.get('max_score')} "
                    f"({e.get('status')}): {message}"
                )
    if not problems:
        return ""
    shown = problems[:12] + ([f"... and {len(problems) - 12} more"] if len(problems) > 12 else [])
    return (
        f"NOT every student at full marks with every file graded as .{kind}: the comparison "
        "is meaningless:\n      " + "\n      ".join(shown)
    )


def load_text() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


# --------------------------------------------------------------------------- in-process parts
def best_ms(fn, loops: int, repeat: int) -> float:
    """Best over ``repeat`` timings of the mean of ``loops`` calls, in ms."""
    fn()  # warm: imports, caches
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - started) / loops)
    return best * 1000


def parse_ms(path: Path, repeat: int) -> float:
    """Best time of one read_notebook call on the file at ``path``, in ms."""
    raw = path.read_bytes()
    return best_ms(lambda: read_notebook(raw), 1, repeat)


def big_notebook(source: Path, target: Path) -> int:
    """``source`` with BIG_MB MB of base64 PNG outputs added; returns the file's size."""
    import nbformat

    nb = nbformat.read(source, as_version=4)
    image = base64.b64encode(png(BIG_IMAGE_SIDE, BIG_IMAGE_SIDE, seed=1)).decode("ascii")
    count = -(-BIG_MB * 10**6 // len(image))
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for i in range(count):
        code_cells[i % len(code_cells)].outputs.append(image_output(image))
    nbformat.write(nb, target)
    return target.stat().st_size


def import_seconds(module: str, repeat: int) -> float:
    """Best time of ``import module`` in a fresh interpreter (the import alone)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeat):
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode == 0:
            times.append(float(result.stdout.strip()))
    return min(times) if times else float("nan")


def kernel_seconds(path: Path, workdir: Path, repeat: int) -> tuple[float, str]:
    """Best time to execute the notebook at ``path`` with nbclient and a fresh python3
    kernel (start, every cell, shutdown); and a problem ("" when none)."""
    import nbformat
    from nbclient import NotebookClient

    original = nbformat.read(path, as_version=4)
    best, problem = float("inf"), ""
    for _ in range(repeat):
        nb = copy.deepcopy(original)
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=KERNEL_TIMEOUT,
            allow_errors=True,
            resources={"metadata": {"path": str(workdir)}},
        )
        started = time.monotonic()
        try:
            client.execute()
        except Exception as exc:  # a dead or hung kernel: report it, do not hide it
            return float("nan"), f"{type(exc).__name__}: {exc}"
        best = min(best, time.monotonic() - started)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "error"
        ]
        if errors:
            problem = f"a cell raised {errors[0].ename}: {errors[0].evalue}"
    return best, problem


# --------------------------------------------------------------------------- table
@dataclass
class Table:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def render(self) -> str:
        rows = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.header))]
        lines = [
            "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)


def diff_text(py: float, nb: float, scale: float = 1000, unit: str = "ms", digits: int = 0) -> str:
    return f"{(nb - py) * scale:+.{digits}f} {unit} ({(nb - py) / py * 100:+.1f}%)"


# --------------------------------------------------------------------------- main
def benchmark(
    classes: Classes, runs: Path, n: int, repeat: int, timeout: float, failures: list[str]
) -> tuple[Table, Table, list[str]]:
    notes: list[str] = []

    def graded(label: str, subs: Path, kind: str, students: list[str], **options) -> Run:
        print(f"  {label} ...", file=sys.stderr, flush=True)
        out = runs / f"out-{label}"
        result = measure(
            grade_cmd(subs, out, **options), runs / f"{label}.log", timeout, sample=False
        )
        problem = marks_problem(out, students, kind, classes.files) if result.ok else ""
        if problem:
            result.fail(problem)
        if not result.ok:
            failures.append(result.failure())
        return result

    full: dict[str, list[Run]] = {k: [] for k in KINDS}
    cold: dict[str, list[Run]] = {k: [] for k in KINDS}
    first = classes.students[0]
    for i in range(1, repeat + 1):  # alternate the classes: drift hits both alike
        for kind in KINDS:
            full[kind].append(
                graded(
                    f"{kind}-full-{i}",
                    classes.folder(kind),
                    kind,
                    classes.students,
                    jobs=2,
                    force=True,
                )
            )
    for i in range(1, repeat + 1):
        for kind in KINDS:
            cold[kind].append(
                graded(f"{kind}-cold-{i}", classes.folder(kind) / first, kind, [first])
            )

    def best(results: list[Run]) -> float | None:
        good = [r.seconds for r in results]
        return min(good) if results and all(r.ok for r in results) else None

    grading = Table(("measurement", "py", "ipynb", "ipynb - py"))
    full_py, full_nb = best(full["py"]), best(full["ipynb"])
    label = f"grade --jobs 2 --force, {n} students (best of {repeat})"
    if full_py is not None and full_nb is not None:
        grading.add(
            label, f"{full_py:.1f} s", f"{full_nb:.1f} s", diff_text(full_py, full_nb, 1, "s", 1)
        )
        per_py, per_nb = full_py / n, full_nb / n
        grading.add(
            "  per submission (11 files)",
            f"{per_py:.3f} s",
            f"{per_nb:.3f} s",
            diff_text(per_py, per_nb),
        )
        grading.add(
            "  per file",
            f"{per_py / len(classes.files) * 1000:.0f} ms",
            f"{per_nb / len(classes.files) * 1000:.0f} ms",
            f"{(per_nb - per_py) / len(classes.files) * 1000:+.1f} ms",
        )
        spread = {k: ", ".join(f"{r.seconds:.1f}" for r in full[k]) for k in KINDS}
        notes.append(f"full grades, every run (s): py {spread['py']}; ipynb {spread['ipynb']}")
    else:
        grading.add(
            label, *(f"{b:.1f} s" if b is not None else "FAILED" for b in (full_py, full_nb)), "-"
        )
    cold_py, cold_nb = best(cold["py"]), best(cold["ipynb"])
    label = f"cold single submission, {first} (best of {repeat})"
    if cold_py is not None and cold_nb is not None:
        grading.add(label, f"{cold_py:.2f} s", f"{cold_nb:.2f} s", diff_text(cold_py, cold_nb))
    else:
        grading.add(
            label, *(f"{b:.2f} s" if b is not None else "FAILED" for b in (cold_py, cold_nb)), "-"
        )
    grading.add(
        "one submission's files (bytes)",
        f"{classes.sizes['py']:,}",
        f"{classes.sizes['ipynb']:,}",
        f"x{classes.sizes['ipynb'] / classes.sizes['py']:.0f}",
    )

    # ---- the notebook alone, in this process
    print("  parse and kernel ...", file=sys.stderr, flush=True)
    parts = Table(("notebook part", "measured", "what"))
    sample = classes.folder("ipynb") / first / "training_loop.ipynb"
    raw = sample.read_bytes()
    parsed = read_notebook(raw)
    ms = best_ms(lambda: read_notebook(raw), PARSE_LOOPS, repeat)
    parts.add(
        f"read_notebook, {sample.name} of the class ({len(raw) / 1000:.0f} KB)",
        f"{ms:.3f} ms",
        f"mean of {PARSE_LOOPS} calls, best of {repeat}",
    )
    ms = best_ms(lambda: cells_to_source(read_notebook(raw).cells), PARSE_LOOPS, repeat)
    parts.add(
        "  read_notebook + cells_to_source (for judges that read code)",
        f"{ms:.3f} ms",
        f"{len(parsed.cells)} code cell(s); warm",
    )
    if full_py is not None and full_nb is not None:
        extra = (full_nb - full_py) / n * 1000
        parse = ms * len(classes.files)
        notes.append(
            f"the grader's own reading of a submission's {len(classes.files)} notebooks "
            f"(read_notebook + cells_to_source, warm) is {parse:.1f} ms of the {extra:+.0f} ms "
            "per submission; the rest is outside the parse (staging the cells, running them "
            "through IPython in the sandbox instead of importing a module)"
        )
    with tempfile.TemporaryDirectory(prefix="grader-nb-big-") as tmp:
        big = Path(tmp) / sample.name
        size = big_notebook(sample, big)
        ms = parse_ms(big, repeat)
    parts.add(
        f"read_notebook, {size / 1e6:.0f} MB of base64 PNG outputs",
        f"{ms:.0f} ms",
        f"best of {repeat}; the grader's limit is 100 MB",
    )
    seconds = import_seconds("IPython.core.inputtransformer2", repeat)
    parts.add(
        "import IPython.core.inputtransformer2 (cells_to_source)",
        f"{seconds * 1000:.0f} ms",
        "once per grader process that judges a notebook's code; fresh interpreter",
    )
    seconds = import_seconds("torch", repeat)
    parts.add("import torch, for scale", f"{seconds:.2f} s", "fresh interpreter")
    kernel_times = []
    for name in KERNEL_FILES:
        path = classes.folder("ipynb") / first / f"{name}.ipynb"
        work = runs / f"kernel-{name}"
        work.mkdir(exist_ok=True)
        seconds, problem = kernel_seconds(path, work, repeat)
        if problem:
            failures.append(f"FAILED: nbclient on {path}: {problem}\n")
        label = f"nbclient + python3 kernel, {path.name}"
        if seconds == seconds:  # not nan
            kernel_times.append(seconds)
            parts.add(
                label,
                f"{seconds:.2f} s",
                f"start, run, shut down; best of {repeat}" + (f"; {problem}" if problem else ""),
            )
        else:
            parts.add(label, "FAILED", problem)
    if kernel_times:
        mean = sum(kernel_times) / len(kernel_times)
        parts.add(
            "  a kernel per notebook, x11 files (estimate)",
            f"{mean * len(classes.files):.1f} s",
            "per submission, before any check runs; serial",
        )
        if full_nb is not None:
            notes.append(
                f"a kernel per notebook would cost ~{mean * len(classes.files) / 2:.1f} s per "
                f"submission on 2 cores before any check, against {full_nb / n:.2f} s for the "
                "whole grade of an ipynb submission here"
            )
    dropped = ", ".join(f"{count} {role}" for role, count in sorted(classes.dropped.items()))
    notes.insert(
        0,
        f"notebooks: the stub's markdown kept; the solution text in its first solution cell; "
        f"dropped from the {len(classes.files)} stubs: {dropped} cell(s), so the code is "
        "exactly the .py file's; saved outputs per notebook: 4 stream outputs and one "
        f"{len(png(PNG_SIDE, PNG_SIDE, seed=0)) / 1000:.0f} KB PNG display_data",
    )
    return grading, parts, notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="students per class (default 40)")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs (default 2)")
    parser.add_argument("--quick", action="store_true", help="CI smoke: N = 4 and one repeat")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="keep the classes, reports and logs in this (new or empty) folder",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds per grader run before it is killed (default 3600)",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 4, 1
    if args.n < 1 or args.repeat < 1:
        parser.error("-n and --repeat must be at least 1")
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        parser.error(f"--out {args.out} is not empty")
    started = time.monotonic()
    course = load_course(ROOT, resolve_helpers=False)
    with tempfile.TemporaryDirectory(prefix="grader-nb-bench-") as tmp:
        work = (args.out or Path(tmp)).resolve()
        runs = work / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        classes = generate(course, work / "classes", args.n)
        print(
            f"torch-grader notebooks: .ipynb vs .py with the same code; N = {args.n} students "
            f"per class, each handing in all {len(classes.files)} reference solutions; "
            f"repeat {args.repeat}"
        )
        print(f"{machine_line(sandbox_line())}; {load_text()} at the start", flush=True)
        failures: list[str] = []
        grading, parts, notes = benchmark(
            classes, runs, args.n, args.repeat, args.timeout, failures
        )
        print()
        print(grading.render())
        print()
        print(parts.render())
        print()
        for note in notes:
            print(f"note: {note}")
        for failure in failures:
            print(failure, end="")
        if args.out is not None:
            print(f"kept: the classes in {classes.root}, the runs' reports and logs in {runs}")
        print(
            f"wall time: {time.monotonic() - started:.0f} s; {load_text()} at the end "
            "(other work on the machine skews every figure)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
