"""Run notebooks through the grader's own notebook path (``NotebookRun`` of the sandbox
runner), recording what each cell printed and raised, for the agreement tests.

``python tests/notebook_fastpath.py JOBS.json RESULTS.json``: JOBS is a list of
{"name", "cells" (as the grader stages them), "workdir", "timeout"}. Like the sandbox's
worker, this process imports torch and IPython once and forks a fresh child per notebook;
a child that runs past its time is killed and reported as hung in the last cell it began.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grader" / "sandbox" / "inside"))

import runner  # noqa: E402  (the sandbox's runner: the code under test)


def run_child(job: dict, folder: Path) -> None:
    os.chdir(job["workdir"])
    home = str(folder)
    os.environ.update(
        {"HOME": home, "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.mpl"}
    )
    stdout = os.open(folder / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(folder / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)
    progress = open(folder / "progress", "w", buffering=1)

    def before_cell(number: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        progress.write(f"{number} {os.fstat(1).st_size} {os.fstat(2).st_size}\n")

    errors = runner.NotebookRun(before_cell=before_cell, show_tracebacks=False).run(job["cells"])
    sys.stdout.flush()
    sys.stderr.flush()
    progress.write(f"end {os.fstat(1).st_size} {os.fstat(2).st_size}\n")
    (folder / "errors.json").write_text(json.dumps(errors))


def outcome(folder: Path, ended: str) -> dict:
    """Per cell: what it printed to stdout and stderr, and the error it raised."""
    out, err = (folder / "stdout").read_bytes(), (folder / "stderr").read_bytes()
    marks = [line.split() for line in (folder / "progress").read_text().splitlines()]
    cells: dict[str, dict] = {}
    for (name, o1, e1), (_, o2, e2) in zip(
        marks, marks[1:] + [["end", len(out), len(err)]], strict=True
    ):
        if name == "end":
            break
        cells[name] = {
            "stdout": out[int(o1) : int(o2)].decode("utf-8", "replace"),
            "stderr": err[int(e1) : int(e2)].decode("utf-8", "replace"),
            "error": None,
        }
    errors = (
        json.loads((folder / "errors.json").read_text())
        if (folder / "errors.json").exists()
        else []
    )
    for error in errors:
        cells[str(error["cell"])]["error"] = [error["type"], error["message"]]
    last = marks[-1][0] if marks and marks[-1][0] != "end" else None
    return {"ended": ended, "last_cell": last, "cells": cells}


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    results = {}
    for job in jobs:
        folder = Path(job["workdir"]).parent / f"{job['name']}.fastpath"
        folder.mkdir(parents=True, exist_ok=True)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_child(job, folder)
            except BaseException:
                code = 1
            os._exit(code)
        deadline = time.monotonic() + job["timeout"]
        ended = "ok"
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                    ended = "died"
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                ended = "hung"
                break
            time.sleep(0.01)
        results[job["name"]] = outcome(folder, ended)
    Path(sys.argv[2]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
