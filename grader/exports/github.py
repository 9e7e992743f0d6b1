"""GitHub Actions and GitHub Classroom: a job summary, error annotations on the
student's own lines, the student's output fenced off from workflow commands, and the
Classroom ``result`` output. Reference: docs/ci.md.

Everything here is a function of the ``GradingRun`` plus what the runner provides (its
environment variables and the files they name). Student-controlled text (messages
quoting exceptions, printed output, file and folder names) reaches the job log only
escaped inside a workflow command's data or inside a ``::stop-commands::`` block, and
reaches the job summary only escaped for Markdown and HTML.
"""

from __future__ import annotations

import base64
import json
import math
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from grader.reports.adjusted import adjustment_lines
from grader.reports.csv_report import format_points
from grader.reports.html_report import status_symbol
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult, frame_cell
from grader.submissions.definitions import definition_line, notebook_definition
from grader.submissions.folders import MAX_NOTEBOOK_BYTES, MAX_SOURCE_BYTES
from grader.terminal import ANSI_ESCAPE, CONTROL_CHARS, fenced, stop_token

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "autograde.yml"

SUMMARY_LIMIT = 1024 * 1024  # GitHub drops a step summary file over 1 MiB, whole
SUMMARY_MARGIN = 4 * 1024  # room for the truncation note, and for the runner's secret masking
MAX_ANNOTATIONS = 10  # GitHub keeps 10 error annotations per step; more are dropped
TEXT_LIMIT = 2000  # characters of one message in an annotation, the summary or Classroom
LOG_OUTPUT_LIMIT = 16 * 1024  # characters of printed output per item in the log
WITHHELD = "details withheld: this check's results are not released to students yet"

# Status ranks for annotations: the student's code crashing is the most useful to see.
_RANK = {"error": 0, "timeout": 0, "failed": 1, "missing": 2}


# ------------------------------------------------------------------ workflow commands
def escape_data(text: str) -> str:
    """A workflow command's data (after ``::``), as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: ``:`` and ``,`` would end it early."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, properties: Mapping[str, str | int | None], data: str) -> str:
    """``::name key=value,key=value::data`` on one line; empty properties are left out."""
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and value != ""
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(data)}"


# ------------------------------------------------------------------ what did not pass
@dataclass(frozen=True)
class Problem:
    """One thing to tell the student: a check that did not pass, or an exercise that
    could not be graded at all (not submitted, did not load)."""

    exercise: ExerciseResult
    check: CheckResult | None  # None: the exercise itself
    status: str
    message: str
    hint: str | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.exercise.id}: {self.check.name if self.check else self.exercise.title}"


def released(check: CheckResult) -> bool:
    """GitHub shows the student everything at once: only checks marked visible (the
    default) have their messages and hints shown (docs/ci.md, "Visibility")."""
    return check.visibility == "visible"


def unsubmitted(student: StudentResult) -> list[ExerciseResult]:
    """Exercises with no file: said once for all of them, not once each."""
    return [ex for ex in student.exercises if ex.status == "missing" and ex.file is None]


def problems(exercise: ExerciseResult) -> list[Problem]:
    """What did not pass in ``exercise``, in course order. A file that did not load is
    one problem, not one "not run" per check."""
    found: list[Problem] = []
    repeated: set[str] = set()
    if exercise.message:
        found.append(
            Problem(exercise, None, exercise.status, exercise.message, None, exercise.traceback)
        )
        repeated = {exercise.message, f"not run: {exercise.message}"}
    for check in exercise.checks:
        if check.status == "passed" or check.message in repeated:
            continue
        if released(check):
            found.append(
                Problem(exercise, check, check.status, check.message, check.hint, check.traceback)
            )
        else:
            found.append(Problem(exercise, check, check.status, WITHHELD, None, check.traceback))
    return found


# ------------------------------------------------------------------ files and lines
@dataclass(frozen=True)
class Paths:
    """How annotations name a student's file: as the student's repository does.

    By default, relative to ``GITHUB_WORKSPACE`` (else the current directory): right
    when the repository is checked out there. ``GRADER_SUBMISSION_PATH`` says instead
    where the submission folder sits inside the student's repository ("." for its
    root), for workflows that grade a copy of it elsewhere (docs/ci.md)."""

    workspace: Path
    submission_path: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        workspace = Path(os.path.abspath(env.get("GITHUB_WORKSPACE") or os.getcwd()))
        return cls(workspace, env.get("GRADER_SUBMISSION_PATH") or None)

    def of(self, folder: Path | None, name: str) -> str | None:
        """``name`` in the student's ``folder``, relative to the repository root with
        forward slashes; None when GitHub could not place it (outside the repository)."""
        if self.submission_path is not None:
            relative = posixpath.normpath(posixpath.join(self.submission_path, name))
        elif folder is not None:
            try:
                relative = os.path.relpath(os.path.abspath(Path(folder) / name), self.workspace)
            except ValueError:  # another drive, on Windows
                return None
            relative = PurePosixPath(*Path(relative).parts).as_posix()
        else:
            return None
        if relative == ".." or relative.startswith(("../", "/")) or os.path.isabs(relative):
            return None
        return relative


def _plain_relative(name: str) -> bool:
    """A frame's file that names a file in the student's folder (not ``<string>``,
    not absolute, not climbing out)."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "<" not in name


@dataclass(frozen=True)
class Place:
    file: str | None  # relative to the repository root
    line: int | None
    cell: str | None  # "cell 3" for a notebook


Reader = Callable[[Path], str | None]  # the text of a submitted file, or None


def read_submitted(path: Path) -> str | None:
    """The text of a submitted file, or None: not a regular file (a link could point
    anywhere), larger than the grader reads a submission, or unreadable."""
    limit = MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_SOURCE_BYTES
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()[:limit].decode("utf-8-sig", "replace")
    except OSError:
        return None


def definition_place(problem: Problem, where: Place, source: str | None) -> Place:
    """Where a check without a placed traceback (a wrong value, say) points instead: the
    ``def`` of its entry point in the submitted ``source``, so that the annotation sits
    on the student's code; in a notebook, the cell and line go into the message. A pure
    function of the results and the source; ``where`` unchanged when nothing is found."""
    check, file = problem.check, problem.exercise.file
    if where.line or where.cell or check is None or not check.entry or not file:
        return where
    if source is None or where.file is None:
        return where
    name = check.entry.split(".")[0]  # "Model.forward" is defined by `class Model`
    if file.endswith(".ipynb"):
        found = notebook_definition(source, name)
        return Place(where.file, None, f"cell {found[0]}, line {found[1]}") if found else where
    line = definition_line(source, name)
    return Place(where.file, line, None) if line else where


def place(problem: Problem, folder: Path | None, paths: Paths) -> Place:
    """Where the problem is in the student's files: the last student frame, else the
    exercise's file without a line. Notebook cells have no line in the file, so the
    notebook itself is named and the cell goes into the message."""
    exercise = problem.exercise
    frame = problem.frames[-1] if problem.frames else None
    name, line, cell = exercise.file, None, None
    if frame is not None:
        shown = str(frame.get("file", ""))
        number = frame.get("line")
        number = number if type(number) is int and number > 0 else None
        if frame_cell(shown) is not None:
            cell = shown
            line = number  # the line within the cell, said in the message
        elif _plain_relative(shown):
            name, line = shown, number
    path = paths.of(folder, name) if name else None
    if cell is not None:
        return Place(path, None, f"{cell}, line {line}" if line else cell)
    return Place(path, line if path else None, None)


# ------------------------------------------------------------------ text
def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return (
        text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more characters]"
    )


def _encodable(text: str, encoding: str) -> str:
    # Lone surrogates (undecodable file names) and characters the log's encoding lacks
    # would make the write fail; they become replacement characters instead.
    return text.encode(encoding, "replace").decode(encoding)


_MARKDOWN = {c: "\\" + c for c in "\\`*_{}[]()#+-.!|~$"}
_MARKDOWN.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "<br>", "\r": "", "\t": " "})


def markdown_text(text: str) -> str:
    """Student-controlled text as one line of literal Markdown: no emphasis, links,
    headings, table cells or HTML of its own; line breaks become ``<br>``."""
    text = CONTROL_CHARS.sub("\ufffd", ANSI_ESCAPE.sub("", text.replace("\r\n", "\n")))
    return "".join(_MARKDOWN.get(c, c) for c in text)


def _raw(student: StudentResult) -> str:
    if student.raw_score is None:
        return ""
    return f", automatic grading {format_points(student.raw_score)}"


def _percent(student: StudentResult) -> str:
    return f" ({100 * student.score / student.max_score:.1f}%)" if student.max_score else ""


# ------------------------------------------------------------------ annotations
@dataclass(frozen=True)
class Annotation:
    rank: int
    file: str | None
    line: int | None
    title: str
    message: str

    def command(self) -> str:
        return workflow_command(
            "error", {"file": self.file, "line": self.line, "title": self.title}, self.message
        )


def annotations(
    run: GradingRun, folders: Mapping[str, Path], paths: Paths, read: Reader = read_submitted
) -> list[Annotation]:
    """Every problem of the run as an annotation, the most useful first: errors (with a
    line, then without), failures, then exercises not submitted; course order within.
    A problem without a traceback line points at its entry point's ``def`` in the file
    ``read`` gives (the submitted one, from the student's folder)."""
    found = []
    several = len(run.students) > 1
    for student in run.students:
        folder = folders.get(student.id)
        missing = unsubmitted(student)
        for exercise in student.exercises:
            if exercise in missing:
                continue
            source: list[str | None] = []  # read once, when a problem needs it
            for problem in problems(exercise):
                where = place(problem, folder, paths)
                message = problem.message
                if not (where.line or where.cell) and problem.check and folder and exercise.file:
                    if not source:
                        source.append(read(Path(folder) / exercise.file))
                    defined = definition_place(problem, where, source[0])
                    if defined.cell:
                        message = f"{defined.cell} (def {problem.check.entry}): {message}"
                    where = Place(defined.file, defined.line, None)
                elif where.cell and where.cell.split(",")[0] not in message:
                    message = f"{where.cell}: {message}"
                if where.file is None and exercise.file:
                    message = f"{exercise.file}: {message}"
                title = f"{student.id} / {problem.title}" if several else problem.title
                rank = 2 * _RANK.get(problem.status, 1) + (0 if where.line else 1)
                found.append(Annotation(rank, where.file, where.line, title, clip(message)))
        if missing:
            title = f"{student.id} / not submitted" if several else "not submitted"
            found.append(
                Annotation(
                    2 * _RANK["missing"] + 1,
                    None,
                    None,
                    title,
                    clip(
                        f"{len(missing)} of {len(student.exercises)} exercises have no file: "
                        + ", ".join(ex.id for ex in missing)
                    ),
                )
            )
    return sorted(found, key=lambda a: a.rank)  # stable: course order within a rank


# ------------------------------------------------------------------ the job log
def _printed(run: GradingRun) -> list[tuple[str, str]]:
    items = []
    for student in run.students:
        for exercise in student.exercises:
            if exercise.output:
                items.append(
                    (
                        f"{student.id} / {exercise.id}: while loading {exercise.file}",
                        exercise.output,
                    )
                )
            items += [
                (f"{student.id} / {exercise.id}: {c.name}", c.output)
                for c in exercise.checks
                if c.output
            ]
    return items


def fenced_output(run: GradingRun, token: str | None = None) -> str:
    """Everything the student's code printed, between ``::stop-commands::TOKEN`` and
    ``::TOKEN::``: the runner acts on no workflow command in between. Empty when the
    code printed nothing."""
    items = _printed(run)
    if not items:
        return ""
    token = token or stop_token(text for item in items for text in item)
    block = []
    for title, text in items:
        block.append(f"----- {title} -----")
        text = clip(text, LOG_OUTPUT_LIMIT)
        # The end marker must start a line of its own, or the block would never end.
        block.append(text[:-1] if text.endswith("\n") else text)
    lines = [
        "::group::Output of the student's code (workflow commands in it are not run)",
        *fenced(block, token),
        "::endgroup::",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the job summary
def summary_blocks(run: GradingRun) -> list[str]:
    """The job summary as blocks (each ending with a newline) that can be cut between."""
    blocks = [f"## Autograding: {markdown_text(run.course)}\n\n"]
    for student in run.students:
        blocks.append(
            f"### {markdown_text(student.id)}: {format_points(student.score)} / "
            f"{format_points(student.max_score)} points{_percent(student)}{_raw(student)}\n\n"
            "| exercise | points | status |\n| --- | ---: | --- |\n"
        )
        for ex in student.exercises:
            blocks.append(
                f"| {markdown_text(ex.id)}: {markdown_text(ex.title)} | "
                f"{format_points(ex.score)} / "
                f"{format_points(ex.max_score)} | {status_symbol(ex.status)} {ex.status} |\n"
            )
        blocks.append("\n")
        missing = unsubmitted(student)
        found = [p for ex in student.exercises if ex not in missing for p in problems(ex)]
        if found or missing:
            blocks.append("#### What did not pass\n\n")
        for p in found:
            head = f"**{markdown_text(p.title)}**"
            if p.check is not None:
                head += (
                    f" ({format_points(p.check.score)} / {format_points(p.check.max_score)} points)"
                )
            item = (
                f"- {head}: {status_symbol(p.status)} {p.status}"
                f"<br>{markdown_text(clip(p.message))}"
            )
            if p.hint:
                item += f"<br>*Hint:* {markdown_text(clip(p.hint))}"
            blocks.append(item + "\n")
        if missing:
            names = ", ".join(markdown_text(f"{ex.id} ({ex.title})") for ex in missing)
            blocks.append(
                f"- **Not submitted** ({len(missing)} of {len(student.exercises)} exercises): "
                f"{status_symbol('missing')} {names}\n"
            )
        notes = [(ex.id, note) for ex in student.exercises for note in ex.notes]
        if notes:
            blocks.append("\n#### Notes\n\n")
            blocks += [
                f"- **{markdown_text(ex_id)}**: {markdown_text(clip(n))}\n" for ex_id, n in notes
            ]
        adjusted = [(ex.id, line) for ex in student.exercises for line in adjustment_lines(ex)]
        if adjusted:
            blocks.append("\n#### Hand-in and adjustments\n\n")
            blocks += [
                f"- **{markdown_text(ex_id)}**: {markdown_text(clip(line))}\n"
                for ex_id, line in adjusted
            ]
        if found or missing or notes or adjusted:
            blocks.append("\n")
    for warning in run.warnings:
        blocks.append(f"> {markdown_text(clip(warning))}\n\n")
    return blocks


def render_summary(run: GradingRun, budget: int = SUMMARY_LIMIT) -> str:
    """The job summary in at most ``budget`` bytes of UTF-8: whole blocks, then a note
    saying how much was left out."""
    blocks = [_encodable(b, "utf-8") for b in summary_blocks(run)]
    sizes = [len(b.encode("utf-8")) for b in blocks]
    if sum(sizes) <= budget:
        return "".join(blocks)
    kept, used = [], 0
    for block, size in zip(blocks, sizes, strict=True):
        if used + size > budget - SUMMARY_MARGIN:
            break
        kept.append(block)
        used += size
    left = len(blocks) - len(kept)
    note = (
        f"\n\n> **Summary cut short**: {left} more rows and items did not fit in the 1 MiB GitHub "
        "allows a step summary. The reports of `grader grade` hold everything.\n"
    )
    return "".join(kept) + note


# ------------------------------------------------------------------ GitHub Classroom
def _number(value: float) -> float | int:
    return int(value) if math.isfinite(value) and value == int(value) else value


def _fold(values: Iterable[float]) -> float:
    total = 0.0  # as the reporter's reduce((acc, {score}) => acc + score, 0)
    for value in values:
        total += value
    return total


def summing_to(scores: list[float], total: float) -> list[float]:
    """``scores`` with one of them nudged so that adding them up from 0, in order (as the
    Classroom reporter does, in IEEE doubles like Python's), gives exactly ``total``:
    0.1 + 0.2 is not 0.3, and Classroom would show the difference. The last score that
    is not zero takes the nudge, or the one before it when no value of the last one
    lands exactly on ``total`` (a sum can round past it)."""
    scores = [float(s) if math.isfinite(s) else 0.0 for s in scores]
    if not scores or _fold(scores) == total:
        return scores
    scored = [i for i, s in enumerate(scores) if s] or [len(scores) - 1]
    for i in reversed(scored):
        value = _solve(scores, i, total)
        if value is not None:
            scores[i] = value
            return scores
    return scores  # not reached for sums of a course's points; the nearest is kept


def _solve(scores: list[float], i: int, total: float) -> float | None:
    """A value for ``scores[i]`` that makes the sum exactly ``total``, or None. The sum
    grows with the value, so it is walked one unit in the last place at a time."""
    trial = list(scores)
    value = total - (_fold(scores) - scores[i])
    direction = 0.0
    for _ in range(64):
        trial[i] = value
        got = _fold(trial)
        if got == total:
            return value
        step = math.inf if got < total else -math.inf
        if direction and step != direction:
            return None  # stepped over it: no value here lands on total
        direction = step
        value = math.nextafter(value, step)
    return None


def classroom_result(student: StudentResult, folder: Path | None, paths: Paths) -> dict[str, Any]:
    """The ``result`` output that classroom-resources/autograding-grading-reporter reads
    (the shape autograding-io-grader and -command-grader write): one test per check."""
    tests = []
    for ex in student.exercises:
        for check in ex.checks:
            # A check not run because its file did not load points where loading failed.
            frames = check.traceback or (ex.traceback if ex.message else [])
            problem = Problem(ex, check, check.status, check.message, None, frames)
            where = place(problem, folder, paths)
            message = None
            if check.status != "passed":
                message = clip(check.message) if released(check) else WITHHELD
            tests.append(
                {
                    "name": f"{ex.id}: {check.name}",
                    "status": "pass"
                    if check.status == "passed"
                    else "error"
                    if check.status in ("error", "timeout")
                    else "fail",
                    "message": message,
                    # The reporter prints it when set: checks' inputs stay out of the log.
                    "test_code": "",
                    "filename": where.file or "",
                    "line_no": where.line or 0,
                    "duration": round(check.seconds * 1000)
                    if math.isfinite(check.seconds)
                    else 0,  # ms
                    "score": check.score,
                }
            )
    # Adjustments of a whole exercise (late penalty, override) are tests of their own,
    # so that the tests still add up to the student's score, the reporter's total.
    for ex in student.exercises:
        for a in (a for a in ex.adjustments if a.check is None):
            tests.append(
                {
                    "name": f"{ex.id}: {'late penalty' if a.kind == 'late' else 'override'}",
                    "status": "pass",
                    "message": clip(a.reason),
                    "test_code": "",
                    "filename": "",
                    "line_no": 0,
                    "duration": 0,
                    "score": a.points,
                }
            )
    for test, score in zip(
        tests, summing_to([t["score"] for t in tests], student.score), strict=True
    ):
        test["score"] = _number(score)
    return {
        "version": 1,
        "status": "pass" if all(t["status"] == "pass" for t in tests) else "fail",
        "max_score": _number(student.max_score),
        "tests": tests,
    }


def classroom_output(result: dict[str, Any]) -> str:
    """The ``result=...`` line for $GITHUB_OUTPUT: base64 of compact JSON (one line)."""
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        "result="
        + base64.b64encode(_encodable(text, "utf-8").encode("utf-8")).decode("ascii")
        + "\n"
    )


# ------------------------------------------------------------------ all of it
def _append(path: str, text: str) -> None:
    # Append: earlier commands of the same step may have written to the file already.
    with open(path, "a", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def report_to_github(
    run: GradingRun, folders: Mapping[str, Path], env: Mapping[str, str], stdout: TextIO
) -> None:
    """Everything ``grader grade --ci github`` adds to a run on GitHub Actions.

    ``folders``: each student's submission folder (annotations name files relative to
    ``GITHUB_WORKSPACE``); ``env``: the runner's environment (GITHUB_STEP_SUMMARY,
    GITHUB_OUTPUT, GITHUB_WORKSPACE); ``stdout``: the job log."""
    encoding = getattr(stdout, "encoding", None) or "utf-8"
    paths = Paths.from_env(env)
    found = annotations(run, folders, paths)
    lines = [a.command() for a in found[:MAX_ANNOTATIONS]]
    if len(found) > MAX_ANNOTATIONS:
        lines.append(
            f"torch-grader: {len(found) - MAX_ANNOTATIONS} more problems are not annotated "
            f"(GitHub keeps {MAX_ANNOTATIONS} per step); the job summary lists them"
        )
    if len(run.students) != 1 and env.get("GITHUB_OUTPUT"):
        lines.append(
            workflow_command(
                "warning",
                {"title": "torch-grader"},
                f"no GitHub Classroom result: this run graded {len(run.students)} "
                "submissions, and a Classroom result is for one",
            )
        )
    text = "".join(line + "\n" for line in lines) + fenced_output(run)
    stdout.write(_encodable(text, encoding))
    stdout.flush()

    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        existing = os.path.getsize(summary) if os.path.exists(summary) else 0
        if SUMMARY_LIMIT - existing > 2 * SUMMARY_MARGIN:
            _append(summary, render_summary(run, SUMMARY_LIMIT - existing))
        else:  # what this step wrote before already fills it: adding would lose it all
            stdout.write("torch-grader: no job summary: the step's summary file is already full\n")
    output = env.get("GITHUB_OUTPUT")
    if output and len(run.students) == 1:
        student = run.students[0]
        _append(output, classroom_output(classroom_result(student, folders.get(student.id), paths)))


def workflow_text() -> str:
    """The workflow ``grader ci init`` writes to .github/workflows/autograde.yml."""
    return TEMPLATE.read_text(encoding="utf-8")
