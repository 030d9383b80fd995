"""Benchmark: `course autograde` throughput with one worker vs two.

Run ``python benchmarks/bench_autograde.py [--copies 8] [--jobs 1 2]``. Builds a throw-away
course (the repo's nbgrader config and solutions/00_welcome), submits ``--copies`` copies
of the correct welcome notebook, grades them once per ``--jobs`` value in a fresh copy of
the course, and prints submissions per minute (wall clock of the whole command: workers,
merge and audit). Also checks that every run gives every student the same score, and
prints the machine's load average, since other work on the machine skews the numbers.
Exit status 1 if the scores differ between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from submissions import welcome as W  # noqa: E402
from submissions.course import isolated_env, make_course, run  # noqa: E402


def scores(root: Path, env: dict[str, str]) -> dict[str, float]:
    from nbgrader.api import Gradebook

    path = os.environ["PATH"]
    os.environ["PATH"] = env["PATH"]  # Gradebook runs `alembic`
    try:
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            return {s.student.id: s.score for s in gb.find_assignment(W.ASSIGNMENT).submissions}
    finally:
        os.environ["PATH"] = path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    correct = next(c for c in W.CASES if c.student == "correct")
    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        template = Path(tmp) / "template"
        make_course(template, W.ASSIGNMENT)
        released = template / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
        for i in range(args.copies):
            case = W.Case(f"student{i:02d}", correct.score, correct.build, correct.what)
            W.write_case(case, released, template)

        results = {}
        print(f"{args.copies} copies of the correct 00_welcome submission, {os.cpu_count()} CPU(s)")
        print(f"{'jobs':>4}  {'seconds':>8}  {'subs/min':>8}  load avg before")
        for jobs in args.jobs:
            root = Path(tmp) / f"jobs{jobs}"
            shutil.copytree(template, root)
            env = isolated_env(root)
            load = os.getloadavg()[0]
            t0 = time.monotonic()
            run(["course", "autograde", W.ASSIGNMENT, "--jobs", str(jobs)], root, env, timeout=3600)
            seconds = time.monotonic() - t0
            results[jobs] = scores(root, env)
            print(
                f"{jobs:>4}  {seconds:>8.1f}  {60 * args.copies / seconds:>8.2f}  {load:.2f}",
                flush=True,
            )

    reference = next(iter(results.values()))
    same = all(r == reference for r in results.values())
    full = all(v == W.MAX_SCORE for v in reference.values()) and len(reference) == args.copies
    print(f"scores identical across runs: {same}; every copy scored {W.MAX_SCORE:g}: {full}")
    return 0 if same and full else 1


if __name__ == "__main__":
    sys.exit(main())
