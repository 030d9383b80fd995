"""Grader self-tests for grader_tests.tuning (assignment 07_tuning, tasks 3-5).

Every check passes the model answer and two alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/tuning_wrong.py`` with the expected diagnosis in its message, in the
student's process and through the grading link (``remote_kernel``). The checks' references
are confirmed to be Keras: ``keras.optimizers`` on float64 variables,
``keras.optimizers.schedules`` and ``keras.callbacks.EarlyStopping`` (and
``course_utils.train.EarlyStopping``) on the checks' own curves.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from grader_tests import tuning

from catalogue_suite import catalogue_suite

_NAMES = {
    "sgd_momentum": ("SGD_MOMENTUM_CORRECT", "SGD_MOMENTUM_WRONG"),
    "nesterov": ("NESTEROV_CORRECT", "NESTEROV_WRONG"),
    "rmsprop": ("RMSPROP_CORRECT", "RMSPROP_WRONG"),
    "adam": ("ADAM_CORRECT", "ADAM_WRONG"),
    "step_decay": ("STEP_DECAY_CORRECT", "STEP_DECAY_WRONG"),
    "exponential_decay": ("EXPONENTIAL_DECAY_CORRECT", "EXPONENTIAL_DECAY_WRONG"),
    "polynomial_decay": ("POLYNOMIAL_DECAY_CORRECT", "POLYNOMIAL_DECAY_WRONG"),
    "cosine_decay": ("COSINE_DECAY_CORRECT", "COSINE_DECAY_WRONG"),
    "early_stopping": ("EARLY_STOPPING_CORRECT", "EARLY_STOPPING_WRONG"),
}
suite = catalogue_suite(tuning, Path(__file__).parent / "wrong" / "tuning_wrong.py", _NAMES)
catalogue, catalogue_server, cat = suite.catalogue, suite.catalogue_server, suite.cat
TASKS, _tasks = suite.TASKS, suite.tasks
test_check_passes_correct_implementations = suite.test_passes
test_check_rejects_wrong_implementation_with_diagnosis = suite.test_rejects


# 07's self-test files, each naming its tasks in TASKS; best_recipe, graded on trained
# networks, has its own tests in test_tuning_basics_checks.
SELF_TESTS = [
    "test_tuning_checks",
    "test_tuning_basics_checks",
    "test_regularization_checks",
    "test_regularization_data_checks",
]


def test_every_check_has_a_catalogue():
    modules = [importlib.import_module(name) for name in SELF_TESTS]
    tasks = {task for module in modules for task in module.TASKS} | {"best_recipe"}
    assert set(tuning.__all__) == {f"check_{t}{s}" for t in tasks for s in ("", "_hidden")}
    assert {n for n in dir(tuning) if n.startswith("check_")} == set(tuning.__all__)
    for correct, wrong in TASKS.values():
        assert len(correct) >= 3
        assert wrong
    assert sum(len(w) for m in modules for _, w in m.TASKS.values()) >= 60


# --- the references are Keras -----------------------------------------------------------
_KERAS_OPT = {
    "sgd_momentum": ("SGD", {"momentum": "momentum"}),
    "nesterov": ("SGD", {"momentum": "momentum"}),
    "rmsprop": ("RMSprop", {"rho": "rho", "epsilon": "epsilon"}),
    "adam": ("Adam", {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon"}),
}
_HYPER = {
    "sgd_momentum": [{}, {"lr": 0.05, "momentum": 0.8}, {"lr": 0.0193, "momentum": 0.63}],
    "nesterov": [{}, {"lr": 0.05, "momentum": 0.8}, {"lr": 0.0037, "momentum": 0.97}],
    "rmsprop": [{}, {"lr": 0.01, "rho": 0.8, "epsilon": 1e-6},
                {"lr": 0.0031, "rho": 0.632, "epsilon": 1.07e-7}],
    "adam": [{}, {"lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
             {"lr": 0.0089, "beta_1": 0.884, "beta_2": 0.934, "epsilon": 6.3e-8}],
}  # fmt: skip


@pytest.mark.parametrize("name", list(_KERAS_OPT))
def test_optimizer_reference_is_keras(name):
    """The checks' trajectories agree with keras.optimizers on float64 variables within a
    tenth of the checks' tolerance, for gradients from 1e-8 to 10 in size."""
    from grader_tests._optim_reference import keras_trajectory
    from grader_tests.tuning import _optimizer_reference as ref

    rng = np.random.default_rng(0)
    keras_name, names = _KERAS_OPT[name]
    for hyper in _HYPER[name]:
        full = {**ref.DEFAULTS[name], **hyper}
        kwargs = {"learning_rate": full["lr"], **{k: full[v] for k, v in names.items()}}
        if name == "nesterov":
            kwargs["nesterov"] = True
        p0 = [rng.standard_normal((3, 4)), rng.standard_normal(6)]
        grads = [
            [rng.standard_normal((3, 4)), np.sign(rng.standard_normal(6)) *
             10 ** rng.uniform(-8, 1, 6)]
            for _ in range(ref._STEPS)
        ]  # fmt: skip
        ours = ref.reference_trajectory(name, p0, grads, hyper)
        theirs = keras_trajectory(keras_name, p0, grads, **kwargs)
        for i, p in enumerate(p0):
            tols = ref._tolerances(p, [s[i] for s in ours], float32=False)
            for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                assert np.max(np.abs(a[i] - b[i])) <= 0.1 * tols[t], (name, hyper, t, i)


@pytest.mark.parametrize("name", list(_KERAS_OPT))
def test_optimizer_reference_is_keras_on_float32_variables(name):
    """On float32 variables Keras computes in float32: the checks' float32 allowance (one
    float32 rounding of the largest |w| per step) covers it, with Keras' defaults (small
    learning rates, where float32 rounding of w is comparable to a step)."""
    from grader_tests._optim_reference import keras_trajectory
    from grader_tests.tuning import _optimizer_reference as ref

    rng = np.random.default_rng(1)
    keras_name, names = _KERAS_OPT[name]
    hyper = {"lr": 1e-4} if name in ("sgd_momentum", "nesterov") else {}
    full = {**ref.DEFAULTS[name], **hyper}
    kwargs = {"learning_rate": full["lr"], **{k: full[v] for k, v in names.items()}}
    if name == "nesterov":
        kwargs["nesterov"] = True
    p0 = [rng.standard_normal((2, 3)).astype(np.float32) * 4]
    grads = [[rng.standard_normal((2, 3)).astype(np.float32)] for _ in range(ref._STEPS)]
    ours = ref.reference_trajectory(name, p0, grads, hyper)
    theirs = keras_trajectory(keras_name, p0, grads, dtype=np.float32, **kwargs)
    tols = ref._tolerances(p0[0], [s[0] for s in ours], float32=True)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert np.max(np.abs(a[0] - b[0])) <= 0.5 * tols[t], (name, t)


@pytest.mark.parametrize("name", ["step_decay", "exponential_decay", "polynomial_decay",
                                  "cosine_decay"])  # fmt: skip
def test_schedule_reference_is_keras(name):
    """The checks' schedules agree with keras.optimizers.schedules at every step the checks
    test (visible and hidden cases) to a quarter of their tolerance."""
    from grader_tests.tuning import schedules

    for hidden in (False, True):
        for args, kwargs, _ in schedules.cases(name, hidden):
            d = args[2] if name == "polynomial_decay" else args[1]
            ours = schedules.reference_schedule(name, args, kwargs)
            theirs = schedules.keras_schedule(name, args, kwargs)
            for s in schedules.steps_for(d, cycle=bool(kwargs.get("cycle"))):
                want = float(theirs(s))
                tol = schedules.tolerance(want, args[0])
                assert abs(ours(s) - want) <= 0.25 * tol, (name, args, kwargs, s)


def test_step_decay_is_piecewise_constant_with_boundaries_one_before():
    """step_decay = Keras PiecewiseConstantDecay with boundaries k * decay_steps - 1 on
    integer steps (PiecewiseConstantDecay keeps values[k] while step <= boundaries[k])."""
    from course_utils.environment import import_tensorflow
    from grader_tests.tuning import schedules

    import_tensorflow()
    import keras

    initial, d, factor = 0.1, 10, 0.5
    pcd = keras.optimizers.schedules.PiecewiseConstantDecay(
        [k * d - 1 for k in range(1, 12)], [initial * factor**k for k in range(12)]
    )
    ours = schedules.reference_schedule("step_decay", (initial, d), {"factor": factor})
    for s in schedules.steps_for(d):
        assert abs(ours(s) - float(pcd(s))) <= 1e-6 * ours(s), s


def _es_curves():
    from grader_tests.tuning import early_stopping

    rng = np.random.default_rng(11)
    curves = [(c[1], c[2], c[3]) for c in early_stopping._curves(rng)]
    curves += [
        (c[1], c[2], c[3]) for c in early_stopping.hidden_curves(np.random.default_rng(5107))
    ]
    return curves


def test_early_stopping_reference_is_course_and_keras():
    """On every curve of the checks, the expected stop and best epochs are those of
    course_utils.train.EarlyStopping and of keras.callbacks.EarlyStopping (0-based there)."""
    from course_utils.environment import import_tensorflow
    from course_utils.train import EarlyStopping
    from grader_tests.tuning.early_stopping import reference_run

    import_tensorflow()
    import keras

    class Model:
        params: dict = {}
        stop_training = False

    for losses, patience, min_delta in _es_curves():
        want = reference_run(losses, patience, min_delta)
        course = EarlyStopping(patience=patience, min_delta=min_delta, restore_best=False)
        course.on_train_begin(Model(), None, None)
        stopped = None
        for epoch, loss in enumerate(losses, start=1):
            if course.on_epoch_end(epoch, {"val_loss": loss}):
                stopped = epoch
                break
        assert (stopped, course.best_epoch) == (want["stopped_epoch"], want["best_epoch"])
        model = Model()
        callback = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, min_delta=min_delta, mode="min"
        )
        callback.set_model(model)
        callback.on_train_begin()
        stopped = None
        for epoch, loss in enumerate(losses):
            callback.on_epoch_end(epoch, {"val_loss": loss})
            if model.stop_training:
                stopped = epoch + 1
                break
        assert (stopped, callback.best_epoch + 1) == (want["stopped_epoch"], want["best_epoch"])


def test_a_first_step_hypothesis_is_named_only_when_its_prediction_holds_at_every_step():
    """Exchanged betas in Adam: the first step looks like eps in the wrong place (off more,
    the smaller |dw|), but Keras' Adam with eps moved does not reproduce the later steps,
    so the eps hint is not given; Adam with eps inside the square root is reproduced."""
    from grader_tests.tuning import _optimizer_hints as opt
    from grader_tests.tuning import _optimizer_reference as ref

    rng = np.random.default_rng(7)  # check_adam's first case
    kwargs = {"lr": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6}
    hyper = {**ref.DEFAULTS["adam"], **kwargs}
    p0 = rng.standard_normal((3, 4))
    grads = [[rng.standard_normal((3, 4))] for _ in range(ref._STEPS)]
    expected = ref.reference_trajectory("adam", [p0], grads, kwargs)
    seen = {}
    for wrong in ("betas_exchanged", "eps_inside_sqrt"):
        impl = catalogue.ADAM_WRONG[wrong][0]
        w, state, got = p0, None, []
        for (g,) in grads:
            w, state = impl(w, g, state, **kwargs)
            got.append([w])
        case = opt._Case("adam", hyper, [p0], grads, got, expected, 0)
        step, ref, g = opt._steps(case, 1)
        seen[wrong] = (bool(opt._eps_pattern("adam", step, ref, g)), opt._eps_slips(case))
    assert seen == {"betas_exchanged": (True, False), "eps_inside_sqrt": (True, True)}
