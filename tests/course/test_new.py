"""``grader new``: the three files of a starting exercise, which load and plan as they
are, and never overwrite anything (the real validate run is in tests/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.course.loading import load_course
from grader.course.new import exercise_files, new_exercise
from grader.course.stubs import stub_source
from grader.errors import GraderError
from grader.grading.plan import build_plan


def test_the_new_exercise_loads_plans_and_builds(tmp_path: Path) -> None:
    written = new_exercise(tmp_path, "conv-shapes")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "exercises/conv_shapes.yaml",
        "solutions/conv_shapes.py",
        "exercises/hidden/conv_shapes.py",
    ]
    course = load_course(tmp_path)
    (ex,) = course.exercises
    assert (ex.id, ex.file, ex.title) == ("conv-shapes", "conv_shapes", "Conv shapes")
    assert [c.judge for c in ex.checks] == ["match", "match"] and ex.max_score == 3
    assert [h.ref for h in ex.helpers] == ["hidden/conv_shapes.py:table"]
    planned = build_plan(course, 0).checks["conv-shapes"]
    assert planned[1].data["table"].shape == (8, 4)
    compile(stub_source(ex), "conv_shapes.py", "exec")


def test_beside_other_exercises(tmp_path: Path) -> None:
    new_exercise(tmp_path, "first")
    new_exercise(tmp_path, "second-one")
    assert [ex.id for ex in load_course(tmp_path).exercises] == ["first", "second-one"]


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    new_exercise(tmp_path, "demo")
    solution = tmp_path / "solutions" / "demo.py"
    solution.write_text("mine\n")
    (tmp_path / "exercises" / "demo.yaml").unlink()
    with pytest.raises(GraderError) as info:
        new_exercise(tmp_path, "demo")
    assert str(info.value) == (
        f"{tmp_path}/solutions/demo.py, {tmp_path}/exercises/hidden/demo.py exist already; "
        "grader new overwrites nothing"
    )
    assert solution.read_text() == "mine\n"
    assert not (tmp_path / "exercises" / "demo.yaml").exists()  # nothing written at all


def test_an_id_the_course_uses_under_another_file(tmp_path: Path) -> None:
    new_exercise(tmp_path, "demo")
    (tmp_path / "exercises" / "demo.yaml").rename(tmp_path / "exercises" / "other.yaml")
    (tmp_path / "solutions" / "demo.py").unlink()
    (tmp_path / "exercises" / "hidden" / "demo.py").unlink()
    with pytest.raises(GraderError, match="exercises/other.yaml has the id 'demo' already"):
        new_exercise(tmp_path, "demo")


@pytest.mark.parametrize(
    ("exercise_id", "words"),
    [
        ("Conv", "is not an exercise id"),
        ("conv_shapes", "is not an exercise id"),
        ("1-intro", "must start with a letter"),
    ],
)
def test_ids_that_make_no_exercise(exercise_id: str, words: str) -> None:
    with pytest.raises(GraderError, match=words):
        exercise_files(exercise_id)
