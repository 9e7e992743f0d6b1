"""Generate a class of realistic submissions of the full course, for benchmarks.

Every student gets all eleven exercise files, built from ``solutions/`` and from
``examples/submissions/ben_typical_mistakes/``. Each file starts with a comment naming
its student, so no two students' files are identical. Kinds of student:

- ``correct`` (~60%): the reference solutions;
- ``wrong`` (~35%): 1-4 exercises replaced by one of ben's mistakes, a missing file, a
  syntax error, or a ``raise NotImplementedError`` stub line in one function;
- ``timeout`` (~3%, at least one when n >= 10): correct, except ``tensor_ops.row_sum``
  loops forever, so its one hidden check costs its time limit (5 s) in the grader and in
  the floor alike. (The entry point with the fewest checks: timeouts cost both sides the
  same, so more of them would dilute the grader/floor ratio.)

The output folder holds only student folders (``s0001``, ...): the grader treats every
subfolder as a student. The kinds are returned (and printed by the CLI), not written.

    python bench/make_submissions.py OUT -n 200 [--seed 0]
"""

from __future__ import annotations

import argparse
import ast
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
BEN = ROOT / "examples" / "submissions" / "ben_typical_mistakes"

TIMEOUT_FILE, TIMEOUT_ENTRY = "tensor_ops", "row_sum"  # a quick exercise: 5 s per check
MISTAKES = ("ben", "missing", "syntax", "stub")
MISTAKE_WEIGHTS = (55, 15, 15, 15)
LOOP_MARKER = "while True:"


def course_files(solutions: Path = SOLUTIONS) -> list[str]:
    """The exercise module names, from the reference solutions (``tensor_ops``, ...)."""
    return sorted(p.stem for p in solutions.glob("*.py"))


def _body(text: str) -> str:
    """A file without its first line (the module docstring naming its author)."""
    return text.split("\n", 1)[1] if "\n" in text else ""


def ben_mistakes(solutions: Path = SOLUTIONS, ben: Path = BEN) -> dict[str, str]:
    """Ben's files that really differ from the solution (some of his are correct)."""
    found = {}
    for path in sorted(ben.glob("*.py")):
        solution = solutions / path.name
        text = path.read_text(encoding="utf-8")
        if solution.exists() and _body(text) != _body(solution.read_text(encoding="utf-8")):
            found[path.stem] = text
    return found


def _functions(source: str, top_level_only: bool = False) -> list[ast.FunctionDef]:
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    return [n for n in nodes if isinstance(n, ast.FunctionDef) and n.body[0].lineno > n.lineno]


def insert_first_line(source: str, fn: ast.FunctionDef, lines: list[str]) -> str:
    """Insert ``lines`` (relative indentation) as the first statements of ``fn``."""
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(fn.body) > 1:
        first = fn.body[1]  # keep a docstring first
    rows = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    added = [f"{indent}{line}\n" for line in lines]
    rows[first.lineno - 1 : first.lineno - 1] = added
    result = "".join(rows)
    compile(result, "<generated>", "exec")  # the mutation itself must stay valid Python
    return result


def make_stub(source: str, rng: random.Random) -> str:
    """One function (or method) starts with ``raise NotImplementedError``."""
    fn = rng.choice(_functions(source))
    return insert_first_line(source, fn, ["raise NotImplementedError  # TODO"])


def make_endless(source: str, rng: random.Random, name: str | None = None) -> str:
    """Top-level function ``name`` (else a random one) loops forever before its work."""
    functions = _functions(source, top_level_only=True)
    named = [f for f in functions if f.name == name]
    fn = named[0] if named else rng.choice(functions)
    return insert_first_line(source, fn, [LOOP_MARKER, "    pass"])


def make_syntax_error(source: str, rng: random.Random) -> str:
    """A half-finished helper at the end: a def without its colon."""
    helper = rng.choice(["helper", "check_shapes", "debug"])
    return source.rstrip("\n") + f"\n\n\ndef {helper}(x)\n    return x\n"


def plan_kinds(n: int, rng: random.Random) -> list[str]:
    """Kinds for ``n`` students, in a shuffled order."""
    timeouts = max(round(0.03 * n), 1 if n >= 10 else 0)
    wrong = round(0.35 * n)
    kinds = ["timeout"] * timeouts + ["wrong"] * wrong
    kinds += ["correct"] * (n - len(kinds))
    rng.shuffle(kinds)
    return kinds


def student_files(
    kind: str, student: str, rng: random.Random, solutions: dict[str, str], mistakes: dict[str, str]
) -> dict[str, str]:
    """File name -> text for one student of ``kind``."""
    texts = dict(solutions)
    if kind == "timeout":
        texts[TIMEOUT_FILE] = make_endless(texts[TIMEOUT_FILE], rng, TIMEOUT_ENTRY)
    elif kind == "wrong":
        for name in sorted(rng.sample(sorted(texts), rng.randint(1, 4))):
            choices = [m for m in MISTAKES if m != "ben" or name in mistakes]
            weights = [MISTAKE_WEIGHTS[MISTAKES.index(m)] for m in choices]
            mistake = rng.choices(choices, weights)[0]
            if mistake == "missing":
                del texts[name]
            elif mistake == "ben":
                texts[name] = mistakes[name]
            elif mistake == "syntax":
                texts[name] = make_syntax_error(texts[name], rng)
            else:
                texts[name] = make_stub(texts[name], rng)
    elif kind != "correct":
        raise ValueError(f"unknown kind {kind!r}")
    return {f"{name}.py": f"# submitted by {student}\n{text}" for name, text in texts.items()}


def generate(out: Path, n: int, seed: int = 0) -> dict[str, str]:
    """Write ``n`` student folders into ``out`` (created; must be empty); return
    student id -> kind (``correct``, ``wrong`` or ``timeout``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    rng = random.Random(seed)
    solutions = {
        name: (SOLUTIONS / f"{name}.py").read_text(encoding="utf-8") for name in course_files()
    }
    mistakes = ben_mistakes()
    kinds = {}
    for index, kind in enumerate(plan_kinds(n, rng), start=1):
        student = f"s{index:04d}"
        folder = out / student
        folder.mkdir()
        for filename, text in student_files(kind, student, rng, solutions, mistakes).items():
            (folder / filename).write_text(text, encoding="utf-8")
        kinds[student] = kind
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the student folders into (empty)")
    parser.add_argument("-n", type=int, default=200, help="number of students (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kinds = generate(args.out, args.n, args.seed)
    counts = Counter(kinds.values())
    print(
        f"wrote {len(kinds)} students to {args.out}: "
        + ", ".join(f"{counts[k]} {k}" for k in ("correct", "wrong", "timeout"))
    )
    for kind in ("timeout", "wrong"):
        members = [s for s, k in kinds.items() if k == kind]
        if members:
            shown = " ".join(members[:20]) + (" ..." if len(members) > 20 else "")
            print(f"  {kind}: {shown}")


if __name__ == "__main__":
    main()
