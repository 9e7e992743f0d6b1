"""The floor: what grading a class could cost if it did nothing but the students' work.

Runs the same entry points on the same hidden inputs as ``grader grade`` (same plan,
same seeds, same per-check time limits), in ONE warm process: no sandbox, no fork, no
judging, no result writing, no reference solution. A check that loops forever costs
exactly its time limit, as in the grader. torch runs on one thread, as in the sandbox.

Not a sandbox: a student's ``os._exit`` or a change to torch's global state would
affect this process. The generated benchmark submissions do neither.

    python bench/floor.py SUBMISSIONS [--seed 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Overtime(BaseException):
    """Raised by the alarm when a check or an import exceeds its time limit (a
    BaseException, so a student's ``except Exception`` cannot swallow it)."""


def _alarm(signum: int, frame: object) -> None:
    raise Overtime()


def limited(fn: Callable[[], Any], seconds: float) -> Any:
    """Run ``fn`` with an ITIMER_REAL alarm after ``seconds``."""
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.001))
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def student_folders(submissions: Path, files: set[str]) -> list[Path]:
    """Like the grader: ``submissions`` itself if it holds exercise files, else its
    subfolders."""
    names = {f"{f}{ext}" for f in files for ext in (".py", ".ipynb")}
    if any((submissions / n).exists() for n in names):
        return [submissions]
    return sorted(
        (
            p
            for p in submissions.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        ),
        key=lambda p: p.name,
    )


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def floor_seconds(
    course_root: Path, submissions: Path, seed: int = 0, outcomes: dict[str, Counter] | None = None
) -> tuple[float, dict[str, float]]:
    """(total seconds, student -> seconds) to run every student's entry points on the
    hidden inputs in this warm process. Setup (torch import, warm-up, the plan, the
    inputs, one untimed pass over the reference solutions) happens before the clock.
    ``outcomes``, if given, receives per student a count of ``ok``, ``error``, ``timeout``
    checks and ``load-failed`` files."""
    import torch
    from safetensors.torch import load as safetensors_load
    from safetensors.torch import save as safetensors_save

    from grader.course.loading import load_course
    from grader.grading.plan import build_plan
    from grader.sandbox.inside.runner import perform_steps, seed_everything, warm_up

    torch.set_num_threads(1)  # as the sandbox runs each check
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    warm_up()
    course = load_course(Path(course_root))
    plan = build_plan(course, seed)
    jobs = {ex.file: plan.job_for([ex], seed)["files"][0] for ex in course.exercises}
    folders = [f.resolve() for f in student_folders(Path(submissions), set(jobs))]
    per_student: dict[str, float] = {}
    skipped: list[str] = []
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    old_cwd, old_path = os.getcwd(), list(sys.path)
    scratch = Path(tempfile.mkdtemp(prefix="floor-"))
    try:
        # The inputs as the sandbox gets them: plan.tensors through safetensors (as the
        # plan's own write_inputs does; done here in memory, independent of its file layout).
        inputs = safetensors_load(safetensors_save(plan.tensors)) if plan.tensors else {}
        with (
            open(os.devnull, "w") as quiet,
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            # Untimed: one pass over the reference solutions pays every first-use cost.
            _run_student(
                Path(course_root).resolve() / "solutions",
                -1,
                jobs,
                inputs,
                scratch,
                seed,
                [],
                Counter(),
                perform_steps,
                seed_everything,
            )
            started = time.perf_counter()
            for index, folder in enumerate(folders):
                t0 = time.perf_counter()
                counts = Counter()
                _run_student(
                    folder,
                    index,
                    jobs,
                    inputs,
                    scratch,
                    seed,
                    skipped,
                    counts,
                    perform_steps,
                    seed_everything,
                )
                if outcomes is not None:
                    outcomes[folder.name] = counts
                per_student[folder.name] = time.perf_counter() - t0
        total = time.perf_counter() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        os.chdir(old_cwd)
        sys.path[:] = old_path
        shutil.rmtree(scratch, ignore_errors=True)
    if skipped:
        print(
            f"floor: skipped {len(skipped)} notebook(s) (not run by the floor): "
            + ", ".join(skipped[:5])
            + (" ..." if len(skipped) > 5 else ""),
            file=sys.stderr,
        )
    return total, per_student


def _run_student(
    folder: Path,
    index: int,
    jobs: dict[str, dict],
    inputs: dict,
    scratch: Path,
    seed: int,
    skipped: list[str],
    counts: Counter,
    perform_steps: Callable,
    seed_everything: Callable[[int], None],
) -> None:
    """One student's whole course: import each file, run each of its checks."""
    work = scratch / f"{index + 1:05d}"
    saved_path = list(sys.path)
    sys.path.insert(0, str(folder))
    loaded: list[str] = []
    try:
        for name, file_job in jobs.items():
            source = folder / f"{name}.py"
            if not source.is_file():
                if (folder / f"{name}.ipynb").exists():
                    skipped.append(f"{folder.name}/{name}.ipynb")
                continue
            for sibling in jobs:  # a sibling import gets this student's file, not a cached one
                sys.modules.pop(sibling, None)
            module_name = f"_floor_{index}_{name}"
            loaded.append(module_name)
            workdir = work / name
            workdir.mkdir(parents=True)
            os.chdir(workdir)
            seed_everything(seed)
            try:
                module = limited(
                    lambda s=source, m=module_name: _load(s, m), file_job["load_timeout"]
                )
            except BaseException:  # noqa: B036 - a failed import is normal student work
                counts["load-failed"] += 1
                continue
            for call in file_job["calls"]:
                call_dir = work / call["id"]
                call_dir.mkdir(parents=True, exist_ok=True)
                os.chdir(call_dir)
                seed_everything(int(call.get("seed", 0)))
                try:
                    limited(
                        lambda m=module, c=call, d=call_dir: perform_steps(m, c, inputs, d),
                        call["timeout"],
                    )
                    counts["ok"] += 1
                except Overtime:
                    counts["timeout"] += 1
                except BaseException:  # noqa: B036 - errors, sys.exit: normal student work
                    counts["error"] += 1
    finally:
        sys.path[:] = saved_path
        for name in loaded + list(jobs):
            sys.modules.pop(name, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--course", type=Path, default=ROOT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write {'total': s, 'students': {id: s}} to this file",
    )
    args = parser.parse_args()
    outcomes: dict[str, Counter] = {}
    total, per_student = floor_seconds(args.course, args.submissions, args.seed, outcomes)
    if args.json:
        args.json.write_text(json.dumps({"total": total, "students": per_student}, indent=1))
    n = len(per_student)
    print(f"floor: {n} submission(s) in {total:.2f} s ({total / max(n, 1):.3f} s per submission)")
    slowest = sorted(per_student.items(), key=lambda kv: -kv[1])[:5]
    print(
        "checks: "
        + ", ".join(f"{v} {k}" for k, v in sorted(sum(outcomes.values(), Counter()).items()))
    )
    print("slowest: " + ", ".join(f"{s} {t:.2f} s" for s, t in slowest))


if __name__ == "__main__":
    main()
