"""Forbidden calls are found in the syntax tree, however they are spelled."""

from __future__ import annotations

import pytest

from grader.checks.forbidden import find_forbidden

SIGMOID = {"sigmoid", "sigmoid_", "Sigmoid", "expit"}


@pytest.mark.parametrize("body", [
    "import torch\ndef sigmoid(x):\n    return torch.sigmoid(x)\n",
    "import torch.nn.functional as F\ndef sigmoid(x):\n    return F.sigmoid(x)\n",
    "from torch import sigmoid as s\ndef sigmoid(x):\n    return s(x)\n",
    "def sigmoid(x):\n    return x.sigmoid_()\n",
    "import torch.nn as nn\ndef sigmoid(x):\n    return nn.Sigmoid()(x)\n",
    "import torch\ndef sigmoid(x):\n    return getattr(torch, 'sigmoid')(x)\n",
    "import torch\nsig = torch.sigmoid\ndef sigmoid(x):\n    return sig(x)\n",
    "import torch\ndef helper(x):\n    return torch.special.expit(x)\ndef sigmoid(x):\n    return helper(x)\n",
    "import torch\ndef a(x):\n    return torch.sigmoid(x)\ndef b(x):\n    return a(x)\ndef sigmoid(x):\n    return b(x)\n",
    "from torch.special import expit\ndef sigmoid(x):\n    return expit(x)\n",
])
def test_found(body: str):
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"]


@pytest.mark.parametrize("body", [
    "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n",
    # Used elsewhere in the file, not by sigmoid: sigmoid keeps its points.
    "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\ndef other(x):\n    return torch.sigmoid(x)\n",
    # Code under the main guard never runs in grading.
    "import torch\ndef sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
    "if __name__ == '__main__':\n    print(torch.allclose(sigmoid(torch.zeros(1)), torch.sigmoid(torch.zeros(1))))\n",
    # The word in a comment or an unrelated string is not a call.
    "import torch\ndef sigmoid(x):\n    # unlike torch.sigmoid, written by hand\n    return 1 / (1 + torch.exp(-x))\n",
])
def test_not_found(body: str):
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"] == []


def test_lines_are_reported():
    uses = find_forbidden("import torch\n\n\ndef sigmoid(x):\n    return torch.sigmoid(x)\n", ["sigmoid"], SIGMOID)
    assert uses["sigmoid"] == [("torch.sigmoid", 5)]


def test_a_docstring_naming_the_function_is_not_a_use():
    body = 'import torch\ndef sigmoid(x):\n    """sigmoid"""\n    return 1 / (1 + torch.exp(-x))\n'
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"] == []


def test_a_name_looked_up_by_subscript_is_a_use():
    body = 'import torch.nn.functional as F\ndef sigmoid(x):\n    return vars(F)["sigmoid"](x)\n'
    assert find_forbidden(body, ["sigmoid"], SIGMOID)["sigmoid"]
