"""Fingerprints that decide what an incremental re-run must grade again.

A stored result is reused only while every input that produced it is unchanged: the
grader itself (code, templates, torch and Python versions), the run's seed and sandbox,
the exercise (YAML, reference solution, hidden helpers it names) and the student's
submission as the sandbox would receive it. All fingerprints are hex sha256 strings.

This module must stay free of torch (directly or through imports): it runs before any
grading to decide whether grading is needed at all.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import grader

if TYPE_CHECKING:
    from grader.course.model import Course, Exercise
    from grader.submissions.folders import Submission

Part = str | bytes | int | None

# A helper reference in an exercise's YAML, e.g. ``hidden/prepare_data.py:split_rows``.
HELPER_REF = re.compile(r"([\w./-]+\.py)(?::\w+)?")


def digest(parts: Iterable[Part]) -> str:
    """sha256 of ``parts``, each tagged with its type and length-prefixed, so that no two
    different sequences (``["ab", "c"]`` vs ``["a", "bc"]``, ``None`` vs ``""``) collide."""
    h = hashlib.sha256()
    for part in parts:
        if part is None:
            tag, data = b"n", b""
        elif isinstance(part, bytes):
            tag, data = b"b", part
        elif isinstance(part, bool):  # before int: bool is an int subclass
            tag, data = b"t", str(part).encode()
        elif isinstance(part, int):
            tag, data = b"i", str(part).encode()
        else:
            # surrogatepass: student text may hold lone surrogates; hashing must not fail
            tag, data = b"s", part.encode("utf-8", "surrogatepass")
        h.update(tag)
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def torch_version() -> str:
    """The installed torch version, read from package metadata: importing torch takes
    seconds and this module must not do it."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _grader_files(package: Path) -> list[Path]:
    files = set(package.rglob("*.py"))
    templates = package / "templates"
    if templates.is_dir():
        files.update(p for p in templates.rglob("*") if p.is_file())
    files = {p for p in files if "__pycache__" not in p.relative_to(package).parts}
    return sorted(files, key=lambda p: p.relative_to(package).as_posix())


@functools.lru_cache(maxsize=1)
def grader_fingerprint() -> str:
    """Everything about the grader that can change a grade: its version, its code and
    templates, and the torch and Python it runs on. Cached: the files do not change
    during a run (and if they did, the run's results would be mixed anyway)."""
    package = Path(grader.__file__).resolve().parent
    parts: list[Part] = [
        "grader",
        grader.__version__,
        "torch",
        torch_version(),
        "python",
        sys.version,
    ]
    for path in _grader_files(package):
        parts += [path.relative_to(package).as_posix(), path.read_bytes()]
    return digest(parts)


def run_key(seed: int, sandbox_kind: str) -> str:
    """What every result of a run depends on: the grader, the seed of the hidden inputs
    and the sandbox (limits and behaviour differ between sandboxes)."""
    return digest(["run", grader_fingerprint(), "seed", seed, "sandbox", sandbox_kind])


def helper_files(ex: Exercise) -> list[Path]:
    """Instructor helper files (hidden data, custom judges) named in the exercise's YAML,
    limited to files inside the exercises folder, sorted by relative path."""
    root = ex.root.resolve()
    text = ex.path.read_text(encoding="utf-8", errors="replace")
    found: dict[str, Path] = {}
    for ref in HELPER_REF.findall(text):
        target = (ex.root / ref).resolve()
        if not target.is_file():
            continue
        try:
            rel = target.relative_to(root).as_posix()
        except ValueError:  # outside the exercises folder: not a helper
            continue
        found[rel] = target
    return [found[rel] for rel in sorted(found)]


def exercise_fingerprint(ex: Exercise, course: Course, key: str) -> str:
    """What one exercise's results depend on beyond the run key: the YAML, the reference
    solution (expected values come from it) and the hidden helpers the YAML names."""
    parts: list[Part] = ["exercise", key, "yaml", _graded_yaml(ex)]
    for ext in (".py", ".ipynb"):
        solution = course.solutions / f"{ex.file}{ext}"
        if solution.is_file():
            parts += ["solution", solution.name, solution.read_bytes()]
    root = ex.root.resolve()
    for helper in helper_files(ex):
        parts += ["helper", helper.relative_to(root).as_posix(), helper.read_bytes()]
    return digest(parts)


def _graded_yaml(ex: Exercise) -> bytes:
    """The exercise file's bytes, without its ``due`` and ``late`` lines: a deadline
    changes what is applied after grading (grading/adjustments.py), not the grading."""
    from grader.course.deadlines import KEYS, schedule_lines

    data = ex.path.read_bytes()
    if not any(k in ex.lines for k in KEYS):
        return data
    lines = data.splitlines(keepends=True)
    skip = schedule_lines(ex.lines, len(lines))
    return b"".join(line for i, line in enumerate(lines, 1) if i not in skip)


def submission_fingerprint(sub: Submission) -> str:
    """What the student handed in, exactly as the sandbox receives it plus what the
    grader tells the student about it (problems, notes). The folder's path and the
    student's name are left out: renaming or moving a folder grades nothing again."""
    parts: list[Part] = ["submission"]
    for exercise_id in sorted(sub.files):
        f = sub.files[exercise_id]
        parts += [
            "file",
            exercise_id,
            f.kind,
            f.problem,
            len(f.notes),
            *f.notes,
            "staged",
            f.path is not None,
        ]
        if f.kind == "ipynb":
            # The cells' grader tags count too: messages name cells by them.
            cells = (
                None
                if f.notebook is None
                else [(c.number, c.source, c.tags) for c in f.notebook.cells]
            )
            parts.append(json.dumps(cells, sort_keys=True, default=str))
        else:
            parts.append(f.source)
    return digest(parts)
