"""GitHub Actions and Classroom output (grader/exports/github.py), in a simulated runner.

The runner's side is simulated from its source (actions/runner): the environment
variables and files it provides, how it splits the log into lines and parses workflow
commands (``ActionCommand.TryParseV2`` and the older ``TryParse``), the stop-commands
state of ``ActionCommandManager``, and how it reads ``$GITHUB_OUTPUT``
(``FileCommandManager``). The Classroom reporter's reads are emulated from
classroom-resources/autograding-grading-reporter.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from grader import terminal
from grader.exports import github
from grader.exports.github import (
    MAX_ANNOTATIONS,
    SUMMARY_LIMIT,
    WITHHELD,
    classroom_result,
    fenced_output,
    markdown_text,
    render_summary,
    report_to_github,
    summing_to,
    workflow_command,
    workflow_text,
)
from grader.results import (
    CheckResult,
    ExerciseResult,
    GradingRun,
    StudentResult,
    exercise_status,
    rounded,
)
from grader.sandbox.diagnosis import BWRAP_PROFILE

# ------------------------------------------------------------------ the runner, simulated
# The commands the runner registers (ActionCommandManager's extensions); names are
# compared ignoring case.
REGISTERED = {
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-mask",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "debug",
    "warning",
    "error",
    "notice",
    "group",
    "endgroup",
    "echo",
}


@dataclass
class Command:
    name: str
    properties: dict[str, str]
    data: str
    line: int  # index of the log line


def _unescape(text: str, mappings: list[tuple[str, str]]) -> str:
    for token, replacement in mappings:  # in the runner's order, one pass each
        text = text.replace(replacement, token)
    return text


DATA = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
PROPERTY = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]
LEGACY = [(";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25")]


def _split(text: str, separator: str) -> list[str]:
    return [part for part in text.split(separator) if part]  # StringSplitOptions.RemoveEmptyEntries


def _properties(text: str, separator: str, mappings: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for prop in _split(text, separator):
        pair = _split_pair(prop)
        if len(pair) == 2:
            found[pair[0].lower()] = _unescape(pair[1], mappings)
    return found


def _split_pair(prop: str) -> list[str]:
    key, sep, value = prop.partition("=")
    return [p for p in ([key, value] if sep else [key]) if p]


def parse_v2(line: str, registered: set[str]) -> tuple[str, dict[str, str], str] | None:
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in registered:
        return None
    props = _properties(info[space + 1 :].strip(), ",", PROPERTY) if space > 0 else {}
    return name, props, _unescape(message[end + 2 :], DATA)


def parse_legacy(line: str, registered: set[str]) -> tuple[str, dict[str, str], str] | None:
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + 3 : end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in registered:
        return None
    props = _properties(info[space + 1 :], ";", LEGACY) if space > 0 else {}
    return name, props, _unescape(line[end + 1 :], LEGACY)


@dataclass
class Runner:
    """A job log as the runner reads it: the commands it acts on, in order."""

    log: str
    lines: list[str] = field(init=False)
    commands: list[Command] = field(init=False)

    def __post_init__(self) -> None:
        # .NET's ReadLine ends a line at \r, \n or \r\n.
        self.lines = re.split(r"\r\n|\r|\n", self.log)
        self.commands = []
        registered = set(REGISTERED)
        stopped, token = False, None
        for number, line in enumerate(self.lines):
            parsed = parse_v2(line, registered) or parse_legacy(line, registered)
            if parsed is None:
                continue
            name, props, data = parsed
            if stopped:
                if token and name.lower() == token.lower():
                    registered.discard(token.lower())
                    stopped, token = False, None
                continue
            if name.lower() == "stop-commands":
                stopped, token = True, data
                registered.add(data.lower())
                continue
            self.commands.append(Command(name, props, data, number))

    def named(self, name: str) -> list[Command]:
        return [c for c in self.commands if c.name == name]


def read_github_output(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: NAME=VALUE lines, or NAME<<DELIMITER."""
    values, lines = {}, text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, value = line.split("=", 1)
            values[name] = value
        else:
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
    return values


def reporter_reads(encoded: str) -> tuple[dict, float]:
    """What autograding-grading-reporter does with a runner's result: base64 -> UTF-8 ->
    JSON.parse, then totalPoints += score for each test, from 0."""
    results = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    return results, reduce(lambda total, test: total + test["score"], results["tests"], 0.0)


# ------------------------------------------------------------------ results, built directly
def check(
    name: str,
    status: str = "passed",
    score: float | None = None,
    points: float = 1.0,
    message: str = "",
    **extra,
) -> CheckResult:
    if score is None:
        score = points if status == "passed" else 0.0
    return CheckResult(
        name=name, score=score, max_score=points, status=status, message=message, **extra
    )


def exercise(
    ex_id: str, checks: list[CheckResult], file: str | None = None, **extra
) -> ExerciseResult:
    status = extra.pop("status", None) or exercise_status(checks)
    return ExerciseResult(
        id=ex_id,
        title=ex_id.replace("-", " ").capitalize(),
        score=rounded(sum(c.score for c in checks)),
        max_score=rounded(sum(c.max_score for c in checks)),
        status=status,
        checks=checks,
        file=file,
        **extra,
    )


def run_of(*students: StudentResult, warnings: list[str] | None = None) -> GradingRun:
    return GradingRun(
        course="Course",
        grader_version="0.1.0",
        sandbox="bubblewrap",
        seed=0,
        students=list(students),
        warnings=warnings or [],
    )


def missing(ex_id: str, file: str) -> ExerciseResult:
    problem = f"not submitted: no {file}.py or {file}.ipynb was found"
    return exercise(
        ex_id,
        [check("it works", "missing", points=2, message=problem)],
        None,
        status="missing",
        message=problem,
    )


def typical_student(name: str = "ada") -> StudentResult:
    """An error with a traceback, a failure, a notebook cell error, a file that did not
    load, a passed check that printed, and an exercise not submitted."""
    ops = exercise(
        "tensor-ops",
        [
            check("linear_forward on a batch", points=2, output="shape (6, 3)\n", seconds=0.004),
            check(
                "row_sum of a wide matrix",
                "error",
                points=2,
                seconds=0.001,
                message=(
                    "row_sum raised IndexError at line 7 of tensor_ops.py: index 9 is out of bounds"
                ),
                traceback=[
                    {"file": "tensor_ops.py", "line": 7, "function": "row_sum", "code": "x[9]"}
                ],
                hint="Reduce over dim=1.",
            ),
            check(
                "column_mean of a tall matrix",
                "failed",
                points=2,
                message="column_mean: shape is [9]; expected [4]",
                hint="The mean of each column reduces over the rows, dim=0.",
            ),
        ],
        "tensor_ops.py",
    )
    acts = exercise(
        "activations",
        [
            check(
                "relu of a vector",
                "error",
                points=3,
                message="relu raised NameError at line 2 of cell 5 "
                "(In [3], starting `def relu(x):`): name 'y' is not defined",
                traceback=[{"file": "cell 5", "line": 2, "function": "relu", "code": "return y"}],
            ),
            check("relu keeps the shape", score=1, points=1),
        ],
        "activations.ipynb",
    )
    broken = "derivative.py has a syntax error at line 3: invalid syntax"
    deriv = exercise(
        "derivative",
        [check("slope", "error", points=2, message=f"not run: {broken}")],
        "derivative.py",
        status="error",
        message=broken,
        output="loading...\n",
        traceback=[{"file": "derivative.py", "line": 3, "function": "<module>", "code": "def f(:"}],
    )
    return StudentResult.of(name, [ops, acts, deriv, missing("save-load", "save_load")])


@pytest.fixture
def runner_env(tmp_path: Path) -> dict[str, str]:
    """The files and variables a runner gives a step, empty."""
    (tmp_path / "summary.md").write_text("")
    (tmp_path / "output.txt").write_text("")
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
    }


class Log:
    """A TextIO standing in for the job log."""

    encoding = "utf-8"

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.parts)


def report(run: GradingRun, env: dict[str, str], folders: dict[str, Path] | None = None) -> str:
    log = Log()
    workspace = Path(env.get("GITHUB_WORKSPACE", "."))
    folders = folders or {s.id: workspace / "subs" / s.id for s in run.students}
    report_to_github(run, folders, env, log)
    return log.text()


# ------------------------------------------------------------------ workflow commands
def test_data_and_properties_are_escaped_as_the_runner_unescapes_them():
    line = workflow_command(
        "error",
        {"file": "a,b:c.py", "line": 3, "title": "x: y, 100%\r\nz"},
        "50% done:: %0A\r\nnext,",
    )
    assert line == (
        "::error file=a%2Cb%3Ac.py,line=3,title=x%3A y%2C 100%25%0D%0Az"
        "::50%25 done:: %250A%0D%0Anext,"
    )
    [parsed] = Runner(line).commands
    assert (parsed.name, parsed.properties, parsed.data) == (
        "error",
        {"file": "a,b:c.py", "line": "3", "title": "x: y, 100%\r\nz"},
        "50% done:: %0A\r\nnext,",
    )


def test_empty_properties_are_left_out():
    assert (
        workflow_command("error", {"file": None, "line": None, "title": "t"}, "m")
        == "::error title=t::m"
    )
    assert workflow_command("warning", {}, "m") == "::warning::m"


def test_annotations_byte_for_byte(runner_env: dict[str, str]):
    log = report(run_of(typical_student()), runner_env)
    annotations = [line for line in log.splitlines() if line.startswith("::error")]
    assert annotations == [
        # errors with a line first, in course order
        "::error file=subs/ada/tensor_ops.py,line=7,title=tensor-ops%3A row_sum of a wide matrix"
        "::row_sum raised IndexError at line 7 of tensor_ops.py: index 9 is out of bounds",
        "::error file=subs/ada/derivative.py,line=3,title=derivative%3A Derivative"
        "::derivative.py has a syntax error at line 3: invalid syntax",
        # a notebook: the notebook file, no line; the cell is in the message already
        "::error file=subs/ada/activations.ipynb,title=activations%3A relu of a vector"
        "::relu raised NameError at line 2 of cell 5 (In [3], starting `def relu(x):`): name 'y' "
        "is not defined",
        # a failure without a traceback: the exercise's file, no line
        "::error file=subs/ada/tensor_ops.py,title=tensor-ops%3A column_mean of a tall matrix"
        "::column_mean: shape is [9]; expected [4]",
        # exercises without a file: one annotation, no file
        "::error title=not submitted::1 of 4 exercises have no file: save-load",
    ]
    parsed = Runner(log).named("error")
    assert [(c.properties.get("file"), c.properties.get("line")) for c in parsed] == [
        ("subs/ada/tensor_ops.py", "7"),
        ("subs/ada/derivative.py", "3"),
        ("subs/ada/activations.ipynb", None),
        ("subs/ada/tensor_ops.py", None),
        (None, None),
    ]


def test_a_notebook_cell_missing_from_the_message_is_added(runner_env: dict[str, str]):
    nb = exercise(
        "activations",
        [
            check(
                "relu",
                "error",
                message="relu raised NameError: y",
                traceback=[{"file": "cell 12", "line": 4}],
            )
        ],
        "activations.ipynb",
    )
    log = report(run_of(StudentResult.of("ada", [nb])), runner_env)
    assert log.splitlines()[0] == (
        "::error file=subs/ada/activations.ipynb,title=activations%3A relu"
        "::cell 12, line 4: relu raised NameError: y"
    )


def test_paths_are_relative_to_the_workspace_or_the_submission_path(tmp_path: Path):
    run = run_of(typical_student())
    folders = {"ada": tmp_path / "grading" / "submission"}
    in_workspace = Runner(report(run, {"GITHUB_WORKSPACE": str(tmp_path)}, folders)).named("error")
    assert in_workspace[0].properties["file"] == "grading/submission/tensor_ops.py"
    # The shipped workflow grades a copy: files are named as the pull request has them.
    as_in_repo = Runner(
        report(run, {"GITHUB_WORKSPACE": str(tmp_path), "GRADER_SUBMISSION_PATH": "hw/2"}, folders)
    ).named("error")
    assert as_in_repo[0].properties["file"] == "hw/2/tensor_ops.py"
    root = Runner(
        report(run, {"GITHUB_WORKSPACE": str(tmp_path), "GRADER_SUBMISSION_PATH": "."}, folders)
    ).named("error")
    assert root[0].properties["file"] == "tensor_ops.py"
    # Outside the workspace GitHub could not place the file: no file, named in the message.
    outside = Runner(report(run, {"GITHUB_WORKSPACE": str(tmp_path / "elsewhere")}, folders)).named(
        "error"
    )
    assert "file" not in outside[0].properties
    assert outside[0].data.startswith("tensor_ops.py: row_sum raised IndexError")


def test_frames_outside_the_student_folder_are_not_trusted_as_paths(runner_env: dict[str, str]):
    odd = exercise(
        "tensor-ops",
        [
            check("a", "error", message="m1", traceback=[{"file": "../../etc/passwd", "line": 1}]),
            check("b", "error", message="m2", traceback=[{"file": "/abs/x.py", "line": 2}]),
            check("c", "error", message="m3", traceback=[{"file": "<string>", "line": 3}]),
            check("d", "error", message="m4", traceback=[{"file": "helpers.py", "line": 9}]),
        ],
        "tensor_ops.py",
    )
    parsed = Runner(report(run_of(StudentResult.of("ada", [odd])), runner_env)).named("error")
    assert [(c.properties.get("file"), c.properties.get("line")) for c in parsed] == [
        ("subs/ada/helpers.py", "9"),
        ("subs/ada/tensor_ops.py", None),
        ("subs/ada/tensor_ops.py", None),
        ("subs/ada/tensor_ops.py", None),
    ]


def test_at_most_ten_annotations_errors_first(runner_env: dict[str, str]):
    checks = [check(f"failure {i}", "failed", message=f"wrong {i}") for i in range(30)]
    checks += [
        check("crash", "error", message="boom", traceback=[{"file": "ops.py", "line": 4}]),
        check("slow", "timeout", message="did not finish within 5 s"),
    ]
    log = report(run_of(StudentResult.of("ada", [exercise("ops", checks, "ops.py")])), runner_env)
    errors = Runner(log).named("error")
    assert len(errors) == MAX_ANNOTATIONS == 10
    assert [c.data for c in errors[:3]] == ["boom", "did not finish within 5 s", "wrong 0"]
    assert (
        "torch-grader: 22 more problems are not annotated (GitHub keeps 10 per step); "
        "the job summary lists them\n"
    ) in log


def test_several_students_are_named_in_titles(runner_env: dict[str, str]):
    log = report(run_of(typical_student("ada"), typical_student("ben")), runner_env)
    titles = [c.properties["title"] for c in Runner(log).named("error")]
    assert titles[:4] == [
        "ada / tensor-ops: row_sum of a wide matrix",
        "ada / derivative: Derivative",
        "ben / tensor-ops: row_sum of a wide matrix",
        "ben / derivative: Derivative",
    ]
    assert titles[-1] == "ben / not submitted"


# ------------------------------------------------------------------ the line of a wrong value
TENSOR_OPS = """import torch


def row_sum(x):
    return x.sum(dim=1)


@torch.no_grad()
def column_mean(x):
    return x.mean(dim=1)
"""


def wrong_value(entry: str = "column_mean", **extra) -> StudentResult:
    ops = exercise(
        "tensor-ops",
        [
            check(
                "row_sum of a wide matrix",
                "error",
                message="row_sum raised IndexError at line 5 of tensor_ops.py",
                traceback=[{"file": "tensor_ops.py", "line": 5, "function": "row_sum"}],
                entry="row_sum",
            ),
            check("column_mean", "failed", message="column_mean: shape is [9]", entry=entry),
        ],
        "tensor_ops.py",
        **extra,
    )
    return StudentResult.of("ada", [ops])


def submit(workspace: Path, name: str, text: str | bytes) -> Path:
    path = workspace / "subs" / "ada" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_places(log: str) -> list[tuple[str | None, str | None, str]]:
    return [
        (c.properties.get("file"), c.properties.get("line"), c.data)
        for c in Runner(log).named("error")
    ]


def test_a_wrong_value_points_at_the_def_line_of_its_entry_point(runner_env: dict[str, str]):
    submit(Path(runner_env["GITHUB_WORKSPACE"]), "tensor_ops.py", TENSOR_OPS)
    log = report(run_of(wrong_value()), runner_env)
    assert error_places(log) == [
        # a traceback in the student's file keeps its failing line
        ("subs/ada/tensor_ops.py", "5", "row_sum raised IndexError at line 5 of tensor_ops.py"),
        # the wrong value sits on `def column_mean` (below its decorator), no longer lineless
        ("subs/ada/tensor_ops.py", "9", "column_mean: shape is [9]"),
    ]
    line = next(x for x in log.splitlines() if "column_mean: shape" in x)
    assert line == (
        "::error file=subs/ada/tensor_ops.py,line=9,title=tensor-ops%3A column_mean"
        "::column_mean: shape is [9]"
    )


def test_without_the_file_or_the_definition_there_is_no_line(runner_env: dict[str, str]):
    workspace = Path(runner_env["GITHUB_WORKSPACE"])
    no_file = error_places(report(run_of(wrong_value()), runner_env))
    assert no_file[1] == ("subs/ada/tensor_ops.py", None, "column_mean: shape is [9]")
    submit(workspace, "tensor_ops.py", TENSOR_OPS)
    undefined = error_places(report(run_of(wrong_value("col_mean")), runner_env))
    assert undefined[1] == ("subs/ada/tensor_ops.py", None, "column_mean: shape is [9]")


@pytest.mark.parametrize(
    "source",
    [
        "def column_mean(x):\n    return (\n",  # a syntax error
        "def column_mean(x):\x00\n",  # a null byte
        "x = " + "(" * 5000 + ")" * 5000 + "\ndef column_mean(x): pass\n",  # too deep
        b"\xff\xfe def column_mean(x): pass\n",  # not UTF-8
        "",
    ],
    ids=["syntax-error", "null-byte", "deep", "not-utf8", "empty"],
)
def test_a_hostile_source_only_costs_the_line(runner_env: dict[str, str], source):
    submit(Path(runner_env["GITHUB_WORKSPACE"]), "tensor_ops.py", source)
    places = error_places(report(run_of(wrong_value()), runner_env))
    assert places[1][0] == "subs/ada/tensor_ops.py" and places[1][2] == "column_mean: shape is [9]"
    assert places[1][1] in (None, "1")  # not UTF-8: read with replacement characters


def test_a_link_in_place_of_the_file_is_not_followed(runner_env: dict[str, str], tmp_path: Path):
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("def column_mean(x):\n    pass\n")
    link = Path(runner_env["GITHUB_WORKSPACE"]) / "subs" / "ada" / "tensor_ops.py"
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    assert error_places(report(run_of(wrong_value()), runner_env))[1][1] is None


def test_which_definition_counts():
    from grader.submissions.definitions import definition_line

    source = "\n".join(
        [
            "def f(x):",  # 1: replaced below
            "    def g(): pass",  # 2: nested, not module level
            "if True:",
            "    def f(x):",  # 4: under a module-level if
            "        pass",
            "class Model:",  # 6
            "    def forward(self, x): pass",
            "try:",
            "    pass",
            "except ImportError:",
            "    def f(x): pass",  # 11: the last one, as Python keeps it
        ]
    )
    assert definition_line(source, "f") == 11
    assert definition_line(source, "Model") == 6
    assert definition_line(source, "g") is None
    assert definition_line(source, "forward") is None


def test_a_notebook_says_the_cell_and_line_of_the_definition(runner_env: dict[str, str]):
    cells = [
        {"cell_type": "markdown", "source": ["# Activations"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import torch\n"]},
        {"cell_type": "code", "source": ["!nvidia-smi\n", "\n", "def relu(x):\n", "    return x"]},
        {"cell_type": "code", "source": "print(relu(torch.ones(2)))"},
    ]
    submit(Path(runner_env["GITHUB_WORKSPACE"]), "activations.ipynb", json.dumps({"cells": cells}))
    nb = exercise(
        "activations",
        [check("relu of a vector", "failed", message="relu returned [1, 1]", entry="relu")],
        "activations.ipynb",
    )
    log = report(run_of(StudentResult.of("ada", [nb])), runner_env)
    assert log.splitlines()[0] == (
        "::error file=subs/ada/activations.ipynb,title=activations%3A relu of a vector"
        "::cell 3, line 3 (def relu): relu returned [1, 1]"
    )


# ------------------------------------------------------------------ the student's output
INJECTIONS = [
    "::error::pwned",
    "::add-mask::hide-this",
    "::set-output name=result::cHduZWQ=",
    "   ::warning file=x.py,line=1::indented",
    "::notice::n",
    "##[error]legacy syntax, anywhere in a line",
    "::stop-commands::mine",
    "::mine::",
    "::endgroup::",
    "::group::fake",
    "::echo::on",
    "text\r::error::after a carriage return",
]


def _injecting_run(guesses: list[str]) -> GradingRun:
    printed = "\n".join(INJECTIONS + guesses)
    ex = exercise(
        "tensor-ops",
        [
            check("prints", output=printed + "\n"),
            check(
                "prints without a final newline",
                "error",
                message="::error::in a message",
                output="::error::no newline at the end",
            ),
        ],
        "tensor_ops.py",
        output="::set-env name=PATH::/evil\n",
    )
    return run_of(StudentResult.of("eve", [ex]))


def test_student_output_cannot_issue_workflow_commands(runner_env: dict[str, str]):
    guesses = ["::" + "0" * 32 + "::", "::" + "f" * 32 + "::", "::stop-commands::" + "a" * 32]
    log = report(_injecting_run(guesses), runner_env)
    runner = Runner(log)
    # The runner acts on our commands only: one annotation, and the group around the output.
    assert [(c.name, c.data) for c in runner.commands] == [
        ("error", "::error::in a message"),
        ("group", "Output of the student's code (workflow commands in it are not run)"),
        ("endgroup", ""),
    ]
    # Every line the student printed is shown, and only inside the stop-commands block.
    start = runner.lines.index(
        next(line for line in runner.lines if line.startswith("::stop-commands::"))
    )
    token = runner.lines[start].removeprefix("::stop-commands::")
    end = runner.lines.index(f"::{token}::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    inside = runner.lines[start + 1 : end]
    for printed in [
        *INJECTIONS,
        *guesses,
        "::error::no newline at the end",
        "::set-env name=PATH::/evil",
    ]:
        for piece in printed.split("\r"):
            assert piece in inside, piece
    # Outside the block, every line is one of ours.
    outside = runner.lines[:start] + runner.lines[end + 1 :]
    assert outside == [
        "::error file=subs/eve/tensor_ops.py,title=tensor-ops%3A prints without a final newline"
        "::::error::in a message",
        "::group::Output of the student's code (workflow commands in it are not run)",
        "::endgroup::",
        "",
    ]


def test_a_guessed_or_printed_end_marker_does_not_end_the_block(
    monkeypatch: pytest.MonkeyPatch, runner_env: dict[str, str]
):
    # The student's code ran before the token existed; should it print the token anyway,
    # another one is drawn (compared ignoring case, as the runner does).
    tokens = iter(["ab" * 16, "cd" * 16])
    monkeypatch.setattr(terminal.secrets, "token_hex", lambda n: next(tokens))  # the one stop_token
    log = report(_injecting_run(["::" + "AB" * 16 + "::"]), runner_env)
    assert "::stop-commands::" + "cd" * 16 + "\n" in log
    assert Runner(log).commands[-1].name == "endgroup"  # our marker ended the block


def test_output_block_byte_for_byte():
    ex = exercise(
        "ops",
        [check("a", output="line 1\nline 2"), check("b"), check("c", output="\n")],
        "ops.py",
        output="loading\n",
    )
    text = fenced_output(run_of(StudentResult.of("ada", [ex])), token="0" * 32)
    assert text == (
        "::group::Output of the student's code (workflow commands in it are not run)\n"
        f"::stop-commands::{'0' * 32}\n"
        "----- ada / ops: while loading ops.py -----\n"
        "loading\n"
        "----- ada / ops: a -----\n"
        "line 1\n"
        "line 2\n"
        "----- ada / ops: c -----\n"
        "\n"
        f"::{'0' * 32}::\n"
        "::endgroup::\n"
    )
    assert (
        fenced_output(run_of(StudentResult.of("ada", [exercise("ops", [check("a")], "ops.py")])))
        == ""
    )


def test_huge_output_is_cut_and_odd_characters_are_written(runner_env: dict[str, str]):
    ex = exercise("ops", [check("a", output="x" * 100_000 + "\udcff\x00\x1b[31mred")], "ops.py")
    log = report(run_of(StudentResult.of("ada", [ex])), runner_env)
    assert "x" * github.LOG_OUTPUT_LIMIT + " [... " in log
    assert len(log) < github.LOG_OUTPUT_LIMIT + 2000
    log.encode("utf-8")  # a lone surrogate would make writing to a UTF-8 log fail


# ------------------------------------------------------------------ the job summary
SUMMARY = """\
## Autograding: Course

### ada: 3 / 14 points (21.4%)

| exercise | points | status |
| --- | ---: | --- |
| tensor\\-ops: Tensor ops | 2 / 6 | \u2717 failed |
| activations: Activations | 1 / 4 | \u2717 failed |
| derivative: Derivative | 0 / 2 | ! error |
| save\\-load: Save load | 0 / 2 | \u2205 missing |

#### What did not pass

- **tensor\\-ops: row\\_sum of a wide matrix** (0 / 2 points): ! error<br>row\\_sum raised \
IndexError at line 7 of tensor\\_ops\\.py: index 9 is out of bounds<br>*Hint:* Reduce over dim=1\\.
- **tensor\\-ops: column\\_mean of a tall matrix** (0 / 2 points): \u2717 \
failed<br>column\\_mean: shape is \\[9\\]; expected \\[4\\]<br>*Hint:* The mean of each column \
reduces over the rows, dim=0\\.
- **activations: relu of a vector** (0 / 3 points): ! error<br>relu raised NameError at line 2 of \
cell 5 \\(In \\[3\\], starting \\`def relu\\(x\\):\\`\\): name 'y' is not defined
- **derivative: Derivative**: ! error<br>derivative\\.py has a syntax error at line 3: invalid \
syntax
- **Not submitted** (1 of 4 exercises): \u2205 save\\-load \\(Save load\\)

> Student code ran in a plain subprocess\\.

"""


def test_summary_byte_for_byte_and_appended(runner_env: dict[str, str]):
    Path(runner_env["GITHUB_STEP_SUMMARY"]).write_text(
        "# Earlier in this step\n\n", encoding="utf-8"
    )
    report(
        run_of(typical_student(), warnings=["Student code ran in a plain subprocess."]), runner_env
    )
    assert Path(runner_env["GITHUB_STEP_SUMMARY"]).read_bytes() == (
        "# Earlier in this step\n\n" + SUMMARY
    ).encode("utf-8")


def test_summary_escapes_student_text():
    hostile = (
        "<img src=x onerror=alert(1)> **bold** _it_ [link](http://x) ![i](y) | cell | # h\n"
        "`code` $x^2$ ~~s~~ &amp; 1. \\ {}+-!"
    )
    assert markdown_text(hostile) == (
        "&lt;img src=x onerror=alert\\(1\\)&gt; \\*\\*bold\\*\\* \\_it\\_ \\[link\\]\\(http://x\\) "
        "\\!\\[i\\]\\(y\\) \\| cell \\| \\# h<br>\\`code\\` \\$x^2\\$ "
        "\\~\\~s\\~\\~ &amp;amp; 1\\. \\\\ \\{\\}\\+\\-\\!"
    )
    assert markdown_text("a\r\nb\x1b[31mred\x00\tc") == "a<br>bred\ufffd c"
    ex = exercise("ops", [check(hostile, "failed", message=hostile, hint=hostile)], "ops.py")
    summary = render_summary(run_of(StudentResult.of("<b>eve</b>", [ex])))
    assert "<img" not in summary and "<b>" not in summary and "](" not in summary
    assert "### &lt;b&gt;eve&lt;/b&gt;: 0 / 1 points" in summary


def test_summary_stays_under_one_mebibyte(runner_env: dict[str, str]):
    checks = [
        check(f"check {i}", "failed", message="\u00e9" * 3000, hint="h" * 3000) for i in range(400)
    ]
    students = [StudentResult.of(f"s{n}", [exercise("ops", checks, "ops.py")]) for n in range(3)]
    path = Path(runner_env["GITHUB_STEP_SUMMARY"])
    path.write_text("x" * 300_000 + "\n", encoding="utf-8")  # earlier output of the step counts too
    report(run_of(*students), runner_env)
    data = path.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    text = data.decode("utf-8")
    kept, note = text.split("\n\n> **Summary cut short**: ")
    assert kept.endswith("\n") and kept.startswith("x" * 300_000 + "\n## Autograding: Course")
    assert re.fullmatch(
        r"\d+ more rows and items did not fit in the 1 MiB GitHub allows a step summary\. "
        r"The reports of `grader grade` hold everything\.\n",
        note,
    )
    # Whole items only: every kept item line is complete.
    items = [line for line in kept.splitlines() if line.startswith("- ")]
    assert items and all(line.endswith(" more characters\\]") for line in items)


def test_a_full_summary_file_is_left_alone(runner_env: dict[str, str]):
    path = Path(runner_env["GITHUB_STEP_SUMMARY"])
    path.write_text("x" * (SUMMARY_LIMIT - 100), encoding="utf-8")
    log = report(run_of(typical_student()), runner_env)
    assert path.stat().st_size == SUMMARY_LIMIT - 100
    assert "torch-grader: no job summary: the step's summary file is already full\n" in log


# ------------------------------------------------------------------ visibility
def test_unreleased_checks_keep_their_messages_off_github(runner_env: dict[str, str]):
    secret = "expected tensor([1.25, 7.5]) on the held-out input"
    ex = exercise(
        "ops",
        [
            check(
                "hidden one",
                "failed",
                message=secret,
                hint="secret hint",
                visibility="hidden",
                traceback=[{"file": "ops.py", "line": 3}],
            ),
            check("visible one", "failed", message="shown"),
        ],
        "ops.py",
    )
    run = run_of(StudentResult.of("ada", [ex]))
    log = report(run, runner_env)
    summary = Path(runner_env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    results, _ = reporter_reads(
        read_github_output(Path(runner_env["GITHUB_OUTPUT"]).read_text())["result"]
    )
    for text in (log, summary, json.dumps(results)):
        assert secret not in text and "secret hint" not in text
    assert [c.data for c in Runner(log).named("error")] == [WITHHELD, "shown"]
    assert markdown_text(WITHHELD) in summary
    assert [t["message"] for t in results["tests"]] == [WITHHELD, "shown"]


# ------------------------------------------------------------------ GitHub Classroom
CLASSROOM_JSON = (
    '{"version":1,"status":"fail","max_score":14,'
    '"tests":[{"name":"tensor-ops: linear_forward on a batch","status":"pass","message":null,'
    '"test_code":"","filename":"tensor_ops.py","line_no":0,"duration":4,"score":2},'
    '{"name":"tensor-ops: row_sum of a wide matrix","status":"error",'
    '"message":"row_sum raised IndexError at line 7 of tensor_ops.py: index 9 is out of bounds",'
    '"test_code":"","filename":"tensor_ops.py","line_no":7,"duration":1,"score":0},'
    '{"name":"tensor-ops: column_mean of a tall matrix","status":"fail",'
    '"message":"column_mean: shape is [9]; expected [4]","test_code":"","filename":"tensor_ops.py",'
    '"line_no":0,"duration":0,"score":0},{"name":"activations: relu of a vector","status":"error",'
    '"message":"relu raised NameError at line 2 of cell 5 (In [3],'
    ' starting `def relu(x):`): name \'y\' is not defined","test_code":"",'
    '"filename":"activations.ipynb","line_no":0,"duration":0,"score":0},'
    '{"name":"activations: relu keeps the shape","status":"pass","message":null,"test_code":"",'
    '"filename":"activations.ipynb","line_no":0,"duration":0,"score":1},'
    '{"name":"derivative: slope","status":"error",'
    '"message":"not run: derivative.py has a syntax error at line 3: invalid syntax",'
    '"test_code":"","filename":"derivative.py","line_no":3,"duration":0,"score":0},'
    '{"name":"save-load: it works","status":"fail",'
    '"message":"not submitted: no save_load.py or save_load.ipynb was found","test_code":"",'
    '"filename":"","line_no":0,"duration":0,"score":0}]}'
)


def test_classroom_result_byte_for_byte(runner_env: dict[str, str]):
    report(run_of(typical_student()), {**runner_env, "GRADER_SUBMISSION_PATH": "."})
    text = Path(runner_env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")
    assert re.fullmatch(r"result=[A-Za-z0-9+/]+=*\n", text)  # one line: no delimiter form needed
    encoded = read_github_output(text)["result"]
    assert base64.b64decode(encoded).decode("utf-8") == CLASSROOM_JSON
    results, total = reporter_reads(encoded)
    assert total == 3 and results["max_score"] == 14
    assert f"Points {total:g}/{results['max_score']}" == "Points 3/14"  # the reporter's notice


def test_classroom_result_is_appended(runner_env: dict[str, str]):
    Path(runner_env["GITHUB_OUTPUT"]).write_text(
        "other=1\nnotes<<EOF\na\nb\nEOF\n", encoding="utf-8"
    )
    report(run_of(typical_student()), runner_env)
    values = read_github_output(Path(runner_env["GITHUB_OUTPUT"]).read_text(encoding="utf-8"))
    assert values["other"] == "1" and values["notes"] == "a\nb"
    assert reporter_reads(values["result"])[1] == 3


def test_classroom_scores_add_up_exactly():
    assert sum([0.1, 0.2]) != 0.3
    assert reduce(lambda a, b: a + b, summing_to([0.1, 0.2], 0.3), 0.0) == 0.3
    assert summing_to([1.0, 2.0, 0.0], 3.0) == [1.0, 2.0, 0.0]  # exact already: unchanged
    rng = random.Random(7)
    for _ in range(2000):
        scores = [
            rounded(rng.choice([0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 0.7, 1.1, rng.random() * 3]))
            for _ in range(rng.randint(1, 40))
        ]
        total = rounded(sum(scores))
        fixed = summing_to(scores, total)
        assert reduce(lambda a, b: a + b, fixed, 0.0) == total
        assert all(abs(a - b) < 1e-9 for a, b in zip(fixed, scores, strict=True))


def test_classroom_result_with_partial_credit(tmp_path: Path):
    checks = [
        check(f"c{i}", "failed", score=s, points=1)
        for i, s in enumerate([0.1, 0.2, 0.1, 0.3333, 0.0])
    ]
    student = StudentResult.of("ada", [exercise("ops", checks, "ops.py")])
    assert student.score == 0.7333
    result = classroom_result(student, tmp_path, github.Paths(tmp_path))
    encoded = github.classroom_output(result).removeprefix("result=").strip()
    assert reporter_reads(encoded)[1] == 0.7333


def test_no_classroom_result_for_several_students(runner_env: dict[str, str]):
    log = report(run_of(typical_student("ada"), typical_student("ben")), runner_env)
    assert Path(runner_env["GITHUB_OUTPUT"]).read_text() == ""
    [warning] = Runner(log).named("warning")
    assert warning.data == (
        "no GitHub Classroom result: this run graded 2 submissions, "
        "and a Classroom result is for one"
    )


def test_nothing_is_written_without_the_runner_files(tmp_path: Path):
    log = report(run_of(typical_student()), {"GITHUB_WORKSPACE": str(tmp_path)})
    assert log.startswith("::error ") and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the workflows
def _on(doc: dict) -> dict:
    return doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true


def _steps(doc: dict) -> list[dict]:
    [job] = doc["jobs"].values()
    return job["steps"]


ACTION = re.compile(r"^actions/(checkout|setup-python)@v\d+$")


def test_shipped_workflow_grades_pull_requests_without_running_them():
    text = workflow_text()
    doc = yaml.safe_load(text)
    assert list(_on(doc)) == ["pull_request_target"]
    assert doc["permissions"] == {"contents": "read"}
    steps = _steps(doc)
    names = [s.get("name", s.get("uses")) for s in steps]
    assert all(ACTION.match(s["uses"]) for s in steps if "uses" in s)
    assert all("cache" not in s.get("with", {}) for s in steps)
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    course, pr = checkouts
    assert course["with"]["ssh-key"] == "${{ secrets.COURSE_DEPLOY_KEY }}"
    assert pr["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert {c["with"]["path"] for c in checkouts} == {
        "course",
        "pr",
    }  # apart, never the workspace root
    assert all(c["with"]["persist-credentials"] is False for c in checkouts)
    # Everything is installed before the pull request is on disk, and nothing runs from it.
    assert names.index("Install torch-grader") < steps.index(pr)
    for step in steps:
        run = step.get("run", "")
        assert "${{" not in run  # no expression (event text) inside a shell command
        assert not re.search(r"\bpr/\S*\.(py|sh)\b|\bpip install\b[^\n]*\bpr/", run)
    # The secret is used by the course checkout only.
    assert text.count("secrets.") == 1 and "secrets.COURSE_DEPLOY_KEY" in text
    grade = next(s for s in steps if s.get("id") == "grade")
    assert grade["run"].startswith("grader grade ")
    assert "--sandbox bubblewrap" in grade["run"] and "--ci github" in grade["run"]
    take = next(s for s in steps if s.get("name") == "Take the submission")
    assert "realpath -e" in take["run"] and "cp -R -P" in take["run"]


def test_docs_show_the_visible_only_variant():
    docs = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
    doc = yaml.safe_load(block)
    assert doc["name"] == "Autograding Tests" and list(doc["jobs"]) == ["run-autograding-tests"]
    assert set(_on(doc)) == {"push", "pull_request", "workflow_dispatch"}
    assert doc["permissions"] == {"contents": "read"} and "secrets." not in block
    steps = _steps(doc)
    assert all(
        ACTION.match(s["uses"]) for s in steps if "uses" in s and s["uses"].startswith("actions/")
    )
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["env"] == {"GRADE_RESULTS": "${{ steps.grade.outputs.result }}"}
    assert reporter["with"] == {"runners": "grade"} and reporter["if"] == "always()"
    assert next(s for s in steps if s.get("id") == "grade")["run"].startswith("grader grade ")


def test_ci_init_writes_the_workflow(tmp_path: Path):
    from grader.cli import main

    assert main(["ci", "init", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / ".github" / "workflows" / "autograde.yml").read_text(
        encoding="utf-8"
    ) == workflow_text()


# ------------------------------------------------------------------ the workflow's sandbox
PROFILE_STEP = "apparmor_parser -r /etc/apparmor.d/bwrap"
RESTRICT = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"


def _sandbox_step(doc: dict) -> dict:
    [step] = [s for s in _steps(doc) if PROFILE_STEP in s.get("run", "")]
    return step


def _heredoc(run: str) -> str:
    [profile] = re.findall(r"<<'PROFILE'\n(.*?\n)PROFILE\n", run, flags=re.S)
    return profile


def _grader_commands(run: str) -> list[list[str]]:
    """Every `grader ...` command of a step's shell script, as argv lists."""
    commands = []
    for line in run.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:  # a quote cut by the split (`echo "a; b"`): no command of ours
                words = part.split()
            if words and words[0] == "grader":
                commands.append(words)
    return commands


def test_the_workflow_loads_the_bwrap_profile_before_anything_runs_in_the_sandbox() -> None:
    """Ubuntu 24.04's runners let only programs an AppArmor profile allows create user
    namespaces: the first step loads one for /usr/bin/bwrap alone, and lifts the
    machine-wide restriction only where no profile can be loaded."""
    doc = yaml.safe_load(workflow_text())
    steps = _steps(doc)
    sandbox = _sandbox_step(doc)
    run = sandbox["run"]
    assert _heredoc(run) == BWRAP_PROFILE
    assert "profile bwrap /usr/bin/bwrap flags=(unconfined) {\n  userns," in BWRAP_PROFILE
    # The sysctl is the fallback: after the profile, in the branch where it could not load.
    guard = run.index("command -v apparmor_parser")
    fallback = run.index("else\n", run.index(PROFILE_STEP))
    assert guard < run.index(PROFILE_STEP) < fallback < run.index("sysctl -w")
    assert run.count("sysctl -w") == 1 and "::warning::" in run[fallback : run.index("sysctl -w")]
    # Then bubblewrap must work, or the step fails.
    check = run.index("if ! bwrap --unshare-all")
    assert check > run.index("sysctl -w") and "exit 1" in run[check:]
    # Loaded before torch-grader's own check, before the pull request, before grading.
    doctor = next(
        s for s in steps if any(c[1] == "doctor" for c in _grader_commands(s.get("run", "")))
    )
    pr = next(s for s in steps if s.get("with", {}).get("path") == "pr")
    grade = next(s for s in steps if s.get("id") == "grade")
    assert steps.index(sandbox) < steps.index(doctor) < steps.index(pr) < steps.index(grade)


@pytest.mark.parametrize("text", ["template", "docs"], ids=["shipped", "visible-only"])
def test_every_grader_command_refuses_to_run_without_bubblewrap(text: str) -> None:
    """`--sandbox bubblewrap`: `grader doctor` fails the job where bubblewrap cannot run,
    and grading never falls back to the plain subprocess."""
    if text == "template":
        doc = yaml.safe_load(workflow_text())
    else:
        docs = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
        [block] = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
        doc = yaml.safe_load(block)
    commands = [c for s in _steps(doc) for c in _grader_commands(s.get("run", ""))]
    assert sorted(c[1] for c in commands) == ["doctor", "grade"]
    for argv in commands:
        assert argv[argv.index("--sandbox") + 1] == "bubblewrap", argv


def test_the_docs_variant_installs_the_sandbox_as_the_shipped_workflow_does() -> None:
    docs = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
    shipped = _sandbox_step(yaml.safe_load(workflow_text()))
    assert _sandbox_step(yaml.safe_load(block))["run"] == shipped["run"]


STUBS = {
    "sudo": 'echo "sudo $*" >> "$LOG"; exec "$@"',
    "apt-get": 'echo "apt-get $*" >> "$LOG"',
    "apparmor_parser": 'echo "apparmor_parser $*" >> "$LOG"; exit "${PARSER_RC:-0}"',
    "sysctl": 'echo "sysctl $*" >> "$LOG"; exit "${SYSCTL_RC:-0}"',
    "bwrap": 'echo "bwrap $*" >> "$LOG"; exit "${BWRAP_RC:-0}"',
}


def _run_sandbox_step(
    tmp_path: Path, restrict: str | None, parser: bool = True, **rcs: str
) -> tuple[subprocess.CompletedProcess, str, Path]:
    """The step's script, run by bash as the runner runs it (``bash -e -o pipefail``),
    with the system's tools replaced by stubs that log their arguments, and the
    sysctl's /proc file and /etc/apparmor.d/bwrap moved into ``tmp_path``."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, body in STUBS.items():
        if name != "apparmor_parser" or parser:
            (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
            (stubs / name).chmod(0o755)
    sysctl_file = tmp_path / "restrict"
    if restrict is not None:
        sysctl_file.write_text(f"{restrict}\n")
    installed = tmp_path / "apparmor.d-bwrap"
    run = _sandbox_step(yaml.safe_load(workflow_text()))["run"]
    script = run.replace(RESTRICT, str(sysctl_file))
    script = script.replace("/etc/apparmor.d/bwrap", str(installed))
    (tmp_path / "temp").mkdir()
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "LOG": str(tmp_path / "log"),
        "RUNNER_TEMP": str(tmp_path / "temp"),
        **rcs,
    }
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
    return proc, log, installed


def test_the_sandbox_step_loads_the_profile_where_apparmor_restricts(tmp_path: Path) -> None:
    proc, log, installed = _run_sandbox_step(tmp_path, restrict="1")
    assert proc.returncode == 0, proc.stderr
    assert f"apparmor_parser -r {installed}" in log and "sysctl" not in log
    assert installed.read_text() == BWRAP_PROFILE
    assert "bwrap --unshare-all" in log and "::warning::" not in proc.stdout


@pytest.mark.parametrize(
    "parser", [False, True], ids=["no apparmor_parser", "the profile fails to load"]
)
def test_the_sandbox_step_lifts_the_sysctl_only_where_no_profile_loads(
    tmp_path: Path, parser: bool
) -> None:
    proc, log, _ = _run_sandbox_step(tmp_path, restrict="1", parser=parser, PARSER_RC="1")
    assert proc.returncode == 0, proc.stderr
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in log
    assert proc.stdout.startswith("::warning::no AppArmor profile for bwrap could be loaded")


@pytest.mark.parametrize(
    "restrict", [None, "0"], ids=["no AppArmor restriction", "restriction off"]
)
def test_the_sandbox_step_changes_nothing_where_user_namespaces_are_free(
    tmp_path: Path, restrict: str | None
) -> None:
    proc, log, installed = _run_sandbox_step(tmp_path, restrict=restrict)
    assert proc.returncode == 0, proc.stderr
    assert "apparmor_parser" not in log and "sysctl" not in log and not installed.exists()


@pytest.mark.parametrize(
    ("restrict", "rcs"),
    [
        ("1", {"BWRAP_RC": "1"}),
        ("0", {"BWRAP_RC": "1"}),
        ("1", {"PARSER_RC": "1", "SYSCTL_RC": "1"}),
    ],
    ids=["bwrap fails after the profile", "bwrap fails anyway", "the sysctl fails too"],
)
def test_the_sandbox_step_fails_loudly_when_bubblewrap_still_cannot_run(
    tmp_path: Path, restrict: str, rcs: dict[str, str]
) -> None:
    proc, _, _ = _run_sandbox_step(tmp_path, restrict=restrict, **rcs)
    assert proc.returncode != 0
    if "BWRAP_RC" in rcs:
        assert "::error::bubblewrap cannot create its namespaces on this runner" in proc.stdout


def _apparmor_parser() -> str | None:
    places = ("/usr/sbin/apparmor_parser", "/sbin/apparmor_parser")
    return shutil.which("apparmor_parser") or next((p for p in places if os.path.exists(p)), None)


def _apparmor_parser_4() -> str | None:
    """Why the real parser cannot check the profile here, or None when it can."""
    parser = _apparmor_parser()
    if parser is None:
        return "apparmor_parser is not installed (the apparmor package)"
    version = subprocess.run([parser, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\d+)\.", version)
    if not found or int(found.group(1)) < 4:
        return (
            "apparmor_parser older than 4.0 (it has no userns rule and no abi/4.0): "
            f"{version.strip()[:80]}"
        )
    return None


@pytest.mark.skipif(_apparmor_parser_4() is not None, reason=str(_apparmor_parser_4()))
def test_the_profile_is_valid_apparmor(tmp_path: Path) -> None:
    """AppArmor's own parser compiles the profile, without loading it (-Q) or caching it (-K)."""
    profile = tmp_path / "bwrap"
    profile.write_text(BWRAP_PROFILE)
    proc = subprocess.run(
        [str(_apparmor_parser()), "-Q", "-K", str(profile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ the real CLI, end to end
STUDENT_CODE = """\
import torch
print("::error::pwned while loading")


def linear_forward(x, weight, bias):
    print("::set-output name=result::eyJ2ZXJzaW9uIjoxfQ==")
    return x @ weight.T + bias


def column_mean(x):
    return x.mean(dim=1)


def row_sum(x):
    print("##[add-mask]x")
    raise IndexError("100% wrong, line\\nnext: ::error::")
"""


def test_grade_in_a_simulated_runner(tmp_path: Path):
    folder = tmp_path / "subs" / "eve"
    folder.mkdir(parents=True)
    (folder / "tensor_ops.py").write_text(STUDENT_CODE, encoding="utf-8")
    (tmp_path / "summary.md").write_text("earlier\n", encoding="utf-8")
    (tmp_path / "output.txt").write_text("", encoding="utf-8")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GRADER_SUBMISSION"))
    }
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(tmp_path),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_OUTPUT=str(tmp_path / "output.txt"),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(tmp_path / "subs"),
            "--course",
            str(ROOT),
            "--out",
            str(tmp_path / "reports"),
            "--junit",
            str(tmp_path / "junit.xml"),
            "--fail-under",
            "50",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # 3 of 119 points is under 50%
    assert "under --fail-under 50%: eve (2.5%)" in proc.stderr

    runner = Runner(proc.stdout)
    errors = runner.named("error")
    # The progress lines (they name students by folder) come first, with commands paused.
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"::stop-commands::[0-9a-f]{32}", lines[0])
    resume = lines.index(f"::{lines[0].removeprefix('::stop-commands::')}::")
    assert any(line.startswith("[1/1] eve: 3/119") for line in lines[1:resume])
    assert lines[resume + 1] == (
        "::error file=subs/eve/tensor_ops.py,line=16,title=tensor-ops%3A row_sum of a wide matrix"
        "::row_sum raised IndexError at line 16 of tensor_ops.py: 100%25 wrong, line%0Anext: "
        "::error::"
    )
    assert (
        errors[0].data
        == "row_sum raised IndexError at line 16 of tensor_ops.py: 100% wrong, line\n"
        "next: ::error::"
    )
    assert [c.properties.get("file") for c in errors] == ["subs/eve/tensor_ops.py"] * 3 + [None]
    assert errors[-1].data.startswith("10 of 11 exercises have no file: tensor-init, ")
    # The student's prints are in the log, and none of them is a command.
    assert [c.name for c in runner.commands] == ["error"] * 4 + ["group", "endgroup"]
    for printed in (
        "::error::pwned while loading",
        "::set-output name=result::eyJ2ZXJzaW9uIjoxfQ==",
        "##[add-mask]x",
    ):
        assert printed in runner.lines

    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith(
        "earlier\n## Autograding: A visual introduction to PyTorch\n\n"
        "### eve: 3 / 119 points (2.5%)\n"
    )
    assert "| tensor\\-ops: Operations on tensors | 3 / 8 | \u2717 failed |" in summary
    assert (
        "- **tensor\\-ops: row\\_sum of a wide matrix** (0 / 2 points): ! error<br>"
        "row\\_sum raised IndexError at line 16 of tensor\\_ops\\.py: "
        "100% wrong, line<br>next: ::error::"
    ) in summary

    results, total = reporter_reads(
        read_github_output((tmp_path / "output.txt").read_text())["result"]
    )
    assert (results["version"], results["status"], results["max_score"], total) == (
        1,
        "fail",
        119,
        3,
    )
    graded = json.loads((tmp_path / "reports" / "results.json").read_text(encoding="utf-8"))
    assert len(results["tests"]) == sum(
        len(e["checks"]) for e in graded["students"][0]["exercises"]
    )
    row_sum = next(
        t for t in results["tests"] if t["name"] == "tensor-ops: row_sum of a wide matrix"
    )
    assert (row_sum["status"], row_sum["filename"], row_sum["line_no"]) == (
        "error",
        "subs/eve/tensor_ops.py",
        16,
    )

    from exports.test_junit import check_junit

    check_junit((tmp_path / "junit.xml").read_text(encoding="utf-8"))


def test_the_workflow_installs_torch_grader_only_from_where_the_instructor_says() -> None:
    """torch-grader is not on PyPI: a bare name would install whatever someone published
    under it, with the deploy key in reach. The workflow stops until the instructor
    gives a repository at a commit."""
    text = workflow_text()
    env = yaml.safe_load(text)["env"]
    assert env["GRADER_PACKAGE"] == ""
    install = next(
        step["run"]
        for step in yaml.safe_load(text)["jobs"]["grade"]["steps"]
        if step.get("name") == "Install torch-grader"
    )
    guard = install.index('if [ -z "$GRADER_PACKAGE" ]; then')
    assert guard < install.index('pip install "$GRADER_PACKAGE"')
    assert "exit 1" in install[guard : install.index('pip install "$GRADER_PACKAGE"')]
