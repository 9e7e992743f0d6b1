"""The course as data: exercises, their entry points, examples, checks and limits, and
the course that holds them. ``grader.course.loading`` builds these from the YAML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.course.helpers import helper_function
from grader.course.schema import ExerciseError

if TYPE_CHECKING:
    from datetime import datetime

    from grader.course.deadlines import LatePolicy
    from grader.course.expectations import Expectation

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
    catch: bool = False  # a row of a table: an exception becomes the row's value
    line: int = 0  # where the step is written, for errors


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
    # Checks of the same exercise this one counts only together with: a shape-only or
    # mode-only check that a trivial implementation would pass scores only when the
    # values are right too. ``needs_line`` locates the key for errors.
    needs: tuple[str, ...] = ()
    needs_line: int = 0
    # Why a check that a trivial implementation passes stands on its own (for instance,
    # an uninitialised tensor's values are unspecified, so shape and dtype are all there
    # is to check). ``grader validate`` does not list a check that says why.
    alone: str | None = None
    # Who sees the check's result when: Gradescope's four words, which the other
    # outputs read as "shown" (visible) or "held back" (the rest).
    visibility: str = "visible"
    # What the report may show besides the student's own values: "inputs" (what the
    # check gave the entry point) and "expected" (the right answer). Nothing by default:
    # a hidden check's inputs and answers stay hidden unless the exercise says so.
    disclose: frozenset[str] = frozenset()
    line: int = 0
    # What the check states directly (``expect``, ``that``, ``cases``; the ``expect`` judge)
    expectation: Expectation | None = None
    # The lines of the check's keys and of its `with:` options, for errors found after
    # loading (a data key the helper does not give is known only when the plan is made).
    key_lines: dict[str, int] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)

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
            return helper_function(self.ref, self.folder)
        except ValueError as exc:
            raise ExerciseError(self.path, self.line, f"key '{self.key}': {exc}") from None


@dataclass
class ExerciseLimits:
    time: float = 10.0  # seconds per check
    load_time: float = 30.0  # seconds to import the student's file
    memory_mb: int = 3072
    judge_time: float = 15.0  # seconds for the grader to judge one check (grader/grading/budget.py)


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
    limits: ExerciseLimits
    path: Path
    root: Path  # the exercises folder, for hidden helpers
    lines: dict[str, int] = field(default_factory=dict)  # line of each top-level key
    helpers: list[HelperRef] = field(default_factory=list)  # helper functions the checks name
    # Its own deadline and late policy, over the course's (course/deadlines.py).
    due: datetime | None = None
    late: LatePolicy | None = None

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def entry_names(self) -> list[str]:
        return [e.name for e in self.entry_points]


class Course:
    def __init__(
        self,
        root: Path,
        exercises: list[Exercise],
        title: str,
        due: datetime | None = None,
        late: LatePolicy | None = None,
    ) -> None:
        self.root = root
        self.exercises = exercises
        self.title = title
        self.due = due  # course.yaml's deadline, for exercises without their own
        self.late = late  # course.yaml's late policy (and the students' grace days)

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
            for check in ex.checks:
                if check.expectation is not None:
                    check.expectation.resolve()  # the torch.nn classes its predicates name


def display_path(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
