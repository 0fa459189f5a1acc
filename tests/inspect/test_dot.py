"""to_dot: boxes and circles, two colours, highlights, values and gradients on
the edges, collapse, and the pictures notebooks display."""

from __future__ import annotations

import re
import warnings

import graphviz
import pytest

import graphcomp as gc
from graphcomp.inspect import render
from graphcomp.inspect.dot import FORWARD, GRADIENT, to_dot


def _circuit():
    x, y, z = gc.Variable("x"), gc.Variable("y"), gc.Variable("z")
    f = (x + y) * z
    return x, y, z, f


def test_variables_are_boxes_and_ops_circles():
    x, y, z, f = _circuit()
    src = to_dot(f)
    assert isinstance(src, str) and src.startswith("digraph")
    assert len(re.findall(r"shape=box", src)) == 5  # x, y, z, x+y, f
    assert len(re.findall(r"shape=circle", src)) == 2  # +, ×


def test_forward_and_gradient_nodes_have_two_colours_and_pruned_targets_are_highlighted():
    x, y, z, f = _circuit()
    src = to_dot(gc.backprop(f, [x]))
    assert FORWARD["fill"] in src and GRADIENT["fill"] in src
    assert src.count("peripheries=2") == 2  # the target x, and the legend's sample
    assert "legend" in src and "in G′" in src


def test_values_above_and_gradients_below_as_in_lecture_004():
    """(x + y) z at x=-2, y=5, z=-4: q = 3, f = -12; df/dq = -4, df/dz = 3, df/dx = df/dy = -4."""
    x, y, z, f = _circuit()
    src = to_dot(gc.backprop(f, [x, y, z]), feed={x: -2.0, y: 5.0, z: -4.0})
    labels = dict(re.findall(r"(v\d+ -> a\d+) \[label=<(.*?)>\]", src))
    pairs = {k: re.findall(r">([^<]+)</font>", v) for k, v in labels.items()}
    assert ["-2", "-4"] in pairs.values()  # x: value -2, gradient -4
    assert ["5", "-4"] in pairs.values()  # y
    assert ["3", "-4"] in pairs.values()  # q = x + y: value 3, gradient -4
    assert ["-4", "3"] in pairs.values()  # z: value -4, gradient 3
    assert "= -12" in src


def test_big_graphs_are_collapsed_with_a_clear_count():
    x = gc.Variable("x")
    h = x
    for _ in range(2000):
        h = gc.sin(h) * 0.5
    src = to_dot(h, max_nodes=60)
    assert "variables collapsed" in src and "showing 60 of" in src
    assert src.count("shape=box") <= 61


def test_svg_with_dot_or_with_the_matplotlib_fallback(monkeypatch):
    x, y, z, f = _circuit()
    src = to_dot(f)
    if render.dot_available():
        assert "<svg" in src.svg()
    monkeypatch.setattr(render, "_warned", False)

    def no_dot(*a, **k):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(type(src.digraph), "pipe", no_dot)
    with pytest.warns(RuntimeWarning, match="'dot' program was not found"):
        svg = src.svg()
    assert "<svg" in svg
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once only
        assert "<svg" in to_dot(f).svg()


def test_graph_result_and_grad_table_display_themselves():
    x, y, z, f = _circuit()
    r = gc.backprop(f, [x, z])
    for obj in (gc.Graph(f), r, r.grad_table):
        bundle = obj._repr_mimebundle_()
        assert "<svg" in bundle["image/svg+xml"]


def test_save_writes_dot_or_svg_by_suffix(tmp_path):
    *_, f = _circuit()
    src = to_dot(f)
    assert open(src.save(tmp_path / "g.dot")).read() == src
    assert "<svg" in open(src.save(tmp_path / "g.svg")).read()
