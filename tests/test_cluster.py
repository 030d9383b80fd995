"""`course autograde --cluster`: the same units on a real dask.distributed cluster.

A `dask scheduler` and two `dask worker` processes are started on 127.0.0.1 in the course
environment. 00_welcome is trimmed to its graded cells (no TensorFlow import, no plots),
which keeps each unit to a few seconds. Nine submissions (correct, blank, fitted to the
visible case, late, one that raises, a crash, an infinite loop, a hostile daemon, a
forged-marker attack) are graded on the cluster and, in a copy of the course, by the
local `--jobs 2` pool: the gradebooks must be identical (scores, per-cell grades,
timestamps, late penalties). A second cluster run kills one worker while units are
running: every student still gets a row and the same score. A scheduler that cannot be
reached, or that dies mid-run, ends the run with a clear message and no gradebook write.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from submissions import hostile as H
from submissions import welcome as W
from submissions.cluster import Cluster, free_port
from submissions.course import BIN, isolated_env, make_course, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

STUDENTS = ["correct", "blank", "partly", "late", "os_exit", "infinite_loop", "raises"]
HOSTILE = ["h_daemon", "h_env_key"]
CASES = [c for c in W.CASES if c.student in STUDENTS] + [
    c for c in H.CASES if c.student in HOSTILE
]


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    template = base / "template"
    env = make_course(template, W.ASSIGNMENT, cell_timeout=20, duedate=W.DUEDATE, lean=True)
    released = template / "notebooks" / W.ASSIGNMENT / f"{W.NOTEBOOK}.ipynb"
    for case in CASES:
        W.write_case(case, released, template)
    roots = {}
    for name in ("local", "cluster", "killed"):
        roots[name] = base / name
        shutil.copytree(template, roots[name])
    worker_env = {**isolated_env(base / "workers"), "PYTHONUNBUFFERED": "1"}
    return roots, env, base, worker_env


def _autograde(root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["course", "autograde", W.ASSIGNMENT, "--timeout", "300", "--memory", "2048", *args]
    return run(cmd, root, isolated_env(root), timeout=1800)


def _gradebook(root: Path) -> dict:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "nn-from-scratch") as gb:
        out = {}
        for sub in gb.find_assignment(W.ASSIGNMENT).submissions:
            cells = {g.name: (g.auto_score, g.manual_score) for g in sub.notebooks[0].grades}
            out[sub.student.id] = (
                sub.score,
                sub.timestamp,
                sub.total_seconds_late,
                sub.late_submission_penalty,
                cells,
            )
        return out


@pytest.fixture(scope="module")
def cluster(courses):
    _, _, base, worker_env = courses
    c = Cluster(base, worker_env)
    yield c
    c.close()


def test_a_cluster_gives_the_gradebook_of_the_local_pool(courses, cluster):
    roots, *_ = courses
    local = _autograde(roots["local"], "--jobs", "2")
    remote = _autograde(roots["cluster"], "--cluster", cluster.address)
    assert _gradebook(roots["cluster"]) == _gradebook(roots["local"])
    assert len(_gradebook(roots["local"])) == len(CASES)
    for case in CASES:
        assert _gradebook(roots["cluster"])[case.student][0] == case.score, case.student
    assert "on the cluster" in remote.stdout and "submission(s) graded" in local.stdout


def test_a_worker_killed_mid_run_loses_nothing(courses, cluster):
    roots, *_ = courses
    proc = subprocess.Popen(
        [str(BIN / "course"), "autograde", W.ASSIGNMENT, "--cluster", cluster.address,
         "--timeout", "300", "--memory", "2048"],  # fmt: skip
        cwd=roots["killed"],
        env=isolated_env(roots["killed"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    victim = cluster.worker_pids()[0]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill it while it grades (it has a child then)
        # units run in a worker thread: its children are listed under that thread's task
        tasks = Path(f"/proc/{victim}/task").glob("*/children")
        if any(t.read_text().strip() for t in tasks):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the worker could be killed mid-unit"
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, out + err
    book = _gradebook(roots["killed"])
    assert set(book) == {c.student for c in CASES}
    for case in CASES:
        assert book[case.student][0] == case.score, (case.student, out)
    assert _gradebook(roots["killed"]) == _gradebook(roots["local"])


def test_a_lost_scheduler_ends_the_run_without_gradebook_writes(courses, tmp_path):
    roots, *_ = courses
    root = tmp_path / "course"
    shutil.copytree(roots["local"].parent / "template", root)
    before = (root / "gradebook.db").read_bytes()
    proc = subprocess.run(
        [str(BIN / "course"), "autograde", W.ASSIGNMENT, "--cluster",
         f"tcp://127.0.0.1:{free_port()}"],  # fmt: skip
        cwd=root,
        env=isolated_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "cannot reach the Dask scheduler" in proc.stderr
    assert (root / "gradebook.db").read_bytes() == before


def test_a_scheduler_lost_mid_run_writes_nothing(courses, tmp_path):
    roots, _, base, worker_env = courses
    root = tmp_path / "course"
    shutil.copytree(base / "template", root)
    before = (root / "gradebook.db").read_bytes()
    doomed = Cluster(tmp_path, worker_env)
    try:
        proc = subprocess.Popen(
            [str(BIN / "course"), "autograde", W.ASSIGNMENT, "--cluster", doomed.address],
            cwd=root,
            env=isolated_env(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        logs = root / ".course_work" / "logs" / W.ASSIGNMENT
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (logs.is_dir() and any(logs.iterdir())):
            time.sleep(0.2)  # the first unit is back: the others are on the workers
        os.killpg(doomed.procs[0].pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        doomed.close()
    assert proc.returncode == 1, out + err
    assert "scheduler" in err and "was lost" in err and "nothing was written" in err
    assert (root / "gradebook.db").read_bytes() == before


def test_dask_is_the_course_environment():
    assert (Path(sys.executable).parent / "dask").exists()
