"""The command line contract: exit codes, one clear line when the grader cannot run."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, run_grader, write_student

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


def test_check_from_a_student_bundle(tmp_path: Path):
    bundle = tmp_path / "bundle"
    assert run_grader("build", "--out", str(bundle)).returncode == 0
    (bundle / "tensor_ops.py").write_text(SOLUTION)
    proc = run_grader("check", "tensor_ops.py", cwd=bundle)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "examples passed" in proc.stdout
