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
    """tanh's derivative 1 - y*y of an affine-tanh layer: the cheap chains around tanh
    become one node each (y read twice, computed once); tanh itself, the matmul and
    the sum stay NumPy calls."""
    x, w = gc.Variable("x", (4, 3)), gc.Variable("w", (3, 2))
    y = gc.tanh(x @ w * 2.0 + 1.0)
    (out,) = fuse.run([(1.0 - y * y).sum()])
    verify([out], "fuse")
    assert format_graph([out]).splitlines() == [
        "sum[axis=(0, 1)]  #6  () float64",
        "  fused[1.0 - a0 * a0]  #5  (4, 2) float64",
        "    tanh  #4  (4, 2) float64",
        "      fused[a0 * 2.0 + 1.0]  #3  (4, 2) float64",
        "        matmul  #2  (4, 2) float64",
        "          x (input)  #0  (4, 3) float64",
        "          w (input)  #1  (3, 2) float64",
    ]


def test_transcendental_ops_stay_numpy_calls_and_relu_gets_a_kernel_even_alone():
    """NumPy's SIMD exp is ~4x Numba's per-element libm call; np.maximum is ~5x slower
    than Numba's loop. x**2 fuses (it is x*x); x**3 stays np.power."""
    x = gc.Variable("x", (5,))
    e, r, sq, cube = fuse.run([gc.exp(x * 2.0 + 1.0), gc.relu(x), (x + 1.0) ** 2.0, (x + 1.0) ** 3.0])
    assert e.owner.op.name == "exp" and e.inputs[0].owner.op.text() == "a0 * 2.0 + 1.0"
    assert r.owner.op.text() == "relu(a0)"
    assert sq.owner.op.text() == "(a0 + 1.0) ** 2.0"
    assert cube.owner.op.name == "power"


def test_a_value_read_by_two_groups_is_computed_once_outside_them():
    x = gc.Variable("x", (5,))
    s = x * 3.0
    a, b = s * s + 1.0, gc.abs(s) - 2.0
    outs = fuse.run([a, b])
    verify(outs, "fuse")
    for o in outs:
        assert o.owner.op.name == "fused" and s in o.inputs  # s stays a node of its own
    xv = np.linspace(-1.0, 2.0, 5)
    for o, want in zip(outs, ((3 * xv) ** 2 + 1.0, np.abs(3 * xv) - 2.0)):
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
    (y,) = fuse.run([gc.sqrt(x * x + 1.0) * gc.relu(x)])
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


def test_tanh_grad_fuses_with_its_neighbours():
    """tanh's derivative is six NumPy passes (|x|, a cap, cosh, reciprocal, square, the
    product): one kernel with the product that makes its G, as W3's backward step
    ``tanh_grad(x, G * w)`` is. Its value equals G / cosh(x)**2 (the closed form) and its
    gradient finite differences."""
    x, G = gc.Variable("x", (5,)), gc.Variable("G", (5,))
    (out,) = fuse.run([gc.ops.elementwise.TanhGrad()(x, G * 3.0)])
    verify([out], "fuse")
    assert out.owner.op.name == "fused" and "tanh_grad" in out.owner.op.text()
    xv, gv = np.linspace(-30.0, 2.0, 5), np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(gc.evaluate(out, {x: xv, G: gv}), 3.0 * gv / np.cosh(xv) ** 2, rtol=1e-14)
    rng = np.random.default_rng(0)
    assert_grads_match_fd(gc.sum(out * out), [x, G], [np.linspace(-2.0, 2.0, 5), gv], [0, 1], rng)
