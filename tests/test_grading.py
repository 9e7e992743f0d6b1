"""Grading end to end through the real CLI, real subprocesses and the real runner.

One class of students is graded once (module fixture); each test reads its verdicts.
The students exercise every status: passed, failed, error, timeout and missing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import ROOT, check, exercise, results, run_grader, write_student

from grader.course.loading import load_course
from grader.course.stubs import stub_source

SOLUTION = (ROOT / "solutions" / "tensor_ops.py").read_text()

STUDENTS: dict[str, dict[str, str]] = {
    "correct": {"tensor_ops.py": SOLUTION},
    "wrong_dims": {"tensor_ops.py": SOLUTION.replace("mean(dim=0)", "mean(dim=1)")},
    "raises": {"tensor_ops.py": SOLUTION.replace("return x @ weight.T + bias", "return 1 / 0")},
    # One hanging function must not cost its neighbours their points.
    "hangs": {
        "tensor_ops.py": SOLUTION.replace("return x.sum(dim=1)", "while True:\n        pass")
    },
    "syntax": {
        "tensor_ops.py": "import torch\n\ndef linear_forward(x, weight, bias)\n    return x\n"
    },
    "exits_at_import": {"tensor_ops.py": "import sys\nsys.exit(0)\n" + SOLUTION},
    "os_exit_in_function": {
        "tensor_ops.py": SOLUTION.replace("return x.mean(dim=0)", "import os\n    os._exit(0)")
    },
    "misspelled": {"tensor_ops.py": SOLUTION.replace("def row_sum", "def rowsum")},
    "stub": {
        "tensor_ops.py": "import torch\n\ndef linear_forward(x, weight, bias):\n"
        "    raise NotImplementedError\n\ndef column_mean(x):\n    raise NotImplementedError\n\n"
        "def row_sum(x):\n    raise NotImplementedError\n"
    },
    "wrong_type": {
        "tensor_ops.py": SOLUTION.replace("return x.sum(dim=1)", "return x.sum(dim=1).tolist()")
    },
    "chatty": {
        "tensor_ops.py": "print('loading <b>tensor ops</b>')\n"
        + SOLUTION.replace(
            "return x.sum(dim=1)", "print('row_sum called')\n    return x.sum(dim=1)"
        )
    },
    "notebook": {
        "tensor_ops.ipynb": json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {"cell_type": "markdown", "metadata": {}, "source": "# My work"},
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": 3,
                        "outputs": [],
                        "source": ["%matplotlib inline\n", "import torch\n"],
                    },
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": "undefined_name + 1",
                    },
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": SOLUTION,
                    },
                ],
            }
        )
    },
    "empty": {},
}
STUDENTS["stub_py_and_notebook"] = {
    "tensor_ops.py": stub_source(load_course(ROOT).exercise("tensor-ops")),
    "tensor_ops.ipynb": STUDENTS["notebook"]["tensor_ops.ipynb"],
}
STUDENTS["py_and_notebook"] = {"tensor_ops.py": SOLUTION, "tensor_ops.ipynb": "not even json"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    subs = tmp_path_factory.mktemp("subs")
    for name, files in STUDENTS.items():
        write_student(subs, name, files)
    out = tmp_path_factory.mktemp("reports")
    proc = run_grader("grade", str(subs), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return results(out), out, proc.stderr


def test_correct_submission_scores_full_marks(graded):
    data, _, _ = graded
    ex = exercise(data, "correct", "tensor-ops")
    assert ex["status"] == "passed"
    assert ex["score"] == ex["max_score"] > 0


def test_wrong_values_fail_with_shapes_in_the_message(graded):
    data, _, _ = graded
    c = check(data, "wrong_dims", "tensor-ops", "column_mean of a tall")
    assert c["status"] == "failed" and c["score"] == 0
    assert "column_mean" in c["message"] and "shape is [9]; expected [4]" in c["message"]
    # The neighbours still pass.
    assert check(data, "wrong_dims", "tensor-ops", "row_sum")["status"] == "passed"


def test_exception_is_an_error_with_the_students_line(graded):
    data, _, _ = graded
    c = check(data, "raises", "tensor-ops", "random batch")
    assert c["status"] == "error"
    assert "ZeroDivisionError" in c["message"] and "tensor_ops.py" in c["message"]
    assert c["traceback"] and c["traceback"][-1]["file"] == "tensor_ops.py"
    assert all("runner" not in f["file"] for f in c["traceback"])


def test_hanging_function_times_out_alone(graded):
    data, _, _ = graded
    assert check(data, "hangs", "tensor-ops", "row_sum")["status"] == "timeout"
    assert check(data, "hangs", "tensor-ops", "column_mean of a tall")["status"] == "passed"
    assert check(data, "hangs", "tensor-ops", "random batch")["status"] == "passed"


def test_syntax_error_costs_the_exercise_with_a_line(graded):
    data, _, _ = graded
    ex = exercise(data, "syntax", "tensor-ops")
    assert ex["status"] == "error" and ex["score"] == 0
    assert "syntax error at line 3" in ex["message"]


def test_sys_exit_at_import_is_explained(graded):
    data, _, _ = graded
    ex = exercise(data, "exits_at_import", "tensor-ops")
    assert ex["status"] == "error" and ex["score"] == 0
    assert "sys.exit" in ex["message"] and "before the checks ran" in ex["message"]


def test_os_exit_inside_a_function_costs_only_that_function(graded):
    data, _, _ = graded
    c = check(data, "os_exit_in_function", "tensor-ops", "column_mean of a tall")
    assert c["status"] == "error" and "ended the process" in c["message"]
    assert check(data, "os_exit_in_function", "tensor-ops", "row_sum")["status"] == "passed"


def test_missing_function_is_named(graded):
    data, _, _ = graded
    c = check(data, "misspelled", "tensor-ops", "row_sum")
    assert c["status"] == "error" and "defines no 'row_sum'" in c["message"]


def test_stub_says_not_implemented(graded):
    data, _, _ = graded
    ex = exercise(data, "stub", "tensor-ops")
    assert ex["score"] == 0
    assert all("not written yet" in c["message"] for c in ex["checks"])


def test_list_instead_of_tensor_fails(graded):
    data, _, _ = graded
    c = check(data, "wrong_type", "tensor-ops", "row_sum")
    assert c["status"] == "failed" and "expected a tensor" in c["message"]


def test_printed_output_is_captured_per_check(graded):
    data, out, _ = graded
    ex = exercise(data, "chatty", "tensor-ops")
    assert "loading <b>tensor ops</b>" in ex["output"]
    assert "row_sum called" in check(data, "chatty", "tensor-ops", "row_sum")["output"]
    html = (out / "chatty.html").read_text()
    assert "&lt;b&gt;tensor ops&lt;/b&gt;" in html and "<b>tensor ops</b>" not in html


def test_notebook_runs_cells_in_order_and_survives_a_failing_cell(graded):
    data, _, _ = graded
    ex = exercise(data, "notebook", "tensor-ops")
    assert ex["file"] == "tensor_ops.ipynb"
    assert ex["score"] == ex["max_score"]
    assert any("cell 3" in note and "NameError" in note for note in ex["notes"])


def test_missing_files_score_zero_with_a_message(graded):
    data, _, _ = graded
    for ex in next(s for s in data["students"] if s["id"] == "empty")["exercises"]:
        assert ex["status"] == "missing" and ex["score"] == 0
        assert "not submitted" in ex["message"]
    # Every other student also lacks the other exercises: missing, not an error.
    assert all(
        e["status"] == "missing"
        for e in next(s for s in data["students"] if s["id"] == "correct")["exercises"]
        if e["id"] != "tensor-ops"
    )


def test_all_reports_written(graded):
    """Every student's page names them with their total; grades.csv and the overview
    hold every student with the total results.json gives."""
    data, out, stderr = graded
    totals = {s["id"]: f"{s['score']:g}/{s['max_score']:g}" for s in data["students"]}
    assert set(totals) == set(STUDENTS)
    index = (out / "index.html").read_text(encoding="utf-8")
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    for student, total in totals.items():
        page = (out / f"{student}.html").read_text(encoding="utf-8")
        assert student in page and total.split("/")[0] in page, student
        assert student in index
        score = next(s["score"] for s in data["students"] if s["id"] == student)
        assert float(rows[student]["total"]) == score, rows[student]
    assert "graded" in stderr


def test_same_submission_same_report(tmp_path: Path):
    subs = tmp_path / "subs"
    write_student(subs, "twice", {"tensor_ops.py": STUDENTS["wrong_dims"]["tensor_ops.py"]})
    pages = []
    for n in range(2):
        out = tmp_path / f"out{n}"
        assert run_grader("grade", str(subs), "--out", str(out)).returncode == 0
        pages.append((out / "twice.html").read_bytes())
        pages.append((out / "grades.csv").read_bytes())
    assert pages[0] == pages[2] and pages[1] == pages[3]


def test_both_files_the_py_counts_unless_it_is_the_untouched_stub(graded):
    data, _, _ = graded
    ex = exercise(data, "py_and_notebook", "tensor-ops")
    assert ex["file"] == "tensor_ops.py" and ex["score"] == ex["max_score"]
    assert any("tensor_ops.py was graded" in n for n in ex["notes"])
    ex = exercise(data, "stub_py_and_notebook", "tensor-ops")
    assert ex["file"] == "tensor_ops.ipynb" and ex["score"] == ex["max_score"]
    assert any("unchanged stub" in n for n in ex["notes"])
