"""``custom``: a judge written in Python by the instructor, in a file beside the
exercise (``function: hidden/file.py:name``). It receives the JudgeContext and returns
a Verdict, or a (passed, message) pair."""

from __future__ import annotations

from grader.course.schema import Mapping
from grader.judges.base import Judge, JudgeContext, Unjudgeable, Verdict, register


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
        try:
            result = fn(ctx)
            if isinstance(result, Verdict):
                return result
            passed, message = result
            return Verdict(bool(passed), str(message))
        except Unjudgeable:
            raise  # the judge's own word that it cannot decide: its message stands
        except Exception as exc:
            raise Unjudgeable(self.failure(ctx, exc)) from None

    @staticmethod
    def failure(ctx: JudgeContext, exc: Exception) -> str:
        """The instructor's judge failed (a bug, or a student's value it did not expect):
        an error for the check, naming the helper's line, not a failure the student
        would take for their own."""
        from grader.course.helpers import failure_text, raised_at

        where = raised_at(exc, ctx.exercise.root, ctx.exercise.root.parent)
        at = f" at {where[0]}:{where[1]}" if where else f" in {ctx.opt('function')}"
        return (
            f"{ctx.entry}: this check could not be judged: the course's judge failed{at} "
            f"({failure_text(exc)}); an error in the course, not in your code"
        )
