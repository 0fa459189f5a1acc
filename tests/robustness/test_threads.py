"""A compiled Function called from several threads at once gives correct results:
calls share no scratch buffers."""

from __future__ import annotations

import threading
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
        z = xv @ Wv
        return np.tanh(z).sum(), xv.T @ (1 / np.cosh(z) ** 2)  # 1 - tanh**2 loses digits as |z| grows

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda c: f(*c), cases * 4))
    for (xv, Wv), (Jv, gv) in zip(cases * 4, results):
        wJ, wg = want(xv, Wv)
        np.testing.assert_allclose(Jv, wJ, rtol=1e-12)
        np.testing.assert_allclose(gv, wg, rtol=1e-12, atol=1e-14)  # sums of O(1) terms that cancel


def _in_lockstep(first, second):
    """Run ``first(pause)`` in a thread; while it is paused inside, run ``second()``
    here; then let ``first`` finish. Returns both results."""
    inside, resume, out = threading.Event(), threading.Event(), {}

    def pause():
        inside.set()
        assert resume.wait(10)

    t = threading.Thread(target=lambda: out.setdefault("first", first(pause)))
    t.start()
    assert inside.wait(10)
    out["second"] = second()
    resume.set()
    t.join(10)
    return out["first"], out["second"]


def test_a_gradient_being_built_in_one_thread_does_not_mark_another_threads_nodes():
    from graphcomp.core import provenance
    from graphcomp.core.site import Site

    x = gc.Variable("x")

    def first(pause):
        with provenance.gradient_of(x), provenance.building(Site(("elsewhere.py", 1)), x):
            pause()  # another thread builds nodes now
            return gc.exp(x)

    mine, theirs = _in_lockstep(first, lambda: gc.sin(x))
    assert theirs.grad_of is None and str(theirs.site).startswith("test_threads.py")
    assert mine.grad_of is x and str(mine.site) == "elsewhere.py:1"


def test_each_thread_keeps_its_own_record_of_fired_rules():
    from graphcomp.passes import simplify

    x = gc.Variable("x", (2,))

    def first(pause):
        log = []
        simplify.run([x * 1.0], log)
        pause()  # another thread simplifies another graph now
        return [r for r, *_ in log]

    def second():
        log = []
        simplify.run([x + 0.0], log)
        return [r for r, *_ in log]

    mine, theirs = _in_lockstep(first, second)
    assert mine == ["x*1 -> x"] and theirs == ["x+0 -> x"]
