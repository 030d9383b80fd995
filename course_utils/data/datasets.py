"""Small offline datasets (iris, 8x8 digits from scikit-learn) and a stratified split.

Iris is stored sorted by class (50 setosa, then 50 versicolor, then 50 virginica):
:func:`load_iris` keeps that raw order on purpose, so "the first 80 % for training"
trains on two classes only. Use :func:`train_test_split_stratified` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from course_utils._validate import as_array, check_positive_int


@dataclass(frozen=True, eq=False)
class Dataset:
    """A small labelled dataset. ``X, y = load_iris()`` unpacks the two arrays.

    Attributes:
        X: (N, D) float32 features.
        y: (N,) int64 class indices in ``[0, C)``.
        feature_names: D names of the columns of ``X``.
        target_names: C names of the classes.
        description: where the data comes from.
    """

    X: NDArray[np.float32]
    y: NDArray[np.int64]
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    description: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y))

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (
            f"Dataset(X={self.X.shape} {self.X.dtype}, y={self.y.shape} {self.y.dtype}, "
            f"classes={list(self.target_names)})"
        )


def _from_sklearn(bunch, description: str) -> Dataset:
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float32),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(n) for n in bunch.feature_names),
        target_names=tuple(str(n) for n in bunch.target_names),
        description=description,
    )


def load_iris() -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements in cm, 3 species, in the raw order.

    The rows are sorted by class (0 x 50, 1 x 50, 2 x 50); shuffle or use
    :func:`train_test_split_stratified` before splitting.

    Returns:
        :class:`Dataset` with X (150, 4) float32, y (150,) int64.
    """
    from sklearn.datasets import load_iris as _sk_load_iris

    return _from_sklearn(_sk_load_iris(), "Iris (Fisher 1936), scikit-learn's bundled copy")


def load_digits() -> Dataset:
    """The 8x8 handwritten digits: 1797 images, pixel values 0-16 (not rescaled).

    Returns:
        :class:`Dataset` with X (1797, 64) float32 in [0, 16] (``X.reshape(-1, 8, 8)``
        gives the images), y (1797,) int64 in [0, 10).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    return _from_sklearn(
        _sk_load_digits(), "UCI optical recognition of handwritten digits, scikit-learn's copy"
    )


def _split_size(size, n: int, name: str) -> int:
    """Turn a fraction in (0, 1) or a count in [1, n) into a count."""
    if isinstance(size, bool):
        raise ValueError(f"{name}: expected a fraction in (0, 1) or a count, got {size!r}")
    if isinstance(size, int | np.integer):
        count = int(size)
    elif isinstance(size, float | np.floating) and 0.0 < size < 1.0:
        count = int(round(float(size) * n))
    else:
        raise ValueError(f"{name}: expected a fraction in (0, 1) or an int count, got {size!r}")
    if not 1 <= count < n:
        raise ValueError(f"{name}: gives {count} of {n} samples; need between 1 and {n - 1}")
    return count


def stratified_indices(
    y: np.ndarray, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(y))`` so each class keeps its proportion in both parts.

    Each class c of size n_c gets ``n_test * n_c / N`` test samples, rounded by largest
    remainder (ties broken at random) and never all of the class.

    Returns:
        (train_idx, test_idx), each shuffled, int64.
    """
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    n = len(y)
    small = counts < 2
    if small.any():
        c = classes[small][0].item()
        raise ValueError(
            f"y: class {c!r} has only 1 sample; a stratified split needs >= 2 per class"
        )
    if n_test > n - len(classes) or n_test < 1:
        raise ValueError(
            f"test size {n_test}: with {len(classes)} classes and {n} samples it must lie in "
            f"[1, {n - len(classes)}] so every class keeps a training sample"
        )
    exact = n_test * counts / n
    quota = np.floor(exact).astype(np.int64)
    # Hand out the remaining samples by largest fractional part, random among ties,
    # only to classes that would still keep a training sample.
    order = rng.permutation(len(classes))
    order = order[np.argsort(-(exact - quota)[order], kind="stable")]
    for c in order:
        if quota.sum() == n_test:
            break
        if quota[c] < counts[c] - 1:
            quota[c] += 1
    for c in order:  # only reached in rare cases where the first pass ran out of room
        while quota.sum() < n_test and quota[c] < counts[c] - 1:
            quota[c] += 1
    test_parts, train_parts = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test_parts.append(members[: quota[c]])
        train_parts.append(members[quota[c] :])
    train_idx = rng.permutation(np.concatenate(train_parts)).astype(np.int64)
    test_idx = rng.permutation(np.concatenate(test_parts)).astype(np.int64)
    return train_idx, test_idx


def train_test_split_stratified(
    X, y, test_size: float | int = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded, stratified, shuffled train/test split (scikit-learn's return order).

    Args:
        X: (N, ...) features (any numeric dtype; returned with the same dtype).
        y: (N,) class labels (ints, or any sortable labels such as strings).
        test_size: fraction of N in (0, 1), or a number of test samples in [1, N).
        seed: seed of the shuffle; the same seed gives the same split.

    Returns:
        X_train, X_test, y_train, y_test. Every class appears in both parts in (nearly)
        its overall proportion, and the rows of each part are shuffled.
    """
    X = as_array(X, "X", dtype_kind="fiub")
    y_arr = np.asarray(y)
    if X.ndim < 1:
        raise ValueError(f"X: expected at least 1 dimension, got shape {X.shape}")
    if y_arr.ndim != 1:
        raise ValueError(f"y: expected shape (N,) of class labels, got {y_arr.shape}")
    if len(X) != len(y_arr):
        raise ValueError(f"X and y: expected the same length, got X {len(X)} and y {len(y_arr)}")
    check_positive_int(len(X), "len(X)")
    n_test = _split_size(test_size, len(X), "test_size")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    train_idx, test_idx = stratified_indices(y_arr, n_test, np.random.default_rng(seed))
    return X[train_idx], X[test_idx], y_arr[train_idx], y_arr[test_idx]
