"""The texts `grader similarity` compares: each student's code per exercise, and the
course's own text that no comparison may count.

Students' files are read by the submission readers (``collect``: exact names, no links,
size limits, notebooks parsed as JSON into their code cells, outputs never read). A file
that cannot be read is left out with a line saying why; nothing here raises for a
student's bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.model import Course, Exercise
from grader.submissions.folders import SubmittedFile, collect, student_ids

# Characters of code compared per file. Solutions are a few kB; tokenizing costs up to
# 50 s per MB of odd text, so one padded file could otherwise hold up the whole class.
MAX_CODE_CHARS = 100_000

# A line of nothing but white space (Python's \s, as the tokenizer's regexes read it).
_BLANK_LINE = re.compile(r"^[^\S\n]+$", re.MULTILINE)


@dataclass
class StudentCode:
    student: str
    exercise: str  # the exercise's id
    name: str  # the file it came from (tensor_ops.py, tensor_ops.ipynb)
    text: str  # what is compared and shown: the file, or the notebook's code cells
    # Notebooks: where each code cell starts in ``text``, and what to call it.
    cells: list[tuple[int, str]] = field(default_factory=list)


def code_of(student: str, sub: SubmittedFile) -> StudentCode | str | None:
    """The code of one submitted file; a line saying why it is left out; or None when
    nothing was submitted."""
    if sub.path is None:
        if not sub.kind:  # no FILE.py nor FILE.ipynb: nothing to say
            return None
        return f"{student}, {sub.exercise.id}: not compared: {sub.problem}"
    if sub.notebook is None:
        text, cells = normalized(sub.source or ""), []
    else:
        text, cells = notebook_text(sub)
    if len(text) > MAX_CODE_CHARS:
        return (
            f"{student}, {sub.exercise.id}: not compared: {sub.path.name} holds "
            f"{len(text):,} characters of code, over the limit of {MAX_CODE_CHARS:,}"
        )
    return StudentCode(student, sub.exercise.id, sub.path.name, text, cells)


def notebook_text(sub: SubmittedFile) -> tuple[str, list[tuple[int, str]]]:
    """A notebook's code cells as one text, a blank line between cells, and where each
    starts. The cells' own text, magics included: the tokenizer reads ``%time`` as
    an operator and a name, which is as alike in two copies as anything else."""
    assert sub.notebook is not None
    sources = [normalized(cell.source).rstrip("\n") for cell in sub.notebook.cells]
    starts, at = [], 0
    for cell, source in zip(sub.notebook.cells, sources, strict=True):
        starts.append((at, f"cell {cell.number} (In [{cell.count}])"))
        at += len(source) + 2
    return join_cells(sources), starts


def join_cells(sources: list[str]) -> str:
    """Cells as one text: each ends its line, a blank line between two."""
    return "\n".join(source.rstrip("\n") + "\n" for source in sources)


def normalized(text: str) -> str:
    """``text`` as the tokenizer reads it, so that copydetect's regions (counted along
    its tokens) fall on the text shown: LF line ends, no BOM, no blank lines first. Lines
    of only white space are emptied: Pygments' Python lexer takes quadratic time over a
    run of them (20,000 such lines: minutes)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _BLANK_LINE.sub("", text).lstrip("\n")


def class_code(
    folders: list[Path], course: Course, skipped: list[str]
) -> dict[str, list[StudentCode]]:
    """Exercise id -> every student's code for it, in the order of ``folders``."""
    found: dict[str, list[StudentCode]] = {ex.id: [] for ex in course.exercises}
    for folder, student in zip(folders, student_ids(folders), strict=True):
        try:
            submission = collect(folder, course, student)
        except (OSError, ValueError, RecursionError) as exc:  # a folder gone, a file unreadable
            skipped.append(f"{student}: not compared: {type(exc).__name__}: {exc}")
            continue
        for ex_id, sub in submission.files.items():
            got = code_of(student, sub)
            if isinstance(got, str):
                skipped.append(got)
            elif got is not None:
                found[ex_id].append(got)
    return found


def course_texts(exercise: Exercise) -> list[str]:
    """What the course gives every student of ``exercise``: the stub FILE.py (prompt,
    docstrings, setup, starters, examples), the notebook's code cells, and each
    example's code on its own (students paste them to try)."""
    from grader.course.build import notebook
    from grader.course.stubs import stub_source

    cells = [c.source for c in notebook(exercise).cells if c.cell_type == "code"]
    texts = [stub_source(exercise), join_cells(cells), *cells]
    texts += [f"{e.code.strip()}\n{e.expect.strip()}\n" for e in exercise.examples]
    texts += [e.starter for e in exercise.entry_points if e.starter]
    return [normalized(text) for text in texts]
