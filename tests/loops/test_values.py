"""Loop values against plain NumPy loops: structures, directions, trip counts,
dtypes, captures, one node per loop, evaluate == compile."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.loops import body as body_module
from graphcomp.ops.loops import codegen as codegen_module
from graphcomp.ops.loops.op import Scan
from tests.loops.common import assert_close, count_nodes

RNG = np.random.default_rng(0)


def _numpy_rnn(h, xs, W, reverse=False):
    ys = np.zeros((len(xs),) + h.shape)
    for t in reversed(range(len(xs))) if reverse else range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        ys[t] = h * 2.0
    return h, ys


def _rnn(W):
    return lambda h, x: (gc.tanh(W @ h + x), gc.tanh(W @ h + x) * 2.0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T", [0, 1, 2, 7])
def test_scan_matches_a_numpy_loop(T, reverse):
    h0, xs, W = gc.Variable("h0", (3,)), gc.Variable("xs", (T, 3)), gc.Variable("W", (3, 3))
    hT, ys = gc.scan(_rnn(W), h0, xs, reverse=reverse)
    assert hT.shape == (3,) and ys.shape == (T, 3)
    feed = {h0: RNG.standard_normal(3), xs: RNG.standard_normal((T, 3)), W: RNG.standard_normal((3, 3))}
    want = _numpy_rnn(feed[h0], feed[xs], feed[W], reverse)
    for got, w in zip(gc.evaluate([hT, ys], feed), want):
        assert_close(got, w)


@pytest.mark.parametrize("T", [0, 1, 5])
def test_unknown_number_of_steps(T):
    h0, xs, W = gc.Variable("h0", (3,)), gc.Variable("xs", (None, 3)), gc.Variable("W", (3, 3))
    hT, ys = gc.scan(_rnn(W), h0, xs)
    assert ys.shape == (None, 3)
    f = gc.compile([hT, ys], [h0, xs, W])
    for _ in range(2):  # the same graph and compiled function for every T
        feed = {h0: RNG.standard_normal(3), xs: RNG.standard_normal((T, 3)), W: RNG.standard_normal((3, 3))}
        want = _numpy_rnn(feed[h0], feed[xs], feed[W])
        for got, w in zip(gc.evaluate([hT, ys], feed), want):
            assert_close(got, w)
        for got, w in zip(f(feed[h0], feed[xs], feed[W]), want):
            assert_close(got, w)


def test_reverse_keeps_ys_in_step_order():
    xs = gc.Variable("xs", (4,))
    total, partial = gc.scan(lambda c, x: (c + x, c + x), 0.0, xs, reverse=True)
    a = np.array([1.0, 2.0, 3.0, 4.0])
    got = gc.evaluate([total, partial], {xs: a})
    assert float(got[0]) == 10.0
    assert got[1].tolist() == [10.0, 9.0, 7.0, 4.0]  # ys[t] = sum of xs[t:], written by step t


def test_nested_structures_are_kept():
    xs = gc.Variable("xs", (3, 2))
    ws = gc.Variable("ws", (3,))

    def f(carry, x):
        (a, [b, c]) = carry
        xv, w = x
        return (a + w, [b * 2.0, c + xv]), {"not": "allowed"} if False else (None, [a, (b,)])

    (a, [b, c]), (none, [ya, (yb,)]) = gc.scan(f, (0.0, [1.0, gc.constant(np.zeros(2))]), (xs, ws))
    assert none is None
    feed = {xs: np.arange(6.0).reshape(3, 2), ws: np.array([1.0, 2.0, 3.0])}
    got = gc.evaluate([a, b, c, ya, yb], feed)
    assert float(got[0]) == 6.0 and float(got[1]) == 8.0
    assert got[2].tolist() == [6.0, 9.0]
    assert got[3].tolist() == [0.0, 1.0, 3.0] and got[4].tolist() == [1.0, 2.0, 4.0]


def test_scan_with_length_and_no_xs():
    c, ys = gc.scan(lambda c, _: (c * 2.0, c), 1.0, length=4)
    assert ys.shape == (4,)
    got = gc.evaluate([c, ys], {})
    assert float(got[0]) == 16.0 and got[1].tolist() == [1.0, 2.0, 4.0, 8.0]


def test_none_carry_and_map():
    xs = gc.Variable("xs", (3, 2))
    ys = gc.map(lambda r: gc.exp(r).sum(), xs)
    a = RNG.standard_normal((3, 2))
    assert_close(gc.evaluate(ys, {xs: a}), np.exp(a).sum(axis=1))
    _, ys2 = gc.scan(lambda c, r: (c, r * 3.0), None, xs)
    assert_close(gc.evaluate(ys2, {xs: a}), a * 3.0)


@pytest.mark.parametrize("lower,upper", [(0, 4), (2, 6), (3, 3), (5, 2)])
def test_fori_loop_indices(lower, upper):
    got = gc.evaluate(gc.fori_loop(lower, upper, lambda i, c: c * 10 + i, 0), {})
    want = 0
    for i in range(lower, upper):
        want = want * 10 + i
    assert int(got) == want and got.dtype == np.int64


def test_python_numbers_in_init_take_sensible_dtypes():
    # alone, a Python number takes NumPy's default type for it
    assert gc.fori_loop(0, 3, lambda i, c: c + 1, 0).dtype == np.int64
    assert gc.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0).dtype == np.float64
    assert gc.fori_loop(0, 3, lambda i, c: gc.equal(c, c), True).dtype == np.bool_
    # when the body's new carry has a dtype the number converts to as NumPy's weak scalars
    # do, the body is traced again with that dtype: an int 1 next to a float body is a float
    c = gc.fori_loop(0, 3, lambda i, c: c * 0.5, 1)
    assert c.dtype == np.float64 and float(gc.evaluate(c, {})) == 0.125
    # a Python number is weak: next to a float32 body it is a float32, as in a NumPy loop
    # (tests/loops/test_weak_init.py); a NumPy scalar keeps its dtype
    x32 = gc.Variable("x32", (), "float32")
    assert gc.fori_loop(0, 3, lambda i, c: c + x32, 0.0).dtype == np.float32
    assert gc.fori_loop(0, 3, lambda i, c: c + x32, np.float64(0.0)).dtype == np.float64
    c32 = gc.fori_loop(0, 3, lambda i, c: c + x32, np.float32(0.0))
    assert c32.dtype == np.float32 and float(gc.evaluate(c32, {x32: np.float32(1.5)})) == 4.5
    # a number returned as the new carry takes the carry's dtype; a number as y is stacked
    c, ys = gc.scan(lambda c, _: (1, 2.5), gc.constant(0, dtype="int32"), length=2)
    assert c.dtype == np.int32 and ys.dtype == np.float64
    assert gc.evaluate(ys, {}).tolist() == [2.5, 2.5]
    # a Python float in a carry that the body keeps integer is an error, not a silent cast
    with pytest.raises(gc.DTypeError, match="carry"):
        gc.fori_loop(0, 3, lambda i, c: (c * 2.0).astype("int64"), 1.5)


def test_captured_variables_and_parameters_are_inputs_of_the_loop_node():
    W = gc.Variable("W", (2, 2))
    p = gc.Parameter(np.array([1.0, -1.0]), "p")
    h, _ = gc.scan(lambda h, _: (gc.tanh(W @ h) + p, None), gc.constant(np.zeros(2)), length=3)
    loop = h.owner.inputs[0]
    assert isinstance(loop.owner.op, Scan)
    assert W in loop.owner.inputs and p in loop.owner.inputs
    f = gc.compile(h, [W])
    Wv = np.array([[0.5, 0.1], [0.2, -0.3]])

    def want(pv):
        hv = np.zeros(2)
        for _ in range(3):
            hv = np.tanh(Wv @ hv) + pv
        return hv

    assert_close(gc.evaluate(h, {W: Wv}), want([1.0, -1.0]))
    p.set_value([2.0, 0.5])  # a Parameter is read at each call, also inside a loop
    assert_close(gc.evaluate(h, {W: Wv}), want([2.0, 0.5]))
    assert_close(f(Wv), want([2.0, 0.5]))


def test_loop_invariant_values_are_computed_once_outside_the_body():
    W = gc.Variable("W", (2, 2))
    h, _ = gc.scan(lambda h, _: (gc.exp(W * 2.0) @ h, None), gc.constant(np.ones(2)), length=5)
    loop = h.owner.inputs[0]
    body_ops = [v.owner.op.name for v in loop.owner.op.body.nodes() if v.owner is not None]
    assert body_ops == ["matmul"]
    assert [i.owner.op.name for i in loop.owner.inputs if i.owner is not None] == ["exp"]
    Wv = RNG.standard_normal((2, 2)) * 0.3
    want = np.ones(2)
    for _ in range(5):
        want = np.exp(Wv * 2.0) @ want
    assert_close(gc.evaluate(h, {W: Wv}), want)


def test_a_loop_is_one_node_whatever_T():
    def build(T):
        xs, W, h0 = gc.Variable("xs", (T, 3)), gc.Variable("W", (3, 3)), gc.Variable("h0", (3,))
        hT, ys = gc.scan(_rnn(W), h0, xs)
        return [hT, ys]

    assert count_nodes(build(2)) == count_nodes(build(100_000))


def test_evaluate_and_compile_run_a_loop_once_for_all_its_outputs(monkeypatch):
    calls = []
    real = body_module.run_loop

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr("graphcomp.ops.loops.op.run_loop", counting)
    xs, W, h0 = gc.Variable("xs", (4, 3)), gc.Variable("W", (3, 3)), gc.Variable("h0", (3,))
    hT, ys = gc.scan(_rnn(W), h0, xs)
    feed = {h0: np.zeros(3), xs: RNG.standard_normal((4, 3)), W: RNG.standard_normal((3, 3))}
    gc.evaluate([hT, ys, hT.sum() + ys.sum()], feed)
    assert len(calls) == 1
    # compiled, the loop is a generated function; each of its runs counts the steps once
    trips = []
    real_trip = codegen_module.trip_count
    monkeypatch.setattr(codegen_module, "trip_count", lambda *a: trips.append(1) or real_trip(*a))
    f = gc.compile([hT, ys, hT.sum() + ys.sum()], [h0, xs, W])
    calls.clear()
    f(feed[h0], feed[xs], feed[W])
    assert len(trips) == 1 and not calls  # and the interpreter never runs


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_compile_gives_what_evaluate_gives(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    xs, W, h0 = gc.Variable("xs", (None, 3)), gc.Variable("W", (3, 3)), gc.Variable("h0", (3,))
    hT, ys = gc.scan(lambda h, x: (gc.tanh(W @ h * 0.5 + gc.sin(x) * 2.0), gc.sigmoid(h) + x), h0, xs, reverse=True)
    c = gc.fori_loop(1, 4, lambda i, c: c * 0.5 + i.astype("float64") * hT, gc.constant(np.zeros(3)))
    outs = [hT, ys, c, (ys * ys).sum()]
    feed = {h0: RNG.standard_normal(3), xs: RNG.standard_normal((6, 3)), W: RNG.standard_normal((3, 3))}
    want = gc.evaluate(outs, feed)
    got = gc.compile(outs, [h0, xs, W], backend=backend, verify_passes=True)(feed[h0], feed[xs], feed[W])
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-13, atol=1e-14)


def test_compile_keeps_a_constant_loop_unfolded_and_right():
    # every input of this loop is a constant: constant folding must leave the loop node (whose
    # value is no array) to run at call time
    c = gc.fori_loop(0, 5, lambda i, c: c * 2.0 + 1.0, 1.0)
    f = gc.compile(c, [])
    assert float(f()) == 63.0
    assert any(isinstance(v.op, Scan) for v in f.graph.variables if v.owner is not None)


def test_check_finite_evaluates_through_a_loop():
    xs = gc.Variable("xs", (3,))
    c, ys = gc.scan(lambda c, x: (c + x, gc.log(x)), 0.0, xs)
    assert gc.evaluate(c, {xs: [1.0, 2.0, 3.0]}, check_finite=True) == 6.0
    with pytest.raises(gc.NonFiniteError):
        gc.evaluate(ys, {xs: [1.0, -2.0, 3.0]}, check_finite=True)
