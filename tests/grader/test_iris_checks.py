"""Grader self-tests for grader_tests.iris (assignment 04_iris).

Every check passes the alternative correct implementations, prints exactly one line and
nothing on stderr, and rejects each known-wrong implementation of the catalogue
``wrong/iris_wrong.py`` with the expected diagnosis in its message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader_tests import iris

from remote_kernel import catalogue_namespaces

catalogue, catalogue_server, cat = catalogue_namespaces(
    Path(__file__).parent / "wrong" / "iris_wrong.py"
)

REAL_ASSERTION_ERROR = AssertionError
_NAMES = {
    "stratified_split": ("SPLIT_CORRECT", "SPLIT_WRONG"),
    "standardize": ("STD_CORRECT", "STD_WRONG"),
    "build_numpy_model": ("NUMPY_CORRECT", "NUMPY_WRONG"),
    "build_keras_model": ("KERAS_CORRECT", "KERAS_WRONG"),
}
TASKS = {task: (getattr(catalogue, c), getattr(catalogue, w)) for task, (c, w) in _NAMES.items()}


def _tasks(ns) -> dict:
    return {task: (getattr(ns, c), getattr(ns, w)) for task, (c, w) in _NAMES.items()}


def _check(name: str):
    return getattr(iris, name)


CORRECT_CASES = [
    pytest.param(task, i, f"check_{task}{suffix}", id=f"{impl.__name__}-check_{task}{suffix}")
    for task, (correct, _) in TASKS.items()
    for i, impl in enumerate(correct)
    for suffix in ("", "_hidden")
]


@pytest.mark.parametrize(("task", "index", "check_name"), CORRECT_CASES)
def test_check_passes_correct_implementations(task, index, check_name, cat, capfd):
    capfd.readouterr()
    _check(check_name)(_tasks(cat)[task][0][index])
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
def test_check_rejects_wrong_implementation_with_diagnosis(
    task, wrong_name, check_name, cat, capfd
):
    impl, pattern, _ = _tasks(cat)[task][1][wrong_name]
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
def test_hidden_only_entries_really_pass_the_visible_check(task, wrong_name, cat):
    # Documents why each hidden check exists: these mistakes survive the visible one.
    impl = _tasks(cat)[task][1][wrong_name][0]
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
