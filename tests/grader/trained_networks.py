"""Trained networks for the self-tests of the accuracy checks.

05's MLPs train in about 25 s: ``once_per_run`` lets the first pytest-xdist worker that
asks train them, under a file lock that the other workers wait on, and leaves them in a
pickle in the run's shared temporary directory. 06's CNNs are kept in the repository.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def once_per_run(tmp_path_factory, name: str, make: Callable[[], Any]) -> Any:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is <the run's>/popen-gwN; without it, basetemp is
    # already this run's own (its parent would be shared with earlier runs).
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = shared / f"{name}.pickle"
        if not path.exists():
            path.write_bytes(pickle.dumps(make()))
        return pickle.loads(path.read_bytes())


# --- 06_cnn: trained once, kept in the repository ------------------------------------------
# A SmallCNN to 98.5 % and build_vgg() to 99.2 % take about 2.5 minutes of CPU together, too
# much for every test run. Run this file to remake them (after changing build_vgg or the
# SmallCNN's layout): ``python tests/grader/trained_networks.py``.
CNN_NETWORKS = Path(__file__).parent / "data" / "cnn_networks.npz"


def load_cnn_networks() -> dict:
    """{"small": the SmallCNN's params (16 and 32 filters of 3x3, NCHW), "vgg": the list
    of build_vgg()'s weights}, as the catalogue's trained-network entries take them."""
    with np.load(CNN_NETWORKS) as data:
        small = {k.removeprefix("small_"): data[k] for k in data.files if k.startswith("small_")}
        vgg = [data[f"vgg_{i}"] for i in range(sum(k.startswith("vgg_") for k in data.files))]
    return {"small": small, "vgg": vgg}


def _fit(model, x, y, epochs: int, batch_size: int, lr: float):
    import keras

    steps = epochs * -(-len(x) // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def train_cnn_networks(build_vgg) -> dict:
    """Returns "small", the SmallCNN trained in Keras (faster than NumPy) for 3 epochs
    and converted to NCHW params; "vgg": ``build_vgg()`` trained as the notebook trains it
    (3 epochs, batch 128, Adam 3e-3 with cosine decay)."""
    from course_utils.data import load_mnist
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    import keras

    data = load_mnist(verbose=False)
    x, y = data.X_train[..., None], data.y_train  # NHWC
    keras.utils.set_random_seed(0)
    L = keras.layers
    small = _fit(keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dense(10),
    ]), x, y, epochs=3, batch_size=128, lr=3e-3)  # fmt: skip
    k1, b1, k2, b2, k3, b3 = small.get_weights()
    params = {
        "w1": k1.transpose(3, 2, 0, 1), "b1": b1,  # (HH, WW, C, F) -> (F, C, HH, WW)
        "w2": k2.transpose(3, 2, 0, 1), "b2": b2,
        # Keras flattens (7, 7, F2), the NumPy network (F2, 7, 7)
        "w3": k3.reshape(7, 7, 32, 10).transpose(2, 0, 1, 3).reshape(-1, 10), "b3": b3,
    }  # fmt: skip
    vgg = _fit(build_vgg(seed=0), x, y, epochs=3, batch_size=128, lr=3e-3)
    return {"small": params, "vgg": vgg.get_weights()}


def save_cnn_networks(nets: dict) -> None:
    arrays = {f"small_{k}": v for k, v in nets["small"].items()}
    arrays.update({f"vgg_{i}": w for i, w in enumerate(nets["vgg"])})
    CNN_NETWORKS.parent.mkdir(exist_ok=True)
    np.savez_compressed(CNN_NETWORKS, **arrays)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from remote_kernel import load_local

    cnn_wrong = load_local(Path(__file__).parent / "wrong" / "cnn_wrong.py")
    save_cnn_networks(train_cnn_networks(cnn_wrong.keras_catalogue()["build_vgg"]))
    print(f"wrote {CNN_NETWORKS}")
