"""Malformed exercise files are reported as ``path:line: message``, never as a traceback.

Each case is a file in tests/fixtures/bad_exercises/ with one mistake (its first line, a
comment, says which), or, where the mistake is a byte an editor would hide or mangle
(a tab, a control character, Latin-1 text), it is written here from bytes. The test puts
the file into a temporary course as ``exercises/<name>`` and loads it, so the error reads
exactly as an instructor sees it::

    exercises/points_text.yaml:5: key 'points': expected a number, got 'ten'

Cases marked xfail are known loader bugs (a traceback, a wrong line, or a bad file that
loads); each reason says what goes wrong today.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.course.loading import load_course, load_exercise
from grader.course.schema import ExerciseError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad_exercises"
REPO = Path(__file__).resolve().parents[2]

# The exercise every fixture starts from (the fixtures add a comment as line 1, so their
# line numbers are one more than here).
VALID = """\
id: demo
title: Doubling
file: demo
points: 3
prompt: Write double(x), which returns 2 * x.
entry_points:
  - name: double
    signature: (x)
    doc: Return 2 * x.
checks:
  - name: double of a vector
    entry: double
    points: 2
    call: [{randn: [4]}]
    judge: match
  - name: double of a matrix
    entry: double
    points: 1
    call: [{randn: [2, 3]}]
    judge: match
"""


def _commented(comment: str, text: str = VALID) -> str:
    return f"# {comment}\n{text}"


# Cases written from bytes rather than kept as fixture files; same line numbers as the fixtures.
GENERATED: dict[str, bytes] = {
    "tab_indentation.yaml": _commented("The second check is indented with a tab.")
    .replace("  - name: double of a matrix", "\t- name: double of a matrix")
    .encode(),
    "not_utf8.yaml": "# Exercice rédigé en Latin-1.\n".encode("latin-1") + VALID.encode(),
    "not_utf8_in_prompt.yaml": _commented("The prompt is Latin-1 text.")
    .replace("returns 2 * x.", "returns 2 \u00d7 x.")
    .encode("latin-1"),
    "control_character.yaml": _commented("The prompt holds a form feed.")
    .replace("Write double(x),", "Write\x0c double(x),")
    .encode(),
}

# Files a case needs beside the exercise (paths relative to the exercises folder).
EXTRA_FILES: dict[str, dict[str, str]] = {
    "data_helper_syntax_error.yaml": {"hidden/broken.py": "def make_data(:\n    return {}\n"},
}


@dataclass(frozen=True)
class Bad:
    name: str  # file name under exercises/
    line: int  # the line the error must name
    message: str  # text the message must contain
    also: tuple[str, ...] = field(default=())  # more text it must contain


CASES = [
    pytest.param(case, id=case.name)
    for case in [
        Bad("points_text.yaml", 5, "key 'points': expected a number, got 'ten'"),
        Bad("check_points_text.yaml", 14, "key 'points': expected a number, got 'two'"),
        Bad("missing_id.yaml", 2, "key 'id': required in the exercise but missing"),
        Bad("missing_checks.yaml", 2, "key 'checks': required in the exercise but missing"),
        Bad("empty_checks.yaml", 10, "key 'checks': expected at least one item"),
        Bad(
            "unknown_key_typo.yaml",
            7,
            "key 'entry_point': unknown key in the exercise",
            ("entry_points",),
        ),
        Bad(
            "id_not_lowercase.yaml",
            2,
            "key 'id': expected an id of lower-case letters",
            ("'Tensor Ops'",),
        ),
        Bad(
            "file_not_python_name.yaml",
            4,
            "key 'file': expected a Python module name, got 'tensor-ops'",
        ),
        Bad(
            "unknown_entry.yaml",
            18,
            "key 'entry': 'triple' is not one of this exercise's entry points (double)",
        ),
        Bad("unknown_judge.yaml", 16, "key 'judge': unknown judge 'matches'", ("match",)),
        Bad(
            "unknown_judge_option.yaml",
            19,
            "key 'tolerance': unknown key in 'with'",
            ("atol", "rtol"),
        ),
        Bad("bad_option_type.yaml", 18, "key 'atol': expected a number, got 'small'"),
        Bad(
            "bad_option_choice.yaml",
            23,
            "key 'dist': expected one of uniform, normal, got 'gaussian'",
        ),
        Bad(
            "visibility_unknown.yaml",
            22,
            "key 'visibility': expected one of visible, hidden, after_due_date, "
            "after_published, got 'after_deadline'",
        ),
        Bad("visibility_not_text.yaml", 6, "key 'visibility': expected text, got false"),
        Bad(
            "disclose_unknown.yaml",
            22,
            "key 'disclose': expected a list of inputs and expected, got 'answers'",
        ),
        Bad("disclose_not_list.yaml", 6, "key 'disclose': expected a list, got 'expected'"),
        Bad("bad_indentation.yaml", 14, "not valid YAML: mapping values are not allowed here"),
        Bad("tab_indentation.yaml", 17, "not valid YAML: found character '\\t'"),
        Bad("duplicate_key.yaml", 4, "key 'title': appears twice in the same mapping"),
        Bad(
            "duplicate_check_names.yaml",
            17,
            "key 'name': two checks are named 'double of a vector'",
        ),
        Bad("points_not_sum.yaml", 5, "key 'points': says 5 but the checks' points add up to 3"),
        Bad(
            "needs_unknown.yaml",
            22,
            "key 'needs': no check of this exercise is named 'double of a cube'",
        ),
        Bad("needs_itself.yaml", 22, "key 'needs': a check cannot need itself"),
        Bad(
            "needs_not_text.yaml",
            22,
            "key 'needs': expected the name of a check or a list of names, got 3",
        ),
        Bad("alone_not_text.yaml", 22, "key 'alone': expected text, got true"),
        Bad(
            "bad_generator.yaml",
            15,
            "key 'randn': expected a shape (list of whole numbers), got 'big'",
        ),
        Bad(
            "two_generators.yaml",
            20,
            "an input mapping needs exactly one of the keys",
            ("got randn, rand",),
        ),
        Bad("bad_dtype.yaml", 20, "key 'dtype': expected one of float32", ("got 'int8'",)),
        Bad("lambda_syntax.yaml", 20, "key 'lambda': not a valid lambda"),
        Bad(
            "step_without_kind.yaml",
            21,
            "a step needs exactly one of call, method, bind, grad, save_state_dict",
        ),
        Bad("call_and_steps.yaml", 21, "key 'steps': give either 'call'"),
        Bad("example_not_expression.yaml", 13, "key 'code': not a Python expression"),
        Bad(
            "data_missing_file.yaml",
            22,
            "key 'data': no file hidden/missing.py beside the exercise",
        ),
        Bad(
            "data_not_a_reference.yaml",
            22,
            "key 'data': expected 'path/to/file.py:function', got 'hidden/data'",
        ),
        Bad("limits_unknown_key.yaml", 12, "key 'timeout': unknown key in 'limits'"),
        Bad("not_utf8.yaml", 1, "the file is not UTF-8 text"),
        Bad("empty.yaml", 1, "the exercise: expected a mapping, got nothing"),
        Bad("top_level_list.yaml", 2, "the exercise: expected a mapping, got a list"),
    ]
] + [
    # Once loader bugs, found by these tests and fixed.
    pytest.param(case, id=case.name)
    for case in [
        Bad("unclosed_quote.yaml", 10, "not valid YAML"),
        Bad("control_character.yaml", 6, "not valid YAML"),
        Bad("not_utf8_in_prompt.yaml", 6, "the file is not UTF-8 text"),
        Bad("dtype_not_text.yaml", 15, "key 'dtype'"),
        Bad("lambda_name_error.yaml", 20, "key 'lambda'"),
        Bad("memory_infinite.yaml", 12, "key 'memory_mb'"),
        Bad("points_nan.yaml", 14, "key 'points'"),
        Bad("data_helper_syntax_error.yaml", 22, "key 'data'"),
        Bad("forbidden_without_options.yaml", 22, "'names'"),
        Bad("custom_missing_function_file.yaml", 23, "key 'function'"),
        Bad("duplicate_entry_points.yaml", 11, "entry point"),
    ]
]


def _install(tmp_path: Path, name: str) -> Path:
    """Put the case's file (and any helper files) into tmp_path/exercises/."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    target = folder / name
    if name in GENERATED:
        target.write_bytes(GENERATED[name])
    else:
        shutil.copyfile(FIXTURES / name, target)
    for rel, text in EXTRA_FILES.get(name, {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return target


def _names(params: list) -> list[str]:
    return [p.values[0].name for p in params]


@pytest.mark.parametrize("case", CASES)
def test_malformed_exercise_is_reported_with_file_and_line(tmp_path: Path, case: Bad) -> None:
    path = _install(tmp_path, case.name)
    with pytest.raises(ExerciseError) as info:
        load_exercise(path, tmp_path)
    err = info.value
    shown = f"exercises/{case.name}"
    assert str(err).startswith(f"{shown}:{case.line}: "), str(err)
    assert (err.path, err.line) == (shown, case.line)
    assert str(err) == f"{shown}:{case.line}: {err.message}"
    for text in (case.message, *case.also):
        assert text in err.message, str(err)
    assert "Traceback" not in str(err) and "\n" not in str(err)


def test_points_as_text_reads_exactly_like_the_issue(tmp_path: Path) -> None:
    path = _install(tmp_path, "points_text.yaml")
    with pytest.raises(ExerciseError) as info:
        load_exercise(path, tmp_path)
    assert (
        str(info.value)
        == "exercises/points_text.yaml:5: key 'points': expected a number, got 'ten'"
    )


def test_every_fixture_has_a_case_and_every_case_a_file() -> None:
    names = _names(CASES)
    assert len(names) == len(set(names))
    on_disk = {p.name for p in FIXTURES.iterdir()}
    assert on_disk == set(names) - set(GENERATED)
    assert len(names) - len([p for p in CASES if p.marks]) >= 15


def test_the_exercise_the_fixtures_start_from_is_valid(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    path = tmp_path / "exercises" / "demo.yaml"
    path.write_text(_commented("valid"))
    ex = load_exercise(path, tmp_path)
    assert (ex.id, ex.file, ex.max_score, len(ex.checks)) == ("demo", "demo", 3, 2)


def test_fixture_mistakes_are_single_edits_of_the_valid_exercise() -> None:
    # Guards the line numbers above: the fixtures keep the valid exercise's layout, so a
    # line named in a case is the line of the mistake, not one shifted by an unrelated edit.
    def shape(line: str) -> str:  # top_level_list.yaml indents every line under "- "
        return line.strip().lstrip("- ")

    valid = {shape(line) for line in VALID.splitlines()}
    for path in FIXTURES.glob("*.yaml"):
        lines = path.read_text().splitlines()
        if not lines:
            continue
        assert lines[0].startswith("# "), path.name
        assert sum(shape(line) not in valid for line in lines[1:]) <= 5, path.name


# ---------------------------------------------------------------------------- courses
def _course(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_course_without_exercises_folder(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a course\n")
    with pytest.raises(ExerciseError) as info:
        load_course(tmp_path)
    err = info.value
    assert err.path == str(tmp_path / "exercises")
    assert str(err).startswith(f"{tmp_path / 'exercises'}:")
    assert "no exercises folder here" in err.message
    assert "--course" in err.message


def test_course_with_empty_exercises_folder(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    with pytest.raises(ExerciseError) as info:
        load_course(tmp_path)
    assert info.value.path == str(tmp_path / "exercises")
    assert "no exercise files (*.yaml) found" in info.value.message


def test_course_reports_the_bad_file_among_good_ones(tmp_path: Path) -> None:
    root = _course(
        tmp_path,
        {
            "exercises/a.yaml": VALID,
            "exercises/b.yaml": VALID.replace("id: demo", "id: other")
            .replace("file: demo", "file: other")
            .replace("points: 3", "points: three"),
        },
    )
    with pytest.raises(ExerciseError) as info:
        load_course(root)
    assert str(info.value) == "exercises/b.yaml:4: key 'points': expected a number, got 'three'"


def test_two_exercises_with_the_same_id(tmp_path: Path) -> None:
    root = _course(
        tmp_path,
        {
            "exercises/a.yaml": VALID,
            "exercises/b.yaml": VALID.replace("file: demo", "file: other"),
        },
    )
    with pytest.raises(ExerciseError) as info:
        load_course(root)
    assert (
        str(info.value) == "exercises/b.yaml:1: key 'id': 'demo' is also the id of exercises/a.yaml"
    )


@pytest.mark.parametrize(
    ("key", "line", "edit"),
    [
        ("id", 2, ("file: demo", "file: other")),
        ("file", 4, ("id: demo", "id: other")),
    ],
)
def test_duplicate_id_or_file_names_the_line_of_the_key(
    tmp_path: Path, key: str, line: int, edit: tuple[str, str]
) -> None:
    root = _course(
        tmp_path,
        {
            "exercises/a.yaml": VALID,
            "exercises/b.yaml": _commented("A copy of a.yaml.", VALID.replace(*edit)),
        },
    )
    with pytest.raises(ExerciseError) as info:
        load_course(root)
    assert str(info.value).startswith(
        f"exercises/b.yaml:{line}: key '{key}': 'demo' is also the {key} of"
    )


def test_course_order_with_a_non_text_item(tmp_path: Path) -> None:
    root = _course(
        tmp_path,
        {"exercises/a.yaml": VALID, "course.yaml": "title: A course\norder:\n  - [demo]\n"},
    )
    with pytest.raises(ExerciseError) as info:
        load_course(root)
    assert str(info.value).startswith("course.yaml:3: key 'order'")


def test_the_real_course_loads() -> None:
    course = load_course(REPO)
    assert course.exercises
    assert "tensor-ops" in [ex.id for ex in course.exercises]
    for ex in course.exercises:
        assert ex.checks and ex.max_score > 0
