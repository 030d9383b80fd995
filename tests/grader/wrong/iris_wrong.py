"""Implementations of 04_iris's four tasks: correct ones and known-wrong ones.

For each task, ``*_CORRECT`` lists alternative correct implementations every check must
accept, and ``*_WRONG`` maps a name to (implementation, regex the failure message must
match, checks that must reject it). Entries that only the hidden check can catch (they
work at the visible check's sizes, seeds or activations) list only the hidden check.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from course_utils.data import train_test_split_stratified
from course_utils.layers import (
    LeakyReLU,
    Linear,
    Matmul,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)

SPLIT_BOTH = ("check_stratified_split", "check_stratified_split_hidden")
SPLIT_HIDDEN = ("check_stratified_split_hidden",)
STD_BOTH = ("check_standardize", "check_standardize_hidden")
STD_HIDDEN = ("check_standardize_hidden",)
NUMPY_BOTH = ("check_build_numpy_model", "check_build_numpy_model_hidden")
NUMPY_HIDDEN = ("check_build_numpy_model_hidden",)
KERAS_BOTH = ("check_build_keras_model", "check_build_keras_model_hidden")
KERAS_HIDDEN = ("check_build_keras_model_hidden",)


# =========================================================================================
# stratified_split
# =========================================================================================
def split_reference(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_size * len(members)))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_floor(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        chosen = rng.choice(members, size=int(test_size * len(members)), replace=False)
        is_test[chosen] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_ceil_lists(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in sorted(set(y.tolist())):
        members = [i for i in range(len(y)) if y[i] == c]
        rng.shuffle(members)
        k = math.ceil(test_size * len(members) - 1e-9)
        test += members[:k]
        train += members[k:]
    rng.shuffle(train)
    rng.shuffle(test)
    return X[train], X[test], y[train], y[test]


def split_global_seed(X, y, test_size=0.2, seed=0):
    np.random.seed(seed)
    order = np.random.permutation(len(y))
    X, y = X[order], y[order]
    test = np.concatenate(
        [np.flatnonzero(y == c)[: round(test_size * np.sum(y == c))] for c in np.unique(y)]
    )
    is_test = np.isin(np.arange(len(y)), test)
    train_idx = np.random.permutation(np.flatnonzero(~is_test))
    test_idx = np.random.permutation(test)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


SPLIT_CORRECT = [split_reference, split_floor, split_ceil_lists, split_global_seed]


def split_first_80_percent(X, y, test_size=0.2, seed=0):
    n_train = round((1 - test_size) * len(X))
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def split_shuffled_not_stratified(X, y, test_size=0.2, seed=0):
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = round(test_size * len(X))
    test_idx, train_idx = order[:n_test], order[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_last_rows_of_each_class(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        n_test = round(test_size * len(members))
        test_parts.append(members[len(members) - n_test :])
        train_parts.append(members[: len(members) - n_test])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_sorted_by_class(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = round(test_size * len(members))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train_idx, test_idx = np.concatenate(train_parts), np.concatenate(test_parts)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_index_order(X, y, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = split_reference(X, y, test_size, seed)
    ids_train, ids_test = np.argsort(X_train[:, -1]), np.argsort(X_test[:, -1])
    return X_train[ids_train], X_test[ids_test], y_train[ids_train], y_test[ids_test]


def split_ignores_seed(X, y, test_size=0.2, seed=0):
    return split_reference(X, y, test_size, seed=0)


def split_unseeded(X, y, test_size=0.2, seed=0):
    return split_reference(X, y, test_size, seed=int(np.random.default_rng().integers(1 << 30)))


def split_train_is_everything(X, y, test_size=0.2, seed=0):
    _, X_test, _, y_test = split_reference(X, y, test_size, seed)
    order = np.random.default_rng(seed).permutation(len(X))
    return X[order], X_test, y[order], y_test


def split_with_replacement(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        n_test = round(test_size * len(members))
        test_parts.append(rng.choice(members, n_test, replace=True))
        train_parts.append(rng.choice(members, len(members) - n_test, replace=True))
    train_idx = np.concatenate(train_parts)
    test_idx = np.concatenate(test_parts)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_misaligned(X, y, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = split_reference(X, y, test_size, seed)
    rng = np.random.default_rng(seed + 1)
    return X_train, X_test, rng.permutation(y_train), rng.permutation(y_test)


def split_swapped_fraction(X, y, test_size=0.2, seed=0):
    return split_reference(X, y, 1 - test_size, seed)


def split_truncates_both(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = int(test_size * len(members))
        n_train = int((1 - test_size) * len(members))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test : n_test + n_train])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_assumes_sorted_blocks(X, y, test_size=0.2, seed=0):
    rng = np.random.default_rng(seed)
    classes, starts, counts = np.unique(y, return_index=True, return_counts=True)
    train_parts, test_parts = [], []
    for start, count in zip(starts, counts, strict=True):
        block = rng.permutation(np.arange(start, start + count))
        n_test = round(test_size * count)
        test_parts.append(block[:n_test])
        train_parts.append(block[n_test:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def split_sklearn_order(X, y, test_size=0.2, seed=0):
    X_train, X_test, y_train, y_test = split_reference(X, y, test_size, seed)
    return X_train, y_train, X_test, y_test


def split_uses_sklearn(X, y, test_size=0.2, seed=0):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)


def split_uses_course_utils(X, y, test_size=0.2, seed=0):
    return train_test_split_stratified(X, y, test_size, seed)


def split_not_implemented(X, y, test_size=0.2, seed=0):
    raise NotImplementedError()


def split_forgot_return(X, y, test_size=0.2, seed=0):
    split_reference(X, y, test_size, seed)


SPLIT_WRONG = {
    "first_80_percent": (
        split_first_80_percent,
        r"(?s)yours has 0\b.*test part holds a single class.*sorted by",
        SPLIT_BOTH,
    ),
    "shuffled_not_stratified": (
        split_shuffled_not_stratified,
        r"(?s)about test_size .* plain shuffle lets the proportions drift",
        SPLIT_BOTH,
    ),
    "last_rows_of_each_class": (
        split_last_rows_of_each_class,
        r"exactly the same samples in the test part",
        SPLIT_BOTH,
    ),
    "sorted_by_class": (split_sorted_by_class, r"is sorted by class", SPLIT_BOTH),
    "index_order": (split_index_order, r"keep their original order", SPLIT_BOTH),
    "ignores_seed": (split_ignores_seed, r"seeds \d+ and \d+ put exactly the same", SPLIT_BOTH),
    "unseeded": (split_unseeded, r"two calls with the same seed gave different", SPLIT_BOTH),
    "train_is_everything": (split_train_is_everything, r"samples are in BOTH parts", SPLIT_BOTH),
    "with_replacement": (split_with_replacement, r"appears \d+ times in `X_", SPLIT_BOTH),
    "misaligned": (split_misaligned, r"no longer line up", SPLIT_BOTH),
    "swapped_fraction": (split_swapped_fraction, r"fraction of TEST samples", SPLIT_BOTH),
    "truncates_both": (split_truncates_both, r"in neither part", SPLIT_HIDDEN),
    "assumes_sorted_blocks": (
        split_assumes_sorted_blocks,
        r"shuffled rows\): (sample \d+ appears \d+ times|class \d+ has)",
        SPLIT_HIDDEN,
    ),
    "sklearn_order": (split_sklearn_order, r"wrong order", SPLIT_BOTH),
    "uses_sklearn": (split_uses_sklearn, r"must not use .*train_test_split", SPLIT_BOTH),
    "uses_course_utils": (
        split_uses_course_utils,
        r"must not use .*train_test_split_stratified",
        SPLIT_BOTH,
    ),
    "not_implemented": (split_not_implemented, r"not implemented yet", SPLIT_BOTH),
    "forgot_return": (split_forgot_return, r"returned None: did you forget", SPLIT_BOTH),
}


# =========================================================================================
# standardize
# =========================================================================================
def std_reference(X_train, X_test):
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X_train - mean) / std, (X_test - mean) / std


def std_ddof1(X_train, X_test):
    mean = np.mean(X_train, axis=0, keepdims=True)
    std = np.std(X_train, axis=0, ddof=1, keepdims=True)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std


def std_columns_loop(X_train, X_test):
    out_train = np.empty_like(X_train)
    out_test = np.empty_like(X_test)
    for j in range(X_train.shape[1]):
        col = X_train[:, j]
        mean = col.sum() / len(col)
        std = math.sqrt(((col - mean) ** 2).sum() / len(col)) or 1.0
        out_train[:, j] = (col - mean) / std
        out_test[:, j] = (X_test[:, j] - mean) / std
    return out_train, out_test


STD_CORRECT = [std_reference, std_columns_loop]


def std_combined_stats(X_train, X_test):
    both = np.concatenate([X_train, X_test])
    mean, std = both.mean(axis=0), both.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X_train - mean) / std, (X_test - mean) / std


def std_test_own_stats(X_train, X_test):
    return std_reference(X_train, X_train)[0], std_reference(X_test, X_test)[0]


def std_per_row(X_train, X_test):
    def one(X):
        return (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)

    return one(X_train), one(X_test)


def std_global_scalar(X_train, X_test):
    mean, std = X_train.mean(), X_train.std()
    return (X_train - mean) / std, (X_test - mean) / std


def std_center_only(X_train, X_test):
    mean = X_train.mean(axis=0)
    return X_train - mean, X_test - mean


def std_divide_variance(X_train, X_test):
    mean, var = X_train.mean(axis=0), X_train.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    return (X_train - mean) / var, (X_test - mean) / var


def std_no_centering(X_train, X_test):
    std = np.where(X_train.std(axis=0) > 0, X_train.std(axis=0), 1.0)
    return X_train / std, X_test / std


def std_nan_on_constant(X_train, X_test):
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (X_train - mean) / std, (X_test - mean) / std


def std_in_place(X_train, X_test):
    mean = X_train.mean(axis=0)
    std = np.where(X_train.std(axis=0) > 0, X_train.std(axis=0), 1.0)
    X_train -= mean
    X_train /= std
    return X_train, (X_test - mean) / std


def std_only_train(X_train, X_test):
    return std_reference(X_train, X_test)[0]


def std_swapped_outputs(X_train, X_test):
    a, b = std_reference(X_train, X_test)
    return b, a


def std_uses_sklearn(X_train, X_test):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


def std_not_implemented(X_train, X_test):
    raise NotImplementedError()


STD_WRONG = {
    "combined_stats": (std_combined_stats, r"train AND test together", STD_BOTH),
    "test_own_stats": (std_test_own_stats, r"X_test with its OWN mean", STD_BOTH),
    "per_row": (std_per_row, r"per SAMPLE \(axis=1\)", STD_BOTH),
    "global_scalar": (std_global_scalar, r"one mean and one std for the whole matrix", STD_BOTH),
    "center_only": (std_center_only, r"did not divide by the standard deviation", STD_BOTH),
    "divide_variance": (std_divide_variance, r"divided by the variance", STD_BOTH),
    "no_centering": (std_no_centering, r"did not subtract the mean", STD_BOTH),
    "nan_on_constant": (std_nan_on_constant, r"constant on the training set \(std 0\)", STD_BOTH),
    "in_place": (std_in_place, r"modified its argument `X_train` in place", STD_BOTH),
    "only_train": (std_only_train, r"expected 2 results", STD_BOTH),
    "swapped_outputs": (std_swapped_outputs, r"should have the shape of its input", STD_BOTH),
    "uses_sklearn": (std_uses_sklearn, r"must not use .*StandardScaler", STD_BOTH),
    "not_implemented": (std_not_implemented, r"not implemented yet", STD_BOTH),
    "ddof1": (std_ddof1, r"ddof=1.*ddof=0|ddof=0.*ddof=1", STD_BOTH),
}


# =========================================================================================
# build_numpy_model
# =========================================================================================
_LAYERS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def _activation_layer(activation, num_hiddens, prelu_features=None):
    if activation == "prelu":
        return PReLU(num_hiddens if prelu_features is None else prelu_features)
    if activation not in _LAYERS:
        raise ValueError(f"activation: expected one of relu, ..., got {activation!r}")
    return _LAYERS[activation]()


def numpy_reference(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    act = _activation_layer(activation, num_hiddens)
    rng = np.random.default_rng(seed)
    init = "xavier_normal" if activation in ("sigmoid", "tanh") else "he_normal"
    return Sequential(
        Linear(num_inputs, num_hiddens, init=init, seed=rng),
        act,
        Linear(num_hiddens, num_outputs, init="xavier_normal", seed=rng),
    )


def numpy_xavier_shared_prelu_float32(
    activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0
):
    act = _activation_layer(activation, num_hiddens, prelu_features=1)
    kw = {"init": "xavier_uniform", "dtype": np.float32}
    return Sequential(
        [
            Linear(num_inputs, num_hiddens, seed=seed, **kw),
            act,
            Linear(num_hiddens, num_outputs, seed=seed + 1, **kw),
        ]
    )


def numpy_if_chain(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    if activation == "relu":
        act = ReLU()
    elif activation == "leaky_relu":
        act = LeakyReLU(0.01)
    elif activation == "prelu":
        act = PReLU(num_hiddens, alpha_init=0.25)
    elif activation == "sigmoid":
        act = Sigmoid()
    elif activation == "tanh":
        act = Tanh()
    else:
        raise ValueError(f"activation {activation!r} unknown")
    rng = np.random.default_rng(seed)
    return Sequential(
        Linear(num_inputs, num_hiddens, seed=rng), act, Linear(num_hiddens, num_outputs, seed=rng)
    )


NUMPY_CORRECT = [numpy_reference, numpy_xavier_shared_prelu_float32, numpy_if_chain]


def numpy_ends_with_softmax(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    model = numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)
    return Sequential(*model.layers, Softmax())


def numpy_no_activation(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    _activation_layer(activation, num_hiddens)
    rng = np.random.default_rng(seed)
    return Sequential(
        Linear(num_inputs, num_hiddens, seed=rng), Linear(num_hiddens, num_outputs, seed=rng)
    )


def numpy_activation_on_output(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    model = numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)
    return Sequential(*model.layers, _activation_layer(activation, num_outputs))


def numpy_two_hidden_layers(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(
        Linear(num_inputs, num_hiddens, seed=rng),
        _activation_layer(activation, num_hiddens),
        Linear(num_hiddens, num_hiddens, seed=rng),
        _activation_layer(activation, num_hiddens),
        Linear(num_hiddens, num_outputs, seed=rng),
    )


def numpy_matmul(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(
        Matmul(num_inputs, num_hiddens, seed=rng),
        _activation_layer(activation, num_hiddens),
        Matmul(num_hiddens, num_outputs, seed=rng),
    )


def numpy_sigmoid_is_tanh(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    swapped = {"sigmoid": "tanh", "tanh": "sigmoid"}.get(activation, activation)
    return numpy_reference(swapped, num_inputs, num_hiddens, num_outputs, seed)


def numpy_hard_coded_sizes(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return numpy_reference(activation, 4, 16, 3, seed)


def numpy_unseeded_output_layer(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return Sequential(
        Linear(num_inputs, num_hiddens, seed=seed),
        _activation_layer(activation, num_hiddens),
        Linear(num_hiddens, num_outputs),
    )


def numpy_ignores_seed(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed=0)


def numpy_zeros_init(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return Sequential(
        Linear(num_inputs, num_hiddens, init="zeros"),
        _activation_layer(activation, num_hiddens),
        Linear(num_hiddens, num_outputs, init="zeros"),
    )


def numpy_huge_init(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    model = numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)
    for layer in (model.layers[0], model.layers[2]):
        layer.params["w"] *= 300.0
    return model


def numpy_prelu_starts_at_zero(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    model = numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)
    if activation == "prelu":
        model.layers[1].params["alpha"][...] = 0.0
    return model


def numpy_unknown_gives_relu(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    if activation not in ("relu", "leaky_relu", "prelu", "sigmoid", "tanh"):
        activation = "relu"
    return numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)


def numpy_unknown_key_error(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    table = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}
    act = PReLU(num_hiddens) if activation == "prelu" else table[activation]()
    rng = np.random.default_rng(seed)
    return Sequential(
        Linear(num_inputs, num_hiddens, seed=rng), act, Linear(num_hiddens, num_outputs, seed=rng)
    )


def numpy_returns_list(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return list(numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed).layers)


def numpy_not_implemented(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    raise NotImplementedError()


NUMPY_WRONG = {
    "ends_with_softmax": (numpy_ends_with_softmax, r"ends with Softmax", NUMPY_BOTH),
    "no_activation": (numpy_no_activation, r"collapse into a single linear map", NUMPY_BOTH),
    "activation_on_output": (
        numpy_activation_on_output,
        r"output layer must be linear",
        NUMPY_BOTH,
    ),
    "two_hidden_layers": (numpy_two_hidden_layers, r"expected 3 layers", NUMPY_BOTH),
    "matmul": (numpy_matmul, r"Matmul \(no bias\)", NUMPY_BOTH),
    "sigmoid_is_tanh": (numpy_sigmoid_is_tanh, r"should be course_utils\.layers\.", NUMPY_BOTH),
    "hard_coded_sizes": (numpy_hard_coded_sizes, r"use the arguments num_inputs", NUMPY_HIDDEN),
    "unseeded_output_layer": (
        numpy_unseeded_output_layer,
        r"differ in parameter '2\.linear\.w'",
        NUMPY_BOTH,
    ),
    "ignores_seed": (numpy_ignores_seed, r"the seed argument is ignored", NUMPY_BOTH),
    "zeros_init": (numpy_zeros_init, r"identical weights.*symmetry", NUMPY_BOTH),
    "huge_init": (numpy_huge_init, r"training accuracy is only", NUMPY_BOTH),
    "prelu_starts_at_zero": (numpy_prelu_starts_at_zero, r"should start at 0\.25", NUMPY_HIDDEN),
    "unknown_gives_relu": (numpy_unknown_gives_relu, r"instead of raising ValueError", NUMPY_BOTH),
    "unknown_key_error": (numpy_unknown_key_error, r"raised KeyError", NUMPY_BOTH),
    "returns_list": (
        numpy_returns_list,
        r"expected a course_utils\.layers\.Sequential",
        NUMPY_BOTH,
    ),
    "not_implemented": (numpy_not_implemented, r"not implemented yet", NUMPY_BOTH),
}


# =========================================================================================
# build_keras_model
# =========================================================================================
def _keras_activation(activation):
    if activation == "relu":
        return keras.layers.ReLU()
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.01)
    if activation == "prelu":
        return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25))
    if activation in ("sigmoid", "tanh"):
        return keras.layers.Activation(activation)
    raise ValueError(f"activation: unknown {activation!r}")


def keras_reference(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    act = _keras_activation(activation)
    keras.utils.set_random_seed(seed)
    init = "glorot_normal" if activation in ("sigmoid", "tanh") else "he_normal"
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens, kernel_initializer=init),
            act,
            keras.layers.Dense(num_outputs),
        ]
    )


def keras_inline_functional(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    if activation not in ("relu", "leaky_relu", "prelu", "sigmoid", "tanh"):
        raise ValueError(f"activation: {activation!r}")
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(shape=(num_inputs,))
    if activation in ("relu", "sigmoid", "tanh"):
        h = keras.layers.Dense(num_hiddens, activation=activation, kernel_initializer=init)(inputs)
    else:
        h = keras.layers.Dense(num_hiddens, kernel_initializer=init)(inputs)
        h = _keras_activation(activation)(h)
    out_init = keras.initializers.GlorotUniform(seed=seed + 1000)
    outputs = keras.layers.Dense(num_outputs, kernel_initializer=out_init)(h)
    return keras.Model(inputs, outputs)


def keras_no_input_layer(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    act = _keras_activation(activation)
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Dense(num_hiddens), act, keras.layers.Dense(num_outputs)])


KERAS_CORRECT = [keras_reference, keras_inline_functional, keras_no_input_layer]


def keras_softmax_output(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    act = _keras_activation(activation)
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens),
            act,
            keras.layers.Dense(num_outputs, activation="softmax"),
        ]
    )


def keras_softmax_layer(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    model = keras_reference(activation, num_inputs, num_hiddens, num_outputs, seed)
    model.add(keras.layers.Softmax())
    return model


def keras_no_activation(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    _keras_activation(activation)
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens),
            keras.layers.Dense(num_outputs),
        ]
    )


def _keras_with(layer_fn):
    def build(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
        _keras_activation(activation)
        keras.utils.set_random_seed(seed)
        return keras.Sequential(
            [
                keras.Input(shape=(num_inputs,)),
                keras.layers.Dense(num_hiddens),
                layer_fn(activation),
                keras.layers.Dense(num_outputs),
            ]
        )

    return build


keras_leaky_default_slope = _keras_with(
    lambda a: keras.layers.LeakyReLU() if a == "leaky_relu" else _keras_activation(a)
)
keras_leaky_activation_string = _keras_with(
    lambda a: keras.layers.Activation("leaky_relu") if a == "leaky_relu" else _keras_activation(a)
)
keras_prelu_default_alpha = _keras_with(
    lambda a: keras.layers.PReLU() if a == "prelu" else _keras_activation(a)
)
keras_sigmoid_is_tanh = _keras_with(
    lambda a: _keras_activation({"sigmoid": "tanh", "tanh": "sigmoid"}.get(a, a))
)


def keras_unseeded(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens),
            _keras_activation(activation),
            keras.layers.Dense(num_outputs),
        ]
    )


def keras_ignores_seed(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return keras_reference(activation, num_inputs, num_hiddens, num_outputs, seed=0)


def keras_hard_coded_sizes(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.layers.Dense(16), _keras_activation(activation), keras.layers.Dense(3)]
    )


def keras_two_hidden_layers(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens),
            _keras_activation(activation),
            keras.layers.Dense(num_hiddens),
            _keras_activation(activation),
            keras.layers.Dense(num_outputs),
        ]
    )


def keras_no_bias(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(num_inputs,)),
            keras.layers.Dense(num_hiddens, use_bias=False),
            _keras_activation(activation),
            keras.layers.Dense(num_outputs, use_bias=False),
        ]
    )


def keras_returns_numpy_model(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    return numpy_reference(activation, num_inputs, num_hiddens, num_outputs, seed)


def keras_unknown_gives_relu(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    if activation not in ("relu", "leaky_relu", "prelu", "sigmoid", "tanh"):
        activation = "relu"
    return keras_reference(activation, num_inputs, num_hiddens, num_outputs, seed)


def keras_not_implemented(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0):
    raise NotImplementedError()


KERAS_WRONG = {
    "softmax_output": (keras_softmax_output, r'activation "softmax"', KERAS_BOTH),
    "softmax_layer": (keras_softmax_layer, r"softmax probabilities", KERAS_BOTH),
    "no_activation": (keras_no_activation, r"no activation between the Dense", KERAS_BOTH),
    "leaky_default_slope": (keras_leaky_default_slope, r"slope 0\.3", KERAS_HIDDEN),
    "leaky_activation_string": (keras_leaky_activation_string, r"slope 0\.2", KERAS_HIDDEN),
    "prelu_default_alpha": (keras_prelu_default_alpha, r"Keras' default is 0", KERAS_HIDDEN),
    "sigmoid_is_tanh": (keras_sigmoid_is_tanh, r'applies "tanh" instead of "sigmoid"', KERAS_BOTH),
    "unseeded": (keras_unseeded, r"start from different weights", KERAS_BOTH),
    "ignores_seed": (keras_ignores_seed, r"the seed argument is ignored", KERAS_BOTH),
    "hard_coded_sizes": (
        keras_hard_coded_sizes,
        r"should have shape .*use num_outputs",
        KERAS_HIDDEN,
    ),
    "two_hidden_layers": (keras_two_hidden_layers, r"exactly two Dense layers", KERAS_BOTH),
    "no_bias": (keras_no_bias, r"has no bias", KERAS_BOTH),
    "returns_numpy_model": (keras_returns_numpy_model, r"expected a keras\.Model", KERAS_BOTH),
    "unknown_gives_relu": (keras_unknown_gives_relu, r"instead of raising ValueError", KERAS_BOTH),
    "not_implemented": (keras_not_implemented, r"not implemented yet", KERAS_BOTH),
}
