"""Grader self-tests for grader_tests.welcome (assignment 00_welcome, ``accuracy``).

Every check passes the reference and the alternative correct implementations, prints
exactly one line and nothing on stderr, and rejects each known-wrong implementation of the
catalogue ``wrong/welcome_wrong.py`` with the expected diagnosis in its message; both in
the student's process and across the grading link (``cat`` is parametrized, see
``remote_kernel``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader_tests import welcome

from remote_kernel import catalogue_namespaces

catalogue, catalogue_server, cat = catalogue_namespaces(
    Path(__file__).parent / "wrong" / "welcome_wrong.py"
)

CHECKS = {
    "check_accuracy": welcome.check_accuracy,
    "check_accuracy_hidden": welcome.check_accuracy_hidden,
}
REAL_ASSERTION_ERROR = AssertionError


@pytest.mark.parametrize("check_name", CHECKS)
@pytest.mark.parametrize(
    "index", range(len(catalogue.CORRECT)), ids=[f.__name__ for f in catalogue.CORRECT]
)
def test_check_passes_correct_implementations(check_name, index, cat, capfd):
    CHECKS[check_name](cat.CORRECT[index])
    out, err = capfd.readouterr()
    assert out == f"✔ {check_name} passed\n"
    assert err == ""


WRONG_CASES = [
    pytest.param(name, check_name, id=f"{name}-{check_name}")
    for name, (_, _, checks) in catalogue.WRONG.items()
    for check_name in checks
]


@pytest.mark.parametrize(("wrong_name", "check_name"), WRONG_CASES)
def test_check_rejects_wrong_implementation_with_diagnosis(wrong_name, check_name, cat, capfd):
    impl, pattern, _ = cat.WRONG[wrong_name]
    with pytest.raises(REAL_ASSERTION_ERROR) as info:
        CHECKS[check_name](impl)
    message = str(info.value)
    assert message.startswith(f"{check_name}: ")
    assert info.match(pattern), message
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_hard_coded_visible_answer_passes_only_the_visible_check(cat):
    # Documents why the hidden check exists: the visible one alone can be gamed.
    welcome.check_accuracy(cat.hard_coded_visible_answer)


def test_checks_do_not_modify_their_module_data(cat):
    before = (welcome._SCORES.copy(), welcome._Y.copy())
    welcome.check_accuracy(cat.reference)
    with pytest.raises(REAL_ASSERTION_ERROR):
        welcome.check_accuracy(cat.mutates_scores)
    assert (welcome._SCORES == before[0]).all() and (welcome._Y == before[1]).all()


def test_hidden_cases_cover_the_edge_cases_they_claim():
    cases = welcome._hidden_cases()
    shapes = [s.shape for s, _, _ in cases]
    assert any(n == 1 for n, _ in shapes)
    assert any(n == c for n, c in shapes)
    values = {welcome._reference(s, y) for s, y, _ in cases}
    assert {0.0, 1.0} <= values and len(values) >= 6  # no constant answer can pass
    square = [(s, y) for s, y, d in cases if s.shape[0] == s.shape[1]]
    assert all(catalogue.argmax_axis0(s, y) != welcome._reference(s, y) for s, y in square)
