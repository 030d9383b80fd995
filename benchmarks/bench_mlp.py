"""Benchmark: the NumPy MLP of course_utils vs the same model in Keras, on MNIST.

Model 784-256-128-10 (ReLU), Adam (lr 1e-3), batch 128, float32, one epoch = the full
60 000 training images (469 batches). Contenders, each in its own long-lived subprocess
(so thread pools, imports and memory do not mix):

* ``NumPy``: ``course_utils.train.fit(..., num_epochs=1, verbose=0)`` with
  ``Sequential``/``Linear``/``ReLU``, ``softmax_cross_entropy``, ``Adam``, ``DataLoader``;
* ``Keras fit``: ``model.fit(X, y, batch_size=128, epochs=1, shuffle=True, verbose=0)``,
  the epoch timed by a callback (``on_epoch_begin`` to ``on_epoch_end``), so the set-up of
  each ``fit`` call is not counted (a ``tf.function`` graph; Keras 3's ``jit_compile="auto"``
  turns XLA off on CPU-only machines);
* ``Keras loop``: a custom loop over a ``tf.function(jit_compile=True)`` train step
  (gather the batch, forward, loss, ``GradientTape``, ``optimizer.apply``), no metrics:
  XLA fuses Adam's element-wise arithmetic into one pass, usually the fastest variant.

The NumPy epoch time is divided by Keras ``fit``'s (target <= 1.0), and, for reference,
by the XLA loop's. The contenders run one epoch each in turn (NumPy, Keras fit, Keras loop,
NumPy, ...) so they see the same machine load; after one warm-up epoch each (tracing,
first-touch allocations), the median of ``--epochs`` timed epochs is reported, with the
best epoch and the median process CPU time.

Each run measures twice, side by side (``--machine both``, the default): on the machine
as it is ("quiet"), then on a busy machine, with one CPU-burning background process per
core started by the script itself for that part of the run only (``_busy.busy_machine``:
bounded lifetime, stopped on exit, error or Ctrl-C). That is a shared JupyterHub node or a
laptop running a parallel autograde: OpenBLAS's spinning threads used to make the NumPy
epoch about 5 times slower there, and ``course_utils.threads`` now keeps course-sized
products on one BLAS thread. The load average is printed with each part, since other
jobs on the machine change what "quiet" means.

The thread setting (``--threads``): ``default`` (the judged one: each library as it comes,
so course_utils' own policy for NumPy and every core for TensorFlow) or a number ``N``
(NumPy's BLAS pinned to N threads with threadpoolctl and ``COURSE_BLAS_THREADS=N``;
TensorFlow's intra-op pool set to N threads, its inter-op and tf.data pools left alone).

Most of an epoch is matrix products, so NumPy's speed is its BLAS's: the script prints
which OpenBLAS kernels NumPy uses. OpenBLAS 0.3.31 (NumPy 2.4 wheels) mistakes AMD Zen 5
for Haswell and runs AVX2 kernels at about half the speed of its AVX-512 ones
(OpenMathLib/OpenBLAS#6029); ``OPENBLAS_CORETYPE=SkylakeX python benchmarks/bench_mlp.py``
compares with the right kernels (TensorFlow's oneDNN detects AVX-512 by itself).

Memory of one MNIST epoch, measured in an extra untimed epoch: for NumPy the tracemalloc
peak (every NumPy array allocation is traced) and, for both, the growth of the resident set
during the epoch (sampled every 2 ms) and the process' peak RSS (``ru_maxrss``, which also
counts loading the data and, for Keras, TensorFlow itself). Keras fit's growth is mostly
the copy of the training set each ``fit`` call makes for its tf.data pipeline.

Usage:
    python benchmarks/bench_mlp.py [--epochs 5] [--machine both|quiet|busy]
                                   [--threads default|N|both]

Exit status 1 if a judged ratio misses the target (quiet or busy), 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _busy import busy_machine, load_average

REPO = Path(__file__).resolve().parents[1]
LAYERS = (784, 256, 128, 10)
BATCH_SIZE = 128
LR = 1e-3
TARGET = 1.0
# The "Keras epoch time for the same model and batch size": model.fit, the Keras
# students use. The XLA-compiled custom loop is reported beside it for reference.
JUDGED = "keras_fit"
CONTENDERS = ("numpy", "keras_fit", "keras_loop")
LABELS = {"numpy": "NumPy fit", "keras_fit": "Keras fit", "keras_loop": "Keras loop"}


# --- helpers used by the workers ---------------------------------------------------------
def _mnist(src: Path):
    if "COURSE_DATA_DIR" not in os.environ and (REPO.parent / "shared/data/mnist").is_dir():
        os.environ["COURSE_DATA_DIR"] = str(REPO.parent / "shared/data")
    sys.path.insert(0, str(src))
    from course_utils.data import load_mnist

    return load_mnist(flatten=True, download=False, verbose=False)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _blas_info() -> str:
    """E.g. "openblas 0.3.31 Haswell kernels, 2 threads" (via threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '?')} kernels, "
        f"{i.get('num_threads')} threads"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )


def _cpu_has_avx512() -> bool:
    try:
        return " avx512f " in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class _RssSampler:
    """Peak resident set size while the ``with`` block runs (a thread samples every 2 ms)."""

    def __enter__(self):
        self.before = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


# --- the contenders (each runs in its own worker process) --------------------------------
def numpy_worker(threads: str, src: Path):
    """Returns ``(run_epoch, memory_epoch, test_accuracy)`` for the course_utils MLP."""
    import numpy as np

    if threads != "default":
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(threads), user_api="blas")  # for the whole process
        os.environ["COURSE_BLAS_THREADS"] = threads  # and for course_utils' own calls
    data = _mnist(src)
    from course_utils.data import DataLoader
    from course_utils.layers import Linear, ReLU, Sequential
    from course_utils.losses import softmax_cross_entropy
    from course_utils.optim import Adam
    from course_utils.train import evaluate, fit

    layers = []
    for i, (d_in, d_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:], strict=True)):
        layers.append(Linear(d_in, d_out, init="he_normal", seed=i, dtype=np.float32))
        if i < len(LAYERS) - 2:
            layers.append(ReLU())
    model = Sequential(*layers)
    opt = Adam(model, lr=LR)
    loader = DataLoader(data.X_train, data.y_train, batch_size=BATCH_SIZE, seed=0)

    def run_epoch():
        fit(model, softmax_cross_entropy, opt, loader, num_epochs=1, verbose=0)

    def memory_epoch() -> dict:
        import tracemalloc

        with _RssSampler() as rss:
            tracemalloc.start()
            run_epoch()
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        dtypes = sorted({str(p.dtype) for p in model.params.values()})
        return {"tracemalloc_mb": traced, "rss_growth_mb": rss.peak - rss.before,
                "dtypes": dtypes}  # fmt: skip

    def test_accuracy() -> float:
        return evaluate(model, softmax_cross_entropy, data.X_test, data.y_test)[1]

    return run_epoch, memory_epoch, test_accuracy


def keras_worker(threads: str, src: Path, loop: bool):
    """The same model in Keras, trained by ``model.fit`` or by a custom XLA train step."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    if threads != "default":
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
    data = _mnist(src)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((LAYERS[0],))]
        + [keras.layers.Dense(n, activation="relu") for n in LAYERS[1:-1]]
        + [keras.layers.Dense(LAYERS[-1])]
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(LR)
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=["accuracy"])

    if loop:
        X, y = tf.constant(data.X_train), tf.constant(data.y_train)
        rng = np.random.default_rng(0)
        optimizer.build(model.trainable_variables)

        @tf.function(jit_compile=True)
        def train_step(idx):
            x_batch, y_batch = tf.gather(X, idx), tf.gather(y, idx)
            with tf.GradientTape() as tape:
                loss = loss_fn(y_batch, model(x_batch, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            return loss

        def run_epoch():
            order = rng.permutation(len(data.X_train)).astype(np.int32)
            for i in range(0, len(order), BATCH_SIZE):
                train_step(order[i : i + BATCH_SIZE])

    else:

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                wall, cpu = self.start
                self.times = {
                    "wall": time.perf_counter() - wall,
                    "cpu": time.process_time() - cpu,
                }

        timer = EpochTimer()

        def run_epoch():
            model.fit(
                data.X_train, data.y_train, batch_size=BATCH_SIZE, epochs=1, shuffle=True,
                verbose=0, callbacks=[timer],
            )  # fmt: skip
            return timer.times

    def memory_epoch() -> dict:
        with _RssSampler() as rss:
            run_epoch()
        return {"rss_growth_mb": rss.peak - rss.before, "dtypes": [str(model.weights[0].dtype)]}

    def test_accuracy() -> float:
        return float(model.evaluate(data.X_test, data.y_test, batch_size=1024, verbose=0)[1])

    return run_epoch, memory_epoch, test_accuracy


def worker(part: str, threads: str, src: Path) -> None:
    """Serve one contender: read commands on stdin, answer one JSON line each."""
    if part == "numpy":
        run_epoch, memory_epoch, test_accuracy = numpy_worker(threads, src)
    else:
        run_epoch, memory_epoch, test_accuracy = keras_worker(threads, src, part == "keras_loop")
    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints from libraries must not break the protocol
    print(json.dumps({"ready": True, "blas": _blas_info() if part == "numpy" else ""}),
          file=out, flush=True)  # fmt: skip
    for command in sys.stdin:
        command = command.strip()
        if command == "epoch":
            wall, cpu = time.perf_counter(), time.process_time()
            # Keras fit returns its own epoch time (without fit's set-up), the others None.
            answer = run_epoch() or {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
            }
        elif command == "finish":
            answer = memory_epoch()
            answer["test_acc"] = test_accuracy()
            answer["peak_rss_mb"] = _peak_rss_mb()
        else:
            break
        print(json.dumps(answer), file=out, flush=True)


# --- the parent: interleaved runs and the report ----------------------------------------
class Worker:
    def __init__(self, part: str, threads: str, src: Path):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, __file__, "--worker", part, "--threads", threads, "--src", str(src)]
        self.part = part
        self.stderr = tempfile.TemporaryFile(mode="w+")  # TensorFlow's start-up chatter
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True,
        )  # fmt: skip
        self.blas = self._read()["blas"]  # wait until it has loaded MNIST and built the model

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise SystemExit(
                f"{self.part} worker died (exit status {self.proc.wait()}):\n"
                + self.stderr.read()[-3000:]
            )
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        self.stderr.close()


def run_setting(threads: str, epochs: int, src: Path) -> dict[str, dict]:
    workers = [Worker(part, threads, src) for part in CONTENDERS]
    try:
        for w in workers:  # warm-up epoch (tracing, first-touch allocations): not counted
            w.ask("epoch")
        times: dict[str, list[dict]] = {w.part: [] for w in workers}
        for _ in range(epochs):
            for w in workers:
                times[w.part].append(w.ask("epoch"))
        results = {}
        for w in workers:  # one more epoch each, untimed, for memory; then test accuracy
            results[w.part] = w.ask("finish")
            results[w.part]["wall"] = [t["wall"] for t in times[w.part]]
            results[w.part]["cpu"] = [t["cpu"] for t in times[w.part]]
        results["numpy"]["blas"] = workers[0].blas
    finally:
        for w in workers:
            w.close()
    return results


def report(threads: str, machine: str, res: dict[str, dict], epochs: int) -> dict[str, float]:
    desc = {
        "default": "default threads (course_utils' BLAS policy; TensorFlow decides)",
        "1": "1 thread (threadpoolctl: BLAS 1; TensorFlow intra-op 1)",
    }.get(threads, f"{threads} threads")
    print(f"\n{machine}: {desc}; median of {epochs} epochs after 1 warm-up:")
    blas = res["numpy"]["blas"]
    hint = ""
    if "Haswell" in blas and _cpu_has_avx512():
        hint = " (this CPU has AVX-512: OPENBLAS_CORETYPE=SkylakeX gives AVX-512 kernels)"
    print(f"NumPy's BLAS: {blas}{hint}")
    head = f"{'':12}{'median s':>9}{'best s':>8}{'CPU s':>7}{'test acc':>10}"
    print(head + f"{'RSS +epoch':>12}{'peak RSS':>10}{'tracemalloc':>13}  dtype")
    for part, r in res.items():
        trace = f"{r['tracemalloc_mb']:10.1f}MB" if "tracemalloc_mb" in r else "         n/a"
        print(
            f"{LABELS[part]:12}{statistics.median(r['wall']):9.3f}{min(r['wall']):8.3f}"
            f"{statistics.median(r['cpu']):7.2f}{100 * r['test_acc']:9.2f}%"
            f"{r['rss_growth_mb']:10.1f}MB{r['peak_rss_mb']:8.0f}MB{trace:>13}  "
            f"{','.join(r['dtypes'])}"
        )
    ours = statistics.median(res["numpy"]["wall"])
    ratios = {}
    for ref in ("keras_fit", "keras_loop"):
        r = ours / statistics.median(res[ref]["wall"])
        pairs = [a / b for a, b in zip(res["numpy"]["wall"], res[ref]["wall"], strict=True)]
        verdict = (
            f"{'meets' if r <= TARGET else 'misses'} the <= {TARGET} target"
            if ref == JUDGED
            else "for reference (XLA-fused Adam)"
        )
        print(
            f"NumPy / {LABELS[ref]} epoch time: {r:.2f} "
            f"(epoch by epoch {min(pairs):.2f}-{max(pairs):.2f}); {verdict}"
        )
        ratios[ref] = r
    return ratios


def summary(rows: list[tuple[str, str, str, dict[str, float], dict]]) -> None:
    """The ratios of every part of the run, quiet and busy side by side."""
    machines = list(dict.fromkeys(machine for _, machine, *_ in rows))
    cell = {(threads, machine): (load, ratios, res) for threads, machine, load, ratios, res in rows}
    print("\nsummary, NumPy epoch / Keras epoch (medians):")
    print(f"{'':44}" + "".join(f"{m:>26}" for m in machines))
    for threads in dict.fromkeys(t for t, *_ in rows):
        for ref in ("keras_fit", "keras_loop"):
            name = f"NumPy / {LABELS[ref]}, {threads} threads"
            name += " (judged)" if ref == JUDGED and threads == "default" else ""
            values = [cell[threads, m][1][ref] if (threads, m) in cell else None for m in machines]
            print(f"  {name:42}" + "".join(
                f"{v:26.2f}" if v is not None else f"{'-':>26}" for v in values))  # fmt: skip
        for part, label in (("numpy", "NumPy epoch s"), (JUDGED, "Keras fit epoch s")):
            values = [
                statistics.median(cell[threads, m][2][part]["wall"]) if (threads, m) in cell
                else None for m in machines
            ]  # fmt: skip
            print(f"  {label + ', ' + threads + ' threads':42}" + "".join(
                f"{v:26.3f}" if v is not None else f"{'-':>26}" for v in values))  # fmt: skip
        loads = [cell[threads, m][0] if (threads, m) in cell else "-" for m in machines]
        print(f"  {'load average 1/5/15 min, end of the part':42}"
              + "".join(f"{v:>26}" for v in loads))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per contender")
    parser.add_argument(
        "--threads", default="default", help="'default' (judged), a number such as 1, or 'both'"
    )
    parser.add_argument(
        "--machine", choices=("both", "quiet", "busy"), default="both",
        help="measure as the machine is, with one CPU burner per core, or both (default)",
    )  # fmt: skip
    parser.add_argument("--src", type=Path, default=REPO, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.threads, args.src)
        return 0
    if args.epochs < 1:
        parser.error("--epochs: need at least 1")
    settings = ["default", "1"] if args.threads == "both" else [args.threads]
    for s in settings:
        if s != "default" and not (s.isdigit() and int(s) > 0):
            parser.error(f"--threads: expected 'default', 'both' or a positive int, got {s!r}")
    machines = ["quiet", "busy"] if args.machine == "both" else [args.machine]

    print(
        f"MLP {'-'.join(map(str, LAYERS))} ReLU, Adam lr {LR}, batch {BATCH_SIZE}, float32, "
        f"full MNIST epochs; {os.cpu_count()} CPUs; load average {load_average()} (1/5/15 min)"
    )
    rows, judged = [], []
    for machine in machines:
        for threads in settings:
            # The burners live at most 15 min, even if this script is killed with SIGKILL.
            busy = busy_machine(seconds=900) if machine == "busy" else contextlib.nullcontext()
            with busy:
                res = run_setting(threads, args.epochs, args.src)
                load = load_average()
            label = f"{machine} machine" + (
                f" ({os.cpu_count()} CPU burners)" if machine == "busy" else ""
            )
            ratios = report(threads, label, res, args.epochs)
            print(f"load average {load}")
            rows.append((threads, machine, load, ratios, res))
            if threads == "default":
                judged.append(ratios[JUDGED])
    summary(rows)
    print(f"\nload average at the end {load_average()}")
    ok = all(r <= TARGET for r in judged)
    print(f"judged (default threads, quiet and busy): {'all meet' if ok else 'TARGET MISSED'} "
          f"<= {TARGET}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
