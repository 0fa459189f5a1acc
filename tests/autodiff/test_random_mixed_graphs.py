"""Random graphs over the broad op set: shapes that broadcast, reductions along an
axis with and without keepdims, softmax and logsumexp, slices, fancy indices,
stack and concatenate, transposes and reshapes, matmul and dot,
where/maximum/minimum, powers.

Gradients and Hessian-vector products match central finite differences, and the
compiled function (either backend, inputs with unknown dimensions) agrees with
``evaluate``. The smooth-op DAGs of ``test_random_dags`` share subexpressions;
these mix shapes, which is where the bprops' sum_to, broadcast and scatter
plumbing, and the passes' shape-dependent rules, live.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import graphcomp as gc
from tests.helpers import directional_fd

# Factors are bounded (tanh) so that no composition grows like x^(2^depth): finite
# differences of a function that steep, or of sin of it, measure nothing.
UNARY = [
    gc.sin,
    gc.tanh,
    gc.sigmoid,
    gc.softplus,
    lambda a: gc.log1p(a * a),
    lambda a: gc.log(1 + a * a),  # stabilize rewrites it to log1p
    lambda a: gc.exp(gc.tanh(a) * 0.3) - 1,  # ... and this to expm1
    lambda a: a * 1.0 + 0.0,  # simplify removes both
    lambda a: gc.abs(gc.tanh(a)) ** 3,
    lambda a: gc.sqrt(1 + a * a),
    lambda a: gc.cos(a) ** 2,
    lambda a: gc.negative(gc.negative(a)),  # simplify: neg(neg x) -> x
]
BINARY = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * gc.tanh(b),
    lambda a, b: a / (2 + gc.sin(b)),
    gc.maximum,
    gc.minimum,
    # shifted: a and b can be one value computed two ways (x1 vs x0 - (x0 - x1)), and
    # a > b would then flip with rounding, between branches finite differences cannot span
    lambda a, b: gc.where(a > b + 0.25, a * gc.tanh(b), a - b),
]


def _shaped(rng, shape):
    """The ops that apply to a value of (known) ``shape``, as functions of it."""
    ops = []
    if len(shape) >= 1:
        ax, keep = int(rng.integers(len(shape))), bool(rng.integers(2))
        ops += [
            lambda a: a.sum(axis=ax, keepdims=keep),
            lambda a: a.mean(axis=ax, keepdims=keep),
            lambda a: gc.logsumexp(a, axis=ax, keepdims=keep),
            lambda a: gc.softmax(a, axis=ax),
            lambda a: gc.log(gc.softmax(a, axis=ax)),  # stabilize: log_softmax
            lambda a: a.max(axis=ax, keepdims=keep),
        ]
    if len(shape) == 2:
        W = rng.standard_normal((shape[1], 2)) * 0.5
        ops += [lambda a: a.T, lambda a: a[0], lambda a: a[::-1], lambda a: a.reshape((-1,))]
        ops += [lambda a: a @ W, lambda a: gc.tanh(a) @ gc.tanh(a).T, lambda a: a[np.array([0, 0]), np.array([0, -1])]]
        if shape[1] >= 2:  # no empty arrays: a max over one raises, as in NumPy, and a mean is nan
            ops.append(lambda a: a[:, 1:])
    if len(shape) == 1:
        ops.append(lambda a: gc.dot(a, gc.sin(a)))
    if len(shape) == 1 and shape[0] >= 2:
        ops += [
            lambda a: a[np.array([0, 0, 1])],
            lambda a: gc.stack([a, a * 2.0]),
            lambda a: gc.concatenate([a, gc.sin(a)]),
            lambda a: a.reshape((-1, 1)) * a,
        ]
    return ops


def mixed_graph(seed: int):
    """A random graph built twice, by the same choices: over inputs of known shape,
    and over the same inputs with some dimensions None. Returns (cost, inputs) for
    each and the input values."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (3, 1), ()]
    known = [shapes[int(rng.integers(len(shapes)))] for _ in range(int(rng.integers(1, 4)))]
    values = [rng.standard_normal(s) * 0.8 for s in known]
    unknown = [tuple(None if rng.random() < 0.6 else d for d in s) for s in known]
    pairs = [(gc.Variable(f"x{k}", s), gc.Variable(f"x{k}", u)) for k, (s, u) in enumerate(zip(known, unknown))]
    inputs = [list(p) for p in zip(*pairs)]
    for _ in range(int(rng.integers(3, 14))):
        r = rng.random()
        if r < 0.4:
            fn = UNARY[int(rng.integers(len(UNARY)))]
            a = pairs[int(rng.integers(len(pairs)))]
            pairs.append((fn(a[0]), fn(a[1])))
        elif r < 0.75:
            a, b = (pairs[int(i)] for i in rng.integers(len(pairs), size=2))
            try:
                np.broadcast_shapes(a[0].shape, b[0].shape)
            except ValueError:
                continue
            fn = BINARY[int(rng.integers(len(BINARY)))]
            pairs.append((fn(a[0], b[0]), fn(a[1], b[1])))
        else:
            a = pairs[int(rng.integers(len(pairs)))]
            ops = _shaped(rng, a[0].shape)
            if ops:
                fn = ops[int(rng.integers(len(ops)))]
                pairs.append((fn(a[0]), fn(a[1])))
    costs = [None, None]
    for pair in pairs[-3:]:
        w = rng.standard_normal(pair[0].shape)
        for k, v in enumerate(pair):
            term = (v * w).sum() if w.ndim else v * float(w)
            costs[k] = term if costs[k] is None else costs[k] + term
    return (costs[0], inputs[0]), (costs[1], inputs[1]), values


def _connected(cost, inputs):
    r = gc.backprop(cost, inputs)
    return [k for k, x in enumerate(inputs) if not r.disconnected(x)]


def _smooth_fd(f, values, k, v, h):
    """The derivative of ``f`` along ``v`` at input ``k`` by central differences at h and
    h/2, Richardson-combined (the compositions here can curve hard: a Hessian entry of
    ~5000 happens). None when halving the step changes the difference beyond what a
    smooth function's h^2 term allows: the step crossed a kink of maximum, minimum or
    where (random values 1.5e-5 apart happen), and differences there measure nothing."""
    a, b = directional_fd(f, values, k, v, h), directional_fd(f, values, k, v, h / 2)
    if abs(a - b) > 1e-4 * (1.0 + abs(b)):
        return None
    return (4 * b - a) / 3


def _agree(analytic: float, numeric: float | None, scale: float) -> bool:
    assume(numeric is not None)
    return abs(analytic - numeric) <= 1e-6 * (1.0 + scale)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_gradients_and_hessian_vector_products_match_finite_differences(seed):
    (cost, inputs), _, values = mixed_graph(seed)
    connected = _connected(cost, inputs)
    assume(connected)
    rng = np.random.default_rng(seed + 1)
    grads = gc.evaluate(gc.grad(cost, [inputs[k] for k in connected]), dict(zip(inputs, values)))

    def f(vals):
        return float(gc.evaluate(cost, dict(zip(inputs, vals))))

    for k, g in zip(connected, grads):
        assert np.shape(g) == np.shape(values[k])
        v = rng.standard_normal(np.shape(values[k]))
        analytic = float(np.sum(g * v))
        numeric = _smooth_fd(f, values, k, v, 1e-5)
        assert _agree(analytic, numeric, float(np.linalg.norm(g) * np.linalg.norm(v))), (k, analytic, numeric)

    k = connected[0]
    v, u = rng.standard_normal(values[k].shape), rng.standard_normal(values[k].shape)
    hv = gc.evaluate(gc.hvp(cost, inputs[k], v), dict(zip(inputs, values)))
    g = gc.grad(cost, inputs[k])

    def u_dot_grad(vals):  # u . Hv is the derivative of u . g along v
        return float(np.sum(gc.evaluate(g, dict(zip(inputs, vals))) * u))

    analytic = float(np.sum(hv * u))
    numeric = _smooth_fd(u_dot_grad, values, k, v, 2e-5)
    assert _agree(analytic, numeric, float(np.linalg.norm(hv) * np.linalg.norm(u))), (analytic, numeric)


@pytest.mark.parametrize("backend, examples", [("numpy", 40), ("numba", 8)])
def test_compile_over_unknown_dimensions_agrees_with_evaluate(backend, examples):
    if backend == "numba":
        pytest.importorskip("numba")  # a dev dependency; skipped only where someone uninstalled it

    @settings(max_examples=examples, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def check(seed):
        (cost, inputs), (cost_u, inputs_u), values = mixed_graph(seed)
        grads = gc.grad(cost, inputs, disconnected="zero")
        want = gc.evaluate([cost, *grads], dict(zip(inputs, values)))
        grads_u = gc.grad(cost_u, inputs_u, disconnected="zero")
        got = gc.compile([cost_u, *grads_u], inputs_u, verify_passes=True, backend=backend)(*values)
        for a, b in zip(got, want):
            assert np.shape(a) == np.shape(b)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

    check()
