"""Gradescope: the autograder zip (``grader export gradescope``) and the
``results.json`` its ``run_autograder`` writes for one submission.

Both follow Gradescope's autograder specification (docs/gradescope.md says where each
detail comes from). The zip holds, at its root::

    setup.sh            run once when Gradescope builds the image: installs torch and the grader
    run_autograder      run for each submission: ``grader grade ... --gradescope results.json``
    course/             course.yaml, exercises/ (with exercises/hidden/), solutions/
    torch-grader/       the grader itself: pyproject.toml, README.md, grader/

``results.json`` has one Gradescope test per check, named "exercise-id: check name", with
the check's own visibility; a check that did not pass is "failed", whatever the reason.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import math
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grader
from grader.course.shipping import course_files, shipped_files
from grader.errors import GraderError
from grader.reports.adjusted import adjustment_lines
from grader.reports.csv_report import format_points
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult, plain
from grader.terminal import ANSI_ESCAPE

if TYPE_CHECKING:
    pass

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
# A visibility Gradescope would not know: shown to no student until the instructor
# publishes the grades, never earlier than the course asked for.
UNKNOWN_VISIBILITY = "after_published"
UNITS = 10_000  # scores are kept to 4 decimals (results.rounded); summed as whole units
PRINTED_CAP = 1500  # characters of what the student's code printed, in one test's output
TEST_OUTPUT_CAP = 8000  # characters of one test's output in all
FRAMES_SHOWN = 6  # innermost frames of a traceback

# In the zip: where the course and the grader go, and the scripts' templates.
COURSE_DIR = "course"
GRADER_DIR = "torch-grader"
SCRIPTS = ("setup.sh", "run_autograder")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "gradescope"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the same bytes on every build

# ANSI escape sequences and the control characters a text output cannot show.
_ANSI = re.compile(ANSI_ESCAPE.pattern + r"|\x1b[@-Z\\-_]")  # colours, and two-byte escapes too
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# -- results.json ---------------------------------------------------------------------


def results_json(run: GradingRun) -> dict[str, Any]:
    """Gradescope's results.json for a run that graded one submission.

    A run of several students (or none) is a GraderError: results.json describes one
    submission, and picking one of them would hide the others' grades."""
    if len(run.students) != 1:
        names = ", ".join(s.id for s in run.students[:5]) + (
            ", ..." if len(run.students) > 5 else ""
        )
        graded = f"{len(run.students)} submissions ({names})" if run.students else "no submission"
        raise GraderError(
            f"Gradescope's results.json is for one submission, but this run graded {graded}; "
            "grade one student's folder to write it"
        )
    student = run.students[0]
    tests: list[dict[str, Any]] = []
    units = 0
    for i, ex in enumerate(student.exercises, 1):
        for j, check in enumerate(ex.checks, 1):
            score = _units(check.score)
            units += score
            tests.append(
                {
                    "name": clean_text(f"{ex.id}: {check.name}"),
                    "name_format": "text",
                    "number": f"{i}.{j}",
                    "score": score / UNITS,
                    "max_score": _units(check.max_score) / UNITS,
                    "status": "passed" if check.status == "passed" else "failed",
                    "output": _test_output(ex, check, first=j == 1),
                    "output_format": "text",
                    "tags": [ex.id],
                    "visibility": check.visibility
                    if check.visibility in VISIBILITIES
                    else UNKNOWN_VISIBILITY,
                }
            )
    # Adjustments of whole exercises (late penalties, overrides) are in no test: they
    # count in the total. A check's override is already in its test's score.
    units += sum(
        _units(a.points) for e in student.exercises for a in e.adjustments if a.check is None
    )
    extra: dict[str, Any] = {}
    if student.raw_score is not None:
        extra["raw_score"] = student.raw_score
        extra["adjustments"] = [
            {"exercise": e.id, **plain(a)} for e in student.exercises for a in e.adjustments
        ]
    return {
        # The sum of the tests' scores and the adjustments, in whole units.
        "score": units / UNITS,
        "execution_time": math.ceil(sum(c.seconds for e in student.exercises for c in e.checks)),
        "output": _overview(student),
        "output_format": "text",  # "simple_format", the default, would render HTML
        # The grader's log names hidden checks and helpers: for the instructor only.
        "stdout_visibility": "hidden",
        "extra_data": {
            "grader_version": run.grader_version,
            "sandbox": run.sandbox,
            "seed": run.seed,
            "warnings": [clean_text(w) for w in run.warnings],
            **extra,
        },
        "tests": tests,
    }


def _units(points: float) -> int:
    if not math.isfinite(points):
        raise GraderError(f"a score of {points} cannot be written to Gradescope's results.json")
    return round(points * UNITS)


def _overview(student: StudentResult) -> str:
    """The text above the tests: points per exercise and what the student should know.

    Scores of tests not shown yet stay out of it (Gradescope hides the total then too)."""
    checks = [c for e in student.exercises for c in e.checks]
    held = [c for c in checks if c.visibility != "visible"]
    lines = []
    if not held:
        lines.append(f"Total: {format_points(student.score)}/{_points(student.max_score)}")
        if student.raw_score is not None:
            lines.append(f"    (automatic grading: {format_points(student.raw_score)})")
    else:
        verb = "is" if len(held) == 1 else "are"
        lines.append(
            f"Total: not shown, because {len(held)} of the {len(checks)} tests {verb} not shown yet"
        )
    for ex in student.exercises:
        shown = [c for c in ex.checks if c.visibility == "visible"]
        later = [c for c in ex.checks if c.visibility != "visible"]
        line = f"{ex.id} ({ex.title}): "
        if shown:
            line += (
                f"{format_points(sum(c.score for c in shown))}/"
                f"{_points(sum(c.max_score for c in shown))}"
            )
        if later:
            tests = "test" if len(later) == 1 else "tests"
            line += (" in the tests shown, and " if shown else "") + (
                f"{len(later)} {tests} not shown yet ({_points(sum(c.max_score for c in later))})"
            )
        lines.append(line)
        if ex.message:
            lines.append(f"    {ex.message}")
        lines += [f"    Note: {note}" for note in ex.notes]
        lines += adjustment_lines(ex, "    ")
    return clean_text("\n".join(lines))


def _points(points: float) -> str:
    return f"{format_points(points)} point" + ("" if format_points(points) == "1" else "s")


def _test_output(ex: ExerciseResult, check: CheckResult, first: bool) -> str:
    passed = check.status == "passed"
    parts = [check.message or ("passed" if passed else "failed")]
    if not passed:
        file_problem = bool(ex.message) and ex.message in check.message
        if ex.message and not file_problem:
            parts.append(ex.message)
        # A hint is about the code: no use when the file is missing or did not load.
        if check.hint and check.status != "missing" and not file_problem:
            parts.append(f"Hint: {check.hint}")
        if check.traceback:
            parts.append("Where, in your code:\n" + _frames(check.traceback))
    if check.output:
        parts.append("Your code printed:\n" + _excerpt(check.output))
    if first:
        # What concerns the whole file, once per exercise: its first test.
        parts += [f"Note: {note}" for note in ex.notes]
        if ex.traceback:
            parts.append(
                f"Where, in {ex.file or 'your file'}, while loading it:\n" + _frames(ex.traceback)
            )
        if ex.output and (ex.message or ex.notes):
            parts.append("While loading, your code printed:\n" + _excerpt(ex.output))
    text = clean_text("\n\n".join(parts))
    return text if len(text) <= TEST_OUTPUT_CAP else text[:TEST_OUTPUT_CAP] + "\n... (cut)"


def _frames(frames: list[dict[str, Any]]) -> str:
    lines = []
    for frame in frames[-FRAMES_SHOWN:]:
        lines.append(
            f"  {frame.get('file', '?')}, line {frame.get('line', '?')}, "
            f"in {frame.get('function', '?')}"
        )
        if frame.get("code"):
            lines.append(f"    {str(frame['code']).strip()}")
    return "\n".join(lines)


def _excerpt(text: str) -> str:
    """The start of ``text`` (where the first problem usually shows), then how much was cut."""
    text = text.rstrip()
    if len(text) <= PRINTED_CAP:
        return text
    return text[:PRINTED_CAP] + f"\n... ({len(text) - PRINTED_CAP} more characters not shown)"


def clean_text(text: str) -> str:
    """Text Gradescope's "text" format shows as written: no ANSI colours, no control
    characters, Unix newlines, and nothing that cannot be encoded as UTF-8 (lone
    surrogates from undecodable bytes)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


# -- the autograder zip ---------------------------------------------------------------


def build_autograder_zip(course_root: Path, out: Path) -> Path:
    """Write the autograder zip for the course at ``course_root``; returns its path.

    The same course and grader give the same bytes: entries sorted by name, fixed
    timestamps and modes (0755 for the two scripts, 0644 for the rest)."""
    from grader.course.loading import load_course
    from grader.reports import write_bytes_atomic

    course = load_course(
        course_root, resolve_helpers=False
    )  # a broken course fails here, not on Gradescope
    entries: dict[str, bytes] = {name: _script(name) for name in SCRIPTS}
    for rel, data in course_files(course, "the Gradescope autograder").items():
        entries[f"{COURSE_DIR}/{rel}"] = data
    entries.update(_grader_source())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.create_system = 3  # Unix, so unzip applies the modes below
            info.external_attr = (0o100755 if name in SCRIPTS else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=9)
    return write_bytes_atomic(out, buffer.getvalue())


def _grader_source() -> dict[str, bytes]:
    """torch-grader as setup.sh pip-installs it: the package, pyproject.toml and README.md
    from the checkout it runs from, or (installed from a wheel) a pyproject.toml made from
    the installed distribution's metadata."""
    package = Path(grader.__file__).resolve().parent
    entries = {
        f"{GRADER_DIR}/grader/{rel}": path.read_bytes() for path, rel in shipped_files(package)
    }
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file():
        for name in ("pyproject.toml", "README.md"):
            if (checkout / name).is_file():
                entries[f"{GRADER_DIR}/{name}"] = (checkout / name).read_bytes()
    else:
        entries[f"{GRADER_DIR}/pyproject.toml"] = _pyproject_from_metadata().encode("utf-8")
    return entries


def _pyproject_from_metadata() -> str:
    try:
        meta = importlib.metadata.metadata("torch-grader")
        requires = importlib.metadata.requires("torch-grader") or []
    except importlib.metadata.PackageNotFoundError:
        raise GraderError(
            "cannot find torch-grader's pyproject.toml nor its installed metadata, "
            "so the autograder zip cannot hold the grader; build it from a checkout"
        ) from None
    deps = [r for r in requires if "extra ==" not in r]
    return "\n".join(
        [
            "[build-system]",
            'requires = ["setuptools>=64"]',
            'build-backend = "setuptools.build_meta"',
            "",
            "[project]",
            'name = "torch-grader"',
            f'version = "{meta["Version"]}"',
            f'requires-python = "{meta.get("Requires-Python") or ">=3.10"}"',
            "dependencies = ["
            + ", ".join(json.dumps(d) for d in deps)
            + "]",  # TOML reads JSON strings
            "",
            "[project.scripts]",
            'grader = "grader.cli:run"',
            "",
            "[tool.setuptools.packages.find]",
            'include = ["grader*"]',
            "",
            "[tool.setuptools.package-data]",
            'grader = ["templates/*", "templates/gradescope/*"]',
            "",
        ]
    )


def _script(name: str) -> bytes:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return text.replace("@TORCH_VERSION@", torch_version()).encode("utf-8")


def torch_version() -> str:
    """The torch this machine grades with (the course was validated with it), without a
    local build tag such as "+cpu"; setup.sh installs the same on Gradescope."""
    try:
        return importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:  # torch is a dependency: only in odd set-ups
        return "2.5.1"  # has CPU wheels for Python 3.10 to 3.13
