"""to_sympy / from_sympy / elementwise, with SymPy's own calculus as the oracle."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from tests.autodiff.test_sympy_oracle import _build

X, Z = sp.symbols("x z", real=True)


def test_gradients_of_the_seed_example_are_sympys_derivatives():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    dx, dz = gc.grad(y, [x, z])
    ey = gc.to_sympy(y)
    assert sp.simplify(ey - (sp.exp(X * Z) + X * Z / sp.log(X) + sp.sin(sp.log(X)) / (X * Z))) == 0
    assert sp.simplify(gc.to_sympy(dx) - sp.diff(ey, X)) == 0
    assert sp.simplify(gc.to_sympy(dz) - sp.diff(ey, Z)) == 0


def test_mlp_like_elementwise_gradient_recovers_the_closed_form():
    w, b, t = gc.Variable("w"), gc.Variable("b"), gc.Variable("t")
    J = gc.square(gc.sigmoid(w * 3.0 + b) - t) * 0.5 + 0.1 * w * w
    e = gc.to_sympy(gc.grad(J, w))
    W, B, T = sp.symbols("w b t", real=True)
    s = 1 / (1 + sp.exp(-(3 * W + B)))
    assert sp.simplify(e - ((s - T) * s * (1 - s) * 3 + sp.Rational(1, 5) * W)) == 0


def test_non_elementwise_graphs_are_refused_clearly():
    x = gc.Variable("x", (3,))
    with pytest.raises(ValueError, match="sum.*not elementwise"):
        gc.to_sympy(x.sum())


def test_from_sympy_matches_by_name_and_evaluates_like_sympy():
    x, z = gc.Variable("x"), gc.Variable("z")
    e = sp.Piecewise((X**2, X > 0), (sp.sin(X), True)) + sp.Max(X, Z) + sp.exp(-X) / Z + sp.sqrt(Z) + sp.pi
    g = gc.from_sympy(e, [x, z])
    for xv, zv in [(0.5, 2.0), (-1.0, 3.0)]:
        assert float(gc.evaluate(g, {x: xv, z: zv})) == pytest.approx(float(e.subs({X: xv, Z: zv})), rel=1e-14)
    with pytest.raises(ValueError, match="no Variable named z"):
        gc.from_sympy(e, [x])


def test_round_trip_keeps_value_and_gradient():
    x = gc.Variable("x")
    e = sp.log(1 + X**2) * sp.cos(X) / (2 + sp.tanh(X))
    g = gc.from_sympy(e, [x])
    assert sp.simplify(gc.to_sympy(g) - e) == 0
    got = float(gc.evaluate(gc.grad(g, x), {x: 0.7}))
    assert got == pytest.approx(float(sp.diff(e, X).subs(X, 0.7)), rel=1e-12)


def test_elementwise_defines_an_op_from_a_formula_and_its_derivatives_follow():
    t, u = sp.symbols("t u")
    op = gc.elementwise(sp.sin(t) * sp.exp(u) + t**3, [t, u])
    x, y = gc.Variable("x", (3,)), gc.Variable("y", (3,))
    out = op(x, y)
    xv, yv = np.array([0.1, 0.5, -1.0]), np.array([0.3, -0.2, 0.0])
    np.testing.assert_allclose(gc.evaluate(out, {x: xv, y: yv}), np.sin(xv) * np.exp(yv) + xv**3)
    gx, gy = gc.grad(out.sum(), [x, y])
    gv = gc.evaluate([gx, gy], {x: xv, y: yv})
    np.testing.assert_allclose(gv[0], np.cos(xv) * np.exp(yv) + 3 * xv**2)
    np.testing.assert_allclose(gv[1], np.sin(xv) * np.exp(yv))
    H = gc.evaluate(gc.hessian(op(x, y).sum(), x), {x: xv, y: yv})
    np.testing.assert_allclose(H, np.diag(-np.sin(xv) * np.exp(yv) + 6 * xv))


def test_elementwise_refuses_unlisted_symbols():
    t, u = sp.symbols("t u")
    with pytest.raises(ValueError, match="'u'"):
        gc.elementwise(t * u, [t])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 5))
def test_sympy_diff_of_to_sympy_equals_to_sympy_of_grad(seed, depth):
    """For random scalar expressions, differentiating the closed form equals the
    closed form of graphcomp's gradient graph, after simplification."""
    gvars, svars, y, _ = _build(np.random.default_rng(seed), depth)
    symbols = dict(zip(gvars, svars))
    ey = gc.to_sympy(y, symbols=symbols)
    for s, g in zip(svars, gc.grad(y, gvars, disconnected="zero")):
        want, got = sp.diff(ey, s), gc.to_sympy(g, symbols=symbols)
        # the cheap side first: sp.simplify can run for tens of minutes on some random
        # expressions, so it is asked only when too few points lie in both domains
        agree = _agree_numerically(want, got, svars)
        assert agree if agree is not None else sp.simplify(want - got) == 0


def _agree_numerically(a, b, svars) -> bool | None:
    """Whether a and b agree (relative 1e-9) at 20 random points where both are finite;
    None when fewer than 10 such points exist (then only simplify can tell)."""
    rng = np.random.default_rng(0)
    fa, fb = sp.lambdify(svars, a, "numpy"), sp.lambdify(svars, b, "numpy")
    valid, close = 0, True
    with np.errstate(all="ignore"):
        for _ in range(40):
            point = rng.uniform(-1.5, 1.5, len(svars))
            va, vb = complex(fa(*point)), complex(fb(*point))
            if not (np.isfinite(va) and np.isfinite(vb)) or abs(va.imag) + abs(vb.imag) > 0:
                continue  # outside a domain (log of a negative): no evidence either way
            valid += 1
            close &= abs(va - vb) <= 1e-9 * max(1.0, abs(va), abs(vb))
            if valid == 20:
                break
    return close if valid >= 10 else None


def test_a_fused_node_and_a_mask_multiply_convert_to_their_closed_form():
    """The fuse pass's program and simplify's x * (c > 0) read back as SymPy: the
    compiled graph's formula, checked against the values the compiled code computes."""
    from graphcomp.passes import fuse

    x = gc.Variable("x", (3,))
    y = gc.relu(x * 2.0 + 1.0) * x + (x > 1.0) * x
    (fused,) = fuse.run([y])
    assert fused.owner.op.name == "fused"
    e = gc.to_sympy(fused)
    xs = next(iter(e.free_symbols))
    points = np.array([-2.0, 0.3, 1.5])
    np.testing.assert_allclose([float(e.subs(xs, p)) for p in points], gc.evaluate(fused, {x: points}), rtol=1e-15)
    assert sp.simplify(e - gc.to_sympy(y)) == 0


def test_a_closed_form_that_written_out_explodes_warns_where_the_user_built_it():
    # h = sin(h)*0.5 + h doubles the written-out tree at each layer: 2^40 terms.
    x = gc.Variable("x")
    h = x
    for _ in range(40):
        h = gc.sin(h) * 0.5 + h
    with pytest.warns(UserWarning, match=r"about 10\^1[12] terms.*sympy\.cse") as record:
        expr = gc.to_sympy(h)
    assert record[0].filename == __file__
    # the expression itself is still exact: SymPy holds the shared parts once
    assert float(expr.subs(sp.Symbol("x", real=True), 0.0)) == 0.0


def test_a_far_deeper_explosion_still_warns_without_counting_exactly():
    x = gc.Variable("x")
    h = x
    for _ in range(1100):
        h = h + h
    with pytest.warns(UserWarning, match="more than 10\\^308 terms"):
        gc.to_sympy(h)


def test_the_seed_example_and_a_gradient_convert_without_a_warning():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gc.to_sympy(y)
        gc.to_sympy(gc.grad(y, x))


def test_parameters_become_symbols_and_their_gradient_is_sympys_derivative():
    x = gc.Variable("x")
    w, unnamed = gc.Parameter(np.float64(0.3), "w"), gc.Parameter(np.float64(2.0))
    y = gc.tanh(x * w) * unnamed
    W, P = sp.Symbol("w", real=True), sp.Symbol(f"parameter#{unnamed.id}", real=True)
    assert sp.simplify(gc.to_sympy(y) - sp.tanh(X * W) * P) == 0
    assert sp.simplify(gc.to_sympy(gc.grad(y, w)) - sp.diff(sp.tanh(X * W) * P, W)) == 0
