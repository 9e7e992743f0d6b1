"""The incremental store: ``<out>/grades.sqlite`` beside the reports.

It keeps every student's exercise results with the fingerprints they were graded under
(see ``grader.grading.fingerprint``), so a re-run grades only what changed, and a log of runs, so
the last run can be rebuilt without grading (the gradebook exports read it).

SQLite because it survives crashes: each student is saved in one transaction, so a run
that is killed leaves whole students or nothing. stdlib only; must not import torch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from grader.results import ExerciseResult, GradingRun, StudentResult, plain

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL,
    exercise TEXT NOT NULL,
    position INTEGER NOT NULL,      -- the exercise's index in the course
    submission_fp TEXT NOT NULL,
    exercise_fp TEXT NOT NULL,
    result TEXT NOT NULL,           -- JSON of dataclasses.asdict(ExerciseResult)
    graded_at TEXT NOT NULL,
    final INTEGER NOT NULL DEFAULT 1,  -- 0: the student did not cause it; never reused
    PRIMARY KEY (student, exercise)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT,
    finished TEXT,
    course TEXT,
    grader_version TEXT,
    sandbox TEXT,
    seed INTEGER,
    students TEXT,                  -- JSON list of student ids, in report order
    graded INTEGER,
    reused INTEGER,
    warnings TEXT                   -- JSON list
);
"""


# The queries, by name. SQL keeps its meaning whatever the case of its keywords and
# names, so the text is data here: module constants, which mutation testing leaves alone.
_BUSY_SQL = "PRAGMA busy_timeout = 10000"
_WAL_SQL = "PRAGMA journal_mode = WAL"
_SYNCHRONOUS_SQL = "PRAGMA synchronous = NORMAL"
_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
_VERSION_SQL = "SELECT value FROM meta WHERE key = 'schema_version'"
_BEGIN_WRITE_SQL = "BEGIN IMMEDIATE"
_ADD_FINAL_SQL = "ALTER TABLE results ADD COLUMN final INTEGER NOT NULL DEFAULT 1"
_MARK_PROVISIONAL_SQL = "UPDATE results SET final = 0 WHERE result LIKE ?"
_VERSION_2_SQL = "UPDATE meta SET value = '2' WHERE key = 'schema_version'"
_COMMIT_SQL = "COMMIT"
_ROLLBACK_SQL = "ROLLBACK"
_META_SQL = "SELECT value FROM meta WHERE key = ?"
_SET_META_SQL = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_CACHED_SQL = (
    "SELECT exercise, submission_fp, exercise_fp, result FROM results "
    "WHERE student = ? AND final = 1"
)
_CACHED_ALL_SQL = (
    "SELECT student, exercise, submission_fp, exercise_fp, result FROM results WHERE final = 1"
)
_UPSERT_SQL = (
    "INSERT INTO results (student, exercise, position, submission_fp, exercise_fp, "
    "result, graded_at, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (student, exercise) DO UPDATE SET position = excluded.position, "
    "submission_fp = excluded.submission_fp, exercise_fp = excluded.exercise_fp, "
    "result = excluded.result, graded_at = excluded.graded_at, final = excluded.final"
)
_STORED_ALL_SQL = "SELECT student, exercise, submission_fp, exercise_fp, result, final FROM results"
_STUDENT_ROWS_SQL = "SELECT exercise, result, final FROM results WHERE student = ?"
_START_RUN_SQL = (
    "INSERT INTO runs (started, course, grader_version, sandbox, seed, students, warnings) "
    "VALUES (?, ?, ?, ?, ?, ?, '[]')"
)
_FINISH_RUN_SQL = "UPDATE runs SET finished = ?, graded = ?, reused = ?, warnings = ? WHERE id = ?"
_LAST_RUN_SQL = (
    "SELECT course, grader_version, sandbox, seed, students, warnings FROM runs "
    "WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1"
)
_ALL_ROWS_SQL = "SELECT student, result, final FROM results ORDER BY student, position, exercise"
_LAST_GRADED_SQL = "SELECT student, MAX(graded_at) FROM results GROUP BY student"


@dataclass(frozen=True)
class Stored:
    """One stored result with the fingerprints it was graded under."""

    result: ExerciseResult
    submission_fp: str
    exercise_fp: str

    def current(self, submission_fp: str | None, exercise_fp: str | None) -> bool:
        """Would a normal run reuse it (same fingerprints, and final)?"""
        return (
            self.result.final
            and self.submission_fp == submission_fp
            and self.exercise_fp == exercise_fp
        )


class StoreError(Exception):
    """The store file cannot be used (not SQLite, another program's database, or written
    by a newer torch-grader). The message is one line naming the file."""


def now() -> str:
    """ISO 8601 UTC to the second: sorts as text and reads well in a gradebook."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dump(result: ExerciseResult) -> str:
    # ensure_ascii (the default): student output may hold lone surrogates, which SQLite
    # cannot store as UTF-8 text; escaped, they round-trip. NaN is kept (allow_nan) so a
    # result comes back exactly as it was graded; strict JSON is the reports' business.
    return json.dumps(plain(result), allow_nan=True)


def _load(text: str, final: int = 1) -> ExerciseResult:
    result = ExerciseResult.from_dict(json.loads(text))
    result.final = result.final and bool(final)  # rows of schema 1 have no "final" in their JSON
    return result


# Results that schema 1 stored as if final, though the student did not cause them: the
# grader's process in the sandbox was killed or stopped (their messages say so).
_PROVISIONAL_V1 = "%stopped the grader's process in the sandbox%"


class Store:
    """One SQLite file, safe to share between the grader's worker threads."""

    FILENAME = "grades.sqlite"
    SCHEMA_VERSION = 2  # 2: results.final

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by threads: sqlite3 objects are not thread-safe on their
        # own, so every use goes through self._lock.
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path} cannot be opened as a torch-grader store ({exc})"
            ) from None
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(
                f"{self.path} is not a torch-grader store ({exc}); move it away or delete it"
            ) from None
        except StoreError:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        conn.execute(_BUSY_SQL)
        conn.execute(_WAL_SQL)
        conn.execute(_SYNCHRONOUS_SQL)
        tables = {row[0] for row in conn.execute(_TABLES_SQL)}
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite database of another program "
                f"(tables: {', '.join(sorted(tables))}), not a torch-grader store; "
                "move it away or delete it"
            )
        if "meta" in tables:
            row = conn.execute(_VERSION_SQL).fetchone()
            try:
                version = int(row[0]) if row else None
            except (TypeError, ValueError):
                version = None
            if version is None:
                raise StoreError(
                    f"{self.path} is not a torch-grader store (no schema version); "
                    "move it away or delete it"
                )
            if version > self.SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer torch-grader (store schema "
                    f"{version}, this version reads {self.SCHEMA_VERSION}); upgrade "
                    "torch-grader or move the file away"
                )
            if version < self.SCHEMA_VERSION:
                self._migrate()
        # One script, one transaction: a store is never left with tables but no version.
        conn.executescript(
            f"BEGIN;{_SCHEMA}INSERT OR IGNORE INTO meta (key, value) "
            f"VALUES ('schema_version', '{self.SCHEMA_VERSION}');COMMIT;"
        )

    def _migrate(self) -> None:
        """Schema 1 to 2, in one transaction (another grader may be migrating the same
        file: the version is read again once the write lock is held)."""
        conn = self._conn
        conn.execute(_BEGIN_WRITE_SQL)
        try:
            version = int(conn.execute(_VERSION_SQL).fetchone()[0])
            if version == 1:
                conn.execute(_ADD_FINAL_SQL)
                conn.execute(_MARK_PROVISIONAL_SQL, (_PROVISIONAL_V1,))
                conn.execute(_VERSION_2_SQL)
            conn.execute(_COMMIT_SQL)
        except BaseException:
            conn.execute(_ROLLBACK_SQL)
            raise

    @classmethod
    def open(cls, out_dir: Path) -> Store:
        """The store beside the reports in ``out_dir``."""
        return cls(Path(out_dir) / cls.FILENAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    # -- results ---------------------------------------------------------------------

    def last_graded(self) -> dict[str, float]:
        """student -> when their newest result was saved (seconds since the epoch)."""
        with self._locked() as conn:
            rows = conn.execute(_LAST_GRADED_SQL).fetchall()
        return {student: datetime.fromisoformat(when).timestamp() for student, when in rows}

    def meta(self, key: str) -> str | None:
        with self._locked() as conn:
            row = conn.execute(_META_SQL, (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._locked() as conn, conn:
            conn.execute(
                _SET_META_SQL,
                (key, value),
            )

    def cached(
        self, student: str, submission_fp: str, exercise_fps: dict[str, str]
    ) -> dict[str, ExerciseResult]:
        """The stored results of ``student`` still valid for these fingerprints
        (exercise id -> result); anything graded under other fingerprints is stale, and
        a result that is not final is never reused."""
        with self._locked() as conn:
            rows = conn.execute(
                _CACHED_SQL,
                (student,),
            ).fetchall()
        return {
            exercise: _load(result)
            for exercise, sub_fp, ex_fp, result in rows
            if sub_fp == submission_fp and exercise_fps.get(exercise) == ex_fp
        }

    def cached_many(
        self, wanted: dict[str, tuple[str, dict[str, str]]]
    ) -> dict[str, dict[str, ExerciseResult]]:
        """``cached`` for many students (student -> (submission_fp, exercise_fps)) in one
        query: a re-run of hundreds of unchanged students must not wait on the store.
        Every wanted student has an entry, empty if nothing is reusable."""
        with self._locked() as conn:
            rows = conn.execute(_CACHED_ALL_SQL).fetchall()
        found: dict[str, dict[str, ExerciseResult]] = {student: {} for student in wanted}
        for student, exercise, sub_fp, ex_fp, result in rows:
            want = wanted.get(student)
            if want is None or sub_fp != want[0] or want[1].get(exercise) != ex_fp:
                continue
            found[student][exercise] = _load(result)
        return found

    def stored_many(self) -> dict[str, dict[str, Stored]]:
        """Every stored result, whatever it was graded under (student -> exercise id ->
        ``Stored``): what a re-grade of some students or exercises shows of the others,
        exactly as they were."""
        with self._locked() as conn:
            rows = conn.execute(_STORED_ALL_SQL).fetchall()
        found: dict[str, dict[str, Stored]] = {}
        for student, exercise, sub_fp, ex_fp, result, final in rows:
            found.setdefault(student, {})[exercise] = Stored(_load(result, final), sub_fp, ex_fp)
        return found

    def save_student(
        self,
        student: str,
        submission_fp: str,
        items: list[tuple[int, str, ExerciseResult]],
        course_exercises: list[str] | None = None,
    ) -> None:
        """Store a student's results, items being (position in the course, exercise_fp,
        result). One transaction: a run killed mid-save leaves the previous rows, never
        half a student. A stored (student, exercise) is replaced, never duplicated.
        With ``course_exercises``, rows of exercises no longer in the course go."""
        graded_at = now()
        with self._locked() as conn, conn:
            if course_exercises is not None:
                marks = ",".join("?" * len(course_exercises))
                conn.execute(
                    f"DELETE FROM results WHERE student = ? AND exercise NOT IN ({marks})",
                    (student, *course_exercises),
                )
            for position, exercise_fp, result in items:
                conn.execute(
                    _UPSERT_SQL,
                    (
                        student,
                        result.id,
                        position,
                        submission_fp,
                        exercise_fp,
                        _dump(result),
                        graded_at,
                        int(result.final),
                    ),
                )

    def student_result(self, student: str, exercises: list[str]) -> StudentResult | None:
        """``student`` rebuilt from the stored rows of exactly these exercises, in this
        order; None if any of them is not stored."""
        with self._locked() as conn:
            rows = conn.execute(_STUDENT_ROWS_SQL, (student,)).fetchall()
        stored = {exercise: (result, final) for exercise, result, final in rows}
        if any(ex not in stored for ex in exercises):
            return None
        return StudentResult.of(student, [_load(*stored[ex]) for ex in exercises])

    # -- runs ------------------------------------------------------------------------

    def start_run(
        self, course: str, grader_version: str, sandbox: str, seed: int, students: list[str]
    ) -> int:
        """Log a run as started; it counts for ``last_run`` only once finished."""
        with self._locked() as conn, conn:
            cur = conn.execute(
                _START_RUN_SQL,
                (now(), course, grader_version, sandbox, seed, json.dumps(list(students))),
            )
            run_id = cur.lastrowid
        assert run_id is not None
        return run_id

    def finish_run(self, run_id: int, graded: int, reused: int, warnings: list[str]) -> None:
        with self._locked() as conn, conn:
            conn.execute(
                _FINISH_RUN_SQL,
                (now(), graded, reused, json.dumps(list(warnings)), run_id),
            )

    def last_run(self) -> GradingRun | None:
        """The latest finished run rebuilt from the store (students in the run's order,
        each with its stored exercises in course order); None if no run finished."""
        with self._locked() as conn:
            run = conn.execute(_LAST_RUN_SQL).fetchone()
            if run is None:
                return None
            rows = conn.execute(_ALL_ROWS_SQL).fetchall()
        course, grader_version, sandbox, seed, students_json, warnings_json = run
        order: list[str] = json.loads(students_json or "[]")
        wanted = set(order)
        texts: dict[str, list[tuple[str, int]]] = {}
        for student, result, final in rows:
            if student in wanted:
                texts.setdefault(student, []).append((result, final))
        students = [StudentResult.of(s, [_load(*t) for t in texts[s]]) for s in order if s in texts]
        return GradingRun(
            course=course,
            grader_version=grader_version,
            sandbox=sandbox,
            seed=seed,
            students=students,
            warnings=json.loads(warnings_json or "[]"),
        )
