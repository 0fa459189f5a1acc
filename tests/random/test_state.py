"""The generator's state: kept by gc.save/gc.load, and shared safely by threads (no two
concurrent calls get the same draws; together they read exactly the states a
sequential run would have read)."""

from __future__ import annotations

import threading

import numpy as np

import graphcomp as gc
from graphcomp.ops.random import Draw


def _stream(seed, draw, calls):
    key = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=np.array([0, 0, draw, calls], np.uint64)))


# -- save and load --------------------------------------------------------------------------------------------------


def test_save_and_load_keep_the_state_and_continue_the_sequence(tmp_path):
    rng = gc.random.Generator(40)
    x = gc.Variable("x", (None, 3))
    y = gc.nn.dropout(x, 0.5, rng) + rng.normal_like(x, std=0.1)
    xv = np.ones((4, 3))
    for _ in range(3):
        gc.evaluate(y, {x: xv})
    path = gc.save(y, tmp_path / "noisy.gcz")
    expected = [gc.evaluate(y, {x: xv}) for _ in range(2)]  # calls 3 and 4 of the original
    y2 = gc.load(path)
    (state,) = [v for v in gc.Graph(y2).variables if v.kind == "parameter"]
    assert int(state.value) == 3 and state is not rng.state
    got = [gc.evaluate(y2, {"x": xv}) for _ in range(2)]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert int(state.value) == 5
    # the loaded graph's draws are the same ops: same seed and draw numbers
    ops = sorted((v.owner.op for v in gc.Graph(y2).variables if v.owner and isinstance(v.owner.op, Draw)), key=str)
    assert [(op.seed, op.draw) for op in ops] == [(40, 0), (40, 1)]
    # and a compiled function of the loaded graph advances the loaded state
    f = gc.compile(y2)
    f(xv)
    assert int(state.value) == 6 and int(rng.state.value) == 5


# -- threads --------------------------------------------------------------------------------------------------------


def test_concurrent_calls_never_share_draws():
    rng = gc.random.Generator(41)
    x = gc.Variable("x", (None,))
    # a graph that takes a while, so that threads overlap inside calls
    y = gc.tanh(rng.normal_like(x) @ gc.constant(np.ones((20000, 50))))
    z = rng.uniform((4,))
    f = gc.compile([z, y], [x])
    threads, per_thread = 8, 15
    results: list = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def work(k):
        start.wait()
        for _ in range(per_thread):
            results[k].append(f(np.zeros(20000))[0])

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    total = threads * per_thread
    assert int(rng.state.value) == total
    got = sorted(r.tobytes() for rs in results for r in rs)
    assert len(set(got)) == total  # no two calls drew the same numbers
    # and together the calls read exactly the states 0 .. total - 1, each once
    want = sorted(_stream(41, 1, k).random(4).tobytes() for k in range(total))
    assert got == want


def test_concurrent_evaluates_never_share_draws():
    rng = gc.random.Generator(42)
    z = rng.normal((3,))
    out: list = []
    lock = threading.Lock()

    def work():
        for _ in range(20):
            v = gc.evaluate(z)
            with lock:
                out.append(v.tobytes())

    pool = [threading.Thread(target=work) for _ in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert int(rng.state.value) == 80
    assert sorted(out) == sorted(_stream(42, 0, k).standard_normal(3).tobytes() for k in range(80))


def test_two_generators_in_one_function_are_locked_without_deadlock():
    a, b = gc.random.Generator(43), gc.random.Generator(44)
    f = gc.compile([a.normal((2,)) + b.normal((2,))])
    g = gc.compile([b.uniform((2,)) + a.uniform((2,))])  # the other order of first use

    def work(fn):
        for _ in range(30):
            fn()

    pool = [threading.Thread(target=work, args=(fn,)) for fn in (f, g, f, g)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool)
    assert int(a.state.value) == int(b.state.value) == 120
