"""Random draws inside a loop body (gc.scan, fori_loop, map): never hoisted out of the
loop as loop-invariant, new numbers at every step (the step number in Philox's counter
word 1, the outer loops' steps in the key), reproducible from the seed, new at every
run (the loop advances its generator's state), and the same numbers wherever a step is
recomputed (the gradient's loops), so gradients through them are right.
Oracles: NumPy's Philox bit generator driven directly with the documented key and
counter; central finite differences under gc.random.frozen()."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.loops.draws import stateful_nodes
from graphcomp.ops.random import RandomNormal

SEED, RATE = 7, 0.5


def _uniform(seed, draw, calls, steps, shape):
    """u ~ U[0, 1) as documented: Philox keyed by SeedSequence(seed, spawn_key=outer steps),
    counter [0, innermost step, draw, calls]."""
    key = np.random.SeedSequence(seed, spawn_key=tuple(steps[:-1])).generate_state(2, np.uint64)
    counter = np.array([0, steps[-1] if steps else 0, draw, calls], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(counter=counter, key=key)).random(shape)


def _dropout_scan(rng, checkpoint=False):
    x = gc.Variable("x", (None, 6))
    W = gc.Variable("W", (6,))

    def step(h, xt):
        h = gc.nn.dropout(gc.tanh(h * W + xt), RATE, rng)
        return h, h

    h0 = gc.zeros_like(W)
    final, hs = gc.scan(step, h0, x, checkpoint=checkpoint)
    return x, W, final, hs


def _loop_op(v):
    return v.owner.inputs[0].owner.op


def test_dropout_in_a_scan_body_draws_a_new_mask_at_every_step_as_philox_says():
    rng = gc.random.Generator(SEED)
    x, W, final, hs = _dropout_scan(rng)
    xv, Wv = np.random.default_rng(0).standard_normal((5, 6)), np.full(6, 0.5)
    got = gc.evaluate(hs, {x: xv, W: Wv})
    draw = next(v.owner.op.draw for v in stateful_nodes(_loop_op(hs)))
    h = np.zeros(6)
    for t in range(5):
        mask = _uniform(SEED, draw, 0, (t,), (6,)) < 1 - RATE
        h = np.tanh(h * Wv + xv[t]) * (mask / (1 - RATE))
        assert np.allclose(got[t], h, rtol=1e-14, atol=0), t
    masks = got != 0
    assert len({m.tobytes() for m in masks}) == 5  # five different masks (2^-24 odds of a repeat)


def test_the_loop_advances_the_state_once_per_run_and_the_seed_replays_the_runs():
    rng = gc.random.Generator(SEED)
    x, W, _, hs = _dropout_scan(rng)
    xv, Wv = np.ones((4, 6)), np.full(6, 0.5)
    f = gc.compile(hs, [x, W])
    first, second = f(xv, Wv), gc.evaluate(hs, {x: xv, W: Wv})
    assert int(rng.state.value) == 2 and not np.array_equal(first != 0, second != 0)
    rng.state.set_value(0)
    assert np.array_equal(gc.evaluate(hs, {x: xv, W: Wv}), first)  # evaluate and compile agree
    again = gc.random.Generator(SEED)
    x2, W2, _, hs2 = _dropout_scan(again)
    assert np.array_equal(gc.compile(hs2, [x2, W2])(xv, Wv), first)  # same seed, same graph: same numbers
    with gc.random.frozen():
        a, b = f(xv, Wv), f(xv, Wv)
    assert np.array_equal(a, b) and int(rng.state.value) == 1


@pytest.mark.parametrize("checkpoint", [False, True])
def test_gradients_through_dropout_in_a_scan_match_finite_differences(checkpoint):
    rng = gc.random.Generator(SEED)
    x, W, final, hs = _dropout_scan(rng, checkpoint=checkpoint)
    R = np.random.default_rng(1).standard_normal((4, 6))
    cost = (hs * R).sum() + (final * final).sum()
    gW, gx = gc.grad(cost, [W, x])
    xv, Wv = np.random.default_rng(2).standard_normal((4, 6)), np.random.default_rng(3).uniform(0.2, 1.0, 6)
    with gc.random.frozen():  # every run below sees the same masks
        got_W, got_x = gc.evaluate([gW, gx], {x: xv, W: Wv})
        compiled_W, compiled_x = gc.compile([gW, gx], [x, W])(xv, Wv)
        f = gc.compile(cost, [x, W])
        eps, direction = 1e-6, np.random.default_rng(4).standard_normal(6)
        numeric_W = (f(xv, Wv + eps * direction) - f(xv, Wv - eps * direction)) / (2 * eps)
        dx = np.random.default_rng(5).standard_normal((4, 6))
        numeric_x = (f(xv + eps * dx, Wv) - f(xv - eps * dx, Wv)) / (2 * eps)
    assert np.isclose(np.sum(got_W * direction), numeric_W, rtol=1e-6, atol=1e-8)
    assert np.isclose(np.sum(got_x * dx), numeric_x, rtol=1e-6, atol=1e-8)
    assert np.allclose(compiled_W, got_W, rtol=1e-12) and np.allclose(compiled_x, got_x, rtol=1e-12)


def test_the_gradient_of_dropout_in_a_map_is_each_steps_own_mask():
    """d/dx_t sum(dropout(x_t)) = mask_t / (1 - rate), the forward's mask at step t."""
    rng = gc.random.Generator(SEED)
    x = gc.Variable("x", (3, 8))
    ys = gc.map(lambda xt: gc.nn.dropout(xt, RATE, rng), x)
    g = gc.grad(ys.sum(), x)
    y, gv = gc.evaluate([ys, g], {x: np.ones((3, 8))})
    assert np.array_equal(gv, y) and len({row.tobytes() for row in y}) == 3


def test_a_draw_that_reads_nothing_per_step_is_not_hoisted_out_of_the_loop():
    rng = gc.random.Generator(SEED)
    _, zs = gc.scan(lambda c, _x: (c, rng.normal((2,))), 0.0, gc.Variable("x", (4, 1)))
    loop = _loop_op(zs)
    assert [v.owner.op.name for v in stateful_nodes(loop)] == ["random_normal"]
    got = gc.evaluate(zs, {"x": np.zeros((4, 1))})
    draw = stateful_nodes(loop)[0].owner.op.draw
    for t in range(4):
        want = np.random.Generator(
            np.random.Philox(
                counter=np.array([0, t, draw, 0], np.uint64),
                key=np.random.SeedSequence(SEED).generate_state(2, np.uint64),
            )
        ).standard_normal(2)
        assert np.array_equal(got[t], want)


def test_a_stateful_op_without_the_step_is_still_kept_in_the_body():
    """A draw op built directly on the state (no Generator, so no step input) is stateful:
    close_over keeps it per step instead of computing it once before the loop."""
    state = gc.Parameter(np.int64(0), "calls")
    _, zs = gc.scan(lambda c, _x: (c, RandomNormal(1, 0, (2,), np.dtype("float64"))(state)), 0.0, np.zeros(3))
    assert [v.owner.op.name for v in stateful_nodes(_loop_op(zs))] == ["random_normal"]


def test_nested_loops_draw_new_numbers_at_every_inner_and_outer_step():
    rng = gc.random.Generator(SEED)

    def outer(c, _row):
        _, inner = gc.scan(lambda c2, _y: (c2, rng.uniform(())), 0.0, np.zeros(3))
        return c, inner

    _, table = gc.scan(outer, 0.0, np.zeros((2, 1)))
    got = gc.evaluate(table)
    assert got.shape == (2, 3) and len(set(got.ravel().tolist())) == 6
    inner_loop = stateful_nodes(_loop_op(table))[0].owner.op
    draw = stateful_nodes(inner_loop)[0].owner.op.draw
    want = np.array([[_uniform(SEED, draw, 0, (i, j), ()) for j in range(3)] for i in range(2)])
    assert np.array_equal(got, want)
    assert int(rng.state.value) == 1 and not np.array_equal(gc.evaluate(table), got)


def test_fori_loop_draws_per_step_and_advances_once():
    rng = gc.random.Generator(SEED)
    total = gc.fori_loop(0, 4, lambda i, c: c + rng.uniform(()), 0.0)
    draw = stateful_nodes(total.owner.inputs[0].owner.op)[0].owner.op.draw
    want = sum(_uniform(SEED, draw, 0, (t,), ()) for t in range(4))
    assert np.isclose(float(gc.compile(total)()), want, rtol=1e-15)
    assert int(rng.state.value) == 1
