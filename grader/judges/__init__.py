"""Judges: each decides one kind of check (``judge:`` in an exercise's YAML) from plain
decoded data, in the grader's process. Each module registers one judge in ``JUDGES``;
``base`` holds what they share (``Judge``, ``JudgeContext``, ``Verdict``), ``compare``
the value comparisons several use. A new judge: a module here with a ``@register``
class, imported below.

May import: the standard library, ``grader.sandbox.protocol`` (the values),
``grader.course.schema`` (option checking) and ``grader.course.helpers`` (custom
judges); course types only under ``TYPE_CHECKING``. Never ``grading``, ``cli``,
``reports`` or ``sandbox.inside``. (``predicate`` is the safe expression language of
``expect``'s ``that:``; the loader parses predicates with it too.)
"""

from grader.judges import (  # noqa: F401  (importing registers the judges)
    autograd,
    custom,
    distribution,
    expect,
    forbidden,
    match,
    module,
    state_dict_file,
    training,
)
from grader.judges.base import JUDGES, Judge, JudgeContext, Unjudgeable, Verdict

__all__ = ["JUDGES", "Judge", "JudgeContext", "Unjudgeable", "Verdict"]
