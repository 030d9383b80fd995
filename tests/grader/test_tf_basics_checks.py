"""Grader self-tests for grader_tests.tf_basics (assignment 01_tf_basics).

Every check passes the reference and the alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/tf_basics_wrong.py`` with the expected diagnosis in its message.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from course_utils.grading import resolve_dotted
from grader_tests import tf_basics

from remote_kernel import catalogue_namespaces

catalogue, catalogue_server, cat = catalogue_namespaces(
    Path(__file__).parent / "wrong" / "tf_basics_wrong.py"
)

TASKS = ("softmax", "sigmoid", "softmax_ce", "sigmoid_ce")
CHECKS = {
    f"check_{task}{suffix}": getattr(tf_basics, f"check_{task}{suffix}")
    for task in TASKS
    for suffix in ("", "_hidden")
}
REAL_ASSERTION_ERROR = AssertionError

CORRECT_CASES = [
    pytest.param(task, i, f"check_{task}{suffix}", id=f"{impl.__name__}-check_{task}{suffix}")
    for task, impls in catalogue.CORRECT.items()
    for i, impl in enumerate(impls)
    for suffix in ("", "_hidden")
]


@pytest.mark.parametrize(("task", "index", "check_name"), CORRECT_CASES)
def test_check_passes_correct_implementations(task, index, check_name, cat, capfd):
    CHECKS[check_name](cat.CORRECT[task][index])
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


WRONG_CASES = [
    pytest.param(name, check_name, id=f"{name}-{check_name}")
    for name, (_, _, _, checks) in catalogue.WRONG.items()
    for check_name in checks
]


@pytest.mark.parametrize(("wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(wrong_name, check_name, cat, capfd):
    task, impl, pattern, _ = cat.WRONG[wrong_name]
    assert check_name.startswith(f"check_{task}")
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        CHECKS[check_name](impl)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_catalogue_covers_the_required_bugs():
    required = {
        "softmax_no_max",  # softmax without max-subtraction
        "softmax_axis0",  # softmax over the wrong axis
        "softmax_ce_summed",  # cross-entropy summed instead of averaged
        "sigmoid_ce_from_probs",  # sigmoid CE computed from probabilities
        "naive_sigmoid",  # 1/(1+exp(-x)): overflow in the backward pass
        "softmax_alias_module",  # tf.nn.softmax through an alias
        "softmax_ce_swapped",  # labels/logits argument order swapped
        "sigmoid_ce_swapped",
    }
    assert required <= set(catalogue.WRONG)
    for task in TASKS:
        assert len(catalogue.CORRECT[task]) >= 3


def test_every_task_is_checked_against_wrong_entries_visible_and_hidden():
    for task in TASKS:
        checks = {c for _, (t, _, _, cs) in catalogue.WRONG.items() if t == task for c in cs}
        assert checks == {f"check_{task}", f"check_{task}_hidden"}


def test_axis1_softmax_passes_the_visible_check_only(cat):
    # A hard-coded axis=1 is right for 2-D input: only the hidden 1-D/3-D cases expose it.
    tf_basics.check_softmax(cat.softmax_axis1)


def test_naive_sigmoid_in_tensorflow_is_silent_and_right_forward_but_nan_backward():
    """What TF does with 1/(1+exp(-x)) in float32: no warning, correct values, NaN gradient."""
    x = tf.constant([-1000.0, -100.0, -89.0, -20.0, 20.0, 89.0, 1000.0], tf.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Python-level warning would raise here
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = catalogue.naive_sigmoid(x)
        grad = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(y.numpy(), tf.nn.sigmoid(x).numpy(), rtol=1e-6, atol=0)
    assert np.isnan(grad[:3]).all()  # exp(-x) = inf for x <= -89 in float32
    assert np.isfinite(grad[3:]).all()
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        1 / (1 + np.exp(-x.numpy()))  # NumPy, by contrast, reports the overflow


def test_abs_based_sigmoid_has_a_wrong_gradient_at_exactly_zero():
    # Why the checks never differentiate at exactly 0 (and why the notebook mentions it).
    x = tf.constant([0.0], tf.float64)
    grads = []
    for impl in (catalogue.sigmoid_abs, catalogue.sigmoid_reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = impl(x)
        grads.append(float(tape.gradient(y, x)[0]))
    assert grads == [0.0, 0.25]
    inputs = [
        tf_basics.SOFTMAX_X,
        tf_basics.SIGMOID_X,
        tf_basics.SIGMOID_EXTREME,
        tf_basics.SOFTMAX_CE_LOGITS,
        tf_basics.SIGMOID_CE_LOGITS,
        tf_basics.SIGMOID_CE_EXTREME,
    ]
    for cases in (
        tf_basics._softmax_cases(),
        tf_basics._sigmoid_cases(),
        tf_basics._softmax_ce_cases(),
        tf_basics._sigmoid_ce_cases(),
    ):
        inputs += [case[0][0] for case in cases]
    assert all(np.all(np.asarray(x, dtype=np.float32) != 0) for x in inputs)


def test_every_forbidden_name_resolves_and_the_required_ones_are_there():
    unresolved = [
        name for name in tf_basics.FORBIDDEN if type(resolve_dotted(name)) is object
    ]  # resolve_dotted returns a bare object() sentinel for names that do not exist
    assert not unresolved
    for name in (
        "tf.nn.softmax",
        "tf.nn.sigmoid",
        "tf.nn.softmax_cross_entropy_with_logits",
        "tf.nn.sigmoid_cross_entropy_with_logits",
        "tf.math.sigmoid",
        "tf.nn.log_softmax",
        "tf.math.log_sigmoid",
        "keras.losses",
        "keras.activations",
        "tf.keras.losses",
        "tf.keras.activations",
        "course_utils",
    ):
        assert name in tf_basics.FORBIDDEN


def test_hidden_cases_cover_shapes_dtypes_and_extremes():
    for cases in (
        tf_basics._softmax_cases(),
        tf_basics._sigmoid_cases(),
        tf_basics._softmax_ce_cases(),
        tf_basics._sigmoid_ce_cases(),
    ):
        dtypes = {np.dtype(dtype) for _, dtype, _, _ in cases}
        assert dtypes == {np.dtype(np.float32), np.dtype(np.float64)}
        shapes = {inputs[0].shape for inputs, _, _, _ in cases}
        assert len(shapes) >= 5
        assert any(flags.get("extreme") for *_, flags in cases)
        assert any(
            flags.get("numerical") and np.dtype(dtype) == np.float64 for _, dtype, _, flags in cases
        )
        assert max(np.abs(inputs[0]).max() for inputs, _, _, _ in cases) >= 1000
    assert {x.ndim for (x,), *_ in tf_basics._softmax_cases()} == {1, 2, 3}
    assert any(logits.shape[0] == 1 for (logits, _), *_ in tf_basics._softmax_ce_cases())


def test_checks_leave_the_kernel_quiet_and_tensorflow_unpatched(cat, capfd):
    original = tf.nn.softmax
    tf_basics.check_softmax(cat.softmax_reference)
    assert tf.nn.softmax is original
    out, err = capfd.readouterr()
    assert out == "✔ check_softmax passed\n" and err == ""


def test_a_student_cannot_replace_the_reference_builtin():
    def cheat(x):
        tf.nn.softmax = lambda t, axis=-1: t  # make the "expected" value whatever we return
        return x

    original = tf.nn.softmax
    try:
        with pytest.raises(REAL_ASSERTION_ERROR):
            tf_basics.check_softmax(cheat)
    finally:
        tf.nn.softmax = original
    assert tf.nn.softmax is original


def test_a_student_cannot_swap_the_reference_inside_the_task_description():
    def cheat(x):
        object.__setattr__(tf_basics._SOFTMAX, "reference", lambda t: t)  # frozen dataclass
        return x

    with pytest.raises(REAL_ASSERTION_ERROR, match=r"entries differ"):
        tf_basics.check_softmax(cheat)
    assert tf_basics._SOFTMAX.reference is tf_basics._ref_softmax
    with pytest.raises(ValueError):  # the fixed inputs are read-only
        tf_basics.SOFTMAX_X[0, 0] = 0.0
