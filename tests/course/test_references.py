"""Every name the YAML uses before it exists is an error at the line that writes it:
``{ref: x}``, ``on:``, ``grad:``/``wrt:``, ``keep:``, judge options naming kept, bound or
artifact values (at load); ``{data: x}`` and data-key options, and a data helper that
raises or returns something else than a mapping (when the plan is made); ids in
course.yaml's ``order``; helper function names."""

from __future__ import annotations

from pathlib import Path

import pytest
from judging import plan_check, write_course

from grader.course.loading import load_course
from grader.course.schema import ExerciseError

BIND_CALL = """
judge: autograd
steps:
  - bind: {randn: [3]}
    as: point
  - call: f
    args: [{ref: point}]
    as: result
"""


def line_of(folder: Path, needle: str, file: str = "exercises/unit.yaml") -> int:
    """The line of ``folder/file`` holding ``needle`` (once)."""
    lines = (folder / file).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def load_error(folder: Path, check: str, files: dict[str, str] | None = None) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        plan_check(folder, check, files=files)
    err = info.value
    assert "\n" not in str(err)
    return err


@pytest.mark.parametrize(
    ("check", "needle", "message"),
    [
        (
            BIND_CALL.replace("{ref: point}", "{ref: pont}"),
            "{ref: pont}",
            "key 'ref': 'pont' is not bound by an earlier step (names bound before it: point)",
        ),
        (
            """
            judge: match
            steps:
              - call: f
                args: [{ref: later}]
                as: result
              - bind: 1
                as: later
            """,
            "{ref: later}",
            "key 'ref': 'later' is not bound by an earlier step (names bound before it: none)",
        ),
        (
            """
            judge: match
            steps:
              - call: f
                as: model
              - method: eval
                on: modle
                as: result
            """,
            "- method: eval",
            "key 'on': 'modle' is not bound by an earlier step (names bound before it: model)",
        ),
        (
            """
            judge: match
            steps:
              - bind: {randn: [3], requires_grad: true}
                as: x
              - call: f
                args: [{ref: x}]
                as: y
              - grad: y
                wrt: z
                as: result
            """,
            "- grad: y",
            "key 'wrt': 'z' is not bound by an earlier step (names bound before it: x, y)",
        ),
        (
            BIND_CALL + "keep: [result, pointt]\n",
            "keep: [result, pointt]",
            "key 'keep': 'pointt' is not bound by any step (bound: point, result)",
        ),
        (
            BIND_CALL + "with: {unchanged: [pont]}\n",
            "unchanged",
            "key 'unchanged': 'pont' is not kept (kept: point, result)",
        ),
        (
            BIND_CALL + "with: {output: res}\n",
            "output: res",
            "key 'output': 'res' is not kept (kept: point, result)",
        ),
        (
            BIND_CALL.replace("autograd", "module") + "with: {state_from: result}\n",
            "state_from",
            "key 'state_from': 'result' is not bound by a bind step (bound by a bind step: point)",
        ),
        (
            """
            judge: state-dict-file
            steps:
              - bind: {mlp: [[fc, 2, 1]]}
                as: model
              - call: f
                args: [{ref: model}, {path: m.pt}]
            artifacts: {saved: m.pt}
            with: {artifact: save}
            """,
            "artifact: save",
            "key 'artifact': 'save' is not an artifact (an artifact: saved)",
        ),
    ],
    ids=["ref", "ref-later", "on", "wrt", "keep", "unchanged", "output", "state_from", "artifact"],
)
def test_a_name_no_step_gives_is_an_error_at_its_line(
    tmp_path: Path, check: str, needle: str, message: str
) -> None:
    err = load_error(tmp_path, check)
    assert (err.path, err.line) == ("exercises/unit.yaml", line_of(tmp_path, needle))
    assert err.message == message


DATA = {
    "hidden/data.py": """
    def rows(seed):
        return {"X_train": [1.0], "X_test": [2.0]}


    def broken(seed):
        table = {"X": 1}
        return {"X_train": table["X_trian"]}


    def listed(seed):
        return [1, 2]
    """
}


def test_a_data_key_the_helper_does_not_give(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        "judge: match\ndata: hidden/data.py:rows\ncall: [{data: X_trn}]",
        files=DATA,
    )
    assert (err.path, err.line) == ("exercises/unit.yaml", line_of(tmp_path, "{data: X_trn}"))
    assert err.message == (
        "key 'data': 'X_trn' is not a key of the check's data "
        "(hidden/data.py:rows gives: X_test, X_train)"
    )


def test_a_data_key_without_a_data_helper(tmp_path: Path) -> None:
    err = load_error(tmp_path, "judge: match\ncall: [1, {data: X}]")
    assert err.line == line_of(tmp_path, "{data: X}")
    assert err.message == (
        "key 'data': 'X' is not a key of the check's data (the check has no 'data' helper)"
    )


def test_a_data_key_named_by_a_judge_option(tmp_path: Path) -> None:
    check = """
    judge: training
    data: hidden/data.py:rows
    steps:
      - bind: {mlp: [[fc, 1, 1]]}
        as: model
      - call: f
        args: [{ref: model}, {data: X_train}]
        as: result
    keep: [model, result]
    with: {x: X_test, y: y_tset, target_mse: 0.5}
    """
    err = load_error(tmp_path, check, files=DATA)
    assert err.line == line_of(tmp_path, "y: y_tset")
    assert err.message.startswith("key 'y': 'y_tset' is not a key of the check's data")


def test_an_exception_in_the_data_helper_names_its_file_and_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, "judge: match\ndata: hidden/data.py:broken\ncall: [1]", files=DATA)
    assert (err.path, err.line) == (
        "exercises/hidden/data.py",
        line_of(tmp_path, 'table["X_trian"]', "exercises/hidden/data.py"),
    )
    data_line = line_of(tmp_path, "data: hidden/data.py:broken")
    assert err.message == (
        "hidden/data.py:broken raised KeyError: 'X_trian' for check 'the check' "
        f"(exercises/unit.yaml:{data_line})"
    )


def test_a_data_helper_must_return_a_mapping(tmp_path: Path) -> None:
    err = load_error(tmp_path, "judge: match\ndata: hidden/data.py:listed\ncall: [1]", files=DATA)
    assert err.line == line_of(tmp_path, "data: hidden/data.py:listed")
    assert err.message == (
        "key 'data': hidden/data.py:listed returned list; a data helper returns a dict of "
        "named values"
    )


def test_a_helper_function_that_does_not_exist(tmp_path: Path) -> None:
    folder = write_course(
        tmp_path, "judge: match\ndata: hidden/data.py:nope\ncall: [1]", files=DATA
    )
    for resolve_now in (True, False):
        with pytest.raises(ExerciseError) as info:
            course = load_course(folder, resolve_helpers=resolve_now)
            course.resolve_helpers()
        assert str(info.value) == (
            f"exercises/unit.yaml:{line_of(tmp_path, 'data: hidden')}: "
            "key 'data': hidden/data.py defines no function 'nope'"
        )


@pytest.mark.parametrize(
    ("order", "line", "message"),
    [
        ("[unit, unti]", 2, "key 'order': 'unti' is not the id of an exercise (ids: unit)"),
        ("\n  - unit\n  - unit", 4, "key 'order': 'unit' appears twice"),
        ("\n  - unit\n  - other", 4, "key 'order': 'other' is not the id of an exercise"),
    ],
)
def test_order_names_only_exercises(tmp_path: Path, order: str, line: int, message: str) -> None:
    folder = write_course(tmp_path, "judge: match\ncall: [1]")
    (folder / "course.yaml").write_text(f"title: A course\norder: {order}\n")
    with pytest.raises(ExerciseError) as info:
        load_course(folder)
    assert str(info.value).startswith(f"course.yaml:{line}: {message}")


def test_the_bundled_course_names_only_what_exists() -> None:
    from grader.grading.plan import build_plan

    course = load_course(Path(__file__).resolve().parents[2])
    assert build_plan(course, 0).checks
