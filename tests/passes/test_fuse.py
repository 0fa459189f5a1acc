"""The fuse pass: which nodes join a group (golden text), that a fused graph is
valid and computes what the original does, and that it is differentiable again."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.inspect.text import format_graph
from graphcomp.passes import fuse
from graphcomp.passes.pipeline import optimize
from graphcomp.passes.verify import verify
from tests.conftest import random_graph
from tests.helpers import assert_grads_match_fd


def test_fuse_golden():
    """tanh's derivative 1 - y*y of an affine-tanh layer: the whole elementwise chain
    is one node (y computed once, read twice); the matmul and the sum stay."""
    x, w = gc.Variable("x", (4, 3)), gc.Variable("w", (3, 2))
    y = gc.tanh(x @ w * 2.0 + 1.0)
    (out,) = fuse.run([(1.0 - y * y).sum()])
    verify([out], "fuse")
    assert format_graph([out]).splitlines() == [
        "sum[axis=(0, 1)]  #4  () float64",
        "  fused[t4 = tanh(a0 * 2.0 + 1.0); 1.0 - t4 * t4]  #3  (4, 2) float64",
        "    matmul  #2  (4, 2) float64",
        "      x (input)  #0  (4, 3) float64",
        "      w (input)  #1  (3, 2) float64",
    ]


def test_a_value_read_by_two_groups_is_computed_once_outside_them():
    x = gc.Variable("x", (5,))
    s = gc.sin(x)
    a, b = gc.exp(s) + 1.0, gc.log(s * s)
    outs = fuse.run([a, b])
    verify(outs, "fuse")
    for o in outs:
        assert o.owner.op.name == "fused" and s in o.inputs  # s stays a node of its own
    xv = np.linspace(0.1, 2.0, 5)
    for o, want in zip(outs, (np.exp(np.sin(xv)) + 1.0, np.log(np.sin(xv) ** 2))):
        np.testing.assert_allclose(gc.evaluate(o, {x: xv}), want, rtol=1e-15)


def test_outputs_0d_values_and_broadcast_inputs_stay_outside():
    x, c = gc.Variable("x", (2, 3)), gc.Variable("c", ())
    scale = gc.exp(c) * 2.0  # 0-d: stays two NumPy scalar ops
    row = gc.sin(gc.Variable("r", (3,)))  # another shape: an input of the group, not a member
    mid = x * scale + row
    out = gc.sqrt(gc.abs(mid))
    new_mid, new_out = fuse.run([mid, out])
    verify([new_mid, new_out], "fuse")
    assert new_mid.owner.op.text() == "a0 * a1 + a2"  # an output: the group ends there
    assert new_out.owner.op.text() == "sqrt(abs(a0))" and new_out.inputs == (new_mid,)
    names = {v.owner.op.name for v in gc.Graph([new_mid]).variables if v.owner}
    assert {"exp", "multiply", "sin"} <= names


def test_unknown_dimensions_stay_unfused():
    """A member must have its group's shape; with unknown sizes that cannot be known."""
    x = gc.Variable("x", (None, 3))
    (y,) = fuse.run([gc.exp(x) * 2.0])
    assert y.owner.op.name == "multiply"


def test_a_fused_graph_is_differentiable_again():
    x = gc.Variable("x", (4,))
    (y,) = fuse.run([gc.tanh(x * 3.0) * gc.sin(x)])
    assert y.owner.op.name == "fused"
    rng = np.random.default_rng(0)
    assert_grads_match_fd(y.sum(), [x], [rng.standard_normal(4)], [0], rng)
    (g,) = gc.grad(y.sum(), [x])
    assert_grads_match_fd(g.sum(), [x], [rng.standard_normal(4)], [0], rng)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fusing_random_gradient_graphs_keeps_them_valid_and_their_values(seed):
    z, inputs = random_graph(seed, n_nodes=15)
    grads = gc.grad(z, inputs, disconnected="zero")
    outs = optimize([z, *grads])
    fused = fuse.run(outs)
    verify(fused, "fuse")
    values = dict(zip(inputs, (np.random.default_rng(seed).uniform(-1, 1, 3) for _ in inputs)))
    for a, b in zip(gc.evaluate(fused, values), gc.evaluate(outs, values)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
