"""The student bundle (``grader build``), built from the real course at the repo root.

What is checked: one FILE.py and one FILE.ipynb per exercise; notebooks valid under
nbformat, with the roles of their cells; the .py stubs compile, import, define every
entry point and raise NotImplementedError; FILE.py lists the visible examples as
comments and, run itself, says how to try them; ``grader check`` runs them from the
bundle; an untouched stub is recognised, from this bundle or an older one (whose main
block ran the examples); the build is deterministic; and nothing hidden leaks: no text
from the checks, from solutions/ or from exercises/hidden/ appears anywhere in the
bundle. The leak detector is itself tested on bundles with a secret planted in them.

Running the notebooks' cells is test_stub_notebooks.py's job (a real Jupyter kernel).

The tests iterate over whatever exercises exist, so they keep working as the course
grows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.course.build import build_bundle
from grader.course.loading import load_course
from grader.course.model import Course, EntryPoint, Example, Exercise, ExerciseLimits
from grader.course.schema import ExerciseError
from grader.course.stubs import is_untouched_stub, one_line, stub_source

ROOT = Path(__file__).resolve().parents[2]
MIN_SECRET = 4  # shorter check strings (e.g. "sum") are too common to mean anything
MIN_LINE = 12  # solution / hidden lines must be longer than this to count


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT)


@pytest.fixture(scope="module")
def built(course: Course, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("bundle")
    return out, build_bundle(course, out)


@pytest.fixture(scope="module")
def bundle(built: tuple[Path, list[Path]]) -> Path:
    return built[0]


def sanitized(course: Course, empty: Path) -> Course:
    """The course as the bundle may see it: no checks, and paths into an empty folder
    (so no solution, hidden file or exercise YAML can be reached)."""
    (empty / "exercises").mkdir(parents=True, exist_ok=True)
    exercises = [
        dataclasses.replace(
            ex, checks=[], path=empty / "exercises" / ex.path.name, root=empty / "exercises"
        )
        for ex in course.exercises
    ]
    return Course(empty, exercises, course.title)


@pytest.fixture(scope="module")
def allowed(course: Course, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Text that is visible by design: the exercises' visible fields and everything a
    build of the sanitized course writes (generated boilerplate)."""
    empty = tmp_path_factory.mktemp("empty-course")
    out = tmp_path_factory.mktemp("sanitized-bundle")
    build_bundle(sanitized(course, empty), out)
    return "\n".join(visible_texts(course) + bundle_texts(out))


# --------------------------------------------------------------------------- leak detector


def visible_texts(course: Course) -> list[str]:
    texts = [course.title]
    for ex in course.exercises:
        texts += [ex.id, ex.title, ex.file, ex.prompt, ex.setup]
        for entry in ex.entry_points:
            texts += [entry.name, entry.signature, entry.doc, entry.starter or ""]
        for example in ex.examples:
            texts += [example.name, example.code, example.expect]
    return texts


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _string_leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _string_leaves(item)


def check_secrets(course: Course) -> list[tuple[str, str]]:
    """(where, text) for every piece of text in the hidden checks."""
    found = []
    for ex in course.exercises:
        for check in ex.checks:
            where = f"{ex.id}: check '{check.name}'"
            found.append((f"{where} name", check.name))
            if check.hint:
                found.append((f"{where} hint", check.hint))
            if check.data:
                found.append((f"{where} data", check.data))
                found += [(f"{where} data", part) for part in check.data.split(":")]
            found += [(f"{where} option", s) for s in _string_leaves(check.options)]
            found += [(f"{where} artifact", s) for s in _string_leaves(check.artifacts)]
            for step in check.steps:
                found += [
                    (f"{where} input", s)
                    for s in _string_leaves([step.args, step.kwargs, step.value, step.path])
                ]
    return [(where, text.strip()) for where, text in found if len(text.strip()) >= MIN_SECRET]


def _file_lines(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.read(path, as_version=4)
            text = "\n".join(cell.source for cell in nb.cells)
        except Exception:
            text = path.read_text(encoding="utf-8", errors="replace")
    else:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return []  # binary: covered by the byte comparison
    return [line.strip() for line in text.splitlines() if len(line.strip()) > MIN_LINE]


def _private_files(root: Path) -> list[Path]:
    folders = [root / "solutions", root / "exercises" / "hidden"]
    return sorted(
        p
        for folder in folders
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def file_secrets(root: Path) -> list[tuple[str, str]]:
    """(where, line) for every non-trivial line of solutions/ and exercises/hidden/,
    plus the hidden files' paths as check YAML names them."""
    found = []
    for path in _private_files(root):
        shown = str(path.relative_to(root))
        found += [(shown, line) for line in _file_lines(path)]
        if "hidden" in path.parts:
            found.append((shown, str(path.relative_to(root / "exercises"))))
    return found


def bundle_texts(bundle: Path) -> list[str]:
    """Every bundle file as text, plus the decoded strings inside JSON files (notebooks
    and examples.json escape quotes and backslashes)."""
    texts = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        raw = path.read_bytes().decode("utf-8", errors="replace")
        texts.append(raw)
        if path.suffix in (".ipynb", ".json"):
            try:
                texts.extend(_string_leaves(json.loads(raw)))
            except ValueError:
                pass
    return texts


def find_leaks(bundle: Path, course: Course, allowed: str) -> list[str]:
    texts = bundle_texts(bundle)
    leaks = []
    for where, secret in check_secrets(course) + file_secrets(course.root):
        if secret in allowed:
            continue  # also visible on purpose, or generated boilerplate
        hits = [i for i, text in enumerate(texts) if secret in text]
        if hits:
            leaks.append(f"{where}: {secret!r}")
    private = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in _private_files(course.root)}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in private:
            leaks.append(f"{path.name} is a copy of {private[digest]}")
    return leaks


# --------------------------------------------------------------------------- running code

RUNNER = textwrap.dedent("""
    import contextlib, inspect, io, json, runpy, sys, traceback

    cfg = json.load(open(sys.argv[1], encoding="utf-8"))
    sys.path[:0] = cfg["path"]
    out = {}
    for item in cfg["items"]:
        res = {"error": None, "defined": [], "calls": {}, "main": ""}
        out[item["key"]] = res
        if "module" in item:
            try:
                ns = runpy.run_path(item["module"], run_name="bundle_" + item["key"])
            except BaseException:
                res["error"] = traceback.format_exc()
                continue
            res["defined"] = [name for name in item["entries"] if name in ns]
            for name in item["call"]:
                fn = ns[name]
                params = inspect.signature(fn).parameters.values()
                args = [None for p in params if p.default is p.empty
                        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                kwargs = {p.name: None for p in params if p.default is p.empty and p.kind == p.KEYWORD_ONLY}
                try:
                    fn(*args, **kwargs)
                    res["calls"][name] = "returned"
                except BaseException as exc:
                    res["calls"][name] = type(exc).__name__
        if "main" in item:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                try:
                    runpy.run_path(item["main"], run_name="__main__")
                except BaseException:
                    print("CRASH " + traceback.format_exc())
            res["main"] = buf.getvalue()
    print(json.dumps(out))
""")  # noqa: E501 (the runner's code, kept as written)


def run_items(tmp: Path, items: list[dict], path: list[str]) -> dict[str, dict]:
    """Run modules and FILE.py main blocks in a fresh Python process; one result per item."""
    script, config = tmp / "runner.py", tmp / "config.json"
    script.write_text(RUNNER, encoding="utf-8")
    config.write_text(json.dumps({"items": items, "path": path}), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(config)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def solution_source(course: Course, ex: Exercise) -> str | None:
    """The reference solution's code (solutions/FILE.py, or the code cells of FILE.ipynb);
    None when there is none. test_stub_notebooks.py fills it into the stub notebooks."""
    py, nb = course.solutions / f"{ex.file}.py", course.solutions / f"{ex.file}.ipynb"
    if py.is_file():
        return py.read_text(encoding="utf-8")
    if nb.is_file():
        from grader.submissions.notebooks import cells_to_source, code_cells

        return cells_to_source(code_cells(nb))
    return None


@pytest.fixture(scope="module")
def stub_results(
    course: Course, bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    items = []
    for ex in course.exercises:
        plain = [e.name for e in ex.entry_points if e.starter is None]
        items.append(
            {
                "key": ex.id,
                "module": str(bundle / f"{ex.file}.py"),
                "entries": ex.entry_names(),
                "call": plain,
                "main": str(bundle / f"{ex.file}.py"),
            }
        )
    return run_items(tmp_path_factory.mktemp("stub-run"), items, [str(bundle)])


# --------------------------------------------------------------------------- the files


def test_one_py_and_one_ipynb_per_exercise(course: Course, built: tuple[Path, list[Path]]) -> None:
    bundle, written = built
    expected = [name for ex in course.exercises for name in (f"{ex.file}.py", f"{ex.file}.ipynb")]
    expected += ["examples.json", "README.md"]
    assert [p.name for p in written] == expected
    assert all(p.parent == bundle for p in written)
    assert sorted(p.name for p in bundle.iterdir()) == sorted(expected)  # no temp files left


def test_notebooks_are_valid_with_roles(course: Course, bundle: Path) -> None:
    for ex in course.exercises:
        nb = nbformat.read(bundle / f"{ex.file}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.cells[0].cell_type == "markdown"
        assert nb.cells[0].source.startswith(f"# {ex.title}\n")
        assert ex.prompt.strip() in nb.cells[0].source
        code = [c for c in nb.cells if c.cell_type == "code"]
        meta = [c.metadata["grader"] for c in code]
        assert all(m["exercise"] == ex.id for m in meta)
        assert meta[0]["role"] == "setup"
        assert [m["entry"] for m in meta if m["role"] == "solution"] == ex.entry_names()
        assert sum(m["role"] == "example" for m in meta) == len(ex.examples)
        assert any(c.cell_type == "markdown" and "Try the examples" in c.source for c in nb.cells)
        for entry in ex.entry_points:
            cell = next(c for c, m in zip(code, meta, strict=True) if m.get("entry") == entry.name)
            if entry.starter is not None:
                assert cell.source == entry.starter.rstrip()
        for cell in code:
            compile(cell.source, cell.id, "exec")


def test_py_files_compile_with_prompt_and_setup(course: Course, bundle: Path) -> None:
    for ex in course.exercises:
        text = (bundle / f"{ex.file}.py").read_text(encoding="utf-8")
        assert text == stub_source(ex)
        compile(text, f"{ex.file}.py", "exec")
        assert ex.title in text
        assert ex.setup.strip() in text
        assert 'if __name__ == "__main__":' in text
        for entry in ex.entry_points:
            if entry.starter is not None:
                assert entry.starter.strip() in text


def test_stubs_define_every_entry_point_and_raise(
    course: Course, stub_results: dict[str, dict]
) -> None:
    for ex in course.exercises:
        res = stub_results[ex.id]
        assert res["error"] is None, f"{ex.file}.py does not import:\n{res['error']}"
        assert res["defined"] == ex.entry_names()
        for entry in ex.entry_points:
            if entry.starter is None:
                assert res["calls"][entry.name] == "NotImplementedError", (ex.id, entry.name)


def test_running_a_stub_says_how_to_try_the_examples(
    course: Course, stub_results: dict[str, dict]
) -> None:
    for ex in course.exercises:
        assert stub_results[ex.id]["main"] == f"Try the examples: grader check {ex.file}.py\n"


def test_the_stub_lists_the_visible_examples_without_running_them(
    course: Course, bundle: Path
) -> None:
    for ex in course.exercises:
        text = (bundle / f"{ex.file}.py").read_text(encoding="utf-8")
        start = "# The visible examples" if ex.examples else 'if __name__ == "__main__":'
        tail = text[text.index(f"\n\n\n{start}") + 3 :]
        listed = "".join(
            f"#   {one_line(e.code)}\n#     gives {one_line(e.expect)}\n" for e in ex.examples
        )
        says = f"Try the examples: grader check {ex.file}.py"
        main = f'if __name__ == "__main__":\n    print("{says}")\n'
        heading = f"# The visible examples (grader check {ex.file}.py runs them):\n"
        assert tail == (heading + listed if ex.examples else "") + main, ex.id


def test_an_untouched_stub_is_recognised_from_this_bundle_or_an_older_one(
    tmp_path: Path,
) -> None:
    ex = _odd_exercise(tmp_path)
    assert is_untouched_stub(stub_source(ex), ex)
    # FILE.py of a bundle built before the examples moved to `grader check`.
    legacy = (ROOT / "tests" / "fixtures" / "legacy_stubs" / "odd_one.py").read_text()
    assert "_mismatch" in legacy and is_untouched_stub(legacy, ex)
    assert is_untouched_stub(legacy.replace("PASS {_name}", "OK {_name}"), ex)  # under main
    for changed in (
        legacy + "\ndef pair(a, b=2, *, scale=1.0):\n    return (a, b)\n",
        legacy.replace('raise NotImplementedError("write pair")', "return (a, b)"),
        stub_source(ex) + "x = 1\n",
        stub_source(ex).replace("\n", "\r\n"),
    ):
        assert not is_untouched_stub(changed, ex)


def test_examples_json_holds_the_visible_examples_only(course: Course, bundle: Path) -> None:
    data = json.loads((bundle / "examples.json").read_text(encoding="utf-8"))
    assert data == {
        "course": course.title,
        "exercises": [
            {
                "id": ex.id,
                "title": ex.title,
                "file": ex.file,
                "entry_points": ex.entry_names(),
                "examples": [
                    {"name": e.name, "code": e.code, "expect": e.expect} for e in ex.examples
                ],
            }
            for ex in course.exercises
        ],
    }
    from grader.grading.examples import load_bundle

    loaded = load_bundle(bundle)
    assert [ex.id for ex in loaded.exercises] == [ex.id for ex in course.exercises]


def test_grader_check_runs_from_the_bundle(course: Course, bundle: Path, tmp_path: Path) -> None:
    """`grader check FILE.py` inside a bundle finds examples.json and runs the examples."""
    ex = next(
        (
            ex
            for ex in course.exercises
            if ex.examples and (course.solutions / f"{ex.file}.py").is_file()
        ),
        None,
    )
    if ex is None:
        pytest.skip("no exercise with examples and a .py reference solution")
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    shutil.copy(course.solutions / f"{ex.file}.py", copy / f"{ex.file}.py")
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check", f"{ex.file}.py"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(ex.examples)} of {len(ex.examples)} examples passed" in proc.stdout, proc.stdout


def test_readme_explains_working_submitting_and_checking(course: Course, bundle: Path) -> None:
    readme = (bundle / "README.md").read_text(encoding="utf-8")
    assert "grader check" in readme
    for ex in course.exercises:
        assert f"`{ex.file}.py`" in readme and f"`{ex.file}.ipynb`" in readme


def test_build_is_deterministic(tmp_path: Path) -> None:
    """Two loads of the course, two builds (one over an existing bundle): the same bytes."""
    first, second = load_course(ROOT), load_course(ROOT)
    one, two = tmp_path / "one", tmp_path / "two"
    build_bundle(first, one)
    build_bundle(second, two)
    build_bundle(second, two)  # over an existing bundle
    names = sorted(p.name for p in one.iterdir())
    assert sorted(p.name for p in two.iterdir()) == names
    for name in names:
        assert (two / name).read_bytes() == (one / name).read_bytes(), name


# --------------------------------------------------------------------------- no leaks


def test_bundle_does_not_depend_on_hidden_material(
    course: Course, bundle: Path, tmp_path: Path
) -> None:
    """Without checks and with no solutions or hidden files reachable, the very same bytes."""
    out = tmp_path / "sanitized"
    build_bundle(sanitized(course, tmp_path / "empty"), out)
    for path in sorted(bundle.iterdir()):
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_nothing_hidden_leaks_into_the_bundle(course: Course, bundle: Path, allowed: str) -> None:
    assert check_secrets(course), "the course has checks, so there must be secrets to look for"
    assert find_leaks(bundle, course, allowed) == []


def _first_secret(secrets: list[tuple[str, str]], allowed: str, where: str) -> str:
    for origin, text in secrets:
        if where in origin and text not in allowed:
            return text
    pytest.skip(f"no secret of kind '{where}' in this course")


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("solutions/", "py"),
        ("hint", "ipynb"),
        ("name", "README.md"),
        ("hidden/", "examples.json"),
        ("input", "py"),
        ("option", "ipynb"),
    ],
)
def test_leak_detector_flags_a_planted_secret(
    course: Course, bundle: Path, allowed: str, tmp_path: Path, kind: str, target: str
) -> None:
    secrets = file_secrets(course.root) if kind.endswith("/") else check_secrets(course)
    secret = _first_secret(secrets, allowed, kind)
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    ex = course.exercises[0]
    if target == "py":
        path = copy / f"{ex.file}.py"
        path.write_text(path.read_text(encoding="utf-8") + f"\n# {secret}\n", encoding="utf-8")
    elif target == "ipynb":
        path = copy / f"{ex.file}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell(f'"{secret}"', id="planted"))
        nbformat.write(nb, path)
    elif target == "examples.json":
        path = copy / target
        data = json.loads(path.read_text(encoding="utf-8"))
        data["exercises"][0]["examples"].append({"name": "x", "code": secret, "expect": "None"})
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    else:
        path = copy / target
        path.write_text(path.read_text(encoding="utf-8") + f"\n{secret}\n", encoding="utf-8")
    assert find_leaks(bundle, course, allowed) == []
    leaks = find_leaks(copy, course, allowed)
    assert any(repr(secret) in leak for leak in leaks), leaks


def test_leak_detector_flags_a_copied_private_file(
    course: Course, bundle: Path, allowed: str, tmp_path: Path
) -> None:
    private = _private_files(course.root)
    if not private:
        pytest.skip("no solutions or hidden files")
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    shutil.copy(private[0], copy / "extra.bin")
    assert any("extra.bin is a copy of" in leak for leak in find_leaks(copy, course, allowed))


# --------------------------------------------------------------------------- edge cases


def _odd_exercise(tmp: Path) -> Exercise:
    """Quotes, backslashes and a triple quote in the prompt, a class stub with no torch
    import in setup, a starter, and examples returning tuples, dicts and floats."""
    return Exercise(
        id="odd-one",
        title='An "odd" exercise',
        file="odd_one",
        prompt='Ends with a quote and has """triple""" quotes, \\n a backslash and \\\\ two "',
        setup="import math\n",
        entry_points=[
            EntryPoint(
                name="pair",
                signature="(a, b=2, *, scale=1.0)",
                doc='Return (a, b) as "a pair".\n\nC:\\path',
            ),
            EntryPoint(name="Net", signature="(width=4)", doc="A model.", kind="class"),
            EntryPoint(
                name="ready",
                signature="()",
                doc="",
                starter="def ready():\n    return {'ok': 1.0}\n",
            ),
        ],
        examples=[
            Example(name="a pair", code="pair(1, 2)  # a comment", expect="(1, 2)"),
            Example(name="a dict\nof floats", code="ready()", expect="{'ok': 1.0 + 1e-9}"),
            Example(
                name="tensors in a list",
                code="[torch.ones(2), math.pi]",
                expect="[torch.tensor([1.0, 1.0]), 3.14159265]",
            ),
        ],
        checks=[],
        limits=ExerciseLimits(),
        path=tmp / "odd.yaml",
        root=tmp,
    )


def test_odd_text_and_class_stubs(tmp_path: Path) -> None:
    ex = _odd_exercise(tmp_path)
    out = tmp_path / "out"
    build_bundle(Course(tmp_path, [ex], "Odd | course"), out)
    text = (out / "odd_one.py").read_text(encoding="utf-8")
    ns: dict[str, Any] = {}
    exec(compile(text, "odd_one.py", "exec"), ns)
    assert ns["__doc__"].startswith('An "odd" exercise\n\n' + ex.prompt)
    assert ns["pair"].__doc__.startswith('Return (a, b) as "a pair".')
    with pytest.raises(NotImplementedError, match="write pair"):
        ns["pair"](1)
    with pytest.raises(NotImplementedError):
        ns["Net"]()
    assert issubclass(ns["Net"], __import__("torch").nn.Module)
    assert ns["ready"]() == {"ok": 1.0}
    nbformat.validate(nbformat.read(out / "odd_one.ipynb", as_version=4))

    filled = stub_source(ex, fill={"pair": "def pair(a, b=2, *, scale=1.0):\n    return (a, b)\n"})
    script = tmp_path / "filled.py"
    script.write_text(filled, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Try the examples: grader check odd_one.py\n"
    assert "#   pair(1, 2) # a comment\n#     gives (1, 2)\n" in filled
    with pytest.raises(KeyError):
        stub_source(ex, fill={"nope": "x = 1"})


def test_a_stub_that_would_not_compile_is_refused(tmp_path: Path) -> None:
    ex = dataclasses.replace(_odd_exercise(tmp_path), setup="import torch\ndef broken(:\n")
    with pytest.raises(ExerciseError, match="would not compile"):
        build_bundle(Course(tmp_path, [ex], "Broken"), tmp_path / "out")
