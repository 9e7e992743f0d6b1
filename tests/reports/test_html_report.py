"""The HTML reports' own data and markup (no browser): the item analysis counts a check
not scored apart from a failed one, details keys read as words, excerpts keep their lines."""

from __future__ import annotations

from grader.reports.html_report import check_failures, render_index, render_student
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult

FINITE = "softmax stays finite"
GATE = "uses no library softmax"


def check(name: str, status: str, message: str = "", **extra) -> CheckResult:
    score = 1.0 if status == "passed" else 0.0
    return CheckResult(name, score, 1.0, status, message, entry="softmax", **extra)  # type: ignore[arg-type]


def student(name: str, *checks: CheckResult) -> StudentResult:
    exercise = ExerciseResult(
        id="softmax",
        title="Softmax",
        score=sum(c.score for c in checks),
        max_score=float(len(checks)),
        status="passed" if all(c.status == "passed" for c in checks) else "failed",
        checks=list(checks),
        file="softmax.py",
    )
    return StudentResult.of(name, [exercise])


def run_of(*students: StudentResult) -> GradingRun:
    return GradingRun("Course", "0.1.0", "bubblewrap", 0, list(students))


def gated_class() -> GradingRun:
    """Three students: one passes everything, one fails "stays finite", one calls the
    library's softmax, so the gate zeroes their "stays finite" (which passed)."""
    gated = (
        "not scored: softmax returned finite values, but softmax calls torch.softmax, "
        "which this exercise asks you to write yourself."
    )
    return run_of(
        student("ada", check(GATE, "passed"), check(FINITE, "passed")),
        student("ben", check(GATE, "passed"), check(FINITE, "failed", "softmax returned nan")),
        student(
            "cho",
            check(GATE, "failed", "softmax calls torch.softmax. Write it yourself."),
            check(FINITE, "failed", gated),
        ),
    )


def test_a_check_zeroed_by_a_gate_is_not_scored_not_failed() -> None:
    rows = {r.check: r for r in check_failures(gated_class())}
    finite = rows[FINITE]
    assert (finite.passed, finite.failed, finite.not_scored, finite.of) == (1, 1, 1, 3)
    assert finite.share == 50.0  # one of the two scored, not 67 % of all three
    gate = rows[GATE]
    assert (gate.passed, gate.failed, gate.not_scored, gate.share) == (2, 1, 0, 100 / 3)


def test_most_failed_first_and_a_check_nobody_was_scored_on() -> None:
    nobody = "not scored: softmax does not run yet (see its other checks)"
    run = run_of(
        *gated_class().students,
        student("dee", check(GATE, "failed", "x"), check(FINITE, "failed", nobody)),
    )
    assert [(r.check, r.failed, r.not_scored) for r in check_failures(run)] == [
        (GATE, 2, 0),
        (FINITE, 1, 2),
    ]
    only_gated = run_of(student("eve", check(FINITE, "error", "not scored: the sandbox died")))
    [row] = check_failures(only_gated)
    assert (row.failed, row.not_scored, row.share) == (0, 1, None)
    cells = '<td class="num">0</td><td class="num">0</td><td class="num">1</td>'
    assert cells + '<td class="num">—</td>' in render_index(only_gated, {"eve": "eve.html"})


def test_the_overview_labels_passed_failed_and_not_scored() -> None:
    page = render_index(gated_class(), {s: f"{s}.html" for s in ("ada", "ben", "cho")})
    head = (
        '<th scope="col" class="num">Passed</th><th scope="col" class="num">Failed</th>'
        '<th scope="col" class="num">Not scored</th>'
        '<th scope="col" class="num">Failed, of scored</th>'
    )
    assert head in page
    assert (
        f'<th scope="row">{FINITE}</th><td class="num">1</td><td class="num">1</td>'
        '<td class="num">1</td><td class="num">50%</td>'
    ) in page
    assert "Not passed" not in page and "67%" not in page


def test_a_student_message_that_merely_mentions_not_scored_is_a_failure() -> None:
    said = check(FINITE, "failed", "softmax raised ValueError: not scored: yes")
    [row] = check_failures(run_of(student("ada", said)))
    assert (row.failed, row.not_scored) == (1, 0)


def test_details_keys_read_as_words_and_results_keep_them() -> None:
    details = {"accuracy_before_training": "0.1", "mse_after_training": "2.5", "got": "x"}
    run = run_of(student("ada", check("trains", "failed", "no progress", details=details)))
    page = render_student(run, run.students[0])
    assert "<dt>accuracy before training</dt><dd>0.1</dd>" in page
    assert "<dt>mse after training</dt><dd>2.5</dd>" in page
    assert "accuracy_before_training" not in page
    assert run.to_dict()["students"][0]["exercises"][0]["checks"][0]["details"] == details


def test_excerpt_lines_are_separate_lines_of_text() -> None:
    cut = {"file": "softmax.py", "line": 3, "first": 2, "lines": ["def f(x):", "    y", "  z"]}
    run = run_of(student("ada", check(FINITE, "error", "f raised", excerpts=[cut])))
    page = render_student(run, run.students[0])
    code = page.split('<pre class="code"><code>')[1].split("</code></pre>")[0]
    assert code.count("\n") == 2  # between the three lines, none after the last
    first, marked, last = code.split("\n")
    assert first == '<span class="ln">2</span>   def f(x):'
    assert marked.startswith("<mark>") and marked.endswith("    y</mark>")
    assert last == '<span class="ln">4</span>     z'
