"""Mutation testing per seam: mutmut mutates one module and runs only that seam's fast tests,
so each figure says how much of the module its own unit tests would notice breaking.

    python scripts/mutation.py                  # every seam, one after the other
    python scripts/mutation.py compare store    # some seams
    python scripts/mutation.py compare --survivors   # and the diff of every surviving mutant

mutmut 3 reads one [tool.mutmut] table and cannot pair a module with a test file, so each
seam runs in its own copy of the checkout (.mutation/<seam>/) whose pyproject.toml adds
`only_mutate` and the test selection to the shared [tool.mutmut] settings. The copy stays
afterwards: `cd .mutation/compare && mutmut show NAME` (or `mutmut browse`) explains a survivor.
Prints "module: killed / total (percent)" per seam; a timeout counts as killed (the mutant
changed behaviour enough to hang), a mutant no test reaches counts as surviving.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / ".mutation"
KILLED = {"killed", "timeout"}
# mutmut's exit codes (mutmut.stats.status_by_exit_code), reduced to killed or not.
KILLED_CODES = {1, 3, 36, -24, 24, 152, 255}
NOT_COPIED = {".git", ".mutation", "mutants", ".pytest_cache", ".ruff_cache", "__pycache__"}

JUDGES = ["compare", "match", "distribution", "training", "autograd", "module"]
JUDGES += ["state_dict_file", "forbidden", "custom"]
SEAMS: dict[str, tuple[str, list[str]]] = {
    **{j: (f"grader/judges/{j}.py", [f"tests/judges/test_{j}.py"]) for j in JUDGES},
    "plan": ("grader/grading/plan.py", ["tests/grading/test_plan.py"]),
    "inputs": ("grader/course/inputs.py", ["tests/course/test_inputs.py"]),
    "store": ("grader/grading/store.py", ["tests/grading/test_store.py"]),
    "reading": ("grader/sandbox/protocol/reading.py", ["tests/sandbox/protocol/test_reading.py"]),
    # read_dispatched (the run-time record's reader) is tested beside the recorder.
    "values": (
        "grader/sandbox/protocol/values.py",
        ["tests/sandbox/protocol/test_values.py", "tests/sandbox/test_dispatch_record.py"],
    ),
}


def seam_pyproject(module: str, tests: list[str]) -> str:
    """The checkout's pyproject.toml with this seam's module and tests added to [tool.mutmut]
    (the file's last table, so lines appended at the end belong to it)."""
    text = (ROOT / "pyproject.toml").read_text()
    tables = [line for line in text.splitlines() if line.startswith("[")]
    assert tables[-1] == "[tool.mutmut]", "[tool.mutmut] must stay pyproject.toml's last table"
    seam = {"only_mutate": [module], "pytest_add_cli_args_test_selection": tests}
    return text + "".join(f"{key} = {json.dumps(value)}\n" for key, value in seam.items())


def prepare(seam: str) -> Path:
    """A fresh copy of the checkout for this seam (mutmut writes its mutants/ inside)."""
    module, tests = SEAMS[seam]
    work = RUNS / seam
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(ROOT, work, ignore=lambda _d, names: [n for n in names if n in NOT_COPIED])
    (work / "pyproject.toml").write_text(seam_pyproject(module, tests))
    return work


def exit_codes(work: Path, module: str) -> dict[str, int | None]:
    meta = work / "mutants" / f"{module}.meta"
    return json.loads(meta.read_text())["exit_code_by_key"]


def run_seam(seam: str, children: int, survivors: bool) -> tuple[int, int, float]:
    module, _tests = SEAMS[seam]
    work = prepare(seam)
    start = time.monotonic()
    mutmut = [sys.executable, "-m", "mutmut"]
    # One thread per worker: the machine's cores go to the workers, and torch's OpenMP
    # pool cannot hang a forked worker.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [*mutmut, "run", "--max-children", str(children)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{seam}: mutmut failed (exit {done.returncode})")
    codes = exit_codes(work, module)
    killed = sum(code in KILLED_CODES for code in codes.values())
    if survivors:
        for name, code in sorted(codes.items()):
            if code not in KILLED_CODES:
                shown = subprocess.run([*mutmut, "show", name], cwd=work, capture_output=True)
                print(f"--- {name} (exit code {code})")
                print(shown.stdout.decode(errors="replace"))
    return killed, len(codes), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seams", nargs="*", metavar="seam", help=", ".join(SEAMS))
    parser.add_argument("--survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument("--children", type=int, default=2, help="mutants run at once")
    args = parser.parse_args()
    unknown = [seam for seam in args.seams if seam not in SEAMS]
    if unknown:
        parser.error(f"unknown seam {unknown[0]!r}; the seams are {', '.join(SEAMS)}")
    for seam in args.seams or list(SEAMS):
        killed, total, seconds = run_seam(seam, args.children, args.survivors)
        percent = 100 * killed / total if total else 100.0
        line = f"{SEAMS[seam][0]}: {killed} / {total} ({percent:.1f} %) in {seconds:.0f} s"
        print(line, flush=True)


if __name__ == "__main__":
    main()
