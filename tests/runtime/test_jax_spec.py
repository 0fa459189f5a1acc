"""``compile(..., backend="jax")`` over every row of the op spec table and over random
mixed graphs: the value against the row's plain NumPy reference (an independent
oracle), and the value and its first and second gradients against the NumPy
backend (whose gradients ``tests/ops/test_spec.py`` checks against finite
differences), to 1e-12 relative in float64, with the same shapes and dtypes."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.errors import ArgumentError
from graphcomp.ops.binary import add_n
from tests.autodiff.test_random_mixed_graphs import mixed_graph
from tests.helpers import feed_for
from tests.ops.spec import SPECS
from tests.ops.test_spec import _inputs, _values

pytest.importorskip("jax")

from graphcomp.runtime.backends.jax import UNSUPPORTED  # noqa: E402

UNSUPPORTED = tuple(UNSUPPORTED)

IDS = [s.id for s in SPECS]


def _outputs(s, inputs, values):
    """The row's output, its gradients and its second gradients (as the compiled-code test builds them)."""
    out = s.build(*inputs)
    outs = [out]
    if s.grad and s.diff_positions():
        rng = np.random.default_rng(4)
        cost = (out * gc.constant(rng.standard_normal(np.shape(s.ref(*values))))).sum()
        wrt = [inputs[k] for k in s.diff_positions()]
        first = gc.grad(cost, wrt)
        outs += first
        if s.second:
            projections = [gc.constant(rng.standard_normal(np.shape(values[k]))) for k in s.diff_positions()]
            inner = add_n(*[(g * u).sum() for g, u in zip(first, projections)])
            outs += gc.grad(inner, wrt, disconnected="zero")
    return outs


def _agree(got, want, rtol=1e-12):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    scale = float(np.max(np.abs(want))) if want.size and want.dtype.kind in "fc" else 0.0
    # relative to the output's largest magnitude, and to 1 below it: an entry that cancels to ~0 (a
    # second derivative that is 0, computed as 1e-16 or 4e-17 by the two summation orders) has no
    # relative digits left
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1.0))


@pytest.mark.parametrize("unknown", [False, True], ids=["known", "unknown-dims"])
@pytest.mark.parametrize("s", SPECS, ids=IDS)
def test_every_spec_row_computes_on_jax_what_numpy_computes(s, unknown):
    if unknown and not s.unknown:
        pytest.skip("this op needs known dimensions")
    inputs, values = _inputs(s, unknown), _values(s)
    outs = _outputs(s, inputs, values)
    feed = feed_for(outs, inputs, values)
    # a random draw's generator advances with each run: both backends start from the same state
    states = {v: v.get_value() for v in ancestors(outs) if isinstance(v, gc.Parameter)}
    want = gc.compile(outs, list(feed))(*feed.values())
    for p, value in states.items():
        p.set_value(value)
    refused = sorted({v.owner.op.name for v in ancestors(outs) if isinstance(v.owner and v.owner.op, UNSUPPORTED)})
    if refused:  # a boolean mask: the shape of x[mask] depends on the values, which XLA cannot compile
        with pytest.raises(ArgumentError, match=f"cannot run the op\\(s\\) {re.escape(str(refused))}"):
            gc.compile(outs, list(feed), backend="jax")
        return
    got = gc.compile(outs, list(feed), backend="jax")(*feed.values())
    # float32 inputs (the cast row) compute in float32 on both sides, each with its own rounding
    tol = 1e-6 if any(np.dtype(s.dtype(k)) == np.float32 for k in range(len(s.shapes))) else 1e-12
    for g, w in zip(got, want):
        _agree(g, w, tol)
    np.testing.assert_allclose(got[0], s.ref(*values), rtol=max(tol, 1e-12), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_mixed_graphs_compute_on_jax_what_numpy_computes(seed):
    """The random-graph generator's cost and gradients, inputs with unknown dimensions."""
    _, (cost, inputs), values = mixed_graph(seed)
    outs = [cost, *gc.grad(cost, inputs, disconnected="zero")]
    want = gc.compile(outs, inputs)(*values)
    got = gc.compile(outs, inputs, backend="jax")(*values)
    for g, w in zip(got, want):
        _agree(g, w)
