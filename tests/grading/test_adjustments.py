"""Adjustments after automatic grading (grading/adjustments.py): deadlines and late
penalties at their edges, grace days, extensions, overrides of a check and of an
exercise, clamping, stale overrides, and every output carrying final and raw scores.

Fast units on a two-exercise course written to a temporary folder, and on results made
by hand; the run through the real CLI and sandbox is in tests/test_adjustments_cli.py."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from grader.course.deadlines import parse_time, read_extensions
from grader.course.loading import load_course
from grader.course.model import Course
from grader.course.overrides import load_overrides
from grader.course.schema import ExerciseError
from grader.errors import GraderError
from grader.grading.adjustments import Adjustments, apply, days_late, prepare
from grader.grading.fingerprint import exercise_fingerprint
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult
from grader.submissions.times import HandIn, read_times

EXERCISE = """\
id: ex-{x}
title: Exercise {x}
file: ex_{x}
prompt: Write f.
entry_points:
  - name: f
    doc: f.
checks:
  - name: one
    entry: f
    points: 6
    call: []
    judge: match
  - name: two
    entry: f
    points: 4
    call: []
    judge: match
{extra}"""

COURSE = """\
title: T
due: 2026-03-01T23:59:00+01:00
late:
  per_day: 10%
  cap: 30%
  grace_days: {grace}
"""

DUE = datetime(2026, 3, 1, 22, 59, tzinfo=timezone.utc)  # the course's due, in UTC


def make_course(
    root: Path, grace: int = 0, course: str | None = None, extra: dict[str, str] | None = None
) -> Course:
    (root / "exercises").mkdir(parents=True, exist_ok=True)
    for x in "ab":
        text = EXERCISE.format(x=x, extra=(extra or {}).get(x, ""))
        (root / "exercises" / f"ex_{x}.yaml").write_text(text)
    (root / "course.yaml").write_text(course if course is not None else COURSE.format(grace=grace))
    return load_course(root, resolve_helpers=False)


def result(ex_id: str, one: float = 6, two: float = 4) -> ExerciseResult:
    checks = [
        CheckResult("one", one, 6, "passed" if one == 6 else "failed", ""),
        CheckResult("two", two, 4, "passed" if two == 4 else "failed", ""),
    ]
    return ExerciseResult(ex_id, ex_id, one + two, 10, "passed", checks, file=f"{ex_id}.py")


def run_of(*students: str) -> GradingRun:
    return GradingRun(
        "T",
        "0",
        "bubblewrap",
        0,
        [StudentResult.of(s, [result("ex-a"), result("ex-b")]) for s in students],
    )


def adjust(course: Course, times: dict[str, datetime], **kw: object) -> GradingRun:
    adj = Adjustments(course=course, hand_in=HandIn("a test's times", times), **kw)  # type: ignore[arg-type]
    return apply(run_of(*times), adj)


def ex(run: GradingRun, student: str, ex_id: str) -> ExerciseResult:
    s = next(s for s in run.students if s.id == student)
    return next(e for e in s.exercises if e.id == ex_id)


# ------------------------------------------------------------------ the minute of the deadline
def test_handed_in_at_the_due_is_on_time_and_one_second_after_is_a_day_late(tmp_path: Path):
    course = make_course(tmp_path)
    run = adjust(course, {"on": DUE, "late": DUE + timedelta(seconds=1)})
    on, late = ex(run, "on", "ex-a"), ex(run, "late", "ex-a")
    assert on.score == 10 and on.raw_score is None and on.adjustments == []
    assert on.late is not None and on.late.days_late == 0 and on.late.seconds_late == 0
    assert late.late is not None and late.late.days_late == 1 and late.late.seconds_late == 1
    assert (late.score, late.raw_score) == (9, 10)  # 10% of 10 points
    [penalty] = late.adjustments
    assert penalty.kind == "late" and penalty.points == -1
    assert "1 day late" in penalty.reason and "10% of the exercise's points" in penalty.reason


def test_part_of_a_day_counts_as_a_day():
    assert days_late(0) == 0 and days_late(-5) == 0
    assert days_late(1) == 1 and days_late(86400) == 1
    assert days_late(86401) == 2 and days_late(2 * 86400 + 0.5) == 3


# ------------------------------------------------------------------ time zones
def test_the_same_instant_in_two_zones_is_the_same_lateness(tmp_path: Path):
    course = make_course(tmp_path)  # due 23:59 at +01:00
    new_york = ZoneInfo("America/New_York")
    times = {
        "utc": datetime(2026, 3, 1, 22, 59, tzinfo=timezone.utc),
        "ny": datetime(2026, 3, 1, 17, 59, tzinfo=new_york),  # the same instant
        "ny-late": datetime(2026, 3, 1, 17, 59, 1, tzinfo=new_york),
    }
    run = adjust(course, times)
    assert ex(run, "utc", "ex-a").score == ex(run, "ny", "ex-a").score == 10
    assert ex(run, "ny-late", "ex-a").score == 9


def test_lateness_counts_real_hours_across_a_change_to_summer_time(tmp_path: Path):
    # Berlin moves its clocks from +01:00 to +02:00 on 2026-03-29: one wall-clock day
    # after a due on the 28th at noon is only 23 hours later.
    berlin = ZoneInfo("Europe/Berlin")
    course = make_course(tmp_path, course="due: 2026-03-28T12:00:00+01:00\nlate: {per_day: 1}\n")
    times = {
        "wall-day": datetime(2026, 3, 29, 12, 0, tzinfo=berlin),  # 23 h late
        "day": datetime(2026, 3, 29, 13, 0, tzinfo=berlin),  # exactly 24 h
        "day-and-a-second": datetime(2026, 3, 29, 13, 0, 1, tzinfo=berlin),
    }
    run = adjust(course, times)
    late = {s: ex(run, s, "ex-a").late for s in times}
    assert late["wall-day"].seconds_late == 23 * 3600 and late["wall-day"].days_late == 1
    assert late["day"].days_late == 1
    assert late["day-and-a-second"].days_late == 2
    assert ex(run, "day-and-a-second", "ex-a").score == 8  # 1 point a day, points not percent


def test_a_due_without_a_time_zone_is_an_error_at_its_line(tmp_path: Path):
    with pytest.raises(ExerciseError) as caught:
        make_course(tmp_path, course="title: T\ndue: 2026-03-01T23:59:00\n")
    assert (caught.value.path, caught.value.line) == ("course.yaml", 2)
    assert "names no time zone" in caught.value.message
    with pytest.raises(ExerciseError) as caught:
        make_course(tmp_path, course="title: T\ndue: '2026-03-01 23:59'\n")
    assert caught.value.line == 2 and "no time zone" in caught.value.message
    with pytest.raises(ExerciseError) as caught:
        make_course(tmp_path, course="title: T\n\ndue: 2026-03-01\n")
    assert caught.value.line == 3 and "a day without a time" in caught.value.message
    with pytest.raises(ExerciseError) as caught:
        make_course(tmp_path, course="late: {per_day: ten}\n")
    assert caught.value.line == 1 and "per_day" in caught.value.message


def test_grace_days_belong_to_the_course_not_an_exercise(tmp_path: Path):
    with pytest.raises(ExerciseError) as caught:
        make_course(tmp_path, extra={"a": "late: {grace_days: 2}\n"})
    assert caught.value.path.endswith("ex_a.yaml") and caught.value.line == 19


def test_parse_time_takes_only_aware_instants():
    assert parse_time("2026-03-01T22:59:00Z") == DUE
    assert parse_time("2026-03-01T23:59:00+01:00") == DUE
    assert parse_time("2026-03-01T23:59:00") is None
    assert parse_time("yesterday") is None


# ------------------------------------------------------------------ the policy
def test_the_cap_limits_the_penalty(tmp_path: Path):
    course = make_course(tmp_path)  # 10% a day, at most 30%
    run = adjust(course, {"two": DUE + timedelta(days=2), "five": DUE + timedelta(days=5)})
    assert ex(run, "two", "ex-a").score == 8
    five = ex(run, "five", "ex-a")
    assert five.score == 7 and "capped at 30%" in five.adjustments[0].reason


def test_the_penalty_never_takes_the_score_below_zero(tmp_path: Path):
    course = make_course(tmp_path, course="due: 2026-03-01T22:59:00Z\nlate: {per_day: 4 points}\n")
    adj = Adjustments(course=course, hand_in=HandIn("t", {"low": DUE + timedelta(days=1)}))
    run = GradingRun(
        "T", "0", "b", 0, [StudentResult.of("low", [result("ex-a", 0, 2), result("ex-b")])]
    )
    low = ex(apply(run, adj), "low", "ex-a")
    assert low.score == 0 and low.raw_score == 2
    assert low.adjustments[0].points == -2 and "stops at 0" in low.adjustments[0].clamped


def test_an_exercise_sets_its_own_due_and_penalty_over_the_courses(tmp_path: Path):
    course = make_course(
        tmp_path, extra={"b": "due: 2026-03-08T22:59:00Z\nlate:\n  per_day: 2 points\n"}
    )
    run = adjust(course, {"ada": DUE + timedelta(days=7, seconds=1)})
    assert ex(run, "ada", "ex-a").score == 7  # the course's: 8 days late, capped at 30%
    b = ex(run, "ada", "ex-b")
    assert b.late.days_late == 1 and b.score == 8  # its own due, 2 points a day
    assert "at most 30%" in b.late.rule  # the cap it did not set is the course's


def test_nothing_handed_in_has_no_lateness_and_uses_no_grace_day(tmp_path: Path):
    course = make_course(tmp_path, grace=1)
    missing = ExerciseResult("ex-a", "A", 0, 10, "missing", [], file=None)
    run = GradingRun("T", "0", "b", 0, [StudentResult.of("ada", [missing, result("ex-b")])])
    adj = Adjustments(course=course, hand_in=HandIn("t", {"ada": DUE + timedelta(hours=1)}))
    done = apply(run, adj)
    assert ex(done, "ada", "ex-a").late is None
    b = ex(done, "ada", "ex-b")
    assert b.late.grace_days == 1 and b.score == 10


# ------------------------------------------------------------------ grace days
def test_grace_days_are_used_up_in_course_order(tmp_path: Path):
    course = make_course(tmp_path, grace=1)
    run = adjust(course, {"ada": DUE + timedelta(hours=3)})  # one day late on both
    a, b = ex(run, "ada", "ex-a"), ex(run, "ada", "ex-b")
    assert a.late.grace_days == 1 and a.score == 10 and a.adjustments == []
    assert b.late.grace_days == 0 and b.score == 9  # none left
    assert "grace" not in b.adjustments[0].reason


def test_a_late_exercise_takes_the_grace_days_it_needs_and_pays_for_the_rest(tmp_path: Path):
    course = make_course(tmp_path, grace=2)
    run = adjust(course, {"ada": DUE + timedelta(days=2, hours=1)})  # 3 days late
    a, b = ex(run, "ada", "ex-a"), ex(run, "ada", "ex-b")
    assert (a.late.days_late, a.late.grace_days, a.score) == (3, 2, 9)
    assert "2 of them covered by grace days" in a.adjustments[0].reason
    assert (b.late.grace_days, b.score) == (0, 7)


def test_on_time_work_uses_no_grace_day(tmp_path: Path):
    course = make_course(tmp_path, grace=1, extra={"a": "due: 2026-03-10T00:00:00Z\n"})
    run = adjust(course, {"ada": DUE + timedelta(hours=1)})
    assert ex(run, "ada", "ex-a").late.grace_days == 0
    assert ex(run, "ada", "ex-b").late.grace_days == 1 and ex(run, "ada", "ex-b").score == 10


# ------------------------------------------------------------------ extensions
def write_extensions(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_extension_for_one_exercise_moves_only_that_due(tmp_path: Path):
    course = make_course(tmp_path)
    exts = read_extensions(
        write_extensions(
            tmp_path / "ext.csv", "student,exercise,due\nada,ex-a,2026-03-05T00:00:00Z\n"
        )
    )
    run = adjust(
        course, {"ada": DUE + timedelta(days=1), "ben": DUE + timedelta(days=1)}, extensions=exts
    )
    a = ex(run, "ada", "ex-a")
    assert a.score == 10 and a.late.extension and a.late.due == "2026-03-05T00:00:00+00:00"
    assert ex(run, "ada", "ex-b").score == 9  # the other exercise keeps the course's due
    assert ex(run, "ben", "ex-a").score == 9  # and so does every other student


def test_an_extension_for_every_exercise_and_one_for_a_single_exercise(tmp_path: Path):
    course = make_course(tmp_path)
    exts = read_extensions(
        write_extensions(
            tmp_path / "ext.csv",
            "student,exercise,due\nada,,2026-03-03T22:59:00Z\nada,ex-b,2026-03-02T22:59:00Z\n",
        )
    )
    run = adjust(course, {"ada": DUE + timedelta(days=2, seconds=-30)}, extensions=exts)
    assert ex(run, "ada", "ex-a").score == 10  # the extension for all
    assert ex(run, "ada", "ex-b").late.days_late == 1  # its own, earlier one wins


def test_extension_mistakes_are_reported_at_their_line(tmp_path: Path):
    bad = write_extensions(tmp_path / "e.csv", "student,exercise,due\nada,,2026-03-03\n")
    with pytest.raises(ExerciseError) as caught:
        read_extensions(bad)
    assert caught.value.line == 2 and "time zone" in caught.value.message
    twice = "student,exercise,due\nada,ex-a,2026-03-03T00:00Z\n\nada,ex-a,2026-03-04T00:00Z\n"
    with pytest.raises(ExerciseError) as caught:
        read_extensions(write_extensions(tmp_path / "e.csv", twice))
    assert caught.value.line == 4 and "line 2" in caught.value.message
    with pytest.raises(ExerciseError):
        read_extensions(write_extensions(tmp_path / "e.csv", "name,due\n"))


def test_an_extension_for_no_such_student_or_exercise_is_reported(tmp_path: Path):
    course = make_course(tmp_path)
    exts = read_extensions(
        write_extensions(
            tmp_path / "e.csv",
            "student,exercise,due\nzed,,2026-03-03T00:00Z\nada,ex-z,2026-03-03T00:00Z\n",
        )
    )
    run = adjust(course, {"ada": DUE}, extensions=exts)
    assert run.unmatched_adjustments == [
        "extension of line 2: no student 'zed'",
        "extension of line 3: no exercise 'ex-z'",
    ]


# ------------------------------------------------------------------ overrides
OVERRIDES = """\
- student: ada
  exercise: ex-a
  check: two
  points: 4
  comment: the shapes were right; the judge was too strict
  by: Prof. Lee
- student: ada
  exercise: ex-b
  delta: -2
  comment: copied the docstring's example as the answer
  by: TA Kim
"""


def overridden(tmp_path: Path, text: str, times: dict[str, datetime] | None = None) -> GradingRun:
    course = make_course(tmp_path)
    (tmp_path / "overrides.yaml").write_text(text)
    adj = Adjustments(
        course=course,
        overrides=load_overrides(tmp_path),
        hand_in=HandIn("t", times or {"ada": DUE, "ben": DUE}),
    )
    run = GradingRun(
        "T",
        "0",
        "b",
        0,
        [
            StudentResult.of("ada", [result("ex-a", 6, 0), result("ex-b")]),
            StudentResult.of("ben", [result("ex-a"), result("ex-b")]),
        ],
    )
    return apply(run, adj)


def test_an_override_of_a_check_and_one_of_an_exercise(tmp_path: Path):
    run = overridden(tmp_path, OVERRIDES)
    a = ex(run, "ada", "ex-a")
    two = a.checks[1]
    assert (two.score, two.raw_score, a.checks[0].raw_score) == (4, 0, None)
    assert (a.score, a.raw_score) == (10, 6)
    [made] = a.adjustments
    assert (made.kind, made.check, made.points, made.by, made.asked) == (
        "override",
        "two",
        4,
        "Prof. Lee",
        "points 4",
    )
    assert made.source == "overrides.yaml:1" and "too strict" in made.reason
    b = ex(run, "ada", "ex-b")
    assert (b.score, b.raw_score, b.checks[0].score) == (8, 10, 6)  # the checks stay as graded
    assert b.adjustments[0].check is None and b.adjustments[0].points == -2
    ada = run.students[0]
    assert (ada.score, ada.raw_score) == (18, 16)
    assert run.students[1].raw_score is None  # ben: nothing changed
    assert run.unmatched_adjustments == []


def test_override_points_are_clamped_and_say_so(tmp_path: Path):
    text = (
        "- {student: ada, exercise: ex-a, check: one, points: 9, comment: c, by: me}\n"
        "- {student: ada, exercise: ex-b, delta: -25, comment: c, by: me}\n"
    )
    run = overridden(tmp_path, text)
    one = ex(run, "ada", "ex-a").adjustments[0]
    assert ex(run, "ada", "ex-a").checks[0].score == 6 and one.points == 0
    assert "asked for 9, clamped to the 6 points there are" == one.clamped
    b = ex(run, "ada", "ex-b")
    assert (
        b.score == 0
        and b.adjustments[0].points == -10
        and "clamped to 0" in b.adjustments[0].clamped
    )


def test_the_late_penalty_comes_after_the_overrides(tmp_path: Path):
    text = "- {student: ada, exercise: ex-a, points: 5, comment: partial credit, by: me}\n"
    run = overridden(tmp_path, text, {"ada": DUE + timedelta(hours=2), "ben": DUE})
    a = ex(run, "ada", "ex-a")
    assert [x.kind for x in a.adjustments] == ["override", "late"]
    assert (a.raw_score, a.score) == (6, 4)  # 5, then 10% of 10 points off


def test_a_stale_override_is_reported_never_dropped(tmp_path: Path):
    text = (
        "- {student: ada, exercise: ex-a, check: renamed, points: 1, comment: c, by: me}\n"
        "- {student: zed, exercise: ex-a, delta: 1, comment: c, by: me}\n"
        "- {student: ben, exercise: gone, delta: 1, comment: c, by: me}\n"
    )
    run = overridden(tmp_path, text)
    assert run.unmatched_adjustments == [
        "overrides.yaml:1: override of ada, ex-a, check 'renamed': no check 'renamed' in ex-a "
        "(renamed or removed?)",
        "overrides.yaml:2: override of zed, ex-a: no student 'zed' in this run",
        "overrides.yaml:3: override of ben, gone: no exercise 'gone' in the course",
    ]
    assert ex(run, "ada", "ex-a").raw_score is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("- {student: a, exercise: e, comment: c, by: me}\n", 1, "either 'points'"),
        ("- {student: a, exercise: e, points: 1, delta: 1, comment: c, by: me}\n", 1, "either"),
        ("- student: a\n  exercise: e\n  points: 1\n  by: me\n", 1, "'comment': required"),
        ("- {student: a, exercise: e, points: 1, comment: c}\n", 1, "'by': required"),
        ("- {student: a, exercise: e, points: -1, comment: c, by: me}\n", 1, "at least 0"),
        ("- student: a\n  exercise: e\n  delta: x\n  comment: c\n  by: me\n", 3, "a number"),
        ("- {student: a, exercise: e, points: 1, comment: c, by: me, why: x}\n", 1, "unknown key"),
        (
            "- {student: a, exercise: e, delta: 1, comment: c, by: me}\n"
            "- {student: a, exercise: e, delta: 2, comment: d, by: me}\n",
            2,
            "already overridden at line 1",
        ),
        ("student: a\n", 1, "expected a list"),
    ],
)
def test_overrides_mistakes_are_reported_at_their_line(
    tmp_path: Path, text: str, line: int, words: str
):
    (tmp_path / "overrides.yaml").write_text(text)
    with pytest.raises(ExerciseError) as caught:
        load_overrides(tmp_path)
    assert caught.value.path == "overrides.yaml" and caught.value.line == line
    assert words in caught.value.message


# ------------------------------------------------------------------ hand-in times
def test_hand_in_times_from_a_csv(tmp_path: Path):
    csv_path = tmp_path / "times.csv"
    csv_path.write_text("student,submitted_at\nada,2026-03-01T23:00:00+01:00\n")
    found = read_times(str(csv_path), {"ada": tmp_path, "ben": tmp_path})
    assert found.times == {"ada": datetime(2026, 3, 1, 22, 0, tzinfo=timezone.utc)}
    assert found.problems == ["ben: not in times.csv, so no hand-in time"]
    csv_path.write_text("student,submitted_at\nada,2026-03-01T23:00:00\n")
    with pytest.raises(GraderError, match=r"times.csv:2: .*time zone"):
        read_times(str(csv_path), {"ada": tmp_path})


def test_hand_in_times_default_to_the_newest_file_of_the_folder(tmp_path: Path):
    import os

    folder = tmp_path / "ada"
    (folder / ".git").mkdir(parents=True)
    (folder / "ex_a.py").write_text("x")
    (folder / "ex_b.py").write_text("x")
    (folder / ".git" / "HEAD").write_text("x")
    os.utime(folder / "ex_a.py", (1_700_000_000, 1_700_000_000))
    os.utime(folder / "ex_b.py", (1_700_000_100, 1_700_000_100))
    os.utime(folder / ".git" / "HEAD", (1_800_000_000, 1_800_000_000))  # hidden: not counted
    found = read_times(None, {"ada": folder})
    assert found.source == "file modification times"
    assert found.times["ada"].timestamp() == 1_700_000_100


def git(*args: str, cwd: Path, when: str = "") -> None:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_COMMITTER_DATE": when,
        "GIT_AUTHOR_DATE": when,
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_hand_in_times_from_the_last_commit_touching_each_folder(tmp_path: Path):
    repo = tmp_path / "subs"
    for name in ("ada", "ben", "cho"):
        (repo / name).mkdir(parents=True)
    git("init", "-q", cwd=repo)
    (repo / "ada" / "ex_a.py").write_text("1")
    git("add", "ada", cwd=repo)
    git("commit", "-qm", "ada", cwd=repo, when="2026-03-01T10:00:00+01:00")
    (repo / "ben" / "ex_a.py").write_text("1")
    git("add", "ben", cwd=repo)
    git("commit", "-qm", "ben", cwd=repo, when="2026-03-02T10:00:00+01:00")
    # A repository the student made inside their folder is never asked.
    (repo / "cho" / "ex_a.py").write_text("1")
    git("init", "-q", cwd=repo / "cho")
    git("add", "ex_a.py", cwd=repo / "cho")
    git("commit", "-qm", "mine", cwd=repo / "cho", when="2000-01-01T00:00:00Z")
    found = read_times("git", {n: repo / n for n in ("ada", "ben", "cho")})
    assert found.times["ada"] == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert found.times["ben"] == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert "cho" not in found.times and found.problems == ["cho: no commit touches cho/"]


def test_git_outside_any_repository_is_an_error(tmp_path: Path):
    (tmp_path / "a" / "ada").mkdir(parents=True)
    with pytest.raises(GraderError, match="not|git"):
        read_times("git", {"ada": tmp_path / "a" / "ada"})


def test_prepare_reads_times_only_when_the_course_has_deadlines(tmp_path: Path):
    course = make_course(tmp_path, course="title: T\n")
    (tmp_path / "overrides.yaml").write_text(OVERRIDES)
    adj = prepare(course, {"ada": tmp_path})
    assert adj.hand_in is None and len(adj.overrides) == 2
    course = make_course(tmp_path)
    (tmp_path / "extensions.csv").write_text("student,exercise,due\nada,,2026-03-05T00:00Z\n")
    adj = prepare(course, {"ada": tmp_path})
    assert adj.hand_in is not None and adj.hand_in.source == "file modification times"
    assert [e.student for e in adj.extensions] == ["ada"]  # extensions.csv beside course.yaml


def test_moving_a_deadline_grades_nothing_again(tmp_path: Path):
    course = make_course(tmp_path, extra={"a": "due: 2026-03-01T22:59:00Z\nlate:\n  cap: 20%\n"})
    before = exercise_fingerprint(course.exercises[0], course, "k")
    course = make_course(tmp_path, extra={"a": "due: 2026-03-09T22:59:00Z\nlate:\n  cap: 50%\n"})
    assert exercise_fingerprint(course.exercises[0], course, "k") == before
    course = make_course(tmp_path, extra={"a": "due: 2026-03-09T22:59:00Z\nvisibility: hidden\n"})
    assert exercise_fingerprint(course.exercises[0], course, "k") != before


def test_applying_leaves_the_automatic_results_as_they_were(tmp_path: Path):
    course = make_course(tmp_path)
    original = run_of("ada")
    before = json.dumps(original.to_dict(), sort_keys=True)
    adj = Adjustments(course=course, hand_in=HandIn("t", {"ada": DUE + timedelta(days=1)}))
    after = apply(original, adj)
    assert json.dumps(original.to_dict(), sort_keys=True) == before  # what the store keeps
    assert after.students[0].score == 18
    assert GradingRun.from_dict(json.loads(json.dumps(after.to_dict()))) == after


# ------------------------------------------------------------------ every output
@pytest.fixture
def adjusted(tmp_path: Path) -> GradingRun:
    text = OVERRIDES
    return overridden(tmp_path, text, {"ada": DUE + timedelta(hours=5), "ben": DUE})


def test_grades_csv_carries_final_and_automatic_scores(adjusted: GradingRun):
    from grader.reports.csv_report import render_csv

    rows = list(csv.reader(io.StringIO(render_csv(adjusted))))
    assert rows[0] == [
        "student",
        "ex-a",
        "ex-b",
        "total",
        "ex-a (automatic)",
        "ex-b (automatic)",
        "total (automatic)",
    ]
    assert rows[1] == ["ada", "9", "7", "16", "6", "10", "16"]
    assert rows[2] == ["ben", "10", "10", "20", "10", "10", "20"]


def test_grades_csv_is_unchanged_without_adjustments():
    from grader.reports.csv_report import render_csv

    assert render_csv(run_of("ada")).splitlines()[0] == "student,ex-a,ex-b,total"


def test_results_json_carries_each_adjustment_and_the_lateness(adjusted: GradingRun):
    from grader.reports.json_report import render_json

    data = json.loads(render_json(adjusted))
    ada = data["students"][0]
    assert (ada["score"], ada["raw_score"]) == (16, 16)
    a = ada["exercises"][0]
    assert (a["score"], a["raw_score"]) == (9, 6)
    assert [x["kind"] for x in a["adjustments"]] == ["override", "late"]
    assert a["late"]["days_late"] == 1 and a["late"]["source"] == "t"
    assert data["submitted_from"] == "t" and data["unmatched_adjustments"] == []
    assert GradingRun.from_dict(data) == adjusted


def test_the_student_page_shows_hand_in_penalty_rule_and_comments(adjusted: GradingRun):
    from grader.reports.html_report import render_index, render_student

    page = render_student(adjusted, adjusted.students[0])
    assert "Automatic grading gave 16" in page
    assert "Handed in 2026-03-02T04:59:00+01:00" in page and "<strong>1 day late</strong>" in page
    assert "(5 h)" in page and "10% of the exercise" in page
    assert "the shapes were right; the judge was too strict" in page and "Prof. Lee" in page
    assert "(automatic 0)" in page  # the check's own score before the override
    index = render_index(adjusted, {"ada": "ada.html", "ben": "ben.html"})
    assert 'id="adjustments"' in index and "(automatic 6)" in index
    assert "NOT APPLIED" not in index


def test_the_overview_lists_what_was_not_applied(tmp_path: Path):
    from grader.reports.html_report import render_index

    text = "- {student: ada, exercise: ex-a, check: renamed, points: 1, comment: c, by: me}\n"
    run = overridden(tmp_path, text)
    index = render_index(run, {"ada": "ada.html", "ben": "ben.html"})
    assert "1 adjustment NOT APPLIED" in index and "no check &#39;renamed&#39;" in index


def test_gradescope_github_and_junit_carry_final_and_raw(adjusted: GradingRun):
    from grader.exports.github import classroom_result, render_summary
    from grader.exports.gradescope import results_json
    from grader.exports.junit import render_junit

    one = GradingRun(adjusted.course, "0", "b", 0, [adjusted.students[0]])
    gs = results_json(one)
    assert gs["score"] == 16 and gs["extra_data"]["raw_score"] == 16
    assert sum(t["score"] for t in gs["tests"]) == 20  # the check override is in its test
    assert "(automatic grading: 16)" in gs["output"] and "late penalty" in gs["output"]
    result = classroom_result(one.students[0], None, _paths())
    assert sum(t["score"] for t in result["tests"]) == 16
    assert {t["name"] for t in result["tests"]} >= {"ex-a: late penalty", "ex-b: override"}
    summary = render_summary(one)
    assert "16 / 20 points (80.0%), automatic grading 16" in summary
    assert "Hand-in and adjustments" in summary
    xml = render_junit(one)
    assert '<property name="raw_score" value="6"/>' in xml
    assert 'name="adjustment" value="Adjustment -1 points, late penalty' in xml


def _paths():
    from grader.exports.github import Paths

    return Paths.from_env({})


def test_canvas_carries_the_final_score_and_on_request_the_automatic_one(
    adjusted: GradingRun, tmp_path: Path
):
    from grader.exports.canvas import export_canvas

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\nAda,1,S1,ada,A\nBen,2,S2,ben,A\n"
    )
    plain = list(csv.reader(io.StringIO(export_canvas(adjusted, roster).text.lstrip("\ufeff"))))
    assert plain[0][5:] == ["ex-a", "ex-b"]
    assert plain[2][5:] == ["9", "7"]
    raw = export_canvas(adjusted, roster, raw=True).text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(raw)))
    assert rows[0][5:] == ["ex-a", "ex-a (automatic)", "ex-b", "ex-b (automatic)"]
    assert rows[2][5:] == ["9", "6", "7", "10"]
    total = list(csv.reader(io.StringIO(export_canvas(adjusted, roster, "HW", raw=True).text)))
    assert total[0][5:] == ["HW", "HW (automatic)"] and total[2][5:] == ["16", "16"]


def test_a_folder_named_like_a_pattern_is_a_name_to_git(tmp_path: Path):
    repo = tmp_path / "subs"
    (repo / "ada").mkdir(parents=True)
    (repo / "*").mkdir()
    git("init", "-q", cwd=repo)
    (repo / "ada" / "ex_a.py").write_text("1")
    git("add", "ada", cwd=repo)
    git("commit", "-qm", "ada", cwd=repo, when="2026-03-01T10:00:00Z")
    found = read_times("git", {"*": repo / "*"})
    assert found.times == {} and found.problems == ["*: no commit touches */"]


def test_an_extension_is_a_deadline_even_in_a_course_without_one(tmp_path: Path):
    course = make_course(tmp_path, course="title: T\nlate: {per_day: 1}\n")
    (tmp_path / "extensions.csv").write_text("student,exercise,due\nada,ex-a,2026-03-01T22:59Z\n")
    adj = prepare(course, {"ada": tmp_path})
    assert adj.hand_in is not None
    adj.hand_in = HandIn("t", {"ada": DUE + timedelta(hours=1)})
    run = apply(run_of("ada"), adj)
    assert ex(run, "ada", "ex-a").score == 9 and ex(run, "ada", "ex-b").late is None
