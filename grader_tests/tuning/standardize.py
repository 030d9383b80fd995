"""Task 1 of 07_tuning: ``standardize(train, *others) -> tuple``.

Per feature (axis 0), the mean and the POPULATION standard deviation (ddof=0, as np.std
and sklearn's StandardScaler compute it, so that the training array comes out with std
exactly 1) of ``train`` ONLY; every array, train first and then each of ``others`` in
order, is returned as ``(a - mean) / std``: a tuple of ``1 + len(others)`` arrays (a list
is accepted too: it unpacks and indexes the same way; a bare array, a generator or a
stacked array is not). A feature whose train std is 0 (MNIST's border pixels) is divided
by 1. Integer input (uint8 pixels) gives float64, float input keeps its dtype; the inputs
are not modified; ``others`` may have other numbers of rows.

Tolerances: float64 results within rtol 1e-5 (atol 1e-6) of the reference, float32 ones
within 2e-4 (2e-5). The features of the checks have std >= 0.05, so an ``eps`` of up to
1e-8 added to the std (or 1e-10 to the variance) passes; ``eps = 1e-3`` does not, and the
message names it (a constant added to every std, or to every variance).

The wrong values are explained with the diagnoses 04_iris uses (``grader_tests._standardize``:
statistics of train and others together, per-sample axis, one scalar mean and std, missing
centring or scaling, the variance, an other standardised with its own statistics), plus
the ones new here: ddof=1, eps, min-max scaling, a constant feature divided by something
other than 1, integer arithmetic that wrapped (the same values as float64 pass), only the
first or the last of ``others`` returned.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    call_student,
    check,
    describe_value,
    expect_callable,
    explain_difference,
    fail,
    seal,
    to_array,
)
from grader_tests._standardize import (
    close,
    nonfinite_message,
    other_diagnosis,
    std_reference,
    train_diagnosis,
)

from ._common import forbid_library

NAMES = ("train", "others")
_SIGNATURE_HINT = (
    "standardize takes the training array and then ANY number of other arrays as "
    "separate arguments: `def standardize(train, *others)`; `others` is then a tuple"
)


def _out_name(i: int) -> str:
    return "result[0] (train)" if i == 0 else f"result[{i}] (others[{i - 1}])"


def _tolerances(dtype) -> tuple[float, float]:
    return (2e-4, 2e-5) if dtype == np.float32 else (1e-5, 1e-6)


def _expected_dtype(a: np.ndarray):
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)


def _matches(got: list, refs: list) -> list:
    """For each returned array, the index of the input whose standardisation it is."""
    out = []
    for g in got:
        arr = np.asarray(g, dtype=np.float64) if isinstance(g, np.ndarray) else None
        hit = [j for j, r in enumerate(refs) if arr is not None and close(arr, r, 1e-5, 1e-6)]
        out.append(hit[0] if hit else None)
    return out


def _signature_hint(exc: BaseException) -> str | None:
    if type(exc).__name__ == "TypeError" and "argument" in str(exc):
        return _SIGNATURE_HINT
    return None


def _results(fn, train, others, label) -> list:
    got = call_student(fn, train, *others, label=label, hint=_signature_hint)
    n = 1 + len(others)
    if got is None:
        fail(f"{label} returned None: did you forget to `return` the tuple of arrays?")
    if isinstance(got, np.ndarray) and not others and got.shape == train.shape:
        fail(
            f"{label} (no others) returned the bare array: return a tuple of ONE array, "
            f"`(train_std,)`\nHint: with any number of others, return `tuple(results)` "
            f"(here of length 1), so that `(X_std,) = standardize(X)` always works"
        )
    if not isinstance(got, tuple | list):
        fail(
            f"{label}: expected a tuple of {n} arrays (train, then each of others), got "
            f"{describe_value(got)}\nHint: build the results in a list and `return "
            f"tuple(results)`; a generator or one stacked array is not a tuple of arrays"
        )
    if len(got) != n:
        refs = std_reference(train.astype(np.float64), [o.astype(np.float64) for o in others])
        which = _matches(list(got), refs)
        msg = (f"{label}: expected {n} arrays (train, then each of the {len(others)} others), "
               f"got {len(got)}")  # fmt: skip
        if which == [0, 1] and n > 2:
            hint = "you returned train and only the FIRST of others: standardise every one"
        elif which == [0, n - 1] and n > 2:
            hint = ("you returned train and only the LAST of others: a loop that overwrites "
                    "one variable keeps the last; append each result to a list")  # fmt: skip
        elif which == [0]:
            hint = "you returned only train's result: return one array per input"
        elif len(others) == 1 and len(got) == 1 + len(others[0]):
            hint = ("you iterated over the ROWS of the one other array: the other arrays "
                    "are separate arguments, collected by `def standardize(train, *others)` "
                    "(`others` is then a tuple of arrays)")  # fmt: skip
        else:
            hint = "return one standardised array per input, in the order they were given"
        fail(f"{msg}\nHint: {hint}")
    return list(got)


def _check_kinds(got, inputs, label) -> list:
    arrays = []
    for i, (g, a) in enumerate(zip(got, inputs, strict=True)):
        arr = to_array(g, _out_name(i))
        if arr.shape != a.shape:
            same = [j for j, b in enumerate(inputs) if b.shape == arr.shape]
            hint = (f"\nHint: that is the shape of input {same[0]}: return the arrays in the "
                    f"order train, others[0], others[1], ..." if same else "")  # fmt: skip
            fail(f"{label}: `{_out_name(i)}` should have its input's shape {a.shape}, got "
                 f"{arr.shape}{hint}")  # fmt: skip
        want = _expected_dtype(a)
        dt = getattr(g, "dtype", None)
        if dt is not None and np.dtype(dt) != want:
            if a.dtype.kind in "iub":
                why = f"integer input ({a.dtype}) gives float64: standardised values are fractions"
                why += (", and an integer array cannot hold them (an array made with "
                        "np.empty_like(train) keeps the input's integer dtype)"
                        if np.dtype(dt).kind in "iub" else "; let NumPy promote (train - "
                        "mean with a float64 mean) or use train.astype(np.float64)")  # fmt: skip
            else:
                why = (f"float input keeps its dtype ({a.dtype}): do not convert it (no "
                       f"astype); (a - mean) / std computed from {a.dtype} arrays stays "
                       f"{a.dtype}")  # fmt: skip
            fail(f"{label}: `{_out_name(i)}` has dtype {np.dtype(dt)}, expected {want}\n"
                 f"Hint: {why}")  # fmt: skip
        arrays.append(arr.astype(np.float64))
    return arrays


def _scale_diagnosis(got, X, rtol, atol) -> str:
    """(X - mean) divided per feature by something other than the population std: name
    ddof=1 or an eps (a constant added to every std or to every variance)."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    c = X - mean
    live = std > 0
    if not np.any(live) or len(X) < 2:
        return ""
    with np.errstate(all="ignore"):
        s_eff = np.sum(c * c, axis=0)[live] / np.sum(c * got, axis=0)[live]
    if not np.all(np.isfinite(s_eff)) or not close(got[:, live], c[:, live] / s_eff, rtol, atol):
        return ""
    s, n = std[live], len(X)
    if np.allclose(s_eff / s, np.sqrt(n / (n - 1)), rtol=1e-6):
        return (f"you divided by the SAMPLE std (ddof=1, divides by N - 1 = {n - 1}); the "
                f"task uses the POPULATION std, ddof=0 (np.std's default and sklearn's "
                f"StandardScaler's), which makes the training array's std exactly 1")  # fmt: skip
    for what, delta in (("std", s_eff - s), ("variance", s_eff**2 - s**2)):
        if np.ptp(delta) <= 1e-6 * np.max(np.abs(delta)) and delta[0] > 0:
            return (f"every feature is divided by its {what} plus the same constant "
                    f"{delta[0]:.3g} (an eps?): that changes the values by up to "
                    f"{100 * np.max(s_eff / s - 1):.2g} %; divide by the std itself (a feature of "
                    f"std 0 by 1); an eps of 1e-8 or less is harmless")  # fmt: skip
    return ""


def _minmax(got, X, first, got_first, rtol, atol) -> str:
    lo, span = X.min(axis=0), np.ptp(X, axis=0)
    span = np.where(span > 0, span, 1.0)
    if close(got, (X - lo) / span, rtol, atol) and (
        got_first is None or close(got_first, (first - lo) / span, rtol, atol)
    ):
        return ("this is min-max scaling to [0, 1] ((x - min) / (max - min)); standardising "
                "subtracts the MEAN and divides by the standard deviation")  # fmt: skip
    return ""


def _wrapped(fn, inputs, label) -> str:
    """Integer input: the same numbers as float64 give the right result."""
    if inputs[0].dtype.kind not in "iu":
        return ""
    floats = [a.astype(np.float64) for a in inputs]
    try:
        got = call_student(fn, *floats, label=label)
        ok = len(got) == len(floats) and all(
            close(np.asarray(g, dtype=np.float64), r, 1e-5, 1e-6)
            for g, r in zip(got, std_reference(floats[0], floats[1:]), strict=True)
        )
    except (AssertionError, TypeError, ValueError):
        return ""
    if not ok:
        return ""
    return (f"the same numbers as float64 give the right result, but as {inputs[0].dtype} "
            f"they do not: some arithmetic ran in the integer type and wrapped around (in "
            f"uint8, 200 * 200 = 64 and 3 - 5 = 254); convert first, "
            f"train.astype(np.float64)")  # fmt: skip


def _constant_features(got, X_train, other, rtol, atol) -> str:
    const = X_train.std(axis=0) == 0
    if not np.any(const):
        return ""
    c = other - X_train.mean(axis=0)
    bad = [j for j in np.flatnonzero(const) if not close(got[:, j], c[:, j], rtol, atol)]
    if not bad:
        return ""
    j = int(bad[0])
    rows = np.flatnonzero(c[:, j] != 0)
    seen = "; yours sets it to 0"
    if len(rows) and got[rows[0], j] != 0:
        v = got[rows[0], j]
        by = c[rows[0], j] / v
        seen = (f"; yours is {v:.3g} there (an inf replaced by np.nan_to_num?)" if abs(v) > 1e300
                else f"; yours divides (x - mean) by {by:.3g} there")  # fmt: skip
    return (f"feature {j} is constant in train (std 0), so it must be divided by 1: "
            f"x - mean{seen}. Use std = np.where(std > 0, std, 1.0), not std + eps (that "
            f"blows such features up by 1/eps in the other arrays)")  # fmt: skip


def _case(fn, train, others, case) -> None:
    names = ", ".join(["train"] + [f"others[{i}]" for i in range(len(others))])
    label = f"`standardize({names})` {case}"
    inputs = [train, *others]
    got = _check_kinds(_results(fn, train, list(others), label), inputs, label)
    X = [a.astype(np.float64) for a in inputs]
    for i, arr in enumerate(got):
        if not np.all(np.isfinite(arr)):
            fail(nonfinite_message(arr, X[0], _out_name(i), label, "train"))
    rtol, atol = _tolerances(_expected_dtype(train))
    refs = std_reference(X[0], X[1:])
    first = got[1] if others else None
    if not close(got[0], refs[0], rtol, atol):
        why = (_scale_diagnosis(got[0], X[0], rtol, atol)
               or _minmax(got[0], X[0], X[1] if others else None, first, rtol, atol)
               or _wrapped(fn, inputs, label)
               or train_diagnosis(got[0], first, X[0], X[1:], rtol, atol, NAMES)
               or "; ".join(explain_difference(got[0], refs[0], factors={"N": len(train)},
                                               rtol=rtol)))  # fmt: skip
        fail(_wrong_at(label, 0, got[0], refs[0]) + (f"\nHint: {why}" if why else ""))
    for i in range(1, len(inputs)):
        if not close(got[i], refs[i], rtol, atol):
            why = (_constant_features(got[i], X[0], X[i], rtol, atol)
                   or other_diagnosis(got[i], X[0], X[i], X[1:], rtol, atol,
                                      ("train", f"others[{i - 1}]"))
                   or _wrapped(fn, inputs, label))  # fmt: skip
            fail(_wrong_at(label, i, got[i], refs[i]) + ". Every other array is transformed "
                 "with train's mean and std" + (f"\nHint: {why}" if why else ""))  # fmt: skip


def _wrong_at(label, i, got, ref) -> str:
    worst = np.unravel_index(int(np.argmax(np.abs(got - ref))), ref.shape)
    where = tuple(int(k) for k in worst)
    return (f"{label}: `{_out_name(i)}` is wrong at {where}: expected {ref[worst]:.6g}, got "
            f"{got[worst]:.6g}")  # fmt: skip


def _leak_probe(fn, train, others, case) -> None:
    """Changing others[k] changes no other result (and train's not at all)."""
    label = f"`standardize` {case}"
    before = _results(fn, train, list(others), label)
    for k in range(len(others)):
        moved = list(others)
        moved[k] = others[k] * 3.0 + 50.0
        after = _results(fn, train, moved, label)
        for i in (j for j in range(len(before)) if j != k + 1):
            a, b = to_array(before[i], _out_name(i)), to_array(after[i], _out_name(i))
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-12, atol=0):
                fail(f"{label}: `{_out_name(i)}` changed when only others[{k}] changed "
                     f"(others[{k}] * 3 + 50)\nHint: the other arrays leak into the "
                     f"statistics: compute mean and std from train alone")  # fmt: skip
        _case(fn, train, moved, f"{case}, others[{k}] * 3 + 50")


def _features(rng, n, d, scale_lo=-1.0, scale_hi=1.0):
    scale = 10.0 ** rng.uniform(scale_lo, scale_hi, d)
    return rng.standard_normal((n, d)) * scale + rng.uniform(-5, 5, d)


def _pixels(rng, n, d, dtype=np.uint8):
    """Integer pixels 0..255 with dark border features (0 in every train row) that are
    lit in some rows of the other arrays."""
    X = rng.integers(0, 256, (n, d)).astype(dtype)
    X[: n - n // 4, : d // 4] = 0  # the last quarter of the rows are the other arrays
    return X


def _preamble(standardize) -> None:
    expect_callable(standardize, "standardize")
    forbid_library(standardize, "standardize",
                   "two lines of NumPy: train.mean(axis=0) and train.std(axis=0)")  # fmt: skip


@check
def check_standardize(standardize) -> None:
    """Visible: one other, two others of other sizes, none, uint8 pixels with constant
    features, float32, and the leakage probe."""
    _preamble(standardize)
    rng = np.random.default_rng(7)
    train, test = _features(rng, 30, 6), _features(rng, 12, 6) * 1.5 + 1.0
    _case(standardize, train, [test], "(train 30x6, one other 12x6)")
    _leak_probe(standardize, train, [test], "(train 30x6, one other 12x6)")
    val = _features(rng, 9, 6)
    _case(standardize, train, [val, test[:4]], "(train 30x6, others 9x6 and 4x6)")
    _case(standardize, train, [], "(train 30x6, no others: a tuple of one array)")
    pix = _pixels(rng, 40, 16)
    _case(standardize, pix[:30], [pix[30:]],
          "(uint8 pixels 30x16, features 0-3 constant 0 in train, one other 10x16)")  # fmt: skip
    f32 = _features(rng, 25, 5).astype(np.float32)
    _case(standardize, f32[:20], [f32[20:]], "(float32, train 20x5, one other 5x5)")


@check
def check_standardize_hidden(standardize) -> None:
    """Hidden: random shapes with three others (one of a single row), train of 2 rows, one
    feature, uint8 and int64 pixels with constant features, float32 with two others."""
    _preamble(standardize)
    rng = np.random.default_rng(7_107)  # hidden values, the same at every regrade
    for n, d, sizes in ((int(rng.integers(20, 60)), int(rng.integers(3, 9)), (17, 1, 5)),
                        (2, 3, (4,)), (15, 1, (6, 2))):  # fmt: skip
        train = _features(rng, n, d)
        others = [_features(rng, m, d) * 2.0 - 1.0 for m in sizes]
        case = f"(train {n}x{d}, others {', '.join(f'{m}x{d}' for m in sizes)})"
        _case(standardize, train, others, case)
        _leak_probe(standardize, train, others, case)
    for dtype in (np.uint8, np.int64):
        pix = _pixels(rng, 80, 24, dtype)
        _case(standardize, pix[:60], [pix[60:70], pix[70:]],
              f"({np.dtype(dtype).name} pixels 60x24, features 0-5 constant 0 in train, "
              f"others 10x24 and 10x24)")  # fmt: skip
    alone = _features(rng, 11, 4)
    _case(standardize, alone, [], "(train 11x4, no others: a tuple of one array)")
    f32 = _features(rng, 70, 8, -0.5, 1.5).astype(np.float32)
    _case(standardize, f32[:50], [f32[50:65], f32[65:]],
          "(float32, train 50x8, others 15x8 and 5x8)")  # fmt: skip


seal(__name__)
