"""Tolerant comparison of a student's result with the expected one, with actionable messages.

``assert_close(got, expected, name)`` passes when ``|got - expected| <= atol + rtol*|expected|``
everywhere. When it fails it says which kind of wrong it is: not returned (None), a tuple
instead of an array, a shape mismatch (and "looks transposed" / "extra axis" / "broadcast"),
an integer or boolean result where floats were expected, float32 where float64 matters, NaN
or inf (and where), or wrong values with the worst index, expected vs got, how many entries
differ, and a hint when the error has a recognisable pattern: sign flipped, off by a constant
factor (N times too large: missing 1/N), off by a constant, transposed, wrong rows only.

All arithmetic uses NumPy references captured when grading was imported (see ``_core``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._core import NP, fail
from .diagnose import explain_difference as _explain_difference

__all__ = ["assert_close", "assert_scalar", "to_array", "value_hints"]


def _fmt(v: Any) -> str:
    if isinstance(v, bool | NP.bool_):
        return repr(bool(v))
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return repr(v)


def _idx(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in NP.unravel_index(int(flat), shape))


def to_array(got: Any, name: str, expected_ndim: int | None = None) -> Any:
    """Convert a student's result (array, tf tensor, list, scalar) to a fresh ndarray.

    Fails with a clear message for None, tuples where one array was expected, ragged
    lists and non-numeric objects. Always returns a plain ``np.ndarray`` copy, so an
    ndarray subclass or an object with a custom ``__array__`` cannot influence the checks.
    """
    if got is None:
        fail(f"`{name}` is None: did you forget to `return` it?")
    if isinstance(got, tuple) and expected_ndim is not None and len(got) != 0:
        kinds = ", ".join(type(g).__name__ for g in got[:4])
        fail(
            f"`{name}`: expected one array, got a tuple of {len(got)} items ({kinds}); "
            f"return only the result (e.g. `return out`, not `return out, cache`)"
        )
    try:
        arr = NP.array(got, copy=True, subok=False)
    except (TypeError, ValueError) as exc:
        fail(f"`{name}`: could not convert your {type(got).__name__} to a numeric array ({exc})")
    if arr.dtype.kind not in "biufc":
        fail(f"`{name}`: expected numbers, got {type(got).__name__} with dtype {arr.dtype}")
    return arr


def _close(a, b, rtol: float, atol: float) -> bool:
    return bool((NP.abs(a - b) <= atol + rtol * NP.abs(b)).all())


def _shape_message(name: str, got_shape: tuple, exp_shape: tuple) -> str:
    msg = f"`{name}`: expected shape {exp_shape}, got {got_shape}"
    if exp_shape == ():
        return msg + " (expected a single number; reduce it, e.g. with np.mean / np.sum / float())"
    if len(got_shape) == len(exp_shape) == 2 and got_shape == exp_shape[::-1]:
        return msg + " — looks transposed (check the order of a matmul, or use .T)"
    if tuple(d for d in got_shape if d != 1) == tuple(d for d in exp_shape if d != 1):
        return msg + (
            " — an extra or missing axis of size 1 (keepdims=True? reshape(-1)? [:, None]?)"
        )
    if len(exp_shape) == 1 and got_shape == (exp_shape[0], exp_shape[0]):
        return msg + (
            " — looks like a broadcast of (N,) against (N, 1): make both operands "
            "the same shape before the elementwise operation"
        )
    size = 1
    for d in got_shape:
        size *= d
    exp_size = 1
    for d in exp_shape:
        exp_size *= d
    if size == exp_size:
        return msg + " — same number of entries, different layout: check your reshape"
    return msg


def value_hints(
    got,
    expected,
    batch_size: int | None = None,
    rtol: float = 0.0,
    *,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
    got_dtype: Any = None,
) -> list[str]:
    """The structural diagnosis of a wrong result (same shape floats), as hint sentences.

    See ``diagnose.explain_difference``; ``batch_size`` is the factor named N.
    """
    named = dict(factors or {})
    if batch_size and batch_size > 1:
        named.setdefault("N", batch_size)
    return _explain_difference(
        got,
        expected,
        factors=named,
        parts=parts,
        related=related,
        rtol=rtol,
        got_dtype=got_dtype,
    )


def _bad_rows(bad, nrows: int) -> list[int]:
    per_row = bad.reshape(nrows, -1).any(axis=1)
    return [int(i) for i in NP.nonzero(per_row)[0]]


def assert_close(
    got: Any,
    expected: Any,
    name: str = "result",
    rtol: float = 1e-5,
    atol: float = 1e-8,
    *,
    exact_dtype: bool = False,
    batch_size: int | None = None,
    rows_are_samples: bool = True,
    hint: str | None = None,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
) -> None:
    """Fail with a student-actionable message unless ``got`` matches ``expected``.

    Args:
        got: the student's result (NumPy array, tf tensor, list or scalar).
        expected: the reference result (same kinds).
        name: what ``got`` is, as the student knows it (e.g. "softmax(x)", "dw").
        rtol: relative tolerance (per entry, relative to |expected|).
        atol: absolute tolerance.
        exact_dtype: also require ``got.dtype == expected.dtype`` (e.g. float64 kept).
        batch_size: N, to word constant-factor hints as "N times too large".
        rows_are_samples: axis 0 indexes samples, so "wrong only in rows [...]" is useful.
        hint: a sentence appended to any value-mismatch message.
        factors: named sizes/constants (``{"C": 3, "reg": 0.1}``) to name a wrong factor.
        parts: additive parts of ``expected`` by name (``{"reg * W": reg * W}``): a part
            missing, doubled or scaled alone is named.
        related: arrays a slip may have added a multiple of (e.g. the parameter).

    Raises:
        AssertionError: (the genuine one, captured at import) describing the difference.
    """
    exp = NP.array(expected, copy=True, subok=False)
    arr = to_array(got, name, expected_ndim=exp.ndim)
    got_dtype = arr.dtype
    if arr.shape != exp.shape:
        fail(_shape_message(name, arr.shape, exp.shape))
    if exp.dtype.kind in "fc" and arr.dtype.kind in "biu":
        kind = "boolean" if arr.dtype.kind == "b" else "integer"
        fail(
            f"`{name}`: expected floating-point values, got {kind} dtype {arr.dtype} "
            f"({_fmt(arr.reshape(-1)[0]) if arr.size else 'empty'}, ...) — integer division "
            f"(//), a cast with astype(int), or returning a count instead of a mean?"
        )
    if exact_dtype and arr.dtype != exp.dtype:
        fail(
            f"`{name}`: expected dtype {exp.dtype}, got {arr.dtype} "
            f"(a float32 constant or cast somewhere? keep {exp.dtype} end to end)"
        )
    if arr.dtype.kind == "b" and exp.dtype.kind == "b":
        bad = arr != exp
    else:
        arr = arr.astype(NP.float64) if arr.dtype.kind != "c" else arr
        exp_f = exp.astype(NP.float64) if exp.dtype.kind != "c" else exp
        exp_finite = NP.isfinite(exp_f)
        got_finite = NP.isfinite(arr)
        nonfinite = exp_finite & ~got_finite
        if nonfinite.any():
            flat = NP.nonzero(nonfinite.reshape(-1))[0]
            where = _idx(flat[0], arr.shape) if arr.ndim else "()"
            value = arr.reshape(-1)[flat[0]]
            kind = "NaN" if NP.isnan(value) else "inf"
            more = f" (and {len(flat) - 1} more non-finite entries)" if len(flat) > 1 else ""
            fail(
                f"`{name}` contains {kind} at index {where}{more} where "
                f"{_fmt(exp_f.reshape(-1)[flat[0]])} was expected. inf usually comes from "
                f"exp overflow or log(0), NaN from inf - inf, 0/0 or inf/inf: make the "
                f"computation numerically stable"
            )
        both_nan = NP.isnan(arr) & NP.isnan(exp_f)
        same_inf = NP.isinf(arr) & NP.isinf(exp_f) & (arr == exp_f)
        err = NP.abs(NP.where(exp_finite, arr, 0) - NP.where(exp_finite, exp_f, 0))
        bound = atol + rtol * NP.abs(NP.where(exp_finite, exp_f, 0))
        bad = (err > bound) & ~both_nan & ~same_inf
        bad |= ~exp_finite & ~both_nan & ~same_inf
    if not bad.any():
        return
    structure = {"factors": factors, "parts": parts, "related": related, "got_dtype": got_dtype}
    _value_failure(name, arr, exp, bad, rtol, atol, batch_size, rows_are_samples, hint, structure)


def _value_failure(name, arr, exp, bad, rtol, atol, batch_size, rows_are_samples, hint, structure):
    if arr.dtype.kind == "b" or exp.dtype.kind == "b":
        arr, exp = arr.astype(NP.float64), exp.astype(NP.float64)
    n_bad, n = int(bad.sum()), int(bad.size)
    if arr.ndim == 0:
        msg = f"`{name}`: expected {_fmt(exp)}, got {_fmt(arr)}"
    else:
        with NP.errstate(all="ignore"):
            excess = NP.where(bad, NP.abs(arr - exp) - (atol + rtol * NP.abs(exp)), -1.0)
            excess = NP.where(NP.isnan(excess), float("inf"), excess)
        k = int(excess.reshape(-1).argmax())
        idx = _idx(k, arr.shape)
        msg = (
            f"`{name}`: {n_bad} of {n} entries differ (rtol={rtol:g}, atol={atol:g}); "
            f"worst at index {idx}: expected {_fmt(exp[idx])}, got {_fmt(arr[idx])}"
        )
    hints = []
    if exp.dtype.kind in "fc" and arr.dtype.kind in "fc" and bool(NP.isfinite(exp).all()):
        hints = value_hints(
            arr, exp.astype(NP.float64), batch_size=batch_size, rtol=rtol, **structure
        )
        if not hints and rows_are_samples and arr.ndim >= 1 and arr.shape[0] > 1:
            rows = _bad_rows(bad, arr.shape[0])
            if len(rows) < arr.shape[0]:
                shown = rows if len(rows) <= 10 else rows[:10] + ["..."]
                hints.append(
                    f"only rows {shown} (of {arr.shape[0]}) are wrong: is a loop "
                    f"skipping rows, or a row index fixed?"
                )
    for text in hints:
        msg += f"\nHint: {text}"
    if hint:
        msg += f"\nHint: {hint}"
    fail(msg)


def assert_scalar(got: Any, name: str, kind: str = "float") -> float:
    """Fail unless ``got`` is a single number (Python or NumPy scalar) of ``kind``; return it.

    ``kind="float"`` rejects arrays (even 0-d and 1-element ones), tensors, booleans and
    integers, each with its own message; ``kind="number"`` accepts ints as well.
    """
    if got is None:
        fail(f"`{name}` is None: did you forget to `return` it?")
    if isinstance(got, bool | NP.bool_):
        fail(
            f"`{name}`: expected a number, got a boolean ({got!r}); did you return a "
            f"comparison instead of its mean?"
        )
    if isinstance(got, NP.ndarray):
        fail(
            f"`{name}`: expected a single number, got a NumPy array of shape {got.shape}; "
            f"return a scalar (e.g. float(np.mean(...)))"
        )
    if hasattr(got, "shape") and hasattr(got, "dtype") and not isinstance(got, NP.generic):
        fail(
            f"`{name}`: expected a single Python/NumPy number, got a {type(got).__name__} of "
            f"shape {tuple(got.shape)}; convert it with float(...)"
        )
    if isinstance(got, list | tuple):
        fail(f"`{name}`: expected a single number, got a {type(got).__name__} of length {len(got)}")
    if isinstance(got, int | NP.integer):
        if kind == "float":
            fail(
                f"`{name}`: expected a float, got the integer {int(got)}: a count instead of a "
                f"fraction, or integer division (//)?"
            )
        return float(got)
    if isinstance(got, float | NP.floating):
        return float(got)
    fail(f"`{name}`: expected a number, got {type(got).__name__} {got!r:.40}")
    return 0.0  # unreachable
