"""The value types a custom judge receives, for instructors' helpers
(``exercises/hidden/*.py``): ``from grader.wire import TensorValue``. New helpers import
everything from ``grader.judge_api`` instead, which documents each name.

A re-export only: the boundary's vocabulary lives in ``grader.sandbox.protocol``
(``values`` for these types and their encoding, ``reading`` for how the grader reads
what a sandbox wrote). Code of the grader itself imports from there.
"""

from __future__ import annotations

from grader.sandbox.protocol.values import (
    Lambda,
    MLPSpec,
    ModuleValue,
    OpaqueValue,
    Ref,
    TensorValue,
    WireError,
    WorkPath,
)

__all__ = [
    "Lambda",
    "MLPSpec",
    "ModuleValue",
    "OpaqueValue",
    "Ref",
    "TensorValue",
    "WireError",
    "WorkPath",
]
