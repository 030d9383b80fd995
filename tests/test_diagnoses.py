"""The structural diagnoses of course_utils.grading, on injected defects and correct variants.

Defects are injected into random matrices of several shapes (never taken from the task
catalogues of tests/grader/wrong/): each must be named by exactly one sentence of the right
kind. Correct variants (the exact value plus rounding noise just inside the tolerance,
float64 results computed in another order, float32 results where float32 is allowed) must
get no diagnosis at all. Also: the reading of NumPy/TensorFlow shape errors, the wiring
through assert_close / the gradient assertions / call_student, the visible-case note of
hidden checks, and the statistical initial-scale check.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.grading import (
    assert_close,
    assert_gradient,
    assert_init_scale,
    assert_layer_gradients,
    call_student,
    check,
    explain_difference,
    explain_error_text,
)
from course_utils.grading.init_scale import chi2_interval, rms_interval

REAL_ASSERTION_ERROR = AssertionError


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _softmax(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis=1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


# =======================================================================================
# Injected defects: (got, expected, keyword arguments, pattern of the one sentence)
# =======================================================================================
def _l2_case(seed, shape, reg, got_of):
    """A gradient data + reg * W; ``got_of(data, W)`` injects the defect."""
    rng = _rng(seed)
    data, W = rng.standard_normal(shape), rng.standard_normal(shape)
    kw = {"parts": {"reg * W": reg * W}, "factors": {"reg": reg, "N": shape[0]}}
    return got_of(data, W), data + reg * W, kw


def _precedence_case(seed, n, c, through=None):
    """(softmax - onehot) / N, written softmax - onehot / N; optionally seen through a1.T @."""
    rng = _rng(seed)
    s = _softmax(rng.standard_normal((n, c)))
    y = np.eye(c)[rng.integers(0, c, n)]
    a1 = rng.uniform(0.1, 0.9, (n, through)) if through else None

    def out(d):
        return a1.T @ d if through else d

    parts = {"softmax/N": out(s / n), "−onehot/N": out(-y / n)}
    return out(s - y / n), out((s - y) / n), {"parts": parts, "factors": {"N": n}}


def _defects():
    r = _rng
    e64 = r(1).standard_normal((6, 4))
    sq = r(2).standard_normal((6, 6))
    rect = r(3).standard_normal((4, 7))
    x = r(4).standard_normal((5, 4))
    X = r(5).standard_normal((30, 4)) * [1.0, 3.0, 0.5, 10.0] + 2.0
    z0 = (X - X.mean(0)) / X.std(0)
    z1 = (X - X.mean(0)) / X.std(0, ddof=1)
    W = r(6).standard_normal((5, 2))
    g = r(7).standard_normal((5, 2))
    v = r(8).standard_normal(10)
    return [
        ("factor-N", e64 * 6, e64, {"factors": {"N": 6}}, r"N = 6 times too large"),
        ("factor-1/N", e64 / 6, e64, {"factors": {"N": 6}}, r"N = 6 times too small"),
        ("factor-C", e64 * 4, e64, {"factors": {"N": 6, "C": 4}}, r"C = 4 times too large"),
        ("factor-1/NC", e64 / 24, e64, {"factors": {"N": 6, "C": 4}}, r"1/\(N·C\)"),
        ("sign", -v, v, {}, r"sign is flipped"),
        ("factor-2", 2 * x, x, {}, r"2 × expected \(a factor 2 too many"),
        ("factor-1/2", 0.5 * sq, sq, {}, r"1/2 × expected \(a factor 2 is missing"),
        ("factor-unnamed", 2.5 * x, x, {}, r"constant factor: your values are 2.5 × expected"),
        ("ddof-matrix", z1, z0, {"factors": {"N": 30}}, r"√\(\(N−1\)/N\) \(N = 30\).*ddof=1"),
        ("ddof-scalar", 2.0, 2 * math.sqrt(2), {"factors": {"N": 2}}, r"ddof=1"),
        ("scalar-summed", 16 * 0.731, 0.731, {"factors": {"N": 16}}, r"N = 16 times too large"),
        ("scalar-1/N", 0.731 / 5, 0.731, {"factors": {"N": 5}}, r"N = 5 times too small"),
        ("transpose-square", sq.T, sq, {}, r"transpose of the expected"),
        ("transpose-reshaped", rect.T.reshape(rect.shape), rect, {}, r"reshaped to \(4, 7\)"),
        ("offset", x + 0.3, x, {}, r"off by a constant: every value is 0.3 away"),
        (
            "row-offset",
            e64 + r(9).standard_normal((6, 1)),
            e64,
            {},
            r"every row is off by its own constant",
        ),
        (
            "column-offset",
            x + r(10).standard_normal(4),
            x,
            {},
            r"every column is off by its own constant",
        ),
        ("row-factor", x * r(11).uniform(1.5, 3, (5, 1)), x, {}, r"each row is scaled"),
        ("column-factor", e64 * r(12).uniform(1.5, 3, 4), e64, {}, r"each column is scaled"),
        (
            "wrong-axis-log",
            _log_softmax(x, axis=0),
            _log_softmax(x),
            {},
            r"\(a value per row\) \+ \(a value per column\).*wrong axis",
        ),
        (
            "wrong-axis-softmax",
            _softmax(e64, axis=0),
            _softmax(e64),
            {},
            r"\(a factor per row\) × \(a factor per column\).*wrong axis",
        ),
        ("l2-missing", *_l2_case(13, (4, 5), 0.1, lambda d, W: d), r"term reg \* W is missing"),
        (
            "l2-twice",
            *_l2_case(14, (6, 3), 0.3, lambda d, W: d + 0.6 * W),
            r"term reg \* W is counted twice",
        ),
        (
            "l2-sign",
            *_l2_case(15, (3, 8), 0.05, lambda d, W: d - 0.05 * W),
            r"term reg \* W has the wrong sign",
        ),
        (
            "l2-scales-data",
            *_l2_case(16, (7, 4), 0.2, lambda d, W: d + 0.2 * d),
            r"\(1 \+ reg\) × \(expected − reg \* W\).*instead of adding the term reg \* W",
        ),
        (
            "data-not-averaged",
            *_l2_case(17, (5, 4), 0.1, lambda d, W: 5 * d + 0.1 * W),
            r"N = 5 × \(the rest\) \+ 1 × \(reg \* W\).*off by the factor N = 5",
        ),
        ("precedence", *_precedence_case(18, 6, 3), r"softmax/N is N = 6 times.*precedence"),
        (
            "precedence-through-matmul",
            *_precedence_case(19, 8, 4, through=5),
            r"softmax/N is N = 8 times.*`\(a - b\) / N`",
        ),
        (
            "extra-multiple-of-parameter",
            g + 0.01 * W,
            g,
            {"related": {"params['w']": W}},
            r"expected \+ 0.01 × params\['w'\]: an extra term proportional",
        ),
        (
            "float32-dtype",
            v.astype(np.float32).astype(np.float64),
            v,
            {"got_dtype": np.float32, "rtol": 1e-9},
            r"your result is float32",
        ),
        (
            "float32-representable",
            sq.astype(np.float32).astype(np.float64),
            sq,
            {"rtol": 1e-9},
            r"exactly representable in float32",
        ),
        (
            "float32-band-scalar",
            1.3862943611198906 * (1 + 1.1e-7),
            1.3862943611198906,
            {"rtol": 1e-10},
            r"precision of float32",
        ),
        ("rounded", np.round(v, 3), v, {}, r"rounded to 3 decimals"),
        ("zeros", np.zeros_like(sq), sq, {}, r"all zeros"),
        (
            "scalar-part-missing",
            1.25,
            1.25 + 0.0375,
            {"parts": {"reg/2 ||W||²": 0.0375}, "factors": {"N": 4}},
            r"term reg/2 \|\|W\|\|² is missing",
        ),
        (
            "3d-factor",
            r(20).standard_normal((3, 4, 2)) * 3,
            None,
            {"factors": {"C": 3}},
            r"C = 3 times too large",
        ),
    ]


DEFECTS = _defects()


@pytest.mark.parametrize(
    ("got", "expected", "kwargs", "pattern"),
    [pytest.param(*case[1:], id=case[0]) for case in DEFECTS],
)
def test_an_injected_defect_is_named_by_one_sentence(got, expected, kwargs, pattern):
    if expected is None:  # "3d-factor": expected is got / 3
        expected = np.asarray(got) / 3
    hints = explain_difference(got, expected, **kwargs)
    assert len(hints) == 1, hints
    assert re.search(pattern, hints[0]), hints[0]


def test_there_are_at_least_30_injected_defects_over_several_shapes():
    assert len(DEFECTS) >= 30
    shapes = {np.shape(case[1]) for case in DEFECTS}
    assert len(shapes) >= 8


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12),
    c=st.integers(2, 9),
    seed=st.integers(0, 2**31),
    which=st.sampled_from(["N", "C", "1/N", "N·C"]),
)
def test_named_factors_on_random_matrices(n, c, seed, which):
    if len({n, c, n * c, 2}) < 4:  # the factor would be ambiguous (N = C, C = 2, ...)
        return
    e = _rng(seed).standard_normal((n, c)) + 0.1
    factor = {"N": n, "C": c, "1/N": 1 / n, "N·C": n * c}[which]
    hints = explain_difference(factor * e, e, factors={"N": n, "C": c})
    expected = {
        "N": rf"N = {n} times too large",
        "C": rf"C = {c} times too large",
        "1/N": rf"N = {n} times too small",
        "N·C": rf"N·C = {n * c} times too large",
    }[which]
    assert len(hints) == 1 and re.search(expected, hints[0]), hints


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 10), c=st.integers(2, 8), seed=st.integers(0, 2**31))
def test_per_row_and_per_column_offsets_on_random_matrices(n, c, seed):
    rng = _rng(seed)
    e = rng.standard_normal((n, c))
    rows = rng.uniform(0.5, 2.0, (n, 1)) * rng.choice([-1, 1], (n, 1))
    cols = rng.uniform(0.5, 2.0, c) * rng.choice([-1, 1], c)
    if n * c - n >= 2:
        assert "every row is off" in explain_difference(e + rows, e)[0]
    if n * c - c >= 2:
        assert "every column is off" in explain_difference(e + cols, e)[0]


# =======================================================================================
# Correct variants: no diagnosis
# =======================================================================================
SHAPES = [(5, 3), (8, 8), (7,), (4, 6), (3, 4, 2), (12, 10), (1, 5), (20, 2)]
TOLERANCES = [1e-5, 1e-6, 1e-9, 1e-10]


def _noise_at_tolerance(shape, rtol, seed):
    """The exact value and a copy perturbed by up to 0.9 rtol in every entry."""
    rng = _rng(seed)
    e = rng.standard_normal(shape) * 3
    return e * (1 + 0.9 * rtol * rng.uniform(-1, 1, shape)), e


def _correct_variants():
    out = []
    for i, shape in enumerate(SHAPES):
        for rtol in TOLERANCES:
            got, e = _noise_at_tolerance(shape, rtol, 100 * i + int(-math.log10(rtol)))
            out.append((f"noise-{shape}-{rtol:g}", got, e, {"rtol": rtol, "factors": {"N": 5}}))
    rng = _rng(7)
    x, w = rng.standard_normal((9, 5)), rng.standard_normal((5, 4))
    out += [
        ("matmul-einsum", np.einsum("nd,dm->nm", x, w), x @ w, {}),
        (
            "matmul-loop",
            np.array([[sum(a * b for a, b in zip(r, c, strict=True)) for c in w.T] for r in x]),
            x @ w,
            {},
        ),  # fmt: skip
        ("softmax-exp-log", np.exp(_log_softmax(x)), _softmax(x), {}),
        ("log-softmax-lse", x - np.logaddexp.reduce(x, axis=1, keepdims=True), _log_softmax(x), {}),
        ("sum-fsum", np.array([math.fsum(r) for r in x]), x.sum(axis=1), {}),
        ("mean-reversed", x[::-1].mean(axis=0), x.mean(axis=0), {}),
        ("std-two-pass", np.sqrt(((x - x.mean(0)) ** 2).mean(0)), x.std(0), {"factors": {"N": 9}}),
        (
            "l2-other-order",
            0.1 * w + np.einsum("nd,nm->dm", x, x @ w),
            x.T @ (x @ w) + w * 0.1,
            {"parts": {"reg * W": 0.1 * w}, "factors": {"reg": 0.1, "N": 9}},
        ),
        (
            "float32-allowed",
            (x @ w).astype(np.float32).astype(np.float64),
            x @ w,
            {"rtol": 1e-4, "got_dtype": np.float32},
        ),  # fmt: skip
        ("sigmoid-tanh", 0.5 * (1 + np.tanh(0.5 * x)), 1 / (1 + np.exp(-x)), {"rtol": 1e-12}),
    ]
    return out


CORRECT = _correct_variants()


@pytest.mark.parametrize(
    ("got", "expected", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in CORRECT]
)
def test_a_correct_variant_gets_no_diagnosis(got, expected, kwargs):
    assert explain_difference(got, expected, **kwargs) == []


def test_correct_variants_with_structure_arguments_get_no_diagnosis():
    rng = _rng(11)
    for n, c in [(6, 3), (8, 4), (5, 5), (12, 2)]:
        W, d = rng.standard_normal((n, c)), rng.standard_normal((n, c))
        got = (d + 0.1 * W) * (1 + 0.9e-6 * rng.uniform(-1, 1, (n, c)))
        kw = {"parts": {"reg * W": 0.1 * W}, "related": {"W": W}, "factors": {"N": n, "reg": 0.1}}
        assert explain_difference(got, d + 0.1 * W, rtol=1e-6, **kw) == []


def test_there_are_at_least_30_correct_variants():
    assert len(CORRECT) >= 30


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    rtol=st.sampled_from(TOLERANCES),
    seed=st.integers(0, 2**31),
)
def test_rounding_noise_inside_the_tolerance_is_never_diagnosed(shape, rtol, seed):
    got, e = _noise_at_tolerance(shape, rtol, seed)
    assert explain_difference(got, e, rtol=rtol, factors={"N": shape[0], "C": 3}) == []


# =======================================================================================
# Shape errors from NumPy (real messages) and TensorFlow (texts as TF 2.21 writes them)
# =======================================================================================
def _numpy_error(fn) -> tuple[str, str]:
    try:
        fn()
    except ValueError as exc:
        return type(exc).__name__, str(exc)
    raise AssertionError("no error")  # pragma: no cover


A, B = np.ones((5, 4)), np.ones((4, 3))
SHAPE_ERRORS = [
    ("dot-same-shape", lambda: np.dot(A, A), r"same shape.*element-wise.*use `\*`"),
    ("matmul-mismatch", lambda: A @ A, r"inner sizes of a matrix product.*element-wise"),
    ("dot-first-transposed", lambda: np.dot(A, np.ones((5, 3))), r"first operand.*transposed"),
    ("dot-second-transposed", lambda: np.dot(A, np.ones((3, 4))), r"second operand.*transposed"),
    ("mul-fits-matmul", lambda: A * B, r"element-wise operation .* fit a matrix product"),
    ("mul-transposed", lambda: A * A.T, r"element-wise .* one operand is transposed"),
    ("add-row-vector", lambda: A + np.ones(5), r"LAST axes.*\[:, None\]"),
]


@pytest.mark.parametrize(
    ("fn", "pattern"), [pytest.param(f, p, id=name) for name, f, p in SHAPE_ERRORS]
)
def test_numpy_shape_errors_are_read(fn, pattern):
    sentence = explain_error_text(*_numpy_error(fn))
    assert sentence and re.search(pattern, sentence), sentence


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "{{function_node __wrapped__MatMul}} Matrix size-incompatible: In[0]: [5,4], "
            "In[1]: [5,4] [Op:MatMul] name: ",
            r"same shape.*element-wise",
        ),
        (
            "{{function_node __wrapped__Mul}} Incompatible shapes: [5,4] vs. [4,3] [Op:Mul]",
            r"fit a matrix product",
        ),  # fmt: skip
    ],
)
def test_tensorflow_shape_errors_are_read(text, pattern):
    assert re.search(pattern, explain_error_text("InvalidArgumentError", text))


def test_other_errors_get_no_shape_sentence():
    assert explain_error_text("ValueError", "cannot reshape array of size 20 into (3,7)") is None
    assert explain_error_text("KeyError", "shapes (5,4) and (5,4) not aligned") is None


def test_call_student_adds_the_element_wise_hint():
    def sigmoid_backward(da, a):
        return np.dot(da, a * (1 - a))  # a matrix product where * is meant

    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        call_student(sigmoid_backward, np.ones((6, 4)), np.full((6, 4), 0.5))
    message = str(info.value)
    assert "not aligned" in message and "\nHint: " in message and "element-wise" in message


# =======================================================================================
# Wiring: assert_close, assert_gradient, assert_layer_gradients
# =======================================================================================
def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_assert_close_passes_parts_and_factors_to_the_diagnosis():
    got, expected, kw = _l2_case(21, (5, 3), 0.1, lambda d, W: d * 1.1)
    msg = _message(assert_close, got, expected, "dW", **kw)
    assert "\nHint: your result is (1 + reg) × (expected − reg * W)" in msg


def test_assert_close_names_a_float32_result_where_float64_is_expected():
    x = _rng(22).standard_normal(6)
    msg = _message(assert_close, x.astype(np.float32), x, "loss terms", rtol=1e-12)
    assert "\nHint: your result is float32" in msg


def test_assert_gradient_names_a_part_scaled_alone():
    got, expected, kw = _precedence_case(23, 7, 3, through=4)
    msg = _message(assert_gradient, got, expected, "grads['W2']", **kw)
    assert "Operator precedence" in msg


class _WeightDecayLayer:
    """x @ w whose backward adds 0.01 w to the weight gradient (an L2 that does not belong)."""

    def __init__(self, w):
        self.params, self.grads = {"w": w}, {}

    def forward(self, x):
        self.x = x
        return x @ self.params["w"]

    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout + 0.01 * self.params["w"]
        return dout @ self.params["w"].T


def test_assert_layer_gradients_names_a_multiple_of_the_parameter():
    rng = _rng(24)
    layer = _WeightDecayLayer(rng.standard_normal((4, 3)))
    msg = _message(assert_layer_gradients, layer, rng.standard_normal((6, 4)))
    assert "gradient w is wrong" in msg and "expected + 0.01 × params['w']" in msg


# =======================================================================================
# Hidden checks say when the visible case passes (hard-coded answers)
# =======================================================================================
_VISIBLE_X = np.array([1.0, -2.0, 3.0])


@check
def check_demo_double(fn) -> None:
    assert_close(call_student(fn, _VISIBLE_X.copy()), 2 * _VISIBLE_X, "fn(x)")


@check
def check_demo_double_hidden(fn) -> None:
    x = np.array([0.5, 4.0, -1.5, 2.0])
    assert_close(call_student(fn, x.copy()), 2 * x, "fn(x) on other values")


def test_a_hidden_failure_says_the_visible_case_passed(capfd):
    def hard_coded(x):
        return np.array([2.0, -4.0, 6.0])  # the visible answer, whatever x is

    check_demo_double(hard_coded)
    msg = _message(check_demo_double_hidden, hard_coded)
    assert "expected shape (4,), got (3,)" in msg
    assert "\nHint: the visible case (check_demo_double) passes with this code" in msg
    wrong_everywhere = _message(check_demo_double_hidden, lambda x: 3 * x)
    assert "visible case" not in wrong_everywhere  # the visible check fails too
    out, err = capfd.readouterr()
    assert out == "✔ check_demo_double passed\n" and err == ""


# =======================================================================================
# The statistical initial-scale check
# =======================================================================================
@pytest.mark.parametrize("n", [500, 1000, 10_000, 78_400])
def test_the_chi2_interval_matches_scipy(n):
    stats = pytest.importorskip("scipy.stats")
    lo, hi = chi2_interval(n, 1e-8)
    assert lo == pytest.approx(stats.chi2.ppf(0.5e-8, n), rel=1e-3)
    assert hi == pytest.approx(stats.chi2.isf(0.5e-8, n), rel=1e-3)


def test_the_interval_is_calibrated_on_correct_initialisers():
    """2000 He draws of 1000 entries: ~1 % fall outside the 99 % interval, none outside 1e-8."""
    rng = _rng(25)
    sigma = math.sqrt(2 / 100)
    rms = np.sqrt(np.mean((rng.standard_normal((2000, 1000)) * sigma) ** 2, axis=1))
    lo, hi = rms_interval(1000, sigma, 1e-2)
    outside = int(np.sum((rms < lo) | (rms > hi)))
    assert 5 <= outside <= 40  # binomial(2000, 0.01): mean 20, sd 4.5
    lo, hi = rms_interval(1000, sigma, 1e-8)
    assert np.all((lo <= rms) & (rms <= hi))
    for _ in range(3):  # and the assertion itself passes
        w = rng.standard_normal((100, 10)) * sigma
        assert_init_scale(w, sigma, "w2", stated="√(2/H)", factors={"H": 100, "C": 10})


@pytest.mark.parametrize(
    ("scale", "named"),
    [
        (math.sqrt(2 / 10), r"√\(2/C\) \(C = 10\)"),
        (math.sqrt(1 / 100), r"√\(1/H\) \(H = 100\)"),
        (1.0, r"1 \(no scaling\)"),
    ],  # fmt: skip
)
def test_a_wrong_scale_fails_and_is_named(scale, named):
    w = _rng(26).standard_normal((100, 10)) * scale
    msg = _message(
        assert_init_scale, w, math.sqrt(2 / 100), "w2", stated="√(2/H)", factors={"H": 100, "C": 10}
    )
    assert "the initial w2 has standard deviation" in msg and re.search(named, msg), msg


def test_too_small_a_matrix_is_refused():
    with pytest.raises(ValueError, match="at least 500 entries"):
        assert_init_scale(np.ones((4, 3)), 1.0, "w", stated="1")
