"""The one place a run's sandbox pool is made: its workers' limits come from the
course's exercises (the most memory any of them allows, plus the worker's own)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.sandbox.choice import Sandbox, WorkerLimits
from grader.sandbox.pool import Pool

if TYPE_CHECKING:
    from grader.course.model import Course


def worker_limits(course: Course) -> WorkerLimits:
    return WorkerLimits.for_student_code(ex.limits.memory_mb for ex in course.exercises)


def make_pool(sandbox: Sandbox, size: int, course: Course | None = None) -> Pool:
    """A pool of ``size`` workers for ``course``. Without the course (a pool started
    while the course is still being read), the default limits until ``fit_pool``."""
    return Pool(size, sandbox, WorkerLimits() if course is None else worker_limits(course))


def fit_pool(pool: Pool, course: Course) -> None:
    """Set the limits of a pool made before the course was read (workers may run)."""
    pool.set_memory(worker_limits(course).memory_mb)
