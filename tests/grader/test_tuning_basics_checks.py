"""Grader self-tests for grader_tests.tuning tasks 1, 2 and 12 (standardize, signal_stats,
the best recipe).

Every check passes the model answer and the alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/tuning_basics_wrong.py`` with the expected diagnosis in its message, in
the student's process and through the grading link (``remote_kernel``). The references
are confirmed: standardize's is sklearn's StandardScaler (population std, constant
features divided by 1), signal_stats' gradients are TensorFlow's (GradientTape). The
best-recipe checks get models made from trained weights kept in
``data/best_recipe_networks.npz`` (``python tests/grader/wrong/tuning_basics_wrong.py``
remakes them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader_tests import tuning

from catalogue_suite import assert_passes, assert_rejects, catalogue_suite
from conftest import mnist_available

_NAMES = {
    "standardize": ("STD_CORRECT", "STD_WRONG"),
    "signal_stats": ("SIG_CORRECT", "SIG_WRONG"),
}
# Entries whose message needs no hint: the error names the mistake itself.
_NO_HINT = ("not_implemented", "dict", "in_place", "in_place_dout", "nan_on_constant")
suite = catalogue_suite(
    tuning,
    Path(__file__).parent / "wrong" / "tuning_basics_wrong.py",
    _NAMES,
    hint_given=lambda name, message: "Hint:" in message or name in _NO_HINT,
)
catalogue, catalogue_server, cat = suite.catalogue, suite.catalogue_server, suite.cat
TASKS, _tasks = suite.TASKS, suite.tasks
test_check_passes_correct_implementations = suite.test_passes
test_check_rejects_wrong_implementation_with_diagnosis = suite.test_rejects


def _assert_passes(check_name, impl, capfd):
    assert_passes(tuning, check_name, (impl,), capfd)


def _assert_rejects(check_name, impl, pattern, capfd):
    return assert_rejects(tuning, check_name, (impl,), pattern, capfd)


HIDDEN_ONLY = [
    pytest.param(task, name, id=f"{task}:{name}")
    for task, (_, wrong) in TASKS.items()
    for name, (_, _, checks) in wrong.items()
    if checks == (f"check_{task}_hidden",)
]


@pytest.mark.parametrize(("task", "wrong_name"), HIDDEN_ONLY)
def test_hidden_only_entries_really_pass_the_visible_check(task, wrong_name, cat):
    # Documents why each hidden check exists: these mistakes survive the visible one.
    getattr(tuning, f"check_{task}")(_tasks(cat)[task][1][wrong_name][0])


def test_every_check_has_a_catalogue():
    mine = {f"check_{t}{s}" for t in (*TASKS, "best_recipe") for s in ("", "_hidden")}
    assert mine <= {n for n in dir(tuning) if n.startswith("check_")}
    for correct, wrong in TASKS.values():
        assert len(correct) >= 3
        assert len(wrong) >= 10
    assert len(catalogue.BEST_CORRECT) >= 3 and len(catalogue.BEST_WRONG) >= 8


# --- the references ----------------------------------------------------------------------
def test_standardize_reference_is_sklearns_standard_scaler():
    """Population std, statistics of train only, a constant feature divided by 1."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    train = rng.standard_normal((40, 5)) * [1, 2, 3, 4, 5] + 7
    train[:, 2] = 3.0
    test = rng.standard_normal((9, 5))
    scaler = StandardScaler().fit(train)
    expected = (scaler.transform(train), scaler.transform(test))
    for got, want in zip(catalogue.standardize(train, test), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_signal_stats_reference_gradients_are_tensorflows(activation):
    """dW_l of the reference is the gradient of sum(h_L * dout) w.r.t. W_l (GradientTape)."""
    from course_utils.environment import import_tensorflow
    from grader_tests.tuning import signal_stats as sig

    tf = import_tensorflow()
    rng = np.random.default_rng(1)
    sizes = [5, 7, 4, 3]
    weights = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 3))
    ws = [tf.Variable(w) for w in weights]
    f = tf.nn.relu if activation == "relu" else tf.tanh
    with tf.GradientTape() as tape:
        h, hs = tf.constant(x), []
        for w in ws:
            h = f(h @ w)
            hs.append(h)
        loss = tf.reduce_sum(h * dout)
    grads = tape.gradient(loss, ws)
    act, grad = sig.reference(weights, x, activation, dout)
    np.testing.assert_allclose(act, [float(np.std(h.numpy())) for h in hs], rtol=1e-12)
    np.testing.assert_allclose(grad, [float(np.std(g.numpy())) for g in grads], rtol=1e-10)


def test_every_signal_slip_differs_from_the_reference_on_the_visible_cases():
    """Each named slip gives other values than the task on some visible case (so that a
    slip's hint can be confirmed there)."""
    from grader_tests.tuning import signal_stats as sig

    rng = np.random.default_rng(2)
    nets = [(sig._net(rng, [5, 7, 4, 3], 0.8), "tanh"), (sig._net(rng, [20] + [32] * 10, "he"),
                                                       "relu")]  # fmt: skip
    for slip in {**sig._FORWARD, **sig._BACKWARD}:
        differs = False
        for weights, activation in nets:
            x = rng.standard_normal((16, weights[0].shape[0]))
            dout = rng.standard_normal((16, weights[-1].shape[1]))
            want = sig.reference(weights, x, activation, dout)
            try:
                got = sig.reference(weights, x, activation, dout, slip)
            except ValueError:
                continue
            differs |= not (sig._close(got[0], want[0]) and sig._close(got[1], want[1]))
        assert differs, slip


# --- task 12: trained models ------------------------------------------------------------
needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")


@needs_mnist
@pytest.mark.parametrize("suffix", ["", "_hidden"])
@pytest.mark.parametrize("name", catalogue.BEST_CORRECT)
def test_best_recipe_passes_trained_mlps(name, suffix, capfd):
    _assert_passes(f"check_best_recipe{suffix}", catalogue.best_model(name), capfd)


BEST_WRONG_CASES = [
    pytest.param(name, check_name, id=f"{name}-{check_name}")
    for name, (_, checks) in catalogue.BEST_WRONG.items()
    for check_name in checks
]


@needs_mnist
@pytest.mark.parametrize(("name", "check_name"), BEST_WRONG_CASES)
def test_best_recipe_rejects_wrong_models(name, check_name, capfd):
    pattern = catalogue.BEST_WRONG[name][0]
    _assert_rejects(check_name, catalogue.best_model(name), pattern, capfd)


LINKED = ["conv_nested", "nan_weights", "on_test", "image_input", "history"]


@needs_mnist
def test_best_recipe_across_the_grading_link(cat, catalogue_server, capfd):
    """The models live in the catalogue's process (proxies here, when remote)."""
    from course_utils.grading import is_remote

    assert is_remote(cat.best_model("untrained")) == (catalogue_server is not None)
    for suffix in ("", "_hidden"):
        _assert_passes(f"check_best_recipe{suffix}", cat.best_model("trained"), capfd)
    for name in LINKED:
        pattern, checks = catalogue.BEST_WRONG[name]
        _assert_rejects(checks[-1], cat.best_model(name), pattern, capfd)


@needs_mnist
def test_wrong_models_fail_for_their_own_reason():
    """The convolutional models are accurate (refused for their layers, not their score);
    the model trained on the test set passes the visible check (the hidden one exists for
    it)."""
    from course_utils.data import load_mnist
    from grader_tests.tuning.best_recipe import keras_accuracy

    data = load_mnist(flatten=True, verbose=False)
    for name in ("conv", "conv_nested"):
        assert keras_accuracy(catalogue.best_model(name), data.X_test, data.y_test) >= 0.985
    tuning.check_best_recipe(catalogue.best_model("on_test"))


def test_refused_layers_cover_every_kind():
    from course_utils.environment import import_tensorflow
    from grader_tests.tuning.best_recipe import refused_layers

    import_tensorflow()
    import keras

    L = keras.layers
    for layer, shape in ((L.Conv1D(2, 3), (10, 4)), (L.AveragePooling1D(2), (10, 4)),
                         (L.GlobalMaxPooling1D(), (10, 4)), (L.SimpleRNN(3), (10, 4)),
                         (L.LSTM(3), (10, 4)), (L.GRU(3), (10, 4)),
                         (L.Bidirectional(L.LSTM(2)), (10, 4)),
                         (L.DepthwiseConv2D(3), (8, 8, 2)),
                         (L.SeparableConv2D(2, 3), (8, 8, 2)),
                         (L.Conv2DTranspose(2, 3), (8, 8, 2))):  # fmt: skip
        model = keras.Sequential([keras.Input(shape), layer])
        assert refused_layers(model), type(layer).__name__
    inputs = keras.Input((6, 4))
    attention = keras.Model(inputs, L.MultiHeadAttention(2, 4)(inputs, inputs))
    assert refused_layers(keras.Sequential([keras.Input((6, 4)), attention]))
    mlp = keras.Sequential([keras.Input((784,)), L.Reshape((28, 28)), L.Dense(4),
                            L.Flatten(), L.GaussianNoise(0.1), L.Dense(10),
                            L.Activation("softmax")])  # fmt: skip
    assert refused_layers(mlp) == []
