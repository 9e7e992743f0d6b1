"""`grader similarity` as a real process: its files, its lines on stderr, its exit status."""

from __future__ import annotations

import json
from pathlib import Path

import similarity_corpus as corpus
from conftest import ROOT, run_grader

from grader.course.loading import load_course


def test_similarity_writes_the_page_and_the_json_beside_it(tmp_path: Path) -> None:
    made = tmp_path / "class"
    made.mkdir()
    corpus.build(made, load_course(ROOT, resolve_helpers=False))
    (made / "broken").mkdir()
    (made / "broken" / "activations.ipynb").write_text("{ not a notebook")
    out = tmp_path / "out" / "similarity.html"
    proc = run_grader("similarity", str(made), "--out", str(out), "--top", "3", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("grader: broken, activations: not compared: activations.ipynb")
    assert lines[-1] == (
        f"compared 8 students' code, exercise by exercise; wrote {out} and "
        f"{out.with_suffix('.json')} (a signal to read, never a score)"
    )
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["students"] == 8
    assert data["settings"]["pairs_kept_per_exercise"] == 3
    ex = next(e for e in data["exercises"] if e["id"] == "activations")
    assert len(ex["pairs"]) == 3
    for pair in ex["pairs"]:
        assert {pair["a"]["student"], pair["b"]["student"]} <= set(corpus.COPIES)
    assert "Not a score." in out.read_text()
    assert not list(out.parent.glob(".*.tmp"))  # atomic writes leave no temp file


def test_similarity_refuses_an_out_that_is_not_a_page(tmp_path: Path) -> None:
    proc = run_grader("similarity", str(tmp_path), "--out", str(tmp_path / "s.json"))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        f"--out names the HTML page (say reports/similarity.html), not {tmp_path / 's.json'}"
    )


def test_similarity_of_a_missing_folder_fails_with_one_line(tmp_path: Path) -> None:
    proc = run_grader("similarity", str(tmp_path / "nope"), "--out", str(tmp_path / "s.html"))
    assert proc.returncode == 2
    assert proc.stderr == f"grader: {tmp_path / 'nope'} is not a folder of submissions\n"
    assert not (tmp_path / "s.html").exists()
