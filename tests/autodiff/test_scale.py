"""A 100,000-node chain through prune, grad, evaluate, compile and dprint, with
Python's default recursion limit: nothing walks a graph recursively."""

from __future__ import annotations

import sys

import numpy as np

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.inspect.text import format_graph

LAYERS = 34_000  # three op nodes a layer (sin, multiply, add): over 100,000 nodes
STEP = 1e-4


def _chain(layers):
    x = gc.Variable("x", (2,))
    h = x
    for _ in range(layers):
        h = h + gc.sin(h) * STEP
    return x, h.sum()


def _reference(x0, layers):
    """The same chain and its derivative, as a plain NumPy loop."""
    h, dh = x0.copy(), np.ones_like(x0)
    for _ in range(layers):
        dh = dh * (1 + STEP * np.cos(h))
        h = h + np.sin(h) * STEP
    return h.sum(), dh


def test_a_100k_node_chain_needs_no_recursion(tmp_path):
    assert sys.getrecursionlimit() <= 10_000
    x, cost = _chain(LAYERS)
    assert len(ancestors([cost])) > 100_000
    pruned = gc.prune(cost, [x])
    assert len(pruned.variables) > 100_000
    g = gc.grad(cost, x)
    x0 = np.array([0.3, -1.2])
    want_cost, want_grad = _reference(x0, LAYERS)
    got_cost, got_grad = gc.evaluate([cost, g], {x: x0})
    np.testing.assert_allclose(got_cost, want_cost, rtol=1e-10)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-10)
    f = gc.compile([cost, g], [x])
    np.testing.assert_array_equal(f(x0)[1], got_grad)
    text = format_graph(g, max_lines=20)
    assert text.count("\n") == 20 and "more node(s) not shown" in text
    picture = gc.to_dot(g, max_nodes=200)
    assert "variables collapsed" in picture and picture.count("shape=box") <= 201
    reloaded = gc.load(gc.save(cost, tmp_path / "chain.gcz"))
    np.testing.assert_array_equal(gc.evaluate(reloaded, {"x": x0}), got_cost)
    assert gc.evaluate(cost, {x: x0}, check_finite=True) == got_cost


def test_gradient_graph_size_is_linear_in_the_chain_length():
    sizes = []
    for layers in (500, 1000, 2000):
        x, cost = _chain(layers)
        sizes.append(len(ancestors([gc.grad(cost, x)])))
    # the same number of new nodes per layer, whatever the length
    per_layer = [(b - a) / n for (a, b), n in zip(zip(sizes, sizes[1:]), (500, 1000))]
    assert per_layer[0] == per_layer[1]


def test_grad_table_memory_is_linear_in_the_graph():
    import tracemalloc

    used = []
    for layers in (1000, 2000, 4000):
        x, cost = _chain(layers)
        tracemalloc.start()
        r = gc.backprop(cost, [x])
        used.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        del r
    # doubling the graph doubles the memory (within 15%), it does not square it
    for a, b in zip(used, used[1:]):
        assert 1.7 < b / a < 2.3, used
