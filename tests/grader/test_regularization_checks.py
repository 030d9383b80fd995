"""Grader self-tests for grader_tests.tuning's checks of regularization.ipynb (tasks 6-8).

Every check passes the model answer and two alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/regularization_wrong.py`` with the expected diagnosis in its message, in
the student's process and through the grading link (``remote_kernel``). The checks'
references are confirmed: batch norm's expected outputs and running statistics are those
of ``keras.layers.BatchNormalization`` (float64, the case's momentum and epsilon) on every
case of the checks; dropout's expected masks are ``course_utils.layers.core.dropout_forward``'s;
the L2 check's data gradients are the numerical gradients of its data loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader_tests import tuning

from catalogue_suite import catalogue_suite

_NAMES = {
    "add_l2": ("ADD_L2_CORRECT", "ADD_L2_WRONG"),
    "dropout": ("DROPOUT_CORRECT", "DROPOUT_WRONG"),
    "batchnorm": ("BATCHNORM_CORRECT", "BATCHNORM_WRONG"),
}
suite = catalogue_suite(tuning, Path(__file__).parent / "wrong" / "regularization_wrong.py", _NAMES)
catalogue, catalogue_server, cat = suite.catalogue, suite.catalogue_server, suite.cat
TASKS, _tasks = suite.TASKS, suite.tasks
test_check_passes_correct_implementations = suite.test_passes
test_check_rejects_wrong_implementation_with_diagnosis = suite.test_rejects


def test_every_check_has_a_catalogue():
    names = {n for n in dir(tuning) if n.startswith("check_")}
    assert {f"check_{t}{s}" for t in TASKS for s in ("", "_hidden")} <= names
    for correct, wrong in TASKS.values():
        assert len(correct) >= 3
        assert len(wrong) >= 8
    assert sum(len(wrong) for _, wrong in TASKS.values()) >= 25


# --- the references ------------------------------------------------------------------------
def _bn_cases():
    from grader_tests.tuning import batchnorm

    return batchnorm.visible_cases() + batchnorm.hidden_cases()


def test_batchnorm_reference_is_keras():
    """On every case of the checks, Keras' BatchNormalization (float64, momentum and epsilon
    passed as the case's) gives the checks' training outputs and, after each step, their
    running statistics (moving_mean, moving_variance: the biased batch variance), and in
    inference mode their evaluation output."""
    from course_utils.environment import import_tensorflow
    from grader_tests.tuning import batchnorm

    import_tensorflow()
    import keras

    for data in _bn_cases():
        eps = data["given"].get("eps", 1e-5)
        momentum = data["given"].get("momentum", 0.9)
        d = data["gamma"].size
        layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=eps, dtype="float64")
        layer.build((None, d))
        layer.gamma.assign(data["gamma"])
        layer.beta.assign(data["beta"])
        expected = batchnorm.running_trajectory(data["xs"], momentum, eps)
        for x, (rm, rv) in zip(data["xs"], expected, strict=True):
            out = np.asarray(layer(x, training=True))
            want = batchnorm.train_output(x, data["gamma"], data["beta"], eps)
            assert np.allclose(out, want, rtol=1e-10, atol=1e-12)
            assert np.allclose(layer.moving_mean.numpy(), rm, rtol=1e-12, atol=1e-15)
            assert np.allclose(layer.moving_variance.numpy(), rv, rtol=1e-12, atol=1e-15)
        out = np.asarray(layer(data["x_eval"], training=False))
        rm, rv = expected[-1]
        want = data["gamma"] * (data["x_eval"] - rm) / np.sqrt(rv + eps) + data["beta"]
        assert np.allclose(out, want, rtol=1e-10, atol=1e-12)


def test_batchnorm_references_are_course_utils():
    """The checks' forward and backward formulas are course_utils.layers.normalization's."""
    from course_utils.layers.normalization import batchnorm_backward, batchnorm_forward
    from grader_tests.tuning import batchnorm

    for data in _bn_cases():
        eps = data["given"].get("eps", 1e-5)
        x, gamma, beta = data["xs"][0], data["gamma"], data["beta"]
        out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", **data["given"]})
        assert np.allclose(out, batchnorm.train_output(x, gamma, beta, eps), rtol=1e-12)
        dx, _, _ = batchnorm_backward(data["dout"], cache)
        assert np.allclose(dx, batchnorm.reference_backward(x, gamma, eps, data["dout"]),
                           rtol=1e-10, atol=1e-12)  # fmt: skip


def test_dropout_expected_mask_is_course_utils():
    """The mask the checks expect, rng.random(x.shape) >= p of a generator in the case's
    state, is course_utils.layers.core.dropout_forward's with that generator."""
    from course_utils.layers.core import dropout_forward
    from grader_tests.tuning import dropout

    rng = np.random.default_rng(3)
    for _, x, p, seed in dropout.hidden_cases(np.random.default_rng(7107)) + [
        ("train", dropout._inputs(rng, (50, 30)), 0.3, 4)
    ]:
        out, _ = dropout_forward(x, p, True, np.random.default_rng(seed))
        mask = np.random.default_rng(seed).random(x.shape) >= p
        assert np.array_equal(out != 0, mask)
        assert np.allclose(out[mask], x[mask] / (1 - p), rtol=1e-15)


def test_l2_data_gradients_are_numerical():
    """The data-loss gradients the L2 check gives the layers are the numerical gradients of
    its data loss (so the check's 'data gradient + lam * w' is right)."""
    from course_utils.gradcheck import numerical_gradient
    from grader_tests.tuning.l2 import _Net

    rng = np.random.default_rng(0)
    net = _Net(rng, [6, 5, 4, 3], 7)
    for j, w in enumerate(net.ws):

        def loss(v, j=j):
            ws = list(net.ws)
            ws[j] = v
            return net.loss(ws)

        num = numerical_gradient(loss, w.copy())
        assert np.allclose(num, net.dws[j], rtol=1e-6, atol=1e-8)
