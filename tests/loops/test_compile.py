"""A loop under gc.compile: a Python for loop around the body's generated lines,
whose text does not depend on T; the forward steps run once when a value and its
gradients are asked for (merge-loops); the body goes through the same passes
(fused by Numba); a failure names the body's node and the step. Every value is
checked against gc.evaluate, and gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.fused import Fused
from graphcomp.ops.loops import codegen as codegen_module
from graphcomp.ops.loops.op import Scan
from graphcomp.passes import merge_loops
from tests.loops.common import assert_close, central_fd

LINE = "test_compile.py:"


def _backends():
    out = ["numpy"]
    try:
        import numba  # noqa: F401

        out.append("numba")
    except ImportError:
        pass
    return out


def _loops(graph_or_outputs) -> list:
    g = graph_or_outputs if isinstance(graph_or_outputs, gc.Graph) else gc.Graph(graph_or_outputs)
    return [v for v in g.variables if isinstance(v.op, Scan)]


def _rnn(T=None):
    W, h0, xs = gc.Variable("W", (3, 3)), gc.Variable("h0", (3,)), gc.Variable("xs", (T, 3))
    hT, ys = gc.scan(lambda h, x: (gc.tanh(W @ h + x), gc.sin(h).sum()), h0, xs)
    return (hT * hT).sum() + ys.sum(), [h0, xs, W]


def _feed(T, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(3), rng.standard_normal((T, 3)), rng.standard_normal((3, 3)) * 0.5]


@pytest.mark.parametrize("backend", _backends())
def test_the_loop_is_a_for_statement_whose_text_does_not_depend_on_T(backend):
    cost, ins = _rnn()
    f = gc.compile([cost, *gc.grad(cost, ins)], ins, backend=backend)
    assert f.source.count("for _step in range(T):") == 1  # the forward loop
    assert f.source.count("for _step in range(T - 1, -1, -1):") == 1  # the backward loop
    assert "tanh" in f.source  # the body's own lines, each under its node's comment
    for T in (0, 1, 7, 1000):  # one function for every T
        feed = _feed(T)
        want = gc.evaluate([cost, *gc.grad(cost, ins)], dict(zip(ins, feed)))
        for g, w in zip(f(*feed), want):
            assert_close(g, w)
    # a known T is a number in the text: as many lines for 10^4 and 10^5 steps (for small T,
    # constant folding materialises a broadcast of T ones, as it would in any graph)
    lines = []
    for T in (10_000, 100_000):
        c, i = _rnn(T)
        lines.append(gc.compile([c, *gc.grad(c, i)], i, backend=backend).source.count("\n"))
    assert lines[0] == lines[1]


def test_value_and_gradients_run_the_forward_steps_once():
    cost, ins = _rnn(6)
    outs = [cost, *gc.grad(cost, ins)]
    assert len(_loops(outs)) == 3  # the loop, its copy keeping values for the gradient, the backward loop
    f = gc.compile(outs, ins)
    assert len(_loops(f.graph)) == 2  # merged: one forward loop, one backward loop
    f_unmerged = gc.compile(outs, ins, passes=["merge", "constant-fold", "simplify", "stabilize"])
    assert len(_loops(f_unmerged.graph)) == 3
    feed = _feed(6)
    for a, b, c in zip(f(*feed), f_unmerged(*feed), gc.evaluate(outs, dict(zip(ins, feed)))):
        assert_close(a, c)
        assert_close(b, c)


def test_the_loop_functions_run_once_each(monkeypatch):
    calls = []
    real = codegen_module.trip_count
    monkeypatch.setattr(codegen_module, "trip_count", lambda *a: calls.append(1) or real(*a))
    cost, ins = _rnn()
    f = gc.compile([cost, *gc.grad(cost, ins)], ins)
    f(*_feed(5))
    assert len(calls) == 2  # forward (value and residuals at once), backward


def test_merged_copies_keep_the_union_of_what_each_gradient_reads():
    W, h0, xs = gc.Variable("W", (3, 3)), gc.Variable("h0", (3,)), gc.Variable("xs", (5, 3))
    hT, ys = gc.scan(lambda h, x: (gc.tanh(W @ h + x), gc.exp(h * x).sum()), h0, xs)
    g1 = gc.grad(hT.sum(), xs)  # reads the tanh of each step
    g2 = gc.grad(ys.sum(), W)  # reads exp(h * x), h and x of each step
    outs = [hT.sum(), ys.sum(), g1, g2]
    copies = [v for v in _loops(outs) if v.op.base is not None]
    kept = [set(v.op.body.ys[1:]) for v in copies]
    assert len(copies) == 2 and kept[0] != kept[1]  # two copies keeping different values
    merged = merge_loops.run(outs)
    forward = [v for v in _loops(merged) if v.op.gradient is None]
    assert len(forward) == 1 and set(forward[0].op.body.ys) >= kept[0] | kept[1]
    feed = dict(zip([h0, xs, W], _feed(5)))
    want = gc.evaluate(outs, feed)
    for g, w in zip(gc.evaluate(merged, feed), want):
        assert_close(g, w, rtol=0, atol=0)
    for g, w in zip(gc.compile(outs, [h0, xs, W])(*_feed(5)), want):
        assert_close(g, w)


@pytest.mark.parametrize("backend", _backends())
def test_the_body_goes_through_the_same_passes(backend):
    x, w = gc.Variable("xs", (4, 8)), gc.Variable("w", (8,))
    c, _ = gc.scan(lambda c, xt: (gc.relu(c * 1.0 + xt * w) * 0.5 - 0.25, None), gc.zeros_like(w), x)
    f = gc.compile([c, gc.grad(c.sum(), w)], [x, w], backend=backend)
    bodies = [v.op.body for v in _loops(f.graph)]
    ops = [n.op for b in bodies for n in b.nodes() if n.owner is not None]
    assert any(rule == "x*1 -> x" for rule, _, _ in f.rewrites)  # simplify fired inside the body
    ones = [n for b in bodies for n in b.nodes() if n.owner and any(i.is_constant and i.value == 1.0 for i in n.inputs)]
    assert not ones  # c * 1.0 is c
    if backend == "numba":
        assert any(isinstance(o, Fused) for o in ops)  # fused inside the body
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((4, 8)), rng.standard_normal(8)
    for g, want in zip(f(xv, wv), gc.evaluate([c, gc.grad(c.sum(), w)], {x: xv, w: wv})):
        assert_close(g, want)


@pytest.mark.parametrize("backend", _backends())
def test_compiled_gradients_against_finite_differences(backend):
    cost, ins = _rnn(4)
    f = gc.compile([cost, *gc.grad(cost, ins)], ins, backend=backend)
    value = gc.compile(cost, ins, backend=backend)
    feed = _feed(4, seed=3)
    grads = f(*feed)[1:]
    rng = np.random.default_rng(5)
    for k, g in enumerate(grads):
        d = rng.standard_normal(np.shape(feed[k]))

        def at(a, k=k):
            return float(value(*[a if j == k else feed[j] for j in range(3)]))

        assert np.isclose(np.sum(g * d), central_fd(at, feed[k], d), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", _backends())
def test_a_failure_inside_the_compiled_loop_names_the_node_and_the_step(backend):
    xs, w = gc.Variable("xs", (None,), "int64"), gc.Variable("w", (3,))
    c, _ = gc.scan(lambda c, i: (c + w[i] * 2.0, None), 0.0, xs)
    f = gc.compile(c, [xs, w], backend=backend)
    assert float(f(np.array([0, 2]), np.ones(3))) == 4.0
    with pytest.raises(gc.EvaluationError) as e:
        f(np.array([0, 1, 5, 0]), np.ones(3))
    msg = str(e.value)
    assert "at step t=2" in msg and "getitem" in msg and "index 5 is out of bounds" in msg
    assert msg.count(LINE) == 2  # the body's line, and the loop's


def test_a_failure_in_a_nested_loop_names_both_steps():
    xs = gc.Variable("xs", (None, None), "int64")
    w = gc.Variable("w", (3,))

    def outer(c, row):
        inner, _ = gc.scan(lambda a, i: (a + w[i], None), c, row)
        return inner, None

    c, _ = gc.scan(outer, 0.0, xs)
    f = gc.compile(c, [xs, w])
    assert float(f(np.array([[0, 1], [2, 2]]), np.ones(3))) == 4.0
    with pytest.raises(gc.EvaluationError) as e:
        f(np.array([[0, 1], [2, 7]]), np.ones(3))
    msg = str(e.value)
    assert msg.startswith("scan: at step t=1, scan: at step t=1, getitem") and "index 7" in msg


@pytest.mark.parametrize("T", [0, 1, 3])
def test_outputs_of_unknown_shape_stack_as_evaluate_stacks_them(T):
    xs = gc.Variable("xs", (None, None))
    c, ys = gc.scan(lambda c, x: (c + x.sum(), (x * c, c)), 0.0, xs)
    outs = [c, *ys, *gc.grad(c + ys[0].sum(), [xs])]
    feed = np.random.default_rng(T).standard_normal((T, 4))
    want = gc.evaluate(outs, {xs: feed})
    assert want[1].shape == ((T, 4) if T else (0, 0))  # no step tells an unknown dimension of y
    for g, w in zip(gc.compile(outs, [xs])(feed), want):
        assert_close(g, w)


def test_a_carry_whose_shape_changes_at_run_time_is_an_error_when_compiled():
    xs = gc.Variable("xs", (None, None))
    c, _ = gc.scan(lambda c, x: (gc.concatenate([c, x[:1]]), None), xs[0], xs)
    f = gc.compile(c, [xs])
    with pytest.raises(gc.EvaluationError, match=r"new carry has shape \(4,\), but it entered the loop with shape"):
        f(np.ones((2, 3)))


def test_a_loop_whose_every_path_is_blocked():
    x, v = gc.Variable("x", (3,)), gc.Variable("v")
    c, _ = gc.scan(lambda c, xt: (c + gc.stop_gradient(xt * v), None), 0.0, x)
    with pytest.raises(gc.GradientError, match="blocked by scan, which passes no gradient to that input") as e:
        gc.grad(c, v)
    assert LINE in str(e.value)
    # the loop's own value carries no gradient either: its "no path" zero is a packed one
    h, _ = gc.scan(lambda h, xt: (h * xt, None), 1.0, x)
    z = gc.stop_gradient(h) + (x * 0.0).sum()
    r = gc.backprop(z, [x])
    loop = h.owner.inputs[0]
    assert r.grad_table[loop].owner.op.no_gradient
    dx = gc.grad(z, x)
    assert gc.evaluate(dx, {x: np.ones(3)}).tolist() == [0.0, 0.0, 0.0]
    assert gc.compile(dx, [x])(np.ones(3)).tolist() == [0.0, 0.0, 0.0]


def test_a_backend_overriding_the_loop_class_runs_its_own_form():
    # how a JAX backend would put lax.scan in place of the for statement: an override keyed by Scan
    from graphcomp.runtime.backends.numpy import NumpyBackend

    ran = []

    def interpreted(op):
        def run(*arrays):
            ran.append(op.label())
            return op.forward(*arrays)

        return run

    class Interpreting(NumpyBackend):
        name = "interpreting"
        overrides = {Scan: interpreted}

    cost, ins = _rnn()
    f = gc.compile([cost, *gc.grad(cost, ins)], ins, backend=Interpreting())
    assert "for _step" not in f.source
    feed = _feed(4)
    for g, w in zip(f(*feed), gc.evaluate([cost, *gc.grad(cost, ins)], dict(zip(ins, feed)))):
        assert_close(g, w)
    assert len(ran) == 2 and ran[1].startswith("scan[grad")
