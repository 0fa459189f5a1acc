"""Gradients through loops against the same computation unrolled by a Python loop
(differentiated by build_grad on ordinary nodes) and against finite differences:
random bodies (hypothesis), both directions, captured Variables and Parameters,
T = 0 and 1, unknown T, checkpointing, second order, nested loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphcomp as gc
from graphcomp.ops.loops.op import Scan
from tests.loops.common import assert_close, central_fd, unrolled

# smooth, bounded-slope ops, so finite differences and long chains stay meaningful
OPS = [
    lambda a, b: gc.sin(a),
    lambda a, b: gc.tanh(a),
    lambda a, b: gc.sigmoid(a) * 1.5,
    lambda a, b: a * 0.7,
    lambda a, b: gc.softplus(a) - 0.5,
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: gc.tanh(a * b),
    lambda a, b: a / (1.5 + gc.sin(b)),
    lambda a, b: a * a.sum() * 0.2,
    lambda a, b: gc.exp(gc.tanh(a)),
    lambda a, b: gc.maximum(a, b * 0.5 + 3.0),  # x > y + 3 never ties in these ranges
]


def make_body(program, y_pick, W, p):
    """A body over carry (h of shape (3,), s of shape ()) and x of shape (3,),
    reading the captured Variable W (3, 3) and Parameter p (3,)."""

    def f(carry, x):
        h, s = carry
        pool = [h, s, x, p * x]
        for kind, a, b in program:
            pool.append(OPS[kind % len(OPS)](pool[a % len(pool)], pool[b % len(pool)]))
        vectors = [v for v in pool if v.shape == (3,)]
        new_h = gc.tanh(vectors[-1] * 0.5 + W @ h * 0.4)
        new_s = gc.tanh(pool[-1].sum() * 0.3 + s * 0.5)
        return (new_h, new_s), pool[y_pick % len(pool)]

    return f


programs = st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=6)


def _costs(f, T, reverse, unknown, checkpoint, rng):
    h0, s0 = gc.Variable("h0", (3,)), gc.Variable("s0")
    xs = gc.Variable("xs", (None if unknown else T, 3))
    (hT, sT), ys = gc.scan(f, (h0, s0), xs, reverse=reverse, checkpoint=checkpoint)
    (uh, us), uys = unrolled(f, (h0, s0), [xs[t] for t in range(T)], reverse)
    r1, r2 = gc.constant(rng.standard_normal(3)), float(rng.standard_normal())
    R = gc.constant(rng.standard_normal((T,) + ys.shape[1:]))
    cost = (hT * r1).sum() + sT * r2 + (ys * R).sum()
    ucost = (uh * r1).sum() + us * r2 + ((gc.stack(uys) * R).sum() if T else 0.0)
    return cost, ucost, (h0, s0, xs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=programs,
    y_pick=st.integers(0, 99),
    T=st.sampled_from([0, 1, 2, 4]),
    reverse=st.booleans(),
    unknown=st.booleans(),
    checkpoint=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_bodies_match_the_unrolled_loop(program, y_pick, T, reverse, unknown, checkpoint, seed):
    rng = np.random.default_rng(seed)
    W = gc.Variable("W", (3, 3))
    p = gc.Parameter(rng.standard_normal(3), "p")
    f = make_body(program, y_pick, W, p)
    cost, ucost, (h0, s0, xs) = _costs(f, T, reverse, unknown, checkpoint, rng)
    wrt = [h0, s0, xs, W, p]
    grads = gc.grad(cost, wrt, disconnected="zero")
    ugrads = gc.grad(ucost, wrt, disconnected="zero")
    # second order: a Hessian-vector product in W, and a mixed derivative d/dp <d cost/d h0, u>
    V = gc.constant(rng.standard_normal((3, 3)))
    u = gc.constant(rng.standard_normal(3))
    second = [gc.hvp(cost, W, V), gc.grad((grads[0] * u).sum(), p, disconnected="zero")]
    # (spelled out: with T = 0 the unrolled cost does not depend on W, and hvp would say so)
    uhvp = gc.grad((gc.grad(ucost, W, disconnected="zero") * V).sum(), W, disconnected="zero")
    usecond = [uhvp, gc.grad((ugrads[0] * u).sum(), p, disconnected="zero")]
    feed = {h0: rng.standard_normal(3), s0: float(rng.standard_normal()), xs: rng.standard_normal((T, 3))}
    feed[W] = rng.standard_normal((3, 3)) * 0.5
    got = gc.evaluate([cost, *grads, *second], feed)
    want = gc.evaluate([ucost, *ugrads, *usecond], feed)
    names = ["cost", "d h0", "d s0", "d xs", "d W", "d p", "hvp W", "d/dp <d h0, u>"]
    for g, w, name in zip(got, want, names):
        assert_close(g, w, rtol=1e-9, atol=1e-11, what=name)
    # the compiled function (the rewrite passes around the loop nodes, checked after each) agrees
    f = gc.compile([cost, *grads, *second], [h0, s0, xs, W], verify_passes=True)
    for g, w, name in zip(f(*[np.asarray(feed[v], float) for v in (h0, s0, xs, W)]), got, names):
        assert_close(g, w, rtol=1e-12, atol=1e-13, what=f"compiled {name}")


@pytest.mark.parametrize("checkpoint", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_against_finite_differences(reverse, checkpoint):
    rng = np.random.default_rng(7)
    W = gc.Variable("W", (3, 3))
    p = gc.Parameter(rng.standard_normal(3), "p")
    f = make_body([(1, 0, 2), (5, 4, 3), (8, 5, 1), (9, 6, 2)], 7, W, p)
    cost, _, (h0, s0, xs) = _costs(f, 5, reverse, False, checkpoint, rng)
    values = {h0: rng.standard_normal(3), s0: 0.3, xs: rng.standard_normal((5, 3)), W: rng.standard_normal((3, 3))}
    wrt = [h0, s0, xs, W]
    grads = gc.evaluate(gc.grad(cost, wrt + [p]), values)
    for v, g in zip(wrt, grads):

        def at(a, v=v):
            return float(gc.evaluate(cost, {**values, v: a}))

        d = rng.standard_normal(np.shape(values[v]))
        assert np.isclose(np.sum(g * d), central_fd(at, np.asarray(values[v], float), d), rtol=1e-6, atol=1e-8)
    # the Parameter: moved through set_value
    base = p.get_value()
    d = rng.standard_normal(3)

    def at_p(a):
        p.set_value(a)
        return float(gc.evaluate(cost, values))

    numeric = central_fd(at_p, base, d)
    p.set_value(base)
    assert np.isclose(np.sum(grads[-1] * d), numeric, rtol=1e-6, atol=1e-8)


def test_checkpointing_keeps_only_carries_and_gives_the_same_gradient():
    W = gc.Variable("W", (3, 3))
    xs, h0 = gc.Variable("xs", (6, 3)), gc.Variable("h0", (3,))

    def f(h, x):
        a = W @ h + gc.sin(x)
        return gc.tanh(a) * gc.sigmoid(a), gc.exp(-a * a).sum()

    rng = np.random.default_rng(3)
    feed = {W: rng.standard_normal((3, 3)) * 0.5, xs: rng.standard_normal((6, 3)), h0: rng.standard_normal(3)}
    results = []
    for checkpoint in (False, True):
        hT, ys = gc.scan(f, h0, xs, checkpoint=checkpoint)
        dW = gc.grad(hT.sum() + ys.sum(), W)
        back = dW.owner.inputs[0].owner.op
        assert isinstance(back, Scan) and back.gradient is not None
        kept = back.gradient.kept
        if checkpoint:  # only the carry entering each step is stacked; the body is recomputed
            assert kept and all(v.owner is None for v in kept)
        else:  # the values the gradient body reads, stacked by a copy of the forward loop
            assert kept and any(v.owner is not None for v in kept)
        results.append(gc.evaluate(dW, feed))
    assert_close(results[0], results[1], rtol=1e-12)


def test_a_carry_that_is_also_an_output_and_a_capture_summed_over_steps():
    # y is the new carry itself (the trap of a carry used twice), W is read at every step
    W = gc.Variable("W")
    h, hs = gc.scan(lambda h, _: (gc.sin(W * h), gc.sin(W * h)), gc.Variable("h0"), length=3)
    cost = h * 2.0 + hs.sum()
    h0 = h.owner.inputs[0].owner.inputs[0]
    wv, hv = 1.3, 0.4
    # closed form, by hand: h1 = sin(w h0), h2 = sin(w h1), h3 = sin(w h2)
    hs_ = [hv]
    for _ in range(3):
        hs_.append(np.sin(wv * hs_[-1]))
    # d cost / d h_t for t = 3, 2, 1 (h3 is read twice: as final carry and as ys[2])
    g = {3: 3.0}
    g[2] = g[3] * np.cos(wv * hs_[2]) * wv + 1.0
    g[1] = g[2] * np.cos(wv * hs_[1]) * wv + 1.0
    dh0 = g[1] * np.cos(wv * hs_[0]) * wv
    dW = sum(g[t] * np.cos(wv * hs_[t - 1]) * hs_[t - 1] for t in (1, 2, 3))
    got = gc.evaluate(gc.grad(cost, [h0, W]), {h0: hv, W: wv})
    assert np.allclose(got, [dh0, dW], rtol=1e-13)


def test_integer_carries_and_stop_gradient_in_the_body():
    x = gc.Variable("x", (4,))
    w = gc.Variable("w")

    def f(carry, xt):
        n, acc = carry
        return (n + 1, acc * gc.stop_gradient(acc) * 0.0 + acc * w + xt * n.astype("float64")), None

    (n, acc), _ = gc.scan(f, (0, 1.0), x)
    assert n.dtype == np.int64
    dw, dx = gc.grad(acc, [w, x])
    xv, wv = np.array([1.0, 2.0, 3.0, 4.0]), 0.5
    # acc_{t+1} = acc_t w + x_t t (the stop_gradient term is 0 * ... and passes nothing)
    accs = [1.0]
    for t in range(4):
        accs.append(accs[-1] * wv + xv[t] * t)
    dacc_dw = 0.0
    for t in range(4):  # d acc_{t+1}/dw = acc_t + w d acc_t/dw
        dacc_dw = accs[t] + wv * dacc_dw
    got = gc.evaluate([n, acc, dw, dx], {x: xv, w: wv})
    assert int(got[0]) == 4 and np.isclose(float(got[1]), accs[-1])
    assert np.isclose(float(got[2]), dacc_dw)
    assert np.allclose(got[3], [t * wv ** (3 - t) for t in range(4)])


def test_disconnected_captures_and_inputs():
    w, v = gc.Variable("w"), gc.Variable("v")
    xs = gc.Variable("xs", (3,))
    # v is read only through a comparison: no gradient reaches it
    c, _ = gc.scan(lambda c, x: (c * w + gc.where(v > 0.0, x, -x), None), 1.0, xs)
    with pytest.raises(gc.GradientError, match="does not depend on v"):
        gc.grad(c, v)
    dv, dw = gc.grad(c, [v, w], disconnected="zero")
    got = gc.evaluate([dv, dw], {v: 1.0, w: 2.0, xs: np.ones(3)})
    # c3 = 8 + 4 + 2 + 1: dc/dw = 3 w^2 + 2 w + 1 = 17
    assert float(got[0]) == 0.0 and float(got[1]) == 17.0


def test_nested_loops_match_the_unrolled_double_loop():
    rng = np.random.default_rng(5)
    W = gc.Variable("W", (2, 2))
    p = gc.Parameter(rng.standard_normal(2) * 0.5, "p")
    x, c0 = gc.Variable("x", (4, 2)), gc.Variable("c0", (2,))

    def inner(i, cc, c):
        return gc.sin(W @ cc + c * i.astype("float64") * p)

    def outer(c, xt):
        c2 = gc.fori_loop(0, 3, lambda i, cc: inner(i, cc, c), xt)
        return c2 * c, c2.sum()

    cT, ys = gc.scan(outer, c0, x, reverse=True)
    c = c0
    uys = [None] * 4
    for t in reversed(range(4)):
        cc = x[t]
        for i in range(3):
            cc = gc.sin(W @ cc + c * float(i) * p)
        c, uys[t] = cc * c, cc.sum()
    cost = (cT**2).sum() + (ys * ys).sum()
    ucost = (c**2).sum() + (gc.stack(uys) ** 2).sum()
    wrt = [c0, x, W, p]
    V = rng.standard_normal((2, 2))
    outs = [cost, *gc.grad(cost, wrt), gc.hvp(cost, W, V), gc.hessian(cost, c0)]
    uouts = [ucost, *gc.grad(ucost, wrt), gc.hvp(ucost, W, V), gc.hessian(ucost, c0)]
    feed = {W: rng.standard_normal((2, 2)), x: rng.standard_normal((4, 2)), c0: rng.standard_normal(2)}
    for g, w in zip(gc.evaluate(outs, feed), gc.evaluate(uouts, feed)):
        assert_close(g, w, rtol=1e-10, atol=1e-12)
    # and the compiled function
    for g, w in zip(gc.compile(outs, [c0, x, W])(feed[c0], feed[x], feed[W]), gc.evaluate(uouts, feed)):
        assert_close(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("T", [0, 1, 3])
def test_gradient_through_a_loop_with_unknown_T_and_unknown_slice_shape(T):
    xs = gc.Variable("xs", (None, None))
    w = gc.Variable("w", (None,))
    c, ys = gc.scan(lambda c, x: (c + (x * w).sum(), gc.tanh(x * c)), 0.0, xs)
    cost = c + ys.sum()
    dxs, dw = gc.grad(cost, [xs, w])
    rng = np.random.default_rng(T)
    feed = {xs: rng.standard_normal((T, 4)), w: rng.standard_normal(4)}
    got = gc.evaluate([dxs, dw], feed)
    assert got[0].shape == (T, 4) and got[1].shape == (4,)
    for v, g in zip([xs, w], got):
        d = rng.standard_normal(np.shape(feed[v]))

        def at(a, v=v):
            return float(gc.evaluate(cost, {**feed, v: a}))

        assert np.isclose(np.sum(g * d), central_fd(at, feed[v], d), rtol=1e-6, atol=1e-8)
    f = gc.compile([dxs, dw], [xs, w])
    for g, w_ in zip(f(feed[xs], feed[w]), got):
        assert_close(g, w_)


def test_the_body_gradient_is_kept_for_inspection():
    W = gc.Variable("W", (2, 2))
    h0, xs = gc.Variable("h0", (2,)), gc.Variable("xs", (5, 2))
    hT, _ = gc.scan(lambda h, x: (gc.tanh(W @ h + x), None), h0, xs)
    r = gc.backprop(hT.sum(), [W])
    back = r.grads[W].owner.inputs[0]
    info = back.owner.op.gradient
    body = info.forward.body
    h_in = body.carry_in[0]
    # the body's grad_table holds the carry placeholder's gradient, with its provenance and trace
    assert h_in in info.backprop.grad_table
    assert [c.consumer.owner.op.name for c in info.backprop.provenance[h_in]] == ["matmul"]
    assert any(s.kind == "visit" and s.variable is h_in for s in info.backprop.trace)
    # the backward loop runs the other way round; the outer grad_table holds the loop's packed cotangent
    assert back.owner.op.reverse and not info.forward.reverse
    loop = hT.owner.inputs[0]
    assert r.grad_table[loop].owner.op.name == "scan_cotangent"
