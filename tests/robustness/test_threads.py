"""A compiled Function called from several threads at once gives correct results:
calls share no scratch buffers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import graphcomp as gc


def test_concurrent_calls_are_correct():
    x, W = gc.Variable("x", (None, 20)), gc.Variable("W", (20, 30))
    J = gc.tanh(x @ W).sum()
    f = gc.compile([J, gc.grad(J, W)], [x, W])
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((1 + k % 7, 20)), rng.standard_normal((20, 30))) for k in range(64)]

    def want(xv, Wv):
        h = np.tanh(xv @ Wv)
        return h.sum(), xv.T @ (1 - h**2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: f(*c), cases * 4))
    for (xv, Wv), (Jv, gv) in zip(cases * 4, results):
        wJ, wg = want(xv, Wv)
        np.testing.assert_allclose(Jv, wJ, rtol=1e-12)
        np.testing.assert_allclose(gv, wg, rtol=1e-12)
