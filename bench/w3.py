"""W3 chain: x_{k+1} = tanh(w[k] x_k + b[k]), N layers: build + grad + compile times and run time,
unrolled (a node per layer, as the book draws the graph) and as one ``gc.scan`` over the layer weights."""

from __future__ import annotations

import time

import numpy as np
from common import NUMBA, NUMBA_ROW, _in_child, peers
from harness import run

import graphcomp as gc


def w3_build(n):
    """x_{k+1} = tanh(w[k] * x_k + b[k]) on a 64-vector, k < n; the sum of the last x."""
    x0, w, b = gc.Variable("x", (64,)), gc.Variable("w", (n,)), gc.Variable("b", (n,))
    x = x0
    for k in range(n):
        x = gc.tanh(w[k] * x + b[k])
    return x.sum(), [x0, w, b]


def w3_hand(x0, w, b):
    """The hand-written loop: forward keeping each x, then backward."""
    n = len(w)
    xs = [x0]
    for k in range(n):
        xs.append(np.tanh(w[k] * xs[-1] + b[k]))
    g = np.ones_like(x0)
    gw, gb = np.empty(n), np.empty(n)
    for k in range(n - 1, -1, -1):
        g = g * (1 - xs[k + 1] * xs[k + 1])
        gb[k] = g.sum()
        gw[k] = g @ xs[k]
        g = g * w[k]
    return xs[-1].sum(), gw, gb


def w3_scan_build(n):
    """The same chain as one loop node: ``gc.scan`` over the pairs (w[k], b[k])."""
    x0, w, b = gc.Variable("x", (64,)), gc.Variable("w", (n,)), gc.Variable("b", (n,))
    x, _ = gc.scan(lambda x, wb: (gc.tanh(wb[0] * x + wb[1]), None), x0, (w, b))
    return x.sum(), [x0, w, b]


def w3_data(n):
    rng = np.random.default_rng(0)
    return rng.standard_normal(64), rng.uniform(0.5, 1.5, n), rng.standard_normal(n) * 0.1


def w3_prepare(n, backend=None, build=w3_build):
    """Seconds to build, differentiate and compile the n-layer chain; the Function."""
    t0 = time.perf_counter()
    cost, inputs = build(n)
    t1 = time.perf_counter()
    grads = gc.grad(cost, inputs[1:])
    t2 = time.perf_counter()
    f = gc.compile([cost, *grads], inputs, backend=backend)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), f


def w3_prepare_in_child(n, timeout):
    """w3_prepare's times, measured in a fresh process (a big graph's memory dies with it)."""
    out = _in_child(f"import run; print(*run.w3_prepare({n})[0])", timeout)
    return None if out is None else tuple(float(t) for t in out.split())


def w3_peer_prepare(system: str, n: int, timeout: float) -> float | None:
    """Seconds for a peer to build, differentiate, compile and first run the n-layer chain
    (JAX compiles on the first call), in a fresh process; None past the timeout."""
    code = (
        f"import time, run, peers; data = run.w3_data({n}); t = time.perf_counter(); "
        f"fn = peers.{system}_w3(*data); fn(); print(time.perf_counter() - t)"
    )
    out = _in_child(code, timeout)
    return None if out is None else float(out)


def w3_peers(n=100, timeout=120) -> None:
    print(f"\nW3 chain, N={n}: build + grad + compile + first call, fresh process each, {timeout} s limit")
    print(f"| {'system':<28} | {'seconds':>12} |")
    print(f"|{'-' * 30}|{'-' * 14}:|")
    ours = sum(w3_prepare_in_child(n, timeout))
    print(f"| {'graphcomp compile':<28} | {ours:>10.2f} s |")
    for label, system, lib in (("JAX jit", "jax", peers.jax), ("PyTensor (Numba)", "pytensor", peers.pytensor)):
        if lib is None:
            print(f"| {label:<28} | {'not installed':>12} |")
            continue
        t = w3_peer_prepare(system, n, timeout)
        print(f"| {label:<28} | {f'{t:.2f} s' if t is not None else f'over {timeout} s':>12} |")


def w3(sizes=(1_000, 10_000, 100_000), run_sizes=(1_000, 10_000), timeout=600) -> bool:
    print("\nW3 chain: build + grad + compile (each N in a fresh process), single-threaded")
    print(f"| {'N':>7} | {'build':>8} | {'grad':>8} | {'compile':>8} | {'total':>8} |")
    print(f"|{'-' * 9}:|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|")
    totals = {}
    for n in sizes:
        times = w3_prepare_in_child(n, timeout)
        if times is None:
            print(f"| {n:>7} | {'over ' + str(timeout) + ' s':>41} |")
            continue
        totals[n] = sum(times)
        print(f"| {n:>7} | " + " | ".join(f"{t:>6.2f} s" for t in (*times, totals[n])) + " |")
    if len(totals) > 1:
        ns = sorted(totals)
        slope = np.polyfit(np.log(ns), np.log([totals[n] for n in ns]), 1)[0]
        print(f"fitted exponent of the total, N = {ns[0]} .. {ns[-1]}: {slope:.2f}")
    ok = True
    for n in run_sizes:
        _, f = w3_prepare(n)
        data = w3_data(n)
        systems = {"hand NumPy loop": lambda d=data: w3_hand(*d), "graphcomp compile": lambda f=f, d=data: f(*d)}
        if NUMBA:
            _, fn = w3_prepare(n, backend="numba")
            systems[NUMBA_ROW] = lambda f=fn, d=data: f(*d)
        ok &= run(f"W3 chain run, N={n}", systems)
    return ok


def w3_scan(sizes=(1_000, 10_000, 100_000), run_sizes=(10_000, 100_000)) -> bool:
    """W3 as one scan node: build + grad + compile at each N (the same for every N),
    then the run time of the value and both gradients against the hand loop."""
    w3_prepare(10, build=w3_scan_build)  # first use of each module, paid once per process
    print("\nW3 chain as gc.scan over (w[k], b[k]): build + grad + compile, single-threaded")
    print(f"| {'N':>7} | {'build':>8} | {'grad':>8} | {'compile':>8} | {'total':>8} |")
    print(f"|{'-' * 9}:|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|{'-' * 10}:|")
    for n in sizes:
        times = min((w3_prepare(n, build=w3_scan_build)[0] for _ in range(3)), key=sum)
        print(f"| {n:>7} | " + " | ".join(f"{t:>6.3f} s" for t in (*times, sum(times))) + " |")
    ok = True
    for n in run_sizes:
        data = w3_data(n)
        _, f = w3_prepare(n, build=w3_scan_build)
        systems = {"hand NumPy loop": lambda d=data: w3_hand(*d), "graphcomp compile": lambda f=f, d=data: f(*d)}
        if NUMBA:
            _, fn = w3_prepare(n, backend="numba", build=w3_scan_build)
            systems[NUMBA_ROW] = lambda f=fn, d=data: f(*d)
        ok &= run(f"W3 chain as gc.scan, run, N={n}", systems)
    return ok
