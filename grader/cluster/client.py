"""Runs where ``grader grade`` runs: sends the run's jobs to a Dask cluster and takes
their results back, one submission per job, as a local run's workers would.

What travels: the course's files once (scattered to every worker), then each
submission as the plain data this machine read (``submission_data``). What comes
back: JSON text of the results model, decoded here; no object a student could have
shaped is ever unpickled. The store and the reports stay on this machine.

A worker that dies mid-job is Dask's to handle: the scheduler runs the job again on
another worker (up to its ``allowed-failures``), and the job's one result arrives here
once. How many jobs that happened to is read from the scheduler at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from grader.course.model import Course, Exercise
from grader.course.shipping import course_files
from grader.errors import GraderError
from grader.grading.fingerprint import digest, grader_fingerprint
from grader.grading.grader import OnResult
from grader.grading.incidents import describe_exception, internal_error_results
from grader.results import ExerciseResult
from grader.submissions.folders import Submission, submission_data

OnIncident = Callable[
    [str, str, str, str], None
]  # IncidentLog.record: student, what, summary, details


class ClusterGrader:
    """``grade_many`` like ``grading.Grader``'s, on a Dask cluster."""

    def __init__(self, client: Any, course: Course, seed: int, sandbox_kind: str) -> None:
        self.client = client
        self.course = course
        self.seed = seed
        self.sandbox_kind = sandbox_kind
        self.retried = 0  # jobs run again because the worker running them died
        self.failed: list[
            str
        ] = []  # students whose job failed for good (their results are not saved)

    def grade_many(
        self,
        work: list[tuple[Submission, list[Exercise]]],
        on_result: OnResult,
        on_incident: OnIncident | None = None,
    ) -> None:
        """Grade ``work``; ``on_result`` is called in this thread as each job's result
        arrives. A job that fails for good (its workers kept dying) is listed in
        ``failed``; a grader error on a worker (a broken reference solution, another
        grader version) stops the run, as it would locally. A job that failed in any
        other way is an internal error for its student only: ``on_incident`` says so,
        and ``on_result`` gets results that the next run grades again."""
        from distributed import as_completed

        from grader.cluster.worker import grade_job

        if not work:
            return
        files = course_files(self.course, "a Dask worker")
        course = {
            "digest": digest(part for item in sorted(files.items()) for part in item),
            "name": self.course.root.resolve().name,
            "files": files,
        }
        [shipped] = self.client.scatter([course], broadcast=True, hash=False)
        run = uuid.uuid4().hex[:8]
        futures = {}
        for i, (submission, exercises) in enumerate(work):
            job = {
                "submission": submission_data(submission),
                "exercises": [ex.id for ex in exercises],
                "seed": self.seed,
                "sandbox": self.sandbox_kind,
                "grader": grader_fingerprint(),
            }
            future = self.client.submit(grade_job, shipped, job, key=f"grade-{run}-{i}", pure=False)
            futures[future] = (submission, exercises)
        try:
            for future in as_completed(futures):
                submission, exercises = futures[future]
                try:
                    if future.status == "error":
                        self._failed(submission, future.exception())
                        continue
                    reply = json.loads(future.result())
                    results = [ExerciseResult.from_dict(r) for r in reply["results"]]
                    seconds, incident = float(reply["seconds"]), reply.get("incident")
                except GraderError:
                    raise
                except Exception as exc:  # the last line: this student only
                    results, seconds, incident = (
                        internal_error_results(exercises),
                        0.0,
                        describe_exception(exc),
                    )
                if incident and on_incident is not None:
                    on_incident(submission.student, "grading {} on the cluster", *incident)
                on_result(submission, results, seconds)
            self.retried = _retried(self.client, [f.key for f in futures])
        finally:
            for future in futures:
                future.cancel()
            shipped.cancel()

    def _failed(self, submission: Submission, exc: BaseException | None) -> None:
        from distributed import KilledWorker

        if isinstance(exc, GraderError):
            raise GraderError(f"on the cluster: {exc}") from None
        if isinstance(exc, KilledWorker):
            self.failed.append(submission.student)
            return
        raise exc if isinstance(exc, Exception) else RuntimeError(f"the job failed: {exc!r}")


def _retried(client: Any, keys: list[str]) -> int:
    """How many of ``keys`` the scheduler had to run again after their worker died."""

    def count(dask_scheduler: Any, keys: list[str]) -> int:
        tasks = dask_scheduler.tasks
        return sum(1 for key in keys if key in tasks and getattr(tasks[key], "suspicious", 0) > 0)

    return int(client.run_on_scheduler(count, keys=keys))
