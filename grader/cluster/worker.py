"""Runs on a Dask worker, in the grader's trust zone (never in a sandbox): grades one
submission exactly as a local run does, with the same Grader, sandbox and worker pool.

The course arrives as files (exercises with their hidden helpers, solutions) and is
written once per worker process to a private folder, which no sandbox mounts; the
submission arrives as the plain data the grader machine read. Results go back as
JSON text of the results model, never as pickled objects.
"""

from __future__ import annotations

import atexit
import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.course.loading import load_course
from grader.course.model import Course
from grader.course.schema import ExerciseError
from grader.errors import GraderError
from grader.grading.fingerprint import grader_fingerprint
from grader.grading.incidents import describe_exception, internal_error_results
from grader.results import plain
from grader.sandbox.choice import SandboxUnavailable
from grader.submissions.folders import submission_from_data


@dataclass
class Station:
    """What a worker process keeps between jobs of one run: the course on disk, and a
    Grader with its sandbox pool (torch imported, the reference solution run once)."""

    folder: tempfile.TemporaryDirectory[str]
    course: Course
    grader: Any  # grader.grading.grader.Grader, imported with torch on the first job


_stations: dict[tuple[str, int, str], Station] = {}
_lock = threading.Lock()


def grade_job(course: dict[str, Any], job: dict[str, Any]) -> str:
    """Grade ``job["submission"]`` (``submission_data``) on ``job["exercises"]``;
    returns ``{"results": [ExerciseResult as dict], "seconds": s, "incident": None or
    [one line, traceback]}`` as JSON (an incident: the grader failed on this submission,
    whose results are then internal errors).

    ``course`` is ``{"digest", "name", "files"}``; ``job`` also carries the run's seed,
    sandbox kind and the grader's fingerprint, which must be this worker's own: a
    worker with other grader code, torch or Python would grade differently."""
    if job["grader"] != grader_fingerprint():
        raise GraderError(
            "this Dask worker runs a different torch-grader, torch or Python than the machine "
            "that runs `grader grade`; install the same versions on the workers"
        )
    try:
        station = _station(course, int(job["seed"]), str(job["sandbox"]))
    except ExerciseError as exc:  # it cannot travel back as itself (its __init__ takes three args)
        raise GraderError(str(exc)) from None
    submission = submission_from_data(job["submission"], station.course)
    exercises = [station.course.exercise(ex_id) for ex_id in job["exercises"]]
    started = time.monotonic()
    incident = None
    try:
        results = station.grader.grade_exercises(submission, exercises)
    except (GraderError, SandboxUnavailable):
        raise  # what no submission could be graded without stops the run, as locally
    except Exception as exc:  # the last line, as Grader.grade_many's: this student only
        results = internal_error_results(exercises)
        incident = describe_exception(exc)
    return json.dumps(
        {
            "results": [plain(r) for r in results],
            "seconds": time.monotonic() - started,
            "incident": incident,
        }
    )


def _station(course: dict[str, Any], seed: int, sandbox_kind: str) -> Station:
    key = (str(course["digest"]), seed, sandbox_kind)
    with _lock:
        if key not in _stations:
            _stations[key] = _open_station(course, seed, sandbox_kind)
        return _stations[key]


def _open_station(course: dict[str, Any], seed: int, sandbox_kind: str) -> Station:
    import torch

    from grader.grading.grader import Grader
    from grader.sandbox.choice import choose

    folder = tempfile.TemporaryDirectory(prefix="grader-course-")
    root = Path(folder.name) / str(
        course["name"]
    )  # the folder's name is the course's default title
    for rel, data in course["files"].items():
        path = (root / rel).resolve()
        if not path.is_relative_to(root.resolve()):
            raise GraderError(f"a course file would be written outside the course folder: {rel}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    loaded = load_course(root)
    sandbox = choose(sandbox_kind)
    if sandbox.kind != sandbox_kind:
        raise GraderError(
            f"this Dask worker cannot use the {sandbox_kind} sandbox the run asked for"
        )
    torch.set_num_threads(1)  # judging works on small tensors: the cores are the sandboxes'
    # The Grader's own pool, sized and limited as a local run's; started here, under the
    # stations' lock, so that two first jobs cannot each start one.
    grader = Grader(loaded, seed=seed, sandbox=sandbox, jobs=_threads())
    grader.pool  # noqa: B018
    atexit.register(_close, grader, folder)
    return Station(folder, loaded, grader)


def _threads() -> int:
    """One sandbox worker per task this Dask worker runs at once."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _close(grader: Any, folder: tempfile.TemporaryDirectory[str]) -> None:
    grader.__exit__(None, None, None)  # closes its pool
    folder.cleanup()
