"""The merge-loops rewrite (a pass of gc.compile's pipeline): a loop and the copy
its gradient made to keep values run as one loop, with the same results."""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from graphcomp.ops.loops import body as body_module
from graphcomp.passes import merge_loops as merge
from tests.loops.common import assert_close


def test_value_and_gradient_share_one_forward_loop(monkeypatch):
    W = gc.Variable("W", (3, 3))
    xs, h0 = gc.Variable("xs", (5, 3)), gc.Variable("h0", (3,))
    hT, ys = gc.scan(lambda h, x: (gc.tanh(W @ h + x), gc.sin(h).sum()), h0, xs)
    cost = (hT * hT).sum() + ys.sum()
    outs = [cost, *gc.grad(cost, [W, h0, xs])]
    rng = np.random.default_rng(0)
    feed = {W: rng.standard_normal((3, 3)) * 0.5, xs: rng.standard_normal((5, 3)), h0: rng.standard_normal(3)}
    calls = []
    real = body_module.run_loop
    monkeypatch.setattr("graphcomp.ops.loops.op.run_loop", lambda *a: calls.append(1) or real(*a))
    separately = [gc.evaluate(o, feed) for o in outs]  # each alone: the value runs 1 loop, a gradient 2
    assert len(calls) == 1 + 2 * 3
    calls.clear()
    together = gc.evaluate(outs, feed)
    assert len(calls) == 2  # gc.evaluate merges too: the forward loop keeping values, the backward loop
    calls.clear()
    merged = gc.evaluate(merge.run(outs), feed)
    assert len(calls) == 2
    for a, b, c in zip(separately, together, merged):
        assert_close(b, a, rtol=0, atol=0)
        assert_close(c, a, rtol=0, atol=0)


def test_a_graph_without_gradient_loops_is_unchanged():
    x = gc.Variable("x", (3,))
    c, ys = gc.scan(lambda c, xt: (c + xt, c), 0.0, x)
    assert merge.run([c, ys]) == [c, ys]
