"""`grader similarity`'s comparison (grader/similarity/detect.py, texts.py) on a class made
by tests/similarity_corpus.py, where who copied whom is known: copies rank above
independent solutions, untouched stubs are similar to nothing, and the all-pairs measure
is copydetect's own. Fast: no sandbox, no browser."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
import similarity_corpus as corpus
from copydetect.detector import compare_files

from grader.course.loading import load_course
from grader.course.model import Course
from grader.similarity import detect
from grader.similarity.run import similarity
from grader.similarity.texts import MAX_CODE_CHARS, class_code, course_texts

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = sorted(corpus.INDEPENDENT)


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT, resolve_helpers=False)


@pytest.fixture(scope="module")
def made(course: Course, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("class")
    corpus.build(root, course)
    return root


@pytest.fixture(scope="module")
def found(course: Course, made: Path) -> dict[str, detect.ExerciseSimilarity]:
    result = similarity(course, made, top=100)
    assert result.skipped == []
    return {ex.exercise: ex for _, ex in result.exercises}


def _file_id(course: Course, name: str) -> str:
    return next(ex.id for ex in course.exercises if ex.file == name)


def _scores(ex: detect.ExerciseSimilarity) -> dict[frozenset[str], float]:
    return {frozenset((p.a.student, p.b.student)): p.similarity for p in ex.pairs}


@pytest.mark.parametrize("name", EXERCISES)
def test_copies_rank_above_every_independent_solution(
    name: str, course: Course, found: dict[str, detect.ExerciseSimilarity]
) -> None:
    ex = found[_file_id(course, name)]
    scores = _scores(ex)
    copies = [scores.get(frozenset(p), 0.0) for p in itertools.combinations(corpus.COPIES, 2)]
    independent = [scores.get(frozenset(("independent", s)), 0.0) for s in corpus.COPIES]
    # Renamed names, reordered functions, a notebook with outputs: still found...
    assert min(copies) >= 0.7, scores
    # ...and another correct solution, written separately, is far below any of them.
    assert max(independent) <= 0.35, scores
    assert min(copies) - max(independent) >= 0.4, scores
    ranked = [frozenset((p.a.student, p.b.student)) for p in ex.pairs]
    assert set(ranked[:6]) == {frozenset(p) for p in itertools.combinations(corpus.COPIES, 2)}


@pytest.mark.parametrize("name", EXERCISES)
def test_untouched_stubs_are_similar_to_nothing(
    name: str, course: Course, found: dict[str, detect.ExerciseSimilarity]
) -> None:
    ex = found[_file_id(course, name)]
    assert ex.files == len(corpus.COPIES) + 1 + len(corpus.STUBS)
    assert ex.own == ex.files - len(corpus.STUBS)  # the stubs hold nothing of their own
    for pair in ex.pairs:
        assert {pair.a.student, pair.b.student}.isdisjoint(corpus.STUBS), pair


def test_exercises_nobody_handed_in_have_no_pairs(
    course: Course, found: dict[str, detect.ExerciseSimilarity]
) -> None:
    empty = [ex for ex in course.exercises if ex.file not in corpus.INDEPENDENT]
    assert empty
    for ex in empty:
        assert (found[ex.id].files, found[ex.id].pairs, found[ex.id].median) == (0, [], 0.0)


def test_all_pairs_at_once_is_copydetect_compare_files(course: Course, made: Path) -> None:
    """The batched measure that ranks every pair equals copydetect's own, pair by pair."""
    codes = class_code(sorted(made.iterdir()), course, [])
    for ex in course.exercises:
        excluded = detect.boilerplate(course_texts(ex))
        prints = [detect._fingerprint(c.text, excluded) for c in codes[ex.id]]
        matrix = detect.overlaps(prints)
        for a, b in itertools.permutations(range(len(prints)), 2):
            _, (share_a, _), _ = compare_files(prints[a], prints[b])
            expected = share_a * prints[a].token_coverage
            assert matrix[a, b] == pytest.approx(expected), (ex.id, a, b)


def test_pairs_shown_carry_copydetect_shares_and_regions(
    course: Course, found: dict[str, detect.ExerciseSimilarity]
) -> None:
    ex = found[_file_id(course, "training_loop")]
    top = ex.pairs[0]
    assert top.similarity == pytest.approx(1.0)
    assert top.share_a == pytest.approx(1.0) and top.share_b == pytest.approx(1.0)
    for code, spans in ((top.a, top.spans_a), (top.b, top.spans_b)):
        assert spans and all(0 <= s < e <= len(code.text) for s, e in spans)
        shared = "".join(code.text[s:e] for s, e in spans)
        assert "optimizer" in shared or "zero_grad" in shared


def test_a_notebook_is_compared_by_its_code_cells_only(course: Course, made: Path) -> None:
    codes = class_code([made / "notebook"], course, [])
    [code] = codes[_file_id(course, "training_loop")]
    assert code.name == "training_loop.ipynb"
    assert "xxxxxxxx" not in code.text  # the saved outputs
    assert "My work" not in code.text  # the markdown cell
    assert [label for _, label in code.cells] == [
        "cell 2 (In [1])",
        "cell 3 (In [2])",
    ]
    assert code.text[code.cells[1][0] :].startswith("def train(")


def test_identical_outputs_do_not_make_notebooks_similar(course: Course, tmp_path: Path) -> None:
    """Two different solutions whose notebooks hold the very same (long) outputs."""
    for student, source in (
        ("one", (ROOT / "solutions" / "training_loop.py").read_text()),
        ("two", corpus.INDEPENDENT["training_loop"]),
    ):
        (tmp_path / student).mkdir()
        (tmp_path / student / "training_loop.ipynb").write_text(corpus.notebook(source))
    [pair] = next(ex for _, ex in similarity(course, tmp_path).exercises if ex.pairs).pairs
    assert pair.similarity <= 0.35


def test_a_broken_file_is_skipped_with_a_line_and_the_rest_compared(
    course: Course, tmp_path: Path
) -> None:
    solution = (ROOT / "solutions" / "training_loop.py").read_text()
    for student in ("ann", "bob"):
        (tmp_path / student).mkdir()
        (tmp_path / student / "training_loop.py").write_text(solution)
    bad = {
        "not_json": ("training_loop.ipynb", b"{ this is not json"),
        "not_utf8": ("training_loop.py", b"def f():\n    return '\xff\xfe'\n"),
        "deep": ("training_loop.ipynb", b"[" * 100_000),
        "huge": ("training_loop.py", b"x = 1\n" * (MAX_CODE_CHARS // 6 + 1)),
        "no_code": ("training_loop.ipynb", json.dumps({"cells": [], "nbformat": 4}).encode()),
    }
    for student, (name, data) in bad.items():
        (tmp_path / student).mkdir()
        (tmp_path / student / name).write_bytes(data)
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "training_loop.py").symlink_to(tmp_path / "ann" / "training_loop.py")
    result = similarity(course, tmp_path)
    ex = next(ex for _, ex in result.exercises if ex.exercise == "training-loop")
    assert ex.files == 2
    assert [(p.a.student, p.b.student) for p in ex.pairs] == [("ann", "bob")]
    said = "\n".join(result.skipped)
    for student in (*bad, "linked"):
        assert f"{student}, training-loop: not compared: " in said, said
    assert f"over the limit of {MAX_CODE_CHARS:,}" in said
    assert "not UTF-8" in said and "not valid JSON" in said and "link" in said


def test_a_tiny_answer_in_a_stub_does_not_read_as_a_copy_of_a_whole_solution(
    course: Course, tmp_path: Path
) -> None:
    """The pair's similarity weighs both files by size: one short shared line in a
    mostly untouched stub is not 'the same' as a full solution that contains it."""
    from grader.course.stubs import stub_source

    ex = next(e for e in course.exercises if e.file == "prepare_data")
    full = (ROOT / "solutions" / "prepare_data.py").read_text()
    head, defs = corpus._blocks(full)
    tiny = stub_source(ex, fill={"split_features_target": defs[0]})
    for student, text in (("full", full), ("tiny", tiny)):
        (tmp_path / student).mkdir()
        (tmp_path / student / "prepare_data.py").write_text(text)
    [pair] = next(r for _, r in similarity(course, tmp_path).exercises if r.pairs).pairs
    tiny_share, full_share = (
        (pair.share_a, pair.share_b) if pair.a.student == "tiny" else (pair.share_b, pair.share_a)
    )
    assert tiny_share > 0.6 and full_share < 0.5
    assert full_share < pair.similarity < tiny_share


def test_windows_line_ends_and_leading_blank_lines_do_not_shift_the_regions(
    course: Course, tmp_path: Path
) -> None:
    """Pygments reads CRLF as LF and drops leading blank lines; copydetect places regions
    along its tokens, so the text compared and shown is normalized the same way first."""
    solution = (ROOT / "solutions" / "training_loop.py").read_text()
    (tmp_path / "win").mkdir()
    (tmp_path / "win" / "training_loop.py").write_bytes(
        ("\n\n \n" + solution).replace("\n", "\r\n").encode()
    )
    (tmp_path / "unix").mkdir()
    (tmp_path / "unix" / "training_loop.py").write_text(solution)
    [pair] = next(r for _, r in similarity(course, tmp_path).exercises if r.pairs).pairs
    assert pair.similarity == pytest.approx(1.0)
    for code, spans in ((pair.a, pair.spans_a), (pair.b, pair.spans_b)):
        assert "\r" not in code.text and code.text.startswith('"""Reference solution')
        start, end = spans[0]
        assert code.text[start:].startswith("def train(")
        assert code.text[:end].rstrip().endswith("return losses")


def test_lines_of_white_space_cost_no_more_than_any_other_text(
    course: Course, tmp_path: Path
) -> None:
    """Pygments' Python lexer takes quadratic time over a run of lines holding only
    white space (8,000 of them: about ten seconds); such lines are emptied first."""
    solution = (ROOT / "solutions" / "training_loop.py").read_text()
    padded = solution.replace("\n\n", "\n" + " \n\t\n" * 12_000 + "\n", 1)
    assert len(padded) < MAX_CODE_CHARS
    for student, text in (("padded", padded), ("plain", solution)):
        (tmp_path / student).mkdir()
        (tmp_path / student / "training_loop.py").write_text(text)
    start = time.perf_counter()
    [pair] = next(r for _, r in similarity(course, tmp_path).exercises if r.pairs).pairs
    assert time.perf_counter() - start < 20  # about 3 s; unguarded, many minutes
    assert pair.similarity == pytest.approx(1.0)
