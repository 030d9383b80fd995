"""iris / digits from scikit-learn, and the seeded stratified split."""

import numpy as np
import pytest

from course_utils.data import Dataset, load_digits, load_iris, train_test_split_stratified


def test_iris_raw_order_types_and_names():
    ds = load_iris()
    assert isinstance(ds, Dataset)
    X, y = ds
    assert X.shape == (150, 4) and X.dtype == np.float32
    assert y.shape == (150,) and y.dtype == np.int64
    # the trap: the raw file is sorted by class
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 50))
    assert ds.target_names == ("setosa", "versicolor", "virginica")
    assert ds.feature_names[0] == "sepal length (cm)" and len(ds.feature_names) == 4
    np.testing.assert_allclose(X[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    assert len(ds) == 150 and "(150, 4)" in repr(ds)


def test_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert X.min() == 0.0 and X.max() == 16.0
    assert load_digits().target_names == tuple(str(i) for i in range(10))


def test_split_on_iris_is_stratified_shuffled_and_complete():
    X, y = load_iris()
    X_train, X_test, y_train, y_test = train_test_split_stratified(X, y, test_size=0.2, seed=0)
    assert X_train.shape == (120, 4) and X_test.shape == (30, 4)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    # train + test is a permutation of the data, with rows and labels kept together
    rows = [tuple(r) + (lab,) for r, lab in zip(X.tolist(), y.tolist(), strict=True)]
    both = np.concatenate([X_train, X_test]).tolist()
    labels = np.concatenate([y_train, y_test]).tolist()
    got = [tuple(r) + (lab,) for r, lab in zip(both, labels, strict=True)]
    assert sorted(got) == sorted(rows)  # a multiset comparison: iris has duplicate rows
    # shuffled: the training labels are not sorted
    assert not np.all(np.diff(y_train) >= 0)


def test_split_is_seeded():
    X, y = load_iris()
    a = train_test_split_stratified(X, y, seed=1)
    b = train_test_split_stratified(X, y, seed=1)
    c = train_test_split_stratified(X, y, seed=2)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3]) or not np.array_equal(a[1], c[1])


def test_split_proportions_on_imbalanced_labels():
    y = np.array([0] * 90 + [1] * 10)
    X = np.arange(100, dtype=np.float64)[:, None]
    X_train, X_test, y_train, y_test = train_test_split_stratified(X, y, test_size=20, seed=0)
    assert np.bincount(y_test).tolist() == [18, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate([X_train, X_test])[:, 0]), X[:, 0])
    np.testing.assert_array_equal(X_test[:, 0] >= 90, y_test == 1)


def test_split_rounding_keeps_total_and_every_class_in_train():
    rng = np.random.default_rng(0)
    for _ in range(50):
        counts = rng.integers(2, 12, size=rng.integers(2, 6))
        y = np.repeat(np.arange(len(counts)), counts)
        n = len(y)
        n_test = int(rng.integers(1, n - len(counts) + 1))
        _, X_test, y_train, y_test = train_test_split_stratified(
            np.zeros((n, 1)), y, test_size=n_test, seed=int(rng.integers(1000))
        )
        assert len(y_test) == n_test
        assert set(y_train.tolist()) == set(range(len(counts)))
        exact = n_test * counts / n
        assert np.all(np.abs(np.bincount(y_test, minlength=len(counts)) - exact) < 1 + 1e-9)


def test_split_string_labels_and_images():
    y = np.array(["cat", "dog"] * 10)
    X = np.zeros((20, 4, 4), np.uint8)
    X_train, X_test, y_train, y_test = train_test_split_stratified(X, y, test_size=0.5)
    assert X_train.shape == (10, 4, 4) and X_test.dtype == np.uint8
    assert sorted(y_test.tolist()) == ["cat"] * 5 + ["dog"] * 5


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": 1.0}, "test_size"),
        ({"test_size": -5}, "test_size"),
        ({"test_size": 150}, "test_size"),
        ({"test_size": True}, "test_size"),
        ({"test_size": 148}, r"test size 148.*\[1, 147\]"),
        ({"seed": 0.5}, "seed"),
    ],
)
def test_split_argument_validation(kwargs, pattern):
    X, y = load_iris()
    with pytest.raises(ValueError, match=pattern):
        train_test_split_stratified(X, y, **kwargs)


def test_split_length_mismatch_and_shapes():
    X, y = load_iris()
    with pytest.raises(ValueError, match="X 150 and y 149"):
        train_test_split_stratified(X, y[:-1])
    with pytest.raises(ValueError, match=r"y: expected shape \(N,\)"):
        train_test_split_stratified(X, np.eye(3)[y])
    with pytest.raises(ValueError, match="class 2 has only 1 sample"):
        train_test_split_stratified(X[:101], y[:101])
