"""The HTML reports in a real browser: Debian's Chromium driven by Playwright.

The example class is graded once with the real CLI. Each kind of report (the class overview,
a student with full marks, one with typical mistakes, the notebook student, and a hand-made
page with what the examples never show: errors, a timeout, tracebacks, printed output, a
warning) is opened from disk on a desktop screen, on a phone and as printed on A4, and must:
show its key content; log no console error and raise no page error; request nothing
(self-contained: every request but the file itself is blocked and counted); not scroll
sideways outside its tables and code blocks (on paper, not at all); and have no serious or
critical axe-core violation. Full-page screenshots go to $GRADER_SCREENSHOTS (default: a
pytest temp folder) as <report>-<desktop|phone|print>.png, for CI to keep as artifacts.

Without Playwright, axe-playwright-python or /usr/bin/chromium these tests skip, except in
CI (CI set), where they fail: CI installs all three.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    OVERFLOW_JS,
    PAPER,
    PHONE,
    WIDE_ELEMENTS_JS,
    PageWatch,
    blocking,
    describe,
    launched_chromium,
    require_browser,
    run_axe,
)
from conftest import run_grader

from grader.reports.csv_report import format_points

pytestmark = pytest.mark.slow

EXAMPLES = ["ada_correct", "ben_typical_mistakes", "cho_notebooks"]
EDGE = "dee_edge_cases"  # hand-made from ben's results; see edge_case_run
REPORTS = ["index", *EXAMPLES, EDGE]
LONG_NAME = "a_function_name_long_enough_to_overflow_a_phone_screen_unless_the_page_wraps_it"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Any]:
    """The example class graded by the real CLI, plus the hand-made edge-case page."""
    require_browser()  # skip (or fail in CI) before spending seconds on grading
    out = tmp_path_factory.mktemp("reports")
    proc = run_grader("grade", "examples/submissions", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert sorted(s["id"] for s in data["students"]) == EXAMPLES

    from grader.reports.html_report import write_html

    edge = edge_case_run(data)
    edge_dir = out / "edge"
    write_html(edge, edge_dir)
    students = {s["id"]: s for s in data["students"]}
    students[EDGE] = edge.to_dict()["students"][0]
    files = {
        "index": out / "index.html",
        **{s: out / f"{s}.html" for s in EXAMPLES},
        EDGE: edge_dir / f"{EDGE}.html",
    }
    return {"run": data, "edge_run": edge.to_dict(), "students": students, "files": files}


def edge_case_run(data: dict):
    """One student with what the example class never produces: an exercise that failed to
    load (error, traceback, printed output), a check that errored, one that timed out, long
    unbreakable names and output, and a run warning."""
    from grader.results import GradingRun

    run = copy.deepcopy(data)
    student = next(s for s in run["students"] if s["id"] == "ben_typical_mistakes")
    student["id"] = EDGE
    frame = {
        "file": f"{LONG_NAME}.py",
        "line": 12,
        "function": LONG_NAME,
        "code": f"return {LONG_NAME}(x) + {'y' * 150}",
    }
    broken = student["exercises"][0]
    broken.update(
        status="error",
        score=0.0,
        message=f"Importing your file raised NameError: name '{LONG_NAME}' is not defined",
        notes=["A note about this exercise."],
        traceback=[frame],
        output="loading...\n" + "=" * 300 + "\n",
    )
    for check in broken["checks"]:
        check.update(status="error", score=0.0, message="could not run: your file did not load")
    erroring = student["exercises"][1]["checks"][0]
    erroring.update(
        status="error",
        score=0.0,
        traceback=[frame],
        output="x" * 500,
        message=f"{LONG_NAME} raised ZeroDivisionError: division by zero",
    )
    slow = student["exercises"][1]["checks"][1]
    slow.update(status="timeout", score=0.0, message="stopped after 10 s: an endless loop?")
    for exercise in student["exercises"][:2]:
        exercise["score"] = sum(c["score"] for c in exercise["checks"])
    student["score"] = sum(e["score"] for e in student["exercises"])
    run["students"] = [student]
    run["warnings"] = ["this page is hand-made by tests/test_browser.py"]
    return GradingRun.from_dict(run)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("GRADER_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


MEDIA = {
    "desktop": {"viewport": DESKTOP},
    # is_mobile: Chromium then honours <meta name="viewport"> as a phone does.
    "phone": {"viewport": PHONE, "is_mobile": True, "has_touch": True},
    "print": {"viewport": PAPER},
}


@pytest.fixture(params=list(MEDIA))
def medium(request) -> str:
    return request.param


@pytest.fixture
def opened(browser, graded, medium, request) -> Iterator[tuple[Any, PageWatch]]:
    report = request.node.callspec.params["report"]
    context = browser.new_context(locale="en-US", **MEDIA[medium])
    page = context.new_page()
    url = graded["files"][report].as_uri()
    watch = PageWatch(allowed_url=url)
    watch.attach(page)
    if medium == "print":
        page.emulate_media(media="print")
    page.goto(url)
    yield page, watch
    context.close()


# ------------------------------------------------------------------ key content
def points(value: float) -> str:
    return format_points(round(value, 2))


def assert_index_content(page: Any, run: dict) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text(f"{run['course']}: class overview")
    for title in ("Scores", "Checks not passed"):
        expect(page.get_by_role("heading", level=2, name=title, exact=True)).to_be_visible()
    rows = page.locator("table.scores > tbody > tr")
    expect(rows).to_have_count(len(run["students"]))
    for student in run["students"]:
        row = rows.filter(has=page.get_by_role("link", name=student["id"], exact=True))
        expect(row).to_be_visible()
        total = f"{points(student['score'])} / {points(student['max_score'])}"
        expect(row.locator("td").last).to_have_text(total)
    failures = page.locator("table.failures > tbody > tr")
    expect(failures.first).to_be_visible()


def assert_student_content(page: Any, student: dict, medium: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for {student['id']}")
    total = page.locator("header .total")
    expect(total).to_have_text(
        f"Total: {points(student['score'])} / {points(student['max_score'])} points"
    )
    if medium != "print":  # at the top: seen without scrolling
        box = total.bounding_box()
        assert box and box["y"] + box["height"] <= page.viewport_size["height"], box
    for exercise in student["exercises"]:
        heading = page.get_by_role("heading", level=2, name=exercise["title"], exact=True)
        expect(heading).to_be_visible()
        section = page.locator("section.exercise").filter(has=heading)
        score = f"{points(exercise['score'])} / {points(exercise['max_score'])} points"
        expect(section.get_by_text(score, exact=True)).to_be_visible()
        if exercise["file"]:
            expect(section.locator("code", has_text=exercise["file"]).first).to_be_visible()
        if exercise["message"]:
            expect(section.locator("p.message")).to_contain_text(exercise["message"][:200])
        for check in exercise["checks"]:
            if check["status"] == "passed":
                continue
            row = section.locator("table.checks > tbody > tr").filter(
                has=page.get_by_role("rowheader", name=check["name"], exact=True)
            )
            expect(row).to_be_visible()
            expect(row.locator(".badge")).to_contain_text(check["status"])
            expect(row.locator(".message")).to_contain_text(check["message"][:200])
            if check["traceback"]:
                expect(row.locator(".traceback > .label")).to_be_visible()
            if check["output"]:
                expect(row.locator(".output pre")).to_be_visible()
            assert_pictures_and_code(page, row, check)


def assert_pictures_and_code(page: Any, row: Any, check: dict) -> None:
    """A check's pictures are drawn, with a name and a description for those who cannot
    see them; its code excerpts mark the line in question; its mismatches are a table."""
    from playwright.sync_api import expect

    pictures = row.locator("figure.chart svg")
    expect(pictures).to_have_count(len(check["figures"]))
    for i in range(len(check["figures"])):
        picture = pictures.nth(i)
        expect(picture).to_be_visible()
        expect(picture).to_have_attribute("role", "img")
        box = picture.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 80, box  # drawn, not collapsed
        name = picture.evaluate(
            "svg => svg.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' ')"
        )
        assert len(name) > 40, name  # a caption and a description in words
    excerpts = row.locator("figure.excerpt")
    expect(excerpts).to_have_count(len(check["excerpts"]))
    for i, cut in enumerate(check["excerpts"]):
        mark = excerpts.nth(i).locator("mark")
        expect(mark).to_be_visible()
        expect(mark).to_contain_text(cut["lines"][cut["line"] - cut["first"]].strip())
        expect(mark).to_contain_text(str(cut["line"]))
        assert_lines_apart(excerpts.nth(i), cut)
    mismatches = check["details"].get("mismatches") if check["status"] != "passed" else None
    if mismatches:
        table = row.locator("table.mismatches")
        expect(table.locator("tbody tr")).to_have_count(len(mismatches))
        expect(table.locator("tbody tr").first).to_contain_text(mismatches[0]["got"])


# The top of each line number's box, in order: one visual line (or more, wrapped) per line.
LINE_TOPS_JS = "code => [...code.querySelectorAll('.ln')].map(n => n.getBoundingClientRect().top)"


def assert_lines_apart(excerpt: Any, cut: dict) -> None:
    """Each line of an excerpt starts a visual line of its own, below the one before, and
    the text a reader copies keeps each unmarked line whole, on a line of its own."""
    code = excerpt.locator("pre.code code")
    tops = code.evaluate(LINE_TOPS_JS)
    assert len(tops) == len(cut["lines"]), tops
    assert all(below > above + 1 for above, below in itertools.pairwise(tops)), (
        f"lines of {cut['file']} share a visual line: tops {tops}"
    )
    shown = code.inner_text().split("\n")
    for number, line in enumerate(cut["lines"], start=cut["first"]):
        if number != cut["line"]:  # the marked one holds words for screen readers too
            assert f"{number}   {line}" in shown, shown


@pytest.mark.parametrize("medium", ["desktop", "phone"])
def test_code_excerpt_lines_stand_apart(browser, tmp_path, medium) -> None:
    """An excerpt whose marked line is in the middle, between unmarked ones, as a check's
    and as an exercise's: every line on a line of its own (the template once ran the
    unmarked lines together)."""
    from grader.reports.html_report import write_html
    from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult

    cut = {
        "file": "tokenizer.py",
        "line": 16,
        "first": 13,
        "lines": [
            "import torch",
            "",
            "def encode(text: str, vocab: dict[str, int]) -> torch.Tensor:",
            "    ids = [vocab[c] for c in text]",
            "    return torch.tensor(ids)",
            "# a comment long enough to wrap on a phone " + "x" * 60,
            "    pass",
        ],
    }
    check = CheckResult(
        name="encode maps characters to ids",
        score=0.0,
        max_score=1.0,
        status="error",
        message="encode raised KeyError: 'z'",
        excerpts=[cut],
    )
    exercise = ExerciseResult(
        id="tokenizer",
        title="Tokenizer",
        score=0.0,
        max_score=1.0,
        status="error",
        checks=[check],
        file="tokenizer.py",
        excerpts=[cut],
    )
    student = StudentResult.of("eve", [exercise])
    run = GradingRun("Course", "0.1.0", "bubblewrap", 0, [student])
    write_html(run, tmp_path)
    context = browser.new_context(locale="en-US", **MEDIA[medium])
    try:
        page = context.new_page()
        page.goto((tmp_path / "eve.html").as_uri())
        excerpts = page.locator("figure.excerpt")
        assert excerpts.count() == 2
        for i in range(2):
            assert_lines_apart(excerpts.nth(i), cut)
    finally:
        context.close()


def test_the_example_class_shows_every_kind_of_picture_and_excerpt(graded) -> None:
    ben = graded["students"]["ben_typical_mistakes"]
    checks = [c for e in ben["exercises"] for c in e["checks"]]
    kinds = {f["kind"] for c in checks for f in c["figures"]}
    assert kinds == {"histogram", "losses", "channels"}, kinds
    assert any(c["excerpts"] and c["status"] == "error" for c in checks)  # a failing line
    assert any(c["excerpts"] and c["status"] == "failed" for c in checks)  # a forbidden call


# ------------------------------------------------------------------ the test
@pytest.mark.parametrize("report", REPORTS)
def test_report_in_browser(report, medium, opened, graded, screenshots) -> None:
    page, watch = opened
    # The screenshot first, so that CI keeps it when an assertion below fails.
    page.screenshot(path=screenshots / f"{report}-{medium}.png", full_page=True)

    if report == "index":
        assert_index_content(page, graded["run"])
    else:
        assert_student_content(page, graded["students"][report], medium)
    if report == EDGE:
        from playwright.sync_api import expect

        expect(page.locator("header .warning")).to_be_visible()

    # Only tables and code blocks may scroll sideways, inside their own boxes; paper cannot
    # scroll at all, which .table-wrap's print style and pre's wrapping see to.
    width = MEDIA[medium]["viewport"]["width"]
    overflow = page.evaluate(OVERFLOW_JS, width)
    assert overflow <= 1, (
        f"{report} ({medium}) is {overflow} px wider than the {width} px "
        f"screen or paper: {page.evaluate(WIDE_ELEMENTS_JS, width)}"
    )
    if medium == "print":
        wide = page.evaluate("""() => [...document.querySelectorAll('table, pre')]
            .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.outerHTML.slice(0, 80))""")
        assert not wide, f"on paper these are cut off: {wide}"

    serious = blocking(run_axe(page))
    if serious:
        pytest.fail(f"axe-core on {report} ({medium}):\n{describe(serious)}", pytrace=False)

    problems = watch.problems()  # last: covers everything the page did during the checks
    if problems:
        pytest.fail(f"{report} ({medium}):\n" + "\n".join(problems), pytrace=False)
