"""Grader self-tests for grader_tests.cnn (assignment 06_cnn).

Every check passes the model answer and the alternative correct implementations (one on
``sliding_window_view``, one on ``einsum``), prints exactly one line and nothing on stderr,
and rejects each known-wrong implementation of ``wrong/cnn_wrong.py`` with a message naming
its bug; both in the student's process and through the grading link (``remote_kernel``).
The Keras checks run on the local catalogue. The accuracy checks get networks made from
trained weights kept in ``data/cnn_networks.npz`` (training them takes 2.5 minutes of
CPU; ``python tests/grader/trained_networks.py`` remakes them): three correct SmallCNNs and
two correct VGG models, and broken or untrained ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from course_utils.grading import substituted
from grader_tests import cnn

from conftest import mnist_available
from remote_kernel import catalogue_namespaces
from trained_networks import load_cnn_networks

CATALOGUE = Path(__file__).parent / "wrong" / "cnn_wrong.py"
catalogue, catalogue_server, cat = catalogue_namespaces(CATALOGUE)
REAL_ASSERTION_ERROR = AssertionError
TASKS = list(catalogue.CORRECT)


def _assert_passes(check_name, impl, capfd):
    capfd.readouterr()
    getattr(cnn, check_name)(impl)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


def _assert_rejects(check_name, impl, pattern, capfd, *args):
    capfd.readouterr()
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        getattr(cnn, check_name)(impl, *args)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    return message


CORRECT_CASES = [
    pytest.param(task, i, f"check_{task}{suffix}", id=f"{impl.__name__}-check_{task}{suffix}")
    for task, impls in catalogue.CORRECT.items()
    for i, impl in enumerate(impls)
    for suffix in ("", "_hidden")
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
def test_check_rejects_wrong_implementation_naming_the_bug(wrong_name, check_name, cat, capfd):
    _, impl, pattern, _ = cat.WRONG[wrong_name]
    _assert_rejects(check_name, impl, pattern, capfd)


def test_catalogue_size_and_alternatives():
    assert len(catalogue.WRONG) >= 40
    assert {task for task, *_ in catalogue.WRONG.values()} == set(catalogue.CORRECT)
    for task, impls in catalogue.CORRECT.items():
        assert len(impls) >= 3, task  # the model answer and at least two alternatives
        sources = [_source(f) for f in impls[1:]]
        assert any("sliding_window_view" in s for s in sources), task
        assert any("einsum" in s for s in sources), task


def _source(obj) -> str:
    import inspect

    return inspect.getsource(obj)


def test_references_agree_with_tensorflow():
    """The grader's NumPy references against tf.nn.conv2d / tf.nn.max_pool2d."""
    from grader_tests.cnn import _common as common

    rng = np.random.default_rng(0)
    for xs, ws, stride, pad in [
        ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1),
        ((1, 2, 5, 5), (3, 2, 1, 1), 1, 0),
    ]:
        x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
        np.testing.assert_allclose(
            common.conv_ref(x, w, b, stride, pad), common.tf_conv(x, w, b, stride, pad), 1e-10
        )
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0
    np.testing.assert_allclose(common.pool_ref(x, 3, 2), common.tf_max_pool(x, 3, 2))
    dout = rng.standard_normal(common.pool_ref(x, 3, 2).shape)
    np.testing.assert_allclose(
        common.pool_grad_ref(dout, x, 3, 2), common.tf_max_pool_grad(x, dout, 3, 2), 1e-12
    )


BROKEN_EARLIER = [
    # (check of the later task, its implementation, {notebook name: broken earlier answer})
    ("check_conv_forward_im2col", "conv_forward_im2col", {"im2col": "im2col_channels_last"}),
    ("check_conv_backward_im2col", "conv_backward_im2col", {"col2im": "col2im_overwrites"}),
    (
        "check_small_cnn",
        "SmallCNN",
        {
            "conv_forward_im2col": "conv_fast_fwd_reshape_no_transpose",
            "conv_backward_im2col": "conv_fast_bwd_dout_plain_reshape",
        },
    ),
]


@pytest.mark.parametrize(("check_name", "impl", "broken"), BROKEN_EARLIER)
@pytest.mark.parametrize("suffix", ["", "_hidden"])
def test_each_cell_scores_its_own_task(check_name, impl, broken, suffix, cat, capfd):
    """Rule 8: with an earlier task broken in the namespace, the later check still passes
    (the course's answers are substituted while it runs) and the broken one fails."""
    later = getattr(cat, impl)
    with substituted(later, {name: getattr(cat, wrong) for name, wrong in broken.items()}):
        _assert_passes(check_name + suffix, later, capfd)
    for wrong in broken.values():
        task, impl_wrong, pattern, _ = cat.WRONG[wrong]
        _assert_rejects(f"check_{task}", impl_wrong, pattern, capfd)


def test_without_the_stand_ins_the_broken_earlier_task_would_fail_the_net():
    """The substitution is what keeps SmallCNN's points: the same check body without it fails."""
    from grader_tests.cnn import small_cnn

    broken = {
        "conv_forward_im2col": catalogue.conv_fast_fwd_reshape_no_transpose,
        "conv_backward_im2col": catalogue.conv_fast_bwd_dout_plain_reshape,
    }
    with substituted(catalogue.SmallCNN, broken), pytest.raises(REAL_ASSERTION_ERROR):
        small_cnn._check_net_case(catalogue.SmallCNN, (3, 4), 3, 2, seed=0)


# --- Keras (local catalogue) -----------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_impls():
    return catalogue.keras_catalogue()


@pytest.mark.parametrize("name", catalogue.KERAS_CORRECT)
@pytest.mark.parametrize("suffix", ["", "_hidden"])
def test_build_vgg_passes_correct(name, suffix, keras_impls, capfd):
    _assert_passes(f"check_build_vgg{suffix}", keras_impls[name], capfd)


@pytest.mark.parametrize(
    ("name", "check_name"),
    [(n, c) for n, (_, checks) in catalogue.KERAS_WRONG.items() for c in checks],
)
def test_build_vgg_rejects_wrong(name, check_name, keras_impls, capfd):
    pattern, _ = catalogue.KERAS_WRONG[name]
    _assert_rejects(check_name, keras_impls[name], pattern, capfd)


# --- accuracy ----------------------------------------------------------------------------------
needs_mnist = pytest.mark.skipif(not mnist_available(), reason="MNIST files not found")


@pytest.fixture(scope="module")
def nets():
    return load_cnn_networks()


# Each call evaluates a CNN on the 10,000 test images (seconds), and a rejected network also
# has the earlier tasks' visible checks run to name one at fault. So: every network through
# the visible check here, one passing and the two rejections that read the student's own
# forward pass or weights also across the grading link, and the hidden check (it differs
# only in the sample that its forward comparison uses) on one of each.
LINKED = ["keras_order_kept", "flatten_channels_last"]


@needs_mnist
@pytest.mark.parametrize("index", range(len(catalogue.CNN_NET_CORRECT)))
def test_cnn_accuracy_passes_correctly_trained_networks(index, nets, capfd):
    _assert_passes("check_cnn_accuracy", catalogue.CNN_NET_CORRECT[index](nets), capfd)


@needs_mnist
@pytest.mark.parametrize("name", list(catalogue.CNN_NET_WRONG))
def test_cnn_accuracy_rejects_wrong_networks(name, nets, capfd):
    make, pattern = catalogue.CNN_NET_WRONG[name]
    _assert_rejects("check_cnn_accuracy", make(nets), pattern, capfd)


@needs_mnist
def test_cnn_accuracy_across_the_grading_link(nets, cat, capfd):
    _assert_passes("check_cnn_accuracy", cat.CNN_NET_CORRECT[0](nets), capfd)
    for name in LINKED:
        make, pattern = cat.CNN_NET_WRONG[name]
        _assert_rejects("check_cnn_accuracy", make(nets), pattern, capfd)


@needs_mnist
def test_cnn_accuracy_hidden(nets, capfd):
    _assert_passes("check_cnn_accuracy_hidden", catalogue.CNN_NET_CORRECT[1](nets), capfd)
    make, pattern = catalogue.CNN_NET_WRONG["flatten_channels_last"]
    _assert_rejects("check_cnn_accuracy_hidden", make(nets), pattern, capfd)


@needs_mnist
def test_cnn_accuracy_names_the_broken_earlier_task(cat, capfd):
    net = cat.SmallCNN(num_filters=(4, 8), kernel_size=3, seed=0)
    _assert_rejects(
        "check_cnn_accuracy",
        net,
        r"(?s)below the required.*your conv_backward_im2col fails its test",
        capfd,
        cat.conv_forward_im2col,
        cat.conv_fast_bwd_dout_plain_reshape,
    )


@pytest.fixture(scope="module")
def trained_keras(nets):
    return catalogue.keras_trained_catalogue(nets)


@needs_mnist
@pytest.mark.parametrize("suffix", ["", "_hidden"])
@pytest.mark.parametrize("name", catalogue.VGG_NET_CORRECT)
def test_vgg_accuracy_passes_correctly_trained_models(name, suffix, trained_keras, capfd):
    _assert_passes(f"check_vgg_accuracy{suffix}", trained_keras[name](), capfd)


@needs_mnist
@pytest.mark.parametrize(
    ("name", "suffix"),
    [(name, "") for name in catalogue.VGG_NET_WRONG] + [("statistics_reset", "_hidden")],
)  # the hidden check is the same evaluation
def test_vgg_accuracy_rejects_wrong_models(name, suffix, trained_keras, capfd):
    pattern = catalogue.VGG_NET_WRONG[name]
    _assert_rejects(f"check_vgg_accuracy{suffix}", trained_keras[name](), pattern, capfd)
