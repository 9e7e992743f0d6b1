"""Trivial implementations: wrong answers ``grader validate`` writes for every entry point,
to show the checks that give points for nothing.

Each is the exercise's stub with one entry point's body replaced (the other entry points
stay stubs that raise), graded like any submission, in the sandbox:

- ``raises``: the stub itself (raise NotImplementedError);
- ``none``: return None (a class: no layers, ``forward`` returns None);
- ``input``: return the first argument (a class: no layers, ``forward`` returns x);
- ``zeros`` / ``ones``: a value of the reference solution's type, shape and structure
  holding only 0 or only 1: tensors become ``torch.full_like``, numbers 0 or 1, lists,
  tuples and dicts item by item, a module's parameters all 0 or 1; None and other values
  stay as they are. The reference runs on copies of the arguments, in a folder of its
  own, so nothing it does (train a model, write a file) reaches the check.

A check that one of them passes with points is listed: it gives points for a function
that does nothing, and should count only together with a check of the values, or say
in the exercise why it stands alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from grader.course.model import EntryPoint, Exercise
from grader.course.stubs import stub_source
from grader.results import ExerciseResult

VARIANTS = {
    "raises": "raises NotImplementedError",
    "none": "returns None",
    "input": "returns its first argument",
    "zeros": "returns zeros shaped like the reference's result",
    "ones": "returns ones shaped like the reference's result",
}
GENERATED = ("none", "input", "zeros", "ones")  # "raises" is the stub: graded already

HELPERS = '''\
# grader validate: a trivial implementation, generated (see grader/grading/trivial.py)
import copy as _grader_copy
import os as _grader_os
import shutil as _grader_shutil
import tempfile as _grader_tempfile

import torch as _grader_torch

_GRADER_REFERENCE = {{"__name__": "_grader_reference"}}
exec(compile({source!r}, "<the reference solution>", "exec"), _GRADER_REFERENCE)


def _grader_like(value, fill):
    """A value of value's type, shape and structure holding only fill."""
    if isinstance(value, _grader_torch.Tensor):
        return _grader_torch.full_like(value.detach(), fill)
    if isinstance(value, _grader_torch.nn.Module):
        with _grader_torch.no_grad():
            for parameter in value.parameters():
                parameter.fill_(fill)
        return value
    if isinstance(value, bool):
        return bool(fill)
    if isinstance(value, (int, float)):
        return type(value)(fill)
    if isinstance(value, str):
        return ""
    if isinstance(value, dict):
        return {{key: _grader_like(item, fill) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        items = [_grader_like(item, fill) for item in value]
        try:
            return type(value)(items)
        except Exception:
            return items
    return value


def _grader_call(name, args, kwargs):
    """The reference's result on copies of the arguments, run in a folder of its own."""
    here = _grader_os.getcwd()
    scratch = _grader_tempfile.mkdtemp(dir=here)

    def moved(value):
        if isinstance(value, str) and value.startswith(here + _grader_os.sep):
            target = _grader_os.path.join(scratch, _grader_os.path.basename(value))
            if _grader_os.path.isfile(value):
                _grader_shutil.copyfile(value, target)
            return target
        try:
            return _grader_copy.deepcopy(value)
        except Exception:
            return value

    args = [moved(arg) for arg in args]
    kwargs = {{key: moved(arg) for key, arg in kwargs.items()}}
    _grader_os.chdir(scratch)
    try:
        return _GRADER_REFERENCE[name](*args, **kwargs)
    finally:
        _grader_os.chdir(here)
'''


@dataclass
class Passed:
    check: str
    score: float
    points: float
    # Why the check stands alone, when the exercise says so (``alone:``): such a pass
    # is listed, not warned about.
    alone: str | None = None


@dataclass
class Row:
    exercise: str
    entry: str
    variant: str
    passes: list[Passed] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Passed]:
        """The checks it passes that the exercise does not say stand alone."""
        return [p for p in self.passes if p.alone is None]

    def line(self, only_unexplained: bool = False) -> str:
        head = f"{self.exercise}: {self.entry} {VARIANTS[self.variant]}"
        passes = self.unexplained if only_unexplained else self.passes
        if not passes:
            return f"{head}: passes nothing"
        listed = ", ".join(
            f"'{p.check}' ({_points(p)}" + (", stands alone" if p.alone else "") + ")"
            for p in passes
        )
        return f"{head}: passes {listed}"

    def as_data(self) -> dict:
        return {
            "exercise": self.exercise,
            "entry": self.entry,
            "implementation": self.variant,
            "description": VARIANTS[self.variant],
            "passes": [vars(p) for p in self.passes],
        }


def _points(p: Passed) -> str:
    unit = "pt" if p.points == 1 else "pts"
    if p.score >= p.points:
        return f"{p.points:g} {unit}"
    return f"{p.score:g} of {p.points:g} {unit}"


def row(exercise: Exercise, entry: str, variant: str, result: ExerciseResult) -> Row:
    """What one trivial implementation earned: every check it passed with points."""
    alone = {c.name: c.alone for c in exercise.checks}
    passes = [
        Passed(c.name, c.score, c.max_score, alone.get(c.name))
        for c in result.checks
        if c.score > 0 and c.status == "passed"
    ]
    return Row(exercise.id, entry, variant, passes)


def source(exercise: Exercise, entry: EntryPoint, variant: str, reference: str) -> str | None:
    """The file of one trivial implementation (None when it does not apply: "input" of
    an entry point with no argument)."""
    code = _class(entry, variant) if entry.kind == "class" else _function(entry, variant)
    if code is None:
        return None
    if variant in ("zeros", "ones"):
        code = HELPERS.format(source=reference) + "\n\n" + code
    return stub_source(exercise, {entry.name: code})


def _function(entry: EntryPoint, variant: str) -> str | None:
    args = _arguments(entry.signature)
    head = f"def {entry.name}{entry.signature}:\n"
    if variant == "none":
        return head + "    return None\n"
    if variant == "input":
        return head + f"    return {args[0]}\n" if args else None
    fill = 0 if variant == "zeros" else 1
    positional = ", ".join(a for a in args if "=" not in a and not a.startswith("**"))
    keywords = ", ".join(f"{a.split('=')[0]!r}: {a.split('=')[0]}" for a in args if "=" in a)
    extra = next((a[2:] for a in args if a.startswith("**")), None)
    kwargs = "{" + keywords + "}" + (f" | {extra}" if extra else "")
    return (
        head + f"    return _grader_like(_grader_call({entry.name!r}, [{positional}], "
        f"{kwargs}), {fill})\n"
    )


def _class(entry: EntryPoint, variant: str) -> str | None:
    if variant in ("none", "input"):
        result = "None" if variant == "none" else "x"
        return (
            f"class {entry.name}(torch.nn.Module):\n"
            "    def __init__(self, *args, **kwargs):\n"
            "        super().__init__()\n\n"
            "    def forward(self, x, *args, **kwargs):\n"
            f"        return {result}\n"
        )
    fill = 0 if variant == "zeros" else 1
    return (
        f"class {entry.name}(_GRADER_REFERENCE[{entry.name!r}]):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        f"        _grader_like(self, {fill})\n\n"
        "    def forward(self, *args, **kwargs):\n"
        f"        return _grader_like(super().forward(*args, **kwargs), {fill})\n"
    )


def _arguments(signature: str) -> list[str]:
    """How to pass each parameter of ``signature`` on: "x" positionally, "k=k" by
    keyword (keyword-only ones), "*rest" and "**more" unpacked."""
    try:
        fn = ast.parse(f"def _f{signature}: pass").body[0]
    except SyntaxError:
        return []
    assert isinstance(fn, ast.FunctionDef)
    a = fn.args
    found = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg:
        found.append(f"*{a.vararg.arg}")
    found += [f"{p.arg}={p.arg}" for p in a.kwonlyargs]
    if a.kwarg:
        found.append(f"**{a.kwarg.arg}")
    return found
