"""Benchmark: the from-scratch CNN of 06_cnn against Keras on the same architecture.

Run ``python benchmarks/bench_cnn.py [--images N] [--repeats R]``. Both train the network
of the notebook's section 4 (conv 3x3 16 - ReLU - 2x2 max-pool - conv 3x3 32 - ReLU -
max-pool - linear 10; Adam, batch 64, float32) on the first ``N`` MNIST training images:
``course_utils.layers`` (im2col ``Conv2D``, ``MaxPool2D``, ``fit``: one BLAS thread per
epoch, the course's policy) against ``keras.Model.fit`` (``verbose=0``). The two are timed
in alternation, in one run, so they see the same machine load; the medians are scaled to
a 60,000-image epoch. Target: NumPy / Keras <= 3. Exit status 1 if it is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "COURSE_DATA_DIR" not in os.environ and (REPO.parent / "shared/data/mnist").is_dir():
    os.environ["COURSE_DATA_DIR"] = str(REPO.parent / "shared/data")

import numpy as np  # noqa: E402

TARGET = 3.0
BATCH = 64


def numpy_epoch(x, y) -> float:
    from course_utils.data import DataLoader
    from course_utils.layers import Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sequential
    from course_utils.losses import softmax_cross_entropy
    from course_utils.optim import Adam
    from course_utils.train import fit

    f32 = np.float32
    model = Sequential(
        Conv2D(1, 16, 3, padding=1, seed=0, dtype=f32), ReLU(), MaxPool2D(2),
        Conv2D(16, 32, 3, padding=1, seed=1, dtype=f32), ReLU(), MaxPool2D(2),
        Flatten(), Linear(32 * 49, 10, seed=2, dtype=f32),
    )  # fmt: skip
    loader = DataLoader(x, y, batch_size=BATCH, shuffle=True, seed=0)
    start = time.perf_counter()
    fit(model, softmax_cross_entropy, Adam(model, lr=1e-3), loader, num_epochs=1, verbose=0)
    return time.perf_counter() - start


def keras_epoch(x, y) -> float:
    import keras

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    xk = x.transpose(0, 2, 3, 1)
    model.fit(xk[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)  # build, trace
    start = time.perf_counter()
    model.fit(xk, y, batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from course_utils.data import load_mnist
    from course_utils.environment import import_tensorflow

    import_tensorflow()
    data = load_mnist(download=False, verbose=False)
    x, y = data.X_train[: args.images, None], data.y_train[: args.images]
    scale = 60_000 / len(x)
    times = {"numpy": [], "keras": []}
    for _ in range(args.repeats):  # alternate: both see the same load
        times["numpy"].append(numpy_epoch(x, y) * scale)
        times["keras"].append(keras_epoch(x, y) * scale)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["numpy"] / med["keras"]
    load = os.getloadavg()[0]
    print(
        f"load average {load:.1f}; {args.images} images x {args.repeats} repeats, scaled to "
        f"one 60,000-image epoch"
    )
    print(
        f"NumPy SmallCNN epoch {med['numpy']:.1f} s, Keras epoch {med['keras']:.1f} s: "
        f"ratio {ratio:.2f} (target <= {TARGET:g}) {'ok' if ratio <= TARGET else 'MISSED'}"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
