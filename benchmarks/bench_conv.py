"""Benchmark: im2col convolution vs TensorFlow, and naive loops vs im2col.

Run ``python benchmarks/bench_conv.py``. Prints, for MNIST-sized float32 batches, the
median time of one forward + backward pass of

1. ``course_utils.layers.Conv2D`` (im2col) vs ``tf.nn.conv2d`` under ``tf.GradientTape``
   (eager, NHWC, gradients w.r.t. input, filters and bias), target ratio <= 3.0;
2. ``conv_forward_naive``/``conv_backward_naive`` vs the im2col pair on a smaller batch
   (the loops take seconds), target ratio >= 50.

Medians over repeats after warm-up, the two contenders timed in alternation so they see
the same machine load. Exit status 1 if a target is missed, 0 otherwise.

The comparison with TensorFlow runs twice, side by side (``--machine both``, the
default): on the machine as it is ("quiet"), then with one CPU-burning background process
per core that the script starts for that part only (``_busy.busy_machine``: bounded
lifetime, stopped on exit, error or Ctrl-C). On such a busy machine OpenBLAS's
multithreaded products used to slow down far more than TensorFlow's thread pool;
``Conv2D`` now keeps products of this size on one BLAS thread (``course_utils.threads``).
Both parts are judged with default settings; ``--blas-threads N`` pins NumPy's BLAS (and
``COURSE_BLAS_THREADS``) to N threads instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from _busy import busy_machine, load_average  # noqa: E402

from course_utils.layers.conv import (  # noqa: E402
    Conv2D,
    conv_backward_im2col,
    conv_backward_naive,
    conv_forward_im2col,
    conv_forward_naive,
)

TF_TARGET = 3.0
NAIVE_TARGET = 50.0

# (x shape NCHW, filters, kernel, stride, pad): the two conv layers of an MNIST CNN.
TF_CASES = [
    ((64, 1, 28, 28), 32, 3, 1, 1),
    ((64, 32, 14, 14), 64, 3, 1, 1),
]
NAIVE_CASE = ((8, 3, 16, 16), 8, 3, 1, 1)


def median_times(fns: list[Callable[[], object]], repeats: int, warmup: int = 3) -> list[float]:
    """Median wall time in seconds of each ``fn()`` over ``repeats`` calls after ``warmup``.

    The functions are called in turn (a, b, a, b, ...) so that both see the same machine
    load; on a shared 2-core box that matters more than the number of repeats.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def blas_threads(n: int | None):
    """Context manager limiting NumPy's BLAS to ``n`` threads (no-op for None).

    Uses threadpoolctl (installed with scikit-learn). With 2 cores shared by other jobs,
    OpenBLAS's multithreaded GEMM can slow down many times while its threads wait for
    each other; one thread is then much faster, so the benchmark reports both.
    """
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def bench_vs_tf(repeats: int, threads: int | None = None) -> list[float]:
    """Print and return the im2col / TF time ratio per case (NumPy BLAS limited to threads)."""
    from course_utils.environment import import_tensorflow

    tf = import_tensorflow()

    ratios = []
    rng = np.random.default_rng(0)
    for x_shape, F, k, stride, pad in TF_CASES:
        N, C, H, W = x_shape
        layer = Conv2D(C, F, k, stride=stride, padding=pad, seed=0, dtype=np.float32)
        x = rng.standard_normal(x_shape, dtype=np.float32)
        dout = rng.standard_normal((N, *layer.output_shape(x_shape[1:])), dtype=np.float32)

        def ours(layer=layer, x=x, dout=dout):
            layer.forward(x)
            return layer.backward(dout)

        xt = tf.constant(x.transpose(0, 2, 3, 1))
        wt = tf.Variable(layer.params["w"].transpose(2, 3, 1, 0))
        bt = tf.Variable(layer.params["b"])
        dt = tf.constant(dout.transpose(0, 2, 3, 1))
        padding = [[0, 0], [pad, pad], [pad, pad], [0, 0]]

        def theirs(xt=xt, wt=wt, bt=bt, dt=dt, stride=stride, padding=padding):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = tf.nn.conv2d(xt, wt, stride, padding) + bt
            return tape.gradient(y, [xt, wt, bt], output_gradients=dt)

        # Same answer first (float32 tolerance), so we time equivalent work.
        dx_tf = theirs()[0].numpy().transpose(0, 3, 1, 2)
        assert np.allclose(ours(), dx_tf, rtol=1e-3, atol=1e-3), "Conv2D disagrees with TF"

        with blas_threads(threads):
            t_ours, t_tf = median_times([ours, theirs], repeats)
        ratios.append(t_ours / t_tf)
        print(
            f"{str(x_shape):>17} -> {F:>2} filters {k}x{k}: im2col {t_ours * 1e3:7.2f} ms, "
            f"tf.nn.conv2d+GradientTape {t_tf * 1e3:7.2f} ms, ratio {t_ours / t_tf:5.2f}"
        )
    return ratios


def bench_naive(repeats: int) -> float:
    rng = np.random.default_rng(1)
    x_shape, F, k, stride, pad = NAIVE_CASE
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((F, x_shape[1], k, k))
    b = rng.standard_normal(F)

    def run(forward, backward):
        out, cache = forward(x, w, b, stride, pad)
        return backward(np.ones_like(out), cache)

    (t_naive,) = median_times([lambda: run(conv_forward_naive, conv_backward_naive)], repeats, 1)
    (t_fast,) = median_times([lambda: run(conv_forward_im2col, conv_backward_im2col)], 10 * repeats)
    ratio = t_naive / t_fast
    print(
        f"{str(x_shape):>17} -> {F:>2} filters {k}x{k} (float64): naive loops "
        f"{t_naive * 1e3:7.1f} ms, im2col {t_fast * 1e3:6.3f} ms, speed-up {ratio:6.0f}x"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per median")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="pin NumPy's BLAS threads (threadpoolctl and COURSE_BLAS_THREADS) for the judged run",
    )
    parser.add_argument(
        "--machine", choices=("both", "quiet", "busy"), default="both",
        help="measure as the machine is, with one CPU burner per core, or both (default)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.blas_threads is not None:
        if args.blas_threads < 1:
            parser.error(f"--blas-threads: expected a positive int, got {args.blas_threads}")
        os.environ["COURSE_BLAS_THREADS"] = str(args.blas_threads)

    cores = os.cpu_count() or 1
    print(f"forward + backward, median of {args.repeats} after warm-up (float32)")
    print(f"machine: {cores} cores, load average {load_average()} (1/5/15 min) at start")
    label = "default (course_utils' policy)" if args.blas_threads is None else args.blas_threads
    print(f"NumPy BLAS threads: {label}")
    machines = ["quiet", "busy"] if args.machine == "both" else [args.machine]
    results: dict[str, tuple[list[float], str]] = {}
    for machine in machines:
        print(f"\n{machine} machine" + (f" ({cores} CPU burners)" if machine == "busy" else ""))
        # The burners live at most 10 min, even if this script is killed with SIGKILL.
        with busy_machine(seconds=600) if machine == "busy" else contextlib.nullcontext():
            ratios = bench_vs_tf(args.repeats, args.blas_threads)
            load = load_average()
        print(f"worst im2col / TF ratio: {max(ratios):.2f} (target <= {TF_TARGET}); load {load}")
        results[machine] = ratios, load
    print("\nsummary, im2col / tf.nn.conv2d+GradientTape:")
    print(f"{'':34}" + "".join(f"{m:>26}" for m in machines))
    for i, (x_shape, F, k, _, _) in enumerate(TF_CASES):
        name = f"{x_shape} -> {F}x{k}x{k}"
        print(f"  {name:32}" + "".join(f"{results[m][0][i]:26.2f}" for m in machines))
    loads = "".join(f"{results[m][1]:>26}" for m in machines)
    print(f"  {'load at the end of the part':32}{loads}")
    worst = max(max(r) for r, _ in results.values())
    if "quiet" in machines:
        speedup = bench_naive(max(3, args.repeats // 6))
        print(f"naive / im2col speed-up: {speedup:.0f}x (target >= {NAIVE_TARGET:.0f}x)")
    else:
        speedup = NAIVE_TARGET
    print(f"load average {load_average()} at end")
    ok = worst <= TF_TARGET and speedup >= NAIVE_TARGET
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
