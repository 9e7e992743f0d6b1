"""The kinds of check an exercise can use. Each module registers one judge."""

from grader.checks import (  # noqa: F401  (importing registers the judges)
    autograd,
    custom,
    distribution,
    forbidden,
    match,
    module,
    state_dict_file,
    training,
)
from grader.checks.base import JUDGES, Judge, JudgeContext, Unjudgeable, Verdict

__all__ = ["JUDGES", "Judge", "JudgeContext", "Unjudgeable", "Verdict"]
