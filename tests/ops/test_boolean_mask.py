"""x[mask]: NumPy's selection (a full-shape mask, or one over the leading axes), the
(None,)-shaped result, the gradient scattered back (zeros for an all-False mask),
second derivatives, wrong-shape masks at build time and at run time, PyTorch's
gradient as an oracle where installed."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc

XV = np.arange(12.0).reshape(3, 4) - 5.0
MASK = XV % 3 == 0


@pytest.mark.parametrize("unknown", [False, True])
@pytest.mark.parametrize("as_variable", [False, True])
def test_mask_selects_as_numpy_and_the_gradient_scatters_back(unknown, as_variable):
    x = gc.Variable("x", (None, None) if unknown else (3, 4))
    m = gc.Variable("m", x.shape, "bool") if as_variable else MASK
    feed = {x: XV, m: MASK} if as_variable else {x: XV}
    y = x[m]
    assert y.shape == (None,) and y.dtype == np.float64
    w = np.linspace(-1.0, 2.0, int(MASK.sum()))
    g = gc.grad((y * gc.constant(w)).sum(), x)
    got_y, got_g = gc.evaluate([y, g], feed)
    np.testing.assert_array_equal(got_y, XV[MASK])
    want = np.zeros_like(XV)
    want[MASK] = w  # entry k of x[mask] is the k-th selected place in row-major order
    np.testing.assert_array_equal(got_g, want)
    np.testing.assert_array_equal(gc.compile([y, g], list(feed))(*feed.values())[1], want)


def test_an_all_false_mask_gives_an_empty_result_and_a_zero_gradient():
    x = gc.Variable("x", (3, 4))
    nothing = np.zeros((3, 4), bool)
    y = x[nothing]
    cost = gc.sum(gc.exp(y))
    got_y, got_cost, got_g = gc.evaluate([y, cost, gc.grad(cost, x)], {x: XV})
    assert got_y.shape == (0,) and float(got_cost) == 0.0
    np.testing.assert_array_equal(got_g, np.zeros((3, 4)))


def test_a_mask_over_the_leading_axes_selects_rows_as_numpy():
    x = gc.Variable("x", (3, None))
    rows = np.array([True, False, True])
    y = x[rows]
    assert y.shape == (None, None)
    np.testing.assert_array_equal(gc.evaluate(y, {x: XV}), XV[rows])
    g = gc.evaluate(gc.grad(gc.sum(y * y), x), {x: XV})
    np.testing.assert_array_equal(g, 2 * XV * rows[:, None])


def test_a_mask_computed_from_x_and_second_derivatives():
    """sum(x[x > 0] ** 3): gradient 3 x**2 where x > 0, Hessian diag(6 x) there, 0 elsewhere."""
    x = gc.Variable("x", (5,))
    xv = np.array([-1.0, 2.0, 0.0, 3.0, -4.0])
    cost = gc.sum(x[x > 0.0] ** 3)
    g = gc.grad(cost, x)
    got_g, got_h = gc.evaluate([g, gc.jacobian(g, x)], {x: xv})
    np.testing.assert_array_equal(got_g, np.where(xv > 0, 3 * xv**2, 0.0))
    np.testing.assert_array_equal(got_h, np.diag(np.where(xv > 0, 6 * xv, 0.0)))


def test_mask_gradient_matches_pytorch():
    torch = pytest.importorskip("torch")
    t = torch.tensor(XV, requires_grad=True)
    (torch.sin(t[torch.tensor(MASK)]) * t[torch.tensor(MASK)]).sum().backward()
    x = gc.Variable("x", (3, 4))
    y = x[MASK]
    np.testing.assert_allclose(gc.evaluate(gc.grad(gc.sum(gc.sin(y) * y), x), {x: XV}), t.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("mask_shape", [(4,), (3, 3), (3, 4, 1), (4, 3)])
def test_a_mask_of_the_wrong_shape_is_refused_when_built_naming_both_shapes(mask_shape):
    x = gc.Variable("x", (3, 4))
    with pytest.raises(gc.ShapeError) as e:
        x[np.ones(mask_shape, bool)]
    message = str(e.value)
    assert f"boolean mask of shape {mask_shape}" in message and "(3, 4)" in message
    assert "built at test_boolean_mask.py" in message


def test_a_mask_of_the_wrong_shape_found_at_run_time_is_an_error_naming_the_node():
    x, m = gc.Variable("x", (None, None)), gc.Variable("m", (None, None), "bool")
    y = x[m]
    bad = {x: XV, m: np.ones((3, 3), bool)}
    for run in (lambda: gc.evaluate(y, bad), lambda: gc.compile(y, [x, m])(XV, np.ones((3, 3), bool))):
        with pytest.raises(gc.EvaluationError) as e:
            run()
        message = str(e.value)
        assert "boolean_mask failed" in message and "mask of shape (3, 3)" in message and "(3, 4)" in message
        assert "built at test_boolean_mask.py" in message


def test_masks_that_are_not_the_whole_index_or_not_arrays_are_refused_clearly():
    x = gc.Variable("x", (3, 4))
    with pytest.raises(gc.ArgumentError, match="boolean mask must be the whole index"):
        x[MASK[0], 1]
    with pytest.raises(gc.ArgumentError, match="boolean mask must be the whole index"):
        x[1, gc.Variable("m", (4,), "bool")]
    with pytest.raises(gc.ArgumentError, match="a Python bool is not an index"):
        x[True]
    assert x[gc.Variable("i", (2,), "int64")].shape == (2, 4)  # integer arrays still index
