"""grader/grading.py's judging seam, without a sandbox: ``ExerciseGrader`` judges one
exercise from a finished job folder, here written by hand in the layout of
grader/sandbox/protocol/layout.py, read through the real readers (``JobFolder``) and judged by
the real judges. Good folders, wrong files, missing files and abnormal ends each give
the results a student should see."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from judging import plan_checks, returned, write_course
from safetensors.torch import save

from grader.grading.grader import Execution, ExerciseGrader
from grader.grading.plan import PlannedCheck
from grader.results import ExerciseResult
from grader.sandbox.choice import JobEnd
from grader.sandbox.protocol import layout
from grader.sandbox.protocol.reading import JobFolder
from grader.sandbox.protocol.values import encode_outputs
from grader.submissions.folders import SubmittedFile

SOURCE = "import torch\n\n\ndef f(x):\n    return x * 2\n"
MATCH = "name: doubles\njudge: match\ncall: [{tensor: [1.0, 2.0]}]"
READS = "name: no sum\njudge: forbidden-calls\nwith: {names: [sum]}"
SAVES = """
name: saves
judge: state-dict-file
steps:
  - bind: {mlp: [[fc, 2, 1]]}
    as: model
  - call: f
    args: [{ref: model}, {path: m.pt}]
keep: []
artifacts: {saved: m.pt}
"""
EXITED = JobEnd("exited", 0, 0.5, "")
DOUBLED = torch.tensor([2.0, 4.0])


class Job:
    """A finished job folder, written file by file as the sandbox's processes write it."""

    def __init__(self, root: Path) -> None:
        self.path = root / "job"
        self.out = self.path / layout.OUT
        self.out.mkdir(parents=True)
        self.status: dict[str, Any] = {"calls": {}, "output": {}}
        self.log = b""

    def json(self, stem: str, record: Any) -> Job:
        text = record if isinstance(record, str) else json.dumps(record)
        (self.out / layout.json_name(stem)).write_text(text)
        return self

    def loaded(self, module: str = "unit", record: dict | None = None) -> Job:
        return self.json(layout.load_stem(module), record or {"status": "ok"})

    def values(self, stem: str, **kept: Any) -> Job:
        specs, tensors = encode_outputs(kept)
        if tensors:
            (self.out / layout.tensors_name(stem)).write_bytes(save(tensors))
        return self.json(stem, {"status": "ok", "values": specs})

    def call(self, call_id: str, printed: str = "", how: str = "done", **kept: Any) -> Job:
        self.status["calls"][call_id] = {"how": how, "code": 0, "seconds": 0.25}
        if printed:
            start = len(self.log)
            self.log += printed.encode()
            self.status["output"][layout.call_stem(call_id)] = [1, start, len(self.log)]
        return self.values(layout.call_stem(call_id), **kept)

    def ended(self, call_id: str, how: str, code: int = 0) -> Job:
        """A check whose process ended before it wrote a result."""
        self.status["calls"][call_id] = {"how": how, "code": code, "seconds": 10.0}
        return self

    def execution(self, outcome: JobEnd = EXITED) -> Execution:
        self.json(layout.STATUS, self.status)
        (self.out / layout.output_log(1)).write_bytes(self.log)
        return Execution(JobFolder(self.path), outcome)


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path)


def grade(
    planned: list[PlannedCheck],
    execution: Execution | None,
    source: str | None = SOURCE,
    expected: Callable[[PlannedCheck], dict | None] | None = None,
) -> ExerciseResult:
    ex = planned[0].exercise
    path = ex.root / "submission" / "unit.py"
    sub = (
        SubmittedFile(ex, path, "py", source=source)
        if source is not None
        else (SubmittedFile(ex, None, problem="not submitted: no unit.py"))
    )
    reference = expected or (lambda pc: returned(result=DOUBLED) if pc.needs_solution else None)
    try:
        return ExerciseGrader(planned, sub, execution, reference).grade()
    finally:
        if execution is not None:
            execution.folder.close()


def checks(tmp_path: Path, *texts: str, **kw: Any) -> list[PlannedCheck]:
    return plan_checks(tmp_path / "course", *texts, **kw)


def statuses(result: ExerciseResult) -> list[tuple[str, float, str]]:
    return [(c.status, c.score, c.message) for c in result.checks]


# ------------------------------------------------------------------ a good folder
def test_a_good_folder_passes_every_check(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, READS)
    execution = job.loaded().call("unit-0", printed="hello\n", result=DOUBLED).execution()
    result = grade(planned, execution)
    assert (result.status, result.score, result.max_score, result.final) == (
        "passed",
        4.0,
        4.0,
        True,
    )
    assert result.file == "unit.py" and result.message == ""
    doubles, reads = result.checks
    assert (doubles.status, doubles.score, doubles.name, doubles.entry) == (
        "passed",
        2.0,
        "doubles",
        "f",
    )
    assert doubles.message == "f returned a float32 tensor of shape [2], as expected"
    assert doubles.output == "hello\n" and doubles.seconds == 0.25
    assert reads.message == "f is written with elementary operations"


def test_a_good_artifact(tmp_path: Path, job: Job):
    [saves] = planned = checks(tmp_path, SAVES)
    state = {k: v.clone() for k, v in saves.bound["model"].state.items()}
    execution = (
        job.loaded()
        .call("unit-0")
        .values(layout.artifact_stem("unit-0", "saved"), state_dict=state)
        .execution()
    )
    result = grade(planned, execution)
    assert statuses(result) == [("passed", 2.0, "f saved the model's state_dict (2 tensors)")]


# ------------------------------------------------------------------ wrong files
def test_a_wrong_value_fails_with_the_judges_words(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, job.loaded().call("unit-0", result=DOUBLED + 1).execution())
    assert result.status == "failed" and result.score == 0.0 and result.final
    assert result.checks[0].message == (
        "f: values differ at 2 of 2 positions, e.g. at [0], where yours is 3; every value is the "
        "expected one plus the same amount"
    )
    assert result.checks[0].details["mismatches"] == [
        {"index": [0], "got": "3"},
        {"index": [1], "got": "5"},
    ]


def test_a_result_file_that_is_not_json_is_unreadable(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    job.loaded().call("unit-0", result=DOUBLED).json(layout.call_stem("unit-0"), "{not json")
    [check] = grade(planned, job.execution()).checks
    assert check.status == "error" and check.score == 0.0
    assert check.message.startswith("f: the sandbox's output was unreadable: out/call-unit-0.json")


def test_values_that_break_the_protocol_are_unreadable(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    job.loaded().json(
        layout.call_stem("unit-0"),
        {"status": "ok", "values": {"result": {"t": "tensor", "key": "v9"}}},
    )
    [check] = grade(planned, job.execution()).checks
    assert check.message == (
        "f: the sandbox's output was unreadable: out/call-unit-0.json: a tensor "
        "is missing from the results file"
    )


def test_an_error_record_is_explained(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, READS)
    frames = [{"file": "unit.py", "line": 5, "function": "f", "code": "raise NotImplementedError"}]
    job.loaded().json(
        layout.call_stem("unit-0"),
        {
            "status": "error",
            "error": {"type": "NotImplementedError", "message": "", "frames": frames},
        },
    )
    result = grade(planned, job.execution())
    doubles, reads = result.checks
    assert (doubles.status, doubles.message) == (
        "error",
        "f is not written yet: it still raises NotImplementedError",
    )
    assert doubles.traceback == frames and doubles.excerpts[0]["line"] == 5
    # Code that does not run earns nothing from a check that only reads it.
    assert (reads.status, reads.score) == ("failed", 0.0)
    assert reads.message == "not scored: f does not run yet (see its other checks)"


def test_an_error_record_with_a_located_exception(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    job.loaded().json(
        layout.call_stem("unit-0"),
        {
            "status": "error",
            "error": {
                "type": "ValueError",
                "message": "bad",
                "frames": [{"file": "unit.py", "line": 4}],
            },
        },
    )
    [check] = grade(planned, job.execution()).checks
    assert check.message == "f raised ValueError at line 4 of unit.py: bad"


def test_a_judge_that_raises_on_odd_data_is_a_failed_check(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    execution = job.loaded().call("unit-0", result=DOUBLED).execution()
    result = grade(planned, execution, expected=lambda pc: {})  # no expected value to compare with
    assert statuses(result) == [
        ("failed", 0.0, "f: the result could not be judged (KeyError: 'result')")
    ]


def test_a_missing_or_broken_artifact(tmp_path: Path, job: Job):
    planned = checks(tmp_path, SAVES)
    result = grade(planned, Job(tmp_path / "a").loaded().call("unit-0").execution())
    assert result.checks[0].message.startswith(
        "f: the saved file is not a state_dict: the grader could not read it back."
    )
    job.loaded().call("unit-0").json(
        layout.artifact_stem("unit-0", "saved"),
        {"status": "error", "error": {"type": "UnpicklingError", "message": "a pickled model"}},
    )
    result = grade(planned, job.execution())
    assert result.checks[0].message.startswith(
        "f: the saved file is not a state_dict: a pickled model."
    )


# ------------------------------------------------------------------ missing files
def test_no_load_record(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, READS)
    result = grade(planned, job.execution())
    message = "the sandbox stopped before this file was loaded (an earlier file may have ended it)"
    assert (result.status, result.message) == ("error", message)
    assert statuses(result)[0] == ("error", 0.0, f"not run: {message}")
    assert statuses(result)[1][0] == "failed"  # reading code of an unloaded file scores nothing


def test_no_load_record_after_a_timeout_or_a_killed_worker(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, job.execution(JobEnd("timeout", -9, 60.0, "")))
    assert result.status == "timeout"
    assert result.message == "the sandbox ran out of time before loading unit.py"
    result = grade(planned, Job(tmp_path / "s").execution(JobEnd("signal", -9, 1.0, "")))
    assert result.status == "error" and not result.final
    assert result.message.endswith(
        "before unit.py was loaded; it will be graded again on the next run"
    )


@pytest.mark.parametrize(
    "record, status, message",
    [
        (
            {"status": "timeout"},
            "timeout",
            "loading unit.py took longer than 30 s, so no check could",
        ),
        ({"status": "exited", "code": 1}, "error", "your code in unit.py ended the process while"),
        ({"status": "odd"}, "error", "unit.py could not be loaded: Error"),
        (
            {"error": {"type": "ImportError", "message": "no x"}},
            "error",
            "unit.py could not be loade",
        ),
    ],
)
def test_a_load_record_other_than_ok(
    tmp_path: Path, job: Job, record: dict, status: str, message: str
):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, job.loaded(record=record).execution())
    assert result.status == status and result.message.startswith(message)
    assert result.checks[0].message == f"not run: {result.message}"


def test_a_file_that_did_not_load(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    job.loaded(
        record={
            "status": "error",
            "error": {
                "type": "SyntaxError",
                "message": "invalid syntax",
                "frames": [{"file": "unit.py", "line": 3}],
            },
        }
    )
    result = grade(planned, job.execution())
    assert result.status == "error"
    assert result.message == "unit.py has a syntax error at line 3: invalid syntax"
    assert result.checks[0].message == f"not run: {result.message}"
    assert result.excerpts and result.excerpts[0]["line"] == 3


@pytest.mark.parametrize(
    "how, code, status, message",
    [
        (
            "timeout",
            0,
            "timeout",
            "f did not finish within 10 s (an endless loop, or far too much work?)",
        ),
        ("exited", 3, "error", "f ended the process (exit code 3) before returning a value"),
        (
            "stopped",
            19,
            "error",
            "f stopped its own process (SIGSTOP) and was ended: a stopped process "
            "never returns a value",
        ),
        ("signal", 24, "timeout", "f used more CPU time than allowed (10 s)"),
        (
            "signal",
            11,
            "error",
            "f was stopped by signal 11 before returning a value (out of memory or "
            "CPU time, or a crash)",
        ),
    ],
)
def test_no_result_file_says_how_the_check_ended(
    tmp_path: Path, job: Job, how: str, code: int, status: str, message: str
):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, job.loaded().ended("unit-0", how, code).execution())
    assert statuses(result) == [(status, 0.0, message)]


def test_no_result_file_and_no_status(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, job.loaded().execution())
    assert statuses(result) == [
        ("error", 0.0, "not run: the process running your file stopped before this check")
    ]
    timed_out = grade(planned, Job(tmp_path / "t").loaded().execution(JobEnd("timeout", 0, 9, "")))
    assert statuses(timed_out)[0][0] == "timeout"


def test_a_missing_job_folder(tmp_path: Path):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, Execution(JobFolder(tmp_path / "nothing"), EXITED))
    assert result.status == "error"
    assert result.message == "the sandbox's output was unreadable: the job folder is missing"


def test_no_run_at_all(tmp_path: Path):
    planned = checks(tmp_path, MATCH)
    result = grade(planned, None)
    assert (result.status, result.message, result.final) == (
        "error",
        "the grader did not run this file",
        False,
    )


def test_a_file_not_submitted(tmp_path: Path):
    planned = checks(tmp_path, MATCH, READS)
    result = grade(planned, None, source=None)
    assert (result.status, result.score, result.max_score) == ("missing", 0.0, 4.0)
    assert [c.status for c in result.checks] == ["missing", "missing"]
    assert result.message == "not submitted: no unit.py" and result.file is None


# ------------------------------------------------------------------ abnormal ends, scores
def test_nothing_of_an_untrusted_job_counts(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    execution = job.loaded().call("unit-0", result=DOUBLED).execution(JobEnd("signal", -9, 1, ""))
    result = grade(planned, execution)
    assert not result.final
    assert statuses(result)[0][:2] == ("error", 0.0)
    assert statuses(result)[0][2].startswith(
        "not scored: the grader's process in the sandbox ended"
    )


def test_a_failed_gate_zeroes_the_entrys_other_checks(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, READS + "\ngate: true")
    execution = job.loaded().call("unit-0", result=DOUBLED).execution()
    result = grade(planned, execution, source=SOURCE.replace("x * 2", "(x * 2).sum() * 0 + x * 2"))
    doubles, reads = result.checks
    assert reads.status == "failed" and reads.message.startswith("f uses the library's own version")
    assert (doubles.status, doubles.score) == ("failed", 0.0)
    assert doubles.message == (
        "not scored: f returned a float32 tensor of shape [2], as expected, but "
        "f uses the library's own version: (x * 2).sum (line 5)."
    )
    assert result.score == 0.0 and reads.excerpts[0]["line"] == 5


def test_a_passed_gate_leaves_the_other_checks_alone(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, READS + "\ngate: true")
    result = grade(planned, job.loaded().call("unit-0", result=DOUBLED).execution())
    assert [(c.status, c.score) for c in result.checks] == [("passed", 2.0), ("passed", 2.0)]


SHAPE = "name: shape\njudge: match\ncall: [{tensor: [1.0, 2.0]}]\nwith: {values: false}"


def test_a_check_that_needs_another_scores_only_with_it(tmp_path: Path, job: Job):
    """A shape-only check (zeros of the right shape pass it) counts only together with the
    check of the values it needs."""
    planned = checks(tmp_path, MATCH, SHAPE + "\nneeds: doubles")
    right = job.loaded().call("unit-0", result=DOUBLED).call("unit-1", result=DOUBLED)
    result = grade(planned, right.execution())
    assert [(c.status, c.score) for c in result.checks] == [("passed", 2.0), ("passed", 2.0)]

    zeros = Job(tmp_path / "zeros").loaded()
    zeros.call("unit-0", result=torch.zeros(2)).call("unit-1", result=torch.zeros(2))
    result = grade(planned, zeros.execution())
    doubles, shape = result.checks
    assert (doubles.status, doubles.score) == ("failed", 0.0)
    assert (shape.status, shape.score) == ("failed", 0.0)
    assert shape.message == (
        "not scored: f returned a float32 tensor of shape [2], as expected; it counts only "
        "together with 'doubles', which did not pass"
    )
    assert result.score == 0.0


def test_needs_hold_along_a_chain_and_leave_a_failure_its_own_words(tmp_path: Path, job: Job):
    third = "name: third\njudge: match\ncall: [{tensor: [1.0, 2.0]}]\nwith: {values: false}"
    planned = checks(tmp_path, MATCH, SHAPE + "\nneeds: doubles", third + "\nneeds: [shape]")
    folder = job.loaded().call("unit-0", result=torch.zeros(2)).call("unit-1", result=DOUBLED)
    result = grade(planned, folder.call("unit-2", result=DOUBLED).execution())
    assert [c.score for c in result.checks] == [0.0, 0.0, 0.0]
    assert "together with 'shape'" in result.checks[2].message
    # A check that failed on its own keeps its own message.
    wrong = Job(tmp_path / "wrong").loaded().call("unit-0", result=torch.zeros(2))
    wrong.call("unit-1", result=torch.zeros(3))
    result = grade(checks(tmp_path / "w", MATCH, SHAPE + "\nneeds: doubles"), wrong.execution())
    assert result.checks[1].message == "f: shape is [3]; expected [2]"


def test_partial_credit_from_a_verdicts_fraction(tmp_path: Path, job: Job):
    files = {
        "hidden/j.py": "from grader.judges import Verdict\n\n\ndef half(ctx):\n"
        "    return Verdict(False, 'half right', fraction=0.5)\n"
        "\n\ndef much(ctx):\n    return Verdict(True, 'more', fraction=3.0)\n"
    }
    planned = checks(
        tmp_path,
        "judge: custom\ncall: [1]\npoints: 3\nwith: {function: 'hidden/j.py:half'}",
        "judge: custom\ncall: [1]\nwith: {function: 'hidden/j.py:much'}",
        files=files,
    )
    execution = job.loaded().call("unit-0", result=1).call("unit-1", result=1).execution()
    result = grade(planned, execution)
    assert statuses(result) == [("failed", 1.5, "half right"), ("passed", 2.0, "more")]
    assert (result.score, result.max_score) == (3.5, 5.0)


# ------------------------------------------------------------------ Grader, without a pool
def test_grader_evaluates_a_visible_examples_expectation_without_a_sandbox(tmp_path: Path):
    from grader.course.loading import load_course
    from grader.grading.grader import Grader
    from grader.grading.plan import build_example_plan
    from grader.sandbox.choice import Sandbox
    from grader.sandbox.protocol.values import TensorValue

    folder = write_course(tmp_path, "judge: match\ncall: [1]")
    path = folder / "exercises" / "unit.yaml"
    path.write_text(
        path.read_text() + "examples:\n  - name: t\n    code: f(1)\n"
        "    expect: torch.ones(2) * 2\n  - name: n\n    code: f(2)\n    expect: '[1, 2]'\n"
    )
    course = load_course(folder)
    plan = build_example_plan(course, seed=0)
    # A given sandbox is not probed, and the pool starts only when a job runs.
    with Grader(course, plan=plan, sandbox=Sandbox("subprocess", "a unit test")) as grader:
        tensor, plain = plan.checks["unit"]
        expected = grader.expected_for(tensor)["result"]
        assert isinstance(expected, TensorValue) and torch.equal(
            expected.data, DOUBLED.new_full((2,), 2)
        )
        assert grader.expected_for(plain) == {"result": [1, 2]}
        assert grader._pool is None


# ------------------------------------------------------------------ notebooks' messages
def notebook_file(planned: list[PlannedCheck], *sources: str) -> SubmittedFile:
    from grader.submissions.notebooks import read_notebook

    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
        for s in sources
    ]
    raw = json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells}).encode()
    ex = planned[0].exercise
    return SubmittedFile(ex, ex.root / "unit.ipynb", "ipynb", notebook=read_notebook(raw))


def cell_error(kind: str, message: str, cell: int, line: int) -> dict:
    frames = [{"file": f"cell {cell}", "line": line, "function": "<module>", "code": ""}]
    return {"type": kind, "message": message, "frames": frames, "cell": cell}


MISSING = {"status": "error", "error": {"type": "MissingEntryPoint", "message": "", "frames": []}}


def test_a_missing_entry_point_leads_with_the_cell_that_failed(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    sub = notebook_file(
        planned, "import torch\nimport tochvision\ndef f(x):\n    return x * 2", "y = f(1)"
    )
    errors = [
        cell_error("ModuleNotFoundError", "No module named 'tochvision'", 1, 2),
        cell_error("NameError", "name 'f' is not defined", 2, 1),
    ]
    job.loaded(record={"status": "ok", "notebook": True, "cell_errors": errors})
    job.json(layout.call_stem("unit-0"), MISSING)
    result = ExerciseGrader(planned, sub, job.execution(), lambda pc: None).grade()
    why = (
        "unit.ipynb defines no 'f' because cell 1 (In [1], starting `import torch`), where it is "
        "defined, raised ModuleNotFoundError at line 2: No module named 'tochvision'"
    )
    assert result.message == why and result.checks[0].message == why
    assert result.notes == [
        "cell 1 (In [1], starting `import torch`) raised ModuleNotFoundError at line 2: No "
        "module named 'tochvision' (grading offers torch, numpy, matplotlib and Python's "
        "standard library; Colab's google.colab exists only on Colab); the following cells "
        "still ran, and 1 later cell failed because of this (cell 2: NameError, 'f' not defined)"
    ]


def test_a_missing_entry_point_no_cell_meant_to_define_keeps_its_words(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    sub = notebook_file(planned, "def g(x):\n    return x")
    job.loaded(record={"status": "ok", "notebook": True})
    job.json(layout.call_stem("unit-0"), MISSING)
    result = ExerciseGrader(planned, sub, job.execution(), lambda pc: None).grade()
    assert result.message == "" and result.notes == []
    assert result.checks[0].message == "unit.ipynb defines no 'f': check the spelling of the name"


def test_the_environment_is_said_once_in_plain_words(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH, MATCH.replace("doubles", "doubles again"))
    sub = notebook_file(planned, "!nvidia-smi", "x = torch.zeros(1).cuda()", "def f(x): ...")
    cuda = cell_error("AssertionError", "Torch not compiled with CUDA enabled", 2, 1)
    job.loaded(record={"status": "ok", "notebook": True, "cell_errors": [cuda]})
    job.status["output"][layout.load_stem("unit")] = [1, 0, 40]
    job.log = b"/usr/bin/sh: 1: nvidia-smi: not found\n".ljust(40)
    for call in ("unit-0", "unit-1"):
        job.json(layout.call_stem(call), {"status": "error", "error": {**cuda, "frames": []}})
    result = ExerciseGrader(planned, sub, job.execution(), lambda pc: None).grade()
    nvidia, gpu = result.notes[-2:]
    assert nvidia.startswith("grading runs on a CPU without a network, so `nvidia-smi` is not")
    assert gpu.startswith("grading runs on a CPU without a network, so there is no GPU: write ")
    assert len(result.notes) == 3  # the cell's note, then each line once


def test_a_visible_examples_name_error_reads_as_grader_grade_says_it(tmp_path: Path, job: Job):
    planned = checks(tmp_path, MATCH)
    error = {"type": "NameError", "message": "name 'f' is not defined", "frames": []}
    job.loaded().json(layout.call_stem("unit-0"), {"status": "error", "error": error})
    [check] = grade(planned, job.execution()).checks
    assert check.message == "unit.py defines no 'f': check the spelling of the name"
    # The student's own code raising NameError stays what it is.
    inside = {**error, "frames": [{"file": "unit.py", "line": 5}]}
    job.json(layout.call_stem("unit-0"), {"status": "error", "error": inside})
    [check] = grade(planned, job.execution()).checks
    assert check.message == "f raised NameError at line 5 of unit.py: name 'f' is not defined"
