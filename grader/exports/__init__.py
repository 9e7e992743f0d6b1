"""Exports for the platforms courses grade on (GitHub Actions and Classroom, JUnit
reporters, Gradescope, Canvas). Like the reports, each is a function of a
``GradingRun``, plus what the platform itself provides (its environment, a roster)."""
