"""Grader self-tests for grader_tests.backprop (assignment 03_backprop).

Every check passes the reference and the alternative correct implementations of its task,
prints exactly one line and nothing on stderr, and rejects each known-wrong implementation
of the catalogue ``wrong/backprop_wrong.py`` with the expected diagnosis in its message.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grader_tests import backprop

from remote_kernel import catalogue_namespaces

catalogue, catalogue_server, cat = catalogue_namespaces(
    Path(__file__).parent / "wrong" / "backprop_wrong.py"
)

REAL_ASSERTION_ERROR = AssertionError


def _check(name: str):
    return getattr(backprop, name)


def _args(impl) -> tuple:
    return impl if isinstance(impl, tuple) else (impl,)


def _impl_id(impl) -> str:
    first = _args(impl)[0]
    return getattr(first, "__name__", type(first).__name__)


CORRECT_CASES = [
    pytest.param(task, i, check_name, id=f"{task}-{i}-{_impl_id(impl)}-{check_name}")
    for task, impls in catalogue.CORRECT.items()
    for i, impl in enumerate(impls)
    for check_name in catalogue.both(task)
]


@pytest.mark.parametrize(("task", "index", "check_name"), CORRECT_CASES)
def test_check_passes_correct_implementations(task, index, check_name, cat, capfd):
    _check(check_name)(*_args(cat.CORRECT[task][index]))
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


WRONG_CASES = [
    pytest.param(task, name, check_name, id=f"{task}-{name}-{check_name}")
    for task, entries in catalogue.WRONG.items()
    for name, (_, _, checks) in entries.items()
    for check_name in checks
]


@pytest.mark.parametrize(("task", "wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(
    task, wrong_name, check_name, cat, capfd
):
    impl, pattern, _ = cat.WRONG[task][wrong_name]
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        _check(check_name)(*_args(impl))
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_every_task_has_a_catalogue_and_two_checks():
    tasks = set(catalogue.CORRECT)
    assert tasks == set(catalogue.WRONG)
    for task in tasks:
        for name in catalogue.both(task):
            assert callable(_check(name)), name
    checks = {n for n in dir(backprop) if n.startswith("check_")}
    assert checks == {n for task in tasks for n in catalogue.both(task)}


def test_required_bug_classes_are_in_the_catalogue():
    """The brief's minimum catalogue: each entry exists and is rejected by both checks."""
    required = {
        ("loss_mse", "no_reg_grad"),
        ("loss_mse", "reg_twice"),
        ("loss_mse", "bias_not_summed"),
        ("loss_mse", "sigmoid_at_activation"),
        ("loss_mse", "grad_not_averaged"),
        ("loss_ce", "no_reg_grad"),
        ("loss_ce", "reg_twice"),
        ("loss_ce", "bias_not_summed"),
        ("loss_ce", "sigmoid_at_activation"),
        ("loss_ce", "grad_not_averaged"),
        ("value_add_mul", "overwrite"),
    }
    for task, name in required:
        assert set(catalogue.WRONG[task][name][2]) == set(catalogue.both(task)), (task, name)


def test_hard_coded_visible_answers_pass_only_the_visible_checks():
    backprop.check_ce_from_probabilities(catalogue.ce_probs_hard_coded)
    backprop.check_ce_from_logits(catalogue.ce_logits_hard_coded)
    backprop.check_std_backward(catalogue._std_bug("hard_coded"))
    backprop.check_function_fit(catalogue.predict_memorised_test_set)


def test_visible_values_are_the_ones_the_notebook_states():
    Y, t = backprop.BATCH_Y, backprop.BATCH_TARGETS
    assert backprop._ce_probabilities_ref(Y, t) == pytest.approx(0.4775438454427519, abs=1e-15)
    assert backprop._ce_logits_ref(Y, t) == pytest.approx(0.8489720134868745, abs=1e-15)
    f, g = backprop._std_reference(-1.0, 3.0, 0)
    assert (f["sigma"], g["x1"], g["x2"], g["m"]) == (2.0, -0.5, 0.5, 0.0)
    f, g = backprop._std_reference(-1.0, 3.0, 1)
    assert f["sigma"] == pytest.approx(2 * math.sqrt(2), abs=1e-15)
    assert g["x1"] == pytest.approx(-1 / math.sqrt(2), abs=1e-15)
    assert g["x2"] == pytest.approx(1 / math.sqrt(2), abs=1e-15)


def test_std_reference_matches_numerical_derivatives():
    for x1, x2, ddof in [(-1.0, 3.0, 0), (2.5, -0.3, 1), (0.1, 4.0, 0)]:
        _, g = backprop._std_reference(x1, x2, ddof)
        h = 1e-6
        sig = lambda a, b, k=ddof: backprop.std_forward(a, b, k)["sigma"]  # noqa: E731
        assert g["x1"] == pytest.approx((sig(x1 + h, x2) - sig(x1 - h, x2)) / (2 * h), rel=1e-7)
        assert g["x2"] == pytest.approx((sig(x1, x2 + h) - sig(x1, x2 - h)) / (2 * h), rel=1e-7)
        assert g["x1"] == pytest.approx(-g["x2"], rel=1e-12)  # symmetric for two samples


@pytest.mark.parametrize("kind", ["mse", "ce"])
@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_net_reference_matches_numerical_gradients(kind, reg):
    from course_utils.gradcheck import numerical_gradient, rel_error

    rng = np.random.default_rng(5)
    params = backprop._random_params(3, 4, 3, rng)
    X = rng.standard_normal((6, 3))
    y = backprop._targets(kind, 6, 3, rng)
    _, grads = backprop.net_reference(params, X, y, kind, reg)
    for k in backprop.PARAM_NAMES:
        num = numerical_gradient(lambda _: backprop.net_reference(params, X, y, kind, reg)[0],
                                 params[k])  # fmt: skip
        assert rel_error(num, grads[k]) < 1e-8, k


@pytest.mark.parametrize("kind", ["mse", "ce"])
def test_net_reference_loss_agrees_with_course_losses(kind):
    from course_utils.losses import mse, softmax_cross_entropy

    rng = np.random.default_rng(6)
    params = backprop._random_params(3, 5, 2, rng)
    X = rng.standard_normal((7, 3))
    y = backprop._targets(kind, 7, 2, rng)
    scores = backprop._scores(params, X)
    expected = mse(scores, y)[0] if kind == "mse" else softmax_cross_entropy(scores, y)[0]
    assert backprop.net_reference(params, X, y, kind, 0.0)[0] == pytest.approx(expected, rel=1e-12)


def test_every_gradient_bug_variant_differs_from_the_reference():
    """A diagnosis that cannot trigger is a dead branch: each variant must change something."""
    rng = np.random.default_rng(7)
    params = backprop._random_params(3, 4, 3, rng)
    X = rng.standard_normal((6, 3))
    for kind in ("mse", "ce"):
        y = backprop._targets(kind, 6, 3, rng)
        _, ref = backprop.net_reference(params, X, y, kind, 0.2)
        for bug in backprop._GRAD_BUGS:
            if (bug, kind) in {("mse_no_2", "ce"), ("ce_no_one_hot", "mse")}:
                continue
            _, wrong = backprop.net_reference(params, X, y, kind, 0.2, bug)
            assert any(backprop._rel(ref[k], wrong[k]) > 1e-3 for k in ref), (bug, kind)


def test_checks_do_not_modify_their_module_data():
    before = (backprop.BATCH_Y.copy(), backprop.BATCH_TARGETS.copy())
    backprop.check_ce_from_logits(catalogue.ce_logits_reference)
    with pytest.raises(REAL_ASSERTION_ERROR):
        backprop.check_ce_from_logits(catalogue.ce_logits_mutates)
    assert np.array_equal(backprop.BATCH_Y, before[0])
    assert np.array_equal(backprop.BATCH_TARGETS, before[1])


def test_value_checks_accept_a_class_whose_backward_zeroes_grads_first():
    """Zeroing every grad in the graph before the pass is a legitimate design."""
    Base = catalogue.make_value_class()
    original = Base.backward

    def backward(self):
        seen, stack = set(), [self]
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                node.grad = 0.0
                stack.extend(node._prev)
        original(self)

    Base.backward = backward
    backprop.check_value_backward(Base)
    backprop.check_value_backward_hidden(Base)


def test_random_graphs_really_need_a_topological_order():
    """The hidden random DAGs defeat breadth-first order (else the check would be weak)."""
    rng = np.random.default_rng(34)
    backprop._diamond_spec(rng)
    bfs = catalogue.make_value_class("bfs_order")
    failures = 0
    for _ in range(4):
        spec = backprop._random_dag_spec(25, rng)
        try:
            backprop._check_backward_case(bfs, spec, "(probe)")
        except REAL_ASSERTION_ERROR:
            failures += 1
    assert failures >= 3


@pytest.mark.parametrize("x", [3.0, -1.7, 0.45])
def test_diamond_graphs_alone_catch_overwritten_gradients(x):
    """`=` instead of `+=` fails the diamond part too, not only the pre-set-grad probe."""
    with pytest.raises(REAL_ASSERTION_ERROR, match=r"use `\+=`|accumulate with `\+=`"):
        backprop._check_diamonds(catalogue.make_value_class("overwrite"), x)
    backprop._check_diamonds(catalogue.make_value_class(), x)
