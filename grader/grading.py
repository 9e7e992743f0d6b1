"""Grading: run a submission's code in the sandbox, then judge what came back.

The sandbox gets a job (steps and inputs); the grader keeps the plan (hidden data,
held-out sets) and the reference solution's outputs, and computes every verdict here,
from plain data.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import grader
from grader.checks import JUDGES, JudgeContext, Verdict
from grader.course import Course
from grader.plan import Plan, PlannedCheck, build_plan
from grader.results import (
    CheckResult,
    ExerciseResult,
    GradingRun,
    StudentResult,
    exercise_status,
    rounded,
)
from grader.sandbox.launch import Limits, Outcome, Sandbox, choose, run_job
from grader.submissions import Submission, SubmittedFile, collect, discover, stage
from grader.terminal import safe_line
from grader.wire import WireError, read_json, read_values

OUTPUT_CAP = 16 * 1024  # characters of a student's printed output kept per check


class GraderError(Exception):
    """The grader itself cannot go on (a broken course, a failing reference solution)."""


@dataclass
class Execution:
    """What one sandbox run left behind, read defensively."""

    out: Path
    outcome: Outcome

    def text(self, name: str) -> str:
        path = self.out / name
        if not path.is_file() or path.is_symlink():
            return ""
        with open(path, "rb") as f:
            data = f.read(OUTPUT_CAP + 1)
        text = data[:OUTPUT_CAP].decode("utf-8", "replace")
        if len(data) > OUTPUT_CAP:
            text += f"\n[output truncated after {OUTPUT_CAP} characters]"
        return text

    def record(self, stem: str) -> dict | None:
        try:
            return read_json(self.out / f"{stem}.json")
        except WireError:
            return {"status": "malformed"}


def run_in_sandbox(plan: Plan, submission: Submission, workspace: Path, sandbox: Sandbox) -> Execution | None:
    """Stage the submission and run every check of every submitted file in one sandbox."""
    exercises = [sub.exercise for sub in submission.files.values() if sub.path is not None]
    if not exercises:
        return None
    job_dir = Path(tempfile.mkdtemp(prefix="job-", dir=workspace))
    stage(submission, job_dir / "submission")
    for folder in ("out", "work"):
        (job_dir / folder).mkdir()
    job = plan.job_for(exercises, plan.seed)
    (job_dir / "job.json").write_text(json.dumps(job))
    plan.write_inputs(job_dir)
    memory = max(ex.limits.memory_mb for ex in exercises) + 1024
    outcome = run_job(job_dir, Limits(wall_seconds=plan.wall_seconds(job), memory_mb=memory), sandbox)
    return Execution(job_dir / "out", outcome)


# ------------------------------------------------------------------ untrusted records
def _clean_error(raw: Any) -> dict:
    """An error record from the sandbox, with every field type-checked."""
    if not isinstance(raw, dict):
        return {"type": "Error", "message": "", "frames": []}
    frames = []
    for f in raw.get("frames", [])[:12] if isinstance(raw.get("frames"), list) else []:
        if isinstance(f, dict):
            frames.append({"file": str(f.get("file", "?"))[:200], "line": f.get("line") if isinstance(f.get("line"), int) else 0,
                           "function": str(f.get("function", "?"))[:200], "code": str(f.get("code", ""))[:300]})
    return {"type": str(raw.get("type", "Error"))[:100], "message": str(raw.get("message", ""))[:4000],
            "frames": frames}


def explain_error(err: dict, entry: str, file: str) -> str:
    kind, message = err["type"], err["message"]
    if kind == "NotImplementedError":
        return f"{entry} is not written yet: it still raises NotImplementedError"
    if kind == "MissingEntryPoint":
        return f"{file} defines no '{entry}': check the spelling of the name"
    if kind == "NotDifferentiable":
        return (f"{entry}'s result has no gradient: it is not computed from the input with tensor "
                "operations that autograd can follow (a Python loop, .item() or a new torch.tensor(...) breaks the chain)")
    if kind == "SystemExit":
        return f"{entry} called sys.exit() (raised SystemExit) instead of returning a value"
    if kind == "KeyboardInterrupt":
        return f"{entry} raised KeyboardInterrupt instead of returning a value"
    if kind == "MemoryError":
        return f"{entry} ran out of memory"
    if "File too large" in message:
        return f"{entry} printed or wrote more than the sandbox allows per file (64 MB)"
    where = ""
    if err["frames"]:
        last = err["frames"][-1]
        where = f" at line {last['line']} of {last['file']}"
    return f"{entry} raised {kind}{where}: {message}" if message else f"{entry} raised {kind}{where}"


def explain_load_error(record: dict, file: str, limits_time: float) -> tuple[str, str, list[dict]]:
    """(status, message, frames) for a file that did not load."""
    status = record.get("status")
    if status == "timeout":
        return "timeout", (f"loading {file} took longer than {limits_time:g} s, so no check could run. Is "
                           "there a long loop or training run at the top level? Put it under "
                           "`if __name__ == \"__main__\":`"), []
    if status == "exited":
        return "error", (f"your code in {file} ended the process while loading (sys.exit, os._exit or a "
                         "crash), before the checks ran"), []
    err = _clean_error(record.get("error"))
    if err["type"] == "SystemExit":
        return "error", f"your code in {file} called sys.exit() while loading, before the checks ran", err["frames"]
    if err["type"] == "SyntaxError" or err["type"] == "IndentationError":
        line = err["frames"][-1]["line"] if err["frames"] else "?"
        return "error", f"{file} has a syntax error at line {line}: {err['message']}", err["frames"]
    if err["type"] == "KeyboardInterrupt":
        return "error", f"your code in {file} raised KeyboardInterrupt while loading, before the checks ran", err["frames"]
    detail = f": {err['message']}" if err["message"] else ""
    return "error", f"{file} could not be loaded: {err['type']}{detail}", err["frames"]


# ------------------------------------------------------------------ one exercise
@dataclass
class Load:
    """How loading one student file went; status None means it loaded."""

    status: str | None
    message: str
    frames: list[dict] = field(default_factory=list)
    output: str = ""
    cell_errors: list[Any] = field(default_factory=list)  # notebooks: cells that raised


class ExerciseGrader:
    """Judges one exercise of one submission from the sandbox's outputs."""

    def __init__(self, planned: list[PlannedCheck], sub: SubmittedFile, execution: Execution | None,
                 expected: Callable[[PlannedCheck], dict[str, Any] | None]) -> None:
        self.planned = planned
        self.sub = sub
        self.ex = sub.exercise
        self.execution = execution
        self.expected = expected

    def grade(self) -> ExerciseResult:
        ex, sub = self.ex, self.sub
        shown = sub.path.name if sub.path else None
        base = {"id": ex.id, "title": ex.title, "file": shown, "notes": list(sub.notes)}
        if sub.path is None:
            status = "missing" if not sub.problem or sub.problem.startswith("not submitted") else "error"
            checks = [self._result(pc, status, 0.0, sub.problem) for pc in self.planned]
            return ExerciseResult(score=0.0, max_score=rounded(sum(pc.spec.points for pc in self.planned)),
                                  status=status, checks=checks, message=sub.problem, **base)
        load = self._load()
        if sub.kind == "ipynb":
            base["notes"] += self._cell_notes(load.cell_errors)
        checks = [self._check(pc, load.status, load.message) for pc in self.planned]
        checks = self._apply_gates(self._unwritten_code_scores_nothing(checks))
        return ExerciseResult(
            score=rounded(sum(c.score for c in checks)), max_score=rounded(sum(c.max_score for c in checks)),
            status=load.status or exercise_status(checks), checks=checks, message=load.message,
            output=load.output, traceback=load.frames, **base,
        )

    def _load(self) -> Load:
        if self.execution is None:
            return Load("error", "the grader did not run this file")
        name = self.ex.file
        output = self.execution.text(f"load-{name}.log")
        record = self.execution.record(f"load-{name}")
        if record is None:
            if self.execution.outcome.how == "signal":
                return Load("error", f"code in your submission stopped the grader's process in the sandbox (for "
                            f"example by killing its parent process) before {self.sub.path.name} was loaded",
                            output=output)
            if self.execution.outcome.how == "timeout":
                return Load("timeout", f"the sandbox ran out of time before loading {self.sub.path.name}",
                            output=output)
            return Load("error", "the sandbox stopped before this file was loaded (an earlier file may have ended it)",
                        output=output)
        if record.get("status") == "ok":
            errors = record.get("cell_errors", [])
            return Load(None, "", output=output, cell_errors=errors if isinstance(errors, list) else [])
        status, message, frames = explain_load_error(record, self.sub.path.name, self.ex.limits.load_time)
        return Load(status, message, frames, output)

    @staticmethod
    def _cell_notes(errors: list[Any]) -> list[str]:
        notes = []
        for raw in errors[:10]:
            err = _clean_error(raw)
            cell = raw.get("cell") if isinstance(raw, dict) else "?"
            first = str(raw.get("first_line", ""))[:120] if isinstance(raw, dict) else ""
            line = err["frames"][-1]["line"] if err["frames"] else "?"
            notes.append(f"cell {cell} (starting `{first}`) raised {err['type']} at line {line} of the cell: "
                         f"{err['message'][:300]}; the following cells still ran")
        return notes

    def _result(self, pc: PlannedCheck, status: str, score: float, message: str, **extra: Any) -> CheckResult:
        return CheckResult(name=pc.spec.name, score=rounded(score), max_score=rounded(pc.spec.points),
                           status=status, message=message, entry=pc.spec.entry, hint=pc.spec.hint, **extra)

    def _check(self, pc: PlannedCheck, load_status: str | None, load_message: str) -> CheckResult:
        if pc.probe is None:
            return self._judged(pc, JudgeContext(self.ex, pc.spec, {}, None, pc.bound, pc.data,
                                                 source=self.sub.source))
        if load_status is not None:
            return self._result(pc, load_status, 0.0, f"not run: {load_message}")
        assert self.execution is not None
        call_id = pc.probe.call_id
        output = self.execution.text(f"call-{call_id}.log")
        status = self.execution.record(f"status-{call_id}") or {}
        seconds = status.get("seconds") if isinstance(status.get("seconds"), (int, float)) else 0.0
        extra = {"output": output, "seconds": round(float(seconds), 3)}
        try:
            record, values = read_values(self.execution.out, f"call-{call_id}")
        except WireError as exc:
            return self._result(pc, "error", 0.0, f"{pc.spec.entry} returned data the grader could not read ({exc})",
                                **extra)
        if record is None:
            return self._result(pc, *self._no_result(pc, status), **extra)
        if record.get("status") != "ok":
            err = _clean_error(record.get("error"))
            return self._result(pc, "error", 0.0, explain_error(err, pc.spec.entry, self.sub.path.name),
                                traceback=err["frames"], **extra)
        artifacts = self._artifacts(pc)
        ctx = JudgeContext(self.ex, pc.spec, values, self.expected(pc), pc.bound, pc.data, artifacts,
                           source=self.sub.source)
        return self._judged(pc, ctx, **extra)

    def _no_result(self, pc: PlannedCheck, status: dict) -> tuple[str, float, str]:
        how = status.get("how")
        entry, limit = pc.spec.entry, pc.probe.timeout if pc.probe else 0
        if how == "timeout":
            return "timeout", 0.0, f"{entry} did not finish within {limit:g} s (an endless loop, or far too much work?)"
        if how == "exited":
            return "error", 0.0, f"{entry} ended the process (exit code {status.get('code')}) before returning a value"
        if how == "signal":
            if status.get("code") == 9 and self.execution and self.execution.outcome.out_of_memory:
                return "error", 0.0, f"{entry} used more memory than allowed and was stopped"
            if status.get("code") == 24:  # SIGXCPU
                return "timeout", 0.0, f"{entry} used more CPU time than allowed ({limit:g} s)"
            return "error", 0.0, (f"{entry} was stopped by signal {status.get('code')} before returning a value "
                                  "(out of memory or CPU time, or a crash)")
        file_record = self.execution.record(f"file-{self.ex.file}") if self.execution else None
        if (file_record or {}).get("status") == "timeout" or (self.execution and self.execution.outcome.how == "timeout"):
            return "timeout", 0.0, f"not run: the time for {self.sub.path.name} ran out before this check"
        if self.execution and self.execution.outcome.how == "signal":
            return "error", 0.0, ("not run: code in your submission stopped the grader's process in the sandbox "
                                  "(for example by killing its parent process), so this check could not run")
        return "error", 0.0, "not run: the process running your file stopped before this check"

    def _artifacts(self, pc: PlannedCheck) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if pc.probe is None or self.execution is None:
            return found
        for name in pc.spec.artifacts:
            stem = f"artifact-{pc.probe.call_id}-{name}"
            try:
                record, values = read_values(self.execution.out, stem)
            except WireError as exc:
                found[name] = f"it could not be read ({exc})"
                continue
            if record is None:
                found[name] = "the grader could not read it back"
            elif record.get("status") != "ok":
                found[name] = _clean_error(record.get("error"))["message"]
            else:
                state = values.get("state_dict")
                found[name] = state if isinstance(state, dict) else "it holds no state_dict"
        return found

    def _judged(self, pc: PlannedCheck, ctx: JudgeContext, **extra: Any) -> CheckResult:
        try:
            verdict = JUDGES[pc.spec.judge].judge(ctx)
        except Exception as exc:
            # Odd data from the student (a missing value, a wrong type) must not stop the run.
            verdict = Verdict(False, f"{pc.spec.entry}: the result could not be judged ({type(exc).__name__}: {exc})")
        fraction = verdict.fraction if verdict.fraction is not None else (1.0 if verdict.passed else 0.0)
        fraction = min(max(fraction, 0.0), 1.0)
        status = "passed" if verdict.passed else "failed"
        return self._result(pc, status, pc.spec.points * fraction, verdict.message, details=verdict.details, **extra)

    def _unwritten_code_scores_nothing(self, checks: list[CheckResult]) -> list[CheckResult]:
        """A check that only reads code (say, "uses no library call") earns nothing for
        an entry point whose every run check errored: a stub or a missing function."""
        ran: dict[str, list[str]] = {}
        for pc, c in zip(self.planned, checks, strict=True):
            if pc.probe is not None:
                ran.setdefault(pc.spec.entry, []).append(c.status)
        for pc, c in zip(self.planned, checks, strict=True):
            statuses = ran.get(pc.spec.entry, [])
            if pc.probe is None and c.status == "passed" and statuses and all(
                    s in ("error", "timeout") for s in statuses):
                c.score, c.status = 0.0, "failed"
                c.message = f"not scored: {pc.spec.entry} does not run yet (see its other checks)"
        return checks

    def _apply_gates(self, checks: list[CheckResult]) -> list[CheckResult]:
        """A failed gate check (e.g. a forbidden call) zeroes its entry point's other checks."""
        gates = {pc.spec.entry: c for pc, c in zip(self.planned, checks, strict=True) if pc.spec.gate and c.status != "passed"}
        for pc, c in zip(self.planned, checks, strict=True):
            gate = gates.get(pc.spec.entry)
            if gate is None or gate is c or c.score == 0:
                continue
            c.score = 0.0
            c.status = "failed"
            c.message = f"not scored: {c.message}, but {gate.message.split('. ')[0]}."
        return checks


# ------------------------------------------------------------------ a whole run
class Grader:
    def __init__(self, course: Course, seed: int = 0, plan: Plan | None = None,
                 workspace: Path | None = None, progress: Callable[[str], None] | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self.course = course
        self.sandbox = sandbox or choose()
        self.seed = seed
        self.plan = plan or build_plan(course, seed)
        self.workspace = workspace
        self.progress = progress or (lambda _msg: None)
        self._reference: dict[str, dict[str, Any]] | None = None

    def __enter__(self) -> Grader:
        self._tmp = Path(tempfile.mkdtemp(prefix="grader-")) if self.workspace is None else None
        if self._tmp is not None:
            self.workspace = self._tmp
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # The reference solution runs through the same sandbox: its outputs are what
    # `match`-style judges compare with. It runs once per run.
    def reference(self) -> dict[str, dict[str, Any]]:
        if self._reference is None:
            self._reference = self._run_reference()
        return self._reference

    def _run_reference(self) -> dict[str, dict[str, Any]]:
        planned = [pc for pc in self.plan.all_checks() if pc.needs_solution and pc.probe is not None]
        if not planned:
            return {}
        submission = collect(self.course.solutions, self.course)
        wanted = {pc.exercise.id for pc in planned}
        submission.files = {k: v for k, v in submission.files.items() if k in wanted}
        for ex_id, sub in submission.files.items():
            if sub.path is None:
                raise GraderError(f"solutions/: the reference solution for {ex_id} is missing ({sub.problem})")
        assert self.workspace is not None
        execution = run_in_sandbox(self.plan, submission, self.workspace, self.sandbox)
        assert execution is not None
        values: dict[str, dict[str, Any]] = {}
        for pc in planned:
            assert pc.probe is not None
            try:
                record, got = read_values(execution.out, f"call-{pc.probe.call_id}")
            except WireError as exc:
                record, got = {"status": "error", "error": {"type": "WireError", "message": str(exc)}}, {}
            if record is None or record.get("status") != "ok":
                detail = _clean_error((record or {}).get("error"))
                log = execution.outcome.log.strip().splitlines()[-3:]
                raise GraderError(f"the reference solution fails check '{pc.spec.name}' of {pc.exercise.id}: "
                                  f"{detail['type']}: {detail['message'] or 'no result'} {' '.join(log)}".strip())
            values[pc.probe.call_id] = got
        # The reference outputs are the expected answers: gone before any student runs.
        shutil.rmtree(execution.out.parent, ignore_errors=True)
        return values

    def expected_for(self, pc: PlannedCheck) -> dict[str, Any] | None:
        if pc.expected_expr is not None:
            return {"result": _evaluate_expectation(pc.expected_expr)}
        if not pc.needs_solution or pc.probe is None:
            return None
        return self.reference()[pc.probe.call_id]

    def grade_submission(self, submission: Submission) -> StudentResult:
        assert self.workspace is not None
        if any(pc.needs_solution for pc in self.plan.all_checks()):
            self.reference()  # fail early, before any student, if the reference is broken
        started = time.monotonic()
        execution = run_in_sandbox(self.plan, submission, self.workspace, self.sandbox)
        exercises = []
        for ex in self.course.exercises:
            planned = self.plan.checks.get(ex.id, [])
            exercises.append(ExerciseGrader(planned, submission.files[ex.id], execution, self.expected_for).grade())
        if execution is not None:
            shutil.rmtree(execution.out.parent, ignore_errors=True)
        result = StudentResult(id=submission.student, score=rounded(sum(e.score for e in exercises)),
                               max_score=rounded(sum(e.max_score for e in exercises)), exercises=exercises)
        self.progress(f"{safe_line(submission.student)}: {result.score:g}/{result.max_score:g} "
                      f"({time.monotonic() - started:.1f} s)")
        return result

    def grade_folders(self, folders: list[Path]) -> GradingRun:
        # Every submission is read into memory before any student code runs, so code
        # graded earlier cannot rewrite a classmate's files.
        submissions = [collect(folder, self.course) for folder in folders]
        students = [self.grade_submission(sub) for sub in submissions]
        warning = self.sandbox.warning()
        return GradingRun(course=self.course.title, grader_version=grader.__version__, sandbox=self.sandbox.kind,
                          seed=self.seed, students=students, warnings=[warning] if warning else [])


def student_folders(path: Path, course: Course) -> list[Path]:
    if not path.is_dir():
        raise GraderError(f"{path} is not a folder of submissions")
    folders = discover(path, course)
    if not folders:
        raise GraderError(f"{path} holds no student folders")
    return folders


def _evaluate_expectation(expr: str) -> Any:
    """A visible example's expected value, evaluated by the grader (instructor's text)."""
    from grader.wire import TensorValue

    value = eval(compile(expr, "<expect>", "eval"), {"torch": torch, "math": __import__("math")})
    return TensorValue(value) if isinstance(value, torch.Tensor) else value

