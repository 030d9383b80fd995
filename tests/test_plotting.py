"""Plotting helpers: structure of the figures (titles, labels, axes, images), not pixels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from course_utils import plotting as P  # noqa: E402
from course_utils.train import History  # noqa: E402

RED = mcolors.to_rgba(P.MISTAKE_COLOR)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history(with_val=True, with_acc=True):
    h = History()
    for e in range(1, 4):
        logs = {"loss": 1.0 / e}
        if with_acc:
            logs["accuracy"] = 0.5 + 0.1 * e
        if with_val:
            logs["val_loss"] = 1.2 / e
            if with_acc:
                logs["val_accuracy"] = 0.45 + 0.1 * e
        h.append(e, logs)
    return h


def _labels_of(ax):
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


# --- plot_history ---------------------------------------------------------------------
def test_plot_history_two_panels_train_and_validation():
    fig = P.plot_history(_history(), title="MLP")
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert _labels_of(loss_ax) == ("Loss per epoch", "epoch", "loss")
    assert _labels_of(acc_ax) == ("Accuracy per epoch", "epoch", "accuracy (%)")
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        assert len(ax.lines) == 2
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), [1.2, 0.6, 0.4])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [60, 70, 80])  # percent
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    assert fig._suptitle.get_text() == "MLP"


def test_plot_history_loss_only_and_plain_dicts():
    fig = P.plot_history({"loss": [3, 2, 1]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    fig = P.plot_history(_history(with_val=False))
    assert len(fig.axes) == 2 and all(len(ax.lines) == 1 for ax in fig.axes)


def test_plot_history_accepts_a_keras_history():
    class KerasLike:  # keras.callbacks.History keeps a dict in .history
        history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.6, 0.8]}

    fig = P.plot_history(KerasLike())
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1


@pytest.mark.parametrize("bad", [[1, 2, 3], {"val_loss": [1.0]}, {"loss": []}])
def test_plot_history_validates(bad):
    with pytest.raises(ValueError, match="^history:"):
        P.plot_history(bad)


# --- plot_image_grid ------------------------------------------------------------------
def test_image_grid_highlights_mistakes():
    rng = np.random.default_rng(0)
    images = rng.random((10, 28, 28))
    labels = np.arange(10)
    preds = labels.copy()
    preds[[2, 7]] = [5, 1]
    fig = P.plot_image_grid(images, labels, preds, ncols=4)
    assert len(fig.axes) == 10  # 3 rows of 4, the two spare axes removed
    assert all(len(ax.images) == 1 for ax in fig.axes)
    red = [i for i, ax in enumerate(fig.axes) if mcolors.to_rgba(ax.title.get_color()) == RED]
    assert red == [2, 7]
    assert fig.axes[2].get_title() == "pred 5 / true 2" and fig.axes[0].get_title() == "0"
    framed = [
        i for i, ax in enumerate(fig.axes) if any(isinstance(p, Rectangle) for p in ax.patches)
    ]
    assert framed == [2, 7]
    assert fig._suptitle.get_text() == "10 images, 2 misclassified (red)"


def test_image_grid_layouts_and_names():
    rng = np.random.default_rng(0)
    flat = rng.random((3, 784))
    fig = P.plot_image_grid(flat, labels=[0, 1, 1], class_names=["cat", "dog"])
    assert [ax.get_title() for ax in fig.axes] == ["cat", "dog", "dog"]
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    chw = rng.random((2, 3, 8, 8))
    fig = P.plot_image_grid(chw, predictions=np.eye(4)[[3, 0]])  # scores -> arg-max
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), chw[1].transpose(1, 2, 0))
    assert [ax.get_title() for ax in fig.axes] == ["pred 3", "pred 0"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"images": np.zeros((2, 10))}, "images"),
        ({"images": np.zeros((2, 5, 5, 2))}, "images"),
        ({"images": np.zeros((0, 5, 5))}, "images"),
        ({"images": np.zeros((2, 5, 5)), "labels": [1]}, "labels"),
        ({"images": np.zeros((2, 5, 5)), "predictions": [1, 2, 3]}, "predictions"),
        ({"images": np.zeros((2, 5, 5)), "ncols": 0}, "ncols"),
    ],
)
def test_image_grid_validates(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        P.plot_image_grid(**kwargs)


# --- confusion matrix -----------------------------------------------------------------
def test_confusion_matrix_counts():
    y = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    m = P.confusion_matrix(y, y_pred)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    scores = np.eye(4)[y_pred]
    np.testing.assert_array_equal(P.confusion_matrix(y, scores), np.pad(m, (0, 1)))
    assert P.confusion_matrix(y, y_pred, num_classes=5).shape == (5, 5)


def test_plot_confusion_matrix_structure():
    y = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    fig = P.plot_confusion_matrix(y, y_pred, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the matrix and its colour bar
    assert _labels_of(ax) == ("Confusion matrix (accuracy 66.67%)", "predicted class", "true class")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert sorted(t.get_text() for t in ax.texts) == sorted("110010102")
    np.testing.assert_array_equal(ax.images[0].get_array(), P.confusion_matrix(y, y_pred))
    fig = P.plot_confusion_matrix(y, y_pred, normalize=True)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array().sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (([0, 1, 2], [0, 1]), "y_pred"),
        (([0, 1.5], [0, 1]), "y"),
        (([0, -1], [0, 1]), "y"),
    ],
)
def test_confusion_matrix_validates(args, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        P.confusion_matrix(*args)


def test_confusion_matrix_class_names_too_few():
    with pytest.raises(ValueError, match="^num_classes:"):
        P.plot_confusion_matrix([0, 3], [0, 1], class_names=["a", "b"])


# --- decision boundary ----------------------------------------------------------------
def test_decision_boundary_regions_follow_the_classifier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(int)
    calls = []

    def predict_fn(P_):
        calls.append(P_.shape)
        return np.column_stack([-P_[:, 0], P_[:, 0]])  # scores: class 1 iff x1 > 0

    fig = P.plot_decision_boundary(predict_fn, X, y, resolution=30)
    ax = fig.axes[0]
    assert calls == [(900, 2)]
    assert _labels_of(ax) == ("Decision boundary", "$x_1$", "$x_2$")
    assert len(ax.collections) >= 2  # the filled regions and the scatter
    offsets = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(offsets, X)
    regions = ax.collections[0].get_paths()  # one filled path per class
    assert len(regions) == 2
    assert regions[1].contains_point((1.0, 0.3)) and not regions[1].contains_point((-1.0, 0.3))
    assert regions[0].contains_point((-1.0, -0.3)) and not regions[0].contains_point((1.0, -0.3))


def test_decision_boundary_accepts_labels_and_single_scores():
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    P.plot_decision_boundary(lambda P_: (P_[:, 0] > 0.5).astype(int), X, [0, 1], resolution=5)
    P.plot_decision_boundary(lambda P_: P_[:, :1], X, [0, 1], resolution=5)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((None, np.zeros((3, 2)), [0, 1, 0]), "predict_fn"),
        ((lambda P_: P_[:, 0], np.zeros((3, 3)), [0, 1, 0]), "X"),
        ((lambda P_: P_[:, 0], np.zeros((3, 2)), [0, 1]), "y"),
        ((lambda P_: np.zeros(7, dtype=int), np.zeros((3, 2)), [0, 1, 0]), "predict_fn"),
    ],
)
def test_decision_boundary_validates(args, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        P.plot_decision_boundary(*args, resolution=5)


# --- conv filters ---------------------------------------------------------------------
@pytest.mark.parametrize(("C", "shape"), [(1, (5, 5)), (3, (5, 5, 3)), (4, (5, 5))])
def test_conv_filters(C, shape):
    w = np.random.default_rng(0).normal(size=(6, C, 5, 5))
    fig = P.plot_conv_filters(w, ncols=4)
    assert len(fig.axes) == 6
    assert all(len(ax.images) == 1 for ax in fig.axes)
    img = fig.axes[0].images[0].get_array()
    assert img.shape == shape and img.min() == 0 and img.max() == 1  # scaled per filter
    assert fig.axes[5].get_title() == "filter 5"
    assert fig._suptitle.get_text().startswith("6 conv filters 5x5")


def test_conv_filters_validates():
    with pytest.raises(ValueError, match="^w:"):
        P.plot_conv_filters(np.zeros((6, 5, 5)))
    with pytest.raises(ValueError, match="^ncols:"):
        P.plot_conv_filters(np.zeros((6, 1, 5, 5)), ncols=-1)


# --- function fit ---------------------------------------------------------------------
def test_function_fit():
    x = np.linspace(-1, 1, 50)[::-1]  # unsorted on purpose
    y_true = np.sin(3 * x)
    y_pred = y_true + 0.1
    fig = P.plot_function_fit(x, y_true, y_pred[:, None], x_train=x[:10], y_train=y_true[:10])
    ax = fig.axes[0]
    assert _labels_of(ax) == ("Function fit (MSE 0.01)", "x", "y")
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    assert np.all(np.diff(ax.lines[0].get_xdata()) > 0)  # drawn in x order
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "true function", "model", "training data",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"y_pred": np.zeros(4)}, "y_pred"),
        ({"y_true": np.zeros((5, 2))}, "y_true"),
        ({"x_train": np.zeros(3)}, "x_train/y_train"),
    ],
)
def test_function_fit_validates(kwargs, name):
    args = {"x": np.zeros(5), "y_true": np.zeros(5), "y_pred": np.zeros(5)} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}:"):
        P.plot_function_fit(**args)
