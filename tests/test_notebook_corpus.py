"""The notebook corpus (tests/notebook_corpus/): students' notebooks as Jupyter, JupyterLab,
VS Code and Colab save them, each kind of breakage, graded by the real CLI.

The corpus is copied to a temporary folder, the cases too big to commit are generated
there (``inflate_mb``), the whole class is graded once, and every case's verdict is
compared with ``cases.yaml``. Fast tests check the corpus itself: every folder is a case
and every case a folder, and each file is in the format of the tool the case names.
"""

from __future__ import annotations

import ast
import base64
import json
import random
import re
import shutil
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, exercise, results, run_grader

from grader.course.loading import load_course
from grader.results import STATUSES
from grader.submissions.folders import collect

CORPUS = ROOT / "tests" / "notebook_corpus"
SPEC = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
CASES: dict[str, dict[str, Any]] = SPEC["cases"]
COURSE = load_course(ROOT)
FILES = {ex.id: ex.file for ex in COURSE.exercises}
NOT_CASES = {"cases.yaml", "README.md", "ruff.toml"}

TOOLS = (
    "jupyter-notebook-6",
    "jupyterlab-4",
    "vscode",
    "colab",
    "ipython-2",
    "grader-bundle",
    "hand",
    "python",
)
DAMAGES = ("latin-1", "truncated")
CASE_KEYS = {"about", "tool", "damage", "has", "inflate_mb", "expect"}
EXPECT_KEYS = {"status", "score", "file", "message", "notes", "clean", "checks"}
CHECK_KEYS = {"status", "score", "message"}

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# ------------------------------------------------------------------ the corpus itself
def case_folders() -> set[str]:
    return {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def notebook_files(name: str) -> list[Path]:
    return sorted((CORPUS / name).glob("*.ipynb"))


def test_every_case_folder_is_listed_and_every_case_has_a_folder() -> None:
    folders = case_folders()
    assert sorted(folders - set(CASES)) == [], "folders missing from cases.yaml"
    assert sorted(set(CASES) - folders) == [], "cases.yaml names folders that do not exist"
    strays = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.name not in NOT_CASES)
    assert strays == [], "files beside the case folders"


def test_the_corpus_holds_at_least_15_notebooks() -> None:
    import nbformat

    files = [p for name in CASES for p in notebook_files(name)]
    readable = []
    for path in files:
        try:
            nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
        except Exception:
            continue
        readable.append(path)
    assert len(files) >= 15 and len(readable) >= 15, (len(files), len(readable))


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_is_well_formed(name: str) -> None:
    case = CASES[name]
    assert set(case) <= CASE_KEYS, sorted(set(case) - CASE_KEYS)
    assert (
        isinstance(case.get("about"), str)
        and case["about"].strip()
        and "\n" not in case["about"].strip()
    )
    assert case.get("tool") in TOOLS
    assert case.get("damage", "latin-1") in DAMAGES
    assert isinstance(case.get("expect"), dict) and case["expect"]
    folder = CORPUS / name
    for ex_id, want in case["expect"].items():
        assert ex_id in FILES, f"no exercise {ex_id!r}"
        assert set(want) <= EXPECT_KEYS, sorted(set(want) - EXPECT_KEYS)
        assert want.get("status") in STATUSES
        score = want.get("score")
        assert score in ("full", "zero") or (
            isinstance(score, (int, float)) and not isinstance(score, bool)
        )
        for part, spec in (want.get("checks") or {}).items():
            assert set(spec) <= CHECK_KEYS, (part, sorted(set(spec) - CHECK_KEYS))
            assert spec.get("status", "passed") in STATUSES
            if part != "*":
                ex = COURSE.exercise(ex_id)
                assert any(part in c.name for c in ex.checks), (
                    f"{ex_id} has no check named like {part!r}"
                )
        assert any((folder / f"{FILES[ex_id]}{ext}").is_file() for ext in (".py", ".ipynb")), (
            f"{name}/ has no {FILES[ex_id]}.py or .ipynb"
        )
    assert notebook_files(name), f"{name}/ holds no .ipynb file"
    submitted = {p.name for p in folder.iterdir()}
    expected = {f"{FILES[ex_id]}{ext}" for ex_id in case["expect"] for ext in (".py", ".ipynb")}
    assert submitted <= expected, f"files no exercise expects: {sorted(submitted - expected)}"


def _text(path: Path, damage: str | None) -> str:
    raw = path.read_bytes()
    if damage == "latin-1":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        return raw.decode("latin-1")
    return raw.decode("utf-8")


def _lookup(data: Any, path: str) -> tuple[bool, Any]:
    """``data`` at a dotted ``path``; a key may hold dots itself (MIME types do)."""
    if path == "":
        return True, data
    if not isinstance(data, dict):
        return False, None
    for key in sorted(data, key=len, reverse=True):
        if path == key or path.startswith(key + "."):
            found, value = _lookup(data[key], path[len(key) + 1 :])
            if found:
                return found, value
    return False, None


def _code_cells(data: dict) -> list[dict]:
    return [c for c in data.get("cells", []) if c.get("cell_type") == "code"]


def _indent_one_sorted(text: str) -> list[str]:
    """What nbformat (and so Jupyter and VS Code) writes: indent=1, sorted keys."""
    problems = []
    if not text.startswith('{\n "cells": [\n  {\n   "cell_type": '):
        problems.append("not written with indent=1 and sorted keys")
    if not text.endswith("}\n"):
        problems.append("no final newline")
    return problems


def _lines_sources(data: dict) -> list[str]:
    return [
        f"cell {i}: source is not a list of lines"
        for i, c in enumerate(data["cells"], 1)
        if not isinstance(c.get("source"), list)
    ]


def check_jupyter_notebook_6(text: str, data: dict) -> list[str]:
    problems = _indent_one_sorted(text) + _lines_sources(data)
    if (data.get("nbformat"), data.get("nbformat_minor")) != (4, 4):
        problems.append("not nbformat 4.4")
    if any("id" in c for c in data["cells"]):
        problems.append("cell ids (Notebook 6 writes nbformat 4.4, without them)")
    if data["metadata"].get("kernelspec", {}).get("display_name") != "Python 3":
        problems.append("kernelspec is not Notebook 6's")
    return problems


def check_jupyterlab_4(text: str, data: dict) -> list[str]:
    problems = _indent_one_sorted(text) + _lines_sources(data)
    if (data.get("nbformat"), data.get("nbformat_minor")) != (4, 5):
        problems.append("not nbformat 4.5")
    if not all(UUID.match(str(c.get("id", ""))) for c in data["cells"]):
        problems.append("cell ids are not JupyterLab's uuids")
    if len({c.get("id") for c in data["cells"]}) != len(data["cells"]):
        problems.append("cell ids repeat")
    if data["metadata"].get("kernelspec", {}).get("display_name") != "Python 3 (ipykernel)":
        problems.append("kernelspec is not ipykernel's")
    if "version" not in data["metadata"].get("language_info", {}):
        problems.append("language_info without a version")
    if not all("execution_count" in c and "outputs" in c for c in _code_cells(data)):
        problems.append("code cells without execution_count or outputs")
    return problems


def check_vscode(text: str, data: dict) -> list[str]:
    problems = _indent_one_sorted(text) + _lines_sources(data)
    if not all(re.fullmatch(r"[0-9a-f]{8}", str(c.get("id", ""))) for c in data["cells"]):
        problems.append("cell ids are not VS Code's 8 hex digits")
    meta = data["metadata"]
    if (
        "vscode" not in meta
        or "kernelspec" not in meta
        or "version" not in meta.get("language_info", {})
    ):
        problems.append("metadata lacks vscode, kernelspec or language_info.version")
    return problems


def check_colab(text: str, data: dict) -> list[str]:
    problems = []
    if not text.startswith(
        '{\n  "nbformat": 4,\n  "nbformat_minor": 0,\n  "metadata": {\n    "colab": {'
    ):
        problems.append(
            "not Colab's layout (2-space indent, nbformat first, metadata before cells)"
        )
    if not isinstance(data["metadata"].get("colab", {}).get("provenance"), list):
        problems.append("no metadata.colab.provenance")
    if data["metadata"].get("kernelspec") != {"name": "python3", "display_name": "Python 3"}:
        problems.append("kernelspec is not Colab's")
    for i, cell in enumerate(data["cells"], 1):
        if "id" in cell or not re.fullmatch(
            r"[A-Za-z0-9_-]{12}", str(cell.get("metadata", {}).get("id", ""))
        ):
            problems.append(f"cell {i}: no Colab metadata.id")
        if list(cell)[:3] != ["cell_type", "source", "metadata"]:
            problems.append(f"cell {i}: keys not in Colab's order")
        if cell.get("outputs") and "outputId" not in cell["metadata"]:
            problems.append(f"cell {i}: outputs without metadata.outputId")
    return problems


def check_ipython_2(text: str, data: dict) -> list[str]:
    problems = []
    if data.get("nbformat") != 3 or "cells" in data or not isinstance(data.get("worksheets"), list):
        problems.append("not nbformat 3 (worksheets)")
    cells = [c for ws in data.get("worksheets", []) for c in ws.get("cells", [])]
    code = [c for c in cells if c.get("cell_type") == "code"]
    if not code or not all("input" in c and "language" in c and "source" not in c for c in code):
        problems.append("code cells are not nbformat 3's (input, language)")
    if not any(c.get("cell_type") == "heading" for c in cells):
        problems.append("no heading cell")
    return problems


def check_grader_bundle(text: str, data: dict) -> list[str]:
    from grader.course.build import notebook_text

    ex_id = data.get("metadata", {}).get("grader", {}).get("exercise")
    if ex_id not in FILES:
        return ["metadata.grader.exercise names no exercise"]
    if text != notebook_text(COURSE.exercise(ex_id)):
        return [f"not the {ex_id} stub as `grader build` writes it"]
    return []


def check_hand(text: str, data: Any) -> list[str]:
    return []


def check_python(text: str, data: Any) -> list[str]:
    ast.parse(text)
    return []


FORMAT_CHECKS = {
    "jupyter-notebook-6": check_jupyter_notebook_6,
    "jupyterlab-4": check_jupyterlab_4,
    "vscode": check_vscode,
    "colab": check_colab,
    "ipython-2": check_ipython_2,
    "grader-bundle": check_grader_bundle,
    "hand": check_hand,
    "python": check_python,
}
assert set(FORMAT_CHECKS) == set(TOOLS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_notebook_is_in_its_tool_s_format(name: str) -> None:
    case = CASES[name]
    tool, damage = case["tool"], case.get("damage")
    for path in notebook_files(name):
        text = _text(path, damage)
        if tool == "python":
            with pytest.raises(ValueError):
                json.loads(text)
            check_python(text, None)
            continue
        if damage == "truncated":
            with pytest.raises(ValueError):
                json.loads(text)
            assert text.startswith('{\n "cells": [\n  {\n   "cell_type": '), (
                "not the start of a notebook"
            )
            continue
        data = json.loads(text)
        if tool == "hand":
            continue
        assert isinstance(data, dict)
        problems = FORMAT_CHECKS[tool](text, data)
        for path_spec in case.get("has", []):
            key, _, value = path_spec.partition("=")
            found, got = _lookup(data, key)
            if not found:
                problems.append(f"no {key}")
            elif value and str(got) != value:
                problems.append(f"{key} is {got!r}, not {value!r}")
        assert problems == [], f"{path.relative_to(CORPUS)} ({tool})"


def test_the_corpus_covers_every_tool_and_every_status() -> None:
    assert {c["tool"] for c in CASES.values()} == set(TOOLS)
    statuses = {want["status"] for c in CASES.values() for want in c["expect"].values()}
    assert statuses == set(STATUSES) - {"missing"}


# ------------------------------------------------------------------ generated cases
def png(width: int, height: int, seed: int) -> bytes:
    """A valid PNG of random RGB noise (stored nearly uncompressed: noise does not shrink)."""
    rows = random.Random(seed).randbytes(height * (1 + 3 * width))
    raw = bytearray(rows)
    raw[:: 1 + 3 * width] = bytes(height)  # filter byte 0 at the start of each row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 1))
        + chunk(b"IEND", b"")
    )


def inflate(path: Path, megabytes: int) -> int:
    """Add display_data PNG outputs (about 5 MB of base64 each) to the notebook's first
    cell that has an image, until the file holds ``megabytes`` MB; saved as JupyterLab
    saves. Returns the new size in bytes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cell = next(
        c
        for c in data["cells"]
        if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))
    )
    image = base64.b64encode(png(1100, 1100, seed=7)).decode("ascii") + "\n"
    size = path.stat().st_size
    while size < megabytes * 10**6:
        cell["outputs"].append(
            {
                "data": {"image/png": image, "text/plain": ["<Figure size 1100x1100 with 1 Axes>"]},
                "metadata": {},
                "output_type": "display_data",
            }
        )
        size += len(image) + 200
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path.stat().st_size


# ------------------------------------------------------------------ grading
@pytest.fixture(scope="module")
def graded(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Any]:
    subs = tmp_path_factory.mktemp("corpus") / "submissions"
    shutil.copytree(
        CORPUS, subs, ignore=shutil.ignore_patterns(*NOT_CASES, ".*")
    )  # bytes as they are
    sizes = {}
    for name, case in CASES.items():
        if case.get("inflate_mb"):
            for path in sorted((subs / name).glob("*.ipynb")):
                sizes[name] = inflate(path, int(case["inflate_mb"]))
    out = tmp_path_factory.mktemp("reports")
    started = time.monotonic()
    proc = run_grader("grade", str(subs), "--out", str(out))
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    seconds, read_seconds = {}, {}
    for name in sizes:
        # The job's time, from the grader's line for the student: "big_outputs: 8/119 (2.1 s)".
        found = re.search(rf"\b{re.escape(name)}: \S+ \(([\d.]+) s\)", log)
        seconds[name] = float(found.group(1)) if found else None
        # Reading the notebook in the grader's process (JSON, nbformat), before the job.
        started = time.monotonic()
        submission = collect(subs / name, COURSE)
        read_seconds[name] = round(time.monotonic() - started, 2)
        assert all(f.path is not None for f in submission.files.values() if f.kind == "ipynb"), name
    lines = [f"notebook corpus: {len(CASES)} cases graded in {wall:.1f} s"]
    lines += [
        f"notebook corpus: {name} ({sizes[name] / 10**6:.1f} MB): its job took {seconds[name]} s, "
        f"reading it {read_seconds[name]} s"
        for name in sizes
    ]
    _show(request, lines)
    return {
        "data": results(out),
        "wall": wall,
        "sizes": sizes,
        "seconds": seconds,
        "read_seconds": read_seconds,
    }


def _show(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Print on the terminal even while pytest captures output (the timings must be seen)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


def _points(score: Any, max_score: float) -> float:
    return {"full": max_score, "zero": 0.0}.get(score, score)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def verdict_problems(got: dict, want: dict) -> list[str]:
    """How an exercise's result differs from its expectation (empty when it matches)."""
    problems = []
    if got["status"] != want["status"]:
        problems.append(f"status is {got['status']!r}, expected {want['status']!r}")
    points = _points(want["score"], got["max_score"])
    if want["score"] == "full" and not got["max_score"] > 0:
        problems.append("max_score is 0")
    if abs(got["score"] - points) > 1e-6:
        problems.append(f"score is {got['score']:g}/{got['max_score']:g}, expected {points:g}")
    if "file" in want and got["file"] != want["file"]:
        problems.append(f"graded file is {got['file']!r}, expected {want['file']!r}")
    for part in _as_list(want.get("message", [])):
        if part not in got["message"]:
            problems.append(f"message lacks {part!r}")
    for item in want.get("notes", []):
        parts = _as_list(item)
        if not any(all(p in note for p in parts) for note in got["notes"]):
            problems.append(f"no note holds {' and '.join(map(repr, parts))}")
    if want.get("clean") and got["notes"]:
        problems.append("notes, expected none")
    for part, spec in (want.get("checks") or {}).items():
        chosen = [c for c in got["checks"] if part == "*" or part in c["name"]]
        if not chosen:
            problems.append(f"no check named like {part!r}")
        for c in chosen:
            if "status" in spec and c["status"] != spec["status"]:
                problems.append(
                    f"check {c['name']!r} is {c['status']!r}, expected {spec['status']!r}"
                )
            if "score" in spec and abs(c["score"] - _points(spec["score"], c["max_score"])) > 1e-6:
                problems.append(
                    f"check {c['name']!r} scored {c['score']:g}/{c['max_score']:g}, "
                    f"expected {spec['score']}"
                )
            if "message" in spec and spec["message"] not in c["message"]:
                problems.append(
                    f"check {c['name']!r} message lacks {spec['message']!r}: {c['message']!r}"
                )
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_gets_its_expected_verdict(graded: dict[str, Any], name: str) -> None:
    data = graded["data"]
    problems = []
    for ex in COURSE.exercises:
        got = exercise(data, name, ex.id)
        want = CASES[name]["expect"].get(ex.id, {"status": "missing", "score": "zero"})
        found = verdict_problems(got, want)
        if found:
            shown = {
                "status": got["status"],
                "score": got["score"],
                "message": got["message"],
                "notes": got["notes"],
                "file": got["file"],
            }
            problems.append(
                f"{ex.id}: {'; '.join(found)}\n    got {json.dumps(shown, ensure_ascii=False)}"
            )
    assert not problems, f"{name}: {CASES[name]['about']}\n" + "\n".join(problems)


@pytest.mark.slow
def test_big_notebooks_are_graded_and_timed(graded: dict[str, Any], record_property: Any) -> None:
    assert graded["sizes"], "no generated case"
    for name, size in graded["sizes"].items():
        megabytes = CASES[name]["inflate_mb"]
        assert size >= megabytes * 10**6, f"{name} was inflated to {size} bytes only"
        record_property(f"{name}_bytes", size)
        record_property(f"{name}_seconds", graded["seconds"][name])
        record_property(f"{name}_read_seconds", graded["read_seconds"][name])
        assert graded["seconds"][name] is not None, f"no timing line for {name} in the grader's log"
    record_property("corpus_wall_seconds", round(graded["wall"], 1))
