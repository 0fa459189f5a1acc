"""to_dot pictures that Graphviz lays out in seconds (user report 1, item 4).

A chain h = tanh(1.01 h + 0.1) with its gradient took Graphviz minutes: every
gradient node read a forward value drawn ranks and ranks before it, and ``dot``
routes such an edge through one virtual node per rank crossed. The gradient
graph is now written backward (``dir=back``) so it runs beside the forward graph.
The oracle for the layout is the problem ``dot`` solves to rank nodes (Gansner
et al. 1993): the least total edge length over all rankings with every edge
pointing one rank on at least, here solved as its dual min-cost flow by
networkx, not by graphcomp. A layout that still runs too long is stopped and
drawn with matplotlib, said once as a warning."""

from __future__ import annotations

import html
import re
import stat
import warnings

import graphviz
import networkx as nx
import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.inspect import render
from graphcomp.inspect.dot import Picture
from graphcomp.inspect.numbering import outputs_of


def _chain(layers: int):
    x = gc.Variable("x", (None, 3))
    h = x
    for _ in range(layers):
        h = gc.tanh(h * 1.01 + 0.1)
    r = gc.backprop(gc.sum(h), [x])
    return r, gc.to_dot(r, feed={x: np.array([[0.5, 1.0, -1.0]])})


def _edges(src: str) -> list[tuple[str, str, bool]]:
    """(tail, head, drawn backward) of every edge, read from the DOT text."""
    out = []
    for t, h, attrs in re.findall(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", src, re.M):
        out.append((t, h, "dir=back" in (attrs or "")))
    return out


def _least_total_edge_length(edges) -> int:
    """min over rankings r (r[head] >= r[tail] + 1 on each edge, as written) of the sum of
    r[head] - r[tail]: dot's ranking problem, solved by its dual, a min-cost flow whose
    flow on each edge is its multiplier (networkx's network simplex)."""
    g = nx.MultiDiGraph()
    for t, h, _ in edges:
        g.add_edge(t, h, weight=-1)
    for n in g:
        g.nodes[n]["demand"] = g.in_degree(n) - g.out_degree(n)
    cost, _ = nx.network_simplex(g)
    return -cost


def test_graphviz_ranks_the_gradient_beside_the_forward_graph():
    """Each edge crossing k ranks costs dot k - 1 virtual nodes to route: 6,482 of them
    for 15 layers before (quadratic in the layers), 60 now (4 a layer)."""
    for layers in (5, 15):
        _, src = _chain(layers)
        edges = _edges(src)
        virtual = _least_total_edge_length(edges) - len(edges)
        assert virtual <= 4 * layers + 4, (layers, virtual)


def test_every_edge_still_points_from_a_value_to_its_reader():
    """Written backward or not, the arrows are the graph's data flow: each input box to
    its op's circle, each circle to its output box (the oracle is the graph itself)."""
    r, src = _chain(3)
    order = gc.Numbering(r)  # a fresh numbering: box v<k> is the node numbered k
    every = ancestors(outputs_of(r))
    box = {f"v{order[v]}": v for v in every}
    flow = set()
    for name, v in box.items():
        if v.owner is not None:
            circle = "a" + name[1:]
            flow.add((circle, name))
            flow |= {(f"v{order[i]}", circle) for i in v.owner.inputs}
    drawn = {(h, t) if back else (t, h) for t, h, back in _edges(src)}
    assert drawn == flow
    backward = [(t, h) for t, h, back in _edges(src) if back]
    assert backward and all(box["v" + n[1:]].role == "grad" for t, h in backward for n in (t, h))


def test_the_fallback_draws_the_backward_edges_with_their_labels_and_arrows(monkeypatch, tmp_path):
    """Without dot, the same edges, each label drawn once per edge; an edge drawn
    backward has its arrow head at its tail (where dir=back puts it)."""
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(render, "_warned", True)
    _, src = _chain(2)
    fig = render.figure(src.picture)
    arrows = [p for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == len(src.picture.edges)
    backward = sum(1 for *_, a in src.picture.edges if a.get("dir") == "back")
    styles = [type(a.get_arrowstyle()).__name__ for a in arrows]
    assert styles.count("CurveFilledA") == backward and backward > 0
    texts = [t.get_text() for t in fig.axes[0].texts]
    for _, _, parts, _ in src.picture.edges:
        for text, _ in parts:
            assert text in texts


def test_the_fallback_lays_out_a_picture_whose_edges_close_a_cycle():
    """Edges written backward could close a cycle; the fallback breaks it as dot does
    and still draws every node and every edge's label."""
    pytest.importorskip("matplotlib")
    pic = Picture(graphviz.Digraph())
    for name in "abc":
        pic.node(name, f"node {name}")
    pic.edge("a", "b", (("a to b", "#000000"),))
    pic.edge("b", "c", (("b to c", "#000000"),))
    pic.edge("a", "c", (("c reads a", "#000000"),), backward=True)  # written c -> a: a cycle
    texts = [t.get_text() for t in render.figure(pic).axes[0].texts]
    assert sorted(t for t in texts if t.startswith("node")) == ["node a", "node b", "node c"]
    assert {"a to b", "b to c", "c reads a"} <= set(texts)


@pytest.fixture
def slow_dot(tmp_path, monkeypatch):
    """A 'dot' that never finishes a layout (it records each call, then sleeps)."""
    calls = tmp_path / "calls"
    script = tmp_path / "dot"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec /bin/sleep 60\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    return calls


def test_a_layout_past_the_timeout_is_drawn_by_matplotlib_and_said_once(slow_dot):
    pytest.importorskip("matplotlib")
    x = gc.Variable("x")
    src = gc.to_dot(gc.backprop(gc.exp(x) * x, [x]), feed={x: 0.5})
    with pytest.warns(RuntimeWarning, match=r"did not lay out this picture .* within 0.5 s"):
        svg = src.svg(timeout=0.5)
    assert "<svg" in svg and "Generated by graphviz" not in svg
    assert "1.649" in svg  # exp(0.5), drawn as text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not said again, and dot is not waited for again
        assert src.render("png", timeout=0.5)[:4] == b"\x89PNG"
    assert len(slow_dot.read_text().splitlines()) == 1


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(timeout):
    src = gc.to_dot(gc.exp(gc.Variable("x")))
    with pytest.raises(gc.ArgumentError, match=r"render: timeout must be a positive number of seconds"):
        src.render("svg", timeout=timeout)


@pytest.mark.skipif(not render.dot_available(), reason="Graphviz's dot is not installed (.ci/run installs it)")
def test_the_reports_chain_is_laid_out_by_graphviz_itself():
    """15 layers with a feed ran past 300 s; Graphviz now draws it within the default timeout
    (no fallback warning), with every value on its edge."""
    _, src = _chain(15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        svg = src.svg()
    assert "Generated by graphviz" in svg
    assert html.escape("∂cost/∂x") in svg or "∂cost/∂x" in svg
