"""Numerical gradient checking by central differences.

For a function ``f`` and an upstream gradient ``dout`` the scalar being differentiated is
``L(x) = sum(f(x) * dout)``, so ``dL/dx`` is exactly what a ``backward(dout)`` returns:

    dL/dx[i] ~= (L(x + h e_i) - L(x - h e_i)) / (2 h)        (error O(h^2))

Everything here works in float64: with h = 1e-5 a correct backward agrees with the
numerical gradient to a relative error of about 1e-8 or better, while float32 cannot
resolve a perturbation that small.

Relative error (``rel_error``) is measured on the whole tensor, scaled by its magnitude::

    rel_error(a, b) = max|a - b| / max(max|a| + max|b|, 1e-12)

It lies in [0, 1] (1 for a sign flip of a nonzero gradient), does not blow up where a
gradient entry is exactly zero (the CS231n elementwise form |a-b| / (|a| + |b|) does, e.g. at
ReLU's dead units where the numerical gradient is 1e-11 and the analytic one 0), and is
below ~1e-7 for a correct float64 backward. Both arrays all-zero give 0.

Three entry points:

- ``numerical_gradient(f, x, dout)``: the raw central-difference gradient.
- ``check_layer_gradients(layer, x)``: a ``course_utils.layers`` Layer's ``dx`` and every
  ``grads[name]`` against numerical gradients.
- ``check_function_gradients(forward, backward, args)``: the same for a functional pair
  ``forward(*args) -> (out, cache)`` / ``backward(dout, cache) -> grads``.

Both checkers return a ``GradReport`` that names, per tensor, the relative error and the
worst index with the expected (numerical) and the got (analytic) value. With ``sample=k``
only ``k`` random entries per tensor are checked (large conv weights, MNIST-sized inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "GradReport",
    "TensorReport",
    "check_function_gradients",
    "check_layer_gradients",
    "compare_gradients",
    "numerical_gradient",
    "rel_error",
]

_TINY = 1e-12


# Upstream gradients are drawn from their own stream: with plain ``default_rng(seed)`` a
# test that also draws ``x`` from ``default_rng(seed)`` gets a ``dout`` that is an affine
# function of ``x``, which can make a true gradient vanish (batch norm's dx, for one).
_DOUT_STREAM = 0x6D6F7574


def dout_rng(seed: int) -> np.random.Generator:
    """The generator that draws default upstream gradients (and sampled indices) for ``seed``."""
    return np.random.default_rng([seed, _DOUT_STREAM])


def rel_error(a, b) -> float:
    """Relative error ``max|a - b| / max(max|a| + max|b|, 1e-12)`` of two same-shape arrays.

    Args:
        a: array-like (anything ``np.asarray`` accepts, including scalars and tf tensors).
        b: array-like of the same shape as ``a``.

    Returns:
        float in [0, 1]; 0.0 when both are all zeros; ``inf`` if either holds NaN/inf.

    Raises:
        ValueError: if the shapes differ (no broadcasting: (N, 1) vs (N,) is a bug).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    scale = max(float(np.max(np.abs(a))) + float(np.max(np.abs(b))), _TINY)
    return float(np.max(np.abs(a - b))) / scale


def _as_float64_array(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a NumPy float64 array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise ValueError(
            f"{name}: expected dtype float64 for a gradient check, got {x.dtype} "
            f"(use {name}.astype(np.float64); float32 cannot resolve h = 1e-5)"
        )
    return x


def _scalar_loss(f: Callable[[np.ndarray], Any], x: np.ndarray, dout) -> float:
    out = np.asarray(f(x), dtype=np.float64)
    if dout is None:
        return float(np.sum(out))
    if out.shape != dout.shape:
        raise ValueError(f"dout: expected shape {out.shape} (the output's), got {dout.shape}")
    return float(np.sum(out * dout))


def numerical_gradient(
    f: Callable[[np.ndarray], Any],
    x: NDArray[np.float64],
    dout=None,
    h: float = 1e-5,
    *,
    indices: Sequence[int] | NDArray[np.integer] | None = None,
) -> NDArray[np.float64]:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``x`` is perturbed in place, one entry at a time, and each entry is restored to its
    exact original value afterwards (also when ``f`` raises). ``f`` may therefore close
    over ``x`` (e.g. ``lambda _: layer.forward(inputs)`` to differentiate w.r.t. a
    parameter array ``x = layer.params["w"]``).

    Args:
        f: function of ``x`` returning an array (or scalar) of any shape.
        x: float64 array of any shape; modified during the call, restored on return.
        dout: upstream gradient, same shape as ``f(x)``; None means all ones.
        h: step size.
        indices: optional flat indices (into ``x.ravel()``) to differentiate at; other
            entries of the result are 0. None means every entry.

    Returns:
        float64 array shaped like ``x``.
    """
    x = _as_float64_array(x, "x")
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)
    if not h > 0:
        raise ValueError(f"h: expected a positive step, got {h!r}")
    grad = np.zeros(x.shape, dtype=np.float64)
    flat_ids = range(x.size) if indices is None else np.asarray(indices, dtype=np.intp).ravel()
    for flat in flat_ids:
        idx = np.unravel_index(int(flat), x.shape) if x.ndim else ()
        old = x[idx].copy()
        try:
            x[idx] = old + h
            f_plus = _scalar_loss(f, x, dout)
            x[idx] = old - h
            f_minus = _scalar_loss(f, x, dout)
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


# --------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------


@dataclass
class TensorReport:
    """Comparison of one analytic gradient with its numerical estimate.

    Attributes:
        name: which gradient ("dx", "dw", "db", or ``grads`` key).
        rel_error: ``rel_error`` over the checked entries (inf on shape mismatch/NaN).
        worst_index: multi-index of the largest |numerical - analytic| (None if unknown).
        expected: numerical gradient at ``worst_index``.
        got: analytic gradient at ``worst_index``.
        numerical: the numerical gradient (full shape; zeros off ``checked`` when sampled).
        analytic: the analytic gradient as returned (converted to float64 when possible).
        checked: flat indices checked, or None for all of them.
        problem: a short text when the comparison could not be made (shape, None, NaN).
        abs_error: largest |numerical - analytic| over the checked entries.
    """

    name: str
    rel_error: float
    worst_index: tuple[int, ...] | None
    expected: float | None
    got: float | None
    numerical: np.ndarray
    analytic: Any
    checked: np.ndarray | None = None
    problem: str | None = None
    abs_error: float = float("inf")

    def passed(self, tol: float, atol: float = 0.0) -> bool:
        """``rel_error <= tol``, or the largest absolute difference ``<= atol``.

        ``atol`` rescues gradients that are legitimately ~0, where central differences
        leave ~1e-11 of rounding noise that ``rel_error`` scales up to ~1.
        """
        if self.problem is not None:
            return False
        return self.rel_error <= tol or self.abs_error <= atol

    def describe(self) -> str:
        if self.problem is not None:
            return f"{self.name}: {self.problem}"
        where = "" if self.checked is None else f" ({len(self.checked)} sampled entries)"
        text = f"{self.name}: relative error {self.rel_error:.2e}{where}"
        if self.worst_index is not None:
            text += (
                f"; worst at index {self.worst_index}: expected {self.expected:.6g}, "
                f"got {self.got:.6g}"
            )
        return text


@dataclass
class GradReport:
    """Per-tensor gradient comparisons (``tensors`` in the order they were checked)."""

    tensors: dict[str, TensorReport] = field(default_factory=dict)
    dout: np.ndarray | None = None

    @property
    def max_error(self) -> float:
        return max((t.rel_error for t in self.tensors.values()), default=0.0)

    def passed(self, tol: float = 1e-6, atol: float = 0.0) -> bool:
        return all(t.passed(tol, atol) for t in self.tensors.values())

    def failures(self, tol: float = 1e-6, atol: float = 0.0) -> list[TensorReport]:
        return [t for t in self.tensors.values() if not t.passed(tol, atol)]

    def __getitem__(self, name: str) -> TensorReport:
        return self.tensors[name]

    def __str__(self) -> str:
        return "\n".join(t.describe() for t in self.tensors.values())


def _unusable(
    name: str, numerical: np.ndarray, analytic: Any, checked: np.ndarray | None, problem: str
) -> TensorReport:
    """A report for a gradient that cannot be compared at all (None, not numeric, wrong shape)."""
    return TensorReport(name, float("inf"), None, None, None, numerical, analytic, checked, problem)


def compare_gradients(
    name: str, numerical: np.ndarray, analytic, checked: np.ndarray | None = None
) -> TensorReport:
    """Build a ``TensorReport`` comparing ``analytic`` to ``numerical`` (at ``checked``)."""
    if analytic is None:
        return _unusable(
            name, numerical, None, checked, "the gradient is None (did backward return / store it?)"
        )
    try:
        got = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return _unusable(
            name, numerical, analytic, checked, f"the gradient is not a numeric array ({exc})"
        )
    if got.shape != numerical.shape:
        return _unusable(
            name, numerical, got, checked, f"expected shape {numerical.shape}, got {got.shape}"
        )
    num_flat, got_flat = numerical.ravel(), got.ravel()
    if checked is not None:
        num_flat, got_flat = num_flat[checked], got_flat[checked]
        flat_ids = np.asarray(checked)
    else:
        flat_ids = np.arange(numerical.size)
    if num_flat.size == 0:
        return TensorReport(name, 0.0, None, None, None, numerical, got, checked, abs_error=0.0)
    bad = ~np.isfinite(got_flat)
    if bad.any():
        pos = int(flat_ids[int(np.argmax(bad))])
        idx = tuple(int(i) for i in np.unravel_index(pos, numerical.shape))
        return TensorReport(
            name,
            float("inf"),
            idx,
            float(numerical.ravel()[pos]),
            float(got.ravel()[pos]),
            numerical,
            got,
            checked,
            f"non-finite value {got.ravel()[pos]} at index {idx}",
        )
    with np.errstate(all="ignore"):
        diff = np.abs(num_flat - got_flat)
    k = int(np.argmax(diff))
    pos = int(flat_ids[k])
    idx = tuple(int(i) for i in np.unravel_index(pos, numerical.shape))
    return TensorReport(
        name,
        rel_error(num_flat, got_flat),
        idx,
        float(num_flat[k]),
        float(got_flat[k]),
        numerical,
        got,
        checked,
        abs_error=float(diff[k]),
    )


def _sample_indices(size: int, sample: int | None, rng: np.random.Generator):
    if sample is None or sample >= size:
        return None
    if sample <= 0:
        raise ValueError(f"sample: expected a positive int or None, got {sample!r}")
    return np.sort(rng.choice(size, size=sample, replace=False))


def _default_dout(out: np.ndarray, dout, rng: np.random.Generator) -> np.ndarray:
    if dout is None:
        return rng.standard_normal(np.shape(out))
    dout = np.asarray(dout, dtype=np.float64)
    if dout.shape != np.shape(out):
        raise ValueError(f"dout: expected shape {np.shape(out)} (the output's), got {dout.shape}")
    return dout


def check_layer_gradients(
    layer,
    x: NDArray[np.float64],
    dout=None,
    h: float = 1e-5,
    sample: int | None = None,
    seed: int = 0,
) -> GradReport:
    """Compare a layer's ``backward`` with numerical gradients w.r.t. input and parameters.

    Runs ``out = layer.forward(x)``, ``dx = layer.backward(dout)``, copies ``layer.grads``,
    then estimates each gradient numerically (perturbing ``x`` and each ``layer.params``
    array in place; all are restored exactly). Put stochastic layers (dropout) in eval mode
    or make them deterministic first.

    Args:
        layer: object with ``params``/``grads`` dicts, ``forward(x)``, ``backward(dout)``.
        x: float64 input batch, e.g. (N, D).
        dout: upstream gradient shaped like the output; None draws a standard normal one
            from ``seed`` (all-ones would hide bugs, e.g. softmax's backward is 0 on ones).
        h: central-difference step.
        sample: check only this many random entries per tensor (None: all).
        seed: seeds ``dout`` and the sampled indices.

    Returns:
        GradReport with an entry "dx" and one per parameter name (ordered as ``params``).
    """
    x = _as_float64_array(x, "x")
    rng = dout_rng(seed)
    out = np.asarray(layer.forward(x), dtype=np.float64)
    dout = _default_dout(out, dout, rng)
    dx = layer.backward(dout.copy())
    analytic = {
        name: (None if g is None else np.array(g, dtype=np.float64, copy=True))
        for name, g in getattr(layer, "grads", {}).items()
    }
    report = GradReport(dout=dout)

    checked = _sample_indices(x.size, sample, rng)
    num = numerical_gradient(layer.forward, x, dout, h, indices=checked)
    report.tensors["dx"] = compare_gradients("dx", num, dx, checked)
    for name, p in layer.params.items():
        p = _as_float64_array(p, f"params[{name!r}]")
        checked = _sample_indices(p.size, sample, rng)
        num = numerical_gradient(lambda _p: layer.forward(x), p, dout, h, indices=checked)
        report.tensors[name] = compare_gradients(name, num, analytic.get(name), checked)
    return report


def check_function_gradients(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    args: Sequence[Any],
    dout=None,
    h: float = 1e-5,
    sample: int | None = None,
    seed: int = 0,
    wrt: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
) -> GradReport:
    """Compare a functional ``backward`` with numerical gradients of ``forward``.

    ``forward(*args) -> (out, cache)`` and ``backward(dout, cache) -> grads`` where
    ``grads`` holds one gradient per differentiated argument, in order (a bare array when
    there is one, e.g. ``softmax_backward``; ``(dx, dw, db)`` for ``affine_backward``).

    Args:
        forward: the forward function.
        backward: the backward function.
        args: positional arguments of ``forward`` (float64 arrays are differentiated).
        dout: upstream gradient shaped like ``out``; None draws a standard normal one.
        h: central-difference step.
        sample: check only this many random entries per tensor (None: all).
        seed: seeds ``dout`` and the sampled indices.
        wrt: positions of the arguments to differentiate (default: every float64 ndarray,
            so integer labels ``y`` and config dicts are skipped).
        names: report names for the differentiated arguments (default "d0", "d1", ... or
            "dx", "dw", "db" when there are three, "dx" when there is one).

    Returns:
        GradReport with one entry per differentiated argument.
    """
    args = list(args)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float64]
    wrt = list(wrt)
    if names is None:
        names = {1: ["dx"], 3: ["dx", "dw", "db"]}.get(len(wrt), [f"d{i}" for i in wrt])
    if len(names) != len(wrt):
        raise ValueError(f"names: expected {len(wrt)} names, got {len(names)}")
    for i in wrt:
        _as_float64_array(args[i], f"args[{i}]")
    rng = dout_rng(seed)

    def out_of(*a):
        return forward(*a)[0]

    out = np.asarray(out_of(*args), dtype=np.float64)
    dout = _default_dout(out, dout, rng)
    _, cache = forward(*args)
    grads = backward(dout.copy(), cache)
    if len(wrt) == 1 and not isinstance(grads, tuple | list):
        grads = (grads,)
    if not isinstance(grads, tuple | list) or len(grads) != len(wrt):
        got = len(grads) if isinstance(grads, tuple | list) else type(grads).__name__
        raise ValueError(f"backward: expected {len(wrt)} gradients ({', '.join(names)}), got {got}")
    report = GradReport(dout=dout)
    for name, i, g in zip(names, wrt, grads, strict=True):
        checked = _sample_indices(args[i].size, sample, rng)
        num = numerical_gradient(lambda _a: out_of(*args), args[i], dout, h, indices=checked)
        report.tensors[name] = compare_gradients(name, num, g, checked)
    return report
