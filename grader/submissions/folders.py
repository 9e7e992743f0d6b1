"""Finding students' submissions and turning them into what the sandbox receives.

A submission is a folder per student holding FILE.py or FILE.ipynb per exercise. Only
regular files with the exact expected names are taken: symlinks, other files and odd
names never reach the sandbox.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.course.model import Course, Exercise
from grader.errors import GraderError
from grader.sandbox.protocol import layout
from grader.submissions.notebooks import Cell, Notebook

MAX_SOURCE_BYTES = 2 * 2**20  # a .py file; notebooks may be larger (images)
MAX_NOTEBOOK_BYTES = 100 * 2**20


@dataclass
class SubmittedFile:
    exercise: Exercise
    path: Path | None  # the file that is graded; None when not submitted (or unusable)
    kind: str = ""  # "py" or "ipynb"
    problem: str = ""  # why the file cannot be graded, in words for the student
    notes: list[str] = field(default_factory=list)
    notebook: Notebook | None = None  # notebooks: the code cells, as the grader read them
    source: str | None = None  # a .py file's text; a notebook's code once code() made it

    # Where each notebook cell starts in code(): (first line, cell), in order.
    cell_starts: list[tuple[int, Cell]] = field(default_factory=list)

    def code(self) -> str | None:
        """The code, for judges that read it: a notebook's cells as one Python text
        (magics turned into calls), made when first asked (it imports IPython)."""
        if self.source is None and self.notebook is not None:
            from grader.submissions.notebooks import transformed_cells

            parts = transformed_cells(self.notebook.cells)
            line = 1
            for cell, part in zip(self.notebook.cells, parts, strict=True):
                self.cell_starts.append((line, cell))
                line += part.count("\n") + 1
            self.source = "\n".join(parts)
        return self.source

    def place(self, line: int) -> tuple[str, str, int] | None:
        """Where line ``line`` of code() is, for the student: (what to call it, the text
        it is in, its line there): the file itself, or a notebook's cell."""
        code = self.code()
        if code is None or self.path is None or line < 1:
            return None
        if self.notebook is None:
            return self.path.name, code, line
        found = None
        for start, cell in self.cell_starts:
            if start > line:
                break
            found = (start, cell)
        if found is None:
            return None
        start, cell = found
        return cell.label(), cell.source, line - start + 1

    def where(self, line: int) -> str:
        """``place`` in words: "line 11", or "line 2 of cell 5 (In [3], ...)"."""
        placed = self.place(line)
        if placed is None or self.notebook is None:
            return f"line {line}"
        return f"line {placed[2]} of {placed[0]}"


@dataclass
class Submission:
    student: str
    folder: Path
    files: dict[str, SubmittedFile]  # exercise id -> file


def discover(path: Path, course: Course, skipped: list[str] | None = None) -> list[Path]:
    """Student folders under ``path``; ``path`` itself if it is one student's folder.
    A link to a folder is not one (it could point anywhere): it is left out, and said
    in ``skipped``."""
    names = {f"{ex.file}{ext}" for ex in course.exercises for ext in (".py", ".ipynb")}
    if any((path / n).exists() for n in names):
        return [path]
    found = []
    for p in sorted(path.iterdir(), key=lambda p: p.name):
        if p.name.startswith(".") or not p.is_dir():
            continue
        if p.is_symlink():
            if skipped is not None:
                skipped.append(
                    f"skipped {student_id(p.name)}: it is a link to a folder, "
                    "not a student's folder (links are not followed); "
                    "copy the folder itself to grade it"
                )
            continue
        found.append(p)
    return found


def student_folders(path: Path, course: Course, skipped: list[str] | None = None) -> list[Path]:
    """The student folders to grade under ``path``, or a clear error; ``skipped`` gets a
    line for each folder left out that looked like one (see ``discover``)."""
    if not path.is_dir():
        raise GraderError(f"{path} is not a folder of submissions")
    left_out: list[str] = []
    folders = discover(path, course, left_out)
    if skipped is not None:
        skipped += left_out
    if not folders:
        # What was skipped is the reason, so it goes in the error itself.
        why = "".join(f"; {line}" for line in left_out)
        raise GraderError(f"{path} holds no student folders{why}")
    return folders


def student_id(name: str) -> str:
    """A student's id from their folder's name: the name itself, or, for a name that is
    not valid UTF-8 (Python keeps its odd bytes as lone surrogates, which the store,
    JSON and terminals cannot take), the same name with those bytes as ``\\xNN``."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        pass
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that no file name decodes to: shown as \udNNN
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def student_ids(folders: list[Path]) -> list[str]:
    """``student_id`` of each folder, made unique: an escaped name that another folder
    has as its real name gets a short hash of its bytes, so no two students share a
    row in the store or a report."""
    ids = [student_id(folder.name) for folder in folders]
    taken = {folder.name for folder in folders}
    for i, folder in enumerate(folders):
        if ids[i] != folder.name and (ids[i] in taken or ids.count(ids[i]) > 1):
            raw = folder.name.encode("utf-8", "surrogatepass")
            ids[i] = f"{ids[i]}~{hashlib.sha256(raw).hexdigest()[:8]}"
    return ids


def collect(folder: Path, course: Course, student: str | None = None) -> Submission:
    """The submission in ``folder``, read into memory; ``student`` is its id (by default
    ``student_id`` of the folder's name)."""
    files = {ex.id: _pick(folder, ex) for ex in course.exercises}
    return Submission(student=student or student_id(folder.name), folder=folder, files=files)


def _pick(folder: Path, ex: Exercise) -> SubmittedFile:
    py, nb = folder / f"{ex.file}.py", folder / f"{ex.file}.ipynb"
    notes = []
    present = [p for p in (py, nb) if p.exists() or p.is_symlink()]
    if not present:
        return SubmittedFile(
            ex, None, problem=f"not submitted: no {ex.file}.py or {ex.file}.ipynb was found"
        )
    if len(present) == 2:
        # Deterministic and easy to explain: the plain Python file wins, unless it is
        # the untouched stub from the bundle (the student worked in the notebook).
        if _is_untouched_stub(py, ex):
            notes.append(
                f"both {py.name} and {nb.name} were submitted; {py.name} is the unchanged "
                f"stub, so {nb.name} was graded"
            )
            present = [nb]
        else:
            notes.append(f"both {py.name} and {nb.name} were submitted; {py.name} was graded")
            present = [py]
    return read_file(present[0], ex, notes)


def read_file(path: Path, ex: Exercise, notes: list[str] | None = None) -> SubmittedFile:
    """``path`` read as exercise ``ex``'s file, whatever its name (``grader validate``
    grades the course's mistakes, ``solutions/mistakes/FILE/NAME.py``, with it)."""
    notes = list(notes or [])
    kind = "py" if path.suffix == ".py" else "ipynb"
    if path.is_symlink() or not path.is_file():
        return SubmittedFile(
            ex,
            None,
            kind,
            f"{path.name} is a link or not a regular file, so it was not graded; "
            "submit the file itself",
            notes,
        )
    size = path.stat().st_size
    limit = MAX_SOURCE_BYTES if kind == "py" else MAX_NOTEBOOK_BYTES
    if size > limit:
        return SubmittedFile(
            ex,
            None,
            kind,
            f"{path.name} is {size // 2**20} MB, over the {limit // 2**20} MB limit",
            notes,
        )
    if kind == "py":
        raw = path.read_bytes()
        try:
            source = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return SubmittedFile(
                ex,
                None,
                kind,
                f"{path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                notes,
            )
        return SubmittedFile(ex, path, kind, "", notes, source=source)
    from grader.submissions.notebooks import NotebookProblem, read_notebook

    try:
        notebook = read_notebook(path.read_bytes())
    except NotebookProblem as exc:
        return SubmittedFile(ex, None, kind, f"{path.name} cannot be graded: {exc}", notes)
    notes += notebook.notes
    others = notebook.made_for() - {ex.id}
    if others:
        notes.append(
            f"{path.name} holds cells of the stub for {', '.join(sorted(others))}, not {ex.id}: "
            "was the wrong notebook submitted under this name?"
        )
    return SubmittedFile(ex, path, kind, "", notes, notebook=notebook)


def _is_untouched_stub(py: Path, ex: Exercise) -> bool:
    from grader.course.stubs import is_untouched_stub

    if py.is_symlink() or not py.is_file() or py.stat().st_size > MAX_SOURCE_BYTES:
        return False
    try:
        text = py.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return is_untouched_stub(text, ex)


def submission_data(submission: Submission) -> dict[str, Any]:
    """The submission as plain data, exactly as this grader read it, for grading on
    another machine: each exercise's file name, kind, problem and notes, and its code
    (a .py file's text, a notebook's code cells); nothing else of the folder."""
    files = {}
    for ex_id, sub in submission.files.items():
        files[ex_id] = {
            "name": sub.path.name if sub.path else None,
            "kind": sub.kind,
            "problem": sub.problem,
            "notes": list(sub.notes),
            "source": sub.source if sub.kind == "py" else None,
            "cells": [vars(c) for c in sub.notebook.cells] if sub.notebook else None,
            "notebook_notes": list(sub.notebook.notes) if sub.notebook else [],
        }
    return {"student": submission.student, "files": files}


def submission_from_data(data: dict[str, Any], course: Course) -> Submission:
    """The inverse of ``submission_data``, against the same course."""
    files = {}
    for ex in course.exercises:
        f = data["files"][ex.id]
        notebook = (
            None
            if f["cells"] is None
            else Notebook([Cell(**c) for c in f["cells"]], f["notebook_notes"])
        )
        files[ex.id] = SubmittedFile(
            ex,
            Path(f["name"]) if f["name"] else None,
            f["kind"],
            f["problem"],
            f["notes"],
            notebook=notebook,
            source=f["source"],
        )
    return Submission(student=data["student"], folder=Path(data["student"]), files=files)


def stage(submission: Submission, target: Path) -> None:
    """Copy what the sandbox may see: the graded files, nothing else."""
    target.mkdir(parents=True, exist_ok=True)
    for sub in submission.files.values():
        if sub.path is None:
            continue
        name = sub.exercise.file
        if sub.kind == "py":
            (target / f"{name}.py").write_text(sub.source or "", encoding="utf-8")
        else:
            assert sub.notebook is not None
            (target / layout.cells_name(name)).write_text(
                json.dumps(sub.notebook.staged()), encoding="utf-8"
            )
