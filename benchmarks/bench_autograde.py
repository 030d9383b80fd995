"""Benchmark: what the sandbox, the out-of-process verdicts and Dask cost per submission.

Run ``python benchmarks/bench_autograde.py [--copies 8] [--old COMMIT]``. Builds a
throw-away course (the repo's nbgrader config and solutions/00_welcome, the cheapest
notebook, so that fixed costs weigh the most), submits ``--copies`` copies of the correct
notebook and grades them, each time in a fresh copy of the course, with:

- ``old``: the grading path before the sandbox (commit ``--old``, checked out in a
  temporary git worktree and put first on PYTHONPATH: checks in the student's kernel,
  marker and key);
- ``unsandboxed``: today's path with ``--no-sandbox`` (out-of-process verdicts only);
- ``sandboxed``: today's default (bubblewrap and out-of-process verdicts);
- ``dask N``: today's default on a local dask.distributed cluster with N workers.

Each at ``--jobs 1`` and ``--jobs 2`` (Dask: 1 and 2 workers). With ``--repeat R`` the
local paths take turns R times (old, unsandboxed, sandboxed, old, ...) so that a busy
spell of the machine hits them alike, and each path's median counts. It prints wall seconds,
submissions per minute and seconds per submission (the whole command: workers, merge,
audit), then the ratios the issues set targets for: sandboxed / old per submission
(target < 1.15) and the per-submission overhead of Dask against the local pool with the
same parallelism (target < 1 s). Every run must give every copy full points (exit 1
otherwise). The load average is printed: other work on the machine skews the numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from submissions import welcome as W  # noqa: E402
from submissions.cluster import Cluster  # noqa: E402
from submissions.course import isolated_env, make_course, run  # noqa: E402

#: The last commit before the sandbox and the out-of-process verdicts.
OLD_PATH = "3753763"
PATHS = ["old", "unsandboxed", "sandboxed", "dask"]


def scores(root: Path, env: dict[str, str]) -> dict[str, float]:
    from nbgrader.api import Gradebook

    path = os.environ["PATH"]
    os.environ["PATH"] = env["PATH"]  # Gradebook runs `alembic`
    try:
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            return {s.student.id: s.score for s in gb.find_assignment(W.ASSIGNMENT).submissions}
    finally:
        os.environ["PATH"] = path


def build_template(course: Path, copies: int, source_repo: Path, env_extra: dict) -> None:
    """A released course with ``copies`` correct submissions, built by ``source_repo``."""
    saved = os.environ.copy()
    os.environ.update(env_extra)
    try:
        script = (
            "import sys; from pathlib import Path\n"
            f"sys.path.insert(0, {str(source_repo / 'tests')!r})\n"
            "from submissions import welcome as W\n"
            "from submissions.course import make_course\n"
            f"root = Path({str(course)!r}); make_course(root, W.ASSIGNMENT)\n"
            "released = root / 'notebooks' / W.ASSIGNMENT / f'{W.NOTEBOOK}.ipynb'\n"
            "correct = next(c for c in W.CASES if c.student == 'correct')\n"
            f"for i in range({copies}):\n"
            "    case = W.Case(f'student{i:02d}', correct.score, correct.build, correct.what)\n"
            "    W.write_case(case, released, root)\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True, env=os.environ.copy())
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Timing:
    def __init__(self, label: str, seconds: float, copies: int, load: float, full: bool):
        self.label, self.seconds, self.copies, self.load, self.full = (
            label,
            seconds,
            copies,
            load,
            full,
        )

    @property
    def per_submission(self) -> float:
        return self.seconds / self.copies

    def row(self) -> str:
        return (
            f"{self.label:<16} {self.seconds:>8.1f} {60 / self.per_submission:>9.2f} "
            f"{self.per_submission:>8.2f}   {self.load:>5.2f}   {'yes' if self.full else 'NO'}"
        )


def grade(label: str, template: Path, work: Path, args: list[str], extra_env: dict) -> Timing:
    root = work / label.replace(" ", "-")
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, root)
    env = {**isolated_env(root), **extra_env}
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    run(["course", "autograde", W.ASSIGNMENT, *args], root, env, timeout=3600)
    seconds = time.monotonic() - t0
    got = scores(root, env)
    copies = len(list((template / "submitted").iterdir()))
    full = len(got) == copies and all(v == W.MAX_SCORE for v in got.values())
    timing = Timing(label, seconds, copies, load, full)
    print(timing.row(), flush=True)
    return timing


def _median(runs: list[Timing]) -> Timing:
    ordered = sorted(runs, key=lambda x: x.seconds)
    middle = ordered[len(ordered) // 2]
    middle.full = all(x.full for x in runs)
    return middle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--old", default=OLD_PATH, help="commit of the path to compare with")
    parser.add_argument(
        "--paths", nargs="+", choices=PATHS, default=PATHS, help="measure only these paths"
    )
    parser.add_argument(
        "--jobs", nargs="+", type=int, choices=[1, 2], default=[1, 2], help="parallelism"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds; the paths take turns within a round and the median round counts",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-autograde-") as tmp:
        work = Path(tmp)
        old_tree = work / "old-tree"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(old_tree), args.old],
            check=True,
        )
        try:
            return _run(args, work, old_tree)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old_tree)],
                check=False,
            )


def _run(args, work: Path, old_tree: Path) -> int:
    old_env = {"PYTHONPATH": str(old_tree)}
    build_template(work / "template-old", args.copies, old_tree, old_env)
    make_course(work / "template", W.ASSIGNMENT)
    released = work / "template" / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    correct = next(c for c in W.CASES if c.student == "correct")
    for i in range(args.copies):
        W.write_case(W.Case(f"student{i:02d}", correct.score, correct.build, correct.what),
                     released, work / "template")  # fmt: skip

    print(f"{args.copies} copies of the correct 00_welcome submission, {os.cpu_count()} CPU(s)")
    print(f"{'path':<16} {'seconds':>8} {'subs/min':>9} {'s/sub':>8}   load   full points")
    t: dict[str, Timing] = {}
    templates = {"old": work / "template-old"}
    options = {"unsandboxed": ["--no-sandbox"], "sandboxed": []}
    rounds: dict[str, list[Timing]] = {}
    for jobs in args.jobs:
        for r in range(args.repeat):
            for path in [p for p in ("old", "unsandboxed", "sandboxed") if p in args.paths]:
                label = f"{path} {jobs}"
                extra = old_env if path == "old" else {}
                template = templates.get(path, work / "template")
                cmd = ["--jobs", str(jobs), *options.get(path, [])]
                rounds.setdefault(label, []).append(
                    grade(label, template, work / f"round{r}", cmd, extra)
                )
    t = {label: _median(runs) for label, runs in rounds.items()}
    for workers in (1, 2) if "dask" in args.paths else ():
        cluster = Cluster(work / f"dask{workers}", isolated_env(work / "dask-env"), workers)
        try:
            label = f"dask {workers}"
            t[label] = grade(label, work / "template", work, ["--cluster", cluster.address], {})
        finally:
            cluster.close()

    print()
    for jobs in args.jobs:
        got = {k: t.get(f"{k} {jobs}") for k in PATHS}
        if got["old"] and got["sandboxed"]:
            line = f"jobs {jobs}: sandboxed / old per submission "
            line += f"{got['sandboxed'].seconds / got['old'].seconds:.2f} (target < 1.15)"
            if got["unsandboxed"]:
                plain = got["unsandboxed"].seconds
                line += f"; out-of-process verdicts alone {plain / got['old'].seconds:.2f}"
                line += f", the sandbox on top {got['sandboxed'].seconds / plain:.2f}"
            print(line)
        if got["dask"] and got["sandboxed"]:
            extra = got["dask"].per_submission - got["sandboxed"].per_submission
            print(
                f"{jobs} Dask worker(s) vs --jobs {jobs}: {extra:+.2f} s per submission "
                "(target < 1 s)"
            )
    return 0 if all(x.full for x in t.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
