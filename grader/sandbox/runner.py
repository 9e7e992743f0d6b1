"""The only grader code that runs inside the sandbox, beside the student's code.

It is a self-contained script (standard library, torch, safetensors; IPython for
notebooks) and knows nothing about expected answers: it receives a job folder holding
inputs, calls the student's entry points on them, and writes back plain data (JSON and
safetensors). Everything it writes is untrusted by the grader, which validates it.

Process tree, so that one bad function costs only itself:

    runner (imports torch once, never runs student code)
      +- file child per exercise file (loads the student's module)
      |    +- call child per probe (runs one probe, writes its result, exits)
      +- clean child per saved artifact (reads a file the student wrote, with no
         student code in memory)

Job folder layout::

    job.json             what to run (see grader/sandbox/protocol.md)
    inputs.safetensors   input tensors, referenced by key from job.json
    submission/          the student's files (read-only)
    out/                 results written here
    work/                a scratch folder per call (the call's working directory)
"""

from __future__ import annotations

import ast
import io
import json
import linecache
import os
import random
import re
import resource
import signal
import sys
import time
import traceback
import types
from pathlib import Path

import torch

MAX_TEXT = 4000  # characters kept of an exception message or a repr
CELLS_SUFFIX = ".cells.json"  # a notebook, as the grader extracted its code cells


# --------------------------------------------------------------------------- values
class EncodeContext:
    """Collects tensors of one result while its values are encoded as JSON."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tensors: dict[str, object] = {}

    def add(self, tensor) -> str:
        key = f"{self.prefix}{len(self.tensors)}"
        self.tensors[key] = tensor
        return key


def _type_name(value: object) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def safe_text(fn, value: object) -> str:
    try:
        text = fn(value)
        if not isinstance(text, str):
            return "<unprintable>"
        return text[:MAX_TEXT]
    except BaseException:
        return "<unprintable>"


def encode(value: object, ctx: EncodeContext, depth: int = 0) -> dict:
    """Turn a student's return value into tagged JSON; tensors go to ``ctx``."""
    if depth > 20:
        return {"t": "object", "class": _type_name(value), "repr": "<nested too deeply>"}
    cls = type(value)
    if value is None:
        return {"t": "none"}
    if cls is bool:
        return {"t": "bool", "v": value}
    if cls is int:
        return {"t": "int", "v": value} if abs(value) < 2**63 else {"t": "float", "v": float(value)}
    if cls is float:
        return {"t": "float", "v": value}
    if cls is str:
        return {"t": "str", "v": value[:MAX_TEXT]}
    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, ctx)
    if isinstance(value, torch.nn.Module):
        return _encode_module(value, ctx)
    if cls is torch.Size:
        return {"t": "size", "v": [int(d) for d in value]}
    if cls in (list, tuple):
        items = list(value)[:10000]
        return {"t": cls.__name__, "items": [encode(v, ctx, depth + 1) for v in items]}
    if cls is dict:
        pairs = list(value.items())[:10000]
        return {"t": "dict", "items": [[encode(k, ctx, depth + 1), encode(v, ctx, depth + 1)] for k, v in pairs]}
    return {"t": "object", "class": _type_name(value), "repr": safe_text(repr, value)}


def _encode_tensor(value, ctx: EncodeContext) -> dict:
    meta = {
        "t": "tensor",
        "class": _type_name(value),
        "exact": type(value) is torch.Tensor,
        "requires_grad": bool(value.requires_grad),
        "has_grad": value.grad is not None if value.is_leaf else False,
    }
    plain = value.detach()
    if type(plain) is not torch.Tensor:
        plain = plain.as_subclass(torch.Tensor)
    if plain.is_sparse or plain.layout != torch.strided:
        plain = plain.to_dense()
    meta["dtype"] = str(plain.dtype).replace("torch.", "")
    meta["shape"] = list(plain.shape)
    meta["key"] = ctx.add(plain.cpu().contiguous().clone())
    return meta


def _encode_module(module, ctx: EncodeContext) -> dict:
    state = {}
    for name, tensor in module.state_dict().items():
        state[str(name)] = _encode_tensor(tensor, ctx)
    params = [[str(n), list(p.shape)] for n, p in module.named_parameters()]
    children = [[str(n), _type_name(c)] for n, c in module.named_children()]
    return {
        "t": "module",
        "class": _type_name(module),
        "training": bool(module.training),
        "params": params,
        "children": children,
        "state": state,
    }


class MLP(torch.nn.Module):
    """The course's reference network shape, built from a plain description: named
    Linear layers with ReLU between them. Used for probes that hand the student a
    model (training, saving). Module-level, so a student's ``torch.save(model)``
    pickles it and the state_dict check can say why that is not a state_dict."""

    def __init__(self, layers: list[list]) -> None:
        super().__init__()
        self.names = [str(name) for name, _, _ in layers]
        for name, fan_in, fan_out in layers:
            setattr(self, str(name), torch.nn.Linear(int(fan_in), int(fan_out)))

    def forward(self, x):
        for i, name in enumerate(self.names):
            x = getattr(self, name)(x)
            if i < len(self.names) - 1:
                x = torch.relu(x)
        return x


def decode(spec: object, env: dict, tensors: dict) -> object:
    """Rebuild a probe's input value from its tagged JSON form."""
    if not isinstance(spec, dict):
        raise ValueError(f"malformed input {spec!r}")
    tag = spec["t"]
    if tag == "none":
        return None
    if tag in ("bool", "int", "float", "str"):
        return spec["v"]
    if tag == "tensor":
        tensor = tensors[spec["key"]].clone()
        if spec.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor
    if tag == "size":
        return torch.Size(spec["v"])
    if tag == "list":
        return [decode(v, env, tensors) for v in spec["items"]]
    if tag == "tuple":
        return tuple(decode(v, env, tensors) for v in spec["items"])
    if tag == "dict":
        return {decode(k, env, tensors): decode(v, env, tensors) for k, v in spec["items"]}
    if tag == "ref":
        return env[spec["name"]]
    if tag == "path":
        return str(Path.cwd() / spec["v"])
    if tag == "lambda":
        return eval("lambda " + spec["src"], {"torch": torch, "math": __import__("math")})
    if tag == "mlp":
        net = MLP(spec["layers"])
        if "state" in spec:
            net.load_state_dict({k: decode(v, env, tensors) for k, v in spec["state"].items()})
        return net
    raise ValueError(f"unknown input tag {tag!r}")


# --------------------------------------------------------------------------- errors
def describe_error(exc: BaseException, student_root: str) -> dict:
    """The exception's type, message and the frames in the student's own code."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if name.startswith(student_root):
            shown = os.path.relpath(name, student_root)
        elif name.startswith("<cell "):
            shown = name.strip("<>")
        else:
            continue
        frames.append({"file": shown, "line": frame.lineno, "function": frame.name,
                       "code": (frame.line or "")[:300]})
    if isinstance(exc, SyntaxError) and exc.filename:
        shown = exc.filename
        if shown.startswith(student_root):
            shown = os.path.relpath(shown, student_root)
        frames.append({"file": shown.strip("<>"), "line": exc.lineno or 0,
                       "function": "<module>", "code": (exc.text or "").rstrip()[:300]})
    return {
        "type": type(exc).__name__,
        "message": safe_text(str, exc),
        "frames": frames[-12:],
    }


# --------------------------------------------------------------------------- output
def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, allow_nan=True))
    os.replace(tmp, path)


def write_result(out: Path, stem: str, values: dict) -> None:
    """Encode named values; tensors to ``stem.safetensors``, the rest to ``stem.json``."""
    from safetensors.torch import save_file

    ctx = EncodeContext(prefix="v")
    encoded = {name: encode(value, ctx) for name, value in values.items()}
    if ctx.tensors:
        tmp = out / f"{stem}.safetensors.tmp"
        save_file(ctx.tensors, str(tmp))
        os.replace(tmp, out / f"{stem}.safetensors")
    write_json_atomic(out / f"{stem}.json", {"status": "ok", "values": encoded})


def redirect_output(path: Path) -> None:
    """Send fd 1 and 2 (and Python's streams) to ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0, closefd=False), write_through=True)
    sys.stderr = sys.stdout


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % 2**32)
    except ImportError:
        pass


# --------------------------------------------------------------------------- notebooks
class NotebookFinder:
    """Makes ``import NAME`` find a student's notebook, staged as NAME.cells.json."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery

        if "." in name:
            return None
        cells = self.root / f"{name}{CELLS_SUFFIX}"
        if not cells.is_file() or (self.root / f"{name}.py").exists():
            return None
        return importlib.machinery.ModuleSpec(name, NotebookLoader(cells), origin=str(cells))


class NotebookLoader:
    def __init__(self, cells_path: Path) -> None:
        self.cells_path = cells_path

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        errors = run_notebook_cells(module, self.cells_path)
        module.__dict__["__notebook_errors__"] = errors


_shell = None


def get_shell(namespace: dict):
    """An IPython shell for magics and shell escapes, sharing the notebook's namespace."""
    global _shell
    if _shell is None:
        from IPython.core.interactiveshell import InteractiveShell

        _shell = InteractiveShell.instance(user_ns=namespace)
        _shell.history_manager.enabled = False
    return _shell


def run_notebook_cells(module: types.ModuleType, cells_path: Path) -> list[dict]:
    """Run a notebook's code cells in order, like a kernel; a failing cell is recorded
    and the following cells still run."""
    import asyncio

    from IPython.core.inputtransformer2 import TransformerManager

    cells = json.loads(cells_path.read_text())
    namespace = module.__dict__
    namespace["get_ipython"] = lambda: get_shell(namespace)
    namespace.setdefault("display", _display)
    transformer = TransformerManager()
    errors = []
    for cell in cells:
        label = f"<cell {cell['number']}>"
        source = transformer.transform_cell(cell["source"])
        linecache.cache[label] = (len(source), None, source.splitlines(True), label)
        try:
            code = compile(source, label, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if code.co_flags & 0x80:  # CO_COROUTINE: the cell uses top-level await
                asyncio.run(eval(code, namespace))
            else:
                exec(code, namespace)
        except BaseException as exc:  # a cell that raises is reported, the rest still run
            info = describe_error(exc, "")
            info["cell"] = cell["number"]
            info["first_line"] = cell["source"].strip().splitlines()[0][:200] if cell["source"].strip() else ""
            errors.append(info)
            traceback.print_exc()
    return errors


def _display(*objs, **kwargs) -> None:
    for obj in objs:
        print(safe_text(repr, obj))


# --------------------------------------------------------------------------- processes
def wait_for(pid: int, deadline: float) -> tuple[str, int]:
    """Wait for ``pid`` until ``deadline``; kill it then. Returns (how, code)."""
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return "signal", os.WTERMSIG(status)
            return "exited", os.WEXITSTATUS(status)
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return "timeout", -1
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def set_limit(which: int, value: int) -> None:
    try:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value if hard == resource.RLIM_INFINITY else hard))
    except (ValueError, OSError):
        pass


def warm_up() -> None:
    """Pay torch's first-use costs (the autograd engine; optimizers import torch._dynamo,
    about 1.5 s) once, before forking, rather than in every child that trains."""
    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.zeros(1, 2)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()


class Runner:
    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.job = json.loads((job_dir / "job.json").read_text())
        self.submission = (job_dir / "submission").resolve()
        self.out = job_dir / "out"
        self.work = job_dir / "work"
        self.out.mkdir(exist_ok=True)
        self.work.mkdir(exist_ok=True)

    def load_inputs(self) -> dict:
        path = self.job_dir / "inputs.safetensors"
        if not path.exists():
            return {}
        from safetensors.torch import load_file

        return load_file(str(path))

    # The runner itself: never runs student code, only forks children that do.
    def run(self) -> None:
        torch.set_num_threads(int(self.job.get("threads", 1)))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        inputs = self.load_inputs()
        warm_up()
        for file_job in self.job["files"]:
            self.run_file(file_job, inputs)
        for file_job in self.job["files"]:
            for call in file_job["calls"]:
                for artifact in call.get("artifacts", []):
                    self.read_artifact(call, artifact)

    def run_file(self, file_job: dict, inputs: dict) -> None:
        module_name = file_job["module"]
        loaded_flag = self.out / f"loaded-{module_name}"
        budget = float(file_job["load_timeout"]) + sum(float(c["timeout"]) + 0.5 for c in file_job["calls"]) + 1
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                FileChild(self, file_job, inputs).run(loaded_flag)
                code = 0
            finally:
                os._exit(code)
        start = time.monotonic()
        load_deadline = start + float(file_job["load_timeout"])
        # Two deadlines: loading the module, then the whole file.
        while not loaded_flag.exists():
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.note_file_end(module_name, status)
                return
            if time.monotonic() >= load_deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                write_json_atomic(self.out / f"load-{module_name}.json", {"status": "timeout"})
                return
            time.sleep(0.005)
        how, code = wait_for(pid, start + budget)
        if how == "timeout":
            write_json_atomic(self.out / f"file-{module_name}.json", {"status": "timeout"})

    def note_file_end(self, module_name: str, status: int) -> None:
        load = self.out / f"load-{module_name}.json"
        if not load.exists():
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
            write_json_atomic(load, {"status": "exited", "code": code})

    def read_artifact(self, call: dict, artifact: dict) -> None:
        """Read a state_dict the student saved, in a child with no student code loaded:
        ``torch.load(weights_only=True)`` refuses anything but tensors and containers."""
        stem = f"artifact-{call['id']}-{artifact['name']}"
        path = self.work / call["id"] / artifact["path"]
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                redirect_output(self.out / f"{stem}.log")
                set_limit(resource.RLIMIT_CPU, 30)
                if not path.is_file() or path.is_symlink():
                    write_json_atomic(self.out / f"{stem}.json",
                                      {"status": "error", "error": {"type": "FileNotFoundError",
                                       "message": f"no file was written at {artifact['path']}", "frames": []}})
                else:
                    try:
                        data = torch.load(str(path), weights_only=True, map_location="cpu")
                        if not isinstance(data, dict):
                            raise TypeError(f"the file holds a {type(data).__name__}, not a state_dict")
                        state = {}
                        for key, value in data.items():
                            if not isinstance(key, str) or not isinstance(value, torch.Tensor):
                                raise TypeError("a state_dict maps parameter names to tensors")
                            state[key] = value
                        write_result(self.out, stem, {"state_dict": state})
                    except Exception as exc:
                        error = describe_error(exc, "")
                        if "Weights only load failed" in error["message"]:
                            # torch's message is long and about trusting files; say what it means here.
                            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", error["message"])
                            what = f" (it contains a {found.group(1)})" if found else ""
                            error["message"] = ("it holds pickled Python objects, such as a whole model, "
                                                f"not only tensors{what}")
                        write_json_atomic(self.out / f"{stem}.json", {"status": "error", "error": error})
                code = 0
            finally:
                os._exit(code)
        wait_for(pid, time.monotonic() + 30)


class FileChild:
    """Loads one student module, then runs each probe in a child of its own."""

    def __init__(self, runner: Runner, file_job: dict, inputs: dict) -> None:
        self.runner = runner
        self.file_job = file_job
        self.inputs = inputs
        self.out = runner.out

    def run(self, loaded_flag: Path) -> None:
        name = self.file_job["module"]
        memory = int(self.file_job.get("memory_mb", 0))
        if memory:
            set_limit(resource.RLIMIT_AS, memory * 2**20)
        redirect_output(self.out / f"load-{name}.log")
        seed_everything(int(self.runner.job.get("seed", 0)))
        sys.path.insert(0, str(self.runner.submission))
        sys.meta_path.append(NotebookFinder(self.runner.submission))
        sys.argv = [name]
        os.chdir(self.runner.work)
        module = None
        try:
            module = self.load(name)
            record = {"status": "ok"}
            cell_errors = module.__dict__.get("__notebook_errors__") or []
            if cell_errors:
                record["cell_errors"] = cell_errors
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too
            record = {"status": "error", "error": describe_error(exc, str(self.runner.submission))}
        write_json_atomic(self.out / f"load-{name}.json", record)
        loaded_flag.touch()
        for call in self.file_job["calls"]:
            self.run_call(module, call)

    def load(self, name: str) -> types.ModuleType:
        import importlib

        sys.modules.pop(name, None)
        return importlib.import_module(name)

    def run_call(self, module, call: dict) -> None:
        call_id = call["id"]
        workdir = self.runner.work / call_id
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                CallChild(self, module, call, workdir).run()
                code = 0
            finally:
                os._exit(code)
        how, code = wait_for(pid, started + float(call["timeout"]))
        write_json_atomic(self.out / f"status-{call_id}.json",
                          {"how": how, "code": code, "seconds": round(time.monotonic() - started, 4)})


class CallChild:
    """Runs one probe: its steps, then writes the values it was asked to keep."""

    def __init__(self, parent: FileChild, module, call: dict, workdir: Path) -> None:
        self.parent = parent
        self.module = module
        self.call = call
        self.workdir = workdir

    def run(self) -> None:
        out = self.parent.out
        call_id = self.call["id"]
        redirect_output(out / f"call-{call_id}.log")
        os.chdir(self.workdir)
        set_limit(resource.RLIMIT_CPU, int(float(self.call["timeout"])) + 1)
        seed_everything(int(self.call.get("seed", 0)))
        try:
            if self.module is None:
                raise RuntimeError("the module did not load")
            env = perform_steps(self.module, self.call, self.parent.inputs, self.workdir)
            kept = {name: env[name] for name in self.call.get("keep", []) if name in env}
            write_result(out, f"call-{call_id}", kept)
        except BaseException as exc:
            error = describe_error(exc, str(self.parent.runner.submission))
            write_json_atomic(out / f"call-{call_id}.json", {"status": "error", "error": error})
        sys.stdout.flush()


def perform_steps(module, call: dict, inputs: dict, workdir: Path) -> dict:
    """Run one probe's steps against a loaded student module; returns the bound values."""
    env: dict = {}
    namespace = module.__dict__
    for step in call["steps"]:
        kind = step["do"]
        args = [decode(a, env, inputs) for a in step.get("args", [])]
        kwargs = {k: decode(v, env, inputs) for k, v in step.get("kwargs", {}).items()}
        if kind == "bind":
            value = decode(step["value"], env, inputs)
        elif kind == "call":
            target = step["target"]
            if target in env:
                fn = env[target]
            elif target in namespace:
                fn = namespace[target]
            else:
                raise MissingEntryPoint(target)
            value = fn(*args, **kwargs)
        elif kind == "method":
            value = getattr(env[step["target"]], step["method"])(*args, **kwargs)
        elif kind == "eval":
            scope = dict(namespace)
            scope.setdefault("torch", torch)
            value = eval(compile(step["expr"], "<example>", "eval"), scope)
        elif kind == "grad":
            result = env[step["of"]]
            if not isinstance(result, torch.Tensor) or not result.requires_grad:
                raise NotDifferentiable()
            (value,) = torch.autograd.grad(result.sum(), env[step["wrt"]], allow_unused=True)
        elif kind == "save_state_dict":
            state = decode(step["value"], env, inputs)
            if isinstance(state, torch.nn.Module):
                state = state.state_dict()  # save weights only, never a pickled module
            torch.save(state, str(workdir / step["path"]))
            value = None
        else:
            raise ValueError(f"unknown step {kind!r}")
        if "as" in step:
            env[step["as"]] = value
    return env


class MissingEntryPoint(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"the file defines no '{name}'")


class NotDifferentiable(Exception):
    def __init__(self) -> None:
        super().__init__("the result is not connected to the input by autograd")


def main() -> None:
    Runner(Path(sys.argv[1])).run()


if __name__ == "__main__":
    main()
