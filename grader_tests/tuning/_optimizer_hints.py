"""Task 3's hints (``optimizers``): what a student's trajectory that differs from Keras'
shows, and which slip explains it, named only once the slip is confirmed."""

from __future__ import annotations

import math

import numpy as np

from course_utils.grading import call_student, name_factor, reference, seal

from .._optim_reference import adam_first_step_structure, keras_adam
from .._optim_reference import adam_variant as _adam_like
from ._common import LOOPS
from ._optimizer_reference import DEFAULTS, _tolerances, reference_trajectory

# --- explaining a difference ------------------------------------------------------------
# A hint names a structural slip ("eps in the wrong place", "a constant factor", "no bias
# correction", "t counted wrong", ...) only once the slip is CONFIRMED: the slip's own
# prediction (Keras' update with that one thing changed, run on the same parameter and
# gradients) reproduces the student's trajectory at EVERY step compared, within the check's
# tolerance. What one step (usually the first) suggests is only a hypothesis; when none is
# confirmed the hint says what is seen (which step goes off, by how much, how the error
# grows, whether it depends on |dw|) and points to Keras' update equations.
FORMULAS = {
    "sgd_momentum": "v = momentum * v - lr * dw; w_new = w + v (v = 0 at the start)",
    "nesterov": "v = momentum * v - lr * dw; w_new = w + momentum * v - lr * dw (v = 0 at the "
    "start)",
    "rmsprop": "s = rho * s + (1 - rho) * dw**2; w_new = w - lr * dw / sqrt(s + epsilon) (s = "
    "0 at the start)",
    "adam": "t += 1; m = beta_1 m + (1 - beta_1) dw; v = beta_2 v + (1 - beta_2) dw**2; w_new "
    "= w - lr sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon) (m = v = 0, "
    "t = 0 at the start)",
}


class _Case:
    """One parameter's trajectory, the student's against Keras', and the predictions of
    the slips a hint may name."""

    def __init__(self, name, hyper, params, grads, got, expected, i):
        self.name, self.hyper, self.i = name, hyper, i
        self.p0 = np.asarray(params[i])
        self.gs = [np.asarray(s[i], dtype=np.float64) for s in grads]
        self.got = [np.asarray(w[i], dtype=np.float64) for w in got]
        self.ref = [np.asarray(w[i], dtype=np.float64) for w in expected]

    def reproduced_by(self, predicted) -> bool:
        """Is ``predicted`` (the parameter after each step) the student's trajectory at every
        step, within the check's tolerance (measured along the prediction)?"""
        if predicted is None or len(predicted) != len(self.got):
            return False
        pred = [np.asarray(w, dtype=np.float64) for w in predicted]
        if not all(np.all(np.isfinite(w)) for w in pred):
            return False
        tols = _tolerances(self.p0, pred, self.p0.dtype == np.float32)
        return all(
            np.all(np.isfinite(a)) and (a.size == 0 or float(np.max(np.abs(a - w))) <= 2 * tol)
            for a, w, tol in zip(self.got, pred, tols, strict=True)
        )

    def run(self, rule) -> list:
        """The trajectory of a variant ``rule(w, g, state, t) -> (w_new, state)``."""
        w = np.array(self.p0, dtype=np.float64)
        state, out = None, []
        with np.errstate(all="ignore"):
            for t, g in enumerate(self.gs, start=1):
                w, state = rule(w, g, state, t)
                out.append(np.array(w, dtype=np.float64))
        return out

    def any_of(self, *rules) -> bool:
        return any(self.reproduced_by(self.run(r)) for r in rules)

    def scaled(self, c: float) -> bool:
        """Every step c × Keras' (c = -1: every step uphill)."""
        p0 = np.asarray(self.p0, dtype=np.float64)
        return self.reproduced_by([p0 + c * (w - p0) for w in self.ref])


# --- the slips, as predictions: Keras' rule with one thing changed ---
def _momentum_like(name, hyper, carry):
    """Momentum or Nesterov whose velocity carries ``carry`` × itself over (Keras: momentum)."""
    lr, m = hyper["lr"], hyper["momentum"]

    def rule(w, g, v, t):
        v = carry * (0 if v is None else v) - lr * g
        return (w + v if name == "sgd_momentum" else w + m * v - lr * g), v

    return rule


def _nesterov_keeps_step(hyper):
    lr, m = hyper["lr"], hyper["momentum"]

    def rule(w, g, u, t):
        v = m * (0 if u is None else u) - lr * g
        return w + (m * v - lr * g), m * v - lr * g

    return rule


def _plain_sgd(hyper):
    return lambda w, g, state, t: (w - hyper["lr"] * g, None)


def _rmsprop_like(hyper, *, eps_outside=False, root=True, second="square", fresh=False):
    lr, rho, eps = hyper["lr"], hyper["rho"], hyper["epsilon"]

    def rule(w, g, s, t):
        size = g * g if second == "square" else np.abs(g)
        s = (1 - rho) * size if fresh or s is None else rho * s + (1 - rho) * size
        if eps_outside:
            return w - lr * g / (np.sqrt(s) + eps), s
        return w - lr * g / (np.sqrt(s + eps) if root else s + eps), s

    return rule


def _eps_slips(case: _Case) -> bool:
    if case.name == "rmsprop":
        return case.any_of(_rmsprop_like(case.hyper, eps_outside=True))
    h = case.hyper
    return case.any_of(_adam_like(h, eps="sqrt(v + eps)"), _adam_like(h, eps="sqrt(v_hat)"))


def _root_slips(case: _Case) -> bool:
    if case.name == "rmsprop":
        return case.any_of(_rmsprop_like(case.hyper, root=False),
                           _rmsprop_like(case.hyper, second="abs"))  # fmt: skip
    h = case.hyper
    return case.any_of(_adam_like(h, root=False), _adam_like(h, second="abs"))


def _beta_slips(case: _Case) -> bool:
    h = case.hyper
    return case.any_of(
        _adam_like(h, moment_betas=True),
        _adam_like(h, correction_betas=True),
        _adam_like(h, moment_betas=True, correction_betas=True),
        _adam_like(h, bias=False),
    )


def _diagnose(rule, name, params, grads, kwargs, got, expected, t, i) -> str:
    hyper = {**DEFAULTS[name], **kwargs}
    if len(params) > 1:
        alone = _alone(rule, name, params, grads, kwargs, i)
        if alone:
            return alone
    case = _Case(name, hyper, params, grads, got, expected, i)
    if name == "adam" and case.any_of(_adam_like(hyper, bias=False)):
        return (
            "your trajectory is Adam WITHOUT bias correction: use lr_t = lr * "
            "sqrt(1 - beta_2**t) / (1 - beta_1**t), with t the number of steps so far"
        )
    if t == 1:
        hint, seen = _first_step(case)
        return hint or _neutral(case, t, seen)
    later = {"sgd_momentum": _carried_velocity, "nesterov": _carried_velocity,
             "rmsprop": _carried_mean_square, "adam": _carried_adam}[name]  # fmt: skip
    return later(rule, case, t) or _neutral(case, t, "")


def _alone(rule, name, params, grads, kwargs, i) -> str:
    """Parameter ``i`` stepped alone: if that is right, the parameters share state."""
    one = [params[i]]
    steps = [[s[i]] for s in grads]
    run = call_student(reference(LOOPS, "rule_trajectory"), rule, one, steps, kwargs)
    if run["problem"] or len(run["ws"]) != len(steps):
        return ""
    ref = reference_trajectory(name, one, steps, kwargs)
    tols = _tolerances(np.asarray(one[0]), [r[0] for r in ref], one[0].dtype == np.float32)
    if all(
        float(np.max(np.abs(w[0] - r[0]))) <= tol
        for w, r, tol in zip(run["ws"], ref, tols, strict=True)
    ):
        return (
            f"stepped ALONE, parameter {i} follows Keras, but stepped in turn with another "
            f"parameter (each with its own state) it does not: one parameter's update "
            f"depends on the other's. Keep everything the rule remembers in the state it "
            f"returns: no global variables, no mutable default argument (state={{}}), "
            f"no attribute on the function"
        )
    return ""


def _factors(name: str, hyper: dict) -> dict:
    if name in ("sgd_momentum", "nesterov"):
        m = hyper["momentum"]
        return {"momentum": m, "1 - momentum": 1 - m, "1 + momentum": 1 + m,
                "1 / (1 + momentum)": 1 / (1 + m), "lr": hyper["lr"]}  # fmt: skip
    if name == "rmsprop":
        rho = hyper["rho"]
        return {"lr": hyper["lr"], "sqrt(1 - rho)": math.sqrt(1 - rho), "1 - rho": 1 - rho,
                "sqrt((1 - rho) / rho)": math.sqrt((1 - rho) / rho)}  # fmt: skip
    b1, b2 = hyper["beta_1"], hyper["beta_2"]
    return {"lr": hyper["lr"], "1 - beta_1": 1 - b1, "sqrt(1 - beta_2)": math.sqrt(1 - b2),
            "(1 - beta_1) / sqrt(1 - beta_2)": (1 - b1) / math.sqrt(1 - b2)}  # fmt: skip


def _steps(case: _Case, t: int):
    """(the student's step t, Keras' step t, the gradient of step t)."""
    before = np.asarray(case.p0, dtype=np.float64) if t == 1 else case.got[t - 2]
    before_ref = np.asarray(case.p0, dtype=np.float64) if t == 1 else case.ref[t - 2]
    return case.got[t - 1] - before, case.ref[t - 1] - before_ref, case.gs[t - 1]


def _first_step(case: _Case) -> tuple[str, str]:
    """(a confirmed hint or "", what the first step shows when no slip is confirmed)."""
    name, hyper = case.name, case.hyper
    step, expected, g = _steps(case, 1)
    lr = hyper["lr"]
    first = f"already the FIRST step is wrong (size {np.abs(expected).max():.3g} expected): "
    if np.allclose(step, -expected, rtol=1e-4, atol=1e-15) and case.scaled(-1.0):
        return first + (
            "it goes uphill, exactly against Keras' step, at every step: the sign of the "
            "update is flipped (velocity = momentum * velocity - lr * dw, then w + velocity; "
            "or w - lr * ...)"
        ), ""
    if name == "nesterov" and np.allclose(step, -lr * g, rtol=1e-4, atol=1e-15):
        if case.any_of(_momentum_like("sgd_momentum", hyper, hyper["momentum"])):
            m = hyper["momentum"]
            return first + (
                f"it is -lr * dw, plain momentum's first step, and your trajectory is plain "
                f"momentum's at every step; Nesterov's first step is -(1 + momentum) lr dw = "
                f"{-(1 + m):g} lr dw: the update adds the look-ahead momentum * v_new to the "
                f"step (w + momentum * v_new - lr * dw), not just v"
            ), ""
    if name in ("rmsprop", "adam"):
        if np.allclose(step, -lr * g, rtol=1e-4, atol=1e-15) and case.any_of(_plain_sgd(hyper)):
            return first + (
                "it is -lr * dw, and so is every step: plain SGD, the running averages are not used"
            ), ""
        hint = _eps_pattern(name, step, expected, g)
        if hint and _eps_slips(case):
            return first + hint, ""
        hint = _rmsprop_first_step(step, g, hyper) if name == "rmsprop" else ""
        if name == "adam":
            hint = adam_first_step_structure(step, g, lr, hyper["epsilon"])
        if hint:
            confirmed = {
                "eps acts": _eps_slips,
                "square ROOT": _root_slips,
                "v must average": _root_slips,
                "which beta": _beta_slips,
            }
            tests = [test for key, test in confirmed.items() if key in hint]
            if not tests or tests[0](case):
                return first + hint, ""
    c, label = _constant_factor(step, expected, _factors(name, hyper))
    if label and case.scaled(c):
        return first + label + ", and at every step: a constant factor too many or missing", ""
    return "", label


def _constant_factor(step, expected, factors) -> tuple[float, str]:
    """(c, a sentence) if ``step`` = c × ``expected`` on the entries where eps plays no part
    (the larger half); (1.0, "") if not."""
    ok = np.abs(expected) > 0
    if ok.sum() < 2:
        return 1.0, ""
    order = np.argsort(-np.abs(expected[ok]))
    top = order[: max(2, len(order) // 2)]
    ratio = step[ok][top] / expected[ok][top]
    c = float(np.median(ratio))
    if not np.allclose(ratio, c, rtol=1e-3) or abs(c - 1) < 1e-3:
        return 1.0, ""
    for label, value in factors.items():
        if abs(c - value) <= 1e-3 * abs(value):
            return c, f"it is {label} = {c:.4g} × Keras' step, on every entry"
        if value and abs(c - 1 / value) <= 1e-3 / abs(value):
            return c, f"it is 1 / ({label}) = {c:.4g} × Keras' step, on every entry"
    return c, f"it is {c:.4g} × Keras' step, on every entry"


def _eps_pattern(name, step, expected, g) -> str:
    """Right where |dw| is large, off more the smaller |dw|: that is where epsilon acts."""
    ok = (np.abs(g) > 0) & (np.abs(expected) > 0)
    if ok.sum() < 3:
        return ""
    size = np.abs(g[ok])
    rel = np.abs(step[ok]) / np.abs(expected[ok]) - 1.0
    large = np.zeros(size.shape, dtype=bool)
    large[np.argsort(-size)[: max(2, size.size // 3)]] = True
    if np.max(np.abs(rel[large])) > 1e-3 or np.max(np.abs(rel)) < 1e-6:
        return ""
    if np.std(np.abs(rel)) == 0:
        return ""
    rank_rel = np.argsort(np.argsort(np.abs(rel)))
    rank_small = np.argsort(np.argsort(-size))
    if float(np.corrcoef(rank_rel, rank_small)[0, 1]) < 0.7:
        return ""
    bigger = float(np.median(rel[~large])) > 0
    where = ("Keras' RMSprop puts epsilon INSIDE the square root, sqrt(s + epsilon)"
             + (" (you add it outside, sqrt(s) + epsilon, which is much smaller)" if bigger
                else "") + "; Adam, unlike RMSprop, adds it to sqrt(v)")  # fmt: skip
    if name == "adam":
        where = (
            "Keras adds eps to sqrt(v) itself: w - lr_t * m / (sqrt(v) + eps), not "
            "sqrt(v + eps), and not to the bias-corrected sqrt(v_hat)"
        )
    return (
        "it agrees with Keras where |dw| is large and is off more, the smaller |dw|: that "
        f"is where eps acts. {where}"
    )


def _rmsprop_first_step(step, g, hyper) -> str:
    """RMSprop's first step is -lr g / sqrt((1 - rho) g² + eps): the size of each entry
    against the size of its gradient tells where a formula went wrong."""
    lr, rho, eps = hyper["lr"], hyper["rho"], hyper["epsilon"]
    if not np.all((np.sign(step) == -np.sign(g)) | (g == 0)):
        return "some entries do not go against their gradient's sign"
    big = np.abs(g) > 30 * math.sqrt(eps / (1 - rho))  # eps does not matter there
    if big.sum() >= 2:
        size = np.abs(step[big]) / lr
        slope = float(np.polyfit(np.log(np.abs(g[big])), np.log(size), 1)[0])
        if abs(slope) > 0.05:
            return (
                f"for large gradients the size of your step grows like |dw|^{slope:.2f}, "
                f"where Keras' does not depend on |dw| (dw / sqrt((1 - rho) dw²)): the update "
                f"divides dw by the square ROOT of the running mean of dw**2"
            )
    return ""


def _neutral(case: _Case, t: int, seen: str) -> str:
    """What the trajectory shows, when no slip the check knows reproduces it."""
    n = len(case.got)
    step1, ref1, g1 = _steps(case, 1)
    size1 = float(np.max(np.abs(ref1))) if ref1.size else 0.0
    off1 = float(np.max(np.abs(step1 - ref1))) if ref1.size else 0.0
    rel1 = f"{off1 / size1:.2g} of its size" if size1 else f"{off1:.2g} (Keras' step is 0)"
    if t == 1:
        head = f"already the FIRST step is off by {rel1}"
        head += f" ({seen}, but the later steps are not that multiple of Keras')" if seen else ""
        head += _dw_dependence(step1, ref1, g1)
    else:
        step, ref, _ = _steps(case, t)
        head = (
            f"the first step agrees with Keras (to {rel1}); step {t} is the "
            f"first that does not{_ratio_text(step, ref, t)}: what differs enters through the "
            f"state, from the second call on, or through how the update uses it"
        )
    p0 = np.asarray(case.p0, dtype=np.float64)
    marks = [k for k in (1, 2, 3, 5, 10, 20, 50) if k <= n]
    if n not in marks:
        marks.append(n)
    err = [float(np.max(np.abs(case.got[k - 1] - case.ref[k - 1]))) for k in marks]
    moved = float(np.max(np.abs(case.ref[-1] - p0))) if p0.size else 0.0
    growth = ", ".join(f"{e:.2g} after step {k}" for k, e in zip(marks, err, strict=True))
    return (
        f"{head}. No single slip in the formula explains all {n} steps (none that this check "
        f"knows reproduces your trajectory): your distance from Keras' trajectory is {growth} "
        f"(Keras moves the parameter by {moved:.2g} in {n} steps). Compare your rule line by "
        f"line with Keras' update equations: {FORMULAS[case.name]}"
    )


def _dw_dependence(step, expected, g) -> str:
    ok = (np.abs(g) > 0) & (np.abs(expected) > 0)
    if ok.sum() < 3:
        return ""
    rel = np.abs(step[ok] - expected[ok]) / np.abs(expected[ok])
    if np.std(rel) <= 1e-3 * float(np.mean(rel)):
        return "; the relative difference is the same on every entry"
    rank_rel = np.argsort(np.argsort(rel))
    rank_small = np.argsort(np.argsort(-np.abs(g[ok])))
    r = float(np.corrcoef(rank_rel, rank_small)[0, 1])
    if r > 0.7:
        return "; the relative difference is larger, the smaller |dw|"
    if r < -0.7:
        return "; the relative difference is larger, the larger |dw|"
    return "; the relative difference shows no clear relation to |dw|"


def _ratio_text(step, expected, t) -> str:
    ok = np.abs(expected) > 0
    if not ok.any():
        return ""
    ratio = step[ok] / expected[ok]
    low, high = float(np.min(ratio)), float(np.max(ratio))
    if math.isclose(low, high, rel_tol=1e-3):
        return f" (your step {t} is {low:.3g} × Keras')"
    return f" (your step {t} is between {low:.3g} and {high:.3g} × Keras', entry by entry)"


def _probe_zero_gradient(rule, hyper):
    """(first step, second step): one call with dw = g from state None at w = 0, then one
    with dw = 0 and the returned state."""
    g = np.linspace(-1.0, 1.0, 6).reshape(2, 3) + 0.05
    w0 = np.zeros_like(g)
    kwargs = dict(hyper)
    w1, state = call_student(rule, w0, g, None, **kwargs)
    w2, _ = call_student(rule, np.asarray(w1, dtype=np.float64), np.zeros_like(g), state, **kwargs)
    return np.asarray(w1, float) - w0, np.asarray(w2, float) - np.asarray(w1, float)


def _carried_velocity(rule, case: _Case, t: int) -> str:
    """A zero gradient at the second call shows what the velocity carries over; the hint
    names that factor only if a velocity carried with it reproduces every step."""
    name, hyper = case.name, case.hyper
    m = hyper["momentum"]
    try:
        s1, s2 = _probe_zero_gradient(rule, hyper)
    except AssertionError:
        return ""
    want = m if name == "sgd_momentum" else m * m / (1 + m)
    denom = float(np.dot(s1.ravel(), s1.ravel()))
    if denom == 0:
        return ""
    r = float(np.dot(s2.ravel(), s1.ravel())) / denom
    if not np.allclose(s2, r * s1, rtol=1e-6, atol=1e-15):
        return ""
    if abs(r - want) <= 1e-6 * max(abs(want), 1e-12):
        return ""
    carry = r if name == "sgd_momentum" else r * (1 + m) / m
    variants = [_momentum_like(name, hyper, carry)]
    if name == "nesterov":
        variants.append(_nesterov_keeps_step(hyper))
    if not case.any_of(*variants):
        return ""
    what = "momentum" if name == "sgd_momentum" else "momentum² / (1 + momentum)"
    if abs(r) < 1e-12:
        return (
            "the first step is right, but with a zero gradient your next step is 0: the "
            "velocity is not carried from call to call. Return the new velocity in the state "
            "and start from the velocity in the state you are given (zeros when it is None)"
        )
    label = name_factor(r, {"momentum": m, "momentum²": m * m, "1 - momentum": 1 - m,
                            "momentum³": m**3})[0]  # fmt: skip
    return (
        f"the first step is right, but with a zero gradient your next step is "
        f"{label or format(r, '.4g')} × the previous one, where Keras' is {what} "
        f"= {want:.4g} × it: what the velocity carries over is wrong (v = momentum * v "
        f"- lr * dw, with momentum applied once per step, to the velocity in the state; the "
        f"state is the velocity v itself, not the step you applied to w)"
    )


def _carried_mean_square(rule, case: _Case, t: int) -> str:
    """Every step divides by the mean square of its own gradient alone?"""
    if not case.any_of(_rmsprop_like(case.hyper, fresh=True)):
        return ""
    return (
        f"the first step is right, but at step {t} (and every step) you divide by the mean "
        f"square of THIS gradient alone, (1 - rho) dw²: s is not carried from call to call. "
        f"Return the new s in the state and start from the s in the state you are given"
    )


def _carried_adam(rule, case: _Case, t: int) -> str:
    return _adam_counter(case) or _adam_moments(rule, case)


def _adam_moments(rule, case: _Case) -> str:
    """A second step with a zero gradient: m and v only decay, so its size against the
    first step's shows what the state carries; named only if carrying the bias-corrected
    moments reproduces every step."""
    hyper = case.hyper
    try:
        s1, s2 = _probe_zero_gradient(rule, hyper)
    except AssertionError:
        return ""
    g = np.linspace(-1.0, 1.0, 6).reshape(2, 3) + 0.05
    ref = keras_adam([np.zeros_like(g)], [[g], [np.zeros_like(g)]], hyper["lr"],
                     hyper["beta_1"], hyper["beta_2"], hyper["epsilon"])  # fmt: skip
    k1, k2 = ref[0][0], ref[1][0] - ref[0][0]
    if not np.allclose(s1, k1, rtol=1e-4) or np.allclose(s2, k2, rtol=1e-4, atol=1e-15):
        return ""
    if not case.any_of(_adam_like(hyper, carry_corrected=True, eps="eps_hat"),
                       _adam_like(hyper, carry_corrected=True)):  # fmt: skip
        return ""
    r, r_keras = float(np.median(s2 / s1)), float(np.median(k2 / k1))
    return (
        f"the first step is right, but with a zero gradient at the second step (m and v only "
        f"decay) your step is {r:.4g} × the first, Keras' {r_keras:.4g} ×: what m and v carry "
        f"from call to call is wrong. Keep the raw moments in the state, m = beta_1 m + "
        f"(1 - beta_1) dw and v = beta_2 v + (1 - beta_2) dw**2 (not the bias-corrected m_hat, "
        f"v_hat, which are recomputed from them at every step)"
    )


def _adam_counter(case: _Case) -> str:
    """Infer the step counter from the step size: with m and v computed exactly, the step
    is -lr_t m / (sqrt(v) + eps) and lr_t tells which t the bias correction used. Named
    only if that counter, continued, reproduces every step."""
    hyper = case.hyper
    lr, b1, b2, eps = hyper["lr"], hyper["beta_1"], hyper["beta_2"], hyper["epsilon"]
    p0 = np.asarray(case.p0, dtype=np.float64)
    m = v = np.zeros_like(p0)
    used = []
    for s in range(1, min(len(case.got), 6) + 1):
        g = case.gs[s - 1]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = _steps(case, s)[0]
        direction = m / (np.sqrt(v) + eps)
        d = direction.ravel()
        if not np.dot(d, d):
            return ""
        alpha = -float(np.dot(step.ravel(), d) / np.dot(d, d))
        if not np.allclose(step, -alpha * direction, rtol=1e-4, atol=1e-15):
            return ""
        lr_t = [lr * math.sqrt(1 - b2**k) / (1 - b1**k) for k in range(1, 400)]
        k = int(np.argmin([abs(a - alpha) for a in lr_t])) + 1
        if abs(lr_t[k - 1] - alpha) > 1e-4 * alpha:
            return ""
        used.append(k)
    if len(used) < 2 or used == list(range(1, len(used) + 1)):
        return ""
    first, stride = used[0], used[1] - used[0]
    if not case.any_of(_adam_like(hyper, counter=lambda s: first + stride * (s - 1))):
        return ""
    shown = ", ".join(str(k) for k in used)
    return (
        f"m and v are right, but the step size is not: at steps 1..{len(used)} your bias "
        f"correction uses t = {shown}: the step counter runs wrong. t counts the calls for "
        f"this parameter: 1 at the first, one more at each, kept in the state"
    )


seal(__name__)
