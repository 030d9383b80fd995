"""Cascade self-tests (issue 15): a test cell scores its own task, never an earlier one.

For each assignment, each earlier task is broken in turn (a known-wrong implementation
from the catalogues, everything else the model answer): the broken task's own check fails,
and every check of the later tasks that compose it passes, both in the student's process
and through the grading link (``remote_kernel``). Where the composition alone is graded
(the trained network's accuracy), the message names the broken earlier task.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.grading import reference, substituted
from grader_tests import backprop, numpy_layers

from conftest import mnist_available
from remote_kernel import catalogue_namespaces

CASCADE = Path(__file__).parent / "wrong" / "cascade.py"
cascade, catalogue_server, cat = catalogue_namespaces(CASCADE)
REAL_ASSERTION_ERROR = AssertionError


def _both(*tasks: str) -> list[str]:
    return [f"check_{t}{suffix}" for t in tasks for suffix in ("", "_hidden")]


@pytest.fixture
def one_blas_thread():
    """05's cases train small MLPs: on one BLAS thread, as the notebook does (with the unit
    tests' parallel workers, two spinning OpenBLAS threads each make them several times
    slower)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _verdicts(module, checks, args) -> dict[str, str | None]:
    """check name -> None if it passed, else its message."""
    verdicts = {}
    for name in checks:
        try:
            getattr(module, name)(*args(name))
        except REAL_ASSERTION_ERROR as exc:
            verdicts[name] = str(exc)
        else:
            verdicts[name] = None
    return verdicts


def _assert_cascade(verdicts, own, later, capfd) -> None:
    out, err = capfd.readouterr()
    assert err == ""
    passed_own = [c for c in own if verdicts[c] is None]
    assert not passed_own, f"the broken task's own checks passed: {passed_own}"
    lost = {c: verdicts[c].splitlines()[0][:300] for c in later if verdicts[c] is not None}
    assert not lost, f"later correct tasks lost their points: {lost}"
    for c in later:
        assert f"✔ {c} passed" in out


# --- 02_numpy_layers -------------------------------------------------------------------
NUMPY_LATER = {
    # broken task -> the later tasks that compose it (their checks must pass)
    "matmul": ["two_layer_net"],
    "relu": ["two_layer_net"],
    "softmax": ["two_layer_net"],
    "log": ["two_layer_net"],
    "cross_entropy": ["train_epoch"],
    "tf_model": ["tf_train_step"],
}


def _numpy_args(nb):
    def args(check_name: str):
        task = check_name.removeprefix("check_").removesuffix("_hidden")
        if task == "tf_train_step":
            return nb.tf_train_step, nb.TFTwoLayerNet
        name = {
            "matmul": "Matmul",
            "relu": "Relu",
            "softmax": "Softmax",
            "log": "Log",
            "two_layer_net": "TwoLayerNet",
            "tf_model": "TFTwoLayerNet",
        }.get(task, task)
        return (getattr(nb, name),)

    return args


@pytest.mark.parametrize("broken", list(NUMPY_LATER))
def test_numpy_layers_later_tasks_keep_their_points(broken, cat, capfd):
    nb = cat.numpy_layers(broken)
    own, later = _both(broken), _both(*NUMPY_LATER[broken])
    verdicts = _verdicts(numpy_layers, own + later, _numpy_args(nb))
    _assert_cascade(verdicts, own, later, capfd)


def test_substituted_names_are_put_back(cat):
    """The student's own objects return after the check, also after an error, and a name
    that did not exist is removed again."""
    nb = cat.numpy_layers("log")
    stand_in = reference("course_utils.grading.stand_ins", "Log")
    with substituted(nb.TwoLayerNet, {"Log": stand_in, "not_defined_before": 1.5}):
        assert nb.global_value("Log") is stand_in
        assert nb.global_value("not_defined_before") == 1.5
    assert nb.global_value("Log") is nb.Log
    assert nb.global_value("not_defined_before") is None
    with pytest.raises(RuntimeError), substituted(nb.train_epoch, {"cross_entropy": 0}):
        raise RuntimeError("a failing check")
    assert nb.global_value("cross_entropy") is nb.cross_entropy
    with pytest.raises(ValueError, match="plain identifiers"):
        with substituted(nb.TwoLayerNet, {"__builtins__": {}}):
            pass
    assert nb.global_value("Log") is nb.Log


@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")
@pytest.mark.parametrize(
    ("broken", "named"),
    [("log", "Log"), ("matmul", "Matmul")],
)
def test_accuracy_failure_names_the_broken_layer(broken, named, cat, capfd):
    """The accuracy task is the composition alone: its message says which task is at fault."""
    net = cat.numpy_layers(broken).TwoLayerNet(784, 100, 10)
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        numpy_layers.check_mnist_accuracy(net)
    message = str(info.value)
    assert f"your {named} fails its test" in message, message
    assert capfd.readouterr().err == ""


@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")
def test_tf_accuracy_failure_names_the_broken_model(cat, capfd):
    model = cat.numpy_layers("tf_model").TFTwoLayerNet(784, 100, 10)  # untrained, no ReLU
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        numpy_layers.check_tf_mnist_accuracy(model)
    message = str(info.value)
    assert "your TFTwoLayerNet fails its test" in message and "no ReLU" in message, message
    assert capfd.readouterr().err == ""


# --- 03_backprop -----------------------------------------------------------------------
VALUE_LATER = {
    # broken task -> the later tasks that compose it (their checks must pass)
    "value_add_mul": ["value_pow_exp_log", "std_value"],  # a / b = a * b**-1; std uses + *
    "value_pow_exp_log": ["std_value"],  # std uses ** 2 and ** 0.5
    "value_tanh_relu": ["std_value"],
    "value_backward": ["std_value"],
}


def _graph_args(nb):
    def args(check_name: str):
        return (nb.std_value, nb.Value) if "std_value" in check_name else (nb.Value,)

    return args


@pytest.mark.parametrize("broken", list(VALUE_LATER))
def test_backprop_value_tasks_keep_their_points(broken, cat, capfd):
    nb = cat.graphs(broken)
    own, later = _both(broken), _both(*VALUE_LATER[broken])
    verdicts = _verdicts(backprop, own + later, _graph_args(nb))
    _assert_cascade(verdicts, own, later, capfd)


NET_BROKEN = {
    # broken variant -> (its own checks, the later checks that must pass)
    "loss_mse": (_both("loss_mse"), _both("predict", "train")),
    "loss_ce": (_both("loss_ce"), _both("predict", "train")),
    "loss_float32": (_both("loss_mse", "loss_ce"), _both("predict", "train")),
    "predict": (_both("predict"), _both("train")),
}


@pytest.mark.parametrize("broken", list(NET_BROKEN))
def test_backprop_train_keeps_its_points(broken, cat, capfd):
    nb = cat.three_layer_net(broken)
    own, later = NET_BROKEN[broken]
    verdicts = _verdicts(backprop, own + later, lambda _: (nb.ThreeLayerNet,))
    _assert_cascade(verdicts, own, later, capfd)


# --- 05_mnist --------------------------------------------------------------------------
MNIST_LATER = {
    # broken task -> the later tasks that compose it (their checks must pass)
    "data_loader": ["train_mlp"],
    "initializers": ["linear", "train_mlp"],
    "linear": ["train_mlp"],
    "softmax_cross_entropy": ["train_mlp"],
    "adam": ["train_mlp"],
}


def _mnist_args(nb):
    def args(check_name: str):
        task = check_name.removeprefix("check_").removesuffix("_hidden")
        return {
            "data_loader": (nb.DataLoader,),
            "initializers": (nb.he_normal, nb.xavier_uniform),
            "linear": (nb.Linear,),
            "softmax_cross_entropy": (nb.softmax_cross_entropy,),
            "adam": (nb.Adam,),
            "train_mlp": (nb.train_mlp,),
        }[task]

    return args


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")
@pytest.mark.parametrize("broken", list(MNIST_LATER))
def test_mnist_later_tasks_keep_their_points(broken, cat, capfd):
    from grader_tests import mnist

    nb = cat.mnist(broken)
    own, later = _both(broken), _both(*MNIST_LATER[broken])
    verdicts = _verdicts(mnist, own + later, _mnist_args(nb))
    _assert_cascade(verdicts, own, later, capfd)


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")
@pytest.mark.parametrize(("broken", "named"), [("linear", "Linear"), ("adam", "Adam")])
def test_mnist_accuracy_failure_names_the_broken_task(broken, named, cat, capfd):
    """The trained network is the composition alone: a network that misses 98 % (here,
    trained for one epoch on 640 images) is blamed on the earlier task that fails."""
    from grader_tests import mnist

    nb = cat.mnist(broken)
    X, y = mnist._common.mnist_test.train_subset()
    layers, history = nb.train_mlp(X[:640], y[:640], epochs=1, verbose=False)
    earlier = [nb.DataLoader, nb.he_normal, nb.xavier_uniform, nb.Linear,
               nb.softmax_cross_entropy, nb.Adam, nb.train_mlp]  # fmt: skip
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        mnist.check_mlp_accuracy(layers, history, earlier=earlier)
    message = str(info.value)
    assert "below the required 98%" in message, message
    assert f"your {named} fails its test" in message, message
    assert "your train_mlp fails" not in message, message
    assert capfd.readouterr().err == ""


@pytest.mark.usefixtures("one_blas_thread")
@pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")
def test_mnist_accuracy_of_a_correct_but_short_training_blames_no_task(cat, capfd):
    from grader_tests import mnist

    nb = cat.mnist(None)
    X, y = mnist._common.mnist_test.train_subset()
    layers, history = nb.train_mlp(X[:640], y[:640], epochs=1, verbose=False)
    earlier = [nb.DataLoader, nb.he_normal, nb.xavier_uniform, nb.Linear,
               nb.softmax_cross_entropy, nb.Adam, nb.train_mlp]  # fmt: skip
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        mnist.check_mlp_accuracy(layers, history, earlier=earlier)
    message = str(info.value)
    assert "below the required 98%" in message and "fails its test" not in message, message
