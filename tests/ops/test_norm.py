"""norm: NumPy's values, the gradient x / |x| and 0 at the origin (where the chain
rule through sqrt(sum(x**2)) gives NaN), the Hessian's closed form where it exists,
and PyTorch's gradient as an oracle where installed (it also gives 0 at the origin)."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def test_norm_gradient_at_the_origin_is_zero_where_the_naive_formula_gives_nan():
    x = gc.Variable("x", (3,))
    zero = np.zeros(3)
    g = gc.grad(gc.norm(x), x)
    np.testing.assert_array_equal(gc.evaluate(g, {x: zero}), zero)
    np.testing.assert_array_equal(gc.compile(g)(zero), zero)
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = gc.evaluate(gc.grad(gc.sqrt(gc.sum(x * x)), x), {x: zero})
    assert np.isnan(naive).all()


def test_norm_per_axis_gives_each_zero_row_a_zero_gradient_and_the_others_x_over_norm():
    xv = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, -2.0]])
    x = gc.Variable("x", (None, 2))
    n = gc.norm(x, axis=1, keepdims=True)
    assert n.shape == (None, 1)
    got = gc.evaluate(gc.grad(n.sum(), x), {x: xv})
    np.testing.assert_allclose(got, [[0.0, 0.0], [0.6, 0.8], [0.0, -1.0]], rtol=1e-15)


def test_norm_hessian_equals_the_closed_form_and_is_finite_at_the_origin():
    """d2 |x| / dx2 = (I - x x^T / |x|^2) / |x| for x != 0; none exists at 0, where ours is finite."""
    x = gc.Variable("x", (3,))
    h = gc.hessian(gc.norm(x), x)
    xv = np.array([1.0, -2.0, 2.0])
    r = np.linalg.norm(xv)
    np.testing.assert_allclose(gc.evaluate(h, {x: xv}), (np.eye(3) - np.outer(xv, xv) / r**2) / r, rtol=1e-14)
    assert np.all(np.isfinite(gc.evaluate(h, {x: np.zeros(3)})))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_norm_values_and_gradients_match_pytorch_including_the_origin(axis):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((3, 4))
    xv[1] = 0.0
    xv[:, 2] = 0.0  # a zero row and a zero column: some slices at the origin, whatever the axis
    w = rng.standard_normal(np.linalg.norm(xv, axis=axis).shape)
    t = torch.tensor(xv, requires_grad=True)
    ty = torch.linalg.vector_norm(t, dim=axis)
    (ty * torch.tensor(w)).sum().backward()
    x = gc.Variable("x", (3, 4))
    y = gc.norm(x, axis=axis)
    got, grad = gc.evaluate([y, gc.grad((y * gc.constant(w)).sum(), x)], {x: xv})
    np.testing.assert_allclose(got, np.linalg.norm(xv, axis=axis), rtol=1e-14)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-14)


def test_norm_dtypes_follow_numpy_and_complex_is_refused():
    assert gc.norm(gc.Variable("f", (3,), "float32")).dtype == np.float32
    i = gc.Variable("i", (2,), "int64")
    assert gc.norm(i).dtype == np.linalg.norm(np.ones(2, np.int64)).dtype
    assert float(gc.evaluate(gc.norm(i), {i: [3, 4]})) == 5.0
    with pytest.raises(gc.DTypeError, match="norm: c is complex .*; built at test_norm.py"):
        gc.norm(gc.Variable("c", (2,), "complex128"))
    with pytest.raises(gc.ShapeError, match="norm: axis 2 is out of bounds"):
        gc.norm(gc.Variable("x", (2, 3)), axis=2)
