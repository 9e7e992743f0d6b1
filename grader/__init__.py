"""torch-grader: an automated grader for PyTorch exercises.

The public face, for scripts and instructors' custom judges::

    from grader import load_course, grade_course, choose
    course = load_course(Path("."))
    summary = grade_course(course, folders, Path("reports"), choose())

Every name is imported on first use (module ``__getattr__``): ``import grader`` stays
quick, and only ``Grader`` pulls in torch. The packages, in pipeline order: ``course``
(the course as data), ``submissions`` (students' files), ``grading`` (plan, sandbox
runs, judging, a whole class), ``sandbox`` (workers and the boundary), ``judges``,
``results``, ``reports``, ``exports``, ``cluster``, ``cli``; see docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from grader import _compat  # noqa: E402  (0.1's module paths, for instructors' helper files)

_compat.install()

_PUBLIC = {
    "load_course": "grader.course.loading",
    "Course": "grader.course.model",
    "Exercise": "grader.course.model",
    "CheckSpec": "grader.course.model",
    "ExerciseError": "grader.course.schema",
    "Grader": "grader.grading.grader",
    "grade_course": "grader.grading.class_run",
    "RunSummary": "grader.grading.class_run",
    "choose": "grader.sandbox.choice",
    "Sandbox": "grader.sandbox.choice",
    "GradingRun": "grader.results",
    "StudentResult": "grader.results",
    "ExerciseResult": "grader.results",
    "CheckResult": "grader.results",
    "Verdict": "grader.judges.base",
    "JudgeContext": "grader.judges.base",
    "GraderError": "grader.errors",
}

__all__ = [
    "__version__",
    "load_course",
    "Course",
    "Exercise",
    "CheckSpec",
    "ExerciseError",
    "Grader",
    "grade_course",
    "RunSummary",
    "choose",
    "Sandbox",
    "GradingRun",
    "StudentResult",
    "ExerciseResult",
    "CheckResult",
    "Verdict",
    "JudgeContext",
    "GraderError",
]

if TYPE_CHECKING:
    from grader.course.loading import load_course
    from grader.course.model import CheckSpec, Course, Exercise
    from grader.course.schema import ExerciseError
    from grader.errors import GraderError
    from grader.grading.class_run import RunSummary, grade_course
    from grader.grading.grader import Grader
    from grader.judges.base import JudgeContext, Verdict
    from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult
    from grader.sandbox.choice import Sandbox, choose


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
