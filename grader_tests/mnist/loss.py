"""Task 4 of 05_mnist: ``softmax_cross_entropy(logits, y) -> (loss, dlogits)``.

``loss`` is the mean over the N rows of -log softmax(logits)[n, y[n]] (int labels), as
``keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` computes it; ``dlogits``
is (softmax(logits) - onehot(y)) / N. Both stay finite and correct for logits of ±1000.

The loss is compared with ``reference_loss`` (float64 NumPy), which
``tests/grader/test_mnist_checks.py`` confirms equals Keras' loss to float32 precision on
the checks' inputs (Keras computes in float32 whatever the logits' dtype, so the check
compares with the float64 value, at rtol 1e-6). Keras is not run here: importing
TensorFlow in the grader costs seconds for every test cell that would need it.
"""

from __future__ import annotations

import numpy as np

from course_utils.grading import (
    assert_close,
    assert_numerical_gradient,
    assert_scalar,
    call_student,
    check,
    describe_value,
    expect_callable,
    fail,
    seal,
    to_array,
)

from ._common import forbid_library


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def reference_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """-mean_n log softmax(logits)[n, y[n]] in float64."""
    logp = _log_softmax(np.asarray(logits, dtype=np.float64))
    return float(-logp[np.arange(len(logp)), np.asarray(y)].mean())


def keras_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """The mean loss as Keras computes it (for the self-tests)."""
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return float(keras.ops.convert_to_numpy(loss(y, logits)))


def _call(fn, logits, y, label):
    got = call_student(fn, logits, y, label=label)
    if not isinstance(got, tuple | list) or len(got) != 2:
        fail(f"{label}: expected a pair `(loss, dlogits)`, got {describe_value(got)}")
    loss = assert_scalar(got[0], f"{label}: the loss")
    dlogits = to_array(got[1], "dlogits")
    return loss, dlogits


def _check_case(fn, logits, y, label, *, numerical: bool = True) -> None:
    n, c = logits.shape
    logp = _log_softmax(logits.astype(np.float64))
    expected = reference_loss(logits, y)
    loss, dlogits = _call(fn, logits, y, label)
    per_row = -logp[np.arange(n), y]
    if not np.isfinite(loss):
        fail(
            f"{label}: the loss is {loss} where {expected:.6g} was expected: subtract each row's "
            f"maximum before np.exp (exp(1000) overflows), and compute log-softmax as "
            f"z - log(sum(exp(z))) rather than log(softmax) (softmax underflows to 0)"
        )
    if not abs(loss - expected) <= 1e-6 * max(1.0, abs(expected)):
        hint = ""
        sentences = {
            float(per_row.sum()): f"the SUM over the {n} rows; the loss is their mean",
            float(-np.mean(logp)): "the mean over ALL entries, not only the true classes "
            "(pick logp[np.arange(N), y])",
            float(-np.sum(logp[np.arange(n), y]) / c): f"divided by the {c} classes instead "
            f"of the {n} rows",
            float(np.mean(logp[np.arange(n), y])): "the sign is flipped: the loss is -mean log p",
        }
        for value, why in sentences.items():
            if abs(loss - value) <= 1e-6 * max(1.0, abs(value)):
                hint = f"\nHint: your loss equals {why}."
                break
        fail(
            f"{label}: the loss is {loss:.6g}, expected {expected:.6g} (what "
            f"keras.losses.SparseCategoricalCrossentropy(from_logits=True) gives: the mean "
            f"over rows of -log softmax(logits)[n, y[n]]){hint}"
        )
    probs = np.exp(logp)
    onehot = np.eye(c)[y]
    exp_grad = (probs - onehot) / n
    if dlogits.shape != (n, c):
        fail(f"{label}: dlogits should have the shape of logits, ({n}, {c}), got {dlogits.shape}")
    assert_close(
        dlogits,
        exp_grad,
        f"{label}: dlogits",
        rtol=1e-6,
        atol=1e-10,
        batch_size=n,
        factors={"N": n, "C": c},
        parts={"softmax(logits) / N": probs / n, "-onehot(y) / N": -onehot / n},
        hint="dlogits = (softmax(logits) - onehot(y)) / N",
    )
    if numerical:

        def loss_of(z):
            return _call(fn, z, y, label)[0]

        assert_numerical_gradient(
            loss_of,
            logits.astype(np.float64),
            dlogits,
            dout=np.ones(()),
            tol=1e-6,
            name="dlogits",
            batch_size=n,
            label=label,
        )


def _extreme(n: int, c: int, rng) -> tuple[np.ndarray, np.ndarray]:
    logits = rng.standard_normal((n, c))
    logits[0, :] = [1000.0] + [-1000.0] * (c - 1)  # confidently right
    logits[1, :] = [-1000.0] + [1000.0] * (c - 1)  # confidently wrong (true class 0)
    logits[2, :] = 1000.0  # all equal and huge
    y = rng.integers(0, c, n)
    y[:3] = 0
    return logits, y


def _preamble(fn) -> None:
    expect_callable(fn, "softmax_cross_entropy")
    forbid_library(fn, "softmax_cross_entropy", "np.exp, np.log, np.max and fancy indexing")


def visible(softmax_cross_entropy) -> None:
    _preamble(softmax_cross_entropy)
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 4, 6)
    _check_case(softmax_cross_entropy, logits, y, "`softmax_cross_entropy(logits, y)` (6 x 4)")
    logits, y = _extreme(5, 3, rng)
    _check_case(
        softmax_cross_entropy, logits, y, "`softmax_cross_entropy` on logits of ±1000",
        numerical=False,
    )  # fmt: skip


@check
def check_softmax_cross_entropy(softmax_cross_entropy) -> None:
    """Visible: 6 x 4 logits (loss vs Keras, dlogits, numerical gradient); ±1000 logits."""
    visible(softmax_cross_entropy)


@check
def check_softmax_cross_entropy_hidden(softmax_cross_entropy) -> None:
    """Hidden: random shapes, one row, two classes, float32 logits, large offsets."""
    _preamble(softmax_cross_entropy)
    rng = np.random.default_rng(4405)  # hidden values, the same at every regrade
    n, c = int(rng.integers(3, 40)), int(rng.integers(3, 12))
    for logits, y, what in [
        (rng.standard_normal((n, c)) * 4, rng.integers(0, c, n), f"({n} x {c})"),
        (rng.standard_normal((1, 5)), np.array([3]), "(one row)"),
        (rng.standard_normal((7, 2)), rng.integers(0, 2, 7), "(two classes)"),
        (rng.standard_normal((4, 6)) + 500.0, rng.integers(0, 6, 4), "(logits around 500)"),
    ]:
        _check_case(softmax_cross_entropy, logits, y, f"`softmax_cross_entropy` {what}")
    logits, y = _extreme(9, 10, rng)
    _check_case(
        softmax_cross_entropy, logits, y, "`softmax_cross_entropy` on logits of ±1000 (10 "
        "classes)", numerical=False,
    )  # fmt: skip
    z = (rng.standard_normal((8, 10)) * 3).astype(np.float32)
    label = "`softmax_cross_entropy` on float32 logits (8 x 10)"
    loss, dlogits = _call(softmax_cross_entropy, z, rng.integers(0, 10, 8), label)
    if not np.isfinite(loss) or not np.isfinite(dlogits).all():
        fail(f"{label}: the results are not finite")


seal(__name__)
