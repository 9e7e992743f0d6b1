"""``grader check``: a student runs the visible examples on their own work.

It uses the same sandboxed runner as grading, from a course folder or from a student
bundle (which holds only the visible examples, in examples.json).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from grader.course.loading import load_course
from grader.course.model import Course, EntryPoint, Example, Exercise, ExerciseLimits
from grader.errors import GraderError
from grader.grading.grader import Grader
from grader.grading.plan import build_example_plan
from grader.sandbox.choice import Sandbox
from grader.submissions.folders import collect
from grader.terminal import safe_line

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT"}


def find_course(target: Path, course: str | None) -> Course:
    candidates = [Path(course)] if course else []
    start = target if target.is_dir() else target.parent
    candidates += [start, *start.resolve().parents, Path.cwd()] if not course else []
    for folder in candidates:
        if (folder / "exercises").is_dir():
            return load_course(folder)
        if (folder / "examples.json").is_file():
            return load_bundle(folder)
    raise GraderError(
        "no course found: run this beside your bundle's examples.json, or use --course DIR"
    )


def load_bundle(folder: Path) -> Course:
    """The visible part of a course, as a student bundle carries it."""
    data = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
    exercises = []
    for item in data["exercises"]:
        exercises.append(
            Exercise(
                id=item["id"],
                title=item["title"],
                file=item["file"],
                prompt="",
                setup="",
                entry_points=[
                    EntryPoint(name=n, signature="()", doc="") for n in item["entry_points"]
                ],
                examples=[
                    Example(name=e["name"], code=e["code"], expect=e["expect"])
                    for e in item["examples"]
                ],
                checks=[],
                limits=ExerciseLimits(),
                path=folder / "examples.json",
                root=folder,
            )
        )
    return Course(folder, exercises, data.get("course", folder.name))


def run_visible_examples(
    target: Path,
    course_arg: str | None,
    echo: Callable[[str], None],
    sandbox: Sandbox | None = None,
) -> int:
    def say(text: str) -> None:
        echo(safe_line(text))

    course = find_course(target, course_arg)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        folder = target
        if target.is_file():
            folder = Path(tmp) / "work"
            folder.mkdir()
            shutil.copy2(target, folder / target.name)
        submission = collect(folder, course)
        present = {
            ex_id for ex_id, sub in submission.files.items() if sub.path is not None or sub.kind
        }
        if not present:
            raise GraderError(
                f"no exercise files in {target} (expected names like "
                f"{course.exercises[0].file}.py or {course.exercises[0].file}.ipynb)"
            )
        plan = build_example_plan(course, 0)
        plan.keep_exercises(present)
        submission.files = {k: v for k, v in submission.files.items() if k in present}
        course_view = Course(
            course.root, [ex for ex in course.exercises if ex.id in present], course.title
        )
        with Grader(course_view, plan=plan, sandbox=sandbox) as g:
            result = g.grade_submission(submission)
    passed = total = 0
    for ex in result.exercises:
        # A failing example is shown with its code, as a student would type it to try it.
        code = {e.name: e.code for e in reversed(course.exercise(ex.id).examples)}
        say(f"{ex.title} ({ex.file or ex.id})")
        if ex.message:
            say(f"  {ex.message}")
        for note in ex.notes:
            say(f"  note: {note}")
        for check in ex.checks:
            total += 1
            passed += check.status == "passed"
            line = f"  {MARKS.get(check.status, check.status.upper()):7} {check.name}"
            if check.status != "passed":
                line += f": {check.message}"
            say(line)
            if check.status != "passed" and check.name in code:
                say(f"{'':10}{' '.join(code[check.name].split())}")
    say(f"{passed} of {total} examples passed")
    return 0 if passed == total else 1
