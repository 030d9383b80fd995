"""Benchmark: the NumPy MLP of course_utils vs the same model in Keras, on MNIST.

Model 784-256-128-10 (ReLU), Adam (lr 1e-3), batch 128, float32, the full 60 000 training
images. Each framework runs in its own subprocess (so thread pools and peak memory do not
mix) on the same machine, one after the other, and reports:

* epoch time: wall-clock seconds of one training epoch (the best and the median of the
  epochs after the first, so Keras' tf.function tracing is not counted; the first epoch
  is shown too) and the least process CPU seconds of an epoch;
* the NumPy / Keras ratio of the best epoch times (the target is <= 1.0), and of the
  medians and CPU times;
* peak memory of one MNIST epoch: the tracemalloc peak of the Python/NumPy allocations
  made during the epoch (NumPy only: TensorFlow allocates outside tracemalloc), and the
  process' peak RSS (``ru_maxrss``) with the RSS before the epoch, via psutil/resource.

Usage:
    python benchmarks/bench_mlp.py [--epochs 3] [--threads N]

``--threads`` caps the BLAS threads of NumPy and the intra/inter-op threads of TensorFlow
(default: each library's own default). Numbers vary with machine load: run it on a quiet
machine and compare the CPU seconds too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = (784, 256, 128, 10)
BATCH_SIZE = 128
LR = 1e-3


def _mnist():
    if "COURSE_DATA_DIR" not in os.environ and (REPO.parent / "shared/data/mnist").is_dir():
        os.environ["COURSE_DATA_DIR"] = str(REPO.parent / "shared/data")
    sys.path.insert(0, str(REPO))
    from course_utils.data import load_mnist

    return load_mnist(flatten=True, download=False, verbose=False)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_numpy(epochs: int) -> dict:
    import tracemalloc

    import numpy as np

    data = _mnist()
    from course_utils.data import DataLoader
    from course_utils.layers import Linear, ReLU, Sequential
    from course_utils.losses import softmax_cross_entropy
    from course_utils.optim import Adam
    from course_utils.train import evaluate, fit

    f32 = np.float32
    layers = []
    for i, (d_in, d_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:], strict=True)):
        layers.append(Linear(d_in, d_out, init="he_normal", seed=i, dtype=f32))
        if i < len(LAYERS) - 2:
            layers.append(ReLU())
    model = Sequential(*layers)
    opt = Adam(model, lr=LR)
    loader = DataLoader(data.X_train, data.y_train, batch_size=BATCH_SIZE, seed=0)

    wall, cpu, mem = [], [], {}
    for epoch in range(epochs):
        if epoch == 1:
            mem["rss_before_mb"] = _rss_mb()
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        fit(model, softmax_cross_entropy, opt, loader, num_epochs=1, verbose=0)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if epoch == 1:
            mem["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    mem["peak_rss_mb"] = _peak_rss_mb()
    _, acc = evaluate(model, softmax_cross_entropy, data.X_test, data.y_test)
    dtypes = sorted({str(p.dtype) for p in model.params.values()})
    return {"wall": wall, "cpu": cpu, "test_acc": acc, "dtypes": dtypes, **mem}


def run_keras(epochs: int, threads: int | None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    data = _mnist()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((LAYERS[0],))]
        + [keras.layers.Dense(n, activation="relu") for n in LAYERS[1:-1]]
        + [keras.layers.Dense(LAYERS[-1])]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.c0 = time.perf_counter(), time.process_time()
            if epoch == 1:
                self.rss_before = _rss_mb()

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self.t0)
            self.cpu.append(time.process_time() - self.c0)

    timer = Timer()
    model.fit(
        data.X_train, data.y_train, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True,
        verbose=0, callbacks=[timer],
    )  # fmt: skip
    _, acc = model.evaluate(data.X_test, data.y_test, batch_size=1024, verbose=0)
    return {
        "wall": timer.wall,
        "cpu": timer.cpu,
        "test_acc": float(acc),
        "rss_before_mb": getattr(timer, "rss_before", float("nan")),
        "peak_rss_mb": _peak_rss_mb(),
        "dtypes": [str(model.weights[0].dtype)],
    }


def _child(part: str, epochs: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [sys.executable, __file__, "--part", part, "--epochs", str(epochs)]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{part} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per framework (>= 2)")
    parser.add_argument("--threads", type=int, default=None, help="cap BLAS / TF threads")
    parser.add_argument("--part", choices=["numpy", "keras"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs: need at least 2 (the first epoch is a warm-up)")
    if args.part == "numpy":
        print(json.dumps(run_numpy(args.epochs)))
        return
    if args.part == "keras":
        print(json.dumps(run_keras(args.epochs, args.threads)))
        return

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(
        f"MLP {'-'.join(map(str, LAYERS))}, Adam lr {LR}, batch {BATCH_SIZE}, {args.epochs} "
        f"epochs each; {os.cpu_count()} CPUs, threads {args.threads or 'default'}, "
        f"load average {load:.1f}"
    )
    res = {"NumPy": _child("numpy", args.epochs, args.threads)}
    res["Keras"] = _child("keras", args.epochs, args.threads)

    def best(r, key="wall"):
        return min(r[key][1:])

    def median(r, key="wall"):
        return statistics.median(r[key][1:])

    head = (
        f"{'':8}{'epoch 1 s':>10}{'best s':>9}{'median s':>10}{'CPU s':>8}{'test acc':>10}"
        f"{'RSS before':>12}{'peak RSS':>10}{'tracemalloc':>13}  dtype"
    )
    print(head)
    print("-" * len(head))
    for name, r in res.items():
        trace = r.get("tracemalloc_peak_mb")
        print(
            f"{name:8}{r['wall'][0]:10.2f}{best(r):9.2f}{median(r):10.2f}{best(r, 'cpu'):8.2f}"
            f"{100 * r['test_acc']:9.2f}%{r['rss_before_mb']:10.0f}MB{r['peak_rss_mb']:8.0f}MB"
            f"{(f'{trace:11.1f}MB' if trace is not None else '        n/a'):>13}  "
            f"{','.join(r['dtypes'])}"
        )
    ratio = best(res["NumPy"]) / best(res["Keras"])
    median_ratio = median(res["NumPy"]) / median(res["Keras"])
    cpu_ratio = best(res["NumPy"], "cpu") / best(res["Keras"], "cpu")
    verdict = "meets" if ratio <= 1.0 else "misses"
    print(
        f"NumPy / Keras epoch time: {ratio:.2f} best, {median_ratio:.2f} median "
        f"(CPU time {cpu_ratio:.2f}); "
        f"{verdict} the <= 1.0 target"
    )


if __name__ == "__main__":
    main()
