"""The instructor's helper files (``hidden/*.py``): hidden data for checks (``data:``) and
custom judges (``function:``). Imported once each, in the grader's process; they are
the instructor's code, trusted, and import torch."""

from __future__ import annotations

import importlib.util
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.course.schema import type_name

if TYPE_CHECKING:
    from grader.course.model import CheckSpec, Exercise


def reference_problem(ref: str, folder: Path) -> str | None:
    """What is wrong with ``hidden/file.py:function`` that shows without importing it."""
    file, _, name = ref.partition(":")
    if not name or not file.endswith(".py"):
        return f"expected 'path/to/file.py:function', got {type_name(ref)}"
    if not (folder / file).resolve().is_file():
        return f"no file {file} beside the exercise"
    return None


def helper_function(ref: str, folder: Path) -> Callable[..., Any]:
    """Resolve ``hidden/file.py:function`` relative to the exercises folder; a ValueError
    says what is wrong."""
    problem = reference_problem(ref, folder)
    if problem:
        raise ValueError(problem)
    file, _, name = ref.partition(":")
    try:
        module = load_helper_module((folder / file).resolve())
    except Exception as exc:  # the instructor's helper file is broken
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
        raise ValueError(
            f"{file} could not be imported{where}: {type(exc).__name__}: {exc}"
        ) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"{file} defines no function '{name}'")
    return fn


_helpers: dict[Path, Any] = {}


def load_helper_module(path: Path) -> Any:
    """Import an instructor's helper file (hidden data, custom judges) once."""
    path = path.resolve()
    if path not in _helpers:
        spec = importlib.util.spec_from_file_location(
            f"grader_hidden_{len(_helpers)}_{path.stem}", path
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _helpers[path] = module
    return _helpers[path]


def data_function(ex: Exercise, check: CheckSpec) -> Callable[[int], dict[str, Any]] | None:
    return helper_function(check.data, ex.root) if check.data else None


def raised_at(exc: BaseException, folder: Path, shown_from: Path) -> tuple[str, int] | None:
    """(file, line) of the deepest frame of ``exc``'s traceback that runs a file under
    ``folder`` (the exercises folder, which holds the helper files; not the course root,
    which may hold the grader itself), the file shown relative to ``shown_from``; None
    when no frame does."""
    folder, shown_from = folder.resolve(), shown_from.resolve()
    found = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        path = Path(frame.f_code.co_filename).resolve()
        if path.is_relative_to(folder):
            shown = path.relative_to(shown_from) if path.is_relative_to(shown_from) else path
            found = (shown.as_posix(), line)
    return found


def failure_text(exc: BaseException) -> str:
    """``KeyError: 'x'`` in one line, cut to a length a report shows."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
