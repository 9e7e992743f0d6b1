"""What every judge shares: its context, its verdict and the registry.

A judge runs in the grader's process. It sees the student's outputs only as plain
decoded data (see grader/sandbox/protocol/values.py) and decides a verdict; nothing a
student controls is called or trusted here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from grader.course.schema import Mapping, type_name

if TYPE_CHECKING:
    from grader.course.model import CheckSpec, Exercise


class Unjudgeable(Exception):
    """A judge cannot decide this check, for a reason its message gives the student
    (say, code too large to analyse): the check is an error, not a failure."""


@dataclass
class Verdict:
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None  # partial credit; None means all or nothing
    figures: list[dict[str, Any]] = field(default_factory=list)  # see grader/reports/figures/
    lines: list[int] = field(default_factory=list)  # lines of the student's code to show


@dataclass(frozen=True)
class Dispatched:
    """What one run of an entry point dispatched, as the sandbox recorded it: the check
    whose call it was, and the names of the library's operators ("aten.relu")."""

    entry: str
    check: str
    ops: frozenset[str]


@dataclass
class JudgeContext:
    exercise: Exercise
    check: CheckSpec
    outputs: dict[str, Any]  # the student's kept values, decoded
    expected: dict[str, Any] | None = None  # the reference solution's kept values
    inputs: dict[str, Any] = field(default_factory=dict)  # values bound by `bind` steps
    data: dict[str, Any] = field(default_factory=dict)  # the check's hidden data
    artifacts: dict[str, Any] = field(default_factory=dict)  # name -> state_dict (or error text)
    read_source: Callable[[], str | None] = field(default=lambda: None, repr=False)
    # A line of ``source`` as the student finds it: "line 11", or "line 2 of cell 5 (...)".
    where: Callable[[int], str] = field(default=lambda line: f"line {line}", repr=False)
    # For a judge that asked for them (``recorded_entries``): the run-time records of the
    # exercise's calls of those entry points; a message per record that was unreadable.
    dispatched: list[Dispatched] = field(default_factory=list)
    unreadable_records: list[str] = field(default_factory=list)

    @property
    def source(self) -> str | None:
        """The student's code, for judges that read it; made when first asked (a
        notebook's cells become one Python text through IPython, slow to import)."""
        return self.read_source()

    def discloses(self, what: str) -> bool:
        """Whether the exercise lets the report show this check's "inputs" or "expected"."""
        return what in self.check.disclose

    def opt(self, key: str, default: Any = None) -> Any:
        return self.check.options.get(key, default)

    @property
    def entry(self) -> str:
        return self.check.entry


class Judge:
    """A kind of check. Subclasses set ``name`` and ``options`` and implement judge()."""

    name: ClassVar[str] = ""
    needs_run: ClassVar[bool] = True  # it judges what student code returned
    needs_solution: ClassVar[bool] = False  # it compares with the reference solution
    # option -> "number" | "text" | "flag" | "list" | "any" | "one of a|b" | "list of a|b"
    options: ClassVar[dict[str, str]] = {}
    # Whether its calls may be recorded at run time when another check asks for it; a
    # training loop's never are (recording costs every operator a Python call).
    recordable: ClassVar[bool] = True
    # Options that name something of the check, with the name used when the option is
    # left out: "kept" (a value the steps keep), "bound" (a value a bind step makes),
    # "artifact", "data" (a key the check's data helper gives). Loading checks them
    # (data keys when the plan is made), so a typo is an error at its line.
    references: ClassVar[dict[str, tuple[tuple[str, ...], str | None]]] = {}

    @classmethod
    def validate_options(cls, m: Mapping) -> None:
        m.only(set(cls.options))
        for key, kind in cls.options.items():
            if not m.has(key):
                continue
            if kind == "number":
                m.number(key, minimum=float("-inf"))
            elif kind == "text":
                m.text(key)
            elif kind == "flag":
                m.flag(key, False)
            elif kind == "list":
                m.items(key)
            elif kind.startswith("list of "):
                m.choices(key, tuple(kind[len("list of ") :].split("|")))
            elif kind.startswith("one of "):
                choices = kind[len("one of ") :].split("|")
                if m.raw(key) not in choices:
                    raise m.error(
                        key, f"expected one of {', '.join(choices)}, got {type_name(m.raw(key))}"
                    )

    def recorded_entries(self, spec: CheckSpec) -> frozenset[str]:
        """The entry points whose calls (by the exercise's other checks) this check wants
        recorded at run time (``ctx.dispatched``); none by default."""
        return frozenset()

    def judge(self, ctx: JudgeContext) -> Verdict:
        raise NotImplementedError


JUDGES: dict[str, Judge] = {}


def register(cls: type[Judge]) -> type[Judge]:
    JUDGES[cls.name] = cls()
    return cls


def output(ctx: JudgeContext, key: str = "output", default: str = "result") -> tuple[str, Any]:
    """The student's value the judge looks at, named by the option ``key``."""
    name = ctx.opt(key, default)
    if name not in ctx.outputs:
        return name, _Missing(name)
    return name, ctx.outputs[name]


class _Missing:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<no value '{self.name}'>"
