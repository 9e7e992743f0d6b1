"""The plain-subprocess fallback (GRADER_SANDBOX=subprocess) and the default choice.

Without bubblewrap, student code can see this machine, and every report must say so; but
what is decided in the grader's process still cannot be cheated: comparison tricks,
monkeypatching, exits, hangs, a malicious pickle and fake output earn nothing.
With the default (auto) on a machine where bubblewrap works, bubblewrap is used and no
warning is given.

The runs themselves start in hostile.start_fallback_runs (the attack suite starts them
early, beside its own run).
"""

from __future__ import annotations

import html
import shutil
import subprocess

import pytest
from conftest import exercise, results
from hostile import FALLBACK_ATTACKS, assert_explained, start_fallback_runs

pytestmark = pytest.mark.slow


def bubblewrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    found = start_fallback_runs(tmp_path_factory).result()
    if found["no_python"]:  # as root, the confined fallback needs a Python its users reach
        pytest.skip(found["no_python"])
    proc, default_proc = found["proc"], found["default_proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert default_proc.returncode == 0, default_proc.stderr[-3000:]
    return {
        **found,
        "data": results(found["out"]),
        "stderr": proc.stderr,
        "default": results(found["default_out"]),
    }


@pytest.mark.parametrize("slug", FALLBACK_ATTACKS)
def test_attack_earns_nothing_without_bubblewrap(runs: dict, slug: str):
    attacker = runs["team"][slug]
    student = next(s for s in runs["data"]["students"] if s["id"] == attacker.student)
    passed = [
        (e["id"], c["name"])
        for e in student["exercises"]
        for c in e["checks"]
        if c["status"] == "passed"
    ]
    assert student["score"] == 0 and not passed, (
        f"{attacker.what}: earned {student['score']}: {passed}"
    )
    assert_explained(exercise(runs["data"], attacker.student, attacker.exercise), attacker)


def test_honest_student_still_gets_full_marks(runs: dict):
    for ex_id in ("tensor-ops", "save-load"):
        ex = exercise(runs["data"], "honest", ex_id)
        assert ex["status"] == "passed" and ex["score"] == ex["max_score"] > 0, ex


def test_malicious_pickle_never_runs_without_bubblewrap(runs: dict):
    assert not runs["pwned"], runs["pwned"]
    ex = exercise(runs["data"], "a29_malicious_pickle", "save-load")
    assert all(
        "not a state_dict" in c["message"] for c in ex["checks"] if c["entry"] == "save_model"
    )


def test_no_attacker_process_outlives_the_fallback_run(runs: dict):
    assert not runs["leftovers"], runs["leftovers"]


def test_every_report_says_the_sandbox_is_not_in_force(runs: dict):
    data = runs["data"]
    assert data["sandbox"] == "subprocess"
    assert data["warnings"] and all(w.strip() for w in data["warnings"])
    pages = sorted(runs["out"].glob("*.html"))
    assert len(pages) == len(data["students"]) + 1  # every student's page and index.html
    for page in pages:
        text = html.unescape(page.read_text())
        for warning in data["warnings"]:
            assert warning in text, page.name
    assert "warning" in runs["stderr"].lower()


@pytest.mark.skipif(not bubblewrap_works(), reason="bubblewrap is not usable on this machine")
def test_default_uses_bubblewrap_without_warnings(runs: dict):
    data = runs["default"]
    assert data["sandbox"] == "bubblewrap"
    assert data["warnings"] == []
    for page in runs["default_out"].glob("*.html"):
        assert 'class="warning"' not in page.read_text(), page.name
    ex = exercise(data, "honest", "tensor-ops")
    assert ex["score"] == ex["max_score"] > 0
