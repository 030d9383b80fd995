"""Keras' optimisers as the checks reproduce them, shared by 05_mnist (``Adam`` class) and
07_tuning (update rules); not checks themselves.

Keras keeps its learning rate as a float32 variable; ``Adam`` also computes its beta powers
and step size ``lr_t`` in float32. ``keras_adam`` reproduces that rounding on float64
parameters (to about 2e-6 of lr per step); ``keras_trajectory`` runs a real
``keras.optimizers`` instance on float64 variables, for the self-tests that confirm the
references are Keras.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.grading import seal


def keras_adam(p0, grads, lr, beta1, beta2, eps) -> list:
    """Keras' Adam on float64 parameters: the moments and the update in float64, the
    step size lr_t from float32 values as Keras computes it (its learning rate is a
    float32 variable, its step count and beta powers float32).

    ``p0``: list of arrays; ``grads``: one list of gradients (same order) per step.
    Returns the list of parameters after each step."""
    f32 = np.float32
    p = [np.array(x, dtype=np.float64) for x in p0]
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    out = []
    for t, step in enumerate(grads, start=1):
        b1t, b2t = f32(beta1) ** f32(t), f32(beta2) ** f32(t)
        lr_t = float(f32(lr) * np.sqrt(f32(1) - b2t) / (f32(1) - b1t))
        for i, g in enumerate(step):
            m[i] = m[i] + (g - m[i]) * (1 - beta1)
            v[i] = v[i] + (g * g - v[i]) * (1 - beta2)
            p[i] = p[i] - m[i] * lr_t / (np.sqrt(v[i]) + eps)
        out.append([x.copy() for x in p])
    return out


def exact_adam(p0, grads, lr, beta1, beta2, eps, *, bias_correction=True) -> list:
    """Adam in exact float64 arithmetic (``bias_correction=False``: the uncorrected variant,
    to recognise it)."""
    p = [np.array(x, dtype=np.float64) for x in p0]
    m = [np.zeros_like(x) for x in p]
    v = [np.zeros_like(x) for x in p]
    out = []
    for t, step in enumerate(grads, start=1):
        lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t) if bias_correction else lr
        for i, g in enumerate(step):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            p[i] = p[i] - lr_t * m[i] / (np.sqrt(v[i]) + eps)
        out.append([x.copy() for x in p])
    return out


def keras_trajectory(name: str, p0, grads, dtype=np.float64, **kwargs) -> list:
    """``keras.optimizers.<name>(**kwargs)`` applying ``grads`` to variables of ``dtype``
    (float64 by default) made from ``p0`` (for the self-tests: 50 eager steps take about a
    second). Returns the parameters after each step, as float64 arrays."""
    from course_utils.environment import import_tensorflow

    tf = import_tensorflow()
    import keras

    variables = [keras.Variable(np.array(p, dtype=dtype)) for p in p0]
    opt = getattr(keras.optimizers, name)(**kwargs)
    out = []
    for step in grads:
        opt.apply_gradients(
            [(tf.constant(g, dtype=dtype), v) for g, v in zip(step, variables, strict=True)]
        )
        out.append([np.array(v.numpy(), dtype=np.float64) for v in variables])
    return out


def adam_variant(hyper, *, eps="sqrt(v)", bias=True, counter=None, carry_corrected=False,
               moment_betas=False, correction_betas=False, root=True, second="square"):  # fmt: skip
    """Keras' Adam with one thing changed, as ``rule(w, g, state, t) -> (w_new, state)``
    (``hyper``: lr, beta_1, beta_2, epsilon), to confirm a hint's diagnosis: where eps goes
    ("sqrt(v)", "sqrt(v + eps)", "sqrt(v_hat)", "eps_hat"), no bias correction, the step
    counter ``counter(t)`` the bias correction uses, the bias-corrected moments carried, the
    betas exchanged in the moments or in the bias correction, no square root or |dw| in
    place of dw**2."""
    lr, b1, b2, e = hyper["lr"], hyper["beta_1"], hyper["beta_2"], hyper["epsilon"]
    mb1, mb2 = (b2, b1) if moment_betas else (b1, b2)
    cb1, cb2 = (b2, b1) if correction_betas else (b1, b2)

    def rule(w, g, state, t):
        m, v = (0.0, 0.0) if state is None else state
        k = counter(t) if counter else t
        m = mb1 * m + (1 - mb1) * g
        v = mb2 * v + (1 - mb2) * (g * g if second == "square" else np.abs(g))
        c1, c2 = (1 - cb1**k, 1 - cb2**k) if bias else (1.0, 1.0)
        if carry_corrected:
            m, v = m / c1, v / c2
            c1 = c2 = 1.0
        r = np.sqrt(v) if root else v
        if eps == "sqrt(v)":
            step = lr * math.sqrt(c2) / c1 * m / (r + e)
        elif eps == "sqrt(v + eps)":
            step = lr * math.sqrt(c2) / c1 * m / np.sqrt(v + e)
        elif eps == "sqrt(v_hat)":
            step = lr * (m / c1) / (np.sqrt(v / c2) + e)
        else:  # eps_hat: eps / sqrt(1 - beta_2**t) added to sqrt(v_hat)
            step = lr * (m / c1) / (np.sqrt(v / c2) + e / math.sqrt(1 - b2**t))
        return w - step, (m, v)

    return rule


def adam_first_step_structure(step: np.ndarray, g: np.ndarray, lr: float, eps: float) -> str:
    """What the shape of a wrong first Adam step says. At t = 1 Adam moves every entry by
    about lr against the sign of its gradient, whatever the gradient's size (m / sqrt(v) =
    g / |g|), as long as |g| is well above eps."""
    big = np.abs(g) > 1e3 * eps
    if big.sum() < 2:
        if np.all(np.abs(g) < 100 * eps):
            return (
                "these gradients are about as small as eps, so the place of eps decides the "
                "step: that is where eps acts. Keras adds eps to sqrt(v) itself: p -= lr_t * "
                "m / (sqrt(v) + eps), not sqrt(v + eps), and not to the bias-corrected "
                "sqrt(v_hat)"
            )
        return ""
    size = np.abs(step[big]) / lr
    if not np.all(np.sign(step[big]) == -np.sign(g[big])):
        return "some entries of the first step do not go against their gradient's sign"
    dev = 1.0 - size
    if float(np.median(np.abs(dev))) < 1e-2:  # about lr: only the small entries are off
        rank_dev = np.argsort(np.argsort(dev))
        rank_small = np.argsort(np.argsort(-np.abs(g[big])))
        if np.std(dev) > 0 and float(np.corrcoef(rank_dev, rank_small)[0, 1]) > 0.9:
            return (
                "your first step is within 1 % of lr but falls short more, the smaller the "
                "gradient entry: that is where eps acts. Keras adds eps to sqrt(v) itself: "
                "p -= lr_t * m / (sqrt(v) + eps), not sqrt(v + eps), and not to the "
                "bias-corrected sqrt(v_hat)"
            )
    spread = float(np.std(np.log(size)))
    if spread < 1e-3 and abs(float(np.mean(size)) - 1.0) > 1e-2:
        return (
            f"every entry of your first step has the same size, {float(np.mean(size)):.4g} × "
            f"lr, where Adam's is 1 × lr (m = (1 - beta1) g and v = (1 - beta2) g² cancel "
            f"against the bias correction): check which beta goes with which moment, and "
            f"the bias correction"
        )
    slope = float(np.polyfit(np.log(np.abs(g[big])), np.log(size), 1)[0])
    if abs(slope) < 0.05:
        return ""
    return (
        f"the size of your first step grows like |g|^{slope:.2f} with the gradient, where "
        f"Adam's does not depend on |g| at all (m / sqrt(v) = g / |g| at t = 1): v must "
        f"average g**2 and the update divide m by sqrt(v)"
    )


seal(__name__)
