"""The class overview's sortable score table and score distribution in a real browser.

A hand-made class of twelve students (distinct totals, one without a result for an
exercise) is rendered to index.html and opened from disk in Debian's Chromium. Like
tests/test_browser.py, these skip without Playwright, axe-playwright-python or Chromium,
except in CI, where they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    PageWatch,
    blocking,
    describe,
    launched_chromium,
    require_browser,
    run_axe,
)

from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult

pytestmark = pytest.mark.slow

GRADER_ORDER = [5, 12, 1, 9, 3, 10, 7, 2, 11, 4, 8, 6]  # student numbers, as graded
NO_EX_C = "student7"  # has no result for ex-c: its cell is "—"


def exercise(ex_id: str, score: float) -> ExerciseResult:
    status = "passed" if score == 10 else "failed"
    check = CheckResult(name="c", score=score, max_score=10.0, status=status, message="m")
    return ExerciseResult(
        id=ex_id,
        title=f"Exercise {ex_id}",
        score=score,
        max_score=10.0,
        status=status,
        checks=[check],
    )


def class_run() -> GradingRun:
    students = []
    for n in GRADER_ORDER:
        exercises = [exercise("ex-a", n * 0.5), exercise("ex-b", (13 - n) * 0.25)]
        if f"student{n}" != NO_EX_C:
            exercises.append(exercise("ex-c", 10.0 if n % 3 == 0 else 2.5 * (n % 3)))  # ties
        students.append(StudentResult.of(f"student{n}", exercises))
    return GradingRun(
        course="Sorting 101", grader_version="0", sandbox="none", seed=0, students=students
    )


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def overview(tmp_path_factory) -> dict[str, Any]:
    require_browser()
    from grader.reports.html_report import render_index, report_filenames

    run = class_run()
    totals = {s.id: s.score for s in run.students}
    assert len(set(totals.values())) == len(totals)  # distinct: one right order by total
    out = tmp_path_factory.mktemp("overview")
    # Only index.html: these tests never follow a link to a student's page.
    index = render_index(run, report_filenames(s.id for s in run.students))
    (out / "index.html").write_text(index, encoding="utf-8")
    return {
        "url": (out / "index.html").as_uri(),
        "totals": totals,
        "ex_c": {s.id: e.score for s in run.students for e in s.exercises if e.id == "ex-c"},
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def open_page(browser: Any, url: str, **options: Any) -> tuple[Any, Any, PageWatch]:
    context = browser.new_context(locale="en-US", viewport=DESKTOP, **options)
    page = context.new_page()
    watch = PageWatch(allowed_url=url)
    watch.attach(page)
    page.goto(url)
    return context, page, watch


@pytest.fixture
def opened(browser, overview) -> Iterator[tuple[Any, PageWatch]]:
    context, page, watch = open_page(browser, overview["url"])
    yield page, watch
    context.close()


# ------------------------------------------------------------------ helpers
def header(page: Any, name: str) -> Any:
    return page.locator("table.scores > thead th").filter(
        has=page.get_by_role("button", name=name, exact=True)
    )


def sort_by(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def order(page: Any) -> list[str]:
    return page.locator("table.scores > tbody > tr > th").all_inner_texts()


def sorted_headers(page: Any) -> dict[str, str]:
    """The text of every header that has aria-sort, with its value."""
    return page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('table.scores thead th[aria-sort]')]
        .map(th => [th.textContent.trim(), th.getAttribute('aria-sort')]))""")


def assert_no_problems(watch: PageWatch) -> None:
    problems = watch.problems()
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ tests
def test_total_sorts_descending_then_ascending(opened, overview) -> None:
    page, watch = opened
    by_total = sorted(overview["totals"], key=overview["totals"].get, reverse=True)
    assert order(page) == [f"student{n}" for n in GRADER_ORDER] and sorted_headers(page) == {}

    sort_by(page, "Total")
    assert order(page) == by_total
    assert sorted_headers(page) == {"Total": "descending"}
    sort_by(page, "Total")
    assert order(page) == by_total[::-1]
    assert sorted_headers(page) == {"Total": "ascending"}
    sort_by(page, "ex-a")  # aria-sort moves: only the sorted column has it
    assert sorted_headers(page) == {"ex-a": "descending"}
    # The footer stays below the students, averages first.
    last = page.locator("table.scores tr").last
    assert last.locator("th").inner_text() == "Median"
    assert_no_problems(watch)


def test_student_names_sort_numerically_and_ties_keep_order(opened, overview) -> None:
    page, watch = opened
    sort_by(page, "Student")
    names = [f"student{n}" for n in range(1, 13)]  # student2 before student10
    assert order(page) == names
    assert sorted_headers(page) == {"Student": "ascending"}
    sort_by(page, "Student")
    assert order(page) == names[::-1]

    sort_by(page, "Student")  # A to Z again, then by ex-c: equal scores stay A to Z
    sort_by(page, "ex-c")
    ex_c = overview["ex_c"]
    expected = sorted(ex_c, key=lambda s: (-ex_c[s], int(s.removeprefix("student"))))
    assert order(page) == [*expected, NO_EX_C]
    assert_no_problems(watch)


def test_missing_result_sorts_last_both_ways(opened) -> None:
    page, watch = opened
    sort_by(page, "ex-c")
    assert order(page)[-1] == NO_EX_C
    assert sorted_headers(page) == {"ex-c": "descending"}
    sort_by(page, "ex-c")
    assert order(page)[-1] == NO_EX_C
    assert sorted_headers(page) == {"ex-c": "ascending"}
    assert_no_problems(watch)


def test_keyboard_sorts_and_buttons_look_like_headers(opened, overview) -> None:
    page, watch = opened
    button = page.get_by_role("button", name="Total", exact=True)
    button.focus()
    page.keyboard.press("Enter")
    assert order(page) == sorted(overview["totals"], key=overview["totals"].get, reverse=True)
    page.keyboard.press("Space")
    assert sorted_headers(page) == {"Total": "ascending"}

    style = button.evaluate("""b => { const s = getComputedStyle(b), th = getComputedStyle(b.parentElement);
        return {outline: s.outlineStyle, border: s.borderTopWidth, background: s.backgroundColor,
                sameFont: s.font === th.font && s.color === th.color}; }""")  # noqa: E501 (JavaScript, kept as written)
    assert style == {
        "outline": "solid",
        "border": "0px",
        "background": "rgba(0, 0, 0, 0)",
        "sameFont": True,
    }
    # The sort state is shown as an arrow (a shape), not only as aria-sort.
    arrow = (
        header(page, "Total")
        .locator(".sort-arrow")
        .evaluate("e => getComputedStyle(e, '::after').content")
    )
    assert arrow == '"\u25b2"'
    assert_no_problems(watch)


def test_no_serious_axe_violations_after_sorting(opened) -> None:
    page, watch = opened
    sort_by(page, "Total")
    sort_by(page, "Student")
    serious = blocking(run_axe(page))
    if serious:
        pytest.fail(f"axe-core on the sorted overview:\n{describe(serious)}", pytrace=False)
    assert_no_problems(watch)


def test_without_script_the_table_is_complete_in_grader_order(browser, overview) -> None:
    context, page, watch = open_page(browser, overview["url"], java_script_enabled=False)
    try:
        assert order(page) == [f"student{n}" for n in GRADER_ORDER]
        assert (
            page.locator("table.scores .sort-arrow").evaluate_all(
                "es => es.map(e => getComputedStyle(e, '::after').content)"
            )
            == ["none"] * 5
        )
        assert_no_problems(watch)
    finally:
        context.close()


def test_score_distribution(opened) -> None:
    from playwright.sync_api import expect

    page, watch = opened
    expect(page.get_by_role("heading", level=2, name="Score distribution")).to_be_visible()
    table = page.locator("details.bins table")
    if not table.is_visible():  # closed when the figure shows the same numbers
        page.locator("details.bins summary").click()
    counts = table.locator("tbody td").all_inner_texts()
    assert len(counts) == 10 and sum(map(int, counts)) == 12
    assert_no_problems(watch)
    figure = page.locator("figure.chart [role=img]")
    expect(figure).to_be_visible()
    expect(figure).to_have_accessible_name(re.compile(r"\S"))


def test_screenshot(opened, tmp_path_factory) -> None:
    """A picture of the sorted table, for a reviewer (and CI artifacts, as test_browser.py)."""
    page, _ = opened
    sort_by(page, "Total")
    folder = Path(os.environ.get("GRADER_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / "overview-sorted-desktop.png", full_page=True)
