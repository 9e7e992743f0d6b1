"""Errors that come from where grading runs, not from the student's logic: no GPU, no
network, no shell tools beyond a minimal system. A notebook written on Colab meets
them at once (`.cuda()`, `!nvidia-smi`, a download), so the report says it in plain
words, once per exercise, with what to write instead.

Matched on the exception's type and message as the sandbox returned them, and on the
lines a shell prints for a command it cannot find.
"""

from __future__ import annotations

import re

CPU_NO_NETWORK = "grading runs on a CPU without a network"

CUDA = re.compile(
    r"Torch not compiled with CUDA enabled|Found no NVIDIA driver|no CUDA-capable device"
    r"|No CUDA GPUs are available|CUDA driver initialization failed"
    r"|on a CUDA device but torch\.cuda\.is_available\(\) is False"
)
NETWORK_TYPES = {
    "URLError",
    "gaierror",
    "ConnectionError",
    "ConnectionRefusedError",
    "NameResolutionError",
    "NewConnectionError",
    "MaxRetryError",
}
NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable"
    r"|No address associated with hostname|Failed to resolve"
)
# What sh, dash and bash print for a command that is not installed (`!nvidia-smi`).
NOT_FOUND = re.compile(
    r"^(?:/usr)?(?:/bin/)?(?:ba|da)?sh: (?:line )?\d+: ([^\s:]{1,80}): (?:command )?not found\s*$",
    re.MULTILINE,
)
MISSING_PROGRAM = re.compile(r"No such file or directory: '(nvidia-smi|wget|curl|git|unzip)'")

GPU_LINE = (
    f"{CPU_NO_NETWORK}, so there is no GPU: write `device = 'cuda' if "
    "torch.cuda.is_available() else 'cpu'` and `.to(device)` instead of `.cuda()` or "
    "`device='cuda'` (and `torch.load(..., map_location=device)` for a file saved on a GPU)"
)
NETWORK_LINE = (
    f"{CPU_NO_NETWORK}, so nothing can be downloaded: load data from the files given with "
    "the exercise, not from the internet"
)


def error_line(kind: str, message: str) -> str | None:
    """The plain-words line for an error of type ``kind``, if the environment caused it."""
    if CUDA.search(message):
        return GPU_LINE
    if kind in NETWORK_TYPES or NETWORK.search(message):
        return NETWORK_LINE
    found = MISSING_PROGRAM.search(message) if kind == "FileNotFoundError" else None
    return _program_line(found[1]) if found else None


def output_lines(text: str) -> list[str]:
    """Lines for the shell commands that printed "not found" (``!nvidia-smi``)."""
    return [_program_line(name) for name in dict.fromkeys(NOT_FOUND.findall(text))]


def _program_line(name: str) -> str:
    if name == "nvidia-smi":
        return (
            f"{CPU_NO_NETWORK}, so `nvidia-smi` is not there: leave it out of the notebook you "
            "hand in, and ask `torch.cuda.is_available()` where the code needs to know"
        )
    return (
        f"{CPU_NO_NETWORK}, with only Python's packages installed, so the command `{name}` "
        "is not there: leave it out of the notebook you hand in"
    )


class EnvironmentLines:
    """The lines for one exercise, each said once, in the order first met."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def error(self, kind: str, message: str) -> None:
        self._add(error_line(kind, message))

    def output(self, text: str) -> None:
        for line in output_lines(text):
            self._add(line)

    def _add(self, line: str | None) -> None:
        if line is not None and line not in self.lines:
            self.lines.append(line)
