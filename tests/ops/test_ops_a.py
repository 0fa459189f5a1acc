"""The known traps of issue #16's elementwise, creation and shape ops (part A), each a
test: clip at its bounds, arctan2 at (0, 0), erf's and log_sigmoid's derivatives in
the tails, log_sigmoid at +-1000, pad and flip gradients, NumPy's dtypes of arange,
eye and full, rounding at halves, argument errors; and that gc.from_sympy and the
``graphcomp grad`` command take the new elementwise ops without being told.

Oracles: mpmath at 50 digits, NumPy, closed forms and exact identities always;
JAX (float64) and PyTorch where installed.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import graphcomp as gc
from graphcomp.cli.main import run_grad
from graphcomp.core.traverse import ancestors
from graphcomp.ops.binary import Arctan2
from graphcomp.ops.creation import Arange
from graphcomp.ops.elementwise import Ceil, Erf, Floor, LogSigmoid, Round, sympy_round

EPS = np.finfo(np.float64).eps
HERE = "test_ops_a.py"


def _value(y, feed):
    return np.asarray(gc.evaluate(y, feed))


def _grad_at(fn, values, dtype="float64"):
    """The elementwise derivative of ``fn`` at ``values`` (gradient of the sum), by gc.grad."""
    x = gc.Variable("x", (len(values),), dtype)
    return np.asarray(gc.evaluate(gc.grad(fn(x).sum(), x), {x: np.asarray(values, dtype)}))


# -- erf ---------------------------------------------------------------------------------------------


def test_erf_is_within_two_ulps_of_mpmath_everywhere():
    xs = np.concatenate([np.linspace(-7, 7, 281), [1e-300, -1e-10, 0.5, 5.9, 6.0, 30.0]])
    got = _value(gc.erf(gc.constant(xs)), {})
    with mpmath.workdps(50):
        want = np.array([float(mpmath.erf(mpmath.mpf(v))) for v in xs])
    np.testing.assert_allclose(got, want, rtol=2 * EPS, atol=0)


@pytest.mark.parametrize("x", [0.5, -3.25, 5.5, -10.3, 20.7, -26.1])
def test_erf_derivatives_in_the_tails_match_mpmath(x):
    """erf'(x) = 2/sqrt(pi) exp(-x^2): its only error is the rounding of x*x, which exp
    turns into a relative error of at most x^2 * eps (1.5e-13 at x = 26); erf'' likewise."""
    t = gc.Variable("t")
    first = gc.grad(gc.erf(t), t)
    second = gc.grad(first, t)
    got1, got2 = (float(v) for v in gc.evaluate([first, second], {t: x}))
    with mpmath.workdps(50):
        d1 = 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(mpmath.mpf(x) ** 2))
        want1, want2 = float(d1), float(-2 * mpmath.mpf(x) * d1)
    rtol = 2 * x * x * EPS + 4 * EPS
    assert math.isclose(got1, want1, rel_tol=rtol) and math.isclose(got2, want2, rel_tol=rtol), (got1, want1)


def test_erf_derivative_underflows_to_zero_not_nan_far_out():
    got = _grad_at(gc.erf, [-40.0, 30.0, 1e150, -np.inf, np.inf])
    np.testing.assert_array_equal(got, 0.0)


def test_erf_in_float32_stays_float32_with_a_float32_gradient():
    x = gc.Variable("x", (3,), "float32")
    y = gc.erf(x)
    g = gc.grad(y.sum(), x)
    xv = np.array([-2.0, 0.1, 3.0], np.float32)
    yv, gv = gc.evaluate([y, g], {x: xv})
    assert y.dtype == g.dtype == yv.dtype == gv.dtype == np.float32
    np.testing.assert_allclose(yv, [math.erf(float(v)) for v in xv], rtol=1e-7)
    np.testing.assert_allclose(gv, 2 / math.sqrt(math.pi) * np.exp(-(xv.astype(np.float64) ** 2)), rtol=1e-6)


# -- log_sigmoid -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_sigmoid_at_plus_minus_1000_is_finite_with_a_finite_gradient(dtype):
    """The trap: log(sigmoid(x)) is log(0) = -inf at x = -1000 and its naive derivative
    1 - sigmoid(x) loses everything; -softplus(-x) and sigmoid(-x) give the exact limits."""
    x = gc.Variable("x", (4,), dtype)
    y = gc.log_sigmoid(x)
    g = gc.grad(y.sum(), x)
    xv = np.array([-1000.0, -88.0, 88.0, 1000.0], dtype)
    for yv, gv in [gc.evaluate([y, g], {x: xv}), gc.compile([y, g], [x])(xv)]:
        assert yv.dtype == gv.dtype == np.dtype(dtype)
        assert np.all(np.isfinite(yv)) and np.all(np.isfinite(gv))
        assert yv[0] == -1000.0 and yv[-1] == 0.0
        assert gv[0] == 1.0 and gv[-1] == 0.0
        # at |x| = 88, e^-88 = 6e-39 is still (sub)normal in float32: the small ends are not flushed
        rtol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose([yv[2], gv[2]], [-math.exp(-88.0), math.exp(-88.0)], rtol=rtol)


@pytest.mark.parametrize("x", [-700.3, -100.1, -36.7, -20.5, -5.5, -0.3, 0.3, 5.5, 20.5, 36.7, 100.1, 700.3])
def test_log_sigmoid_and_its_derivative_in_the_tails_match_mpmath(x):
    """Value and derivative sigmoid(-x) to within |x| ulps (the rounding of x + log1p(...)
    inside exp): far tighter than 1 - sigmoid(x), which is 0 for x > 37."""
    t = gc.Variable("t")
    y = gc.log_sigmoid(t)
    g = gc.grad(y, t)
    got_y, got_g = (float(v) for v in gc.evaluate([y, g], {t: x}))
    with mpmath.workdps(50):
        X = mpmath.mpf(x)
        want_y = float(-mpmath.log1p(mpmath.exp(-X)))
        want_g = float(1 / (1 + mpmath.exp(X)))
    rtol = 2 * abs(x) * EPS + 4 * EPS
    assert math.isclose(got_y, want_y, rel_tol=rtol), (got_y, want_y)
    assert math.isclose(got_g, want_g, rel_tol=rtol), (got_g, want_g)


@pytest.mark.parametrize("x", [-700.3, -100.1, -36.7, -30.2, -5.5, 0.3, 5.5, 30.2, 36.7, 100.1, 700.3])
def test_log_sigmoid_second_derivative_in_the_tails_matches_mpmath(x):
    """-sigmoid(x) sigmoid(-x): the trap is y (1 - y) with y = sigmoid(-x) near 1, which
    is 0 for x < -37 and already 2e-4 off at x = -30."""
    t = gc.Variable("t")
    got = float(gc.evaluate(gc.grad(gc.grad(gc.log_sigmoid(t), t), t), {t: x}))
    with mpmath.workdps(50):
        X = mpmath.mpf(x)
        want = float(-1 / ((1 + mpmath.exp(X)) * (1 + mpmath.exp(-X))))
    assert math.isclose(got, want, rel_tol=4 * abs(x) * EPS + 8 * EPS), (got, want)


def test_log_sigmoid_scalar_path_agrees_with_numpy_at_the_extremes():
    """A 0-d float64 graph compiles to Python-float code from the scalar form."""
    t = gc.Variable("t")
    f = gc.compile([gc.log_sigmoid(t), gc.grad(gc.log_sigmoid(t), t)], [t])
    for v in [-1000.0, -30.0, 0.0, 30.0, 1000.0]:
        yv, gv = f(v)
        assert yv == -np.logaddexp(0.0, -v) and gv == pytest.approx(1 / (1 + math.exp(v)) if v < 700 else 0.0)


# -- floor, ceil, round -------------------------------------------------------------------------------------

SPECIAL = np.array([-2.5, -1.5, -0.5, -0.4, -0.0, 0.0, 0.4, 0.5, 1.5, 2.5, 2.6, 0.49999999999999994,
                    4503599627370495.5, -4503599627370497.0, 1e300, -np.inf, np.inf, np.nan])  # fmt: skip
ROUNDING = [(gc.floor, np.floor), (gc.ceil, np.ceil), (gc.round, np.round)]


def _same(got, want):
    """Equal as IEEE values: NaN where NaN, and the sign of every zero."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want)), (got, want)


@pytest.mark.parametrize("fn, ref", ROUNDING, ids=["floor", "ceil", "round"])
def test_rounding_matches_numpy_at_halves_signed_zeros_and_infinities(fn, ref):
    """np.round rounds halves to even (0.5 -> 0, 2.5 -> 2); 0.49999999999999994 + 0.5
    rounds up to 1.0, the classic bug of floor(x + 0.5), which must not show."""
    x = gc.Variable("x", SPECIAL.shape)
    want = ref(SPECIAL)
    _same(gc.evaluate(fn(x), {x: SPECIAL}), want)
    _same(gc.compile(fn(x), [x])(SPECIAL), want)
    t = gc.Variable("t")  # a 0-d float64 graph: the Python-float code written from the scalar form
    scalar = gc.compile(fn(t), [t])
    _same([scalar(v) for v in SPECIAL], want)


@pytest.mark.parametrize("fn, ref", ROUNDING, ids=["floor", "ceil", "round"])
def test_rounding_kernels_match_numpy(fn, ref):
    pytest.importorskip("numba")
    x = gc.Variable("x", SPECIAL.shape)
    f = gc.compile(gc.maximum(fn(x), 0.5) + fn(x), [x], backend="numba")  # fused with other ops into one kernel
    assert "fused" in {v.owner.op.name for v in f.graph.variables if v.owner}
    with np.errstate(invalid="ignore"):
        _same(f(SPECIAL), np.maximum(ref(SPECIAL), 0.5) + ref(SPECIAL))


def test_erf_runs_as_a_compiled_kernel_under_numba():
    """NumPy has no erf: the NumPy backend loops in Python, so the fuse pass gives it a kernel."""
    pytest.importorskip("numba")
    x = gc.Variable("x", (5,))
    f = gc.compile(gc.erf(x), [x], backend="numba")
    assert [v.owner.op.name for v in f.graph.variables if v.owner] == ["fused"]
    xv = np.array([-np.inf, -1.0, 0.0, 0.3, np.nan])
    _same(f(xv), [math.erf(v) for v in xv])


@pytest.mark.parametrize("fn", [gc.floor, gc.ceil, gc.round, gc.sign], ids=["floor", "ceil", "round", "sign"])
def test_rounding_gradient_is_zero_everywhere_even_at_the_jumps(fn):
    """The convention: a zero gradient (differentiable, JAX's and PyTorch's), not "no
    gradient": x * floor(x) differentiates to floor(x) + x * 0."""
    at = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.3])
    np.testing.assert_array_equal(_grad_at(fn, at), 0.0)
    x = gc.Variable("x", at.shape)
    g = gc.grad((x * fn(x)).sum(), x)
    np.testing.assert_array_equal(gc.evaluate(g, {x: at}), gc.evaluate(fn(x), {x: at}))


def test_round_sympy_form_prints_as_round_rounds_halves_to_even_and_has_zero_derivative():
    t = gc.Variable("t")
    form = gc.to_sympy(gc.round(t))
    assert str(form) == "round(t)" and sp.diff(form, sp.Symbol("t")) == 0
    r = sympy_round(sp)
    for q in [
        sp.Rational(1, 2),
        sp.Rational(3, 2),
        sp.Rational(-5, 2),
        sp.Rational(7, 3),
        sp.Float(2.6),
        sp.Integer(4),
    ]:
        assert float(r(q)) == np.round(float(q))


# -- clip at its bounds -------------------------------------------------------------------------------------

# (x, a_min, a_max) -> the gradients (x, a_min, a_max) of the convention; the ties are the traps
CLIP_CASES = [
    ("inside", 0.5, 0.0, 1.0, (1, 0, 0)),
    ("below", -1.0, 0.0, 1.0, (0, 1, 0)),
    ("above", 2.0, 0.0, 1.0, (0, 0, 1)),
    ("x == a_min", 0.0, 0.0, 1.0, (1, 0, 0)),
    ("x == a_max", 1.0, 0.0, 1.0, (1, 0, 0)),
    ("all equal", 0.5, 0.5, 0.5, (1, 0, 0)),
    ("below a_min == a_max", -1.0, 0.5, 0.5, (0, 1, 0)),
    ("above a_min == a_max", 2.0, 0.5, 0.5, (0, 0, 1)),
    ("crossed bounds", 0.5, 1.0, 0.0, (0, 0, 1)),
    ("crossed, x == a_min", 1.0, 1.0, 0.0, (0, 0, 1)),
    ("crossed, x == a_max", 0.0, 1.0, 0.0, (0, 0, 1)),
]


def _clip_grads(xv, lov, hiv):
    x, lo, hi = (gc.Variable(n, (len(xv),)) for n in ("x", "lo", "hi"))
    y = gc.clip(x, lo, hi)
    return [np.asarray(g) for g in gc.evaluate(gc.grad(y.sum(), [x, lo, hi]), {x: xv, lo: lov, hi: hiv})]


def test_clip_gradients_at_and_between_the_bounds_follow_the_convention():
    xv, lov, hiv = (np.array([c[k] for c in CLIP_CASES]) for k in (1, 2, 3))
    got = _clip_grads(xv, lov, hiv)
    for k, name in enumerate(("x", "a_min", "a_max")):
        want = np.array([c[4][k] for c in CLIP_CASES], float)
        assert np.array_equal(got[k], want), (name, [c[0] for c, g, w in zip(CLIP_CASES, got[k], want) if g != w])


def test_clip_gradients_sum_to_the_derivative_along_the_diagonal():
    """clip(x+t, a_min+t, a_max+t) = clip(x, a_min, a_max) + t exactly, so the three
    gradients must add up to G everywhere, at every tie: checked by that identity, with
    no finite-difference error (t a power of two, the values small dyadic numbers)."""
    xv, lov, hiv = (np.array([c[k] for c in CLIP_CASES]) for k in (1, 2, 3))
    t = 2.0**-10
    moved = np.clip(xv + t, lov + t, hiv + t) - np.clip(xv, lov, hiv)
    np.testing.assert_array_equal(moved / t, 1.0)
    np.testing.assert_array_equal(sum(_clip_grads(xv, lov, hiv)), moved / t)


def test_clip_one_sided_bound_is_the_dtypes_extreme_and_keeps_integers():
    i = gc.Variable("i", (5,), "int64")
    iv = np.array([-9, -1, 0, 3, 9])
    assert gc.clip(i, None, 2).dtype == np.int64
    np.testing.assert_array_equal(gc.evaluate(gc.clip(i, None, 2), {i: iv}), np.clip(iv, None, 2))
    np.testing.assert_array_equal(gc.evaluate(gc.clip(i, -1, None), {i: iv}), np.clip(iv, -1, None))
    x = gc.Variable("x", (4,))
    xv = np.array([-np.inf, -1.0, np.nan, 5.0])
    np.testing.assert_array_equal(gc.evaluate(gc.clip(x, None, None), {x: xv}), xv)
    np.testing.assert_array_equal(gc.evaluate(gc.grad(gc.clip(x, None, 0.0).sum(), x), {x: xv}), [1, 1, 0, 0])


def test_clip_with_nan_follows_numpy():
    x, lo = gc.Variable("x", (3,)), gc.Variable("lo", (3,))
    xv, lov = np.array([np.nan, 0.5, 0.5]), np.array([0.0, np.nan, 0.0])
    got = gc.evaluate(gc.clip(x, lo, 1.0), {x: xv, lo: lov})
    np.testing.assert_array_equal(got, np.clip(xv, lov, 1.0))


def test_clip_ties_agree_with_torch_clamp_except_where_torch_drops_the_gradient():
    """PyTorch's clamp follows the same convention, but where x < a_min == a_max it gives
    no element a gradient (the sum is 0, not G); graphcomp gives it to a_min."""
    torch = pytest.importorskip("torch")
    cases = [c for c in CLIP_CASES if c[0] != "below a_min == a_max"]
    xv, lov, hiv = (np.array([c[k] for c in cases]) for k in (1, 2, 3))
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (xv, lov, hiv)]
    torch.clamp(*ts).sum().backward()
    for got, t in zip(_clip_grads(xv, lov, hiv), ts):
        np.testing.assert_array_equal(got, t.grad.numpy())


# -- arctan2 ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("y0, x0", [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0)])
def test_arctan2_gradient_and_its_derivatives_are_zero_at_the_origin(y0, x0):
    """The choice at (0, 0), where arctan2 jumps (its value there depends on the zeros'
    signs): gradient 0, not 0/0 = NaN, and second derivatives 0 too, compiled or not."""
    y, x = gc.Variable("y"), gc.Variable("x")
    gy, gx = gc.grad(gc.arctan2(y, x), [y, x])
    second = gc.grad(gy, [y, x], disconnected="zero") + gc.grad(gx, [y, x], disconnected="zero")
    outs = [gy, gx, *second]
    for got in [gc.evaluate(outs, {y: y0, x: x0}), gc.compile(outs, [y, x])(y0, x0)]:
        assert all(float(v) == 0.0 for v in got), got


def test_arctan2_gradient_is_right_for_tiny_and_huge_points():
    """x^2 + y^2 underflows below 1e-154 (1e-19 in float32) and overflows above 1e154:
    the gradient scales by max(|x|, |y|) first, so it stays the closed form there."""
    for dtype, points in [("float64", [(1e-200, 3e-200), (-2e-170, 1e-170), (1e200, -3e200)]),
                          ("float32", [(1e-25, 3e-25), (2e-30, -1e-30), (1e30, 3e30)])]:  # fmt: skip
        yv, xv = (np.array(p, dtype) for p in zip(*points))
        y, x = gc.Variable("y", yv.shape, dtype), gc.Variable("x", xv.shape, dtype)
        gy, gx = gc.evaluate(gc.grad(gc.arctan2(y, x).sum(), [y, x]), {y: yv, x: xv})
        with mpmath.workdps(50):
            r2 = [mpmath.mpf(float(a)) ** 2 + mpmath.mpf(float(b)) ** 2 for a, b in zip(yv, xv)]
            want_y = [float(mpmath.mpf(float(b)) / r) for b, r in zip(xv, r2)]
            want_x = [float(-mpmath.mpf(float(a)) / r) for a, r in zip(yv, r2)]
        rtol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(gy, want_y, rtol=rtol)
        np.testing.assert_allclose(gx, want_x, rtol=rtol)


def test_arctan2_matches_jax_in_float64():
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(0)
    yv, xv = rng.standard_normal((2, 20)) * rng.uniform(0.01, 100, (2, 20))
    y, x = gc.Variable("y", (20,)), gc.Variable("x", (20,))
    a = gc.arctan2(y, x)
    gy, gx = gc.grad(a.sum(), [y, x])
    hyy = gc.grad(gy.sum(), y)
    got = gc.evaluate([a, gy, gx, hyy], {y: yv, x: xv})
    with jax.enable_x64(True):
        import jax.numpy as jnp

        f = lambda y, x: jnp.arctan2(y, x).sum()  # noqa: E731
        want = [jnp.arctan2(yv, xv), *jax.grad(f, (0, 1))(yv, xv), jax.grad(lambda y: jax.grad(f)(y, xv).sum())(yv)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, np.asarray(w), rtol=1e-13, atol=1e-15)


# -- erf and log_sigmoid against the frameworks -----------------------------------------------------------------


def test_erf_and_log_sigmoid_match_jax_in_float64():
    jax = pytest.importorskip("jax")
    xv = np.array([-800.0, -40.0, -5.0, -0.3, 0.0, 0.7, 4.0, 30.0, 800.0])
    x = gc.Variable("x", xv.shape)
    with jax.enable_x64(True):
        import jax.numpy as jnp
        from jax.scipy.special import erf as jerf

        for ours, theirs in [(gc.erf, jerf), (gc.log_sigmoid, jax.nn.log_sigmoid)]:
            y = ours(x)
            g = gc.grad(y.sum(), x)
            h = gc.grad(g.sum(), x)
            got = gc.evaluate([y, g, h], {x: xv})
            d1 = jax.grad(lambda v, f=theirs: f(v).sum())
            d2 = jax.grad(lambda v, d1=d1: d1(v).sum())
            for a, b, atol in zip(got, [theirs(jnp.asarray(xv)), d1(xv), d2(xv)], [1e-300, 1e-300, 1e-16]):
                # JAX's log_sigmoid'' is 0 at x = -40 (true: -4.2e-18): only absolutely close
                # there; its relative accuracy is checked against mpmath above
                np.testing.assert_allclose(a, np.asarray(b), rtol=1e-13, atol=atol)


def test_erf_and_log_sigmoid_match_torch():
    torch = pytest.importorskip("torch")
    xv = np.array([-800.0, -40.0, -5.0, -0.3, 0.0, 0.7, 4.0, 30.0, 800.0])
    x = gc.Variable("x", xv.shape)
    for ours, theirs in [(gc.erf, torch.special.erf), (gc.log_sigmoid, torch.nn.functional.logsigmoid)]:
        y = ours(x)
        got_y, got_g = gc.evaluate([y, gc.grad(y.sum(), x)], {x: xv})
        t = torch.tensor(xv, requires_grad=True)
        out = theirs(t)
        out.sum().backward()
        np.testing.assert_allclose(got_y, out.detach().numpy(), rtol=1e-14, atol=0)
        np.testing.assert_allclose(got_g, t.grad.numpy(), rtol=1e-13, atol=1e-300)


# -- pad and flip --------------------------------------------------------------------------------------------


# NumPy's forms of pad_width, each with the (before, after) pairs it means for a 3-d array
PAD_FORMS = [
    (1, ((1, 1),) * 3),
    ((2,), ((2, 2),) * 3),
    ((1, 2), ((1, 2),) * 3),
    (((1, 2),), ((1, 2),) * 3),
    (((1, 0), (0, 2), (3, 1)), ((1, 0), (0, 2), (3, 1))),
    ([[1], [0], [2]], ((1, 1), (0, 0), (2, 2))),
    (np.array([[0, 1]]), ((0, 1),) * 3),
    (0, ((0, 0),) * 3),
]


@pytest.mark.parametrize("widths, pairs", PAD_FORMS, ids=[str(w).replace("\n", "") for w, _ in PAD_FORMS])
def test_pad_takes_numpys_forms_and_its_gradient_is_g_without_the_padding(widths, pairs):
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 3, 2))
    want = np.pad(xv, widths)
    for shape in [xv.shape, (None, 3, None)]:
        x = gc.Variable("x", shape)
        y = gc.pad(x, widths)
        assert all(d is None or d == w for d, w in zip(y.shape, want.shape))
        R = rng.standard_normal(want.shape)
        yv, gv = gc.evaluate([y, gc.grad((y * gc.constant(R)).sum(), x)], {x: xv})
        np.testing.assert_array_equal(yv, want)
        # the closed form: the slice of R where x sits
        np.testing.assert_array_equal(gv, R[tuple(slice(b, b + n) for (b, _), n in zip(pairs, xv.shape))])


def test_pad_constant_variable_gets_the_sum_of_g_over_the_padding():
    x, c = gc.Variable("x", (2, 3)), gc.Variable("c")
    y = gc.pad(x, ((1, 2), (0, 1)), constant_values=c)
    R = np.random.default_rng(1).standard_normal(y.shape)
    gc_ = gc.evaluate(gc.grad((y * gc.constant(R)).sum(), c), {x: np.ones((2, 3)), c: 3.0})
    mask = np.ones(y.shape, bool)
    mask[1:3, 0:3] = False
    assert float(gc_) == pytest.approx(R[mask].sum(), rel=1e-15)


def test_pad_and_flip_gradients_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((2, 3, 4))
    x = gc.Variable("x", xv.shape)
    cases = [
        (gc.pad(x, ((0, 0), (1, 2), (3, 1)), constant_values=0.5),
         lambda t: torch.nn.functional.pad(t, (3, 1, 1, 2), value=0.5)),  # torch lists the last axis first
        (gc.flip(x, (0, 2)), lambda t: torch.flip(t, (0, 2))),
        (gc.flip(x), lambda t: torch.flip(t, (0, 1, 2))),
    ]  # fmt: skip
    for y, theirs in cases:
        R = rng.standard_normal(y.shape)
        yv, gv = gc.evaluate([y, gc.grad((y * gc.constant(R)).sum(), x)], {x: xv})
        t = torch.tensor(xv, requires_grad=True)
        out = theirs(t)
        (out * torch.tensor(R)).sum().backward()
        np.testing.assert_array_equal(yv, out.detach().numpy())
        np.testing.assert_array_equal(gv, t.grad.numpy())


def test_pad_gradient_matches_jax():
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((3, 2))
    x = gc.Variable("x", xv.shape)
    y = gc.pad(x, ((2, 1), (0, 3)), constant_values=-1.0)
    R = rng.standard_normal(y.shape)
    gv = gc.evaluate(gc.grad(gc.tanh(y * gc.constant(R)).sum(), x), {x: xv})
    with jax.enable_x64(True):
        import jax.numpy as jnp

        want = jax.grad(lambda v: jnp.tanh(jnp.pad(v, ((2, 1), (0, 3)), constant_values=-1.0) * R).sum())(xv)
    np.testing.assert_allclose(gv, np.asarray(want), rtol=1e-15)


def test_flip_twice_is_the_identity_and_its_gradient_is_g_flipped():
    x = gc.Variable("x", (None, 4))
    xv = np.arange(12.0).reshape(3, 4)
    R = np.random.default_rng(4).standard_normal((3, 4))
    np.testing.assert_array_equal(gc.evaluate(gc.flip(gc.flip(x, 1), 1), {x: xv}), xv)
    g = gc.evaluate(gc.grad((gc.flip(x, -1) * gc.constant(R)).sum(), x), {x: xv})
    np.testing.assert_array_equal(g, R[:, ::-1])


# -- creation: NumPy's dtypes and lengths --------------------------------------------------------------------


def test_arange_length_and_dtype_are_numpys_for_many_arguments():
    """The length is inferred by formula when the graph is built; here it meets NumPy's
    own on ints, floats, negative and fractional steps, and NumPy scalars."""
    rng = np.random.default_rng(5)
    cases = [(5,), (0,), (-3,), (2.5,), (1, 2, 0.1), (0, 1, 0.1), (1.0, 0.0, -0.1), (10, 0, -3), (0, 10**17, 10**15),
             (np.int32(3), 9), (np.float32(0.5), 4), (0, np.float32(1.5), np.float32(0.25)), (-0.0, 2.0)]  # fmt: skip
    for _ in range(300):
        start, stop = rng.uniform(-50, 50, 2) if rng.random() < 0.5 else rng.integers(-50, 50, 2).tolist()
        step = rng.choice([-1, 1]) * (rng.uniform(0.01, 7) if rng.random() < 0.5 else int(rng.integers(1, 9)))
        cases.append((start, stop, step))
    for args in cases:
        want = np.arange(*args)
        a = gc.arange(*args)
        assert (a.shape, a.dtype) == (want.shape, want.dtype), args
        _same(gc.evaluate(a, {}), want)


def test_arange_merging_keeps_minus_zero():
    """-0.0 == 0.0, but arange(-0.0, 2.0)[0] is -0.0: the two must not merge into one node."""
    assert Arange(-0.0, 2.0, 1, np.dtype("float64")) != Arange(0.0, 2.0, 1, np.dtype("float64"))
    both = gc.stack([gc.arange(-0.0, 2.0), gc.arange(0.0, 2.0)])
    _same(gc.compile(both, [])(), [[-0.0, 1.0], [0.0, 1.0]])


@pytest.mark.parametrize("value, dtype", [(7, None), (2.5, None), (True, None), (np.float32(2), None),
                                          (np.int8(3), None), (3, "float32"), (0, "bool"), (-1, "int8")])  # fmt: skip
def test_full_dtype_follows_numpy(value, dtype):
    want = np.full((2, 3), value, dtype)
    got = gc.full((2, 3), value, dtype)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(gc.evaluate(got, {}), want)


def test_zeros_ones_eye_dtypes_and_values_follow_numpy():
    cases = [
        (gc.zeros(3), np.zeros(3)),
        (gc.ones((2, 0)), np.ones((2, 0))),
        (gc.zeros((), "int16"), np.zeros((), "int16")),
        (gc.eye(3), np.eye(3)),
        (gc.eye(2, 5, "float32", k=2), np.eye(2, 5, 2, "float32")),
        (gc.eye(4, 3, k=-2), np.eye(4, 3, -2)),
        (gc.eye(0), np.eye(0)),
    ]
    for got, want in cases:
        assert (got.shape, got.dtype) == (want.shape, want.dtype)
        np.testing.assert_array_equal(gc.evaluate(got, {}), want)


def test_a_creation_op_survives_save_and_load(tmp_path):
    out = gc.pad(gc.flip(gc.arange(-0.0, 3.0) + gc.full(3, 0.5) + gc.eye(3)[0], 0), (1, 0), constant_values=-2.0)
    gc.save(out, tmp_path / "g.gcz")
    _same(gc.evaluate(gc.load(tmp_path / "g.gcz"), {}), gc.evaluate(out, {}))


# -- errors name the function, the argument and the user's line ------------------------------------------------


def _raises(kind, fn, *words):
    with pytest.raises(kind) as e:
        fn()
    message = str(e.value)
    assert all(w in message for w in words) and f"{HERE}:" in message, message


def test_bad_arguments_raise_errors_naming_function_argument_and_line():
    x, i = gc.Variable("x", (2, 3)), gc.Variable("i", (3,), "int64")
    _raises(gc.DTypeError, lambda: gc.erf(gc.Variable("z", (2,), "complex128")), "erf", "complex128")
    _raises(gc.ShapeError, lambda: gc.clip(x, gc.Variable("lo", (4,)), 1.0), "clip", "(2, 3)", "(4,)")
    _raises(gc.ShapeError, lambda: gc.arctan2(x, gc.Variable("w", (2,))), "arctan2", "(2, 3)", "(2,)")
    _raises(gc.ShapeError, lambda: gc.flip(x, 2), "flip", "axis 2")
    _raises(gc.ShapeError, lambda: gc.flip(x, (1, -1)), "flip", "repeated")
    _raises(gc.ArgumentError, lambda: gc.pad(x, -1), "pad", "pad_width", "negative")
    _raises(gc.ArgumentError, lambda: gc.pad(x, 1.5), "pad", "pad_width", "1.5")
    _raises(gc.ShapeError, lambda: gc.pad(x, ((1, 1), (1, 1), (1, 1))), "pad", "pad_width", "2 dimensions")
    _raises(gc.ArgumentError, lambda: gc.pad(i, 1, constant_values=0.5), "pad", "constant_values", "int64")
    _raises(gc.ArgumentError, lambda: gc.pad(x, 1, constant_values=[1.0, 2.0]), "pad", "constant_values")
    _raises(gc.DTypeError, lambda: gc.pad(i, 1, constant_values=gc.Variable("c")), "pad", "int64", "float64")
    _raises(gc.ShapeError, lambda: gc.zeros((None, 3)), "zeros", "shape", "zeros_like")
    _raises(gc.ShapeError, lambda: gc.ones(-2), "ones", "shape", "non-negative")
    _raises(gc.ArgumentError, lambda: gc.zeros(2, "nope"), "zeros", "dtype", "nope")
    _raises(gc.ArgumentError, lambda: gc.full(2, x), "full", "value", "Variable", "broadcast_to")
    _raises(gc.ArgumentError, lambda: gc.full(2, 2.5, "int64"), "full", "2.5", "int64")
    _raises(gc.ArgumentError, lambda: gc.eye(2.5), "eye", "n", "int")
    _raises(gc.ShapeError, lambda: gc.eye(3, -1), "eye", "m")
    _raises(gc.ArgumentError, lambda: gc.arange(0, 5, 0), "arange", "step")
    _raises(gc.ArgumentError, lambda: gc.arange(0, np.inf), "arange", "finite")
    _raises(gc.ArgumentError, lambda: gc.arange(gc.Variable("n", (), "int64")), "arange", "Variable")


# -- gc.from_sympy and `graphcomp grad` take the new elementwise ops by themselves ------------------------------


def test_from_sympy_builds_the_new_ops_from_sympys_classes():
    t, u = gc.Variable("t"), gc.Variable("u")
    T, U = sp.symbols("t u")
    y = gc.from_sympy(sp.erf(T) + sp.floor(T) + sp.ceiling(U) + sp.atan2(T, U), [t, u])
    built = {type(v.owner.op) for v in ancestors([y]) if v.owner is not None}
    assert {Erf, Floor, Ceil, Arctan2} <= built
    got = float(gc.evaluate(y, {t: 0.3, u: -1.2}))
    assert got == pytest.approx(math.erf(0.3) + 0.0 - 1.0 + math.atan2(0.3, -1.2), rel=1e-15)


def test_the_grad_command_knows_the_new_elementwise_ops():
    text = run_grad("erf(x) + log_sigmoid(x) * arctan2(x, z) + floor(x) + ceil(z) + round(x)", "x,z", "x=0.3,z=2",
                    max_lines=0, closed_forms=True)  # fmt: skip
    lines = {ln.split("=")[0].strip(): ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("gradient")}
    x, z = 0.3, 2.0
    ls, s = -math.log1p(math.exp(-x)), 1 / (1 + math.exp(x))  # log_sigmoid and its derivative sigmoid(-x)
    dx = 2 / math.sqrt(math.pi) * math.exp(-x * x) + s * math.atan2(x, z) + ls * z / (x * x + z * z)
    dz = ls * -x / (x * x + z * z)
    assert float(lines["gradient  dy/dx"]) == pytest.approx(dx, rel=1e-14)
    assert float(lines["gradient  dy/dz"]) == pytest.approx(dz, rel=1e-14)
    assert "erf(x)" in text and "round(x)" in text and "atan2(x, z)" in text


def test_the_new_elementwise_ops_have_their_classes_sympy_forms():
    t, u = gc.Variable("t"), gc.Variable("u")
    T, U = sp.symbols("t u")
    forms = {gc.erf: sp.erf(T), gc.floor: sp.floor(T), gc.ceil: sp.ceiling(T), gc.log_sigmoid: -sp.log(1 + sp.exp(-T))}
    symbols = {t: T, u: U}
    for fn, want in forms.items():
        assert sp.simplify(gc.to_sympy(fn(t), symbols=symbols) - want) == 0
    assert gc.to_sympy(gc.arctan2(t, u), symbols=symbols) == sp.atan2(T, U)
    assert gc.to_sympy(gc.clip(t, 0.0, u), symbols=symbols) == sp.Min(sp.Max(T, 0), U)
    assert isinstance(gc.log_sigmoid(t).owner.op, LogSigmoid) and isinstance(gc.round(t).owner.op, Round)
