"""A course: the exercises in ``exercises/*.yaml`` and the solutions in ``solutions/``.

Parsing validates every field and reports mistakes as ``file:line: key '...': ...``.

The instructor's helper files (``data: hidden/x.py:fn`` and custom judges'
``function:``) import torch; ``load_course(root, resolve_helpers=False)`` checks only
their shape and that the file exists, and ``Course.resolve_helpers()`` imports them later.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import inputs
from grader.schema import (
    EXERCISE_ID,
    IDENTIFIER,
    ExerciseError,
    Located,
    Mapping,
    describe,
    load_yaml,
)

STEP_KINDS = ("call", "method", "bind", "grad", "save_state_dict")


@dataclass
class EntryPoint:
    name: str
    signature: str  # e.g. "(x, weight, bias)"
    doc: str
    kind: str = "function"  # or "class"
    starter: str | None = None  # full starter code replacing the default stub


@dataclass
class Example:
    name: str
    code: str  # a Python expression run against the student's module
    expect: str  # a Python expression for the expected value (evaluated by the grader)
    line: int = 0


@dataclass
class Step:
    kind: str
    target: str = ""  # call: entry point or earlier value; method: name of the method
    on: str = ""  # method: the earlier value it is called on
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    value: Any = None  # bind / save_state_dict
    path: str = ""  # save_state_dict
    wrt: str = ""  # grad
    bind_as: str | None = None


@dataclass
class CheckSpec:
    name: str
    entry: str
    points: float
    judge: str
    options: dict[str, Any]
    steps: list[Step]
    keep: list[str]
    artifacts: dict[str, str]
    hint: str | None = None
    data: str | None = None  # "hidden/file.py:function" giving hidden data
    timeout: float | None = None
    gate: bool = False  # failing it zeroes the entry's other checks
    # Who sees the check's result when: Gradescope's four words, which the other
    # outputs read as "shown" (visible) or "held back" (the rest).
    visibility: str = "visible"
    # What the report may show besides the student's own values: "inputs" (what the
    # check gave the entry point) and "expected" (the right answer). Nothing by default:
    # a hidden check's inputs and answers stay hidden unless the exercise says so.
    disclose: frozenset[str] = frozenset()
    line: int = 0

    @property
    def runs_code(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class HelperRef:
    """A reference to a function in an instructor's helper file, e.g. ``data:
    hidden/prepare_data.py:split_rows``, and where the exercise YAML gives it."""

    ref: str  # "hidden/file.py:function"
    folder: Path  # the exercises folder the file is relative to
    path: str  # the YAML file, as errors show it
    line: int  # the line of the key
    key: str  # "data" or "function"

    def resolve(self) -> Callable[..., Any]:
        """Import the helper file and return the function; an ExerciseError at the key
        if the file cannot be imported or lacks the function."""
        try:
            return _data_function(self.ref, self.folder)
        except ValueError as exc:
            raise ExerciseError(self.path, self.line, f"key '{self.key}': {exc}") from None


@dataclass
class Limits:
    time: float = 10.0  # seconds per check
    load_time: float = 30.0  # seconds to import the student's file
    memory_mb: int = 3072
    judge_time: float = 15.0  # seconds for the grader to judge one check (grader/budget.py)


@dataclass
class Exercise:
    id: str
    title: str
    file: str
    prompt: str
    setup: str
    entry_points: list[EntryPoint]
    examples: list[Example]
    checks: list[CheckSpec]
    limits: Limits
    path: Path
    root: Path  # the exercises folder, for hidden helpers
    lines: dict[str, int] = field(default_factory=dict)  # line of each top-level key
    helpers: list[HelperRef] = field(default_factory=list)  # helper functions the checks name

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def entry_names(self) -> list[str]:
        return [e.name for e in self.entry_points]


class Course:
    def __init__(self, root: Path, exercises: list[Exercise], title: str) -> None:
        self.root = root
        self.exercises = exercises
        self.title = title

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise KeyError(exercise_id)

    def resolve_helpers(self) -> None:
        """Import every helper file the checks name (these import torch); raise the
        ExerciseError load_course raises by default for a broken one."""
        for ex in self.exercises:
            for helper in ex.helpers:
                helper.resolve()


def load_course(root: Path, resolve_helpers: bool = True) -> Course:
    """Load and check the course. With ``resolve_helpers=False`` the helper files are
    not imported (nor torch with them) until ``Course.resolve_helpers()``."""
    folder = root / "exercises"
    if not folder.is_dir():
        raise ExerciseError(
            str(folder), 0, "no exercises folder here (use --course DIR to point at a course)"
        )
    exercises = []
    seen: dict[str, str] = {}
    files: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
        ex = load_exercise(path, root, resolve_helpers)
        shown = display_path(path, root)
        if ex.id in seen:
            raise ExerciseError(
                shown, ex.lines.get("id", 1), f"key 'id': '{ex.id}' is also the id of {seen[ex.id]}"
            )
        if ex.file in files:
            raise ExerciseError(
                shown,
                ex.lines.get("file", 1),
                f"key 'file': '{ex.file}' is also the file of {files[ex.file]}",
            )
        seen[ex.id] = shown
        files[ex.file] = shown
        exercises.append(ex)
    if not exercises:
        raise ExerciseError(str(folder), 0, "no exercise files (*.yaml) found")
    exercises.sort(key=lambda e: (_order(e), e.id))
    title = root.resolve().name
    course_file = root / "course.yaml"
    if course_file.exists():
        meta = Mapping(
            load_yaml(course_file, display_path(course_file, root)),
            display_path(course_file, root),
            "the course",
        )
        meta.only({"title", "order"})
        title = meta.text("title", title)
        order = meta.items("order", [])
        for item in order:
            if not isinstance(item, str):
                raise ExerciseError(
                    meta.path,
                    getattr(item, "line", meta.line_of("order")),
                    f"key 'order': expected exercise ids, got {describe(item)}",
                )
        rank = {ex_id: i for i, ex_id in enumerate(order)}
        exercises.sort(key=lambda e: (rank.get(e.id, len(rank)), e.id))
    return Course(root, exercises, title)


def _order(ex: Exercise) -> str:
    return ex.path.name


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def load_exercise(path: Path, root: Path, resolve_helpers: bool = True) -> Exercise:
    shown = display_path(path, root)
    doc = Mapping(load_yaml(path, shown), shown, "the exercise")
    doc.only(
        {
            "id",
            "title",
            "file",
            "prompt",
            "points",
            "setup",
            "entry_points",
            "examples",
            "checks",
            "limits",
            "visibility",
            "disclose",
        }
    )
    ex_id = doc.text(
        "id", pattern=EXERCISE_ID, what="an id of lower-case letters, digits and dashes"
    )
    file = doc.text("file", pattern=IDENTIFIER, what="a Python module name")
    declared = doc.number("points") if doc.has("points") else None
    entries = [_entry_point(item, doc) for item in _non_empty(doc, "entry_points")]
    names = [e.name for e in entries]
    for i, item in enumerate(doc.items("entry_points")):
        if names[i] in names[:i]:
            raise ExerciseError(
                shown,
                Mapping(item, shown, "").line_of("name"),
                f"key 'name': two entry points are named '{names[i]}'",
            )
    examples = [_example(item, doc) for item in doc.items("examples", [])]
    helpers: list[HelperRef] = []
    visibility = doc.text("visibility", "visible", pattern=VISIBILITY, what=VISIBILITY_WHAT)
    disclose = _disclose(doc, frozenset())
    checks = [
        _check(item, doc, names, path.parent, helpers, resolve_helpers, visibility, disclose)
        for item in _non_empty(doc, "checks")
    ]
    check_names = set()
    for check in checks:
        if check.name in check_names:
            raise ExerciseError(
                shown, check.line, f"key 'name': two checks are named '{check.name}'"
            )
        check_names.add(check.name)
    total = sum(c.points for c in checks)
    if declared is not None and abs(declared - total) > 1e-9:
        raise doc.error("points", f"says {declared:g} but the checks' points add up to {total:g}")
    limits = Limits()
    if doc.has("limits"):
        lim = doc.child("limits")
        assert lim is not None
        lim.only({"time", "load_time", "memory_mb", "judge_time"})
        limits = Limits(
            time=lim.number("time", limits.time, minimum=0.1),
            load_time=lim.number("load_time", limits.load_time, minimum=1),
            memory_mb=int(lim.number("memory_mb", limits.memory_mb, minimum=256)),
            judge_time=lim.number("judge_time", limits.judge_time, minimum=0.1),
        )
    return Exercise(
        id=ex_id,
        title=doc.text("title"),
        file=file,
        prompt=doc.text("prompt"),
        setup=doc.text("setup", "import torch\n"),
        entry_points=entries,
        examples=examples,
        checks=checks,
        limits=limits,
        path=path,
        root=path.parent,
        lines=dict(getattr(doc.data, "key_lines", {})),
        helpers=helpers,
    )


def _non_empty(doc: Mapping, key: str) -> list[Any]:
    items = doc.items(key)
    if not items:
        raise doc.error(key, "expected at least one item")
    return items


def _entry_point(raw: Any, doc: Mapping) -> EntryPoint:
    m = Mapping(raw, doc.path, "an entry point", doc.line_of("entry_points"))
    m.only({"name", "signature", "doc", "kind", "starter"})
    kind = m.text("kind", "function")
    if kind not in ("function", "class"):
        raise m.error("kind", f"expected function or class, got {describe(kind)}")
    signature = m.text("signature", "()")
    if not (signature.startswith("(") and signature.endswith(")")):
        raise m.error(
            "signature", f"expected a parameter list in parentheses, got {describe(signature)}"
        )
    return EntryPoint(
        name=m.text("name", pattern=IDENTIFIER, what="a Python name"),
        signature=signature,
        doc=m.text("doc"),
        kind=kind,
        starter=m.text("starter", None),
    )


def _example(raw: Any, doc: Mapping) -> Example:
    m = Mapping(raw, doc.path, "an example", doc.line_of("examples"))
    m.only({"name", "code", "expect"})
    for key in ("code", "expect"):
        try:
            compile(m.text(key), "<example>", "eval")
        except SyntaxError as exc:
            raise m.error(key, f"not a Python expression ({exc.msg})") from None
    return Example(name=m.text("name"), code=m.text("code"), expect=m.text("expect"), line=m.line)


VISIBILITY = re.compile(r"^(visible|hidden|after_due_date|after_published)$")
VISIBILITY_WHAT = "one of visible, hidden, after_due_date, after_published"
DISCLOSABLE = ("inputs", "expected")


def _disclose(m: Mapping, default: frozenset[str]) -> frozenset[str]:
    """``disclose: [inputs, expected]``: what a check's report may show besides the
    student's own values (``[]`` takes back an exercise-wide setting)."""
    if not m.has("disclose"):
        return default
    items = m.items("disclose")
    for item in items:
        if item not in DISCLOSABLE:
            raise m.error(
                "disclose", f"expected a list of {' and '.join(DISCLOSABLE)}, got {describe(item)}"
            )
    return frozenset(items)


def _check(
    raw: Any,
    doc: Mapping,
    entry_names: list[str],
    folder: Path,
    helpers: list[HelperRef],
    resolve_helpers: bool = True,
    visibility: str = "visible",
    disclose: frozenset[str] = frozenset(),
) -> CheckSpec:
    from grader.checks import JUDGES

    m = Mapping(raw, doc.path, "a check", doc.line_of("checks"))
    m.only(
        {
            "name",
            "entry",
            "points",
            "hint",
            "judge",
            "with",
            "call",
            "kwargs",
            "steps",
            "keep",
            "artifacts",
            "data",
            "timeout",
            "gate",
            "visibility",
            "disclose",
        }
    )
    entry = m.text("entry")
    if entry not in entry_names:
        raise m.error(
            "entry",
            f"'{entry}' is not one of this exercise's entry points ({', '.join(entry_names)})",
        )
    judge = m.text("judge")
    if judge not in JUDGES:
        raise m.error("judge", f"unknown judge '{judge}' (known: {', '.join(sorted(JUDGES))})")
    options = m.child("with", None) or Mapping(_empty_mapping(m.line), doc.path, "'with'", m.line)
    opts: dict[str, Any] = dict(options.data)
    JUDGES[judge].validate_options(options)
    if judge == "custom":
        _helper(str(opts["function"]), folder, options, "function", helpers, resolve_helpers)
    if m.has("call") and m.has("steps"):
        raise m.error(
            "steps", "give either 'call' (arguments for the entry point) or 'steps', not both"
        )
    steps: list[Step] = []
    if m.has("call"):
        args = m.items("call")
        inputs.validate(args, doc.path, m.line_of("call"))
        kwargs = m.child("kwargs", None)
        kw = dict(kwargs.data) if kwargs else {}
        inputs.validate(list(kw.values()), doc.path, m.line_of("kwargs"))
        steps = [Step(kind="call", target=entry, args=list(args), kwargs=kw, bind_as="result")]
    elif m.has("steps"):
        steps = [_step(item, m) for item in _non_empty(m, "steps")]
    if not steps and JUDGES[judge].needs_run:
        raise ExerciseError(
            doc.path,
            m.line,
            f"check '{m.raw('name', '?')}': judge '{judge}' needs 'call' or 'steps'",
        )
    names = [s.bind_as for s in steps if s.bind_as]
    keep = [str(k) for k in m.items("keep", names)]
    artifacts_m = m.child("artifacts", None)
    artifacts = {str(k): str(v) for k, v in (artifacts_m.data.items() if artifacts_m else [])}
    data = m.text("data", None)
    if data is not None:
        _helper(data, folder, m, "data", helpers, resolve_helpers)
    timeout = m.number("timeout", None, minimum=0.1)
    return CheckSpec(
        name=m.text("name"),
        entry=entry,
        points=m.number("points"),
        judge=judge,
        options=opts,
        steps=steps,
        keep=keep,
        artifacts=artifacts,
        hint=m.text("hint", None),
        data=data,
        timeout=timeout,
        gate=m.flag("gate", False),
        visibility=m.text("visibility", visibility, pattern=VISIBILITY, what=VISIBILITY_WHAT),
        disclose=_disclose(m, disclose),
        line=m.line,
    )


def _empty_mapping(line: int) -> Located:
    empty = Located()
    empty.line, empty.key_lines = line, {}
    return empty


def _step(raw: Any, parent: Mapping) -> Step:
    m = Mapping(raw, parent.path, "a step", parent.line_of("steps"))
    kinds = [k for k in STEP_KINDS if m.has(k)]
    if len(kinds) != 1:
        raise ExerciseError(
            parent.path, m.line, f"a step needs exactly one of {', '.join(STEP_KINDS)}"
        )
    kind = kinds[0]
    m.only({kind, "args", "kwargs", "as", "on", "wrt", "path"})
    args = m.items("args", [])
    kwargs_m = m.child("kwargs", None)
    kwargs = dict(kwargs_m.data) if kwargs_m else {}
    inputs.validate(args + list(kwargs.values()), parent.path, m.line)
    bind_as = m.text("as", None, pattern=IDENTIFIER, what="a name")
    step = Step(kind=kind, args=list(args), kwargs=kwargs, bind_as=bind_as)
    if kind == "call":
        step.target = m.text("call", pattern=IDENTIFIER, what="a Python name")
    elif kind == "method":
        step.target = m.text("method", pattern=IDENTIFIER, what="a method name")
        step.on = m.text("on", pattern=IDENTIFIER, what="a name bound by an earlier step")
    elif kind == "bind":
        step.value = m.raw("bind")
        inputs.validate(step.value, parent.path, m.line)
        if bind_as is None:
            raise m.error("bind", "a bind step needs 'as'")
    elif kind == "grad":
        step.target = m.text("grad", pattern=IDENTIFIER, what="a name bound by an earlier step")
        step.wrt = m.text("wrt", pattern=IDENTIFIER, what="a name bound by an earlier step")
    else:
        step.value = m.raw("save_state_dict")
        inputs.validate(step.value, parent.path, m.line)
        step.path = m.text("path")
    return step


def _helper(
    ref: str, folder: Path, m: Mapping, key: str, helpers: list[HelperRef], resolve: bool
) -> None:
    """Check a helper reference given at ``key`` of ``m`` and record it; with ``resolve``,
    import it now too, so that a typo is reported at load."""
    problem = _reference_problem(ref, folder)
    if problem:
        raise m.error(key, problem)
    helper = HelperRef(ref, folder, m.path, m.line_of(key), key)
    helpers.append(helper)
    if resolve:
        helper.resolve()


def _reference_problem(ref: str, folder: Path) -> str | None:
    """What is wrong with ``hidden/file.py:function`` that shows without importing it."""
    file, _, name = ref.partition(":")
    if not name or not file.endswith(".py"):
        return f"expected 'path/to/file.py:function', got {describe(ref)}"
    if not (folder / file).resolve().is_file():
        return f"no file {file} beside the exercise"
    return None


def _data_function(ref: str, folder: Path) -> Callable[..., Any]:
    """Resolve ``hidden/file.py:function`` relative to the exercises folder; a ValueError
    says what is wrong."""
    problem = _reference_problem(ref, folder)
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
    return _data_function(check.data, ex.root) if check.data else None
