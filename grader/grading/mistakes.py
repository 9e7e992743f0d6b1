"""The course's own wrong solutions: ``solutions/mistakes/FILE/NAME.py`` (or ``.ipynb``).

Each one is a typical beginner's mistake for exercise FILE, and says which checks must
catch it, one per line, anywhere in the file (in a notebook: in any code cell)::

    # must fail: each channel holds one colour of every pixel (uint8 tensor, a 12 x 16 picture)

``grader validate`` grades every mistake: one that passes a check it must fail, or that
scores full marks at all, is a weak spot in the checks, and fails validation. One line
per check (check names may hold commas); a name that is no check of the exercise is an
error at the mistake's file and line, like an error in the YAML.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from grader.course.model import Course, Exercise
from grader.errors import GraderError
from grader.results import ExerciseResult
from grader.submissions.folders import SubmittedFile, read_file

MISTAKES = "mistakes"  # the folder under solutions/
DECLARATION = re.compile(r"^\s*#\s*must fail\s*:(.*)$", re.IGNORECASE)


@dataclass
class Mistake:
    exercise: Exercise
    path: Path
    shown: str  # the path as the instructor finds it: solutions/mistakes/FILE/NAME.py
    must_fail: dict[str, str]  # check name -> where it is declared (line)
    file: SubmittedFile

    def problems(self, result: ExerciseResult) -> list[str]:
        """What this mistake's grading says about the checks: one line per weak spot."""
        found = []
        passed = {c.name for c in result.checks if c.status == "passed"}
        for name, line in self.must_fail.items():
            if name in passed:
                found.append(f"{self.shown}:{line}: passes '{name}', which it must fail")
        if result.max_score > 0 and result.score >= result.max_score:
            found.append(
                f"{self.shown}: scores full marks ({result.score:g}/{result.max_score:g}) "
                "though it is a mistake"
            )
        return found


def find_mistakes(course: Course) -> list[Mistake]:
    """Every mistake the course ships, read and checked (GraderError at file:line)."""
    folder = course.solutions / MISTAKES
    if not folder.is_dir():
        return []
    by_file = {ex.file: ex for ex in course.exercises}
    found = []
    for sub in sorted(folder.iterdir(), key=lambda p: p.name):
        if sub.name.startswith(".") or sub.name == "__pycache__":
            continue
        shown_dir = f"solutions/{MISTAKES}/{sub.name}"
        ex = by_file.get(sub.name)
        if not sub.is_dir() or sub.is_symlink():
            if sub.suffix not in (".py", ".ipynb"):
                continue  # a README, notes: not a mistake
            raise GraderError(
                f"{shown_dir}: a mistake goes in a folder named after its exercise's file "
                f"(solutions/{MISTAKES}/FILE/{sub.name}, FILE one of {', '.join(sorted(by_file))})"
            )
        if ex is None:
            close = difflib.get_close_matches(sub.name, list(by_file), n=1)
            maybe = f"; did you mean {close[0]}?" if close else ""
            raise GraderError(f"{shown_dir}: no exercise has the file '{sub.name}'{maybe}")
        for path in sorted(sub.iterdir(), key=lambda p: p.name):
            if path.suffix in (".py", ".ipynb") and not path.name.startswith("."):
                found.append(_read(ex, path, f"{shown_dir}/{path.name}"))
    return found


def _read(ex: Exercise, path: Path, shown: str) -> Mistake:
    file = read_file(path, ex)
    if file.path is None:
        raise GraderError(f"{shown}: {file.problem}")
    names = [c.name for c in ex.checks]
    must_fail: dict[str, str] = {}
    for line, text in _declaration_lines(file):
        name = text.strip()
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            maybe = f"; did you mean '{close[0]}'?" if close else ""
            raise GraderError(
                f"{shown}:{line}: 'must fail' names no check of {ex.id}: '{name}'{maybe}"
            )
        must_fail.setdefault(name, line)
    if not must_fail:
        raise GraderError(
            f"{shown}:1: names no check it must fail; add a line "
            "'# must fail: <check name>' for each check that must catch this mistake"
        )
    return Mistake(ex, path, shown, must_fail, file)


def _declaration_lines(file: SubmittedFile) -> list[tuple[str, str]]:
    """(where, the name declared) for every ``# must fail:`` line: a .py file's line
    number, or ``cell N line M`` in a notebook."""
    found = []
    if file.notebook is not None:
        for cell in file.notebook.cells:
            for number, text in enumerate(cell.source.splitlines(), start=1):
                match = DECLARATION.match(text)
                if match:
                    found.append((f"cell {cell.number} line {number}", match[1]))
        return found
    for number, text in enumerate((file.source or "").splitlines(), start=1):
        match = DECLARATION.match(text)
        if match:
            found.append((str(number), match[1]))
    return found
