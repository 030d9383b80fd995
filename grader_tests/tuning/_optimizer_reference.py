"""The reference of Task 3's checks (``optimizers``): Keras' four rules, step by step, and
the tolerance a student's trajectory is held to (see ``optimizers``' docstring)."""

from __future__ import annotations

import numpy as np

from course_utils import optim
from course_utils.grading import seal

from .._optim_reference import keras_adam

_STEPS = 50
_TOL = 5e-5
_F32_EPS = float(np.finfo(np.float32).eps)

DEFAULTS = {
    "sgd_momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "epsilon": 1e-7},
    "adam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
}
KERAS = {
    "sgd_momentum": "keras.optimizers.SGD(momentum=...)",
    "nesterov": "keras.optimizers.SGD(momentum=..., nesterov=True)",
    "rmsprop": "keras.optimizers.RMSprop",
    "adam": "keras.optimizers.Adam",
}


# --- the reference ----------------------------------------------------------------------
def reference_trajectory(name: str, params, grads, kwargs) -> list:
    """Keras' trajectory of every parameter: ``[[w_i after step t] for each step]``."""
    hyper = {**DEFAULTS[name], **kwargs}
    lr32 = float(np.float32(hyper["lr"]))  # Keras' learning rate is a float32 variable
    if name == "adam":
        per_param = [
            keras_adam([p], [[s[i]] for s in grads], hyper["lr"], hyper["beta_1"],
                       hyper["beta_2"], hyper["epsilon"])
            for i, p in enumerate(params)
        ]  # fmt: skip
        return [[per_param[i][t][0] for i in range(len(params))] for t in range(len(grads))]
    rule = {"sgd_momentum": optim.momentum, "nesterov": optim.nesterov,
            "rmsprop": optim.rmsprop}[name]  # fmt: skip
    rest = {k: v for k, v in hyper.items() if k != "lr"}
    ws = [np.array(p, dtype=np.float64) for p in params]
    states: list = [None] * len(ws)
    out = []
    for step in grads:
        for i, g in enumerate(step):
            ws[i], states[i] = rule(ws[i], np.asarray(g, dtype=np.float64), states[i],
                                    lr=lr32, **rest)  # fmt: skip
        out.append([w.copy() for w in ws])
    return out


def _tolerances(p0: np.ndarray, ref: list, float32: bool) -> np.ndarray:
    """Accepted |w_t - w_ref_t| for t = 1..T (see the module docstring)."""
    prev, path, out = np.asarray(p0, dtype=np.float64), 0.0, []
    scale = float(np.max(np.abs(p0))) if np.size(p0) else 0.0
    for t, now in enumerate(ref, start=1):
        path += float(np.max(np.abs(now - prev))) if np.size(now) else 0.0
        prev = now
        extra = t * 2 * _F32_EPS * (scale + path) if float32 else 0.0
        out.append(_TOL * path + extra + 1e-12)
    return np.array(out)


seal(__name__)
