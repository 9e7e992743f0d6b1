"""Parallel and incremental grading through the real CLI, the real pool and the real
store: results do not depend on --jobs, a re-run grades only what changed, and a run
killed half-way resumes with nothing lost or counted twice."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_grader

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "submissions"


def comparable(out: Path) -> dict:
    """results.json without what legitimately differs between runs: timings, the
    grader's and the student's own (a notebook's `%time` prints them)."""
    data = json.loads((out / "results.json").read_text())
    for student in data["students"]:
        for ex in student["exercises"]:
            # IPython writes micro as µ (U+00B5) or μ (U+03BC), by version.
            ex["output"] = re.sub(r"[\d.]+(e[+-]?\d+)? ?[nµμm]?s\b", "T", ex["output"])
            for check in ex["checks"]:
                check.pop("seconds", None)
    return data


def class_folder(tmp_path: Path, copies: int = 2) -> Path:
    """The bundled examples plus a few renamed copies of the correct and the typical student."""
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES, subs)
    for i in range(copies):
        shutil.copytree(EXAMPLES / "ada_correct", subs / f"ada_copy{i}")
        shutil.copytree(EXAMPLES / "ben_typical_mistakes", subs / f"ben_copy{i}")
    return subs


def course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", course / "exercises")
    shutil.copytree(ROOT / "solutions", course / "solutions")
    return course


def stored_rows(out: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(out / "grades.sqlite") as conn:
        return conn.execute(
            "SELECT student, exercise, graded_at FROM results ORDER BY student, exercise"
        ).fetchall()


def grade(subs: Path, out: Path, *extra: str, course: Path = ROOT) -> subprocess.CompletedProcess:
    proc = run_grader("grade", str(subs), "--out", str(out), "--course", str(course), *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_results_do_not_depend_on_jobs(tmp_path: Path):
    subs = class_folder(tmp_path, copies=1)
    one = grade(subs, tmp_path / "one", "--jobs", "1")
    two = grade(subs, tmp_path / "two", "--jobs", "2")
    assert comparable(tmp_path / "one") == comparable(tmp_path / "two")
    assert "graded 5 submissions" in one.stderr and "graded 5 submissions" in two.stderr
    # Copies of a student get exactly the same grades as the original.
    data = comparable(tmp_path / "two")
    by_id = {s["id"]: s for s in data["students"]}
    for original in ("ada_correct", "ben_typical_mistakes"):
        copy = dict(by_id[original.split("_")[0] + "_copy0"])
        assert copy.pop("id") and {**copy} == {
            k: v for k, v in by_id[original].items() if k != "id"
        }


def test_rerun_grades_only_what_changed(tmp_path: Path):
    subs = class_folder(tmp_path, copies=0)
    course = course_copy(tmp_path)
    out = tmp_path / "out"
    first = grade(subs, out, course=course)
    assert "graded 3 submissions" in first.stderr
    before = comparable(out)
    rows = stored_rows(out)
    assert len(rows) == 3 * 11  # one row per student and exercise, never more

    # Nothing changed: nothing runs, the outputs are the same. A page older than its
    # student's results (as after a run killed before its reports) is written again.
    time.sleep(1.1)  # graded_at has one-second resolution
    page = out / "ada_correct.html"
    page.write_text("stale")
    os.utime(page, (time.time() - 3600, time.time() - 3600))
    again = grade(subs, out, course=course)
    assert "nothing to grade: all 3 submissions unchanged" in again.stderr
    assert comparable(out) == before and stored_rows(out) == rows
    assert "ada_correct" in page.read_text()

    # One student's file changes: only that student is graded again.
    target = subs / "ben_typical_mistakes" / "tensor_ops.py"
    target.write_text(target.read_text() + "\n# edited at midnight\n")
    changed = grade(subs, out, course=course)
    assert "graded 1 submission" in changed.stderr and "2 unchanged" in changed.stderr
    regraded = {
        (s, e) for (s, e, t), (_, _, t0) in zip(stored_rows(out), rows, strict=True) if t != t0
    }
    assert {s for s, _ in regraded} == {"ben_typical_mistakes"}

    # One exercise changes (a check's points): that exercise only, for every student.
    rows = stored_rows(out)
    time.sleep(1.1)
    yaml_path = course / "exercises" / "tensor_ops.yaml"
    text = yaml_path.read_text()
    assert "    points: 2" in text and "\npoints: 8\n" in text
    yaml_path.write_text(
        text.replace("    points: 2", "    points: 3", 1).replace("\npoints: 8\n", "\npoints: 9\n")
    )
    points = grade(subs, out, course=course)
    regraded = {
        (s, e) for (s, e, t), (_, _, t0) in zip(stored_rows(out), rows, strict=True) if t != t0
    }
    # The progress line shows the student's new total, not the re-graded exercise's 9/9.
    total = before["students"][0]["max_score"] + 1
    assert f"ada_correct: {total:g}/{total:g}, re-graded tensor-ops (" in points.stderr
    assert regraded == {
        (s, "tensor-ops") for s in ("ada_correct", "ben_typical_mistakes", "cho_notebooks")
    }
    ada = next(s for s in comparable(out)["students"] if s["id"] == "ada_correct")
    assert ada["max_score"] == before["students"][0]["max_score"] + 1

    # A hidden helper that one exercise uses changes: that exercise only.
    rows = stored_rows(out)
    time.sleep(1.1)
    helper = course / "exercises" / "hidden" / "training_loop.py"
    helper.write_text(helper.read_text() + "\n# recalibrated\n")
    grade(subs, out, course=course)
    regraded = {
        (s, e) for (s, e, t), (_, _, t0) in zip(stored_rows(out), rows, strict=True) if t != t0
    }
    assert {e for _, e in regraded} == {"training-loop"}

    # --force grades everything again.
    forced = grade(subs, out, "--force", course=course)
    assert "graded 3 submissions" in forced.stderr


def _saved_students(out: Path) -> int:
    try:
        with sqlite3.connect(out / "grades.sqlite", timeout=5) as conn:
            return conn.execute("SELECT COUNT(DISTINCT student) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_interrupted_run_resumes_with_nothing_lost_or_doubled(tmp_path: Path, how: str):
    subs = class_folder(tmp_path, copies=3)  # 9 students
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", str(subs), "--out", str(out), "--jobs", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As from a terminal: a suite started in the background (`cmd &`) ignores SIGINT,
        # and a Python started with it ignored never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while _saved_students(out) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    if how == "SIGKILL":
        os.killpg(proc.pid, signal.SIGKILL)  # the grader and every worker, without warning
        proc.wait(timeout=60)
    else:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "run the same command again" in err
    saved = _saved_students(out)
    assert 3 <= saved < 9
    # Every saved student is complete: all eleven exercises, once each.
    with sqlite3.connect(out / "grades.sqlite") as conn:
        counts = conn.execute("SELECT student, COUNT(*) FROM results GROUP BY student").fetchall()
    assert all(n == 11 for _, n in counts)

    resumed = grade(subs, out, "--jobs", "2")
    assert f"graded {9 - saved} submission" in resumed.stderr, resumed.stderr
    assert f"{saved} unchanged" in resumed.stderr
    fresh = grade(subs, tmp_path / "fresh", "--jobs", "2")
    assert "graded 9 submissions" in fresh.stderr
    assert comparable(out) == comparable(tmp_path / "fresh")
    assert len(stored_rows(out)) == 9 * 11


def test_progress_lines_and_summary_when_not_a_terminal(tmp_path: Path):
    subs = class_folder(tmp_path, copies=0)
    proc = grade(subs, tmp_path / "out", "--jobs", "2")
    lines = proc.stderr.splitlines()
    counted = [line for line in lines if line.startswith("[")]
    assert sorted(line.split("]")[0] for line in counted) == ["[1/3", "[2/3", "[3/3"]
    assert any("ada_correct: 119/119" in line for line in counted)
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    assert any(
        line.startswith("graded 3 submissions in ") and "submissions/s" in line for line in lines
    )


def test_a_store_that_is_not_a_store_is_a_clear_error(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.sqlite").write_text("not a database")
    proc = run_grader("grade", str(EXAMPLES / "ada_correct"), "--out", str(out))
    assert proc.returncode == 2
    assert "grades.sqlite" in proc.stderr and "Traceback" not in proc.stderr
