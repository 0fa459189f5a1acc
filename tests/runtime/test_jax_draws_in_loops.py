"""Random draws inside loop bodies under ``backend="jax"``: each step of each loop
draws new numbers, the NumPy backend's numbers (``graphcomp/ops/random.py``, "Draws
inside loops"), and a sampler's error is graphcomp's own error.

Oracles: the NumPy backend, and NumPy's Philox itself written from the documented
formula (key ``SeedSequence(seed, spawn_key=outer steps).generate_state(2, uint64)``,
counter ``[0, innermost step, draw, calls]``)."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.errors import EvaluationError

pytest.importorskip("jax")


def _stream(seed: int, draw: int, calls: int, steps: tuple) -> np.random.Generator:
    """The documented stream of a draw, built from NumPy alone."""
    key = np.random.SeedSequence(seed, spawn_key=steps[:-1]).generate_state(2, np.uint64)
    counter = np.array([0, steps[-1] if steps else 0, draw, calls], np.uint64)
    return np.random.Generator(np.random.Philox(counter=counter, key=key))


def _both(outs, ins, feed, states):
    """``outs`` by the NumPy backend, then by the JAX backend, each from the generators' state 0."""
    results = []
    for backend in ("numpy", "jax"):
        for s in states:
            s.set_value(0)
        results.append(gc.compile(outs, ins, backend=backend)(*feed))
    return results


def _agree(got, want, rtol=1e-12):
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-14)


def test_a_normal_draw_in_a_scan_is_new_at_each_step_and_the_documented_stream():
    rng = gc.random.Generator(3)
    _, ys = gc.scan(lambda c, _: (c, rng.normal((2,))), gc.constant(0.0), length=3)
    want, got = _both(ys, [], [], [rng.state])
    _agree(got, want)
    oracle = np.stack([_stream(rng.seed, 0, 0, (t,)).standard_normal(2) for t in range(3)])
    np.testing.assert_array_equal(got, oracle)
    assert len({tuple(row) for row in got}) == 3
    # the next run: the state moved on, the same numbers as the NumPy backend's next run
    rng.state.set_value(1)
    f = gc.compile(ys, [], backend="jax")
    oracle1 = np.stack([_stream(rng.seed, 0, 1, (t,)).standard_normal(2) for t in range(3)])
    np.testing.assert_array_equal(f(), oracle1)
    np.testing.assert_array_equal(f(), np.stack([_stream(rng.seed, 0, 2, (t,)).standard_normal(2) for t in range(3)]))


def test_draws_in_nested_loops_read_every_loops_step():
    rng = gc.random.Generator(11)

    def outer(c, _):
        _, inner = gc.scan(lambda a, __: (a, rng.uniform((2,))), c, length=3)
        return c, inner

    _, ys = gc.scan(outer, gc.constant(0.0), length=2)
    want, got = _both(ys, [], [], [rng.state])
    _agree(got, want)
    oracle = np.stack([np.stack([_stream(rng.seed, 0, 0, (s, t)).random(2) for t in range(3)]) for s in range(2)])
    np.testing.assert_array_equal(got, oracle)
    assert len({tuple(r) for r in got.reshape(-1, 2)}) == 6


def test_bernoulli_and_dropout_in_a_scan_and_their_gradients():
    # the user's case: dropout inside gc.scan crashed (the callback's arguments shifted)
    x = gc.Variable("x", (None, 3))
    w = gc.Variable("w", (3,))
    rng = gc.random.Generator(3)
    p = gc.Variable("p", (3,))

    def body(c, xt):
        kept = gc.nn.dropout(xt * w, 0.5, rng)
        coin = rng.bernoulli((3,), p)
        return c + (kept * gc.sin(c)).sum() + coin.sum(), coin

    cT, coins = gc.scan(body, gc.constant(0.25), x)
    outs = [cT, coins, *gc.grad(cT, [x, w])]
    feed = [np.arange(1.0, 13.0).reshape(4, 3) / 7, np.array([0.5, -1.0, 2.0]), np.array([0.2, 0.5, 0.9])]
    want, got = _both(outs, [x, w, p], feed, [rng.state])
    _agree(got, want)
    # the coins: u < p, u the second draw's documented stream at each step
    oracle = np.stack([_stream(rng.seed, 1, 0, (t,)).random(3) < feed[2] for t in range(4)])
    np.testing.assert_array_equal(got[1], oracle.astype(np.float64))
    # the final carry by hand from the documented masks (the first draw: dropout's)
    masks = np.stack([_stream(rng.seed, 0, 0, (t,)).random(3) < 0.5 for t in range(4)]) / 0.5
    c = 0.25
    for t in range(4):
        c = c + (feed[0][t] * feed[1] * masks[t] * np.sin(c)).sum() + oracle[t].sum()
    np.testing.assert_allclose(got[0], c, rtol=1e-13)
    # the gradient (the backward loop reads the forward loop's masks again) by central differences
    f = gc.compile(cT, [x, w, p])
    eps, fd = 1e-6, np.zeros(3)
    for k in range(3):
        for sign in (1, -1):
            rng.state.set_value(0)
            wk = feed[1].copy()
            wk[k] += sign * eps
            fd[k] += sign * float(f(feed[0], wk, feed[2])) / (2 * eps)
    np.testing.assert_allclose(got[3], fd, rtol=1e-6)


def test_fori_loop_map_reversed_scan_and_normal_like_agree_with_numpy():
    rng = gc.random.Generator(5)
    xs = gc.Variable("xs", (None, 2))
    a = gc.fori_loop(0, 3, lambda i, acc: acc + rng.normal((2,)), gc.constant(np.zeros(2)))
    m = gc.map(lambda r: r + rng.normal_like(r), xs)
    _, rev = gc.scan(lambda c, r: (c, rng.uniform_like(r) * r), gc.constant(0.0), xs, reverse=True)
    outs = [a, m, rev]
    feed = [np.arange(8.0).reshape(4, 2)]
    want, got = _both(outs, [xs], feed, [rng.state])
    _agree(got, want)
    # a reversed loop's row t is drawn at step t: the draw number 2's stream at t
    oracle = np.stack([_stream(rng.seed, 2, 0, (t,)).random(2) for t in range(4)]) * feed[0]
    np.testing.assert_array_equal(got[2], oracle)


def test_a_p_outside_0_1_in_a_loop_is_graphcomps_error_not_jaxs():
    rng = gc.random.Generator(0)
    p = gc.Variable("p")
    _, coins = gc.scan(lambda c, _: (c, rng.bernoulli((2,), p)), gc.constant(0.0), length=2)
    f = gc.compile(coins, [p], backend="jax")
    assert f(0.0).sum() == 0 and f(1.0).sum() == 4
    state = int(rng.state.get_value())
    with pytest.raises(EvaluationError, match=r"p must be in \[0, 1\], got .*2"):
        f(2.0)
    assert int(rng.state.get_value()) == state  # a failed call changes no Parameter


def test_a_sampler_error_the_numpy_rerun_does_not_reproduce_is_raised_as_itself(monkeypatch):
    # the call first reruns the graph with the NumPy interpreter to name the node; where that
    # says nothing, the error the host callback raised is the one the user sees
    import graphcomp.runtime.backends.jax as jax_backend

    rng = gc.random.Generator(0)
    p = gc.Variable("p")
    f = gc.compile(rng.bernoulli((2,), p), [p], backend="jax")
    monkeypatch.setattr(jax_backend, "run_plan", lambda plan, feed: None)
    with pytest.raises(EvaluationError, match=r"^random_bernoulli: p must be in \[0, 1\], got .*-1"):
        f(-1.0)
