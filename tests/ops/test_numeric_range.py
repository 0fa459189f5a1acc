"""Gradients at the edges of the float range (report user2, item 12): prod's gradient, the
products of the other entries, where the running products overflow or underflow; norm where
sum(x**2) underflows or overflows though the norm does not; arctan2 at an infinite operand
and its second derivatives near the origin. The oracles are exact rational arithmetic
(``fractions.Fraction``: every float is a rational, so the closed forms are computed exactly
and rounded once), closed forms, and JAX / PyTorch where installed."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import graphcomp as gc


def _float(q: Fraction) -> float:
    """The float nearest the rational ``q``; +-inf beyond the largest float, as IEEE rounding gives."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def _exact_others(v: np.ndarray) -> np.ndarray:
    """Each entry's product of the other entries of a 1-D float array, exact, then rounded."""
    fr = [Fraction(float(a)) for a in v]
    out = []
    for k in range(len(fr)):
        p = Fraction(1)
        for j, a in enumerate(fr):
            if j != k:
                p *= a
        out.append(_float(p))
    return np.array(out)


# -- prod ---------------------------------------------------------------------------------------------------

WIDE = [
    [1e200, 1e200, 1e-200, 1e-200],  # the report's case: L_k * R_k gives [0, 0, inf, inf]
    [1e-200, 1e300, 1e-200, 1e150, 1e-100],
    [-1e250, 3e-250, 2e200, -5e-200, 0.5],
    [1e300, 1e300, 0.0, 1e-300],  # a zero: only its own entry is nonzero
]


@pytest.mark.parametrize("v", WIDE)
def test_prod_gradient_is_the_exact_product_of_the_others_where_running_products_overflow(v):
    v = np.array(v)
    x = gc.Variable("x", (len(v),))
    g = gc.grad(gc.prod(x), x)
    want = _exact_others(v)
    np.testing.assert_allclose(gc.evaluate(g, {x: v}), want, rtol=1e-14)
    np.testing.assert_allclose(gc.compile(g, [x])(v), want, rtol=1e-14)


def test_prod_gradient_over_many_entries_and_several_axes_matches_the_exact_products():
    """300 entries spanning 1e-30..1e30 (past the 256-entry renormalisation), over a pair of axes."""
    rng = np.random.default_rng(0)
    v = 10.0 ** rng.uniform(-30, 30, size=(2, 150, 2)) * rng.choice([-1.0, 1.0], size=(2, 150, 2))
    x = gc.Variable("x", v.shape)
    g = gc.evaluate(gc.grad(gc.sum(gc.prod(x, axis=(1, 2))), x), {x: v})
    for i in range(2):
        flat = v[i].ravel()
        want = _exact_others(flat)
        got = g[i].ravel()
        finite = np.isfinite(want) & (want != 0)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12)
        np.testing.assert_array_equal(got[~finite], want[~finite])


def test_prod_gradient_in_float32_keeps_its_dtype_and_range():
    v = np.array([1e30, 1e30, 1e-30, 1e-30], np.float32)
    x = gc.Variable("x", (4,), dtype="float32")
    g = gc.evaluate(gc.grad(gc.prod(x), x), {x: v})
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, _exact_others(v.astype(np.float64)).astype(np.float32), rtol=1e-6)


def test_prod_gradient_matches_jax_at_the_reported_point():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    v = np.array([1e200, 1e200, 1e-200, 1e-200])
    x = gc.Variable("x", (4,))
    got = gc.evaluate(gc.grad(gc.prod(x), x), {x: v})
    np.testing.assert_allclose(got, np.asarray(jax.grad(jax.numpy.prod)(v)), rtol=1e-14)


# -- norm ---------------------------------------------------------------------------------------------------

NORM_CASES = [
    np.array([3e-25, 4e-25], np.float32),  # the report's case: the squares underflow to 0
    np.array([3e30, -4e30], np.float32),  # the squares overflow to inf
    np.array([3e-170, 4e-170, 0.0]),
    np.array([3e170, 4e170]),
]


@pytest.mark.parametrize("v", NORM_CASES, ids=lambda v: f"{v.dtype}-{v[0]:g}")
def test_norm_and_its_gradient_are_right_where_the_squares_underflow_or_overflow(v):
    """||x|| and x / ||x|| from the exact norm (Fraction squares, sqrt of a rational done in float64 of a
    rescaled value), never 0 or inf, nor x itself, in the float's own dtype."""
    x = gc.Variable("x", v.shape, dtype=v.dtype)
    n = gc.norm(x)
    g = gc.grad(n, x)
    scale = max(abs(float(a)) for a in v)
    exact = scale * math.sqrt(float(sum((Fraction(float(a)) / Fraction(scale)) ** 2 for a in v)))
    rtol = 1e-6 if v.dtype == np.float32 else 1e-14
    for got_n, got_g in (gc.evaluate([n, g], {x: v}), gc.compile([n, g], [x])(v)):
        assert got_n.dtype == v.dtype and got_g.dtype == v.dtype
        np.testing.assert_allclose(float(got_n), exact, rtol=rtol)
        np.testing.assert_allclose(got_g, [float(a) / exact for a in v], rtol=rtol)


def test_norm_hessian_where_the_squares_underflow_equals_the_closed_form():
    """(I - x x^T / |x|^2) / |x| at |x| = 5e-170: entries near 1e169, a float."""
    v = np.array([3e-170, 4e-170])
    x = gc.Variable("x", (2,))
    r = 5e-170
    u = v / r
    want = (np.eye(2) - np.outer(u, u)) / r
    np.testing.assert_allclose(gc.evaluate(gc.hessian(gc.norm(x), x), {x: v}), want, rtol=1e-13)


def test_norm_with_an_inf_or_nan_entry_is_numpys():
    x = gc.Variable("x", (3,))
    for v in ([1.0, np.inf, 2.0], [1.0, -np.inf, np.nan], [np.nan, 1.0, 2.0]):
        with np.errstate(invalid="ignore"):
            want = np.linalg.norm(np.array(v))
        np.testing.assert_array_equal(gc.evaluate(gc.norm(x), {x: np.array(v)}), want)


def test_norm_gradient_at_tiny_float32_values_matches_pytorch_in_float64():
    """PyTorch's float32 norm underflows here too (its gradient is 0); in float64 its squares do not."""
    torch = pytest.importorskip("torch")
    v = np.array([3e-25, 4e-25], np.float32)
    t = torch.tensor(v.astype(np.float64), requires_grad=True)
    torch.linalg.vector_norm(t).backward()
    x = gc.Variable("x", (2,), dtype="float32")
    np.testing.assert_allclose(gc.evaluate(gc.grad(gc.norm(x), x), {x: v}), t.grad.numpy(), rtol=1e-6)


# -- arctan2 ------------------------------------------------------------------------------------------------


def test_arctan2_gradient_at_an_infinite_operand_is_its_limit_zero():
    """|grad atan2(y, x)| = 1 / r: 0 as r -> inf (JAX gives 0 for d/dx at x=inf, NaN for d/dy at y=inf)."""
    y, x = gc.Variable("y", (4,)), gc.Variable("x", (4,))
    dy, dx = gc.grad(gc.sum(gc.arctan2(y, x)), [y, x])
    yv = np.array([np.inf, 1.0, -np.inf, np.inf])
    xv = np.array([1.0, np.inf, -2.0, np.inf])
    for got in (gc.evaluate([dy, dx], {y: yv, x: xv}), gc.compile([dy, dx], [y, x])(yv, xv)):
        np.testing.assert_array_equal(got[0], np.zeros(4))
        np.testing.assert_array_equal(got[1], np.zeros(4))


def _exact_atan2_second(yv: float, xv: float) -> tuple[float, float, float]:
    """d2/dy2, d2/dydx, d2/dx2 of atan2(y, x): -2xy/r^4, (y^2 - x^2)/r^4, 2xy/r^4, exactly."""
    y, x = Fraction(yv), Fraction(xv)
    r4 = (x * x + y * y) ** 2
    return _float(-2 * x * y / r4), _float((y * y - x * x) / r4), _float(2 * x * y / r4)


@pytest.mark.parametrize("point", [(1e-150, 2e-150), (2e-152, -1e-152), (3.0, 4.0), (1e100, -3e100), (1e-200, 0.0)])
def test_arctan2_second_derivatives_equal_the_exact_closed_form_near_the_origin_and_far(point):
    yv, xv = point
    y, x = gc.Variable("y", ()), gc.Variable("x", ())
    dy, dx = gc.grad(gc.arctan2(y, x), [y, x])
    hyy, hyx = gc.grad(dy, [y, x])
    hxx = gc.grad(dx, x)
    got = gc.evaluate([hyy, hyx, hxx], {y: yv, x: xv})
    np.testing.assert_allclose([float(g) for g in got], _exact_atan2_second(yv, xv), rtol=1e-13, atol=0)


def test_arctan2_gradients_match_jax_where_its_unscaled_formula_is_exact():
    """JAX's x / (x**2 + y**2) overflows at (1e-200, 1e-200) (inf where 5e199 is right): compared elsewhere."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    pts = np.array([[1e-100, 2e-100], [3.0, -4.0], [1e100, 2e100], [-1.0, 1e-300], [0.0, 2.0]])
    y, x = gc.Variable("y", ()), gc.Variable("x", ())
    dy, dx = gc.grad(gc.arctan2(y, x), [y, x])
    for yv, xv in pts:
        want = jax.grad(jnp.arctan2, argnums=(0, 1))(yv, xv)
        got = gc.evaluate([dy, dx], {y: yv, x: xv})
        np.testing.assert_allclose([float(g) for g in got], [float(w) for w in want], rtol=1e-14)


def test_arctan2_gradient_at_the_smallest_points_is_the_exact_closed_form():
    """x / r^2 and -y / r^2 at (1e-200, 1e-200), where r^2 underflows: 5e199, not inf (JAX)."""
    y, x = gc.Variable("y", ()), gc.Variable("x", ())
    dy, dx = gc.grad(gc.arctan2(y, x), [y, x])
    for yv, xv in ((1e-200, 1e-200), (3e-300, -4e-300), (1e200, 3e200)):
        r2 = Fraction(yv) ** 2 + Fraction(xv) ** 2
        got = gc.evaluate([dy, dx], {y: yv, x: xv})
        np.testing.assert_allclose(
            [float(g) for g in got], [_float(Fraction(xv) / r2), _float(-Fraction(yv) / r2)], rtol=1e-14
        )


# -- power's second derivative where it is infinite ----------------------------------------------------------

#: (x, y, d2/dx2 x**y): the closed form y (y - 1) x**(y - 2) is +-inf at these points (the
#: limit from x > 0 at x = 0; an overflowing y (y - 1) x**(y - 2) at the last), where the
#: product rule through x**(y-1)'s rounding correction gave inf * 0 = NaN (report 3, item 7)
POWER_INFINITE_CURVATURE = [(0.0, 0.5, -math.inf), (0.0, -1.0, math.inf), (1.0 + 1e-15, 1e300, math.inf)]


@pytest.mark.parametrize("point", POWER_INFINITE_CURVATURE)
def test_power_second_derivative_is_the_closed_forms_infinity_not_nan(point):
    """For a variable exponent and a constant one, under evaluate and compile; at x = 0
    the closed form is also compared just right of it (x = 1e-100: finite, with the
    infinity's sign)."""
    xv, yv, want = point
    x, y = gc.Variable("x"), gc.Variable("y")
    hxx = gc.grad(gc.grad(x**y, x), x)
    hxx_c = gc.grad(gc.grad(x ** gc.constant(yv), x), x)
    with np.errstate(all="ignore"):
        got = [
            gc.evaluate(hxx, {x: xv, y: yv}),
            gc.compile(hxx, [x, y])(xv, yv),
            gc.evaluate(hxx_c, {x: xv}),
            gc.compile(hxx_c, [x])(xv),
        ]
    assert [float(g) for g in got] == [want] * 4
    if xv == 0.0:  # just right of 0 the curvature is finite and has the infinity's sign
        near = gc.evaluate(hxx, {x: 1e-100, y: yv})
        exact = Fraction(yv) * (Fraction(yv) - 1) * float(Fraction(1e-100) ** 2) ** (yv / 2 - 1)
        np.testing.assert_allclose(float(near), float(exact), rtol=1e-13)
        assert np.sign(float(near)) == np.sign(want)


def test_power_second_derivative_matches_jax_at_the_reported_points():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x, y = gc.Variable("x"), gc.Variable("y")
    hxx = gc.compile(gc.grad(gc.grad(x**y, x), x), [x, y])
    for xv, yv, _ in POWER_INFINITE_CURVATURE:
        want = float(jax.grad(jax.grad(lambda a, b: a**b, 0), 0)(xv, yv))
        with np.errstate(all="ignore"):
            assert float(hxx(xv, yv)) == want
