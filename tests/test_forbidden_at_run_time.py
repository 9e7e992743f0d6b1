"""End to end (issue 17): an activations file that reaches the library's ReLU, sigmoid
and tanh through importlib and getattr with built names, graded through the real CLI and
sandbox, earns nothing on the checks that forbid them; the bundled solution and an
honest solution written with torch.maximum, torch.where and exp keep full marks."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, check, exercise, results, run_grader, write_student

BUILT_NAMES = '''"""Activations that reach the library's own functions through built names."""

import importlib

_lib = importlib.import_module("to" + "rch")


def _find(*parts):
    return getattr(_lib, "".join(parts))


def relu(x):
    return _find("re", "lu")(x)


def sigmoid(x):
    return _find("sig", "moid")(x)


def tanh(x):
    return _find("ta", "nh")(x)
'''

HONEST = """import torch


def relu(x):
    return torch.maximum(x, torch.zeros_like(x))


def sigmoid(x):
    z = torch.exp(-torch.abs(x))
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def tanh(x):
    z = torch.exp(-2 * torch.abs(x))
    t = (1 - z) / (1 + z)
    return torch.where(x >= 0, t, -t)
"""

GATES = {
    "relu": "without the library's own ReLU",
    "sigmoid": "without the library's own sigmoid",
    "tanh": "without the library's own tanh",
}


def test_a_forbidden_function_spelled_at_run_time_earns_nothing(tmp_path: Path):
    students = tmp_path / "class"
    write_student(students, "built_names", {"activations.py": BUILT_NAMES})
    write_student(students, "honest", {"activations.py": HONEST})
    solution = (ROOT / "solutions" / "activations.py").read_text()
    write_student(students, "solution", {"activations.py": solution})
    out = tmp_path / "out"
    done = run_grader("grade", str(students), "--out", str(out), "-j", "2", "--ci", "none")
    assert done.returncode == 0, done.stderr[-2000:]
    data = results(out)

    cheat = exercise(data, "built_names", "activations")
    assert cheat["score"] == 0 and cheat["max_score"] == 15
    for fn, gate in GATES.items():
        found = check(data, "built_names", "activations", gate)
        assert found["status"] == "failed" and found["score"] == 0
        assert found["message"].startswith(
            f"{fn} called the library's {fn} at run time (aten.{fn}). This exercise asks you "
            "to write it yourself with elementary tensor operations"
        ), found["message"]
        assert all(line.endswith(f"aten.{fn}") for line in found["details"]["dispatched"])

    for student in ("honest", "solution"):
        got = exercise(data, student, "activations")
        assert got["score"] == got["max_score"] == 15, [
            c["message"] for c in got["checks"] if c["status"] != "passed"
        ]
        for gate in GATES.values():
            passed = check(data, student, "activations", gate)
            assert passed["message"].endswith("is written with elementary operations")
