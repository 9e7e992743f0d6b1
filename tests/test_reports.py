"""Report writers: real files in a temp dir, built from a hand-made GradingRun."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pytest

from grader.reports import write_reports
from grader.reports.atomic import write_bytes_atomic, write_text_atomic
from grader.reports.csv_report import format_points
from grader.reports.html_report import check_failures, report_filename, report_filenames
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult

XSS = "<script>alert(1)</script>"
EVIL_ID = 'evil<script>alert(1)</script>, "Bob" & co'


def _check(name: str, status: str, score: float, max_score: float = 1.0, **kw) -> CheckResult:
    return CheckResult(name=name, score=score, max_score=max_score, status=status, **kw)  # type: ignore[arg-type]


def make_run() -> GradingRun:
    alice = StudentResult(
        id="alice",
        score=3.5,
        max_score=4.0,
        exercises=[
            ExerciseResult(
                id="ex1_tensors",
                title="Tensors",
                score=2.0,
                max_score=2.0,
                status="passed",
                file="ex1.py",
                checks=[
                    _check("shape", "passed", 1.0, message="ok"),
                    _check("values", "passed", 1.0, message="ok"),
                ],
            ),
            ExerciseResult(
                id="ex2_mlp",
                title="MLP & friends",
                score=1.5,
                max_score=2.0,
                status="failed",
                file="ex2.py",
                checks=[
                    _check("forward", "passed", 1.0, message="ok"),
                    _check(
                        "loss",
                        "failed",
                        0.5,
                        message="loss too high: 0.9 > 0.5 — überprüfen ✓",
                        hint="Did you call optimizer.zero_grad()?",
                        details={
                            "expected": [2, 3],
                            "actual": {"shape": [2, 4], "dtype": "float32"},
                        },
                    ),
                ],
            ),
        ],
    )
    evil = StudentResult(
        id=EVIL_ID,
        score=0.0,
        max_score=4.0,
        exercises=[
            ExerciseResult(
                id="ex1_tensors",
                title="Tensors",
                score=0.0,
                max_score=2.0,
                status="error",
                file=f"{XSS}.py",
                message=f"import failed: {XSS} & more",
                notes=[f"note {XSS}"],
                output="loading\x1b[31m red\x00\x07 bell\n",
                traceback=[
                    {"file": "ex1.py", "line": 3, "function": "<module>", "code": f"x = '{XSS}'"}
                ],
                checks=[
                    _check(
                        "shape",
                        "error",
                        0.0,
                        message=f"raised ValueError: {XSS}",
                        details={"note": XSS, "long": "y" * 2000, "nested": {"a": [1, 2.5]}},
                        output="A" * 5000,
                        traceback=[
                            {
                                "file": "ex1.py",
                                "line": 7,
                                "function": "f",
                                "code": f"raise ValueError('{XSS}')",
                            }
                        ],
                    ),
                    _check("values", "timeout", 0.0, message="took longer than 10 s"),
                ],
            ),
            ExerciseResult(
                id="ex2_mlp",
                title="MLP & friends",
                score=0.0,
                max_score=2.0,
                status="missing",
                file=None,
                message="ex2.py not found",
                checks=[
                    _check("forward", "missing", 0.0, message="no file"),
                    _check("loss", "missing", 0.0, message="no file"),
                ],
            ),
        ],
    )
    return GradingRun(
        course="Deep Learning 101",
        grader_version="0.1.0",
        sandbox="none",
        seed=1234,
        students=[alice, evil],
        warnings=[f"sandbox disabled: student code ran unconfined {XSS}"],
    )


def _student_html(out: Path, student_id: str) -> str:
    return (out / report_filenames([student_id])[student_id]).read_text(encoding="utf-8")


def test_all_files_written(tmp_path: Path) -> None:
    run = make_run()
    written = write_reports(run, tmp_path)
    names = {p.name for p in written}
    expected = {"results.json", "grades.csv", "index.html"} | {
        report_filename(s.id) for s in run.students
    }
    assert names == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert {p.name for p in tmp_path.iterdir()} == expected  # and nothing else


def test_json_round_trip(tmp_path: Path) -> None:
    run = make_run()
    write_reports(run, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    student = data["students"][0]
    assert {"id", "score", "max_score", "exercises"} <= student.keys()
    exercise = student["exercises"][0]
    assert {"id", "score", "max_score", "status", "checks"} <= exercise.keys()
    assert {"name", "score", "max_score", "status", "message"} <= exercise["checks"][0].keys()
    # Written out by hand from make_run: what a gradebook script reads from results.json.
    assert {k: data[k] for k in ("course", "grader_version", "sandbox", "seed")} == {
        "course": "Deep Learning 101",
        "grader_version": "0.1.0",
        "sandbox": "none",
        "seed": 1234,
    }
    assert [(s["id"], s["score"], s["max_score"]) for s in data["students"]] == [
        ("alice", 3.5, 4.0),
        (EVIL_ID, 0.0, 4.0),
    ]
    mlp = student["exercises"][1]
    assert (mlp["id"], mlp["title"], mlp["score"], mlp["status"], mlp["file"], mlp["final"]) == (
        "ex2_mlp",
        "MLP & friends",
        1.5,
        "failed",
        "ex2.py",
        True,
    )
    assert mlp["checks"][1] == {
        "name": "loss",
        "score": 0.5,
        "max_score": 1.0,
        "status": "failed",
        "message": "loss too high: 0.9 > 0.5 — überprüfen ✓",
        "entry": None,
        "hint": "Did you call optimizer.zero_grad()?",
        "details": {"expected": [2, 3], "actual": {"shape": [2, 4], "dtype": "float32"}},
        "output": "",
        "traceback": [],
        "seconds": 0.0,
        "visibility": "visible",
        "figures": [],
        "excerpts": [],
        "raw_score": None,  # set when an override changed the check (grading/adjustments.py)
    }
    assert GradingRun.from_dict(data) == run  # and back, exactly


def test_json_non_finite_details_become_strings(tmp_path: Path) -> None:
    run = make_run()
    run.students[0].exercises[0].checks[0].details = {
        "loss": math.nan,
        "bounds": [math.inf, -math.inf, 1.5],
    }
    write_reports(run, tmp_path)
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    details = json.loads(text)["students"][0]["exercises"][0]["checks"][0]["details"]
    assert details == {"loss": "nan", "bounds": ["inf", "-inf", 1.5]}
    assert "NaN" not in text and "Infinity" not in text


def test_csv_header_rows_and_quoting(tmp_path: Path) -> None:
    write_reports(make_run(), tmp_path)
    raw = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert '"evil<script>alert(1)</script>, ""Bob"" & co"' in raw  # quoted, quote doubled
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows == [
        ["student", "ex1_tensors", "ex2_mlp", "total"],
        ["alice", "2", "1.5", "3.5"],
        [EVIL_ID, "0", "0", "0"],
    ]


def test_csv_formula_cells_neutralised(tmp_path: Path) -> None:
    run = make_run()
    run.students[0].id = "=HYPERLINK(1)"
    write_reports(run, tmp_path)
    rows = list(csv.reader((tmp_path / "grades.csv").open(encoding="utf-8", newline="")))
    assert rows[1][0] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(
    ("points", "text"), [(3.0, "3"), (2.5, "2.5"), (0.0, "0"), (-0.0, "0"), (1 / 3, "0.3333")]
)
def test_format_points(points: float, text: str) -> None:
    assert format_points(points) == text


def _assert_only_our_script_may_run(html: str) -> None:
    """The page's Content-Security-Policy allows no request, and no script but the
    overview's own, by the hash of its exact text."""
    import base64
    import hashlib
    import html as html_module

    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert policy, "no Content-Security-Policy"
    rules = dict(
        rule.strip().split(" ", 1) for rule in html_module.unescape(policy.group(1)).split(";")
    )
    assert rules["default-src"] == "'none'" and rules["img-src"] == "data:"
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    if not scripts:
        assert "script-src" not in rules
        return
    [script] = scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert rules["script-src"] == f"'sha256-{digest}'"


def test_html_escapes_student_text(tmp_path: Path) -> None:
    run = make_run()
    written = write_reports(run, tmp_path)
    for path in written:
        if path.suffix != ".html":
            continue
        html = path.read_text(encoding="utf-8")
        assert html.count("<script") == (path.name == "index.html"), (
            path.name
        )  # the overview's sorting only
        assert "&lt;script&gt;" in html, path.name
        _assert_only_our_script_may_run(html)
    evil = _student_html(tmp_path, EVIL_ID)
    assert "&#34;Bob&#34; &amp; co" in evil  # the id itself, escaped
    assert "MLP &amp; friends" in evil


def test_student_page_content(tmp_path: Path) -> None:
    run = make_run()
    write_reports(run, tmp_path)
    evil = _student_html(tmp_path, EVIL_ID)
    assert '<meta name="viewport"' in evil
    assert "<link" not in evil and "src=" not in evil  # self-contained
    assert "Total: 0 / 4 points" in evil
    assert "sandbox disabled: student code ran unconfined" in evil
    for status in ("error", "timeout", "missing"):
        assert f"{status}</span>" in evil  # status as text, not colour alone
    assert "output truncated" in evil
    assert "A" * 4000 in evil and "A" * 4001 not in evil
    assert "y" * 600 not in evil and "y" * 400 in evil  # long detail value cut
    assert "a: [1, 2.5]" in evil  # nested dict/list rendered compactly
    assert "ex1.py:7" in evil and "raise ValueError(&#39;&lt;script&gt;" in evil
    assert "ex1.py:3" in evil
    assert "no file submitted" in evil
    # Control characters made visible, ANSI colour codes dropped; none reach the HTML.
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", evil)
    assert "\u2400" in evil and "\u2407" in evil and "[31m" not in evil

    alice = _student_html(tmp_path, "alice")
    assert "Total: 3.5 / 4 points" in alice
    assert "Did you call optimizer.zero_grad()?" in alice
    assert "überprüfen ✓" in alice
    assert "<dt>expected</dt><dd>2, 3</dd>" in alice
    assert "output truncated" not in alice


def test_index_links_and_summary(tmp_path: Path) -> None:
    run = make_run()
    write_reports(run, tmp_path)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+)"', index)
    expected = [report_filename(s.id) for s in run.students]
    assert hrefs == expected
    assert all((tmp_path / h).is_file() for h in hrefs)
    for text in ("Deep Learning 101", "0.1.0", "1234", "<dd>2</dd>", "Average"):
        assert text in index
    assert '<td class="num">1</td>' in index  # ex1 average (2 + 0) / 2
    assert '<td class="num">0.75</td>' in index  # ex2 average (1.5 + 0) / 2


def test_check_failures_sorted_most_failed_first() -> None:
    rows = check_failures(make_run())
    assert [(r.exercise_id, r.check, r.not_passed, r.of) for r in rows] == [
        ("ex2_mlp", "loss", 2, 2),
        ("ex1_tensors", "shape", 1, 2),
        ("ex1_tensors", "values", 1, 2),
        ("ex2_mlp", "forward", 1, 2),
    ]
    assert rows[0].share == 100.0


def test_deterministic_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    paths_a = write_reports(make_run(), first)
    paths_b = write_reports(make_run(), second)
    assert [p.name for p in paths_a] == [p.name for p in paths_b]
    for a, b in zip(paths_a, paths_b, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # Rewriting in place also gives the same bytes.
    before = {p.name: p.read_bytes() for p in paths_a}
    write_reports(make_run(), first)
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before


def test_report_filename_safe_and_distinct() -> None:
    ids = ["a/b", "a_b", "../x", "index", "", "alice"]
    names = [report_filename(i) for i in ids]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.html", name)
        assert not name.startswith(".") and "/" not in name
        assert name != "index.html"
    assert report_filename("a_b") == "a_b.html"  # unchanged ids keep their name
    assert report_filename("alice") == "alice.html"
    assert report_filename("a/b").startswith("a_b_")
    assert report_filename("a/b") == report_filename("a/b")  # stable


def test_report_filenames_case_clash_and_duplicates() -> None:
    names = report_filenames(["Alice", "alice"])
    assert names["Alice"].lower() != names["alice"].lower()
    with pytest.raises(ValueError, match="duplicate"):
        report_filenames(["x", "x"])


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "zweite ✓\n")
    assert target.read_bytes() == "zweite ✓\n".encode()
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]

    write_reports(make_run(), tmp_path / "reports")
    assert not [p for p in (tmp_path / "reports").iterdir() if p.name.startswith(".")]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "bad \udcff")  # lone surrogate: cannot be encoded
    # Failing after the temp file exists (write() rejects str) must remove the temp file.
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_hints_show_only_where_a_check_did_not_pass(tmp_path: Path) -> None:
    run = make_run()
    for ex in run.students[0].exercises:
        for c in ex.checks:
            c.hint = f"HINT-{c.status}-{c.name}"
    write_reports(run, tmp_path)
    page = (tmp_path / report_filename(run.students[0].id)).read_text()
    shown = {
        c.status
        for ex in run.students[0].exercises
        for c in ex.checks
        if f"HINT-{c.status}-{c.name}" in page
    }
    assert "passed" not in shown and shown


# Generic exports: odd student ids and exercise ids/titles survive a real parser exactly.
ODD_STUDENT = 'ann, "the" \nsecond line\r\\'
ODD_EXERCISE = 'ex,"3"\r\nb'


def test_csv_odd_ids_round_trip_through_a_csv_reader() -> None:
    from grader.reports.csv_report import render_csv

    run = make_run()
    run.students[0].id = ODD_STUDENT
    run.students[1].id = "=cmd|' /C calc'!A0"
    for student in run.students:
        student.exercises[1].id = ODD_EXERCISE
        student.exercises[0].id = "@sum"
    raw = render_csv(run)
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows == [
        ["student", "'@sum", ODD_EXERCISE, "total"],
        [ODD_STUDENT, "2", "1.5", "3.5"],
        ["'=cmd|' /C calc'!A0", "0", "0", "0"],
    ]
    assert raw.count("\r\n") == 3 + 1  # the rows' ends, and the one inside a quoted cell


def test_json_odd_text_round_trips_exactly() -> None:
    from grader.reports.json_report import render_json

    odd = 'a "quoted" \\ back\nslash\t\x00\u2028 \udcff ✓ end'
    run = make_run()
    run.students[0].id = ODD_STUDENT + odd
    run.students[0].exercises[0].title = odd
    run.students[0].exercises[0].id = ODD_EXERCISE
    run.students[0].exercises[0].checks[0].name = odd
    text = render_json(run)
    assert text.isascii()  # escaped, so the file is valid UTF-8 whatever the text
    assert text.count("\n") == len(run.students) + 2  # still one student per line
    assert GradingRun.from_dict(json.loads(text)) == run


def test_item_analysis_counts_the_most_common_messages() -> None:
    """Per check, the messages of the students who did not pass it, most common first:
    a mistake many students make shows up once, with its count."""
    run = make_run()
    template = run.students[0]
    same = "row_sum returned shape [3], expected [2]"
    messages = [same, same, "row_sum raised IndexError", same, "x" * 1000]
    run.students = [
        StudentResult(
            id=f"s{i}",
            score=0.0,
            max_score=1.0,
            exercises=[
                ExerciseResult(
                    id="ex",
                    title="Ex",
                    score=0.0,
                    max_score=1.0,
                    status="failed",
                    file="ex.py",
                    checks=[_check("row_sum", "failed", 0.0, message=message)],
                )
            ],
        )
        for i, message in enumerate(messages)
    ] + [template]
    row = next(r for r in check_failures(run) if r.check == "row_sum")
    assert (row.not_passed, row.of) == (5, 5)
    assert row.messages[:2] == ((same, 3), ("row_sum raised IndexError", 1))
    long_message, count = row.messages[2]
    assert count == 1 and len(long_message) == 300 and long_message.endswith("\u2026")
    passed_only = next(r for r in check_failures(run) if r.check == "forward")
    assert passed_only.messages == ()  # alice passed it: no message to count


def test_item_analysis_is_on_the_overview(tmp_path: Path) -> None:
    index = write_reports(make_run(), tmp_path)[-1].read_text(encoding="utf-8")
    assert '<th scope="col">Most common messages</th>' in index
    assert (
        "<li>raised ValueError: &lt;script&gt;alert(1)&lt;/script&gt; "
        '<span class="muted">(1 student)</span></li>' in index
    )
