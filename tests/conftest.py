"""Shared pytest configuration: quiet TensorFlow, find the MNIST copy, expose paths."""

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "COURSE_DATA_DIR" not in os.environ and (SHARED_DATA / "mnist").is_dir():
    os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)
# Tests never touch the real user cache, nor any network beyond loopback: downloads go to a
# throwaway cache and the default mirrors point at a closed local port.
os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="nn-course-cache-")
os.environ["COURSE_MNIST_MIRRORS"] = "http://127.0.0.1:9/"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def mnist_available() -> bool:
    root = os.environ.get("COURSE_DATA_DIR")
    return bool(root) and (Path(root) / "mnist").is_dir()


# --- the two labs, started once per session for test_lab.py and test_browser.py ---------
@pytest.fixture(scope="session")
def labs(tmp_path_factory):
    """`make lab` on a fresh workspace made from the repository's release, and `make
    instructor` on a scratch copy of the course (it writes a gradebook), started together."""
    from labs import copy_course, launch_lab, stop, wait_ready

    student_tmp = tmp_path_factory.mktemp("student-lab")
    instructor_tmp = tmp_path_factory.mktemp("instructor-lab")
    started = [
        launch_lab("lab", student_tmp, REPO, WORKSPACE=str(student_tmp / "workspace")),
        launch_lab("instructor", instructor_tmp, copy_course(instructor_tmp / "course")),
    ]
    try:
        yield [wait_ready(lab) for lab in started]
    finally:
        for lab in started:
            stop(lab.proc)


@pytest.fixture(scope="session")
def student_lab(labs):
    return labs[0]


@pytest.fixture(scope="session")
def instructor_lab(labs):
    return labs[1]
