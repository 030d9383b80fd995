"""Implementations of 05_mnist's tasks: correct ones and known-wrong ones.

For each task, ``*_CORRECT`` lists alternative correct implementations every check must
accept, and ``*_WRONG`` maps a name to (implementation, regex the failure message must
match, checks that must reject it). Entries that only the hidden check can catch list only
the hidden check. The mistakes are the ones students make with loaders, initialisers,
dense layers, fused losses, adaptive optimisers and training loops.

The training functions look up ``DataLoader``, ``Linear``, ``softmax_cross_entropy`` and
``Adam`` as globals of this module, as the notebook's ``train_mlp`` does in the notebook:
the check of ``train_mlp`` binds them to the course's reference answers while it runs.
"""

from __future__ import annotations

import time

import numpy as np

if __name__.endswith("_remote"):  # the grading-link server: train on one BLAS thread, as the
    from threadpoolctl import threadpool_limits  # notebook does (two spin on a busy machine)

    threadpool_limits(limits=1, user_api="blas")

LOADER_BOTH = ("check_data_loader", "check_data_loader_hidden")
INIT_BOTH = ("check_initializers", "check_initializers_hidden")
LINEAR_BOTH = ("check_linear", "check_linear_hidden")
LOSS_BOTH = ("check_softmax_cross_entropy", "check_softmax_cross_entropy_hidden")
ADAM_BOTH = ("check_adam", "check_adam_hidden")
ADAM_HIDDEN = ("check_adam_hidden",)
TRAIN_BOTH = ("check_train_mlp", "check_train_mlp_hidden")
TRAIN_VISIBLE = ("check_train_mlp",)
KERAS_BOTH = ("check_build_keras_mlp", "check_build_keras_mlp_hidden")


# =========================================================================================
# Task 1: DataLoader
# =========================================================================================
def _validate(X, y, batch_size):
    if len(X) != len(y):
        raise ValueError(f"X and y: expected the same length, got {len(X)} and {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")


class DataLoader:
    """The model answer (index permutation per epoch)."""

    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        _validate(X, y, batch_size)
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else (n + b - 1) // b

    def _order(self):
        return self.rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))

    def __iter__(self):
        order, b = self._order(), self.batch_size
        for i in range(len(self)):
            idx = order[i * b : (i + 1) * b]
            yield self.X[idx], self.y[idx]


class LoaderIndexBatches:
    """Correct: the epoch's index arrays made up front with np.array_split."""

    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        if len(X) != len(y):
            raise ValueError("X and y: lengths differ")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError("batch_size must be a positive integer")
        self.X, self.y, self.b, self.shuffle, self.drop = X, y, batch_size, shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self._index_batches(np.arange(len(self.X))))

    def _index_batches(self, order):
        cuts = list(range(self.b, len(order), self.b))
        parts = np.split(order, cuts)
        if self.drop and len(parts[-1]) < self.b:
            parts = parts[:-1]
        return parts

    def __iter__(self):
        order = self.rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))
        return iter([(self.X[idx], self.y[idx]) for idx in self._index_batches(order)])


class LoaderGenerator:
    """Correct: a generator with a while loop; the shuffled copy made once per epoch."""

    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        if not (isinstance(batch_size, int | np.integer) and batch_size > 0):
            raise ValueError(f"batch_size must be a positive int, not {batch_size}")
        if X.shape[0] != y.shape[0]:
            raise ValueError("X and y must have the same number of rows")
        self.X, self.y, self.batch_size = X, y, int(batch_size)
        self.shuffle, self.drop_last, self.gen = shuffle, drop_last, np.random.default_rng(seed)

    def __len__(self):
        full, rest = divmod(len(self.X), self.batch_size)
        return full + int(bool(rest) and not self.drop_last)

    def __iter__(self):
        if self.shuffle:
            perm = self.gen.permutation(len(self.X))
            X, y = self.X[perm], self.y[perm]  # one copy per epoch
        else:
            X, y = self.X, self.y
        start = 0
        while start < len(X):
            stop = start + self.batch_size
            if stop > len(X) and self.drop_last:
                return
            yield X[start:stop], y[start:stop]
            start = stop


class LoaderYNotShuffled(DataLoader):
    def __iter__(self):
        order, b = self._order(), self.batch_size
        for i in range(len(self)):
            yield self.X[order[i * b : (i + 1) * b]], self.y[i * b : (i + 1) * b]


class LoaderWithReplacement(DataLoader):
    def __iter__(self):
        b, n = self.batch_size, len(self.X)
        for i in range(len(self)):
            idx = self.rng.integers(0, n, size=min(b, n - i * b))
            yield self.X[idx], self.y[idx]


class LoaderDropsLast(DataLoader):
    def __iter__(self):
        order, b = self._order(), self.batch_size
        for i in range(len(self.X) // b):
            idx = order[i * b : (i + 1) * b]
            yield self.X[idx], self.y[idx]


class LoaderLenFloor(DataLoader):
    def __len__(self):
        return len(self.X) // self.batch_size

    def __iter__(self):
        order, b = self._order(), self.batch_size
        for start in range(0, len(self.X) - (len(self.X) % b if self.drop_last else 0), b):
            idx = order[start : start + b]
            yield self.X[idx], self.y[idx]


class LoaderPermutesOnce(DataLoader):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = self.rng.permutation(len(self.X))

    def _order(self):
        return self.order if self.shuffle else np.arange(len(self.X))


class LoaderReseedsEveryEpoch(DataLoader):
    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        super().__init__(X, y, batch_size, shuffle, seed, drop_last)
        self.seed = seed

    def _order(self):
        rng = np.random.default_rng(self.seed)
        return rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))


class LoaderGlobalRandom(DataLoader):
    def _order(self):
        return np.random.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))


class LoaderIgnoresDropLast(DataLoader):
    def __len__(self):
        return -(-len(self.X) // self.batch_size)


class LoaderNeverShuffles(DataLoader):
    def _order(self):
        return np.arange(len(self.X))


class LoaderAlwaysShuffles(DataLoader):
    def _order(self):
        return self.rng.permutation(len(self.X))


class LoaderNoValidation(DataLoader):
    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)


class LoaderAsserts(DataLoader):
    def __init__(self, X, y, batch_size, shuffle=True, seed=None, drop_last=False):
        assert len(X) == len(y), "X and y differ in length"
        assert isinstance(batch_size, int) and batch_size > 0, "bad batch_size"
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rng = np.random.default_rng(seed)


class LoaderCopiesPerBatch(DataLoader):
    def __iter__(self):
        order, b = self._order(), self.batch_size
        for i in range(len(self)):
            X_shuffled, y_shuffled = self.X[order], self.y[order]
            yield X_shuffled[i * b : (i + 1) * b], y_shuffled[i * b : (i + 1) * b]


class LoaderOffByOne(DataLoader):
    def __iter__(self):
        order, b = self._order(), self.batch_size
        for i in range(len(self)):
            idx = order[i * b : (i + 1) * b - 1]
            yield self.X[idx], self.y[idx]


LOADER_CORRECT = [DataLoader, LoaderIndexBatches, LoaderGenerator]
LOADER_WRONG = {
    "y_not_shuffled": (LoaderYNotShuffled, r"labels come in the original order", LOADER_BOTH),
    "with_replacement": (LoaderWithReplacement, r"appears \d+ times in epoch", LOADER_BOTH),
    "drops_last_batch": (
        LoaderDropsLast,
        r"last, partial batch of \d+ samples is missing",
        LOADER_BOTH,
    ),  # fmt: skip
    "len_floor": (LoaderLenFloor, r"the last, partial batch counts too", LOADER_BOTH),
    "permutes_once": (LoaderPermutesOnce, r"SAME order", LOADER_BOTH),
    "reseeds_every_epoch": (LoaderReseedsEveryEpoch, r"SAME order", LOADER_BOTH),
    "global_random": (
        LoaderGlobalRandom,
        r"two loaders made with seed=\d+ give different",
        LOADER_BOTH,
    ),  # fmt: skip
    "ignores_drop_last": (
        LoaderIgnoresDropLast,
        r"with drop_last=True the partial batch does "
        r"not count|drop_last=True the last, partial batch",
        LOADER_BOTH,
    ),
    "never_shuffles": (LoaderNeverShuffles, r"original order 0, 1, 2", LOADER_BOTH),
    "always_shuffles": (
        LoaderAlwaysShuffles,
        r"with shuffle=False the batches must follow",
        LOADER_BOTH,
    ),  # fmt: skip
    "no_validation": (LoaderNoValidation, r"batch_size=0 was accepted", ("check_data_loader",)),
    "asserts_instead": (LoaderAsserts, r"raised AssertionError", ("check_data_loader",)),
    "copies_per_batch": (
        LoaderCopiesPerBatch,
        r"copies all of X for each batch",
        ("check_data_loader",),
    ),  # fmt: skip
    "off_by_one_slice": (LoaderOffByOne, r"batch sizes \[31, 31", ("check_data_loader",)),
}


# =========================================================================================
# Task 2: he_normal, xavier_uniform
# =========================================================================================
def he_normal(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def xavier_uniform(fan_in, fan_out, rng):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def he_standard_normal(fan_in, fan_out, rng):
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)


def xavier_from_random(fan_in, fan_out, rng):
    a = (6 / (fan_in + fan_out)) ** 0.5
    return (2 * rng.random((fan_in, fan_out)) - 1) * a


def he_fan_out(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_out), size=(fan_in, fan_out))


def he_lecun(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=(fan_in, fan_out))


def he_uniform_shape(fan_in, fan_out, rng):
    a = np.sqrt(6.0 / fan_in)  # right variance, wrong distribution
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def he_global_rng(fan_in, fan_out, rng):
    return np.random.randn(fan_in, fan_out) * np.sqrt(2.0 / fan_in)


def he_transposed(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))


def xavier_fan_in_only(fan_in, fan_out, rng):
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def xavier_normal_instead(fan_in, fan_out, rng):
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))


def xavier_std_as_limit(fan_in, fan_out, rng):
    a = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_in, fan_out))


def xavier_zero_to_a(fan_in, fan_out, rng):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(0, a, size=(fan_in, fan_out))


INIT_CORRECT = [(he_normal, xavier_uniform), (he_standard_normal, xavier_from_random)]
INIT_WRONG = {
    "he_fan_out": ((he_fan_out, xavier_uniform), r"matches the scale √\(2/fan_out\)", INIT_BOTH),
    "he_lecun_scale": ((he_lecun, xavier_uniform), r"matches the scale √\(1/fan_in\)", INIT_BOTH),
    "he_uniform": (
        (he_uniform_shape, xavier_uniform),
        r"wrong distribution.*look uniform",
        INIT_BOTH,
    ),  # fmt: skip
    "he_global_rng": (
        (he_global_rng, xavier_uniform),
        r"draw every number from the `rng`",
        INIT_BOTH,
    ),  # fmt: skip
    "he_transposed": ((he_transposed, xavier_uniform), r"transposed", INIT_BOTH),
    "xavier_fan_in_only": (
        (he_normal, xavier_fan_in_only),
        r"matches the scale √\(2/fan_in\)",
        INIT_BOTH,
    ),  # fmt: skip
    "xavier_normal": (
        (he_normal, xavier_normal_instead),
        r"wrong distribution.*look normal",
        INIT_BOTH,
    ),  # fmt: skip
    "xavier_std_as_limit": (
        (he_normal, xavier_std_as_limit),
        r"used the standard deviation .* as the limit",
        INIT_BOTH,
    ),
    "xavier_zero_to_a": ((he_normal, xavier_zero_to_a), r"uniform\(0, a\) instead", INIT_BOTH),
}


# =========================================================================================
# Task 3: Linear
# =========================================================================================
class Linear:
    """The model answer."""

    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        rng = np.random.default_rng() if rng is None else rng
        init = he_normal if init is None else init
        self.params = {
            "W": np.asarray(init(in_features, out_features, rng), dtype=dtype),
            "b": np.zeros(out_features, dtype=dtype),
        }
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class LinearEinsum:
    """Correct: einsum, a cache tuple, and dtype applied with astype."""

    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        if rng is None:
            rng = np.random.default_rng()
        make = init or he_normal
        self.params = {"W": make(in_features, out_features, rng).astype(dtype)}
        self.params["b"] = np.zeros((out_features,), dtype)
        self.grads = {"W": None, "b": None}

    def forward(self, x):
        self.cache = (x.copy(),)
        return np.einsum("nd,dm->nm", x, self.params["W"]) + self.params["b"][None, :]

    def backward(self, dout):
        (x,) = self.cache
        self.grads["W"] = np.einsum("nd,nm->dm", x, dout)
        self.grads["b"] = np.einsum("nm->m", dout)
        return np.einsum("nm,dm->nd", dout, self.params["W"])


class LinearBiasMean(Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.mean(axis=0)
        return dx


class LinearBiasNotReduced(Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout
        return dx


class LinearBiasAxis1(Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=1)
        return dx


class LinearDWTransposed(Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = dout.T @ self.x
        return dx


class LinearDWOverN(Linear):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout / len(self.x)
        return dx


class LinearDxWrong(Linear):
    def backward(self, dout):
        super().backward(dout)
        return dout @ self.params["W"].T * 0.5 + dout @ self.params["W"].T * 0.5 * (
            self.x.shape[0] > 1
        )


class LinearNoBias(Linear):
    def forward(self, x):
        self.x = x
        return x @ self.params["W"]


class LinearRandomBias(Linear):
    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        super().__init__(in_features, out_features, rng, init, dtype)
        self.params["b"] = np.full(out_features, 0.01, dtype=dtype)


class LinearOutIn(Linear):
    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        rng = np.random.default_rng() if rng is None else rng
        self.params = {
            "W": np.asarray((init or he_normal)(out_features, in_features, rng), dtype=dtype),
            "b": np.zeros(out_features, dtype=dtype),
        }
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]


class LinearIgnoresInit(Linear):
    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        super().__init__(in_features, out_features, rng, None, dtype)


class LinearIgnoresDtype(Linear):
    def __init__(self, in_features, out_features, rng=None, init=None, dtype=np.float64):
        super().__init__(in_features, out_features, rng, init, np.float64)


class LinearGradAccumulates(Linear):
    def backward(self, dout):
        self.grads["W"] = self.grads.get("W", 0) + self.x.T @ dout
        self.grads["b"] = self.grads.get("b", 0) + dout.sum(axis=0)
        return dout @ self.params["W"].T


LINEAR_CORRECT = [Linear, LinearEinsum]
LINEAR_WRONG = {
    "bias_grad_mean": (
        LinearBiasMean,
        r"(?s)gradient b is wrong.*N = \d+ times too small",
        LINEAR_BOTH,
    ),  # fmt: skip
    "bias_grad_not_reduced": (
        LinearBiasNotReduced,
        r"that is dout itself.*SUM over the batch",
        LINEAR_BOTH,
    ),  # fmt: skip
    "bias_grad_axis1": (LinearBiasAxis1, r"wrong axis", LINEAR_BOTH),
    "dW_transposed": (
        LinearDWTransposed,
        r"transposed: x.T @ dout|transpose of the expected",
        LINEAR_BOTH,
    ),
    "dW_over_N": (LinearDWOverN, r"(?s)gradient W is wrong.*N = \d+ times too small", LINEAR_BOTH),
    "no_bias_in_forward": (LinearNoBias, r"forward\(x\)", LINEAR_BOTH),
    "bias_not_zero": (LinearRandomBias, r"bias should start at zero", LINEAR_BOTH),
    "W_out_in": (LinearOutIn, r"transposed: x @ W needs W of shape", LINEAR_BOTH),
    "ignores_init": (
        LinearIgnoresInit,
        r"is not init\(in_features, out_features, rng\)",
        LINEAR_BOTH,
    ),  # fmt: skip
    "ignores_dtype": (LinearIgnoresDtype, r"should be float32", LINEAR_BOTH),
    "grads_accumulate": (
        LinearGradAccumulates,
        r"must SET the gradients",
        LINEAR_BOTH,
    ),  # fmt: skip
}


# =========================================================================================
# Task 4: softmax_cross_entropy
# =========================================================================================
def softmax_cross_entropy(logits, y):
    n = len(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    return float(-logp[np.arange(n), y].mean()), d / n


def sce_onehot_matmul(logits, y):
    """Correct: one-hot matrix, logsumexp through np.logaddexp.reduce."""
    onehot = np.eye(logits.shape[1])[y]
    lse = np.logaddexp.reduce(logits, axis=1, keepdims=True)
    probs = np.exp(logits - lse)
    loss = -np.sum(onehot * (logits - lse)) / logits.shape[0]
    return loss, (probs - onehot) / logits.shape[0]


def _logp(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def sce_summed(logits, y):
    n = len(logits)
    logp = _logp(logits)
    d = np.exp(logp)
    d[np.arange(n), y] -= 1
    return float(-logp[np.arange(n), y].sum()), d


def sce_grad_no_onehot(logits, y):
    n = len(logits)
    logp = _logp(logits)
    return float(-logp[np.arange(n), y].mean()), np.exp(logp) / n


def sce_grad_not_divided(logits, y):
    n = len(logits)
    logp = _logp(logits)
    d = np.exp(logp)
    d[np.arange(n), y] -= 1
    return float(-logp[np.arange(n), y].mean()), d


def sce_unstable(logits, y):
    n = len(logits)
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(n), y] -= 1
    return float(-np.log(p[np.arange(n), y]).mean()), d / n


def sce_log_of_softmax(logits, y):
    n = len(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(n), y] -= 1
    with np.errstate(divide="ignore"):
        return float(-np.log(p[np.arange(n), y]).mean()), d / n


def sce_mean_all_entries(logits, y):
    n = len(logits)
    logp = _logp(logits)
    d = np.exp(logp)
    d[np.arange(n), y] -= 1
    return float(-logp.mean()), d / n


def sce_grad_sign(logits, y):
    loss, d = softmax_cross_entropy(logits, y)
    return loss, -d


def sce_mutates_logits(logits, y):
    n = len(logits)
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    d = np.exp(logp)
    d[np.arange(n), y] -= 1
    return float(-logp[np.arange(n), y].mean()), d / n


LOSS_CORRECT = [softmax_cross_entropy, sce_onehot_matmul]
LOSS_WRONG = {
    "summed": (sce_summed, r"SUM over the \d+ rows", LOSS_BOTH),
    "grad_no_onehot": (sce_grad_no_onehot, r"-onehot\(y\) / N", LOSS_BOTH),
    "grad_not_divided": (sce_grad_not_divided, r"(N = \d+|\d+ times) too large", LOSS_BOTH),
    "unstable_exp": (sce_unstable, r"subtract each row's maximum|NaN|inf", LOSS_BOTH),
    "log_of_softmax": (sce_log_of_softmax, r"the loss is inf.*log\(softmax\)", LOSS_BOTH),
    "mean_over_all_entries": (sce_mean_all_entries, r"mean over ALL entries", LOSS_BOTH),
    "grad_sign": (sce_grad_sign, r"(?s)dlogits.*sign is flipped", LOSS_BOTH),
    "mutates_logits": (sce_mutates_logits, r"modified its argument `logits` in place", LOSS_BOTH),
}


# =========================================================================================
# Task 5: Adam
# =========================================================================================
class Adam:
    """The model answer (Keras' formula)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _lr_t(self):
        return self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)

    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamDictState:
    """Correct: state in dicts keyed by position, moments rebuilt (not in place)."""

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-7):
        self.params, self.hp = params, (lr, beta1, beta2, eps)
        self.state = {i: (np.zeros(p.shape), np.zeros(p.shape)) for i, p in enumerate(params)}
        self.steps = 0

    def step(self, grads):
        lr, b1, b2, eps = self.hp
        self.steps += 1
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            m, v = self.state[i]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            self.state[i] = (m, v)
            alpha = lr * (1 - b2**self.steps) ** 0.5 / (1 - b1**self.steps)
            p[...] = p - alpha * m / (v**0.5 + eps)


class AdamNoBiasCorrection(Adam):
    def _lr_t(self):
        return self.lr


class AdamTPerParameter(Adam):
    def step(self, grads):
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            self.t += 1
            lr_t = self._lr_t()
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamSharedMoments(Adam):
    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(params, lr, beta1, beta2, eps)
        self.m = [np.zeros_like(self.params[0])] * len(self.params)
        self.v = [np.zeros_like(self.params[0])] * len(self.params)

    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamEpsInsideSqrt(Adam):
    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            p -= lr_t * m / np.sqrt(v + self.eps)


class AdamTextbookEps(Adam):
    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class AdamBetasSwapped(Adam):
    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta2 * m + (1 - self.beta2) * g
            v[...] = self.beta1 * v + (1 - self.beta1) * g * g
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamNotInPlace(Adam):
    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for i, g in enumerate(grads):
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g * g
            self.params[i] = self.params[i] - lr_t * self.m[i] / (np.sqrt(self.v[i]) + self.eps)


class AdamUphill(Adam):
    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g * g
            p += lr_t * m / (np.sqrt(v) + self.eps)


class AdamPlainSGD(Adam):
    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            p -= self.lr * g


class AdamBetasExchanged(Adam):
    """beta1 and beta2 exchanged everywhere: the bias correction hides it at t = 1, except
    where eps matters (small gradients)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(params, lr, beta2, beta1, eps)


class AdamVNotSquared(Adam):
    def step(self, grads):
        self.t += 1
        lr_t = self._lr_t()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * np.abs(g)
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class AdamStateReset(Adam):
    def step(self, grads):
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        super().step(grads)


ADAM_CORRECT = [Adam, AdamDictState]
ADAM_WRONG = {
    "no_bias_correction": (
        AdamNoBiasCorrection,
        r"\(1 - beta1\) / sqrt\(1 - beta2\)|WITHOUT bias correction",
        ADAM_BOTH,
    ),  # fmt: skip
    "t_per_parameter": (AdamTPerParameter, r"ALONE.*count t once per step", ADAM_BOTH),
    "shared_moments": (AdamSharedMoments, r"ALONE.*one m and one v PER", ADAM_BOTH),
    "eps_inside_sqrt": (AdamEpsInsideSqrt, r"(?s)FIRST step.*that is where eps acts", ADAM_BOTH),
    "textbook_eps": (AdamTextbookEps, r"(?s)FIRST step.*that is where eps acts", ADAM_BOTH),
    "betas_swapped": (AdamBetasSwapped, r"(?s)same size, [\d.]+ × lr.*which beta goes", ADAM_BOTH),
    "betas_exchanged": (
        AdamBetasExchanged,
        r"(?s)Adam with eps moved does not give your later steps|first step is right",
        ADAM_BOTH,
    ),  # fmt: skip
    "not_in_place": (AdamNotInPlace, r"never changed: update them IN PLACE", ADAM_BOTH),
    "uphill": (AdamUphill, r"goes uphill", ADAM_BOTH),
    "plain_sgd": (AdamPlainSGD, r"plain SGD", ADAM_BOTH),
    "v_not_squared": (AdamVNotSquared, r"(?s)grows like \|g\|\^0.50.*average g\*\*2", ADAM_BOTH),
    "state_reset_each_step": (
        AdamStateReset,
        r"first step is right.*carried from step",
        ADAM_BOTH,
    ),  # fmt: skip
}


# =========================================================================================
# Task 6: train_mlp (looks up DataLoader, Linear, softmax_cross_entropy, Adam as globals)
# =========================================================================================
def relu(x):
    return np.maximum(x, 0)


def mlp_forward(layers, x):
    for layer in layers[:-1]:
        x = relu(layer.forward(x))
    return layers[-1].forward(x)


def accuracy_of(layers, X, y, batch_size=2000):
    hits = 0
    for i in range(0, len(X), batch_size):
        hits += int(
            np.sum(mlp_forward(layers, X[i : i + batch_size]).argmax(1) == y[i : i + batch_size])
        )
    return hits / len(X)


def make_train_mlp(bug: str | None = None):
    """The notebook's train_mlp, with one bug (None: the model answer)."""

    def train_mlp(X_train, y_train, X_test=None, y_test=None, hidden=(256, 128), epochs=10,
                  batch_size=128, lr=1e-3, lr_decay=1.0, seed=0, verbose=True):  # fmt: skip
        rng = np.random.default_rng(None if bug == "unseeded" else seed)
        if bug == "hidden_ignored":
            hidden = (256, 128)
        sizes = [X_train.shape[1], *hidden, int(y_train.max()) + 1]
        layers = [
            Linear(a, b, rng=rng, dtype=np.float32)
            for a, b in zip(sizes[:-1], sizes[1:], strict=False)
        ]
        params = [lay.params[k] for lay in layers for k in ("W", "b")]
        optimizer = Adam(params) if bug == "lr_ignored" else Adam(params, lr=lr)
        loader = DataLoader(X_train, y_train, 128 if bug == "batch_size_fixed" else batch_size,
                            shuffle=True, seed=seed)  # fmt: skip
        history = {"loss": [], "train_acc": [], "test_acc": [], "seconds": []}
        for _epoch in range(1, (epochs - 1 if bug == "one_epoch_short" else epochs) + 1):
            if bug == "decay_at_epoch_start":
                optimizer.lr *= lr_decay
            start, total, hits = time.perf_counter(), 0.0, 0
            for xb, yb in loader:
                acts, h = [], xb
                for layer in layers[:-1]:
                    h = relu(layer.forward(h))
                    acts.append(h)
                logits = layers[-1].forward(h)
                if bug == "softmax_before_loss":
                    e = np.exp(logits - logits.max(axis=1, keepdims=True))
                    logits = e / e.sum(axis=1, keepdims=True)
                loss, dout = softmax_cross_entropy(logits, yb)
                total += loss * len(yb)
                if bug == "loss_per_batch":
                    history["loss"].append(loss)
                hits += int(np.sum(logits.argmax(axis=1) == yb))
                dout = layers[-1].backward(dout)
                for layer, a in zip(layers[-2::-1], acts[::-1], strict=True):
                    dout = layer.backward(dout if bug == "no_relu_mask" else dout * (a > 0))
                optimizer.step([lay.grads[k] for lay in layers for k in ("W", "b")])
                if bug == "decay_every_step":
                    optimizer.lr *= lr_decay
            if bug not in ("decay_ignored", "decay_every_step", "decay_at_epoch_start"):
                optimizer.lr *= lr_decay
            if bug != "loss_per_batch":
                history["loss"].append(total / len(X_train))
            history["train_acc"].append(hits / len(X_train))
            if X_test is not None:
                if bug == "test_acc_on_train":
                    history["test_acc"].append(accuracy_of(layers, X_train, y_train))
                else:
                    history["test_acc"].append(accuracy_of(layers, X_test, y_test))
            history["seconds"].append(time.perf_counter() - start)
        if bug == "layers_reversed":
            layers = layers[::-1]
        return layers, history

    return train_mlp


def train_mlp_sequential_style(X_train, y_train, X_test=None, y_test=None, hidden=(256, 128),
                               epochs=10, batch_size=128, lr=1e-3, lr_decay=1.0, seed=0,
                               verbose=True):  # fmt: skip
    """Correct: a list of (layer, mask) steps, dx skipped for the first layer, float32
    inputs cast once, lr decay through the optimiser's attribute."""
    rng = np.random.default_rng(seed)
    dims = (X_train.shape[1], *hidden, 10)
    net = [Linear(i, o, rng=rng, dtype=np.float32) for i, o in zip(dims, dims[1:], strict=False)]
    opt = Adam([p for lay in net for p in (lay.params["W"], lay.params["b"])], lr=lr)
    data = DataLoader(X_train.astype(np.float32), y_train, batch_size, seed=seed)
    hist = {"loss": [], "train_acc": [], "test_acc": []}
    for _ in range(epochs):
        losses, correct = [], 0
        for xb, yb in data:
            outs = [xb]
            for lay in net[:-1]:
                outs.append(relu(lay.forward(outs[-1])))
            z = net[-1].forward(outs[-1])
            loss, g = softmax_cross_entropy(z, yb)
            losses.append(loss * len(yb))
            correct += int((z.argmax(1) == yb).sum())
            for lay, out in zip(reversed(net), reversed(outs), strict=True):
                g = lay.backward(g)
                g = g * (out > 0)
            opt.step([q for lay in net for q in (lay.grads["W"], lay.grads["b"])])
        opt.lr = opt.lr * lr_decay
        hist["loss"].append(sum(losses) / len(X_train))
        hist["train_acc"].append(correct / len(X_train))
        if X_test is not None:
            hist["test_acc"].append(accuracy_of(net, X_test, y_test))
        if verbose:
            print(f"epoch loss {hist['loss'][-1]:.4f}")
    return net, hist


TRAIN_CORRECT = [make_train_mlp(), train_mlp_sequential_style]
TRAIN_WRONG = {
    # without the ReLU mask a wide net may still fit 64 images: only the visible case is sure
    "no_relu_mask": (make_train_mlp("no_relu_mask"), r"fits only|classifies only", TRAIN_VISIBLE),
    "softmax_before_loss": (
        make_train_mlp("softmax_before_loss"),
        r"fits only|classifies only",
        TRAIN_BOTH,
    ),  # fmt: skip
    "test_acc_on_train": (
        make_train_mlp("test_acc_on_train"),
        r"history\['test_acc'\]\[-1\] is",
        TRAIN_BOTH,
    ),  # fmt: skip
    "loss_per_batch": (make_train_mlp("loss_per_batch"), r"one value per epoch", TRAIN_BOTH),
    "one_epoch_short": (make_train_mlp("one_epoch_short"), r"one value per epoch", TRAIN_BOTH),
    "hidden_ignored": (
        make_train_mlp("hidden_ignored"),
        r"Linear layers for the sizes",
        TRAIN_BOTH,
    ),  # fmt: skip
    "unseeded": (
        make_train_mlp("unseeded"),
        r"two trainings with seed=3 gave different",
        TRAIN_VISIBLE,
    ),  # fmt: skip
    "lr_ignored": (make_train_mlp("lr_ignored"), r"in epoch 1 Adam stepped with lr", TRAIN_BOTH),
    "decay_ignored": (make_train_mlp("decay_ignored"), r"in epoch 2 .*lr_decay", TRAIN_BOTH),
    "decay_every_step": (
        make_train_mlp("decay_every_step"),
        r"in epoch 1 Adam stepped with lr .* changed within the epoch",
        TRAIN_BOTH,
    ),  # fmt: skip
    "decay_at_epoch_start": (
        make_train_mlp("decay_at_epoch_start"),
        r"in epoch 1 Adam stepped with lr .* decay it only after the first epoch",
        TRAIN_BOTH,
    ),  # fmt: skip
    # the visible run asks for the usual 128, so only another batch size shows it
    "batch_size_fixed": (
        make_train_mlp("batch_size_fixed"),
        r"made with batch_size \[128\].*batch_size=96",
        ("check_train_mlp_hidden",),
    ),  # fmt: skip
    "layers_reversed": (
        make_train_mlp("layers_reversed"),
        r"layer 0 should map 784 -> ",
        TRAIN_BOTH,
    ),  # fmt: skip
}


# =========================================================================================
# Task 7: build_keras_mlp
# =========================================================================================
def _keras():
    """Keras, through the course's quiet TensorFlow import (only where needed: it costs
    seconds, and a bare ``import keras`` prints TensorFlow's start-up log to stderr)."""
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def build_keras_mlp(hidden=(256, 128), num_inputs=784, num_classes=10, seed=0):
    keras = _keras()
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((num_inputs,))]
    layers += [keras.layers.Dense(h, activation="relu", kernel_initializer="he_normal")
               for h in hidden]  # fmt: skip
    layers.append(keras.layers.Dense(num_classes, kernel_initializer="he_normal"))
    return keras.Sequential(layers)


def keras_seeded_initializers(hidden=(256, 128), num_inputs=784, num_classes=10, seed=0):
    """Correct: seeded initialiser objects, a model built layer by layer with add()."""
    keras = _keras()
    model = keras.Sequential()
    model.add(keras.Input(shape=(num_inputs,)))
    for i, h in enumerate(hidden):
        init = keras.initializers.HeNormal(seed=seed * 100 + i)
        model.add(keras.layers.Dense(h, activation="relu", kernel_initializer=init))
    init = keras.initializers.HeNormal(seed=seed * 100 + 99)
    model.add(keras.layers.Dense(num_classes, kernel_initializer=init))
    return model


def _keras_variant(bug):
    def build(hidden=(256, 128), num_inputs=784, num_classes=10, seed=0):
        keras = _keras()
        if bug != "unseeded":
            keras.utils.set_random_seed(seed)
        init = "glorot_uniform" if bug == "glorot" else "he_normal"
        act = "sigmoid" if bug == "sigmoid" else "relu"
        sizes = (256, 128) if bug == "hidden_ignored" else hidden
        layers = [keras.Input((num_inputs,))]
        layers += [keras.layers.Dense(h, activation=act, kernel_initializer=init) for h in sizes]
        out = "softmax" if bug == "softmax_output" else None
        layers.append(keras.layers.Dense(num_classes, activation=out, kernel_initializer=init))
        return keras.Sequential(layers)

    return build


KERAS_CORRECT = [build_keras_mlp, keras_seeded_initializers]
KERAS_WRONG = {
    "softmax_output": (_keras_variant("softmax_output"), r'activation "softmax"', KERAS_BOTH),
    "glorot_default": (_keras_variant("glorot"), r"He-normal", KERAS_BOTH),
    "unseeded": (_keras_variant("unseeded"), r"start from different weights", KERAS_BOTH),
    "sigmoid_hidden": (_keras_variant("sigmoid"), r"should use ReLU", KERAS_BOTH),
    "hidden_ignored": (
        _keras_variant("hidden_ignored"),
        r"kernels have shapes",
        ("check_build_keras_mlp_hidden",),
    ),  # fmt: skip
}


# =========================================================================================
# The trained networks, as the notebook hands them to check_mlp_accuracy (Task 6) and
# check_keras_accuracy (Task 7). Each entry takes ``nets``: {"train": ..., "other": ...,
# "test": ...}, each (weights [(W, b), ...] of a 784-256-128-10 MLP, history), trained by
# the test module: "train" and "other" by the two correct train_mlp above on the training
# set, "test" on the test set. The checks read the networks' weights, never predictions.
# =========================================================================================
def _layers(cls, weights, dtype=np.float32):
    layers = []
    for W, b in weights:
        layer = cls(*W.shape, rng=np.random.default_rng(0), dtype=dtype)
        layer.params["W"], layer.params["b"] = np.array(W, dtype), np.array(b, dtype)  # copies
        layers.append(layer)
    return layers


def net_reference(nets):
    weights, history = nets["train"]
    return _layers(Linear, weights), history


def net_other_training(nets):
    """Correct: the sequential-style training, another seed."""
    weights, history = nets["other"]
    return _layers(LinearEinsum, weights), history


def net_einsum_float64_tuple(nets):
    """Correct: float64 einsum layers in a tuple, a history of NumPy scalars."""
    weights, history = nets["train"]
    history = {k: [np.float32(v) for v in values] for k, values in history.items()}
    return tuple(_layers(LinearEinsum, weights, np.float64)), history


def net_untrained(nets):
    rng = np.random.default_rng(5)
    return [Linear(a, b, rng=rng) for a, b in ((784, 256), (256, 128), (128, 10))], {}


def net_out_in(nets):
    weights, history = nets["train"]
    return _layers(LinearOutIn, [(W.T, b) for W, b in weights]), history


def net_diverged(nets):
    layers, history = net_reference(nets)
    layers[1].params["W"][3, 4] = np.nan
    return layers, history


def net_twelve_epochs(nets):
    layers, history = net_reference(nets)
    return layers, {k: list(v) + list(v[-1:]) * (12 - len(v)) for k, v in history.items()}


def net_arrays(nets):
    return [tuple(pair) for pair in nets["train"][0]], nets["train"][1]


def net_output_layer_missing(nets):
    layers, history = net_reference(nets)
    return layers[:2], history


def net_trained_on_test(nets):
    weights, history = nets["test"]
    return _layers(Linear, weights), history


ACC_VISIBLE = ("check_mlp_accuracy", "check_mlp_accuracy_hidden")
NET_CORRECT = [net_reference, net_other_training, net_einsum_float64_tuple]
NET_WRONG = {
    "untrained": (
        net_untrained,
        r"test accuracy \d+\.\d\d% .* is below the required 98%",
        ACC_VISIBLE,
    ),  # fmt: skip
    "weights_out_in": (
        net_out_in,
        r"layer 0 should map 784 -> 256 .* got W \(256, 784\)",
        ACC_VISIBLE,
    ),  # fmt: skip
    "diverged": (net_diverged, r"layer 1 has NaN or inf weights", ACC_VISIBLE),
    "twelve_epochs": (net_twelve_epochs, r"trained for 12 epochs", ACC_VISIBLE),
    "arrays_not_layers": (net_arrays, r"layer 0 has no params 'W' and 'b'", ACC_VISIBLE),
    "output_layer_missing": (
        net_output_layer_missing,
        r"expected 3 Linear layers",
        ACC_VISIBLE,
    ),  # fmt: skip
    # 98 % on the test set is easy for a network trained on it: only the hidden check sees it
    "trained_on_test": (
        net_trained_on_test,
        r"was trained on the test set",
        ("check_mlp_accuracy_hidden",),
    ),  # fmt: skip
}


def _with_weights(model, weights):
    model.set_weights([np.asarray(a, np.float32) for pair in weights for a in pair])
    return model


def keras_net_sequential(nets):
    return _with_weights(build_keras_mlp(), nets["train"][0])


def keras_net_add_built(nets):
    """Correct: built with add() and seeded initialisers, other weights."""
    return _with_weights(keras_seeded_initializers(seed=2), nets["other"][0])


def keras_net_functional(nets):
    """Correct: the functional API, named layers."""
    keras = _keras()
    inputs = keras.Input((784,), name="pixels")
    h = keras.layers.Dense(256, activation="relu", name="hidden1")(inputs)
    h = keras.layers.Dense(128, activation=keras.activations.relu, name="hidden2")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(h))
    return _with_weights(model, nets["train"][0])


def keras_net_untrained(nets):
    return build_keras_mlp(seed=4)


def keras_net_softmax_output(nets):
    return _with_weights(_keras_variant("softmax_output")(), nets["train"][0])


def keras_net_dropout(nets):
    keras = _keras()
    dense = keras.layers.Dense
    model = keras.Sequential([keras.Input((784,)), dense(256, activation="relu"),
                              keras.layers.Dropout(0.2), dense(128, activation="relu"),
                              dense(10)])  # fmt: skip
    return _with_weights(model, nets["train"][0])


def keras_net_trained_on_test(nets):
    return _with_weights(build_keras_mlp(), nets["test"][0])


KERAS_ACC = ("check_keras_accuracy", "check_keras_accuracy_hidden")
KERAS_NET_CORRECT = [keras_net_sequential, keras_net_add_built, keras_net_functional]
KERAS_NET_WRONG = {
    "untrained": (keras_net_untrained, r"test accuracy \d+\.\d\d% .* is below 98%", KERAS_ACC),
    "softmax_output": (
        keras_net_softmax_output,
        r"expected Dense 784-256-128-10 with ReLU",
        KERAS_ACC,
    ),  # fmt: skip
    "dropout_layer": (keras_net_dropout, r"only Dense layers .* 'Dropout'", KERAS_ACC),
    "trained_on_test": (
        keras_net_trained_on_test,
        r"was trained on the test set",
        ("check_keras_accuracy_hidden",),
    ),  # fmt: skip
}
