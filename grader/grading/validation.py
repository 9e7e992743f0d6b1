"""``grader validate``: the course is sound before students see it.

- every reference solution scores full marks, and passes its visible examples;
- every generated stub scores zero;
- every check with randomness (distributions, training) passes the reference
  solution on many seeds, so the stated false-fail rates hold in practice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from grader.course.model import Course
from grader.grading.grader import Grader
from grader.grading.plan import build_example_plan, build_plan
from grader.grading.pools import make_pool
from grader.results import StudentResult
from grader.sandbox.choice import Sandbox, choose
from grader.submissions.folders import collect

RANDOM_JUDGES = ("distribution", "training")


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


def validate(
    course: Course, seeds: int, say: Callable[[str], None], sandbox: Sandbox | None = None
) -> int:
    from grader.course.build import build_bundle

    problems: list[str] = []
    # One pool of workers for every pass: torch is imported once.
    with (
        tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp,
        make_pool(sandbox or choose(), 1, course) as pool,
    ):
        workspace = Path(tmp)
        pool.start()
        solutions = collect(course.solutions, course)
        with Grader(course, seed=0, pool=pool) as g:
            result = g.grade_submission(solutions)
        problems += _shortfalls(result, "solution")
        say(f"solutions: {result.score:g}/{result.max_score:g}")

        with Grader(course, seed=0, plan=build_example_plan(course, 0), pool=pool) as g:
            examples = g.grade_submission(solutions)
        problems += _shortfalls(examples, "visible example")
        say(f"visible examples on the solutions: {examples.score:g}/{examples.max_score:g}")

        bundle = workspace / "bundle"
        build_bundle(course, bundle)
        with Grader(course, seed=0, pool=pool) as g:
            stubs = g.grade_submission(collect(bundle, course))
        for ex in stubs.exercises:
            if ex.score > 0:
                problems.append(f"stub: {ex.id} scores {ex.score:g} without any student code")
        say(f"stubs: {stubs.score:g}/{stubs.max_score:g}")

        random_checks = sum(
            1 for ex in course.exercises for c in ex.checks if c.judge in RANDOM_JUDGES
        )
        if random_checks and seeds > 0:
            for seed in range(1, seeds + 1):
                plan = build_plan(course, seed)
                plan.keep_checks(lambda pc: pc.spec.judge in RANDOM_JUDGES)
                with Grader(course, seed=seed, plan=plan, pool=pool) as g:
                    problems += _shortfalls(g.grade_submission(solutions), f"seed {seed}")
            say(f"{random_checks} random checks tried on {seeds} seeds")
    for problem in problems:
        say(f"FAIL {problem}")
    say("course is valid" if not problems else f"{len(problems)} problem(s) found")
    return 0 if not problems else 1
