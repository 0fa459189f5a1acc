"""check_grad, explain_grad and cost_report through loops (issue 17, item 4):
check_grad treats a loop and its projections as one op and checks its body's
bprops against finite differences; explain_grad names the body's node that
blocks a gradient, or where inside the body a value or a derivative first
turns non-finite; cost_report counts T times a step's FLOPs (the unrolled
graph's count) and the bytes the forward loop keeps per step (closed forms)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.inspect.cost import flops
from graphcomp.ops.base import Op
from graphcomp.ops.loops.op import Scan

H, D, K, T = 4, 3, 5, 6
LINE = "test_check_explain_cost.py:"


def rnn_parts():
    W, U, V = gc.Variable("W", (H, H)), gc.Variable("U", (H, D)), gc.Variable("V", (K, H))
    b, c, h0 = gc.Variable("b", (H,)), gc.Variable("c", (K,)), gc.Variable("h0", (H,))
    return W, U, V, b, c, h0


def rnn_step(W, U, V, b, c):
    def step(h, xy):
        x, y = xy
        h = gc.tanh(b + W @ h + U @ x)
        return h, -(y * gc.log_softmax(c + V @ h)).sum()

    return step


def rnn_feed(vs, T=T, seed=0):
    rng = np.random.default_rng(seed)
    W, U, V, b, c, h0, X, Y = vs
    return {W: rng.standard_normal((H, H)) * 0.5, U: rng.standard_normal((H, D)) * 0.5,
            V: rng.standard_normal((K, H)) * 0.5, b: rng.standard_normal(H) * 0.1, c: rng.standard_normal(K) * 0.1,
            h0: rng.standard_normal(H) * 0.3, X: rng.standard_normal((T, D)),
            Y: np.eye(K)[rng.integers(0, K, T)]}  # fmt: skip


def loop_nodes(outputs):
    return [v for v in gc.Graph(outputs).variables if v.owner is not None and isinstance(v.op, Scan)]


# -- check_grad -----------------------------------------------------------------------------------------------


def test_check_grad_checks_the_loop_as_one_op_and_its_bodys_bprops():
    W, U, V, b, c, h0 = rnn_parts()
    X, Y = gc.Variable("X", (None, D)), gc.Variable("Y", (None, K))
    _, losses = gc.scan(rnn_step(W, U, V, b, c), h0, (X, Y))
    loss = losses.sum()
    feed = rnn_feed((W, U, V, b, c, h0, X, Y))
    report = gc.check_grad(loss, [W, U, V, b, c, h0, X], feed)
    assert report.ok, str(report)
    (L,) = loop_nodes(loss)
    loop_checks = [r for r in report.nodes if r.node is L]
    # the loop's bprop, against finite differences of the whole loop, for every input a gradient reaches
    assert sorted(r.position for r in loop_checks) == [0, 1, *range(3, 8)]  # h0, X, then the captures (not Y)
    body = set(L.op.body.nodes())
    inside = [r for r in report.nodes if r.loop is L]
    assert inside and all(r.node in body for r in inside)
    assert {r.node.op.name for r in inside} >= {"tanh", "matmul", "add", "log_softmax", "multiply"}
    assert "  body: tanh input 0" in str(report)


@dataclasses.dataclass(frozen=True)
class WrongCube(Op):
    """x**3 with the derivative 2x² instead of 3x² (a made-up bug)."""

    name: ClassVar[str] = "wrong_cube"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return x**3

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [G * 2.0 * x * x]


def test_check_grad_names_a_wrong_bprop_inside_a_body_at_the_line_that_built_it():
    w = gc.Variable("w", (3,))
    xs = gc.Variable("xs", (4, 3))
    h, _ = gc.scan(lambda h, x: (gc.sin(WrongCube()(h * w) + x), None), gc.constant(np.full(3, 0.5)), xs)
    feed = {w: np.array([0.7, -0.4, 1.1]), xs: np.random.default_rng(1).standard_normal((4, 3))}
    report = gc.check_grad(h.sum(), w, feed)
    assert not report.ok
    bad = report.first_failure
    (L,) = loop_nodes(h)
    assert bad.loop is L and isinstance(bad.node.op, WrongCube) and bad.node in set(L.op.body.nodes())
    assert f"first wrong bprop: wrong_cube built at {LINE}" in str(report)
    assert not report.whole[0].ok  # the whole gradient is wrong too, by finite differences
    # the loop's own check fails with it: its bprop runs the wrong one
    assert not all(r.ok for r in report.nodes if r.node is L)


def test_check_grad_through_nested_reversed_and_indexed_loops():
    x = gc.Variable("x", (3, 4))
    w = gc.Variable("w")

    def outer(c, row):
        s, _ = gc.scan(lambda a, e: (a * gc.cos(e * w) + c, None), 0.5, row, reverse=True)
        return gc.tanh(c * s), s

    total, ys = gc.scan(outer, 1.0, x)
    counted = gc.fori_loop(1, 4, lambda i, c: c * w + gc.sin(i.astype("float64") * c), total)
    feed = {x: np.random.default_rng(2).standard_normal((3, 4)), w: 0.8}
    report = gc.check_grad([counted, ys], [x, w], feed)
    assert report.ok, str(report)
    loops = loop_nodes([counted, ys])
    inner = [u for L in loops for u in L.op.body.nodes() if u.owner is not None and isinstance(u.op, Scan)]
    assert inner and any(r.loop is inner[0] for r in report.nodes)  # the inner loop's body, one level down


# -- explain_grad ---------------------------------------------------------------------------------------------


def test_explain_names_the_bodys_node_that_blocks_a_captured_value():
    W = gc.Variable("W", (3,))
    xs = gc.Variable("xs", (5, 3))
    h, _ = gc.scan(lambda h, x: (gc.where(x > W, 1.0, 0.0) + h, None), gc.constant(np.zeros(3)), xs)
    e = gc.explain_grad(h.sum(), W)
    (L,) = loop_nodes(h)
    assert e.status == "blocked" and e.node in set(L.op.body.nodes()) and e.node.op.name == "greater"
    assert "whose body passes no gradient to its captured W" in e.message
    assert "the comparison greater" in e.message and LINE in e.message
    with pytest.raises(gc.GradientError):  # gc.grad agrees: no gradient
        gc.grad(h.sum(), W)


def test_explain_says_a_carry_cut_inside_the_body_makes_the_gradient_zero_once_a_step_runs():
    h0, w = gc.Variable("h0", (3,)), gc.Variable("w", (3,))
    xs = gc.Variable("xs", (None, 3))
    h, _ = gc.scan(lambda h, x: (gc.stop_gradient(h) + w * x, None), h0, xs)
    e = gc.explain_grad(h.sum(), h0)
    (L,) = loop_nodes(h)
    assert e.status == "blocked" and e.node.op.name == "stop_gradient" and e.node in set(L.op.body.nodes())
    assert "the carry entering a step" in e.message and "zero whenever the loop runs a step" in e.message
    assert "with T = 0" in e.message  # T is unknown: with no step the final carry is h0 itself
    g = gc.grad(h.sum(), h0)
    assert gc.evaluate(g, {h0: np.ones(3), w: np.ones(3), xs: np.ones((4, 3))}).tolist() == [0.0] * 3
    assert gc.evaluate(g, {h0: np.ones(3), w: np.ones(3), xs: np.ones((0, 3))}).tolist() == [1.0] * 3
    assert gc.explain_grad(h.sum(), w).status == "ok"  # w enters every step's new carry


def test_explain_finds_the_step_and_body_node_where_the_cost_turns_non_finite():
    w = gc.Variable("w", (2,))
    xs = gc.Variable("xs", (5, 2))
    h, _ = gc.scan(lambda h, x: (h + gc.log(w * x), None), gc.constant(np.zeros(2)), xs)
    data = np.ones((5, 2))
    data[3, 1] = 0.0  # log(0) at step 3 only
    e = gc.explain_grad(h.sum(), w, {w: np.ones(2), xs: data})
    (L,) = loop_nodes(h)
    assert e.status == "non-finite" and e.node.op.name == "log" and e.node in set(L.op.body.nodes())
    assert "at step t=3 of scan" in e.message and "-inf" in e.message and LINE in e.message


def test_explain_finds_the_step_and_body_node_whose_derivative_is_not_finite():
    w = gc.Variable("w", (2,))
    xs = gc.Variable("xs", (5, 2))
    h, _ = gc.scan(lambda h, x: (h + gc.sqrt(w * x) * 0.5, None), gc.constant(np.zeros(2)), xs)
    data = np.ones((5, 2))
    data[2, 0] = 0.0  # sqrt is finite at 0, its derivative is not: at step 2 only
    feed = {w: np.ones(2), xs: data}
    assert np.all(np.isfinite(gc.evaluate(h, feed)))
    with np.errstate(divide="ignore", invalid="ignore"):  # the infinite derivative times a zero: nan
        assert not np.all(np.isfinite(gc.evaluate(gc.grad(h.sum(), w), feed)))
    e = gc.explain_grad(h.sum(), w, feed)
    assert e.status == "non-finite" and "at step t=2" in e.message
    assert e.node.op.name == "sqrt" and "sqrt's derivative" in e.message


def test_explain_on_loops_with_finite_or_zero_gradients():
    W, U, V, b, c, h0 = rnn_parts()
    X, Y = gc.Variable("X", (None, D)), gc.Variable("Y", (None, K))
    _, losses = gc.scan(rnn_step(W, U, V, b, c), h0, (X, Y))
    feed = rnn_feed((W, U, V, b, c, h0, X, Y))
    assert gc.explain_grad(losses.sum(), W, feed).status == "ok"
    zero = {**feed, Y: np.zeros((T, K))}  # no label: every step's loss is 0 whatever W
    assert gc.explain_grad(losses.sum(), W, zero).status == "zero"


# -- cost_report ----------------------------------------------------------------------------------------------


def test_a_loops_flops_are_those_of_the_unrolled_graph():
    W, U, V, b, c, h0 = rnn_parts()
    X, Y = gc.Variable("X", (T, D)), gc.Variable("Y", (T, K))
    step = rnn_step(W, U, V, b, c)
    _, losses = gc.scan(step, h0, (X, Y))
    h, per_step = h0, []
    for t in range(T):  # the oracle: the same step, unrolled into T copies of its ops
        h, loss_t = step(h, (X[t], Y[t]))
        per_step.append(loss_t)
    unrolled = gc.stack(per_step).sum()
    looped = gc.cost_report(losses.sum(), gc.grad(losses.sum(), [W, U]))
    plain = gc.cost_report(unrolled, gc.grad(unrolled, [W, U]))
    getitems = sum(flops(v) for v in gc.Graph(unrolled).variables if v.owner is not None and v.op.name == "getitem")
    assert looped.forward_flops == plain.forward_flops - getitems > 0
    assert looped.forward_nodes < plain.forward_nodes / T


def test_a_loops_flops_use_the_steps_given_at_run_time():
    W, U, V, b, c, h0 = rnn_parts()
    X, Y = gc.Variable("X", (None, D)), gc.Variable("Y", (None, K))
    _, losses = gc.scan(rnn_step(W, U, V, b, c), h0, (X, Y))
    vs = (W, U, V, b, c, h0, X, Y)
    one = gc.cost_report(losses.sum(), gc.grad(losses.sum(), W))  # T unknown: counted as 1 step
    r7, r14, r21 = (gc.cost_report(losses.sum(), gc.grad(losses.sum(), W), rnn_feed(vs, T=n)) for n in (7, 14, 21))
    body = one.forward_flops - 1  # the final sum reads 1 element
    assert r7.forward_flops == 7 * body + 7 and r14.forward_flops == 14 * body + 14
    # the backward loop too: its FLOPs grow by the same amount for each 7 more steps
    assert r21.gradient_flops - r14.gradient_flops == r14.gradient_flops - r7.gradient_flops > 0


@pytest.mark.parametrize("checkpoint", [False, True])
def test_bytes_kept_per_step_are_those_the_readme_states(checkpoint):
    """The book's RNN keeps h_{t-1}, tanh's argument a_t and log_softmax(o_t) per step
    (2H + K float64s: tanh's derivative sech(a_t)**2 is computed from a_t, where 1 - h_t**2
    would lose its digits; a hand-written BPTT keeps h_t and softmax(o_t)); with
    checkpointing only the carry."""
    B = 2
    W, U, V, b, c, h0 = rnn_parts()
    X, Y = gc.Variable("X", (None, B, D)), gc.Variable("Y", (None, B, K))
    H0 = gc.Variable("H0", (B, H))

    def step(h, xy):
        x, y = xy
        h = gc.tanh(b + h @ W.T + x @ U.T)
        return h, -(y * gc.log_softmax(c + h @ V.T, axis=-1)).sum()

    _, losses = gc.scan(step, H0, (X, Y), checkpoint=checkpoint)
    loss = losses.sum()
    grads = gc.grad(loss, [W, U, V, b, c])
    static = gc.cost_report(loss, grads)
    per_step = B * (H if checkpoint else 2 * H + K) * 8
    assert static.kept_bytes_per_step == per_step and static.kept_bytes is None  # T unknown
    rng = np.random.default_rng(0)
    feed = {W: rng.standard_normal((H, H)), U: rng.standard_normal((H, D)), V: rng.standard_normal((K, H)),
            b: np.zeros(H), c: np.zeros(K), H0: np.zeros((B, H)), X: rng.standard_normal((9, B, D)),
            Y: np.eye(K)[rng.integers(0, K, (9, B))]}  # fmt: skip
    run = gc.cost_report(loss, grads, feed)
    assert run.kept_bytes_per_step == per_step and run.kept_bytes == 9 * per_step
    assert f"kept per step for the backward loops: {per_step:,} bytes ({9 * per_step:,} bytes in all)" in str(run)
    # the same memory that the kept stacks hold when the graph runs
    back = next(v for v in loop_nodes(grads) if v.op.gradient is not None)
    stacks = gc.evaluate(back.op.kept_inputs(back), feed)
    assert sum(s.nbytes for s in stacks) == 9 * per_step
    assert gc.cost_report(loss, []).kept_bytes_per_step == 0  # no gradient, nothing kept
