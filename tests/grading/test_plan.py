"""What the sandbox receives: inputs only. Held-out sets and expected values stay in
the grader."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from judging import plan_check, plan_checks, write_course

from grader.course.loading import load_course
from grader.course.schema import ExerciseError
from grader.grading.plan import (
    ARTIFACT_ALLOWANCE,
    IMPORT_ALLOWANCE,
    build_example_plan,
    build_plan,
    derive_seed,
)

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
            # "record": true only on calls a forbidden-calls check wants recorded at run time
            assert set(call) - {"record"} == {"id", "steps", "keep", "artifacts", "seed", "timeout"}
            assert call.get("record", True) is True
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


# ------------------------------------------------------------------ one check, from YAML
# The seams below are planned from hand-written exercises (tests/judging.py), not the course.
STEPS = """
judge: match
data: hidden/data.py:make
steps:
  - bind: {randn: [2, 3]}
    as: x
  - call: f
    args: [{ref: x}, {data: w}]
    kwargs: {scale: 2.5}
    as: y
  - method: sum
    on: y
    kwargs: {dim: 0}
    as: total
  - grad: total
    wrt: x
    as: g
  - save_state_dict: {mlp: [[fc, 3, 1]]}
    path: w.pt
keep: [y, g]
artifacts: {saved: w.pt}
timeout: 4
"""
DATA = {
    "hidden/data.py": """
    import torch


    def make(seed):
        return {"w": torch.full((3,), float(seed % 1000))}
"""
}


def test_derive_seed_is_stable_and_depends_on_every_part():
    assert derive_seed(0, "ex", "check") == derive_seed(0, "ex", "check")
    seeds = {
        derive_seed(0, "ex", "check"),
        derive_seed(1, "ex", "check"),
        derive_seed(0, "ex2", "check"),
        derive_seed(0, "ex", "check2"),
    }
    assert len(seeds) == 4
    assert all(0 <= s < 2**63 for s in seeds)
    assert (
        derive_seed(0, "ex", "check")
        == int.from_bytes(hashlib.sha256(b"0/ex/check").digest()[:8], "big") >> 1
    )


def test_every_step_kind_is_encoded_for_the_sandbox(tmp_path: Path):
    pc = plan_check(tmp_path, STEPS, files=DATA)
    assert pc.probe is not None
    steps = pc.probe.steps
    assert [s["do"] for s in steps] == ["bind", "call", "method", "grad", "save_state_dict"]
    bind, call, method, grad, save = steps
    assert bind["value"] == {"t": "tensor", "key": "i0", "requires_grad": False}
    assert bind["as"] == "x"
    assert call["target"] == "f" and call["as"] == "y"
    assert call["args"] == [
        {"t": "ref", "name": "x"},
        {"t": "tensor", "key": "i1", "requires_grad": False},
    ]
    assert call["kwargs"] == {"scale": {"t": "float", "v": 2.5}}
    assert (method["target"], method["method"]) == ("y", "sum")
    assert method["kwargs"] == {"dim": {"t": "int", "v": 0}}
    assert (grad["of"], grad["wrt"], grad["as"]) == ("total", "x", "g")
    assert save["path"] == "w.pt" and save["value"]["t"] == "mlp" and "as" not in save
    assert set(STEP_KEYS) >= {k for s in steps for k in s}


def test_the_plan_keeps_bound_values_and_hidden_data_and_sends_their_tensors(tmp_path: Path):
    [pc] = plan_checks(tmp_path, STEPS, files=DATA, seed=3)
    seed = derive_seed(3, "unit", "the check")
    assert pc.probe.seed == seed
    drawn = torch.randn(2, 3, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(pc.bound["x"], drawn)
    assert set(pc.bound) == {"x"}  # only bind steps bind on the grader's side
    assert torch.equal(pc.data["w"], torch.full((3,), float(seed % 1000)))


def test_probe_and_job(tmp_path: Path):
    course = load_course(
        write_course(
            tmp_path,
            STEPS,
            "judge: match\ncall: [1]",
            "judge: forbidden-calls\nwith: {names: [sum]}",
            files=DATA,
        )
    )
    plan = build_plan(course, seed=0)
    first, second, reads = plan.checks["unit"]
    assert first.probe.call_id == "unit-0" and second.probe.call_id == "unit-1"
    assert reads.probe is None
    assert first.probe.timeout == 4 and second.probe.timeout == course.exercises[0].limits.time
    assert first.probe.to_job() == {
        "id": "unit-0",
        "steps": first.probe.steps,
        "keep": ["y", "g"],
        "artifacts": [{"name": "saved", "path": "w.pt"}],
        "seed": first.probe.seed,
        "timeout": 4,
    }
    assert second.probe.keep == ["result"]
    job = plan.job_for(course.exercises, 7)
    assert job["seed"] == 7 and job["threads"] == 1
    [entry] = job["files"]
    assert entry == {
        "module": "unit",
        "load_timeout": 30.0,
        "memory_mb": 3072,
        "calls": [first.probe.to_job(), second.probe.to_job()],
    }
    assert set(plan.tensors) == {"i0", "i1", "i2", "i3"}  # x, w, the mlp's weight and bias
    assert plan.wall_seconds(job) == (
        IMPORT_ALLOWANCE
        + 30.0
        + 1
        + 4
        + 0.5
        + ARTIFACT_ALLOWANCE
        + course.exercises[0].limits.time
        + 0.5
    )


def test_the_same_seed_gives_the_same_inputs_and_another_seed_others(tmp_path: Path):
    course = load_course(write_course(tmp_path, "judge: match\ncall: [{randn: [4]}]"))
    a, b, c = (build_plan(course, seed) for seed in (1, 1, 2))
    assert torch.equal(a.tensors["i0"], b.tensors["i0"])
    assert not torch.equal(a.tensors["i0"], c.tensors["i0"])


def test_needs_solution(tmp_path: Path):
    match, forbidden, distribution, training = plan_checks(
        tmp_path,
        "judge: match\ncall: [1]",
        "judge: forbidden-calls\nwith: {names: [sum]}",
        "judge: distribution\ncall: [1]",
        "judge: training\nsteps:\n  - bind: {mlp: [[fc, 1, 1]]}\n    as: model\n"
        "  - call: f\n    args: [{ref: model}]\nwith: {solution: true, target_mse: 1}",
    )
    assert match.needs_solution and not forbidden.needs_solution
    assert not distribution.needs_solution and training.needs_solution


def test_visible_examples_become_match_checks(tmp_path: Path):
    folder = write_course(tmp_path, "judge: match\ncall: [1]", entries=("f", "g"))
    path = folder / "exercises" / "unit.yaml"
    path.write_text(
        path.read_text() + "examples:\n  - name: g doubles\n    code: g(2)\n"
        "    expect: '4'\n  - name: plain\n    code: 1 + 1\n    expect: '2'\n"
    )
    plan = build_example_plan(load_course(folder), seed=0)
    doubles, plain = plan.checks["unit"]
    assert doubles.spec.entry == "g" and plain.spec.entry == "f"  # the first entry by default
    assert doubles.spec.judge == "match" and doubles.spec.disclose == {"inputs", "expected"}
    assert doubles.expected_expr == "4" and not doubles.needs_solution
    assert doubles.probe.call_id == "unit-example-0"
    assert doubles.probe.steps == [{"do": "eval", "expr": "g(2)", "as": "result"}]
    assert doubles.probe.seed == derive_seed(0, "unit", "example", 0)
    assert plan.tensors == {}


def test_a_held_out_set_under_another_name_is_guarded_too(tmp_path: Path):
    check = STEPS.replace("judge: match", "judge: training").replace(
        "keep: [y, g]", "keep: [y, g]\nwith: {x: w, target_mse: 1.0}"
    )
    with pytest.raises(ExerciseError, match="check 'the check' would send its held-out w into"):
        plan_check(tmp_path, check, files=DATA)
