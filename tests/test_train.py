"""The training loop: fit, History, EarlyStopping, evaluate, predict, accuracy."""

import contextlib
import re
import time

import numpy as np
import pytest

from course_utils import optim
from course_utils.data import DataLoader
from course_utils.layers import Dropout, Linear, ReLU, Sequential
from course_utils.losses import mse, softmax_cross_entropy
from course_utils.schedules import step_decay
from course_utils.train import (
    Callback,
    EarlyStopping,
    History,
    accuracy,
    evaluate,
    fit,
    predict,
)


def blobs(n=300, seed=0, dtype=np.float64):
    """Three well separated Gaussian blobs in 2-D with int labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    X = centres[y] + 0.5 * rng.normal(size=(n, 2))
    return X.astype(dtype), y


def mlp(seed=0, dtype=np.float64, dropout=None):
    layers = [Linear(2, 16, seed=seed, dtype=dtype), ReLU()]
    if dropout is not None:
        layers.append(Dropout(dropout, seed=seed))
    return Sequential(*layers, Linear(16, 3, seed=seed + 1, dtype=dtype))


def run(num_epochs=5, seed=0, callbacks=(), val=True, verbose=0, lr=0.01, **kw):
    X, y = blobs(seed=seed)
    Xv, yv = blobs(120, seed=seed + 100)
    model = mlp(seed)
    opt = optim.Adam(model, lr=lr)
    loader = DataLoader(X, y, batch_size=32, seed=seed)
    history = fit(
        model,
        softmax_cross_entropy,
        opt,
        loader,
        val_data=(Xv, yv) if val else None,
        num_epochs=num_epochs,
        callbacks=callbacks,
        verbose=verbose,
        **kw,
    )
    return model, opt, history, (Xv, yv)


# --- fit ------------------------------------------------------------------------------
def test_fit_learns_a_small_problem():
    model, opt, history, (Xv, yv) = run(num_epochs=15)
    assert history.loss[-1] < 0.3 * history.loss[0]
    assert history.val_accuracy[-1] >= 0.95
    assert opt.iterations == 15 * 10  # 300 samples / 32 per batch -> 10 batches


class PlainModel:
    """A student-style model: forward/backward(dout) only, no input_grad argument."""

    def __init__(self):
        self.net = mlp()
        self.backward_kwargs = []

    def forward(self, x):
        return self.net.forward(x)

    def backward(self, dout):
        self.backward_kwargs.append({})
        return self.net.backward(dout)

    @property
    def params(self):
        return self.net.params

    @property
    def grads(self):
        return self.net.grads

    def zero_grad(self):
        self.net.zero_grad()


def test_fit_skips_the_input_gradient_when_the_model_can(monkeypatch):
    calls = []
    original = Sequential.backward

    def backward(self, dout, input_grad=True):
        calls.append(input_grad)
        return original(self, dout, input_grad)

    monkeypatch.setattr(Sequential, "backward", backward)
    model, opt, _, _ = run(num_epochs=1, val=False)
    assert calls == [False] * opt.iterations


def test_fit_trains_a_model_whose_backward_takes_only_dout():
    X, y = blobs()
    plain, ref = PlainModel(), mlp()
    fit(plain, softmax_cross_entropy, optim.Adam(plain, lr=0.01), DataLoader(X, y, 32, seed=0),
        num_epochs=2, verbose=0)  # fmt: skip
    fit(ref, softmax_cross_entropy, optim.Adam(ref, lr=0.01), DataLoader(X, y, 32, seed=0),
        num_epochs=2, verbose=0)  # fmt: skip
    assert len(plain.backward_kwargs) == 20
    for key, value in ref.params.items():  # skipping dx changes nothing else
        np.testing.assert_array_equal(plain.params[key], value, err_msg=key)


def test_history_contents():
    model, opt, history, (Xv, yv) = run(num_epochs=4)
    d = history.as_dict()
    assert list(d) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time"]
    assert d["epoch"] == [1, 2, 3, 4] and len(history) == 4
    assert all(len(v) == 4 for v in d.values())
    assert d["lr"] == [0.01] * 4
    assert all(t > 0 for t in d["epoch_time"])
    assert all(0 <= a <= 1 for a in d["accuracy"] + d["val_accuracy"])
    # the validation numbers are those of the model after the epoch
    val_loss, val_acc = evaluate(model, softmax_cross_entropy, Xv, yv)
    assert d["val_loss"][-1] == pytest.approx(val_loss, rel=1e-12)
    assert d["val_accuracy"][-1] == pytest.approx(val_acc, rel=1e-12)
    d["loss"].append(1.0)  # as_dict returns copies
    assert len(history.loss) == 4 and history["loss"] is history.loss
    assert history.stopped_epoch is None and "History(epochs=4" in repr(history)
    with pytest.raises(AttributeError, match="has no record 'val_acc'"):
        _ = history.val_acc


def test_training_loss_is_the_sample_weighted_mean_of_batch_losses():
    X, y = blobs(50)  # batches of 32 and 18

    model = mlp()
    seen = []

    def recording_loss(y_hat, y_batch):
        value, grad = softmax_cross_entropy(y_hat, y_batch)
        seen.append((value, len(y_batch)))
        return value, grad

    history = fit(
        model, recording_loss, optim.SGD(model, lr=0.1), DataLoader(X, y, 32, seed=0),
        num_epochs=1, verbose=0,
    )  # fmt: skip
    want = sum(v * n for v, n in seen) / sum(n for _, n in seen)
    assert [n for _, n in seen] == [32, 18]
    assert history.loss[0] == pytest.approx(want, rel=1e-12)


def test_fit_is_deterministic_with_seeds():
    _, _, h1, _ = run(num_epochs=3, seed=4)
    m2, _, h2, _ = run(num_epochs=3, seed=4)
    m3, _, _, _ = run(num_epochs=3, seed=4)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h1[key] == h2[key]
    for key, value in m2.params.items():
        np.testing.assert_array_equal(value, m3.params[key])
    _, _, h4, _ = run(num_epochs=3, seed=5)
    assert h4.loss != h1.loss


def test_per_epoch_schedule_sets_the_learning_rate():
    sched = step_decay(0.04, step_size=2, factor=0.5)
    _, opt, history, _ = run(num_epochs=5, schedule=sched)
    assert history.lr == [0.04, 0.04, 0.02, 0.02, 0.01]
    assert opt.lr == 0.01


def test_per_step_schedule_is_recorded_at_each_epoch_start():
    X, y = blobs(64)
    model = mlp()
    sched = step_decay(0.1, step_size=2, factor=0.5)  # 2 batches per epoch
    history = fit(
        model, softmax_cross_entropy, optim.SGD(model, schedule=sched),
        DataLoader(X, y, 32, seed=0), num_epochs=3, verbose=0,
    )  # fmt: skip
    assert history.lr == [0.1, 0.05, 0.025]


def test_regression_with_no_metrics():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 1))
    y = np.sin(3 * X)
    model = Sequential(Linear(1, 32, seed=0), ReLU(), Linear(32, 1, seed=1))
    history = fit(
        model, mse, optim.Adam(model, lr=0.01), DataLoader(X, y, 20, seed=0),
        val_data=(X, y), num_epochs=30, verbose=0, metrics=(),
    )  # fmt: skip
    assert set(history.as_dict()) == {"epoch", "loss", "val_loss", "lr", "epoch_time"}
    assert history.val_loss[-1] < 0.2 * history.val_loss[0]
    loss, acc = evaluate(model, mse, X, y)
    assert np.isnan(acc) and loss == pytest.approx(history.val_loss[-1])


def test_regression_with_accuracy_explains_the_fix():
    X = np.zeros((4, 1))
    model = Sequential(Linear(1, 1, seed=0))
    with pytest.raises(ValueError, match=r"metrics=\(\)"):
        fit(model, mse, optim.SGD(model), DataLoader(X, X, 2), num_epochs=1, verbose=0)


def test_custom_metric_function():
    def top_class_is_zero(y_hat, y):
        return float(np.mean(np.argmax(y_hat, axis=1) == 0))

    _, _, history, _ = run(num_epochs=2, metrics=("accuracy", top_class_is_zero))
    assert len(history.top_class_is_zero) == 2 and len(history.val_top_class_is_zero) == 2


def test_non_finite_loss_stops_training():
    X, y = blobs(64)
    model = mlp()
    calls = []

    def exploding(y_hat, y_batch):
        calls.append(1)
        value, grad = softmax_cross_entropy(y_hat, y_batch)
        return (float("nan") if len(calls) > 2 else value), grad

    history = fit(model, exploding, optim.SGD(model), DataLoader(X, y, 32), num_epochs=5, verbose=0)
    assert len(history) == 2 and history.stopped_epoch == 2
    assert "nan" in history.stop_reason


# --- output: stdout only, one line per epoch ------------------------------------------
EPOCH_LINE = re.compile(
    r"^epoch [1-3]/3  loss \d\.\d{4}  acc \d+\.\d\d%  val_loss \d\.\d{4}  "
    r"val_acc \d+\.\d\d%  lr 1\.0e-02  \d+\.\ds$"
)


def test_verbose_progress_goes_to_stdout_never_stderr(capfd):
    run(num_epochs=3, verbose=1)
    out, err = capfd.readouterr()
    assert err == ""
    lines = [ln for ln in re.split(r"[\r\n]", out) if EPOCH_LINE.match(ln.strip())]
    assert len(lines) == 3


def test_verbose_2_prints_exactly_one_line_per_epoch(capfd):
    run(num_epochs=3, verbose=2)
    out, err = capfd.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 3 and all(EPOCH_LINE.match(ln) for ln in lines), out


def test_verbose_0_prints_nothing(capfd):
    run(num_epochs=2, verbose=False, callbacks=[EarlyStopping(patience=0)])
    assert capfd.readouterr() == ("", "")


def test_progress_can_go_to_a_given_file(capfd):
    import io

    buf = io.StringIO()
    run(num_epochs=2, verbose=1, file=buf)
    assert capfd.readouterr() == ("", "")
    assert "epoch 2/2  loss" in buf.getvalue()
    assert "batch" in buf.getvalue()  # the tqdm bar was drawn there too


def test_in_jupyter_the_saved_output_is_one_summary_plus_one_line_per_epoch(repo_root):
    """Run fit in a real kernel: the tqdm widget is replaced by a one-line summary, the
    epoch lines go to stdout, nothing goes to stderr."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = f"""
import sys
sys.path.insert(0, {str(repo_root)!r})
import numpy as np
from course_utils.data import DataLoader
from course_utils.layers import Linear, ReLU, Sequential
from course_utils.losses import softmax_cross_entropy
from course_utils.optim import Adam
from course_utils.train import fit
X = np.random.default_rng(0).normal(size=(640, 2))
y = (X[:, 0] > 0).astype(int)
model = Sequential(Linear(2, 8, seed=0), ReLU(), Linear(8, 2, seed=1))
h = fit(model, softmax_cross_entropy, Adam(model, lr=0.01), DataLoader(X, y, 32, seed=0),
        val_data=(X, y), num_epochs=3)
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.get("name") == "stderr"], outputs
    stdout = "".join(o.text for o in outputs if o.get("name") == "stdout")
    assert len(stdout.splitlines()) == 3 and all(
        EPOCH_LINE.match(line) for line in stdout.splitlines()
    ), stdout
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1, displays  # the widget, replaced by the summary
    assert displays[0].data == {"text/plain": displays[0].data["text/plain"]}
    assert displays[0].data["text/plain"].startswith("trained 3 epochs in ")


# --- early stopping -------------------------------------------------------------------
class ParamRecorder(Callback):
    """Keeps a copy of the parameters after every epoch."""

    def on_train_begin(self, model, optimizer, history):
        self.model, self.snapshots = model, []

    def on_epoch_end(self, epoch, logs):
        self.snapshots.append({k: v.copy() for k, v in self.model.params.items()})


def run_diverging_validation(restore_best=True, patience=2, num_epochs=20):
    """Validation labels are permuted, so val_loss gets worse as the model learns."""
    X, y = blobs(seed=0)
    Xv, yv = blobs(120, seed=1)
    yv = (yv + 1) % 3
    model = mlp()
    rec = ParamRecorder()
    stopper = EarlyStopping(patience=patience, restore_best=restore_best)
    history = fit(
        model, softmax_cross_entropy, optim.Adam(model, lr=0.01), DataLoader(X, y, 32, seed=0),
        val_data=(Xv, yv), num_epochs=num_epochs, callbacks=[rec, stopper], verbose=0,
    )  # fmt: skip
    return model, rec, stopper, history, (Xv, yv)


def test_early_stopping_stops_and_restores_the_best_weights():
    model, rec, stopper, history, (Xv, yv) = run_diverging_validation(patience=2)
    best = int(np.argmin(history.val_loss)) + 1
    assert stopper.best_epoch == best
    assert len(history) == best + 2 < 20  # stopped after `patience` bad epochs
    assert history.stopped_epoch == best + 2 and "EarlyStopping" in history.stop_reason
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, rec.snapshots[best - 1][key])
    val_loss, _ = evaluate(model, softmax_cross_entropy, Xv, yv)
    assert val_loss == pytest.approx(min(history.val_loss), rel=1e-12)


def test_early_stopping_without_restore_keeps_the_last_weights():
    model, rec, stopper, history, _ = run_diverging_validation(restore_best=False)
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, rec.snapshots[-1][key])


def test_early_stopping_patience_zero_and_min_delta():
    stopper = EarlyStopping(monitor="loss", patience=0, min_delta=0.05)
    stopper.on_train_begin(mlp(), None, History())
    assert stopper.on_epoch_end(1, {"loss": 1.0}) is False
    assert stopper.on_epoch_end(2, {"loss": 0.9}) is False  # improved by 0.1 > 0.05
    assert stopper.on_epoch_end(3, {"loss": 0.89}) is True  # 0.01 is not enough
    assert stopper.best == 0.9 and stopper.best_epoch == 2


def test_early_stopping_counts_bad_epochs_in_a_row():
    stopper = EarlyStopping(monitor="loss", patience=2)
    stopper.on_train_begin(mlp(), None, History())
    results = [stopper.on_epoch_end(e, {"loss": v}) for e, v in enumerate([1.0, 1.1, 0.9, 1.0], 1)]
    assert results == [False, False, False, False]  # the improvement at 3 reset the count
    assert stopper.on_epoch_end(5, {"loss": 1.0}) is True and stopper.stopped_epoch == 5


def test_early_stopping_on_accuracy_maximises():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    assert stopper.mode == "max"
    stopper.on_train_begin(mlp(), None, History())
    assert not stopper.on_epoch_end(1, {"val_accuracy": 0.5})
    assert not stopper.on_epoch_end(2, {"val_accuracy": 0.7})
    assert stopper.on_epoch_end(3, {"val_accuracy": 0.6}) and stopper.best_epoch == 2


def test_early_stopping_restores_batch_norm_running_statistics():
    from course_utils.layers import BatchNorm

    model = Sequential(Linear(2, 4, seed=0), BatchNorm(4))
    stopper = EarlyStopping(monitor="loss")
    stopper.on_train_begin(model, None, History())
    stopper.on_epoch_end(1, {"loss": 1.0})
    saved = model.layers[1].running_mean.copy()
    model.layers[1].running_mean += 5.0  # in place: the snapshot must be a copy
    stopper.on_epoch_end(2, {"loss": 2.0})
    stopper.on_train_end()
    np.testing.assert_array_equal(model.layers[1].running_mean, saved)


def test_early_stopping_on_missing_log_says_what_is_missing():
    with pytest.raises(ValueError, match=r"val_loss.*val_data"):
        run(num_epochs=2, val=False, callbacks=[EarlyStopping()])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"patience": -1}, "patience"),
        ({"patience": 1.5}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"mode": "up"}, "mode"),
        ({"monitor": ""}, "monitor"),
    ],
)
def test_early_stopping_validates(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        EarlyStopping(**kwargs)


# --- evaluate / predict / accuracy ----------------------------------------------------
def test_evaluate_matches_a_hand_computation():
    X, y = blobs(100)
    model = mlp()
    loss, acc = evaluate(model, softmax_cross_entropy, X, y, batch_size=7)
    logits = model.forward(X)
    want_loss, _ = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    assert acc == pytest.approx(np.mean(np.argmax(logits, axis=1) == y))
    onehot = np.eye(3)[y]
    assert evaluate(model, softmax_cross_entropy, X, onehot)[1] == pytest.approx(acc)


def test_predict_batches_in_eval_mode_and_restores_the_mode():
    X, _ = blobs(50)
    model = mlp(dropout=0.5)
    model.train()
    out = predict(model, X, batch_size=8)
    assert model.training and all(layer.training for layer in model)
    model.eval()
    np.testing.assert_allclose(out, model.forward(X), rtol=1e-12)  # dropout off
    predict(model, X)
    assert not model.training and not model.layers[2].training


def test_predict_restores_the_mode_after_an_error():
    model = mlp()
    model.train()
    with pytest.raises(ValueError):
        predict(model, np.zeros((3, 5)))
    assert model.training


def test_accuracy_labels_and_one_hot():
    y_hat = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(y_hat, np.array([1, 0, 0, 0])) == 0.75
    assert accuracy(y_hat, np.array([1.0, 0.0, 0.0, 0.0])) == 0.75
    assert accuracy(y_hat, np.eye(2)[[1, 0, 0, 0]]) == 0.75
    with pytest.raises(ValueError, match="^y:"):
        accuracy(y_hat, np.array([0.5, 0, 0, 0]))
    with pytest.raises(ValueError, match="^y:"):
        accuracy(y_hat, np.array([1, 0]))
    with pytest.raises(ValueError, match="^y_hat:"):
        accuracy(np.zeros((4, 1)), np.array([1, 0, 0, 0]))


# --- argument validation --------------------------------------------------------------
def _fit_kwargs():
    X, y = blobs(40)
    model = mlp()
    return {
        "model": model,
        "loss": softmax_cross_entropy,
        "optimizer": optim.SGD(model),
        "train_loader": DataLoader(X, y, 8),
        "num_epochs": 1,
        "verbose": 0,
    }


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"model": object()}, "model"),
        ({"loss": "mse"}, "loss"),
        ({"optimizer": 0.1}, "optimizer"),
        ({"train_loader": (np.zeros((4, 2)), np.zeros(4))}, "train_loader"),
        ({"train_loader": np.zeros((4, 2))}, "train_loader"),
        ({"val_data": np.zeros((4, 2))}, "val_data"),
        ({"val_data": (np.zeros((4, 2)), np.zeros(3))}, "val_data"),
        ({"num_epochs": 0}, "num_epochs"),
        ({"num_epochs": 2.0}, "num_epochs"),
        ({"schedule": 0.1}, "schedule"),
        ({"callbacks": [object()]}, r"callbacks\[0\]"),
        ({"verbose": 3}, "verbose"),
        ({"metrics": "accuracy"}, "metrics"),
        ({"metrics": ("f1",)}, "metrics"),
    ],
)
def test_fit_validates_its_arguments(change, name):
    kwargs = _fit_kwargs() | change
    with pytest.raises(ValueError, match=rf"^{name}:"):
        fit(**kwargs)


def test_fit_refuses_two_schedules():
    kwargs = _fit_kwargs()
    kwargs["optimizer"] = optim.SGD(kwargs["model"], schedule=step_decay(0.1, 10))
    with pytest.raises(ValueError, match="^schedule: the optimizer already follows"):
        fit(**kwargs, schedule=step_decay(0.1, 1))


def test_evaluate_and_predict_validate():
    model = mlp()
    with pytest.raises(ValueError, match="^batch_size:"):
        predict(model, np.zeros((3, 2)), batch_size=0)
    with pytest.raises(ValueError, match="^X:"):
        predict(model, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="^model:"):
        predict(object(), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="^y:"):
        evaluate(model, softmax_cross_entropy, np.zeros((3, 2)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="^loss:"):
        evaluate(model, None, np.zeros((3, 2)), np.zeros(3, dtype=int))


# --- the full MNIST target ------------------------------------------------------------
@pytest.mark.slow
def test_mlp_reaches_98_percent_on_mnist_within_10_epochs():
    from conftest import mnist_available

    if not mnist_available():
        pytest.skip("MNIST files not found (set COURSE_DATA_DIR)")
    from course_utils.data import load_mnist

    data = load_mnist(flatten=True, download=False, verbose=False)
    f32 = np.float32
    model = Sequential(
        Linear(784, 256, seed=0, dtype=f32), ReLU(),
        Linear(256, 128, seed=1, dtype=f32), ReLU(),
        Linear(128, 10, seed=2, dtype=f32),
    )  # fmt: skip

    class StopAt98(Callback):
        def on_epoch_end(self, epoch, logs):
            return logs["val_accuracy"] >= 0.98

    # One BLAS thread: these matrices are small, and OpenBLAS' spinning threads slow an
    # epoch down 5-10x when the 2 cores are shared with other processes.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        threadpool_limits = None
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas") if threadpool_limits else contextlib.nullcontext():
        history = fit(
            model, softmax_cross_entropy, optim.Adam(model, lr=1e-3),
            DataLoader(data.X_train, data.y_train, batch_size=128, seed=0),
            val_data=(data.X_test, data.y_test), num_epochs=10, callbacks=[StopAt98()],
            verbose=2,
        )  # fmt: skip
    elapsed = time.perf_counter() - start
    print(f"MNIST MLP: {max(history.val_accuracy):.4f} after {len(history)} epochs, {elapsed:.0f}s")
    assert max(history.val_accuracy) >= 0.98, history.as_dict()
    assert all(p.dtype == f32 for p in model.params.values())
