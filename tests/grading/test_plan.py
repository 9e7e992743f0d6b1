"""What the sandbox receives: inputs only. Held-out sets and expected values stay in
the grader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from grader.course.loading import load_course
from grader.course.schema import ExerciseError
from grader.grading.plan import build_plan

STEP_KEYS = {"do", "target", "method", "args", "kwargs", "value", "as", "of", "wrt", "path", "expr"}


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_course(ROOT), seed=0)


def test_job_holds_only_steps_and_inputs(plan, tmp_path: Path):
    job = plan.job_for(plan.course.exercises, plan.seed)
    assert set(job) == {"seed", "threads", "files"}
    for f in job["files"]:
        assert set(f) == {"module", "load_timeout", "memory_mb", "calls"}
        for call in f["calls"]:
            assert set(call) == {"id", "steps", "keep", "artifacts", "seed", "timeout"}
            for step in call["steps"]:
                assert set(step) <= STEP_KEYS
    text = json.dumps(job)
    for ex in plan.course.exercises:
        for check in ex.checks:
            assert check.name not in text  # check definitions stay in the grader
            if check.hint:
                assert check.hint not in text


def test_held_out_data_never_enters_the_inputs(plan, tmp_path: Path):
    from safetensors.torch import load_file

    plan.write_inputs(tmp_path / "inputs.safetensors")
    sent = list(load_file(str(tmp_path / "inputs.safetensors")).values())
    held_out = [
        pc.data[pc.spec.options.get(k, f"{k.upper()}_test")]
        for pc in plan.all_checks()
        if pc.spec.judge == "training"
        for k in ("x", "y")
    ]
    assert held_out, "the course should have a training check"
    for tensor in held_out:
        assert not any(t.shape == tensor.shape and torch.equal(t, tensor) for t in sent)
    train = [pc.data["X_train"] for pc in plan.all_checks() if pc.spec.judge == "training"]
    assert any(any(t.shape == x.shape and torch.equal(t, x) for t in sent) for x in train)


def test_a_check_that_would_send_its_held_out_set_is_refused(tmp_path: Path):
    course_dir = tmp_path / "course"
    (course_dir / "exercises").mkdir(parents=True)
    for name in ("training_loop.yaml", "hidden"):
        src = ROOT / "exercises" / name
        dst = course_dir / "exercises" / name
        if src.is_dir():
            dst.mkdir()
            (dst / "training_loop.py").write_text((src / "training_loop.py").read_text())
        else:
            dst.write_text(src.read_text().replace("{data: y_train}", "{data: y_test}"))
    with pytest.raises(
        ExerciseError, match=r"exercises/training_loop.yaml:\d+: check .* held-out y_test"
    ):
        build_plan(load_course(course_dir), seed=0)
