"""A 10^5-step loop through grad, evaluate and compile: no recursion, and a graph
(hence build, grad and compile work) whose size does not depend on T."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.ops.loops.op import Scan
from tests.loops.common import assert_close

N = 100_000


def chain(n):
    """The W3 recurrence x_{k+1} = tanh(w_k x_k + b_k) as one loop, and its gradients."""
    w, b, x0 = gc.Variable("w", (n,)), gc.Variable("b", (n,)), gc.Variable("x0")
    xN, _ = gc.scan(lambda x, wb: (gc.tanh(wb[0] * x + wb[1]), None), x0, (w, b))
    grads = gc.grad(xN, [w, b, x0])
    hv = gc.hvp(xN, w, gc.ones_like(w))
    return [xN, *grads, hv], [x0, w, b]


def _sizes(outputs):
    """Outer nodes, and nodes of every loop body reachable (bodies of bodies included)."""
    outer = ancestors(outputs)
    inner, stack, seen = 0, [v.op for v in outer if v.owner is not None and isinstance(v.op, Scan)], set()
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        nodes = op.body.nodes()
        inner += len(nodes)
        stack.extend(v.op for v in nodes if v.owner is not None and isinstance(v.op, Scan))
    return len(outer), inner


def test_graph_and_compiled_code_do_not_grow_with_T():
    assert _sizes(chain(10)[0]) == _sizes(chain(N)[0])
    # compiled: T = 10^4 against 10^5 (constant folding materialises zeros of small T only, as for any graph)
    small, _ = chain(N // 10)
    big, _ = chain(N)
    f_small, f_big = gc.compile(small), gc.compile(big)
    assert len(f_small.graph.variables) == len(f_big.graph.variables)
    assert f_small.source.count("\n") == f_big.source.count("\n")


@contextmanager
def recursion_limit(extra: int):
    """Allow only ``extra`` frames beyond the current depth: a walk that recursed
    over 10^5 steps or nodes would fail."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + extra)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _reference(x0, w, b):
    """Value and gradients of the chain by a hand-written NumPy loop (BPTT)."""
    xs = [x0]
    for k in range(len(w)):
        xs.append(np.tanh(w[k] * xs[-1] + b[k]))
    g = 1.0
    gw, gb = np.empty(len(w)), np.empty(len(w))
    for k in reversed(range(len(w))):
        da = g * (1 - xs[k + 1] ** 2)
        gw[k], gb[k] = da * xs[k], da
        g = da * w[k]
    return xs[-1], gw, gb, g


def test_a_100000_step_loop_builds_differentiates_evaluates_and_compiles_without_recursion():
    rng = np.random.default_rng(0)
    w, b, x0 = rng.uniform(0.5, 1.5, N), rng.uniform(-0.2, 0.2, N), 0.3
    want = _reference(x0, w, b)
    with recursion_limit(120):
        outs, ins = chain(N)
        f = gc.compile(outs, ins)
        got_eval = gc.evaluate(outs, dict(zip(ins, [x0, w, b])))
        got_comp = f(np.float64(x0), w, b)
    eps = 1e-6  # H v for v = ones: central differences of the NumPy gradient along v
    hv = (_reference(x0, w + eps, b)[1] - _reference(x0, w - eps, b)[1]) / (2 * eps)
    for got in (got_eval, got_comp):
        for g, v in zip(got[:4], want):
            assert_close(g, v, rtol=1e-10, atol=1e-14)
        assert_close(got[4], hv, rtol=1e-5, atol=1e-9)


def test_a_100000_step_loop_through_every_inspector_without_recursion(tmp_path):
    from graphcomp.inspect.text import format_graph

    rng = np.random.default_rng(1)
    w, b, x0 = rng.uniform(0.5, 1.5, N), rng.uniform(-0.2, 0.2, N), 0.3
    want = _reference(x0, w, b)
    with recursion_limit(120):
        outs, ins = chain(N)
        feed = dict(zip(ins, [x0, w, b]))
        text = format_graph(outs, max_lines=100_000)
        src = gc.to_dot(outs, max_nodes=12)
        report = gc.cost_report(outs[0], outs[1:4])  # T is known: no run needed
        loaded = gc.load(gc.save(outs, tmp_path / "chain.gcz"))
        got = gc.evaluate(loaded[:4], {v.name: a for v, a in feed.items()})
        trace = gc.format_trace(gc.backprop(outs[0], ins[1:], trace=True))
        why = gc.explain_grad(outs[0], ins[1])
        short, short_ins = chain(50)
        check = gc.check_grad(short[0], short_ins, dict(zip(short_ins, [x0, w[:50], b[:50]])))
    # dprint: the loop, its value-keeping copy and the backward loops, each body once, whatever N
    assert text.count("body, run at each step") >= 1 and "gradient body" in text
    assert len(text.splitlines()) < 500
    # to_dot: the middle collapsed, loop bodies counted against max_nodes and said so
    assert "collapsed" in src and "showing 12 of" in src.picture.caption
    # cost_report: 3 FLOPs a step (multiply, add, tanh) forward; two float64s kept a step: x_k
    # and tanh's argument (its derivative sech**2 is computed from it, to keep its digits)
    assert report.forward_flops == 3 * N
    assert report.kept_bytes_per_step == 16 and report.kept_bytes == 16 * N
    # the loaded graph computes what a hand-written NumPy loop computes
    for g, v in zip(got[:4], want):
        assert_close(g, v, rtol=1e-10, atol=1e-14)
    assert "| build_grad(" in trace and why.status == "ok"
    assert check.ok and any(c.loop is not None for c in check.nodes)
