"""course_utils.init: fans, statistics vs keras.initializers, seeding, lookup, errors."""

import keras
import numpy as np
import pytest

from course_utils import init

DENSE = (512, 256)  # (D, M)
CONV = (64, 32, 3, 3)  # (F, C, HH, WW): fan_in = 288, fan_out = 576


def keras_shape(shape):
    """Our (F, C, HH, WW) conv layout -> Keras' (kh, kw, C, F); dense shapes are the same."""
    if len(shape) == 4:
        F, C, HH, WW = shape
        return (HH, WW, C, F)
    return shape


@pytest.mark.parametrize(
    ("shape", "fans"),
    [((7,), (7, 7)), ((784, 256), (784, 256)), ((16, 3, 5, 5), (75, 400)), (CONV, (288, 576))],
)
def test_compute_fans(shape, fans):
    assert init.compute_fans(shape) == fans


PAIRS = [
    ("he_normal", keras.initializers.HeNormal, {}),
    ("he_normal", keras.initializers.HeNormal, {"truncated": True}),
    ("he_uniform", keras.initializers.HeUniform, {}),
    ("xavier_normal", keras.initializers.GlorotNormal, {}),
    ("xavier_normal", keras.initializers.GlorotNormal, {"truncated": True}),
    ("xavier_uniform", keras.initializers.GlorotUniform, {}),
]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize(("name", "keras_cls", "kwargs"), PAIRS)
def test_statistics_match_keras(name, keras_cls, kwargs, shape):
    ours = init.get_initializer(name)(shape, seed=0, **kwargs)
    theirs = np.asarray(keras_cls(seed=0)(keras_shape(shape)), dtype=np.float64)
    assert ours.shape == shape
    # The std of each sample is within ~1 % of the true std (n >= 18k); the two agree to 4 %.
    assert ours.std() == pytest.approx(theirs.std(), rel=0.04)
    assert abs(ours.mean()) < 0.05 * ours.std()
    max_ours, max_theirs = np.abs(ours).max(), np.abs(theirs).max()
    if "uniform" in name or kwargs.get("truncated"):
        # Same bounded support: the largest draw of either sits just inside the same limit.
        assert max_ours == pytest.approx(max_theirs, rel=0.01)
    else:
        # Untruncated normal (the papers' / PyTorch's): tails beyond Keras' 2-sigma cut.
        assert max_ours > 1.05 * max_theirs


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
def test_exact_scales(shape):
    fan_in, fan_out = init.compute_fans(shape)
    rel = 0.02
    assert init.he_normal(shape, seed=1).std() == pytest.approx(np.sqrt(2 / fan_in), rel=rel)
    assert init.xavier_normal(shape, seed=1).std() == pytest.approx(
        np.sqrt(2 / (fan_in + fan_out)), rel=rel
    )
    limit = np.sqrt(6 / fan_in)
    w = init.he_uniform(shape, seed=1)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    limit = np.sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform(shape, seed=1)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert init.normal(shape, std=0.05, seed=1).std() == pytest.approx(0.05, rel=rel)
    assert not init.zeros(shape).any()


def test_truncated_normal_is_cut_at_two_sigma_and_keeps_the_variance():
    std = np.sqrt(2 / DENSE[0])
    w = init.he_normal(DENSE, seed=2, truncated=True)
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978
    assert w.std() == pytest.approx(std, rel=0.02)


def test_seeding():
    a = init.he_normal(DENSE, seed=3)
    np.testing.assert_array_equal(a, init.he_normal(DENSE, seed=3))
    assert not np.array_equal(a, init.he_normal(DENSE, seed=4))
    rng = np.random.default_rng(5)
    first, second = init.xavier_uniform((4, 4), seed=rng), init.xavier_uniform((4, 4), seed=rng)
    assert not np.array_equal(first, second)  # a Generator is drawn from, not re-seeded
    np.testing.assert_array_equal(first, init.xavier_uniform((4, 4), seed=5))


@pytest.mark.parametrize("name", ["normal", "he_normal", "he_uniform", "xavier_uniform", "zeros"])
def test_dtype(name):
    w = init.get_initializer(name)((3, 4), seed=0, dtype=np.float32)
    assert w.dtype == np.float32


def test_get_initializer():
    assert init.get_initializer("he_normal") is init.he_normal
    assert init.get_initializer("Kaiming_Normal") is init.he_normal
    assert init.get_initializer("glorot_uniform") is init.xavier_uniform

    def custom(shape, seed=None):
        return np.ones(shape)

    assert init.get_initializer(custom) is custom
    with pytest.raises(ValueError, match=r"init: expected one of .*he_normal.*got 'he'"):
        init.get_initializer("he")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: init.he_normal((0, 3)), r"shape: .*\(0, 3\)"),
        (lambda: init.he_normal(()), r"shape: .*\(\)"),
        (lambda: init.he_normal((2.5, 3)), r"shape: .*2\.5"),
        (lambda: init.normal((2, 3), std=0), "std: expected a positive number"),
        (lambda: init.he_normal((2, 3), seed="abc"), "seed: expected an int"),
    ],
)
def test_bad_arguments_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
