"""Hand-made inputs for the seams of the core: one check written as a YAML snippet,
loaded and planned by the real loader and planner, and the student's values decoded
the way the grader decodes what a sandbox wrote. No sandbox, no subprocess.

    pc = plan_check(tmp_path, '''
        judge: match
        call: [{randn: [3]}]
        with: {atol: 0.1}
    ''')
    verdict = judge(pc, returned(result=torch.zeros(3)), expected=returned(result=...))
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from safetensors.torch import load, save

from grader.course.loading import load_course
from grader.grading.plan import PlannedCheck, build_plan
from grader.judges import JUDGES, JudgeContext, Verdict
from grader.sandbox.protocol.values import decode_outputs, encode_outputs

EXERCISE = """\
id: unit
title: A hand-made exercise
file: unit
prompt: Write the entry points.
entry_points:
{entries}checks:
{checks}"""

DEFAULTS = {"name": "the check", "entry": "f", "points": 2}


def exercise_yaml(*checks: str, entries: tuple[str, ...] = ("f",)) -> str:
    """The text of an exercise holding ``checks`` (each a mapping's YAML, unindented);
    a check's name, entry and points default to DEFAULTS."""
    listed = "".join(f"  - name: {e}\n    signature: (*args)\n    doc: {e}.\n" for e in entries)
    items = []
    for index, check in enumerate(checks):
        text = textwrap.dedent(check).strip("\n")
        keys = {line.split(":", 1)[0] for line in text.splitlines() if line and line[0] != " "}
        defaults = {**DEFAULTS, "name": DEFAULTS["name"] if not index else f"check {index}"}
        extra = [f"{k}: {v}" for k, v in defaults.items() if k not in keys]
        lines = extra + text.splitlines()
        items.append(
            "\n".join(("  - " if i == 0 else "    ") + line for i, line in enumerate(lines))
        )
    return EXERCISE.format(entries=listed, checks="\n".join(items) + "\n")


def write_course(
    folder: Path,
    *checks: str,
    files: dict[str, str] | None = None,
    entries: tuple[str, ...] = ("f",),
) -> Path:
    """A course folder with one exercise (exercises/unit.yaml) and ``files`` beside it
    (e.g. {"hidden/data.py": ...}); returns the course folder."""
    exercises = folder / "exercises"
    exercises.mkdir(parents=True, exist_ok=True)
    (exercises / "unit.yaml").write_text(exercise_yaml(*checks, entries=entries))
    for name, text in (files or {}).items():
        path = exercises / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def plan_checks(
    folder: Path,
    *checks: str,
    files: dict[str, str] | None = None,
    entries: tuple[str, ...] = ("f",),
    seed: int = 0,
) -> list[PlannedCheck]:
    """The checks as the real loader and planner make them: specs, bound inputs, data."""
    course = load_course(write_course(folder, *checks, files=files, entries=entries))
    return build_plan(course, seed).checks["unit"]


def plan_check(
    folder: Path,
    check: str,
    files: dict[str, str] | None = None,
    entries: tuple[str, ...] = ("f",),
    seed: int = 0,
) -> PlannedCheck:
    return plan_checks(folder, check, files=files, entries=entries, seed=seed)[0]


def returned(**values: Any) -> dict[str, Any]:
    """Values a check kept, as the grader receives them: encoded as the sandbox encodes
    them, through JSON text and safetensors bytes, and decoded by the grader's decoder."""
    specs, tensors = encode_outputs(values)
    return decode_outputs(json.loads(json.dumps(specs)), load(save(tensors)) if tensors else {})


def context(
    pc: PlannedCheck,
    outputs: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    artifacts: dict[str, Any] | None = None,
    source: str | None = None,
) -> JudgeContext:
    """The context ExerciseGrader builds for a check, from hand-made parts."""
    return JudgeContext(
        pc.exercise,
        pc.spec,
        outputs or {},
        expected,
        pc.bound,
        pc.data,
        artifacts or {},
        read_source=lambda: source,
    )


def judge(
    pc: PlannedCheck,
    outputs: dict[str, Any] | None = None,
    expected: dict[str, Any] | None = None,
    artifacts: dict[str, Any] | None = None,
    source: str | None = None,
) -> Verdict:
    """The check's judge, called directly on hand-made outputs."""
    return JUDGES[pc.spec.judge].judge(context(pc, outputs, expected, artifacts, source))
