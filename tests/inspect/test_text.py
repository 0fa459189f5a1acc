"""dprint: one node a line, shared nodes once, gradient nodes marked, long graphs cut."""

from __future__ import annotations

import io

import graphcomp as gc
from graphcomp.inspect.text import format_graph


def test_each_node_once_with_op_shape_and_dtype():
    x = gc.Variable("x", (2, 3))
    y = gc.exp(x)
    text = format_graph(y * y)
    assert text.splitlines() == [
        "multiply  #2  (2, 3) float64",
        "  exp  #1  (2, 3) float64",
        "    x (input)  #0  (2, 3) float64",
        "  -> #1 exp",
    ]


def test_gradient_nodes_are_marked_with_the_node_whose_bprop_built_them():
    x = gc.Variable("x")
    y = gc.exp(x)
    g = gc.grad(y * 2.0, x)  # exp's bprop reads y itself: G * y
    lines = format_graph(g).splitlines()
    exp_id = next(line.split("#")[1].split()[0] for line in lines if line.lstrip().startswith("exp"))
    assert any(f"[grad via #{exp_id}]" in line for line in lines)
    assert all("[grad" not in line for line in lines if "x (input)" in line or line.lstrip().startswith("exp"))


def test_long_graphs_are_cut_with_a_count():
    x = gc.Variable("x")
    h = x
    for _ in range(50):
        h = gc.sin(h)
    text = format_graph(h, max_lines=10)
    assert text.splitlines()[-1] == "... 41 more node(s) not shown (max_lines=10)"


def test_dprint_prints_to_a_file():
    buf = io.StringIO()
    gc.dprint(gc.Variable("x") * 2.0, file=buf)
    assert buf.getvalue().startswith("multiply")


def test_parameters_print_as_leaves_named_or_numbered():
    import numpy as np

    x = gc.Variable("x", (3,))
    W, scale = gc.Parameter(np.ones(3), "W"), gc.Parameter(np.float64(2.0))
    assert format_graph(gc.tanh(x * W) * scale).splitlines() == [
        "multiply  #5  (3,) float64",
        "  tanh  #4  (3,) float64",
        "    multiply  #3  (3,) float64",
        "      x (input)  #0  (3,) float64",
        "      W (parameter)  #1  (3,) float64",
        f"  parameter#{scale.id} (parameter)  #2  () float64",
    ]
