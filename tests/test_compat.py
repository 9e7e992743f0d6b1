"""grader/_compat.py: a course written against torch-grader 0.1's module paths (its
helper files import ``grader.checks.*``, ``grader.protocol.*``, ``compare.describe``)
still loads, with a FutureWarning naming each new path, and gets the very same objects."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

# What the bundled course's helper files imported in 0.1 (git show d80203e:exercises/hidden).
OLD_IMPORTS = """
import warnings
warnings.simplefilter("always")
from grader.checks.base import JudgeContext, Verdict
from grader.checks.compare import describe, fmt_number, tensor_problems, value_problems
from grader.checks.forbidden import find_forbidden
from grader.checks.training import mse_of
from grader.protocol.values import MLPSpec, ModuleValue, TensorValue
from grader.schema import describe as type_of
import grader.checks.compare

import grader.judges.base, grader.judges.compare, grader.course.schema
import grader.sandbox.protocol.values as values
assert Verdict is grader.judges.base.Verdict and JudgeContext is grader.judges.base.JudgeContext
assert describe is grader.judges.compare.describe_value
assert type_of is grader.course.schema.type_name
assert TensorValue is values.TensorValue and MLPSpec is values.MLPSpec
assert sys.modules["grader.checks.compare"] is grader.judges.compare  # one module, not two
from grader.judges import JUDGES
assert len(JUDGES) == len(set(map(id, JUDGES.values())))
print("ok")
"""


def test_old_paths_give_the_same_objects_and_say_the_new_ones():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\n" + OLD_IMPORTS],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    said = set(re.findall(r"FutureWarning: (grader\.\S+) is now (grader\.\S+);", proc.stderr))
    assert ("grader.checks.base", "grader.judges.base") in said, proc.stderr
    assert ("grader.protocol.values", "grader.sandbox.protocol.values") in said, proc.stderr
    assert ("grader.schema", "grader.course.schema") in said, proc.stderr


# Where 0.1 kept each name the helpers now import from grader.judge_api.
OLD_HOMES = {
    "JudgeContext": "grader.checks.base",
    "Verdict": "grader.checks.base",
    "as_numbers": "grader.checks.compare",
    "describe_value": "grader.checks.compare",
    "fmt_number": "grader.checks.compare",
    "tensor_problems": "grader.checks.compare",
    "value_problems": "grader.checks.compare",
    "find_forbidden": "grader.checks.forbidden",
    "mse_of": "grader.checks.training",
    "MLPSpec": "grader.protocol.values",
    "ModuleValue": "grader.protocol.values",
    "TensorValue": "grader.protocol.values",
}
OLD_API = re.compile(r"from grader\.judge_api import (\([^)]*\)|[^\n]*)")


def _old_imports(match: re.Match[str]) -> str:
    names = [n.strip() for n in match.group(1).strip("()").split(",") if n.strip()]
    return "\n".join(f"from {OLD_HOMES[n]} import {n}" for n in names)


def test_a_course_with_old_imports_still_loads(tmp_path: Path):
    course = tmp_path / "course"
    for part in ("exercises", "solutions"):
        shutil.copytree(ROOT / part, course / part)
    shutil.copy(ROOT / "course.yaml", course / "course.yaml")
    for helper in (course / "exercises" / "hidden").glob("*.py"):
        text = OLD_API.sub(_old_imports, helper.read_text())
        helper.write_text(text.replace("describe_value", "describe"))
    assert "grader.checks" in (course / "exercises" / "hidden" / "tensor_init.py").read_text()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from grader import load_course; "
            f"c = load_course(Path({str(course)!r})); print(len(c.exercises))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "11"
    assert "grader.checks.base is now grader.judges.base" in proc.stderr
