"""The sandbox runs the Python environment the grader runs in, wherever it is: a venv
under /tmp (which the sandbox's own /tmp used to hide: "bwrap: execvp /tmp/venv/bin/python3:
No such file or directory"), a venv inside the course folder, and this machine's own
Python (pyenv or the system's: every other test). A module installed only in the venv
must import inside a job, which gets a /tmp of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, exercise, results, write_student

from grader.sandbox.bwrap import availability

_usable, _why = availability()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _usable and not os.environ.get("CI"), reason=f"bubblewrap cannot run here: {_why}"
    ),
]

STUDENT = (
    (ROOT / "solutions" / "tensor_ops.py").read_text()
    + """

import sys as _sys

import only_in_this_venv

print("VENV", only_in_this_venv.__file__, _sys.prefix)
"""
)


def make_venv(folder: Path) -> Path:
    """A venv that sees this Python's packages (torch) and has one module of its own."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
        check=True,
        capture_output=True,
    )
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "only_in_this_venv.py").write_text("WHERE = __file__\n")
    return python


@pytest.fixture
def under_tmp():
    folder = Path(tempfile.mkdtemp(prefix="grader-venv-", dir="/tmp"))
    yield folder, ROOT
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def in_course(tmp_path: Path):
    course = tmp_path / "course"
    for part in ("exercises", "solutions"):
        shutil.copytree(ROOT / part, course / part)
    shutil.copy(ROOT / "course.yaml", course / "course.yaml")
    return course / ".venv", course


@pytest.mark.parametrize("place", ["under_tmp", "in_course"])
def test_a_venv_anywhere_grades_under_bubblewrap(
    place: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    venv, course = request.getfixturevalue(place)
    python = make_venv(venv)
    subs = tmp_path / "subs"
    write_student(subs, "vera", {"tensor_ops.py": STUDENT})
    out = tmp_path / "out"
    # The checkout's grader (cwd is on sys.path with -m), run by the venv's Python.
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "grader",
            "grade",
            str(subs),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--sandbox",
            "bubblewrap",
            "--course",
            str(course),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = results(out)
    assert data["sandbox"] == "bubblewrap"
    ex = exercise(data, "vera", "tensor-ops")
    assert ex["score"] == ex["max_score"] > 0, json.dumps(ex)[:2000]
    assert f"VENV {venv}" in ex["output"], ex["output"]
