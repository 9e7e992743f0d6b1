"""The incremental store (grader/grading/store.py) and the fingerprints
(grader/grading/fingerprint.py).

Fast: real SQLite files in tmp_path, no sandbox, no grading.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import ROOT

import grader
from grader.grading import fingerprint
from grader.grading.fingerprint import (
    exercise_fingerprint,
    grader_fingerprint,
    run_key,
    submission_fingerprint,
)
from grader.grading.store import Store, StoreError
from grader.results import CheckResult, ExerciseResult

EXERCISES = ["tensor-init", "text-to-ids", "tensor-ops"]


def make_result(exercise: str, score: float = 1.5, tag: str = "") -> ExerciseResult:
    checks = [
        CheckResult(
            name="shape",
            score=score,
            max_score=2.0,
            status="failed",
            message=f"wrong shape {tag}",
            entry="f",
            hint="look at dim",
            details={
                "expected": [2, 3],
                "actual": [3, 2],
                "values": [0.1 + 0.2, -1e-300],
                "nested": {"ok": False, "none": None},
            },
            output="printed \u00e9\u2603 \ud800 lone surrogate\n",
            traceback=[{"file": "tensor_init.py", "line": 3, "code": "x = y"}],
            seconds=0.123456789,
        ),
        CheckResult(name="values", score=0.0, max_score=1.0, status="error", message="boom"),
    ]
    return ExerciseResult(
        id=exercise,
        title=exercise.title(),
        score=score,
        max_score=3.0,
        status="failed",
        checks=checks,
        file=f"{exercise}.py",
        message="",
        notes=["a note"],
        output="hi\n",
        traceback=[{"file": "x.py", "line": 1}],
    )


def items(fp: str = "ex", tag: str = "") -> list[tuple[int, str, ExerciseResult]]:
    return [(i, f"{fp}-{ex}", make_result(ex, float(i), tag)) for i, ex in enumerate(EXERCISES)]


def fps(fp: str = "ex") -> dict[str, str]:
    return {ex: f"{fp}-{ex}" for ex in EXERCISES}


def rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT student, exercise, submission_fp FROM results ORDER BY student, exercise"
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "reports") as s:
        yield s


# -- store -----------------------------------------------------------------------------


def test_open_creates_folder_and_file(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a" / "b") as s:
        assert s.path == tmp_path / "a" / "b" / Store.FILENAME
    assert (tmp_path / "a" / "b" / "grades.sqlite").is_file()


def test_round_trip_is_exact_across_reopen(tmp_path: Path) -> None:
    original = make_result("tensor-init", 1.25)
    with Store.open(tmp_path) as s:
        s.save_student("alice", "sub", [(0, "fp", original)])
    with Store.open(tmp_path) as s:
        got = s.cached("alice", "sub", {"tensor-init": "fp"})
    assert asdict(got["tensor-init"]) == asdict(original)
    assert isinstance(got["tensor-init"].checks[0], CheckResult)


def test_nan_score_detail_survives(store: Store) -> None:
    result = make_result("tensor-init")
    result.checks[0].details = {"actual": math.nan, "big": math.inf}
    store.save_student("alice", "sub", [(0, "fp", result)])
    details = store.cached("alice", "sub", {"tensor-init": "fp"})["tensor-init"].checks[0].details
    assert math.isnan(details["actual"]) and details["big"] == math.inf


def test_cached_needs_both_fingerprints(store: Store) -> None:
    store.save_student("alice", "sub1", items("ex"))
    assert set(store.cached("alice", "sub1", fps("ex"))) == set(EXERCISES)
    assert store.cached("alice", "sub2", fps("ex")) == {}  # the submission changed
    changed = {**fps("ex"), "text-to-ids": "other"}  # one exercise changed
    assert set(store.cached("alice", "sub1", changed)) == {"tensor-init", "tensor-ops"}
    partial = {"tensor-ops": "ex-tensor-ops"}  # an exercise not asked for is not returned
    assert set(store.cached("alice", "sub1", partial)) == {"tensor-ops"}
    assert store.cached("bob", "sub1", fps("ex")) == {}


def test_cached_many_matches_cached(store: Store) -> None:
    store.save_student("alice", "sa", items("ex"))
    store.save_student("bob", "sb", items("ex"))
    store.save_student("carol", "sc", items("ex"))
    wanted = {
        "alice": ("sa", fps("ex")),
        "bob": ("sb-new", fps("ex")),
        "carol": ("sc", {**fps("ex"), "tensor-ops": "changed"}),
        "dave": ("sd", fps("ex")),
    }
    many = store.cached_many(wanted)
    assert set(many) == set(wanted)
    for student, (sub_fp, ex_fps) in wanted.items():
        one = store.cached(student, sub_fp, ex_fps)
        assert {k: asdict(v) for k, v in many[student].items()} == {
            k: asdict(v) for k, v in one.items()
        }
    assert set(many["alice"]) == set(EXERCISES)
    assert many["bob"] == {} and many["dave"] == {}
    assert set(many["carol"]) == {"tensor-init", "text-to-ids"}


def test_cached_many_answers_for_a_whole_class(store: Store) -> None:
    # Its speed is measured by bench/speed.py (a re-run with nothing changed), not here.
    students = [f"s{i:03d}" for i in range(800)]
    for s in students:
        store.save_student(s, f"sub-{s}", items("ex"))
    many = store.cached_many(
        {s: (f"sub-{s}", fps("ex")) for s in students}
        | {"s000": ("changed", fps("ex")), "nobody": ("x", fps("ex"))}
    )
    assert all(len(many[s]) == len(EXERCISES) for s in students[1:])
    assert many["s000"] == {} and many["nobody"] == {}


def test_save_twice_replaces(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.save_student("alice", "old", items("ex", "first"))
        s.save_student("alice", "new", items("ex", "second"))
        got = s.cached("alice", "new", fps("ex"))
        assert s.cached("alice", "old", fps("ex")) == {}
    assert got["tensor-init"].checks[0].message == "wrong shape second"
    assert rows(tmp_path / Store.FILENAME) == [("alice", ex, "new") for ex in sorted(EXERCISES)]


def test_failed_save_changes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.save_student("alice", "old", items("ex"))
        bad = make_result("text-to-ids")
        bad.checks[0].details = {"tensor": object()}  # not JSON: fails on the 2nd row
        broken = [(0, "new-fp", make_result("tensor-init", tag="new")), (1, "new-fp", bad)]
        with pytest.raises(TypeError):
            s.save_student("alice", "new", broken)
        # a later successful save commits: the failed one must not ride along with it
        s.save_student("bob", "b", items("ex"))
        assert s.cached("alice", "new", {"tensor-init": "new-fp"}) == {}
        assert set(s.cached("alice", "old", fps("ex"))) == set(EXERCISES)
    assert rows(tmp_path / Store.FILENAME) == sorted(
        [("alice", ex, "old") for ex in EXERCISES] + [("bob", ex, "b") for ex in EXERCISES]
    )


KILL_SCRIPT = """
import sys
from pathlib import Path
from grader.results import CheckResult, ExerciseResult
from grader.grading.store import Store

store = Store(Path(sys.argv[1]))
big = "x" * 20000  # large rows: a kill lands mid-transaction more often
n = 0
while True:
    for round_ in ("a", "b"):  # saving again over a student must be all-or-nothing too
        items = []
        for e in range(40):
            check = CheckResult(name="c", score=1.0, max_score=1.0, status="passed",
                                message=big, details={"e": e})
            items.append((e, f"fp{e}", ExerciseResult(id=f"ex{e}", title="t", score=1.0,
                                                      max_score=1.0, status="passed",
                                                      checks=[check])))
        store.save_student(f"s{n:05d}", f"{round_}{n}", items)
        print(n, round_, flush=True)
    n += 1
"""


def test_kill_9_mid_save_leaves_whole_students(tmp_path: Path) -> None:
    script = tmp_path / "saver.py"
    script.write_text(KILL_SCRIPT)
    db = tmp_path / "out" / Store.FILENAME
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        printed = 0
        for _line in proc.stdout:
            printed += 1
            if printed >= 7:
                break
        assert printed >= 7, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Store(db) as s:
        conn = sqlite3.connect(db)
        try:
            per_student = conn.execute(
                "SELECT student, COUNT(*), COUNT(DISTINCT submission_fp) "
                "FROM results GROUP BY student"
            ).fetchall()
        finally:
            conn.close()
        assert len(per_student) >= 4  # at least the students it reported as committed
        for student, count, distinct_fps in per_student:
            assert count == 40, student
            assert distinct_fps == 1, student  # never half of round a and half of round b
        assert s.student_result(per_student[0][0], [f"ex{e}" for e in range(40)]) is not None


def test_last_run_rebuilds_order_and_warnings(store: Store) -> None:
    assert store.last_run() is None
    store.save_student(
        "zoe",
        "z",
        [
            (2, "f", make_result("tensor-ops", 1.0)),
            (0, "f", make_result("tensor-init", 0.5)),
            (1, "f", make_result("text-to-ids", 0.25)),
        ],
    )
    store.save_student("adam", "a", [(0, "f", make_result("tensor-init", 2.0))])
    run_id = store.start_run("Course", "0.1.0", "process", 7, ["zoe", "nobody", "adam"])
    assert store.last_run() is None  # not finished yet
    store.finish_run(run_id, graded=1, reused=1, warnings=["w1", "w2"])
    unfinished = store.start_run("Other", "9.9", "docker", 8, ["adam"])
    assert unfinished > run_id
    run = store.last_run()
    assert run is not None
    assert (run.course, run.grader_version, run.sandbox, run.seed) == (
        "Course",
        "0.1.0",
        "process",
        7,
    )
    assert run.warnings == ["w1", "w2"]
    assert [s.id for s in run.students] == ["zoe", "adam"]  # run order; no rows -> skipped
    zoe = run.students[0]
    assert [e.id for e in zoe.exercises] == ["tensor-init", "text-to-ids", "tensor-ops"]  # position
    assert zoe.score == 1.75 and zoe.max_score == 9.0
    assert asdict(zoe.exercises[2]) == asdict(make_result("tensor-ops", 1.0))
    store.finish_run(unfinished, graded=0, reused=1, warnings=[])
    later = store.last_run()
    assert (
        later is not None and later.course == "Other" and [s.id for s in later.students] == ["adam"]
    )


def test_finish_run_timestamps(store: Store, tmp_path: Path) -> None:
    run_id = store.start_run("C", "0.1.0", "process", 0, [])
    store.finish_run(run_id, 0, 0, [])
    conn = sqlite3.connect(store.path)
    try:
        started, finished = conn.execute(
            "SELECT started, finished FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
    finally:
        conn.close()
    assert started.endswith("+00:00") and finished.endswith("+00:00")
    assert started <= finished


def test_student_result(store: Store) -> None:
    store.save_student("alice", "s", items("ex"))
    got = store.student_result("alice", ["tensor-ops", "tensor-init"])
    assert got is not None
    assert [e.id for e in got.exercises] == ["tensor-ops", "tensor-init"]
    assert got.score == 2.0 and got.max_score == 6.0
    assert store.student_result("alice", ["tensor-ops", "missing-one"]) is None
    assert store.student_result("bob", ["tensor-ops"]) is None


# -- results the student did not cause ------------------------------------------------


def test_results_that_are_not_final_are_graded_again(store: Store) -> None:
    provisional = items("ex")
    provisional[1][2].final = False  # say, the grader's process in the sandbox was killed
    store.save_student("ann", "sub-ann", provisional)
    wanted = {"ann": ("sub-ann", fps("ex"))}
    assert set(store.cached("ann", "sub-ann", fps("ex"))) == {EXERCISES[0], EXERCISES[2]}
    assert set(store.cached_many(wanted)["ann"]) == {EXERCISES[0], EXERCISES[2]}
    # Shown as they are (the reports may show them), never reused.
    shown = store.student_result("ann", EXERCISES)
    assert shown is not None and [e.final for e in shown.exercises] == [True, False, True]
    # Graded again and final this time: reused from then on.
    store.save_student("ann", "sub-ann", items("ex"))
    assert set(store.cached_many(wanted)["ann"]) == set(EXERCISES)


def _schema_1_store(path: Path, results: list[ExerciseResult]) -> None:
    """A store as torch-grader wrote it before results had ``final``."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE results (student TEXT NOT NULL, exercise TEXT NOT NULL, position INTEGER NOT NULL,
            submission_fp TEXT NOT NULL, exercise_fp TEXT NOT NULL, result TEXT NOT NULL,
            graded_at TEXT NOT NULL, PRIMARY KEY (student, exercise));
        CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT, finished TEXT, course TEXT,
            grader_version TEXT, sandbox TEXT, seed INTEGER, students TEXT, graded INTEGER, reused INTEGER,
            warnings TEXT);
        INSERT INTO meta VALUES ('schema_version', '1');
    """)  # noqa: E501 (the old schema, as that version wrote it)
    for i, result in enumerate(results):
        data = asdict(result)
        del data["final"]
        conn.execute(
            "INSERT INTO results VALUES ('ann', ?, ?, 'sub-ann', ?, ?, "
            "'2024-01-01T00:00:00+00:00')",
            (result.id, i, f"ex-{result.id}", json.dumps(data)),
        )
    conn.execute(
        "INSERT INTO runs (started, finished, course, grader_version, sandbox, seed, students, "
        "warnings) VALUES ('a', 'b', 'Course', '0.1.0', 'bubblewrap', 0, '[\"ann\"]', '[]')"
    )
    conn.commit()
    conn.close()


def test_a_schema_1_store_is_migrated_and_its_worker_deaths_graded_again(tmp_path: Path) -> None:
    results = [make_result(ex) for ex in EXERCISES]
    results[2].checks[1].message = (
        "not scored: code in your submission stopped the grader's process in the "
        "sandbox (for example by killing its parent process), so no result of this "
        "submission can be trusted"
    )
    _schema_1_store(tmp_path / Store.FILENAME, results)
    with Store.open(tmp_path) as s:
        assert set(s.cached("ann", "sub-ann", fps("ex"))) == {EXERCISES[0], EXERCISES[1]}
        run = s.last_run()
        assert run is not None and [e.final for e in run.students[0].exercises] == [
            True,
            True,
            False,
        ]
        assert run.students[0].exercises[0] == results[0]  # the rest comes back as it was
    with Store.open(tmp_path):  # a second open finds nothing left to migrate
        pass
    conn = sqlite3.connect(tmp_path / Store.FILENAME)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            "2",
        )
        assert conn.execute("SELECT exercise, final FROM results ORDER BY position").fetchall() == [
            (EXERCISES[0], 1),
            (EXERCISES[1], 1),
            (EXERCISES[2], 0),
        ]
    finally:
        conn.close()


def test_not_sqlite_raises_store_error_naming_file(tmp_path: Path) -> None:
    path = tmp_path / Store.FILENAME
    path.write_bytes(b"this is a report, not a database\n" * 100)
    with pytest.raises(StoreError) as info:
        Store(path)
    message = str(info.value)
    assert str(path) in message and "not a torch-grader store" in message
    assert "\n" not in message
    assert path.read_bytes().startswith(b"this is a report")  # left untouched


def test_other_programs_database_raises(tmp_path: Path) -> None:
    path = tmp_path / Store.FILENAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="songs"):
        Store(path)


def test_newer_schema_raises(tmp_path: Path) -> None:
    with Store.open(tmp_path):
        pass
    conn = sqlite3.connect(tmp_path / Store.FILENAME)
    with conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            (str(Store.SCHEMA_VERSION + 1),),
        )
    conn.close()
    with pytest.raises(StoreError, match="newer") as info:
        Store.open(tmp_path)
    assert str(tmp_path / Store.FILENAME) in str(info.value)


def test_reopen_keeps_schema_version(tmp_path: Path) -> None:
    for _ in range(2):
        with Store.open(tmp_path):
            pass
    conn = sqlite3.connect(tmp_path / Store.FILENAME)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchall() == [
            ("2",)
        ]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_concurrent_saves_from_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with Store.open(tmp_path) as s:

        def work(t: int) -> None:
            try:
                for i in range(50):
                    student = f"t{t}-{i}"
                    s.save_student(student, f"sub-{student}", items("ex"))
                    assert len(s.cached(student, f"sub-{student}", fps("ex"))) == len(EXERCISES)
            except BaseException as exc:  # surfaced below; a thread cannot fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        wanted = {f"t{t}-{i}": (f"sub-t{t}-{i}", fps("ex")) for t in range(4) for i in range(50)}
        many = s.cached_many(wanted)
    assert all(len(v) == len(EXERCISES) for v in many.values())
    assert len(rows(tmp_path / Store.FILENAME)) == 4 * 50 * len(EXERCISES)


# -- fingerprints ------------------------------------------------------------------------


def test_grader_fingerprint_is_stable_and_sensitive(tmp_path: Path, monkeypatch) -> None:
    first = grader_fingerprint()
    grader_fingerprint.cache_clear()
    assert grader_fingerprint() == first
    assert len(first) == 64 and int(first, 16) >= 0

    package = tmp_path / "grader"
    shutil.copytree(
        Path(grader.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(grader, "__file__", str(package / "__init__.py"))
    try:
        grader_fingerprint.cache_clear()
        copy = grader_fingerprint()
        (package / "__pycache__").mkdir(exist_ok=True)
        (package / "__pycache__" / "junk.py").write_text("x = 1\n")
        (package / "notes.txt").write_text("not code, not a template\n")
        grader_fingerprint.cache_clear()
        assert grader_fingerprint() == copy
        template = next(p for p in (package / "templates").iterdir() if p.is_file())
        template.write_text(template.read_text() + "\n")
        grader_fingerprint.cache_clear()
        after_template = grader_fingerprint()
        assert after_template != copy
        (package / "sandbox" / "new_module.py").write_text("# new\n")
        grader_fingerprint.cache_clear()
        assert grader_fingerprint() != after_template
    finally:
        grader_fingerprint.cache_clear()


def test_run_key_depends_on_seed_and_sandbox() -> None:
    key = run_key(0, "process")
    assert run_key(0, "process") == key
    assert len({key, run_key(1, "process"), run_key(0, "docker")}) == 3


def test_digest_is_unambiguous() -> None:
    assert fingerprint.digest(["ab", "c"]) != fingerprint.digest(["a", "bc"])
    assert fingerprint.digest([None]) != fingerprint.digest([""])
    assert fingerprint.digest(["1"]) != fingerprint.digest([1])
    assert fingerprint.digest([b"x"]) != fingerprint.digest(["x"])


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", root / "exercises")
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copy(ROOT / "course.yaml", root / "course.yaml")
    return root


def test_exercise_fingerprint_tracks_yaml_solution_and_named_helpers(course_copy: Path) -> None:
    from grader.course.loading import load_course

    course = load_course(course_copy)
    ex = course.exercise("prepare-data")
    key = run_key(0, "process")

    def fp() -> str:
        return exercise_fingerprint(ex, course, key)

    base = fp()
    assert fp() == base
    assert exercise_fingerprint(ex, course, run_key(1, "process")) != base
    assert [p.name for p in fingerprint.helper_files(ex)] == ["prepare_data.py"]

    def append(path: Path, text: str) -> None:
        path.write_text(path.read_text() + text)

    # an unrelated helper, another exercise's YAML and solution: no change
    append(course_copy / "exercises" / "hidden" / "training_loop.py", "\n# edited\n")
    append(course_copy / "exercises" / "training_loop.yaml", "\n# edited\n")
    append(course_copy / "solutions" / "training_loop.py", "\n# edited\n")
    assert fp() == base

    seen = {base}
    for path in (
        course_copy / "exercises" / "hidden" / "prepare_data.py",  # named helper
        course_copy / "exercises" / "prepare_data.yaml",  # the YAML (a comment)
        course_copy / "solutions" / "prepare_data.py",
    ):  # the solution
        append(path, "\n# edited\n")
        now = fp()
        assert now not in seen, path
        seen.add(now)
    # a notebook solution beside the .py counts too
    (course_copy / "solutions" / "prepare_data.ipynb").write_text("{}")
    assert fp() not in seen


def test_exercise_fingerprint_ignores_helpers_outside_the_exercises_folder(
    course_copy: Path,
) -> None:
    from grader.course.loading import load_course

    course = load_course(course_copy)
    ex = course.exercise("tensor-ops")
    (course_copy / "outside.py").write_text("x = 1\n")
    ex.path.write_text(ex.path.read_text() + "\n# see ../outside.py and hidden/nothing_here.py\n")
    assert fingerprint.helper_files(ex) == []


def test_submission_fingerprint(tmp_path: Path) -> None:
    from grader.course.loading import load_course
    from grader.submissions.folders import Submission, SubmittedFile
    from grader.submissions.notebooks import Cell, Notebook

    course = load_course(ROOT)
    a, b, c = (course.exercise(e) for e in ("tensor-init", "tensor-ops", "derivative"))

    def submission(
        folder: str,
        source: str = "def f():\n    return 1\n",
        cells: list[Cell] | None = None,
        notes: list[str] | None = None,
    ) -> Submission:
        base = tmp_path / folder
        cells = cells if cells is not None else [Cell(1, 1, "x = 1")]
        files = {
            a.id: SubmittedFile(
                a, base / f"{a.file}.py", "py", notes=list(notes or []), source=source
            ),
            b.id: SubmittedFile(
                b, base / f"{b.file}.ipynb", "ipynb", notebook=Notebook(cells), source="x = 1\n"
            ),
            c.id: SubmittedFile(
                c, None, problem=f"not submitted: no {c.file}.py or {c.file}.ipynb"
            ),
        }
        return Submission(student=folder, folder=base, files=files)

    base = submission_fingerprint(submission("alice"))
    assert submission_fingerprint(submission("alice")) == base
    assert submission_fingerprint(submission("renamed-folder")) == base
    assert submission_fingerprint(submission("alice", source="def f():\n    return 2\n")) != base
    assert submission_fingerprint(submission("alice", cells=[Cell(1, 1, "x = 2")])) != base
    assert (
        submission_fingerprint(submission("alice", cells=[Cell(2, 1, "x = 1")])) != base
    )  # messages name cells
    # the grader's cell tags name cells in messages: they count; key order inside them does not
    tagged = submission_fingerprint(
        submission("alice", cells=[Cell(1, 1, "x = 1", {"entry": "f", "role": "s"})])
    )
    assert tagged != base
    assert (
        submission_fingerprint(
            submission("alice", cells=[Cell(1, 1, "x = 1", {"role": "s", "entry": "f"})])
        )
        == tagged
    )
    assert submission_fingerprint(submission("alice", notes=["both files; .py graded"])) != base
    # same files, different order in the dict: same fingerprint
    sub = submission("alice")
    sub.files = dict(reversed(list(sub.files.items())))
    assert submission_fingerprint(sub) == base
    # the missing file is now handed in
    sub = submission("alice")
    sub.files[c.id] = SubmittedFile(c, tmp_path / "alice" / f"{c.file}.py", "py", source="")
    assert submission_fingerprint(sub) != base


# -- found by mutation testing ---------------------------------------------------------
def test_meta_values_are_stored_and_replaced(store: Store) -> None:
    assert store.meta("run_key") is None
    store.set_meta("run_key", "abc")
    store.set_meta("other", "1")
    assert store.meta("run_key") == "abc"
    store.set_meta("run_key", "def")
    assert (store.meta("run_key"), store.meta("other")) == ("def", "1")


def test_last_graded_says_when_each_student_was_saved(store: Store) -> None:
    import time

    assert store.last_graded() == {}
    before = time.time()
    store.save_student("zoe", "sub", items())
    store.save_student("ada", "sub", items()[:1])
    graded = store.last_graded()
    assert set(graded) == {"zoe", "ada"}
    # Saved to the second: within the second before and the one after the saves.
    assert all(int(before) - 1 <= when <= time.time() + 1 for when in graded.values())


def test_exercises_no_longer_in_the_course_go(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.save_student("zoe", "sub", items())
        store.save_student("ada", "sub", items())
        store.save_student("zoe", "sub", items()[:1], course_exercises=EXERCISES[:2])
    assert rows(tmp_path / Store.FILENAME) == [
        ("ada", "tensor-init", "sub"),
        ("ada", "tensor-ops", "sub"),
        ("ada", "text-to-ids", "sub"),
        ("zoe", "tensor-init", "sub"),
        ("zoe", "text-to-ids", "sub"),
    ]


def _store_with_meta(path: Path, version: str | None) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        if version is not None:
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    conn.close()


@pytest.mark.parametrize("version", [None, "two"])
def test_a_store_without_a_readable_version_is_refused(tmp_path: Path, version: str | None):
    path = tmp_path / Store.FILENAME
    _store_with_meta(path, version)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path} is not a torch-grader store (no schema version); move it away or delete it"
    )


def test_the_refusals_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / Store.FILENAME
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.execute("CREATE TABLE albums (title TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path} is an SQLite database of another program (tables: albums, songs), not a "
        "torch-grader store; move it away or delete it"
    )
    newer = tmp_path / "newer" / Store.FILENAME
    newer.parent.mkdir()
    _store_with_meta(newer, "3")
    with pytest.raises(StoreError) as info:
        Store(newer)
    assert str(info.value) == (
        f"{newer} was written by a newer torch-grader (store schema 3, this version reads 2); "
        "upgrade torch-grader or move the file away"
    )
