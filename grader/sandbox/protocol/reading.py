"""The grader's readers for a finished job folder: hostile bytes, read without ever
raising or blocking.

Student code could have written anything in the job folder: links (to a classmate's
live job folder, say), FIFOs, sockets, folders where files belong, huge or deeply
nested JSON, safetensors headers that make the library allocate or panic. So the folder
is opened once, as a directory fd that is not a link, and every file is reached by
walking from that fd one component at a time, never following a link at any component
(``O_NOFOLLOW``), never waiting on a FIFO (``O_NONBLOCK``), accepting only regular
files (``fstat`` after the open), and reading at most a cap per kind of file. Every
problem comes back as an ``Unreadable`` that says what was wrong, which the caller
turns into the check's message; a missing file is ``None`` (the check did not finish).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout
from .values import WireError, decode_outputs

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = FILE_FLAGS | os.O_DIRECTORY

MAX_JSON_BYTES = 32 * 2**20
MAX_TENSOR_FILE_BYTES = 512 * 2**20
MAX_JSON_DEPTH = 80  # a returned value 20 containers deep (the sandbox's limit) is 66 levels
MAX_HEADER_BYTES = 4 * 2**20  # 4,096 entries (keys v0, v1, ...) take well under a MB
MAX_TENSORS = 4096  # per safetensors file: each costs memory however small it is
MAX_DIMS = 64
# safetensors dtypes the sandbox writes, and their sizes in bytes.
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E4M3FNUZ": 1,
    "F8_E5M2": 1,
    "F8_E5M2FNUZ": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}


@dataclass(frozen=True)
class Unreadable:
    """A file of the job folder the grader could not use, and why."""

    reason: str

    @property
    def message(self) -> str:
        return f"the sandbox's output was unreadable: {self.reason}"


@dataclass(frozen=True)
class Values:
    """A result record and, if it says "ok", its decoded values."""

    record: dict
    values: dict[str, Any]


def _why(exc: OSError, name: str | Path, dir_fd: int | None = None) -> str:
    """Why opening ``name`` failed, in words (a link opened as a folder says ENOTDIR)."""
    if exc.errno == errno.ENOTDIR:
        try:
            link = stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
        except OSError:
            link = False
        return "is a symbolic link" if link else "is not a folder"
    if exc.errno == errno.ELOOP:
        return "is a symbolic link"
    if exc.errno == errno.ENXIO:
        return "is not a regular file (a socket?)"
    return f"cannot be opened ({exc.strerror})"


def too_deep(data: Any, limit: int) -> bool:
    """Whether JSON data nests containers more than ``limit`` levels (iteratively, so
    that data of any depth is measured without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_json(raw: bytes, name: str, depth: int | None = MAX_JSON_DEPTH) -> Any:
    """A JSON object from untrusted bytes, or Unreadable (``depth`` None: the caller
    measures it)."""
    try:
        data = json.loads(raw)
    except RecursionError:
        return Unreadable(f"{name} is nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        return Unreadable(f"{name} is not valid JSON: {str(exc)[:200]}")
    if not isinstance(data, dict):
        return Unreadable(f"{name} does not hold an object")
    if depth is not None and too_deep(data, depth):
        return Unreadable(f"{name} is nested more than {depth} levels deep")
    return data


def check_safetensors(raw: bytes, name: str) -> Unreadable | None:
    """Validate a safetensors file's header before the library sees it: the header's
    length within the file, at most MAX_TENSORS tensors of known dtypes, shapes of
    non-negative ints, and data offsets in bounds and consistent with dtype and shape."""
    if len(raw) < 8:
        return Unreadable(f"{name} is truncated")
    size = int.from_bytes(raw[:8], "little")
    if size > MAX_HEADER_BYTES or 8 + size > len(raw):
        return Unreadable(f"{name}: the header's length is out of bounds")
    header = parse_json(raw[8 : 8 + size], name, depth=None)
    if isinstance(header, Unreadable):
        return header
    if len(header) > MAX_TENSORS + 1:  # (+1: the metadata) before walking each entry
        return Unreadable(f"{name} holds more than {MAX_TENSORS} tensors")
    if too_deep(header, 3):
        return Unreadable(f"{name}: the header is nested too deeply")
    metadata = header.get("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        return Unreadable(f"{name}: malformed metadata")
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    if len(entries) > MAX_TENSORS:
        return Unreadable(f"{name} holds more than {MAX_TENSORS} tensors")
    room = len(raw) - 8 - size
    for key, info in entries:
        if not (isinstance(info, dict) and info.get("dtype") in DTYPE_BYTES):
            return Unreadable(f"{name}: tensor {key[:40]!r} has no known dtype")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not (
            isinstance(shape, list)
            and len(shape) <= MAX_DIMS
            and all(type(d) is int and d >= 0 for d in shape)
        ):
            return Unreadable(f"{name}: tensor {key[:40]!r} has a malformed shape")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= room
        ):
            return Unreadable(f"{name}: tensor {key[:40]!r} has data offsets out of bounds")
        if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[info["dtype"]]:
            return Unreadable(f"{name}: tensor {key[:40]!r} does not match its dtype and shape")
    return None


def load_safetensors(raw: bytes, name: str) -> dict[str, Any] | Unreadable:
    """Tensors from a checked safetensors file, or Unreadable."""
    from safetensors.torch import load

    try:
        tensors = load(raw)  # from bytes: for small files, much cheaper than a memory map
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 - its Rust panics are BaseExceptions (pyo3)
        return Unreadable(
            f"{name} is not a valid safetensors file: {type(exc).__name__}: {str(exc)[:200]}"
        )
    import torch

    for key, tensor in tensors.items():
        # A bool byte other than 0 or 1 is undefined behaviour in torch's kernels.
        if tensor.dtype == torch.bool and tensor.numel() and tensor.view(torch.uint8).max() > 1:
            return Unreadable(f"{name}: tensor {key[:40]!r} holds bools other than 0 and 1")
    return tensors


def read_bounded(fd: int, cap: int, size: int = 0) -> bytes:
    """At most ``cap + 1`` bytes from ``fd`` (one more than allowed says "too large"),
    whatever its ``size`` said: a file may grow after its fstat. (Each read asks for
    what is expected: os.read allocates what it is asked for.)"""
    chunks, total = [], 0
    while total <= cap:
        chunk = os.read(fd, min(cap + 1 - total, max(size + 1 - total, 2**16)))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


class JobFolder:
    """A finished job folder, opened once; every read walks from its fd. Holds one fd
    until ``close``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._problem: Unreadable | None = None
        self._status: dict | None = None
        try:
            self._fd = os.open(path, DIR_FLAGS)
        except FileNotFoundError:  # the job's own code may delete it
            self._problem = Unreadable("the job folder is missing")
        except OSError as exc:
            self._problem = Unreadable(f"the job folder {_why(exc, path)}")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JobFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- files
    def open(self, rel: str) -> int | Unreadable | None:
        """An fd of the regular file at ``rel`` ("out/call-x.json"), reached without
        following a link at any component; None if it does not exist. The caller
        closes it."""
        if self._fd is None:
            return self._problem
        parts = rel.split("/")
        folders: list[int] = []  # the folders on the way, closed once the file is open
        try:
            current = self._fd
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                try:
                    fd = os.open(part, FILE_FLAGS if last else DIR_FLAGS, dir_fd=current)
                except FileNotFoundError:
                    return None
                except OSError as exc:
                    return Unreadable(f"{'/'.join(parts[: index + 1])} {_why(exc, part, current)}")
                if not last:
                    folders.append(fd)
                    current = fd
        finally:
            for folder in folders:
                os.close(folder)
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            regular = False
        if not regular:
            os.close(fd)
            return Unreadable(f"{rel} is not a regular file")
        return fd

    def read(self, rel: str, cap: int, head: bool = False) -> bytes | Unreadable | None:
        """The file's bytes; more than ``cap`` is Unreadable (or, with ``head``, cut)."""
        fd = self.open(rel)
        if not isinstance(fd, int):
            return fd
        try:
            size = os.fstat(fd).st_size
            if not head and size > cap:  # refused before reading a byte
                return Unreadable(f"{rel} is larger than {cap} bytes")
            data = read_bounded(fd, cap, size)
        except OSError as exc:
            return Unreadable(f"{rel} cannot be read ({exc.strerror})")
        finally:
            os.close(fd)
        if len(data) > cap:
            return data[:cap] if head else Unreadable(f"{rel} is larger than {cap} bytes")
        return data

    def read_span(self, rel: str, start: int, length: int) -> bytes | Unreadable | None:
        """At most ``length`` bytes of ``rel`` from ``start``."""
        fd = self.open(rel)
        if not isinstance(fd, int):
            return fd
        try:
            return os.pread(fd, length, start)
        except (OSError, OverflowError) as exc:
            return Unreadable(f"{rel} cannot be read ({exc})")
        finally:
            os.close(fd)

    def read_json(self, rel: str) -> dict | Unreadable | None:
        raw = self.read(rel, MAX_JSON_BYTES)
        return raw if not isinstance(raw, bytes) else parse_json(raw, rel)

    def read_tensors(self, rel: str) -> dict[str, Any] | Unreadable | None:
        raw = self.read(rel, MAX_TENSOR_FILE_BYTES)
        if not isinstance(raw, bytes):
            return raw
        return check_safetensors(raw, rel) or load_safetensors(raw, rel)

    def read_text(self, rel: str, cap: int) -> str:
        """The first ``cap`` bytes of a log as text; "" if it cannot be read."""
        raw = self.read(rel, cap, head=True)
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""

    # -------------------------------------------------------------- records
    def record(self, stem: str) -> dict | Unreadable | None:
        """``out/<stem>.json``."""
        return self.read_json(f"{layout.OUT}/{layout.json_name(stem)}")

    def values(self, stem: str) -> Values | Unreadable | None:
        """``out/<stem>.json`` and its tensors, decoded."""
        record = self.record(stem)
        if not isinstance(record, dict):
            return record
        if record.get("status") != "ok":
            return Values(record, {})
        rel = f"{layout.OUT}/{layout.tensors_name(stem)}"
        tensors = self.read_tensors(rel)
        if isinstance(tensors, Unreadable):
            return tensors
        try:
            return Values(record, decode_outputs(record.get("values"), tensors or {}))
        except WireError as exc:
            return Unreadable(f"{layout.OUT}/{layout.json_name(stem)}: {exc}")

    def status(self) -> dict:
        """status.json (how each check ended, where its output is); {} if unusable."""
        if self._status is None:
            record = self.record(layout.STATUS)
            self._status = record if isinstance(record, dict) else {}
        return self._status

    def call_status(self, call_id: str) -> dict:
        """How one check's run ended, as the job's supervisor recorded it."""
        calls = self.status().get("calls")
        found = calls.get(call_id) if isinstance(calls, dict) else None
        return found if isinstance(found, dict) else {}

    def output(self, key: str, cap: int) -> str:
        """What the student's code printed during one item (``load-<file>``,
        ``call-<id>``): a span of one of the output-N.log files, at most ``cap``
        characters, with a note when it was cut."""
        spans = self.status().get("output")
        span = spans.get(key) if isinstance(spans, dict) else None
        if not (
            isinstance(span, list)
            and len(span) == 3
            and all(type(v) is int and v >= 0 for v in span)
        ):
            return ""
        number, start, end = span
        if end <= start:
            return ""
        rel = f"{layout.OUT}/{layout.output_log(number)}"
        data = self.read_span(rel, start, min(end - start, cap + 1))
        if not isinstance(data, bytes):
            return ""
        text = data[:cap].decode("utf-8", "replace")
        if end - start > cap:
            text += f"\n[output truncated after {cap} characters]"
        return text


def read_runner_log(job_dir: Path, cap: int) -> str:
    """The head of a job's runner.log, read as hostile bytes like every other file."""
    with JobFolder(job_dir) as folder:
        return folder.read_text(layout.RUNNER_LOG, cap)
