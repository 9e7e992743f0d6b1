"""The grader's notebook path agrees with a real Jupyter kernel.

nbclient with a real ipykernel is the reference for what a notebook does. The grader
runs notebooks faster, in-process in the sandbox (``NotebookRun`` in the runner: one
IPython shell, cells through ``run_cell`` as ipykernel's ``do_execute`` runs them). It is
allowed only because this suite shows the two agree on every notebook in it: the corpus
under tests/notebook_corpus/ plus the probes below, each aimed at one place where a
plain IPython shell and a kernel could differ.

Agreement, per cell: the same error (type and message) or none; the same text on
stdout (a kernel's ``Out[n]`` results and displays as the shell prints them) and on
stderr; and for the notebook, the same ending (finished, hung in cell N, or the process
died in cell N). Timings and memory addresses are masked; nothing else is.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.submissions.notebooks import NotebookProblem, read_notebook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "notebook_corpus"
RUNNER = ROOT / "grader" / "sandbox" / "inside"
TIMEOUT = (
    8  # seconds per cell (kernel) and per notebook (grader's path): only the hang probe reaches it
)

# One notebook each, as lists of code cells: the places where a bare IPython shell and a
# kernel could part ways.
PROBES: dict[str, list[str]] = {
    "name_and_argv": [
        "print(__name__)",
        "import sys\nprint(len(sys.argv) > 1)",
        "print('__file__' in dir())",
    ],
    "last_expression": [
        "1 + 1",
        "x = 3\nx",
        "_ + 1",
        "print(Out[1], _2)",
        "'multi\\nline'",
        "None",
    ],
    "display": [
        "display(3)\ndisplay('text')",
        "from IPython.display import display, Markdown\ndisplay(Markdown('**bold**'))",
        "print('after')",
    ],
    "event_loop": [
        "import asyncio\nprint(asyncio.get_running_loop() is not None)",
        "await asyncio.sleep(0)\nprint('awaited')",
        "asyncio.run(asyncio.sleep(0))",
    ],
    "no_stdin": ["input('name? ')", "import getpass\ngetpass.getpass()", "print('still running')"],
    "exits": [
        "import sys\nsys.exit(3)",
        "print('next cell')",
        "raise KeyboardInterrupt",
        "print('last')",
    ],
    "magics": [
        "%%capture captured\nprint('hidden')",
        "print(captured.stdout)",
        "%%writefile made.txt\nhello",
        "print(open('made.txt').read())",
        "%env GRADER_PROBE=1",
        "import os\nprint(os.environ['GRADER_PROBE'])",
        "%who_ls",
        "%time y = sum(range(10))",
        "print(y)",
    ],
    "shell": [
        "!echo from-shell",
        "files = !ls\nprint('made.txt' in files or True)",
        "!pip install --quiet some-package-that-is-not-there",
        "%pip install numpy",
        "print('went on')",
    ],
    "errors": [
        "def f():\n    return 1 / 0",
        "f()",
        "def g(:\n    pass",
        "print('after syntax error')",
        "import not_a_module_anywhere",
        "raise ValueError('custom')",
    ],
    "warnings": [
        "import warnings\nwarnings.warn('careful')",
        "import sys\nprint('to stderr', file=sys.stderr)",
    ],
    "pickling": [
        "import pickle\nclass Point:\n    def __init__(self, x):\n        self.x = x",
        "print(pickle.loads(pickle.dumps(Point(4))).x)",
    ],
    "matplotlib": [
        "%matplotlib inline\nimport matplotlib.pyplot as plt",
        "plt.plot([1, 2, 3])\nplt.show()",
        "fig = plt.figure()\nplt.close(fig)\nprint('closed')",
    ],
    "torch": [
        "import torch\ntorch.manual_seed(0)\nt = torch.randn(2, 2)\nprint(t.shape)",
        "t.sum().item() != 0",
    ],
    "hang": ["print('before')", "while True:\n    pass", "print('never')"],
    "dies": ["print('before')", "import os\nos._exit(3)", "print('never')"],
}


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the suite that the grader reads (the others never run)."""
    found = {}
    for path in sorted(CORPUS.glob("*/*.ipynb")):
        try:
            read_notebook(path.read_bytes())
        except NotebookProblem:
            continue
        found[f"{path.parent.name}-{path.stem}"] = nbformat.read(path, as_version=4)
    for name, cells in PROBES.items():
        found[f"probe-{name}"] = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(c) for c in cells]
        )
    return found


# ------------------------------------------------------------------ the reference
def kernel_text(output: dict) -> tuple[str, str]:
    """(stream, text) of one kernel output, as the grader's shell prints it."""
    if output["output_type"] == "stream":
        return output["name"], output["text"]
    text = output.get("data", {}).get("text/plain", "")
    if output["output_type"] == "execute_result":
        return "stdout", f"Out[{output['execution_count']}]: " + (
            "\n" if "\n" in text else ""
        ) + text + "\n"
    if output["output_type"] == "display_data":
        return "stdout", text + "\n"
    return "", ""


async def run_kernel(nb: nbformat.NotebookNode, workdir: Path, gate: asyncio.Semaphore) -> dict:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    # The grader's one rule for notebooks that a kernel lacks: package installs are not run.
    policy = (
        f"import sys; sys.path.insert(0, {str(RUNNER)!r}); import runner as _r; "
        "_r.offline_installs(get_ipython()); del _r"
    )
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT,
        allow_errors=True,
        resources={"metadata": {"path": str(workdir)}},
        extra_arguments=[f"--InteractiveShellApp.exec_lines={json.dumps([policy])}"],
    )
    current = {"cell": None}
    client.on_cell_execute = lambda cell, cell_index: current.update(cell=str(cell_index + 1))
    ended = "ok"
    async with gate:
        try:
            await client.async_execute()
        except CellTimeoutError:
            ended = "hung"
        except DeadKernelError:
            ended = "died"
    cells: dict[str, dict] = {}
    for index, cell in enumerate(nb.cells):
        if (
            cell.cell_type != "code"
            or not cell.source.strip()
            or cell.get("execution_count") is None
        ):
            continue
        seen = {"stdout": "", "stderr": "", "error": None}
        for output in cell.outputs:
            if output["output_type"] == "error":
                seen["error"] = [output["ename"], output["evalue"]]
            else:
                stream, text = kernel_text(output)
                if stream:
                    seen[stream] += text
        cells[str(index + 1)] = seen
    return {"ended": ended, "last_cell": current["cell"] if ended != "ok" else None, "cells": cells}


# ------------------------------------------------------------------ the grader's path
def run_fast(suite: dict[str, nbformat.NotebookNode], tmp: Path) -> dict[str, dict]:
    jobs = []
    for name, nb in suite.items():
        workdir = tmp / name / "fast"
        workdir.mkdir(parents=True)
        cells = read_notebook(nbformat.writes(nb).encode()).staged()
        jobs.append({"name": name, "cells": cells, "workdir": str(workdir), "timeout": TIMEOUT})
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "notebook_fastpath.py"),
            str(tmp / "jobs.json"),
            str(tmp / "fast.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((tmp / "fast.json").read_text())


MASKS = [
    (
        # IPython writes micro as µ (U+00B5) or μ (U+03BC), by version.
        re.compile(r"\b\d+(\.\d+)?(e[+-]?\d+)?\s*(ns|µs|μs|us|ms|s)\b"),
        "<time>",
    ),  # %time: 1.5 ms, 1e+03 ns
    (re.compile(r"0x[0-9a-f]{6,}"), "0x<address>"),
    # The name a cell's code is compiled under: a kernel's is a temporary file, the
    # grader's names the cell for the student.
    (re.compile(r"(/tmp/ipykernel_\d+/)?\d{5,}\.py|<cell \d+>"), "<cell code>"),
    # tqdm.auto in a kernel without ipywidgets warns that it falls back to the text bar;
    # outside a kernel (the grader) it uses that bar without a word.
    (
        re.compile(r"/\S*tqdm/auto\.py:\d+: TqdmWarning: IProgress not found\..*?notebook_tqdm\\n"),
        "",
    ),
    # A text progress bar redrawn with \r: how often, and the rates, depend on the timing.
    # A kernel may send the redraws as several stream messages (read here with a space
    # between them).
    (re.compile(r"(\\r[^\\]*?it/s\]\s*)+"), "<progress bar>"),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


@pytest.fixture(scope="module")
def suite() -> dict[str, nbformat.NotebookNode]:
    return notebooks()


@pytest.fixture(scope="module")
def both(
    suite: dict[str, nbformat.NotebookNode], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("agreement")
    fast = run_fast(suite, tmp)

    async def all_kernels() -> list[dict]:
        gate = asyncio.Semaphore(2)
        runs = []
        for name, nb in suite.items():
            workdir = tmp / name / "kernel"
            workdir.mkdir(parents=True)
            runs.append(run_kernel(nb, workdir, gate))
        return await asyncio.gather(*runs)

    kernel = dict(zip(suite, asyncio.run(all_kernels()), strict=True))
    return kernel, fast


def test_the_suite_is_large_enough(suite: dict[str, nbformat.NotebookNode]) -> None:
    corpus = [name for name in suite if not name.startswith("probe-")]
    assert len(corpus) >= 12, corpus
    assert len(suite) >= 25


def test_every_notebook_agrees_with_a_real_kernel(
    suite: dict[str, nbformat.NotebookNode], both: tuple[dict, dict]
) -> None:
    kernel, fast = both
    problems = []
    for name in suite:
        ref, got = kernel[name], fast[name]
        if (ref["ended"], ref["last_cell"]) != (got["ended"], got["last_cell"]):
            problems.append(
                f"{name}: kernel ended {ref['ended']} at cell {ref['last_cell']}, "
                f"grader {got['ended']} at cell {got['last_cell']}"
            )
        for cell, seen in ref["cells"].items():
            mine = got["cells"].get(cell)
            if mine is None:
                if ref["ended"] == "ok":
                    problems.append(f"{name} cell {cell}: ran in the kernel, not in the grader")
                continue
            for key in ("error", "stdout", "stderr"):
                if key == "error" and cell == ref["last_cell"]:
                    # The cell that hung or died: the kernel was interrupted, the grader's killed.
                    continue
                a, b = (
                    masked(json.dumps(value, ensure_ascii=False))
                    for value in (seen[key], mine[key])
                )
                if a != b:
                    problems.append(f"{name} cell {cell} {key}:\n  kernel: {a!r}\n  grader: {b!r}")
        extra = set(got["cells"]) - set(ref["cells"])
        if extra and ref["ended"] == "ok":
            problems.append(f"{name}: cells {sorted(extra)} ran in the grader only")
    assert not problems, "\n".join(problems)


def test_the_comparison_can_fail(both: tuple[dict, dict]) -> None:
    """A changed output or error is seen: the masks hide timings and addresses only."""
    kernel, _ = both
    errors = kernel["probe-errors"]["cells"]
    assert errors["2"]["error"] == ["ZeroDivisionError", "division by zero"]
    assert masked("took 1.5 ms at 0x7f00deadbeef") == "took <time> at 0x<address>"
    assert masked("sys: 1e+03 ns, total: 2 µs") == "sys: <time>, total: <time>"
    assert masked("CPU times: user 4 μs, sys: 0 ns") == "CPU times: user <time>, sys: <time>"
    assert masked("tensor([1.5000])") == "tensor([1.5000])"
    assert masked("invalid syntax (<cell 3>, line 1)") == masked(
        "invalid syntax (4086266472.py, line 1)"
    )
    assert kernel["probe-hang"]["ended"] == "hung" and kernel["probe-hang"]["last_cell"] == "2"
