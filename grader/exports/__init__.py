"""Exports for the platforms courses grade on (GitHub Actions and Classroom, JUnit
reporters, Gradescope, Canvas). Like the reports, each is a function of a
``GradingRun``, plus what the platform itself provides (its environment, a roster).

May import: ``grader.results``, ``grader.reports``, ``grader.terminal``,
``grader.errors``, and ``grader.course`` (Gradescope's autograder ships the course).
Not ``grading``, ``sandbox`` or ``cli``.
"""
