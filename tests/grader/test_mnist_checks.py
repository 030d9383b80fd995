"""Grader self-tests for grader_tests.mnist (assignment 05_mnist).

Every check passes the alternative correct implementations, prints exactly one line and
nothing on stderr, and rejects each known-wrong implementation of the catalogue
``wrong/mnist_wrong.py`` with the expected diagnosis in its message, in the student's
process and through the grading link (``remote_kernel``). The trained-network checks
(``check_mlp_accuracy``, ``check_keras_accuracy``) get networks made from weights that this
module trains once (about 25 s on one BLAS thread); which earlier task they blame is tested
in ``test_cascade.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader_tests import mnist

from conftest import mnist_available
from remote_kernel import catalogue_namespaces
from trained_networks import once_per_run

catalogue, catalogue_server, cat = catalogue_namespaces(
    Path(__file__).parent / "wrong" / "mnist_wrong.py"
)

REAL_ASSERTION_ERROR = AssertionError


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The training checks train small MLPs: on one BLAS thread, as the notebook does (two
    spinning threads make them several times slower on a busy machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


_NAMES = {
    "data_loader": ("LOADER_CORRECT", "LOADER_WRONG"),
    "initializers": ("INIT_CORRECT", "INIT_WRONG"),
    "linear": ("LINEAR_CORRECT", "LINEAR_WRONG"),
    "softmax_cross_entropy": ("LOSS_CORRECT", "LOSS_WRONG"),
    "adam": ("ADAM_CORRECT", "ADAM_WRONG"),
    "train_mlp": ("TRAIN_CORRECT", "TRAIN_WRONG"),
    "build_keras_mlp": ("KERAS_CORRECT", "KERAS_WRONG"),
}
NEEDS_MNIST = {"train_mlp"}
TASKS = {task: (getattr(catalogue, c), getattr(catalogue, w)) for task, (c, w) in _NAMES.items()}


def _tasks(ns) -> dict:
    return {task: (getattr(ns, c), getattr(ns, w)) for task, (c, w) in _NAMES.items()}


def _args(impl) -> tuple:
    return tuple(impl) if isinstance(impl, tuple | list) else (impl,)


def _marks(task):
    # Training cases take seconds each on one BLAS thread: they run with the unit tests, which
    # pytest-xdist spreads over every core (the slow tests run one at a time).
    if task in NEEDS_MNIST:
        return [pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")]
    return []


def _name(impl) -> str:
    impl = _args(impl)[0]
    return getattr(impl, "__name__", "impl")


def _assert_passes(check_name, args, capfd) -> None:
    capfd.readouterr()
    getattr(mnist, check_name)(*args)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


def _assert_rejects(check_name, args, pattern, capfd) -> None:
    capfd.readouterr()
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        getattr(mnist, check_name)(*args)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""


CORRECT_CASES = [
    pytest.param(
        task,
        i,
        f"check_{task}{suffix}",
        id=f"{_name(impl)}{i}-check_{task}{suffix}",
        marks=_marks(task),
    )  # fmt: skip
    for task, (correct, _) in TASKS.items()
    for i, impl in enumerate(correct)
    for suffix in ("", "_hidden")
]


@pytest.mark.parametrize(("task", "index", "check_name"), CORRECT_CASES)
def test_check_passes_correct_implementations(task, index, check_name, cat, capfd):
    _assert_passes(check_name, _args(_tasks(cat)[task][0][index]), capfd)


WRONG_CASES = [
    pytest.param(task, name, check_name, id=f"{task}:{name}-{check_name}", marks=_marks(task))
    for task, (_, wrong) in TASKS.items()
    for name, (_, _, checks) in wrong.items()
    for check_name in checks
]


@pytest.mark.parametrize(("task", "wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(
    task, wrong_name, check_name, cat, capfd
):
    impl, pattern, _ = _tasks(cat)[task][1][wrong_name]
    _assert_rejects(check_name, _args(impl), pattern, capfd)


HIDDEN_ONLY = [
    pytest.param(task, name, id=f"{task}:{name}", marks=_marks(task))
    for task, (_, wrong) in TASKS.items()
    for name, (_, _, checks) in wrong.items()
    if checks == (f"check_{task}_hidden",)
]


@pytest.mark.parametrize(("task", "wrong_name"), HIDDEN_ONLY)
def test_hidden_only_entries_really_pass_the_visible_check(task, wrong_name, cat):
    # Documents why each hidden check exists: these mistakes survive the visible one.
    impl = _tasks(cat)[task][1][wrong_name][0]
    getattr(mnist, f"check_{task}")(*_args(impl))


# --- the trained networks -------------------------------------------------------------------
TRAINED = {
    "mlp_accuracy": ("NET_CORRECT", "NET_WRONG"),
    "keras_accuracy": ("KERAS_NET_CORRECT", "KERAS_NET_WRONG"),
}
_TRAINED_MARKS = [pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")]


def _train_nets() -> dict:
    """{"train", "other": two correct trainings on the 60 000 training images (lr 2e-3
    decayed by 0.7, 6 epochs), "test": one on the 10 000 test images}: (weights, history)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from course_utils.data import load_mnist

    data = load_mnist(flatten=True, verbose=False)
    X, Xt = data.X_train.astype(np.float32), data.X_test.astype(np.float32)
    hyper = {"epochs": 6, "batch_size": 128, "lr": 2e-3, "lr_decay": 0.7, "verbose": False}
    out = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, train, x, y, seed in [
            ("train", catalogue.TRAIN_CORRECT[0], X, data.y_train, 0),
            ("other", catalogue.TRAIN_CORRECT[1], X, data.y_train, 1),
            ("test", catalogue.TRAIN_CORRECT[0], Xt, data.y_test, 0),
        ]:
            layers, history = train(x, y, seed=seed, **hyper)
            weights = [(lay.params["W"].copy(), lay.params["b"].copy()) for lay in layers]
            out[name] = (weights, {"loss": [float(v) for v in history["loss"]]})
    return out


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    return once_per_run(tmp_path_factory, "mnist_nets", _train_nets)


def _trained(ns, task) -> tuple[list, dict]:
    correct, wrong = TRAINED[task]
    return getattr(ns, correct), getattr(ns, wrong)


TRAINED_CORRECT = [
    pytest.param(
        task, i, f"check_{task}{suffix}", id=f"{task}{i}-check_{task}{suffix}", marks=_TRAINED_MARKS
    )  # fmt: skip
    for task in TRAINED
    for i in range(len(_trained(catalogue, task)[0]))
    for suffix in ("", "_hidden")
]


@pytest.mark.parametrize(("task", "index", "check_name"), TRAINED_CORRECT)
def test_accuracy_check_passes_correctly_trained_networks(task, index, check_name, nets, cat,
                                                          capfd):  # fmt: skip
    _assert_passes(check_name, _args(_trained(cat, task)[0][index](nets)), capfd)


TRAINED_WRONG = [
    pytest.param(task, name, check_name, id=f"{task}:{name}-{check_name}", marks=_TRAINED_MARKS)
    for task in TRAINED
    for name, (_, _, checks) in _trained(catalogue, task)[1].items()
    for check_name in checks
]


@pytest.mark.parametrize(("task", "wrong_name", "check_name"), TRAINED_WRONG)
def test_accuracy_check_rejects_wrong_networks_with_diagnosis(task, wrong_name, check_name,
                                                              nets, cat, capfd):  # fmt: skip
    make, pattern, checks = _trained(cat, task)[1][wrong_name]
    handed = make(nets)
    _assert_rejects(check_name, _args(handed), pattern, capfd)
    if checks == (f"check_{task}_hidden",):  # the visible check lets this one through
        getattr(mnist, f"check_{task}")(*_args(handed))


def test_the_catalogue_is_large_enough():
    wrong = sum(len(w) for _, w in TASKS.values())
    wrong += sum(len(_trained(catalogue, t)[1]) for t in TRAINED)
    assert wrong >= 40, wrong
    assert all(len(c) >= 2 for c, _ in TASKS.values())
    assert all(len(_trained(catalogue, t)[0]) >= 2 for t in TRAINED)


def test_every_check_has_a_catalogue():
    names = {n for n in dir(mnist) if n.startswith("check_")}
    covered = {f"check_{t}{s}" for t in (*TASKS, *TRAINED) for s in ("", "_hidden")}
    assert names == covered


@pytest.mark.parametrize(
    "hyper",
    [(1e-3, 0.9, 0.999, 1e-7), (0.0192922, 0.856858, 0.998934, 4.39e-8), (0.01, 0.8, 0.99, 1e-6)],
)
@pytest.mark.parametrize("scale", [1.0, 1e-6])
def test_adam_reference_is_keras_adam(hyper, scale):
    """The checks' Adam trajectory agrees with keras.optimizers.Adam within their tolerance."""
    import numpy as np

    from grader_tests.mnist import adam

    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,)]
    p0 = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) * scale for s in shapes] for _ in range(50)]
    ours = adam.keras_reference(p0, grads, *hyper)
    theirs = adam.keras_trajectory(p0, grads, *hyper)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        for p, q in zip(a, b, strict=True):
            assert np.max(np.abs(p - q)) <= 0.1 * adam._TOL * hyper[0] * t


def test_loss_reference_is_keras_loss():
    """The checks' loss equals keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    to float32 precision, on the kinds of logits the checks use (±1000 included)."""
    import numpy as np

    from grader_tests.mnist import loss

    rng = np.random.default_rng(1)
    cases = [(rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)), loss._extreme(9, 10, rng),
             (rng.standard_normal((4, 6)) + 500.0, rng.integers(0, 6, 4))]  # fmt: skip
    for logits, y in cases:
        ours, theirs = loss.reference_loss(logits, y), loss.keras_loss(logits, y)
        assert abs(ours - theirs) <= 1e-5 * max(1.0, abs(ours)), (ours, theirs)
