"""The stub a student starts from (``FILE.py``): the prompt, the setup code, a stub per
entry point and the visible examples as comments (``grader check`` runs them). ``grader
build`` writes it, and reading a submission recognises an untouched one (a student who
submitted only the notebook), from this grader's bundles or older ones."""

from __future__ import annotations

import ast
import textwrap
import unicodedata
from collections.abc import Mapping

from grader.course.model import EntryPoint, Exercise

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


def comment_text(text: str) -> str:
    """``text`` on one line, with control characters escaped: safe inside a comment."""
    return "".join(
        f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" else c for c in one_line(text)
    )


def examples_block(exercise: Exercise) -> str:
    """The end of FILE.py: the visible examples as comments, and a main block that says
    how to run them (``grader check`` runs them in the sandbox and compares exactly)."""
    check = f"grader check {exercise.file}.py"
    lines = []
    if exercise.examples:
        lines.append(f"# The visible examples ({check} runs them):")
        for ex in exercise.examples:
            lines.append(f"#   {comment_text(ex.code)}")
            lines.append(f"#     gives {comment_text(ex.expect)}")
    lines += ['if __name__ == "__main__":', f'    print("Try the examples: {check}")']
    return "\n".join(lines) + "\n"


# The end of FILE.py in bundles built before the examples moved to `grader check`: a
# main block that ran them itself. A stub ending so is still recognised as untouched.
LEGACY_EXAMPLES_HEAD = (
    "# Try the examples: python {file}.py\n"
    "# (The grader imports this file; it never runs the code below.)\n"
    'if __name__ == "__main__":\n'
)


def is_untouched_stub(text: str, exercise: Exercise) -> bool:
    """Whether ``text`` is the stub of FILE.py as a bundle gave it, this one or a
    legacy one (whose main block, indented under ``if __name__``, runs only when the
    file is run itself, never when it is graded)."""
    if text == stub_source(exercise):
        return True
    head = _stub_parts(exercise, {}) + "\n\n" + LEGACY_EXAMPLES_HEAD.format(file=exercise.file)
    if not text.startswith(head):
        return False
    rest = text[len(head) :].split("\n")
    return all(not line.strip() or line[0] in " \t" for line in rest)


def stub_source(exercise: Exercise, fill: Mapping[str, str] | None = None) -> str:
    """The text of ``FILE.py``: docstring (title and prompt), setup, one stub (or starter)
    per entry point, then the examples (as comments) and a main block saying how to run them.

    ``fill`` maps entry point names to code that replaces that entry point's stub, so
    other code (tests, course validation) can build a file with solutions filled in.
    """
    fill = fill or {}
    unknown = sorted(set(fill) - set(exercise.entry_names()))
    if unknown:
        raise KeyError(f"{exercise.id} has no entry point(s) {', '.join(unknown)}")
    return _stub_parts(exercise, fill) + "\n\n" + examples_block(exercise)


def _stub_parts(exercise: Exercise, fill: Mapping[str, str]) -> str:
    """FILE.py up to its examples: docstring, setup and one stub per entry point."""
    parts = [docstring(f"{exercise.title}\n\n{exercise.prompt}")]
    setup = setup_source(exercise)
    if setup:
        parts.append(setup)
    for entry in exercise.entry_points:
        code = _code(fill[entry.name]) if entry.name in fill else entry_source(exercise, entry)
        if code:
            parts.append(code)
    head, *rest = (part.rstrip("\n") + "\n" for part in parts)
    return head + "\n" + "\n\n".join(rest)
