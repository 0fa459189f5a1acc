"""Loop rolling in the generated code: a repeated block of lines becomes one ``for``.

The rolled code must compute what the interpreter computes (``gc.evaluate``,
which never sees the generated text) and what a hand-written loop computes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.runtime import roll
from graphcomp.runtime.roll import MIN_COUNT, Step, find_loops, int_slots, mark


def _chain(n):
    """x_{k+1} = tanh(w[k] * x_k + b[k]) on a 5-vector: bench W3 at small n."""
    x0, w, b = gc.Variable("x", (5,)), gc.Variable("w", (n,)), gc.Variable("b", (n,))
    x = x0
    for k in range(n):
        x = gc.tanh(w[k] * x + b[k])
    return x.sum(), [x0, w, b]


def _hand(x0, w, b):
    """The chain's value and its gradients, written by hand as two loops."""
    xs = [x0]
    for k in range(len(w)):
        xs.append(np.tanh(w[k] * xs[-1] + b[k]))
    g = np.ones_like(x0)
    gw, gb = np.empty(len(w)), np.empty(len(w))
    for k in range(len(w) - 1, -1, -1):
        g = g * (1 - xs[k + 1] ** 2)
        gb[k] = g.sum()
        gw[k] = g @ xs[k]
        g = g * w[k]
    return xs[-1].sum(), gw, gb


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_rolled_chain_and_its_gradient_match_the_hand_written_loops(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    n = 30
    cost, inputs = _chain(n)
    f = gc.compile([cost, *gc.grad(cost, inputs[1:])], inputs, loops=True, backend=backend)
    assert f.source.count("for _t in range(") >= 2  # the forward and the backward chain
    assert len(f.source.splitlines()) < 150  # not ~15 lines per layer
    rng = np.random.default_rng(0)
    data = rng.standard_normal(5), rng.uniform(0.5, 1.5, n), rng.standard_normal(n) * 0.1
    for _ in range(2):  # a second call: no state is left behind in the lists
        for got, want in zip(f(*data), _hand(*data)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_rolled_and_straight_code_agree_and_the_default_rolls_only_long_schedules():
    cost, inputs = _chain(12)
    outs = [cost, *gc.grad(cost, inputs[1:])]
    straight = gc.compile(outs, inputs, loops=False)
    default = gc.compile(outs, inputs)
    rolled = gc.compile(outs, inputs, loops=True)
    assert "for _t" not in straight.source and "for _t" not in default.source
    assert "for _t" in rolled.source
    data = np.linspace(-1, 1, 5), np.linspace(0.5, 1.5, 12), np.linspace(-0.1, 0.1, 12)
    want = gc.evaluate(outs, dict(zip(inputs, data)))
    for got, w in zip(rolled(*data), want):
        np.testing.assert_allclose(got, w, rtol=1e-13, atol=1e-15)
    for a, b in zip(rolled(*data), straight(*data)):  # the same NumPy calls in the same order
        np.testing.assert_array_equal(a, b)


def test_the_body_shows_the_moving_index_in_the_code_and_the_comment():
    cost, inputs = _chain(12)
    src = gc.compile(cost, inputs, loops=True).source
    assert "w[(1 + _t)]" in src or "w[_t]" in src
    assert "getitem[(1 + _t)](w)" in src or "getitem[_t](w)" in src


def test_a_failure_inside_a_loop_names_the_iterations_node_and_the_users_line():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (None,))
    y = x
    for k in range(20):
        y = gc.tanh(w[k] * y)  # this line
    f = gc.compile(y.sum(), [x, w], loops=True)
    assert "for _t" in f.source
    assert float(f(np.ones(3), np.full(20, 0.5))) == pytest.approx(
        float(gc.evaluate(y.sum(), {x: np.ones(3), w: np.full(20, 0.5)}))
    )
    with pytest.raises(gc.EvaluationError, match=r"getitem\[11\] failed .*index 11 is out of bounds.*test_roll.py"):
        f(np.ones(3), np.full(11, 0.5))


def test_fibonacci_reads_two_iterations_back_and_still_rolls():
    a, b = gc.Variable("a"), gc.Variable("b")
    xs = [a, b]
    for _ in range(30):
        xs.append(xs[-1] * 0.5 + xs[-2] * 0.25)
    f = gc.compile([xs[-1], gc.grad(xs[-1], a)], [a, b], loops=True)
    assert "for _t" in f.source
    want = gc.evaluate([xs[-1], gc.grad(xs[-1], a)], {a: 1.5, b: -0.5})
    got = f(np.float64(1.5), np.float64(-0.5))  # NumPy 0-d values: the NumPy code
    np.testing.assert_allclose(np.array(got, float), np.array(want, float), rtol=1e-13)


def test_the_scalar_specialisation_rolls_too():
    x = gc.Variable("x")
    y = x
    for _ in range(20):
        y = gc.sin(y) * 0.9 + 0.1
    f = gc.compile([y, gc.grad(y, x)], [x], loops=True)
    assert "_sin(" in f.source and "for _t" in f.source  # the Python-float version, rolled
    want = gc.evaluate([y, gc.grad(y, x)], {x: 0.3})
    assert [float(v) for v in f(0.3)] == pytest.approx([float(v) for v in want], rel=1e-14)


def test_a_block_whose_numbers_do_not_move_evenly_is_not_rolled():
    w = gc.Variable("w", (100,))
    y = w[0]
    for k in [1, 2, 4, 7, 11, 16, 22, 29, 37, 46, 56, 67]:  # the index steps grow
        y = gc.sin(y * w[k])
    steps = _steps_of(y)
    loops, _ = find_loops(steps, {w: "w"})
    assert loops == []


def _steps_of(y):
    """The schedule's steps as codegen writes them: an index is its op's integer, a slot."""
    from graphcomp.runtime.schedule import Plan

    plan = Plan.build([y])
    out = []
    for v, _, ins, dies in plan.steps:
        marks = [mark(k) for k in range(len(ins))]
        skeleton, ints = int_slots(v.owner.op)
        if ints:
            expr = f"{marks[0]}[{skeleton.template[0][1]}]"
        else:
            expr = f"_{v.owner.op.name}({', '.join(marks)})"
        out.append(Step(v, expr, ins, dies, ints, skeleton.label()))
    return out


def test_a_chain_shorter_than_the_minimum_stays_straight():
    x = gc.Variable("x", (2,))
    y = x
    for _ in range(MIN_COUNT - 1):
        y = gc.exp(y)
    loops, where = find_loops(_steps_of(y), {x: "x"})
    assert loops == [] and where == [None] * (MIN_COUNT - 1)


@pytest.mark.parametrize(
    "args, packed",
    [
        (["_s0_1[3]", "_s0_1[2]", "_s0_1[1]", "_s0_1[0]"], ["*_s0_1[3::-1]"]),
        (["a", "_s0_1[2]", "_s0_1[3]", "_s0_1[4]", "b"], ["a", "*_s0_1[2:5]", "b"]),
        (["_s0_1[5]", "_s0_1[4]", "_s0_1[3]"], ["*_s0_1[5:2:-1]"]),
        (["_s0_1[1]", "_s0_1[2]"], ["_s0_1[1]", "_s0_1[2]"]),  # two stay as they are
        (["_s0_1[1]", "_s0_1[2]", "_s1_1[3]", "_s0_1[5]"], ["_s0_1[1]", "_s0_1[2]", "_s1_1[3]", "_s0_1[5]"]),
        (["_s0_1[1]", "_s0_1[2]", "_s0_1[4]", "_s0_1[5]", "_s0_1[6]"], ["_s0_1[1]", "_s0_1[2]", "*_s0_1[4:7]"]),
    ],
)
def test_runs_of_list_entries_are_passed_as_one_starred_slice(args, packed):
    assert roll.packed(args) == packed
    lists = {"_s0_1": list(range(10)), "_s1_1": list(range(10, 20)), "a": "a", "b": "b"}
    assert eval(f"[{', '.join(packed)}]", {}, lists) == eval(f"[{', '.join(args)}]", {}, lists)


_UNARY = [gc.tanh, gc.sin, lambda v: gc.tanh(v) * v, lambda v: -v, gc.sigmoid]
_MIX = [
    lambda y, a, c: y * a + c,
    lambda y, a, c: (y - c) * a,
    lambda y, a, c: y * a - y * c,
    lambda y, a, c: a * y + c * c,
]


@settings(max_examples=25, deadline=None)
@given(
    unary=st.lists(st.integers(0, len(_UNARY) - 1), min_size=1, max_size=3),
    mix=st.integers(0, len(_MIX) - 1),
    n=st.integers(MIN_COUNT + 3, 3 * MIN_COUNT),
    skip=st.booleans(),
)
def test_random_repeated_layers_roll_and_agree_with_evaluate(unary, mix, n, skip):
    x0, w, b = gc.Variable("x", (4,)), gc.Variable("w", (n,)), gc.Variable("b", (n,))
    x = x0
    for k in range(n):
        y = _MIX[mix](x, w[k], b[n - 1 - k])  # one index runs up, the other down
        for u in unary:
            y = _UNARY[u](y)
        x = y + x * 0.5 if skip else y  # a skip connection reads the previous layer twice
    cost = (x * x).sum()
    outs = [cost, *gc.grad(cost, [x0, w, b])]
    f = gc.compile(outs, [x0, w, b], loops=True)
    rng = np.random.default_rng(n)
    data = rng.standard_normal(4), rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    want = gc.evaluate(outs, dict(zip([x0, w, b], data)))
    for got, wv in zip(f(*data), want):
        np.testing.assert_allclose(got, wv, rtol=1e-10, atol=1e-12)
    assert "for _t" in f.source


def test_outputs_read_from_every_iteration_come_from_the_loops_lists():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (30,))
    h, outs = x, []
    for k in range(30):
        h = gc.sin(h * w[k])
        outs.append(h.sum())  # one output per layer
    outs.append(gc.grad(outs[-1], w))
    f = gc.compile(outs, [x, w], loops=True)
    assert "for _t" in f.source and "return (_s" in f.source
    X, W = np.linspace(-1, 1, 3), np.linspace(0.5, 1.5, 30)
    for got, want in zip(f(X, W), gc.evaluate(outs, {x: X, w: W})):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_loops_takes_true_false_or_none():
    x = gc.Variable("x")
    with pytest.raises(gc.ArgumentError, match="loops must be True, False or None"):
        gc.compile(x * 2.0, [x], loops="yes")
