"""The class overview's data and markup: score bins, medians, sort keys (no browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from markupsafe import escape

from grader.reports import overview
from grader.reports.html_report import render_index, report_filenames
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult

EVIL_ID = "evil\"quote' <b>bold</b> & co"


def exercise(ex_id: str, score: float, max_score: float = 10.0) -> ExerciseResult:
    status = "passed" if score == max_score else "failed"
    check = CheckResult(name="c", score=score, max_score=max_score, status=status, message="m")
    return ExerciseResult(
        id=ex_id,
        title=ex_id.upper(),
        score=score,
        max_score=max_score,
        status=status,
        checks=[check],
    )


def make_run(students: dict[str, list[ExerciseResult]]) -> GradingRun:
    return GradingRun(
        course="C",
        grader_version="0",
        sandbox="none",
        seed=0,
        students=[StudentResult.of(s, exs) for s, exs in students.items()],
    )


def totals_run(totals: list[float], max_score: float = 10.0) -> GradingRun:
    return make_run({f"s{i}": [exercise("ex", t, max_score)] for i, t in enumerate(totals)})


def counts(run: GradingRun) -> list[int]:
    return [n for _, n in overview.score_bins(run)]


# ------------------------------------------------------------------ score bins
def test_bins_are_tenths_with_labels() -> None:
    bins = overview.score_bins(totals_run([5.0]))
    assert [label for label, _ in bins][:2] == ["0\u201310 %", "10\u201320 %"]
    assert bins[-1] == ("90\u2013100 %", 0)
    assert counts(totals_run([5.0])) == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("score", "max_score", "index"),
    [
        (0.0, 10.0, 0),  # 0 %
        (0.99, 10.0, 0),  # just under 10 %
        (1.0, 10.0, 1),  # exactly 10 %: a bin holds its lower bound
        (0.3, 3.0, 1),  # 10 % again, which float division makes 9.999...%
        (9.99, 10.0, 9),
        (10.0, 10.0, 9),  # 100 % is in the last bin, not an eleventh
        (12.0, 10.0, 9),  # bonus points above the maximum
    ],
)
def test_bin_edges(score: float, max_score: float, index: int) -> None:
    expected = [0] * 10
    expected[index] = 1
    assert counts(totals_run([score], max_score)) == expected


def test_bins_count_every_student() -> None:
    assert counts(totals_run([0, 1, 1, 2.5, 10, 10, 10])) == [1, 2, 1, 0, 0, 0, 0, 0, 0, 3]


def test_no_bins_without_a_percentage() -> None:
    assert overview.score_bins(totals_run([])) == []
    assert overview.score_bins(totals_run([0.0], max_score=0.0)) == []  # 0 of 0: no share


def test_bins_share_one_maximum_with_the_figure() -> None:
    """Shares are of the class's maximum, the one the figure is given, so the two agree
    even for a student whose own maximum is lower (an exercise without a result)."""
    run = make_run({"a": [exercise("ex1", 5.0), exercise("ex2", 5.0)], "b": [exercise("ex1", 5.0)]})
    assert counts(run) == [0, 0, 1, 0, 0, 1, 0, 0, 0, 0]  # b: 5 of 20, not 5 of 10


# ------------------------------------------------------------------ the rendered index
class Cells(HTMLParser):
    """The attributes of every cell of table.scores, row by row (tbody and tfoot)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[dict[str, Any]]] = []
        self.buttons: list[str] = []
        self.in_scores = self.in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.in_scores = ("class", "scores") in attrs
        elif self.in_scores and tag == "tr":
            self.rows.append([])
        elif self.in_scores and tag in ("td", "th"):
            self.rows[-1].append({**dict(attrs), "text": ""})
        elif self.in_scores and tag == "button":
            self.in_button = True
            self.buttons.append(dict(attrs).get("type") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_scores = False
        elif tag == "button":
            self.in_button = False

    def handle_data(self, data: str) -> None:
        if self.in_scores and self.rows and self.rows[-1]:
            self.rows[-1][-1]["text"] += data.strip()


def class_run() -> GradingRun:
    return make_run(
        {
            "student10": [exercise("ex1", 10.0), exercise("ex2", 2.5)],
            EVIL_ID: [exercise("ex1", 4.0), exercise("ex2", 0.0)],
            "student2": [exercise("ex1", 7.0)],  # no ex2 result: "—"
        }
    )


def render(run: GradingRun) -> str:
    return render_index(run, report_filenames(s.id for s in run.students))


def test_sort_keys_match_the_scores() -> None:
    run = class_run()
    cells = Cells()
    cells.feed(render(run))
    header, *body = cells.rows
    assert cells.buttons == ["button"] * 4  # Student, ex1, ex2, Total
    assert [c["data-sort-type"] for c in header] == ["text", "number", "number", "number"]
    assert all("aria-sort" not in c for c in header)  # the grader's order: not sorted yet
    students, footer = body[:3], body[3:]
    for student, row in zip(run.students, students, strict=True):
        by_id = {e.id: e.score for e in student.exercises}
        keys = [c.get("data-sort") for c in row]
        assert keys[0] == student.id  # the id itself, unescaped again by the parser
        assert [None if k is None else float(k) for k in keys[1:]] == [
            by_id.get("ex1"),
            by_id.get("ex2"),
            student.score,
        ]
    assert students[2][2]["text"] == "\u2014" and "data-sort" not in students[2][2]
    # The footer: averages, then medians; neither has sort keys.
    assert [r[0]["text"] for r in footer] == ["Average", "Median"]
    assert [c["text"] for c in footer[1]] == ["Median", "7", "1.25", "7"]  # totals 12.5, 4, 7
    assert all("data-sort" not in c for r in footer for c in r)


def test_student_ids_are_escaped_in_sort_keys() -> None:
    html = render(class_run())
    assert 'data-sort="evil&#34;quote&#39; &lt;b&gt;bold&lt;/b&gt; &amp; co"' in html
    assert "<b>bold" not in html


def test_distribution_section() -> None:
    html = render(class_run())
    assert '<h2 id="distribution">Score distribution</h2>' in html
    assert "<summary>Score distribution as a table</summary>" in html
    # Totals 12.5, 4 and 7 of 20: 62.5 %, 20 % and 35 %.
    rows = re.findall(r'<tr><th scope="row">(\d+)\u2013\d+ %</th><td class="num">(\d+)</td>', html)
    assert [int(n) for _, n in rows] == [0, 0, 1, 1, 0, 0, 1, 0, 0, 0]


def test_distribution_table_is_open_without_a_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overview, "distribution_figure", lambda run: None)
    html = render(class_run())
    assert '<figure class="chart">' not in html
    assert '<details class="bins" open>' in html  # the table is all there is


def test_distribution_figure_is_rendered() -> None:
    run = class_run()
    figure = overview.distribution_figure(run)
    assert figure is not None and f"{len(run.students)} students" in figure.description
    html = render(run)
    assert (
        f'<figure class="chart"><div class="chart-img">{figure.markup}</div>'
        f'<figcaption aria-hidden="true">{escape(figure.caption)}</figcaption></figure>'
    ) in html
    assert '<details class="bins"><summary>' in html  # closed: the figure shows it already


def test_empty_class_has_no_distribution_or_script() -> None:
    run = make_run({})
    assert overview.distribution_figure(run) is None
    html = render(run)
    assert 'id="distribution"' not in html and "<details" not in html
    assert "<script" not in html  # nothing to sort
