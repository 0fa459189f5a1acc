"""``gc.op_from_graph``: a function of Variables as one node.

Oracles: the same function written inline (values, first and second
gradients, the compiled graph), NumPy closed forms, central finite
differences, and JAX's ``custom_vjp`` (float64) for custom gradients where
installed."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.ops.composite import CUSTOM_GRADIENTS, OpFromGraph
from tests.helpers import assert_grads_match_fd

XV = np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]])
WV = np.array([[0.2, -0.5], [1.0, 0.3], [-0.4, 0.8]])
BV = np.array([0.1, -0.2])


def dense(x, W):
    return gc.tanh(x @ W) * gc.sigmoid(x @ W)


def dense_np(x, W):
    return np.tanh(x @ W) / (1 + np.exp(-(x @ W)))


def _ops(v):
    return [u for u in ancestors([v]) if u.owner is not None]


def _groups(v):
    return [u for u in _ops(v) if isinstance(u.owner.op, OpFromGraph)]


def test_a_group_is_one_node_with_the_functions_value():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    layer = gc.op_from_graph(dense, name="layer")
    y = layer(x, W)
    assert len(_ops(y)) == 1 and y.owner.op.label() == "layer" and y.owner.inputs == (x, W)
    assert y.shape == (2, 2) and y.dtype == np.float64
    np.testing.assert_allclose(gc.evaluate(y, {x: XV, W: WV}), dense_np(XV, WV), rtol=1e-14)
    np.testing.assert_allclose(gc.compile(y, [x, W])(XV, WV), dense_np(XV, WV), rtol=1e-14)
    assert layer.__name__ == "layer"


def test_dprint_shows_one_line_and_to_dot_one_box_that_expands():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    y = gc.op_from_graph(dense, name="layer")(x, W).sum()
    lines = gc.inspect.text.format_graph(y).splitlines()
    assert lines[1].strip().startswith("layer  #2  (2, 2) float64")
    assert not any("tanh" in line or "matmul" in line for line in lines)
    src = gc.to_dot(y)
    assert "label=layer" in src and "shape=box3d" in src and "tanh" not in src
    expanded = gc.to_dot(y, expand=True)
    assert "subgraph cluster_" in expanded and "label=layer" in expanded and "tanh" in expanded
    assert expanded.count("style=dashed") >= 3  # x and W into the cluster, its output out of it


def test_the_gradient_is_the_inlined_graphs_first_and_second_order():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    feed = {x: XV, W: WV}
    grouped = (gc.op_from_graph(dense, name="layer")(x, W) ** 2).sum()
    inline = (dense(x, W) ** 2).sum()
    for a, b in zip(gc.evaluate(gc.grad(grouped, [x, W]), feed), gc.evaluate(gc.grad(inline, [x, W]), feed)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    np.testing.assert_allclose(
        gc.evaluate(gc.hessian(grouped, W), feed), gc.evaluate(gc.hessian(inline, W), feed), rtol=1e-12, atol=1e-14
    )
    assert_grads_match_fd(grouped, [x, W], [XV, WV], [0, 1], np.random.default_rng(0))


def test_a_layers_gradient_is_one_readable_node_per_input():
    """A three-layer network whose layers are groups: its gradient graph holds the
    layers' gradients as one node each, named after the layer and the input, and
    equals the gradient of the network written out."""
    rng = np.random.default_rng(1)
    Ws = [gc.Variable(f"W{k}", (4, 4)) for k in range(3)]
    x = gc.Variable("x", (5, 4))
    layer = gc.op_from_graph(lambda h, W: gc.tanh(h @ W), name="layer")
    h, h_inline = x, x
    for W in Ws:
        h, h_inline = layer(h, W), gc.tanh(h_inline @ W)
    cost, cost_inline = (h**2).mean(), (h_inline**2).mean()
    grads = gc.grad(cost, Ws)
    feed = {x: rng.standard_normal((5, 4)), **{W: rng.standard_normal((4, 4)) * 0.5 for W in Ws}}
    for a, b in zip(gc.evaluate(grads, feed), gc.evaluate(gc.grad(cost_inline, Ws), feed)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    labels = [v.owner.op.label() for v in _groups(grads[0])]
    assert sorted(set(labels)) == ["grad(layer, W)", "grad(layer, h)", "layer"]
    assert labels.count("grad(layer, h)") == 2  # back through the two layers above W0's
    text = gc.inspect.text.format_graph(grads[0])
    assert "grad(layer, W)" in text and "tanh" not in text


def test_compile_inlines_so_the_rewrites_see_the_inner_ops():
    x = gc.Variable("x", (3,))
    soft = gc.op_from_graph(lambda a: gc.log(1 + gc.exp(a)) * 1.0, name="soft")
    y = soft(x)
    g = gc.grad(y.sum(), x)
    f = gc.compile([y, g], [x], verify_passes=True)
    assert not _groups_in(f.graph)
    assert {name for name, *_ in f.rewrites} >= {"log(1 + x) -> log1p x", "x*1 -> x"}
    xv = np.array([-30.0, 0.0, 2.0])
    want = [np.log1p(np.exp(xv)), 1 / (1 + np.exp(-xv))]
    for a, b in zip(f(xv), want):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    # the forward recomputed inside the gradient's group is merged with the forward: each op once
    names = [v.owner.op.name for v in f.graph.variables if v.owner is not None]
    assert names.count("exp") == 1
    # without the inline pass the groups run as they are (log(1 + exp(-30)) as written), as evaluate runs them
    unrolled = gc.compile([y, g], [x], passes=["merge"])
    assert _groups_in(unrolled.graph)
    for a, b in zip(unrolled(xv), gc.evaluate([y, g], {x: xv})):
        np.testing.assert_array_equal(a, b)


def _groups_in(graph):
    return [v for v in graph.variables if v.owner is not None and isinstance(v.owner.op, OpFromGraph)]


def test_nested_groups():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    inner = gc.op_from_graph(lambda a: gc.sin(a) * 2.0, name="inner")
    outer = gc.op_from_graph(lambda x, W: inner(dense(x, W)) + inner(x).sum(), name="outer")
    y = outer(x, W)
    y_inline = gc.sin(dense(x, W)) * 2.0 + (gc.sin(x) * 2.0).sum()
    feed = {x: XV, W: WV}
    np.testing.assert_allclose(gc.evaluate(y, feed), gc.evaluate(y_inline, feed), rtol=1e-14)
    assert len(_ops(y)) == 1 and len(_groups(y)) == 1
    cost, cost_inline = (y**2).sum(), (y_inline**2).sum()
    for a, b in zip(gc.evaluate(gc.grad(cost, [x, W]), feed), gc.evaluate(gc.grad(cost_inline, [x, W]), feed)):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    f = gc.compile([cost, *gc.grad(cost, [x, W])], [x, W], verify_passes=True)
    assert not _groups_in(f.graph)
    want = gc.evaluate([cost_inline, *gc.grad(cost_inline, [x, W])], feed)
    for a, b in zip(f(XV, WV), want):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    assert gc.to_dot(y, expand=True).count("subgraph cluster_") == 3  # outer, and inner twice inside it


def test_jvp_through_a_group_is_the_inlined_jvp():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    y = gc.op_from_graph(dense, name="layer")(x, W)
    feed = {x: XV, W: WV}
    v = np.ones((3, 2))
    np.testing.assert_allclose(
        gc.evaluate(gc.jvp(y, W, v), feed), gc.evaluate(gc.jvp(dense(x, W), W, v), feed), rtol=1e-13
    )


# -- values read from outside ---------------------------------------------------------------------


def test_values_read_from_outside_become_inputs_and_get_gradients():
    x, W, b = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2)), gc.Variable("b", (2,))
    h = x * 2.0  # a node built before the call
    layer = gc.op_from_graph(lambda x: gc.tanh(x @ W + b) + h.sum(), name="layer")
    y = layer(x)
    assert y.owner.inputs == (x, W, b, h) and len(_groups(y)) == 1
    inline = gc.tanh(x @ W + b) + h.sum()
    feed = {x: XV, W: WV, b: BV}
    cost, cost_inline = (y**2).sum(), (inline**2).sum()
    for a, c in zip(gc.evaluate(gc.grad(cost, [x, W, b]), feed), gc.evaluate(gc.grad(cost_inline, [x, W, b]), feed)):
        np.testing.assert_allclose(a, c, rtol=1e-13)


def test_a_parameter_read_from_outside_trains_as_inline():
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 2))
    Wg, Wi = gc.Parameter(w0, "W"), gc.Parameter(w0, "W")
    x = gc.Variable("x", (2, 3))
    layer = gc.op_from_graph(lambda x: gc.tanh(x @ Wg), name="layer")
    cost_g, cost_i = (layer(x) ** 2).sum(), (gc.tanh(x @ Wi) ** 2).sum()
    step_g = gc.compile(cost_g, [x], updates=gc.optim.sgd(cost_g, [Wg], lr=0.1))
    step_i = gc.compile(cost_i, [x], updates=gc.optim.sgd(cost_i, [Wi], lr=0.1))
    for _ in range(3):
        np.testing.assert_allclose(step_g(XV), step_i(XV), rtol=1e-14)
    np.testing.assert_allclose(Wg.get_value(), Wi.get_value(), rtol=1e-14)
    assert not np.allclose(Wg.get_value(), w0)


# -- custom gradients ----------------------------------------------------------------------------------


def test_a_custom_bprop_is_what_grad_returns():
    """The straight-through estimator: sign forward, identity backward. The true
    gradient is zero almost everywhere; gc.grad returns the custom one."""
    ste = gc.op_from_graph(gc.sign, bprop=lambda inputs, output, G: [G], name="ste")
    x = gc.Variable("x", (3,))
    w = np.array([2.0, -3.0, 0.5])
    cost = (ste(x) * w).sum()
    xv = np.array([0.4, -1.0, 2.0])
    assert gc.evaluate(cost, {x: xv}) == float(np.sum(np.sign(xv) * w))
    assert gc.evaluate(gc.grad(cost, x), {x: xv}).tolist() == w.tolist()
    assert gc.evaluate(gc.grad((gc.sign(x) * w).sum(), x, disconnected="zero"), {x: xv}).tolist() == [0.0] * 3


def _clip(G):
    return gc.minimum(gc.maximum(G, -1.0), 1.0)


def test_a_custom_gradient_agrees_with_a_closed_form_and_with_jax_custom_vjp():
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    clip_grad = gc.op_from_graph(lambda a: a * 1.0, bprop=lambda inputs, output, G: [_clip(G)], name="clip_grad")
    c = np.array([[3.0, -0.5], [0.25, -4.0]])
    cost = (clip_grad(gc.tanh(x @ W)) * c).sum()
    gW = gc.evaluate(gc.grad(cost, W), {x: XV, W: WV})
    t = np.tanh(XV @ WV)
    np.testing.assert_allclose(gW, XV.T @ (np.clip(c, -1, 1) * (1 - t**2)), rtol=1e-13)

    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    @jax.custom_vjp
    def clip_grad_jax(a):
        return a

    clip_grad_jax.defvjp(lambda a: (a, None), lambda _, g: (jnp.clip(g, -1.0, 1.0),))
    want = jax.grad(lambda W: jnp.sum(clip_grad_jax(jnp.tanh(jnp.asarray(XV) @ W)) * c))(jnp.asarray(WV))
    np.testing.assert_allclose(gW, np.asarray(want), rtol=1e-13)


def test_a_custom_bprop_of_several_inputs_and_none():
    f = gc.op_from_graph(lambda a, b: a * b, bprop=lambda ins, out, G: [G * 10.0, None], name="scaled_a")
    a, b = gc.Variable("a"), gc.Variable("b")
    ga, gb = gc.grad(f(a, b), [a, b], disconnected="zero")
    assert gc.evaluate([ga, gb], {a: 2.0, b: 3.0}) == [10.0, 0.0]
    with pytest.raises(gc.GradientError, match="does not depend on b"):
        gc.grad(f(a, b), b)


def test_check_grad_names_a_custom_bprop_as_the_bprop_finite_differences_disagree_with():
    """A custom gradient is deliberately not the derivative: check_grad says so, and
    names the group; the inner graph's own gradient passes."""
    x = gc.Variable("x")
    own = gc.op_from_graph(lambda a: gc.sin(a) * a, name="own")
    assert gc.check_grad(own(x) * 2.0, x, {x: 0.7}).ok
    tripled = gc.op_from_graph(lambda a: a * 1.0, bprop=lambda ins, out, G: [G * 3.0], name="tripled")
    report = gc.check_grad(tripled(x) * 2.0, x, {x: 0.7})
    assert not report.ok and "first wrong bprop: tripled" in str(report)


def test_custom_bprop_errors():
    wrong = gc.op_from_graph(lambda a: a * 2.0, bprop=lambda ins, out, G: G, name="wrong")
    a = gc.Variable("a")
    with pytest.raises(gc.BpropError, match="wrong: the custom bprop .* must return a list of 1 gradient"):
        gc.grad(wrong(a), a)
    W = gc.Variable("W")
    reads = gc.op_from_graph(lambda a: a * W, bprop=lambda ins, out, G: [G], name="reads")
    with pytest.raises(gc.ArgumentError, match=r"reads W \(built at .*\) from outside.*pass them as arguments"):
        reads(a)
    pair = gc.op_from_graph(lambda a: (a, a), bprop=lambda ins, out, G: [G], name="pair")
    with pytest.raises(gc.ArgumentError, match="fn returned 2 outputs; a custom bprop"):
        pair(a)


# -- tuples of outputs, unknown dimensions, errors ------------------------------------------------------


def test_a_tuple_of_outputs_is_one_node_per_output():
    x = gc.Variable("x", (3,))
    polar = gc.op_from_graph(lambda a: (gc.sin(a), gc.cos(a) * a), name="polar")
    s, c = polar(x)
    assert [s.owner.op.label(), c.owner.op.label()] == ["polar[0]", "polar[1]"]
    xv = np.array([0.1, 0.2, 0.3])
    cost = (s * c).sum()
    np.testing.assert_allclose(gc.evaluate(cost, {x: xv}), np.sum(np.sin(xv) * np.cos(xv) * xv), rtol=1e-14)
    assert_grads_match_fd(cost, [x], [xv], [0], np.random.default_rng(3))


def test_unknown_dimensions():
    x, W = gc.Variable("x", (None, 3)), gc.Variable("W", (3, None))
    y = gc.op_from_graph(dense, name="layer")(x, W)
    assert y.shape == (None, None)
    g = gc.grad((y**2).sum(), W)
    want = gc.evaluate(gc.grad((dense(x, W) ** 2).sum(), W), {x: XV, W: WV})
    np.testing.assert_allclose(gc.evaluate(g, {x: XV, W: WV}), want, rtol=1e-13)
    np.testing.assert_allclose(gc.compile(g, [x, W], verify_passes=True)(XV, WV), want, rtol=1e-13)


def test_bad_arguments_are_refused():
    with pytest.raises(gc.ArgumentError, match="fn must be callable"):
        gc.op_from_graph(3)
    with pytest.raises(gc.ArgumentError, match="name must be a str"):
        gc.op_from_graph(gc.sin, name=3)
    with pytest.raises(gc.ArgumentError, match="bprop must be callable"):
        gc.op_from_graph(gc.sin, bprop="mine")
    with pytest.raises(gc.ArgumentError, match="fn must return a Variable or a tuple of Variables, got dict"):
        gc.op_from_graph(lambda a: {"y": a}, name="d")(gc.Variable("a"))
    layer = gc.op_from_graph(dense, name="layer")
    y = layer(gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2)))
    with pytest.raises(gc.ShapeError, match=r"layer: input 0 \(x\) is \(4, 3\) float64, but the inner graph"):
        y.owner.op(gc.Variable("x", (4, 3)), gc.Variable("W", (3, 2)))


# -- save and load --------------------------------------------------------------------------------


def test_save_and_load_keep_the_inner_graph_nested_groups_included(tmp_path):
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 2))
    inner = gc.op_from_graph(lambda a: gc.sin(a) * gc.constant([1.0, 2.0]), name="inner")
    y = gc.op_from_graph(lambda x, W: inner(dense(x, W)) + 1.0, name="outer")(x, W)
    cost = (y**2).sum()
    g = gc.grad(cost, W)
    path = gc.save([cost, g], os.path.join(tmp_path, "g.gcz"))
    cost2, g2 = gc.load(path)
    feed, by_name = {x: XV, W: WV}, {"x": XV, "W": WV}
    for a, b in zip(gc.evaluate([cost2, g2], by_name), gc.evaluate([cost, g], feed)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert [v.owner.op.label() for v in _groups(cost2)] == ["outer"]
    # differentiated again after loading: the loaded inner graph's own gradient
    W2 = next(v for v in gc.Graph(cost2).input_variables if v.name == "W")
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost2, W2), by_name), gc.evaluate(g, feed), rtol=1e-14)


def test_a_saved_custom_gradient_is_found_by_name_or_refused(tmp_path):
    def straight_through(inputs, output, G):
        return [G]

    ste = gc.op_from_graph(gc.sign, bprop=straight_through, name="ste_saved")
    x = gc.Variable("x", (2,))
    path = gc.save((ste(x) * x).sum(), os.path.join(tmp_path, "g.gcz"))
    cost = gc.load(path)
    x2 = gc.Graph(cost).input_variables[0]
    # sign(x) from the product rule's other factor, plus x from the straight-through path
    assert gc.evaluate(gc.grad(cost, x2), {"x": [0.5, -2.0]}).tolist() == [1.5, -3.0]

    def other(inputs, output, G):
        return [G * 2.0]

    gc.op_from_graph(gc.sign, bprop=other, name="ste_saved")  # another function under the name
    with pytest.raises(
        gc.LoadError,
        match=r"saved with the custom gradient .*straight_through \(defined at test_op_from_graph.py:\d+\), but this "
        r"process defined a different function under that name, .*other \(defined at",
    ):
        gc.load(path)
    del CUSTOM_GRADIENTS["ste_saved"]
    with pytest.raises(gc.LoadError, match="custom gradient .*straight_through.*is code and is not saved"):
        gc.load(path)


def test_files_without_groups_keep_format_version_1(tmp_path):
    import json
    import zipfile

    x = gc.Variable("x")
    plain = gc.save(gc.sin(x), os.path.join(tmp_path, "plain.gcz"))
    grouped = gc.save(gc.op_from_graph(gc.sin, name="s")(x), os.path.join(tmp_path, "grouped.gcz"))
    versions = [json.loads(zipfile.ZipFile(p).read("manifest.json"))["version"] for p in (plain, grouped)]
    assert versions == [1, 2]
