"""Gradient checks of student code against numerical gradients, with bug-class diagnosis.

Built on ``course_utils.gradcheck`` (central differences in float64, ``rel_error``). On
failure the message names the gradient, its relative error and the worst index with the
expected (numerical) and the got (analytic) value, then the likely bug:

- shape reversed ("looks transposed"), values transposed;
- sign flipped;
- off by a constant factor, in particular N times too large (the 1/N of a mean loss
  forgotten) or N times too small;
- wrong only for some batch rows (the rows are named);
- all zeros (the gradient was never stored);
- input, ``dout`` or parameters modified in place (checked on copies taken before the call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils import gradcheck as _gc

from ._core import GUARD, NP, call_student, fail, quiet, type_name
from .compare import _shape_message, to_array, value_hints
from .remote import Remote

__all__ = [
    "assert_function_gradients",
    "assert_gradient",
    "assert_layer_gradients",
    "assert_numerical_gradient",
    "diagnose_gradient",
]

# Captured so a rebinding of ``course_utils.gradcheck`` attributes does not reach the checks.
_numerical_gradient = _gc.numerical_gradient
_compare_gradients = _gc.compare_gradients
_rel_error = _gc.rel_error


def diagnose_gradient(
    got: np.ndarray,
    numerical: np.ndarray,
    *,
    tol: float = 1e-6,
    batch_size: int | None = None,
    batch_axis: bool = False,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
) -> list[str]:
    """Hint sentences describing how ``got`` differs from ``numerical`` (same shape).

    The structural diagnosis (``diagnose.explain_difference``: factor, transpose, a part
    missing or scaled alone, a multiple of the parameter, per-row/column offsets, ...),
    else, with ``batch_axis``, the batch rows that are wrong.
    """
    got = NP.array(got, dtype=NP.float64)
    numerical = NP.array(numerical, dtype=NP.float64)
    hints = value_hints(
        got, numerical, batch_size=batch_size, factors=factors, parts=parts, related=related
    )
    if hints or not batch_axis or got.ndim == 0 or got.shape[0] < 2:
        return hints
    scale = max(float(NP.abs(got).max()) + float(NP.abs(numerical).max()), 1e-12)
    n = got.shape[0]
    row_err = (NP.abs(got - numerical).reshape(n, -1).max(axis=1)) / scale
    rows = [int(i) for i in NP.nonzero(row_err > tol)[0]]
    if 0 < len(rows) < n:
        shown = rows if len(rows) <= 10 else rows[:10] + ["..."]
        hints.append(
            f"only batch rows {shown} (of {n}) are wrong: is a loop skipping rows, "
            f"or are some rows handled with the wrong values (indexing, masks)?"
        )
    return hints


def _sampled(structure: dict, checked) -> dict:
    """The structure arrays restricted to the sampled entries of a gradient."""
    if checked is None:
        return structure
    out = dict(structure)
    for key in ("parts", "related"):
        if out.get(key):
            out[key] = {
                n: NP.array(a, dtype=NP.float64).reshape(-1)[checked] for n, a in out[key].items()
            }
    return out


def _report_message(t, tol: float, label: str, batch_size, batch_axis: bool, structure) -> str:
    what = f"{label}: gradient {t.name}"
    if t.problem is not None:
        if t.analytic is None:
            return f"{what} is missing (None): did backward compute, store and return it?"
        got_shape = getattr(t.analytic, "shape", None)
        if got_shape is not None and tuple(got_shape) != t.numerical.shape:
            return _shape_message(f"{label} {t.name}", tuple(got_shape), t.numerical.shape)
        return f"{what}: {t.problem}"
    sampled = "" if t.checked is None else f" ({len(t.checked)} sampled entries)"
    msg = (
        f"{what} is wrong{sampled}: relative error {t.rel_error:.2e} > {tol:.0e}; worst at "
        f"index {t.worst_index}: expected {t.expected:.6g} (numerical), got {t.got:.6g}"
    )
    got, num = t.analytic, t.numerical
    if t.checked is not None:
        got, num = got.reshape(-1)[t.checked], num.reshape(-1)[t.checked]
        batch_axis = False
    structure = _sampled(structure or {}, t.checked)
    for hint in diagnose_gradient(
        got, num, tol=tol, batch_size=batch_size, batch_axis=batch_axis, **structure
    ):
        msg += f"\n  Hint: {hint}"
    return msg


def _batch_names(report, x) -> list[str]:
    """Gradients shaped like the batch input ``x`` (their axis 0 indexes samples)."""
    shape = getattr(x, "shape", None)
    if not shape:
        return []
    return [name for name, t in report.tensors.items() if t.numerical.shape == tuple(shape)]


def _fail_report(
    report,
    tol: float,
    label: str,
    batch_size,
    batch_names: Sequence[str],
    atol: float = 1e-9,
    structure: Mapping[str, dict] | None = None,
):
    """Fail with one paragraph per wrong gradient; ``structure[name]`` feeds its diagnosis."""
    failures = report.failures(tol, atol)
    if failures:
        structure = structure or {}
        fail(
            "\n".join(
                _report_message(
                    t, tol, label, batch_size, t.name in batch_names, structure.get(t.name)
                )
                for t in failures
            )
        )


def assert_gradient(
    got: Any,
    numerical: np.ndarray,
    name: str = "dx",
    tol: float = 1e-6,
    *,
    batch_size: int | None = None,
    batch_axis: bool = False,
    label: str = "your code",
    atol: float = 1e-9,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
) -> None:
    """Fail unless ``got`` matches ``numerical``: rel_error <= tol or max|diff| <= atol.

    ``atol`` only rescues gradients that are legitimately ~0 (central differences leave
    ~1e-11 of rounding noise there); a real bug on O(1) inputs is far larger. ``factors``,
    ``parts`` and ``related`` feed the structural diagnosis (see ``assert_close``).
    """
    numerical = NP.array(numerical, dtype=NP.float64)
    if got is not None:
        got = to_array(got, name, expected_ndim=numerical.ndim)
    report = _gc.GradReport({name: _compare_gradients(name, numerical, got)})
    structure = {name: {"factors": factors, "parts": parts, "related": related}}
    _fail_report(report, tol, label, batch_size, [name] if batch_axis else [], atol, structure)


def assert_numerical_gradient(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    analytic: Any,
    dout: Any = None,
    tol: float = 1e-6,
    h: float = 1e-5,
    *,
    name: str = "dx",
    batch_size: int | None = None,
    batch_axis: bool = False,
    label: str = "your code",
    atol: float = 1e-9,
    factors: Mapping[str, float] | None = None,
    parts: Mapping[str, Any] | None = None,
    related: Mapping[str, Any] | None = None,
) -> None:
    """Compare ``analytic`` with the numerical gradient of ``sum(f(x) * dout)`` w.r.t. ``x``.

    ``f`` is evaluated on a private copy of ``x``. Use it for gradients the check obtains
    itself, e.g. from ``tf.GradientTape`` around the student's TensorFlow function.
    """
    x = NP.array(x, dtype=NP.float64, copy=True)
    with quiet():
        numerical = _numerical_gradient(f, x, dout, h)
    GUARD.restore()
    assert_gradient(
        analytic,
        numerical,
        name,
        tol,
        batch_size=batch_size,
        batch_axis=batch_axis,
        label=label,
        atol=atol,
        factors=factors,
        parts=parts,
        related=related,
    )


def _random_dout(out: np.ndarray, dout: Any, seed: int) -> np.ndarray:
    if dout is not None:
        return NP.array(dout, dtype=NP.float64, copy=True)
    return _gc.dout_rng(seed).standard_normal(out.shape)


def assert_layer_gradients(
    layer: Any,
    x: np.ndarray,
    dout: Any = None,
    tol: float = 1e-6,
    h: float = 1e-5,
    sample: int | None = None,
    seed: int = 0,
    label: str | None = None,
    *,
    atol: float = 1e-9,
) -> _gc.GradReport:
    """Check a layer's ``backward`` (dx and every ``grads[name]``) against numerics.

    Also fails when ``forward`` modifies ``x``, ``backward`` modifies ``dout``, either
    changes ``params``, or ``backward`` leaves a parameter's gradient unset.

    Args:
        layer: the student's layer (``params``, ``grads``, ``forward``, ``backward``).
        x: float64 input batch; its first axis is the batch (N), used for hints.
        dout: upstream gradient; None draws a standard normal one from ``seed``.
        tol: largest accepted ``rel_error`` per tensor.
        h: central-difference step.
        sample: check only this many random entries per tensor.
        seed: seeds ``dout`` and the sampled entries.
        label: how to name the layer in messages (default: its class name).
        atol: a tensor also passes when max|numerical - analytic| <= atol (gradients ~0).

    Returns:
        The ``GradReport`` (when the check passes).
    """
    label = label or type_name(layer)
    params = getattr(layer, "params", None)
    if not isinstance(params, dict):
        fail(f"{label}: expected a `params` dict on the layer, got {type(params).__name__}")
    params_before = {k: NP.array(v, copy=True) for k, v in params.items()}
    out = call_student(layer.forward, x, label=f"`{label}.forward`")
    out = to_array(out, f"{label}.forward(x)", expected_ndim=x.ndim)
    dout = _random_dout(out, dout, seed)
    if dout.shape != out.shape:
        raise ValueError(f"dout: expected shape {out.shape} (the output's), got {dout.shape}")
    call_student(layer.backward, dout, label=f"`{label}.backward`")
    for key, before in params_before.items():
        now = layer.params.get(key)
        if now is None or NP.array(now).shape != before.shape or not (now == before).all():
            fail(
                f"{label}: params[{key!r}] changed during forward/backward; backward only "
                f"fills grads[{key!r}], the optimiser updates the parameters"
            )
    grads = getattr(layer, "grads", {})
    for key in params_before:
        if grads.get(key) is None:
            fail(
                f"{label}: grads[{key!r}] is missing after backward: store it, e.g. "
                f"self.grads[{key!r}] = ..."
            )
    layer_report = _remote_layer_report if isinstance(layer, Remote) else _gc.check_layer_gradients
    try:
        with quiet():
            report = layer_report(layer, x, dout, h, sample, seed)
    finally:
        GUARD.restore()
    batch_size = x.shape[0] if x.ndim >= 1 else None
    # A multiple of the parameter in its gradient (an L2 term where none belongs) is named.
    structure = {k: {"related": {f"params[{k!r}]": v}} for k, v in params_before.items()}
    _fail_report(report, tol, label, batch_size, _batch_names(report, x), atol, structure)
    return report


def _losses(outs: list, dout: np.ndarray) -> list[float]:
    """``sum(out * dout)`` for each result, as ``course_utils.gradcheck`` computes it."""
    losses = []
    for out in outs:
        out = NP.array(out, dtype=NP.float64)
        if out.shape != dout.shape:
            raise ValueError(f"dout: expected shape {out.shape} (the output's), got {dout.shape}")
        losses.append(float((out * dout).sum()))
    return losses


def _flat_ids(size: int, checked) -> list[int]:
    return list(range(size)) if checked is None else [int(i) for i in checked]


def _central(losses: list[float], ids: list[int], shape, h: float) -> np.ndarray:
    grad = NP.zeros(shape, dtype=NP.float64)
    flat = grad.reshape(-1)
    for k, i in enumerate(ids):
        flat[i] = (losses[2 * k] - losses[2 * k + 1]) / (2.0 * h)
    return grad


def _remote_layer_report(layer, x, dout, h, sample, seed) -> _gc.GradReport:
    """``course_utils.gradcheck.check_layer_gradients`` for a layer in the student's kernel.

    The same steps and arithmetic, with each batch of perturbed evaluations sent in one
    request: perturbed copies of ``x`` for dx, and in-place perturbations of the layer's
    own parameter arrays (the ``perturb`` request, restored exactly) for each parameter.
    """
    x = _gc._as_float64_array(x, "x")
    rng = _gc.dout_rng(seed)
    out = NP.array(layer.forward(x), dtype=NP.float64)
    dout = _gc._default_dout(out, dout, rng)
    dx = layer.backward(dout.copy())
    grads = getattr(layer, "grads", {})
    analytic = {
        name: (None if g is None else NP.array(g, dtype=NP.float64, copy=True))
        for name, g in (grads.items() if isinstance(grads, dict) else [])
    }
    report = _gc.GradReport(dout=dout)
    checked = _gc._sample_indices(x.size, sample, rng)
    ids = _flat_ids(x.size, checked)
    calls = []
    for i in ids:
        for step in (h, -h):
            moved = x.copy()
            moved.reshape(-1)[i] += step
            calls.append((moved,))
    num = _central(_losses(layer.forward.map(calls), dout), ids, x.shape, h)
    report.tensors["dx"] = _gc.compare_gradients("dx", num, dx, checked)
    for name, p in layer.params.items():
        p = _gc._as_float64_array(p, f"params[{name!r}]")
        checked = _gc._sample_indices(p.size, sample, rng)
        ids = _flat_ids(p.size, checked)
        flat = p.reshape(-1)
        changes = [[i, float(flat[i]) + step] for i in ids for step in (h, -h)]
        outs = layer._request(
            "perturb",
            path=[["attr", "params"], ["item", name]],
            changes=changes,
            fn=layer.forward,
            args=(x,),
            select=None,
        )
        num = _central(_losses(outs, dout), ids, p.shape, h)
        report.tensors[name] = _gc.compare_gradients(name, num, analytic.get(name), checked)
    return report


def assert_function_gradients(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    args: Sequence[Any],
    dout: Any = None,
    tol: float = 1e-6,
    h: float = 1e-5,
    sample: int | None = None,
    seed: int = 0,
    wrt: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
    label: str | None = None,
    *,
    atol: float = 1e-9,
) -> _gc.GradReport:
    """Check a functional pair ``forward(*args) -> (out, cache)``, ``backward(dout, cache)``.

    ``backward`` returns one gradient per differentiated argument (see
    ``course_utils.gradcheck.check_function_gradients`` for ``wrt`` and ``names``). Fails
    too when either function modifies an argument or ``dout`` in place.
    """
    fname = getattr(forward, "__name__", "forward")
    bname = getattr(backward, "__name__", "backward")
    label = label or f"{fname}/{bname}"
    args = list(args)
    before = [NP.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    result = call_student(forward, *args, label=f"`{fname}`")
    if not (isinstance(result, tuple) and len(result) == 2):
        got = type(result).__name__
        if isinstance(result, tuple):
            got += f" of length {len(result)}"
        fail(f"{label}: forward must return a pair (out, cache), got {got}")
    out = to_array(result[0], "out")
    dout = _random_dout(out, dout, seed)
    call_student(backward, dout, result[1], label=f"`{bname}`")
    for i, (a, b) in enumerate(zip(args, before, strict=True)):
        if b is not None and (a.shape != b.shape or not ((a == b) | (a != a)).all()):
            fail(
                f"{label} modified argument {i + 1} of forward in place (through the cache?); "
                f"work on copies"
            )
    try:
        with quiet():
            report = _gc.check_function_gradients(
                forward, backward, args, dout, h, sample, seed, wrt, names
            )
    except ValueError as exc:
        GUARD.restore()
        fail(f"{label}: {exc}")
    finally:
        GUARD.restore()
    first = args[0] if args else None
    batch_size = first.shape[0] if isinstance(first, np.ndarray) and first.ndim >= 1 else None
    _fail_report(report, tol, label, batch_size, _batch_names(report, first), atol)
    return report
