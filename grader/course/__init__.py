"""The course as data: what the instructor wrote (``exercises/*.yaml``, ``solutions/``,
``hidden/*.py``), read and checked, and what is made from it for students.

- ``schema``: YAML with line numbers, and the ``Mapping`` reader every field goes through.
- ``model``: the dataclasses (Course, Exercise, CheckSpec, ExerciseLimits, ...).
- ``loading``: ``load_course``: YAML to the model, every mistake as ``file:line``.
- ``helpers``: the instructor's helper files (hidden data, custom judges).
- ``expectations``: what a check states directly (``expect``, ``that``, ``cases``).
- ``inputs``: the input kinds a check may give an entry point (``randn``, ``mlp``, ...).
- ``deadlines``: ``due`` and ``late`` (course.yaml, an exercise), and extensions (a CSV).
- ``overrides``: ``overrides.yaml``, an instructor's changes to automatic scores.
- ``stubs``: the stub a student starts from (shared by ``build`` and the submission reader).
- ``build``: ``grader build``, the student bundle. ``shipping``: the course's files to ship.

May import: the standard library, yaml, ``grader.errors``, ``grader.sandbox.protocol``
(the values inputs become), ``grader.reports.atomic``; torch only lazily (loading a course
never imports it). ``loading`` looks up ``grader.judges`` lazily, inside the function that
checks a check's judge and options: the registry lives with the judges, which import
this package's ``schema`` and ``helpers``.
"""
