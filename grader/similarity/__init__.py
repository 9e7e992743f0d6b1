"""How alike students' code is, per exercise: a signal for a person to read, never a score.

- ``texts``: the code to compare (a ``.py`` file, a notebook's code cells), read with the
  submission readers, and the course's own text (stubs, starters, examples) to leave out.
- ``detect``: the comparison, by copydetect (winnowed fingerprints of the code's tokens,
  names replaced, so renamed variables and reordered functions still match).
- ``report``: the ranked pairs as a self-contained HTML page and as JSON.

May import: the standard library, numpy, copydetect, jinja2, ``grader.course``,
``grader.submissions``, ``grader.reports`` (atomic writes), ``grader.terminal`` and
``grader.errors``. Never runs student code.
"""
