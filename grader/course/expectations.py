"""What a check states directly, as short as an assert, instead of comparing with the
reference solution (the ``expect`` judge, grader/judges/expect.py):

    expect: 4.0                      the kept value (``result``) equals this literal
    that: "result[1] < 0.05"         a predicate over the kept values holds
    cases:                           one call of the entry point per row
      - [2.0, 4.0]                   positional arguments, then the expected value
      - {args: [0.0], expect: 0.0}   or a mapping: args, kwargs, expect, that

A literal is a number, text, true/false, null, a list of literals, ``{tensor: [...],
dtype: ...}`` or ``{dict: {...}}``. Read here, with ``file:line`` for every mistake;
nothing is evaluated (a predicate is parsed by grader/judges/predicate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grader.course import inputs
from grader.course.model import Step
from grader.course.schema import ExerciseError, Mapping, type_name

if TYPE_CHECKING:
    from grader.judges.predicate import Predicate

JUDGE = "expect"
KEYS = ("expect", "that", "cases")
ROW_KEYS = {"args", "kwargs", "expect", "that"}


class _NoValue:
    """No expected value stated (``expect: null`` states None)."""

    def __repr__(self) -> str:
        return "<no value>"

    def __reduce__(self) -> str:
        return "NO_VALUE"  # copies and pickles stay the one sentinel


NO_VALUE: Any = _NoValue()
LITERAL_WHAT = (
    "a number, text, true/false, null, a list, {tensor: [...], dtype: ...} or {dict: {...}}"
)


@dataclass
class Stated:
    """A predicate with the file and line its text is at."""

    predicate: Predicate
    path: str
    line: int


@dataclass
class Row:
    args: list[Any]
    kwargs: dict[str, Any]
    expect: Any = NO_VALUE
    that: Stated | None = None
    line: int = 0
    number: int = 0  # from 1, in the order of the YAML

    @property
    def expects(self) -> bool:
        """Whether it states an expected value."""
        return self.expect is not NO_VALUE

    @property
    def name(self) -> str:
        """The name its value is kept under."""
        return f"case_{self.number}"


@dataclass
class Expectation:
    expect: Any = NO_VALUE  # a literal, as written in the YAML
    that: Stated | None = None
    rows: list[Row] = field(default_factory=list)

    @property
    def expects(self) -> bool:
        return self.expect is not NO_VALUE

    def predicates(self) -> list[Stated]:
        found = [self.that] if self.that else []
        return found + [row.that for row in self.rows if row.that]

    def resolve(self) -> None:
        """Check the torch.nn classes the predicates name (imports torch)."""
        from grader.judges.predicate import PredicateError, resolve_classes

        for stated in self.predicates():
            try:
                resolve_classes(stated.predicate)
            except PredicateError as exc:
                raise ExerciseError(stated.path, stated.line, f"key 'that': {exc}") from None

    def steps(self, entry: str) -> list[Step]:
        """One call of the entry point per row; a row that raises is judged, not fatal."""
        return [
            Step(
                kind="call",
                target=entry,
                args=list(row.args),
                kwargs=dict(row.kwargs),
                bind_as=row.name,
                catch=True,
            )
            for row in self.rows
        ]


def stated(m: Mapping) -> bool:
    return any(m.has(key) for key in KEYS)


def judge_of(m: Mapping) -> str:
    """The check's judge: ``expect`` when it states its expectation directly."""
    if not stated(m):
        return m.text("judge")
    judge = m.text("judge", JUDGE)
    if judge != JUDGE:
        key = next(k for k in KEYS if m.has(k))
        raise m.error(
            key, f"belongs to the '{JUDGE}' judge; leave out 'judge: {judge}' or this key"
        )
    return judge


def read(m: Mapping) -> Expectation | None:
    """The check's ``expect``, ``that`` and ``cases``, checked; None if it has none."""
    if not stated(m):
        if m.raw("judge", None) == JUDGE:
            raise m.error("judge", f"'{JUDGE}' needs 'expect', 'that' or 'cases'")
        return None
    for other in ("call", "steps", "kwargs", "keep"):  # a row gives its own, and is kept
        if m.has("cases") and m.has(other):
            raise m.error("cases", f"give either 'cases' (one call per row) or '{other}', not both")
    found = Expectation()
    if m.has("expect"):
        found.expect = m.raw("expect")
        check_literal(found.expect, m.path, m.line_of("expect"))
    if m.has("that"):
        found.that = _predicate(m.raw("that"), m.path, m.line_of("that"))
    if m.has("cases"):
        rows = m.items("cases")
        if not rows:
            raise m.error("cases", "expected at least one row")
        found.rows = [_row(raw, m, number) for number, raw in enumerate(rows, start=1)]
        for row in found.rows:
            if (
                row.expect is NO_VALUE
                and row.that is None
                and not (found.that or found.expect is not NO_VALUE)
            ):
                raise ExerciseError(
                    m.path,
                    row.line,
                    "key 'cases': this row states nothing to check (give it 'expect' or "
                    "'that', or give the check 'expect' or 'that')",
                )
    return found


def check_names(found: Expectation | None, keep: list[str], output: str, m: Mapping) -> None:
    """Every value a predicate reads is one the check keeps (``result`` for a row)."""
    if found is None:
        return
    kept = ["result"] if found.rows else keep
    for stated_ in found.predicates():
        for name in sorted(stated_.predicate.names):
            if name not in kept:
                raise ExerciseError(
                    stated_.path,
                    stated_.line,
                    f"key 'that': '{name}' is not a value this check keeps "
                    f"(it keeps {', '.join(kept) or 'nothing'})",
                )
    if found.expect is not NO_VALUE and not found.rows and output not in keep:
        raise m.error(
            "expect", f"the check keeps no value '{output}' to compare (it keeps {', '.join(keep)})"
        )


def _predicate(raw: Any, path: str, line: int) -> Stated:
    from grader.judges.predicate import PredicateError, compile_predicate

    if not isinstance(raw, str):
        raise ExerciseError(path, line, f"key 'that': expected text, got {type_name(raw)}")
    try:
        return Stated(compile_predicate(raw), path, line)
    except PredicateError as exc:
        raise ExerciseError(path, line, f"key 'that': {exc}") from None


def _row(raw: Any, m: Mapping, number: int) -> Row:
    line = getattr(raw, "line", m.line_of("cases"))
    if isinstance(raw, list):
        if not raw:
            raise ExerciseError(m.path, line, "key 'cases': a row lists arguments, then the answer")
        args, expect = list(raw[:-1]), raw[-1]
        inputs.validate(args, m.path, line)
        check_literal(expect, m.path, line)
        return Row(args, {}, expect, line=line, number=number)
    row = Mapping(raw, m.path, "a row of 'cases'", line)
    row.only(ROW_KEYS)
    args = row.items("args", [])
    kwargs_m = row.child("kwargs", None)
    kwargs = dict(kwargs_m.data) if kwargs_m else {}
    inputs.validate(args + list(kwargs.values()), m.path, line)
    found = Row(args, kwargs, line=line, number=number)
    if row.has("expect"):
        found.expect = row.raw("expect")
        check_literal(found.expect, m.path, row.line_of("expect"))
    if row.has("that"):
        found.that = _predicate(row.raw("that"), m.path, row.line_of("that"))
    return found


def check_literal(raw: Any, path: str, line: int) -> None:
    """Raise ExerciseError unless ``raw`` is an expected value as LITERAL_WHAT says."""
    line = getattr(raw, "line", line)
    if isinstance(raw, list):
        for item in raw:
            check_literal(item, path, line)
        return
    if isinstance(raw, dict):
        if "tensor" in raw:
            _only(raw, {"tensor", "dtype"}, path, line)
            if "dtype" in raw and raw["dtype"] not in inputs.DTYPE_NAMES:
                raise ExerciseError(
                    path,
                    line,
                    f"key 'dtype': expected one of {', '.join(inputs.DTYPE_NAMES)}, "
                    f"got {type_name(raw['dtype'])}",
                )
            if tensor_shape(raw["tensor"]) is None:
                raise ExerciseError(
                    path,
                    line,
                    "key 'tensor': expected a number or nested lists of numbers, "
                    "every row of the same length",
                )
            return
        if "dict" in raw:
            _only(raw, {"dict"}, path, line)
            if not isinstance(raw["dict"], dict):
                raise ExerciseError(
                    path, line, f"key 'dict': expected a mapping, got {type_name(raw['dict'])}"
                )
            for value in raw["dict"].values():
                check_literal(value, path, line)
            return
        raise ExerciseError(path, line, f"an expected value is {LITERAL_WHAT}; got a mapping")
    if raw is not None and not isinstance(raw, (int, float, str, bool)):
        raise ExerciseError(path, line, f"an expected value is {LITERAL_WHAT}; got {raw!r:.40}")


def _only(raw: dict, allowed: set[str], path: str, line: int) -> None:
    for key in raw:
        if key not in allowed:
            raise ExerciseError(
                path,
                getattr(raw, "key_lines", {}).get(key, line),
                f"key '{key}': unknown in an expected value "
                f"(allowed: {', '.join(sorted(allowed))})",
            )


def tensor_shape(raw: Any) -> list[int] | None:
    """The shape of nested lists of numbers, or None if they are not rectangular."""
    if isinstance(raw, (int, float)):  # bools too: a bool tensor
        return []
    if not isinstance(raw, list):
        return None
    shapes = [tensor_shape(item) for item in raw]
    if any(s is None for s in shapes) or any(s != shapes[0] for s in shapes):
        return None
    return [len(raw), *(shapes[0] if shapes else [])]
