"""The JAX backend's own tables: compile times (graphcomp's passes and code generation, then
JAX's trace and XLA's compile at the first call) beside JAX's jit of hand-written JAX code, and
the data-parallel W2 medium step on 1, 2 and 4 host devices (each in a fresh process, as
``--xla_force_host_platform_device_count`` must be set before JAX starts)."""

from __future__ import annotations

import os
import time

from common import JAX, _in_child

_COMPILE_CHILD = """
import time, common, numpy as np, graphcomp as gc
import run
name = {name!r}
t0 = time.perf_counter()
if name == "w2":
    rng = np.random.default_rng(0)
    B, d, h, q = 256, 784, 512, 10
    X, y = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1, W2 = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05
    if {ours}:
        f = run.w2_function(d, h, q, 1e-3, backend="jax"); t1 = time.perf_counter(); f(X, y, W1, W2)
    else:
        fn = run.peers.jax_w2(X, y, W1, W2, 1e-3); t1 = time.perf_counter(); fn()
elif name == "w4":
    x, y, w, Wl = run.w4_data()
    if {ours}:
        f = run.w4_function("jax"); t1 = time.perf_counter(); f(x, y, w, Wl)
    else:
        fn = run.peers.jax_w4(x, y, w, Wl); t1 = time.perf_counter(); fn()
elif name == "w5":
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, 1000), rng.standard_normal(1000)
    if {ours}:
        x, v = gc.Variable("x", (1000,)), gc.Variable("v", (1000,))
        f_ = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
        f = gc.compile([gc.hvp(f_, x, v)], [x, v], backend="jax"); t1 = time.perf_counter(); f(xv, vv)
    else:
        fn = run.peers.jax_w5(xv, vv); t1 = time.perf_counter(); fn()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def jax_compile_times() -> None:
    """graphcomp (JAX): build + grad + passes + code generation, then the first call (JAX's
    trace and XLA's compile); JAX jit: its first call. Each in a fresh process."""
    if not JAX:
        return
    print("\nJAX backend compile times (fresh process each): graphcomp's part, then the first call (trace + XLA)")
    head = f"| {'workload':<10} | {'graphcomp: build+grad+compile':>30} | {'its first call':>15} |"
    print(f"{head} {'JAX jit first call':>19} |")
    print(f"|{'-' * 12}|{'-' * 32}:|{'-' * 17}:|{'-' * 21}:|")
    for name in ("w2", "w4", "w5"):
        ours = [float(t) for t in _in_child(_COMPILE_CHILD.format(name=name, ours=True)).split()]
        theirs = [float(t) for t in _in_child(_COMPILE_CHILD.format(name=name, ours=False)).split()]
        print(f"| {name:<10} | {ours[0]:>28.3f} s | {ours[1]:>13.3f} s | {theirs[1]:>17.3f} s |")


_PARALLEL_CHILD = """
import os, time, statistics, common, numpy as np, graphcomp as gc
import jax, run
assert len(jax.devices()) == {devices}
rng = np.random.default_rng(0)
B, d, h, q = 256, 784, 512, 10
Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
W1v, W2v = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05
X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
W1, W2 = gc.Parameter(W1v, "W1"), gc.Parameter(W2v, "W2")
J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + 1e-3 / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
updates = gc.optim.sgd(J, [W1, W2], lr=0.01)
shard = {{X: "batch", y: "batch"}}
step = gc.compile(J, [X, y], updates=updates, backend="jax", shard=shard)
step(Xv, yv)
times = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(20):
        step(Xv, yv)
    times.append((time.perf_counter() - t) / 20)
print(statistics.median(times))
"""


def w2_data_parallel(devices=(1, 2, 4)) -> None:
    """One SGD step of the W2 medium MLP, batch split over host devices (``shard``)."""
    if not JAX:
        return
    print("\nW2 mlp medium, one SGD step, data parallel over host devices (shard={X, y: 'batch'}), fresh process each")
    print(f"| {'devices':>7} | {'median':>12} | {'ratio':>7} |")
    print(f"|{'-' * 9}:|{'-' * 14}:|{'-' * 9}:|")
    base = None
    flags = os.environ.get("XLA_FLAGS", "")
    for k in devices:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={k} {flags}"
        try:
            t = float(_in_child(_PARALLEL_CHILD.format(devices=k)).split()[-1])
        finally:
            os.environ["XLA_FLAGS"] = flags
        base = base or t
        print(f"| {k:>7} | {t * 1e3:>9.2f} ms | {t / base:>6.2f}× |")


if __name__ == "__main__":
    t = time.perf_counter()
    jax_compile_times()
    w2_data_parallel()
    print(f"\n({time.perf_counter() - t:.0f} s)")
