"""Where do BLAS threads pay off? The measurement behind ``course_utils.threads``.

Times float32 matrix products ``(M, K) @ (K, N)`` with NumPy's BLAS on one thread and on
its default thread count, on a quiet machine and then with one CPU burner per core
(``_busy.busy_machine``), and prints ``t(default) / t(1 thread)`` per size in
multiply-accumulates (MACs = M * K * N). Below 1 the threads pay off.

The shapes are square products from 2^20 to 2^33 MACs plus the products of the course's
own layers: the MLP 784-256-128-10 at batch 128 (forward and both backward products) and
the im2col products of the MNIST CNN's second conv layer, (64,32,14,14) -> 64 x 3 x 3.

Also times the cost of switching the thread count with threadpoolctl, with a new
``threadpool_limits`` each time and with a cached ``ThreadpoolController``.

Usage: ``python benchmarks/blas_threshold.py [--no-busy]`` (about a minute).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _busy import busy_machine, load_average  # noqa: E402

SHAPES = [(n, n, n) for n in (96, 128, 256, 400, 512, 640, 800, 1024, 1600, 2048)] + [
    (128, 784, 256),  # MLP layer 1 forward
    (784, 128, 256),  # MLP layer 1 dw = x^T dout
    (128, 256, 784),  # MLP dx of layer 1 (skipped by fit), as a size point
    (12544, 288, 64),  # conv 2 forward (im2col rows x C*3*3) @ (C*3*3, F)
    (288, 12544, 64),  # conv 2 dw
    (12544, 64, 288),  # conv 2 dcols
]


def time_product(a: np.ndarray, b: np.ndarray, budget: float = 0.2) -> float:
    """Mean seconds of ``a @ b`` over enough calls to fill ``budget`` seconds (5 at least).

    The mean, not the median: a training epoch pays for every stall of a spinning BLAS
    thread that lost its core, and those stalls are rare but long.
    """
    a @ b
    start = time.perf_counter()
    a @ b
    once = max(time.perf_counter() - start, 1e-6)
    calls = max(5, min(2000, int(budget / once)))
    start = time.perf_counter()
    for _ in range(calls):
        a @ b
    return (time.perf_counter() - start) / calls


def sweep(label: str, controller: ThreadpoolController) -> None:
    default = max(i.num_threads for i in controller.select(user_api="blas").lib_controllers)
    print(f"\n{label}: load average {load_average()}; default BLAS threads {default}")
    print(f"{'M x K x N':>18}{'MACs':>10}{'1 thread ms':>13}{'default ms':>12}{'ratio':>8}")
    rng = np.random.default_rng(0)
    for M, K, N in SHAPES:
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        # alternate the two settings so that both see the same machine
        one, many = [], []
        for _ in range(3):
            with controller.limit(limits=1, user_api="blas"):
                one.append(time_product(a, b))
            many.append(time_product(a, b))
        t1, tn = statistics.median(one), statistics.median(many)
        print(
            f"{f'{M}x{K}x{N}':>18}{M * K * N:10.1e}{t1 * 1e3:13.3f}{tn * 1e3:12.3f}{tn / t1:8.2f}"
        )


def switching_cost(controller: ThreadpoolController, calls: int = 200) -> None:
    start = time.perf_counter()
    for _ in range(calls):
        with threadpool_limits(limits=1, user_api="blas"):
            pass
    fresh = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        with controller.limit(limits=1, user_api="blas"):
            pass
    cached = (time.perf_counter() - start) / calls
    print(
        f"\nthreadpoolctl, set 1 thread and restore: {fresh * 1e6:.0f} us with a new "
        f"threadpool_limits, {cached * 1e6:.0f} us with a cached ThreadpoolController"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-busy", action="store_true", help="skip the busy-machine sweep")
    args = parser.parse_args()
    controller = ThreadpoolController()
    switching_cost(controller)
    sweep("quiet machine", controller)
    if not args.no_busy:
        with busy_machine(seconds=300) as n:
            sweep(f"busy machine ({n} burners)", controller)
    print(f"\nload average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
