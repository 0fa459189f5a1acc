"""prod, cumsum and the scans behind prod's gradient: the traps (one and two zero
entries, first, second and third derivatives) against closed forms written as loops,
PyTorch and JAX (float64) where installed; cumsum's gradient, a reversed cumsum."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.ops.binary import Divide
from graphcomp.ops.cumulative import AffineScan, ExclusiveCumprod


def _others(x: np.ndarray, *skip: int) -> float:
    """The product of the entries of the 1-D x except those at ``skip`` (all distinct)."""
    return math.prod(float(v) for k, v in enumerate(x) if k not in skip)


def _prod_derivatives(x: np.ndarray):
    """Gradient, Hessian and third-derivative tensor of prod(x), entry by entry: the
    derivative in distinct entries is the product of the rest, 0 when an entry repeats."""
    n = len(x)
    grad = np.array([_others(x, i) for i in range(n)])
    hess = np.array([[_others(x, i, j) if i != j else 0.0 for j in range(n)] for i in range(n)])
    third = np.zeros((n, n, n))
    for i, j, k in itertools.product(range(n), repeat=3):
        if len({i, j, k}) == 3:
            third[i, j, k] = _others(x, i, j, k)
    return grad, hess, third


ZEROS = {
    "no zero": [2.0, -1.5, 3.0, 0.5, 1.25],
    "one zero": [2.0, 0.0, 3.0, 0.5, 1.25],
    "two zeros": [2.0, 0.0, 3.0, 0.0, 1.25],
    "three zeros": [0.0, 0.0, 3.0, 0.0, 1.25],
}


def _derivatives(xv):
    x = gc.Variable("x", (len(xv),))
    p = gc.prod(x)
    g = gc.grad(p, x)
    h = gc.jacobian(g, x)
    t = gc.jacobian(h, x)
    return [np.asarray(v) for v in gc.evaluate([g, h, t], {x: np.array(xv)})]


@pytest.mark.parametrize("case", list(ZEROS), ids=list(ZEROS))
def test_prod_derivatives_of_every_order_equal_the_closed_form_at_zeros(case):
    xv = np.array(ZEROS[case])
    with np.errstate(all="raise"):  # a division by zero anywhere would raise here
        got = _derivatives(xv)
    for g, w in zip(got, _prod_derivatives(xv)):
        np.testing.assert_array_equal(g, w)


def test_prod_gradient_with_one_zero_is_nonzero_only_at_that_entry_and_with_two_all_zero():
    g1, _, _ = _derivatives(ZEROS["one zero"])
    assert np.flatnonzero(g1).tolist() == [1] and g1[1] == 2.0 * 3.0 * 0.5 * 1.25
    g2, h2, _ = _derivatives(ZEROS["two zeros"])
    assert not g2.any()
    # with two zeros only the mixed second derivative of the two zero entries survives
    assert np.flatnonzero(h2).tolist() == [1 * 5 + 3, 3 * 5 + 1] and h2[1, 3] == 2.0 * 3.0 * 1.25


def test_prods_gradient_graph_never_divides():
    x = gc.Variable("x", (None, 4))
    p = gc.prod(x, axis=(0, 1))
    g = gc.grad(p, x)
    h = gc.grad((g * gc.constant(np.arange(4.0))).sum(), x)
    assert not any(isinstance(v.owner.op, Divide) for v in ancestors([g, h]) if v.owner is not None)


def _prod_grad_loop(x: np.ndarray, axes: tuple) -> np.ndarray:
    """d sum(prod(x, axes)) / dx: for each entry, the product of the others in its slice."""
    out = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        same = [j for j in np.ndindex(*x.shape) if all(j[a] == idx[a] for a in range(x.ndim) if a not in axes)]
        out[idx] = math.prod(float(x[j]) for j in same if j != idx)
    return out


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 2), (0, 1, 2)])
def test_prod_over_several_axes_with_zeros_matches_the_loop(axes):
    rng = np.random.default_rng(0)
    xv = rng.uniform(0.5, 1.5, (2, 3, 4))
    xv[0, 1, 2] = xv[1, 1, 2] = xv[1, 0, 0] = 0.0  # one zero in some slices, two in others
    for shape in [xv.shape, (None, 3, None)]:
        x = gc.Variable("x", shape)
        g = gc.grad(gc.prod(x, axis=axes).sum(), x)
        np.testing.assert_allclose(gc.evaluate(g, {x: xv}), _prod_grad_loop(xv, axes), rtol=1e-14, atol=0)


def test_prod_hessian_with_zeros_matches_pytorch():
    torch = pytest.importorskip("torch")
    for xv in ZEROS.values():
        _, hess, _ = _derivatives(xv)
        want = torch.autograd.functional.hessian(torch.prod, torch.tensor(xv, dtype=torch.float64))
        np.testing.assert_allclose(hess, want.numpy(), rtol=1e-15, atol=0)


def test_prod_derivatives_with_zeros_match_jax():
    jax = pytest.importorskip("jax")
    if not hasattr(jax, "enable_x64"):
        pytest.skip("this JAX has no enable_x64 context")
    import jax.numpy as jnp

    third = jax.jit(jax.jacfwd(jax.hessian(jnp.prod)))
    with jax.enable_x64(True):
        for xv in (ZEROS["one zero"], ZEROS["two zeros"]):
            got = _derivatives(xv)
            a = jnp.asarray(xv)
            want = [jax.grad(jnp.prod)(a), jax.hessian(jnp.prod)(a), third(a)]
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, np.asarray(w), rtol=1e-14, atol=0)


def test_prod_dtype_and_shape_follow_numpy():
    x = gc.Variable("x", (None, 3), "int32")
    assert gc.prod(x, axis=0).shape == (3,) and gc.prod(x).dtype == np.prod(np.ones(2, np.int32)).dtype
    f = gc.Variable("f", (2, 3), "float32")
    p = gc.prod(f, axis=1, keepdims=True)
    assert p.shape == (2, 1) and p.dtype == np.float32
    assert gc.grad(p.sum(), f).dtype == np.float32


# -- cumsum ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_cumsums_gradient_is_the_reversed_cumsum_of_the_weights(axis):
    """sum(w * cumsum(x)) = sum_i x_i * (sum over k >= i of w_k): the gradient is w's cumsum from the end."""
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((3, 4))
    w = rng.standard_normal(np.cumsum(xv, axis=axis).shape)
    if axis is None:
        want = np.flip(np.cumsum(np.flip(w))).reshape(xv.shape)
    else:
        want = np.flip(np.cumsum(np.flip(w, axis), axis=axis), axis)
    for shape in [(3, 4), (None, None)]:
        x = gc.Variable("x", shape)
        y = gc.cumsum(x, axis=axis)
        g = gc.grad((y * gc.constant(w)).sum(), x)
        np.testing.assert_allclose(gc.evaluate(g, {x: xv}), want, rtol=1e-14)
        np.testing.assert_allclose(gc.compile(g, [x])(xv), want, rtol=1e-14)
        # the gradient is itself a cumsum, running the other way
        reversed_ops = [v.owner.op for v in ancestors([g]) if v.owner is not None and v.owner.op.name == "cumsum"]
        assert any(op.reverse for op in reversed_ops)


def test_cumsum_shapes_and_dtypes_follow_numpy():
    x = gc.Variable("x", (None, 3))
    assert gc.cumsum(x).shape == (None,) and gc.cumsum(x, axis=1).shape == (None, 3)
    assert gc.cumsum(gc.Variable("s")).shape == (1,) == np.cumsum(np.float64(2.0)).shape
    assert gc.cumsum(gc.Variable("b", (3,), "bool")).dtype == np.cumsum(np.ones(3, bool)).dtype


@pytest.mark.parametrize(
    "axis, error, words",
    [((0, 1), gc.ArgumentError, "cumsum: axis must be an int or None, got (0, 1)"),
     (2, gc.ShapeError, "cumsum: axis 2 is out of bounds"),
     (1.0, gc.ArgumentError, "cumsum: axis must be an int")],
)  # fmt: skip
def test_cumsum_names_a_bad_axis_and_the_users_line(axis, error, words):
    with pytest.raises(error, match="built at test_prod_cumsum.py") as e:
        gc.cumsum(gc.Variable("x", (2, 3)), axis=axis)
    assert words in str(e.value)


# -- the scans -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 37])
@pytest.mark.parametrize("reverse", [False, True])
def test_affine_scan_by_doubling_equals_the_sequential_recurrence(n, reverse):
    rng = np.random.default_rng(n)
    a, b = rng.uniform(-1.2, 1.2, (2, n)), rng.standard_normal((2, n))
    want = np.zeros((2, n))
    order = range(n - 2, -1, -1) if reverse else range(1, n)
    for k in order:
        i = k + 1 if reverse else k - 1
        want[:, k] = a[:, i] * want[:, i] + b[:, i]
    A, B = gc.Variable("a", (2, None)), gc.Variable("b", (2, None))
    s = AffineScan(1, reverse)(A, B)
    np.testing.assert_allclose(gc.evaluate(s, {A: a, B: b}), want, rtol=1e-13, atol=1e-15)
    c = ExclusiveCumprod(1, reverse)(A)
    np.testing.assert_allclose(gc.evaluate(c, {A: a}), [[_excl(row, k, reverse) for k in range(n)] for row in a])


def _excl(row, k, reverse):
    return math.prod(row[k + 1 :] if reverse else row[:k])
