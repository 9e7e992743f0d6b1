"""docs/authoring.md cannot drift from the code: its tutorial course is written out,
loaded, validated and graded through the real sandbox, and its reference snippets are
loaded by the course loader (see the guide's last section for the markers)."""

from __future__ import annotations

import ast
import dataclasses
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, results, run_grader

from grader.course import inputs, loading
from grader.course.loading import DISCLOSABLE, load_course
from grader.course.model import STEP_KINDS
from grader.course.schema import ExerciseError
from grader.judges import JUDGES, JudgeContext, Verdict

GUIDE = ROOT / "docs" / "authoring.md"
MARKER = re.compile(r"^<!--\s*(file|fragment|output|score):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    kind: str  # file | fragment | output
    arg: str  # the path, the fragment's kind, or the command
    lang: str
    text: str
    line: int  # of the block's first line in the guide

    def where(self) -> str:
        return f"docs/authoring.md:{self.line} ({self.kind}: {self.arg})"


def read_guide() -> tuple[list[Block], list[tuple[str, str, str]], list[tuple[str, int]]]:
    """The marked blocks; the score lines (student, stated score, the paragraph after);
    every fenced block's language and line (marked or not)."""
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    scores: list[tuple[str, str, str]] = []
    fences: list[tuple[str, int]] = []
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        fence = FENCE.match(lines[i])
        if marker and marker.group(1) == "score":
            student, score = marker.group(2).split()
            paragraph = []
            for text in lines[i + 1 :]:
                if not text.strip():
                    break
                paragraph.append(text)
            scores.append((student, score, " ".join(paragraph)))
        elif marker:
            pending = (marker.group(1), marker.group(2))
        elif fence:
            start = i + 1
            i += 1
            while not lines[i].startswith("```"):
                i += 1
            fences.append((fence.group(1), start))
            if pending is not None:
                text = "\n".join(lines[start:i]) + "\n"
                blocks.append(Block(pending[0], pending[1], fence.group(1), text, start))
            pending = None
        elif lines[i].strip() and pending is not None:
            raise AssertionError(f"docs/authoring.md:{i + 1}: a marker not followed by a block")
        i += 1
    return blocks, scores, fences


BLOCKS, SCORES, FENCES = read_guide()


class _Loader(yaml.SafeLoader):
    """Keys as written, as the course loader takes them (YAML 1.1 reads `on:` as true)."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    return {
        k.value if isinstance(k, yaml.ScalarNode) else loader.construct_object(k, deep=True): (
            loader.construct_object(v, deep=True)
        )
        for k, v in node.value
    }


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)


def of_kind(kind: str, arg: str | None = None) -> list[Block]:
    return [b for b in BLOCKS if b.kind == kind and (arg is None or b.arg == arg)]


def write_tutorial(folder: Path) -> Path:
    """The tutorial's course, file by file as the guide gives it."""
    for block in of_kind("file"):
        path = folder / block.arg
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
    return folder


def fragment_course(folder: Path) -> Path:
    """An empty course whose helpers are the bundled course's and the tutorial's, so
    that fragments may name either."""
    hidden = folder / "exercises" / "hidden"
    shutil.copytree(ROOT / "exercises" / "hidden", hidden)
    for block in of_kind("file"):
        if block.arg.startswith("exercises/hidden/"):
            (folder / block.arg).write_text(block.text, encoding="utf-8")
    return folder


def minimal_exercise(**keys: Any) -> dict[str, Any]:
    exercise: dict[str, Any] = {
        "id": "fragment",
        "title": "A fragment of the guide",
        "file": "fragment",
        "prompt": "A fragment of docs/authoring.md.",
        "entry_points": [{"name": "f", "doc": "An entry point."}],
    }
    exercise.update(keys)
    if "checks" not in exercise:
        first = exercise["entry_points"][0]["name"]
        exercise["checks"] = [
            {
                "name": "reads the code only",
                "entry": first,
                "points": 1,
                "judge": "forbidden-calls",
                "with": {"names": ["softmax"]},
            }
        ]
    return exercise


def load_exercise_text(folder: Path, exercise: dict[str, Any], where: str):
    path = folder / "exercises" / "fragment.yaml"
    path.write_text(yaml.safe_dump(exercise, sort_keys=False), encoding="utf-8")
    try:
        return load_course(folder)
    except ExerciseError as exc:
        raise AssertionError(f"{where} does not load: {exc}") from None


def as_checks(block: Block) -> list[dict[str, Any]]:
    data = parse(block.text)
    checks = data if isinstance(data, list) else [data]
    assert checks and all(isinstance(c, dict) for c in checks), block.where()
    return checks


# ------------------------------------------------------------------ the guide's markers
def test_every_yaml_and_python_block_is_tested():
    untested = [
        f"docs/authoring.md:{line}"
        for lang, line in FENCES
        if lang in ("yaml", "python") and not any(b.line == line for b in BLOCKS)
    ]
    assert not untested, f"blocks with no <!-- file: --> or <!-- fragment: --> marker: {untested}"
    kinds = {b.arg for b in of_kind("fragment")}
    assert kinds <= {"checks", "exercise", "course", "python"}, kinds


def test_each_stated_score_is_in_its_sentence():
    assert SCORES, "the guide states no score of the tutorial's students"
    for student, score, paragraph in SCORES:
        assert score in paragraph, f"the guide gives {student} {score}, but says: {paragraph}"


# ------------------------------------------------------------------ the tutorial (fast)
def test_the_tutorial_course_loads_and_plans(tmp_path: Path):
    from grader.grading.plan import build_plan

    course = load_course(write_tutorial(tmp_path))
    assert course.title == "Numerics for deep learning"
    (exercise,) = course.exercises
    assert exercise.id == "stable-softmax"
    for _, score, _ in SCORES:
        assert float(score.split("/")[1]) == exercise.max_score
    plan = build_plan(course, 0)
    data = plan.checks["stable-softmax"][1].data
    assert data["scores"].shape == (5, 4)


# ------------------------------------------------------------------ the reference (fast)
@pytest.mark.parametrize("block", of_kind("fragment", "checks"), ids=lambda b: str(b.line))
def test_a_check_snippet_loads_and_plans(tmp_path: Path, block: Block):
    from grader.grading.plan import build_plan

    checks = as_checks(block)
    entries = list(dict.fromkeys(str(c.get("entry")) for c in checks))
    exercise = minimal_exercise(
        entry_points=[{"name": name, "doc": "An entry point."} for name in entries],
        checks=checks,
    )
    course = load_exercise_text(fragment_course(tmp_path), exercise, block.where())
    try:
        build_plan(course, 0)  # makes every input, calls every data function
    except (ExerciseError, KeyError) as exc:
        raise AssertionError(f"{block.where()} cannot be planned: {exc}") from None


@pytest.mark.parametrize("block", of_kind("fragment", "exercise"), ids=lambda b: str(b.line))
def test_an_exercise_snippet_loads(tmp_path: Path, block: Block):
    keys = parse(block.text)
    course = load_exercise_text(fragment_course(tmp_path), minimal_exercise(**keys), block.where())
    loaded = course.exercises[0]
    if "limits" in keys:
        for key, value in keys["limits"].items():
            assert getattr(loaded.limits, key) == value, block.where()


@pytest.mark.parametrize("block", of_kind("fragment", "course"), ids=lambda b: str(b.line))
def test_a_course_snippet_loads(tmp_path: Path, block: Block):
    folder = write_tutorial(tmp_path)
    (folder / "course.yaml").write_text(block.text, encoding="utf-8")
    course = load_course(folder)
    meta = parse(block.text)
    assert course.title == meta["title"], block.where()
    assert [e.id for e in course.exercises][: len(meta["order"])] == meta["order"]


@pytest.mark.parametrize("block", of_kind("fragment", "python"), ids=lambda b: str(b.line))
def test_a_python_snippet_runs(block: Block):
    scope: dict[str, Any] = {"__name__": "guide_snippet"}
    exec(compile(block.text, block.where(), "exec"), scope)
    functions = [
        v for v in scope.values() if callable(v) and getattr(v, "__module__", "") == "guide_snippet"
    ]
    assert functions, f"{block.where()} defines no function"


def test_the_data_helper_snippet_keeps_its_contract():
    """The data function the guide shows: one seed in, a dict out, the same for the same
    seed."""
    (block,) = [b for b in of_kind("fragment", "python") if "def regression_data" in b.text]
    scope: dict[str, Any] = {}
    exec(compile(block.text, block.where(), "exec"), scope)
    first, again, other = (scope["regression_data"](s) for s in (3, 3, 4))
    assert set(first) == {"X_train", "y_train", "X_test", "y_test"}
    assert all(first[k].equal(again[k]) for k in first)
    assert not first["X_train"].equal(other["X_train"])


# ------------------------------------------------------------------ completeness
def loader_keys() -> set[str]:
    """Every key the loader's ``Mapping.only(...)`` calls accept, read from its source,
    so that a key added there must appear in the guide's snippets."""
    tree = ast.parse(Path(loading.__file__).read_text(encoding="utf-8"))
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    keys: set[str] = set()
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "only"
        ):
            continue
        for arg in node.args:
            source = constants.get(arg.id, arg) if isinstance(arg, ast.Name) else arg
            for sub in ast.walk(source):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    keys.add(sub.value)
                # ``*expectations.KEYS``: keys another course module owns.
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
                    owner = getattr(loading, sub.value.id, None)
                    found = getattr(owner, sub.attr, None)
                    if isinstance(found, (set, frozenset, tuple, list)):
                        keys |= {k for k in found if isinstance(k, str)}
    return keys


def snippet_yaml() -> list[Any]:
    return [parse(b.text) for b in BLOCKS if b.kind in ("file", "fragment") and b.lang == "yaml"]


def walk_mappings(value: Any):
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from walk_mappings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_mappings(item)


def test_the_snippets_use_every_key_step_and_input_kind():
    keys = loader_keys()
    assert {"id", "judge_time", "entry", "wrt", "starter", "order"} <= keys, keys  # read right
    used = {key for doc in snippet_yaml() for m in walk_mappings(doc) for key in m}
    wanted = keys | set(STEP_KINDS) | inputs.GENERATORS | inputs.MODIFIERS
    assert not wanted - used, f"keys no snippet of docs/authoring.md shows: {wanted - used}"


def test_the_snippets_use_every_judge_and_each_of_its_options():
    checks = [m for doc in snippet_yaml() for m in walk_mappings(doc) if "judge" in m]
    for name, judge in JUDGES.items():
        options = {k for c in checks if c["judge"] == name for k in (c.get("with") or {})}
        assert options, f"no snippet of docs/authoring.md uses the judge '{name}'"
        missing = set(judge.options) - options
        assert not missing, f"options of '{name}' no snippet shows: {missing}"
    disclosed = {w for c in checks for w in c.get("disclose", [])}
    assert set(DISCLOSABLE) <= disclosed


def section(heading: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start : end if end >= 0 else None]


def first_column(table_text: str, columns: int = 1) -> set[str]:
    """The names in backquotes in the first ``columns`` columns of the tables' rows; a
    name is its leading word (`call: NAME` is `call`)."""
    names: set[str] = set()
    rows = table_text.splitlines()
    for row, after in zip(rows, rows[1:] + [""], strict=True):
        if row.startswith("| `") and not after.startswith("|---"):  # not a header
            cells = " ".join(row.split("|")[1 : columns + 1])
            names |= set(re.findall(r"`([A-Za-z_][\w-]*)[^`]*`", cells))
    return names


def test_each_judge_has_a_section_whose_table_lists_exactly_its_options():
    for name, judge in JUDGES.items():
        listed = first_column(section(f"#### `{name}`"))
        assert listed == set(judge.options), f"the table of '{name}' lists {listed}"


def test_the_reference_tables_list_exactly_the_keys_and_input_kinds():
    listed = set()
    for heading in ("### course.yaml", "### The exercise file", "### Checks"):
        listed |= first_column(section(heading))
    steps = first_column(section("### Steps"), columns=2)  # a step word, and its keys
    assert set(STEP_KINDS) <= steps
    listed |= steps - set(STEP_KINDS)
    assert listed == loader_keys(), f"tables against the loader: {listed ^ loader_keys()}"
    assert first_column(section("### Inputs")) == inputs.GENERATORS


def test_the_custom_judge_api_named_in_the_guide_exists():
    text = GUIDE.read_text(encoding="utf-8")
    context = {f.name for f in dataclasses.fields(JudgeContext)} | {
        n for n in dir(JudgeContext) if not n.startswith("_")
    }
    named = set(re.findall(r"\bctx\.([a-z_]+)", text))
    assert named and not named - context, f"no such JudgeContext attribute: {named - context}"
    listed = first_column(section("| `Verdict` field |"))
    assert listed == {f.name for f in dataclasses.fields(Verdict)}


def test_a_renamed_key_fails_its_snippet(tmp_path: Path):
    """What guards the guide: a snippet that names a key the loader no longer knows does
    not load."""
    (block,) = [b for b in of_kind("fragment", "exercise") if "judge_time" in b.text]
    keys = parse(block.text.replace("judge_time", "judge_seconds"))
    with pytest.raises(AssertionError, match="judge_seconds"):
        load_exercise_text(fragment_course(tmp_path), minimal_exercise(**keys), block.where())


# ------------------------------------------------------------------ the tutorial, for real
@pytest.mark.slow
def test_the_tutorial_validates_checks_and_grades_as_the_guide_says(tmp_path: Path):
    course = write_tutorial(tmp_path / "softmax-course")
    for block in of_kind("output"):
        command = shlex.split(block.arg)
        assert command[0] == "grader", block.where()
        proc = run_grader(*command[1:], cwd=course)
        # Timings vary from run to run: "course is valid [15 s]" reads as "course is valid".
        got = [re.sub(r" \[\d+ s\]$", "", line) for line in proc.stdout.splitlines()]
        for line in block.text.splitlines():
            assert line in got, f"{block.where()}: {line!r} not in:\n{proc.stdout}{proc.stderr}"
        # validate and check exit 1 when something failed, and say FAIL
        assert proc.returncode == (1 if "FAIL" in block.text else 0), proc.stdout + proc.stderr

    out = tmp_path / "reports"
    proc = run_grader("grade", "submissions", "--out", str(out), cwd=course)
    assert proc.returncode == 0, proc.stderr
    data = results(out)
    scores = {s["id"]: f"{s['score']:g}/{s['max_score']:g}" for s in data["students"]}
    assert scores == {student: score for student, score, _ in SCORES}
    # What the guide quotes of a student's report, the report says.
    for student, _, paragraph in SCORES:
        said = " ".join(
            c["message"]
            for s in data["students"]
            if s["id"] == student
            for e in s["exercises"]
            for c in e["checks"]
        )
        for quoted in re.findall(r'"([^"]+)"', paragraph):
            assert quoted in said, f"the guide quotes {quoted!r} for {student}; got: {said}"
    for name in ("sam.html", "lee.html", "index.html", "grades.csv", "grades.sqlite"):
        assert (out / name).is_file(), name
