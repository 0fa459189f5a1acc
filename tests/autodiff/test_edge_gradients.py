"""Gradients at the edge points of ``x ** y`` (issue 14, items 1 and 2): where the
mathematics is finite, every derivative order is finite and right, and evaluate,
compile (with and without passes) and the Numba backend agree.

Oracles: closed forms (0**y is 0 for every y > 0, so its derivatives in y are 0;
the k-th derivative of x**n at 0 is n! for k == n and 0 otherwise), SymPy's
``diff``, and JAX (float64) / PyTorch where installed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp

import graphcomp as gc


def _runs(outputs, inputs):
    """Every way graphcomp computes ``outputs``: (name, function of the input values)."""
    runs = [
        ("evaluate", lambda *vals: gc.evaluate(outputs, dict(zip(inputs, vals)))),
        ("compile", gc.compile(outputs, inputs)),
        ("compile passes=[]", gc.compile(outputs, inputs, passes=[])),
    ]
    try:
        import numba  # noqa: F401
    except ImportError:  # an optional extra; the other three runs still prove the rule
        return runs
    return runs + [("numba", gc.compile(outputs, inputs, backend="numba"))]


def _all_agree(outputs, inputs, values, want):
    for name, run in _runs(outputs, inputs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # log(0) in the forward value is meant
            got = run(*values)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-12, atol=0, err_msg=name)


# -- item 1: the exponent's gradient at a zero base -------------------------------------------------


@pytest.mark.parametrize("b", [0.5, 1.0, 2.0, 3.7])
def test_the_exponent_gradient_at_a_zero_base_is_zero_in_every_order(b):
    """0**y = 0 for all y > 0: locally constant in y, so d/dy, d2/dy2 and d3/dy3 are 0."""
    a, y = gc.Variable("a"), gc.Variable("b")
    d1 = gc.grad(a**y, y)
    d2 = gc.grad(d1, y)
    d3 = gc.grad(d2, y)
    _all_agree([d1, d2, d3], [a, y], [0.0, b], [0.0, 0.0, 0.0])
    # away from 0 the closed forms x**y log(x)**k hold as before; a negative base has no
    # derivative in y ((-2)**y is not real for nearby y), and a NaN still says so
    for xv in (0.5, 3.0):
        _all_agree([d1, d2, d3], [a, y], [xv, b], [xv**b * np.log(xv) ** k for k in (1, 2, 3)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(gc.evaluate(d1, {a: -2.0, y: b}))


@pytest.mark.parametrize("b", [2.0, 3.0, 4.5])
def test_the_mixed_derivative_at_a_zero_base(b):
    """d2/(dx dy) x**y = x**(y-1) (1 + y log x) -> 0 as x -> 0 for y > 1; the second
    derivative in x, y (y - 1) x**(y-2), is finite at 0 for y >= 2."""
    x, y = gc.Variable("x"), gc.Variable("y")
    dxy = gc.grad(gc.grad(x**y, y), x)
    dyx = gc.grad(gc.grad(x**y, x), y)
    dxx = gc.grad(gc.grad(x**y, x), x)
    want_xx = b * (b - 1) * 0.0 ** (b - 2)
    _all_agree([dxy, dyx, dxx], [x, y], [0.0, b], [0.0, 0.0, want_xx])


def test_the_hessian_of_a_power_with_zero_bases_matches_a_closed_form():
    """f(v) = sum(v[:3] ** v[3:]) at bases 0 and exponents 2, 3, 2.5: the Hessian's
    entries in the exponents are x**y log(x)**2 = 0, the mixed ones x**(y-1)(1 + y log x) = 0,
    the bases' y (y-1) x**(y-2): 2, 0, 0."""
    v = gc.Variable("v", (6,))
    H = gc.hessian(gc.sum(v[:3] ** v[3:]), v)
    want = np.zeros((6, 6))
    want[0, 0] = 2.0
    _all_agree([H], [v], [np.array([0.0, 0.0, 0.0, 2.0, 3.0, 2.5])], [want])
    # a constant base has no zero to guard: its exponent's gradient is a plain log
    y = gc.Variable("y")
    g = gc.grad(2.0**y, y)
    assert "where" not in {u.owner.op.name for u in gc.Graph(g).variables if u.owner}
    np.testing.assert_allclose(gc.evaluate(g, {y: 3.0}), 8 * np.log(2.0), rtol=1e-15)


# -- item 2: the base's gradient at zero -----------------------------------------------------------


@pytest.mark.parametrize("n", range(6))
def test_repeated_derivatives_of_powers_at_zero_match_sympy(n):
    """d^k/dx^k x**n at 0, k = 1 .. n+2: SymPy's diff, substituted at 0."""
    x = gc.Variable("x")
    xs = sp.Symbol("x")
    d, outs, want = x**n, [], []
    for k in range(1, n + 3):
        d = gc.grad(d, x)
        outs.append(d)
        want.append(float(sp.diff(xs**n, xs, k).subs(xs, 0)))
    assert want[n - 1 if n else 0] == (math.factorial(n) if n else 0.0)
    _all_agree(outs, [x], [0.0], want)


def test_derivatives_of_a_polynomial_at_zero():
    """p(x) = 3x**3 - 2x**2 + x**1 + 5x**0: p'(0) = 1, p''(0) = -4, p'''(0) = 18, p''''(0) = 0."""
    x = gc.Variable("x")
    d, outs = 3 * x**3 - 2 * x**2 + x**1 + 5 * x**0, []
    for _ in range(4):
        d = gc.grad(d, x)
        outs.append(d)
    _all_agree(outs, [x], [0.0], [1.0, -4.0, 18.0, 0.0])


def test_an_array_of_constant_exponents_with_zeros():
    x = gc.Variable("x", (4,))
    e = np.array([0.0, 1.0, 2.0, 3.0])
    g = gc.grad(gc.sum(x**e), x)
    h = gc.grad(gc.sum(g), x)
    _all_agree([g, h], [x], [np.zeros(4)], [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])


def test_a_variable_exponent_of_zero_at_a_zero_base():
    """d/dx x**y at x = y = 0 is 0 (x**0 = 1 for every x); d/dy of d/dx x**y at y = 0 is
    1/x for x > 0 (d/dy y x**(y-1) = x**(y-1) (1 + y log x)): the guard at 0 must not
    change the derivative elsewhere."""
    x, y = gc.Variable("x"), gc.Variable("y")
    dx = gc.grad(x**y, x)
    dxy = gc.grad(dx, y)
    _all_agree([dx], [x, y], [0.0, 0.0], [0.0])
    _all_agree([dx, dxy], [x, y], [2.0, 0.0], [0.0, 0.5])
    _all_agree([dx, dxy], [x, y], [0.0, 2.0], [0.0, 0.0])
    # 0 < y < 1: the derivative at 0 is +inf (y - 1 does not round to an exact split there,
    # and its correction must not turn inf into inf * 0), for constant exponents too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for yv in (0.3, 0.1, 1e-20):
            assert gc.evaluate(dx, {x: 0.0, y: yv}) == np.inf
            assert gc.evaluate(gc.grad(x**yv, x), {x: 0.0}) == np.inf


def test_float32_powers_keep_their_dtype_and_values():
    x = gc.Variable("x", (3,), "float32")
    g = gc.grad(gc.sum(x**0 + x**2), x)
    for _, run in _runs([g], [x]):
        (out,) = run(np.zeros(3, np.float32))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, 0.0)


# -- peers -----------------------------------------------------------------------------------------


def test_jax_agrees_at_the_edge_points():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    x, y = gc.Variable("x"), gc.Variable("y")
    for xv, yv in [(0.0, 2.0), (0.0, 0.5), (0.0, 0.0), (2.0, 0.0), (0.0, 3.0)]:
        for order in (("y",), ("y", "y"), ("x",), ("x", "x"), ("x", "y")):
            d, f = x**y, lambda a, b: a**b
            for which in order:
                d = gc.grad(d, x if which == "x" else y)
                f = jax.grad(f, argnums=0 if which == "x" else 1)
            want = float(f(jnp.float64(xv), jnp.float64(yv)))
            if not np.isfinite(want):
                continue  # no derivative there: nothing to agree on
            got = float(gc.evaluate(d, {x: xv, y: yv}))
            assert got == pytest.approx(want, abs=1e-12), (xv, yv, order, got, want)


def test_pytorch_agrees_at_the_edge_points():
    torch = pytest.importorskip("torch")
    x, y = gc.Variable("x"), gc.Variable("y")
    for xv, yv in [(0.0, 2.0), (0.0, 0.5), (0.0, 0.0), (0.0, 3.0)]:
        a = torch.tensor(xv, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(yv, dtype=torch.float64, requires_grad=True)
        ga, gb = torch.autograd.grad(a**b, [a, b])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 0**-0.5 = inf: the derivative in x at y = 0.5 is infinite
            got_a, got_b = (float(v) for v in gc.evaluate(gc.grad(x**y, [x, y]), {x: xv, y: yv}))
        if np.isfinite(float(ga)):
            assert got_a == pytest.approx(float(ga), abs=1e-12)
        assert got_b == pytest.approx(float(gb), abs=1e-12)
