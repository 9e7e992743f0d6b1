"""``grader grade``: grade what changed, keep every result in the store, write reports.

A submission's exercise is graded again only when its fingerprint changed: the
student's files, the exercise (its YAML, solution, hidden helpers), the seed, the
sandbox kind or the grader itself (see fingerprint.py). Everything else is read from
the store (store.py), which commits each student as soon as it is judged: a run that
is interrupted or killed resumes where it stopped, with nothing lost or counted twice.

This module imports torch only when something must be graded, so a re-run with nothing
changed takes a fraction of a second; when there is work, the sandbox workers start
before the grader itself imports torch, so the two overlap.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grader
from grader.course.model import Course, Exercise
from grader.errors import GraderError
from grader.grading.fingerprint import (
    digest,
    exercise_fingerprint,
    grader_fingerprint,
    run_key,
    submission_fingerprint,
)
from grader.grading.incidents import IncidentLog, internal_error_results
from grader.grading.pools import fit_pool, make_pool
from grader.grading.progress import Progress, summary
from grader.grading.selection import (
    Selection,
    kept_results,
    not_graded_result,
    not_graded_warning,
    regrade_summary,
    select,
)
from grader.grading.store import Store
from grader.results import ExerciseResult, GradingRun, StudentResult, plain, rounded
from grader.sandbox.choice import Sandbox
from grader.sandbox.pool import Pool
from grader.submissions.folders import Submission, collect, student_ids
from grader.terminal import safe_line

# Per student, the results read from the store (not graded again), by exercise id.
Cached = dict[str, dict[str, ExerciseResult]]


@dataclass
class RunSummary:
    run: GradingRun
    graded: int  # submissions run through the sandbox now
    reused: int  # submissions read entirely from the store
    seconds: float
    written: list[Path] = field(default_factory=list)
    summary: str = ""
    folders: dict[str, Path] = field(default_factory=dict)  # student id -> their folder


class Interrupted(Exception):
    """Ctrl-C: what was judged is saved; the same command resumes."""

    def __init__(self, saved: int, total: int) -> None:
        super().__init__(
            f"interrupted: {saved} of {total} submission(s) to grade were saved in the store; "
            "run the same command again to go on from there"
        )


@dataclass(frozen=True)
class RunSettings:
    """What one run of ``grade_course`` was asked for, as every step of it reads it."""

    course: Course
    folders: list[Path]
    out: Path
    sandbox: Sandbox
    seed: int
    jobs: int
    force: bool
    stream: TextIO | None
    started: float = field(default_factory=time.monotonic)
    only: tuple[str, ...] = ()  # --only: students to re-grade, forced
    exercises: tuple[str, ...] = ()  # --exercise: exercises to re-grade, forced
    # Applied to the run after grading (grading/adjustments.py): overrides, late penalties.
    adjust: Callable[[GradingRun], GradingRun] | None = None


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def start_pool(sandbox: Sandbox, jobs: int | None = None) -> Pool:
    """A pool for ``grade_course`` with one worker already starting: a bet that there is
    work, so it imports torch while the course and the submissions are read. It is
    stopped unused when nothing changed."""
    pool = make_pool(sandbox, jobs or default_jobs())
    pool.start(1)
    return pool


def grade_course(
    course: Course,
    folders: list[Path],
    out: Path,
    sandbox: Sandbox,
    *,
    seed: int = 0,
    jobs: int | None = None,
    force: bool = False,
    stream: TextIO | None = None,
    pool: Pool | None = None,
    cluster: Any = None,
    only: Collection[str] = (),
    exercises: Collection[str] = (),
    adjust: Callable[[GradingRun], GradingRun] | None = None,
) -> RunSummary:
    """Grade what changed and write the reports. The jobs run on this machine's sandbox
    ``pool``, or, given a Dask ``cluster`` client, on the cluster's workers (each with its
    own pool); either way the store and the reports are written here.

    With ``only`` (student ids or folder names) or ``exercises`` (exercise ids), just
    those are graded, whatever changed, and everything else is read from the store as it
    is (see selection.py); an unknown name is a GraderError."""
    settings = RunSettings(
        course,
        folders,
        out,
        sandbox,
        seed,
        jobs or default_jobs(),
        force,
        stream,
        only=tuple(dict.fromkeys(only)),
        exercises=tuple(dict.fromkeys(exercises)),
        adjust=adjust,
    )
    with contextlib.ExitStack() as stack:
        if cluster is not None:
            return _grade_course(settings, None, cluster)
        if pool is None:
            pool = stack.enter_context(start_pool(sandbox, settings.jobs))
        fit_pool(pool, course)
        # Closed to student code by the confined fallback (the folders and the one holding them).
        pool.protect(course.root, out, *folders, *{f.parent for f in folders})
        return _grade_course(settings, pool)


def _grade_course(settings: RunSettings, pool: Pool | None, cluster: Any = None) -> RunSummary:
    course, folders, out, sandbox = (
        settings.course,
        settings.folders,
        settings.out,
        settings.sandbox,
    )
    seed, stream = settings.seed, settings.stream
    out.mkdir(parents=True, exist_ok=True)
    incidents = IncidentLog(out, _printer(stream))
    # Every submission is read into memory before any student code runs, so code
    # graded earlier cannot rewrite a classmate's files.
    ids = student_ids(folders)
    selection = select(course, folders, ids, settings.only, settings.exercises)
    chosen = course.exercises if selection is None else selection.exercises_of(course)
    submissions, submission_fps, unread = [], {}, {}
    for folder, student in zip(folders, ids, strict=True):
        try:
            submission = collect(folder, course, student)
            submission_fps[student] = submission_fingerprint(submission)
            submissions.append(submission)
        except (
            Exception
        ) as exc:  # the last line: one folder the grader cannot read costs only itself
            if selection is None or selection.has_student(student):
                incidents.exception(student, "reading the folder of {}", exc)
                unread[student] = internal_error_results(chosen)
            # else: not graded in this re-grade; shown as stored
    key = run_key(seed, sandbox.kind)
    exercise_fps = {ex.id: exercise_fingerprint(ex, course, key) for ex in course.exercises}
    stale, first = 0, 0
    with Store.open(out) as store:
        if selection is None:
            cached: Cached = (
                {}
                if settings.force
                else store.cached_many(
                    {s.student: (submission_fps[s.student], exercise_fps) for s in submissions}
                )
            )
            work = [
                (s, [ex for ex in course.exercises if ex.id not in cached.get(s.student, {})])
                for s in submissions
            ]
            work = [(s, exercises) for s, exercises in work if exercises]
            regraded: set[str] = set()
        else:
            stored = store.stored_many()
            cached, stale = kept_results(
                selection, course, ids, stored, submission_fps, exercise_fps
            )
            work = [(s, chosen) for s in submissions if selection.has_student(s.student)]
            regraded = {s.student for s, _ in work if stored.get(s.student)}
            first = len(work) - len(regraded)
            _printer(stream)(f"grader: re-grading {_asked(selection, len(ids))}")
        run_id = store.start_run(course.title, grader.__version__, sandbox.kind, seed, ids)
        if not work and pool is not None:
            pool.close()
        notes: list[str] = []
        if cluster is None:
            assert pool is not None
            fresh = _grade(
                settings,
                work,
                pool,
                store,
                exercise_fps,
                submission_fps,
                incidents,
                cached,
                selection,
                regraded,
            )
        else:
            fresh = _grade_on_cluster(
                settings,
                work,
                cluster,
                store,
                exercise_fps,
                submission_fps,
                notes,
                incidents,
                cached,
                selection,
                regraded,
            )
        students = []
        missing = 0
        for student in ids:
            results = {
                **cached.get(student, {}),
                **{r.id: r for r in unread.get(student, [])},
                **fresh.get(student, {}),
            }
            exercises = []
            for ex in course.exercises:
                if ex.id not in results:  # only outside a selection: all else was graded
                    missing += 1
                    results[ex.id] = not_graded_result(ex)
                exercises.append(results[ex.id])
            students.append(StudentResult.of(student, exercises))
        warning = sandbox.warning()
        warnings = [warning] if warning else []
        if missing:
            warnings.append(not_graded_warning(missing))
        run = GradingRun(
            course=course.title,
            grader_version=grader.__version__,
            sandbox=sandbox.kind,
            seed=seed,
            students=students,
            warnings=warnings,
        )
        if settings.adjust is not None:  # after grading, on top of stored results
            run = settings.adjust(run)
        from grader.reports import report_filenames, write_reports

        # A student's page is written again only when it could have changed: the page is
        # older than the student's newest result (graded now, or by a run that was
        # interrupted before its reports), or what every page shows of the run changed.
        context = digest(
            [
                run.course,
                run.grader_version,
                run.sandbox,
                run.seed,
                *run.warnings,
                grader_fingerprint(),
                *_adjusted(run),
            ]
        )
        names = report_filenames(s.id for s in run.students)
        graded = store.last_graded()
        pages = (
            None
            if store.meta("pages") != context
            else {
                s.id
                for s in run.students
                if s.id in fresh or _older(out / names[s.id], graded.get(s.id, float("inf")))
            }
        )
        written = write_reports(run, out, pages)
        store.set_meta("pages", context)
        store.finish_run(
            run_id, graded=len(work), reused=len(submissions) - len(work), warnings=run.warnings
        )
    seconds = time.monotonic() - settings.started
    failed = len(set(incidents.students))
    if selection is None:
        text = summary(
            len(work) + len(unread) - failed, len(submissions) - len(work), seconds, failed
        )
    else:
        broken = set(incidents.students)
        graded = [s.student for s, _ in work if s.student not in broken]
        text = regrade_summary(selection, graded, len(ids), first, seconds, failed, stale)
    if (
        pool is not None and pool.restarts
    ):  # student code killed or stopped its sandbox; worth knowing
        text += f"; {pool.restarts} sandbox worker(s) restarted after a submission stopped theirs"
    text += "".join(f"; {note}" for note in notes)
    if run.unmatched_adjustments:
        text += (
            f"; {len(run.unmatched_adjustments)} adjustment(s) NOT APPLIED "
            "(each said on its own line, and in index.html)"
        )
    return RunSummary(
        run,
        len(work),
        len(submissions) - len(work),
        seconds,
        written,
        text,
        dict(zip(ids, folders, strict=True)),
    )


def _asked(selection: Selection, total: int) -> str:
    """The line a re-grade starts with: what the instructor asked for."""
    asked = selection.describe(list(selection.students), total)
    return f"{asked}, forced; everything else is read from the store as it is"


def _adjusted(run: GradingRun) -> list[str]:
    """What adjustments changed in the run, as text: when it changes, every page is
    written again (an override or a deadline changes pages but no stored result)."""
    if not run.adjusted and not run.unmatched_adjustments:
        return []
    changed = [
        (s.id, e.id, plain(e.adjustments), plain(e.late))
        for s in run.students
        for e in s.exercises
        if e.adjustments or e.late
    ]
    return [run.submitted_from, *run.unmatched_adjustments, json.dumps(changed, sort_keys=True)]


def _printer(stream: TextIO | None) -> Callable[[str], None]:
    """One safe line on ``stream`` (stderr by default), for what is said outside the
    progress display."""

    def say(text: str) -> None:
        target = stream if stream is not None else sys.stderr
        target.write(safe_line(text) + "\n")
        target.flush()

    return say


def _older(page: Path, graded: float) -> bool:
    """The page is missing, or may predate the result it should show (``graded`` has
    one-second resolution: a page from the same second is written again, to be safe)."""
    try:
        return page.stat().st_mtime < graded + 1
    except OSError:
        return True


def _grade(
    settings: RunSettings,
    work: list[tuple[Submission, list[Exercise]]],
    pool: Pool,
    store: Store,
    exercise_fps: dict[str, str],
    submission_fps: dict[str, str],
    incidents: IncidentLog,
    cached: Cached,
    selection: Selection | None = None,
    regraded: Collection[str] = (),
) -> dict[str, dict[str, ExerciseResult]]:
    """Grade ``work`` in the sandbox; each student is saved the moment it is judged."""
    course, sandbox, seed, jobs = settings.course, settings.sandbox, settings.seed, settings.jobs
    stream = settings.stream
    if not work:
        return {}
    stopping = threading.Event()
    # Workers first: they import torch while this process does the same below.
    pool.limit(min(jobs, len(work)))
    pool.start()
    with Progress(len(work), stream=stream) as progress:
        course.resolve_helpers()
        import torch

        from grader.grading.grader import Grader

        # Judging works on small tensors: the cores are the workers'.
        torch.set_num_threads(1)
        keep = _Keeper(
            course, store, exercise_fps, submission_fps, progress, cached, selection, regraded
        )
        incidents.say = progress.note

        def on_result(
            submission: Submission, results: list[ExerciseResult], seconds: float
        ) -> None:
            if not stopping.is_set():  # a job cut short by Ctrl-C says nothing about the student
                keep(submission, results, seconds)

        def on_internal_error(submission: Submission, exc: Exception) -> None:
            if not stopping.is_set():
                incidents.exception(submission.student, "grading {}", exc)

        with Grader(course, seed=seed, sandbox=sandbox, pool=pool) as g:
            try:
                g.grade_many(work, on_result, on_internal_error)
            except KeyboardInterrupt:
                stopping.set()
                pool.close()
                raise Interrupted(len(keep.fresh), len(work)) from None
    return keep.fresh


def _grade_on_cluster(
    settings: RunSettings,
    work: list[tuple[Submission, list[Exercise]]],
    client: Any,
    store: Store,
    exercise_fps: dict[str, str],
    submission_fps: dict[str, str],
    notes: list[str],
    incidents: IncidentLog,
    cached: Cached,
    selection: Selection | None = None,
    regraded: Collection[str] = (),
) -> dict[str, dict[str, ExerciseResult]]:
    """``_grade`` on a Dask cluster: the same store, saved the moment each result is
    back, and the same progress; ``notes`` gets the jobs the cluster had to run again."""
    course, sandbox, seed, stream = (
        settings.course,
        settings.sandbox,
        settings.seed,
        settings.stream,
    )
    from grader.cluster.client import ClusterGrader

    if not work:
        return {}
    cluster = ClusterGrader(client, course, seed, sandbox.kind)
    with Progress(len(work), stream=stream) as progress:
        keep = _Keeper(
            course, store, exercise_fps, submission_fps, progress, cached, selection, regraded
        )
        incidents.say = progress.note
        try:
            cluster.grade_many(work, keep, incidents.record)
        except KeyboardInterrupt:
            raise Interrupted(len(keep.fresh), len(work)) from None
    fresh = keep.fresh
    notes.append(
        f"{cluster.retried} job(s) run again after a Dask worker died"
        if cluster.retried
        else "no job needed a second run"
    )
    if cluster.failed:
        names = ", ".join(cluster.failed[:5]) + (
            f" and {len(cluster.failed) - 5} more" if len(cluster.failed) > 5 else ""
        )
        raise GraderError(
            f"the cluster could not grade {len(cluster.failed)} submission(s) (their Dask workers "
            f"kept dying): {names}; {len(fresh)} were graded and saved: run the same command again"
        )
    return fresh


class _Keeper:
    """What a local run and a cluster run do with each judged student: save them in the
    store at once (a run cut short loses nothing) and say so on the progress line."""

    def __init__(
        self,
        course: Course,
        store: Store,
        exercise_fps: dict[str, str],
        submission_fps: dict[str, str],
        progress: Progress,
        cached: Cached | None = None,
        selection: Selection | None = None,
        regraded: Collection[str] = (),
    ) -> None:
        self.store, self.progress = store, progress
        self.cached = cached or {}
        # Rows of exercises gone from the course go when a whole student is graded; a
        # re-grade of some exercises writes their rows and nothing else.
        self.prune = selection is None or not selection.exercises
        self.regraded = set(regraded)
        self.exercise_fps, self.submission_fps = exercise_fps, submission_fps
        self.positions = {ex.id: i for i, ex in enumerate(course.exercises)}
        self.order = [ex.id for ex in course.exercises]
        self.fresh: dict[str, dict[str, ExerciseResult]] = {}
        self._lock = threading.Lock()  # local results arrive from the grader's threads

    def __call__(
        self, submission: Submission, results: list[ExerciseResult], seconds: float
    ) -> None:
        self.store.save_student(
            submission.student,
            self.submission_fps[submission.student],
            [(self.positions[r.id], self.exercise_fps[r.id], r) for r in results],
            self.order if self.prune else None,
        )
        with self._lock:
            self.fresh[submission.student] = {r.id: r for r in results}
        kept = self.cached.get(submission.student, {})
        again = submission.student in self.regraded
        self.progress.done(student_line(submission.student, results, kept, seconds, again))


REGRADED_NAMED = 3  # exercises named on a progress line; beyond, only how many


def student_line(
    student: str,
    results: list[ExerciseResult],
    kept: dict[str, ExerciseResult],
    seconds: float,
    forced: bool = False,
) -> str:
    """A student's progress line: their total over every exercise, those just graded
    (``results``) and those ``kept`` from the store; on a re-run that graded only some
    exercises again, which ones ("ada: 20/23, re-graded tensor-ops (0.4 s)"); ``forced``
    (``--only``) says a re-grade of every exercise too."""
    every = {**kept, **{r.id: r for r in results}}
    score = rounded(sum(r.score for r in every.values()))
    most = rounded(sum(r.max_score for r in every.values()))
    again = ", re-graded every exercise" if forced and not kept else ""
    if kept and results:
        ids = [r.id for r in results]
        named = ", ".join(ids)
        if len(ids) > REGRADED_NAMED:
            named = f"{len(ids)} of {len(every)} exercises"
        again = f", re-graded {named}"
    return f"{student}: {score:g}/{most:g}{again} ({seconds:.1f} s)"
