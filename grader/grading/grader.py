"""Grading: run a submission's code in the sandbox, then judge what came back.

The sandbox gets a job (steps and inputs); the grader keeps the plan (hidden data,
held-out sets) and the reference solution's outputs, and computes every verdict here,
from plain data.
"""

from __future__ import annotations

import os
import re
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grader.course.model import Course, Exercise
from grader.errors import GraderError
from grader.grading.budget import OverBudget, within
from grader.grading.cells import CellFailures
from grader.grading.environment import EnvironmentLines
from grader.grading.incidents import internal_error_results
from grader.grading.plan import Plan, PlannedCheck, build_plan
from grader.grading.pools import make_pool
from grader.grading.redefinitions import redefinition_notes
from grader.judges import JUDGES, JudgeContext, Unjudgeable, Verdict
from grader.judges.base import Dispatched
from grader.results import (
    NOT_SCORED,
    CheckResult,
    ExerciseResult,
    StudentResult,
    exercise_status,
    rounded,
)
from grader.sandbox.choice import JobEnd, Sandbox, SandboxUnavailable, choose
from grader.sandbox.cleanup import remove_tree
from grader.sandbox.pool import Pool
from grader.sandbox.protocol import layout
from grader.sandbox.protocol.reading import JobFolder, Unreadable, Values
from grader.sandbox.protocol.values import WireError, read_dispatched
from grader.submissions.excerpts import code_lines, failing_line
from grader.submissions.folders import Submission, SubmittedFile, collect, stage
from grader.submissions.notebooks import Notebook

OUTPUT_CAP = 16 * 1024  # characters of a student's printed output kept per check


@dataclass
class Execution:
    """What one job left behind: its folder, read through the protocol's readers (the
    student could have written any of its files), and how the job ended."""

    folder: JobFolder
    outcome: JobEnd

    @property
    def trusted(self) -> bool:
        """The job's supervisor ended normally: every process was watched throughout."""
        return self.outcome.how == "exited" and self.outcome.code == 0

    def output(self, key: str) -> str:
        """What the student's code printed during one item ("load-<file>", "call-<id>")."""
        return self.folder.output(key, OUTPUT_CAP)

    def record(self, stem: str) -> dict | Unreadable | None:
        return self.folder.record(stem)

    def values(self, stem: str) -> Values | Unreadable | None:
        return self.folder.values(stem)

    def status(self, call_id: str) -> dict:
        """How one check's run ended, as the job's supervisor recorded it."""
        return self.folder.call_status(call_id)

    def discard(self) -> None:
        """Close the folder and delete it, whatever the sandbox left in it."""
        self.folder.close()
        remove_tree(self.folder.path)


def run_job(
    pool: Pool,
    plan: Plan,
    inputs: str,
    submission: Submission,
    exercises: list[Exercise],
    scratch: Path,
) -> Execution | None:
    """Stage a submission and run the checks of ``exercises`` in a pool worker.

    The job folder is written before a worker is taken and moved into its box (same
    file system: instant), and moved out when the job is over (every process of it is
    dead by then), so a worker never waits for the grader's file work."""
    exercises = [ex for ex in exercises if submission.files[ex.id].path is not None]
    if not exercises:
        return None
    text, schedule, wall = _job_text(plan, inputs, tuple(ex.id for ex in exercises), exercises)
    name = pool.new_job_name()
    staged = scratch / f"{name}.staged"
    stage(submission, staged / layout.SUBMISSION)
    for folder in (layout.OUT, layout.WORK):
        (staged / folder).mkdir()
    (staged / layout.JOB).write_text(text)
    (staged / layout.SCHEDULE).write_text(schedule)
    with pool.worker() as worker:
        worker.wait_ready()  # (it empties its box once started)
        os.rename(staged, worker.job_dir(name))
        outcome = worker.run(name, wall)
        done = worker.take(name, scratch / name)
    return Execution(JobFolder(done), outcome)


def _job_text(
    plan: Plan, inputs: str, key: tuple[str, ...], exercises: list[Exercise]
) -> tuple[str, str, float]:
    """job.json (steps and inputs, for the student process), schedule.json (what the
    worker supervises: files, check ids, time limits) and the job's wall time; the same
    for every submission of the same exercises, so made once per run."""
    found = plan.job_texts.get((inputs, key))
    if found is None:
        planned = plan.job_for(exercises, plan.seed)
        job = layout.Job(
            seed=planned["seed"],
            files=tuple(planned["files"]),
            inputs=inputs,
            threads=planned["threads"],
        )
        found = plan.job_texts[(inputs, key)] = (
            job.to_json(),
            job.schedule().to_json(),
            plan.wall_seconds(planned),
        )
    return found


# ------------------------------------------------------------------ untrusted records
def _clean_error(raw: Any) -> dict:
    """An error record from the sandbox, with every field type-checked."""
    if not isinstance(raw, dict):
        return {"type": "Error", "message": "", "frames": []}
    frames = []
    for f in raw.get("frames", [])[:12] if isinstance(raw.get("frames"), list) else []:
        if isinstance(f, dict):
            frames.append(
                {
                    "file": str(f.get("file", "?"))[:200],
                    "line": f.get("line") if isinstance(f.get("line"), int) else 0,
                    "function": str(f.get("function", "?"))[:200],
                    "code": str(f.get("code", ""))[:300],
                }
            )
    return {
        "type": str(raw.get("type", "Error"))[:100],
        "message": str(raw.get("message", ""))[:4000],
        "frames": frames,
    }


def _listed(item: dict | None) -> list[dict]:
    return [] if item is None else [item]


def explain_error(err: dict, entry: str, file: str, notebook: Notebook | None = None) -> str:
    kind, message = err["type"], err["message"]
    if kind == "NotImplementedError":
        return f"{entry} is not written yet: it still raises NotImplementedError"
    if kind == "MissingEntryPoint":
        return f"{file} defines no '{entry}': check the spelling of the name"
    if kind == "NotDifferentiable":
        return (
            f"{entry}'s result has no gradient: it is not computed from the input with tensor "
            "operations that autograd can follow (a Python loop, .item() or a new "
            "torch.tensor(...) breaks the chain)"
        )
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
        cell = notebook.cell_in_frame(last["file"]) if notebook else None
        where = f" at line {last['line']} of {cell.label() if cell else last['file']}"
    return (
        f"{entry} raised {kind}{where}: {message}" if message else f"{entry} raised {kind}{where}"
    )


def _missing_name(err: dict, entries: list[str]) -> str | None:
    """The entry point a NameError with no frame in the student's code names: a visible
    example's expression (``grader check``) calling a function the file does not define,
    the fact ``grader grade`` reports as MissingEntryPoint."""
    if err["type"] != "NameError" or err["frames"]:
        return None
    found = re.fullmatch(r"name '([^']+)' is not defined", err["message"])
    return found[1] if found and found[1] in entries else None


def explain_load_error(
    record: dict, file: str, limits_time: float, notebook: Notebook | None = None
) -> tuple[str, str, list[dict]]:
    """(status, message, frames) for a file that did not load."""
    status = record.get("status")
    cell = notebook.cell(record.get("cell")) if notebook else None
    where = f"{cell.label()} of {file}" if cell else f"a cell of {file}"  # notebooks only
    if status == "timeout":
        if notebook is not None:
            return (
                "timeout",
                (
                    f"{where} was still running after {limits_time:g} s, the time allowed for "
                    "running the whole notebook, so no check could run. Is there an endless "
                    "loop, or a long training run? Keep the notebook quick to run from the top"
                ),
                [],
            )
        return (
            "timeout",
            (
                f"loading {file} took longer than {limits_time:g} s, so no check could run. Is "
                "there a long loop or training run at the top level? Put it under "
                '`if __name__ == "__main__":`'
            ),
            [],
        )
    if status == "exited":
        if notebook is not None:
            code = record.get("code")
            how = (
                f"exit code {code}"
                if type(code) is int and code >= 0
                else f"signal {-code}"
                if type(code) is int
                else "a crash"
            )
            return (
                "error",
                (
                    f"{where} ended the kernel's process ({how}: os._exit, a crash, or running out "
                    "of memory), so the cells after it did not run and no check could run"
                ),
                [],
            )
        return (
            "error",
            (
                f"your code in {file} ended the process while loading (sys.exit, os._exit or a "
                "crash), before the checks ran"
            ),
            [],
        )
    err = _clean_error(record.get("error"))
    if err["type"] == "SystemExit":
        return (
            "error",
            f"your code in {file} called sys.exit() while loading, before the checks ran",
            err["frames"],
        )
    if err["type"] == "SyntaxError" or err["type"] == "IndentationError":
        line = err["frames"][-1]["line"] if err["frames"] else "?"
        return "error", f"{file} has a syntax error at line {line}: {err['message']}", err["frames"]
    if err["type"] == "KeyboardInterrupt":
        return (
            "error",
            f"your code in {file} raised KeyboardInterrupt while loading, before the checks ran",
            err["frames"],
        )
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


def _signal_name(code: object) -> str:
    try:
        return signal.Signals(code).name if type(code) is int else "a signal"
    except ValueError:
        return f"signal {code}"


class ExerciseGrader:
    """Judges one exercise of one submission from the sandbox's outputs."""

    def __init__(
        self,
        planned: list[PlannedCheck],
        sub: SubmittedFile,
        execution: Execution | None,
        expected: Callable[[PlannedCheck], dict[str, Any] | None],
    ) -> None:
        self.planned = planned
        self.sub = sub
        self.ex = sub.exercise
        self.execution = execution
        self.expected = expected
        self.environment = EnvironmentLines()  # no GPU, no network: said once per exercise
        self.failures: CellFailures | None = None  # a notebook's failed cells, once loaded
        self.missing: dict[str, str] = {}  # entry point -> why a failed cell left it undefined

    def grade(self) -> ExerciseResult:
        ex, sub = self.ex, self.sub
        shown = sub.path.name if sub.path else None
        base = {"id": ex.id, "title": ex.title, "file": shown, "notes": list(sub.notes)}
        if sub.path is None:
            status = (
                "missing" if not sub.problem or sub.problem.startswith("not submitted") else "error"
            )
            checks = [self._result(pc, status, 0.0, sub.problem) for pc in self.planned]
            return ExerciseResult(
                score=0.0,
                max_score=rounded(sum(pc.spec.points for pc in self.planned)),
                status=status,
                checks=checks,
                message=sub.problem,
                **base,
            )
        load = self._load()
        self.environment.output(load.output)
        if sub.kind == "ipynb":
            self.failures = self._cell_failures(load.cell_errors)
        checks = [self._check(pc, load.status, load.message) for pc in self.planned]
        checks = self._apply_needs(self._apply_gates(self._unwritten_code_scores_nothing(checks)))
        if load.status is None:
            base["notes"] += redefinition_notes(sub, self.failures)
        if self.failures is not None:
            base["notes"] += self.failures.notes()
        base["notes"] += self.environment.lines
        return ExerciseResult(
            score=rounded(sum(c.score for c in checks)),
            max_score=rounded(sum(c.max_score for c in checks)),
            status=load.status or exercise_status(checks),
            checks=checks,
            message=load.message or self._missing_message(),
            output=load.output,
            traceback=load.frames,
            excerpts=_listed(failing_line(self.sub, load.frames)),
            # A job whose supervisor did not end normally (the worker died or hung, its
            # reply was garbled, the grader's process in the sandbox was killed or
            # stopped) says nothing final about the student: graded again next run.
            final=self.execution is not None and self.execution.trusted,
            **base,
        )

    def _load(self) -> Load:
        if self.execution is None:
            return Load("error", "the grader did not run this file")
        stem = layout.load_stem(self.ex.file)
        output = self.execution.output(stem)
        record = self.execution.record(stem)
        if isinstance(record, Unreadable):
            return Load("error", record.message, output=output)
        if record is None:
            if self.execution.outcome.how == "signal":
                return Load(
                    "error",
                    f"the grader's process in the sandbox ended (it ran out of memory, or "
                    f"crashed) before {self.sub.path.name} was loaded; it will be graded again "
                    "on the next run",
                    output=output,
                )
            if self.execution.outcome.how == "timeout":
                return Load(
                    "timeout",
                    f"the sandbox ran out of time before loading {self.sub.path.name}",
                    output=output,
                )
            return Load(
                "error",
                "the sandbox stopped before this file was loaded "
                "(an earlier file may have ended it)",
                output=output,
            )
        if record.get("status") == "ok":
            errors = record.get("cell_errors", [])
            return Load(
                None, "", output=output, cell_errors=errors if isinstance(errors, list) else []
            )
        status, message, frames = explain_load_error(
            record, self.sub.path.name, self.ex.limits.load_time, self.sub.notebook
        )
        if record.get("status") == "error":
            err = _clean_error(record.get("error"))
            self.environment.error(err["type"], err["message"])
        return Load(status, message, frames, output)

    def _cell_failures(self, errors: list[Any]) -> CellFailures:
        cleaned = []
        for raw in errors:
            err = _clean_error(raw)
            self.environment.error(err["type"], err["message"])
            cleaned.append((raw.get("cell") if isinstance(raw, dict) else None, err))
        return CellFailures(self.sub.notebook, cleaned)

    def _missing_message(self) -> str:
        """The verdict first: which entry points a failed cell left undefined, and why
        (the checks say it too, one entry each)."""
        if self.failures is None or not self.missing:
            return ""
        grouped: dict[tuple[int, ...], list[str]] = {}
        for entry in self.missing:
            cause = self.failures.cause(entry) or ()
            grouped.setdefault(tuple(id(f) for f in cause), []).append(entry)
        file = self.sub.path.name if self.sub.path else self.ex.file
        parts = []
        for names in grouped.values():
            listed = ", ".join(f"'{n}'" for n in names[:-1])
            listed = f"{listed} or '{names[-1]}'" if listed else f"'{names[-1]}'"
            why = self.failures.why_missing(names[0], len(names))
            parts.append(f"{file} defines no {listed} {why}")
        return "; ".join(parts)

    def _result(
        self, pc: PlannedCheck, status: str, score: float, message: str, **extra: Any
    ) -> CheckResult:
        return CheckResult(
            name=pc.spec.name,
            score=rounded(score),
            max_score=rounded(pc.spec.points),
            status=status,
            message=message,
            entry=pc.spec.entry,
            hint=pc.spec.hint,
            visibility=pc.spec.visibility,
            **extra,
        )

    def _check(self, pc: PlannedCheck, load_status: str | None, load_message: str) -> CheckResult:
        if pc.probe is None:
            dispatched, unreadable = self._records(pc)
            return self._judged(
                pc,
                JudgeContext(
                    self.ex,
                    pc.spec,
                    {},
                    None,
                    pc.bound,
                    pc.data,
                    read_source=self.sub.code,
                    where=self.sub.where,
                    dispatched=dispatched,
                    unreadable_records=unreadable,
                ),
            )
        if load_status is not None:
            return self._result(pc, load_status, 0.0, f"not run: {load_message}")
        assert self.execution is not None
        call_id = pc.probe.call_id
        output = self.execution.output(layout.call_stem(call_id))
        self.environment.output(output)
        status = self.execution.status(call_id)
        seconds = status.get("seconds") if isinstance(status.get("seconds"), (int, float)) else 0.0
        extra = {"output": output, "seconds": round(float(seconds), 3)}
        if not self.execution.trusted:
            # The job's supervisor was killed or stopped: student code ran unwatched and
            # could have written anything in its folder, so nothing of this job counts.
            if self.execution.outcome.how == "timeout":
                return self._result(
                    pc,
                    "timeout",
                    0.0,
                    f"not scored: the time for {self.sub.path.name} ran "
                    "out while the grader's process in the sandbox was stopped",
                    **extra,
                )
            return self._result(
                pc,
                "error",
                0.0,
                "not scored: the grader's process in the sandbox ended (it "
                "ran out of memory, or crashed), so no result of this submission can be "
                "trusted; it will be graded again on the next run",
                **extra,
            )
        got = self.execution.values(layout.call_stem(call_id))
        if isinstance(got, Unreadable):
            return self._result(pc, "error", 0.0, f"{pc.spec.entry}: {got.message}", **extra)
        if got is None:
            return self._result(pc, *self._no_result(pc, status), **extra)
        record, values = got.record, got.values
        if record.get("status") != "ok":
            err = _clean_error(record.get("error"))
            self.environment.error(err["type"], err["message"])
            entry = pc.spec.entry
            missing = _missing_name(err, [e.name for e in self.ex.entry_points])
            if missing is not None:  # a visible example's own NameError says the same
                err, entry = {**err, "type": "MissingEntryPoint"}, missing
            message = explain_error(err, entry, self.sub.path.name, self.sub.notebook)
            why = self.failures.why_missing(entry) if self.failures is not None else ""
            made_for = self.sub.notebook.cell_made_for(entry) if self.sub.notebook else None
            if err["type"] == "MissingEntryPoint" and why:
                message = self.missing[entry] = f"{self.sub.path.name} defines no '{entry}' {why}"
            elif err["type"] == "MissingEntryPoint" and made_for is not None:
                message += f" (the stub's cell for it is now {made_for.label()})"
            return self._result(
                pc,
                "error",
                0.0,
                message,
                traceback=err["frames"],
                excerpts=_listed(failing_line(self.sub, err["frames"])),
                **extra,
            )
        artifacts = self._artifacts(pc)
        ctx = JudgeContext(
            self.ex,
            pc.spec,
            values,
            self.expected(pc),
            pc.bound,
            pc.data,
            artifacts,
            read_source=self.sub.code,
            where=self.sub.where,
        )
        return self._judged(pc, ctx, **extra)

    def _records(self, pc: PlannedCheck) -> tuple[list[Dispatched], list[str]]:
        """The run-time records ``pc``'s judge asked for: what each recorded call of its
        entry points dispatched (hostile data, read strictly), and what was unreadable.
        A job that did not end normally gives none: its checks count for nothing anyway."""
        entries = JUDGES[pc.spec.judge].recorded_entries(pc.spec)
        if not entries or self.execution is None or not self.execution.trusted:
            return [], []
        found, unreadable = [], []
        for other in self.planned:
            if other.probe is None or not other.probe.record or other.spec.entry not in entries:
                continue
            record = self.execution.record(layout.call_stem(other.probe.call_id))
            if isinstance(record, Unreadable):
                unreadable.append(record.reason)
                continue
            try:
                ops = read_dispatched(record)
            except WireError as exc:
                unreadable.append(str(exc))
                continue
            if ops is not None:
                found.append(Dispatched(other.spec.entry, other.spec.name, ops))
        return found, unreadable

    def _no_result(self, pc: PlannedCheck, status: dict) -> tuple[str, float, str]:
        how = status.get("how")
        entry, limit = pc.spec.entry, pc.probe.timeout if pc.probe else 0
        if how == "timeout":
            return (
                "timeout",
                0.0,
                f"{entry} did not finish within {limit:g} s "
                "(an endless loop, or far too much work?)",
            )
        if how == "exited":
            return (
                "error",
                0.0,
                f"{entry} ended the process (exit code {status.get('code')}) "
                "before returning a value",
            )
        if how == "stopped":
            return (
                "error",
                0.0,
                (
                    f"{entry} stopped its own process ({_signal_name(status.get('code'))}) and was "
                    "ended: a stopped process never returns a value"
                ),
            )
        if how == "signal":
            if status.get("code") == 9 and self.execution and self.execution.outcome.out_of_memory:
                return "error", 0.0, f"{entry} used more memory than allowed and was stopped"
            if status.get("code") == 24:  # SIGXCPU
                return "timeout", 0.0, f"{entry} used more CPU time than allowed ({limit:g} s)"
            return (
                "error",
                0.0,
                (
                    f"{entry} was stopped by signal {status.get('code')} before returning a value "
                    "(out of memory or CPU time, or a crash)"
                ),
            )
        if self.execution and self.execution.outcome.how == "timeout":
            return (
                "timeout",
                0.0,
                f"not run: the time for {self.sub.path.name} ran out before this check",
            )
        if self.execution and self.execution.outcome.how == "signal":
            return (
                "error",
                0.0,
                (
                    "not run: the grader's process in the sandbox ended (it ran out of memory, or "
                    "crashed), so this check could not run; it will be graded again on the next run"
                ),
            )
        return "error", 0.0, "not run: the process running your file stopped before this check"

    def _artifacts(self, pc: PlannedCheck) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if pc.probe is None or self.execution is None:
            return found
        for name in pc.spec.artifacts:
            got = self.execution.values(layout.artifact_stem(pc.probe.call_id, name))
            if isinstance(got, Unreadable):
                found[name] = f"it could not be read ({got.message})"
            elif got is None:
                found[name] = "the grader could not read it back"
            elif got.record.get("status") != "ok":
                found[name] = _clean_error(got.record.get("error"))["message"]
            else:
                state = got.values.get("state_dict")
                found[name] = state if isinstance(state, dict) else "it holds no state_dict"
        return found

    def _judged(self, pc: PlannedCheck, ctx: JudgeContext, **extra: Any) -> CheckResult:
        budget = self.ex.limits.judge_time
        try:
            with within(budget):  # judges run in the grader's threads: none may stall the run
                verdict = JUDGES[pc.spec.judge].judge(ctx)
        except OverBudget:
            return self._result(
                pc,
                "error",
                0.0,
                f"{pc.spec.entry}: this check could not be judged within "
                f"{budget:g} s (the time the grader gives itself to judge one check)",
                **extra,
            )
        except Unjudgeable as exc:
            return self._result(pc, "error", 0.0, str(exc), **extra)
        except Exception as exc:
            # Odd data from the student (a missing value, a wrong type) must not stop the run.
            verdict = Verdict(
                False,
                f"{pc.spec.entry}: the result could not be judged ({type(exc).__name__}: {exc})",
            )
        fraction = (
            verdict.fraction if verdict.fraction is not None else (1.0 if verdict.passed else 0.0)
        )
        fraction = min(max(fraction, 0.0), 1.0)
        status = "passed" if verdict.passed else "failed"
        return self._result(
            pc,
            status,
            pc.spec.points * fraction,
            verdict.message,
            details=verdict.details,
            figures=verdict.figures,
            excerpts=code_lines(self.sub, verdict.lines),
            **extra,
        )

    def _unwritten_code_scores_nothing(self, checks: list[CheckResult]) -> list[CheckResult]:
        """A check that only reads code (say, "uses no library call") earns nothing for
        an entry point whose every run check errored: a stub or a missing function."""
        ran: dict[str, list[str]] = {}
        for pc, c in zip(self.planned, checks, strict=True):
            if pc.probe is not None:
                ran.setdefault(pc.spec.entry, []).append(c.status)
        for pc, c in zip(self.planned, checks, strict=True):
            statuses = ran.get(pc.spec.entry, [])
            if (
                pc.probe is None
                and c.status == "passed"
                and statuses
                and all(s in ("error", "timeout") for s in statuses)
            ):
                c.score, c.status = 0.0, "failed"
                c.message = f"not scored: {pc.spec.entry} does not run yet (see its other checks)"
        return checks

    def _apply_gates(self, checks: list[CheckResult]) -> list[CheckResult]:
        """A failed gate check (e.g. a forbidden call) zeroes its entry point's other checks."""
        gates = {
            pc.spec.entry: c
            for pc, c in zip(self.planned, checks, strict=True)
            if pc.spec.gate and c.status != "passed"
        }
        for pc, c in zip(self.planned, checks, strict=True):
            gate = gates.get(pc.spec.entry)
            if gate is None or gate is c or c.score == 0:
                continue
            c.score = 0.0
            c.status = "failed"
            c.message = f"not scored: {c.message}, but {gate.message.split('. ')[0]}."
        return checks

    def _apply_needs(self, checks: list[CheckResult]) -> list[CheckResult]:
        """A check that ``needs`` others (a shape-only check needs the values check) scores
        only when they passed. Repeated until nothing changes, so a chain of needs holds."""
        by_name = {pc.spec.name: c for pc, c in zip(self.planned, checks, strict=True)}
        changed = True
        while changed:
            changed = False
            for pc, c in zip(self.planned, checks, strict=True):
                if c.score == 0:
                    continue
                failed = [
                    n for n in pc.spec.needs if n in by_name and by_name[n].status != "passed"
                ]
                if not failed:
                    continue
                c.score, c.status, changed = 0.0, "failed", True
                others = " and ".join(f"'{n}'" for n in failed)
                c.message = (
                    f"{NOT_SCORED}{c.message}; it counts only together with {others}, "
                    "which did not pass"
                )
        return checks


# ------------------------------------------------------------------ a whole run
OnResult = Callable[[Submission, list[ExerciseResult], float], None]
OnInternalError = Callable[[Submission, Exception], None]


class Grader:
    """Grades submissions with a pool of sandbox workers (its own, or one shared by
    several graders), judging every result in this process.

    The reference solution runs through the same sandbox, as the first job: its
    outputs are what `match`-style judges compare with. Student jobs run beside it;
    only their judging waits for it.
    """

    def __init__(
        self,
        course: Course,
        seed: int = 0,
        plan: Plan | None = None,
        sandbox: Sandbox | None = None,
        jobs: int = 1,
        pool: Pool | None = None,
    ) -> None:
        self.course = course
        self.sandbox = pool.sandbox if pool else (sandbox or choose())
        self.seed = seed
        self.plan = plan or build_plan(course, seed)
        self.jobs = max(1, jobs)
        self._pool = pool
        self._own_pool = pool is None
        self._reference: Future[dict[str, dict[str, Any]]] | None = None
        self._lock = threading.Lock()
        self._reference_lock = threading.Lock()  # held while a synchronous reference run goes
        self._inputs = ""
        self._scratch: Path | None = None
        self._course_protected = False

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = make_pool(self.sandbox, self.jobs, self.course)
            self._pool.start()
        if not self._course_protected:  # the confined fallback closes it to student code
            self._pool.protect(self.course.root)
            self._course_protected = True
        return self._pool

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            remove_tree(self._scratch)
        if self._own_pool and self._pool is not None:
            self._pool.close()

    @property
    def scratch(self) -> Path:
        """Where finished job folders wait to be judged: beside the workers' boxes (same
        file system, so moving one there is instant), never mounted in a sandbox."""
        with self._lock:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="judged-", dir=self.pool.home))
            return self._scratch

    def _inputs_name(self) -> str:
        """The plan's input tensors, written once into the pool's read-only folder."""
        with self._lock:
            if not self._inputs:
                name = layout.inputs_name(uuid.uuid4().hex[:12])
                self.plan.write_inputs(self.pool.shared / name)
                self._inputs = name
        return self._inputs

    def _run(self, submission: Submission, exercises: list[Exercise]) -> Execution | None:
        return run_job(
            self.pool, self.plan, self._inputs_name(), submission, exercises, self.scratch
        )

    # -------------------------------------------------------------- reference
    def _start_reference(
        self, executor: ThreadPoolExecutor | None, exercises: list[Exercise]
    ) -> None:
        with self._reference_lock:
            if self._reference is not None:
                return
            if executor is None:
                future: Future[dict[str, dict[str, Any]]] = Future()
                try:
                    future.set_result(self._run_reference(exercises))
                except BaseException as exc:
                    future.set_exception(exc)
                self._reference = future
            else:
                self._reference = executor.submit(self._run_reference, exercises)

    def reference(self) -> dict[str, dict[str, Any]]:
        if self._reference is None:
            self._start_reference(None, self.course.exercises)
        assert self._reference is not None
        return self._reference.result()

    def _run_reference(self, exercises: list[Exercise]) -> dict[str, dict[str, Any]]:
        wanted = {ex.id for ex in exercises}
        planned = [
            pc
            for pc in self.plan.all_checks()
            if pc.needs_solution and pc.probe is not None and pc.exercise.id in wanted
        ]
        if not planned:
            return {}
        submission = collect(self.course.solutions, self.course)
        for ex_id in {pc.exercise.id for pc in planned}:
            sub = submission.files[ex_id]
            if sub.path is None:
                raise GraderError(
                    f"solutions/: the reference solution for {ex_id} is missing ({sub.problem})"
                )
        needed = [ex for ex in self.course.exercises if ex.id in {pc.exercise.id for pc in planned}]
        execution = self._run(submission, needed)
        assert execution is not None
        values: dict[str, dict[str, Any]] = {}
        try:
            if not execution.trusted:
                raise GraderError(
                    f"the reference solution's run ended abnormally ({execution.outcome.how} "
                    f"{execution.outcome.code}): {execution.outcome.log.strip()[-300:]}"
                )
            for pc in planned:
                assert pc.probe is not None
                read = execution.values(layout.call_stem(pc.probe.call_id))
                if isinstance(read, Unreadable):
                    read = Values(
                        {"status": "error", "error": {"type": "WireError", "message": read.reason}},
                        {},
                    )
                record, got = (read.record, read.values) if read is not None else (None, {})
                if record is None or record.get("status") != "ok":
                    detail = _clean_error((record or {}).get("error"))
                    log = execution.outcome.log.strip().splitlines()[-3:]
                    raise GraderError(
                        f"the reference solution fails check '{pc.spec.name}' of {pc.exercise.id}: "
                        f"{detail['type']}: {detail['message'] or 'no result'} "
                        f"{' '.join(log)}".strip()
                    )
                values[pc.probe.call_id] = got
        finally:
            # The reference outputs are the expected answers: they stay in this process only.
            execution.discard()
        return values

    def expected_for(self, pc: PlannedCheck) -> dict[str, Any] | None:
        if pc.expected_expr is not None:
            return {"result": _evaluate_expectation(pc.expected_expr)}
        if not pc.needs_solution or pc.probe is None:
            return None
        return self.reference()[pc.probe.call_id]

    # -------------------------------------------------------------- students
    def grade_exercises(
        self, submission: Submission, exercises: list[Exercise]
    ) -> list[ExerciseResult]:
        """Run and judge ``exercises`` of one submission."""
        execution = self._run(submission, exercises)
        try:
            return [
                ExerciseGrader(
                    self.plan.checks.get(ex.id, []),
                    submission.files[ex.id],
                    execution,
                    self.expected_for,
                ).grade()
                for ex in exercises
            ]
        finally:
            if execution is not None:
                execution.discard()

    def grade_submission(self, submission: Submission) -> StudentResult:
        """Every exercise of one submission (``grader check``, ``grader validate``)."""
        if any(pc.needs_solution for pc in self.plan.all_checks()):
            self.reference()  # fail early, before any student, if the reference is broken
        return StudentResult.of(
            submission.student, self.grade_exercises(submission, self.course.exercises)
        )

    def grade_many(
        self,
        work: list[tuple[Submission, list[Exercise]]],
        on_result: OnResult,
        on_internal_error: OnInternalError | None = None,
    ) -> None:
        """Grade many submissions in parallel (one job per submission, as many at once as
        the pool has workers); ``on_result`` is called as each one is judged, from a
        worker thread. Results do not depend on the number of workers or the order.

        A submission whose staging, run or judging raises is an internal error for that
        submission only (``incidents.internal_error_results``, passed to ``on_result``
        after ``on_internal_error``); the others go on. What stops the run is what no
        submission could be graded without: a broken reference solution, no sandbox."""
        if not work:
            return
        needed = {ex.id: ex for _, exercises in work for ex in exercises}
        executor = ThreadPoolExecutor(
            max_workers=2 * len(self.pool.workers) + 1, thread_name_prefix="grade"
        )
        try:
            self._start_reference(executor, list(needed.values()))

            def one(item: tuple[Submission, list[Exercise]]) -> None:
                submission, exercises = item
                started = time.monotonic()
                try:
                    results = self.grade_exercises(submission, exercises)
                except (GraderError, SandboxUnavailable):
                    raise
                except Exception as exc:  # the last line: this student only
                    if (
                        self._reference is not None
                        and self._reference.done()
                        and self._reference.exception()
                    ):
                        raise  # the reference run failed: the run stops, no student is to blame
                    if on_internal_error is not None:
                        on_internal_error(submission, exc)
                    results = internal_error_results(exercises)
                on_result(submission, results, time.monotonic() - started)

            futures = [executor.submit(one, item) for item in work]
            assert self._reference is not None
            self._reference.result()  # a broken reference stops the run at once
            for future in futures:
                future.result()
        finally:
            # On an error or Ctrl-C, do not wait for the jobs still running: the caller
            # stops the workers, and nothing judged after that is kept.
            executor.shutdown(wait=False, cancel_futures=True)


def _evaluate_expectation(expr: str) -> Any:
    """A visible example's expected value, evaluated by the grader (instructor's text)."""
    from grader.sandbox.protocol.values import TensorValue

    value = eval(compile(expr, "<expect>", "eval"), {"torch": torch, "math": __import__("math")})
    return TensorValue(value) if isinstance(value, torch.Tensor) else value
