"""HTML reports: one self-contained page per student plus a class overview (index.html).

Every piece of student-controlled text reaches the page only through Jinja2 expressions
with autoescaping on; nothing here or in the templates marks such text as safe.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from grader.reports.atomic import write_text_atomic
from grader.reports.csv_report import exercise_ids, format_points
from grader.results import STATUSES, ExerciseResult, GradingRun, StudentResult, not_scored
from grader.terminal import ANSI_ESCAPE  # colours from tqdm, rich, ...

INDEX_FILENAME = "index.html"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

OUTPUT_LIMIT = 4000  # characters of printed output shown per check / exercise
TEXT_LIMIT = 4000  # messages, hints, notes: student exceptions can be arbitrarily long
DETAIL_LIMIT = 500  # one value in a check's details
MESSAGE_LIMIT = 300  # a message in the overview's item analysis

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 100  # well below the usual 255-byte file name limit, hash included

# Status is shown as a symbol *and* a word, so it never depends on colour alone.
STATUS_SYMBOLS = {
    "passed": "\u2713",  # check mark
    "failed": "\u2717",  # ballot x
    "error": "!",
    "timeout": "\u25f7",  # a clock face (the hourglass U+29D7 is missing from common fonts)
    "missing": "\u2205",  # empty set
}


# ------------------------------------------------------------------ file names
def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def report_filename(student_id: str) -> str:
    """A safe, stable file name (``<name>.html``) for a student's report.

    Characters outside [A-Za-z0-9._-] become '_'. When that changed the id, or the result
    could clash or mislead (empty, hidden dot-file, ``index``, too long), leading dots
    become '_' and a hash of the id is appended, so e.g. 'a/b' and 'a_b' stay distinct.
    """
    safe = _UNSAFE_CHARS.sub("_", student_id)
    risky = (
        safe != student_id
        or not safe
        or safe.startswith(".")
        or safe.lower() == INDEX_FILENAME.removesuffix(".html")
        or len(safe) > _MAX_NAME
    )
    if risky:
        stripped = safe.lstrip(".")  # no hidden files: '../x' becomes '___x_<hash>'
        safe = "_" * (len(safe) - len(stripped)) + stripped
        safe = f"{safe[:_MAX_NAME]}_{_short_hash(student_id)}"
    return f"{safe}.html"


def report_filenames(student_ids: Iterable[str]) -> dict[str, str]:
    """``report_filename`` for a whole run, also separating names that would clash on a
    case-insensitive file system (macOS, Windows) by appending the id's hash."""
    ids = list(student_ids)
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"duplicate student ids in grading run: {dupes!r}")
    names = {i: report_filename(i) for i in ids}
    folded: dict[str, list[str]] = {}
    for i, name in names.items():
        folded.setdefault(name.casefold(), []).append(i)
    for clashing in folded.values():
        if len(clashing) > 1:
            for i in clashing:
                names[i] = f"{names[i].removesuffix('.html')}_{_short_hash(i)}.html"
    return names


# ------------------------------------------------------------------ text helpers
@dataclass(frozen=True)
class Clipped:
    text: str
    truncated: bool
    total: int


def clip(text: str, limit: int) -> Clipped:
    if len(text) <= limit:
        return Clipped(text, False, len(text))
    return Clipped(text[:limit], True, len(text))


def _visible_control(char: str) -> str:
    code = ord(char)
    if char in "\t\n":
        return char
    if char == "\r":
        return "\n"  # progress bars: show each redraw on its own line
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures", e.g. NUL -> U+2400
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"  # C1 controls and lone surrogates (undecodable bytes)


# Unicode categories Cc (C0 and C1 controls, DEL) and Cs (surrogates), as one regex:
# scanning a report's text character by character in Python was most of its cost.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(value: Any) -> Any:
    """Jinja ``finalize`` hook: make every string safe to put in an HTML document.

    Control characters are invalid in HTML and lone surrogates cannot be encoded as UTF-8,
    so they are made visible / replaced. Escaping itself is left to autoescape.
    """
    if isinstance(value, Markup) or not isinstance(value, str):
        return "" if value is None else value
    text = ANSI_ESCAPE.sub("", value.replace("\r\n", "\n"))
    return _CONTROL_OR_SURROGATE.sub(lambda m: _visible_control(m.group()), text)


def detail_value(value: Any, limit: int = DETAIL_LIMIT) -> str:
    """Compact one-line text for a details value: lists comma separated, dicts k: v."""
    text = _compact(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _compact(value: Any, nested: bool = False) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "none"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_compact(v, True) for v in value)
        return f"[{inner}]" if nested else inner
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {_compact(v, True)}" for k, v in value.items())
        return f"{{{inner}}}" if nested else inner
    return str(value)


def detail_label(key: Any) -> str:
    """A details key as words for its label ("accuracy_before_training" reads "accuracy
    before training"); results.json keeps the key itself."""
    return detail_value(key).replace("_", " ")


def shown_details(details: Any) -> list[tuple[Any, Any]]:
    """A check's details as rows of text; the value mismatches get a table of their own."""
    if not isinstance(details, dict):
        return []
    return [(k, v) for k, v in details.items() if k != "mismatches"]


def mismatch_rows(details: Any) -> list[dict[str, Any]]:
    """The few positions where a tensor differs (see judges/compare.py), each with
    "index", "got" and, when the check discloses it, "expected"."""
    rows = details.get("mismatches") if isinstance(details, dict) else None
    if not isinstance(rows, list):
        return []
    return [r for r in rows[:10] if isinstance(r, dict) and "index" in r and "got" in r]


def figure(spec: Any, uid: str) -> Any:
    """A figure spec drawn as inline SVG (None when it cannot be drawn)."""
    from grader.reports.figures import render

    return render(spec, uid=uid)


def status_class(status: str) -> str:
    # Only known statuses become CSS classes; anything else gets a neutral look.
    return status if status in STATUSES else "unknown"


def status_symbol(status: str) -> str:
    return STATUS_SYMBOLS.get(status, "?")


# ------------------------------------------------------------------ class overview data
@dataclass(frozen=True)
class CheckFailures:
    """How the class did on one check: passed, failed, and not scored (a gate, say a
    forbidden call, zeroed it: it says nothing about what this check tests)."""

    exercise_id: str
    check: str
    passed: int
    failed: int
    not_scored: int
    # The most common messages of the students who did not pass, with how many got each:
    # one mistake made by many shows up as one message with a large count.
    messages: tuple[tuple[str, int], ...] = ()

    @property
    def of(self) -> int:
        return self.passed + self.failed + self.not_scored

    @property
    def not_passed(self) -> int:
        return self.failed + self.not_scored

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def share(self) -> float | None:
        """Percent failed of the students whose check was scored; None when none was."""
        return 100.0 * self.failed / self.scored if self.scored else None


def check_failures(run: GradingRun) -> list[CheckFailures]:
    """How many students passed, failed and were not scored on each (exercise, check),
    most failed first."""
    counts: dict[tuple[str, str], list[int]] = {}  # key -> [passed, failed, not scored]
    order: dict[tuple[str, str], int] = {}  # first appearance: course / check order
    messages: dict[tuple[str, str], Counter[str]] = {}
    for student in run.students:
        for exercise in student.exercises:
            for check in exercise.checks:
                key = (exercise.id, check.name)
                order.setdefault(key, len(order))
                tally = counts.setdefault(key, [0, 0, 0])
                if check.status == "passed":
                    tally[0] += 1
                    continue
                tally[2 if not_scored(check) else 1] += 1
                messages.setdefault(key, Counter())[_short(check.message)] += 1
    rows = [
        CheckFailures(ex, name, *tally, messages=_most_common(messages.get((ex, name))))
        for (ex, name), tally in counts.items()
    ]
    rows.sort(
        key=lambda r: (
            -r.failed,
            -(r.share or 0.0),
            -r.not_scored,
            order[(r.exercise_id, r.check)],
        )
    )
    return rows


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "\u2026"


def _most_common(messages: Counter[str] | None, top: int = 3) -> tuple[tuple[str, int], ...]:
    """The ``top`` most common messages, ties in first-seen order."""
    return tuple(messages.most_common(top)) if messages else ()


def exercise_averages(run: GradingRun) -> list[float | None]:
    averages: list[float | None] = []
    for ex_id in exercise_ids(run):
        scores = [e.score for s in run.students for e in s.exercises if e.id == ex_id]
        averages.append(sum(scores) / len(scores) if scores else None)
    return averages


def duration(seconds: float) -> str:
    """A lateness in words: "3 s", "2 h 5 min", "1 d 4 h"."""
    if not math.isfinite(seconds):
        return str(seconds)
    whole = math.ceil(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def _points(value: float | None) -> str:
    return "\u2014" if value is None else format_points(round(value, 2))


# ------------------------------------------------------------------ rendering
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,  # a typo in a template fails loudly, not silently blank
        finalize=printable,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        points=_points,
        clip=clip,
        detail=detail_value,
        detail_label=detail_label,
        status_class=status_class,
        status_symbol=status_symbol,
        shown_details=shown_details,
        mismatch_rows=mismatch_rows,
        figure=figure,
        duration=duration,
    )
    env.globals.update(OUTPUT_LIMIT=OUTPUT_LIMIT, TEXT_LIMIT=TEXT_LIMIT)
    return env


def _row_cells(ids: list[str], student: StudentResult) -> list[ExerciseResult | None]:
    # Index columns follow course order even if a student's list were ordered differently.
    by_id = {e.id: e for e in student.exercises}
    return [by_id.get(i) for i in ids]


# A report loads nothing and runs no script but the overview's own sorting code: the
# policy says so to the browser too, so even text that escaped escaping could not run.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@functools.cache
def _sort_script() -> tuple[Markup, str]:
    """The overview's script (our own file, so marked safe) and its CSP hash."""
    text = (TEMPLATES_DIR / "sort_table.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"'sha256-{digest}'"


def render_student(run: GradingRun, student: StudentResult, env: Environment | None = None) -> str:
    env = env or _environment()
    return env.get_template("student.html.j2").render(run=run, student=student, csp=_POLICY)


def render_index(run: GradingRun, filenames: dict[str, str], env: Environment | None = None) -> str:
    from grader.reports import overview  # the overview's own data (distribution, medians)

    env = env or _environment()
    ids = exercise_ids(run)
    script, script_hash = _sort_script()
    return env.get_template("index.html.j2").render(
        csp=f"{_POLICY}; script-src {script_hash}",
        sort_script=script,
        run=run,
        filenames=filenames,
        columns=run.students[0].exercises if run.students else [],
        rows=[(s, _row_cells(ids, s)) for s in run.students],
        averages=exercise_averages(run),
        total_average=(
            sum(s.score for s in run.students) / len(run.students) if run.students else None
        ),
        failures=check_failures(run),
        medians=overview.exercise_medians(run),
        total_median=overview.total_median(run),
        bins=overview.score_bins(run),
        distribution=overview.distribution_figure(run),
        adjusted=[(s, e, a) for s in run.students for e in s.exercises for a in e.adjustments],
    )


def write_html(run: GradingRun, out_dir: Path, pages: set[str] | None = None) -> list[Path]:
    """Write the students' pages (those in ``pages``, or all), then index.html (so its
    links never dangle)."""
    out_dir = Path(out_dir)
    filenames = report_filenames(s.id for s in run.students)
    env = _environment()
    written = [
        write_text_atomic(out_dir / filenames[s.id], render_student(run, s, env))
        for s in run.students
        if pages is None or s.id in pages
    ]
    written.append(write_text_atomic(out_dir / INDEX_FILENAME, render_index(run, filenames, env)))
    return written
