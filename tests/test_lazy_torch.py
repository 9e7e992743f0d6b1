"""Loading a course, collecting submissions and fingerprinting them never imports torch
(it takes 1-2 s, and a re-run with nothing to grade must be quick); the instructor's
helper files, which do import torch, are imported only by Course.resolve_helpers(),
and report the same errors there as an eager load does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from grader.course.loading import load_course
from grader.course.schema import ExerciseError

NO_TORCH = textwrap.dedent("""
    import sys
    from pathlib import Path

    import grader.course, grader.reports, grader.results, grader.sandbox.pool
    import grader.grading.class_run, grader.grading.fingerprint, grader.grading.progress
    import grader.grading.store, grader.submissions.folders
    from grader.course.loading import load_course
    from grader.grading.fingerprint import exercise_fingerprint, run_key, submission_fingerprint
    from grader.submissions.folders import collect

    root = Path(sys.argv[1])
    course = load_course(root, resolve_helpers=False)
    assert any(ex.helpers for ex in course.exercises), "no helper references recorded"
    key = run_key(0, "process")
    for ex in course.exercises:
        exercise_fingerprint(ex, course, key)
    for name in ("ada_correct", "cho_notebooks"):
        submission = collect(root / "examples" / "submissions" / name, course)
        assert submission.files, name
        submission_fingerprint(submission)
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    assert "torch" not in sys.modules, loaded[:10]
    print("ok")
""")


def test_loading_collecting_and_fingerprinting_do_not_import_torch() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", root / "exercises")
    shutil.copytree(ROOT / "solutions", root / "solutions")
    return root


def _line_of(path: Path, pattern: str) -> int:
    """The line (from 1) of the first line of ``path`` matching ``pattern``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if re.search(pattern, line):
            return number
    raise AssertionError(f"no line matching {pattern!r} in {path}")


def _lazy_error(root: Path) -> ExerciseError:
    course = load_course(root, resolve_helpers=False)  # the broken helper is not imported
    with pytest.raises(ExerciseError) as info:
        course.resolve_helpers()
    return info.value


def _eager_error(root: Path) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        load_course(root)
    return info.value


def test_a_helper_with_a_syntax_error_is_reported_at_the_data_key(course_copy: Path) -> None:
    # training_loop.yaml's first check names the helper with `data:` (and no custom judge)
    helper = course_copy / "exercises" / "hidden" / "training_loop.py"
    helper.write_text("def broken(:\n    return {}\n" + helper.read_text())
    yaml_file = course_copy / "exercises" / "training_loop.yaml"
    line = _line_of(yaml_file, r"^\s*(data|function): hidden/training_loop\.py:")
    assert "data:" in yaml_file.read_text().splitlines()[line - 1]

    lazy = _lazy_error(course_copy)
    assert (lazy.path, lazy.line) == ("exercises/training_loop.yaml", line)
    assert lazy.message.startswith(
        "key 'data': hidden/training_loop.py could not be imported (line 1): SyntaxError: "
    ), lazy.message
    eager = _eager_error(course_copy)
    assert (eager.path, eager.line, eager.message) == (lazy.path, lazy.line, lazy.message)
    assert str(eager) == str(lazy)


def test_a_custom_judge_function_that_is_missing_is_reported_at_the_function_key(
    course_copy: Path,
) -> None:
    yaml_file = course_copy / "exercises" / "derivative.yaml"
    yaml_file.write_text(yaml_file.read_text().replace(":judge_uses_autograd", ":judge_nowhere"))
    line = _line_of(yaml_file, r"function: hidden/derivative\.py:judge_nowhere")

    lazy = _lazy_error(course_copy)
    assert str(lazy) == (
        f"exercises/derivative.yaml:{line}: key 'function': "
        "hidden/derivative.py defines no function 'judge_nowhere'"
    )
    assert str(_eager_error(course_copy)) == str(lazy)


def test_problems_that_need_no_import_are_still_reported_at_load(course_copy: Path) -> None:
    yaml_file = course_copy / "exercises" / "prepare_data.yaml"
    yaml_file.write_text(
        yaml_file.read_text().replace(
            "data: hidden/prepare_data.py:split_rows\n", "data: hidden/missing.py:split_rows\n", 1
        )
    )
    line = _line_of(yaml_file, r"data: hidden/missing\.py")
    with pytest.raises(ExerciseError) as info:
        load_course(course_copy, resolve_helpers=False)
    assert str(info.value) == (
        f"exercises/prepare_data.yaml:{line}: key 'data': "
        "no file hidden/missing.py beside the exercise"
    )


def test_the_real_course_resolves_its_helpers() -> None:
    course = load_course(ROOT, resolve_helpers=False)
    refs = {(h.key, h.ref) for ex in course.exercises for h in ex.helpers}
    assert ("data", "hidden/prepare_data.py:split_rows") in refs
    assert ("function", "hidden/derivative.py:judge_uses_autograd") in refs
    course.resolve_helpers()
