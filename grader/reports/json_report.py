"""``results.json``: the whole GradingRun, as strict (RFC 8259) JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.reports.atomic import write_text_atomic
from grader.results import GradingRun

FILENAME = "results.json"


def json_safe(value: Any) -> Any:
    """Make ``value`` strictly JSON-serialisable.

    Non-finite floats become "nan"/"inf"/"-inf" (JSON has no NaN), tuples become lists,
    dict keys become strings (so ``sort_keys`` cannot fail on mixed key types), and any
    other object is shown by its ``repr`` rather than crashing the whole report.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):  # the results model itself, in the same pass
        return {name: json_safe(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return repr(value)


def _fields(value: Any) -> Any:
    """json's hook for what it cannot encode: the results model's dataclasses become
    dicts (json's C encoder then walks them), anything else its repr, as json_safe does."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    return repr(value)


def _student_line(student: Any) -> str:
    """One student as JSON: straight through the C encoder, which is several times faster
    than walking every value in Python; json_safe only for a student whose data needs it
    (a NaN, a key that is not text)."""
    try:
        return json.dumps(student, sort_keys=True, allow_nan=False, default=_fields)
    except (ValueError, TypeError):
        return json.dumps(json_safe(student), sort_keys=True, allow_nan=False)


def render_json(run: GradingRun) -> str:
    # ensure_ascii (the default) keeps the file pure ASCII, so odd student text
    # (lone surrogates, control characters) is escaped rather than breaking the encoding.
    data = json_safe(replace(run, students=[]))
    del data["students"]
    # One student per line: readable with `jq` or a diff, and written by json's C
    # encoder (indent= would switch to the pure-Python one, seconds for a large class).
    head = json.dumps(data, sort_keys=True, allow_nan=False)[:-1]
    lines = [_student_line(s) for s in run.students]
    sep = ", " if data else ""
    return head + sep + '"students": [\n' + ",\n".join(lines) + "\n]}\n"


def write_json(run: GradingRun, out_dir: Path) -> Path:
    return write_text_atomic(Path(out_dir) / FILENAME, render_json(run))
