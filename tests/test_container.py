"""course_utils.layers.container.Sequential: the params/grads contract, modes, summary."""

import numpy as np
import pytest
from hypothesis import given

from course_utils.gradcheck import check_layer_gradients
from course_utils.layers import (
    Dropout,
    Flatten,
    Layer,
    Linear,
    Matmul,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from course_utils.layers.container import accepts_input_grad
from course_utils.losses import softmax_cross_entropy

from strategies import GRAD_SETTINGS, assert_grad_close, seeds


def mlp(seed=0):
    return Sequential(
        Linear(784, 256, seed=seed),
        ReLU(),
        Linear(256, 128, seed=seed + 1),
        ReLU(),
        Linear(128, 10, seed=seed + 2),
    )


def small(seed=0):
    return Sequential(
        Linear(4, 6, seed=seed), PReLU(6), Dropout(0.5, seed=seed), Linear(6, 3, seed=seed + 1)
    )


def test_summary_of_the_784_256_128_10_mlp(capsys):
    text = mlp().summary((784,))
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    assert lines[0] == 'Model: "sequential"'
    rows = [line.split() for line in lines if line.startswith(tuple("01234"))]
    assert [r[0] for r in rows] == ["0.linear", "1.relu", "2.linear", "3.relu", "4.linear"]
    assert [r[-1] for r in rows] == ["200,960", "0", "32,896", "0", "1,290"]
    assert [" ".join(r[2:4]) for r in rows] == [
        "(None, 256)",
        "(None, 256)",
        "(None, 128)",
        "(None, 128)",
        "(None, 10)",
    ]
    assert lines[-1] == "Total params: 235,146"
    assert mlp().num_params() == 235_146


def test_summary_accepts_a_batch_axis_and_can_stay_quiet(capsys):
    model = Sequential(Flatten(), Linear(12, 2, seed=0), Softmax())
    text = model.summary((None, 3, 4), print_fn=None)
    assert capsys.readouterr().out == ""
    assert "(None, 12)" in text
    assert "Total params: 26" in text


def test_summary_reports_a_shape_mismatch():
    with pytest.raises(ValueError, match=r"input_shape: expected shape \(784,\).*got \(783,\)"):
        mlp().summary((783,), print_fn=None)


def test_params_contract_names_and_shared_arrays():
    model = small()
    keys = ["0.linear.w", "0.linear.b", "1.prelu.alpha", "3.linear.w", "3.linear.b"]
    assert list(model.params) == keys
    assert model.params is not model.params  # a fresh dict on every access ...
    assert model.params["0.linear.w"] is model[0].params["w"]  # ... of the layers' own arrays
    assert model.parameters()["3.linear.b"] is model[3].params["b"]
    # An optimiser's in-place update reaches the layer:
    model.params["3.linear.b"] -= 1.0
    np.testing.assert_array_equal(model[3].params["b"], -np.ones(3))


def test_grads_are_re_read_after_every_backward():
    model = small()
    x = np.random.default_rng(0).standard_normal((5, 4))
    out = model.forward(x)
    model.backward(np.ones_like(out))
    first = model.grads
    assert list(first) == list(model.params)
    for k, g in first.items():
        assert g.shape == model.params[k].shape
    first = {k: g.copy() for k, g in first.items()}
    model.backward(2 * np.ones_like(out))
    for k, g in model.grads.items():
        np.testing.assert_allclose(g, 2 * first[k], rtol=1e-12, err_msg=k)


def test_zero_grad_zeroes_every_layer():
    model = small()
    out = model.forward(np.ones((2, 4)))
    model.backward(np.ones_like(out))
    model.zero_grad()
    assert list(model.grads) == list(model.params)
    assert not any(g.any() for g in model.grads.values())


def test_assigning_params_is_refused():
    with pytest.raises(AttributeError, match="derived from its layers"):
        small().params = {"w": np.zeros(3)}


@GRAD_SETTINGS
@given(seed=seeds)
def test_sequential_gradients_match_numerical(seed):
    model = Sequential(
        Linear(4, 5, seed=seed),
        Tanh(),
        Linear(5, 5, seed=seed + 1),
        PReLU(5, alpha_init=0.1),
        Linear(5, 3, init="xavier_normal", seed=seed + 2),
        Sigmoid(),
    )
    x = np.random.default_rng(seed).standard_normal((3, 4))
    report = check_layer_gradients(model, x)
    assert list(report.tensors) == ["dx", *model.params]
    for name, t in report.tensors.items():
        assert_grad_close(t.analytic, t.numerical, name)


def test_train_and_eval_reach_every_layer():
    model = small()
    assert model.eval() is model
    assert not model.training and not model[2].training
    x = np.random.default_rng(1).standard_normal((3, 4))
    np.testing.assert_array_equal(model.forward(x), model.forward(x))  # dropout off
    model.train()
    assert model.training and model[2].training
    assert not np.array_equal(model.forward(x), model.forward(x))


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="Sequential.backward called before forward"):
        small().backward(np.ones((2, 3)))


def test_forward_error_names_the_layer():
    model = Sequential(Linear(4, 6, seed=0), ReLU(), Linear(5, 3, seed=0))
    with pytest.raises(ValueError, match=r"layer 2 \(Linear.*x: expected shape \(N, 5\)"):
        model.forward(np.ones((2, 4)))


def test_construction():
    layers = [Linear(2, 2, seed=0), ReLU()]
    assert list(Sequential(layers)) == layers
    assert len(Sequential(*layers)) == 2
    with pytest.raises(ValueError, match=r"layers\[1\]: expected a Layer"):
        Sequential(Linear(2, 2), np.tanh)
    assert isinstance(Sequential(), Layer)
    assert "(1): ReLU()" in repr(Sequential(*layers))
    assert Sequential(*layers).get_config()["layers"][0]["class"] == "Linear"


def test_nested_sequential_keys():
    inner = Sequential(Linear(3, 2, seed=0), ReLU())
    model = Sequential(inner, Linear(2, 1, seed=1))
    assert list(model.params) == ["0.sequential.0.linear.w", "0.sequential.0.linear.b",
                                  "1.linear.w", "1.linear.b"]  # fmt: skip
    assert model.params["0.sequential.0.linear.w"] is inner[0].params["w"]


def test_plain_sgd_through_the_contract_learns_blobs():
    """An optimiser that only touches model.params / model.grads trains the model."""
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, size=300)
    x = centers[y] + 0.5 * rng.standard_normal((300, 2))
    model = Sequential(Linear(2, 16, seed=0), ReLU(), Linear(16, 3, seed=1))
    first = None
    for _ in range(100):
        loss, dout = softmax_cross_entropy(model.forward(x), y)
        first = loss if first is None else first
        model.backward(dout)
        grads = model.grads
        for k, p in model.params.items():
            p -= 0.2 * grads[k]
    assert loss < 0.3 * first
    assert np.mean(model.forward(x).argmax(axis=1) == y) > 0.95


# --- backward(dout, input_grad=False): what fit uses ----------------------------------------
class Spy(Layer):
    """Identity layer that records its backward calls and their arguments."""

    def __init__(self, with_params=False):
        super().__init__()
        self.calls = []
        if with_params:
            self.params["s"] = np.ones(1)

    def forward(self, x):
        self._cache = True
        return x

    def backward(self, dout, **kwargs):
        self.calls.append(kwargs)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return None if kwargs.get("input_grad") is False else dout


def _record_linear_backward(monkeypatch) -> list:
    """Make Linear.backward record the input_grad of each call (in call order)."""
    calls = []
    original = Linear.backward

    def backward(self, dout, input_grad=True):
        calls.append(input_grad)
        return original(self, dout, input_grad)

    monkeypatch.setattr(Linear, "backward", backward)
    return calls


def test_backward_without_input_grad_gives_the_same_grads_and_no_dx():
    x = np.random.default_rng(3).standard_normal((5, 4))
    ref, model = small(), small()
    dout = np.random.default_rng(4).standard_normal((5, 3))
    ref.forward(x)
    assert ref.backward(dout).shape == x.shape  # default: dx as before
    model.forward(x)
    assert model.backward(dout, input_grad=False) is None
    assert list(model.grads) == list(ref.grads)
    for k, g in model.grads.items():
        np.testing.assert_array_equal(g, ref.grads[k], err_msg=k)


def test_without_input_grad_the_first_dense_layer_skips_dx(monkeypatch):
    model = mlp()
    calls = _record_linear_backward(monkeypatch)
    model.forward(np.ones((2, 784)))
    model.backward(np.ones((2, 10)), input_grad=False)
    assert calls == [True, True, False]  # layers 4, 2, 0


def test_without_input_grad_layers_in_front_of_the_first_parameter_are_not_run():
    front, back = Spy(), Spy()
    model = Sequential(Flatten(), front, Linear(6, 3, seed=0), back)
    model.forward(np.ones((2, 2, 3)))
    assert model.backward(np.ones((2, 3)), input_grad=False) is None
    assert front.calls == [] and back.calls == [{}]
    model.backward(np.ones((2, 3)))
    assert front.calls == [{}]  # the default runs every layer


def test_without_input_grad_a_first_layer_that_cannot_skip_is_called_as_usual():
    first = Spy(with_params=True)  # backward(dout, **kwargs) but no input_grad parameter
    model = Sequential(first, Linear(2, 2, seed=0))
    model.forward(np.ones((1, 2)))
    model.backward(np.ones((1, 2)), input_grad=False)
    assert first.calls == [{}]


def test_without_input_grad_reaches_into_a_nested_sequential(monkeypatch):
    inner = Sequential(ReLU(), Linear(3, 2, seed=0))
    model = Sequential(inner, Linear(2, 1, seed=1))
    calls = _record_linear_backward(monkeypatch)
    model.forward(np.ones((4, 3)))
    assert model.backward(np.ones((4, 1)), input_grad=False) is None
    assert calls == [True, False]  # the outer Linear, then the inner one
    assert [g.shape for g in model.grads.values()] == [p.shape for p in model.params.values()]


def test_a_model_without_parameters_backpropagates_nothing_without_input_grad():
    spy = Spy()
    model = Sequential(ReLU(), spy)
    model.forward(np.ones((1, 2)))
    assert model.backward(np.ones((1, 2)), input_grad=False) is None
    assert spy.calls == []


def test_accepts_input_grad():
    assert accepts_input_grad(Linear(2, 2)) and accepts_input_grad(Matmul(2, 2))
    assert accepts_input_grad(Sequential())
    assert not accepts_input_grad(ReLU()) and not accepts_input_grad(Spy())
