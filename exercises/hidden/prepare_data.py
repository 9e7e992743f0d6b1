"""Hidden helpers for prepare-data: data functions and custom judges.

Data functions take the check's integer seed and return named values; custom judges
take a JudgeContext and return a Verdict. Student values arrive decoded
(tensors as grader.wire.TensorValue, tuples as tuples); nothing here runs student code.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.judges.base import JudgeContext, Verdict
from grader.judges.compare import describe_value, fmt_number
from grader.wire import TensorValue

ENTRY_SPLIT = "train_val_split"
ENTRY_STD = "standardize"
PART_NAMES = ("X_train", "X_val", "y_train", "y_val")


# ============================================================== data functions
def split_rows(seed: int, n: int = 40, features: int = 3) -> dict[str, Any]:
    """X: random rows; y: each row's own index as a float, so that a returned y value
    says which row of X it belongs to."""
    gen = torch.Generator().manual_seed((seed + 0x5EED) % 2**63)
    X = torch.randn(n, features, generator=gen)
    y = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    return {"X": X, "y": y}


def split_rows_odd(seed: int) -> dict[str, Any]:
    """23 rows: int(23 * 0.3) = 6 (rounding would give 7)."""
    return split_rows(seed + 1000, n=23, features=4)  # split_rows reduces the seed


def scaled_columns(seed: int) -> dict[str, Any]:
    """Columns on very different scales; the validation set is shifted, so statistics
    taken over both sets (or over X_val) differ clearly from X_train's."""
    gen = torch.Generator().manual_seed((seed + 0xDA7A) % 2**63)
    scale = torch.tensor([1.0, 10.0, 0.1, 3.0])
    shift = torch.tensor([0.0, 5.0, -2.0, 100.0])
    X_train = torch.randn(30, 4, generator=gen) * scale + shift
    X_val = (
        torch.randn(12, 4, generator=gen) * scale * 2
        + shift
        + torch.tensor([3.0, -20.0, 1.0, 50.0])
    )
    return {"X_train": X_train, "X_val": X_val}


CONSTANT_COLUMN = 2
CONSTANT_VALUE = 3.0  # a whole number: its mean is exact, so its std is exactly 0


def constant_column(seed: int) -> dict[str, Any]:
    """Like scaled_columns, but column 2 of X_train is constant (std 0)."""
    data = scaled_columns(seed + 1000)  # scaled_columns reduces the seed
    X_train, X_val = data["X_train"].clone(), data["X_val"].clone()
    X_train[:, CONSTANT_COLUMN] = CONSTANT_VALUE
    X_val[:, CONSTANT_COLUMN] = (
        CONSTANT_VALUE + torch.arange(X_val.shape[0], dtype=torch.float32) / 4
    )
    return {"X_train": X_train, "X_val": X_val}


# ============================================================== shared helpers
def _fail(message: str, details: dict[str, Any] | None = None) -> Verdict:
    return Verdict(False, message, details or {})


def _shape(t: TensorValue) -> list[int]:
    return list(t.data.shape)


def _four_tensors(value: Any, names: tuple[str, ...]) -> tuple[list[TensorValue] | None, str]:
    """The four returned tensors, or a message saying what came back instead."""
    if not isinstance(value, (tuple, list)):
        return None, f"returned {describe_value(value)}; expected a tuple ({', '.join(names)})"
    if len(value) != 4:
        return None, f"returned {len(value)} values; expected 4: ({', '.join(names)})"
    for index, (name, item) in enumerate(zip(names, value, strict=True)):
        if not isinstance(item, TensorValue):
            return None, f"{name} (item {index}) is {describe_value(item)}; expected a tensor"
    return list(value), ""


# ============================================================== train_val_split
class SplitCall:
    """What one call of train_val_split did, worked out from its four parts."""

    def __init__(
        self, value: Any, X: torch.Tensor, y: torch.Tensor, val_fraction: float, label: str
    ) -> None:
        self.label = label
        self.problems: list[str] = []  # shape and type problems (nothing else can be judged)
        self.partition: list[str] = []  # rows lost, repeated, changed or unpaired
        self.val_rows: frozenset[int] | None = None
        self.train_rows: frozenset[int] | None = None
        n, f = X.shape
        n_val = int(n * val_fraction)
        self.n, self.n_val = n, n_val
        parts, message = _four_tensors(value, PART_NAMES)
        if parts is None:
            self.problems.append(message)
            return
        want = {
            "X_train": [n - n_val, f],
            "X_val": [n_val, f],
            "y_train": [n - n_val, 1],
            "y_val": [n_val, 1],
        }
        for name, part in zip(PART_NAMES, parts, strict=True):
            if part.data.dtype != torch.float32:
                self.problems.append(
                    f"{name} has dtype {str(part.data.dtype).replace('torch.', '')}; "
                    "expected float32"
                )
        shapes = {name: _shape(p) for name, p in zip(PART_NAMES, parts, strict=True)}
        if shapes != want:
            got = ", ".join(f"{k} {v}" for k, v in shapes.items())
            expected = ", ".join(f"{k} {v}" for k, v in want.items())
            hint = ""
            if (
                shapes["X_val"][:1] != [n_val]
                and len(shapes["X_val"]) == 2
                and shapes["X_val"][1] == f
            ):
                hint = (
                    f" With {n} rows and val_fraction {val_fraction:g} there are "
                    f"int({n} * {val_fraction:g}) = {n_val} validation rows."
                )
            elif [len(s) and s[-1] for s in shapes.values()] == [f, 1, f, 1]:
                hint = " Return the parts in the order (X_train, X_val, y_train, y_val)."
            self.problems.append(f"expected shapes {expected}; got {got}.{hint}")
        if self.problems:
            return
        X_train, X_val, y_train, y_val = (p.data for p in parts)
        x_ids = [self._rows_of_x(X_train, X, "X_train"), self._rows_of_x(X_val, X, "X_val")]
        if x_ids[0] is not None and x_ids[1] is not None:
            x_problems = self._cover(x_ids[0], x_ids[1], n, "X")
            self.partition += x_problems
            if not x_problems:
                # The split itself, as X's rows: judged by the seed checks even if y is off.
                self.train_rows, self.val_rows = frozenset(x_ids[0]), frozenset(x_ids[1])
        y_ids = [self._rows_of_y(y_train, y, "y_train"), self._rows_of_y(y_val, y, "y_val")]
        if y_ids[0] is None or y_ids[1] is None:
            return
        self.partition += self._cover(y_ids[0], y_ids[1], n, "y")
        if x_ids[0] is None or x_ids[1] is None:
            return
        for part, xs, ys in (("train", x_ids[0], y_ids[0]), ("val", x_ids[1], y_ids[1])):
            for i, (a, b) in enumerate(zip(xs, ys, strict=True)):
                if a != b:
                    self.partition.append(
                        f"X and y are no longer paired: row {i} of X_{part} is row {a} of X, "
                        f"but row {i} of y_{part} is the target of row {b}. "
                        "Shuffle X and y with the same permutation"
                    )
                    break

    @staticmethod
    def _cover(train_ids: list[int], val_ids: list[int], n: int, what: str) -> list[str]:
        """Problems with how the rows of X (or y) are spread over the two parts."""
        counts: dict[int, int] = {}
        for i in train_ids + val_ids:
            counts[i] = counts.get(i, 0) + 1
        twice = sorted(i for i, c in counts.items() if c > 1)
        lost = sorted(set(range(n)) - set(counts))
        problems = []
        if twice:
            problems.append(
                f"row {twice[0]} of {what} appears {counts[twice[0]]} times across "
                f"{what}_train and {what}_val ({len(twice)} rows are repeated)"
            )
        if lost:
            problems.append(
                f"row {lost[0]} of {what} is in neither {what}_train nor {what}_val "
                f"({len(lost)} rows are missing)"
            )
        return problems

    def _rows_of_x(self, part: torch.Tensor, X: torch.Tensor, name: str) -> list[int] | None:
        if part.shape[0] == 0:
            return []
        same = (part[:, None, :] == X[None, :, :]).all(dim=2)  # [rows of part, rows of X]
        found = same.any(dim=1)
        if not bool(found.all()):
            i = int((~found).nonzero()[0])
            self.partition.append(
                f"row {i} of {name} is not a row of X: the rows must be moved whole, not changed"
            )
            return None
        return [int(j) for j in same.float().argmax(dim=1)]

    def _rows_of_y(self, part: torch.Tensor, y: torch.Tensor, name: str) -> list[int] | None:
        flat = part.reshape(-1)
        ids = []
        for i, v in enumerate(flat.tolist()):
            j = int(round(v))
            if j != v or not 0 <= j < y.shape[0] or float(y[j, 0]) != v:
                self.partition.append(
                    f"row {i} of {name} holds {fmt_number(v)}, which is not a value of y"
                )
                return None
            ids.append(j)
        return ids


def judge_split(ctx: JudgeContext) -> Verdict:
    """Judges a probe that called train_val_split three times: `first` and `again`
    with the same seed, `other` with another seed.

    params: aspect (sizes | partition | seeds | all), val_fraction, seeds [same, other].
    """
    params = ctx.opt("params") or {}
    aspect = params.get("aspect", "all")
    val_fraction = float(params["val_fraction"])
    seed, other_seed = params.get("seeds", ["s", "another seed"])
    X, y = ctx.data["X"], ctx.data["y"]
    labels = {
        "first": f" (seed {seed})",
        "again": f" (seed {seed}, called again)",
        "other": f" (seed {other_seed})",
    }
    calls = {}
    for key, label in labels.items():
        if key not in ctx.outputs:
            return _fail(f"{ENTRY_SPLIT}{label} gave no result")
        calls[key] = SplitCall(ctx.outputs[key], X, y, val_fraction, label)
    first = calls["first"]
    details = {
        "rows": first.n,
        "val_fraction": val_fraction,
        "expected_validation_rows": f"int({first.n} * {val_fraction:g}) = {first.n_val}",
    }
    if first.problems:
        return _fail(f"{ENTRY_SPLIT}{first.label}: " + "; ".join(first.problems[:3]), details)
    if aspect == "sizes":
        return Verdict(
            True,
            f"{ENTRY_SPLIT} returned (X_train, X_val, y_train, y_val) with {first.n_val} "
            f"validation rows out of {first.n}, as expected",
            details,
        )
    if first.partition and aspect in ("partition", "all"):
        return _fail(f"{ENTRY_SPLIT}{first.label}: " + "; ".join(first.partition[:2]), details)
    if aspect == "partition":
        return Verdict(
            True,
            f"{ENTRY_SPLIT}: every row is in exactly one part, and X and y rows stay paired",
            details,
        )
    # The seed checks need each call's split of X's rows; a y that is off is judged by the
    # partition check (and by the 'all' aspect, which stops above).
    for call in calls.values():
        if call.problems or call.val_rows is None:
            return _fail(
                f"{ENTRY_SPLIT}{call.label}: " + "; ".join((call.problems + call.partition)[:2]),
                details,
            )
    again, other = calls["again"], calls["other"]
    details["validation_rows_seed_" + str(seed)] = sorted(first.val_rows or [])
    details["validation_rows_seed_" + str(other_seed)] = sorted(other.val_rows or [])
    if first.val_rows != again.val_rows or first.train_rows != again.train_rows:
        return _fail(
            f"{ENTRY_SPLIT}: called twice with seed {seed}, it put different rows into the "
            "validation set; the same seed must give the same split. Shuffle with a generator "
            "seeded by `seed` (torch.Generator().manual_seed(seed), passed as generator= to "
            "torch.randperm) rather than with the global random state",
            details,
        )
    if first.val_rows == other.val_rows:
        unshuffled = first.val_rows in (
            frozenset(range(first.n_val)),
            frozenset(range(first.n - first.n_val, first.n)),
        )
        why = (
            " and they are the first/last rows of X in their original order: "
            "the rows are never shuffled"
            if unshuffled
            else "; the seed must decide the shuffle"
        )
        return _fail(
            f"{ENTRY_SPLIT}: seeds {seed} and {other_seed} put exactly the same rows into the "
            f"validation set{why}",
            details,
        )
    extra = "; every row is in exactly one part, paired with its target" if aspect == "all" else ""
    return Verdict(
        True,
        f"{ENTRY_SPLIT}: the same seed gives the same split and another seed a different "
        f"one{extra}",
        details,
    )


# ============================================================== standardize
def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    if a.shape != b.shape:
        return False
    return bool(torch.isclose(a.double(), b.double(), rtol=tol, atol=tol).all())


def _vector(t: TensorValue, f: int) -> torch.Tensor | None:
    """A per-column statistic as a 1-D tensor; [f] and [1, f] are both accepted."""
    if list(t.data.shape) in ([f], [1, f]):
        return t.data.reshape(f)
    return None


def _first_difference(got: torch.Tensor, want: torch.Tensor, reveal: bool) -> str:
    """Where ``got`` first differs from ``want``; the expected value only when the
    check discloses it (the data the statistics come from is hidden)."""
    bad = (~torch.isclose(got.double(), want.double(), rtol=1e-4, atol=1e-4)).nonzero()
    index = tuple(int(i) for i in bad[0])
    where = f"column {index[0]}" if len(index) == 1 else f"row {index[0]}, column {index[1]}"
    if not reveal:
        return f"at {where} yours is {fmt_number(float(got[index]))}"
    return (
        f"at {where} expected {fmt_number(float(want[index]))}, got {fmt_number(float(got[index]))}"
    )


def judge_standardize(ctx: JudgeContext) -> Verdict:
    """Judges standardize(X_train, X_val) -> (X_train_s, X_val_s, mean, std).

    params: aspect (stats | scaled | constant). Sample and population std are both
    accepted; a column with std 0 must get std 1.
    """
    params = ctx.opt("params") or {}
    aspect = params.get("aspect", "stats")
    entry = ENTRY_STD
    reveal = ctx.discloses("expected")  # X_train is hidden: so are the statistics it gives
    X_train, X_val = ctx.data["X_train"].double(), ctx.data["X_val"].double()
    n, f = X_train.shape
    names = ("X_train_s", "X_val_s", "mean", "std")
    parts, message = _four_tensors(ctx.outputs.get("result"), names)
    if parts is None:
        return _fail(f"{entry}: {message}")
    tr_s, va_s, mean_v, std_v = parts
    problems = []
    if _shape(tr_s) != [n, f]:
        problems.append(
            f"X_train_s has shape {_shape(tr_s)}; expected {[n, f]}, the shape of X_train"
        )
    if _shape(va_s) != list(X_val.shape):
        problems.append(
            f"X_val_s has shape {_shape(va_s)}; expected {list(X_val.shape)}, the shape of X_val"
        )
    mean, std = _vector(mean_v, f), _vector(std_v, f)
    if mean is None:
        problems.append(
            f"mean has shape {_shape(mean_v)}; expected one value per column, shape [{f}] "
            "(reduce over the rows: dim=0)"
        )
    if std is None:
        problems.append(
            f"std has shape {_shape(std_v)}; expected one value per column, shape [{f}] "
            "(reduce over the rows: dim=0)"
        )
    if problems:
        return _fail(f"{entry}: " + "; ".join(problems[:3]))
    if mean is None or std is None:  # cannot happen: reported above
        return _fail(f"{entry}: mean and std must hold one value per column")
    # Each aspect judges what its check names, so that one mistake costs one check:
    # - stats: mean and std are X_train's (the constant columns' std is the next one's);
    # - constant: a constant column gets std 1 and no NaN or inf;
    # - scaled: both sets are (x - mean) / std with the mean and std standardize returns,
    #   when those are statistics of the data at all (X_train's, or both sets' together:
    #   that mistake is the stats check's), on the columns that are not constant.
    constant = [j for j in range(f) if bool((X_train[:, j] == X_train[0, j]).all())]
    varying = [j for j in range(f) if j not in constant]
    both = torch.cat([X_train, X_val])
    details: dict[str, Any] = {
        "got_mean": [fmt_number(float(v)) for v in mean],
        "got_std": [fmt_number(float(v)) for v in std],
    }
    # What the statistics should be (in float64), for both std conventions.
    want_mean = X_train.mean(dim=0)
    stds = {
        "sample": _std_or_one(X_train, unbiased=True),
        "population": _std_or_one(X_train, unbiased=False),
    }
    if reveal:
        details.update(
            {
                "expected_mean": [fmt_number(float(v)) for v in want_mean],
                "expected_std_sample": [fmt_number(float(v)) for v in stds["sample"]],
                "expected_std_population": [fmt_number(float(v)) for v in stds["population"]],
            }
        )
    cols = torch.tensor(varying, dtype=torch.long)

    def on(t: torch.Tensor) -> torch.Tensor:
        """The columns that are not constant (the last axis)."""
        return t.index_select(-1, cols)

    def std_kind(candidates: dict[str, torch.Tensor]) -> str | None:
        for key, want in candidates.items():
            if _close(on(std.double()), on(want)):
                return key
        return None

    if aspect == "stats":
        for name, t in (("mean", mean), ("std", on(std))):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return _fail(f"{entry}: {name} contains NaN or infinite values", details)
        problems = []
        if not _close(mean, want_mean):
            if _close(mean, both.mean(dim=0)):
                problems.append(
                    "mean was computed over X_train and X_val together; compute it on X_train "
                    "only (the validation set stands for data the model has never seen)"
                )
            else:
                difference = _first_difference(mean, want_mean, reveal)
                problems.append(f"mean is not X_train's column mean: {difference}")
        kind = std_kind(stds)
        if kind is None:
            together = {
                "sample": _std_or_one(both, unbiased=True),
                "population": _std_or_one(both, unbiased=False),
            }
            if std_kind(together) is not None:
                problems.append(
                    "std was computed over X_train and X_val together; compute it on X_train only"
                )
            else:
                difference = _first_difference(on(std), on(stds["sample"]), reveal)
                problems.append(
                    "std is neither the sample nor the population std of X_train's columns: "
                    f"{difference} (sample std)"
                )
        if problems:
            return _fail(f"{entry}: " + "; ".join(problems), details)
        return Verdict(
            True,
            f"{entry}: mean and std ({kind} std) are X_train's per-column statistics",
            details,
        )

    if aspect == "constant":
        if not constant:
            raise ValueError("judge_standardize(aspect=constant) needs data with a constant column")
        j = constant[0]
        col = f"column {j} of X_train is constant ({fmt_number(float(X_train[0, j]))} in every row)"
        # std 1 is the answer; the std of both sets together is the stats check's mistake
        # (over both sets the column is not constant), not this one's.
        allowed = [1.0] + [float(_std_or_one(both, unbiased=u)[j]) for u in (True, False)]
        s_j = float(std[j])
        if not any(math.isclose(s_j, a, rel_tol=1e-4, abs_tol=1e-4) for a in allowed):
            return _fail(
                f"{entry}: {col}, so its std is 0; the returned std for it must be 1, got "
                f"{fmt_number(s_j)}",
                details,
            )
        for name, got in (("X_train_s", tr_s), ("X_val_s", va_s)):
            column = got.data[:, j]
            if column.is_floating_point() and not bool(torch.isfinite(column).all()):
                return _fail(
                    f"{entry}: {col}; {name}'s column {j} contains NaN or infinite values",
                    details,
                )
        # With the mean standardize returns (whether it is X_train's is the stats check's),
        # as long as it is the column's mean at all: a mean of 0 is no statistic. How X_val
        # is scaled is the scaling check's.
        column_means = (want_mean[j : j + 1], both.mean(dim=0)[j : j + 1])
        if not any(_close(mean[j : j + 1], m) for m in column_means):
            return _fail(
                f"{entry}: {col}; the mean returned for it, {fmt_number(float(mean[j]))}, is "
                "not the column's mean",
                details,
            )
        want_tr = (X_train[:, j] - float(mean[j])) / s_j
        if not _close(tr_s.data[:, j], want_tr):
            difference = _first_difference(tr_s.data[:, j], want_tr, reveal)
            return _fail(
                f"{entry}: {col}; X_train_s's column {j} should be x - mean, divided by 1: "
                f"{difference.replace('column', 'row')}",
                details,
            )
        return Verdict(
            True,
            f"{entry}: the constant column {j} got std 1 and was scaled by 1; no NaN or inf",
            details,
        )

    # aspect == "scaled"
    means = (want_mean, both.mean(dim=0))
    families = {
        **stds,
        "sample (over both sets)": _std_or_one(both, unbiased=True),
        "population (over both sets)": _std_or_one(both, unbiased=False),
    }
    kind = std_kind(families)
    if not any(_close(on(mean), on(m)) for m in means) or kind is None:
        return _fail(
            f"{entry}: the mean and std it returns are not the columns' statistics, so the "
            "scaling cannot be judged; compute them per column over the rows (dim=0)",
            details,
        )
    for name, got, X in (("X_train_s", tr_s, X_train), ("X_val_s", va_s, X_val)):
        if got.data.dtype != torch.float32:
            return _fail(
                f"{entry}: {name} has dtype {str(got.data.dtype).replace('torch.', '')}; expected "
                "float32",
                details,
            )
        data = on(got.data)
        if not bool(torch.isfinite(data).all()):
            return _fail(f"{entry}: {name} contains NaN or infinite values", details)
        want = on((X - mean.double()) / std.double())
        if not _close(data, want):
            reason = ""
            if name == "X_val_s":
                centred = X_val - X_val.mean(dim=0)
                own = [on(centred / _std_or_one(X_val, unbiased=u)) for u in (True, False)]
                if any(_close(data, o) for o in own):
                    reason = (
                        " X_val was scaled with its own mean and std; scale it with X_train's, "
                        "the ones you return"
                    )
            elif _close(data, on(X - mean.double())):
                reason = " It looks centred but not divided by std."
            return _fail(
                f"{entry}: {name} is not (x - mean) / std with the mean and std it returns: "
                f"{_first_difference(data, want, reveal)}.{reason}",
                details,
            )
    return Verdict(
        True,
        f"{entry}: both sets are scaled with the mean and {kind} std it returns; no NaN or inf",
        details,
    )


def _std_or_one(X: torch.Tensor, unbiased: bool) -> torch.Tensor:
    """The per-column std, with 1 for a constant column (std 0), as the exercise asks."""
    s = X.std(dim=0, unbiased=unbiased)
    return torch.where(s == 0, torch.ones_like(s), s)
