"""Every op, from one spec table: forward vs NumPy, inferred vs real shape and
dtype, gradients (first and second order) vs central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.core.types import shapes_compatible
from graphcomp.ops.base import REGISTRY
from graphcomp.ops.binary import add_n
from tests.helpers import assert_grads_match_fd, directional_fd, feed_for
from tests.ops.spec import SPECS

IDS = [s.id for s in SPECS]


def _inputs(s, unknown=False):
    return [
        gc.Variable(f"in{k}", tuple(None for _ in shape) if unknown else shape, s.dtype(k))
        for k, shape in enumerate(s.shapes)
    ]


def _values(s, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(s.domain(k)(rng, shape)).astype(s.dtype(k)) for k, shape in enumerate(s.shapes)]


def test_ids_are_unique():
    assert len(set(IDS)) == len(IDS)


def test_every_registered_op_has_a_spec_row():
    covered = set()
    for s in SPECS:
        out = s.build(*_inputs(s))
        covered |= {v.owner.op.name for v in ancestors([out]) if v.owner is not None}
    missing = sorted(set(REGISTRY) - covered)
    assert not missing, f"ops without a spec row: {missing}"


@pytest.mark.parametrize("s", SPECS, ids=IDS)
def test_forward_matches_numpy_and_inferred_type(s):
    inputs, values = _inputs(s), _values(s)
    out = s.build(*inputs)
    got = np.asarray(gc.evaluate(out, feed_for(out, inputs, values)))
    want = np.asarray(s.ref(*values))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert out.shape == want.shape, f"inferred {out.shape}, NumPy gives {want.shape}"
    assert got.dtype == out.dtype, f"inferred {out.dtype}, evaluation gives {got.dtype}"
    assert want.dtype == out.dtype or s.id.startswith(("max-ties", "size_of")), (out.dtype, want.dtype)


@pytest.mark.parametrize("s", [s for s in SPECS if s.unknown], ids=[s.id for s in SPECS if s.unknown])
def test_unknown_dimensions(s):
    """Built with every dimension unknown, the op still runs, its static shape
    stays compatible with the real one, and its gradient is still right."""
    inputs, values = _inputs(s, unknown=True), _values(s)
    out = s.build(*inputs)
    got = np.asarray(gc.evaluate(out, feed_for(out, inputs, values)))
    np.testing.assert_allclose(got, np.asarray(s.ref(*values)), rtol=1e-12, atol=1e-12)
    assert shapes_compatible(out.shape, got.shape), (out.shape, got.shape)
    if s.grad and s.diff_positions():
        R = gc.constant(np.random.default_rng(1).standard_normal(got.shape))
        cost = (out * R).sum()
        assert_grads_match_fd(cost, inputs, values, s.diff_positions(), np.random.default_rng(2), s.eps, s.rtol, s.atol)


@pytest.mark.parametrize("s", [s for s in SPECS if s.grad], ids=[s.id for s in SPECS if s.grad])
def test_gradient_matches_finite_differences(s):
    inputs, values = _inputs(s), _values(s)
    out = s.build(*inputs)
    # a random projection, not all-ones, so a transposed or permuted gradient shows
    R = gc.constant(np.random.default_rng(1).standard_normal(out.shape))
    cost = (out * R).sum()
    assert_grads_match_fd(cost, inputs, values, s.diff_positions(), np.random.default_rng(2), s.eps, s.rtol, s.atol)


@pytest.mark.parametrize("s", [s for s in SPECS if s.second], ids=[s.id for s in SPECS if s.second])
def test_second_order_matches_finite_differences(s):
    """d/dx <grad(cost, x), U> against finite differences of that inner product:
    the bprop of every bprop is checked."""
    inputs, values = _inputs(s), _values(s)
    rng = np.random.default_rng(3)
    out = s.build(*inputs)
    cost = (out * gc.constant(rng.standard_normal(out.shape))).sum()
    wrt = [inputs[k] for k in s.diff_positions()]
    first = gc.grad(cost, wrt)
    inner = add_n(*[(g * gc.constant(rng.standard_normal(w.shape))).sum() for g, w in zip(first, wrt)])
    second = gc.grad(inner, wrt, disconnected="zero")
    got = gc.evaluate(second, feed_for(second, inputs, values))

    def f(vals):
        return float(gc.evaluate(inner, feed_for(inner, inputs, vals)))

    for k, g in zip(s.diff_positions(), got):
        v = rng.standard_normal(np.shape(values[k]))
        numeric = directional_fd(f, values, k, v, 1e-5)
        analytic = float(np.sum(np.asarray(g) * v))
        assert np.isclose(analytic, numeric, rtol=1e-4, atol=1e-6), (k, analytic, numeric)


@pytest.mark.parametrize("unknown", [False, True], ids=["known", "unknown-dims"])
@pytest.mark.parametrize("s", SPECS, ids=IDS)
def test_compiled_code_computes_what_evaluate_does(s, unknown):
    """The generated code (inline NumPy forms, ufunc buffer reuse, rewrites) against the
    interpreter, for the op's value and, where it has one, its first and second gradient."""
    if unknown and not s.unknown:
        pytest.skip("this op needs known dimensions")
    inputs, values = _inputs(s, unknown), _values(s)
    out = s.build(*inputs)
    outs = [out]
    if s.grad and s.diff_positions():
        rng = np.random.default_rng(4)
        cost = (out * gc.constant(rng.standard_normal(np.shape(s.ref(*_values(s)))))).sum()
        wrt = [inputs[k] for k in s.diff_positions()]
        first = gc.grad(cost, wrt)
        outs += first
        if s.second:
            inner = add_n(
                *[
                    (g * gc.constant(rng.standard_normal(np.shape(v)))).sum()
                    for g, v in zip(first, [values[k] for k in s.diff_positions()])
                ]
            )
            outs += gc.grad(inner, wrt, disconnected="zero")
    feed = feed_for(outs, inputs, values)
    with gc.random.frozen():  # a random draw: both runs read the same generator state
        want = gc.evaluate(outs, feed)
        got = gc.compile(outs, list(feed), verify_passes=True)(*feed.values())
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)
        assert np.asarray(g).shape == np.asarray(w).shape
