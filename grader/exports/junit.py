"""JUnit XML: one test suite per student and exercise, one test case per check.

The shape is the de-facto one JUnit reporters read (Jenkins' junit-10.xsd, Ant,
Surefire): ``testsuites`` > ``testsuite`` (name, tests, failures, errors, skipped, time)
> ``testcase`` (name, classname, time) holding at most one ``failure`` or ``error`` and
the check's ``system-out``. Status mapping: passed -> no child; failed and missing ->
``failure`` (missing work costs points, so it is no ``skipped``); error and timeout ->
``error``. Points go into the suite's properties and the failure's text.

The XML is written by hand, not by ElementTree, so that it is byte-for-byte stable and
never holds a character XML 1.0 forbids (student output can hold any of them).
"""

from __future__ import annotations

import math
import re

from grader.reports.adjusted import adjustment_lines
from grader.reports.csv_report import format_points
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult
from grader.terminal import ANSI_ESCAPE

OUTPUT_LIMIT = 64 * 1024  # characters of printed output per element

# Characters XML 1.0 does not allow, lone surrogates included.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KIND = {"failed": "failure", "missing": "failure", "error": "error", "timeout": "error"}


def _chars(text: str) -> str:
    def visible(match: re.Match[str]) -> str:
        code = ord(match.group())
        return chr(0x2400 + code) if code < 0x20 else "\ufffd"  # NUL -> U+2400, a picture of it

    return _NOT_XML.sub(visible, ANSI_ESCAPE.sub("", text))


def text(value: str) -> str:
    """Element content. A carriage return is written as a reference, or a parser would
    turn it into a newline."""
    value = _chars(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r", "&#13;")


def attribute(value: str) -> str:
    """A double-quoted attribute value. Newlines and tabs are written as references, or
    a parser would turn them into spaces."""
    value = _chars(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        value.replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value > 0 else "0.000"


def _clip(value: str, limit: int = OUTPUT_LIMIT) -> str:
    return (
        value
        if len(value) <= limit
        else value[:limit] + f"\n[... {len(value) - limit} more characters]"
    )


def _frames(frames: list[dict]) -> list[str]:
    lines = []
    for f in frames:
        lines.append(
            f'  File "{f.get("file", "?")}", line {f.get("line", 0)}, in {f.get("function", "?")}'
        )
        if f.get("code"):
            lines.append(f"    {f['code']}")
    return ["Traceback (the student's own lines):", *lines] if lines else []


def _body(check: CheckResult, exercise: ExerciseResult) -> str:
    lines = [
        check.message,
        f"Points: {format_points(check.score)} / {format_points(check.max_score)}",
    ]
    if check.hint:
        lines.append(f"Hint: {check.hint}")
    lines += _frames(check.traceback or (exercise.traceback if exercise.message else []))
    return "\n".join(lines)


def _testcase(check: CheckResult, exercise: ExerciseResult, classname: str) -> list[str]:
    head = (
        f'    <testcase name="{attribute(check.name)}" classname="{attribute(classname)}" '
        f'time="{_seconds(check.seconds)}"'
    )
    kind = _KIND.get(check.status)
    if kind is None and not check.output:
        return [head + "/>"]
    lines = [head + ">"]
    if kind is not None:
        first = check.message.splitlines()[0] if check.message else check.status
        lines.append(
            f'      <{kind} message="{attribute(_clip(first, 1000))}" type="{check.status}">'
            f"{text(_body(check, exercise))}</{kind}>"
        )
    if check.output:
        lines.append(f"      <system-out>{text(_clip(check.output))}</system-out>")
    lines.append("    </testcase>")
    return lines


def _counts(checks: list[CheckResult]) -> tuple[int, int, int]:
    kinds = [_KIND.get(c.status) for c in checks]
    return len(checks), kinds.count("failure"), kinds.count("error")


def _testsuite(student: StudentResult, exercise: ExerciseResult) -> list[str]:
    name = f"{student.id}/{exercise.id}"
    tests, failures, errors = _counts(exercise.checks)
    seconds = sum(c.seconds for c in exercise.checks if math.isfinite(c.seconds))
    lines = [
        f'  <testsuite name="{attribute(name)}" tests="{tests}" failures="{failures}" '
        f'errors="{errors}" skipped="0" time="{_seconds(seconds)}">',
        "    <properties>",
    ]
    properties = [
        ("student", student.id),
        ("exercise", exercise.id),
        ("title", exercise.title),
        ("file", exercise.file or ""),
        ("status", exercise.status),
        ("score", format_points(exercise.score)),
        ("max_score", format_points(exercise.max_score)),
    ]
    if exercise.raw_score is not None:
        properties.append(("raw_score", format_points(exercise.raw_score)))
    if exercise.message:
        properties.append(("message", exercise.message))
    properties += [("note", note) for note in exercise.notes]
    properties += [("adjustment", line) for line in adjustment_lines(exercise)]
    lines += [
        f'      <property name="{key}" value="{attribute(value)}"/>' for key, value in properties
    ]
    lines.append("    </properties>")
    for check in exercise.checks:
        lines += _testcase(check, exercise, name)
    if exercise.output:  # printed while the file loaded, before any check
        lines.append(f"    <system-out>{text(_clip(exercise.output))}</system-out>")
    lines.append("  </testsuite>")
    return lines


def render_junit(run: GradingRun) -> str:
    checks = [c for s in run.students for e in s.exercises for c in e.checks]
    tests, failures, errors = _counts(checks)
    seconds = sum(c.seconds for c in checks if math.isfinite(c.seconds))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="{attribute(run.course)}" tests="{tests}" failures="{failures}" '
        f'errors="{errors}" time="{_seconds(seconds)}">',
    ]
    for student in run.students:
        for exercise in student.exercises:
            lines += _testsuite(student, exercise)
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"
