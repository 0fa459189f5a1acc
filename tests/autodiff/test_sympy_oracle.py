"""SymPy as an independent oracle: random scalar expressions, built both as a
graphcomp graph and as a SymPy expression, agree in value and gradient."""

from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.ops.binary import add_n

# (graphcomp builder, SymPy builder), each defined for every real input
UNARY = [
    (gc.sin, sp.sin),
    (gc.cos, sp.cos),
    (gc.tanh, sp.tanh),
    (gc.sigmoid, lambda e: 1 / (1 + sp.exp(-e))),
    (gc.softplus, lambda e: sp.log(1 + sp.exp(e))),
    (lambda v: gc.exp(gc.tanh(v)), lambda e: sp.exp(sp.tanh(e))),
    (lambda v: gc.log(1.0 + gc.square(v)), lambda e: sp.log(1 + e**2)),
    (lambda v: gc.sqrt(2.0 + gc.sin(v)), lambda e: sp.sqrt(2 + sp.sin(e))),
    (lambda v: gc.log1p(gc.square(v)), lambda e: sp.log(1 + e**2)),
    (lambda v: gc.expm1(gc.tanh(v)), lambda e: sp.exp(sp.tanh(e)) - 1),
    (lambda v: -v, lambda e: -e),
    (lambda v: gc.abs(v) + 1.0, lambda e: sp.Abs(e) + 1),
]
BINARY = [
    (lambda a, b: a + b, lambda a, b: a + b),
    (lambda a, b: a - b, lambda a, b: a - b),
    (lambda a, b: a * b, lambda a, b: a * b),
    (lambda a, b: a / (2.0 + gc.cos(b)), lambda a, b: a / (2 + sp.cos(b))),
    (lambda a, b: (1.5 + gc.sin(a)) ** b, lambda a, b: (sp.Rational(3, 2) + sp.sin(a)) ** b),
    (lambda a, b: gc.square(a) * 0.5 + b * 3.0, lambda a, b: a**2 / 2 + 3 * b),
]

NAMES = ["x", "y", "z"]


def _build(rng, depth: int):
    """Build the same random expression twice, bottom-up on an explicit list."""
    gvars = [gc.Variable(n) for n in NAMES]
    svars = list(sp.symbols(NAMES, real=True))
    pool = list(zip(gvars, svars))
    for _ in range(depth):
        if rng.random() < 0.5:
            g, s = pool[rng.integers(len(pool))]
            fg, fs = UNARY[rng.integers(len(UNARY))]
            pool.append((fg(g), fs(s)))
        else:
            (ga, sa), (gb, sb) = (pool[i] for i in rng.integers(len(pool), size=2))
            fg, fs = BINARY[rng.integers(len(BINARY))]
            pool.append((fg(ga, gb), fs(sa, sb)))
    g_out = add_n(*[p[0] for p in pool[-3:]]) if len(pool) > 3 else pool[-1][0]
    s_out = sum(p[1] for p in pool[-3:]) if len(pool) > 3 else pool[-1][1]
    return gvars, svars, g_out, s_out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 10))
def test_random_expressions_agree_with_sympy(seed, depth):
    rng = np.random.default_rng(seed)
    gvars, svars, g_out, s_out = _build(rng, depth)
    point = rng.uniform(-1.5, 1.5, len(NAMES))
    subs = dict(zip(svars, point))
    grads = gc.grad(g_out, gvars, disconnected="zero")
    got = gc.evaluate([g_out, *grads], dict(zip(gvars, point)))
    want = [float(s_out.evalf(subs=subs))] + [float(sp.diff(s_out, s).evalf(subs=subs)) for s in svars]
    np.testing.assert_allclose([float(v) for v in got], want, rtol=1e-9, atol=1e-11)
