"""Implementations of 07_tuning's tasks 6-8 (L2 weight decay, inverted dropout, batch
normalisation): correct ones and known-wrong ones.

For each task, ``*_CORRECT`` lists alternative correct implementations every check must
accept (the model answer first; for dropout and batch norm each is a (forward, backward)
pair), and ``*_WRONG`` maps a name to (implementation, regex the failure message must
match, checks that must reject it). The mistakes are the ones students make with weight
decay (a factor 2, the 0.5 forgotten, biases decayed, the weights shrunk), dropout (the
scaling, keep and drop mixed up, a new mask, NumPy's global generator) and batch norm
(ddof, eps, the momentum convention, the backward's mean and variance terms).
"""

from __future__ import annotations

import numpy as np

from course_utils.layers.core import dropout_forward as _library_dropout

L2_BOTH = ("check_add_l2", "check_add_l2_hidden")
DROP_BOTH = ("check_dropout", "check_dropout_hidden")
BN_BOTH = ("check_batchnorm", "check_batchnorm_hidden")
# A slip no recomputation confirms: the hint describes what is seen and names no cause.
L2_NEUTRAL = (r"(?s)^(?!.*(derivative of 0\.5|sign\(w\)|applied twice|a mean over|is gone|"
              r"shrank|decayed too|did not change))(?=.*Hint: (add lam \* params|each layer's))")
BN_NEUTRAL = (r"(?s)^(?!.*(as constants|term through|lacks eps|exchanged))"
              r"(?=.*dx is wrong.*Hint: )")


# =========================================================================================
# Task 6: add_l2(layers, lam) -> penalty
# =========================================================================================
def add_l2(layers, lam):
    penalty = 0.0
    for layer in layers:
        if "w" in layer.params:
            layer.grads["w"] += lam * layer.params["w"]
            penalty += 0.5 * lam * float(np.sum(layer.params["w"] ** 2))
    return penalty


def add_l2_new_arrays(layers, lam):
    """New gradient arrays stored in the dict, penalty as np.float64 from a generator."""
    weighted = [layer for layer in layers if layer.params.get("w") is not None]
    for layer in weighted:
        layer.grads["w"] = layer.grads["w"] + lam * layer.params["w"]
    return 0.5 * lam * np.sum([np.vdot(layer.params["w"], layer.params["w"]) for layer in weighted])


def add_l2_zero_d(layers, lam):
    """np.add in place; the penalty a 0-d array."""
    total = np.zeros(())
    for layer in layers:
        w = layer.params.get("w")
        if w is None:
            continue
        np.add(layer.grads["w"], lam * w, out=layer.grads["w"])
        total = total + np.square(w).sum()
    return lam / 2 * total


# --- wrong -------------------------------------------------------------------------------
def _weights(layers):
    return [layer for layer in layers if "w" in layer.params]


def l2_factor_two(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += 2 * lam * layer.params["w"]
    return 0.5 * lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_no_half(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
    return lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_biases_decayed(layers, lam):
    penalty = 0.0
    for layer in layers:
        for key in layer.params:
            layer.grads[key] += lam * layer.params[key]
            penalty += 0.5 * lam * float(np.sum(layer.params[key] ** 2))
    return penalty


def l2_replaces(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] = lam * layer.params["w"]
    return 0.5 * lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_shrinks_weights(layers, lam):
    penalty = 0.0
    for layer in _weights(layers):
        penalty += 0.5 * lam * float(np.sum(layer.params["w"] ** 2))
        layer.params["w"] *= 1 - lam
    return penalty


def l2_only_last(layers, lam):
    last = _weights(layers)[-1]
    last.grads["w"] += lam * last.params["w"]
    return 0.5 * lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_returns_in_loop(layers, lam):
    penalty = 0.0
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
        penalty += 0.5 * lam * float(np.sum(layer.params["w"] ** 2))
        return penalty
    return penalty


def l2_l1(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * np.sign(layer.params["w"])
    return lam * sum(float(np.sum(np.abs(layer.params["w"]))) for layer in _weights(layers))


def l2_mean_penalty(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
    return 0.5 * lam * sum(float(np.mean(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_array_penalty(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
    return np.array([0.5 * lam * sum(np.sum(layer.params["w"] ** 2) for layer in _weights(layers))])


def l2_per_layer_list(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
    return [0.5 * lam * float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers)]


def l2_last_penalty_only(layers, lam):
    penalty = 0.0
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
        penalty = 0.5 * lam * float(np.sum(layer.params["w"] ** 2))  # = instead of +=
    return penalty


def l2_lam_squared(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * lam * layer.params["w"]
    return 0.5 * lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_local_rebinding(layers, lam):
    penalty = 0.0
    for layer in _weights(layers):
        g = layer.grads["w"]
        g = g + lam * layer.params["w"]  # noqa: F841  (the layer never sees it)
        penalty += 0.5 * lam * float(np.sum(layer.params["w"] ** 2))
    return penalty


def l2_every_layer(layers, lam):
    penalty = 0.0
    for layer in layers:  # ReLU layers have no "w"
        layer.grads["w"] += lam * layer.params["w"]
        penalty += 0.5 * lam * float(np.sum(layer.params["w"] ** 2))
    return penalty


def l2_capital_key(layers, lam):
    penalty = 0.0
    for layer in layers:
        if "W" in layer.params:  # the course's Linear calls it "w"
            layer.grads["W"] += lam * layer.params["W"]
            penalty += 0.5 * lam * float(np.sum(layer.params["W"] ** 2))
    return penalty


def l2_no_return(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]


def l2_penalty_with_biases(layers, lam):
    penalty = 0.0
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
        penalty += 0.5 * lam * sum(float(np.sum(p**2)) for p in layer.params.values())
    return penalty


def l2_penalty_without_lam(layers, lam):
    for layer in _weights(layers):
        layer.grads["w"] += lam * layer.params["w"]
    return 0.5 * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_unexplained(layers, lam):
    for layer in _weights(layers):
        w = layer.params["w"]
        layer.grads["w"] += lam * w + 0.01 * w**2
    return 0.5 * lam * sum(float(np.sum(layer.params["w"] ** 2)) for layer in _weights(layers))


def l2_default_lam(layers, lam):
    lam = lam or 1e-4  # "no regularisation" silently becomes some
    return add_l2(layers, lam)


ADD_L2_CORRECT = [add_l2, add_l2_new_arrays, add_l2_zero_d]
ADD_L2_WRONG = {
    "factor_two": (l2_factor_two, r"2 × lam \* w: the derivative of 0\.5", L2_BOTH),
    "no_half": (l2_no_half, r"derivative of your penalty is 2 ×.*0\.5 .* is missing", L2_BOTH),
    "biases_decayed": (l2_biases_decayed, r"grads\['b'\] gained lam \* b", L2_BOTH),
    "replaces": (l2_replaces, r"lam \* w alone: the data gradient.*is gone", L2_BOTH),
    "shrinks_weights": (l2_shrinks_weights, r"(?s)params\['w'\] changed.*shrank the weights",
                        L2_BOTH),  # fmt: skip
    "only_last": (l2_only_last, r"gradients of layers\[0\](, layers\[\d+\])* did not change",
                  L2_BOTH),  # fmt: skip
    "returns_in_loop": (l2_returns_in_loop, r"did not change: loop over EVERY layer.*return "
                        r"after the loop", L2_BOTH),  # fmt: skip
    "l1": (l2_l1, r"lam \* sign\(w\).*L1 penalty", L2_BOTH),
    "mean_penalty": (l2_mean_penalty, r"np\.mean\(w \*\* 2\) instead of np\.sum", L2_BOTH),
    "array_penalty": (l2_array_penalty, r"returned ndarray of shape \(1,\), expected one number",
                      L2_BOTH),  # fmt: skip
    "per_layer_list": (l2_per_layer_list, r"(?s)returned list.*ONE number, summed over all layers",
                       L2_BOTH),  # fmt: skip
    "last_penalty_only": (l2_last_penalty_only, r"penalty does not change when layers\[0\]'s "
                          r"weights change", L2_BOTH),  # fmt: skip
    "lam_squared": (l2_lam_squared, r"lam² \* w: lam is applied twice", L2_BOTH),
    "local_rebinding": (l2_local_rebinding, r"no weight gradient changed.*a local", L2_BOTH),
    "every_layer": (l2_every_layer, r"(?s)raised KeyError.*skip the layers without a weight",
                    L2_BOTH),  # fmt: skip
    "capital_key": (l2_capital_key, r"no weight gradient changed.*call their weight 'w'", L2_BOTH),
    "no_return": (l2_no_return, r"returned None\nHint: return the penalty", L2_BOTH),
    "penalty_with_biases": (l2_penalty_with_biases, r"includes 0\.5 \* lam \* sum\(b \*\* 2\)",
                            L2_BOTH),  # fmt: skip
    "penalty_without_lam": (l2_penalty_without_lam, r"lam is missing from your penalty", L2_BOTH),
    "unexplained": (l2_unexplained, L2_NEUTRAL, L2_BOTH),
    "default_lam": (l2_default_lam, r"(?s)changed with lam = 0.*adds nothing", ("check_add_l2",)),
}


# =========================================================================================
# Task 7: inverted dropout
# =========================================================================================
def dropout_forward(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def dropout_backward(dout, cache):
    return dout.copy() if cache is None else dout * cache


def dropout_forward_where(x, p, training, rng):
    """np.where, a strict >, the 0/1 mask and the scale kept apart."""
    if not training:
        return x, ("eval",)
    keep = rng.uniform(size=x.shape) > p
    return np.where(keep, x / (1.0 - p), 0.0), ("train", keep, 1.0 / (1.0 - p))


def dropout_backward_where(dout, cache):
    if cache[0] == "eval":
        return dout
    _, keep, scale = cache
    return np.where(keep, dout * scale, 0.0)


def dropout_forward_dict(x, p, training, rng):
    """The cache a dict; rng.random(size=...) and a float32-free boolean multiply."""
    if training:
        u = rng.random(size=x.shape)
        mask = (u >= p).astype(x.dtype) * (1 / (1 - p))
        return mask * x, {"mask": mask}
    return np.array(x), {"mask": None}


def dropout_backward_dict(dout, cache):
    mask = cache["mask"]
    return dout if mask is None else mask * dout


# --- wrong -------------------------------------------------------------------------------
def drop_no_scaling(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = rng.random(x.shape) >= p
    return x * mask, mask


def drop_non_inverted(x, p, training, rng):
    if not training:
        return x * (1 - p), None
    mask = rng.random(x.shape) >= p
    return x * mask, mask


def drop_scale_by_p(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p) / p
    return x * mask, mask


def drop_times_p(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p) * p
    return x * mask, mask


def drop_keep_probability(x, p, training, rng):
    """CS231n's convention: p is the probability of KEEPING a unit."""
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) < p) / p
    return x * mask, mask


def drop_swapped(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) < p) / (1 - p)
    return x * mask, mask


def drop_new_mask_forward(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, (p, rng)


def drop_new_mask_backward(dout, cache):
    if cache is None:
        return dout.copy()
    p, rng = cache
    return dout * (rng.random(dout.shape) >= p) / (1 - p)


def drop_global_random(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (np.random.rand(*x.shape) >= p) / (1 - p)
    return x * mask, mask


def drop_fixed_seed(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (np.random.default_rng(0).random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def drop_per_row(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random((x.shape[0], 1)) >= p) / (1 - p)
    return x * mask, mask


def drop_in_place(x, p, training, rng):
    if not training:
        return x, None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    x *= mask
    return x, mask


def drop_active_in_eval(x, p, training, rng):
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def drop_backward_unscaled(dout, cache):
    return dout.copy() if cache is None else dout * (cache != 0)


def drop_backward_times_out_forward(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, x * mask


def drop_binomial(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = rng.binomial(1, 1 - p, size=x.shape) / (1 - p)
    return x * mask, mask


def drop_keep_below(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) < 1 - p) / (1 - p)
    return x * mask, mask


def drop_transposed_draw(x, p, training, rng):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape[::-1]) >= p).T / (1 - p)
    return x * mask, mask


def drop_library(x, p, training, rng):
    return _library_dropout(x, p, training, rng)


DROPOUT_CORRECT = [
    (dropout_forward, dropout_backward),
    (dropout_forward_where, dropout_backward_where),
    (dropout_forward_dict, dropout_backward_dict),
]
DROPOUT_WRONG = {
    "no_scaling": ((drop_no_scaling, dropout_backward), r"survivors equal x: they are not "
                   r"scaled by 1 / \(1 - p\)", DROP_BOTH),  # fmt: skip
    "non_inverted": ((drop_non_inverted, dropout_backward), r"out = \(1 - p\) \* x.*NON-inverted",
                     DROP_BOTH),  # fmt: skip
    "scale_by_p": ((drop_scale_by_p, dropout_backward), r"survivors are x / p: p is the DROP",
                   DROP_BOTH),  # fmt: skip
    "times_p": ((drop_times_p, dropout_backward), r"survivors are p \* x: divide by the keep "
                r"probability", DROP_BOTH),  # fmt: skip
    "keep_probability": ((drop_keep_probability, dropout_backward),
                         r"CS231n's convention, where p is the KEEP probability", DROP_BOTH),
    "swapped": ((drop_swapped, dropout_backward), r"drop about 1 - p of the units: keep and drop "
                r"are mixed up", DROP_BOTH),  # fmt: skip
    "new_mask_in_backward": ((drop_new_mask_forward, drop_new_mask_backward),
                             r"zero on other units.*do not draw a new one", DROP_BOTH),
    "global_random": ((drop_global_random, dropout_backward), r"SAME state gave different "
                      r"masks.*global generator", DROP_BOTH),  # fmt: skip
    "fixed_seed": ((drop_fixed_seed, dropout_backward), r"another seed gave the same mask.*"
                   r"ignores its rng", DROP_BOTH),  # fmt: skip
    "per_row": ((drop_per_row, dropout_backward), r"each row of x is kept or dropped as a whole",
                DROP_BOTH),  # fmt: skip
    "in_place": ((drop_in_place, dropout_backward), r"modified its argument `x` in place.*\n"
                 r"Hint: the caller still needs", DROP_BOTH),  # fmt: skip
    "active_in_eval": ((drop_active_in_eval, dropout_backward), r"outputs are 0: dropout is "
                       r"active in evaluation mode", DROP_BOTH),  # fmt: skip
    "backward_unscaled": ((dropout_forward, drop_backward_unscaled), r"dx = dout \* \(the 0/1 "
                          r"mask\): the survivors' gradient is not divided", DROP_BOTH),
    "backward_times_out": ((drop_backward_times_out_forward, dropout_backward),
                           r"dx = dout \* out: multiply by the mask", DROP_BOTH),
    "binomial": ((drop_binomial, dropout_backward), r"rng\.binomial\(1, 1 - p\) draws too",
                 DROP_BOTH),  # fmt: skip
    "keep_below_one_minus_p": ((drop_keep_below, dropout_backward), r"your mask is "
                               r"rng\.random\(x\.shape\) < 1 - p", DROP_BOTH),  # fmt: skip
    "transposed_draw": ((drop_transposed_draw, dropout_backward), r"units differ from the mask "
                        r"rng\.random\(x\.shape\) >= p", DROP_BOTH),  # fmt: skip
    "library": ((drop_library, dropout_backward), r"must not use a library implementation",
                DROP_BOTH),  # fmt: skip
}


# =========================================================================================
# Task 8: batch normalisation
# =========================================================================================
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.ones(d))
    if mode == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


def batchnorm_forward_in_place(x, gamma, beta, bn_param):
    """Running statistics updated IN PLACE (setdefault creates them); the cache keeps x."""
    eps = bn_param.get("eps", 1e-5)
    m = bn_param.get("momentum", 0.9)
    rm = bn_param.setdefault("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    rv = bn_param.setdefault("running_var", np.ones(x.shape[1], dtype=x.dtype))
    if bn_param["mode"] == "train":
        mu = np.mean(x, axis=0)
        var = np.mean((x - mu) ** 2, axis=0)
        rm *= m
        rm += (1 - m) * mu
        rv *= m
        rv += (1 - m) * var
    else:
        mu, var = rm, rv
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, (x, mu, var, eps, gamma)


def batchnorm_backward_staged(dout, cache):
    """The computational graph, stage by stage (CS231n's first version)."""
    x, mu, var, eps, gamma = cache
    n = x.shape[0]
    xmu = x - mu
    std = np.sqrt(var + eps)
    x_hat = xmu / std
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * xmu, axis=0) * -0.5 * std**-3
    dmu = -np.sum(dx_hat, axis=0) / std + dvar * np.mean(-2 * xmu, axis=0)
    dx = dx_hat / std + dvar * 2 * xmu / n + dmu / n
    return dx, dgamma, dbeta


def batchnorm_forward_keras_style(x, gamma, beta, bn_param):
    """Keras' update form moving += (batch - moving) * (1 - momentum); a dict cache."""
    p = bn_param
    eps = p.get("eps", 1e-5)
    decay = 1 - p.get("momentum", 0.9)
    if "running_mean" not in p:
        p["running_mean"], p["running_var"] = np.zeros_like(gamma), np.ones_like(gamma)
    if p["mode"] == "train":
        mu, var = x.mean(0), x.var(0)
        p["running_mean"] = p["running_mean"] + (mu - p["running_mean"]) * decay
        p["running_var"] = p["running_var"] + (var - p["running_var"]) * decay
    else:
        mu, var = p["running_mean"], p["running_var"]
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    return x_hat * gamma + beta, {"x_hat": x_hat, "gamma": gamma, "std": std}


def batchnorm_backward_compact(dout, cache):
    x_hat, gamma, std = cache["x_hat"], cache["gamma"], cache["std"]
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0)) / std
    return dx, (dout * x_hat).sum(0), dout.sum(0)


# --- wrong -------------------------------------------------------------------------------
def _bn(x, gamma, beta, bn_param, *, ddof=0, reverse=False, eps_outside=False, swap=False,
        eval_batch=False, eval_updates=False, hat_var=False, var_init=1.0, eps_default=1e-5,
        carry=True, write_to=None):  # fmt: skip
    """The model answer with one slip switched on (running statistics stored in
    ``write_to``, default ``bn_param``)."""
    eps, m = bn_param.get("eps", eps_default), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    rm = bn_param.get("running_mean") if carry else None
    rv = bn_param.get("running_var") if carry else None
    rm = np.zeros(d) if rm is None else rm
    rv = np.full(d, var_init) if rv is None else rv
    train = bn_param["mode"] == "train"
    if train or eval_batch:
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
    else:
        mu, var = rm, rv
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    x_hat = (x - mu) / std
    if train or eval_updates:
        a, b = (1 - m, m) if reverse else (m, 1 - m)
        new_var = x_hat.var(axis=0) if hat_var else x.var(axis=0, ddof=ddof)
        store = bn_param if write_to is None else write_to
        store["running_mean"] = a * rm + b * x.mean(axis=0)
        store["running_var"] = a * rv + b * new_var
    out = beta * x_hat + gamma if swap else gamma * x_hat + beta
    return out, (x_hat, gamma, 1 / std)


def bn_ddof1(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, ddof=1)


def bn_reversed_momentum(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, reverse=True)


def bn_eps_outside(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, eps_outside=True)


def bn_swapped(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, swap=True)


def bn_eval_batch_stats(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, eval_batch=True)


def bn_eval_updates(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, eval_updates=True)


def bn_hat_var(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, hat_var=True)


def bn_var_zeros(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, var_init=0.0)


def bn_keras_eps(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, eps_default=1e-3)


def bn_not_carried(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, bn_param, carry=False)


def bn_first_batch_init(x, gamma, beta, bn_param):
    if "running_mean" not in bn_param:  # starts at the first batch's statistics
        bn_param["running_mean"], bn_param["running_var"] = x.mean(axis=0), x.var(axis=0)
    return batchnorm_forward(x, gamma, beta, bn_param)


def bn_eps_ignored(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, {**bn_param, "eps": 1e-5}, write_to=bn_param)


def bn_momentum_ignored(x, gamma, beta, bn_param):
    return _bn(x, gamma, beta, {**bn_param, "momentum": 0.9}, write_to=bn_param)


def bn_no_running(x, gamma, beta, bn_param):
    mu, var = x.mean(axis=0), x.var(axis=0)
    inv = 1 / np.sqrt(var + bn_param.get("eps", 1e-5))
    x_hat = (x - mu) * inv
    return gamma * x_hat + beta, (x_hat, gamma, inv)


def bn_in_place_x(x, gamma, beta, bn_param):
    out, cache = batchnorm_forward(x.copy(), gamma, beta, bn_param)
    x -= x.mean(axis=0)
    return out, cache


def bn_backward_wrong_axis(dout, cache):
    dx, _, _ = batchnorm_backward(dout, cache)
    x_hat, _, _ = cache
    return dx, (dout * x_hat).sum(axis=1), dout.sum(axis=1)


def bn_backward_simplified(dout, cache):
    x_hat, gamma, inv_std = cache
    return dout * gamma * inv_std, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def bn_backward_no_var_term(dout, cache):
    x_hat, gamma, inv_std = cache
    dx_hat = dout * gamma
    return inv_std * (dx_hat - dx_hat.mean(0)), (dout * x_hat).sum(0), dout.sum(0)


def bn_backward_no_mean_term(dout, cache):
    x_hat, gamma, inv_std = cache
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - x_hat * (dx_hat * x_hat).mean(0))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def bn_forward_for_no_eps_backward(x, gamma, beta, bn_param):
    out, (x_hat, gamma_, inv) = batchnorm_forward(x, gamma, beta, bn_param)
    return out, (x_hat, gamma_, inv, x.var(axis=0))


def bn_backward_std_no_eps(dout, cache):
    x_hat, gamma, _, var = cache
    return batchnorm_backward(dout, (x_hat, gamma, 1 / np.sqrt(var)))


def bn_backward_grads_swapped(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, dbeta, dgamma


def bn_backward_unexplained(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    x_hat = cache[0]
    return dx + 0.01 * x_hat**2 * dout, dgamma, dbeta


BATCHNORM_CORRECT = [
    (batchnorm_forward, batchnorm_backward),
    (batchnorm_forward_in_place, batchnorm_backward_staged),
    (batchnorm_forward_keras_style, batchnorm_backward_compact),
]
BATCHNORM_WRONG = {
    "ddof1": ((bn_ddof1, batchnorm_backward), r"unbiased one \(ddof=1\)", BN_BOTH),
    "momentum_reversed": ((bn_reversed_momentum, batchnorm_backward), r"momentum convention is "
                          r"reversed", BN_BOTH),  # fmt: skip
    "eps_outside": ((bn_eps_outside, batchnorm_backward), r"eps is added outside the square "
                    r"root", BN_BOTH),  # fmt: skip
    "gamma_beta_swapped": ((bn_swapped, batchnorm_backward), r"gamma and beta are exchanged",
                           BN_BOTH),  # fmt: skip
    "eval_batch_stats": ((bn_eval_batch_stats, batchnorm_backward), r"evaluation mode uses the "
                         r"batch's mean and variance", BN_BOTH),  # fmt: skip
    "eval_updates": ((bn_eval_updates, batchnorm_backward), r"changed in evaluation mode",
                     BN_BOTH),  # fmt: skip
    "running_var_of_x_hat": ((bn_hat_var, batchnorm_backward), r"variance of x_hat", BN_BOTH),
    "running_var_zeros": ((bn_var_zeros, batchnorm_backward), r"running_var starts at zeros",
                          BN_BOTH),  # fmt: skip
    "keras_eps_default": ((bn_keras_eps, batchnorm_backward), r"you used eps = 0\.001; "
                          r"bn_param has no 'eps': the default is eps = 1e-05",
                          ("check_batchnorm",)),  # fmt: skip
    "not_carried": ((bn_not_carried, batchnorm_backward), r"restart from zeros / ones at every "
                    r"step", BN_BOTH),  # fmt: skip
    "first_batch_init": ((bn_first_batch_init, batchnorm_backward), r"start at the first "
                         r"batch's mean and variance", BN_BOTH),  # fmt: skip
    "eps_ignored": ((bn_eps_ignored, batchnorm_backward), r"you used eps = 1e-05; bn_param "
                    r"gives eps = 0\.0\d+", BN_BOTH),  # fmt: skip
    "momentum_ignored": ((bn_momentum_ignored, batchnorm_backward), r"you used momentum = 0\.9; "
                         r"bn_param gives momentum = 0\.\d+", BN_BOTH),  # fmt: skip
    "no_running_stats": ((bn_no_running, batchnorm_backward), r"bn_param has no 'running_mean'",
                         BN_BOTH),  # fmt: skip
    "x_in_place": ((bn_in_place_x, batchnorm_backward), r"modified its argument `x` in place",
                   BN_BOTH),  # fmt: skip
    "dgamma_wrong_axis": ((batchnorm_forward, bn_backward_wrong_axis), r"(?s)dgamma has shape "
                          r"\(\d+,\).*summed over axis 1", BN_BOTH),  # fmt: skip
    "simplified_backward": ((batchnorm_forward, bn_backward_simplified), r"treats the batch mean "
                            r"and variance as constants", BN_BOTH),  # fmt: skip
    "no_variance_term": ((batchnorm_forward, bn_backward_no_var_term), r"term through the "
                         r"variance.*is missing", BN_BOTH),  # fmt: skip
    "no_mean_term": ((batchnorm_forward, bn_backward_no_mean_term), r"term through the mean.*is "
                     r"missing", BN_BOTH),  # fmt: skip
    "std_without_eps": ((bn_forward_for_no_eps_backward, bn_backward_std_no_eps), r"lacks eps",
                        BN_BOTH),  # fmt: skip
    "unexplained_backward": ((batchnorm_forward, bn_backward_unexplained), BN_NEUTRAL, BN_BOTH),
    "grads_swapped": ((batchnorm_forward, bn_backward_grads_swapped), r"dgamma and dbeta are "
                      r"exchanged", BN_BOTH),  # fmt: skip
}
