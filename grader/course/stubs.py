"""The stub a student starts from (``FILE.py``): the prompt, the setup code, a stub per
entry point and the visible examples. ``grader build`` writes it, and reading a
submission recognises an untouched one (a student who submitted only the notebook)."""

from __future__ import annotations

import ast
import textwrap
import unicodedata
from collections.abc import Mapping

from grader.course.model import EntryPoint, Exercise

# Compares an example's result with its expected value. Runs in the student's process:
# under ``if __name__ == "__main__":`` in FILE.py, in a helper cell of FILE.ipynb.
MISMATCH_HELPER = '''\
def _mismatch(got, expected):
    """Why got is not expected ("" when it is): tensors by torch.allclose, the rest by ==."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor, got {type(got).__name__}: {got!r}"
        if got.shape != expected.shape:
            return f"got shape {tuple(got.shape)}, expected shape {tuple(expected.shape)}"
        if got.dtype != expected.dtype:
            return f"got dtype {got.dtype}, expected dtype {expected.dtype}"
        got, expected = got.detach().cpu(), expected.detach().cpu()
        if expected.is_floating_point() or expected.is_complex():
            same = torch.allclose(got, expected)
        else:
            same = torch.equal(got, expected)
        return "" if same else f"got {got}, expected {expected}"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} items, got {got!r}"
        for index, (got_item, expected_item) in enumerate(zip(got, expected)):
            problem = _mismatch(got_item, expected_item)
            if problem:
                return f"item {index}: {problem}"
        return ""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"got {got!r}, expected {expected!r}"
        for key in expected:
            problem = _mismatch(got[key], expected[key])
            if problem:
                return f"key {key!r}: {problem}"
        return ""
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor):
            return f"expected a Python number, got a tensor: {got} (use .item())"
        if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            same = math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-8)
            return "" if same else f"got {got!r}, expected {expected!r}"
    try:
        same = bool(got == expected)
    except Exception:
        same = False
    return "" if same else f"got {got!r}, expected {expected!r}"
'''  # noqa: E501 (this text is copied as is into the starter files students get)

HELPER_IMPORTS = "import math\n\nimport torch\n"


# ---------------------------------------------------------------------------- text


def _lines(text: str) -> list[str]:
    """Lines split on newlines only (not on the exotic separators str.splitlines knows)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _literal_body(body: str) -> tuple[str, str]:
    """(prefix, body) for a triple-quoted literal that reads back as ``body``."""
    controls = any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in body)
    needs_escape = '"""' in body or body.endswith('"') or controls
    if not needs_escape:
        if "\\" not in body:
            return "", body
        if not body.endswith("\\"):
            return "r", body  # backslashes (LaTeX, regexes) stay readable
    out = body.replace("\\", "\\\\").replace('"', '\\"')
    out = "".join(
        f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c
        for c in out
    )
    return "", out


def docstring(text: str, indent: str = "", width: int = 88) -> str:
    """``text`` as a docstring at ``indent``: one line when it fits on one, else PEP 257 style.

    A long single line is wrapped at ``width``; text with line breaks keeps them.
    """
    text = text.strip()
    if "\n" not in text and len(indent) + len(text) + 6 > width:
        text = textwrap.fill(
            text,
            width=max(width - len(indent) - 3, 40),
            break_long_words=False,
            break_on_hyphens=False,
        )
    lines = [line.rstrip() for line in _lines(text)]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return ""
    if len(lines) == 1:
        prefix, body = _literal_body(lines[0])
        return f'{indent}{prefix}"""{body}"""\n'
    prefix, body = _literal_body("\n".join(lines))
    shown = [(indent + line) if line else "" for line in _lines(body)]
    shown[0] = shown[0][len(indent) :]
    return f'{indent}{prefix}"""' + "\n".join(shown) + f'\n{indent}"""\n'


def _code(text: str) -> str:
    """Code with exactly one trailing newline ("" for no code)."""
    text = text.rstrip()
    return text + "\n" if text.strip() else ""


def one_line(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------- stubs


def _binds_torch(setup: str) -> bool:
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return "import torch" in setup
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == "torch":
                    return True
    return False


def setup_source(exercise: Exercise) -> str:
    """The exercise's setup code, plus ``import torch`` when a class stub needs it."""
    setup = _code(exercise.setup)
    needs_torch = any(e.kind == "class" and e.starter is None for e in exercise.entry_points)
    if needs_torch and not _binds_torch(setup):
        setup = setup + ("\n" if setup else "") + "import torch\n"
    return setup


def _init_signature(signature: str) -> str:
    """``(in_features=87)`` -> ``(self, in_features=87)``; kept when it already has self."""
    try:
        fn = ast.parse(f"def _f{signature}: pass").body[0]
        assert isinstance(fn, ast.FunctionDef)
        positional = fn.args.posonlyargs + fn.args.args
        if positional and positional[0].arg == "self":
            return signature
    except SyntaxError:
        pass
    inner = signature[1:-1].strip()
    return f"(self, {inner})" if inner else "(self)"


def entry_source(exercise: Exercise, entry: EntryPoint) -> str:
    """The code a student starts from for one entry point: its ``starter`` verbatim, or
    a stub raising NotImplementedError."""
    if entry.starter is not None:
        return _code(entry.starter)
    if entry.kind == "class":
        doc = docstring(entry.doc, "    ")
        return (
            f"class {entry.name}(torch.nn.Module):\n"
            + (doc + "\n" if doc else "")
            + f"    def __init__{_init_signature(entry.signature)}:\n"
            "        super().__init__()\n"
            f'        raise NotImplementedError("write {entry.name}.__init__")\n'
            "\n"
            "    def forward(self, x):\n"
            f'        raise NotImplementedError("write {entry.name}.forward")\n'
        )
    return (
        f"def {entry.name}{entry.signature}:\n"
        + docstring(entry.doc, "    ")
        + f'    raise NotImplementedError("write {entry.name}")\n'
    )


def examples_block(exercise: Exercise) -> str:
    """The ``if __name__ == "__main__":`` block of FILE.py: runs the visible examples and
    prints a PASS or FAIL line for each (one failure does not stop the others)."""
    head = (
        f"# Try the examples: python {exercise.file}.py\n"
        "# (The grader imports this file; it never runs the code below.)\n"
        'if __name__ == "__main__":\n'
    )
    if not exercise.examples:
        return head + '    print("This exercise has no visible examples.")\n'
    helper = "".join(
        ("    " + line) if line.strip() else line
        for line in (HELPER_IMPORTS + "\n" + MISMATCH_HELPER).splitlines(keepends=True)
    )
    table = "".join(
        f"        (\n            {one_line(ex.name)!r},\n            {ex.code.strip()!r},\n"
        f"            {ex.expect.strip()!r},\n        ),\n"
        for ex in exercise.examples
    )
    return (
        head
        + helper
        + (
            "\n"
            "    _examples = [\n"
            f"{table}"
            "    ]\n"
            "    _passed = 0\n"
            "    for _name, _code, _expect in _examples:\n"
            "        try:\n"
            "            _got = eval(_code)\n"
            "            _problem = _mismatch(_got, eval(_expect))\n"
            "        except Exception as _exc:\n"
            '            _problem = f"{type(_exc).__name__}: {_exc}"\n'
            "        if _problem:\n"
            '            print(f"FAIL {_name}\\n     {_code}\\n     {_problem}")\n'
            "        else:\n"
            "            _passed += 1\n"
            '            print(f"PASS {_name}")\n'
            '    print(f"{_passed} of {len(_examples)} examples passed")\n'
        )
    )


def stub_source(exercise: Exercise, fill: Mapping[str, str] | None = None) -> str:
    """The text of ``FILE.py``: docstring (title and prompt), setup, one stub (or starter)
    per entry point, then the examples block.

    ``fill`` maps entry point names to code that replaces that entry point's stub, so
    other code (tests, course validation) can build a file with solutions filled in.
    """
    fill = fill or {}
    unknown = sorted(set(fill) - set(exercise.entry_names()))
    if unknown:
        raise KeyError(f"{exercise.id} has no entry point(s) {', '.join(unknown)}")
    parts = [docstring(f"{exercise.title}\n\n{exercise.prompt}")]
    setup = setup_source(exercise)
    if setup:
        parts.append(setup)
    for entry in exercise.entry_points:
        code = _code(fill[entry.name]) if entry.name in fill else entry_source(exercise, entry)
        if code:
            parts.append(code)
    parts.append(examples_block(exercise))
    head, *rest = (part.rstrip("\n") + "\n" for part in parts)
    return head + "\n" + "\n\n".join(rest)
