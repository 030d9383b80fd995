"""Structural diagnosis of a wrong numeric result: which simple structure explains it.

``explain_difference(got, expected, ...)`` fits the difference ``got - expected`` against a
short list of structural models, simplest first, and returns the sentence of the first
model that fits EXACTLY (it leaves less than ``FIT_RTOL`` of the difference unexplained):

- all zeros; a constant factor (the sign, N, 1/N, 2, (N-1)/N, ... named from ``factors``);
- the transpose, or the transpose reshaped to the expected shape;
- a constant offset;
- one additive part of the expected value (``parts``: e.g. ``{"reg * W": reg * W}``)
  missing, doubled, with the wrong sign or with a factor only it received (operator
  precedence: ``a - b / N``), or the rest scaled while that part is dropped
  (``dW += reg * dW``); a multiple of a related array added (``related``: the parameter);
- the value rounded to a few decimals;
- a per-row or per-column offset or factor; row-plus-column offsets or row-times-column
  factors (a normalisation over the wrong axis);
- float32 precision: a float32 result, values exactly representable in float32, or an
  error of ~1e-7 relative where the check is stricter than float32.

A model with k free parameters is only reported on its own when the array has at least
k + 2 entries (else any difference would "fit"); with fewer entries it is reported only
when the fitted parameter is a NAMED value (``factors``: N, C, reg, ...). The models see
values only (copies of what student code returned), never student objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["FIT_RTOL", "explain_difference", "name_factor"]

#: A model fits when the largest residual is below FIT_RTOL x the largest difference.
FIT_RTOL = 1e-4
#: Differences below NOISE_RTOL x the largest expected value are float64 rounding.
NOISE_RTOL = 1e-12
#: A fitted parameter equals a named value within this relative tolerance.
NAME_RTOL = 1e-6
_DESCRIPTIONS = {
    "N": "the batch size",
    "C": "the number of classes",
    "D": "the number of features",
    "reg": "the regularisation strength",
    "lr": "the learning rate",
}


# --------------------------------------------------------------------------------------
# Named factors
# --------------------------------------------------------------------------------------
def _named_values(factors: Mapping[str, float]) -> list[tuple[float, str, str, str]]:
    """(value, label, kind, name) of every factor a slip commonly introduces, simplest first.

    Kinds: "sign", "two", "half", "size" / "inv" (a named size or its inverse, e.g. N and
    1/N; also products such as N·C), "ddof" ((N−1)/N and relatives), "one_plus" (1 + reg).
    """
    out = [(-1.0, "−1", "sign", ""), (2.0, "2", "two", ""), (0.5, "1/2", "half", "")]
    sizes = [(k, float(v)) for k, v in factors.items() if float(v) not in (0.0, 1.0, -1.0)]
    for name, v in sizes:
        out += [(v, f"{name} = {v:g}", "size", name), (1 / v, f"1/{name} = 1/{v:g}", "inv", name)]
    for name, v in sizes:
        if v >= 2 and v == int(v):
            for value, form in (
                ((v - 1) / v, "(N−1)/N"),
                (v / (v - 1), "N/(N−1)"),
                (math.sqrt((v - 1) / v), "√((N−1)/N)"),
                (math.sqrt(v / (v - 1)), "√(N/(N−1))"),
            ):
                out.append((value, f"{form.replace('N', name)} ({name} = {v:g})", "ddof", name))
        if abs(v) < 1:
            out += [(1 + v, f"1 + {name}", "one_plus", name), (1 - v, f"1 − {name}", "", name)]
    for i, (a, va) in enumerate(sizes):
        for b, vb in sizes[i:]:
            ab = f"{a}·{b}" if a != b else f"{a}²"
            prod = va * vb
            out += [
                (prod, f"{ab} = {prod:g}", "size", ab),
                (1 / prod, f"1/({ab}) = 1/{prod:g}", "inv", ab),
            ]
            if a != b:
                out += [(va / vb, f"{a}/{b}", "", ""), (vb / va, f"{b}/{a}", "", "")]
    for name, v in sizes:
        out += [(2 * v, f"2·{name} = {2 * v:g}", "size", f"2·{name}"), (v / 2, f"{name}/2", "", "")]
    return [item for item in out if abs(item[0] - 1) > 1e-6]


def name_factor(c: float, factors: Mapping[str, float] | None = None) -> tuple[str, str, str]:
    """("label", "kind", "name") of the named value ``c`` equals, or ("", "", "")."""
    for value, label, kind, name in _named_values(factors or {}):
        if abs(c - value) <= NAME_RTOL * max(abs(value), 1e-300):
            return label, kind, name
    return "", "", ""


def _factor_sentence(c: float, factors: Mapping[str, float], overdetermined: bool) -> str:
    label, kind, name = name_factor(c, factors)
    what = f" ({_DESCRIPTIONS[name]})" if name in _DESCRIPTIONS else ""
    if kind == "sign":
        return "the sign is flipped: you got exactly −expected"
    if kind == "size" and name == "N":
        return (
            f"your values are N = {c:g} times too large: did you forget to divide by the "
            f"batch size?"
        )
    if kind == "inv" and name == "N":
        return (
            f"your values are N = {1 / c:g} times too small: dividing by the batch size "
            f"where it does not belong (or twice)?"
        )
    if kind == "size":
        return f"your values are {label} times too large{what}: a division by it missing?"
    if kind == "inv":
        return f"your values are {label} of the expected ones{what}: an extra division?"
    if kind == "two":
        return (
            "off by a constant factor: your values are 2 × expected (a factor 2 too many, "
            "or a 1/2 missing)"
        )
    if kind == "half":
        return "off by a constant factor: your values are 1/2 × expected (a factor 2 is missing)"
    if kind == "ddof":
        return (
            f"your values are {label} times the expected ones: a variance or standard "
            f"deviation divided by {name} − 1 (ddof=1) where {name} (ddof=0) is meant, or the "
            f"reverse: use the ddof the task states"
        )
    if label:
        return f"off by a constant factor: your values are {label} = {c:.6g} × expected"
    if overdetermined:
        if c > 0:
            return f"off by a constant factor: your values are {c:.6g} × expected"
        return f"off by a constant factor {c:.6g} (sign flipped and scaled)"
    return ""


# --------------------------------------------------------------------------------------
# Fitting helpers
# --------------------------------------------------------------------------------------
class _Case:
    """The arrays (float64) and tolerances one diagnosis works on."""

    def __init__(self, got, expected, factors, rtol):
        self.got = np.array(got, dtype=np.float64)
        self.exp = np.array(expected, dtype=np.float64)
        self.diff = self.got - self.exp
        self.n = self.exp.size
        self.factors = dict(factors or {})
        self.rtol = rtol
        self.scale = float(np.abs(self.exp).max()) if self.n else 0.0
        self.diff_max = float(np.abs(self.diff).max()) if self.n else 0.0

    def fits(self, model: np.ndarray) -> bool:
        """``model`` reproduces ``got`` up to FIT_RTOL of the difference."""
        resid = float(np.abs(self.got - model).max())
        return resid <= FIT_RTOL * self.diff_max

    def free(self, k: int) -> bool:
        """A k-parameter model is over-determined (it could not fit noise by chance)."""
        return self.n - k >= 2


def _lstsq_scalar(y: np.ndarray, t: np.ndarray) -> float | None:
    tt = float(np.sum(t * t))
    return float(np.sum(y * t)) / tt if tt > 0 else None


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def _cols(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


# --------------------------------------------------------------------------------------
# The models, simplest first
# --------------------------------------------------------------------------------------
def _zeros(case: _Case) -> str:
    if case.scale > 0 and not np.any(case.got):
        return "your result is all zeros (was it computed, returned and stored?)"
    return ""


def _factor(case: _Case) -> str:
    c = _lstsq_scalar(case.got, case.exp)
    if c is None or c == 0 or abs(c - 1) < 1e-6 or not case.fits(c * case.exp):
        return ""
    return _factor_sentence(c, case.factors, case.free(1))


def _transpose(case: _Case) -> str:
    e = case.exp
    if e.ndim != 2 or min(e.shape) < 2:
        return ""
    if e.shape[0] == e.shape[1] and case.fits(e.T):
        return "your values are the transpose of the expected ones"
    if e.shape[0] != e.shape[1] and case.fits(e.T.reshape(e.shape)):
        return (
            f"your values are the transpose of the expected ones, reshaped to {e.shape}: "
            f"transpose with .T (or fix the order of the matmul) instead of reshaping"
        )
    return ""


def _offset(case: _Case) -> str:
    k = float(np.mean(case.diff))
    if k == 0 or not case.free(1) or not case.fits(case.exp + k):
        return ""
    return f"off by a constant: every value is {k:.6g} away from the expected one"


def _part_sentence(name: str, f: float, factors) -> str:
    label, kind, _ = name_factor(f, factors)
    if abs(f) < 1e-9:
        return f"the term {name} is missing: your result is expected − {name}"
    if kind == "sign":
        return f"the term {name} has the wrong sign: your result is expected − 2·({name})"
    if kind == "two":
        return f"the term {name} is counted twice: your result is expected + {name}"
    if kind in ("size", "inv"):
        return (
            f"the part {name} is {label} times what it should be, the rest is right: a factor "
            f"reached only part of the expression. Operator precedence? `a - b / N` divides "
            f"b alone; write `(a - b) / N`"
        )
    return f"the term {name} appears {f:.6g} times instead of once (the rest is right)"


def _parts(case: _Case, parts: Mapping[str, np.ndarray]) -> str:
    for name, t in parts.items():
        if not np.any(t) or (case.n > 1 and _collinear(t, case.exp)):
            continue
        a = _lstsq_scalar(case.diff, t)
        if a is None or not case.fits(case.exp + a * t):
            continue
        sentence = _part_sentence(name, 1 + a, case.factors)
        if case.free(1) or name_factor(1 + a, case.factors)[0] or abs(1 + a) < 1e-9:
            return sentence
    return ""


def _rest_and_part(case: _Case, parts: Mapping[str, np.ndarray]) -> str:
    """got = alpha * (expected - part) + beta * part, alpha != 1."""
    for name, t in parts.items():
        rest = case.exp - t
        if not case.free(2) or not np.any(t) or _collinear(t, rest):
            continue
        basis = np.stack([rest.reshape(-1), t.reshape(-1)], axis=1)
        (alpha, beta), *_ = np.linalg.lstsq(basis, case.got.reshape(-1), rcond=None)
        if abs(alpha - 1) < 1e-6 or not case.fits(alpha * rest + beta * t):
            continue
        label, kind, fname = name_factor(float(alpha), case.factors)
        if kind == "one_plus" and abs(beta) < 1e-6 * max(1.0, abs(alpha)):
            return (
                f"your result is (1 + {fname}) × (expected − {name}): {fname} scaled the rest "
                f"(x += {fname} * x) instead of adding the term {name} (x += {name})"
            )
        shown = label or f"{alpha:.6g}"
        return (
            f"your result is {shown} × (the rest) + {beta:.6g} × ({name}); expected: "
            f"1 × (the rest) + 1 × ({name}). The rest (everything but {name}) is off by the "
            f"factor {shown}"
        )
    return ""


def _related(case: _Case, related: Mapping[str, np.ndarray]) -> str:
    for name, t in related.items():
        if not np.any(t) or _collinear(t, case.exp):
            continue
        a = _lstsq_scalar(case.diff, t)
        if a is None or not case.fits(case.exp + a * t):
            continue
        label = name_factor(a, case.factors)[0] or name_factor(-a, case.factors)[0]
        if not (case.free(1) or label):
            continue
        shown = f"{a:.6g}" if not label else f"{a:.6g} ({label.split(' =')[0]})"
        return (
            f"your result is expected + {shown} × {name}: an extra term proportional to "
            f"{name} (an L2 / weight-decay term added where it does not belong, or with the "
            f"wrong sign or size?)"
        )
    return ""


def _rounded(case: _Case) -> str:
    for k in range(0 if case.n >= 3 else 2, 7):
        r = np.round(case.exp, k)
        if not np.array_equal(r, case.exp) and np.array_equal(case.got, r):
            return (
                f"your values are the expected ones rounded to {k} decimals: return them unrounded"
            )
    return ""


def _per_axis(case: _Case) -> str:
    """Offsets or factors per row or per column (2-D and up, every row/column affected)."""
    e, d = case.exp, case.diff
    if e.ndim < 2 or e.shape[0] < 2 or e.shape[-1] < 2:
        return ""
    n_rows, n_cols = e.shape[0], e.shape[-1]
    row_off = _rows(d).mean(axis=1)
    if case.free(n_rows) and _all_nonzero(row_off) and case.fits(e + _expand_rows(row_off, e)):
        return (
            "every row is off by its own constant (got − expected is the same along each "
            "row): a per-row (per-sample) quantity is added, subtracted or missing; check "
            "what is broadcast across the rows (keepdims=True, [:, None])"
        )
    col_off = _cols(d).mean(axis=0)
    if case.free(n_cols) and _all_nonzero(col_off) and case.fits(e + col_off):
        return (
            "every column is off by its own constant, the same in every row: a per-column "
            "quantity (a bias, a column mean) is added, subtracted or missing"
        )
    sentence = _per_axis_factor(case, n_rows, n_cols)
    return sentence or _two_axis(case, n_rows, n_cols)


def _per_axis_factor(case: _Case, n_rows: int, n_cols: int) -> str:
    e, g = case.exp, case.got
    er, gr = _rows(e), _rows(g)
    with np.errstate(all="ignore"):
        row_f = np.sum(er * gr, axis=1) / np.sum(er * er, axis=1)
    row_f = np.where(np.isfinite(row_f), row_f, 1.0)
    if case.free(n_rows) and _all_not_one(row_f) and case.fits(_expand_rows(row_f, e) * e):
        return (
            "each row is scaled by its own factor: a per-row normalisation (a row sum, max "
            "or norm) is applied wrongly or missing"
        )
    ec, gc = _cols(e), _cols(g)
    with np.errstate(all="ignore"):
        col_f = np.sum(ec * gc, axis=0) / np.sum(ec * ec, axis=0)
    col_f = np.where(np.isfinite(col_f), col_f, 1.0)
    if case.free(n_cols) and _all_not_one(col_f) and case.fits(col_f * e):
        return (
            "each column is scaled by its own factor: a per-column scaling (a column sum, "
            "standard deviation or norm) is applied wrongly or missing"
        )
    return ""


def _two_axis(case: _Case, n_rows: int, n_cols: int) -> str:
    """d_ij = r_i + c_j, or got_ij / exp_ij = r_i * c_j: the wrong axis of a normalisation."""
    if case.exp.ndim != 2 or not case.free(n_rows + n_cols - 1):
        return ""
    d = case.diff
    row, col = d.mean(axis=1, keepdims=True), d.mean(axis=0, keepdims=True)
    if _varies(row, case.diff_max) and _varies(col, case.diff_max):
        if case.fits(case.exp + row + col - d.mean()):
            return (
                "got − expected = (a value per row) + (a value per column): a normalisation "
                "(log-sum-exp, mean) over the wrong axis, axis=0 instead of axis=1 or the "
                "reverse?"
            )
    if np.all(case.exp > 0) and np.all(case.got > 0):
        lr = np.log(case.got) - np.log(case.exp)
        row, col = lr.mean(axis=1, keepdims=True), lr.mean(axis=0, keepdims=True)
        big = float(np.abs(lr).max())
        if _varies(row, big) and _varies(col, big):
            if case.fits(case.exp * np.exp(row + col - lr.mean())):
                return (
                    "got / expected = (a factor per row) × (a factor per column): a "
                    "normalisation (a sum, softmax) over the wrong axis, axis=0 instead of "
                    "axis=1 or the reverse?"
                )
    return ""


def _float32(case: _Case, got_dtype) -> str:
    """Errors of float32 size where the check is stricter than float32 precision."""
    if case.scale == 0 or case.rtol >= 1e-5:
        return ""
    rel = case.diff_max / case.scale
    if rel > 1e-4:
        return ""
    if got_dtype is not None and np.dtype(got_dtype) == np.float32:
        return (
            f"your result is float32 (about 7 significant digits; relative error "
            f"{rel:.1e}) where float64 is expected: keep float64 end to end (no "
            f"astype(np.float32), float32 constants or float32 tensors here)"
        )
    as32 = case.got.astype(np.float32).astype(np.float64)
    exp32 = case.exp.astype(np.float32).astype(np.float64)
    if np.array_equal(as32, case.got) and not np.array_equal(exp32, case.exp):
        return (
            f"your values are exactly representable in float32 and agree with the expected "
            f"ones to ~7 digits (relative error {rel:.1e}): they were computed or stored in "
            f"float32; keep float64 end to end"
        )
    if 3e-8 <= rel <= 3e-6 and rel > case.rtol:
        return (
            f"your value agrees with the expected one to about {int(-math.log10(rel))} "
            f"significant digits (relative error {rel:.1e}), the precision of float32: is "
            f"part of the computation done in float32? Keep float64 end to end"
        )
    return ""


# --------------------------------------------------------------------------------------
# Small predicates
# --------------------------------------------------------------------------------------
def _collinear(a: np.ndarray, b: np.ndarray) -> bool:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return False
    return abs(float(np.sum(a * b))) / (na * nb) > 1 - 1e-9


def _varies(v: np.ndarray, size: float) -> bool:
    return float(np.ptp(v)) > 1e-3 * size


def _expand_rows(v: np.ndarray, like: np.ndarray) -> np.ndarray:
    return v.reshape((-1,) + (1,) * (like.ndim - 1))


def _all_nonzero(v: np.ndarray) -> bool:
    """Every row/column is affected (a strict subset is the "only rows" hint's job)."""
    return bool(np.all(np.abs(v) > 0)) and float(np.ptp(v)) > 0


def _all_not_one(v: np.ndarray) -> bool:
    return bool(np.all(np.abs(v - 1) > 1e-9)) and float(np.ptp(v)) > 0


def _as_parts(terms: Mapping[str, Any] | None, shape) -> dict[str, np.ndarray]:
    out = {}
    for name, t in (terms or {}).items():
        arr = np.array(t, dtype=np.float64)
        if arr.shape == shape and np.all(np.isfinite(arr)):
            out[name] = arr
    return out


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------
def explain_difference(
    got: Any,
    expected: Any,
    *,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
    rtol: float = 0.0,
    got_dtype: Any = None,
) -> list[str]:
    """Sentences (at most one) naming the structure of ``got - expected``; [] if none fits.

    Args:
        got: the student's values (same shape as ``expected``; any real dtype).
        expected: the reference values.
        factors: named sizes or constants of the task, e.g. ``{"N": 8, "C": 3, "reg": 0.1}``,
            used to name a fitted factor ("N = 8 times too large", "1 + reg", "(N−1)/N").
        parts: additive parts of ``expected`` by name, each shaped like it
            (``{"reg * W": reg * W}``).
        related: other arrays of the computation a slip may have added a multiple of
            (``{"params['w']": w}``).
        rtol: the comparison's relative tolerance (used by the float32 diagnosis only: an
            error within float32 precision is named only where the check is stricter).
        got_dtype: the dtype the student's result had before any conversion.
    """
    try:
        case = _Case(got, expected, factors, rtol)
    except (TypeError, ValueError):
        return []
    if case.got.shape != case.exp.shape or case.n == 0:
        return []
    if case.diff_max <= NOISE_RTOL * case.scale:  # float64 rounding, nothing to explain
        return []
    if not (np.all(np.isfinite(case.got)) and np.all(np.isfinite(case.exp))):
        return []
    parts_ = _as_parts(parts, case.exp.shape)
    related_ = _as_parts(related, case.exp.shape)
    with np.errstate(all="ignore"):
        for model in (
            _zeros,
            _factor,
            _transpose,
            lambda c: _parts(c, parts_),
            lambda c: _rest_and_part(c, parts_),
            lambda c: _related(c, related_),
            _offset,
            _rounded,
            _per_axis,
            lambda c: _float32(c, got_dtype),
        ):
            sentence = model(case)
            if sentence:
                return [sentence]
    return []
