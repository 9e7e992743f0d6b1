"""A Python environment every user of this machine can reach, for grading as root with
the confined fallback (grader/sandbox/confine.py).

The fallback runs student code as users of its own, which must be able to start the
grader's Python. The suite's own Python may sit under /root (pyenv), which no other user
can enter: there the grader rightly refuses to grade. So these tests build a venv from
the system's Python with the grader's dependencies, once, world-readable under
/var/tmp, and reuse it while the Python and the dependency list stay the same (about a
minute to build; seconds to check).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib
from conftest import ROOT

SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")
TORCH = "torch==2.13.0"  # the local CPU build (see DEVELOPERS.md); anything else is multi-GB


def reachable_by_others(path: str) -> bool:
    """Whether a user who is not root could read ``path`` (every folder above it searchable)."""
    current = Path(os.path.realpath(path))
    for folder in [*reversed(current.parents), current]:
        mode = folder.stat().st_mode
        if folder != current and not mode & 0o001:
            return False
    return bool(current.stat().st_mode & 0o004)


def _system_python() -> str | None:
    for candidate in SYSTEM_PYTHONS:
        if os.path.exists(candidate) and reachable_by_others(candidate):
            version = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info >= (3, 10))"],
                capture_output=True,
                text=True,
            )
            if version.stdout.strip() == "True":
                return candidate
    return None


def world_python() -> tuple[str | None, str]:
    """(the path of a Python every user can run, with the grader's dependencies, or None;
    why not)."""
    if reachable_by_others(sys.executable) and reachable_by_others(sys.prefix):
        return sys.executable, "the suite's own Python"
    base = _system_python()
    if base is None:
        return None, f"no Python that every user can run ({', '.join(SYSTEM_PYTHONS)})"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    deps = [TORCH if d.replace(" ", "").startswith("torch>") or d == "torch" else d for d in deps]
    version = subprocess.run(
        [base, "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    ).stdout
    key = hashlib.sha256(("\n".join([base, version, *deps])).encode()).hexdigest()[:16]
    home = Path("/var/tmp") / f"torch-grader-world-python-{key}"
    python = home / "bin" / "python"
    if (home / "READY").exists():
        return str(python), "a venv of the system's Python"
    build = Path(tempfile.mkdtemp(prefix="torch-grader-world-python-", dir="/var/tmp"))
    try:
        subprocess.run([base, "-m", "venv", str(build)], check=True, capture_output=True)
        pip = subprocess.run(
            [str(build / "bin" / "python"), "-m", "pip", "install", "-q", *deps],
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            return None, f"pip could not install the grader's dependencies: {pip.stderr[-500:]}"
        os.chmod(build, 0o755)
        (build / "READY").write_text("\n".join(deps))
        try:
            build.rename(home)  # venvs are not relocatable by name... except bin/ scripts, unused
        except OSError:
            if not (home / "READY").exists():
                raise
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return str(python), "a venv of the system's Python"
