"""The command line contract: exit codes, one clear line when the grader cannot run."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, exercise, results, run_grader, write_student

SOLUTION = (ROOT / "solutions" / "tensor_ops.py").read_text()


def test_grade_outside_a_course_fails_with_one_line(tmp_path: Path):
    proc = run_grader("grade", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a course folder" in lines[0] and "Traceback" not in proc.stderr


def test_grade_a_missing_folder_fails_with_one_line(tmp_path: Path):
    proc = run_grader("grade", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"grader: {tmp_path / 'nope'} is not a folder of submissions"
    ]


def test_broken_exercise_file_is_named_with_its_line(tmp_path: Path):
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "foo.yaml").write_text(
        "id: foo\ntitle: Foo\nfile: foo\npoints: ten\n"
    )
    proc = run_grader("validate", "--course", str(tmp_path))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "grader: exercises/foo.yaml:4: key 'points': expected a number, got 'ten'"
    )


def test_check_passes_on_a_solution_and_fails_on_a_stub(tmp_path: Path):
    good = write_student(tmp_path, "good", {"tensor_ops.py": SOLUTION})
    proc = run_grader("check", str(good / "tensor_ops.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "FAIL" not in proc.stdout

    bad = write_student(tmp_path, "bad", {"tensor_ops.py": SOLUTION.replace("dim=0", "dim=1")})
    proc = run_grader("check", str(bad))
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "column means" in proc.stdout
    # A visible example's answer is no secret: its message names the expected value.
    assert "values differ at 2 of 2 positions, e.g. at [0]: expected 2, got 1.5" in proc.stdout
    # Under a failing example, its code, as the student would type it to try it.
    from grader.course.loading import load_course

    (example, *_) = load_course(ROOT).exercise("tensor-ops").examples
    lines = proc.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith(f"  FAIL    {example.name}"))
    assert lines[failed + 1] == " " * 10 + example.code.strip()


def test_check_from_a_student_bundle(tmp_path: Path):
    bundle = tmp_path / "bundle"
    assert run_grader("build", "--out", str(bundle)).returncode == 0
    (bundle / "tensor_ops.py").write_text(SOLUTION)
    proc = run_grader("check", "tensor_ops.py", cwd=bundle)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "examples passed" in proc.stdout


# ---------------------------------------------------------------- names in the YAML
UNIT = """\
id: unit
title: Doubling
file: unit
prompt: Write f(x), which returns 2 * x.
entry_points:
  - {name: f, signature: (x), doc: Return 2 * x.}
checks:
  - name: f doubles the hidden rows
    entry: f
    points: 1
    data: hidden/unit.py:rows
    call: [{data: X}]
    judge: match
"""
HELPER = """\
import torch

from grader.judges import Verdict


def rows(seed):
    return {"X": torch.arange(6.0).reshape(2, 3)}


def judge_doubles(ctx):
    got = ctx.outputs["result"]
    return Verdict(bool((got.data == 2 * ctx.data["X"]).all()), "compared")
"""


def unit_course(tmp_path: Path, yaml: str = UNIT) -> Path:
    course = tmp_path / "course"
    write_student(course, "exercises", {"unit.yaml": yaml})
    write_student(course / "exercises", "hidden", {"unit.py": HELPER})
    write_student(course, "solutions", {"unit.py": "def f(x):\n    return 2 * x\n"})
    write_student(tmp_path / "subs", "ada", {"unit.py": "def f(x):\n    return 2 * x\n"})
    return course


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    return lines[0]


def test_a_data_key_typo_is_one_line_at_its_place(tmp_path: Path):
    course = unit_course(tmp_path, UNIT.replace("{data: X}", "{data: X_trn}"))
    said = (
        "grader: exercises/unit.yaml:12: key 'data': 'X_trn' is not a key of the check's "
        "data (hidden/unit.py:rows gives: X)"
    )
    assert one_line(run_grader("validate", "--course", str(course))) == said
    proc = run_grader(
        "grade", str(tmp_path / "subs"), "--course", str(course), "--out", str(tmp_path / "out")
    )
    assert one_line(proc) == said


def test_a_helper_function_typo_is_one_line_when_grading(tmp_path: Path):
    course = unit_course(tmp_path, UNIT.replace("unit.py:rows", "unit.py:rowz"))
    proc = run_grader(
        "grade", str(tmp_path / "subs"), "--course", str(course), "--out", str(tmp_path / "out")
    )
    assert one_line(proc) == (
        "grader: exercises/unit.yaml:11: key 'data': hidden/unit.py defines no function 'rowz'"
    )


def test_an_order_id_that_names_no_exercise(tmp_path: Path):
    course = unit_course(tmp_path)
    (course / "course.yaml").write_text("title: T\norder:\n  - unit\n  - unti\n")
    assert one_line(run_grader("build", "--course", str(course), "--out", str(tmp_path / "b"))) == (
        "grader: course.yaml:4: key 'order': 'unti' is not the id of an exercise (ids: unit)"
    )


def test_a_custom_judge_that_raises_is_an_error_at_its_line(tmp_path: Path):
    yaml = UNIT.replace(
        "    judge: match\n",
        "    judge: custom\n    with: {function: hidden/unit.py:judge_doubles}\n",
    )
    course = unit_course(tmp_path, yaml)
    helper = course / "exercises" / "hidden" / "unit.py"
    helper.write_text(helper.read_text().replace('ctx.data["X"]', 'ctx.data["x"]'))
    out = tmp_path / "out"
    proc = run_grader("grade", str(tmp_path / "subs"), "--course", str(course), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    (check,) = exercise(results(out), "ada", "unit")["checks"]
    assert (check["status"], check["score"]) == ("error", 0)
    assert check["message"] == (
        "f: this check could not be judged: the course's judge failed at "
        "exercises/hidden/unit.py:12 (KeyError: 'x'); an error in the course, not in your code"
    )


# ---------------------------------------------------------------- grader new
def test_new_writes_an_exercise_that_validates_and_never_overwrites(tmp_path: Path):
    proc = run_grader("new", "blob-accuracy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("wrote exercises/blob_accuracy.yaml, ")
    proc = run_grader("validate", "--seeds", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "course is valid" in proc.stdout

    yaml = tmp_path / "exercises" / "blob_accuracy.yaml"
    yaml.write_text(yaml.read_text() + "# mine\n")
    proc = run_grader("new", "blob-accuracy", cwd=tmp_path)
    assert one_line(proc).endswith("exist already; grader new overwrites nothing")
    assert yaml.read_text().endswith("# mine\n")
    assert one_line(run_grader("new", "Blob", cwd=tmp_path)) == (
        "grader: 'Blob' is not an exercise id: use lower-case letters, digits and dashes"
    )
