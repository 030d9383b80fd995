"""Notebook namespaces with ONE earlier task broken, for the cascade self-tests (issue 15).

``numpy_layers(broken)`` runs the answer cells of ``solutions/02_numpy_layers`` (and the
given ``append_ones``) into a fresh namespace, as the notebook does, so ``TwoLayerNet``
builds its layers from the GLOBAL names ``Matmul``, ``Relu``, ``Softmax``, ``Log`` and
``train_epoch`` calls the global ``cross_entropy``; then it rebinds the broken task's name
to a wrong implementation from ``numpy_layers_wrong.py``. ``graphs(broken)`` and
``three_layer_net(broken)`` do the same for 03's ``Value`` and ``ThreeLayerNet`` (whole
classes of ``backprop_wrong.py`` with one bug in one task).

Served over the grading link like the catalogues (``remote_kernel``): the objects then live
in another process and the checks reach them through proxies.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).parent
SOLUTIONS = HERE.parents[2] / "solutions"


def _catalogue(name: str):
    key = f"_cascade_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


#: broken task -> (notebook name, entry of numpy_layers_wrong.py, or of its tf_catalogue()).
NUMPY_LAYERS_BROKEN = {
    "matmul": ("Matmul", "matmul_dw_transposed"),
    "relu": ("Relu", "relu_uses_output_ge0"),
    "softmax": ("Softmax", "softmax_backward_diagonal"),
    "log": ("Log", "log_backward_returns_log"),
    "cross_entropy": ("cross_entropy", "ce_summed"),
    "tf_model": ("TFTwoLayerNet", "tf_model_no_relu"),
}


def _notebook_code(path: Path) -> list[str]:
    """The answer cells of a solution notebook and the given ``def``s between them."""
    cells = json.loads(path.read_text())["cells"]
    sources = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or source.startswith("def append_ones"):
            sources.append(source)
    return sources


def numpy_layers(broken: str | None = None) -> SimpleNamespace:
    """02's answers as the notebook defines them, with task ``broken`` wrong (None: none)."""
    from course_utils.layers import Layer

    ns = {"np": np, "Layer": Layer, "__name__": "notebook_02"}
    if broken == "tf_model":  # TensorFlow costs seconds: only for the TensorFlow tasks
        from course_utils.environment import import_tensorflow

        ns["tf"] = import_tensorflow()
    for source in _notebook_code(SOLUTIONS / "02_numpy_layers" / "numpy_layers.ipynb"):
        exec(compile(source, "<02_numpy_layers answer cell>", "exec"), ns)  # noqa: S102
    if broken is not None:
        name, entry = NUMPY_LAYERS_BROKEN[broken]
        wrong = _catalogue("numpy_layers_wrong")
        if broken == "tf_model":
            ns[name] = wrong.tf_catalogue()[entry]
        else:
            ns[name] = wrong.WRONG[entry][1]
    notebook = SimpleNamespace(**{k: v for k, v in ns.items() if not k.startswith("__")})
    notebook.global_value = ns.get  # what the notebook's code sees under a name, now
    return notebook


#: broken task -> the bug of backprop_wrong.make_value_class / make_net_class.
GRAPHS_BROKEN = {
    "value_add_mul": "mul_swapped",
    "value_pow_exp_log": "pow_not_reduced",
    "value_tanh_relu": "tanh_grad_x",
    "value_backward": "bfs_order",
}
THREE_LAYER_NET_BROKEN = {
    "loss_mse": "mse_sum_over_N",
    "loss_ce": "precedence_slip",
    "loss_float32": "loss_float32",
    "predict": "predict_scores",
}


def graphs(broken: str | None = None) -> SimpleNamespace:
    """03's ``Value`` with one task's bug, and the notebook's correct ``std_value``."""
    wrong = _catalogue("backprop_wrong")
    value = wrong.make_value_class(GRAPHS_BROKEN[broken] if broken else None)
    return SimpleNamespace(Value=value, std_value=wrong.std_value_reference)


def three_layer_net(broken: str | None = None) -> SimpleNamespace:
    """03's ``ThreeLayerNet`` with one task's bug (its train, the later task, correct)."""
    wrong = _catalogue("backprop_wrong")
    bug = THREE_LAYER_NET_BROKEN[broken] if broken else None
    return SimpleNamespace(ThreeLayerNet=wrong.make_net_class(bug))


#: broken task -> (notebook names, entry of mnist_wrong.py's catalogue of that task).
MNIST_BROKEN = {
    "data_loader": (("DataLoader",), "LOADER_WRONG", "y_not_shuffled"),
    "initializers": (("he_normal", "xavier_uniform"), "INIT_WRONG", "he_fan_out"),
    "linear": (("Linear",), "LINEAR_WRONG", "bias_grad_mean"),
    "softmax_cross_entropy": (("softmax_cross_entropy",), "LOSS_WRONG", "grad_no_onehot"),
    "adam": (("Adam",), "ADAM_WRONG", "no_bias_correction"),
}


def mnist(broken: str | None = None) -> SimpleNamespace:
    """05's answers as the notebook defines them (and its given MLP helpers), with task
    ``broken`` wrong: ``train_mlp`` then finds the wrong piece under its notebook name."""
    import time

    ns = {"np": np, "time": time, "__name__": "notebook_05"}
    cells = json.loads((SOLUTIONS / "05_mnist" / "mnist.ipynb").read_text())["cells"]
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and (
            meta.get("solution") or meta.get("grade_id") == "mlp_given"
        ):
            source = "".join(cell["source"])
            if "keras" in source:  # build_keras_mlp: not needed here
                continue
            exec(compile(source, "<05_mnist answer cell>", "exec"), ns)  # noqa: S102
    if broken is not None:
        names, table, entry = MNIST_BROKEN[broken]
        wrong = getattr(_catalogue("mnist_wrong"), table)[entry][0]
        for name, impl in zip(names, wrong if isinstance(wrong, tuple) else (wrong,), strict=True):
            ns[name] = impl
    notebook = SimpleNamespace(**{k: v for k, v in ns.items() if not k.startswith("__")})
    notebook.global_value = ns.get
    return notebook
