"""A course: the exercises in ``exercises/*.yaml`` and the solutions in ``solutions/``.

Parsing validates every field and reports mistakes as ``file:line: key '...': ...``.

The instructor's helper files (``data: hidden/x.py:fn`` and custom judges'
``function:``) import torch; ``load_course(root, resolve_helpers=False)`` checks only
their shape and that the file exists, and ``Course.resolve_helpers()`` imports them later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from grader.course import deadlines, expectations, inputs, references
from grader.course.helpers import reference_problem
from grader.course.model import (
    STEP_KINDS,
    CheckSpec,
    Course,
    EntryPoint,
    Example,
    Exercise,
    ExerciseLimits,
    HelperRef,
    Step,
    display_path,
)
from grader.course.schema import (
    EXERCISE_ID,
    IDENTIFIER,
    ExerciseError,
    Located,
    Mapping,
    load_yaml,
    type_name,
)


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
    due, late = None, None
    course_file = root / "course.yaml"
    if course_file.exists():
        meta = Mapping(
            load_yaml(course_file, display_path(course_file, root)),
            display_path(course_file, root),
            "the course",
        )
        meta.only({"title", "order", *deadlines.KEYS})
        title = meta.text("title", title)
        due, late = deadlines.read_due(meta), _late(meta, course=True)
        order = meta.items("order", [])
        lines = getattr(order, "item_lines", [])
        for index, item in enumerate(order):
            line = lines[index] if index < len(lines) else meta.line_of("order")
            if not isinstance(item, str):
                raise ExerciseError(
                    meta.path,
                    getattr(item, "line", line),
                    f"key 'order': expected exercise ids, got {type_name(item)}",
                )
            if item not in seen:
                raise ExerciseError(
                    meta.path,
                    line,
                    f"key 'order': '{item}' is not the id of an exercise "
                    f"(ids: {', '.join(sorted(seen))})",
                )
            if item in order[:index]:
                raise ExerciseError(meta.path, line, f"key 'order': '{item}' appears twice")
        rank = {ex_id: i for i, ex_id in enumerate(order)}
        exercises.sort(key=lambda e: (rank.get(e.id, len(rank)), e.id))
    return Course(root, exercises, title, due=due, late=late)


def _order(ex: Exercise) -> str:
    return ex.path.name


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
            *deadlines.KEYS,
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
    for check in checks:
        for need in check.needs:
            if need == check.name:
                raise ExerciseError(
                    shown, check.needs_line, "key 'needs': a check cannot need itself"
                )
            if need not in check_names:
                raise ExerciseError(
                    shown,
                    check.needs_line,
                    f"key 'needs': no check of this exercise is named '{need}'",
                )
    total = sum(c.points for c in checks)
    if declared is not None and abs(declared - total) > 1e-9:
        raise doc.error("points", f"says {declared:g} but the checks' points add up to {total:g}")
    limits = ExerciseLimits()
    if doc.has("limits"):
        lim = doc.child("limits")
        assert lim is not None
        lim.only({"time", "load_time", "memory_mb", "judge_time"})
        limits = ExerciseLimits(
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
        due=deadlines.read_due(doc),
        late=_late(doc, course=False),
    )


def _late(m: Mapping, course: bool) -> deadlines.LatePolicy | None:
    """``late:`` of course.yaml (with the students' grace days) or of an exercise."""
    late = m.child("late", None)
    if late is None:
        return None
    if course:
        late.only({*deadlines.LATE_KEYS})
    else:
        late.only({*deadlines.EXERCISE_LATE_KEYS})
    return deadlines.read_late(late)


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
        raise m.error("kind", f"expected function or class, got {type_name(kind)}")
    signature = m.text("signature", "()")
    if not (signature.startswith("(") and signature.endswith(")")):
        raise m.error(
            "signature", f"expected a parameter list in parentheses, got {type_name(signature)}"
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
    return frozenset(m.choices("disclose", tuple(DISCLOSABLE), join=" and "))


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
    from grader.judges import JUDGES

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
            "needs",
            "alone",
            "visibility",
            "disclose",
            *expectations.KEYS,
        }
    )
    entry = m.text("entry")
    if entry not in entry_names:
        raise m.error(
            "entry",
            f"'{entry}' is not one of this exercise's entry points ({', '.join(entry_names)})",
        )
    judge = expectations.judge_of(m)
    if judge not in JUDGES:
        raise m.error("judge", f"unknown judge '{judge}' (known: {', '.join(sorted(JUDGES))})")
    options = m.child("with", None) or Mapping(_empty_mapping(m.line), doc.path, "'with'", m.line)
    opts: dict[str, Any] = dict(options.data)
    JUDGES[judge].validate_options(options)
    if judge == "custom":
        _helper(str(opts["function"]), folder, options, "function", helpers, resolve_helpers)
    if judge == "training" and str(opts.get("metric", "")).count(":"):
        _helper(str(opts["metric"]), folder, options, "metric", helpers, resolve_helpers)
    if m.has("call") and m.has("steps"):
        raise m.error(
            "steps", "give either 'call' (arguments for the entry point) or 'steps', not both"
        )
    stated = expectations.read(m)
    steps: list[Step] = []
    if stated is not None and stated.rows:
        steps = stated.steps(entry)
    elif m.has("call"):
        args = m.items("call")
        inputs.validate(args, doc.path, m.line_of("call"))
        kwargs = m.child("kwargs", None)
        kw = dict(kwargs.data) if kwargs else {}
        inputs.validate(list(kw.values()), doc.path, m.line_of("kwargs"))
        steps = [
            Step(
                kind="call",
                target=entry,
                args=list(args),
                kwargs=kw,
                bind_as="result",
                line=m.line_of("call"),
            )
        ]
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
    expectations.check_names(stated, keep, str(opts.get("output", "result")), m)
    if stated is not None and resolve_helpers:
        stated.resolve()
    artifacts_m = m.child("artifacts", None)
    artifacts = {str(k): str(v) for k, v in (artifacts_m.data.items() if artifacts_m else [])}
    references.check_steps(m, steps, keep)
    references.check_options(m, options, JUDGES[judge], steps, keep, artifacts)
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
        needs=tuple(str(n) for n in _text_or_list(m, "needs")),
        needs_line=m.line_of("needs") if m.has("needs") else m.line,
        alone=m.text("alone", None),
        visibility=m.text("visibility", visibility, pattern=VISIBILITY, what=VISIBILITY_WHAT),
        disclose=_disclose(m, disclose),
        line=m.line,
        expectation=stated,
        key_lines=dict(getattr(m.data, "key_lines", {})),
        option_lines=dict(getattr(options.data, "key_lines", {})),
    )


def _text_or_list(m: Mapping, key: str) -> list[str]:
    """A key that takes one name or a list of names."""
    if not m.has(key):
        return []
    value = m.raw(key)
    names = [value] if isinstance(value, str) else m.items(key)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise m.error(key, f"expected the name of a check or a list of names, got {name!r}")
    return names


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
    step = Step(kind=kind, args=list(args), kwargs=kwargs, bind_as=bind_as, line=m.line)
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
    problem = reference_problem(ref, folder)
    if problem:
        raise m.error(key, problem)
    helper = HelperRef(ref, folder, m.path, m.line_of(key), key)
    helpers.append(helper)
    if resolve:
        helper.resolve()
