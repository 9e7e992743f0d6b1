"""``grader validate``: the course is sound before students see it.

- every reference solution scores full marks, and passes its visible examples;
- every generated stub scores zero;
- every mistake the course ships (``solutions/mistakes/``, see ``mistakes.py``) fails
  the checks it names, and none scores full marks;
- trivial implementations of every entry point (``trivial.py``: return None, the
  input, zeros, ones) are graded; a check one of them passes with points is a warning
  (a failure with ``strict``);
- every check, custom ones included, passes the reference solution on many seeds: a
  check whose verdict flips with the seed is reported with the seeds it failed on.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from grader.course.model import Course
from grader.grading import trivial
from grader.grading.grader import Grader
from grader.grading.mistakes import Mistake, find_mistakes
from grader.grading.plan import build_example_plan, build_plan
from grader.grading.pools import make_pool
from grader.results import ExerciseResult, StudentResult
from grader.sandbox.choice import Sandbox, choose
from grader.sandbox.pool import Pool
from grader.submissions.folders import Submission, SubmittedFile, collect

T = TypeVar("T")
R = TypeVar("R")


def _shortfalls(result: StudentResult, label: str) -> list[str]:
    found = []
    for ex in result.exercises:
        for check in ex.checks:
            if check.score < check.max_score:
                found.append(
                    f"{label}: {ex.id}: '{check.name}' scored {check.score:g}/{check.max_score:g}: "
                    f"{check.message}"
                )
    return found


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)  # validation fails
    warnings: list[str] = field(default_factory=list)  # validation fails with --strict
    table: list[trivial.Row] = field(default_factory=list)


def _parallel(work: Callable[[T], R], items: list[T], jobs: int) -> list[R]:
    """``work`` on every item, ``jobs`` at a time (sandbox jobs share the pool), in order."""
    if jobs <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="validate") as executor:
        return list(executor.map(work, items))


def _grade_files(
    g: Grader, course: Course, label: str, files: dict[str, SubmittedFile]
) -> dict[str, ExerciseResult]:
    """Grade files of several exercises (at most one each) in one sandbox job."""
    every = {
        ex.id: files.get(ex.id) or SubmittedFile(ex, None, problem="not submitted")
        for ex in course.exercises
    }
    submission = Submission(student=label, folder=Path(label), files=every)
    exercises = [ex for ex in course.exercises if ex.id in files]
    return {r.id: r for r in g.grade_exercises(submission, exercises)}


def _mistakes(
    g: Grader,
    course: Course,
    mistakes: list[Mistake],
    found: Findings,
    say: Callable[[str], None],
    jobs: int,
) -> None:
    rounds: list[dict[str, Mistake]] = []
    for mistake in mistakes:  # one job grades one mistake of each exercise
        slot = next((r for r in rounds if mistake.exercise.id not in r), None)
        if slot is None:
            slot = {}
            rounds.append(slot)
        slot[mistake.exercise.id] = mistake
    caught = 0

    def grade(index: int) -> dict[str, ExerciseResult]:
        files = {ex_id: m.file for ex_id, m in rounds[index].items()}
        return _grade_files(g, course, f"mistakes-{index}", files)

    graded = _parallel(grade, list(range(len(rounds))), jobs)
    for batch, results in zip(rounds, graded, strict=True):
        for ex_id, mistake in batch.items():
            problems = mistake.problems(results[ex_id])
            found.problems += [f"mistake: {p}" for p in problems]
            caught += not problems
    if mistakes:
        say(f"mistakes: {caught} of {len(mistakes)} fail as declared")


def _trivials(
    g: Grader,
    course: Course,
    stubs: StudentResult,
    found: Findings,
    say: Callable[[str], None],
    jobs: int,
) -> None:
    solutions = collect(course.solutions, course)
    by_id = {r.id: r for r in stubs.exercises}
    rows: dict[tuple[str, str, str], trivial.Row] = {}
    for ex in course.exercises:  # the stub is "raises" for every entry point at once
        for entry in ex.entry_points:
            rows[(ex.id, entry.name, "raises")] = trivial.row(
                ex, entry.name, "raises", by_id[ex.id]
            )
    widest = max((len(ex.entry_points) for ex in course.exercises), default=0)
    batches: list[tuple[str, dict[str, SubmittedFile], dict[str, str]]] = []
    for variant in trivial.GENERATED:
        for index in range(widest):  # one job: entry point `index` of every exercise
            files, entries = {}, {}
            for ex in course.exercises:
                if index >= len(ex.entry_points):
                    continue
                entry = ex.entry_points[index]
                reference = solutions.files[ex.id].code() or ""
                text = trivial.source(ex, entry, variant, reference)
                if text is not None:
                    files[ex.id] = SubmittedFile(ex, Path(f"{ex.file}.py"), "py", source=text)
                    entries[ex.id] = entry.name
            if files:
                batches.append((variant, files, entries))

    def grade(index: int) -> dict[str, ExerciseResult]:
        variant, files, _ = batches[index]
        return _grade_files(g, course, f"trivial-{variant}-{index}", files)

    graded = _parallel(grade, list(range(len(batches))), jobs)
    for (variant, _, entries), results in zip(batches, graded, strict=True):
        for ex in course.exercises:
            if ex.id in entries:
                rows[(ex.id, entries[ex.id], variant)] = trivial.row(
                    ex, entries[ex.id], variant, results[ex.id]
                )
    order = list(trivial.VARIANTS)
    found.table = [
        rows[key]
        for ex in course.exercises
        for entry in ex.entry_points
        for key in [(ex.id, entry.name, v) for v in order]
        if key in rows
    ]
    weak = [r for r in found.table if r.unexplained]
    explained = [r for r in found.table if r.passes and not r.unexplained]
    found.warnings += [f"trivial: {r.line(only_unexplained=True)}" for r in weak]
    say(
        f"trivial implementations: {len(found.table)} graded, {len(weak)} earn points "
        "(listed as warnings; `--trivial` prints them all)"
        + (
            f"; {len(explained)} more pass only checks the exercise says stand alone"
            if explained
            else ""
        )
    )


def _seeds(
    course: Course,
    seeds: int,
    pool: Pool,
    solutions: Submission,
    found: Findings,
    say: Callable[[str], None],
    jobs: int,
) -> None:
    """Every check on ``seeds`` more seeds: any that fails the reference solution on some
    seed flips with the seed (its false-fail rate does not hold)."""
    failed: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def grade(seed: int) -> StudentResult:
        with Grader(course, seed=seed, plan=build_plan(course, seed), pool=pool) as g:
            return g.grade_submission(solutions)

    tried = list(range(1, seeds + 1))
    for seed, result in zip(tried, _parallel(grade, tried, jobs), strict=True):
        for ex in result.exercises:
            for check in ex.checks:
                if check.score < check.max_score:
                    failed.setdefault((ex.id, check.name), []).append((seed, check.message))
    for (ex_id, name), where in failed.items():
        listed = ", ".join(str(seed) for seed, _ in where)
        found.problems.append(
            f"seed: {ex_id}: '{name}' flips with the seed: the solution fails it on seed(s) "
            f"{listed} of 1-{seeds} (seed {where[0][0]}: {where[0][1]})"
        )
    checks = sum(len(ex.checks) for ex in course.exercises)
    say(f"all {checks} checks tried on {seeds} more seeds: {len(failed)} flip")


def validate(
    course: Course,
    seeds: int,
    say: Callable[[str], None],
    sandbox: Sandbox | None = None,
    strict: bool = False,
    trivial_only: bool = False,
    as_json: bool = False,
    jobs: int = 1,
) -> int:
    """Run every pass and say what it found; 0 when the course is valid, 1 when not.
    ``trivial_only`` grades only the stubs and the trivial implementations and prints
    their table (as JSON with ``as_json``). ``jobs`` sandbox jobs run at once."""
    from grader.course.build import build_bundle

    found = Findings()
    started = time.monotonic()
    # Errors in the mistakes' declarations stop here, at file:line, before any grading.
    mistakes = [] if trivial_only else find_mistakes(course)
    quiet = say if not as_json else (lambda _line: None)
    # One pool of workers for every pass: torch is imported once.
    with (
        tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp,
        make_pool(sandbox or choose(), max(1, jobs), course) as pool,
    ):
        workspace = Path(tmp)
        pool.start()
        solutions = collect(course.solutions, course)
        # One grader (one reference run) for every pass on seed 0.
        with Grader(course, seed=0, pool=pool) as g:
            if not trivial_only:
                result = g.grade_submission(solutions)
                found.problems += _shortfalls(result, "solution")
                say(f"solutions: {result.score:g}/{result.max_score:g}")

                with Grader(
                    course, seed=0, plan=build_example_plan(course, 0), pool=pool
                ) as examples_grader:
                    examples = examples_grader.grade_submission(solutions)
                found.problems += _shortfalls(examples, "visible example")
                say(f"visible examples on the solutions: {examples.score:g}/{examples.max_score:g}")

            bundle = workspace / "bundle"
            build_bundle(course, bundle)
            stubs = g.grade_submission(collect(bundle, course))
            for ex in stubs.exercises:
                if ex.score > 0:
                    found.problems.append(
                        f"stub: {ex.id} scores {ex.score:g} without any student code"
                    )
            quiet(f"stubs: {stubs.score:g}/{stubs.max_score:g}")

            if not trivial_only:
                _mistakes(g, course, mistakes, found, say, jobs)
            _trivials(g, course, stubs, found, quiet, jobs)

        if not trivial_only and seeds > 0:
            _seeds(course, seeds, pool, solutions, found, say, jobs)

    if trivial_only:
        if as_json:
            say(json.dumps([r.as_data() for r in found.table], indent=2))
        else:
            for r in found.table:
                say(r.line())
        failing = found.problems + (found.warnings if strict else [])
        return 0 if not failing else 1

    for problem in found.problems:
        say(f"FAIL {problem}")
    for warning in found.warnings:
        say(f"{'FAIL' if strict else 'warning'} {warning}")
    failing = len(found.problems) + (len(found.warnings) if strict else 0)
    seconds = time.monotonic() - started
    if not failing:
        extra = f" ({len(found.warnings)} warning(s))" if found.warnings else ""
        say(f"course is valid{extra} [{seconds:.0f} s]")
    else:
        say(f"{failing} problem(s) found [{seconds:.0f} s]")
    return 0 if not failing else 1
