"""Gradescope: results.json against the published specification, and the autograder zip
run the way Gradescope runs it (run_autograder in a folder laid out like /autograder).

The specification is Gradescope's "Autograder Specifications" page
(gradescope-autograders.readthedocs.io/en/latest/specs/); RESULTS_SCHEMA transcribes its
results.json format. Gradescope's own parser is not public: the format is checked against
that documentation, not against a real consumer; only the JSON itself is also read back
with Ruby's standard parser (docs/gradescope.md says the same)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import jsonschema  # installed with nbformat, a dependency of the grader
import pytest
from conftest import ROOT, run_grader

from grader.course.loading import load_course
from grader.course.schema import ExerciseError
from grader.errors import GraderError
from grader.exports import gradescope
from grader.exports.gradescope import build_autograder_zip, results_json
from grader.results import CheckResult, ExerciseResult, GradingRun, StudentResult, rounded

# -- results.json's published shape ---------------------------------------------------

FORMATS = ["text", "html", "simple_format", "md", "ansi"]
VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
TEST_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "name_format": {"enum": FORMATS},
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
    },
    # Stricter than Gradescope (which may ignore unknown keys): a misspelt key is a bug here.
    "additionalProperties": False,
}
RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "integer", "minimum": 0},  # "136, // optional, seconds"
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": TEST_SCHEMA},
        "leaderboard": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": ["number", "string"]},
                    "order": {"enum": ["asc", "desc"]},
                },
            },
        },
    },
    "additionalProperties": False,
    # "score: optional, but required if not on each test case"
    "anyOf": [
        {"required": ["score"]},
        {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
    ],
}


def validate(doc: dict) -> dict:
    """``doc`` as Gradescope reads it: valid JSON text (no NaN) matching the schema."""
    text = json.dumps(doc, indent=2, allow_nan=False)
    text.encode("utf-8", "strict")
    parsed = json.loads(text)
    jsonschema.Draft202012Validator(RESULTS_SCHEMA).validate(parsed)
    return parsed


def ruby_reads(text: str) -> object:
    """``text`` as Ruby's standard JSON parser reads it (Gradescope's web application is a
    Rails app; which parser it uses is not documented), written back as JSON."""
    proc = subprocess.run(
        ["ruby", "-rjson", "-e", "print JSON.generate(JSON.parse($stdin.read))"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


# CI installs Ruby (scripts/dev-setup, run by .ci/run), so there these tests never skip.
needs_ruby = pytest.mark.skipif(
    shutil.which("ruby") is None and not os.environ.get("CI"), reason="needs Ruby"
)


def check(
    name: str, points: float = 1.0, status: str = "passed", score: float | None = None, **kw: object
) -> CheckResult:
    if score is None:
        score = points if status == "passed" else 0.0
    return CheckResult(
        name=name,
        score=rounded(score),
        max_score=points,
        status=status,  # type: ignore[arg-type]
        message=kw.pop("message", f"{name}: ok" if status == "passed" else f"{name}: wrong"),  # type: ignore[arg-type]
        **kw,
    )  # type: ignore[arg-type]


def exercise(ex_id: str, checks: list[CheckResult], **kw: object) -> ExerciseResult:
    return ExerciseResult(
        id=ex_id,
        title=kw.pop("title", ex_id.title()),
        checks=checks,  # type: ignore[arg-type]
        score=rounded(sum(c.score for c in checks)),
        max_score=rounded(sum(c.max_score for c in checks)),
        status=kw.pop("status", "passed"),
        **kw,
    )  # type: ignore[arg-type]


def run_of(*exercises: ExerciseResult, students: int = 1) -> GradingRun:
    return GradingRun(
        course="A course",
        grader_version="0.1.0",
        sandbox="bubblewrap",
        seed=0,
        students=[StudentResult.of(f"s{i}", list(exercises)) for i in range(students)],
    )


def small_run() -> GradingRun:
    missing = "not submitted: no mesh_to_tensor.py or mesh_to_tensor.ipynb was found"
    ops = exercise(
        "tensor-ops",
        [
            check(
                "row_sum of a wide matrix",
                2,
                message="row_sum returned a float32 tensor of shape [3], as expected",
                hint="Reduce over the columns, dim=1.",
                seconds=0.25,
            ),
            check(
                "column_mean of a tall matrix",
                2,
                "failed",
                message="column_mean: shape is [9]; expected [4]",
                hint="The mean of each column reduces over the rows, dim=0.",
                output="x.shape = torch.Size([9, 4])\n",
                seconds=0.5,
            ),
            check(
                "column_mean on the hidden table",
                1,
                "error",
                message="column_mean raised IndexError: index 4 is out of bounds",
                traceback=[
                    {
                        "file": "tensor_ops.py",
                        "line": 7,
                        "function": "column_mean",
                        "code": "return x[:, 4].mean()",
                    }
                ],
                seconds=1.3,
                visibility="after_due_date",
            ),
        ],
        title="Operations on tensors",
        status="failed",
        file="tensor_ops.py",
    )
    mesh = exercise(
        "mesh-to-tensor",
        [
            check(
                "a triangle becomes a [3, 3] tensor",
                2,
                "missing",
                message=missing,
                hint="torch.tensor(vertices, dtype=torch.float32)",
            ),
        ],
        title="From a 3-D mesh to a [V, 3] tensor",
        status="missing",
        message=missing,
    )
    return run_of(ops, mesh)


# What `grader grade --gradescope` writes for small_run(), byte for byte.
SMALL_RESULTS = r"""{
  "score": 2.0,
  "execution_time": 3,
  "output": "Total: not shown, because 1 of the 4 tests is not shown yet\ntensor-ops (Operations on tensors): 2/4 points in the tests shown, and 1 test not shown yet (1 point)\nmesh-to-tensor (From a 3-D mesh to a [V, 3] tensor): 0/2 points\n    not submitted: no mesh_to_tensor.py or mesh_to_tensor.ipynb was found",
  "output_format": "text",
  "stdout_visibility": "hidden",
  "extra_data": {
    "grader_version": "0.1.0",
    "sandbox": "bubblewrap",
    "seed": 0,
    "warnings": []
  },
  "tests": [
    {
      "name": "tensor-ops: row_sum of a wide matrix",
      "name_format": "text",
      "number": "1.1",
      "score": 2.0,
      "max_score": 2.0,
      "status": "passed",
      "output": "row_sum returned a float32 tensor of shape [3], as expected",
      "output_format": "text",
      "tags": [
        "tensor-ops"
      ],
      "visibility": "visible"
    },
    {
      "name": "tensor-ops: column_mean of a tall matrix",
      "name_format": "text",
      "number": "1.2",
      "score": 0.0,
      "max_score": 2.0,
      "status": "failed",
      "output": "column_mean: shape is [9]; expected [4]\n\nHint: The mean of each column reduces over the rows, dim=0.\n\nYour code printed:\nx.shape = torch.Size([9, 4])",
      "output_format": "text",
      "tags": [
        "tensor-ops"
      ],
      "visibility": "visible"
    },
    {
      "name": "tensor-ops: column_mean on the hidden table",
      "name_format": "text",
      "number": "1.3",
      "score": 0.0,
      "max_score": 1.0,
      "status": "failed",
      "output": "column_mean raised IndexError: index 4 is out of bounds\n\nWhere, in your code:\n  tensor_ops.py, line 7, in column_mean\n    return x[:, 4].mean()",
      "output_format": "text",
      "tags": [
        "tensor-ops"
      ],
      "visibility": "after_due_date"
    },
    {
      "name": "mesh-to-tensor: a triangle becomes a [3, 3] tensor",
      "name_format": "text",
      "number": "2.1",
      "score": 0.0,
      "max_score": 2.0,
      "status": "failed",
      "output": "not submitted: no mesh_to_tensor.py or mesh_to_tensor.ipynb was found",
      "output_format": "text",
      "tags": [
        "mesh-to-tensor"
      ],
      "visibility": "visible"
    }
  ]
}
"""  # noqa: E501 (a file's exact bytes: JSON strings cannot be wrapped)


def test_results_json_of_a_small_run_byte_for_byte() -> None:
    doc = results_json(small_run())
    assert json.dumps(doc, indent=2) + "\n" == SMALL_RESULTS  # as cli.py writes it
    validate(doc)


def test_the_schema_rejects_what_gradescope_does_not_read() -> None:
    good = json.loads(SMALL_RESULTS)
    validate(good)
    bad = [
        {**good, "tests": [{**good["tests"][0], "status": "error"}]},  # only passed/failed
        {**good, "tests": [{**good["tests"][0], "visibility": "public"}]},
        {**good, "tests": [{**good["tests"][0], "number": 1.1}]},  # a string, "1.1"
        {**good, "output_format": "markdown"},
        {**good, "execution_time": "3 s"},
        {**good, "stdout": "x"},  # not a field of results.json
        {"tests": [{"name": "no score anywhere", "max_score": 1.0}]},
    ]
    for doc in bad:
        with pytest.raises(jsonschema.ValidationError):
            validate(doc)


def test_each_check_is_a_test_with_its_own_visibility() -> None:
    checks = [check(f"check {v}", 1, visibility=v) for v in VISIBILITY]
    checks.append(check("a word Gradescope does not know", 1, visibility="public"))
    doc = validate(results_json(run_of(exercise("ex", checks))))
    assert [t["visibility"] for t in doc["tests"]] == VISIBILITY + ["after_published"]
    assert [t["name"] for t in doc["tests"]][:2] == ["ex: check hidden", "ex: check after_due_date"]
    assert [t["number"] for t in doc["tests"]] == ["1.1", "1.2", "1.3", "1.4", "1.5"]
    # The overview shows no score of a test the student cannot see yet, nor the total.
    assert doc["output"].splitlines() == [
        "Total: not shown, because 4 of the 5 tests are not shown yet",
        "ex (Ex): 1/1 point in the tests shown, and 4 tests not shown yet (4 points)",
    ]
    shown = validate(results_json(run_of(exercise("ex", [check("a", 2), check("b", 1, "failed")]))))
    assert shown["output"].splitlines() == ["Total: 2/3 points", "ex (Ex): 2/3 points"]
    hidden = validate(results_json(run_of(exercise("ex", [check("a", 2, visibility="hidden")]))))
    assert hidden["output"].splitlines()[1] == "ex (Ex): 1 test not shown yet (2 points)"


def test_only_passed_checks_pass_and_hints_come_with_failures() -> None:
    statuses = ["passed", "failed", "error", "timeout", "missing"]
    checks = [check(s, 1, s, hint=f"hint for {s}") for s in statuses]
    doc = validate(results_json(run_of(exercise("ex", checks, status="failed"))))
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed", "failed", "failed", "failed"]
    with_hint = [t["name"] for t in doc["tests"] if "Hint: hint for" in t["output"]]
    # Not for a missing file: the hint is about code that is not there.
    assert with_hint == ["ex: failed", "ex: error", "ex: timeout"]


def test_scores_sum_exactly() -> None:
    thirds = [check(f"third {i}", 1, "failed", score=1 / 3) for i in range(3)]  # 0.3333 each
    tenths = [check("a tenth", 0.1), check("two tenths", 0.2), check("none", 0.7, "failed")]
    run = run_of(
        exercise("thirds", thirds, status="failed"), exercise("tenths", tenths, status="failed")
    )
    doc = validate(results_json(run))
    total = sum(Decimal(str(t["score"])) for t in doc["tests"])
    assert (
        total
        == Decimal(str(doc["score"]))
        == Decimal(str(run.students[0].score))
        == Decimal("1.2999")
    )
    assert (
        sum(Decimal(str(t["max_score"])) for t in doc["tests"])
        == Decimal(str(run.students[0].max_score))
        == 4
    )
    assert 0.1 + 0.2 != 0.3 and results_json(run_of(exercise("t", tenths[:2])))["score"] == 0.3
    assert doc["output"].splitlines()[0] == "Total: 1.2999/4 points"
    with pytest.raises(GraderError, match="nan"):
        results_json(run_of(exercise("ex", [check("odd", 1, score=float("nan"))])))


def test_execution_time_is_whole_seconds_of_the_checks() -> None:
    checks = [check("a", seconds=0.4), check("b", seconds=1.25)]
    assert validate(results_json(run_of(exercise("ex", checks))))["execution_time"] == 2
    assert validate(results_json(run_of(exercise("ex", [check("a")]))))["execution_time"] == 0


def test_what_concerns_the_whole_file_is_in_its_first_test() -> None:
    load = "tensor_ops.py has a syntax error at line 3: invalid syntax"
    broken = exercise(
        "tensor-ops",
        [
            check("a", 1, "error", message=f"not run: {load}", hint="about the code"),
            check("b", 1, "error", message=f"not run: {load}"),
        ],
        status="error",
        message=load,
        file="tensor_ops.py",
        output="loading...\n",
        traceback=[{"file": "tensor_ops.py", "line": 3, "function": "<module>", "code": "def f(:"}],
    )
    notebook = exercise(
        "activations",
        [check("relu", 2), check("sigmoid", 1)],
        file="activations.ipynb",
        notes=[
            "cell 3 raised NameError at line 1 of the cell: name 'plt' is not defined; "
            "the following cells still ran"
        ],
        output="Traceback (most recent call last): ...\n",
    )
    doc = validate(results_json(run_of(broken, notebook)))
    first, second, relu, sigmoid = (t["output"] for t in doc["tests"])
    assert first == (
        "not run: tensor_ops.py has a syntax error at line 3: invalid syntax\n\n"
        "Where, in tensor_ops.py, while loading it:\n  tensor_ops.py, line 3, in <module>\n"
        "    def f(:"
        "\n\nWhile loading, your code printed:\nloading..."
    )
    assert second == "not run: tensor_ops.py has a syntax error at line 3: invalid syntax"
    assert relu == (
        "relu: ok\n\nNote: cell 3 raised NameError at line 1 of the cell: name 'plt' is not "
        "defined; the following cells still ran\n\nWhile loading, your code printed:\n"
        "Traceback (most recent call last): ..."
    )
    assert sigmoid == "sigmoid: ok"
    assert doc["output"].splitlines() == [
        "Total: 3/5 points",
        "tensor-ops (Tensor-Ops): 0/2 points",
        "    tensor_ops.py has a syntax error at line 3: invalid syntax",
        "activations (Activations): 3/3 points",
        "    Note: cell 3 raised NameError at line 1 of the cell: name 'plt' is not defined; "
        "the following cells still ran",
    ]


def test_odd_text_is_shown_as_written() -> None:
    odd = "\x1b[31mred\x1b[0m <b>bold</b> & \x00nul\r\nwindows\rmac \ud800 lone surrogate é 🙂"
    long_output = "".join(f"line {i}\n" for i in range(5000))
    doc = validate(
        results_json(
            run_of(
                exercise(
                    "ex",
                    [
                        check(
                            f"name {odd}", 1, "failed", message=odd, hint=odd, output=long_output
                        ),
                    ],
                    notes=[odd],
                )
            )
        )
    )
    test = doc["tests"][0]
    # HTML stays text: the "text" format.
    expected = "red <b>bold</b> & nul\nwindows\nmac ? lone surrogate é 🙂"
    assert test["name"] == f"ex: name {expected}"
    assert test["output"].startswith(
        f"{expected}\n\nHint: {expected}\n\nYour code printed:\nline 0\nline 1\n"
    )
    assert f"more characters not shown)\n\nNote: {expected}" in test["output"]
    assert len(test["output"]) < gradescope.PRINTED_CAP + 1000
    assert expected in doc["output"]
    for text in (test["name"], test["output"], doc["output"]):
        assert not any(ord(c) < 32 and c not in "\n" for c in text), repr(text)
    huge = validate(
        results_json(run_of(exercise("ex", [check("x", 1, "failed", message="m" * 50_000)])))
    )
    assert len(huge["tests"][0]["output"]) <= gradescope.TEST_OUTPUT_CAP + 20


@needs_ruby
def test_ruby_reads_results_json_as_python_does() -> None:
    odd = '\x1b[1m<i>x</i>\x1b[0m \ud800 lone \udfff é 🙂 "quoted" back\\slash \u2028'
    doc = results_json(
        run_of(exercise("ex", [check(f"n {odd}", 1 / 3, "failed", message=odd, output=odd)]))
    )
    text = json.dumps(doc, indent=2) + "\n"  # as cli.py writes it
    assert ruby_reads(text) == json.loads(text)
    # What clean_text is for: Ruby refuses a lone surrogate, which Python writes without a word.
    with pytest.raises(AssertionError, match="surrogate"):
        ruby_reads(json.dumps({"output": "\ud800"}))


def test_results_json_is_for_exactly_one_submission() -> None:
    with pytest.raises(GraderError, match="this run graded 2 submissions \\(s0, s1\\); grade one"):
        results_json(run_of(exercise("ex", [check("a")]), students=2))
    with pytest.raises(GraderError, match="graded no submission"):
        results_json(run_of(students=0))


# -- the autograder zip ----------------------------------------------------------------


def course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", course / "exercises")
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "course.yaml", course)
    return course


def test_the_zip_holds_the_course_and_the_grader_and_nothing_else(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    junk = [
        "exercises/__pycache__/x.cpython-311.pyc",
        "exercises/hidden/__pycache__/tensor_init.cpython-311.pyc",
        "exercises/.ipynb_checkpoints/tensor_ops-checkpoint.yaml",
        "solutions/.DS_Store",
        "solutions/old.pyc",
        ".git/config",
        "reports/index.html",
        "README.md",
    ]
    for name in junk:
        (course / name).parent.mkdir(parents=True, exist_ok=True)
        (course / name).write_text("junk")
    out = build_autograder_zip(course, tmp_path / "autograder.zip")
    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
        assert archive.testzip() is None
    names = [i.filename for i in infos]
    assert names == sorted(names)
    expected_course = {
        f"course/{p.relative_to(ROOT).as_posix()}"
        for folder in ("exercises", "solutions")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    expected_course.add("course/course.yaml")
    assert {n for n in names if n.startswith("course/")} == expected_course
    assert "course/exercises/hidden/tensor_init.py" in names
    package = Path(gradescope.__file__).resolve().parents[1]
    expected_grader = {
        f"torch-grader/grader/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert {n for n in names if n.startswith("torch-grader/grader/")} == expected_grader
    assert "torch-grader/grader/templates/gradescope/run_autograder" in names
    assert {
        "setup.sh",
        "run_autograder",
        "torch-grader/pyproject.toml",
        "torch-grader/README.md",
    } <= set(names)
    assert len(names) == len(expected_course) + len(expected_grader) + 4
    for info in infos:
        mode = stat.S_IMODE(info.external_attr >> 16)
        assert (info.filename, mode) == (
            info.filename,
            0o755 if info.filename in gradescope.SCRIPTS else 0o644,
        )
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    first = build_autograder_zip(course, tmp_path / "one.zip").read_bytes()
    os.utime(course / "exercises" / "tensor_ops.yaml", (0, 0))  # times and modes do not count
    (course / "solutions" / "tensor_ops.py").chmod(0o600)
    assert build_autograder_zip(course, tmp_path / "two.zip").read_bytes() == first
    (course / "solutions" / "tensor_ops.py").write_text("# changed\n", encoding="utf-8")
    assert build_autograder_zip(course, tmp_path / "three.zip").read_bytes() != first


def test_a_course_that_does_not_load_gives_no_zip(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    (course / "exercises" / "tensor_ops.yaml").write_text(
        "id: tensor-ops\nchecks: 3\n", encoding="utf-8"
    )
    with pytest.raises(ExerciseError):
        build_autograder_zip(course, tmp_path / "autograder.zip")
    assert not (tmp_path / "autograder.zip").exists()


def test_helpers_must_be_inside_exercises(tmp_path: Path) -> None:
    course = course_copy(tmp_path)
    (course / "extra").mkdir()
    shutil.move(
        course / "exercises" / "hidden" / "prepare_data.py", course / "extra" / "prepare_data.py"
    )
    yaml = course / "exercises" / "prepare_data.yaml"
    yaml.write_text(
        yaml.read_text(encoding="utf-8").replace(
            "hidden/prepare_data.py", "../extra/prepare_data.py"
        ),
        encoding="utf-8",
    )
    load_course(course, resolve_helpers=False)  # a valid course, that the zip could not hold whole
    with pytest.raises(GraderError, match="outside exercises/"):
        build_autograder_zip(course, tmp_path / "autograder.zip")


def test_pyproject_when_the_grader_is_installed_from_a_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads(gradescope._pyproject_from_metadata())["project"]
    assert project["name"] == "torch-grader"
    assert any(dep.startswith("torch") for dep in project["dependencies"])
    assert not any("pytest" in dep for dep in project["dependencies"])  # the dev extra stays out


# -- run_autograder, run as Gradescope runs it -------------------------------------------


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`grader export gradescope` through the real CLI, unzipped as Gradescope does."""
    tmp = tmp_path_factory.mktemp("export")
    proc = run_grader(
        "export", "gradescope", "--out", str(tmp / "autograder.zip"), "--course", str(ROOT)
    )
    assert proc.returncode == 0, proc.stderr
    assert "upload it as the assignment's autograder" in proc.stderr
    zipped = (tmp / "autograder.zip").read_bytes()
    assert build_autograder_zip(ROOT, tmp / "again.zip").read_bytes() == zipped
    source = tmp / "source"
    if shutil.which("unzip"):  # Info-ZIP, as on Gradescope's Ubuntu: it applies the modes
        subprocess.run(["unzip", "-q", str(tmp / "autograder.zip"), "-d", str(source)], check=True)
    else:
        with zipfile.ZipFile(tmp / "autograder.zip") as archive:
            for info in archive.infolist():
                archive.extract(info, source)
                (source / info.filename).chmod(info.external_attr >> 16 & 0o777)
    return source


def autograder_root(
    tmp_path: Path,
    source: Path,
    files: dict[str, str] | None = None,
    folder: Path | None = None,
    inside: str = "",
) -> Path:
    root = tmp_path / "autograder"
    shutil.copytree(source, root / "source")
    submission = root / "submission" / inside
    submission.mkdir(parents=True)
    if folder is not None:
        for path in folder.iterdir():
            shutil.copy(path, submission / path.name)
    for name, text in (files or {}).items():
        (submission / name).write_text(text, encoding="utf-8")
    return root


def run_autograder(
    root: Path, python: str = sys.executable, relative: bool = False
) -> tuple[dict, str]:
    """Run run_autograder as Gradescope does (from the root), the root given by AUTOGRADER_ROOT."""
    script = root / "source" / "run_autograder"
    assert os.access(script, os.X_OK)
    where = {"AUTOGRADER_ROOT": root.name} if relative else {"AUTOGRADER_ROOT": str(root)}
    proc = subprocess.run(
        [str(script)],
        cwd=root.parent if relative else root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **where, "AUTOGRADER_PYTHON": python},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return validate(
        json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    ), proc.stdout


def test_the_scripts_are_valid_shell(unzipped: Path) -> None:
    setup = (unzipped / "setup.sh").read_text(encoding="utf-8")
    subprocess.run(["bash", "-n", str(unzipped / "setup.sh")], check=True)
    for shell in ("sh", "bash", "dash"):
        if shutil.which(shell):
            subprocess.run([shell, "-n", str(unzipped / "run_autograder")], check=True)
    assert (unzipped / "run_autograder").read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert setup.startswith("#!/usr/bin/env bash\n")
    # The torch version is the first setting, and the one this machine grades with.
    first = next(line for line in setup.splitlines() if line and not line.startswith("#"))
    assert first == f'TORCH_VERSION="{gradescope.torch_version()}"'
    assert "@" not in first and gradescope.torch_version()[0].isdigit()
    assert '--index-url "$TORCH_INDEX_URL" "torch==$TORCH_VERSION"' in setup
    assert "download.pytorch.org/whl/cpu" in setup
    assert "apt-get install -y --no-install-recommends bubblewrap" in setup
    assert (
        'pip install "$SOURCE/torch-grader"' in setup
        and (unzipped / "torch-grader" / "pyproject.toml").is_file()
    )
    assert (
        'grader validate --course "$SOURCE/course"' in setup
        and (unzipped / "course" / "exercises").is_dir()
    )


@pytest.mark.slow
def test_run_autograder_grades_a_correct_submission_zipped_in_a_folder(
    unzipped: Path, tmp_path: Path
) -> None:
    root = autograder_root(
        tmp_path,
        unzipped,
        folder=ROOT / "examples" / "submissions" / "ada_correct",
        inside="ada_correct",
    )
    (root / "submission" / "__MACOSX").mkdir()  # what macOS's Compress adds beside the folder
    doc, stdout = run_autograder(root)
    assert "grading these files of submission/ada_correct/" in stdout
    assert doc["score"] == 119.0 and doc["output"].startswith("Total: 119/119 points\n")
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in doc["tests"])
    assert sum(Decimal(str(t["score"])) for t in doc["tests"]) == 119
    assert len(doc["tests"]) == sum(
        len(ex.checks) for ex in load_course(ROOT, resolve_helpers=False).exercises
    )
    assert doc["stdout_visibility"] == "hidden" and not list((root / "results").glob(".*"))


BUGGY_TENSOR_OPS = """\
import torch


def linear_forward(x, weight, bias):
    return x @ weight.T + bias


def column_mean(x):
    return x.mean(dim=0)


def row_sum(x):
    return x.sum(dim=0)  # the wrong axis
"""


@pytest.mark.slow
def test_run_autograder_reports_what_is_wrong_with_a_broken_submission(
    unzipped: Path, tmp_path: Path
) -> None:
    root = autograder_root(
        tmp_path,
        unzipped,
        files={
            "tensor_ops.py": BUGGY_TENSOR_OPS,
            "derivative.py": "def derivative_of_square(x:\n    return 2 * x\n",
            "Activations.py": "def relu(x):\n    return x.clamp(min=0)\n",  # a wrong name
        },
    )
    # A link to the reference solution must not pass for the student's work.
    (root / "submission" / "text_to_ids.py").symlink_to(
        root / "source" / "course" / "solutions" / "text_to_ids.py"
    )
    # The course's YAML decides visibility: all of tensor-ops after the due date but one check.
    yaml = root / "source" / "course" / "exercises" / "tensor_ops.yaml"
    text = yaml.read_text(encoding="utf-8").replace(
        "checks:\n", "visibility: after_due_date\nchecks:\n", 1
    )
    yaml.write_text(
        text.replace("    judge: match\n", "    judge: match\n    visibility: visible\n", 1),
        encoding="utf-8",
    )
    doc, _ = run_autograder(root)
    tests = {t["name"]: t for t in doc["tests"]}
    ops = {name: t for name, t in tests.items() if name.startswith("tensor-ops: ")}
    assert {name: t["visibility"] for name, t in ops.items()} == {
        "tensor-ops: linear_forward matches nn.Linear on a random batch": "visible",
        **{name: "after_due_date" for name in ops if "matches nn.Linear" not in name},
    }
    row_sum = [t for name, t in ops.items() if "row_sum" in name]
    assert row_sum and all(t["status"] == "failed" and t["score"] == 0 for t in row_sum)
    assert (
        "Hint: The sum of each row reduces over the columns, dim=1."
        in tests["tensor-ops: row_sum of a wide matrix"]["output"]
    )
    assert all(t["status"] == "passed" for name, t in ops.items() if "row_sum" not in name)
    derivative = [t for name, t in tests.items() if name.startswith("derivative: ")]
    assert all(
        t["status"] == "failed" and "syntax error at line 1" in t["output"] for t in derivative
    )
    activations = [t for name, t in tests.items() if name.startswith("activations: ")]
    assert all(
        t["status"] == "failed" and "not submitted: no activations.py" in t["output"]
        for t in activations
    )
    text_to_ids = [t for name, t in tests.items() if name.startswith("text-to-ids: ")]
    assert all(t["status"] == "failed" and "is a link" in t["output"] for t in text_to_ids)
    passed = sum(Decimal(str(t["score"])) for t in doc["tests"] if t["status"] == "passed")
    assert Decimal(str(doc["score"])) == passed == 6  # tensor-ops without row_sum: 8 - 2
    assert sum(Decimal(str(t["score"])) for t in doc["tests"]) == passed
    assert doc["output"].startswith(
        f"Total: not shown, because 4 of the {len(doc['tests'])} tests are not shown yet\n"
    )
    if shutil.which("ruby"):
        text = (root / "results" / "results.json").read_text(encoding="utf-8")
        assert ruby_reads(text) == json.loads(text)
    assert "derivative.py has a syntax error at line 1" in doc["output"]


@pytest.mark.slow
def test_run_autograder_writes_results_even_when_the_grader_cannot_run(
    unzipped: Path, tmp_path: Path
) -> None:
    root = autograder_root(tmp_path, unzipped, files={"tensor_ops.py": BUGGY_TENSOR_OPS})
    (root / "source" / "course" / "exercises" / "tensor_ops.yaml").write_text(
        "id: [\n", encoding="utf-8"
    )
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text(
        '{"score": 100}', encoding="utf-8"
    )  # not this run's
    doc, stdout = run_autograder(root)
    assert doc["score"] == 0 and "tests" not in doc
    assert doc["output"].startswith(
        "The autograder could not grade this submission. Please tell your instructor"
    )
    assert "grader: exercises/tensor_ops.yaml" in doc["output"]
    assert doc["extra_data"] == {"grader_exit_status": 2}
    assert "the grader failed (exit status 2)" in stdout
    # Not even Python: the fixed message (and a root given relative to where it runs).
    doc, _ = run_autograder(root, python=str(tmp_path / "no-such-python"), relative=True)
    assert doc["score"] == 0 and "torch-grader did not start" in doc["output"]
