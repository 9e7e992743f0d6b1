"""Shared helpers: the real course at the repository root, and running the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_grader(*args: str, cwd: Path = ROOT, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `python -m grader ...` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python_under_tmp() -> list[str]:
    """What a job sees in its own, fresh /tmp: only the Python environment, when it lives
    under /tmp (a venv there is bound in, read-only, so that it still runs)."""
    names = set()
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        path = Path(prefix)
        if path.is_relative_to("/tmp") and path != Path("/tmp"):
            names.add(path.relative_to("/tmp").parts[0])
    return sorted(names)


def write_student(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (folder / filename).write_text(text, encoding="utf-8")
    return folder


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def exercise(data: dict, student: str, exercise_id: str) -> dict:
    s = next(s for s in data["students"] if s["id"] == student)
    return next(e for e in s["exercises"] if e["id"] == exercise_id)


def check(data: dict, student: str, exercise_id: str, name_part: str) -> dict:
    return next(c for c in exercise(data, student, exercise_id)["checks"] if name_part in c["name"])


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
