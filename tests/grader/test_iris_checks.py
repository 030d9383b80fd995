"""Grader self-tests for grader_tests.iris (assignment 04_iris).

Every check passes the alternative correct implementations, prints exactly one line and
nothing on stderr, and rejects each known-wrong implementation of the catalogue
``wrong/iris_wrong.py`` with the expected diagnosis in its message.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from grader_tests import iris

_spec = importlib.util.spec_from_file_location(
    "iris_wrong", Path(__file__).parent / "wrong" / "iris_wrong.py"
)
catalogue = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(catalogue)

REAL_ASSERTION_ERROR = AssertionError
TASKS = {
    "stratified_split": (catalogue.SPLIT_CORRECT, catalogue.SPLIT_WRONG),
    "standardize": (catalogue.STD_CORRECT, catalogue.STD_WRONG),
    "build_numpy_model": (catalogue.NUMPY_CORRECT, catalogue.NUMPY_WRONG),
    "build_keras_model": (catalogue.KERAS_CORRECT, catalogue.KERAS_WRONG),
}


def _check(name: str):
    return getattr(iris, name)


CORRECT_CASES = [
    pytest.param(f"check_{task}{suffix}", impl, id=f"{impl.__name__}-check_{task}{suffix}")
    for task, (correct, _) in TASKS.items()
    for impl in correct
    for suffix in ("", "_hidden")
]


@pytest.mark.parametrize(("check_name", "impl"), CORRECT_CASES)
def test_check_passes_correct_implementations(check_name, impl, capfd):
    capfd.readouterr()
    _check(check_name)(impl)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


WRONG_CASES = [
    pytest.param(task, name, check_name, id=f"{task}:{name}-{check_name}")
    for task, (_, wrong) in TASKS.items()
    for name, (_, _, checks) in wrong.items()
    for check_name in checks
]


@pytest.mark.parametrize(("task", "wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(task, wrong_name, check_name, capfd):
    impl, pattern, _ = TASKS[task][1][wrong_name]
    capfd.readouterr()
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        _check(check_name)(impl)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""


HIDDEN_ONLY = [
    pytest.param(task, name, id=f"{task}:{name}")
    for task, (_, wrong) in TASKS.items()
    for name, (_, _, checks) in wrong.items()
    if checks == (f"check_{task}_hidden",)
]


@pytest.mark.parametrize(("task", "wrong_name"), HIDDEN_ONLY)
def test_hidden_only_entries_really_pass_the_visible_check(task, wrong_name):
    # Documents why each hidden check exists: these mistakes survive the visible one.
    impl = TASKS[task][1][wrong_name][0]
    _check(f"check_{task}")(impl)


def test_every_check_has_a_catalogue():
    names = {n for n in dir(iris) if n.startswith("check_")}
    covered = {f"check_{t}{s}" for t in TASKS for s in ("", "_hidden")}
    assert names == covered


def test_split_checks_use_data_the_visible_spec_talks_about():
    cases = iris._hidden_split_cases()
    # the hidden data include unsorted rows, non-integer class shares and several classes
    assert any(not np.all(np.diff(y) >= 0) and not np.all(np.diff(y) <= 0) for _, y, *_ in cases)
    assert any(any(ts * n % 1 for n in np.bincount(y)) for _, y, ts, *_ in cases)
    assert {len(np.unique(y)) for _, y, *_ in cases} >= {2, 3, 5}
