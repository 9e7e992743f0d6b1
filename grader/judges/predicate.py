"""Predicates over a check's decoded values (``that: "result[1] < 0.05"``): a tiny,
safe expression language, parsed with ``ast`` and evaluated by walking the tree in
the grader's process. Nothing is ever passed to ``eval``; the student's values are
plain decoded data (see grader/sandbox/protocol/values.py).

The language, as an instructor writes it:

- the check's kept values by name (``result``, or the ``as:`` names of its steps);
  numbers, text, ``True``/``False``/``None``, lists and tuples written out;
- comparisons (``< <= > >= == != in not in``, ``is None``/``is not None``, chained),
  ``and``/``or``/``not``, arithmetic (``+ - * / // % **``), subscripts and slices;
- the attributes ``.shape .dtype .ndim .requires_grad`` (tensors) and ``.training``
  (modules);
- the calls ``len abs isinstance all any min max round sum``;
- for ``isinstance`` and comparisons: ``int float bool str list tuple dict``,
  ``torch.Tensor``, ``torch.Size``, the dtypes (``torch.float32``, ...), and the module
  classes ``nn.X`` / ``torch.nn.X`` (a student's subclass counts: modules cross the
  boundary with the names of their classes' MRO).

A comparison of a tensor is elementwise (``any(result < 0)``); as a verdict, or in
``and``/``or``/``not`` and chains (``0 <= result < 1``), it holds when it holds for
every element. Lists and tuples
compare equal when their items do. A mistake in the text is the instructor's
(``PredicateError``, found when the course loads); a student's value the predicate
cannot be evaluated on (a wrong type, a shape that does not broadcast) is
``NotEvaluable``, which the judge turns into a failed check.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.sandbox.protocol.values import ModuleValue, OpaqueValue, TensorValue

MAX_LENGTH = 1000  # characters of a predicate
MAX_DEPTH = 40  # nesting of its syntax tree: the walk below recurses
MAX_INT_BITS = 10_000  # an integer result larger than this is refused, not computed
MAX_ELEMENTS = 10_000_000  # a larger tensor is not computed on in the grader's process

FUNCTIONS = ("len", "abs", "isinstance", "all", "any", "min", "max", "round", "sum")
ATTRIBUTES = ("shape", "dtype", "ndim", "requires_grad", "training")
BUILTIN_CLASSES: dict[str, type] = {
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "list": list,
    "tuple": tuple,
    "dict": dict,
}
DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
)
NAMESPACES = ("torch", "nn")
RESERVED = set(FUNCTIONS) | set(BUILTIN_CLASSES) | set(NAMESPACES)

_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_BINARY: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
}


class PredicateError(Exception):
    """A predicate the grader refuses: the instructor's mistake, said in plain words."""


class NotEvaluable(Exception):
    """The predicate cannot be evaluated on the student's values (the message says why)."""


@dataclass(frozen=True)
class ClassRef:
    """A class a predicate names: a builtin, ``torch.Tensor``/``torch.Size``, or a class
    of ``torch.nn`` by its name there (resolved against torch when first needed)."""

    spelled: str  # as written: "nn.Linear"
    builtin: str = ""  # "int", ...
    torch: str = ""  # "Tensor" or "Size"
    nn: str = ""  # "Linear"


@dataclass(frozen=True)
class DtypeRef:
    name: str  # "float32"


@dataclass(frozen=True)
class Predicate:
    text: str
    tree: ast.Expression
    names: frozenset[str]  # the kept values it reads
    nn_classes: frozenset[str]  # the torch.nn classes it names ("Linear")


# ------------------------------------------------------------------ checking the text
def compile_predicate(text: str) -> Predicate:
    """Parse and check a predicate; PredicateError says what is wrong, and where."""
    if not isinstance(text, str) or not text.strip():
        raise PredicateError("expected a predicate, e.g. 'result < 0.05'")
    if len(text) > MAX_LENGTH:
        raise PredicateError(f"a predicate is at most {MAX_LENGTH} characters long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise PredicateError(f"not a Python expression ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise PredicateError("not a Python expression the grader can read") from None
    _check_depth(tree)
    names: set[str] = set()
    classes: set[str] = set()
    _Checker(names, classes).visit(tree.body)
    _compute_constants(tree.body)
    return Predicate(text.strip(), tree, frozenset(names), frozenset(classes))


def _compute_constants(node: ast.AST) -> None:
    """Compute the parts that read no value now, so that their mistakes (``1 / 0``,
    ``10 ** 10 ** 10``) are the instructor's, found when the course loads."""
    if not isinstance(node, ast.expr):
        return  # an operator or a context
    if not any(isinstance(n, ast.Name) for n in ast.walk(node)):
        try:
            _Evaluator({}).eval(node)
        except NotEvaluable as exc:
            raise PredicateError(f"{ast.unparse(node)[:60]} cannot be computed: {exc}") from None
        return
    for child in ast.iter_child_nodes(node):
        _compute_constants(child)


def _check_depth(tree: ast.AST) -> None:
    """Refuse deep nesting before anything walks the tree recursively."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PredicateError(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Checker:
    """Walks a parsed predicate and refuses anything outside the language."""

    def __init__(self, names: set[str], classes: set[str]) -> None:
        self.names = names
        self.classes = classes

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if not (node.value is None or isinstance(node.value, (bool, int, float, str))):
                raise PredicateError(f"the constant {node.value!r:.40} is not allowed")
        elif isinstance(node, ast.Name):
            self._name(node.id)
        elif isinstance(node, (ast.List, ast.Tuple)):
            for item in node.elts:
                if isinstance(item, ast.Starred):
                    raise PredicateError("'*' unpacking is not allowed")
                self.visit(item)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.visit(value)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
                raise PredicateError("the operator '~' is not allowed")
            self.visit(node.operand)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise PredicateError(
                    f"the operator {_op_text(node.op)} is not allowed (allowed: + - * / // % **)"
                )
            self.visit(node.left)
            self.visit(node.right)
        elif isinstance(node, ast.Compare):
            self._compare(node)
        elif isinstance(node, ast.Call):
            self._call(node)
        elif isinstance(node, ast.Attribute):
            self._attribute(node)
        elif isinstance(node, ast.Subscript):
            self.visit(node.value)
            self.visit(node.slice)
        elif isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self.visit(part)
        else:
            raise PredicateError(f"{_node_text(node)} is not allowed in a predicate")

    def _name(self, name: str) -> None:
        if name.startswith("_"):
            raise PredicateError(f"'{name}': names starting with '_' are not allowed")
        if name in FUNCTIONS:
            raise PredicateError(f"'{name}' is a function: call it, e.g. {name}(result)")
        if name in BUILTIN_CLASSES or name in NAMESPACES:
            raise PredicateError(f"'{name}' may only name a class in isinstance(...)")
        self.names.add(name)

    def _compare(self, node: ast.Compare) -> None:
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(right, ast.Constant) and right.value is None):
                    raise PredicateError("'is' and 'is not' compare only with None")
            elif not isinstance(op, _COMPARE):
                raise PredicateError(f"the comparison {_op_text(op)} is not allowed")
        for operand in [node.left, *node.comparators]:
            if isinstance(operand, (ast.Tuple, ast.List)):  # result.dtype in (torch.int32, ...)
                for item in operand.elts:
                    if dtype_ref(item) is None:
                        self.visit(item)
            elif dtype_ref(operand) is None:
                self.visit(operand)

    def _call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else _node_text(node.func)
            raise PredicateError(
                f"the call of {called} is not allowed (allowed: {', '.join(FUNCTIONS)})"
            )
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise PredicateError(f"{name}(...) takes its arguments by position only")
        counts = {"isinstance": (2, 2), "round": (1, 2), "min": (1, 8), "max": (1, 8)}
        low, high = counts.get(name, (1, 1))
        if not low <= len(node.args) <= high:
            many = f"{low}" if low == high else f"{low} to {high}"
            raise PredicateError(f"{name}(...) takes {many} argument{'s' if high > 1 else ''}")
        if name == "isinstance":
            self.visit(node.args[0])
            self._classes(node.args[1])
            return
        for arg in node.args:
            self.visit(arg)

    def _classes(self, node: ast.AST) -> None:
        refs = node.elts if isinstance(node, ast.Tuple) else [node]
        for ref in refs:
            found = class_ref(ref)
            if found is None:
                raise PredicateError(
                    f"isinstance(...) takes a class: {', '.join(BUILTIN_CLASSES)}, torch.Tensor, "
                    f"torch.Size or nn.<Module class>; got {_node_text(ref)}"
                )
            if found.nn:
                self.classes.add(found.nn)

    def _attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            raise PredicateError(f"'.{node.attr}': attributes starting with '_' are not allowed")
        if _dotted(node) is not None and _dotted(node)[0] in NAMESPACES:  # type: ignore[index]
            raise PredicateError(
                f"{'.'.join(_dotted(node) or [])} is allowed only as a dtype in a comparison "
                "or as a class in isinstance(...)"
            )
        if node.attr not in ATTRIBUTES:
            raise PredicateError(
                f"the attribute '.{node.attr}' is not allowed (allowed: "
                f"{', '.join('.' + a for a in ATTRIBUTES)})"
            )
        self.visit(node.value)


def _dotted(node: ast.AST) -> list[str] | None:
    """``torch.nn.Linear`` as ["torch", "nn", "Linear"]; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def class_ref(node: ast.AST) -> ClassRef | None:
    dotted = _dotted(node)
    if dotted is None:
        return None
    spelled = ".".join(dotted)
    if len(dotted) == 1 and dotted[0] in BUILTIN_CLASSES:
        return ClassRef(spelled, builtin=dotted[0])
    if dotted in (["torch", "Tensor"], ["torch", "Size"]):
        return ClassRef(spelled, torch=dotted[1])
    if dotted[:-1] in (["nn"], ["torch", "nn"]) and not dotted[-1].startswith("_"):
        return ClassRef(spelled, nn=dotted[-1])
    return None


def dtype_ref(node: ast.AST) -> DtypeRef | None:
    dotted = _dotted(node)
    if dotted is not None and len(dotted) == 2 and dotted[0] == "torch" and dotted[1] in DTYPES:
        return DtypeRef(dotted[1])
    return None


def _op_text(op: ast.AST) -> str:
    return {
        ast.BitAnd: "'&'",
        ast.BitOr: "'|'",
        ast.BitXor: "'^'",
        ast.LShift: "'<<'",
        ast.RShift: "'>>'",
        ast.MatMult: "'@'",
    }.get(type(op), f"'{type(op).__name__}'")


def _node_text(node: ast.AST) -> str:
    names = {
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.NamedExpr: "':='",
        ast.IfExp: "'... if ... else ...'",
        ast.Await: "'await'",
        ast.Yield: "'yield'",
        ast.YieldFrom: "'yield'",
        ast.JoinedStr: "an f-string",
        ast.Dict: "a dict display",
        ast.Set: "a set display",
    }
    if type(node) in names:
        return names[type(node)]
    dotted = _dotted(node)
    return ".".join(dotted) if dotted else type(node).__name__


def resolve_classes(pred: Predicate) -> None:
    """Check that every ``nn.X`` the predicate names is a module class of torch.nn
    (imports torch: called when the course's helpers are resolved)."""
    for name in sorted(pred.nn_classes):
        if _nn_class(name) is None:
            raise PredicateError(f"nn.{name} is not a module class of torch.nn")


def _nn_class(name: str) -> type | None:
    import torch

    found = getattr(torch.nn, name, None)
    if isinstance(found, type) and issubclass(found, torch.nn.Module):
        return found
    return None


# ------------------------------------------------------------------ evaluating it
def holds(pred: Predicate, env: dict[str, Any]) -> bool:
    """Whether the predicate holds for the values in ``env``; NotEvaluable if it
    cannot be evaluated on them."""
    return truth(_Evaluator(env).eval(pred.tree.body))


def explain(pred: Predicate, env: dict[str, Any]) -> str:
    """What the student's values were, for a message: "0.31" for ``result < 0.05``,
    "result[1] = 0.31" for ``result[1] < 0.05``."""
    node = _subject(pred.tree.body, _Evaluator(env))
    try:
        value = _Evaluator(env).eval(node)
    except NotEvaluable as exc:
        return str(exc)
    if isinstance(node, ast.Name) and node.id == "result":
        return show(value)
    return f"{ast.get_source_segment(pred.text, node) or ast.unparse(node)} = {show(value)}"


def _subject(node: ast.AST, ev: _Evaluator) -> ast.AST:
    """The part of a failed predicate whose value tells the student most: the left
    side of a comparison, the object of an isinstance, the first failing clause of an
    ``and``."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        for value in node.values:
            try:
                if not truth(ev.eval(value)):
                    return _subject(value, ev)
            except NotEvaluable:
                return _subject(value, ev)
        return node.values[0]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _subject(node.operand, ev)
    if isinstance(node, ast.Compare):
        if isinstance(node.left, ast.Constant) and not isinstance(
            node.comparators[0], ast.Constant
        ):
            return node.comparators[0]
        return node.left
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "isinstance":
            return node.args[0]
        if node.func.id in ("all", "any"):
            return _subject(node.args[0], ev)
    return node


def truth(value: Any) -> bool:
    """A value as a verdict: a tensor holds when every element does."""
    value = _tensor(value)
    torch = _torch_if_tensor(value)
    if torch is not None:
        if value.numel() == 0:
            raise NotEvaluable("an empty tensor is neither true nor false")
        return bool(value.all())
    if isinstance(value, (ModuleValue, OpaqueValue)):
        return True
    return bool(value)


def _tensor(value: Any) -> Any:
    return value.data if isinstance(value, TensorValue) else value


def _torch_if_tensor(value: Any) -> Any:
    import sys

    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(value, torch.Tensor) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


class _Evaluator:
    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}")
        try:
            return method(node)
        except NotEvaluable:
            raise
        except (ArithmeticError, TypeError, ValueError, IndexError, KeyError, RuntimeError) as exc:
            raise NotEvaluable(_failure(node, exc)) from None

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id not in self.env:
            raise NotEvaluable(f"there is no value '{node.id}'")
        return self.env[node.id]

    def _List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _Slice(self, node: ast.Slice) -> Any:
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        for part in parts:
            if part is not None and (not isinstance(part, int) or isinstance(part, bool)):
                raise NotEvaluable(f"a slice takes whole numbers, not {show(part)}")
        return slice(*parts)

    def _BoolOp(self, node: ast.BoolOp) -> bool:
        if isinstance(node.op, ast.And):
            return all(truth(self.eval(v)) for v in node.values)
        return any(truth(self.eval(v)) for v in node.values)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not truth(value)
        value = _operand(value, "-" if isinstance(node.op, ast.USub) else "+")
        return -value if isinstance(node.op, ast.USub) else +value

    def _BinOp(self, node: ast.BinOp) -> Any:
        symbol, fn = _BINARY[type(node.op)]
        left = _operand(self.eval(node.left), symbol)
        right = _operand(self.eval(node.right), symbol)
        if symbol == "**":
            _check_power(left, right)
        result = fn(left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise NotEvaluable(f"a number of more than {MAX_INT_BITS} bits")
        return result

    def _Compare(self, node: ast.Compare) -> Any:
        left = self._side(node.left)
        if len(node.ops) == 1:  # a tensor's comparison stays elementwise: any(result < 0)
            return _compare(node.ops[0], left, self._side(node.comparators[0]))
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self._side(right_node)
            if not truth(_compare(op, left, right)):
                return False
            left = right
        return True

    def _side(self, node: ast.AST) -> Any:
        """An operand of a comparison, where the dtypes may be named."""
        dtype = dtype_ref(node)
        if dtype is not None:
            import torch

            return getattr(torch, dtype.name)
        if isinstance(node, ast.Tuple):
            return tuple(self._side(item) for item in node.elts)
        if isinstance(node, ast.List):
            return [self._side(item) for item in node.elts]
        return self.eval(node)

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = _tensor(self.eval(node.value))
        index = self.eval(node.slice)
        if isinstance(value, dict):
            if isinstance(index, (list, dict, slice)):
                raise NotEvaluable("a dict is indexed by a key")
            if index not in value:
                raise NotEvaluable(f"the dict has no key {show(index)}")
            return value[index]
        if not isinstance(value, (list, tuple, str)) and _torch_if_tensor(value) is None:
            raise NotEvaluable(f"{describe(value)} cannot be indexed")
        for part in index if isinstance(index, tuple) else (index,):
            if not isinstance(part, (int, slice)) or isinstance(part, bool):
                raise NotEvaluable(f"cannot index {describe(value)} with {show(part)}")
        if isinstance(index, tuple) and _torch_if_tensor(value) is None:
            raise NotEvaluable(f"cannot index {describe(value)} with a tuple")
        return value[index]

    def _Attribute(self, node: ast.Attribute) -> Any:
        value = self.eval(node.value)
        name = node.attr
        if isinstance(value, ModuleValue) and name == "training":
            return value.training
        data = _tensor(value)
        if _torch_if_tensor(data) is not None and name != "training":
            if name == "shape":
                return tuple(data.shape)
            if name == "requires_grad":
                return value.requires_grad if isinstance(value, TensorValue) else False
            return getattr(data, name)  # dtype, ndim
        if name == "shape" and isinstance(value, tuple) and type(value) is not tuple:
            return tuple(value)  # torch.Size
        raise NotEvaluable(f"{describe(value)} has no .{name}")

    def _Call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        if name == "isinstance":
            value = self.eval(node.args[0])
            refs = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            return any(is_instance(value, class_ref(r)) for r in refs)  # type: ignore[arg-type]
        args = [self.eval(a) for a in node.args]
        return CALLS[name](*args)


def _failure(node: ast.AST, exc: Exception) -> str:
    if isinstance(exc, ZeroDivisionError):
        return "it divides by zero"
    if isinstance(exc, OverflowError):
        return "a number grows too large"
    text = str(exc).split("\n")[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _operand(value: Any, symbol: str) -> Any:
    """A value arithmetic may take: a number or a tensor (not too large)."""
    value = _tensor(value)
    if _torch_if_tensor(value) is not None:
        if value.numel() > MAX_ELEMENTS:
            raise NotEvaluable(f"a tensor of {value.numel()} elements is too large to compute on")
        return value
    if _is_number(value):
        return value
    raise NotEvaluable(f"'{symbol}' takes numbers or tensors, not {describe(value)}")


def _check_power(base: Any, exponent: Any) -> None:
    """Refuse an integer power too large to compute (10 ** 10 ** 10 must not hang)."""
    # (A float or tensor power overflows to inf, or raises, at once.)
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent * (abs(base).bit_length() - 1) > MAX_INT_BITS:
            raise NotEvaluable(f"a number of more than {MAX_INT_BITS} bits")


def _compare(op: ast.cmpop, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Is):
        return left is None
    if isinstance(op, ast.IsNot):
        return left is not None
    if isinstance(op, (ast.In, ast.NotIn)):
        found = _contains(right, left)
        return found if isinstance(op, ast.In) else not found
    if isinstance(op, (ast.Eq, ast.NotEq)):
        same = _equal(left, right)
        return same if isinstance(op, ast.Eq) else _not(same)
    left, right = _tensor(left), _tensor(right)
    for side in (left, right):
        torch = _torch_if_tensor(side)
        if torch is not None and side.numel() > MAX_ELEMENTS:
            raise NotEvaluable(f"a tensor of {side.numel()} elements is too large to compute on")
        if torch is None and not _is_number(side) and not isinstance(side, str):
            raise NotEvaluable(f"cannot order {describe(side)}")
    if isinstance(left, str) != isinstance(right, str):
        raise NotEvaluable(f"cannot compare {describe(left)} with {describe(right)}")
    fn = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
    return fn[type(op)](left, right)


def _not(value: Any) -> Any:
    return ~value if _torch_if_tensor(value) is not None else not value


def _equal(left: Any, right: Any) -> Any:
    """``==`` as the language defines it: elementwise for tensors, item by item for lists
    and tuples alike, plain for the rest."""
    left, right = _tensor(left), _tensor(right)
    if _torch_if_tensor(left) is not None or _torch_if_tensor(right) is not None:
        import torch

        tensor = left if _torch_if_tensor(left) is not None else right
        other = right if tensor is left else left
        if tensor.numel() > MAX_ELEMENTS:
            raise NotEvaluable(f"a tensor of {tensor.numel()} elements is too large to compute on")
        if isinstance(other, torch.dtype):
            return False
        if not (_torch_if_tensor(other) is not None or _is_number(other) or _nested(other)):
            return False
        if not _torch_if_tensor(other) is not None:
            other = torch.tensor(other, dtype=torch.float64)
        a, b = tensor, other
        if a.dtype != b.dtype and not (a.dtype == torch.bool or b.dtype == torch.bool):
            a, b = a.double(), b.double()
        return a == b
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(
            truth(_equal(a, b)) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(truth(_equal(left[k], right[k])) for k in left)
    if isinstance(left, (ModuleValue, OpaqueValue)) or isinstance(
        right, (ModuleValue, OpaqueValue)
    ):
        return False
    return left == right


def _nested(value: Any) -> bool:
    """A list of numbers (or of such lists), as a tensor can be compared with."""
    if isinstance(value, (list, tuple)):
        return all(_is_number(v) or _nested(v) for v in value)
    return False


def _contains(container: Any, item: Any) -> bool:
    container = _tensor(container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise NotEvaluable(f"'in' a string takes a string, not {describe(item)}")
        return item in container
    if isinstance(container, dict):
        try:
            return item in container
        except TypeError:
            return False
    if isinstance(container, (list, tuple)):
        return any(truth(_equal(item, v)) for v in container)
    raise NotEvaluable(f"'in' takes a list, tuple, dict or string, not {describe(container)}")


def is_instance(value: Any, ref: ClassRef) -> bool:
    if ref.builtin:
        return isinstance(value, BUILTIN_CLASSES[ref.builtin]) and not isinstance(
            value, (TensorValue, ModuleValue, OpaqueValue)
        )
    if ref.torch == "Tensor":
        return isinstance(value, TensorValue) or _torch_if_tensor(value) is not None
    if ref.torch == "Size":
        import torch

        return isinstance(value, torch.Size)
    cls = _nn_class(ref.nn)
    if cls is None:
        raise NotEvaluable(f"{ref.spelled} is not a module class of torch.nn")
    full = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(value, ModuleValue):
        return full in (value.mro or [value.cls])
    if isinstance(value, TensorValue):
        return value.cls == full
    return False


# ------------------------------------------------------------------ the calls
def _len(value: Any) -> int:
    value = _tensor(value)
    if isinstance(value, (list, tuple, dict, str)) or _torch_if_tensor(value) is not None:
        return len(value)
    raise NotEvaluable(f"{describe(value)} has no length")


def _abs(value: Any) -> Any:
    return abs(_operand(value, "abs"))


def _all(value: Any) -> bool:
    value = _tensor(value)
    if _torch_if_tensor(value) is not None:
        return bool(value.all())
    if isinstance(value, (list, tuple, dict)):
        return all(truth(v) for v in value)
    raise NotEvaluable(f"all(...) takes a tensor or a list, not {describe(value)}")


def _any(value: Any) -> bool:
    value = _tensor(value)
    if _torch_if_tensor(value) is not None:
        return bool(value.any())
    if isinstance(value, (list, tuple, dict)):
        return any(truth(v) for v in value)
    raise NotEvaluable(f"any(...) takes a tensor or a list, not {describe(value)}")


def _extreme(which: str) -> Callable[..., Any]:
    def fn(*args: Any) -> Any:
        if len(args) == 1:
            value = _tensor(args[0])
            if _torch_if_tensor(value) is not None:
                if value.numel() == 0:
                    raise NotEvaluable(f"{which}(...) of an empty tensor")
                return value.min() if which == "min" else value.max()
            if not isinstance(value, (list, tuple)):
                raise NotEvaluable(f"{which}(...) takes a tensor or a list, not {describe(value)}")
            args = tuple(value)
        if not args:
            raise NotEvaluable(f"{which}(...) of an empty list")
        if not all(_is_number(a) for a in args):
            raise NotEvaluable(f"{which}(...) takes numbers")
        return min(args) if which == "min" else max(args)

    return fn


def _round(value: Any, digits: Any = None) -> Any:
    if digits is not None and (not isinstance(digits, int) or isinstance(digits, bool)):
        raise NotEvaluable("round(...)'s second argument is a whole number")
    if digits is not None and abs(digits) > 400:
        raise NotEvaluable("round(...) to more than 400 digits")
    value = _operand(value, "round")
    if _torch_if_tensor(value) is not None:
        import torch

        return torch.round(value, decimals=digits or 0)
    return round(value, digits) if digits is not None else round(value)


def _sum(value: Any) -> Any:
    value = _tensor(value)
    if _torch_if_tensor(value) is not None:
        return _operand(value, "sum").sum()
    if isinstance(value, (list, tuple)) and all(_is_number(v) for v in value):
        return math.fsum(value) if any(isinstance(v, float) for v in value) else sum(value)
    raise NotEvaluable(f"sum(...) takes a tensor or a list of numbers, not {describe(value)}")


CALLS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "abs": _abs,
    "all": _all,
    "any": _any,
    "min": _extreme("min"),
    "max": _extreme("max"),
    "round": _round,
    "sum": _sum,
}


# ------------------------------------------------------------------ words
def show(value: Any) -> str:
    """A value as a message shows it: numbers and small tensors by value."""
    from grader.judges.compare import describe_value, fmt_number

    data = _tensor(value)
    torch = _torch_if_tensor(data)
    if torch is not None:
        if data.numel() <= 6 and data.dim() <= 2:
            if data.dim() == 0:
                return f"tensor({fmt_number(data.item())})"
            return f"tensor({_listed(data.tolist())})"
        return describe_value(value if isinstance(value, TensorValue) else TensorValue(data))
    if isinstance(value, bool) or value is None:
        return str(value)
    if _is_number(value):
        return fmt_number(value)
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, (list, tuple)) and len(value) <= 6:
        inner = ", ".join(show(v) for v in value)
        return (
            f"[{inner}]"
            if isinstance(value, list)
            else f"({inner}{',' if len(value) == 1 else ''})"
        )
    if torch is None and type(value).__name__ == "dtype":
        return str(value)
    return describe_value(value)


def _listed(items: Any) -> str:
    from grader.judges.compare import fmt_number

    if isinstance(items, list):
        return "[" + ", ".join(_listed(i) for i in items) + "]"
    return fmt_number(items)


def describe(value: Any) -> str:
    """A value with its kind, for why a predicate could not be evaluated on it."""
    from grader.judges.compare import describe_value

    value_t = _tensor(value)
    if _torch_if_tensor(value_t) is not None:
        return describe_value(value if isinstance(value, TensorValue) else TensorValue(value_t))
    if _is_number(value) and not isinstance(value, bool):
        return f"the {type(value).__name__} {show(value)}"
    return describe_value(value)
