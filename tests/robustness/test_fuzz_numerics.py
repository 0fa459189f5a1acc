"""Hypothesis generators for the kinds of issue 14: zero bases, saturated sigmoids and
softmaxes, low-precision dtypes, long sums and unknown lengths.

Oracles: SymPy's derivatives at 0 (powers), the same loss written with the stable op
itself (``log_softmax``, ``softplus``, ``logsumexp``: other bprops than the ones the
rewritten formulas go through), mpmath at 60 digits (derivatives in the tails), exact
counts computed in float64 and rounded once, and ``np.bincount`` (scatters).
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc

SETTINGS = settings(max_examples=25, deadline=None)


# -- zero bases --------------------------------------------------------------------------------------


@SETTINGS
@given(
    coefficients=st.lists(st.integers(-5, 5), min_size=1, max_size=6),
    order=st.integers(1, 6),
    unknown=st.booleans(),
)
def test_derivatives_of_random_polynomials_at_zero(coefficients, order, unknown):
    """p(x) = sum c_k x**k over a vector of zeros: every derivative order is SymPy's p^(k)(0),
    under evaluate, compile and compile without passes."""
    x = gc.Variable("x", (None,) if unknown else (3,))
    p = sum(c * x**k for k, c in enumerate(coefficients))
    d = gc.sum(p)
    for _ in range(order):
        d = gc.sum(gc.grad(d, x))
    xs = sp.Symbol("x")
    want = 3 * float(sp.diff(sum(c * xs**k for k, c in enumerate(coefficients)), xs, order).subs(xs, 0))
    zeros = np.zeros(3)
    for got in (gc.evaluate(d, {x: zeros}), gc.compile(d, [x])(zeros), gc.compile(d, [x], passes=[])(zeros)):
        assert float(got) == want


@SETTINGS
@given(y=st.floats(0.01, 6.0), order=st.integers(1, 3))
def test_the_exponent_derivatives_of_a_zero_base_vanish(y, order):
    a, b = gc.Variable("a"), gc.Variable("b")
    d = a**b
    for _ in range(order):
        d = gc.grad(d, b)
    assert float(gc.evaluate(d, {a: 0.0, b: y})) == 0.0
    assert float(gc.compile(d, [a, b])(0.0, y)) == 0.0


# -- saturated sigmoids and softmaxes ---------------------------------------------------------------


def _sig(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


def _kept_by_one_minus_sigmoid(z):
    """How many times eps the textbook 1 - sigmoid(z) is off (it rounds sigmoid(z) first)."""
    with np.errstate(divide="ignore", over="ignore"):
        return 1 / _sig(-z)


LOSSES = [
    # (as a textbook writes it, with the stable op itself, how many times eps the textbook's
    # first derivative may be off: what gc.evaluate's finite derivatives are held to)
    (lambda z: gc.log(gc.softmax(z)), lambda z: gc.log_softmax(z), None),
    (lambda z: gc.log(gc.sigmoid(z)), lambda z: -gc.softplus(-z), None),
    (lambda z: gc.log(1 - gc.sigmoid(z)), lambda z: -gc.softplus(z), _kept_by_one_minus_sigmoid),
    (lambda z: gc.log1p(-gc.sigmoid(z)), lambda z: -gc.softplus(z), _kept_by_one_minus_sigmoid),
    (lambda z: gc.log(gc.sum(gc.exp(z))), lambda z: gc.logsumexp(z), None),
]


@SETTINGS
@given(
    picks=st.lists(st.integers(0, len(LOSSES) - 1), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 40.0, 800.0]),
    seed=st.integers(0, 2**31),
    unknown=st.booleans(),
)
def test_saturated_losses_have_the_stable_ops_gradients(picks, scale, seed, unknown):
    """A sum of textbook losses of affine maps of x, at logits up to +-800: compiled, the
    value, gradient and Hessian-vector product equal those of the same sum written with
    the stable ops (log_softmax, softplus, logsumexp), all finite. evaluate runs the
    formulas as written: its finite derivatives agree within the digits those keep."""
    rng = np.random.default_rng(seed)
    x = gc.Variable("x", (None,) if unknown else (4,))
    xv = rng.standard_normal(4) * scale
    v = rng.standard_normal(4)
    built = []
    for which in (0, 1):
        total = None
        for k, pick in enumerate(picks):
            scale_k, shift_k, weight_k = _AFFINE[k]
            term = gc.sum(LOSSES[pick][which](x * scale_k + shift_k) * weight_k)
            total = term if total is None else total + term
        g = gc.grad(total, x)
        built.append([total, g, gc.grad(gc.sum(g * v), x)])
    got = gc.compile(built[0], [x])(xv)
    want = gc.compile(built[1], [x])(xv)
    for a, b in zip(got, want):
        assert np.all(np.isfinite(a))
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_written = gc.evaluate(built[0][1:], {x: xv})
    kappa = np.ones(4)
    for k, pick in enumerate(picks):
        if LOSSES[pick][2] is not None:
            kappa = np.maximum(kappa, LOSSES[pick][2](xv * _AFFINE[k][0] + _AFFINE[k][1]))
    for order, (a, b) in enumerate(zip(as_written, got[1:]), start=1):
        finite = np.isfinite(a)
        rtol = 1e-9 * kappa[finite] ** order
        assert np.all(np.isclose(np.asarray(a)[finite], np.asarray(b)[finite], rtol=rtol, atol=1e-12 * scale))


_AFFINE = [
    (np.array([1.0, -1.0, 0.5, 2.0]), np.array([0.0, 1.0, -3.0, 0.5]), np.array([1.0, -0.5, 2.0, 0.25])),
    (np.array([-2.0, 1.0, 1.0, -0.5]), np.array([5.0, 0.0, 0.0, -1.0]), np.array([0.5, 1.5, -1.0, 1.0])),
    (np.array([0.25, 3.0, -1.0, 1.0]), np.array([-2.0, 2.0, 0.0, 0.0]), np.array([-1.0, 1.0, 0.75, 2.0])),
]


@SETTINGS
@given(
    name=st.sampled_from(["tanh", "sigmoid", "softplus", "expm1", "exp", "log1p"]),
    x=st.floats(-740.0, 700.0),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_derivatives_in_the_tails_are_accurate(name, x, dtype):
    """Anywhere in the range, the derivative is within a few ulps of mpmath's wherever it
    is a normal number of the dtype."""
    mp.mp.dps = 60
    if name == "log1p" and x <= -1:
        x = -1 + abs(x) / 1000 + 1e-6
    xv = np.asarray(x, dtype=dtype)
    t = mp.mpf(float(xv))
    want = {
        "tanh": lambda: mp.sech(t) ** 2,
        "sigmoid": lambda: mp.exp(-t) / (1 + mp.exp(-t)) ** 2,
        "softplus": lambda: 1 / (1 + mp.exp(-t)),
        "expm1": lambda: mp.exp(t),
        "exp": lambda: mp.exp(t),
        "log1p": lambda: 1 / (1 + t),
    }[name]()
    info = np.finfo(dtype)
    if not info.tiny <= abs(want) <= info.max:
        return  # underflowed or overflowed: no relative accuracy is owed
    v = gc.Variable("v", (), dtype)
    got = gc.evaluate(gc.grad(getattr(gc, name)(v), v), {v: xv})
    ulps = abs(mp.mpf(float(got)) - want) / mp.mpf(float(np.spacing(np.asarray(abs(float(want)), dtype))))
    assert ulps <= (4 if dtype == "float64" else 6), (name, x, float(got), float(want))


# -- low-precision dtypes -------------------------------------------------------------------------------


@SETTINGS
@given(
    n=st.integers(2, 200_000),
    reduce=st.sampled_from(["max", "min", "mean"]),
    dtype=st.sampled_from(["float16", "float32"]),
    unknown=st.booleans(),
)
def test_ties_and_means_divide_by_an_exact_count(n, reduce, dtype, unknown):
    """Over n equal values, max, min and mean give each element 1/n of the gradient,
    computed exactly and rounded once to the dtype."""
    t = gc.Variable("t", (None,) if unknown else (n,), dtype)
    g = gc.grad(getattr(t, reduce)(), t)
    got = gc.compile(g, [t])(np.full(n, 0.5, dtype))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.asarray(1 / n, dtype=dtype))


# -- long sums and unknown lengths -----------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 3000), seed=st.integers(0, 2**31), unknown=st.booleans(), axis=st.sampled_from([0, 1]))
def test_many_indexed_reads_are_one_scatter(n, seed, unknown, axis):
    """Reads w[k] (or w[:, k]) with repeats: one scatter, the gradient cos(w) times how
    often each k was read (np.bincount), no generated line longer than 1000 characters."""
    reads = np.random.default_rng(seed).integers(0, 100, n).tolist()
    shape = (100, 2) if axis == 0 else (2, 100)
    w = gc.Variable("w", (None, None) if unknown else shape)
    terms = [gc.sin(w[k] if axis == 0 else w[:, k]) for k in reads]
    cost = gc.sum(terms[0]) if len(terms) == 1 else gc.sum(gc.stack(terms))
    g = gc.grad(cost, w)
    scatters = [u for u in gc.Graph(g).variables if u.owner is not None and u.owner.op.name.startswith("index_grad")]
    assert len(scatters) == 1
    wv = np.linspace(-1, 1, 200).reshape(shape)
    counts = np.bincount(reads, minlength=100)
    want = np.cos(wv) * (counts[:, None] if axis == 0 else counts[None, :])
    f = gc.compile(g, [w])
    np.testing.assert_allclose(f(wv), want, rtol=1e-14)
    assert max(len(line) for line in f.source.splitlines()) < 1000
    assert math.isfinite(float(np.sum(f(wv))))
