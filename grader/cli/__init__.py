"""The ``grader`` command: build, check, validate, grade, similarity.

Exit status: 0 when the command did its job (whatever the students' scores); 1 when
``check`` or ``validate`` found failures; 2 when the grader itself could not run, with
one line on stderr saying why.

The top of the pipeline: it may import every package of grader (most lazily, so that
``grader --help`` stays quick); nothing imports it but ``grader.__main__``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grader
from grader.course.loading import load_course
from grader.course.model import Course
from grader.course.schema import ExerciseError
from grader.sandbox.choice import KINDS, Sandbox, SandboxUnavailable, choose
from grader.terminal import safe_line, stop_token


class UsageError(Exception):
    pass


def _course_root(args: argparse.Namespace) -> Path:
    root = Path(args.course)
    if not (root / "exercises").is_dir():
        raise UsageError(
            f"{root.resolve()} is not a course folder (no exercises/); use --course DIR"
        )
    return root


def _course(args: argparse.Namespace, resolve_helpers: bool = True) -> Course:
    return load_course(_course_root(args), resolve_helpers=resolve_helpers)


def _say(message: str) -> None:
    """One line on stderr. Many carry student text (folder names, messages), so every
    one is made safe for a terminal and a CI log (grader/terminal.py)."""
    print(safe_line(message), file=sys.stderr, flush=True)


def _sandbox(args: argparse.Namespace) -> Sandbox:
    sandbox = choose(args.sandbox)
    warning = sandbox.warning()
    if warning:
        _say(f"WARNING: {warning}")
    return sandbox


def cmd_doctor(args: argparse.Namespace) -> int:
    """Where this runs, the kernel facts that decide the sandbox, the sandbox in force and
    why, and (when it is not bubblewrap) the cause and what to do here: a ``key: value``
    line each, or one JSON object with --json."""
    from grader.sandbox import cgroups, confine, platforms

    here = platforms.detect()
    report: dict[str, object] = {"platform": here.as_dict()}
    lines = here.lines()
    try:
        sandbox: Sandbox | None = choose(args.sandbox)
    except SandboxUnavailable as exc:
        sandbox, reason = None, str(exc)
        report["sandbox"] = {"kind": "unavailable", "reason": reason, "isolated": False}
        lines.append(f"sandbox: unavailable: {exc}")
    if sandbox is not None:
        reason = sandbox.reason
        report["sandbox"] = {"kind": sandbox.kind, "reason": reason, "isolated": sandbox.isolated}
        lines.append(f"sandbox: {sandbox.kind} ({reason})")
        if sandbox.isolated:
            lines.append(
                "  each job: its own user, PID, IPC, network and mount namespaces; no "
                "capabilities; seccomp (no keyrings, ptrace, process_vm_*)"
            )
        elif sandbox.confined:
            problems = confine.python_problems()
            report["sandbox"]["confined"] = not problems  # type: ignore[index]
            if problems:
                lines.append(f"  refused: {confine.explain(problems)}")
                sandbox = None
            else:
                lines.append(
                    "  student code runs as users of its own "
                    f"(uid {confine.uid_base()} and up, one per worker): the course, "
                    "reports and submissions are closed to them; "
                    "they can use the network; install bubblewrap"
                )
        else:
            lines.append(
                "  student code can read this machine's files and use its network; "
                "install bubblewrap"
            )
    if sandbox is None or not sandbox.isolated:
        if (args.sandbox or os.environ.get("GRADER_SANDBOX")) == "subprocess":
            cause, fix = (
                "the plain subprocess was asked for",
                "leave out --sandbox subprocess (and GRADER_SANDBOX=subprocess)",
            )
        else:
            cause, fix = platforms.advice(here, reason)
        report.update(cause=cause, fix=fix)
        lines += [f"cause: {cause or 'unknown'}", f"fix: {fix}"]
    if sandbox is not None:
        group = cgroups.create(8, 2**30)
        if group is None:
            caps = "per process only (no writable cgroup): RLIMIT_AS per file" + (
                "; RLIMIT_NPROC" if os.geteuid() != 0 else "; no process cap for root"
            )
        else:
            caps = f"a cgroup per run ({', '.join(str(f.parent) for f in group.folders)})"
            group.remove()
        report["caps"] = caps
        lines.append(f"process and memory caps: {caps}")
    report.update(python=sys.executable, version=grader.__version__)
    lines.append(f"python: {sys.executable} (torch-grader {grader.__version__})")
    print(json.dumps(report, indent=2) if args.json else "\n".join(lines))
    return 0 if sandbox is not None else 1


def cmd_grade(args: argparse.Namespace) -> int:
    from grader.grading.class_run import Interrupted, default_jobs, grade_course, start_pool
    from grader.submissions.folders import student_folders

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    _course_root(args)  # a wrong folder is said before any worker starts
    sandbox = _sandbox(args)
    out = Path(args.out)
    github = _ci(args) == "github"
    # On GitHub the progress lines (which name students by their folders) go to stdout
    # inside a ::stop-commands:: block, so no folder name can be read as a workflow command.
    stream = sys.stdout if github else sys.stderr
    paused = _pause_workflow_commands() if github else None
    try:
        with contextlib.ExitStack() as stack:
            if args.cluster:  # the jobs run on the cluster's workers: no sandbox pool here
                from grader.cluster.config import connect, parse

                spec = parse(args.cluster, default_workers=args.jobs or default_jobs())
                pool, cluster = None, stack.enter_context(connect(spec))
                _say(f"grader: grading on {spec.describe()}")
            else:  # a worker starts first: torch takes a while
                pool, cluster = stack.enter_context(start_pool(sandbox, args.jobs)), None
            course = _course(
                args, resolve_helpers=False
            )  # helpers (and torch) only if there is work
            skipped: list[str] = []
            folders = student_folders(Path(args.submissions), course, skipped)
            for line in skipped:
                _say(f"grader: {line}")
            adjust = _adjustments(args, course, folders)
            outcome = grade_course(
                course,
                folders,
                out,
                sandbox,
                seed=args.seed,
                jobs=args.jobs,
                force=args.force,
                stream=stream,
                pool=pool,
                cluster=cluster,
                only=args.only,
                exercises=args.exercise,
                adjust=adjust,
            )
    except Interrupted as exc:
        _say(f"grader: {exc}")
        return 130
    finally:
        if paused:
            print(f"::{paused}::", flush=True)
    run = outcome.run
    if args.junit:
        from grader.exports.junit import render_junit
        from grader.reports import write_text_atomic

        write_text_atomic(Path(args.junit), render_junit(run))
    if args.gradescope:
        from grader.exports.gradescope import results_json
        from grader.reports import write_text_atomic

        write_text_atomic(Path(args.gradescope), json.dumps(results_json(run), indent=2) + "\n")
    if _ci(args) == "github":
        from grader.exports.github import report_to_github

        report_to_github(run, outcome.folders, os.environ, sys.stdout)
    for warning in run.warnings:
        _say(f"warning: {warning}")
    for problem in run.unmatched_adjustments:
        _say(f"grader: NOT APPLIED: {problem}")
    _say(
        f"{outcome.summary}; wrote {len(outcome.written)} files to {out}/ "
        f"(open {out / 'index.html'})"
    )
    if args.fail_under is not None:
        below = [
            s for s in run.students if s.max_score and 100 * s.score / s.max_score < args.fail_under
        ]
        if below:
            names = ", ".join(f"{s.id} ({100 * s.score / s.max_score:.1f}%)" for s in below[:10])
            more = f" and {len(below) - 10} more" if len(below) > 10 else ""
            _say(f"grader: under --fail-under {args.fail_under:g}%: {names}{more}")
            return 1
    return 0


def _adjustments(args: argparse.Namespace, course: Course, folders: list[Path]) -> Any:
    """Overrides, extensions and hand-in times, read before any student code runs."""
    from grader.grading.adjustments import prepare
    from grader.submissions.folders import student_ids

    extensions = Path(args.extensions) if args.extensions else None
    if extensions is not None and not extensions.is_file():
        raise UsageError(f"--extensions {extensions}: no such file")
    if args.submitted_at not in (None, "git") and not Path(args.submitted_at).is_file():
        raise UsageError(f"--submitted-at {args.submitted_at}: no such file (or say 'git')")
    ids = student_ids(folders)
    adjust = prepare(course, dict(zip(ids, folders, strict=True)), args.submitted_at, extensions)
    if args.submitted_at is not None and adjust.hand_in is None:
        _say("grader: --submitted-at: the course sets no due (course.yaml or an exercise)")
    return adjust


def _pause_workflow_commands() -> str:
    token = stop_token()
    print(f"::stop-commands::{token}", flush=True)
    return token


def _ci(args: argparse.Namespace) -> str:
    """Which CI to report to: --ci, else GitHub Actions when running in it."""
    if args.ci:
        return args.ci
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "none"


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.platform == "gradescope":
        from grader.exports.gradescope import build_autograder_zip

        written = build_autograder_zip(_course_root(args), out)
        _say(f"wrote {written}: upload it as the assignment's autograder on Gradescope")
        return 0
    from grader.exports.canvas import export_canvas
    from grader.reports import write_text_atomic
    from grader.results import GradingRun

    results = Path(args.reports) / "results.json"
    if not results.is_file():
        raise UsageError(
            f"{results} does not exist: run `grader grade SUBMISSIONS --out {args.reports}` first"
        )
    run = GradingRun.from_dict(json.loads(results.read_text(encoding="utf-8")))
    export = export_canvas(run, Path(args.roster), args.assignment, raw=args.with_raw)
    write_text_atomic(out, export.text)
    _say(f"wrote {out} ({len(run.students) - len(export.unmatched)} students)")
    adjusted = [s for s in run.students if s.raw_score is not None]
    if adjusted:
        _say(
            f"{len(adjusted)} student(s) have scores after late penalties or overrides "
            + (
                "(the automatic ones are in the '(automatic)' columns)"
                if args.with_raw
                else "(--with-raw adds the automatic scores as columns of their own)"
            )
        )
    for student in export.unmatched:
        _say(f"not in the roster, so not in {out.name}: {student}")
    return 0


def cmd_ci_init(args: argparse.Namespace) -> int:
    from grader.exports.github import workflow_text
    from grader.reports import write_text_atomic

    target = Path(args.dir) / ".github" / "workflows" / "autograde.yml"
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; use --force to replace it")
    write_text_atomic(target, workflow_text())
    _say(f"wrote {target}: read its comments, then commit it")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from grader.grading.examples import run_visible_examples

    target = Path(args.target)
    if not target.exists():
        raise UsageError(f"{target} does not exist")
    # A student's own code, on their own machine: never the confined fallback's users.
    return run_visible_examples(target, args.course, print, choose(args.sandbox).unconfined())


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.grading.validation import validate

    course = _course(args)
    return validate(
        course,
        seeds=args.seeds,
        say=print,
        sandbox=_sandbox(args),
        strict=args.strict,
        trivial_only=args.trivial or args.json,
        as_json=args.json,
        jobs=args.jobs or os.cpu_count() or 1,
    )


def cmd_similarity(args: argparse.Namespace) -> int:
    from grader.similarity import report
    from grader.similarity.run import similarity

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out names the HTML page (say reports/similarity.html), not {out}")
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    course = _course(args, resolve_helpers=False)
    result = similarity(course, Path(args.submissions), args.top)
    for line in result.skipped:
        _say(f"grader: {line}")
    written = report.write(result, out, out.with_suffix(".json"))
    _say(
        f"compared {result.students} students' code, exercise by exercise; wrote "
        f"{' and '.join(str(p) for p in written)} (a signal to read, never a score)"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from grader.course.build import build_bundle

    course = _course(args)
    out = Path(args.out)
    written = build_bundle(course, out)
    _say(f"wrote {len(written)} files for {len(course.exercises)} exercises to {out}/")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from grader.course.new import new_exercise

    root = Path(args.course)
    written = new_exercise(root, args.exercise_id)
    names = ", ".join(str(path) for path in written)
    _say(f"wrote {names}; see that it validates: grader validate --course {root}")
    order = root / "course.yaml"
    if order.is_file() and "order:" in order.read_text(encoding="utf-8", errors="replace"):
        _say(f"course.yaml lists an order: add {args.exercise_id} to it, or it comes last")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader", description="Grade PyTorch exercises safely.")
    p.add_argument("--version", action="version", version=f"torch-grader {grader.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def course_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--course", default=".", help="the course folder (holding exercises/ and solutions/)"
        )

    def sandbox_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--sandbox",
            choices=KINDS,
            default=None,
            help="where student code runs: bubblewrap, or a plain subprocess; auto (default, "
            "or $GRADER_SANDBOX) uses bubblewrap when it works here",
        )

    g = sub.add_parser(
        "grade",
        help="grade submissions and write reports",
        description="Grade every submission and write reports. Only what changed since "
        "the last run (a student's files, an exercise, the grader) is graded "
        "again; results are kept in OUT/grades.sqlite. An interrupted run "
        "resumes where it stopped. --only and --exercise re-grade just those, "
        "even if nothing changed, and leave everyone else's stored results as they are.",
        epilog="example: grader grade submissions/ --only ada --exercise tensor-ops "
        "(re-grades ada's tensor-ops; the reports still cover the whole class)",
    )
    g.add_argument("submissions", help="a folder of student folders, or one student's folder")
    g.add_argument("--out", default="reports", help="where reports go (default: reports/)")
    g.add_argument(
        "--seed", type=int, default=0, help="seed for the hidden checks' inputs (default 0)"
    )
    g.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="submissions graded at once (default: the number of CPU cores)",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="grade everything again, ignoring results kept from earlier runs",
    )
    g.add_argument(
        "--only",
        metavar="STUDENT",
        action="append",
        default=[],
        help="re-grade this student (their id or folder name), even if nothing changed; "
        "repeat for more; the others' stored results are left as they are",
    )
    g.add_argument(
        "--exercise",
        metavar="ID",
        action="append",
        default=[],
        help="re-grade this exercise (its id), even if nothing changed; repeat for more; "
        "with --only, for those students only",
    )
    g.add_argument(
        "--cluster",
        metavar="CLUSTER",
        default=None,
        help="grade on a Dask cluster: a scheduler's address (tcp://host:8786), local:N for N "
        "worker processes here, or a YAML file (see docs/cluster.md); needs "
        "pip install 'torch-grader[cluster]'",
    )
    g.add_argument(
        "--ci",
        choices=("github", "none"),
        default=None,
        help="report to a CI: github writes the job summary, annotations and the "
        "Classroom result (default: github when GITHUB_ACTIONS=true)",
    )
    g.add_argument("--junit", metavar="PATH", default=None, help="also write JUnit XML to PATH")
    g.add_argument(
        "--gradescope",
        metavar="PATH",
        default=None,
        help="also write Gradescope's results.json to PATH (one submission)",
    )
    g.add_argument(
        "--fail-under",
        metavar="PERCENT",
        type=float,
        default=None,
        help="exit 1 when a student scores under PERCENT %% of the points (default: never)",
    )
    g.add_argument(
        "--submitted-at",
        metavar="SOURCE",
        default=None,
        help="when each student handed in, for deadlines: a CSV of student,submitted_at, or "
        "git (the last commit touching the student's folder); default: the newest file "
        "modification time in the folder",
    )
    g.add_argument(
        "--extensions",
        metavar="CSV",
        default=None,
        help="per-student deadlines: a CSV of student,exercise,due (exercise empty: all); "
        "default: extensions.csv beside course.yaml, if there is one",
    )
    course_opt(g)
    sandbox_opt(g)
    g.set_defaults(fn=cmd_grade)

    e = sub.add_parser(
        "export", help="export for a platform: the Gradescope autograder, a Canvas gradebook"
    )
    platforms = e.add_subparsers(dest="platform", required=True)
    gs = platforms.add_parser(
        "gradescope", help="build the Gradescope autograder zip for this course"
    )
    gs.add_argument(
        "--out", default="autograder.zip", help="the zip to write (default: autograder.zip)"
    )
    course_opt(gs)
    gs.set_defaults(fn=cmd_export)
    cv = platforms.add_parser(
        "canvas", help="a CSV for Canvas's gradebook import, from the last grade"
    )
    cv.add_argument(
        "--roster", required=True, help="the class roster: a CSV exported from Canvas's gradebook"
    )
    cv.add_argument("--out", default="canvas.csv", help="the CSV to write (default: canvas.csv)")
    cv.add_argument(
        "--reports",
        default="reports",
        help="where `grader grade` wrote its reports (default: reports/)",
    )
    cv.add_argument(
        "--assignment",
        default=None,
        help="one column for the whole course under this assignment name "
        "(default: one column per exercise)",
    )
    cv.add_argument(
        "--with-raw",
        action="store_true",
        help="after each column, one of the automatic scores (before late penalties and "
        "overrides), which Canvas imports as an assignment of its own",
    )
    cv.set_defaults(fn=cmd_export)

    ci = sub.add_parser("ci", help="set up autograding in CI")
    ci_sub = ci.add_subparsers(dest="ci_command", required=True)
    init = ci_sub.add_parser(
        "init", help="write a GitHub Actions workflow that grades pull requests"
    )
    init.add_argument("--dir", default=".", help="the repository to write it into (default: .)")
    init.add_argument("--force", action="store_true", help="replace an existing workflow")
    init.set_defaults(fn=cmd_ci_init)

    c = sub.add_parser("check", help="run the visible examples on your work")
    c.add_argument("target", help="a solution file (FILE.py / FILE.ipynb) or a folder of them")
    c.add_argument(
        "--course", default=None, help="a course folder or a student bundle (default: found nearby)"
    )
    sandbox_opt(c)
    c.set_defaults(fn=cmd_check)

    v = sub.add_parser(
        "validate", help="check the course: solutions pass, stubs score zero, across seeds"
    )
    v.add_argument(
        "--seeds", type=int, default=20, help="seeds every check is tried on (default 20)"
    )
    v.add_argument(
        "--strict",
        action="store_true",
        help="fail when a trivial implementation (return None, the input, zeros) earns points",
    )
    v.add_argument(
        "--trivial",
        action="store_true",
        help="only grade the trivial implementations and print the checks each one passes",
    )
    v.add_argument("--json", action="store_true", help="the trivial implementations' table as JSON")
    v.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="sandbox jobs run at once (default: the number of CPU cores)",
    )
    course_opt(v)
    sandbox_opt(v)
    v.set_defaults(fn=cmd_validate)

    d = sub.add_parser("doctor", help="say which sandbox and limits are in force here, and why")
    d.add_argument("--json", action="store_true", help="print the same facts as one JSON object")
    sandbox_opt(d)
    d.set_defaults(fn=cmd_doctor)

    sim = sub.add_parser(
        "similarity",
        help="rank pairs of students by how alike their code is, exercise by exercise",
        description="Compare every two students' code for each exercise (notebooks: their "
        "code cells) and write the most similar pairs side by side, shared regions marked, "
        "to an HTML page and the same facts to a JSON file beside it. The course's own "
        "text (stubs, docstrings, starter code, examples) is left out. A signal for a "
        "person to read, never a score.",
    )
    sim.add_argument("submissions", help="a folder of student folders")
    sim.add_argument(
        "--out",
        default="reports/similarity.html",
        help="the HTML page to write; the JSON goes beside it (default: "
        "reports/similarity.html and reports/similarity.json)",
    )
    sim.add_argument("--top", type=int, default=25, help="pairs shown per exercise (default 25)")
    course_opt(sim)
    sim.set_defaults(fn=cmd_similarity)

    n = sub.add_parser(
        "new",
        help="start a new exercise: its YAML, a reference solution and a hidden data helper",
        description="Write exercises/FILE.yaml, solutions/FILE.py and exercises/hidden/FILE.py "
        "(FILE is the id with dashes as underscores): a small exercise that validates as it "
        "is, to change into yours. Nothing is overwritten.",
    )
    n.add_argument("exercise_id", help="the new exercise's id: lower-case letters, digits, dashes")
    course_opt(n)
    n.set_defaults(fn=cmd_new)

    b = sub.add_parser("build", help="write the student bundle: stubs (.py, .ipynb) and examples")
    b.add_argument(
        "--out", default="student-bundle", help="output folder (default: student-bundle/)"
    )
    course_opt(b)
    b.set_defaults(fn=cmd_build)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from grader.errors import GraderError
    from grader.grading.store import StoreError

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
