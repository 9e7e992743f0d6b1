"""Running a class: from a course and submission folders to a ``GradingRun``.

- ``plan``: an exercise's checks as the jobs a sandbox runs (``Plan``).
- ``grader``: ``Grader`` and ``ExerciseGrader``: one submission's jobs through the pool,
  then the judges on what came back (``run_job``).
- ``class_run``: ``grade_course``, a whole class (pool, store, progress, reports).
- ``examples``: ``grader check``, the visible examples against a student's own files.
- ``validation``: ``grader validate``, the reference solutions against the checks;
  ``mistakes``: the course's wrong solutions and the checks each must fail;
  ``trivial``: the wrong answers validate writes itself (return None, the input, zeros).
- ``cells``, ``environment``, ``redefinitions``: what a student reads about failed cells,
  the grading environment and an entry point defined more than once.
- ``budget``: the judges' time limit. ``incidents``: internal errors, logged.
- ``progress``: the terminal's progress line. ``store``: the incremental SQLite store.
  ``fingerprint``: what decides that a stored result is still valid.
- ``adjustments``: overrides and late penalties, applied to a run after grading.

May import every package below it: ``course``, ``submissions``, ``judges``, ``sandbox``
(never ``sandbox.inside``), ``results``, ``terminal``, ``errors``; ``reports`` and
``cluster`` only lazily, at the end of a run or with ``--cluster``. Not ``cli``.
"""
