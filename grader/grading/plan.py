"""The plan of a grading run: every check's inputs, realized once from its own seed.

The plan is the grader's private view (it holds hidden data, held-out sets and the
realized inputs judges need). What the sandbox receives is derived from it by
``job_for``: only the steps and their inputs, never an expected value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.course import inputs, references
from grader.course.helpers import data_function, failure_text, raised_at
from grader.course.model import CheckSpec, Course, Exercise, Step, display_path
from grader.course.schema import ExerciseError
from grader.judges import JUDGES
from grader.sandbox.protocol.values import InputEncoder

IMPORT_ALLOWANCE = 30.0  # seconds for a job to start and read its inputs (a busy machine)
ARTIFACT_ALLOWANCE = 30.0


def derive_seed(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass
class Probe:
    """One check as the sandbox runs it: an id, steps, what to keep."""

    call_id: str
    steps: list[dict]
    keep: list[str]
    artifacts: dict[str, str]
    seed: int
    timeout: float
    record: bool = False  # record the operators it dispatches (see judges/forbidden.py)

    def to_job(self) -> dict:
        job = {
            "id": self.call_id,
            "steps": self.steps,
            "keep": self.keep,
            "artifacts": [{"name": n, "path": p} for n, p in sorted(self.artifacts.items())],
            "seed": self.seed,
            "timeout": self.timeout,
        }
        if self.record:  # only when asked: recording slows every operator of the call
            job["record"] = True
        return job


@dataclass
class PlannedCheck:
    exercise: Exercise
    spec: CheckSpec
    probe: Probe | None  # None: the check only reads code
    bound: dict[str, Any] = field(default_factory=dict)  # values of `bind` steps, grader side
    data: dict[str, Any] = field(default_factory=dict)  # hidden data (held-out sets stay here)
    expected_expr: str | None = None  # visible examples: the expected value's expression

    @property
    def needs_solution(self) -> bool:
        if self.expected_expr is not None:
            return False
        return JUDGES[self.spec.judge].needs_solution or bool(self.spec.options.get("solution"))


class Plan:
    def __init__(
        self,
        course: Course,
        seed: int,
        checks: dict[str, list[PlannedCheck]],
        encoder: InputEncoder,
    ) -> None:
        self.course = course
        self.seed = seed
        self.checks = checks  # exercise id -> planned checks, in YAML order
        self.tensors = encoder.tensors
        self.job_texts: dict[
            tuple[str, tuple[str, ...]], tuple[str, str, float]
        ] = {}  # see grading.run_job

    def keep_checks(self, keep: Callable[[PlannedCheck], bool]) -> None:
        """Plan only the checks ``keep`` accepts (``grader validate``'s random judges)."""
        self.checks = {
            ex_id: [pc for pc in planned if keep(pc)] for ex_id, planned in self.checks.items()
        }

    def keep_exercises(self, exercise_ids: set[str]) -> None:
        """Plan only these exercises (``grader check`` on the files a student has)."""
        self.checks = {k: v for k, v in self.checks.items() if k in exercise_ids}

    def all_checks(self) -> list[PlannedCheck]:
        return [pc for ex in self.course.exercises for pc in self.checks.get(ex.id, [])]

    def job_for(self, exercises: list[Exercise], seed: int) -> dict:
        files = []
        for ex in exercises:
            calls = [pc.probe.to_job() for pc in self.checks.get(ex.id, []) if pc.probe is not None]
            files.append(
                {
                    "module": ex.file,
                    "load_timeout": ex.limits.load_time,
                    "memory_mb": ex.limits.memory_mb,
                    "calls": calls,
                }
            )
        return {"seed": seed, "threads": 1, "files": files}

    def write_inputs(self, path: Path) -> None:
        """All input tensors, in one file every job of the run reads (read-only)."""
        from safetensors.torch import save_file

        save_file(self.tensors, str(path))

    @staticmethod
    def wall_seconds(job: dict) -> float:
        total = IMPORT_ALLOWANCE
        for f in job["files"]:
            total += float(f["load_timeout"]) + 1
            for call in f["calls"]:
                total += float(call["timeout"]) + 0.5 + ARTIFACT_ALLOWANCE * len(call["artifacts"])
        return total


def build_plan(course: Course, seed: int) -> Plan:
    """Realize the hidden checks of every exercise."""
    encoder = InputEncoder()
    checks: dict[str, list[PlannedCheck]] = {}
    for ex in course.exercises:
        planned = []
        recorded = frozenset().union(*(JUDGES[s.judge].recorded_entries(s) for s in ex.checks))
        for index, spec in enumerate(ex.checks):
            check_seed = derive_seed(seed, ex.id, spec.name)
            data = _hidden_data(course, ex, spec, check_seed)
            probe, bound = None, {}
            if spec.runs_code:
                problem = references.data_key_problem(spec, JUDGES[spec.judge], data)
                if problem:
                    raise ExerciseError(display_path(ex.path, course.root), *problem)
                steps, bound = _encode_steps(spec.steps, check_seed, data, encoder)
                _guard_held_out(ex, spec)
                probe = Probe(
                    f"{ex.file}-{index}",
                    steps,
                    spec.keep,
                    spec.artifacts,
                    check_seed,
                    spec.timeout or ex.limits.time,
                    record=spec.entry in recorded and JUDGES[spec.judge].recordable,
                )
            planned.append(PlannedCheck(ex, spec, probe, bound, data))
        checks[ex.id] = planned
    return Plan(course, seed, checks, encoder)


def build_example_plan(course: Course, seed: int) -> Plan:
    """The visible examples as checks (for ``grader check``): each evaluates an
    expression against the student's module; the grader evaluates the expectation."""
    checks: dict[str, list[PlannedCheck]] = {}
    for ex in course.exercises:
        planned = []
        for index, example in enumerate(ex.examples):
            entry = next(
                (e.name for e in ex.entry_points if e.name in example.code), ex.entry_points[0].name
            )
            # A visible example shows its code and answer already (examples.json): its
            # messages may name both.
            spec = CheckSpec(
                name=example.name,
                entry=entry,
                points=1,
                judge="match",
                options={},
                steps=[],
                keep=["result"],
                artifacts={},
                line=example.line,
                disclose=frozenset({"inputs", "expected"}),
            )
            probe = Probe(
                f"{ex.file}-example-{index}",
                [{"do": "eval", "expr": example.code, "as": "result"}],
                ["result"],
                {},
                derive_seed(seed, ex.id, "example", index),
                ex.limits.time,
            )
            planned.append(PlannedCheck(ex, spec, probe, expected_expr=example.expect))
        checks[ex.id] = planned
    return Plan(course, seed, checks, InputEncoder())


def _encode_steps(
    steps: list[Step], seed: int, data: dict[str, Any], encoder: InputEncoder
) -> tuple[list[dict], dict[str, Any]]:
    gen = torch.Generator().manual_seed(seed)
    encoded, bound = [], {}
    for step in steps:
        args = [inputs.realize(a, gen, data) for a in step.args]
        kwargs = {k: inputs.realize(v, gen, data) for k, v in step.kwargs.items()}
        item: dict[str, Any] = {
            "do": step.kind,
            "args": [encoder.encode(a) for a in args],
            "kwargs": {k: encoder.encode(v) for k, v in kwargs.items()},
        }
        if step.kind == "call":
            item["target"] = step.target
        elif step.kind == "method":
            item["target"], item["method"] = step.on, step.target
        elif step.kind == "bind":
            value = inputs.realize(step.value, gen, data)
            item["value"] = encoder.encode(value)
            if step.bind_as:
                bound[step.bind_as] = value
        elif step.kind == "grad":
            item["of"], item["wrt"] = step.target, step.wrt
        elif step.kind == "save_state_dict":
            value = inputs.realize(step.value, gen, data)
            item["value"] = encoder.encode(value)
            item["path"] = step.path
        if step.bind_as:
            item["as"] = step.bind_as
        if step.catch:
            item["catch"] = True
        encoded.append(item)
    return encoded, bound


def _hidden_data(course: Course, ex: Exercise, spec: CheckSpec, seed: int) -> dict[str, Any]:
    """What the check's data helper returns for ``seed``. The helper is the instructor's
    code: an exception in it, or a result that is not a mapping, stops the run with the
    helper's file and line (it happens once per run, before any student's code runs)."""
    fn = data_function(ex, spec)
    if fn is None:
        return {}
    shown = display_path(ex.path, course.root)
    line = spec.key_lines.get("data", spec.line)
    try:
        data = fn(seed)
    except Exception as exc:
        where = raised_at(exc, ex.root, course.root)
        said = f"{spec.data} raised {failure_text(exc)} for check '{spec.name}'"
        if where is None:
            raise ExerciseError(shown, line, f"key 'data': {said}") from None
        raise ExerciseError(*where, f"{said} ({shown}:{line})") from None
    if not isinstance(data, dict):
        raise ExerciseError(
            shown,
            line,
            f"key 'data': {spec.data} returned {type(data).__name__}; a data helper returns "
            "a dict of named values",
        )
    return data


def _guard_held_out(ex: Exercise, spec: CheckSpec) -> None:
    """A held-out set named by a training judge must never be sent to the sandbox."""
    if spec.judge != "training":
        return
    held_out = {spec.options.get("x", "X_test"), spec.options.get("y", "y_test")}
    sent = set()
    for step in spec.steps:
        _data_refs([step.args, step.kwargs, step.value], sent)
    leaked = held_out & sent
    if leaked:
        raise ExerciseError(
            display_path(ex.path, ex.root.parent),
            spec.line,
            f"check '{spec.name}' would send its held-out {', '.join(sorted(leaked))} "
            "into the sandbox; pass only training data to the student's code",
        )


def _data_refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("data"), str):
            found.add(value["data"])
        for v in value.values():
            _data_refs(v, found)
    elif isinstance(value, list):
        for v in value:
            _data_refs(v, found)
