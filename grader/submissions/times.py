"""When each student handed in, from a source the instructor names (``--submitted-at``):

- a CSV of ``student,submitted_at`` (ISO 8601 with a time zone);
- ``git``: the last commit that touched the student's folder, read by the grader with
  ``git log -1 --format=%cI -- <folder>`` in the repository holding the submissions
  (GitHub Classroom);
- by default, the newest modification time of the files in the student's folder.

All three are read before any student code runs, by the grader: nothing the student's
code writes can move a hand-in time.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from grader.course.deadlines import parse_time
from grader.errors import GraderError

MTIME = "file modification times"
GIT_TIMEOUT = 30.0


@dataclass
class HandIn:
    """Hand-in times by student id, and what could not be read (said in the run)."""

    source: str  # in words, for the reports
    times: dict[str, datetime] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_times(source: str | None, folders: dict[str, Path]) -> HandIn:
    """``folders``: student id -> folder. ``source``: None (modification times), "git",
    or the path of a CSV."""
    if source is None:
        return _mtimes(folders)
    if source == "git":
        return _git(folders)
    return _csv(Path(source), folders)


def _mtimes(folders: dict[str, Path]) -> HandIn:
    found = HandIn(MTIME)
    for student, folder in folders.items():
        newest = _newest(folder)
        if newest is None:
            found.problems.append(f"{student}: no file in the folder, so no hand-in time")
        else:
            found.times[student] = datetime.fromtimestamp(newest, timezone.utc)
    return found


def _newest(folder: Path) -> float | None:
    """The newest modification time of the regular files under ``folder``, hidden ones
    (.git, .ipynb_checkpoints) left out; links are not followed."""
    newest: float | None = None
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            try:
                info = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if os.path.isfile(os.path.join(top, name)) and not os.path.islink(
                os.path.join(top, name)
            ):
                newest = info.st_mtime if newest is None else max(newest, info.st_mtime)
    return newest


def _git(folders: dict[str, Path]) -> HandIn:
    found = HandIn("the last git commit touching each student's folder")
    for student, folder in folders.items():
        # The repository holding the folder, asked from the folder's parent: a .git the
        # student put inside a folder of the instructor's repository is never read. Only
        # a folder that is a repository of its own (one student's Classroom repository,
        # graded alone) is asked itself.
        folder = folder.resolve()
        out = _git_log(folder.parent, folder.name)
        if out is None:
            out = _git_log(folder, ".")
        if out is None:
            raise GraderError(
                f"--submitted-at git: neither {folder.parent} nor {folder} is in a git repository"
            )
        when = parse_time(out)
        if when is None:
            found.problems.append(f"{student}: no commit touches {folder.name}/")
        else:
            found.times[student] = when
    return found


def _git_log(where: Path, path: str) -> str | None:
    """The committer date of the last commit touching ``path``, as git prints it ("" for
    none); None when ``where`` is in no repository."""
    try:
        proc = subprocess.run(
            # Literal: a folder named "*" or ":(glob)x" is a name, not a pattern.
            [
                "git",
                "--literal-pathspecs",
                "-C",
                str(where),
                "log",
                "-1",
                "--format=%cI",
                "--",
                path,
            ],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraderError(f"--submitted-at git: cannot run git ({exc})") from None
    if proc.returncode != 0:
        if "not a git repository" in proc.stderr:
            return None
        message = proc.stderr.strip().splitlines()
        raise GraderError(
            f"--submitted-at git: git log failed in {where}: "
            f"{message[-1] if message else proc.returncode}"
        )
    return proc.stdout.strip()


def _csv(path: Path, folders: dict[str, Path]) -> HandIn:
    found = HandIn(f"{path.name} (submitted_at)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"{path}: cannot read the hand-in times ({exc})") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "student" not in header or "submitted_at" not in header:
        raise GraderError(f"{path}:1: expected a header row: student,submitted_at")
    who, when = header.index("student"), header.index("submitted_at")
    for line, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        student = row[who].strip() if who < len(row) else ""
        text_time = row[when].strip() if when < len(row) else ""
        at = parse_time(text_time)
        if not student or at is None:
            raise GraderError(
                f"{path}:{line}: expected a student and an ISO 8601 time with a time zone, "
                f"got {student!r}, {text_time!r}"
            )
        if student in found.times:
            raise GraderError(f"{path}:{line}: a second time for {student}")
        found.times[student] = at
    for student in folders:
        if student not in found.times:
            found.problems.append(f"{student}: not in {path.name}, so no hand-in time")
    return found
