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
