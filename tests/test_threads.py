"""The BLAS thread policy: what it chooses, the override, and that it restores the caller's."""

import numpy as np
import pytest

from course_utils import optim, threads
from course_utils.data import DataLoader
from course_utils.layers import Conv2D, Linear, Matmul, ReLU, Sequential
from course_utils.layers import core as layers_core
from course_utils.losses import softmax_cross_entropy
from course_utils.threads import (
    ENV_VAR,
    MIN_MACS_FOR_THREADS,
    blas_threads_for,
    choose_threads,
    current_blas_threads,
)
from course_utils.train import evaluate, fit, predict

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture(autouse=True)
def auto_policy(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def caller_threads(n):
    """The caller's own BLAS setting, as a notebook that pins BLAS would make it."""
    return threadpoolctl.threadpool_limits(limits=n, user_api="blas")


@pytest.fixture
def two_threads():
    """The caller runs BLAS on 2 threads (the default on the 2-core CI machines)."""
    if current_blas_threads() is None:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl")
    with caller_threads(2):
        if current_blas_threads() != 2:
            pytest.skip("this BLAS cannot run 2 threads here (one core?)")
        yield


SMALL = 128 * 784 * 256  # an MNIST MLP layer at batch 128: 2.6e7 MACs
LARGE = 2 * MIN_MACS_FOR_THREADS


# --- what the policy chooses ------------------------------------------------------------
def test_small_products_get_one_thread_large_ones_keep_the_callers_setting():
    assert choose_threads(SMALL, "auto") == 1
    assert choose_threads(MIN_MACS_FOR_THREADS - 1, "auto") == 1
    assert choose_threads(None, "auto") == 1  # a training epoch
    assert choose_threads(MIN_MACS_FOR_THREADS, "auto") is None
    assert choose_threads(LARGE, "auto") is None
    assert choose_threads(SMALL, 3) == 3 and choose_threads(LARGE, 3) == 3
    assert choose_threads(SMALL, "keep") is None


def test_inside_a_block_small_runs_on_one_thread_and_large_on_the_callers(two_threads):
    with blas_threads_for(SMALL):
        assert current_blas_threads() == 1
    with blas_threads_for(LARGE):
        assert current_blas_threads() == 2
    with blas_threads_for(None):  # an epoch of fit: one thread ...
        assert current_blas_threads() == 1
        with blas_threads_for(LARGE):  # ... except a product above the threshold
            assert current_blas_threads() == 2
        assert current_blas_threads() == 1
    assert current_blas_threads() == 2


def test_layers_run_their_products_under_the_policy(two_threads, monkeypatch):
    seen = []

    def spy(real):
        def wrapped(*args, **kwargs):
            seen.append(current_blas_threads())
            return real(*args, **kwargs)

        return wrapped

    for name in ("affine_forward", "affine_backward", "matmul_forward", "matmul_backward"):
        monkeypatch.setattr(layers_core, name, spy(getattr(layers_core, name)))
    for layer in (Linear(784, 256, dtype=np.float32), Matmul(784, 256, dtype=np.float32)):
        x = np.ones((128, 784), np.float32)
        layer.backward(layer.forward(x))
    conv = Conv2D(32, 64, 3, padding=1, dtype=np.float32)
    conv._forward, conv._backward = spy(conv._forward), spy(conv._backward)
    conv.backward(conv.forward(np.ones((64, 32, 14, 14), np.float32)))
    assert seen == [1] * 6, seen
    # A dense layer above the threshold keeps the caller's 2 threads (the product is
    # stubbed: only the thread count it would run with matters here).
    seen.clear()
    big = Linear(4000, 1000, dtype=np.float32)
    monkeypatch.setattr(layers_core, "affine_forward", lambda x, w, b: (seen.append(
        current_blas_threads()), None))  # fmt: skip
    big.forward(np.ones((int(MIN_MACS_FOR_THREADS // 4e6) + 1, 4000), np.float32))
    assert seen == [2]
    assert current_blas_threads() == 2


def test_fit_evaluate_and_predict_run_on_one_thread_and_restore(two_threads):
    X = np.random.default_rng(0).normal(size=(64, 8))
    y = np.arange(64) % 3
    model = Sequential(Linear(8, 16, seed=0), ReLU(), Linear(16, 3, seed=1))
    seen = []

    def loss(y_hat, y):
        seen.append(current_blas_threads())
        return softmax_cross_entropy(y_hat, y)

    fit(model, loss, optim.SGD(model, lr=0.1), DataLoader(X, y, batch_size=32, seed=0),
        val_data=(X, y), num_epochs=2, verbose=0)  # fmt: skip
    evaluate(model, loss, X, y)
    assert seen and set(seen) == {1}, seen
    assert current_blas_threads() == 2
    model.forward = lambda x: seen.append(current_blas_threads()) or x[:, :3]
    seen.clear()
    predict(model, X)
    assert seen == [1]
    assert current_blas_threads() == 2


# --- restoring the caller's setting -----------------------------------------------------
def test_the_callers_setting_is_restored_on_return_and_when_the_call_raises(two_threads):
    with blas_threads_for(SMALL):
        pass
    assert current_blas_threads() == 2
    with pytest.raises(ZeroDivisionError):
        with blas_threads_for(SMALL):
            assert current_blas_threads() == 1
            raise ZeroDivisionError("in the block")
    assert current_blas_threads() == 2
    with pytest.raises(KeyError):
        with blas_threads_for(None):
            with blas_threads_for(LARGE):
                raise KeyError("inner")
    assert current_blas_threads() == 2


def test_fit_and_a_layer_restore_the_callers_setting_when_they_raise(two_threads):
    X, y = np.ones((64, 8)), np.zeros(64, dtype=int)
    model = Sequential(Linear(8, 3, seed=0))

    def broken_loss(y_hat, y):
        assert current_blas_threads() == 1
        raise RuntimeError("broken loss")

    with pytest.raises(RuntimeError, match="broken loss"):
        fit(model, broken_loss, optim.SGD(model, lr=0.1), DataLoader(X, y, batch_size=32),
            num_epochs=1, verbose=0)  # fmt: skip
    assert current_blas_threads() == 2
    with pytest.raises(ValueError, match="dout"):
        layer = Linear(784, 256)
        layer.forward(np.ones((128, 784)))
        layer.backward(np.ones((128, 5)))  # wrong shape: raises inside the block
    assert current_blas_threads() == 2


def test_a_caller_who_pinned_one_thread_gets_one_thread_back(monkeypatch, two_threads):
    monkeypatch.setenv(ENV_VAR, "2")
    with caller_threads(1):
        with blas_threads_for(SMALL):
            assert current_blas_threads() == 2
        assert current_blas_threads() == 1  # the caller's 1, not the default 2
        with pytest.raises(ZeroDivisionError):
            with blas_threads_for(None):
                raise ZeroDivisionError("in the block")
        assert current_blas_threads() == 1


# --- the override -----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["auto", "AUTO", "", " auto "])
def test_auto_is_the_policy(monkeypatch, two_threads, value):
    monkeypatch.setenv(ENV_VAR, value)
    with blas_threads_for(SMALL):
        assert current_blas_threads() == 1


def test_a_number_fixes_the_thread_count_for_every_heavy_call(monkeypatch, two_threads):
    monkeypatch.setenv(ENV_VAR, "2")
    for macs in (SMALL, LARGE, None):
        with blas_threads_for(macs):
            assert current_blas_threads() == 2
    with caller_threads(1):
        monkeypatch.setenv(ENV_VAR, "1")
        with blas_threads_for(LARGE):
            assert current_blas_threads() == 1


def test_keep_leaves_blas_alone(monkeypatch, two_threads):
    monkeypatch.setenv(ENV_VAR, "keep")
    for macs in (SMALL, LARGE, None):
        with blas_threads_for(macs):
            assert current_blas_threads() == 2


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "two", "auto,1", "none"])
def test_a_bad_value_is_refused_with_a_clear_message(monkeypatch, two_threads, value):
    monkeypatch.setenv(ENV_VAR, value)
    expected = rf"{ENV_VAR}: expected 'auto', 'keep' or a positive number .* got '{value}'"
    with pytest.raises(ValueError, match=expected):
        with blas_threads_for(SMALL):
            pytest.fail("the block must not run")
    assert current_blas_threads() == 2
    X, y = np.ones((8, 2)), np.zeros(8, dtype=int)
    model = Sequential(Linear(2, 3, seed=0))
    with pytest.raises(ValueError, match=ENV_VAR):
        fit(model, softmax_cross_entropy, optim.SGD(model, lr=0.1), DataLoader(X, y, 4),
            num_epochs=1, verbose=0)  # fmt: skip
    assert current_blas_threads() == 2


# --- determinism ------------------------------------------------------------------------
def train_mnist_sized(seed=0):
    """Two steps of a 784-256-10 float32 MLP at batch 128: products whose float32 result
    OpenBLAS computes differently on 1 and 2 threads."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((256, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=256)
    model = Sequential(
        Linear(784, 256, seed=seed, dtype=np.float32), ReLU(),
        Linear(256, 10, seed=seed + 1, dtype=np.float32),
    )  # fmt: skip
    fit(model, softmax_cross_entropy, optim.Adam(model, lr=1e-3),
        DataLoader(X, y, batch_size=128, seed=seed), num_epochs=1, verbose=0)  # fmt: skip
    return {k: v.copy() for k, v in model.params.items()}


def test_same_seeds_give_identical_numbers_whatever_the_callers_threads(monkeypatch, two_threads):
    # The premise: left alone, BLAS gives other float32 bits on 1 and 2 threads here, so a
    # thread count that followed the machine (its load, its cores) would change results.
    monkeypatch.setenv(ENV_VAR, "keep")
    with caller_threads(1):
        one = train_mnist_sized()
    if all(np.array_equal(one[k], train_mnist_sized()[k]) for k in one):
        pytest.skip("this BLAS gives the same bits on 1 and 2 threads: nothing to tell apart")
    monkeypatch.setenv(ENV_VAR, "auto")
    with caller_threads(1):
        one = train_mnist_sized()
    two, again = train_mnist_sized(), train_mnist_sized()
    for key in one:
        np.testing.assert_array_equal(two[key], again[key], err_msg=f"{key}: same seeds")
        np.testing.assert_array_equal(one[key], two[key], err_msg=f"{key}: 1 vs 2 caller threads")


def test_the_switch_is_cheap_inside_an_epoch(two_threads):
    """Inside fit's block a layer's block costs microseconds (no threadpoolctl scan)."""
    import time

    with blas_threads_for(None):
        start = time.perf_counter()
        for _ in range(2000):
            with blas_threads_for(SMALL):
                pass
        per_call = (time.perf_counter() - start) / 2000
    assert per_call < 200e-6, f"{per_call * 1e6:.0f} us per nested block"
    assert threads._libs()  # the controllers were found once and kept
