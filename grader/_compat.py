"""The module paths of torch-grader 0.1, for instructors' helper files written against
them (custom judges and data helpers imported ``grader.checks.base``,
``grader.checks.compare``, ``grader.protocol.values``...): they keep working, with a
FutureWarning that names the new path.

An import of an old path gets the new module itself (one module object, so a judge is
never registered twice); where a name was renamed as well (``compare.describe`` is now
``describe_value``), the module also answers to the old name once an old path asked.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings

MOVED = {  # old package or module -> new (a package's submodules follow it)
    "grader.checks": "grader.judges",
    "grader.protocol": "grader.sandbox.protocol",
    "grader.schema": "grader.course.schema",
    "grader.inputs": "grader.course.inputs",
    "grader.plan": "grader.grading.plan",
}
RENAMED = {  # new module -> {old name: new name}
    "grader.judges.compare": {"describe": "describe_value"},
    "grader.course.schema": {"describe": "type_name"},
}


def new_path(old: str) -> str | None:
    for before, after in MOVED.items():
        if old == before or old.startswith(before + "."):
            return after + old[len(before) :]
    return None


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if new_path(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = new_path(spec.name)
        assert new is not None
        warnings.warn(
            f"{spec.name} is now {new}; the old path will be removed in a later release",
            FutureWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        for old_name, new_name in RENAMED.get(new, {}).items():  # asked for by old code only
            if not hasattr(module, old_name):
                setattr(module, old_name, getattr(module, new_name))
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # the new module ran when it was imported


def install() -> None:
    """First on the import path, so an old path never loads a module a second time."""
    if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
        sys.meta_path.insert(0, OldPaths())
