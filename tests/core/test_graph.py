"""gc.Graph: the book's get_operation / get_consumers / get_inputs over networkx."""

from __future__ import annotations

import networkx as nx
import pytest

import graphcomp as gc
from graphcomp.core.node import Apply


def _example():
    x, z = gc.Variable("x"), gc.Variable("z")
    a = x * z
    b = gc.log(x)
    y = gc.exp(a) + a / b
    return x, z, a, b, y


def test_accessors_mirror_the_book():
    x, z, a, b, y = _example()
    G = gc.Graph(y)
    assert G.operation(x) is None and G.operation(a).op.name == "multiply"
    assert G.inputs(a) == [x, z]
    assert G.consumers(x) == [a, b]
    assert set(G.consumers(a)) == {y.inputs[0], y.inputs[1]}
    sq = x * x
    assert gc.Graph(sq).inputs(sq) == [x, x] and gc.Graph(sq).consumers(x) == [sq]


def test_networkx_view_has_boxes_and_circles():
    x, z, a, b, y = _example()
    G = gc.Graph(y)
    g = G.to_networkx()
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert set(g.nodes) == set(G.nodes)
    for n in g.nodes:
        assert g.nodes[n]["kind"] == ("op" if isinstance(n, Apply) else "variable")
    assert g.has_edge(x, a.owner) and g.has_edge(a.owner, a)
    sq = x * x
    assert gc.Graph(sq).to_networkx().edges[x, sq.owner]["positions"] == [0, 1]


def test_topological_order_puts_every_node_after_its_inputs():
    *_, y = _example()
    G = gc.Graph(y)
    order = G.topological_order()
    pos = {n: k for k, n in enumerate(order)}
    for u, v in G.to_networkx().edges:
        assert pos[u] < pos[v]
    assert order[-1] is y and G.nodes == order


def test_input_variables_are_in_creation_order():
    x, z, *_, y = _example()
    assert gc.Graph(y).input_variables == [x, z]


def test_asking_about_a_node_outside_the_graph_is_a_clear_error():
    x, *_, y = _example()
    other = gc.Variable("other")
    with pytest.raises(LookupError, match="other is not in this graph"):
        gc.Graph(y).consumers(other)
