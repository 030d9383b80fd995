"""Checks for assignment 03_backprop (two notebooks).

``computational_graphs.ipynb``

- ``ce_from_probabilities(Y, targets)`` / ``ce_from_logits(Y, targets)``: the mean batch
  cross-entropy with one-hot targets, reading ``Y`` as probabilities or as logits;
- ``std_backward(x1, x2, ddof)``: a hand-written backward pass through the graph of the
  standard deviation of two samples (every node's gradient);
- the scalar autodiff class ``Value``: ``+``/``*``; ``**``/``exp``/``log``; ``tanh``/``relu``;
  ``backward``; and ``std_value(x1, x2, ddof)`` built from ``Value`` operations.

``three_layer_net.ipynb``

- ``ThreeLayerNet``: ``loss`` (MSE and cross-entropy, L2 regularisation), ``predict``,
  ``train`` (mini-batch SGD); and ``predict`` of the fitted ReLU network
  (test MSE on y = 24 sin(3.2x) + 42 cos(2.3x)).

Every wrong answer is compared with the known bugs of that task (a sum instead of a mean,
the regularisation missing from the gradient, the sigmoid derivative at the wrong point,
``=`` instead of ``+=``, ...) so the failure message names the likely one.

Each test cell scores its own task (``course_utils.grading.stand_ins``): ``std_value`` runs
on the course's reference ``Value`` (bound to the name ``Value`` while its check runs); the
``**`` / ``exp`` checks that need a product (``a / b`` is the given ``a * b**-1``,
``a.exp() * a``) use the reference ``__mul__``; ``train`` gets its mini-batch losses and
gradients from the reference ``loss``.
"""

from __future__ import annotations

import math

import numpy as np

import course_utils.data.synthetic as _synthetic
from course_utils.grading import (
    EXTREME_LOGITS,
    EXTREME_TARGETS,
    assert_close,
    assert_gradient,
    assert_scalar,
    call_student,
    check,
    confidently_wrong_rows,
    expect_callable,
    explain_difference,
    fail,
    forbid_calls,
    instance_of,
    is_class,
    perturbed_results,
    protect,
    reference,
    seal,
    set_student_value,
    substituted,
    substituted_attributes,
    to_array,
    type_name,
    underflow_explanation,
)
from course_utils.grading.stand_ins import reverse_topological

protect(_synthetic)
_make_function_data = _synthetic.make_function_data

# =====================================================================================
# 1. Cross-entropy of a batch
# =====================================================================================
#: Outputs of the network for three samples of classes 1, 2, 3 (0-based targets 0, 1, 2).
BATCH_Y = np.array([[0.65, 0.43, 0.11], [0.05, 0.51, 0.18], [0.33, 0.21, 0.72]])
BATCH_TARGETS = np.array([0, 1, 2])

_CE_FORBIDDEN = [
    "course_utils.losses.softmax_cross_entropy",
    "course_utils.functional.log_softmax",
    "course_utils.functional.softmax",
    "scipy.special.logsumexp",
    "scipy.special.log_softmax",
    "scipy.special.softmax",
]
_CE_FORBIDDEN_HINT = "write the few lines yourself with np.log, np.exp, np.max and np.mean"


def _picked(Y: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return Y[np.arange(Y.shape[0]), targets]


def _ce_probabilities_ref(Y: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.mean(np.log(_picked(Y, targets))))


def _log_softmax(Y: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = Y - Y.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _ce_logits_ref(Y: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.mean(_picked(_log_softmax(Y), targets)))


def _ce_candidates(Y: np.ndarray, t: np.ndarray, kind: str) -> list[tuple[float, str]]:
    """Values that known-wrong implementations return, with the sentence explaining each."""
    N, C = Y.shape
    one_hot = np.eye(C)[t]
    with np.errstate(all="ignore"):
        probs = Y if kind == "probabilities" else np.exp(_log_softmax(Y))
        binary = one_hot * np.log(probs) + (1 - one_hot) * np.log(1 - probs)
        ref = _ce_probabilities_ref(probs, t)
        out = [
            (N * ref, f"that is the SUM over the batch; the mean divides by N = {N}"),
            (ref * N / (N * C), f"that divides by N*C = {N * C}; divide by the batch size N"),
            (-ref, "the sign is flipped: cross-entropy is MINUS the mean log-probability"),
            (ref / np.log(10), "that uses log10; use the natural logarithm np.log"),
            (ref / np.log(2), "that uses log2; use the natural logarithm np.log"),
            (
                float(-np.mean(np.sum(binary, axis=1))),
                "that is the BINARY cross-entropy of every output; with one-hot targets "
                "only the true class's term -log p[i, t_i] remains",
            ),  # fmt: skip
            (
                float(-np.mean(np.sum(np.log(probs), axis=1))),
                "that sums -log over ALL classes; with one-hot targets only the entry of "
                "the true class counts",
            ),
            (
                _ce_probabilities_ref(probs, (t + 1) % C),
                "that picks the column t_i + 1: the targets are already 0-based column indices",
            ),
            (
                _ce_probabilities_ref(probs, (t - 1) % C),
                "that picks the column t_i - 1: the targets are already 0-based column indices",
            ),
        ]
        if kind == "probabilities":
            out += [
                (
                    _ce_logits_ref(Y, t),
                    "that is the SOFTMAX version (ce_from_logits): here read Y as "
                    "probabilities, without softmax",
                ),
                (
                    _ce_probabilities_ref(Y / Y.sum(axis=1, keepdims=True), t),
                    "that renormalises the rows first; read the outputs as they are "
                    "(the notebook discusses why they do not sum to 1)",
                ),
            ]
        else:
            out += [
                (
                    _ce_probabilities_ref(Y, t),
                    "that reads the logits as probabilities (no softmax); apply softmax "
                    "to each row first",
                ),
                (
                    float(-np.mean(_picked(_log_softmax(Y, axis=0), t))),
                    "that normalises each COLUMN (softmax over axis 0, across samples); "
                    "the softmax runs over the classes of each row (axis=1)",
                ),
            ]
    return [(float(v), why) for v, why in out if np.isfinite(v)]


def _close_value(got: float, expected: float, rtol: float = 1e-9) -> bool:
    return abs(got - expected) <= rtol * max(1.0, abs(expected))


def _check_ce_case(fn, Y: np.ndarray, t: np.ndarray, kind: str, case: str) -> None:
    name = "ce_from_probabilities" if kind == "probabilities" else "ce_from_logits"
    label = f"`{name}(Y, targets)`"
    got = call_student(fn, Y, t, label=label)
    value = assert_scalar(got, f"{name}(Y, targets)", kind="float")
    reference = _ce_probabilities_ref if kind == "probabilities" else _ce_logits_ref
    expected = reference(Y, t)
    if _close_value(value, expected):
        return
    N, C = Y.shape
    if not math.isfinite(value):
        wrong_rows = confidently_wrong_rows(Y, t) if kind == "logits" else []
        if value == math.inf and wrong_rows:
            why = underflow_explanation(wrong_rows, Y, t)
        elif kind == "logits" and float(np.abs(Y).max()) > 50:
            why = (
                "exp of large logits overflows: subtract each row's maximum before np.exp "
                "(softmax does not change), or use the log-sum-exp trick"
            )
        elif kind == "logits":
            why = (
                "the log of a number <= 0: logits can be negative, so reading them as "
                "probabilities (no softmax) fails; apply softmax to each row first"
            )
        else:
            why = "the log of 0 or of a negative number: pick Y[i, targets[i]]"
        fail(f"{label} {case}: expected {expected:.10g}, got {value}.\nHint: {why}")
    msg = f"{label} {case} (N={N}, C={C}): expected {expected:.10g}, got {value:.10g}"
    hints = [why for v, why in _ce_candidates(Y, t, kind) if _close_value(value, v, 1e-7)]
    if hints:
        msg += "\nHint: " + "; or ".join(dict.fromkeys(hints))
    fail(msg)


def _ce_common(fn, name: str) -> None:
    expect_callable(fn, name)
    forbid_calls(fn, _CE_FORBIDDEN, hint=_CE_FORBIDDEN_HINT)
    _no_grader_code(fn)


@check
def check_ce_from_probabilities(ce_from_probabilities) -> None:
    """Visible: the three-sample batch of the notebook read as probabilities."""
    _ce_common(ce_from_probabilities, "ce_from_probabilities")
    _check_ce_case(
        ce_from_probabilities, BATCH_Y.copy(), BATCH_TARGETS.copy(), "probabilities",
        "on the notebook's batch",
    )  # fmt: skip


@check
def check_ce_from_logits(ce_from_logits) -> None:
    """Visible: the three-sample batch of the notebook read as logits."""
    _ce_common(ce_from_logits, "ce_from_logits")
    _check_ce_case(
        ce_from_logits, BATCH_Y.copy(), BATCH_TARGETS.copy(), "logits", "on the notebook's batch"
    )


def _ce_hidden_cases(kind: str) -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(303 if kind == "probabilities" else 304)
    cases = []
    for i, (n, c) in enumerate([(5, 4), (17, 10), (1, 3), (64, 2), (8, 8)]):
        if kind == "probabilities":
            Y = rng.uniform(0.02, 1.0, size=(n, c))
            if i % 2:  # proper probability rows too
                Y = Y / Y.sum(axis=1, keepdims=True)
        else:
            Y = rng.standard_normal((n, c)) * (1.0 if i % 2 else 4.0)
        t = rng.integers(0, c, size=n)
        cases.append((Y, t, f"(random case {i})"))
    t = rng.integers(0, 3, size=6).astype(np.int32)
    cases.append((rng.uniform(0.1, 0.9, size=(6, 3)), t, "(int32 targets)"))
    if kind == "logits":
        # Every stability probe has a confidently wrong row (see grading.stability): here
        # the last one, whose true class is 1400 below the max (loss 1400, not inf).
        extreme = np.array(
            [[1000.0, -1000.0, 0.0], [-1000.0, 999.0, 1000.0], [5.0, 5.0, 5.0],
             [1000.0, -400.0, 0.0]]
        )  # fmt: skip
        cases.append((extreme, np.array([0, 1, 2, 1]), "(logits of ±1000: numerical stability)"))
        cases.append(
            (EXTREME_LOGITS.copy(), EXTREME_TARGETS.copy(), "(logits of ±1000, wrong classes)")
        )
        cases.append((BATCH_Y + 50.0, BATCH_TARGETS.copy(), "(the notebook's batch + 50)"))
    return cases


@check
def check_ce_from_probabilities_hidden(ce_from_probabilities) -> None:
    """Hidden: random shapes, unnormalised and normalised rows, N = 1, int32 targets."""
    _ce_common(ce_from_probabilities, "ce_from_probabilities")
    for Y, t, case in _ce_hidden_cases("probabilities"):
        _check_ce_case(ce_from_probabilities, Y, t, "probabilities", case)


@check
def check_ce_from_logits_hidden(ce_from_logits) -> None:
    """Hidden: random shapes and scales, N = 1, int32 targets, logits of ±1000."""
    _ce_common(ce_from_logits, "ce_from_logits")
    for Y, t, case in _ce_hidden_cases("logits"):
        _check_ce_case(ce_from_logits, Y, t, "logits", case)


# =====================================================================================
# 2. The computational graph of the standard deviation of two samples
# =====================================================================================
#: Nodes in forward order; each maps to (its inputs, the formula shown to students).
STD_GRAPH = {
    "x1": ((), "input"),
    "x2": ((), "input"),
    "s": (("x1", "x2"), "s = x1 + x2"),
    "m": (("s",), "m = s / N"),
    "d1": (("x1", "m"), "d1 = x1 - m"),
    "d2": (("x2", "m"), "d2 = x2 - m"),
    "q1": (("d1",), "q1 = d1**2"),
    "q2": (("d2",), "q2 = d2**2"),
    "S": (("q1", "q2"), "S = q1 + q2"),
    "v": (("S",), "v = S / (N - ddof)"),
    "sigma": (("v",), "sigma = sqrt(v)"),
}
STD_NODES = tuple(STD_GRAPH)


def std_forward(x1: float, x2: float, ddof: int = 0) -> dict[str, float]:
    """Forward values of every node of the graph (N = 2 samples)."""
    n = 2
    f = {"x1": float(x1), "x2": float(x2)}
    f["s"] = f["x1"] + f["x2"]
    f["m"] = f["s"] / n
    f["d1"] = f["x1"] - f["m"]
    f["d2"] = f["x2"] - f["m"]
    f["q1"] = f["d1"] ** 2
    f["q2"] = f["d2"] ** 2
    f["S"] = f["q1"] + f["q2"]
    f["v"] = f["S"] / (n - ddof)
    f["sigma"] = math.sqrt(f["v"])
    return f


def std_local_derivatives(f: dict[str, float], ddof: int = 0) -> dict[tuple[str, str], float]:
    """Local derivative d(node)/d(input) of every edge (input, node), from forward values."""
    n = 2
    return {
        ("x1", "s"): 1.0,
        ("x2", "s"): 1.0,
        ("s", "m"): 1.0 / n,
        ("x1", "d1"): 1.0,
        ("m", "d1"): -1.0,
        ("x2", "d2"): 1.0,
        ("m", "d2"): -1.0,
        ("d1", "q1"): 2.0 * f["d1"],
        ("d2", "q2"): 2.0 * f["d2"],
        ("q1", "S"): 1.0,
        ("q2", "S"): 1.0,
        ("S", "v"): 1.0 / (n - ddof),
        ("v", "sigma"): 0.5 / f["sigma"],
    }


def _std_reference(x1: float, x2: float, ddof: int) -> tuple[dict, dict]:
    f = std_forward(x1, x2, ddof)
    local = std_local_derivatives(f, ddof)
    g = dict.fromkeys(STD_NODES, 0.0)
    g["sigma"] = 1.0
    for node in reversed(STD_NODES):
        for child in STD_GRAPH[node][0]:
            g[child] += g[node] * local[(child, node)]
    return f, g


def _std_node_hints(node: str, value: float, f: dict, g: dict, ddof: int) -> list[str]:
    n = 2
    cands: list[tuple[float, str]] = []
    if node == "v":
        cands = [
            (0.5 / f["v"], "d sqrt(v)/dv = 1 / (2 sqrt(v)) = 1 / (2 sigma), not 1 / (2 v)"),
            (0.5 * f["sigma"], "d sqrt(v)/dv = 1 / (2 sqrt(v)), not sqrt(v) / 2"),
            (1.0, "multiply by the local derivative of sqrt: 1 / (2 sqrt(v))"),
        ]
    elif node == "S":
        cands = [
            (g["v"] / n, f"v = S / (N - ddof) with ddof = {ddof}: divide by {n - ddof}, not by N"),
            (
                g["v"] / (n - 1),
                f"v = S / (N - ddof) with ddof = {ddof}: divide by {n - ddof}, not by N - 1",
            ),
            (g["v"], "multiply by the local derivative of v = S / (N - ddof): 1 / (N - ddof)"),
        ]
    elif node in ("q1", "q2"):
        cands = [(0.5 * g["S"], "S = q1 + q2: each input receives the full gradient of S")]
    elif node in ("d1", "d2"):
        q = "q" + node[1]
        cands = [
            (2.0 * g[q], f"d({node}**2)/d{node} = 2 {node}: you left out the factor {node}"),
            (f[node] * g[q], f"d({node}**2)/d{node} = 2 {node}: you left out the factor 2"),
            (g[q], f"multiply by the local derivative of {q} = {node}**2, which is 2 {node}"),
        ]
    elif node == "m":
        cands = [
            # d1 - m and d2 - m: -g["d1"] == g["d2"] always, so one candidate covers both
            (-g["d1"], "m feeds BOTH d1 and d2: add the gradients arriving from both"),
        ]
    elif node == "s":
        cands = [(g["m"], "m = s / N: multiply by 1 / N")]
    elif node in ("x1", "x2"):
        d = "d" + node[1]
        cands = [
            (g["s"], f"{node} feeds both s and {d}: add the gradient arriving through {d}"),
            (-g[node], "the sign is flipped"),
        ]
    hints = [why for c, why in cands if abs(c - g[node]) > 1e-9 and _close_value(value, c, 1e-7)]
    if not hints and node in ("x1", "x2", "m", "s"):
        hints.append(
            "a node used by several others receives the SUM of the gradients coming back "
            "along each of its outgoing edges"
        )
    return hints


def _check_std_case(std_backward, x1: float, x2: float, ddof: int, case: str) -> None:
    label = f"`std_backward({x1:g}, {x2:g}, ddof={ddof})`"
    result = call_student(std_backward, x1, x2, ddof, label=label)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"{label}: expected a pair (sigma, grads), got {type(result).__name__}")
    sigma_got, grads = result
    f, g = _std_reference(x1, x2, ddof)
    sigma = assert_scalar(sigma_got, "sigma", kind="number")
    if not _close_value(sigma, f["sigma"]):
        msg = f"{label} {case}: sigma: expected {f['sigma']:.10g}, got {sigma:.10g}"
        other = math.sqrt(f["S"] / (2 - (1 - ddof)))
        if _close_value(sigma, other, 1e-7):
            msg += (
                f"\nHint: that is the {'sample' if ddof == 0 else 'population'} standard "
                f"deviation; with ddof={ddof} divide the sum of squares by N - ddof = {2 - ddof}"
            )
        elif _close_value(sigma, f["v"], 1e-7):
            msg += "\nHint: that is the variance; sigma is its square root"
        fail(msg)
    if not isinstance(grads, dict):
        fail(f"{label}: grads must be a dict node name -> gradient, got {type(grads).__name__}")
    missing = [k for k in STD_NODES if k not in grads]
    if missing:
        fail(f"{label}: grads has no entry for {missing}; give d sigma / d node for every node")
    for node in reversed(STD_NODES):  # the order of the backward pass: report the first slip
        value = assert_scalar(grads[node], f"grads[{node!r}]", kind="number")
        if _close_value(value, g[node]):
            continue
        formula = STD_GRAPH[node][1]
        msg = (
            f"{label} {case}: grads[{node!r}] (d sigma / d {node}, node {formula!r}): "
            f"expected {g[node]:.10g}, got {value:.10g}"
        )
        hints = _std_node_hints(node, value, f, g, ddof)
        if hints:
            msg += "\nHint: " + "; or ".join(hints)
        fail(msg)


@check
def check_std_backward(std_backward) -> None:
    """Visible: x1 = -1, x2 = 3 for the population (ddof=0) and the sample (ddof=1) std."""
    expect_callable(std_backward, "std_backward")
    _no_grader_code(std_backward)
    _check_std_case(std_backward, -1.0, 3.0, 0, "(population)")
    _check_std_case(std_backward, -1.0, 3.0, 1, "(sample)")


@check
def check_std_backward_hidden(std_backward) -> None:
    """Hidden: random points (x1 > x2 and x1 < x2, large and small), both definitions."""
    expect_callable(std_backward, "std_backward")
    _no_grader_code(std_backward)
    rng = np.random.default_rng(2023)
    points = [(3.0, -1.0), (0.5, 0.75), (-120.0, 40.0)]
    while len(points) < 7:
        a, b = rng.uniform(-5, 5, size=2)
        if abs(a - b) > 0.5:
            points.append((round(float(a), 3), round(float(b), 3)))
    for i, (a, b) in enumerate(points):
        _check_std_case(std_backward, a, b, i % 2, f"(point {i})")
        _check_std_case(std_backward, a, b, 1 - i % 2, f"(point {i})")


# =====================================================================================
# 3. The scalar autodiff engine ``Value``
# =====================================================================================
_PRIOR = 0.25  # a gradient already present on an operand before _backward runs


def _expect_value_class(Value) -> None:
    expect_callable(Value, "Value", kind="class")
    if not is_class(Value):
        fail(f"expected your class `Value`, got {type_name(Value)}")


def _value(Value, x: float):
    v = call_student(Value, x, label=f"`Value({x!r})`")
    if not instance_of(v, Value):
        fail(f"`Value({x!r})` did not return a Value")
    return v


def _data(obj, what: str) -> float:
    data = getattr(obj, "data", None)
    if data is None:
        fail(f"`{what}`: expected a Value with a `.data` attribute, got {type_name(obj)}")
    return assert_scalar(data, f"({what}).data", kind="number")


def _grad(v, what: str) -> float:
    return assert_scalar(getattr(v, "grad", None), f"{what}.grad", kind="number")


def _result(Value, out, expr: str):
    if not instance_of(out, Value):
        fail(
            f"`{expr}` returned {type_name(out)} {out!r:.40}, not a Value: wrap the "
            f"result, e.g. `out = Value(..., (self, other), '*')`, and return it"
        )
    return out


def _num_derivative(fn, x: float) -> float:
    h = 1e-6 * max(1.0, abs(x))
    return (fn(x + h) - fn(x - h)) / (2 * h)


# Each op: expression, builder(Value, operand Values) -> out, reference f(*xs), d f / d xs.
def _op_table():
    return {
        "add": ("a + b", lambda a, b: a + b, lambda x, y: x + y, lambda x, y: (1.0, 1.0)),
        "mul": ("a * b", lambda a, b: a * b, lambda x, y: x * y, lambda x, y: (y, x)),
        "add_const": ("a + 2.5", lambda a: a + 2.5, lambda x: x + 2.5, lambda x: (1.0,)),
        "radd_const": ("2.5 + a", lambda a: 2.5 + a, lambda x: 2.5 + x, lambda x: (1.0,)),
        "mul_const": ("a * -3", lambda a: a * -3, lambda x: -3 * x, lambda x: (-3.0,)),
        "rmul_const": ("-3 * a", lambda a: -3 * a, lambda x: -3 * x, lambda x: (-3.0,)),
        "neg": ("-a", lambda a: -a, lambda x: -x, lambda x: (-1.0,)),
        "sub": ("a - b", lambda a, b: a - b, lambda x, y: x - y, lambda x, y: (1.0, -1.0)),
        "rsub_const": ("1.5 - a", lambda a: 1.5 - a, lambda x: 1.5 - x, lambda x: (-1.0,)),
        "pow2": ("a ** 2", lambda a: a**2, lambda x: x**2, lambda x: (2 * x,)),
        "pow3": ("a ** 3", lambda a: a**3, lambda x: x**3, lambda x: (3 * x * x,)),
        "pow_neg": ("a ** -1", lambda a: a**-1, lambda x: 1 / x, lambda x: (-1 / (x * x),)),
        "pow_half": (
            "a ** 0.5", lambda a: a**0.5, lambda x: math.sqrt(x), lambda x: (0.5 / math.sqrt(x),)
        ),
        "div": ("a / b", lambda a, b: a / b, lambda x, y: x / y, lambda x, y: (1 / y, -x / y**2)),
        "exp": ("a.exp()", lambda a: a.exp(), math.exp, lambda x: (math.exp(x),)),
        "log": ("a.log()", lambda a: a.log(), math.log, lambda x: (1 / x,)),
        "tanh": ("a.tanh()", lambda a: a.tanh(), math.tanh, lambda x: (1 - math.tanh(x) ** 2,)),
        "relu": (
            "a.relu()", lambda a: a.relu(), lambda x: max(x, 0.0), lambda x: (float(x > 0),)
        ),
    }  # fmt: skip


_OPS = _op_table()
_DIRECT = {"add", "mul", "add_const", "mul_const", "pow2", "pow3", "pow_neg", "pow_half"}
_DIRECT |= {"exp", "log", "tanh", "relu"}


def _build(Value, op: str, xs: tuple[float, ...]):
    """Fresh operand Values and the student's output Value of ``op`` on them."""
    expr, build, _, _ = _OPS[op]
    operands = [_value(Value, x) for x in xs]
    out = call_student(lambda: build(*operands), label=f"`{expr}`")
    return operands, _result(Value, out, expr)


def _op_wrong_hints(op: str, got: float, xs, g: float, prior: float, local: float) -> list[str]:
    """Known wrong values of the operand's gradient after ``out._backward()``."""
    expected = prior + g * local
    cands = [
        (g * local, "the gradient was OVERWRITTEN (`=`): accumulate with `+=`, a Value used "
                    "in several places must receive the sum of all contributions"),
        (prior + local, "multiply the local derivative by out.grad (the chain rule)"),
        (prior, "_backward did not change the operand's grad: does the op set "
                "`out._backward = _backward` (and does _backward update `self.grad`)?"),
        (prior - g * local, "the sign is flipped"),
    ]  # fmt: skip
    x = xs[0]
    if op == "mul" or op == "div":
        cands.append((prior + g * x, "d(a*b)/da = b and d(a*b)/db = a: they look swapped"))
    if op.startswith("pow"):
        n = {"pow2": 2, "pow3": 3, "pow_neg": -1, "pow_half": 0.5}.get(op)
        if n is not None:
            cands.append(
                (prior + g * n * x**n, f"d(x**n)/dx = n * x**(n - 1), not n * x**n (n = {n})")
            )
            cands.append((prior + g * x ** (n - 1), "d(x**n)/dx = n * x**(n-1): the factor n?"))
    if op == "exp":
        cands.append((prior + g * x, "d exp(x)/dx = exp(x) (= out.data), not x"))
    if op == "log":
        cands.append((prior + g * math.log(x), "d log(x)/dx = 1 / x"))
    if op == "tanh":
        cands.append((prior + g * (1 - x * x), "d tanh(x)/dx = 1 - tanh(x)**2 (use out.data)"))
        cands.append((prior + g * (1 - math.tanh(x)), "d tanh(x)/dx = 1 - tanh(x)**2 (squared)"))
    if op == "relu" and x == 0:
        cands.append(
            (prior + g, "the convention here is relu'(0) = 0: use `out.data > 0` (or "
                        "`self.data > 0`), not `>=`")
        )  # fmt: skip
    return [why for c, why in cands if abs(c - expected) > 1e-9 and _close_value(got, c, 1e-6)]


def _check_op(Value, op: str, xs: tuple[float, ...], g: float = 1.7) -> None:
    expr, build, ref, dref = _OPS[op]
    where = ", ".join(f"{n} = {x:g}" for n, x in zip("ab", xs, strict=False))
    operands, out = _build(Value, op, xs)
    data = _data(out, expr)
    expected = ref(*xs)
    if not _close_value(data, expected, 1e-10):
        fail(f"forward of `{expr}` at {where}: expected {expected:.10g}, got {data:.10g}")
    if op in _DIRECT:
        prev = getattr(out, "_prev", None)
        try:
            kids = list(prev)
        except TypeError:
            kids = None
        if kids is None or not all(any(k is o for k in kids) for o in operands):
            fail(
                f"`{expr}`: out._prev must hold the operand Values (so backward() can find "
                f"them): create the result as `Value(data, (self, other), op)` / "
                f"`Value(data, (self,), op)`; got _prev = {prev!r:.60}"
            )
    for v, x in zip(operands, xs, strict=True):
        if _data(v, "operand") != x:
            fail(f"`{expr}` changed an operand's data; an operation only creates a new Value")

    # local derivatives: numerical derivative of YOUR forward, operand by operand
    def forward_at(i: int):
        def f(x: float) -> float:
            shifted = list(xs)
            shifted[i] = x
            _, o = _build(Value, op, tuple(shifted))
            return _data(o, expr)

        return f

    analytic = dref(*xs)
    for prior in (0.0, _PRIOR):
        operands, out = _build(Value, op, xs)
        for v in operands:
            v.grad = prior
        out.grad = g
        if op in _DIRECT:
            call_student(out._backward, label=f"`({expr})._backward()`")
        else:  # built from other operations: run their _backward in reverse topological order
            for node in reverse_topological(out):
                call_student(node._backward, label=f"`._backward()` of a node inside `{expr}`")
        for i, v in enumerate(operands):
            name = "ab"[i]
            got = _grad(v, name)
            numerical = _num_derivative(forward_at(i), xs[i]) if op != "relu" or xs[i] else 0.0
            want = prior + g * numerical
            if abs(got - want) <= 1e-6 * max(1.0, abs(want)) and _close_value(
                got, prior + g * analytic[i], 1e-6
            ):
                continue
            state = "a fresh operand (grad 0)" if prior == 0 else f"{name}.grad = {prior} before"
            msg = (
                f"backward of `{expr}` at {where}, out.grad = {g}, {state}: {name}.grad "
                f"should be {prior:g} + out.grad * d({expr})/d{name} = {want:.8g} "
                f"(numerical derivative {numerical:.8g}), got {got:.8g}"
            )
            for hint in _op_wrong_hints(op, got, xs, g, prior, analytic[i]):
                msg += f"\nHint: {hint}"
            fail(msg)


def _check_diamonds(Value, x: float, g: float = 1.3) -> None:
    """A Value used twice by one op, and by two ops: gradients must add up."""
    for expr, build, dlocal in [
        ("a * a", lambda a: a * a, lambda x: 2 * x),
        ("a + a", lambda a: a + a, lambda x: 2.0),
    ]:
        a = _value(Value, x)
        out = _result(Value, call_student(lambda b=build, a=a: b(a), label=f"`{expr}`"), expr)
        out.grad = g
        call_student(out._backward, label=f"`({expr})._backward()`")
        got, want = _grad(a, "a"), g * dlocal(x)
        if not _close_value(got, want, 1e-9):
            msg = (
                f"`out = {expr}` with a = {x:g}, out.grad = {g}: a is used twice, so a.grad "
                f"must be {want:.8g} (the sum of both contributions), got {got:.8g}"
            )
            if _close_value(got, want / 2, 1e-9):
                msg += "\nHint: the second contribution overwrote the first: use `+=`, not `=`"
            fail(msg)
    # a reaches c along two paths: c = a + b with b = a * 3 (run _backward in order c, b)
    a = _value(Value, x)
    b = _result(Value, call_student(lambda: a * 3.0, label="`b = a * 3`"), "a * 3")
    c = _result(Value, call_student(lambda: a + b, label="`c = a + b`"), "a + b")
    c.grad = g
    call_student(c._backward, label="`c._backward()`")
    call_student(b._backward, label="`b._backward()`")
    got, want = _grad(a, "a"), 4.0 * g
    if not _close_value(got, want, 1e-9):
        msg = (
            f"diamond `b = a * 3; c = a + b` with c.grad = {g}: after c._backward() and "
            f"b._backward(), a.grad must be {want:.8g} (1 * c.grad + 3 * b.grad), got {got:.8g}"
        )
        if _close_value(got, 3 * g, 1e-9) or _close_value(got, g, 1e-9):
            msg += (
                "\nHint: one path's gradient overwrote the other's: accumulate with `+=` in "
                "every _backward"
            )
        fail(msg)


def _op_cases(ops, rng: np.random.Generator | None):
    cases = []
    for op in ops:
        arity = _OPS[op][1].__code__.co_argcount
        if rng is None:
            xs = (1.5, -2.0)[:arity]
        else:
            xs = tuple(round(float(v), 4) for v in rng.uniform(-3, 3, size=arity))
            xs = tuple(x if abs(x) > 0.2 else x + 0.5 for x in xs)
        if op in ("log", "pow_half"):
            xs = tuple(abs(x) + 0.1 for x in xs)
        if op in ("pow_neg", "div"):
            xs = tuple(x if abs(x) > 0.3 else 0.7 for x in xs)
        cases.append((op, xs))
    return cases


_GROUP_OPS = {
    "add_mul": ["add", "mul", "add_const", "radd_const", "mul_const", "rmul_const", "neg", "sub",
                "rsub_const"],
    "pow_exp_log": ["pow2", "pow3", "pow_neg", "pow_half", "div", "exp", "log"],
    "tanh_relu": ["tanh", "relu"],
}  # fmt: skip


_STAND_INS = "course_utils.grading.stand_ins"


def _reference_mul(Value):
    """The block runs with the course's ``__mul__`` on the student's ``Value`` (task 3a)."""
    return substituted_attributes(Value, {"__mul__": reference(_STAND_INS, "value_mul")})


def _check_group(Value, group: str, rng) -> None:
    _expect_value_class(Value)
    if group == "pow_exp_log":  # `a / b` is `a * b**-1`: the product is task 3a's
        with _reference_mul(Value):
            for op, xs in _op_cases(_GROUP_OPS[group], rng):
                _check_op(Value, op, xs)
        return
    for op, xs in _op_cases(_GROUP_OPS[group], rng):
        _check_op(Value, op, xs)


@check
def check_value_add_mul(Value) -> None:
    """Visible: a + b, a * b (and -, neg, constants on either side) forward and backward."""
    _check_group(Value, "add_mul", None)
    _check_diamonds(Value, 3.0)


@check
def check_value_add_mul_hidden(Value) -> None:
    """Hidden: the same at random points, and diamonds (a node used twice)."""
    rng = np.random.default_rng(31)
    for _ in range(3):
        _check_group(Value, "add_mul", rng)
    _check_diamonds(Value, -1.7)
    _check_diamonds(Value, 0.45)


@check
def check_value_pow_exp_log(Value) -> None:
    """Visible: a ** n (n = 2, 3, -1, 0.5), a / b, exp, log forward and backward."""
    _check_group(Value, "pow_exp_log", None)


@check
def check_value_pow_exp_log_hidden(Value) -> None:
    """Hidden: the same at random points; exp(a) * a (a used twice)."""
    rng = np.random.default_rng(32)
    for _ in range(3):
        _check_group(Value, "pow_exp_log", rng)
    with _reference_mul(Value):
        a = _value(Value, 0.7)
        e = _result(Value, call_student(lambda: a.exp(), label="`a.exp()`"), "a.exp()")
        out = _result(Value, call_student(lambda: e * a, label="`a.exp() * a`"), "a.exp() * a")
        out.grad = 1.0
        call_student(out._backward, label="`out._backward()`")
        call_student(e._backward, label="`e._backward()`")
    got, want = _grad(a, "a"), math.exp(0.7) * 1.7
    if not _close_value(got, want, 1e-9):
        fail(
            f"`a.exp() * a` at a = 0.7: a.grad must be exp(a) * (1 + a) = {want:.8g}, got "
            f"{got:.8g}: a is used twice, gradients must accumulate with `+=`"
        )


@check
def check_value_tanh_relu(Value) -> None:
    """Visible: tanh and relu forward and backward, relu on both sides and at 0."""
    _expect_value_class(Value)
    for op, x in [("tanh", 0.5), ("tanh", -1.2), ("relu", 1.5), ("relu", -0.7), ("relu", 0.0)]:
        _check_op(Value, op, (x,))


@check
def check_value_tanh_relu_hidden(Value) -> None:
    """Hidden: random points, large |x| for tanh, relu at 0."""
    rng = np.random.default_rng(33)
    for _ in range(4):
        _check_group(Value, "tanh_relu", rng)
    for op, x in [("tanh", 8.0), ("tanh", -20.0), ("relu", 0.0), ("relu", 1e-3), ("relu", -1e-3)]:
        _check_op(Value, op, (x,))


# --- backward(): a recorded graph independent of the student's operations -----------
def _recorded_graph(Value, spec, seed_grad_check: bool = True):
    """Build Values with the student's constructor and our own recording _backward.

    ``spec``: list of (name, children, local derivatives) in forward order. Returns the
    nodes, the list that records the order of _backward calls, and the exact gradients.
    """
    nodes: dict = {}
    recorder = call_student(
        reference("course_utils.grading.doubles", "BackwardRecorder"), label="recorder"
    )
    for name, children, local in spec:
        kids = tuple(nodes[c] for c in children)
        node = call_student(
            Value, 1.0, kids, "f", label="`Value(data, _children, _op)`", check_mutation=False
        )
        call_student(recorder.install, node, kids, tuple(local), name, label="recorder")
        nodes[name] = node
    expected = dict.fromkeys(nodes, 0.0)
    expected[spec[-1][0]] = 1.0
    for name, children, local in reversed(spec):
        for child, d in zip(children, local, strict=True):
            expected[child] += d * expected[name]
    return nodes, recorder, expected


def _check_backward_case(Value, spec, case: str) -> None:
    nodes, recorder, expected = _recorded_graph(Value, spec)
    root_name = spec[-1][0]
    root = nodes[root_name]
    call_student(root.backward, label=f"`root.backward()` {case}")
    calls = recorder.calls
    root_grad = _grad(root, "root")
    if root_grad != 1.0:
        fail(
            f"`root.backward()` {case}: root.grad must be 1.0 afterwards (d root / d root), "
            f"got {root_grad:g}. Start the backward pass with `self.grad = 1.0`"
        )
    consumers: dict[str, list[str]] = {name: [] for name, _, _ in spec}
    for name, children, _ in spec:
        for child in children:
            consumers[child].append(name)
    inner = [name for name, children, _ in spec if children]
    counts = {name: calls.count(name) for name in nodes}
    for name in inner:
        if counts[name] == 0:
            fail(
                f"`root.backward()` {case}: node {name!r} (reachable from the root) never "
                f"ran its _backward: the topological sort must follow every node's _prev, "
                f"recursively, down to the leaves"
            )
        if counts[name] > 1:
            fail(
                f"`root.backward()` {case}: node {name!r} ran its _backward "
                f"{counts[name]} times: a node reachable along several paths must appear "
                f"ONCE in the topological order (keep a `visited` set)"
            )
    position = {name: calls.index(name) for name in inner}
    for name in inner:
        late = [c for c in consumers[name] if c in position and position[c] > position[name]]
        if late:
            fail(
                f"`root.backward()` {case}: node {name!r} ran its _backward before "
                f"{late[0]!r}, which uses it, had passed its gradient back; {name!r} then "
                f"propagates an incomplete gradient. Call _backward in REVERSE topological "
                f"order: build the order with a depth-first search that appends a node after "
                f"all its children, then walk it backwards"
            )
    for name, want in expected.items():
        got = _grad(nodes[name], name)
        if not abs(got - want) <= 1e-9 * max(1.0, abs(want)):
            fail(f"`root.backward()` {case}: d root / d {name}: expected {want:.8g}, got {got:.8g}")


def _diamond_spec(rng=None):
    r = (lambda: round(float(rng.uniform(-2, 2)), 3)) if rng is not None else None
    loc = [2.0, -1.5, 0.5, 3.0, 1.25, -2.0, 0.75, 4.0] if r is None else [r() for _ in range(8)]
    return [
        ("x", (), ()),
        ("y", (), ()),
        ("a", ("x",), (loc[0],)),
        ("b", ("a",), (loc[1],)),
        ("c", ("b", "x"), (loc[2], loc[3])),  # x is used at two depths
        ("d", ("a", "c", "y"), (loc[4], loc[5], 1.0)),
        ("root", ("d", "b"), (loc[6], loc[7])),
    ]


def _chain_spec(depth: int, rng: np.random.Generator):
    spec = [("x", (), ())]
    for i in range(depth):
        prev = "x" if i == 0 else f"n{i - 1}"
        spec.append((f"n{i}", (prev,), (round(float(rng.uniform(0.9, 1.1)), 4),)))
    spec.append(("root", (f"n{depth - 1}", "x"), (1.0, 0.5)))  # a skip over the whole chain
    return spec


def _random_dag_spec(n: int, rng: np.random.Generator):
    spec = [(f"leaf{i}", (), ()) for i in range(3)]
    for i in range(n):
        names = [s[0] for s in spec]
        k = int(rng.integers(1, 4))
        kids = tuple(rng.choice(names, size=min(k, len(names)), replace=False).tolist())
        spec.append((f"v{i}", kids, tuple(round(float(v), 3) for v in rng.uniform(-1.5, 1.5, k))))
    names = [s[0] for s in spec]
    users = {c for _, kids, _ in spec for c in kids}
    unused = tuple(nm for nm in names if nm not in users)
    spec.append(("root", unused, tuple(1.0 for _ in unused)))
    return spec


def _check_single_node(Value) -> None:
    x = _value(Value, 2.0)
    call_student(x.backward, label="`Value(2.0).backward()`")
    if _grad(x, "x") != 1.0:
        fail(
            f"`x = Value(2.0); x.backward()`: x.grad must be 1.0 (dx/dx), got {x.grad!r}. "
            f"Start the backward pass with `self.grad = 1.0`"
        )


@check
def check_value_backward(Value) -> None:
    """Visible: one node; a diamond with paths of different lengths; a 200-node chain."""
    _expect_value_class(Value)
    _check_single_node(Value)
    _check_backward_case(Value, _diamond_spec(), "(diamond graph)")
    _check_backward_case(Value, _chain_spec(200, np.random.default_rng(0)), "(deep chain)")


@check
def check_value_backward_hidden(Value) -> None:
    """Hidden: random local derivatives, random DAGs, another deep chain."""
    _expect_value_class(Value)
    rng = np.random.default_rng(34)
    _check_backward_case(Value, _diamond_spec(rng), "(random diamond)")
    for i in range(4):
        _check_backward_case(Value, _random_dag_spec(25, rng), f"(random graph {i})")
    _check_backward_case(Value, _chain_spec(300, rng), "(deep chain)")


def _reference_value(std_value):
    """The course's ``Value`` class, bound to the name ``Value`` for ``std_value``'s code."""
    value = reference(_STAND_INS, "Value")
    return value, substituted(std_value, {"Value": value})


def _check_std_value_case(std_value, Value, x1: float, x2: float, ddof: int) -> None:
    label = f"`std_value(Value({x1:g}), Value({x2:g}), ddof={ddof})`"
    a, b = _value(Value, x1), _value(Value, x2)
    out = call_student(std_value, a, b, ddof, label=label)
    if not instance_of(out, Value):
        fail(f"{label} must return a Value (built from Value operations), got {type_name(out)}")
    f, g = _std_reference(x1, x2, ddof)
    got = _data(out, "sigma")
    if not _close_value(got, f["sigma"]):
        hints = explain_difference(got, f["sigma"], factors={"N": 2}, rtol=1e-9)
        fail(
            f"{label}: sigma.data: expected {f['sigma']:.10g}, got {got:.10g}"
            + "".join(f"\nHint: {h}" for h in hints)
        )
    call_student(out.backward, label=f"{label}.backward()")
    for name, v in (("x1", a), ("x2", b)):
        got = _grad(v, name)
        if not _close_value(got, g[name], 1e-9):
            msg = (
                f"{label}: after sigma.backward(), {name}.grad: expected {g[name]:.10g}, "
                f"got {got:.10g}"
            )
            if got == 0.0:
                msg += (
                    "\nHint: the gradient did not reach the inputs: compute sigma with Value "
                    "operations on x1 and x2 (no float(), math.sqrt or .data in between)"
                )
            fail(msg)


@check
def check_std_value(std_value, Value) -> None:
    """Visible: x1 = -1, x2 = 3, both definitions, through the Value engine."""
    expect_callable(std_value, "std_value")
    _no_grader_code(std_value)
    _expect_value_class(Value)
    value, reference_value = _reference_value(std_value)  # scored alone: not your Value
    with reference_value:
        _check_std_value_case(std_value, value, -1.0, 3.0, 0)
        _check_std_value_case(std_value, value, -1.0, 3.0, 1)


@check
def check_std_value_hidden(std_value, Value) -> None:
    """Hidden: random points, both definitions."""
    expect_callable(std_value, "std_value")
    _no_grader_code(std_value)
    _expect_value_class(Value)
    rng = np.random.default_rng(35)
    value, reference_value = _reference_value(std_value)  # scored alone: not your Value
    with reference_value:
        for i in range(4):
            a, b = (round(float(v), 3) for v in rng.uniform(-4, 4, size=2))
            if abs(a - b) < 0.5:
                b = a + 1.0
            _check_std_value_case(std_value, value, a, b, i % 2)


# =====================================================================================
# 4. ThreeLayerNet: loss and gradients, predict, train
# =====================================================================================
PARAM_NAMES = ("W1", "b1", "W2", "b2")
_NET_FORBIDDEN = [
    "course_utils.layers.core.affine_forward",
    "course_utils.layers.core.affine_backward",
    "course_utils.layers.core.sigmoid_backward",
    "course_utils.layers.core.sigmoid_forward",
    "course_utils.layers.Linear",
    "course_utils.layers.Sigmoid",
    "course_utils.losses.mse",
    "course_utils.losses.softmax_cross_entropy",
    "course_utils.grading.stand_ins.ThreeLayerNetLoss",
]
_NET_HINT = (
    "write the forward and backward passes yourself (course_utils.functional.sigmoid, "
    "softmax and log_softmax are allowed)"
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def net_reference(params: dict, X: np.ndarray, y: np.ndarray, kind: str, reg: float,
                  bug: str | None = None) -> tuple[float, dict]:  # fmt: skip
    """The reference loss and gradients; ``bug`` reproduces a known mistake (diagnosis).

    loss = data loss + reg/2 * (||W1||^2 + ||W2||^2); data loss = mean((scores - y)^2)
    over all N*C entries ("mse") or the mean softmax cross-entropy of labels y ("ce").
    """
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    N = X.shape[0]
    z1 = X @ W1 + b1
    a1 = _sigmoid(z1)
    scores = a1 @ W2 + b2
    if kind == "mse":
        diff = scores - y
        data = float(np.mean(diff**2))
        if bug == "mse_mean_over_N":
            data = float(np.sum(diff**2) / N)
        dscores = 2.0 * diff / diff.size
        if bug == "mse_no_2":
            dscores = diff / diff.size
    else:
        logp = _log_softmax(scores)
        data = float(-np.mean(logp[np.arange(N), y]))
        probs = np.exp(logp)
        one_hot = np.zeros_like(scores)
        one_hot[np.arange(N), y] = 1.0
        dscores = (probs - one_hot) / N
        if bug == "ce_no_one_hot":
            dscores = probs / N
    if bug == "grad_not_averaged":
        dscores = dscores * N
    penalty = 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))
    if bug == "no_reg_loss":
        penalty = 0.0
    elif bug == "reg_no_half":
        penalty = 2 * penalty
    loss = data + penalty
    grads = {"W2": a1.T @ dscores, "b2": dscores.sum(axis=0)}
    da1 = dscores @ W2.T
    if bug == "sigmoid_at_activation":
        s = _sigmoid(a1)
        dz1 = da1 * s * (1 - s)
    elif bug == "no_sigmoid_grad":
        dz1 = da1
    else:
        dz1 = da1 * a1 * (1 - a1)
    grads["W1"] = X.T @ dz1
    grads["b1"] = dz1.sum(axis=0)
    if bug == "bias_mean":
        grads["b1"], grads["b2"] = dz1.mean(axis=0), dscores.mean(axis=0)
    factor = {"no_reg_grad": 0.0, "reg_twice": 2.0}.get(bug, 1.0)
    grads["W1"] = grads["W1"] + factor * reg * W1
    grads["W2"] = grads["W2"] + factor * reg * W2
    if bug == "reg_on_bias":
        grads["b1"] = grads["b1"] + reg * b1
        grads["b2"] = grads["b2"] + reg * b2
    return loss, grads


_LOSS_BUGS = {
    "no_reg_loss": "the regularisation term reg/2 (||W1||^2 + ||W2||^2) is missing from the loss",
    "reg_no_half": "the regularisation term is reg/2 (||W1||^2 + ||W2||^2): you left out the 1/2",
    "mse_mean_over_N": "the MSE is the mean over all N*C entries (np.mean of the squared "
                       "errors), not the sum divided by N",
}  # fmt: skip
_GRAD_BUGS = {
    "no_reg_grad": "the regularisation term is missing from the gradient: add reg * W to dW "
                   "(the derivative of reg/2 ||W||^2)",
    "reg_twice": "the regularisation gradient is applied twice (or as 2 * reg * W): the "
                 "derivative of reg/2 ||W||^2 is reg * W, added once",
    "reg_on_bias": "the biases are not regularised: add reg * W to dW1 and dW2 only",
    "sigmoid_at_activation": "the sigmoid derivative is evaluated at the wrong point: with "
                             "a1 = sigmoid(z1), sigmoid'(z1) = a1 * (1 - a1); you computed "
                             "sigmoid(a1) * (1 - sigmoid(a1))",
    "no_sigmoid_grad": "the hidden layer's gradient does not go through the sigmoid: "
                       "dz1 = da1 * a1 * (1 - a1)",
    "grad_not_averaged": "the loss is averaged over the batch but the gradient is not: "
                         "divide dscores by N as well",
    "bias_mean": "the bias gradient is the SUM over the batch of dz (dscores already "
                 "carries the 1/N), not the mean",
    "mse_no_2": "d(scores - y)^2 / dscores = 2 (scores - y): the factor 2 is missing",
    "ce_no_one_hot": "d CE / d scores = (softmax(scores) - one_hot(y)) / N: subtract the "
                     "one-hot targets",
}  # fmt: skip


def _grad_parts(params: dict, X: np.ndarray, y: np.ndarray, kind: str, reg: float) -> dict:
    """The additive parts of each reference gradient, by name, for the diagnosis.

    The backward pass is linear in dscores, so each term of dscores (softmax(scores)/N and
    -onehot(y)/N; or 2 scores/(N C) and -2 y/(N C)) gives its own part of every gradient;
    the L2 term reg * W is one more part of dW1 and dW2. A part missing, doubled or scaled
    alone (operator precedence) is then named.
    """
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    N = X.shape[0]
    a1 = _sigmoid(X @ W1 + b1)
    scores = a1 @ W2 + b2
    if kind == "mse":
        pieces = {"2·scores/(N·C)": 2 * scores / scores.size, "−2·y/(N·C)": -2 * y / scores.size}
    else:
        probs = np.exp(_log_softmax(scores))
        one_hot = np.eye(scores.shape[1])[y]
        pieces = {"softmax(scores)/N": probs / N, "−onehot(y)/N": -one_hot / N}
    parts: dict = {k: {} for k in PARAM_NAMES}
    for label, dscores in pieces.items():
        dz1 = (dscores @ W2.T) * a1 * (1 - a1)
        for k, g in (("W2", a1.T @ dscores), ("b2", dscores.sum(axis=0)),
                     ("W1", X.T @ dz1), ("b1", dz1.sum(axis=0))):  # fmt: skip
            parts[k][f"{label} (of dscores)"] = g
    parts["W1"]["reg * W1"] = reg * W1
    parts["W2"]["reg * W2"] = reg * W2
    return parts


def _random_params(d: int, h: int, c: int, rng: np.random.Generator) -> dict:
    return {
        "W1": rng.standard_normal((d, h)) * 0.8,
        "b1": rng.standard_normal(h) * 0.5,
        "W2": rng.standard_normal((h, c)) * 0.8,
        "b2": rng.standard_normal(c) * 0.5,
    }


def _targets(kind: str, N: int, c: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "mse":
        return rng.standard_normal((N, c))
    return rng.integers(0, c, size=N)


def _make_net(cls, d: int, h: int, c: int, kind: str, reg: float, params: dict):
    label = f"`ThreeLayerNet({d}, {h}, {c}, loss={kind!r}, reg={reg})`"
    net = call_student(cls, d, h, c, loss=kind, reg=reg, seed=0, label=label)
    if not isinstance(getattr(net, "params", None), dict):
        fail(f"{label}: the net must keep its parameters in a dict `self.params`")
    for k in PARAM_NAMES:
        set_student_value(net, [("attr", "params"), ("item", k)], params[k].copy())
    return net


def _params_copy(net) -> dict:
    return {k: np.array(net.params[k], dtype=np.float64, copy=True) for k in PARAM_NAMES}


def _call_loss(net, X, y, case: str):
    label = f"`net.loss(X, y)` {case}"
    before = _params_copy(net)
    result = call_student(net.loss, X, y, label=label)
    for k in PARAM_NAMES:
        if not np.array_equal(np.asarray(net.params[k]), before[k]):
            fail(f"{label} changed net.params[{k!r}]: loss only computes, train updates")
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"{label}: expected a pair (loss, grads), got {type(result).__name__}")
    value, grads = result
    value = assert_scalar(value, "loss", kind="number")
    if not isinstance(grads, dict):
        fail(f"{label}: grads must be a dict like params, got {type(grads).__name__}")
    missing = [k for k in PARAM_NAMES if k not in grads]
    if missing:
        fail(f"{label}: grads has no entry for {missing}")
    return value, grads


def _numerical_param_grads(net, X, y, h: float = 1e-5) -> dict:
    num = {}
    for k in PARAM_NAMES:
        p = np.asarray(net.params[k], dtype=np.float64)
        flat = p.reshape(-1)
        changes = [(i, float(flat[i]) + step) for i in range(p.size) for step in (h, -h)]
        losses = call_student(
            perturbed_results,
            net,
            [("attr", "params"), ("item", k)],
            changes,
            net.loss,
            (X, y),
            0,
            label="`net.loss(X, y)`",
            check_mutation=False,
        )
        g = np.zeros(p.shape)
        for i in range(p.size):
            g.reshape(-1)[i] = (float(losses[2 * i]) - float(losses[2 * i + 1])) / (2 * h)
        num[k] = g
    return num


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(a).max(initial=0)) + float(np.abs(b).max(initial=0)), 1e-12)
    return float(np.abs(a - b).max(initial=0)) / scale


def _check_loss_case(cls, kind: str, N: int, d: int, h: int, c: int, reg: float, seed: int,
                     case: str) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    params = _random_params(d, h, c, rng)
    X = rng.standard_normal((N, d))
    y = _targets(kind, N, c, rng)
    case = f"({case}: loss={kind!r}, N={N}, d={d}, h={h}, C={c}, reg={reg})"
    net = _make_net(cls, d, h, c, kind, reg, params)
    value, grads = _call_loss(net, X, y, case)
    expected, exp_grads = net_reference(params, X, y, kind, reg)
    factors = {"N": N, "C": c, "reg": reg}
    # float64 throughout agrees to ~1e-15; a loss computed in float32 is off by ~1e-8.
    if not _close_value(value, expected, 1e-10):
        msg = f"`net.loss(X, y)` {case}: loss value: expected {expected:.12g}, got {value:.12g}"
        hints = [
            why
            for bug, why in _LOSS_BUGS.items()
            if not _close_value(
                wrong := net_reference(params, X, y, kind, reg, bug)[0], expected, 1e-8
            )
            and _close_value(value, wrong, 1e-8)
        ]
        if kind == "mse" and _close_value(value, 0.5 * (expected - _reg_part(params, reg))
                                          + _reg_part(params, reg), 1e-8):  # fmt: skip
            hints.append("the data loss here is mean((scores - y)^2), without a 1/2")
        parts = {"reg/2 (||W1||^2 + ||W2||^2)": _reg_part(params, reg)}
        hints = hints or explain_difference(value, expected, factors=factors, parts=parts,
                                            rtol=1e-10)  # fmt: skip
        fail(msg + "".join(f"\nHint: {why}" for why in hints))
    for k in PARAM_NAMES:
        got = to_array(grads[k], f"grads[{k!r}]")
        if got.shape != params[k].shape:
            msg = (
                f"`net.loss(X, y)` {case}: grads[{k!r}] must have the shape of "
                f"params[{k!r}], {params[k].shape}; got {got.shape}"
            )
            if k.startswith("b") and got.shape == (N, params[k].shape[0]):
                msg += (
                    "\nHint: the bias gradient is not summed over the batch: every sample "
                    "contributes to db, so db = dz.sum(axis=0)"
                )
            elif got.ndim == 2 and got.shape == params[k].shape[::-1]:
                msg += "\nHint: it looks transposed (dW = input.T @ dout)"
            fail(msg)
    numerical = _numerical_param_grads(net, X, y)
    parts = _grad_parts(params, X, y, kind, reg)
    for k in ("W2", "b2", "W1", "b1"):  # the order of the backward pass
        got = to_array(grads[k], f"grads[{k!r}]").astype(np.float64)
        if _rel(got, numerical[k]) <= 1e-6 and _rel(got, exp_grads[k]) <= 1e-6:
            continue
        hints = [
            why
            for bug, why in _GRAD_BUGS.items()
            if _rel(exp_grads[k], (wrong := net_reference(params, X, y, kind, reg, bug)[1][k]))
            > 1e-6
            and _rel(got, wrong) <= 1e-6
        ]
        if hints:
            worst = np.unravel_index(int(np.abs(got - numerical[k]).argmax()), got.shape)
            fail(
                f"`net.loss(X, y)` {case}: grads[{k!r}] is wrong: relative error "
                f"{_rel(got, numerical[k]):.2e}; at index {tuple(int(i) for i in worst)} "
                f"expected {numerical[k][worst]:.6g} (numerical), got {got[worst]:.6g}\n"
                + "\n".join(f"Hint: {why}" for why in hints)
            )
        assert_gradient(
            got,
            numerical[k],
            f"grads[{k!r}]",
            1e-6,
            batch_size=N,
            label=f"`net.loss` {case}",
            factors=factors,
            parts=parts[k],
        )


def _reg_part(params: dict, reg: float) -> float:
    return float(0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))


def _expect_net_class(cls) -> None:
    expect_callable(cls, "ThreeLayerNet", kind="class")
    forbid_calls(cls, _NET_FORBIDDEN, hint=_NET_HINT)
    _no_grader_code(cls)


@check
def check_loss_mse(ThreeLayerNet) -> None:
    """Visible: MSE loss value and gradient check, with L2 regularisation."""
    _expect_net_class(ThreeLayerNet)
    _check_loss_case(ThreeLayerNet, "mse", 5, 3, 4, 2, 0.1, 0, "visible case")


@check
def check_loss_mse_hidden(ThreeLayerNet) -> None:
    """Hidden: other shapes, reg = 0 and reg > 0, N = 1, one output."""
    _expect_net_class(ThreeLayerNet)
    for i, (N, d, h, c, reg) in enumerate(
        [(7, 4, 6, 3, 0.0), (6, 2, 5, 1, 0.3), (1, 3, 3, 2, 0.05), (12, 5, 4, 3, 1.0)]
    ):
        _check_loss_case(ThreeLayerNet, "mse", N, d, h, c, reg, 100 + i, f"hidden case {i}")


@check
def check_loss_ce(ThreeLayerNet) -> None:
    """Visible: cross-entropy loss value and gradient check, with L2 regularisation."""
    _expect_net_class(ThreeLayerNet)
    _check_loss_case(ThreeLayerNet, "ce", 6, 3, 4, 3, 0.1, 1, "visible case")


@check
def check_loss_ce_hidden(ThreeLayerNet) -> None:
    """Hidden: other shapes, reg = 0 and reg > 0, N = 1, two classes."""
    _expect_net_class(ThreeLayerNet)
    for i, (N, d, h, c, reg) in enumerate(
        [(8, 4, 6, 4, 0.0), (5, 2, 3, 2, 0.5), (1, 3, 4, 3, 0.05), (10, 5, 5, 3, 1.0)]
    ):
        _check_loss_case(ThreeLayerNet, "ce", N, d, h, c, reg, 200 + i, f"hidden case {i}")


def _scores(params: dict, X: np.ndarray) -> np.ndarray:
    return _sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def _check_predict_case(cls, kind: str, N: int, d: int, h: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    params = _random_params(d, h, c, rng)
    X = rng.standard_normal((N, d)) * 2
    net = _make_net(cls, d, h, c, kind, 0.0, params)
    label = f"`net.predict(X)` (loss={kind!r}, N={N}, C={c})"
    got = call_student(net.predict, X, label=label)
    scores = _scores(params, X)
    if kind == "mse":
        hint = "for MSE the prediction is the linear output scores = a1 @ W2 + b2"
        assert_close(got, scores, "net.predict(X) (loss='mse')", rtol=1e-8, atol=1e-10, hint=hint)
        return
    arr = to_array(got, "net.predict(X)")
    expected = scores.argmax(axis=1)
    if arr.shape != expected.shape:
        msg = f"{label}: expected class labels of shape {expected.shape}, got shape {arr.shape}"
        if arr.shape == scores.shape:
            msg += (
                "\nHint: for loss='ce' predict returns the class with the highest score: "
                "the argmax over axis 1"
            )
        fail(msg)
    if arr.dtype.kind not in "iu":
        fail(f"{label}: class labels must be integers, got dtype {arr.dtype}")
    if not np.array_equal(arr, expected):
        bad = int(np.flatnonzero(arr != expected)[0])
        msg = f"{label}: row {bad}: expected class {expected[bad]}, got {arr[bad]}"
        if np.array_equal(arr, scores.argmin(axis=1)):
            msg += "\nHint: that is the argmin; take the argmax"
        fail(msg)


@check
def check_predict(ThreeLayerNet) -> None:
    """Visible: predictions of both kinds on random parameters."""
    _expect_net_class(ThreeLayerNet)
    _check_predict_case(ThreeLayerNet, "mse", 6, 3, 5, 2, 10)
    _check_predict_case(ThreeLayerNet, "ce", 9, 3, 5, 4, 11)


@check
def check_predict_hidden(ThreeLayerNet) -> None:
    """Hidden: other shapes, one sample, one output."""
    _expect_net_class(ThreeLayerNet)
    for i, (kind, N, d, h, c) in enumerate(
        [("mse", 1, 2, 3, 1), ("mse", 20, 4, 7, 3), ("ce", 1, 3, 4, 2), ("ce", 30, 5, 6, 5)]
    ):
        _check_predict_case(ThreeLayerNet, kind, N, d, h, c, 20 + i)


def _check_train_case(cls, kind: str, N: int, bs: int, num_epochs: int, reg: float,
                      seed: int) -> None:  # fmt: skip
    d, h, c = 3, 4, 2 if kind == "mse" else 3
    rng = np.random.default_rng(seed)
    params = _random_params(d, h, c, rng)
    X = rng.standard_normal((N, d))
    X[:, 0] = np.arange(N) + rng.uniform(0.1, 0.2, size=N)  # column 0 identifies the sample
    y = _targets(kind, N, c, rng)
    lr = 0.05
    net = _make_net(cls, d, h, c, kind, reg, params)
    # Scored alone: the mini-batch losses and gradients come from the reference loss.
    stand_in = call_student(reference(_STAND_INS, "ThreeLayerNetLoss"), net, label="net.loss")
    recorder = call_student(
        reference("course_utils.grading.doubles", "CallRecorder"),
        net,
        "loss",
        stand_in,
        label="net.loss",
    )
    label = (
        f"`net.train(X, y, lr={lr}, num_epochs={num_epochs}, batch_size={bs}, seed=1)` "
        f"(loss={kind!r}, N={N})"
    )
    history = call_student(
        net.train, X, y, lr=lr, num_epochs=num_epochs, batch_size=bs, seed=1, label=label
    )
    records = recorder.records
    batches = -(-N // bs)
    if len(records) != num_epochs * batches:
        msg = (
            f"{label}: expected {num_epochs} epochs x {batches} mini-batches = "
            f"{num_epochs * batches} calls of self.loss(X_batch, y_batch), got {len(records)}"
        )
        if len(records) == 0:
            msg += "\nHint: train must get the gradients from self.loss(X_batch, y_batch)"
        elif len(records) == num_epochs:
            msg += "\nHint: one call per epoch: split each epoch into mini-batches of batch_size"
        elif len(records) == num_epochs * (batches + 1):
            msg += (
                "\nHint: one extra call per epoch (the loss of the whole set for the "
                "history?): history[e] is the mean of the epoch's mini-batch losses"
            )
        fail(msg)
    orders = []
    for e in range(num_epochs):
        epoch = records[e * batches : (e + 1) * batches]
        sizes = [len(r[0]) for r in epoch]
        want = [bs] * (batches - 1) + [N - bs * (batches - 1)]
        if sorted(sizes) != sorted(want):
            fail(f"{label}: epoch {e}: mini-batch sizes {sizes}, expected {want}")
        idx = np.concatenate([np.floor(r[0][:, 0]).astype(int) for r in epoch])
        if sorted(idx.tolist()) != list(range(N)):
            fail(
                f"{label}: epoch {e} does not visit every sample exactly once (samples "
                f"{sorted(set(range(N)) - set(idx.tolist()))[:5]} missing): use one "
                f"permutation of the N samples per epoch and slice it into batches"
            )
        for Xb, yb, _, _ in epoch:
            rows = np.floor(Xb[:, 0]).astype(int)
            if not np.array_equal(np.asarray(yb), y[rows]):
                fail(f"{label}: epoch {e}: a batch's y does not belong to its X rows")
        orders.append(idx.tolist())
    if num_epochs > 1 and all(o == orders[0] for o in orders):
        fail(
            f"{label}: every epoch visits the samples in the same order: shuffle each epoch "
            f"(a new permutation, e.g. rng.permutation(N), from rng = "
            f"np.random.default_rng(seed) created once)"
        )
    final = _params_copy(net)
    for k_step, (_, _, before, (_, grads)) in enumerate(records):
        after = records[k_step + 1][2] if k_step + 1 < len(records) else final
        for k in PARAM_NAMES:
            g = np.asarray(grads[k], dtype=np.float64)
            want = before[k] - lr * g
            if np.allclose(after[k], want, rtol=1e-9, atol=1e-12):
                continue
            msg = (
                f"{label}: update {k_step}: params[{k!r}] after the step must be "
                f"params - lr * grads[{k!r}] from that batch's self.loss call"
            )
            if np.array_equal(after[k], before[k]):
                msg += (
                    "; it did not change. Update after EVERY mini-batch, e.g. "
                    "`self.params[k] -= lr * grads[k]`"
                )
            elif np.allclose(after[k], before[k] + lr * g, rtol=1e-9, atol=1e-12):
                msg += "; it moved UP the gradient: subtract lr * grad"
            fail(msg)
    hist = to_array(history, "history")
    if hist.shape != (num_epochs,):
        fail(
            f"{label}: expected a history of {num_epochs} losses (one per epoch), got shape "
            f"{hist.shape}"
        )
    for e in range(num_epochs):
        losses = [float(r[3][0]) for r in records[e * batches : (e + 1) * batches]]
        if not min(losses) - 1e-9 <= float(hist[e]) <= max(losses) + 1e-9:
            fail(
                f"{label}: history[{e}] = {float(hist[e]):.6g} is not the mean of epoch "
                f"{e}'s mini-batch losses (between {min(losses):.6g} and {max(losses):.6g})"
            )


@check
def check_train(ThreeLayerNet) -> None:
    """Visible: mini-batches partition each epoch, reshuffled; SGD update after each."""
    _expect_net_class(ThreeLayerNet)
    _check_train_case(ThreeLayerNet, "mse", 10, 4, 3, 0.1, 40)


@check
def check_train_hidden(ThreeLayerNet) -> None:
    """Hidden: other sizes, cross-entropy, full batch, batch size 1."""
    _expect_net_class(ThreeLayerNet)
    _check_train_case(ThreeLayerNet, "ce", 13, 5, 3, 0.05, 41)
    _check_train_case(ThreeLayerNet, "mse", 8, 8, 2, 0.0, 42)
    _check_train_case(ThreeLayerNet, "ce", 5, 1, 2, 0.2, 43)


# =====================================================================================
# 5. Fitting y = 24 sin(3.2x) + 42 cos(2.3x)
# =====================================================================================
FIT_MSE_TARGET = 1.0
FIT_TEST_SEED = 1  # the notebook's test set: make_function_data(100, seed=1)


def _check_fit(predict, n: int, seed: int, bound: float, what: str) -> None:
    expect_callable(predict, "predict")
    _no_grader_code(predict)
    X, y = _make_function_data(n, seed=seed)
    X = X.astype(np.float64)
    got = call_student(predict, X.copy(), label="`predict(X)`")
    arr = to_array(got, "predict(X)")
    if arr.shape == (n,):
        arr = arr[:, None]
    if arr.shape != (n, 1):
        fail(f"`predict(X)` on {what}: expected shape ({n}, 1), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        fail(f"`predict(X)` on {what}: the predictions contain NaN or inf")
    mse = float(np.mean((arr.astype(np.float64) - y.astype(np.float64)) ** 2))
    if mse < 1e-8:
        fail(
            f"`predict(X)` on {what} reproduces the target function exactly (MSE {mse:.2e}): "
            f"predict must use your trained network, not the formula"
        )
    if not mse <= bound:
        fail(
            f"`predict(X)` on {what}: MSE {mse:.4g} > {bound:g}. Scale the inputs and the "
            f"targets, use Adam with He initialisation and a decaying learning rate, and "
            f"train longer"
        )


@check
def check_function_fit(predict) -> None:
    """Visible: test MSE <= 1.0 on the notebook's 100 test points."""
    _check_fit(predict, 100, FIT_TEST_SEED, FIT_MSE_TARGET, "the 100 test points")


@check
def check_function_fit_hidden(predict) -> None:
    """Hidden: MSE <= 2.0 on 2000 fresh points of [-2 pi, 2 pi] (no test-set memorising)."""
    _check_fit(predict, 2000, 777, 2 * FIT_MSE_TARGET, "2000 fresh points")


# =====================================================================================
# The grader's own references are not an answer
# =====================================================================================
_GRADER_REFERENCES = [
    _picked,
    _ce_probabilities_ref,
    _log_softmax,
    _ce_logits_ref,
    std_forward,
    std_local_derivatives,
    _std_reference,
    _sigmoid,
    net_reference,
    _scores,
    _make_function_data,
    "course_utils.grading.stand_ins.Value",
    "course_utils.grading.stand_ins.value_mul",
    "course_utils.grading.stand_ins.reverse_topological",
]


def _no_grader_code(obj) -> None:
    """Fail if the student's function/class calls one of this module's reference functions."""
    forbid_calls(
        obj,
        _GRADER_REFERENCES,
        hint="the answer must be your own code, not the grader's reference implementation",
    )


seal(__name__)
