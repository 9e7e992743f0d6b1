"""The CLI around the platform exports: --fail-under, --ci detection, `grader ci init`,
and `grader export canvas` without a graded run. The formats themselves are tested in
exports/test_github.py, test_junit.py, test_gradescope.py and test_canvas.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_grader, write_student

SOLUTION = (ROOT / "solutions" / "tensor_ops.py").read_text(encoding="utf-8")


def grader_env(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """alice hands in tensor_ops.py only: 8 of the course's points."""
    subs = tmp_path_factory.mktemp("subs")
    write_student(subs, "alice", {"tensor_ops.py": SOLUTION})
    out = tmp_path_factory.mktemp("reports")
    proc = run_grader("grade", str(subs), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return subs, out


def test_fail_under_exits_1_only_under_the_threshold(graded: tuple[Path, Path]) -> None:
    subs, out = graded
    # The reruns reuse the stored results: nothing is graded again.
    above = run_grader("grade", str(subs), "--out", str(out), "--fail-under", "5")
    assert above.returncode == 0, above.stderr
    below = run_grader("grade", str(subs), "--out", str(out), "--fail-under", "50")
    assert below.returncode == 1
    assert "under --fail-under 50%: alice (6.7%)" in below.stderr
    assert "nothing to grade" in below.stderr  # the reports are still written


def test_github_reporting_follows_the_environment_unless_told(
    graded: tuple[Path, Path], tmp_path: Path
) -> None:
    subs, out = graded
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(tmp_path / "o"),
        "GITHUB_WORKSPACE": str(subs),
    }
    off = grader_env("grade", str(subs), "--out", str(out), "--ci", "none", env=env)
    assert off.returncode == 0, off.stderr
    assert not summary.exists()
    on = grader_env("grade", str(subs), "--out", str(out), env=env)
    assert on.returncode == 0, on.stderr
    assert summary.is_file() and "alice" in summary.read_text(encoding="utf-8")


def test_ci_init_writes_the_workflow_once(tmp_path: Path) -> None:
    first = run_grader("ci", "init", "--dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    workflow = tmp_path / ".github" / "workflows" / "autograde.yml"
    text = workflow.read_text(encoding="utf-8")
    again = run_grader("ci", "init", "--dir", str(tmp_path))
    assert again.returncode == 2 and "exists; use --force" in again.stderr
    workflow.write_text("# edited\n", encoding="utf-8")
    forced = run_grader("ci", "init", "--dir", str(tmp_path), "--force")
    assert forced.returncode == 0 and workflow.read_text(encoding="utf-8") == text


def test_canvas_export_needs_a_graded_run(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n", encoding="utf-8")
    proc = run_grader(
        "export",
        "canvas",
        "--roster",
        str(roster),
        "--reports",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "canvas.csv"),
    )
    assert proc.returncode == 2
    assert "results.json does not exist: run `grader grade SUBMISSIONS" in proc.stderr
    assert not (tmp_path / "canvas.csv").exists()
