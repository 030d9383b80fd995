"""Implementations of 07_tuning's tasks 1, 2 and 12 (standardize, signal_stats, the
best-recipe model): correct ones and known-wrong ones.

For tasks 1 and 2, ``*_CORRECT`` lists alternative correct implementations every check
must accept (the model answer first), and ``*_WRONG`` maps a name to (implementation,
regex the failure message must match, checks that must reject it). The mistakes are the
ones students make standardising train/validation/test arrays (and uint8 pixels) and
measuring the forward and backward signal of a deep MLP.

For task 12, ``best_model(name)`` builds a Keras model from the trained weights kept in
``data/best_recipe_networks.npz`` (``python tests/grader/wrong/tuning_basics_wrong.py``
remakes them: see ``train_best_recipe``): ``BEST_CORRECT`` the names every check accepts,
``BEST_WRONG`` name -> (regex, checks that reject it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

STD_BOTH = ("check_standardize", "check_standardize_hidden")
STD_HIDDEN = ("check_standardize_hidden",)
SIG_BOTH = ("check_signal_stats", "check_signal_stats_hidden")
SIG_HIDDEN = ("check_signal_stats_hidden",)


# =========================================================================================
# Task 1: standardize(train, *others) -> tuple
# =========================================================================================
def standardize(train, *others):
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return tuple((a - mean) / std for a in (train, *others))


def standardize_columns_loop(train, *others):
    """Column by column with math, into arrays of the dtype the task asks for."""
    out = []
    for a in (train, *others):
        out.append(np.empty(a.shape, a.dtype if a.dtype.kind == "f" else np.float64))
    for j in range(train.shape[1]):
        col = [float(v) for v in train[:, j]]
        mean = sum(col) / len(col)
        std = math.sqrt(sum((v - mean) ** 2 for v in col) / len(col)) or 1.0
        for a, o in zip((train, *others), out, strict=True):
            o[:, j] = (a[:, j].astype(np.float64) - mean) / std
    return tuple(out)


def standardize_keepdims_list(train, *others):
    """keepdims statistics, the std as the root of the mean square, a LIST returned."""
    x = train if train.dtype.kind == "f" else train.astype(np.float64)
    mean = np.mean(x, axis=0, keepdims=True)
    std = np.sqrt(np.mean(np.square(x - mean), axis=0, keepdims=True))
    std[std == 0] = 1
    return [(a - mean) / std for a in [x, *others]]


def standardize_tiny_eps(train, *others):
    """A tiny eps on top of the safe std: changes the values by ~1e-9 relative."""
    mean = train.mean(axis=0)
    std = np.where(train.std(axis=0) == 0, 1.0, train.std(axis=0)) + 1e-9
    return tuple(np.divide(np.subtract(a, mean), std) for a in (train, *others))


STD_CORRECT = [standardize, standardize_columns_loop, standardize_keepdims_list,
               standardize_tiny_eps]  # fmt: skip


def _stats(train):
    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 0, std, 1.0)


def std_others_own_stats(train, *others):
    return tuple(standardize(a)[0] for a in (train, *others))


def std_combined_stats(train, *others):
    mean, std = _stats(np.concatenate([train, *others]))
    return tuple((a - mean) / std for a in (train, *others))


def std_per_sample(train, *others):
    return tuple((a - a.mean(axis=1, keepdims=True)) / a.std(axis=1, keepdims=True)
                 for a in (train, *others))  # fmt: skip


def std_global_scalar(train, *others):
    mean, std = train.mean(), train.std()
    return tuple((a - mean) / std for a in (train, *others))


def std_ddof1(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0, ddof=1)
    std[std == 0] = 1.0
    return tuple((a - mean) / std for a in (train, *others))


def std_nan_on_constant(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0)
    return tuple((a - mean) / std for a in (train, *others))


def std_eps_1e3(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-3
    return tuple((a - mean) / std for a in (train, *others))


def std_eps_in_variance(train, *others):
    mean, std = train.mean(axis=0), np.sqrt(train.var(axis=0) + 1e-3)
    return tuple((a - mean) / std for a in (train, *others))


def std_eps_on_zero_std(train, *others):
    """std + 1e-8 everywhere: right where std > 0, but a constant feature is divided by
    1e-8 (0 in train, huge in the others where that pixel is lit)."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return tuple((a - mean) / std for a in (train, *others))


def std_nan_to_num(train, *others):
    mean, std = train.mean(axis=0), train.std(axis=0)
    return tuple(np.nan_to_num((a - mean) / std) for a in (train, *others))


def std_minmax(train, *others):
    lo, span = train.min(axis=0), np.ptp(train, axis=0)
    span = np.where(span > 0, span, 1)
    return tuple((a - lo) / span for a in (train, *others))


def std_only_first_other(train, *others):
    mean, std = _stats(train)
    out = [(train - mean) / std]
    if others:
        out.append((others[0] - mean) / std)
    return tuple(out)


def std_only_last_other(train, *others):
    mean, std = _stats(train)
    result = (train - mean) / std
    for a in others:
        other = (a - mean) / std
    return (result, other) if others else (result,)


def std_bare_array_alone(train, *others):
    out = standardize(train, *others)
    return out[0] if len(out) == 1 else out


def std_generator(train, *others):
    mean, std = _stats(train)
    return ((a - mean) / std for a in (train, *others))


def std_in_place(train, *others):
    mean, std = _stats(train)
    for a in (train, *others):
        a -= mean.astype(a.dtype)
    return tuple(a / std for a in (train, *others))


def std_uint8_square(train, *others):
    """var = E[x^2] - E[x]^2 with x**2 in the input's integer type (wraps in uint8)."""
    mean = train.mean(axis=0)
    std = np.sqrt(np.mean(train**2, axis=0) - mean**2)
    std = np.where(std > 0, std, 1.0)
    return tuple((a - mean) / std for a in (train, *others))


def std_keeps_integer_dtype(train, *others):
    mean, std = _stats(train)
    out = []
    for a in (train, *others):
        o = np.empty_like(a)
        o[...] = (a - mean) / std
        out.append(o)
    return tuple(out)


def std_always_float64(train, *others):
    mean, std = _stats(train.astype(np.float64))
    return tuple((a.astype(np.float64) - mean) / std for a in (train, *others))


def std_pixels_to_float32(train, *others):
    """Integer pixels converted to float32 (the network's dtype) instead of float64."""
    if train.dtype.kind in "iu":
        train, others = train.astype(np.float32), [a.astype(np.float32) for a in others]
    mean, std = _stats(train)
    return tuple((a - mean) / std for a in (train, *others))


def std_others_as_one_list(train, others):
    mean, std = _stats(train)
    return ((train - mean) / std, *[(a - mean) / std for a in others])


def std_at_most_two_others(train, val=None, test=None):
    """Written for (train, val, test): any other number of arrays breaks it."""
    mean, std = _stats(train)
    return tuple((a - mean) / std for a in (train, val, test) if a is not None)


def std_center_only(train, *others):
    mean = train.mean(axis=0)
    return tuple(a - mean for a in (train, *others))


def std_divide_variance(train, *others):
    mean, var = train.mean(axis=0), train.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    return tuple((a - mean) / var for a in (train, *others))


def std_sklearn(train, *others):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train)
    return tuple(scaler.transform(a) for a in (train, *others))


def std_not_implemented(train, *others):
    raise NotImplementedError


STD_WRONG = {
    "others_own_stats": (std_others_own_stats, r"others\[0\] with its OWN mean", STD_BOTH),
    "combined_stats": (std_combined_stats, r"train AND others together: that leaks", STD_BOTH),
    "per_sample": (std_per_sample, r"per SAMPLE \(axis=1\)", STD_BOTH),
    "global_scalar": (std_global_scalar, r"one mean and one std for the whole matrix", STD_BOTH),
    "ddof1": (std_ddof1, r"SAMPLE std \(ddof=1.*POPULATION std, ddof=0", STD_BOTH),
    "nan_on_constant": (std_nan_on_constant, r"constant on the training set \(std 0\)", STD_BOTH),
    "eps_1e3": (std_eps_1e3, r"divided by its std plus the same constant 0\.001", STD_BOTH),
    "eps_in_variance": (
        std_eps_in_variance,
        r"divided by its variance plus the same constant 0\.001",
        STD_BOTH,
    ),
    "eps_on_zero_std": (
        std_eps_on_zero_std,
        r"(?s)constant in train \(std 0\), so it "
        r"must be divided by 1.*divides \(x - mean\) by 1e-08",
        STD_BOTH,
    ),
    "nan_to_num": (
        std_nan_to_num,
        r"constant in train \(std 0\), so it must be divided by 1",
        STD_BOTH,
    ),
    "minmax": (std_minmax, r"min-max scaling", STD_BOTH),
    "only_first_other": (std_only_first_other, r"only the FIRST of others", STD_BOTH),
    "only_last_other": (std_only_last_other, r"only the LAST of others", STD_BOTH),
    "bare_array_alone": (
        std_bare_array_alone,
        r"(?s)returned the bare array.*tuple of ONE array",
        STD_BOTH,
    ),
    "generator": (std_generator, r"expected a tuple of \d arrays.*got generator", STD_BOTH),
    "in_place": (std_in_place, r"modified its argument `train` in place", STD_BOTH),
    "uint8_square": (
        std_uint8_square,
        r"(?s)as float64 give the right result, but as uint8.*"
        r"wrapped around",
        STD_BOTH,
    ),
    "keeps_integer_dtype": (
        std_keeps_integer_dtype,
        r"(?s)dtype uint8, expected float64.*"
        r"empty_like",
        STD_BOTH,
    ),
    "always_float64": (
        std_always_float64,
        r"(?s)dtype float64, expected float32.*float input "
        r"keeps its dtype",
        STD_BOTH,
    ),
    "pixels_to_float32": (
        std_pixels_to_float32,
        r"(?s)dtype float32, expected float64.*integer "
        r"input \(uint8\) gives float64",
        STD_BOTH,
    ),
    "others_as_one_list": (
        std_others_as_one_list,
        r"(?s)(raised TypeError|ROWS of the "
        r"one other array).*def standardize\(train, \*others\)",
        STD_BOTH,
    ),
    "at_most_two_others": (
        std_at_most_two_others,
        r"(?s)raised TypeError.*Hint: standardize takes the training array and then ANY number",
        STD_HIDDEN,
    ),
    "center_only": (std_center_only, r"did not divide by the standard deviation", STD_BOTH),
    "divide_variance": (std_divide_variance, r"divided by the variance", STD_BOTH),
    "sklearn": (std_sklearn, r"(?s)must not use .*StandardScaler", STD_BOTH),
    "not_implemented": (std_not_implemented, r"not implemented yet", STD_BOTH),
}


# =========================================================================================
# Task 2: signal_stats(weights, x, activation, dout) -> (act_std, grad_std)
# =========================================================================================
def signal_stats(weights, x, activation, dout):
    def f(z):
        return np.maximum(z, 0.0) if activation == "relu" else np.tanh(z)

    def df(z, h):
        return (z > 0).astype(z.dtype) if activation == "relu" else 1.0 - h**2

    hs, zs = [x], []
    for W in weights:
        zs.append(hs[-1] @ W)
        hs.append(f(zs[-1]))
    act_std = [float(np.std(h)) for h in hs[1:]]
    grad_std = [0.0] * len(weights)
    dh = dout
    for layer in reversed(range(len(weights))):
        dz = dh * df(zs[layer], hs[layer + 1])
        grad_std[layer] = float(np.std(hs[layer].T @ dz))
        dh = dz @ weights[layer].T
    return act_std, grad_std


def signal_stats_caches_ties_to_one(weights, x, activation, dout):
    """Caches (input, pre-activation) pairs, ReLU' = 1 at z >= 0, 1/cosh^2 for tanh, the
    backward list built in reverse and flipped, arrays returned."""
    caches, h = [], x
    acts = []
    for W in weights:
        z = np.dot(h, W)
        caches.append((h, z))
        h = np.where(z >= 0, z, 0.0) if activation == "relu" else np.tanh(z)
        acts.append(h.std())
    grads, g = [], dout
    for W, (h_in, z) in zip(weights[::-1], caches[::-1], strict=True):
        g = g * (np.where(z >= 0, 1.0, 0.0) if activation == "relu" else 1.0 / np.cosh(z) ** 2)
        grads.append(np.dot(h_in.T, g).std())
        g = np.dot(g, W.T)
    return np.array(acts), np.array(grads[::-1])


def signal_stats_float32(weights, x, activation, dout):
    """Everything in float32 (as a network trains), a tuple of lists of NumPy floats."""
    ws = [W.astype(np.float32) for W in weights]
    h = [x.astype(np.float32)]
    for W in ws:
        z = h[-1] @ W
        h.append(np.maximum(z, 0) if activation == "relu" else np.tanh(z))
    d = dout.astype(np.float32)
    grad = []
    for i in range(len(ws) - 1, -1, -1):
        d = d * ((h[i + 1] > 0) if activation == "relu" else (1 - h[i + 1] * h[i + 1]))
        grad.insert(0, np.std(h[i].T @ d))
        d = d @ ws[i].T
    return tuple([np.std(a) for a in h[1:]]), tuple(grad)


SIG_CORRECT = [signal_stats, signal_stats_caches_ties_to_one, signal_stats_float32]


def _signal(weights, x, activation, dout, slip=""):
    """A student's signal_stats with one slip (the mistakes below)."""

    def f(z, last):
        if slip == "no_last_act" and last:
            return z
        return np.maximum(z, 0.0) if activation == "relu" else np.tanh(z)

    def df(z, h):
        if activation == "relu":
            return (z > 0) * 1.0
        return {"tanh_1_minus_h": 1 - h, "tanh_z_squared": 1 - z**2}.get(slip, 1 - h**2)

    def stat(a):
        return {"var": np.var, "per_unit": lambda b: np.std(b, axis=0).mean()}.get(slip, np.std)(a)

    L = len(weights)
    hs, zs = [x], []
    for i, W in enumerate(weights):
        zs.append(hs[-1] @ W)
        hs.append(f(zs[-1], i == L - 1))
    if slip == "pre":
        act = [np.std(z) for z in zs]
    elif slip == "with_x":
        act = [np.std(h) for h in hs]
    elif slip == "with_x_shifted":
        act = [np.std(h) for h in hs[:-1]]
    else:
        act = [stat(h) for h in hs[1:]]
    grads, dh = [], dout
    for i in reversed(range(L)):
        skip = slip == "no_deriv" or (slip in ("no_last_deriv", "no_last_act") and i == L - 1)
        dz = dh if skip else dh * df(zs[i], hs[i + 1])
        src = hs[i + 1] if slip == "h_out" else hs[i]
        dW = src.T @ (dh if slip == "no_deriv_dw" else dz)
        if slip == "mean_n":
            dW = dW / len(x)
        new_dh = (dh if slip == "no_deriv_prop" else dz) @ weights[i].T
        grads.append(stat({"dh_in": new_dh, "dh_out": dh, "dz": dz}.get(slip, dW)))
        dh = new_dh
    if slip == "per_unit_arrays":
        return [np.std(h, axis=0) for h in hs[1:]], grads[::-1]
    return (act[::-1] if slip == "reversed_both" else act), (
        grads if slip in ("reversed", "reversed_both") else grads[::-1]
    )


def _slip(name):
    def impl(weights, x, activation, dout):
        return _signal(weights, x, activation, dout, name)

    impl.__name__ = f"signal_stats_{name}"
    return impl


def sig_in_place_dout(weights, x, activation, dout):
    hs = [x]
    for W in weights:
        hs.append(np.maximum(hs[-1] @ W, 0) if activation == "relu" else np.tanh(hs[-1] @ W))
    dh, grads = dout, []
    for i in reversed(range(len(weights))):
        dh *= (hs[i + 1] > 0) if activation == "relu" else 1 - hs[i + 1] ** 2
        grads.insert(0, float(np.std(hs[i].T @ dh)))
        dh = dh @ weights[i].T
    return [float(np.std(h)) for h in hs[1:]], grads


def sig_always_relu(weights, x, activation, dout):
    return signal_stats(weights, x, "relu", dout)


def sig_dict(weights, x, activation, dout):
    act, grad = signal_stats(weights, x, activation, dout)
    return {"act_std": act, "grad_std": grad}


def sig_not_implemented(weights, x, activation, dout):
    raise NotImplementedError


_GRAD = r"(?s)`grad_std` is wrong.*Hint: .*"
_ACT = r"(?s)`act_std` is wrong.*Hint: .*"
SIG_WRONG = {
    "reversed": (_slip("reversed"), _GRAD + r"grad_std is in BACKWARD order", SIG_BOTH),
    "reversed_both": (_slip("reversed_both"), _ACT + r"reverse order", SIG_BOTH),
    "pre": (_slip("pre"), _ACT + r"PRE-activations", SIG_BOTH),
    "with_x": (_slip("with_x"), r"(?s)has 4 values, expected 3.*do not include x", SIG_BOTH),
    "with_x_shifted": (_slip("with_x_shifted"), _ACT + r"starts with the std of x", SIG_BOTH),
    "var": (_slip("var"), _ACT + r"VARIANCES", SIG_BOTH),
    "per_unit": (_slip("per_unit"), _ACT + r"mean over units of the per-unit std", SIG_BOTH),
    "per_unit_arrays": (
        _slip("per_unit_arrays"),
        r"(?s)should be ONE number.*Hint: that is one value per unit",
        SIG_BOTH,
    ),
    "dh_in": (_slip("dh_in"), _GRAD + r"std of dh_\{l-1\}", SIG_BOTH),
    "dh_out": (_slip("dh_out"), _GRAD + r"std of dh_l,", SIG_BOTH),
    "dz": (_slip("dz"), _GRAD + r"std of dz_l", SIG_BOTH),
    "no_deriv": (_slip("no_deriv"), _GRAD + r"derivative is missing", SIG_BOTH),
    "no_deriv_dw": (_slip("no_deriv_dw"), _GRAD + r"dW uses dh_l instead of dz_l", SIG_BOTH),
    "no_deriv_prop": (_slip("no_deriv_prop"), _GRAD + r"propagated as dh_l @ W_l.T", SIG_BOTH),
    "no_last_deriv": (_slip("no_last_deriv"), _GRAD + r"last layer's backward skips", SIG_BOTH),
    "tanh_1_minus_h": (_slip("tanh_1_minus_h"), _GRAD + r"yours is 1 - h(?!\*)", SIG_BOTH),
    "tanh_z_squared": (_slip("tanh_z_squared"), _GRAD + r"squares z itself", SIG_BOTH),
    "no_last_act": (_slip("no_last_act"), _ACT + r"last layer has no activation", SIG_BOTH),
    "mean_n": (_slip("mean_n"), _GRAD + r"dW is divided by N", SIG_BOTH),
    "h_out": (_slip("h_out"), r"raised ValueError|layer's OUTPUT h_l", SIG_BOTH),
    "in_place_dout": (sig_in_place_dout, r"modified its argument `dout` in place", SIG_BOTH),
    "always_relu": (sig_always_relu, _ACT + r"act_std\[l-1\] = np.std\(h_l\)", SIG_BOTH),
    "dict": (sig_dict, r"expected the pair `\(act_std, grad_std\)`, got dict", SIG_BOTH),
    "not_implemented": (sig_not_implemented, r"not implemented yet", SIG_BOTH),
}


# =========================================================================================
# Task 12: the best recipe (trained Keras models)
# =========================================================================================
NETWORKS = Path(__file__).parent.parent / "data" / "best_recipe_networks.npz"
BEST_BOTH = ("check_best_recipe", "check_best_recipe_hidden")
BEST_HIDDEN = ("check_best_recipe_hidden",)
RECIPE = {"hidden": (1024, 1024), "dropout": 0.3, "epochs": 15, "lr": 2e-3, "batch_size": 128}


def _keras():
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def build_recipe_mlp(hidden=(1024, 1024), dropout=0.3, input_shape=(784,), seed=0):
    """Input -> [Dense(h, no bias) -> BatchNormalization -> ReLU -> Dropout] per h ->
    Dense(10) logits."""
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(input_shape)]
    if input_shape != (784,):
        layers.append(L.Flatten())
    for h in hidden:
        layers += [L.Dense(h, use_bias=False), L.BatchNormalization(), L.ReLU(),
                   L.Dropout(dropout)]  # fmt: skip
    layers.append(L.Dense(10))
    return keras.Sequential(layers)


def shift_images(X, max_shift, rng):
    """(N, 784) images, each shifted by integer (dy, dx) uniform in [-max_shift, max_shift],
    zeros shifted in (task 9's random_shift, vectorised over the (dy, dx) pairs)."""
    m, n = max_shift, len(X)
    pad = np.pad(X.reshape(n, 28, 28), ((0, 0), (m, m), (m, m)))
    dy, dx = rng.integers(-m, m + 1, n), rng.integers(-m, m + 1, n)
    out = np.empty((n, 28, 28), X.dtype)
    for a in range(-m, m + 1):
        for b in range(-m, m + 1):
            idx = np.flatnonzero((dy == a) & (dx == b))
            out[idx] = pad[idx, m + a : m + a + 28, m + b : m + b + 28]
    return out.reshape(n, 784)


def train_recipe(x, y, *, hidden, dropout, epochs, lr, batch_size, seed=0, max_shift=0):
    """The recipe: Adam with cosine decay from lr to 0 over all steps, sparse CE on logits,
    shuffled batches; with ``max_shift`` > 0 each epoch sees freshly shifted images.

    Measured on the build machine (2 cores shared with 4 other jobs, so the times are
    upper bounds), final test accuracy for seeds 0, 1, 2 (BN: Dense without bias ->
    BatchNormalization -> ReLU -> Dropout; batch 128; Adam, cosine decay from 2e-3):

    ================================= ====== ======================== ======== =========
    hidden layers, dropout, shifts     epochs test accuracy            s/epoch  total s
    ================================= ====== ======================== ======== =========
    512-512, 0.25, +-1 px per epoch    10     98.92 / 98.98 / 98.92 %  ~5       49-57
    512-512, 0.25, +-1 px per epoch    6      98.76 / 98.66 / 98.83 %  ~6       34-37
    1024-1024, 0.3, +-1 px per epoch   10     98.97 / 98.97 / 99.01 %  ~11      99-140
    1024-1024, 0.3, +-1 px per epoch   6      98.83 / 98.67 / 98.82 %  ~10      58-66
    1024-1024, 0.3, +-1 px per epoch   15     99.05 % (seed 0)         ~18      266
    1024-1024, 0.3, no shifts          15     98.70 / 98.66 / 98.67 %  ~14      223-256
    1024-1024, 0.3, no shifts          10     98.65 / 98.44 / 98.54 %  ~15      133-195
    512-512, 0.25, no shifts           15     98.57 / 98.46 / 98.64 %  ~6       89-103
    ================================= ====== ======================== ======== =========

    The fastest recipe that reaches 98.6 % with a margin on every seed: 512-512, dropout
    0.25, shifts of +-1 pixel, 10 epochs (about a minute).
    The weights in ``NETWORKS`` are ``RECIPE`` ("1024-1024, 0.3, no shifts, 15 epochs"),
    seed 0: 98.70 %, also after the float16 round trip (a model near the threshold).
    """
    keras = _keras()
    model = build_recipe_mlp(hidden, dropout, seed=seed)
    steps = epochs * -(-len(x) // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        xe = shift_images(x, max_shift, rng) if max_shift else x
        model.fit(xe, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    return model


def train_networks() -> dict:
    """ "recipe": the recipe trained on the 60 000 training images (float16 weights);
    "on_test": a 784-256-256-10 of the same kind trained on the 10 000 TEST images."""
    from course_utils.data import load_mnist

    data = load_mnist(flatten=True, verbose=False)
    recipe = train_recipe(data.X_train, data.y_train, **RECIPE)
    cheat = train_recipe(data.X_test, data.y_test, hidden=(256, 256), dropout=0.1, epochs=20,
                         lr=2e-3, batch_size=128)  # fmt: skip
    return {"recipe": recipe.get_weights(), "on_test": cheat.get_weights()}


def save_networks(nets: dict) -> None:
    arrays = {f"{k}_{i}": np.asarray(w, np.float16) for k, ws in nets.items()
              for i, w in enumerate(ws)}  # fmt: skip
    np.savez_compressed(NETWORKS, **arrays)


def load_networks() -> dict:
    with np.load(NETWORKS) as data:
        out = {}
        for key in ("recipe", "on_test"):
            n = sum(k.startswith(f"{key}_") for k in data.files)
            out[key] = [data[f"{key}_{i}"].astype(np.float32) for i in range(n)]
    return out


def _vgg_on_vectors(nested: bool):
    """06's trained VGG (tests/grader/data/cnn_networks.npz), fed (N, 784) vectors through
    a Reshape: an accurate model that is NOT an MLP (as one Sequential, or nested)."""
    keras = _keras()
    L = keras.layers
    body = []
    for w in (16, 32):
        for _ in range(2):
            body += [L.Conv2D(w, 3, padding="same"), L.BatchNormalization(), L.ReLU()]
        body.append(L.MaxPooling2D(2))
    body += [L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10)]
    if nested:
        inner = keras.Sequential([keras.Input((28, 28, 1)), *body], name="vgg")
        model = keras.Sequential([keras.Input((784,)), L.Reshape((28, 28, 1)), inner])
    else:
        model = keras.Sequential([keras.Input((784,)), L.Reshape((28, 28, 1)), *body])
    with np.load(Path(__file__).parent.parent / "data" / "cnn_networks.npz") as data:
        vgg = [data[f"vgg_{i}"] for i in range(sum(k.startswith("vgg_") for k in data.files))]
    model.set_weights(vgg)
    return model


def best_model(name: str):
    """The model of the catalogue entry ``name`` (built in this process)."""
    keras = _keras()
    L = keras.layers
    if name in ("untrained", "not_keras", "history", "image_input", "one_output"):
        if name == "untrained":
            return build_recipe_mlp(seed=3)
        if name == "not_keras":
            return load_networks()["recipe"]
        if name == "image_input":
            model = build_recipe_mlp(input_shape=(28, 28))
            model.set_weights(load_networks()["recipe"])
            return model
        if name == "one_output":
            return keras.Sequential([keras.Input((784,)), L.Dense(64, activation="relu"),
                                     L.Dense(1)])  # fmt: skip
        return keras.callbacks.History()
    if name in ("conv", "conv_nested"):
        return _vgg_on_vectors(nested=name == "conv_nested")
    nets = load_networks()
    if name == "on_test":
        model = build_recipe_mlp((256, 256), 0.1)
        model.set_weights(nets["on_test"])
        return model
    model = build_recipe_mlp()
    weights = nets["recipe"]
    if name == "nan_weights":
        weights = [w.copy() for w in weights]
        weights[5][7, 3] = np.nan  # the second Dense kernel
    model.set_weights(weights)
    if name == "softmax_output":
        return keras.Sequential([model, L.Softmax()])
    if name == "functional_nested":
        inputs = keras.Input((784,))
        return keras.Model(inputs, model(inputs))
    return model


BEST_CORRECT = ["trained", "softmax_output", "functional_nested"]
BEST_WRONG = {
    "untrained": (r"test accuracy \d+\.\d\d% .* below the required 98\.5%", BEST_BOTH),
    "conv": (r"contains Conv2D.*not allowed", BEST_BOTH),
    "conv_nested": (r"contains Conv2D.*not allowed", BEST_BOTH),
    "nan_weights": (r"(?s)outputs contain NaN or inf.*weights of layer\(s\) dense", BEST_BOTH),
    "on_test": (
        r"only \d+\.\d\d% of the first 6000 training images.*trained on the test set",
        BEST_HIDDEN,
    ),
    "image_input": (r"takes inputs of shape \(None, 28, 28\).*\(N, 784\)", BEST_BOTH),
    "one_output": (r"outputs shape \(2, 1\) for 2 images; expected \(2, 10\)", BEST_BOTH),
    "not_keras": (r"expected a keras.Model", BEST_BOTH),
    "history": (r"is the History that model.fit returned", BEST_BOTH),
}


if __name__ == "__main__":
    save_networks(train_networks())
    print(f"wrote {NETWORKS}")
