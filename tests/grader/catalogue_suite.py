"""The two self-tests every catalogue of implementations gets, made once for all of them.

A self-test file names its checks module, its catalogue file and its tasks, and takes
the tests from :func:`catalogue_suite`::

    suite = catalogue_suite(tuning, Path(__file__).parent / "wrong" / "tuning_wrong.py",
                            {"adam": ("ADAM_CORRECT", "ADAM_WRONG")})
    catalogue, cat, TASKS = suite.catalogue, suite.cat, suite.TASKS
    test_check_passes_correct_implementations = suite.test_passes
    test_check_rejects_wrong_implementation_with_diagnosis = suite.test_rejects

The catalogue module holds, per task, a list of correct implementations and a dict
``{name: (implementation, message_pattern, check_names)}`` of wrong ones. An
implementation that is a tuple or list (a forward/backward pair, augmentation's five
functions) is passed to the check as that many arguments. Both tests run in the student's
process and across the grading link (``remote_kernel.catalogue_namespaces``):

- every check passes every correct implementation, printing exactly ``✔ <check> passed``
  and nothing on stderr;
- every wrong one fails each of its checks with an AssertionError that starts with the
  check's name, matches the entry's pattern and carries a hint (``hint_given`` decides
  what counts as one), printing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from remote_kernel import catalogue_namespaces

REAL_ASSERTION_ERROR = AssertionError  # a submission cannot swap the class the tests catch


def check_args(impl) -> tuple:
    """A check's arguments: one implementation, or the functions of a tuple or list."""
    return tuple(impl) if isinstance(impl, tuple | list) else (impl,)


def impl_name(impl) -> str:
    return "+".join(getattr(f, "__name__", "impl") for f in check_args(impl))


def assert_passes(checks: ModuleType, check_name: str, args: tuple, capfd) -> None:
    capfd.readouterr()
    getattr(checks, check_name)(*args)
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


def assert_rejects(checks: ModuleType, check_name: str, args: tuple, pattern: str, capfd) -> str:
    """The check's failure message (after asserting its form and that nothing was printed)."""
    capfd.readouterr()
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        getattr(checks, check_name)(*args)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    return message


def _has_hint(wrong_name: str, message: str) -> bool:
    return "Hint:" in message


def catalogue_suite(
    checks: ModuleType,
    path: Path,
    names: dict[str, tuple[str, str]],
    *,
    hint_given: Callable[[str, str], bool] = _has_hint,
) -> SimpleNamespace:
    """The catalogue (``catalogue``, its fixture ``cat``, ``TASKS``, ``tasks(ns)``) and the
    two parametrised tests ``test_passes`` and ``test_rejects``."""
    catalogue, catalogue_server, cat = catalogue_namespaces(path)

    def tasks(ns) -> dict:
        return {task: (getattr(ns, c), getattr(ns, w)) for task, (c, w) in names.items()}

    TASKS = tasks(catalogue)
    correct_cases = [
        pytest.param(task, i, f"check_{task}{suffix}", id=f"{impl_name(impl)}-check_{task}{suffix}")
        for task, (correct, _) in TASKS.items()
        for i, impl in enumerate(correct)
        for suffix in ("", "_hidden")
    ]
    wrong_cases = [
        pytest.param(task, name, check_name, id=f"{task}:{name}-{check_name}")
        for task, (_, wrong) in TASKS.items()
        for name, (_, _, check_names) in wrong.items()
        for check_name in check_names
    ]

    @pytest.mark.parametrize(("task", "index", "check_name"), correct_cases)
    def test_passes(task, index, check_name, cat, capfd):
        assert_passes(checks, check_name, check_args(tasks(cat)[task][0][index]), capfd)

    @pytest.mark.parametrize(("task", "wrong_name", "check_name"), wrong_cases)
    def test_rejects(task, wrong_name, check_name, cat, capfd):
        impl, pattern, _ = tasks(cat)[task][1][wrong_name]
        message = assert_rejects(checks, check_name, check_args(impl), pattern, capfd)
        assert hint_given(wrong_name, message), message

    return SimpleNamespace(
        catalogue=catalogue,
        catalogue_server=catalogue_server,
        cat=cat,
        TASKS=TASKS,
        tasks=tasks,
        test_passes=test_passes,
        test_rejects=test_rejects,
    )
