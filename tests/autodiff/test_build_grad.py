"""Algorithm 6.6 as the book writes it: memoised, one add node per sum, positions
summed, gradient nodes inserted into the same graph."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.autodiff.build_grad import GradState
from graphcomp.core.traverse import ancestors
from graphcomp.ops.binary import add_n
from tests.helpers import assert_grads_match_fd


def test_x_times_x_sums_the_two_input_positions():
    x = gc.Variable("x")
    z = x * x
    r = gc.backprop(z, [x])
    assert [(c.consumer, c.position) for c in r.provenance[x]] == [(z, 0), (z, 1)]
    assert r.grads[x].owner.op.name == "add_n" and len(r.grads[x].owner.inputs) == 2
    assert float(gc.evaluate(r.grads[x], {x: 3.0})) == 6.0  # d(x^2)/dx = 2x


def test_several_consumers_are_summed_by_one_add_node():
    x = gc.Variable("x")
    a, b, c = gc.sin(x), gc.cos(x), gc.exp(x)
    z = a + b + c
    r = gc.backprop(z, [x])
    g = r.grads[x]
    assert g.owner.op.name == "add_n" and len(g.owner.inputs) == 3
    assert [c_.consumer for c_ in r.provenance[x]] == [a, b, c]
    want = np.cos(0.3) - np.sin(0.3) + np.exp(0.3)
    assert float(gc.evaluate(g, {x: 0.3})) == pytest.approx(want, rel=1e-15)


def test_grad_table_is_seeded_with_ones_and_holds_every_node_of_the_pruned_graph():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (3,))
    z = (gc.tanh(x * w) + x).sum()
    r = gc.backprop(z, [x])
    assert r.grad_table[z].is_constant and float(r.grad_table[z].value) == 1.0
    assert set(r.grad_table) == set(r.pruned.variables)


def test_every_node_of_the_pruned_graph_gets_exactly_one_entry(random_graph_factory):
    for seed in range(30):
        z, inputs = random_graph_factory(seed)
        r = gc.backprop(z, inputs)
        # G' plus the targets (a target without a path gets its zero gradient)
        assert set(r.grad_table) == set(r.pruned.variables) | set(inputs)
        # and build_grad recorded one sum step per node: no entry was built twice
        assert sum(1 for s in gc.backprop(z, inputs, trace=True).trace if s.kind == "sum") == len(r.grad_table) - 1


def test_build_grad_is_memoised_and_the_memo_hit_is_traced():
    x = gc.Variable("x")
    y = gc.exp(x)
    z = y * y
    G, Gp = gc.Graph(z), gc.prune(z, [x])
    table = {z: gc.constant(1.0)}
    state = GradState(trace=[])
    g1 = gc.build_grad(x, G, Gp, table, state=state)
    g2 = gc.build_grad(x, G, Gp, table, state=state)
    assert g1 is g2
    assert [s.kind for s in state.trace][-1] == "memo"
    assert {s.variable for s in state.trace if s.kind == "sum"} == {x, y}
    assert float(gc.evaluate(g1, {x: 0.5})) == pytest.approx(2 * np.exp(1.0), rel=1e-15)


def test_gradient_nodes_are_inserted_into_the_same_graph():
    x = gc.Variable("x")
    y = gc.exp(x)
    z = y * 3.0
    r = gc.backprop(z, [x])
    g = r.grads[x]
    # d/dx exp(x) is G * y with y the very forward node, not a copy of it
    assert y in ancestors([g])
    assert y in r.graph and g in r.graph and z in r.graph
    assert g.role == "grad" and y.role == "forward"
    # and the gradient can be differentiated again
    assert float(gc.evaluate(gc.grad(g, x), {x: 0.0})) == 3.0


def test_bprop_is_called_once_for_a_consumer_of_two_targets():
    x, y = gc.Variable("x"), gc.Variable("y")
    z = x * y
    r = gc.backprop(z, [x, y])
    # both gradients come from the same bprop call: G*y and G*x share their G
    gx, gy = r.grads[x], r.grads[y]
    assert gx.owner.inputs[0] is gy.owner.inputs[0] is r.grad_table[z]


def test_each_inserted_node_knows_whose_bprop_built_it():
    x = gc.Variable("x")
    s = gc.sin(x)
    z = s * 2.0
    g = gc.grad(z, x)
    assert g.grad_of is s  # built by sin's bprop: G * cos(x)


def _scatters(g):
    return [v for v in gc.Graph(g).variables if v.owner is not None and v.owner.op.name == "index_grad"]


def test_reads_of_single_elements_sum_as_one_scatter_not_n():
    """sum_k w[k] * x_k: the N scatter gradients of w become one scatter of the
    stacked terms (O(N), not N arrays of size N), and the values are the closed form."""
    n = 50
    w, x = gc.Variable("w", (n,)), gc.Variable("x", (n, 3))
    cost = add_n(*[(w[k] * x[k]).sum() for k in range(n)])
    (g,) = gc.grad(cost, [w])
    assert len(_scatters(g)) == 1
    xv = np.random.default_rng(0).standard_normal((n, 3))
    np.testing.assert_allclose(gc.evaluate(g, {w: np.ones(n), x: xv}), xv.sum(axis=1), rtol=1e-12)


def test_combined_scatters_keep_repeated_and_two_dimensional_reads_right():
    """w[2] read twice accumulates; rows of a matrix (w[k] of shape (3,)) and
    pairs of indices (m[i, j]) combine too; checked against finite differences."""
    w, m = gc.Variable("w", (4, 3)), gc.Variable("m", (3, 3))
    cost = (w[2] * w[0]).sum() + (w[2] ** 2).sum() + gc.sin(w[1]).sum() + m[0, 1] * m[2, 2] + m[0, 1] ** 3
    g = gc.grad(cost, [w, m])
    assert all(len(_scatters(gi)) == 1 for gi in g)
    rng = np.random.default_rng(1)
    assert_grads_match_fd(cost, [w, m], [rng.standard_normal((4, 3)), rng.standard_normal((3, 3))], [0, 1], rng)


def test_one_scatter_node_that_is_two_terms_counts_twice_not_four_times():
    """(x + x)[k]: add's bprop hands the same index_grad node to both positions of x.
    Combining by node identity put the combined scatter in twice (gradient 4, not 2);
    found by the random mixed-graph property test."""
    x, X = gc.Variable("x", (3,)), gc.Variable("X", (2, 3))
    cost = gc.sum((x + x)[0]) + gc.sum((X + X)[1]) + gc.sum((x * 1.5 + x)[2] * x[2])
    gx, gX = gc.grad(cost, [x, X])
    xv = np.array([0.3, -0.5, 0.7])
    got = gc.evaluate([gx, gX], {x: xv, X: np.zeros((2, 3))})
    # d/dx of 2 x0 + 2.5 x2^2, and of 2 * sum(X[1])
    np.testing.assert_allclose(got[0], [2.0, 0.0, 5.0 * xv[2]], rtol=1e-15)
    np.testing.assert_allclose(got[1], [[0.0] * 3, [2.0] * 3], rtol=1e-15)
    rng = np.random.default_rng(5)
    assert_grads_match_fd(cost, [x, X], [xv, rng.standard_normal((2, 3))], [0, 1], rng)


def test_second_derivatives_flow_through_a_combined_scatter():
    n = 6
    w = gc.Variable("w", (n,))
    cost = add_n(*[gc.exp(w[k]) * w[(k + 1) % n] for k in range(n)])
    H = gc.hessian(cost, w)
    v = np.random.default_rng(2).standard_normal(n)
    e = np.exp(v)
    want = np.zeros((n, n))
    for k in range(n):
        nxt = (k + 1) % n
        want[k, k] += e[k] * v[nxt]
        want[k, nxt] += e[k]
        want[nxt, k] += e[k]
    np.testing.assert_allclose(gc.evaluate(H, {w: v}), want, rtol=1e-12)
