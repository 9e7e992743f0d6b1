"""``custom``: a judge written in Python by the instructor, in a file beside the
exercise (``function: hidden/file.py:name``). It receives the JudgeContext and returns
a Verdict, or a (passed, message) pair."""

from __future__ import annotations

from grader.course.schema import Mapping
from grader.judges.base import Judge, JudgeContext, Verdict, register


@register
class Custom(Judge):
    name = "custom"
    options = {"function": "text", "params": "any", "solution": "flag"}

    @classmethod
    def validate_options(cls, m: Mapping) -> None:
        super().validate_options(m)
        m.text("function")

    def judge(self, ctx: JudgeContext) -> Verdict:
        from grader.course.helpers import helper_function

        fn = helper_function(ctx.opt("function"), ctx.exercise.root)
        result = fn(ctx)
        if isinstance(result, Verdict):
            return result
        passed, message = result
        return Verdict(bool(passed), str(message))
