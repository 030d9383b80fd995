"""Tests for course_utils.grading: messages, gradient diagnoses, stability, forbidden calls,
quietness, sealing, keyed markers and resistance to monkeypatching."""

from __future__ import annotations

import builtins
import linecache
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import tensorflow as tf

import course_utils.functional as F
import course_utils.grading as grading
from course_utils.grading import (
    assert_close,
    assert_function_gradients,
    assert_gradient,
    assert_layer_gradients,
    assert_numerical_gradient,
    assert_scalar,
    call_student,
    check,
    check_stable,
    checks_called_in,
    expect_callable,
    find_forbidden_calls,
    forbid_calls,
    seal,
)
from course_utils.layers.base import Layer

REAL_ASSERTION_ERROR = AssertionError
RNG = np.random.default_rng(7)


def message(fn, *args, **kwargs) -> str:
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        fn(*args, **kwargs)
    return str(info.value)


# =======================================================================================
# assert_close / assert_scalar / to_array
# =======================================================================================
def test_assert_close_passes_within_tolerance_and_accepts_tf_tensors():
    x = RNG.standard_normal((3, 4))
    assert_close(x + 1e-9, x, "out")
    assert_close(tf.constant(x), x, "out")
    assert_close(2.0, np.float64(2.0), "scalar")
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), "nan where expected")


@pytest.mark.parametrize(
    ("got", "expected", "pattern"),
    [
        (None, np.ones(3), r"`out` is None: did you forget to `return`"),
        ((np.ones(3), {}), np.ones(3), r"tuple of 2 items .*return only the result"),
        (np.ones((3, 2)), np.ones((2, 3)), r"expected shape \(2, 3\), got \(3, 2\) — looks transp"),
        (np.ones((4, 1)), np.ones(4), r"extra or missing axis of size 1"),
        (np.ones((4, 4)), np.ones(4), r"broadcast of \(N,\) against \(N, 1\)"),
        (np.ones(6), np.ones((2, 3)), r"same number of entries, different layout"),
        (np.ones(3), np.float64(1.0), r"expected a single number"),
        (np.array([1, 2]), np.array([1.0, 2.0]), r"integer dtype int64 .*integer division"),
        (np.array([True]), np.array([1.0]), r"boolean dtype"),
        (np.array([1.0, np.inf]), np.array([1.0, 2.0]), r"contains inf at index \(1,\)"),
        (np.array([[1.0, np.nan]]), np.array([[1.0, 2.0]]), r"contains NaN at index \(0, 1\)"),
        (np.array(["a"]), np.array([1.0]), r"expected numbers"),
    ],
    ids=[
        "none",
        "tuple",
        "transposed-shape",
        "extra-axis",
        "broadcast",
        "reshape",
        "array-for-scalar",
        "int",
        "bool",
        "inf",
        "nan",
        "str",
    ],
)
def test_assert_close_shape_dtype_and_nonfinite_messages(got, expected, pattern):
    assert pytest.raises(REAL_ASSERTION_ERROR, assert_close, got, expected, "out").match(pattern)


def test_float32_is_flagged_only_when_exact_dtype_is_requested():
    x = RNG.standard_normal(5)
    assert_close(x.astype(np.float32), x, "out", rtol=1e-6)
    msg = message(assert_close, x.astype(np.float32), x, "out", exact_dtype=True)
    assert "expected dtype float64, got float32" in msg


@pytest.mark.parametrize(
    ("transform", "pattern"),
    [
        (lambda e: -e, r"sign is flipped"),
        (lambda e: 8 * e, r"N = 8 times too large: did you forget to divide by the batch size"),
        (lambda e: e / 8, r"N = 8 times too small"),
        (lambda e: 2.5 * e, r"constant factor: your values are 2.5 × expected"),
        (lambda e: e + 0.25, r"off by a constant: every value is 0.25 away"),
        (lambda e: e.T, r"transpose of the expected"),
        (lambda e: 0 * e, r"all zeros"),
        (
            lambda e: e + np.where(np.arange(8)[:, None] % 3 == 1, 1.0, 0.0),
            r"only rows \[1, 4, 7\]",
        ),
    ],
    ids=["sign", "times-N", "over-N", "factor", "offset", "transposed", "zeros", "rows"],
)
def test_assert_close_value_hints(transform, pattern):
    expected = RNG.standard_normal((8, 8)) + 3.0
    msg = message(assert_close, transform(expected), expected, "dw", batch_size=8)
    assert "worst at index" in msg and "expected" in msg and ", got" in msg
    assert pytest.raises(
        REAL_ASSERTION_ERROR, assert_close, transform(expected), expected, "dw", batch_size=8
    ).match(pattern)


def test_assert_close_worst_index_and_count():
    expected = np.zeros((3, 4))
    got = expected.copy()
    got[2, 1] = 5.0
    got[0, 0] = 1.0
    msg = message(assert_close, got, expected, "out")
    assert "2 of 12 entries differ" in msg
    assert "worst at index (2, 1): expected 0, got 5" in msg


@pytest.mark.parametrize(
    ("got", "pattern"),
    [
        (None, r"is None"),
        (np.array([0.5]), r"NumPy array of shape \(1,\)"),
        (np.array(0.5), r"NumPy array of shape \(\)"),
        (np.True_, r"boolean"),
        (3, r"integer 3: a count instead of a fraction"),
        (np.int64(3), r"integer 3"),
        ([0.5], r"list of length 1"),
        (tf.constant(0.5), r"EagerTensor of shape \(\)"),
        ("0.5", r"expected a number, got str"),
    ],
    ids=["none", "array", "0d", "bool", "int", "np-int", "list", "tensor", "str"],
)
def test_assert_scalar_messages(got, pattern):
    assert pytest.raises(REAL_ASSERTION_ERROR, assert_scalar, got, "acc").match(pattern)


def test_assert_scalar_accepts_python_and_numpy_floats():
    assert assert_scalar(0.5, "acc") == 0.5
    assert assert_scalar(np.float32(0.25), "acc") == 0.25
    assert assert_scalar(2, "n", kind="number") == 2.0


# =======================================================================================
# call_student / expect_callable
# =======================================================================================
def test_call_student_detects_in_place_mutation_and_names_the_argument():
    def normalise(scores, y):
        scores -= scores.max(axis=1, keepdims=True)
        return scores

    x = np.array([[1.0, 2.0], [3.0, 0.5]])
    msg = message(call_student, normalise, x, np.array([0, 1]))
    assert "modified its argument `scores` in place" in msg
    assert "index (0, 0) was" in msg


def test_call_student_turns_exceptions_into_assertion_errors_with_shapes_and_hint():
    def broken(x):
        return x @ np.ones((5, 2))

    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        call_student(broken, np.ones((3, 4)), hint="check the matmul order")
    msg = str(info.value)
    assert "`broken` raised ValueError" in msg and "x: shape (3, 4) float64" in msg
    assert "Hint: check the matmul order" in msg
    assert isinstance(info.value.__cause__, ValueError)


def test_call_student_explains_not_implemented():
    def stub(x):
        raise NotImplementedError

    assert "not implemented yet" in message(call_student, stub, np.ones(2))


def test_expect_callable_rejects_non_functions_and_library_objects():
    assert "did you run the cell" in message(expect_callable, None, "accuracy")
    assert "did you run the cell" in message(expect_callable, 0.5, "accuracy")
    assert "not a library one" in message(expect_callable, np.mean, "accuracy")
    assert "not a library one" in message(expect_callable, F.softmax, "softmax")
    expect_callable(lambda s, y: 0.0, "accuracy")


# =======================================================================================
# Gradient checks with diagnosis
# =======================================================================================
class Affine(Layer):
    """A test layer whose backward can be broken on purpose (``bug``)."""

    def __init__(self, D, M, bug=None, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"w": rng.standard_normal((D, M)), "b": rng.standard_normal(M)}
        self.bug = bug

    def forward(self, x):
        if self.bug == "mutate_x":
            x *= 1.0 + 0.0 * x  # no-op numerically...
            x[0, 0] += 1.0  # ...but this changes the caller's array
        self._cache = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, dout):
        x = self._pop_cache()
        w = self.params["w"]
        dx, dw, db = dout @ w.T, x.T @ dout, dout.sum(axis=0)
        n = x.shape[0]
        if self.bug == "dw_transposed_shape":
            dw = dw.T
        elif self.bug == "dw_transposed_values":
            dw = dw.T
        elif self.bug == "dx_negated":
            dx = -dx
        elif self.bug == "db_times_n":
            db = db * n
        elif self.bug == "dx_wrong_rows":
            dx = dx.copy()
            dx[[2, 5]] = 0.0
        elif self.bug == "mutate_dout":
            dout[:] = 0.0
        elif self.bug == "missing_db":
            self.grads["w"] = dw
            return dx
        elif self.bug == "sgd_in_backward":
            self.params["w"] -= 0.1 * dw
        self.grads["w"], self.grads["b"] = dw, db
        return dx


@pytest.mark.parametrize(
    ("bug", "dims", "pattern"),
    [
        (
            "dw_transposed_shape",
            (4, 3),
            r"expected shape \(4, 3\), got \(3, 4\) — looks transposed",
        ),
        ("dw_transposed_values", (4, 4), r"gradient w is wrong.*\n.*transpose of the expected"),
        ("dx_negated", (4, 3), r"gradient dx is wrong.*\n.*sign is flipped"),
        ("db_times_n", (4, 3), r"gradient b .*\n.*N = 8 times too large: did you forget to divide"),
        ("dx_wrong_rows", (4, 3), r"gradient dx .*\n.*only batch rows \[2, 5\] \(of 8\)"),
        ("mutate_x", (4, 3), r"Affine.forward` modified its argument `x` in place"),
        ("mutate_dout", (4, 3), r"Affine.backward` modified its argument `dout` in place"),
        ("missing_db", (4, 3), r"grads\['b'\] is missing after backward"),
        ("sgd_in_backward", (4, 3), r"params\['w'\] changed during forward/backward"),
    ],
)
def test_layer_gradient_diagnoses(bug, dims, pattern):
    x = RNG.standard_normal((8, dims[0]))
    msg = message(assert_layer_gradients, Affine(*dims, bug=bug), x)
    assert pytest.raises(
        REAL_ASSERTION_ERROR, assert_layer_gradients, Affine(*dims, bug=bug), x.copy()
    ).match(pattern), msg


def test_layer_gradient_check_passes_correct_layer_full_and_sampled():
    x = RNG.standard_normal((8, 4))
    report = assert_layer_gradients(Affine(4, 3), x)
    assert report.max_error < 1e-8
    assert_layer_gradients(Affine(4, 3), x, sample=5)
    msg = message(assert_layer_gradients, Affine(4, 3, bug="dx_negated"), x, sample=5)
    assert "5 sampled entries" in msg and "sign is flipped" in msg


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, _ = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def test_function_gradient_check_passes_and_diagnoses():
    x, w, b = RNG.standard_normal((6, 4)), RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    assert_function_gradients(affine_forward, affine_backward, [x, w, b])

    def backward_missing_mean(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dx, dw * 6, db

    msg = message(assert_function_gradients, affine_forward, backward_missing_mean, [x, w, b])
    assert "gradient dw is wrong" in msg and "N = 6 times too large" in msg

    def forward_no_cache(x, w, b):
        return x @ w + b

    msg = message(assert_function_gradients, forward_no_cache, affine_backward, [x, w, b])
    assert "forward must return a pair (out, cache), got ndarray" in msg

    msg = message(
        assert_function_gradients, affine_forward, lambda d, c: affine_backward(d, c)[:2], [x, w, b]
    )
    assert "expected 3 gradients" in msg


def test_assert_gradient_and_numerical_gradient_helpers():
    x = RNG.standard_normal((5, 3))
    assert_numerical_gradient(lambda v: np.tanh(v), x, 1 - np.tanh(x) ** 2)
    msg = message(
        assert_numerical_gradient, lambda v: np.tanh(v), x, -(1 - np.tanh(x) ** 2), name="dx"
    )
    assert "sign is flipped" in msg
    # A gradient that is legitimately 0 passes despite ~1e-11 rounding noise.
    assert_gradient(np.zeros(3), np.array([1e-11, 0.0, -3e-12]), "db")
    assert "is missing (None)" in message(assert_gradient, None, np.ones(3), "db")


# =======================================================================================
# Stability probe
# =======================================================================================
def naive_softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def stable_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def naive_log_softmax(x):
    return np.log(stable_softmax(x))


def test_check_stable_passes_stable_and_fails_naive_with_hint(capfd):
    check_stable(stable_softmax, expected_fn=F.softmax)
    msg = message(check_stable, naive_softmax, expected_fn=F.softmax)
    assert "not numerically stable: it returned NaN" in msg
    assert "|values| up to 1000" in msg and "subtract the row max before exp" in msg
    msg = message(check_stable, naive_log_softmax, expected_fn=F.log_softmax)
    assert "returned -inf" in msg and "log-softmax" in msg
    assert capfd.readouterr().err == ""


def test_check_stable_with_tuple_inputs_and_wrong_but_finite_result():
    logits = np.array([[1000.0, -1000.0]])
    check_stable(lambda x, s: s * stable_softmax(x), [(logits, 2.0)], lambda x, s: s * F.softmax(x))
    msg = message(check_stable, lambda x: 0.5 + 0 * x, logits, F.softmax, name="softmax")
    assert "softmax(...) on extreme inputs" in msg


# =======================================================================================
# forbid_calls: every aliasing form, no false positive
# =======================================================================================
import tensorflow as tf2  # noqa: E402
from tensorflow import nn  # noqa: E402
from tensorflow.nn import softmax as sneaky  # noqa: E402

sm_alias = tf.nn.softmax  # "a module-level alias assigned in another cell"
TABLE = {"f": tf.nn.softmax}
FORBIDDEN = ["tf.nn.softmax", "course_utils.functional.softmax"]


def allowed(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def uses_direct(x):
    return tf.nn.softmax(x)


def uses_module_alias(x):
    return tf2.nn.softmax(x)


def uses_from_import_as(x):
    return sneaky(x)


def uses_submodule(x):
    return nn.softmax(x)


def uses_getattr(x):
    return getattr(tf.nn, "softmax")(x)  # noqa: B009


def uses_global_alias(x):
    return sm_alias(x)


def uses_default(x, f=tf.nn.softmax):
    return f(x)


def uses_container(x):
    return TABLE["f"](x)


def uses_local_import(x):
    from tensorflow.nn import softmax as t

    return t(x)


def uses_math_alias(x):
    import tensorflow as tf3

    return tf3.math.softmax(x)  # the same object as tf.nn.softmax


def _helper(x):
    return sm_alias(x)


def uses_helper(x):
    return _helper(x)


def _helper2(x):
    return _helper(x)


def uses_helper_two_levels(x):
    return _helper2(x)


def uses_dict(x):
    return tf.nn.__dict__["softmax"](x)


def uses_course_utils(x):
    return F.softmax(x)


def uses_computed_getattr(x):
    return getattr(tf.nn, "soft" + "max")(x)


def uses_eval(x):
    return eval("tf.nn.softmax")(x)


def make_closure():
    f = tf.nn.softmax

    def uses_closure(x):
        return f(x)

    return uses_closure


@tf.function
def tf_function_student(x):
    return tf.nn.softmax(x)


@tf.function
def _tf_helper(x):
    return sneaky(x)


def uses_tf_function_helper(x):
    return _tf_helper(x)


class StudentSoftmax:
    def forward(self, x):
        return self._impl(x)

    def _impl(self, x):
        return tf2.nn.softmax(x)


class StudentSoftmaxOk:
    def forward(self, x):
        return allowed(x)

    @staticmethod
    def helper(x):
        return tf.exp(x)


@pytest.mark.parametrize(
    ("fn", "pattern"),
    [
        (uses_direct, r"`tf.nn.softmax` is tf.nn.softmax"),
        (uses_module_alias, r"`tf2.nn.softmax` is tf.nn.softmax"),
        (uses_from_import_as, r"`sneaky` is tf.nn.softmax"),
        (uses_submodule, r"`nn.softmax` is tf.nn.softmax"),
        (uses_getattr, r"`tf.nn.softmax` is tf.nn.softmax"),
        (uses_global_alias, r"`sm_alias` is tf.nn.softmax"),
        (uses_default, r"default argument is tf.nn.softmax"),
        (uses_container, r"`TABLE` contains tf.nn.softmax"),
        (uses_local_import, r"`t` is tf.nn.softmax"),
        (uses_math_alias, r"`tf3.math.softmax` is tf.nn.softmax"),
        (uses_helper, r"your helper `_helper` .*`sm_alias` is tf.nn.softmax"),
        (uses_helper_two_levels, r"your helper `_helper2` .* -> your helper `_helper` "),
        (uses_dict, r"tf.nn.softmax"),
        (uses_course_utils, r"`F.softmax` is course_utils.functional.softmax"),
        (uses_computed_getattr, r"getattr on a module with a computed name"),
        (uses_eval, r"dynamic code/lookup `eval"),
        (make_closure(), r"`f` is tf.nn.softmax"),
        (StudentSoftmax, r"method `StudentSoftmax._impl` .*`tf2.nn.softmax` is tf.nn.softmax"),
        (StudentSoftmax(), r"method `StudentSoftmax._impl`"),
        (tf_function_student, r"`tf.nn.softmax` is tf.nn.softmax"),
        (uses_tf_function_helper, r"your helper `_tf_helper` .*`sneaky` is tf.nn.softmax"),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_forbid_calls_sees_through_aliasing(fn, pattern):
    msg = message(forbid_calls, fn, FORBIDDEN, hint="use tf.exp and tf.reduce_sum")
    assert pytest.raises(REAL_ASSERTION_ERROR, forbid_calls, fn, FORBIDDEN).match(pattern), msg
    assert msg.endswith("Hint: use tf.exp and tf.reduce_sum")


def test_forbid_calls_no_false_positive():
    forbid_calls(allowed, FORBIDDEN)
    forbid_calls(StudentSoftmaxOk, FORBIDDEN)
    forbid_calls(stable_softmax, FORBIDDEN)
    assert find_forbidden_calls(uses_direct, ["tf.exp"]) == []


def test_forbid_calls_accepts_objects_and_subclasses_of_forbidden_classes():
    class MyDense(tf.keras.layers.Dense):
        pass

    assert find_forbidden_calls(uses_direct, [tf.nn.softmax])
    assert "derives from it" in message(forbid_calls, MyDense, [tf.keras.layers.Dense])


def _define_in_fake_cell(source: str, namespace: dict, filename: str):
    """Compile ``source`` like IPython does: under a cell filename registered in linecache."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def test_forbid_calls_on_notebook_cell_source_and_when_source_lies():
    ns = {"tf": tf, "sm": tf.nn.softmax}
    cell = "def student(x):\n    return sm(x)\n"
    _define_in_fake_cell(cell, ns, "<ipython-input-99-abc>")
    assert "`sm` is tf.nn.softmax" in message(forbid_calls, ns["student"], FORBIDDEN)

    # Source the checker would read says one thing, the compiled code does another.
    honest = "def liar(x):\n    return tf.exp(x)\n"
    _define_in_fake_cell("def liar(x):\n    return sm(x)\n", ns, "<ipython-input-100-def>")
    linecache.cache["<ipython-input-100-def>"] = (0, None, honest.splitlines(True), "x")
    assert "compiled code" in message(forbid_calls, ns["liar"], FORBIDDEN)

    # No source at all: the bytecode's names are resolved.
    exec(compile("def nosrc(x):\n    return sm(x)\n", "<nowhere>", "exec"), ns)
    assert "`sm` is tf.nn.softmax" in message(forbid_calls, ns["nosrc"], FORBIDDEN)


# =======================================================================================
# check decorator: one stdout line, nothing on stderr, failures propagate with name
# =======================================================================================
@check
def check_demo_softmax(softmax):
    x = np.array([[1.0, 2.0, 3.0], [800.0, 0.0, -800.0]])
    assert_close(call_student(softmax, x), F.softmax(x), "softmax(x)")


def test_check_prints_exactly_one_line_and_nothing_on_stderr(capfd):
    check_demo_softmax(stable_softmax)
    out, err = capfd.readouterr()
    assert out == "✔ check_demo_softmax passed\n"
    assert err == ""


def noisy_naive_softmax(x):
    print("debug", file=sys.stderr)
    warnings.warn("student warning", stacklevel=1)
    return naive_softmax(x)


def test_failing_check_leaks_no_warning_to_stderr(capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as in a fresh kernel: warnings would print
        msg = message(check_demo_softmax, noisy_naive_softmax)
    assert msg.startswith("check_demo_softmax: `softmax(x)` contains NaN")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_registered_checks_and_checks_called_in():
    assert "check_demo_softmax" in grading.registered_checks()
    src = (
        "from grader_tests import welcome\nwelcome.check_accuracy(accuracy)\n"
        "### BEGIN HIDDEN TESTS\nwelcome.check_accuracy_hidden(accuracy)\n"
    )
    assert checks_called_in(src) == ["check_accuracy", "check_accuracy_hidden"]


# =======================================================================================
# Sealing
# =======================================================================================
def test_grader_modules_are_sealed():
    from grader_tests import welcome

    with pytest.raises(AttributeError, match="read-only"):
        welcome.check_accuracy = lambda *a: None
    with pytest.raises(AttributeError, match="read-only"):
        setattr(welcome, "check_accuracy_hidden", None)  # noqa: B010
    with pytest.raises(AttributeError, match="read-only"):
        del welcome.check_accuracy
    with pytest.raises(AttributeError, match="read-only"):
        grading.assert_close = lambda *a, **k: None
    assert callable(welcome.check_accuracy)


def test_a_sealed_package_still_imports_its_submodules(tmp_path, monkeypatch):
    pkg = tmp_path / "sealedpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from course_utils.grading import seal\nX = 1\nseal(__name__)\n"
    )
    (pkg / "sub.py").write_text("Y = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import sealedpkg
    import sealedpkg.sub

    assert sealedpkg.sub.Y == 2
    with pytest.raises(AttributeError):
        sealedpkg.X = 3
    for name in ("sealedpkg.sub", "sealedpkg"):
        sys.modules.pop(name, None)


def test_the_guard_undoes_a_patch_that_bypasses_the_seal():
    from grader_tests import welcome

    original = welcome._reference
    vars(welcome)["_reference"] = lambda scores, y: 0.5
    try:
        msg = message(welcome.check_accuracy_hidden, lambda scores, y: 0.5)
        assert "expected" in msg
    finally:
        vars(welcome)["_reference"] = original
    assert welcome._reference is original


# =======================================================================================
# Captured references survive monkeypatching done after import
# =======================================================================================
def test_checks_survive_numpy_and_builtins_monkeypatches(capfd):
    saved = {name: getattr(np, name) for name in ("allclose", "abs", "isfinite", "array")}
    saved_ae, saved_print = builtins.AssertionError, builtins.print

    class FakeAssertionError(Exception):
        pass

    try:
        np.allclose = lambda *a, **k: True
        np.abs = lambda x: 0 * x
        np.isfinite = lambda x: True
        builtins.AssertionError = FakeAssertionError
        with pytest.raises(REAL_ASSERTION_ERROR) as info:
            check_demo_softmax(lambda x: stable_softmax(x) * 2)
        assert "2 × expected" in str(info.value) or "constant factor" in str(info.value)
        assert not isinstance(info.value, FakeAssertionError)
        # ... and the kernel was restored by the check:
        assert np.allclose is saved["allclose"] and np.abs is saved["abs"]
        assert builtins.AssertionError is saved_ae

        builtins.print = lambda *a, **k: None
        check_demo_softmax(stable_softmax)  # the success line still gets out
        assert "✔ check_demo_softmax passed" in capfd.readouterr().out
    finally:
        for name, value in saved.items():
            setattr(np, name, value)
        builtins.AssertionError, builtins.print = saved_ae, saved_print


def test_patch_made_by_student_code_during_the_check_is_undone():
    saved = np.abs

    def sneaky_softmax(x):
        np.abs = lambda v: 0 * v  # tries to make every comparison pass
        return stable_softmax(x) + 1.0

    try:
        assert "off by a constant" in message(check_demo_softmax, sneaky_softmax)
    finally:
        np.abs = saved


# =======================================================================================
# The guard, in the student's own kernel (a fresh interpreter: the guard snapshots at import)
# =======================================================================================
_FORGERY_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from grader_tests import welcome
    from course_utils.grading import _core, check

    def wrong(scores, y):
        return 0.5

    def attempt(label, fn):
        try:
            fn()
        except AssertionError as exc:
            print(label, "FAILED:", str(exc).splitlines()[0][:60])

    # 3. the wrapper's closure cell swapped for a no-op check
    cells = welcome.check_accuracy.__closure__
    for cell in cells:
        if callable(cell.cell_contents) and cell.cell_contents.__name__ == "check_accuracy":
            cell.cell_contents = lambda accuracy: None
    attempt("closure", lambda: welcome.check_accuracy(wrong))
    # 4. the check function's code swapped
    welcome.check_accuracy_hidden.__wrapped__.__code__ = (lambda accuracy: None).__code__
    attempt("code", lambda: welcome.check_accuracy_hidden(wrong))
    # 5. a helper's code swapped
    welcome._reference.__code__ = (lambda scores, y: 0.5).__code__
    attempt("helper", lambda: welcome.check_accuracy(wrong))
    """
)


def test_the_guard_undoes_rewritten_checks_in_the_students_kernel(repo_root):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", _FORGERY_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo_root,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # undone by the guard: the genuine check ran and failed
    for label in ("closure", "code", "helper"):
        assert f"{label} FAILED: check_accuracy" in out, out


def test_suspicious_lines_flags_tampering_but_not_ordinary_code():
    honest = textwrap.dedent(
        """
        def accuracy(scores, y):
            pred = np.argmax(scores, axis=1)  # grader_tests in a comment is fine
            ok = pred == y
            return float(np.mean(ok))
        """
    )
    assert grading.suspicious_lines(honest) == []
    hostile = textwrap.dedent(
        """
        import builtins, sys
        np.allclose = lambda *a, **k: True
        welcome.check_accuracy.__closure__[0].cell_contents = None
        key = open("/proc/self/environ").read()
        get_ipython().set_custom_exc((AssertionError,), lambda *a: None)
        sys.modules["grader_tests.welcome"] = None
        """
    )
    reasons = "\n".join(grading.suspicious_lines(hostile))
    for reason in (
        "touches builtins",
        "rebinds a NumPy function",
        "function internals",
        "process environment",
        "exception handling",
        "manipulates loaded modules",
    ):
        assert reason in reasons, reasons


def test_seal_is_idempotent():
    import grader_tests.welcome as welcome

    assert seal("grader_tests.welcome") is welcome


SETUP = "from course_utils.environment import import_tensorflow\ntf = import_tensorflow()\n"


def test_static_scan_reads_import_tensorflow_as_an_import_of_tensorflow():
    from course_utils.grading.static_scan import static_findings

    honest = "def softmax(x):\n    return tf.exp(x - tf.reduce_max(x, -1, keepdims=True))\n"
    built_in = "def softmax(x):\n    return tf.nn.softmax(x)\n"
    forbidden = ["tensorflow.nn.softmax", "course_utils"]
    assert static_findings([SETUP, honest], "softmax", forbidden) == []
    found = static_findings([SETUP, built_in], "softmax", forbidden)
    assert len(found) == 1 and "`tf.nn.softmax`" in found[0], found
    # A student's own module-returning call is still followed into (and found out).
    own = "from course_utils.environment import import_tensorflow as f\nt = f()\nu = f(1)\n"
    uses = "def softmax(x):\n    return t.nn.softmax(x) + u\n"
    assert len(static_findings([own, uses], "softmax", forbidden)) == 2


def test_static_scan_does_not_follow_the_instructors_cells_but_follows_the_students():
    from course_utils.grading.static_scan import static_findings

    data = "from course_utils.data import make_function_data\nX, y = make_function_data(9)\n"
    answer = "MEAN = y.mean()\ndef predict(x):\n    return x * 0 + MEAN\n"
    forbidden = ["course_utils"]
    assert static_findings([data, answer], "predict", forbidden, trusted=[True, False]) == []
    found = static_findings([data, answer], "predict", forbidden, trusted=[False, False])
    assert len(found) == 1 and "make_function_data" in found[0], found
    # The student's own redefinition of a set-up name is followed again.
    redefined = "y = make_function_data(3)[1]\n"
    found = static_findings([data, redefined, answer], "predict", forbidden, trusted=[True])
    assert len(found) == 1 and "`y = make_function_data(3)[1]`" in found[0], found
