"""Every kind of check, failing for the reason it exists, on the real exercise pack.

Two students with realistic mistakes in every exercise are graded once through the
real CLI and sandbox; each test asserts one check kind's verdict and message.
"""

from __future__ import annotations

import pytest
from conftest import ROOT, exercise, results, run_grader, write_student

pytestmark = pytest.mark.slow


def solution(name: str) -> str:
    return (ROOT / "solutions" / f"{name}.py").read_text()


def edited(name: str, old: str, new: str) -> str:
    text = solution(name)
    assert old in text, (name, old)
    return text.replace(old, new)


MISTAKES = {
    # distribution: uniform samples instead of normal ones
    "tensor_init.py": edited(
        "tensor_init", "return torch.randn(shape)", "return torch.rand(shape)"
    ),
    # match on dicts and int64 tensors: words not lower-cased
    "text_to_ids.py": solution("text_to_ids").replace(
        "sentence.lower().split()", "sentence.split()"
    ),
    # custom: centring in place changes the caller's tensor
    "mesh_to_tensor.py": edited(
        "mesh_to_tensor", "return v - v.mean(dim=0)", "v -= v.mean(dim=0)\n    return v"
    ),
    # custom: standardize with statistics of both sets; the split ignores the seed
    "prepare_data.py": edited(
        "prepare_data",
        "order = torch.randperm(X.shape[0], generator=gen)",
        "order = torch.randperm(X.shape[0])",
    ).replace("mean = X_train.mean(dim=0)", "mean = torch.cat([X_train, X_val]).mean(dim=0)"),
    # module: a layer of the wrong size
    "regression_model.py": edited(
        "regression_model", "nn.Linear(64, 32)", "nn.Linear(64, 16)"
    ).replace("nn.Linear(32, 1)", "nn.Linear(16, 1)"),
    # autograd: the caller's point gets requires_grad and a .grad
    "derivative.py": edited(
        "derivative",
        "v = point.detach().clone().requires_grad_(True)",
        "v = point.requires_grad_(True)",
    ).replace(
        "(grad,) = torch.autograd.grad(out, v)\n    return grad.detach()",
        "out.backward()\n    return v.grad.detach().clone()",
    ),
    # training: optimizer.step() forgotten
    "training_loop.py": edited("training_loop", "        optimizer.step()\n", ""),
    # forbidden-calls through an alias and a helper
    "activations.py": "import torch\nimport torch.nn.functional as F\n\n_act = F.relu\n\n\n"
    "def relu(x):\n    return _act(x)\n\n\n"
    "def _s(x):\n    return getattr(torch, 'sigmoid')(x)\n\n\n"
    "def sigmoid(x):\n    return _s(x)\n\n\ndef tanh(x):\n"
    "    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))\n",
    # state-dict-file: saves the model's parameters as a list, not a state_dict
    "save_load.py": edited(
        "save_load",
        "torch.save(model.state_dict(), path)",
        "torch.save([p.detach() for p in model.parameters()], path)",
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    subs = tmp_path_factory.mktemp("subs")
    write_student(subs, "mistakes", MISTAKES)
    out = tmp_path_factory.mktemp("out")
    proc = run_grader("grade", str(subs), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return results(out)


def failing(data: dict, exercise_id: str) -> list[dict]:
    return [c for c in exercise(data, "mistakes", exercise_id)["checks"] if c["status"] != "passed"]


def messages(data: dict, exercise_id: str) -> str:
    return "\n".join(c["message"] for c in failing(data, exercise_id))


def test_distribution(graded):
    assert "do not look normal" in messages(graded, "tensor-init")


def test_match_on_python_and_integer_values(graded):
    assert failing(graded, "text-to-ids")


def test_custom_judge_sees_the_changed_input(graded):
    assert "center_vertices" in messages(graded, "mesh-to-tensor")


def test_custom_judges_for_split_and_standardize(graded):
    text = messages(graded, "prepare-data")
    assert "train_val_split" in text and "standardize" in text


def test_module_structure(graded):
    text = messages(graded, "regression-model")
    assert "fc2.weight" in text and "[16, 64]" in text and "[32, 64]" in text


def test_autograd_leaves_the_callers_tensor_alone(graded):
    assert "requires_grad" in messages(graded, "derivative")


def test_training_target_on_held_out_data(graded):
    text = messages(graded, "training-loop")
    assert "held-out" in text and "optimizer.step()" in text


def test_forbidden_calls_through_aliases_and_helpers(graded):
    text = messages(graded, "activations")
    assert "relu uses the library's own version" in text
    assert "sigmoid uses the library's own version" in text
    assert "'sigmoid'" in text  # found inside getattr(torch, 'sigmoid')
    relu = [
        c for c in exercise(graded, "mistakes", "activations")["checks"] if c["entry"] == "relu"
    ]
    assert relu and all(c["score"] == 0 for c in relu)


def test_extreme_inputs_must_stay_finite(graded):
    tanh = [c for c in failing(graded, "activations") if c["entry"] == "tanh"]
    assert any("NaN" in c["message"] for c in tanh)


def test_state_dict_file(graded):
    assert "the saved file is not a state_dict" in messages(graded, "save-load")
