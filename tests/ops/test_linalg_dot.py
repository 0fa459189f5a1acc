"""gc.dot follows np.dot for operands of any number of dimensions."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd


def test_one_unknown_leading_dimension_of_a_runs_at_any_size_and_differentiates():
    a, b = gc.Variable("a", (None, 3, 4)), gc.Variable("b", (2, 4, 5))
    y = gc.dot(a, b)
    assert y.shape == (None, 3, 2, 5)
    f = gc.compile([y, *gc.grad((y * y).sum(), [a, b])], [a, b])
    rng = np.random.default_rng(0)
    B = rng.standard_normal((2, 4, 5))
    for rows in (1, 6):
        A = rng.standard_normal((rows, 3, 4))
        out, ga, gb = f(A, B)
        np.testing.assert_allclose(out, np.dot(A, B), rtol=1e-13)
        want = np.dot(A, B)  # d sum(y^2) = 2 y; closed forms of dot's two gradients
        np.testing.assert_allclose(ga, np.einsum("ijkl,kml->ijm", 2 * want, B), rtol=1e-12)
        np.testing.assert_allclose(gb, np.einsum("ijkl,ijm->kml", 2 * want, A), rtol=1e-12)
    assert_grads_match_fd((y * gc.constant(rng.standard_normal((6, 3, 2, 5)))).sum(), [a, b], [A, B], [0, 1], rng)


@pytest.mark.parametrize(
    "sa, sb, message",
    [
        ((2, 3, 4), (6, 5, 5), r"not aligned \(4 != 5\)"),
        ((None, None, 4), (6, 4, 5), "at most one unknown dimension in a"),
        ((2, 3, 4), (None, 4, 5), "needs b's shape"),
        ((2, 3, None), (6, None, 5), "the summed axis known"),
    ],
)
def test_what_a_stacked_b_cannot_take_is_said_at_build_time(sa, sb, message):
    with pytest.raises(gc.ShapeError, match=message) as e:
        gc.dot(gc.Variable("a", sa), gc.Variable("b", sb))
    assert "test_linalg_dot.py" in str(e.value)


def test_without_a_stack_in_b_dot_is_matmul():
    a, b = gc.Variable("a", (2, 3, 4)), gc.Variable("b", (4, 5))
    assert gc.dot(a, b).owner.op.name == "matmul"
    assert gc.dot(gc.Variable("u", (4,)), gc.Variable("s", (2, 4, 5))).owner.op.name == "matmul"
