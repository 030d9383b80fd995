"""Argument validation: every error names the argument, what was expected and what came."""

import numpy as np
import pytest

from course_utils._validate import as_array, check_positive_int, check_probability


def test_exact_shape_mismatch_message():
    with pytest.raises(ValueError, match=r"^w: expected shape \(3,\), got \(4,\)$"):
        as_array(np.zeros(4), "w", shape=(3,))


def test_symbolic_sizes_must_agree_across_arguments():
    dims: dict[str, int] = {}
    as_array(np.zeros((8, 5)), "x", shape=("N", "D"), dims=dims)
    with pytest.raises(ValueError, match=r"^y: expected shape \(N,\) with N=8, got \(7,\)$"):
        as_array(np.zeros(7), "y", shape=("N",), dims=dims)


def test_ndim_and_dtype_kind():
    with pytest.raises(ValueError, match=r"x: expected 2 dimensions, got shape \(3,\)"):
        as_array(np.zeros(3), "x", ndim=2)
    with pytest.raises(ValueError, match=r"labels: expected dtype kind in 'iu'.*got float64"):
        as_array(np.zeros(3), "labels", dtype_kind="iu")
    with pytest.raises(ValueError, match="x: expected a numeric array, got dtype object"):
        as_array(np.array([1, "a"], dtype=object), "x")


def test_array_is_not_copied():
    x = np.zeros((2, 3))
    assert as_array(x, "x", shape=(2, 3)) is x


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_positive_int(bad):
    with pytest.raises(ValueError, match=rf"batch_size: expected a positive int, got {bad!r}"):
        check_positive_int(bad, "batch_size")
    assert check_positive_int(np.int64(4), "batch_size") == 4


def test_probability():
    assert check_probability(0.5, "p") == 0.5
    with pytest.raises(ValueError, match=r"p: expected a number in \[0, 1\), got 1"):
        check_probability(1, "p")
    assert check_probability(1, "p", inclusive_one=True) == 1.0
