"""Benchmarks. For each workload every system must first compute the same numbers
as the hand-written reference; then the table gives medians and ratios to that
reference, measured in the same run, single-threaded (``make bench`` pins BLAS
and OpenMP to one thread; PyTorch is told too). The systems are timed in
interleaved rounds and a ratio is the median of the ratios within a round, so
a shared machine's drift cancels out of it (the medians still move with it).
"graphcomp compile (Numba)" is ``gc.compile(..., backend="numba")``.

W1 scalar: the lecture's y = exp(xz) + xz/log(x) + sin(log(x))/(xz) at x=2,
   z=3 with dy/dx and dy/dz; reference: the hand derivation in plain Python.
W2 mlp: 1-hidden-layer MLP, relu, mean softmax cross-entropy, L2 term; J and the
   gradients of both weights, small and medium; reference: the lectures' closed forms.
W3 chain: x_{k+1} = tanh(w[k] x_k + b[k]) on a 64-vector, N layers: the time to
   build + grad + compile (fresh process per N), and run time against a hand loop.
W4 cnn: x (32, 1, 28, 28) -> conv2d 8 filters 3x3 -> max_pool 2 -> relu ->
   linear to 10 -> mean cross-entropy, gradients of both weights; reference:
   a hand-written NumPy im2col implementation.
W5 hvp: Hessian-vector product of the n=1000 Rosenbrock function; reference: its closed form.

PyTorch rows run when torch is installed (``pip install 'graphcomp[bench]'``),
otherwise they say "not installed".
"""

from __future__ import annotations

import os

# one thread everywhere, before any numeric library starts its pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

import graphcomp as gc  # noqa: E402

try:
    import torch

    torch.set_num_threads(1)
except ImportError:
    torch = None

try:
    import numba  # noqa: F401 - graphcomp's optional backend

    NUMBA = True
except ImportError:
    NUMBA = False
NUMBA_ROW = "graphcomp compile (Numba)"


# -- W1 --------------------------------------------------------------------------------------------------


def w1_hand(x, z):
    """The lecture's forward and backward pass, line by line."""
    a = x * z
    b = math.log(x)
    c = math.sin(b)
    d = math.exp(a)
    e = a / b
    f = c / a
    y = d + e + f
    dy_dc = 1 / a
    dy_db = -a / b**2 + dy_dc * math.cos(b)
    dy_da = -c / a**2 + 1 / b + d
    return y, dy_da * z + dy_db / x, dy_da * x


def w1_systems():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    outs = [y, *gc.grad(y, [x, z])]
    f = gc.compile(outs, [x, z])
    systems = {
        "hand (plain Python + math)": lambda: w1_hand(2.0, 3.0),
        "graphcomp compile": lambda: f(2.0, 3.0),
        "graphcomp evaluate": lambda: gc.evaluate(outs, {x: 2.0, z: 3.0}),
    }
    if torch is not None:

        def torch_w1():
            xt = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
            zt = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
            yt = torch.exp(xt * zt) + xt * zt / torch.log(xt) + torch.sin(torch.log(xt)) / (xt * zt)
            gx, gz = torch.autograd.grad(yt, [xt, zt])
            return yt.item(), gx.item(), gz.item()

        systems["PyTorch eager"] = torch_w1
    systems["JAX jit"] = peers.jax_w1()
    systems["PyTensor (Numba)"] = peers.pytensor_w1()
    return systems


# -- W4 --------------------------------------------------------------------------------------------------

N, C, H, FILTERS, CLASSES = 32, 1, 28, 8, 10
POOLED = (H - 2) // 2  # 13
FLAT = FILTERS * POOLED * POOLED


def w4_hand(x, y, w, Wl):
    """conv -> max-pool -> relu -> linear -> mean cross-entropy and its gradients, by hand (im2col)."""
    n = x.shape[0]
    win = sliding_window_view(x, (3, 3), axis=(2, 3))  # (N, 1, 26, 26, 3, 3), no copy
    z1 = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    corners = [z1[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]  # the 2x2 windows' four elements
    z2 = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    z3 = np.maximum(z2, 0)
    flat = z3.reshape(n, -1)
    logits = flat @ Wl
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    loss = np.mean(np.log(e.sum(axis=1)) + m[:, 0] - logits[np.arange(n), y])
    d_logits = e / e.sum(axis=1, keepdims=True)
    d_logits[np.arange(n), y] -= 1
    d_logits /= n
    dWl = flat.T @ d_logits
    d3 = (d_logits @ Wl.T).reshape(z3.shape) * (z2 > 0)
    d1 = np.zeros_like(z1)
    for (i, j), corner in zip([(0, 0), (0, 1), (1, 0), (1, 1)], corners):
        d1[:, :, i::2, j::2] = (corner == z2) * d3  # random data: no ties to split
    dw = np.tensordot(d1, win, axes=([0, 2, 3], [0, 2, 3]))
    return loss, dw, dWl


def w4_data():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((N, C, H, H)),
        rng.integers(0, CLASSES, N),
        rng.standard_normal((FILTERS, C, 3, 3)) * 0.3,
        rng.standard_normal((FLAT, CLASSES)) * 0.05,
    )


def w4_systems():
    xv, yv, wv, Wlv = w4_data()
    x, y = gc.Variable("x", (None, C, H, H)), gc.Variable("y", (None,), "int64")
    w, Wl = gc.Variable("w", (FILTERS, C, 3, 3)), gc.Variable("Wl", (FLAT, CLASSES))
    logits = gc.relu(gc.max_pool2d(gc.conv2d(x, w), 2)).reshape(-1, FLAT) @ Wl
    cost = gc.nn.cross_entropy(logits, y)
    f = gc.compile([cost, *gc.grad(cost, [w, Wl])], [x, y, w, Wl])
    fn = gc.compile([cost, *gc.grad(cost, [w, Wl])], [x, y, w, Wl], backend="numba") if NUMBA else None
    systems = {
        "hand NumPy (im2col)": lambda: w4_hand(xv, yv, wv, Wlv),
        "graphcomp compile": lambda: f(xv, yv, wv, Wlv),
        NUMBA_ROW: (lambda: fn(xv, yv, wv, Wlv)) if fn else None,
    }
    if torch is not None:
        xt, yt = torch.from_numpy(xv), torch.from_numpy(yv)
        wt, Wlt = torch.from_numpy(wv).requires_grad_(), torch.from_numpy(Wlv).requires_grad_()
        F = torch.nn.functional

        def torch_w4():
            out = F.relu(F.max_pool2d(F.conv2d(xt, wt), 2)).reshape(-1, FLAT) @ Wlt
            loss = F.cross_entropy(out, yt)
            gw, gWl = torch.autograd.grad(loss, [wt, Wlt])
            return loss.item(), gw.numpy(), gWl.numpy()

        systems["PyTorch eager"] = torch_w4
    return systems


# -- W2 --------------------------------------------------------------------------------------------------


def w2_hand(X, labels, W1, W2, lam):
    """The lectures' closed forms: 1-hidden-layer MLP, relu, mean softmax
    cross-entropy, (lam/2)(|W1|^2 + |W2|^2); J, dJ/dW1, dJ/dW2 (rows are examples)."""
    n = X.shape[0]
    Z = X @ W1
    H = np.maximum(Z, 0)
    O = H @ W2  # noqa: E741 - the lectures' o
    m = O.max(axis=1, keepdims=True)
    E = np.exp(O - m)
    S = E.sum(axis=1, keepdims=True)
    J = np.mean(np.log(S[:, 0]) + m[:, 0] - O[np.arange(n), labels]) + lam / 2 * (np.sum(W1 * W1) + np.sum(W2 * W2))
    G = E / S
    G[np.arange(n), labels] -= 1
    G /= n
    dW2 = H.T @ G + lam * W2
    dW1 = X.T @ ((G @ W2.T) * (Z > 0)) + lam * W1
    return J, dW1, dW2


def w2_function(d, h, q, lam, backend=None):
    """graphcomp's W2: J, dJ/dW1, dJ/dW2 compiled, inputs X, y, W1, W2."""
    X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
    W1, W2 = gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    return gc.compile([J, *gc.grad(J, [W1, W2])], [X, y, W1, W2], backend=backend)


def w2_systems(B, d, h, q):
    rng = np.random.default_rng(0)
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1v, W2v, lam = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05, 1e-3
    f = w2_function(d, h, q, lam)
    fn = w2_function(d, h, q, lam, backend="numba") if NUMBA else None
    systems = {
        "hand NumPy (closed forms)": lambda: w2_hand(Xv, yv, W1v, W2v, lam),
        "graphcomp compile": lambda: f(Xv, yv, W1v, W2v),
        NUMBA_ROW: (lambda: fn(Xv, yv, W1v, W2v)) if fn else None,
    }
    if torch is not None:
        Xt, yt = torch.from_numpy(Xv), torch.from_numpy(yv)
        W1t, W2t = torch.from_numpy(W1v).requires_grad_(), torch.from_numpy(W2v).requires_grad_()

        def torch_w2():
            Jt = torch.nn.functional.cross_entropy(torch.relu(Xt @ W1t) @ W2t, yt) + lam / 2 * (
                (W1t * W1t).sum() + (W2t * W2t).sum()
            )
            g1, g2 = torch.autograd.grad(Jt, [W1t, W2t])
            return Jt.item(), g1.numpy(), g2.numpy()

        systems["PyTorch eager"] = torch_w2
    systems["JAX jit"] = peers.jax_w2(Xv, yv, W1v, W2v, lam)
    systems["PyTensor (Numba)"] = peers.pytensor_w2(Xv, yv, W1v, W2v, lam)
    return systems


#: the array-valued operations of w2_hand, views included, one per entry (0-d results are not counted)
W2_HAND_ARRAY_OPS = (
    "X @ W1", "maximum(Z, 0)", "H @ W2", "O.max(axis=1)", "O - m", "exp", "E.sum(axis=1)", "S[:, 0]", "log",
    "m[:, 0]", "+", "arange(n)", "O[arange, labels]", "-", "W1 * W1", "W2 * W2", "E / S", "arange(n)",
    "G[arange, labels] -= 1", "G /= n", "H.T", "H.T @ G", "lam * W2", "+", "W2.T", "G @ W2.T", "Z > 0", "*",
    "X.T", "X.T @ (...)", "lam * W1", "+",
)  # fmt: skip


def w2_op_counts(B=256, d=784, h=512, q=10) -> None:
    """Array operations after the passes: graphcomp's W2 graph against the hand derivation."""
    f = w2_function(d, h, q, 1e-3)
    ours = [v for v in f.graph.variables if v.owner is not None and v.ndim > 0]
    print(
        f"\nW2 gradient graph after the passes: {len(ours)} array operations; hand derivation: "
        f"{len(W2_HAND_ARRAY_OPS)} (views counted in both; 0-d values in neither)"
    )


_MEMORY_CHILD = """
import tracemalloc
import run
systems = run.w2_systems(256, 784, 512, 10)
fn = systems[{name!r}]
fn()
tracemalloc.start()
tracemalloc.reset_peak()
fn()
print(tracemalloc.get_traced_memory()[1])
"""


def w2_peak_memory(names=("hand NumPy (closed forms)", "graphcomp compile", NUMBA_ROW)) -> None:
    """Peak NumPy memory of one W2-medium call beyond its inputs (tracemalloc sees NumPy's
    allocations), each system in a fresh process."""
    print("\nW2 mlp medium, peak memory of one call beyond its inputs (tracemalloc, fresh process each)")
    print(f"| {'system':<28} | {'peak':>12} | {'ratio':>7} |")
    print(f"|{'-' * 30}|{'-' * 14}:|{'-' * 8}:|")
    base = None
    for name in names:
        if name == NUMBA_ROW and not NUMBA:
            continue
        peak = int(_in_child(_MEMORY_CHILD.format(name=name)).split()[-1])
        base = base or peak
        print(f"| {name:<28} | {peak / 2**20:>9.2f} MB | {peak / base:>6.2f}× |")


# -- W5 --------------------------------------------------------------------------------------------------


def w5_hand(x, v):
    """Hessian-vector product of the Rosenbrock function, in closed form."""
    Hv = np.zeros_like(x)
    Hv[:-1] = (1200 * x[:-1] ** 2 - 400 * x[1:] + 2) * v[:-1] - 400 * x[:-1] * v[1:]
    Hv[1:] += 200 * v[1:] - 400 * x[:-1] * v[:-1]
    return (Hv,)


def w5_systems(n=1000):
    rng = np.random.default_rng(0)
    xv, vv = rng.uniform(-1, 1, n), rng.standard_normal(n)
    x, v = gc.Variable("x", (n,)), gc.Variable("v", (n,))
    f_ = (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    f = gc.compile([gc.hvp(f_, x, v)], [x, v])
    fn = gc.compile([gc.hvp(f_, x, v)], [x, v], backend="numba") if NUMBA else None
    systems = {
        "closed form (NumPy)": lambda: w5_hand(xv, vv),
        "graphcomp compile": lambda: f(xv, vv),
        NUMBA_ROW: (lambda: fn(xv, vv)) if fn else None,
    }
    if torch is not None:
        xt, vt = torch.from_numpy(xv).requires_grad_(), torch.from_numpy(vv)

        def torch_w5():
            ft = (100.0 * (xt[1:] - xt[:-1] ** 2) ** 2 + (1.0 - xt[:-1]) ** 2).sum()
            (g,) = torch.autograd.grad(ft, [xt], create_graph=True)
            (hv,) = torch.autograd.grad((g * vt).sum(), [xt])
            return (hv.numpy(),)

        systems["PyTorch eager"] = torch_w5
    systems["JAX jit"] = peers.jax_w5(xv, vv)
    systems["PyTensor (Numba)"] = peers.pytensor_w5(xv, vv)
    systems["closed form fused (Numba)"] = peers.numba_w5(xv, vv)
    return systems


# -- W3 ----------------------------------------------------------------------------------------------------


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


def w3_data(n):
    rng = np.random.default_rng(0)
    return rng.standard_normal(64), rng.uniform(0.5, 1.5, n), rng.standard_normal(n) * 0.1


def w3_prepare(n, backend=None):
    """Seconds to build, differentiate and compile the n-layer chain; the Function."""
    t0 = time.perf_counter()
    cost, inputs = w3_build(n)
    t1 = time.perf_counter()
    grads = gc.grad(cost, inputs[1:])
    t2 = time.perf_counter()
    f = gc.compile([cost, *grads], inputs, backend=backend)
    t3 = time.perf_counter()
    return (t1 - t0, t2 - t1, t3 - t2), f


def _in_child(code: str, timeout: float | None = None) -> str | None:
    """Run ``code`` in a fresh Python with bench/ importable; its stdout, or None past the timeout."""
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n{code}"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode:
        raise RuntimeError(done.stderr)
    return done.stdout


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


# -- the harness -----------------------------------------------------------------------------------------------


def interleaved(systems: dict, rounds: int = 15) -> dict:
    """``{name: (median seconds, median ratio to the first system)}``.

    Each round times every system once, in a rotated order; a ratio is taken within
    a round, so the machine's drift (a shared VM's neighbours) cancels out of it."""
    names = list(systems)
    numbers = {n: max(1, timeit.Timer(systems[n]).autorange()[0] // 4) for n in names}  # ~50 ms each
    times: dict = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            times[n].append(timeit.timeit(systems[n], number=numbers[n]) / numbers[n])
    ref = times[names[0]]
    return {n: (statistics.median(ts), statistics.median(t / b for t, b in zip(ts, ref))) for n, ts in times.items()}


def disagreeing(systems: dict) -> str | None:
    """The first installed system whose numbers differ from the first system's, or None."""
    names = [n for n, fn in systems.items() if fn is not None]
    want = [np.asarray(v, dtype=float) for v in systems[names[0]]()]
    for name in names[1:]:
        got = [np.asarray(v, dtype=float) for v in systems[name]()]
        if len(got) != len(want) or not all(np.allclose(g, w, rtol=1e-8, atol=1e-10) for g, w in zip(got, want)):
            return name
    return None


def run(title: str, systems: dict) -> bool:
    """Check every installed system against the first, then print medians and ratios."""
    if torch is None:
        systems.setdefault("PyTorch eager", None)
    names = [n for n, fn in systems.items() if fn is not None]
    wrong = disagreeing(systems)
    if wrong is not None:
        print(f"{title}: {wrong} computed different numbers from {names[0]}: not timed", file=sys.stderr)
        return False
    print(f"\n{title}")
    print(f"| {'system':<28} | {'median':>12} | {'ratio':>7} |")
    print(f"|{'-' * 30}|{'-' * 14}:|{'-' * 8}:|")
    measured = interleaved({n: systems[n] for n in names})
    for name in systems:
        if name not in measured:
            print(f"| {name:<28} | {'not installed':>12} | {'':>7} |")
            continue
        t, ratio = measured[name]
        unit, scale = ("ms", 1e3) if t > 1e-3 else ("µs", 1e6)
        print(f"| {name:<28} | {t * scale:>9.2f} {unit} | {ratio:>6.2f}× |")
    return True


def main() -> int:
    print(
        f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch.__version__ if torch else 'not installed'}, "
        f"{peers.versions()}; single-threaded"
    )
    ok = run("W1 scalar: the seed example's y, dy/dx, dy/dz at x=2, z=3", w1_systems())
    ok &= run("W2 mlp small (B=32, d=64, h=128, q=10): J, dJ/dW1, dJ/dW2", w2_systems(32, 64, 128, 10))
    ok &= run("W2 mlp medium (B=256, d=784, h=512, q=10)", w2_systems(256, 784, 512, 10))
    w2_peak_memory()
    w2_op_counts()
    ok &= run("W4 cnn: conv 8x3x3 -> max_pool 2 -> relu -> linear 10 -> cross-entropy, batch 32", w4_systems())
    ok &= run("W5 hvp: Hessian-vector product of the n=1000 Rosenbrock function", w5_systems())
    ok &= w3()
    w3_peers()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
