"""Names a check's YAML uses before they exist: ``{ref: x}``, ``on:``, ``grad:``/``wrt:``,
``keep:``, and the judge options that name a kept value, a bound value, an artifact or
a key of the check's hidden data (``Judge.references``).

Everything but data keys is checked when the exercise loads; data keys are known only
once the data helper has run, so ``data_key_problem`` is called when the plan is made
(in the grader's process, before any student's code runs). Each mistake is an
ExerciseError at the line that names the missing thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from grader.course.model import Step
from grader.course.schema import ExerciseError, Mapping


def input_names(value: Any, kind: str, line: int) -> Iterator[tuple[str, int]]:
    """Every ``{kind: name}`` inside an input description, with its line."""
    if isinstance(value, dict):
        line = getattr(value, "line", line)
        if isinstance(value.get(kind), str):
            yield value[kind], line
        for key, item in value.items():
            if key != kind:
                yield from input_names(item, kind, line)
    elif isinstance(value, list):
        for item in value:
            yield from input_names(item, kind, getattr(item, "line", line))


def step_inputs(step: Step) -> list[Any]:
    return [step.args, step.kwargs, step.value]


def _listed(names: set[str] | list[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def check_steps(m: Mapping, steps: list[Step], keep: list[str]) -> None:
    """Each step uses only names bound by an earlier step; ``keep`` only bound names."""
    bound: list[str] = []
    for step in steps:
        used = [(name, line, "ref") for name, line in input_names(step_inputs(step), "ref", 0)]
        if step.kind == "method":
            used.append((step.on, step.line, "on"))
        elif step.kind == "grad":
            used += [(step.target, step.line, "grad"), (step.wrt, step.line, "wrt")]
        for name, line, key in used:
            if name not in bound:
                earlier = f"names bound before it: {_listed(bound)}"
                raise ExerciseError(
                    m.path,
                    line or step.line or m.line,
                    f"key '{key}': '{name}' is not bound by an earlier step ({earlier})",
                )
        if step.bind_as:
            bound.append(step.bind_as)
    for name in keep:
        if name not in bound:
            raise m.error("keep", f"'{name}' is not bound by any step (bound: {_listed(bound)})")


def check_options(
    m: Mapping,
    options: Mapping,
    judge: Any,
    steps: list[Step],
    keep: list[str],
    artifacts: dict[str, str],
) -> None:
    """The judge's options that name a kept value, a bound value or an artifact (given,
    or left to their default) name one the check has."""
    if not steps:  # a check that only reads code keeps nothing
        return
    have = {
        "kept": set(keep),
        "bound": {s.bind_as for s in steps if s.kind == "bind" and s.bind_as},
        "artifact": set(artifacts),
    }
    what = {"kept": "kept", "bound": "bound by a bind step", "artifact": "an artifact"}
    for option, (kinds, _default) in judge.references.items():
        if not options.has(option):
            continue  # a default the check does not bind shows as the solution failing
        names = options.raw(option)
        for name in names if isinstance(names, list) else [names]:
            for kind in kinds:
                if kind != "data" and str(name) not in have[kind]:
                    there = f"({what[kind]}: {_listed(have[kind])})"
                    raise options.error(option, f"'{name}' is not {what[kind]} {there}")


def data_keys_used(steps: list[Step], spec_line: int) -> Iterator[tuple[str, int]]:
    for step in steps:
        yield from input_names(step_inputs(step), "data", step.line or spec_line)


def data_key_problem(spec: Any, judge: Any, data: dict[str, Any]) -> tuple[int, str] | None:
    """(line, message) for the first data key the check names that ``data`` (what its
    helper returned) lacks; None when every one is there."""
    given = _listed(set(map(str, data)))
    helper = f"{spec.data} gives: {given}" if spec.data else "the check has no 'data' helper"
    for name, line in data_keys_used(spec.steps, spec.line):
        if name not in data:
            return line, f"key 'data': '{name}' is not a key of the check's data ({helper})"
    for option, (kinds, _default) in judge.references.items():
        name = spec.options.get(option)
        if "data" in kinds and name is not None and name not in data:
            line = spec.option_lines.get(option, spec.line)
            return line, f"key '{option}': '{name}' is not a key of the check's data ({helper})"
    return None
