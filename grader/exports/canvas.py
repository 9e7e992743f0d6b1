"""Canvas: a gradebook CSV to import, matching students through the instructor's roster.

The roster is the CSV Canvas's gradebook exports (Grades > Export). The file written is
what Canvas's gradebook importer reads (docs/canvas.md says why each detail is so)::

    \\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Tensors,MLP & friends\\r\\n
        Points Possible,,,,,2,2\\r\\n
    "Lovelace, Ada",101,S101,ada@uni.edu,Section A,2,1.5\\r\\n

One row per roster student whose submission was graded, in the roster's order; the
identity cells are the roster's own, so Canvas finds the student by its ID column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.reports.csv_report import exercise_ids, format_points, text_cell
from grader.results import GradingRun, StudentResult

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # as Canvas exports it; the importer looks for the words
# Excel reads a CSV without one as the local code page (mangling accented names, and
# saving it back that way); Canvas's importer only checks that the first cell *contains*
# "Student", so it reads the file the same with or without it.
BOM = "\ufeff"

# Canvas's importer drops every column whose header contains one of these (its own
# totals), without a word: a grade column named so would never arrive.
_CANVAS_TOTALS = re.compile(
    "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade"
    "|Override Score|Override Grade|Override Status"
)
# "Title (1234)": the importer takes the number as the id of an existing assignment.
_TITLE_AND_ID = re.compile(r"(.*)\s\((\d+)\)")
# The row Canvas adds above Points Possible when an assignment's grades are posted manually.
_POSTING_ROW = re.compile(r"\s*(Muted|Manual Posting.*)?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")  # Canvas writes "10.00", or "10,00" in some locales
_MAX_LISTED = 5  # problems named in one error message


@dataclass
class CanvasExport:
    text: str  # the CSV, as Canvas imports it
    unmatched: list[str]  # graded submissions that match no roster entry


@dataclass
class RosterRow:
    line: int  # where the row starts in the roster file, for messages
    name: str
    canvas_id: str
    sis_user_id: str
    login: str
    section: str

    def keys(self) -> set[str]:
        """What a submission folder's name may be to match this row (already casefolded)."""
        keys = {self.login, self.sis_user_id, self.canvas_id}
        if "@" in self.login:  # folders are often named by the login without its domain
            keys.add(self.login.split("@", 1)[0])
        return {k.strip().casefold() for k in keys} - {""}

    def label(self) -> str:
        return (
            f"line {self.line} ({self.name}, ID {self.canvas_id or '-'}, login {self.login or '-'})"
        )


@dataclass
class Roster:
    path: Path
    rows: list[RosterRow]
    # The export's assignment columns ("Title (id)") and their Points Possible, if given.
    assignments: dict[str, float | None] = field(default_factory=dict)


@dataclass
class _Column:
    header: str
    points: float
    score: Callable[[StudentResult], str]
    raw: Callable[[StudentResult], str] | None = None  # the automatic score


def _automatic(column: _Column) -> _Column:
    assert column.raw is not None
    return _Column(f"{_title_of(column.header)} (automatic)", column.points, column.raw)


def export_canvas(
    run: GradingRun, roster: Path, assignment: str | None = None, raw: bool = False
) -> CanvasExport:
    """The Canvas gradebook CSV for ``run``: one column per exercise, or one column
    named ``assignment`` holding each student's total. The scores are the final ones
    (after late penalties and overrides); with ``raw``, each column is followed by one of
    the automatic scores, "... (automatic)": Canvas imports it as an assignment of its own,
    so it is asked for, not written by default."""
    if not run.students:
        raise GraderError("the last grade has no students: nothing to export to Canvas")
    book = read_roster(Path(roster))
    columns = (
        _total_column(run, book, assignment)
        if assignment is not None
        else _exercise_columns(run, book)
    )
    if raw:
        columns = [c for column in columns for c in (column, _automatic(column))]
    _check_headers(columns, book)
    matched, unmatched = match_students([s.id for s in run.students], book)
    by_id = {s.id: s for s in run.students}

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180; quotes what needs it
    writer.writerow([*IDENTITY, *(text_cell(c.header) for c in columns)])
    writer.writerow(
        [POINTS_POSSIBLE, *[""] * (len(IDENTITY) - 1), *(format_points(c.points) for c in columns)]
    )
    for index, row in enumerate(book.rows):
        if index not in matched:
            continue  # not graded: left out, so Canvas leaves that student's grade alone
        student = by_id[matched[index]]
        identity = (row.name, row.canvas_id, row.sis_user_id, row.login, row.section)
        writer.writerow(
            [*(text_cell(cell) for cell in identity), *(c.score(student) for c in columns)]
        )
    return CanvasExport(text=BOM + buf.getvalue(), unmatched=unmatched)


# -- the roster ------------------------------------------------------------------------


def read_roster(path: Path) -> Roster:
    """A gradebook CSV exported from Canvas: its students and assignment columns."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GraderError(
            f"roster {path} does not exist: export it from Canvas (Grades > Export)"
        ) from None
    except OSError as exc:
        raise GraderError(f"roster {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")  # Canvas may write a byte order mark
    except UnicodeDecodeError as exc:
        raise GraderError(
            f"roster {path} is not UTF-8 (byte {exc.start}): Canvas exports UTF-8; if a "
            "spreadsheet re-saved it, save it as 'CSV UTF-8'"
        ) from None
    if not text.strip():
        raise GraderError(f"roster {path} is empty: export it from Canvas (Grades > Export)")
    # Canvas writes ";" instead of "," for users who ask for it (decimal-comma locales).
    semicolon = isinstance(_identity_columns(_header(text, ";")), dict)
    delimiter = (
        ";" if semicolon and isinstance(_identity_columns(_header(text, ",")), list) else ","
    )
    records = _records(path, text, delimiter)
    columns = _identity_columns(records[0][1] if records else [])
    if isinstance(columns, list):
        header = ",".join(c.strip() for c in records[0][1][:8]) if records else ""
        raise GraderError(
            f"roster {path} is not a Canvas gradebook export: it has no {' or '.join(columns)} "
            f"column (its header starts: {header[:120]!r})"
        )
    return _roster(path, records, columns)


def _header(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return []


def _records(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """The CSV's records, each with the line it starts on."""
    # strict: a quote left open is an error (as for Canvas's parser), not the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            records.append((reader.line_num - _newlines(row), row))
    except csv.Error as exc:
        raise GraderError(
            f"roster {path}, line {reader.line_num}: not readable as CSV ({exc})"
        ) from None
    return records


def _newlines(row: list[str]) -> int:
    # Quoted cells may span lines; line_num is where the record ended.
    return sum(cell.count("\n") for cell in row)


def _identity_columns(header: list[str]) -> dict[str, int] | list[str]:
    """Where each identity column is, or the names of those missing."""
    cells = [c.strip() for c in header]
    where = {
        name: cells.index(name) for name in (*IDENTITY, "LastName", "FirstName") if name in cells
    }
    missing = [name for name in ("ID", "SIS Login ID", "Section") if name not in where]
    if "Student" not in where and not {"LastName", "FirstName"} <= where.keys():
        missing.insert(0, "Student")
    return missing or where


def _roster(path: Path, records: list[tuple[int, list[str]]], columns: dict[str, int]) -> Roster:
    header = [c.strip() for c in records[0][1]]
    # Assignment columns come after Section and carry their id; custom columns and the
    # read-only totals do not.
    assignments = {
        h: i for i, h in enumerate(header) if i > columns["Section"] and _TITLE_AND_ID.fullmatch(h)
    }
    roster = Roster(path=path, rows=[], assignments=dict.fromkeys(assignments))

    def cell(row: list[str], name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    for line, row in records[1:]:
        if row and "Points Possible" in row[0]:
            for title, i in assignments.items():
                value = row[i].strip() if i < len(row) else ""
                roster.assignments[title] = (
                    float(value.replace(",", ".")) if _NUMBER.fullmatch(value) else None
                )
            continue
        if all(_POSTING_ROW.fullmatch(c) for c in row):
            continue  # blank, or Canvas's "Manual Posting" row
        name = cell(row, "Student") or ", ".join(
            p for p in (cell(row, "LastName"), cell(row, "FirstName")) if p
        )
        student = RosterRow(
            line=line,
            name=name,
            canvas_id=cell(row, "ID"),
            sis_user_id=cell(row, "SIS User ID"),
            login=cell(row, "SIS Login ID"),
            section=cell(row, "Section"),
        )
        if student.canvas_id and not student.canvas_id.isdigit():
            # Canvas reads this column as its own user id: a student number here would
            # send grades to whichever Canvas user has that number.
            raise GraderError(
                f"roster {path}, line {line}: ID {student.canvas_id!r} is not a Canvas user id "
                "(a number); export the roster from Canvas's gradebook"
            )
        roster.rows.append(student)
    return roster


# -- matching --------------------------------------------------------------------------


def match_students(students: list[str], roster: Roster) -> tuple[dict[int, str], list[str]]:
    """Roster row index -> the submission matched to it, and the submissions matching none.

    A submission (its folder's name) matches a roster row when it equals, ignoring case
    and surrounding spaces, the row's SIS Login ID, the login's part before "@", its SIS
    User ID or its Canvas ID. Matching two rows, or sharing a row with another
    submission, is an error: never a guess.
    """
    rows_by_key: dict[str, set[int]] = {}
    for index, row in enumerate(roster.rows):
        for key in row.keys():
            rows_by_key.setdefault(key, set()).add(index)
    matched: dict[int, str] = {}
    unmatched: list[str] = []
    problems: list[str] = []
    for student in students:
        hits = sorted(rows_by_key.get(student.strip().casefold(), ()))
        if not hits:
            unmatched.append(student)
        elif len(hits) > 1:
            rows = " and ".join(roster.rows[i].label() for i in hits)
            problems.append(f"submission {student!r} matches {rows}")
        elif hits[0] in matched:
            problems.append(
                f"submissions {matched[hits[0]]!r} and {student!r} both match "
                f"{roster.rows[hits[0]].label()}"
            )
        else:
            matched[hits[0]] = student
    if problems:
        more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise GraderError(
            f"roster {roster.path}: ambiguous: "
            + "; ".join(problems[:_MAX_LISTED])
            + more
            + " (rename each such folder to the student's SIS Login ID)"
        )
    return matched, unmatched


# -- columns ---------------------------------------------------------------------------


def _exercise_columns(run: GradingRun, roster: Roster) -> list[_Column]:
    first = {e.id: e for e in run.students[0].exercises}
    columns = []
    for exercise_id in exercise_ids(run):
        exercise = first[exercise_id]
        title = _one_line(exercise.title) or exercise_id
        if _TITLE_AND_ID.fullmatch(title):
            raise GraderError(
                f"exercise {exercise_id}: its title {title!r} ends in a number in brackets, "
                "which Canvas reads as an assignment id; rename it, or export one column "
                "with --assignment"
            )
        columns.append(
            _Column(
                header=_existing(title, roster),
                points=exercise.max_score,
                score=_exercise_score(exercise_id),
                raw=_exercise_score(exercise_id, automatic=True),
            )
        )
    return columns


def _exercise_score(exercise_id: str, automatic: bool = False) -> Callable[[StudentResult], str]:
    def score(student: StudentResult) -> str:
        found = next((e for e in student.exercises if e.id == exercise_id), None)
        if found is None:
            return ""
        return format_points(found.automatic_score if automatic else found.score)

    return score


def _total_column(run: GradingRun, roster: Roster, assignment: str) -> list[_Column]:
    name = _one_line(assignment)
    if not name:
        raise GraderError("--assignment needs a name: the Canvas assignment's, or a new one")
    header = name if _TITLE_AND_ID.fullmatch(name) else _existing(name, roster)
    return [
        _Column(
            header=header,
            points=run.students[0].max_score,
            score=lambda student: format_points(student.score),
            raw=lambda student: format_points(student.automatic_score),
        )
    ]


def _existing(title: str, roster: Roster) -> str:
    """The roster's "Title (id)" header for an assignment named ``title``, so the grades
    go to that very assignment; else the bare title (Canvas matches an assignment of
    that exact title, or creates one)."""
    same = [h for h in roster.assignments if _title_of(h) == title]
    if len(same) > 1:
        raise GraderError(
            f"roster {roster.path} has {len(same)} assignments named {title!r}: "
            f"{', '.join(same)}; choose one with --assignment {same[0]!r}"
        )
    return same[0] if same else title


def _check_headers(columns: list[_Column], roster: Roster) -> None:
    seen: dict[str, str] = {name: "a student column" for name in IDENTITY}
    for column in columns:
        header = column.header
        total = _CANVAS_TOTALS.search(header)
        if total:
            raise GraderError(
                f"column {header!r}: Canvas ignores columns whose name contains "
                f"{total[0]!r} (its own totals); rename it"
            )
        written = text_cell(header)
        if written in seen:
            # Canvas finds a column by the first header of that name: one would hide the other.
            raise GraderError(
                f"two columns named {written!r} ({seen[written]} and a grade column): Canvas "
                "would read the same one twice; give the exercises distinct titles"
            )
        seen[written] = "a grade column"
        expected = roster.assignments.get(header)
        if expected is not None and round(expected, 2) != round(column.points, 2):
            raise GraderError(
                f"{header}: Canvas has it out of {format_points(expected)} points (the "
                f"roster's Points Possible row), the grades are out of "
                f"{format_points(column.points)}; change its points in Canvas and export "
                "the roster again, or export to another assignment with --assignment"
            )


def _title_of(header: str) -> str:
    """The title part of "Title (1234)", as Canvas reads it."""
    found = _TITLE_AND_ID.fullmatch(header)
    return found[1] if found else header


def _one_line(text: str) -> str:
    # A Canvas title is one line; a newline in a header also trips Canvas's guess of the
    # separator, which reads the first lines one by one.
    return " ".join(text.split())
