"""The student notebooks (``FILE.ipynb`` from ``grader build``) run in a real Jupyter kernel.

Each stub notebook is executed top to bottom by nbclient with the ``python3`` kernel
(ipykernel), as "Run All" in Jupyter would, and the checks read the executed notebook:

- on the stub as built, every example cell stops with NotImplementedError (an exercise
  whose entry points have starter code may fail differently or pass) and no other cell
  errors;
- with the reference solution filled in (the whole ``solutions/FILE.py`` in the first
  solution cell, the other solution cells removed), no cell errors and every example cell
  runs and shows its result (that the result is the expected one is ``grader check``'s and
  ``grader validate``'s to say);
- an executed notebook is still valid nbformat and survives a write and read unchanged.

Failures name the exercise, the cell (position among all cells, role and first line) and
the error. The .py stubs and everything else about the bundle are in course/test_build.py.

Each notebook costs a kernel start and ``import torch`` (a few seconds); the runs share a
module-scoped fixture and go at most MAX_KERNELS at a time.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import ROOT
from course.test_build import solution_source

from grader.course.build import build_bundle
from grader.course.loading import load_course
from grader.course.model import Course, Exercise

pytestmark = pytest.mark.slow

MAX_KERNELS = 2  # concurrent kernels: each is CPU-bound while it imports torch; 2 cores here
CELL_TIMEOUT = 300  # seconds per cell
KERNEL = "python3"


@dataclass
class Run:
    """One notebook executed in a kernel."""

    exercise: Exercise
    kind: str  # "stub" or "solution"
    nb: Any  # the notebook as executed (as far as it got)
    failure: str | None = None  # why execution stopped early (timeout, dead kernel, ...)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.exercise.id} ({self.exercise.file}.ipynb, {self.kind})"


# --------------------------------------------------------------------------- running


def fill_solution(nb: Any, source: str) -> Any:
    """A copy of ``nb`` with ``source`` as its first solution cell and no other solution cell."""
    filled = copy.deepcopy(nb)
    cells, seen = [], False
    for cell in filled.cells:
        if cell.metadata.get("grader", {}).get("role") == "solution":
            if seen:
                continue
            seen, cell.source = True, source.rstrip("\n")
        cells.append(cell)
    filled.cells = cells
    return filled


async def execute(run: Run, cwd: Path, gate: asyncio.Semaphore) -> None:
    """Execute ``run.nb`` in place in a fresh kernel started in ``cwd``."""
    from nbclient import NotebookClient

    client = NotebookClient(
        run.nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    async with gate:
        start = time.perf_counter()
        try:
            await client.async_execute()
        except Exception as exc:  # timeout, dead kernel, kernel that never started
            run.failure = f"{type(exc).__name__}: {exc}"
        run.seconds = time.perf_counter() - start


async def execute_all(jobs: list[tuple[Run, Path]]) -> None:
    gate = asyncio.Semaphore(MAX_KERNELS)
    await asyncio.gather(*(execute(run, cwd, gate) for run, cwd in jobs))


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(ROOT)


@pytest.fixture(scope="module")
def runs(course: Course, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """(exercise id, "stub" | "solution") -> the executed notebook. Every run gets its own
    working directory (examples may write files, e.g. save_load's model.pt)."""
    bundle = tmp_path_factory.mktemp("bundle")
    build_bundle(course, bundle)
    work = tmp_path_factory.mktemp("kernel-runs")
    jobs = []
    for ex in course.exercises:
        stub = nbformat.read(bundle / f"{ex.file}.ipynb", as_version=4)
        notebooks = [("stub", stub)]
        source = solution_source(course, ex)
        if source is not None:
            notebooks.append(("solution", fill_solution(stub, source)))
        for kind, nb in notebooks:
            cwd = work / kind / ex.file
            cwd.mkdir(parents=True)
            jobs.append((Run(ex, kind, nb), cwd))
    start = time.perf_counter()
    asyncio.run(execute_all(jobs))
    total = time.perf_counter() - start
    slowest = max(jobs, key=lambda job: job[0].seconds)[0]
    print(
        f"\n{len(jobs)} notebooks in {total:.1f} s, at most {MAX_KERNELS} kernels at a time "
        f"(slowest: {slowest.name}, {slowest.seconds:.1f} s)"
    )
    return {(run.exercise.id, run.kind): run for run, _ in jobs}


# --------------------------------------------------------------------------- reading outputs


def role(cell: Any) -> str:
    return cell.metadata.get("grader", {}).get("role", "?")


def where(run: Run, index: int, cell: Any) -> str:
    first = cell.source.split("\n", 1)[0]
    return f"{run.name}, cell {index + 1} of {len(run.nb.cells)} [{role(cell)}] `{first}`"


def errors(cell: Any) -> list[str]:
    return [f"{out.ename}: {out.evalue}" for out in cell.outputs if out.output_type == "error"]


def stdout(cell: Any) -> str:
    return "".join(
        out.text for out in cell.outputs if out.output_type == "stream" and out.name == "stdout"
    )


def shown(cell: Any) -> bool:
    """Whether the cell's last expression was shown as its result (Out[n])."""
    return any(out.output_type == "execute_result" for out in cell.outputs)


def code_cells(run: Run) -> list[tuple[int, Any]]:
    return [(i, cell) for i, cell in enumerate(run.nb.cells) if cell.cell_type == "code"]


def did_not_run(run: Run) -> list[str]:
    """Problems that stop the cells from being judged: execution stopped, or a cell never ran."""
    problems = [f"{run.name}: execution stopped: {run.failure}"] if run.failure else []
    problems += [
        f"{where(run, i, cell)}: did not run (no execution_count)"
        for i, cell in code_cells(run)
        if cell.execution_count is None
    ]
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(f"- {p}" for p in problems)


def solution_runs(course: Course, runs: dict[tuple[str, str], Run]) -> list[Run]:
    found = [runs[ex.id, "solution"] for ex in course.exercises if (ex.id, "solution") in runs]
    if not found:
        pytest.skip("no reference solutions")
    return found


# --------------------------------------------------------------------------- the tests


def test_stub_examples_raise_not_implemented_and_nothing_else_breaks(
    course: Course, runs: dict[tuple[str, str], Run]
) -> None:
    problems = []
    for ex in course.exercises:
        run = runs[ex.id, "stub"]
        problems += did_not_run(run)
        plain = all(entry.starter is None for entry in ex.entry_points)
        examples = 0
        for i, cell in code_cells(run):
            found = errors(cell)
            if role(cell) != "example":
                problems += [f"{where(run, i, cell)}: {error}" for error in found]
                continue
            examples += 1
            if not plain or cell.execution_count is None:
                continue  # a starter may get an example right, or fail in its own way
            if [error.split(":", 1)[0] for error in found] != ["NotImplementedError"]:
                got = "; ".join(found) or f"no error (printed {stdout(cell)!r})"
                problems.append(f"{where(run, i, cell)}: expected NotImplementedError, got {got}")
            elif shown(cell):
                problems.append(f"{where(run, i, cell)}: showed a result on a stub")
        if examples != len(ex.examples):
            problems.append(f"{run.name}: {examples} example cells for {len(ex.examples)} examples")
    assert not problems, report(problems)


def test_examples_pass_with_the_reference_solution_filled_in(
    course: Course, runs: dict[tuple[str, str], Run]
) -> None:
    problems = []
    for run in solution_runs(course, runs):
        problems += did_not_run(run)
        examples = 0
        for i, cell in code_cells(run):
            problems += [f"{where(run, i, cell)}: {error}" for error in errors(cell)]
            if role(cell) == "example":
                examples += 1
                if not shown(cell) and not errors(cell) and cell.execution_count:
                    problems.append(f"{where(run, i, cell)}: showed no result")
        if examples != len(run.exercise.examples):
            problems.append(
                f"{run.name}: {examples} example cells for {len(run.exercise.examples)} examples"
            )
    assert not problems, report(problems)


def test_executed_notebooks_stay_valid(runs: dict[tuple[str, str], Run]) -> None:
    """With outputs and execution counts in it, a notebook is still valid nbformat and
    round-trips through the file format as Jupyter would save it."""
    problems = []
    for run in runs.values():
        try:
            nbformat.validate(run.nb)
            again = nbformat.reads(nbformat.writes(run.nb), as_version=4)
            nbformat.validate(again)
        except Exception as exc:
            problems.append(f"{run.name}: {type(exc).__name__}: {exc}")
            continue
        if again != run.nb:
            problems.append(f"{run.name}: changed by a write and read")
    assert not problems, report(problems)
