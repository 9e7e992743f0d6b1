"""The ``state-dict-file`` judge on hand-made artifacts: a saved file read back (as the
grader decodes it) must hold the given model's state_dict, names and tensors exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from judging import judge, plan_check, returned

from grader.course.schema import ExerciseError
from grader.grading.plan import PlannedCheck
from grader.judges import Verdict

CHECK = """
judge: state-dict-file
steps:
  - bind: {mlp: [[fc1, 3, 4], [out, 4, 1]]}
    as: model
  - call: f
    args: [{ref: model}, {path: model.pt}]
keep: []
artifacts: {saved: model.pt}
"""


def check(tmp_path: Path, options: str = "") -> PlannedCheck:
    return plan_check(tmp_path, CHECK + (f"with: {options}" if options else ""))


def saved(state: dict[str, torch.Tensor]) -> dict:
    """A state_dict as ExerciseGrader hands it to the judge: decoded tensors."""
    return returned(state_dict=state)["state_dict"]


def given(pc: PlannedCheck, name: str = "model") -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in pc.bound[name].state.items()}


def verdict(pc: PlannedCheck, artifact: object, name: str = "saved") -> Verdict:
    return judge(pc, {}, artifacts={name: artifact})


def test_the_models_state_dict_passes(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, saved(given(pc)))
    assert v.passed and v.message == "f saved the model's state_dict (4 tensors)"
    assert v.details == {"saved_keys": ["fc1.bias", "fc1.weight", "out.bias", "out.weight"]}


@pytest.mark.parametrize(
    "artifact, reason",
    [
        ("it holds no state_dict", "it holds no state_dict"),
        (
            "UnpicklingError: the model object was pickled",
            "UnpicklingError: the model object was pickled",
        ),
        (None, "nothing was saved"),
        ("", "nothing was saved"),
    ],
)
def test_what_is_not_a_state_dict(tmp_path: Path, artifact: object, reason: str):
    v = verdict(check(tmp_path), artifact)
    assert not v.passed
    assert v.message == (
        f"f: the saved file is not a state_dict: {reason}. Save model.state_dict() "
        "with torch.save, not the model object"
    )


def test_nothing_read_back_under_the_artifacts_name(tmp_path: Path):
    pc = check(tmp_path)
    v = verdict(pc, saved(given(pc)), name="other")
    assert v.message.startswith("f: the saved file is not a state_dict: nothing was saved.")


def test_missing_and_unexpected_entries(tmp_path: Path):
    pc = check(tmp_path)
    state = given(pc)
    del state["out.bias"]
    state["extra.weight"] = torch.zeros(1)
    v = verdict(pc, saved(state))
    assert not v.passed
    assert v.message == "f: the file has no out.bias; the file has unexpected entries extra.weight"
    assert v.details["saved_keys"] == ["extra.weight", "fc1.bias", "fc1.weight", "out.weight"]


def test_other_values_shapes_or_dtypes(tmp_path: Path):
    pc = check(tmp_path)
    state = given(pc)
    state["fc1.weight"] = state["fc1.weight"].t()
    state["fc1.bias"] = state["fc1.bias"] + 1e-6  # exact: no tolerance for saved weights
    state["out.weight"] = state["out.weight"].double()
    state["out.bias"] = torch.zeros(2)
    v = verdict(pc, saved(state))
    assert not v.passed
    assert v.message.startswith(
        "f: fc1.weight: shape is [3, 4]; expected [4, 3]; "
        "fc1.bias: values differ at 4 of 4 positions, e.g. at [0], "
        "where yours is "
    )
    assert v.message.endswith(
        "; out.weight: dtype is float64; expected float32; the values are right"
    )
    assert "out.bias" not in v.message  # three problems at most


def test_a_saved_value_that_is_not_a_tensor(tmp_path: Path):
    pc = check(tmp_path)
    state: dict = given(pc)
    state["fc1.weight"] = state["fc1.weight"].tolist()
    v = verdict(pc, saved(state))
    assert v.message == (
        "f: fc1.weight: got a list of 4 items; expected a tensor; its values are right"
    )


def test_nan_in_a_saved_tensor(tmp_path: Path):
    pc = check(tmp_path)
    state = given(pc)
    state["out.bias"] = torch.tensor([float("nan")])
    v = verdict(pc, saved(state))
    assert v.message == (
        "f: out.bias: contains 1 NaN value (the first at [0]), where every value "
        "should be a finite number"
    )


def test_artifact_and_model_options(tmp_path: Path):
    pc = plan_check(
        tmp_path,
        CHECK.replace("as: model", "as: net")
        .replace("{ref: model}", "{ref: net}")
        .replace("saved: model.pt", "file: model.pt")
        + "with: {artifact: file, model: net}",
    )
    assert verdict(pc, saved(given(pc, "net")), name="file").passed
    assert not verdict(pc, saved(given(pc, "net"))).passed


@pytest.mark.parametrize(
    "option, words",
    [
        ("{artifact: 1}", "key 'artifact': expected text, got 1"),
        ("{file: saved}", "key 'file': unknown key"),
    ],
)
def test_options_are_validated_at_load(tmp_path: Path, option: str, words: str):
    with pytest.raises(ExerciseError, match=words):
        check(tmp_path, option)
