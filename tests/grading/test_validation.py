"""``grader validate`` finds weak checks: a shipped mistake a check lets through, the
points trivial implementations earn, a check whose verdict flips with the seed. A tiny
course in tmp_path, graded through the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_grader

from grader.course.build import build_bundle
from grader.course.loading import load_course
from grader.course.shipping import course_files
from grader.errors import GraderError
from grader.grading.mistakes import find_mistakes
from grader.grading.plan import derive_seed
from grader.grading.validation import validate
from grader.submissions.folders import collect

DOUBLE_YAML = """\
id: double
title: Double
file: double
prompt: Return 2 * x.
entry_points:
  - {name: double, signature: (x), doc: Return 2 * x.}
checks:
  - name: double of a random vector
    entry: double
    points: 2
    call: [{randn: [4]}]
    judge: match
  - name: double keeps the shape
    entry: double
    points: 1
    call: [{randn: [3, 2]}]
    judge: match
    with: {values: false}
  - name: a seed-dependent check
    entry: double
    points: 1
    data: hidden/double.py:seeded
    call: [{randn: [2]}]
    judge: custom
    with: {function: "hidden/double.py:lucky"}
"""

# A custom judge whose verdict depends on the check's seed only: it flips on some seeds,
# whatever the code does (and passes any code that returns: a weak check).
DOUBLE_HIDDEN = """\
import torch

from grader.judges.base import Verdict


def seeded(seed):
    return {"seed": torch.tensor(seed % 3)}


def lucky(ctx):
    ok = int(ctx.data["seed"]) != 0
    return Verdict(ok, "a lucky seed" if ok else "an unlucky seed")
"""

FLIPPING = "a seed-dependent check"
SEEDS = 4
UNLUCKY = [s for s in range(1, SEEDS + 1) if derive_seed(s, "double", FLIPPING) % 3 == 0]

TRIPLE = '''\
"""A mistake the shape check cannot catch: it declares it anyway."""

# must fail: double of a random vector
# must fail: double keeps the shape

def double(x):
    return 3 * x
'''

PLUS_ITSELF = '''\
"""x + x is right: a "mistake" that scores full marks."""

# must fail: double of a random vector

def double(x):
    return x + x
'''


def tiny_course(root: Path, mistakes: dict[str, str] | None = None) -> Path:
    course = root / "course"
    (course / "exercises" / "hidden").mkdir(parents=True)
    (course / "exercises" / "double.yaml").write_text(DOUBLE_YAML)
    (course / "exercises" / "hidden" / "double.py").write_text(DOUBLE_HIDDEN)
    (course / "solutions").mkdir()
    (course / "solutions" / "double.py").write_text("def double(x):\n    return 2 * x\n")
    for name, text in (mistakes or {}).items():
        path = course / "solutions" / "mistakes" / "double" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return course


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[str], Path]:
    root = tmp_path_factory.mktemp("validate")
    course = tiny_course(root, {"triple.py": TRIPLE, "plus_itself.py": PLUS_ITSELF})
    lines: list[str] = []
    code = validate(load_course(course), seeds=SEEDS, say=lines.append, jobs=2)
    return code, lines, course


@pytest.mark.slow  # the real sandbox, many jobs
def test_a_mistake_that_passes_a_check_it_must_fail_fails_validation(validated):
    code, lines, _ = validated
    assert code == 1
    assert (
        "FAIL mistake: solutions/mistakes/double/triple.py:4: passes 'double keeps the shape', "
        "which it must fail"
    ) in lines
    # The check that catches it is not reported.
    assert not any("triple.py:3" in line for line in lines)


@pytest.mark.slow  # the real sandbox, many jobs
def test_a_mistake_with_full_marks_fails_validation_declared_or_not(validated):
    _, lines, _ = validated
    assert (
        "FAIL mistake: solutions/mistakes/double/plus_itself.py:3: passes "
        "'double of a random vector', which it must fail"
    ) in lines
    assert (
        "FAIL mistake: solutions/mistakes/double/plus_itself.py: scores full marks (4/4) "
        "though it is a mistake"
    ) in lines
    assert "mistakes: 0 of 2 fail as declared" in lines


@pytest.mark.slow  # the real sandbox, many jobs
def test_trivial_implementations_and_the_checks_they_pass(validated):
    _, lines, _ = validated
    warnings = [line for line in lines if line.startswith("warning trivial: ")]
    assert (
        "warning trivial: double: double returns zeros shaped like the reference's result: "
        f"passes 'double keeps the shape' (1 pt), '{FLIPPING}' (1 pt)"
    ) in warnings
    assert (
        "warning trivial: double: double returns its first argument: passes "
        f"'double keeps the shape' (1 pt), '{FLIPPING}' (1 pt)"
    ) in warnings
    assert f"warning trivial: double: double returns None: passes '{FLIPPING}' (1 pt)" in warnings
    # The stub raises: it passes nothing, so it is no warning.
    assert not any("raises NotImplementedError" in line for line in warnings)


@pytest.mark.slow  # the real sandbox, many jobs
def test_a_custom_check_that_flips_with_the_seed_is_reported_with_its_seeds(validated):
    _, lines, _ = validated
    assert UNLUCKY, "the check name no longer gives an unlucky seed: pick another"
    listed = ", ".join(map(str, UNLUCKY))
    assert (
        f"FAIL seed: double: '{FLIPPING}' flips with the seed: the solution fails it on "
        f"seed(s) {listed} of 1-{SEEDS} (seed {UNLUCKY[0]}: an unlucky seed)"
    ) in lines
    assert f"all 3 checks tried on {SEEDS} more seeds: 1 flip" in lines
    assert "solutions: 4/4" in lines  # seed 0 is a lucky one


@pytest.mark.slow  # the real sandbox, many jobs
def test_strict_and_trivial_table_from_the_command_line(validated):
    _, _, course = validated
    proc = run_grader("validate", "--course", str(course), "--trivial", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = json.loads(proc.stdout)
    assert [row["implementation"] for row in table] == ["raises", "none", "input", "zeros", "ones"]
    zeros = table[3]
    assert zeros["entry"] == "double" and zeros["passes"] == [
        {"check": "double keeps the shape", "score": 1.0, "points": 1.0, "alone": None},
        {"check": FLIPPING, "score": 1.0, "points": 1.0, "alone": None},
    ]
    strict = run_grader("validate", "--course", str(course), "--trivial", "--strict")
    assert strict.returncode == 1
    assert "double: double returns None: passes" in strict.stdout


@pytest.mark.slow  # the real sandbox, many jobs
def test_mistakes_travel_with_the_course_but_are_no_submission_and_no_stub(validated):
    _, _, course = validated
    loaded = load_course(course)
    assert "solutions/mistakes/double/triple.py" in course_files(loaded, "Gradescope")
    solution = collect(loaded.solutions, loaded).files["double"]
    assert solution.path == course / "solutions" / "double.py"
    bundle = course.parent / "bundle"
    build_bundle(loaded, bundle)
    assert not any("mistakes" in p.parts or "triple" in p.name for p in bundle.rglob("*"))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"typo.py": "# must fail: double of a random vectr\ndef double(x):\n    return x\n"},
            "solutions/mistakes/double/typo.py:1: 'must fail' names no check of double: "
            "'double of a random vectr'; did you mean 'double of a random vector'?",
        ),
        (
            {"silent.py": "def double(x):\n    return x\n"},
            "solutions/mistakes/double/silent.py:1: names no check it must fail; add a line "
            "'# must fail: <check name>' for each check that must catch this mistake",
        ),
    ],
)
def test_errors_in_a_mistake_name_its_file_and_line(tmp_path: Path, files, message):
    course = load_course(tiny_course(tmp_path, files))
    with pytest.raises(GraderError) as caught:
        find_mistakes(course)
    assert str(caught.value) == message


def test_a_mistakes_folder_named_after_no_exercise_is_an_error(tmp_path: Path):
    course = tiny_course(tmp_path)
    (course / "solutions" / "mistakes" / "dubble").mkdir(parents=True)
    with pytest.raises(
        GraderError,
        match=r"^solutions/mistakes/dubble: no exercise has the file "
        r"'dubble'; did you mean double\?$",
    ):
        find_mistakes(load_course(course))


def test_a_mistake_outside_an_exercise_folder_is_an_error_and_notes_are_left_alone(
    tmp_path: Path,
):
    course = tiny_course(tmp_path, {"triple.py": TRIPLE})
    (course / "solutions" / "mistakes" / "README.md").write_text("Typical mistakes.\n")
    assert [m.shown for m in find_mistakes(load_course(course))] == [
        "solutions/mistakes/double/triple.py"
    ]
    (course / "solutions" / "mistakes" / "stray.py").write_text(TRIPLE)
    with pytest.raises(
        GraderError,
        match=r"^solutions/mistakes/stray\.py: a mistake goes in a "
        r"folder named after its exercise's file \(solutions/mistakes/FILE/stray",
    ):
        find_mistakes(load_course(course))


def test_declarations_in_a_notebook_name_the_cell(tmp_path: Path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# a mistake"),
        nbformat.v4.new_code_cell(
            "# must fail: double of a random vector\ndef double(x):\n    return x\n"
        ),
        nbformat.v4.new_code_cell("x = 1\n# must fail: double keeps the shap"),
    ]
    course = tiny_course(tmp_path, {"nb.ipynb": nbformat.writes(nb)})
    with pytest.raises(GraderError, match=r"nb\.ipynb:cell 3 line 2: 'must fail' names no check"):
        find_mistakes(load_course(course))


@pytest.mark.slow  # the real sandbox, many jobs
def test_a_bad_mistake_stops_validate_with_one_line_and_exit_2(tmp_path: Path):
    course = tiny_course(tmp_path, {"typo.py": "# must fail: nothing like it\n"})
    proc = run_grader("validate", "--course", str(course), "--seeds", "0")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "grader: solutions/mistakes/double/typo.py:1: 'must fail' names no check of double: "
        "'nothing like it'"
    )


def test_the_bundled_course_ships_mistakes_for_every_exercise():
    course = load_course(ROOT)
    mistakes = find_mistakes(course)
    per_exercise = {ex.id: 0 for ex in course.exercises}
    for mistake in mistakes:
        per_exercise[mistake.exercise.id] += 1
    assert all(2 <= n <= 5 for n in per_exercise.values()), per_exercise
