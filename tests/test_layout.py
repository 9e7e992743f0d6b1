"""The package layout's rules (docs/architecture.md), read from the source with ``ast``:
no import cycle between grader's packages, the sandbox side imports nothing trusted,
nothing trusted imports the sandbox's own code, judges stay below grading.

Cycles are checked on module-level imports (not those under ``if TYPE_CHECKING:``, nor
the lazy ones inside functions, which are how a run reaches upward late: the loader
looks up the judges, a finished run writes its reports). The sandbox rules count every
import, lazy or not.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRADER = ROOT / "grader"
# The units whose imports must not go round in a circle: grader's packages, and the two
# folders of the sandbox that have rules of their own.
UNITS = ("grader.sandbox.protocol", "grader.sandbox.inside")
# Besides the standard library: what a student's environment has anyway (numpy only to seed
# it, traitlets as IPython's configuration), and the boundary's own package.
INSIDE_MAY_IMPORT = {"torch", "safetensors", "numpy", "IPython", "traitlets", "protocol"}


def module_name(path: Path) -> str:
    parts = path.relative_to(GRADER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in GRADER.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _target(name: str, node: ast.ImportFrom) -> list[str]:
    """The modules ``from X import a, b`` reaches (a may itself be a module)."""
    if node.level:
        base = name.split(".")
        package = base if name in PACKAGES else base[:-1]
        prefix = ".".join(package[: len(package) - node.level + 1])
        source = f"{prefix}.{node.module}" if node.module else prefix
    else:
        source = node.module or ""
    return [source] + [f"{source}.{a.name}" for a in node.names]


def imports(name: str, tree: ast.Module, lazy: bool) -> set[str]:
    """What ``name`` imports: module-level only, or (``lazy``) every import anywhere."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.update(_target(name, node))
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, ast.With)):
                visit(node.body)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "orelse", []))
                visit(getattr(node, "finalbody", []))
            elif lazy and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(node.body)
            elif lazy:
                visit([n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))])

    visit(tree.body)
    return found


MODULES = modules()
PACKAGES = {n for n in MODULES if (GRADER.parent / n.replace(".", "/") / "__init__.py").exists()}


def unit(module: str) -> str | None:
    """The package (or top-level module) of grader that ``module`` belongs to."""
    if module != "grader" and not module.startswith("grader."):
        return None
    for special in UNITS:
        if module == special or module.startswith(special + "."):
            return special
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def known(module: str) -> str | None:
    """``module`` if it is one of grader's modules, else its closest enclosing one."""
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module or None


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, tree in MODULES.items():
        here = unit(name)
        if here is None:
            continue
        for target in imports(name, tree, lazy=False):
            there = unit(known(target) or "")
            if there and there != here:
                graph.setdefault(here, set()).add(there)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_between_packages() -> None:
    assert find_cycle(unit_graph()) is None, " -> ".join(find_cycle(unit_graph()) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_sandbox_inside_imports_only_its_allowance() -> None:
    inside = [n for n in MODULES if _in(n, "grader.sandbox.inside")]
    assert {"grader.sandbox.inside.runner", "grader.sandbox.inside.jobns"} <= set(inside)
    for name in inside:
        for target in imports(name, MODULES[name], lazy=True):
            top = target.split(".")[0]
            ok = (
                top in sys.stdlib_module_names
                or top in INSIDE_MAY_IMPORT
                or _in(target, "grader.sandbox.protocol")
            )
            assert ok, f"{name} imports {target}"


def test_the_protocol_imports_nothing_of_grader() -> None:
    for name in [n for n in MODULES if _in(n, "grader.sandbox.protocol")]:
        for target in imports(name, MODULES[name], lazy=True):
            assert not target.startswith("grader") or _in(target, "grader.sandbox.protocol"), (
                f"{name} imports {target}"
            )


def test_nothing_trusted_imports_the_sandbox_script() -> None:
    for name, tree in MODULES.items():
        if _in(name, "grader.sandbox.inside"):
            continue
        for target in imports(name, tree, lazy=True):
            assert not _in(target, "grader.sandbox.inside"), f"{name} imports {target}"
            assert target.split(".")[0] not in {"runner", "jobns"}, f"{name} imports {target}"


def test_judges_stay_below_grading() -> None:
    allowed_course = {"grader.course", "grader.course.schema", "grader.course.helpers"}
    for name in [n for n in MODULES if _in(n, "grader.judges")]:
        for target in imports(name, MODULES[name], lazy=True):
            for banned in ("grader.grading", "grader.cli", "grader.reports", "grader.exports"):
                assert not _in(target, banned), f"{name} imports {target}"
            if _in(target, "grader.course"):
                assert known(target) in allowed_course, f"{name} imports {target} at run time"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_package_says_its_job_and_what_it_may_import(package: str) -> None:
    doc = ast.get_docstring(MODULES[package]) or ""
    assert doc, f"{package} has no docstring"
    if package not in {"grader", "grader.reports.figures"}:
        assert "import" in doc.lower(), f"{package}'s docstring does not say what it may import"


def test_every_judge_has_its_unit_tests():
    """Every judge in the registry has its unit tests.

    Adding a judge asks for tests/judges/test_<module>.py, which loads a check of its
    kind from YAML, not for a new course exercise."""
    from grader.judges import JUDGES

    missing = []
    for name, judge in sorted(JUDGES.items()):
        module = type(judge).__module__.rsplit(".", 1)[-1]
        path = ROOT / "tests" / "judges" / f"test_{module}.py"
        if not path.is_file() or f"judge: {name}" not in path.read_text():
            missing.append(f"{name}: {path.relative_to(ROOT)}")
    assert not missing, f"judges without unit tests loading 'judge: <name>': {', '.join(missing)}"


def test_the_bundled_helpers_import_only_the_judge_api():
    """exercises/hidden/*.py are what instructors copy: of the grader they import only
    grader.judge_api, the stable surface, never its internals."""
    wrong = []
    for path in sorted((ROOT / "exercises" / "hidden").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            wrong += [
                f"{path.name}:{node.lineno} imports {n}"
                for n in names
                if _in(n, "grader") and n != "grader.judge_api"
            ]
    assert not wrong, "; ".join(wrong)


def test_the_judge_api_lists_and_documents_every_name():
    import grader.judge_api as api

    doc = api.__doc__ or ""
    for name in api.__all__:
        assert getattr(api, name) is not None
        assert name in doc, f"grader.judge_api does not document {name}"
