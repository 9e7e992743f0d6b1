"""What of a course travels to another machine that grades it (Gradescope's image, a
Dask worker): course.yaml, exercises/ with its hidden helpers, and solutions/, as
files. Hidden helpers must live inside exercises/, or they would not travel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from grader.course.model import Course
from grader.errors import GraderError

COURSE_FOLDERS = ("exercises", "solutions")
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def course_files(course: Course, where: str) -> dict[str, bytes]:
    """The course's files, by path relative to its root (``where`` names the machine it
    goes to, for the error about a helper outside exercises/)."""
    check_helpers_travel(course, where)
    files: dict[str, bytes] = {}
    if (course.root / "course.yaml").is_file():
        files["course.yaml"] = (course.root / "course.yaml").read_bytes()
    for folder in COURSE_FOLDERS:
        for path, rel in shipped_files(course.root / folder):
            files[f"{folder}/{rel}"] = path.read_bytes()
    return files


def check_helpers_travel(course: Course, where: str) -> None:
    """Helper files (hidden data, custom judges) must be inside exercises/, which is
    shipped; one elsewhere would be missing on the other machine."""
    exercises = (course.root / "exercises").resolve()
    for ex in course.exercises:
        for helper in ex.helpers:
            path = (helper.folder / helper.ref.partition(":")[0]).resolve()
            if not path.is_relative_to(exercises):
                raise GraderError(
                    f"{helper.path}:{helper.line}: key '{helper.key}': {path} is outside "
                    f"exercises/, so {where} would not hold it; move it "
                    "into exercises/ (e.g. exercises/hidden/)"
                )


def shipped_files(folder: Path) -> Iterator[tuple[Path, str]]:
    """The files under ``folder`` worth shipping, with their paths relative to it:
    no caches, no hidden files or folders (.git, .ipynb_checkpoints, .DS_Store)."""
    if not folder.is_dir():
        return
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in sorted(files):
            path = Path(top) / name
            if not _skipped(name) and path.is_file():
                yield path, path.relative_to(folder).as_posix()


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS or name.endswith(SKIPPED_SUFFIXES)
