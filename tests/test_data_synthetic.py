"""Synthetic generators: shapes, dtypes, values, seeding, validation."""

import numpy as np
import pytest

from course_utils.data import (
    default_target,
    make_function_data,
    make_imbalanced,
    make_moons,
    make_spirals,
)


def test_default_target_formula():
    x = np.array([0.0, 1.0, -2.5])
    np.testing.assert_allclose(
        default_target(x), 24 * np.sin(3.2 * x) + 42 * np.cos(2.3 * x), rtol=1e-12
    )
    assert default_target(np.array(0.0)) == 42.0


def test_function_data_default():
    X, y = make_function_data(500)
    assert X.shape == (500, 1) and y.shape == (500, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert X.min() >= -2 * np.pi and X.max() <= 2 * np.pi
    assert X.min() < -5.5 and X.max() > 5.5  # covers the range
    np.testing.assert_allclose(y, default_target(X.astype(np.float64)), atol=1e-4)


def test_function_data_custom_fn_range_noise():
    X, y = make_function_data(2000, fn=lambda x: 3 * x, x_range=(0, 1), noise=0.5, seed=1)
    assert 0 <= X.min() and X.max() <= 1
    resid = y - 3 * X
    assert abs(resid.std() - 0.5) < 0.05 and abs(resid.mean()) < 0.05
    X1, _ = make_function_data(10, fn=np.sin, x_range=(-1.0, 1.0))
    assert X1.shape == (10, 1)


def test_function_data_seeded():
    a, b, c = (
        make_function_data(50, seed=3),
        make_function_data(50, seed=3),
        make_function_data(50, seed=4),
    )
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"n": 0}, "n: expected a positive int"),
        ({"n": 5, "x_range": (1, 1)}, "x_range: expected low < high"),
        ({"n": 5, "x_range": 3}, "x_range"),
        ({"n": 5, "noise": -1}, "noise"),
        ({"n": 5, "fn": "sin"}, "fn: expected a callable"),
        ({"n": 5, "fn": lambda x: x[:2]}, "fn: expected 5 outputs"),
        ({"n": 5, "seed": 1.5}, "seed"),
    ],
)
def test_function_data_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_function_data(**kwargs)


def test_spirals():
    X, y = make_spirals(100, n_classes=3, noise=0.0, seed=0)
    assert X.shape == (300, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1.0 + 1e-6
    # without noise each point lies on its arm: angle t = 4k + 4r
    t = 4 * y + 4 * r
    np.testing.assert_allclose(X[:, 0], r * np.sin(t), atol=1e-5)
    np.testing.assert_allclose(X[:, 1], r * np.cos(t), atol=1e-5)
    assert not np.all(np.diff(y) >= 0)  # shuffled
    X2, y2 = make_spirals(100, n_classes=3, noise=0.0, seed=0)
    np.testing.assert_array_equal(X, X2)
    Xn, _ = make_spirals(100, n_classes=3, noise=0.3, seed=0)
    assert not np.allclose(np.sort(Xn, axis=0), np.sort(X, axis=0))
    assert np.bincount(make_spirals(7, n_classes=5)[1]).tolist() == [7] * 5


def test_moons():
    X, y = make_moons(201, noise=0.0, seed=0)
    assert X.shape == (201, 2) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100]
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0, atol=1e-5)
    assert X[y == 0, 1].min() >= -1e-6 and X[y == 1, 1].max() <= 0.5 + 1e-6
    a, b = make_moons(50, noise=0.2, seed=5), make_moons(50, noise=0.2, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], make_moons(50, noise=0.2, seed=6)[0])


def test_imbalanced():
    X, y = make_imbalanced(1000, ratio=0.05, seed=0)
    assert X.shape == (1000, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert int(y.sum()) == 50
    assert not np.all(np.diff(y) >= 0)
    m0, m1 = X[y == 0].mean(0), X[y == 1].mean(0)
    assert abs(np.linalg.norm(m1 - m0) - 2.0) < 0.4
    assert int(make_imbalanced(10, ratio=0.01)[1].sum()) == 1  # at least one minority sample
    assert int(make_imbalanced(100, ratio=0.5)[1].sum()) == 50
    np.testing.assert_array_equal(make_imbalanced(30, seed=2)[0], make_imbalanced(30, seed=2)[0])


@pytest.mark.parametrize(
    "fn, kwargs, pattern",
    [
        (make_spirals, {"n_per_class": 0}, "n_per_class"),
        (make_spirals, {"n_per_class": 5, "n_classes": 0}, "n_classes"),
        (make_spirals, {"n_per_class": 5, "noise": -0.1}, "noise"),
        (make_moons, {"n": 2.5}, "n: expected a positive int"),
        (make_moons, {"n": 5, "noise": float("nan")}, "noise"),
        (make_imbalanced, {"n": 100, "ratio": 0.0}, "ratio"),
        (make_imbalanced, {"n": 100, "ratio": 0.7}, "ratio"),
        (make_imbalanced, {"n": 1}, "n: expected >= 2"),
        (make_imbalanced, {"n": 10, "seed": "a"}, "seed"),
    ],
)
def test_generator_validation(fn, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(**kwargs)
