"""The similarity report (grader/similarity/report.py): students' text is shown as text, the
page is self-contained and says it is no score, regions are named by line (and cell), and
long files are folded. Fast: the page is read as text (tests/similarity/test_browser.py
opens it in Chromium)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from similarity_corpus import HOSTILE_NAME, hostile_class

from grader.course.loading import load_course
from grader.course.model import Course
from grader.similarity import report
from grader.similarity.run import similarity
from grader.similarity.texts import StudentCode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT, resolve_helpers=False)


@pytest.fixture(scope="module")
def written(course: Course, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    root = hostile_class(tmp_path_factory.mktemp("class"))
    out = tmp_path_factory.mktemp("out")
    report.write(similarity(course, root), out / "s.html", out / "s.json")
    html = (out / "s.html").read_text(encoding="utf-8")
    return html, json.loads((out / "s.json").read_text(encoding="utf-8"))


def test_student_text_in_the_page_is_shown_as_text(written: tuple[str, dict]) -> None:
    html, _ = written
    assert "<script" not in html.lower()  # neither the student's nor any of the page's own
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;copied&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\x1b" not in html and "\ud800" not in html


def test_the_page_is_self_contained_and_allows_no_script(written: tuple[str, dict]) -> None:
    html, _ = written
    assert "default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<link" not in html


def test_page_and_json_say_it_is_a_signal_never_a_score(written: tuple[str, dict]) -> None:
    html, data = written
    assert "Not a score." in html
    assert "never a score" in html and "never a score" in data["notice"]


def test_the_json_names_each_shared_region_by_lines_and_cell(written: tuple[str, dict]) -> None:
    _, data = written
    ex = next(e for e in data["exercises"] if e["id"] == "training-loop")
    assert (ex["files"], ex["files_with_own_code"], ex["pairs_compared"]) == (2, 2, 1)
    [pair] = ex["pairs"]
    assert pair["similarity"] > 0.9
    sides = {pair[k]["student"]: pair[k] for k in ("a", "b")}
    assert set(sides) == {HOSTILE_NAME, "bob"}
    assert sides["bob"]["file"] == "training_loop.ipynb"
    assert sides["bob"]["regions"][0]["cell"] == "cell 1 (In [1])"
    # Line 7, `def train(`: the docstring and imports above it are the stub's own text.
    assert sides["bob"]["regions"][0]["first_line"] == 7
    assert sides[HOSTILE_NAME]["regions"][0]["first_line"] == 7
    assert "cell" not in sides[HOSTILE_NAME]["regions"][0]
    empty = next(e for e in data["exercises"] if e["id"] == "tensor-ops")
    assert (empty["files"], empty["pairs"]) == (0, [])


def _code(text: str, cells: list[tuple[int, str]] | None = None) -> StudentCode:
    return StudentCode("ann", "x", "x.py", text, cells or [])


def test_lines_far_from_a_shared_region_are_folded() -> None:
    text = "".join(f"line{i}\n" for i in range(40))
    start = text.index("line20")
    rows = report.rows(_code(text), [(start, start + len("line20\nline21"))])
    numbers = [r["number"] for r in rows if "number" in r]
    assert numbers == list(range(18, 26))  # lines 21-22 (1-based) and 3 either side
    assert rows[0] == {"folded": 17} and rows[-1] == {"folded": 40 - 25}
    shared = [t for r in rows if "pieces" in r for t, hit in r["pieces"] if hit]
    assert shared == ["line20", "line21"]


def test_a_long_shared_file_is_cut_short_in_the_page() -> None:
    text = "x = 1\n" * (report.MAX_SHOWN_LINES * 3)
    rows = report.rows(_code(text), [(0, len(text))])
    assert sum(1 for r in rows if "number" in r) <= report.MAX_SHOWN_LINES
    assert rows[-1]["folded"] > report.MAX_SHOWN_LINES


def test_notebook_lines_are_numbered_within_their_cell() -> None:
    text = "a = 1\nb = 2\n\nc = 3\n"
    code = _code(text, [(0, "cell 1 (In [1])"), (13, "cell 3 (In [2])")])
    rows = report.rows(code, [(0, len(text))])
    assert [r.get("cell") or r.get("number") for r in rows] == [
        "cell 1 (In [1])",
        1,
        2,
        3,
        "cell 3 (In [2])",
        1,
    ]
    regions = report.regions(code, [(0, len(text))])
    assert regions == [
        {"first_line": 1, "last_line": 2, "cell": "cell 1 (In [1])"},
        {"first_line": 1, "last_line": 1, "cell": "cell 3 (In [2])"},
    ]


def test_a_cell_is_named_again_after_folded_lines_skip_into_it() -> None:
    first = "".join(f"a{i} = {i}\n" for i in range(10))
    text = first + "\n" + "".join(f"b{i} = {i}\n" for i in range(10))
    second = len(first) + 1
    code = _code(text, [(0, "cell 1 (In [1])"), (second, "cell 2 (In [2])")])
    start = text.index("b8")
    rows = report.rows(code, [(0, 3), (start, start + 2)])
    heads = [(i, r["cell"]) for i, r in enumerate(rows) if "cell" in r]
    assert [name for _, name in heads] == ["cell 1 (In [1])", "cell 2 (In [2])"]
    after = rows[heads[1][0] + 1 :]
    assert [r.get("number") for r in after if "number" in r] == [6, 7, 8, 9, 10]
