"""Shared pytest configuration: quiet TensorFlow, find the MNIST copy, expose paths."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "COURSE_DATA_DIR" not in os.environ and (SHARED_DATA / "mnist").is_dir():
    os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def mnist_available() -> bool:
    root = os.environ.get("COURSE_DATA_DIR")
    return bool(root) and (Path(root) / "mnist").is_dir()
