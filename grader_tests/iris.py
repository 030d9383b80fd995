"""Checks for assignment 04_iris: split, standardise, and build the three-layer network.

The tasks::

    stratified_split(X, y, test_size=0.2, seed=0) -> X_train, X_test, y_train, y_test
    standardize(X_train, X_test) -> X_train_std, X_test_std
    build_numpy_model(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0)
        -> course_utils Sequential(Linear, <activation layer>, Linear), logits out
    build_keras_model(activation, num_inputs=4, num_hiddens=16, num_outputs=3, seed=0)
        -> keras.Model: Dense(num_hiddens) -> activation -> Dense(num_outputs), logits out

Activations are named "relu", "leaky_relu" (slope 0.01), "prelu" (learned slope, starting
at 0.25), "sigmoid" and "tanh"; any other name raises ValueError.

To see which rows went where, the split checks pass an ``X`` whose LAST column is the row
number (0 .. N-1); messages call it the sample id.
"""

from __future__ import annotations

import numpy as np

from course_utils.data import load_iris
from course_utils.grading import (
    GUARD,
    assign_student_array,
    call_student,
    check,
    describe_value,
    expect_callable,
    explain_difference,
    fail,
    forbid_calls,
    instance_of,
    keras_model_copy,
    quiet,
    seal,
    to_array,
    type_name,
)
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
from grader_tests._standardize import (
    close,
    nonfinite_message,
    other_diagnosis,
    std_reference,
    train_diagnosis,
)

ACTIVATIONS = ("relu", "leaky_relu", "prelu", "sigmoid", "tanh")
LEAKY_SLOPE = 0.01
PRELU_INIT = 0.25

FORBIDDEN_SPLITTERS = (
    "sklearn.model_selection.train_test_split",
    "sklearn.model_selection.StratifiedShuffleSplit",
    "sklearn.model_selection.ShuffleSplit",
    "sklearn.model_selection.StratifiedKFold",
    "course_utils.data.train_test_split_stratified",
    "course_utils.data.datasets.stratified_indices",
)
FORBIDDEN_SCALERS = (
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.scale",
)
_UNKNOWN = "swish"


# =========================================================================================
# Shared helpers
# =========================================================================================
def _iris() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    return data.X.astype(np.float64), data.y.copy()


def _with_ids(X: np.ndarray) -> np.ndarray:
    """X with one more column: the row number (the "sample id" the messages refer to)."""
    ids = np.arange(len(X), dtype=X.dtype).reshape(-1, 1)
    return np.concatenate([X, ids], axis=1)


def _type_name(obj) -> str:
    return type_name(obj, qualified=True)


def _is_exactly(obj, cls) -> bool:
    return _type_name(obj) == f"{cls.__module__}.{cls.__qualname__}"


def _counts(y: np.ndarray, classes: np.ndarray) -> list[int]:
    return [int(np.sum(y == c)) for c in classes]


def _as_pair_or_tuple(got, n: int, what: str, names: str):
    if got is None:
        fail(f"{what} returned None: did you forget to `return {names}`?")
    if not isinstance(got, tuple | list) or len(got) != n:
        desc = (
            f"a {type(got).__name__} of length {len(got)}"
            if isinstance(got, tuple | list)
            else describe_value(got)
        )
        fail(f"{what}: expected {n} results `{names}`, got {desc}")
    return list(got)


# =========================================================================================
# Task 1: stratified_split
# =========================================================================================
def _split(fn, X, y, test_size, seed, case):
    label = f"`stratified_split(X, y, test_size={test_size}, seed={seed})` {case}"
    got = call_student(fn, X, y, test_size=test_size, seed=seed, label=label)
    parts = _as_pair_or_tuple(got, 4, label, "X_train, X_test, y_train, y_test")
    names = ("X_train", "X_test", "y_train", "y_test")
    arrays = [to_array(p, n) for p, n in zip(parts, names, strict=True)]
    X_train, X_test, y_train, y_test = arrays
    D = X.shape[1]
    if X_test.ndim == 1 and y_train.ndim == 2:
        fail(
            f"{label}: the results come in the wrong order (the second one has shape "
            f"{X_test.shape}, the third {y_train.shape}); return "
            f"`X_train, X_test, y_train, y_test` (scikit-learn's order)"
        )
    for name, arr, ndim in zip(names, arrays, (2, 2, 1, 1), strict=True):
        if arr.ndim != ndim or (ndim == 2 and arr.shape[1] != D):
            want = f"(n, {D})" if ndim == 2 else "(n,)"
            hint = ""
            if ndim == 2 and arr.ndim == 1 or ndim == 1 and arr.ndim == 2:
                hint = (
                    " — are the results in the order `X_train, X_test, y_train, y_test` "
                    "(scikit-learn's)?"
                )
            fail(f"{label}: `{name}` should have shape {want}, got {arr.shape}{hint}")
    for xs, ys, a, b in (
        (X_train, y_train, "X_train", "y_train"),
        (X_test, y_test, "X_test", "y_test"),
    ):
        if len(xs) != len(ys):
            fail(f"{label}: `{a}` has {len(xs)} rows but `{b}` has {len(ys)} labels")
    return X_train, X_test, y_train, y_test, label


def _ids_of(part: np.ndarray, X: np.ndarray, name: str, label: str) -> np.ndarray:
    """The sample ids (last column) of the rows of ``part``; fail if a row is not from X."""
    raw = part[:, -1].astype(np.float64)
    ids = np.clip(np.rint(raw), 0, len(X) - 1).astype(np.int64)
    valid = (np.abs(raw - ids) < 1e-6) & np.all(part == X[ids], axis=1)
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        fail(
            f"{label}: row {i} of `{name}` is not a row of X ({part[i].tolist()}): the split "
            f"must return the original rows unchanged, only selected and reordered "
            f"(index X with an array of row numbers)"
        )
    return ids


def _check_split_case(fn, X, y, test_size, seeds, case) -> None:
    """All properties of one dataset: partition, alignment, proportions, seed, shuffling."""
    classes = np.unique(y)
    test_sets = {}
    for seed in seeds:
        X_train, X_test, y_train, y_test, label = _split(fn, X, y, test_size, seed, case)
        train_ids = _ids_of(X_train, X, "X_train", label)
        test_ids = _ids_of(X_test, X, "X_test", label)
        for ids, ys, xname, yname in (
            (train_ids, y_train, "X_train", "y_train"),
            (test_ids, y_test, "X_test", "y_test"),
        ):
            wrong = np.flatnonzero(ys != y[ids])
            if wrong.size:
                i = int(wrong[0])
                fail(
                    f"{label}: `{xname}` and `{yname}` no longer line up: row {i} of {xname} "
                    f"is sample {int(ids[i])} (class {y[ids[i]].item()}) but {yname}[{i}] is "
                    f"{ys[i].item()} ({wrong.size} rows mismatched). Select X and y with the "
                    f"SAME index array."
                )
        for ids, name in ((train_ids, "X_train"), (test_ids, "X_test")):
            uniq, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                k = int(uniq[counts > 1][0])
                fail(
                    f"{label}: sample {k} appears {int(counts[counts > 1][0])} times in "
                    f"`{name}` ({int((counts - 1).sum())} duplicates): every sample goes to "
                    f"exactly one part, once (sampling with replacement? use a permutation)"
                )
        both = np.intersect1d(train_ids, test_ids)
        if both.size:
            fail(
                f"{label}: {both.size} samples are in BOTH parts (e.g. sample "
                f"{int(both[0])}): the test part must be disjoint from the training part, "
                f"otherwise the test accuracy measures memory, not generalisation"
            )
        missing = np.setdiff1d(np.arange(len(X)), np.concatenate([train_ids, test_ids]))
        if missing.size:
            fail(
                f"{label}: {missing.size} of {len(X)} samples are in neither part (e.g. "
                f"sample {int(missing[0])}, class {y[missing[0]].item()}): every sample must "
                f"go to the training or the test part (rounding both sizes down loses samples; "
                f"compute the test count and give the rest to training)"
            )
        n_test_expected = test_size * len(X)
        if (
            abs(len(test_ids) - (1 - test_size) * len(X))
            < 1
            <= abs(len(test_ids) - n_test_expected)
        ):
            fail(
                f"{label}: the test part has {len(test_ids)} of {len(X)} samples, expected "
                f"about {n_test_expected:g}: test_size is the fraction of TEST samples "
                f"(your parts are swapped, or you used 1 - test_size)"
            )
        train_counts, test_counts = _counts(y_train, classes), _counts(y_test, classes)
        for c, n_c, k in zip(classes, _counts(y, classes), test_counts, strict=True):
            if not abs(k - test_size * n_c) < 1 + 1e-9:
                msg = (
                    f"{label}: class {c.item()} has {n_c} samples, so about "
                    f"test_size * {n_c} = {test_size * n_c:g} of them belong in the test part; "
                    f"yours has {k}. Class counts: all {_counts(y, classes)}, train "
                    f"{train_counts}, test {test_counts}."
                )
                if sum(1 for t in test_counts if t > 0) == 1:
                    msg += (
                        "\nHint: the test part holds a single class. The data is sorted by "
                        "class, so the last rows are all one class: shuffle, and split each "
                        "class separately."
                    )
                else:
                    msg += (
                        "\nHint: a plain shuffle lets the proportions drift; split EACH CLASS "
                        "separately (test_size of its samples to the test part)."
                    )
                fail(msg)
        for ids, ys, name in ((train_ids, y_train, "X_train"), (test_ids, y_test, "X_test")):
            if len(ids) >= 8 and bool(np.all(np.diff(ids) > 0)):
                fail(
                    f"{label}: the rows of `{name}` keep their original order (sample ids "
                    f"{ids[:6].tolist()}...): shuffle the rows of each part too, e.g. with "
                    f"rng.permutation of the selected indices"
                )
            if len(ids) >= 8 and len(np.unique(ys)) > 1 and bool(np.all(np.diff(ys) >= 0)):
                fail(
                    f"{label}: `{name}` is sorted by class ({np.unique(ys).tolist()} in "
                    f"blocks): shuffle the rows of each part after putting the classes "
                    f"together, or mini-batches will hold a single class"
                )
        test_sets[seed] = np.sort(test_ids)
        again = _split(fn, X, y, test_size, seed, case)
        for a, b, name in zip(
            (X_train, X_test, y_train, y_test),
            again[:4],
            ("X_train", "X_test", "y_train", "y_test"),
            strict=True,
        ):
            if a.shape != b.shape or not np.array_equal(a, b):
                fail(
                    f"{label}: two calls with the same seed gave different `{name}`: the split "
                    f"must be reproducible. Make a generator from the seed inside the function, "
                    f"`rng = np.random.default_rng(seed)`, and draw everything from it."
                )
    seed_list = list(test_sets)
    for a, b in zip(seed_list, seed_list[1:], strict=False):
        if np.array_equal(test_sets[a], test_sets[b]):
            fail(
                f"`stratified_split` {case}: seeds {a} and {b} put exactly the same samples in "
                f"the test part: the seed is ignored, or the test samples are not chosen at "
                f"random (e.g. always the last rows of each class). Permute each class with "
                f"`rng = np.random.default_rng(seed)` before choosing."
            )


def _split_preamble(stratified_split) -> None:
    expect_callable(stratified_split, "stratified_split")
    forbid_calls(
        stratified_split,
        FORBIDDEN_SPLITTERS,
        hint="write the split yourself with np.unique / np.flatnonzero and "
        "np.random.default_rng(seed).permutation",
    )


@check
def check_stratified_split(stratified_split) -> None:
    """Visible: iris (sorted by class), test_size 0.2, seeds 0, 1, 2."""
    _split_preamble(stratified_split)
    X, y = _iris()
    _check_split_case(stratified_split, _with_ids(X), y, 0.2, (0, 1, 2), "on iris")


def _hidden_split_cases() -> list[tuple[np.ndarray, np.ndarray, float, tuple, str]]:
    rng = np.random.default_rng(4_2024)
    cases = []
    X, y = _iris()
    cases.append((_with_ids(X), y, 0.2, (7, 42, 3, 11, 5), "on iris (seeds 7, 42, 3, 11, 5)"))
    # imbalanced 60/25/15, rows in random order, 3 features
    y_imb = rng.permutation(np.repeat([0, 1, 2], [60, 25, 15]))
    X_imb = rng.standard_normal((100, 3))
    cases.append(
        (_with_ids(X_imb), y_imb, 0.2, (0, 1, 2), "(imbalanced classes 60/25/15, shuffled rows)")
    )
    # sizes whose test share is not an integer: truncating both parts loses samples
    y_odd = np.repeat([0, 1, 2], [7, 13, 20])
    X_odd = rng.uniform(-5, 5, (40, 2))
    cases.append((_with_ids(X_odd), y_odd, 0.3, (0, 1), "(class sizes 7, 13, 20, test_size=0.3)"))
    # two classes, half and half, sorted
    y_two = np.repeat([0, 1], [30, 30])
    cases.append(
        (
            _with_ids(rng.standard_normal((60, 5))),
            y_two,
            0.5,
            (0, 9),
            "(two classes, test_size=0.5)",
        )
    )
    # five classes, float32 features, int32 labels, sorted in DEScending class order
    sizes = [8, 12, 16, 20, 24]
    y_five = np.repeat(np.arange(4, -1, -1, dtype=np.int32), sizes)
    X_five = rng.standard_normal((sum(sizes), 4)).astype(np.float32)
    cases.append((_with_ids(X_five), y_five, 0.25, (0, 1), "(five classes, float32 X, int32 y)"))
    return cases


@check
def check_stratified_split_hidden(stratified_split) -> None:
    """Hidden: more seeds, imbalanced/shuffled/odd-sized/2-class/5-class data, other test sizes."""
    _split_preamble(stratified_split)
    for X, y, test_size, seeds, case in _hidden_split_cases():
        _check_split_case(stratified_split, X, y, test_size, seeds, case)


# =========================================================================================
# Task 2: standardize (the diagnoses are shared with 07_tuning: grader_tests._standardize)
# =========================================================================================
_NAMES = ("X_train", "X_test")


def _standardize_case(fn, X_train, X_test, case) -> None:
    label = f"`standardize(X_train, X_test)` {case}"
    got = call_student(fn, X_train, X_test, label=label)
    parts = _as_pair_or_tuple(got, 2, label, "X_train_std, X_test_std")
    got_tr = to_array(parts[0], "X_train_std")
    got_te = to_array(parts[1], "X_test_std")
    for arr, ref, name in ((got_tr, X_train, "X_train_std"), (got_te, X_test, "X_test_std")):
        if arr.shape != ref.shape:
            fail(
                f"{label}: `{name}` should have the shape of its input {ref.shape}, got {arr.shape}"
            )
    f32 = X_train.dtype == np.float32
    rtol, atol = (2e-4, 2e-5) if f32 else (1e-5, 1e-6)
    X64_tr, X64_te = X_train.astype(np.float64), X_test.astype(np.float64)
    for arr, name in ((got_tr, "X_train_std"), (got_te, "X_test_std")):
        if not np.all(np.isfinite(arr)):
            fail(nonfinite_message(arr, X64_tr, name, label, "X_train"))
    ddof = 0  # the task's sigma divides by N (np.std's default)
    exp_tr, exp_te = std_reference(X64_tr, [X64_te], ddof=ddof)
    if not close(got_tr, exp_tr, rtol, atol):
        why = train_diagnosis(got_tr, got_te, X64_tr, [X64_te], rtol, atol, _NAMES) or "; ".join(
            explain_difference(got_tr, exp_tr, factors={"N": len(X_train)}, rtol=rtol)
        )
        worst = np.unravel_index(int(np.argmax(np.abs(got_tr - exp_tr))), exp_tr.shape)
        msg = (
            f"{label}: `X_train_std` is wrong at {tuple(int(i) for i in worst)}: expected "
            f"{exp_tr[worst]:.6g}, got {got_tr[worst]:.6g} (each column should have mean 0, "
            f"std 1; your column means {np.round(got_tr.mean(axis=0), 3).tolist()[:6]}, stds "
            f"{np.round(got_tr.std(axis=0), 3).tolist()[:6]})"
        )
        fail(msg + (f"\nHint: {why}." if why else ""))
    if not close(got_te, exp_te, rtol, atol):
        worst = np.unravel_index(int(np.argmax(np.abs(got_te - exp_te))), exp_te.shape)
        msg = (
            f"{label}: `X_test_std` is wrong at {tuple(int(i) for i in worst)}: expected "
            f"{exp_te[worst]:.6g}, got {got_te[worst]:.6g}. The test set must be transformed "
            f"with the TRAINING mean and std"
        )
        why = other_diagnosis(got_te, X64_tr, X64_te, [X64_te], rtol, atol, _NAMES)
        fail(msg + (f"\nHint: {why}" if why else ""))


def _leakage_probe(fn, X_train, X_test, case) -> None:
    """Changing only X_test must not change X_train_std, and must move X_test_std exactly."""
    label = f"`standardize` {case}"
    first = _as_pair_or_tuple(
        call_student(fn, X_train, X_test, label=label), 2, label, "X_train_std, X_test_std"
    )
    moved = X_test * 10.0 + 100.0
    second = _as_pair_or_tuple(
        call_student(fn, X_train, moved, label=label), 2, label, "X_train_std, X_test_std"
    )
    a, b = to_array(first[0], "X_train_std"), to_array(second[0], "X_train_std")
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-12, atol=0):
        fail(
            f"{label}: `X_train_std` changed when only X_test changed (X_test * 10 + 100): test "
            f"data leaks into the training statistics. Compute mean and std from X_train alone."
        )
    _standardize_case(fn, X_train, moved, f"{case}, X_test * 10 + 100")


def _std_preamble(standardize) -> None:
    expect_callable(standardize, "standardize")
    forbid_calls(
        standardize,
        FORBIDDEN_SCALERS,
        hint="two lines of NumPy: X_train.mean(axis=0) and X_train.std(axis=0)",
    )


@check
def check_standardize(standardize) -> None:
    """Visible: iris 120/30, the leakage probe, a feature constant on the training set."""
    _std_preamble(standardize)
    X, _ = _iris()
    perm = np.random.default_rng(0).permutation(len(X))
    X_train, X_test = X[perm[:120]], X[perm[120:]]
    _standardize_case(standardize, X_train, X_test, "on iris (120 train, 30 test rows)")
    _leakage_probe(standardize, X_train, X_test, "on iris")
    const_train = X_train.copy()
    const_train[:, 1] = 3.0
    _standardize_case(standardize, const_train, X_test, "(column 1 constant = 3.0 in X_train)")


@check
def check_standardize_hidden(standardize) -> None:
    """Hidden: random shapes and scales, one test row, float32, constant features."""
    _std_preamble(standardize)
    rng = np.random.default_rng(20_24_04)
    for n, m, d in ((7, 3, 6), (50, 20, 1), (200, 1, 3), (2, 5, 2), (33, 33, 10)):
        scale = 10.0 ** rng.uniform(-3, 3, d)
        offset = rng.uniform(-100, 100, d)
        X_train = rng.standard_normal((n, d)) * scale + offset
        X_test = rng.standard_normal((m, d)) * scale * 1.5 + offset + scale
        _standardize_case(standardize, X_train, X_test, f"(N={n}, M={m}, D={d})")
        _leakage_probe(standardize, X_train, X_test, f"(N={n}, M={m}, D={d})")
    X32 = (rng.standard_normal((40, 4)) * 3 + 5).astype(np.float32)
    _standardize_case(standardize, X32[:30], X32[30:], "(float32, N=30, M=10)")
    X_const = rng.standard_normal((12, 3))
    X_const[:, [0, 2]] = [[-1.5, 8.0]]
    _standardize_case(
        standardize, X_const, rng.standard_normal((4, 3)), "(columns 0 and 2 constant)"
    )


# =========================================================================================
# Task 3: build_numpy_model
# =========================================================================================
_NUMPY_CLASSES = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


def _act(name: str, z: np.ndarray, alpha=None) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        slope = LEAKY_SLOPE if alpha is None else alpha
        return np.where(z > 0, z, slope * z)
    if name == "prelu":
        slope = PRELU_INIT if alpha is None else alpha
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "linear":
        return z
    raise KeyError(name)


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _expect_value_error(fn, label: str, **kwargs) -> None:
    """``fn("swish", **kwargs)`` must raise ValueError (not KeyError, not a default model)."""
    try:
        with quiet():
            result = fn(_UNKNOWN, **kwargs)
    except ValueError:
        GUARD.restore()
        return
    except Exception as exc:
        GUARD.restore()
        fail(
            f'{label}("{_UNKNOWN}") raised {type(exc).__name__}: {exc}; for an unknown '
            f"activation raise a ValueError that names the argument and the accepted names, "
            f'e.g. `raise ValueError(f"activation: expected one of {list(ACTIVATIONS)}, got '
            f'{{activation!r}}")`'
        )
    GUARD.restore()
    fail(
        f'{label}("{_UNKNOWN}") returned {type(result).__name__} instead of raising '
        f"ValueError: an unknown activation name must not silently give some default network"
    )


def _numpy_structure(model, activation, D, H, C, label) -> list:
    if not instance_of(model, Sequential):
        fail(
            f"{label}: expected a course_utils.layers.Sequential, got {_type_name(model)}; "
            f"return `Sequential(Linear(...), <activation>, Linear(...))`"
        )
    layers = list(model.layers)
    kinds = [type_name(layer) for layer in layers]
    if layers and instance_of(layers[-1], Softmax):
        fail(
            f"{label}: the model ends with Softmax ({kinds}): softmax_cross_entropy applies "
            f"the softmax itself, so the network must output LOGITS; remove the last layer"
        )
    if len(layers) == 2 and all(
        instance_of(la, Linear) or instance_of(la, Matmul) for la in layers
    ):
        fail(
            f"{label}: the layers are {kinds}: without an activation between them the two "
            f"Linear layers collapse into a single linear map; put the activation layer in "
            f"the middle"
        )
    if len(layers) == 4 and instance_of(layers[2], Linear) and not instance_of(layers[3], Linear):
        fail(
            f"{label}: the layers are {kinds}: the output layer must be linear (logits for "
            f"softmax_cross_entropy); no activation after the last Linear"
        )
    if len(layers) != 3:
        fail(
            f"{label}: expected 3 layers [Linear, {_NUMPY_CLASSES[activation].__name__}, Linear] "
            f"(input -> hidden -> output), got {len(layers)}: {kinds}"
        )
    for i in (0, 2):
        if instance_of(layers[i], Matmul):
            fail(f"{label}: layer {i} is a Matmul (no bias); use Linear, which has a bias b")
        if not instance_of(layers[i], Linear):
            fail(f"{label}: layer {i} should be a Linear layer, got {kinds[i]} ({kinds})")
    want = _NUMPY_CLASSES[activation]
    if not _is_exactly(layers[1], want):
        fail(
            f'{label}: activation "{activation}" should be course_utils.layers.'
            f"{want.__name__}, got {kinds[1]}"
        )
    for i, (d_in, d_out), what in ((0, (D, H), "input -> hidden"), (2, (H, C), "hidden -> output")):
        w = layers[i].params.get("w")
        shape = None if w is None else tuple(np.shape(w))
        if shape != (d_in, d_out):
            fail(
                f"{label}: layer {i} ({what}) should map {d_in} -> {d_out} features (w of shape "
                f"{(d_in, d_out)}), got w of shape {shape}; use the arguments num_inputs="
                f"{D}, num_hiddens={H}, num_outputs={C} rather than fixed numbers"
            )
    if activation == "leaky_relu" and not 0.0 < layers[1].alpha < 1.0:
        fail(f"{label}: LeakyReLU slope {layers[1].alpha} should be small and positive (0.01)")
    if activation == "prelu":
        alpha = np.asarray(layers[1].params.get("alpha"))
        if alpha.shape not in ((1,), (H,)):
            fail(f"{label}: PReLU should have 1 or num_hiddens={H} slopes, got shape {alpha.shape}")
        if not np.allclose(alpha, PRELU_INIT):
            fail(
                f"{label}: PReLU slopes should start at {PRELU_INIT} (the default), got {alpha[:4]}"
            )
    return layers


def _numpy_forward_matches(model, layers, activation, D, label, rng) -> None:
    x = rng.standard_normal((6, D))
    w1, b1 = (np.asarray(layers[0].params[k], dtype=np.float64) for k in ("w", "b"))
    w2, b2 = (np.asarray(layers[2].params[k], dtype=np.float64) for k in ("w", "b"))
    alpha = None
    if activation == "leaky_relu":
        alpha = layers[1].alpha
    elif activation == "prelu":
        alpha = np.asarray(layers[1].params["alpha"], dtype=np.float64)
    expected = _act(activation, x @ w1 + b1, alpha) @ w2 + b2
    got = to_array(call_student(model.forward, x, label=f"{label}.forward(x)"), "model.forward(x)")
    f32 = np.asarray(layers[0].params["w"]).dtype == np.float32
    if not close(got, expected, 1e-4 if f32 else 1e-7, 1e-6 if f32 else 1e-10):
        fail(
            f"{label}: model.forward(x) does not compute activation(x @ w1 + b1) @ w2 + b2 "
            f"with its own parameters (max difference "
            f"{float(np.max(np.abs(got - expected))) if got.shape == expected.shape else 'shape'}"
            f"); use the course_utils layers unchanged"
        )


def _numpy_seeding(fn, activation, D, H, C, label) -> None:
    def params(seed):
        model = call_student(
            fn, activation, num_inputs=D, num_hiddens=H, num_outputs=C, seed=seed, label=label
        )
        return {k: np.array(v, copy=True) for k, v in model.params.items()}

    a, b, other = params(3), params(3), params(4)
    for key in a:
        if key not in b or not np.array_equal(a[key], b[key]):
            fail(
                f"{label}: two models built with seed=3 differ in parameter {key!r}: the "
                f"initial weights must be reproducible. Make one generator "
                f"`rng = np.random.default_rng(seed)` and pass `seed=rng` to BOTH Linear layers"
            )
    w_keys = [k for k in a if k.endswith(".w")]
    w1 = a[w_keys[0]]
    if np.allclose(w1, w1[:, :1]) or float(np.std(w1)) == 0.0:
        fail(
            f"{label}: all hidden units start with identical weights (e.g. all zeros): "
            f"their gradients are then identical too and they never learn different "
            f"features (symmetry). Use a random initialisation such as He or Xavier."
        )
    if all(np.array_equal(a[k], other[k]) for k in w_keys):
        fail(
            f"{label}: seed=3 and seed=4 give identical weights: the seed argument is "
            f"ignored; pass it (or a generator made from it) to the Linear layers"
        )


def _standardized_iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = _iris()
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _train_briefly(model, X, y, label, steps=150, lr=0.03) -> float:
    """Full-batch Adam on (X, y) using only model.forward/backward/params/grads."""
    onehot = np.eye(int(y.max()) + 1)[y]
    m, v = {}, {}
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        logits = to_array(call_student(model.forward, X, label=f"{label}.forward"), "logits")
        dlogits = (_softmax(logits.astype(np.float64)) - onehot) / len(X)
        call_student(model.backward, dlogits.astype(logits.dtype), label=f"{label}.backward")
        params, grads = model.params, model.grads
        for key, w in params.items():
            g = np.asarray(grads[key], dtype=np.float64)
            m[key] = b1 * m.get(key, 0.0) + (1 - b1) * g
            v[key] = b2 * v.get(key, 0.0) + (1 - b2) * g * g
            step = lr * (m[key] / (1 - b1**t)) / (np.sqrt(v[key] / (1 - b2**t)) + eps)
            assign_student_array(
                model, [("attr", "params"), ("item", key)], w - step.astype(w.dtype)
            )
    logits = to_array(call_student(model.forward, X, label=f"{label}.forward"), "logits")
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _numpy_case(fn, activation, D, H, C, seed, rng, train=False) -> None:
    label = (
        f'`build_numpy_model("{activation}", num_inputs={D}, num_hiddens={H}, '
        f"num_outputs={C}, seed={seed})`"
    )
    model = call_student(
        fn, activation, num_inputs=D, num_hiddens=H, num_outputs=C, seed=seed, label=label
    )
    layers = _numpy_structure(model, activation, D, H, C, label)
    _numpy_forward_matches(model, layers, activation, D, label, rng)
    _numpy_seeding(fn, activation, D, H, C, label)
    if train:
        X, y = _standardized_iris()
        acc = _train_briefly(model, X, y, label)
        if acc < 0.9:
            fail(
                f"{label}: after 150 full-batch Adam steps (lr 0.03) on standardised iris the "
                f"training accuracy is only {100 * acc:.1f}% (a working network reaches > 95%). "
                f"Check the initialisation: weights too small or too large stall training."
            )


@check
def check_build_numpy_model(build_numpy_model) -> None:
    """Visible: relu and sigmoid at the iris sizes (structure, forward, seed, brief training)."""
    expect_callable(build_numpy_model, "build_numpy_model")
    rng = np.random.default_rng(0)
    for activation in ("relu", "sigmoid"):
        _numpy_case(build_numpy_model, activation, 4, 16, 3, 0, rng, train=True)
    _expect_value_error(build_numpy_model, "build_numpy_model")


@check
def check_build_numpy_model_hidden(build_numpy_model) -> None:
    """Hidden: all five activations, other sizes and seeds, brief training of each."""
    expect_callable(build_numpy_model, "build_numpy_model")
    rng = np.random.default_rng(404)
    for activation in ACTIVATIONS:
        _numpy_case(build_numpy_model, activation, 4, 16, 3, 1, rng, train=True)
    for activation, (D, H, C, seed) in zip(
        ACTIVATIONS,
        [(3, 7, 2, 5), (6, 5, 4, 11), (2, 9, 5, 0), (5, 12, 3, 8), (8, 4, 6, 2)],
        strict=True,
    ):
        _numpy_case(build_numpy_model, activation, D, H, C, seed, rng)
    _expect_value_error(build_numpy_model, "build_numpy_model", num_hiddens=8)


# =========================================================================================
# Task 4: build_keras_model
# =========================================================================================
def _keras():
    import keras  # imported by the notebook's TensorFlow cell long before any check runs

    return keras


def _keras_copy(model, x, label):
    """The student's model rebuilt here from its architecture and weights (built on ``x``)."""
    if not instance_of(model, _keras().Model):
        fail(
            f"{label}: expected a keras.Model (e.g. keras.Sequential([...])), got "
            f"{_type_name(model)}"
        )
    return keras_model_copy(model, x, label=f"{label}: the model")


def _to_numpy(keras, value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _keras_case(fn, activation, D, H, C, seed, rng) -> None:
    keras = _keras()
    label = (
        f'`build_keras_model("{activation}", num_inputs={D}, num_hiddens={H}, '
        f"num_outputs={C}, seed={seed})`"
    )
    student_model = call_student(
        fn, activation, num_inputs=D, num_hiddens=H, num_outputs=C, seed=seed, label=label
    )
    x = rng.standard_normal((8, D)).astype(np.float32)
    model = _keras_copy(student_model, x, label)
    got = to_array(
        call_student(model, x, label=f"{label}: calling the model on x of shape {x.shape}"),
        "model(x)",
    ).astype(np.float64)
    if got.shape != (8, C):
        fail(
            f"{label}: model(x) for x of shape {x.shape} should have shape {(8, C)}, "
            f"got {got.shape}: use num_outputs (and num_inputs, num_hiddens), not fixed numbers"
        )
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    kinds = [type(layer).__name__ for layer in model.layers]
    if len(dense) != 2:
        fail(
            f"{label}: expected exactly two Dense layers (hidden, output), found {len(dense)} "
            f"in {kinds}: the network is Input({D}) -> Dense({H}) -> activation -> Dense({C})"
        )
    for layer, shape, what in ((dense[0], (D, H), "hidden"), (dense[1], (H, C), "output")):
        kernel = tuple(layer.kernel.shape)
        if kernel != shape:
            fail(
                f"{label}: the {what} Dense layer has a kernel of shape {kernel}, expected "
                f"{shape}; use the arguments num_inputs, num_hiddens, num_outputs"
            )
        if not layer.use_bias:
            fail(f"{label}: the {what} Dense layer has no bias; keep use_bias=True (the default)")
    out_act = getattr(dense[1].activation, "__name__", str(dense[1].activation))
    if out_act != "linear":
        fail(
            f'{label}: the output Dense layer has activation "{out_act}": it must output '
            f"logits (no activation); the loss takes them with from_logits=True"
        )
    k1, c1 = _to_numpy(keras, dense[0].kernel), _to_numpy(keras, dense[0].bias)
    k2, c2 = _to_numpy(keras, dense[1].kernel), _to_numpy(keras, dense[1].bias)
    z = x.astype(np.float64) @ k1 + c1
    alpha = None
    if activation == "prelu":
        prelu = [layer for layer in model.layers if isinstance(layer, keras.layers.PReLU)]
        if len(prelu) != 1:
            fail(f'{label}: "prelu" needs one keras.layers.PReLU layer, found {kinds}')
        alpha = _to_numpy(keras, prelu[0].alpha)
        if not np.allclose(alpha, PRELU_INIT):
            fail(
                f"{label}: the PReLU slopes start at {np.unique(np.round(alpha, 4))[:3]}, "
                f"expected {PRELU_INIT} as in course_utils (Keras' default is 0): pass "
                f"alpha_initializer=keras.initializers.Constant({PRELU_INIT})"
            )
    expected = _act(activation, z, alpha) @ k2 + c2
    if not close(got, expected, 1e-4, 1e-5):
        fail(_keras_mismatch(label, activation, got, expected, z, k2, c2))
    _keras_seeding(fn, keras, activation, D, H, C, x, label)


def _keras_mismatch(label, activation, got, expected, z, k2, c2) -> str:
    msg = (
        f"{label}: model(x) differs from Dense -> {activation} -> Dense computed from the "
        f"model's own weights (max difference {float(np.max(np.abs(got - expected))):.3g})"
    )
    candidates = [
        (_softmax(expected), "the output is softmax probabilities: return logits (no softmax)"),
        (z @ k2 + c2, "there is no activation between the Dense layers"),
        (
            _act("leaky_relu", z, 0.3) @ k2 + c2,
            "leaky ReLU with slope 0.3, Keras' default "
            "for keras.layers.LeakyReLU; pass negative_slope=0.01",
        ),
        (
            _act("leaky_relu", z, 0.2) @ k2 + c2,
            "leaky ReLU with slope 0.2, the default of "
            "keras.activations.leaky_relu; use keras.layers.LeakyReLU(negative_slope=0.01)",
        ),
    ]
    for name in ("relu", "leaky_relu", "sigmoid", "tanh"):
        if name != activation:
            candidates.append(
                (_act(name, z) @ k2 + c2, f'your model applies "{name}" instead of "{activation}"')
            )
    for value, why in candidates:
        if close(got, value, 1e-4, 1e-5):
            return msg + f"\nHint: {why}."
    return msg


def _keras_seeding(fn, keras, activation, D, H, C, x, label) -> None:
    def weights(seed):
        model = call_student(
            fn, activation, num_inputs=D, num_hiddens=H, num_outputs=C, seed=seed, label=label
        )
        return [np.array(w, copy=True) for w in _keras_copy(model, x, label).get_weights()]

    a, b, other = weights(3), weights(3), weights(4)
    if len(a) != len(b) or not all(np.array_equal(p, q) for p, q in zip(a, b, strict=True)):
        fail(
            f"{label}: two models built with seed=3 start from different weights: call "
            f"`keras.utils.set_random_seed(seed)` at the start of the function (or give every "
            f"initializer seed=seed)"
        )
    if all(p.shape == q.shape and np.array_equal(p, q) for p, q in zip(a, other, strict=True)):
        fail(f"{label}: seed=3 and seed=4 give identical weights: the seed argument is ignored")


@check
def check_build_keras_model(build_keras_model) -> None:
    """Visible: relu and sigmoid at the iris sizes (structure, forward pass, seeding)."""
    expect_callable(build_keras_model, "build_keras_model")
    rng = np.random.default_rng(1)
    for activation in ("relu", "sigmoid"):
        _keras_case(build_keras_model, activation, 4, 16, 3, 0, rng)
    _expect_value_error(build_keras_model, "build_keras_model")


@check
def check_build_keras_model_hidden(build_keras_model) -> None:
    """Hidden: all five activations at other sizes and seeds."""
    expect_callable(build_keras_model, "build_keras_model")
    rng = np.random.default_rng(405)
    for activation, (D, H, C, seed) in zip(
        ACTIVATIONS,
        [(3, 7, 2, 5), (6, 5, 4, 11), (2, 9, 5, 0), (5, 12, 3, 8), (4, 16, 3, 2)],
        strict=True,
    ):
        _keras_case(build_keras_model, activation, D, H, C, seed, rng)
    _expect_value_error(build_keras_model, "build_keras_model", num_hiddens=8)


seal(__name__)
