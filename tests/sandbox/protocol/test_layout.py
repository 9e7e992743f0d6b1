"""grader/sandbox/protocol/layout.py, and the protocol package as the sandbox imports it: the
job folder's names, the typed job and schedule, and a package that needs nothing of
the grader (it is mounted alone into the sandbox and imported as ``protocol``)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from grader.course.loading import load_course
from grader.grading.plan import build_plan
from grader.sandbox.protocol import layout

PACKAGE = ROOT / "grader" / "sandbox" / "protocol"


def test_the_job_and_its_schedule_round_trip() -> None:
    plan = build_plan(load_course(ROOT), seed=0)
    planned = plan.job_for(plan.course.exercises, 0)
    job = layout.Job(seed=0, files=tuple(planned["files"]), inputs="inputs-1.safetensors")
    assert layout.Job.from_json(job.to_json()) == job
    schedule = job.schedule()
    assert layout.Schedule.from_json(schedule.to_json()) == schedule
    # The worker's view: ids, limits and artifacts, never a step or an input.
    text = schedule.to_json()
    assert '"steps"' not in text and '"t":' not in text.replace(" ", "")
    calls = [c for f in schedule.files for c in f.calls]
    assert [c.id for c in calls] == [c["id"] for f in planned["files"] for c in f["calls"]]
    assert any(c.artifacts for c in calls)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"files": {}}',
        '{"files": [{"module": "m"}]}',
        '{"files": [{"module": "m", "load_timeout": "1", "memory_mb": 1, "calls": []}]}',
        '{"files": [{"module": "m", "load_timeout": 1, "memory_mb": true, "calls": []}]}',
    ],
)
def test_a_malformed_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        layout.Schedule.from_json(text)


def test_names() -> None:
    assert layout.json_name(layout.call_stem("tensor_ops-0")) == "call-tensor_ops-0.json"
    assert (
        layout.tensors_name(layout.artifact_stem("save-1", "model"))
        == "artifact-save-1-model.safetensors"
    )
    assert layout.json_name(layout.load_stem("mlp")) == "load-mlp.json"
    assert layout.output_log(3) == "output-3.log" and layout.cells_name("mlp") == "mlp.cells.json"
    assert layout.inputs_name("ab12") == "inputs-ab12.safetensors"


def test_the_package_imports_only_the_standard_library_torch_and_safetensors() -> None:
    allowed = set(sys.stdlib_module_names) | {"torch", "safetensors"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} says its one job in a docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the package
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_the_package_works_as_the_sandbox_imports_it(tmp_path) -> None:
    """As top-level ``protocol`` from a folder holding only it (as in the sandbox):
    every module imports, nothing of ``grader`` is loaded, a value round-trips."""
    home = tmp_path / "opt"
    home.mkdir()
    (home / "protocol").symlink_to(PACKAGE)
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(home)!r})\n"
        "import protocol.layout, protocol.mlp, protocol.reading, protocol.values as v\n"
        "specs, tensors = v.encode_outputs({'x': [1, 'a']})\n"
        "print(json.dumps([v.decode_outputs(specs, tensors)['x'],"
        " sorted(m for m in sys.modules if m.split('.')[0] == 'grader')]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [[1, "a"], []]
