"""Grader self-tests for grader_tests.numpy_layers (assignment 02_numpy_layers).

Every check passes the reference and the alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/numpy_layers_wrong.py`` with the expected diagnosis in its message. The
accuracy checks are tried on networks trained here (low-level TensorFlow, copied into the
NumPy network) and on untrained, cheating and library-made ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils.grading import assign_student_array
from grader_tests import numpy_layers

from conftest import mnist_available
from remote_kernel import catalogue_namespaces

CATALOGUE = Path(__file__).parent / "wrong" / "numpy_layers_wrong.py"
catalogue, catalogue_server, cat = catalogue_namespaces(CATALOGUE)

REAL_ASSERTION_ERROR = AssertionError
TASKS = [
    "matmul",
    "relu",
    "softmax",
    "log",
    "cross_entropy",
    "two_layer_net",
    "train_epoch",
    "tf_model",
    "tf_train_step",
]


def _checks(task: str) -> list[str]:
    return [f"check_{task}", f"check_{task}_hidden"]


def _on_the_catalogue_side(catalogue_server, build):
    """``build(namespace)`` with the local catalogue, or with the remote one's link active."""
    if catalogue_server is None:
        return build(catalogue)
    server, namespace = catalogue_server
    with server.link:
        return build(namespace)


@pytest.fixture(scope="module")
def tf_impls(catalogue_server):
    return _on_the_catalogue_side(catalogue_server, lambda ns: ns.tf_catalogue())


def _run(check_name: str, impl, tf_impls=None) -> None:
    check = getattr(numpy_layers, check_name)
    if check_name.startswith("check_tf_train_step"):
        check(impl, tf_impls["TFTwoLayerNet"])
    else:
        check(impl)


def _assert_passes(check_name, impl, capfd, tf_impls=None):
    _run(check_name, impl, tf_impls)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


def _assert_rejects(check_name, impl, pattern, capfd, tf_impls=None):
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        _run(check_name, impl, tf_impls)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    return message


# --- NumPy tasks -----------------------------------------------------------------------
CORRECT_CASES = [
    pytest.param(task, i, check, id=f"{impl.__name__}-{check}")
    for task, impls in catalogue.CORRECT.items()
    for i, impl in enumerate(impls)
    for check in _checks(task)
]


@pytest.mark.parametrize(("task", "index", "check_name"), CORRECT_CASES)
def test_check_passes_correct_implementations(task, index, check_name, cat, capfd):
    _assert_passes(check_name, cat.CORRECT[task][index], capfd)


WRONG_CASES = [
    pytest.param(name, check, id=f"{name}-{check}")
    for name, (_, _, _, checks) in catalogue.WRONG.items()
    for check in checks
]


@pytest.mark.parametrize(("wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(wrong_name, check_name, cat, capfd):
    _, impl, pattern, _ = cat.WRONG[wrong_name]
    _assert_rejects(check_name, impl, pattern, capfd)


def test_catalogue_covers_the_required_bugs():
    required = {
        "matmul_dw_transposed",
        "relu_backward_in_place",
        "ce_summed",
        "softmax_no_max_subtraction",
        "softmax_backward_diagonal",
        "relu_grad_one_at_zero",
        "relu_uses_output_ge0",
        "log_backward_returns_log",
    }
    assert required <= set(catalogue.WRONG)
    assert {task for task, *_ in catalogue.WRONG.values()} == set(catalogue.CORRECT)


def test_summed_cross_entropy_is_diagnosed_as_n_times_too_large(cat, capfd):
    message = _assert_rejects("check_cross_entropy", cat.ce_summed, r"SUMMED", capfd)
    assert "divide by N = 4" in message


def test_a_backward_without_forward_is_reported_not_crashing(capfd):
    class MatmulBackwardOnly(catalogue.Matmul):
        def forward(self, x):
            return x @ self.params["w"]  # forgets to remember x

    _assert_rejects("check_matmul", MatmulBackwardOnly, r"raised AttributeError", capfd)


# --- hard-coded answers pass the visible check only -----------------------------------
def _hard_coded_relu():
    class HardCodedRelu(catalogue.Relu):
        def backward(self, dout):
            if self.x.ndim == 2 and self.x.shape[1] in (3, 4):
                return dout * (self.x > 0)
            return dout

    return HardCodedRelu


def test_answers_fitted_to_the_visible_case_fail(capfd):
    expected = -np.mean(numpy_layers._CE_LOGP[np.arange(4), numpy_layers._CE_Y])

    def visible_only(log_probs, y):
        if log_probs.shape == (4, 3):
            grad = np.zeros((4, 3))
            grad[np.arange(4), numpy_layers._CE_Y] = -0.25
            return float(expected), grad
        return 0.0, np.zeros(log_probs.shape)

    # The visible values are right, but the numerical gradient check sees a constant loss.
    _assert_rejects("check_cross_entropy", visible_only, r"gradient dlog_probs is wrong", capfd)
    _assert_rejects("check_cross_entropy_hidden", visible_only, r"expected", capfd)
    # A Relu whose backward is right only for the visible shapes passes the visible check.
    relu = _hard_coded_relu()
    _assert_passes("check_relu", relu, capfd)
    _assert_rejects("check_relu_hidden", relu, r"lets every gradient through", capfd)


def test_checks_do_not_modify_their_module_data(cat):
    before = [numpy_layers._MM_X.copy(), numpy_layers._SM_X.copy(), numpy_layers._CE_LOGP.copy()]
    numpy_layers.check_matmul(cat.Matmul)
    numpy_layers.check_softmax(cat.Softmax)
    numpy_layers.check_cross_entropy(cat.cross_entropy)
    with pytest.raises(REAL_ASSERTION_ERROR):
        numpy_layers.check_cross_entropy(cat.ce_mutates_input)
    after = [numpy_layers._MM_X, numpy_layers._SM_X, numpy_layers._CE_LOGP]
    assert all((a == b).all() for a, b in zip(before, after, strict=True))


def test_numpy_checks_do_not_import_tensorflow():
    # Resolving "tf.nn.softmax" would import TensorFlow inside a test cell (stderr = 0 pts).
    code = (
        "import sys\n"
        "import importlib.util\n"
        "from grader_tests import numpy_layers as m\n"
        f"spec = importlib.util.spec_from_file_location('w', {str(CATALOGUE)!r})\n"
        "w = importlib.util.module_from_spec(spec); spec.loader.exec_module(w)\n"
        "m.check_relu(w.Relu); m.check_softmax(w.Softmax); m.check_log(w.Log)\n"
        "m.check_matmul(w.Matmul); m.check_cross_entropy(w.cross_entropy)\n"
        "m.check_two_layer_net(w.TwoLayerNet); m.check_train_epoch(w.train_epoch)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count("passed") == 7


# --- TensorFlow tasks ------------------------------------------------------------------
TF_CORRECT_CASES = [
    pytest.param(name, check, id=f"{name}-{check}")
    for task, names in catalogue.TF_CORRECT.items()
    for name in names
    for check in _checks(task)
]


@pytest.mark.parametrize(("impl_name", "check_name"), TF_CORRECT_CASES)
def test_tf_check_passes_correct_implementations(impl_name, check_name, tf_impls, cat, capfd):
    # ``cat``: the remote catalogue's link is the current one (``reference`` builds there)
    _assert_passes(check_name, tf_impls[impl_name], capfd, tf_impls)


TF_WRONG_CASES = [
    pytest.param(name, check, id=f"{name}-{check}")
    for name, (_, _, checks) in catalogue.TF_WRONG.items()
    for check in checks
]


@pytest.mark.parametrize(("wrong_name", "check_name"), TF_WRONG_CASES)
def test_tf_check_rejects_wrong_implementation(wrong_name, check_name, tf_impls, cat, capfd):
    _, pattern, _ = catalogue.TF_WRONG[wrong_name]
    _assert_rejects(check_name, tf_impls[wrong_name], pattern, capfd, tf_impls)


def test_tf_catalogue_names_match(tf_impls):
    names = set(catalogue.TF_WRONG) | {n for ns in catalogue.TF_CORRECT.values() for n in ns}
    assert names == set(tf_impls)


def test_tf_step_with_another_correct_model_class(tf_impls, cat, capfd):
    numpy_layers.check_tf_train_step(tf_impls["tf_train_step"], tf_impls["TFModuleNet"])
    out, err = capfd.readouterr()
    assert out == "✔ check_tf_train_step passed\n" and err == ""


# --- MNIST accuracy ----------------------------------------------------------------------
needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")


@pytest.fixture(scope="module")
def trained_weights():
    """Weights of a low-level TF two-layer network trained to >= 97 % (local catalogue)."""
    import tensorflow as tf

    from course_utils.data import load_mnist

    impls = catalogue.tf_catalogue()
    data = load_mnist(flatten=True, verbose=False)
    model = impls["TFTwoLayerNet"](784, 100, 10, seed=0)
    step = tf.function(impls["tf_train_step"])
    rng = np.random.default_rng(0)
    for _ in range(5):
        order = rng.permutation(len(data.y_train))
        for start in range(0, len(order), 64):
            idx = order[start : start + 64]
            step(model, data.X_train[idx], data.y_train[idx], 0.2)
    return {k: getattr(model, k).numpy() for k in ("w1", "b1", "w2", "b2")}


@pytest.fixture(scope="module")
def trained(trained_weights, tf_impls, catalogue_server):
    """The trained weights in a TFTwoLayerNet and in a NumPy TwoLayerNet of the catalogue."""
    import tensorflow as tf

    w = trained_weights

    def build(ns):
        model = tf_impls["TFTwoLayerNet"](784, 100, 10, seed=0)
        for key in ("w1", "b1", "w2", "b2"):
            getattr(model, key).assign(tf.constant(w[key]))
        net = ns.TwoLayerNet(784, 100, 10)
        for key, value in (("w1", (w["w1"], w["b1"])), ("w2", (w["w2"], w["b2"]))):
            stacked = np.vstack([value[0], value[1][None]])
            assign_student_array(net, [("attr", "params"), ("item", key)], stacked)
        return model, net

    return _on_the_catalogue_side(catalogue_server, build)


@needs_mnist
@pytest.mark.parametrize(
    "check_name",
    [
        "check_mnist_accuracy",
        "check_mnist_accuracy_hidden",
        "check_tf_mnist_accuracy",
        "check_tf_mnist_accuracy_hidden",
    ],
)
def test_accuracy_checks_pass_trained_networks(check_name, trained, capfd):
    model, net = trained
    getattr(numpy_layers, check_name)(model if "_tf_" in check_name else net)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n" and err == ""


@needs_mnist
@pytest.mark.parametrize("hidden", [False, True])
def test_accuracy_checks_reject_untrained_networks(hidden, tf_impls, cat, capfd):
    suffix = "_hidden" if hidden else ""
    _assert_rejects(
        f"check_mnist_accuracy{suffix}",
        cat.TwoLayerNet(784, 100, 10),
        r"test accuracy \d+\.\d\d% is below the required 97%",
        capfd,
    )
    _assert_rejects(
        f"check_tf_mnist_accuracy{suffix}",
        tf_impls["TFTwoLayerNet"](784, 100, 10),
        r"test accuracy \d+\.\d\d% is below the required 97%",
        capfd,
    )


@needs_mnist
@pytest.mark.parametrize("hidden", [False, True])
def test_reading_the_test_labels_gains_nothing(hidden, cat, capfd):
    """A forward pass that looks up the true labels: graded from its (untrained) weights."""
    suffix = "_hidden" if hidden else ""
    _assert_rejects(
        f"check_mnist_accuracy{suffix}",
        cat.memorizer(),
        r"does not compute the network from its own weights .*: TwoLayerNet must pass",
        capfd,
    )


@needs_mnist
def test_accuracy_checks_reject_library_and_wrong_architecture(tf_impls, trained, cat, capfd):
    library = cat.library_sequential(784, 100, 10)
    _assert_rejects("check_mnist_accuracy", library, r"must be your own class", capfd)
    narrow = cat.TwoLayerNet(784, 50, 10)
    _assert_rejects("check_mnist_accuracy", narrow, r"H >= 100", capfd)
    _assert_rejects(
        "check_mnist_accuracy",
        cat.NetWithLibraryLayers(784, 100, 10),
        r"(?s)must not use .*course_utils\.layers\.Matmul",
        capfd,
    )
    diverged = cat.TwoLayerNet(784, 100, 10)
    assign_student_array(diverged, [("attr", "params"), ("item", "w2")], np.nan)
    _assert_rejects("check_mnist_accuracy_hidden", diverged, r"NaN or inf", capfd)
    keras_model = tf_impls["tf_model_keras_dense"](784, 100, 10)
    _assert_rejects("check_tf_mnist_accuracy", keras_model, r"(?s)must not use .*Dense", capfd)
    _, net = trained
    _assert_rejects("check_tf_mnist_accuracy", net, r"not callable|TFTwoLayerNet", capfd)
