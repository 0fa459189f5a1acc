"""One numbering per printout, shared by dprint, the trace, to_dot and the
messages printed beside them (issue 14, item 10). The oracle is node identity:
a number read back from one text must be the same Variable in the other."""

from __future__ import annotations

import re

import numpy as np

import graphcomp as gc
from graphcomp.inspect.text import format_graph


def _seed():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    return x, z, y


def _by_number(numbering: gc.Numbering, nodes) -> dict[int, gc.Variable]:
    return {numbering[v]: v for v in nodes}


def test_dprint_trace_and_picture_of_one_result_agree_without_being_told():
    x, z, y = _seed()
    r = gc.backprop(y, [x, z], trace=True)
    n = gc.Numbering(r)
    every = gc.Graph([y, *r.grads.values()]).variables
    node = _by_number(n, every)
    graph = format_graph(r)
    for op, k in re.findall(r"^\s*([a-z_]+)  #(\d+)", graph, re.M):
        assert node[int(k)].owner.op.name == op
    trace = gc.format_trace(r)
    mentioned = re.findall(r"\b([a-z_]+)#(\d+)", trace)
    assert mentioned
    for op, k in mentioned:
        v = node.get(int(k))
        if v is not None:  # a node of the printed graph: the same one
            assert v.owner.op.name == op
    dot = gc.to_dot(r)
    circles = dict(re.findall(r"\ta(\d+) \[label=\"?([^\" ]+)", dot))
    boxes = re.findall(r'\tv(\d+) \[label="[^"#]*#(\d+)', dot)
    assert len(boxes) > 20
    for box, k in boxes:
        v = node[int(k)]
        if v.owner is not None:  # the circle feeding box #k draws that node's op
            assert circles[box] == (v.owner.op.symbol or v.owner.op.label())


def test_a_trace_alone_numbers_nodes_as_dprint_numbers_the_result():
    """format_trace(r.trace), without the result, still means dprint(r)'s nodes."""
    x, z, y = _seed()
    r = gc.backprop(y, [x, z], trace=True)
    n = gc.Numbering(r)
    alone = gc.format_trace(r.trace)
    told = gc.format_trace(r.trace, n)
    assert alone == told


def test_a_shared_numbering_never_gives_two_nodes_one_number():
    x = gc.Variable("x")
    a, b = gc.sin(x), gc.cos(x)
    n = gc.Numbering(a)
    assert (n[x], n[a]) == (0, 1)
    assert n[b] == 2  # asked later: the next free number
    assert n.describe(b) == "cos#2" and n.describe(x) == "x"
    assert len({n[v] for v in (x, a, b)}) == 3
    text = format_graph([a, b], numbering=n)
    assert "sin  #1" in text and "cos  #2" in text


def test_dprint_of_a_subset_uses_the_numbers_of_the_whole_when_given_them():
    """The command prints the gradient graph alone, numbered as the trace above it."""
    x, z, y = _seed()
    r = gc.backprop(y, [x, z], trace=True)
    n = gc.Numbering(r)
    grads = list(r.grads.values())
    text = format_graph(grads, numbering=n)
    for op, k in re.findall(r"^\s*([a-z_]+)  #(\d+)", text, re.M):
        v = next(v for v in gc.Graph([y, *grads]).variables if n[v] == int(k))
        assert v.owner.op.name == op
    # grad-via marks refer to forward nodes the trace names
    via = {int(k) for k in re.findall(r"\[grad via #(\d+)\]", text)}
    forward = {n[v] for v in gc.Graph(y).variables}
    assert via and via <= forward


def test_to_dot_boxes_carry_the_numbers_dprint_prints():
    x = gc.Variable("x", (2,))
    h = gc.tanh(x) * 2.0
    text = format_graph(h)
    dot = gc.to_dot(h, feed={x: np.array([0.5, -0.5])})
    for k in re.findall(r"#(\d+)", text):
        assert f"#{k}" in dot
