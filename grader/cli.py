"""The ``grader`` command: build, check, validate, grade.

Exit status: 0 when the command did its job (whatever the students' scores); 1 when
``check`` or ``validate`` found failures; 2 when the grader itself could not run, with
one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import grader
from grader.course import Course, load_course
from grader.sandbox.launch import KINDS, Sandbox, SandboxUnavailable, choose
from grader.schema import ExerciseError


class UsageError(Exception):
    pass


def _course_root(args: argparse.Namespace) -> Path:
    root = Path(args.course)
    if not (root / "exercises").is_dir():
        raise UsageError(f"{root.resolve()} is not a course folder (no exercises/); use --course DIR")
    return root


def _course(args: argparse.Namespace, resolve_helpers: bool = True) -> Course:
    return load_course(_course_root(args), resolve_helpers=resolve_helpers)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sandbox(args: argparse.Namespace) -> Sandbox:
    sandbox = choose(args.sandbox)
    warning = sandbox.warning()
    if warning:
        _say(f"WARNING: {warning}")
    return sandbox


def cmd_doctor(args: argparse.Namespace) -> int:
    from grader.sandbox import cgroups

    try:
        sandbox = choose(args.sandbox)
    except SandboxUnavailable as exc:
        print(f"sandbox: unavailable: {exc}")
        return 1
    print(f"sandbox: {sandbox.kind} ({sandbox.reason})")
    if not sandbox.isolated:
        print("  student code can read this machine's files and use its network; install bubblewrap")
    group = cgroups.create(8, 2**30)
    if group is None:
        print("process and memory caps: per process only (no writable cgroup): RLIMIT_AS per file"
              + ("; RLIMIT_NPROC" if os.geteuid() != 0 else "; no process cap for root"))
    else:
        print(f"process and memory caps: a cgroup per run ({', '.join(str(f.parent) for f in group.folders)})")
        group.remove()
    print(f"python: {sys.executable} (torch-grader {grader.__version__})")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.gradebook import Interrupted, grade_course, start_pool
    from grader.submissions import student_folders

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    _course_root(args)  # a wrong folder is said before any worker starts
    sandbox = _sandbox(args)
    out = Path(args.out)
    try:
        with start_pool(sandbox, args.jobs) as pool:  # a worker starts first: torch takes a while
            course = _course(args, resolve_helpers=False)  # helpers (and torch) only if there is work
            folders = student_folders(Path(args.submissions), course)
            outcome = grade_course(course, folders, out, sandbox, seed=args.seed, jobs=args.jobs,
                                   force=args.force, stream=sys.stderr, pool=pool)
    except Interrupted as exc:
        _say(f"grader: {exc}")
        return 130
    for warning in outcome.run.warnings:
        _say(f"warning: {warning}")
    _say(f"{outcome.summary}; wrote {len(outcome.written)} files to {out}/ (open {out / 'index.html'})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from grader.checking import run_visible_examples

    target = Path(args.target)
    if not target.exists():
        raise UsageError(f"{target} does not exist")
    return run_visible_examples(target, args.course, print, choose(args.sandbox))


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.validation import validate

    course = _course(args)
    return validate(course, seeds=args.seeds, say=print, sandbox=_sandbox(args))


def cmd_build(args: argparse.Namespace) -> int:
    from grader.build import build_bundle

    course = _course(args)
    out = Path(args.out)
    written = build_bundle(course, out)
    _say(f"wrote {len(written)} files for {len(course.exercises)} exercises to {out}/")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade PyTorch exercises safely.")
    p.add_argument("--version", action="version", version=f"torch-grader {grader.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def course_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--course", default=".", help="the course folder (holding exercises/ and solutions/)")

    def sandbox_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--sandbox", choices=KINDS, default=None,
                        help="where student code runs: bubblewrap, or a plain subprocess; auto (default, "
                             "or $GRADER_SANDBOX) uses bubblewrap when it works here")

    g = sub.add_parser("grade", help="grade submissions and write reports",
                       description="Grade every submission and write reports. Only what changed since "
                                   "the last run (a student's files, an exercise, the grader) is graded "
                                   "again; results are kept in OUT/grades.sqlite. An interrupted run "
                                   "resumes where it stopped.")
    g.add_argument("submissions", help="a folder of student folders, or one student's folder")
    g.add_argument("--out", default="reports", help="where reports go (default: reports/)")
    g.add_argument("--seed", type=int, default=0, help="seed for the hidden checks' inputs (default 0)")
    g.add_argument("-j", "--jobs", type=int, default=None,
                   help="submissions graded at once (default: the number of CPU cores)")
    g.add_argument("--force", action="store_true",
                   help="grade everything again, ignoring results kept from earlier runs")
    course_opt(g)
    sandbox_opt(g)
    g.set_defaults(fn=cmd_grade)

    c = sub.add_parser("check", help="run the visible examples on your work")
    c.add_argument("target", help="a solution file (FILE.py / FILE.ipynb) or a folder of them")
    c.add_argument("--course", default=None, help="a course folder or a student bundle (default: found nearby)")
    sandbox_opt(c)
    c.set_defaults(fn=cmd_check)

    v = sub.add_parser("validate", help="check the course: solutions pass, stubs score zero, across seeds")
    v.add_argument("--seeds", type=int, default=20, help="seeds tried for random checks (default 20)")
    course_opt(v)
    sandbox_opt(v)
    v.set_defaults(fn=cmd_validate)

    d = sub.add_parser("doctor", help="say which sandbox and limits are in force here, and why")
    sandbox_opt(d)
    d.set_defaults(fn=cmd_doctor)

    b = sub.add_parser("build", help="write the student bundle: stubs (.py, .ipynb) and examples")
    b.add_argument("--out", default="student-bundle", help="output folder (default: student-bundle/)")
    course_opt(b)
    b.set_defaults(fn=cmd_build)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from grader.errors import GraderError
    from grader.store import StoreError

    try:
        return int(args.fn(args))
    except ExerciseError as exc:
        _say(f"grader: {exc}")
    except (UsageError, GraderError, StoreError, SandboxUnavailable, OSError) as exc:
        _say(f"grader: {exc}")
    except KeyboardInterrupt:
        _say("grader: interrupted")
        return 130
    return 2


def run() -> None:
    """The console entry point: run, flush, and leave without tearing down torch's
    modules one by one (about half a second, after all the work is done)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

