"""DataLoader: batching, shuffling per epoch, determinism, drop_last, len, validation."""

import numpy as np
import pytest

from course_utils.data import DataLoader


def data(n=10, d=3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return X, y


def epoch(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


@pytest.mark.parametrize(
    "n, b, drop_last, sizes",
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (10, 5, False, [5, 5]),
        (10, 5, True, [5, 5]),
        (10, 10, True, [10]),
        (10, 64, False, [10]),
        (1, 1, False, [1]),
    ],
)
def test_batch_sizes_and_len(n, b, drop_last, sizes):
    X, y = data(n)
    loader = DataLoader(X, y, batch_size=b, drop_last=drop_last, seed=0)
    batches = epoch(loader)
    assert [len(xb) for xb, _ in batches] == sizes
    assert [len(yb) for _, yb in batches] == sizes
    assert len(loader) == len(sizes)


def test_no_shuffle_keeps_order_and_pairs():
    X, y = data(10)
    batches = epoch(DataLoader(X, y, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), y)
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)


def test_shuffle_visits_every_sample_once_and_keeps_pairs():
    X, y = data(103)
    loader = DataLoader(X, y, batch_size=10, seed=1)
    for _ in range(3):
        batches = epoch(loader)
        ys = np.concatenate([yb for _, yb in batches])
        assert sorted(ys.tolist()) == list(range(103))
        assert not np.array_equal(ys, y)  # shuffled
        for xb, yb in batches:  # row i of X goes with label i
            np.testing.assert_array_equal(xb[:, 0], yb * 3)


def test_reshuffles_every_epoch():
    X, y = data(50)
    loader = DataLoader(X, y, batch_size=50, seed=0)
    orders = [next(iter(loader))[1].tolist() for _ in range(4)]
    assert len({tuple(o) for o in orders}) == 4


def test_same_seed_same_epochs_different_seed_different():
    X, y = data(40)
    a, b = DataLoader(X, y, 8, seed=7), DataLoader(X, y, 8, seed=7)
    c = DataLoader(X, y, 8, seed=8)
    for _ in range(3):
        ea, eb, ec = epoch(a), epoch(b), epoch(c)
        for (xa, ya), (xb, yb) in zip(ea, eb, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
        assert not all(np.array_equal(ya, yc) for (_, ya), (_, yc) in zip(ea, ec, strict=True))


def test_drop_last_with_shuffle_drops_a_random_remainder():
    X, y = data(10)
    loader = DataLoader(X, y, batch_size=4, drop_last=True, seed=0)
    seen = set()
    for _ in range(20):
        ys = np.concatenate([yb for _, yb in loader])
        assert len(ys) == 8 and len(set(ys.tolist())) == 8
        seen |= set(ys.tolist())
    assert seen == set(range(10))  # the dropped samples change from epoch to epoch


def test_epoch_order_drawn_when_iter_is_called():
    X, y = data(20)
    a, b = DataLoader(X, y, 5, seed=3), DataLoader(X, y, 5, seed=3)
    it1, it2 = iter(a), iter(a)  # two epochs started, consumed in reverse order
    e2 = [yb.tolist() for _, yb in it2]
    e1 = [yb.tolist() for _, yb in it1]
    assert e1 == [yb.tolist() for _, yb in b] and e2 == [yb.tolist() for _, yb in b]


def test_accepts_one_hot_targets_and_images():
    X = np.zeros((6, 28, 28), np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    xb, yb = next(iter(DataLoader(X, y, 4, seed=0)))
    assert xb.shape == (4, 28, 28) and yb.shape == (4, 3)


def test_does_not_modify_inputs():
    X, y = data(12)
    X0, y0 = X.copy(), y.copy()
    for _ in DataLoader(X, y, 5, seed=0):
        pass
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_length_mismatch_names_both_lengths():
    X, y = data(10)
    with pytest.raises(ValueError, match=r"len\(X\) = 10 and len\(y\) = 9"):
        DataLoader(X, y[:9], 2)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", True, None])
def test_batch_size_must_be_positive_int(bad):
    X, y = data(10)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(X, y, bad)


def test_batch_size_numpy_int_accepted():
    X, y = data(10)
    assert len(DataLoader(X, y, np.int64(4))) == 3


def test_drop_last_with_too_large_batch_is_an_error():
    X, y = data(10)
    with pytest.raises(ValueError, match="batch_size: 16 is larger than the 10 samples"):
        DataLoader(X, y, 16, drop_last=True)


@pytest.mark.parametrize(
    "X, y, pattern",
    [
        (np.zeros((0, 2)), np.zeros(0), "at least one sample"),
        (np.float32(3.0), np.zeros(1), "X: expected at least 1 dimension"),
        (np.array(["a", "b"]), np.zeros(2), "X: expected dtype kind"),
        (np.zeros((2, 2)), np.array([None, None]), "y: expected a numeric array"),
    ],
)
def test_input_validation(X, y, pattern):
    with pytest.raises(ValueError, match=pattern):
        DataLoader(X, y, 1)


def test_bad_seed():
    X, y = data(10)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(X, y, 2, seed=1.5)


def test_repr_and_num_samples():
    X, y = data(10)
    loader = DataLoader(X, y, 4, seed=0)
    assert loader.num_samples == 10
    assert "batches=3" in repr(loader)
