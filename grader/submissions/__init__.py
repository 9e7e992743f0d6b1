"""Reading students' work: hostile files turned into plain data the grader can stage.

- ``folders``: a class folder's student folders, each student's files (``collect``),
  and staging them into a job (``stage``).
- ``notebooks``: a submitted ``.ipynb`` read into code cells, with its problems.
- ``excerpts``: the lines of a student's code a report quotes.
- ``definitions``: where a submission's code (a file, a notebook cell) defines a name.
- ``times``: when each student handed in (a CSV, git, or file modification times).

May import: the standard library, ``grader.errors``, ``grader.results``, ``grader.course``
and ``grader.sandbox.protocol``. Never runs student code.
"""
