"""W2 mlp: a 1-hidden-layer MLP's cost and weight gradients, against the lectures' closed forms."""

from __future__ import annotations

import os
import statistics
import tempfile

import numpy as np
from common import JAX, JAX_ROW, NUMBA, NUMBA_ROW, NUMBA_WHOLE_ROW, _in_child, peers, torch

import graphcomp as gc


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


def w2_function(d, h, q, lam, backend=None, whole=None):
    """graphcomp's W2: J, dJ/dW1, dJ/dW2 compiled, inputs X, y, W1, W2 (``whole``: the
    Numba backend's whole-function mode, see gc.compile)."""
    X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
    W1, W2 = gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    return gc.compile([J, *gc.grad(J, [W1, W2])], [X, y, W1, W2], backend=backend, whole=whole)


def w2_systems(B, d, h, q):
    rng = np.random.default_rng(0)
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1v, W2v, lam = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05, 1e-3
    f = w2_function(d, h, q, lam)
    fn = w2_function(d, h, q, lam, backend="numba", whole=False) if NUMBA else None
    fw = w2_function(d, h, q, lam, backend="numba", whole=True) if NUMBA else None
    fj = w2_function(d, h, q, lam, backend="jax") if JAX else None
    systems = {
        "hand NumPy (closed forms)": lambda: w2_hand(Xv, yv, W1v, W2v, lam),
        "graphcomp compile": lambda: f(Xv, yv, W1v, W2v),
        NUMBA_ROW: (lambda: fn(Xv, yv, W1v, W2v)) if fn else None,
        NUMBA_WHOLE_ROW: (lambda: fw(Xv, yv, W1v, W2v)) if fw else None,
        JAX_ROW: (lambda: fj(Xv, yv, W1v, W2v)) if fj else None,
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


#: the generic forms of W2's loss, as users write them with one-hot labels Y: the name of each
#: form -> the loss of the logits Z (a graphcomp, PyTorch, JAX or PyTensor namespace: ``lib``)
W2_FORMS = {
    "log_softmax": lambda lib, Z, Y: -(Y * lib.log_softmax(Z, axis=1)).sum(axis=1).mean(),
    "log(softmax)": lambda lib, Z, Y: -(Y * lib.log(lib.softmax(Z, axis=1))).sum(axis=1).mean(),
}

#: each form as the rows' titles show it
W2_FORMS_WRITTEN = {
    "log_softmax": "-(Y * log_softmax(Z, axis=1)).sum(axis=1).mean()",
    "log(softmax)": "-(Y * log(softmax(Z, axis=1))).sum(axis=1).mean()",
}


def w2_generic_function(d, h, q, lam, form, backend=None, whole=None):
    """graphcomp's W2 with one-hot labels and the loss written by hand (``W2_FORMS[form]``):
    J, dJ/dW1, dJ/dW2 compiled, inputs X, Y (one-hot, float), W1, W2 (``whole``: the
    Numba backend's whole-function mode)."""
    X, Y = gc.Variable("X", (None, d)), gc.Variable("Y", (None, q))
    W1, W2 = gc.Variable("W1", (d, h)), gc.Variable("W2", (h, q))
    J = W2_FORMS[form](gc, gc.relu(X @ W1) @ W2, Y) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    return gc.compile([J, *gc.grad(J, [W1, W2])], [X, Y, W1, W2], backend=backend, whole=whole)


def w2_generic_systems(B, d, h, q, form="log_softmax"):
    """W2 with one-hot labels and the loss in ``form``: every system writes that same loss;
    the reference is the lectures' closed forms on the integer labels."""
    rng = np.random.default_rng(0)
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    Yv = np.eye(q)[yv]
    W1v, W2v, lam = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05, 1e-3
    f = w2_generic_function(d, h, q, lam, form)
    fn = w2_generic_function(d, h, q, lam, form, backend="numba", whole=False) if NUMBA else None
    fw = w2_generic_function(d, h, q, lam, form, backend="numba", whole=True) if NUMBA else None
    systems = {
        "hand NumPy (closed forms)": lambda: w2_hand(Xv, yv, W1v, W2v, lam),
        "graphcomp compile": lambda: f(Xv, Yv, W1v, W2v),
        NUMBA_ROW: (lambda: fn(Xv, Yv, W1v, W2v)) if fn else None,
        NUMBA_WHOLE_ROW: (lambda: fw(Xv, Yv, W1v, W2v)) if fw else None,
    }
    if torch is not None:
        Xt, Yt = torch.from_numpy(Xv), torch.from_numpy(Yv)
        W1t, W2t = torch.from_numpy(W1v).requires_grad_(), torch.from_numpy(W2v).requires_grad_()
        lib = peers.TorchNamespace()

        def torch_w2():
            O = torch.relu(Xt @ W1t) @ W2t  # noqa: E741
            Jt = W2_FORMS[form](lib, O, Yt) + lam / 2 * ((W1t * W1t).sum() + (W2t * W2t).sum())
            g1, g2 = torch.autograd.grad(Jt, [W1t, W2t])
            return Jt.item(), g1.numpy(), g2.numpy()

        systems["PyTorch eager"] = torch_w2
    systems["JAX jit"] = peers.jax_w2_generic(W2_FORMS[form], Xv, Yv, W1v, W2v, lam)
    systems["PyTensor (Numba)"] = peers.pytensor_w2_generic(W2_FORMS[form], Xv, Yv, W1v, W2v, lam)
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


def w2_peak_memory(names=("hand NumPy (closed forms)", "graphcomp compile", NUMBA_ROW, NUMBA_WHOLE_ROW)) -> None:
    """Peak NumPy memory of one W2-medium call beyond its inputs (tracemalloc sees NumPy's
    allocations), each system in a fresh process."""
    print("\nW2 mlp medium, peak memory of one call beyond its inputs (tracemalloc, fresh process each)")
    print(f"| {'system':<31} | {'peak':>12} | {'ratio':>7} |")
    print(f"|{'-' * 33}|{'-' * 14}:|{'-' * 8}:|")
    base = None
    for name in names:
        if name in (NUMBA_ROW, NUMBA_WHOLE_ROW) and not NUMBA:
            continue
        peak = int(_in_child(_MEMORY_CHILD.format(name=name)).split()[-1])
        base = base or peak
        print(f"| {name:<31} | {peak / 2**20:>9.2f} MB | {peak / base:>6.2f}× |")


_COMPILE_CHILD = """
import time
import w2
start = time.perf_counter()
f = w2.w2_function(64, 128, 10, 1e-3, backend="numba", whole=True)
seconds = time.perf_counter() - start
assert f.whole, f.whole_reason
print(seconds, f.whole_info.cached)
"""


def w2_whole_compile_times(trials: int = 3) -> None:
    """``gc.compile`` of W2 small's gradient in the whole-function Numba mode (graph, passes,
    code and Numba), each trial with an empty cache directory ($XDG_CACHE_HOME): first in a
    fresh process (Numba compiles), then in a second one (it loads the disk cache)."""
    if not NUMBA:
        return
    first, cached = [], []
    saved = {k: os.environ.pop(k, None) for k in ("GRAPHCOMP_CACHE_DIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    try:
        for _ in range(trials):
            with tempfile.TemporaryDirectory() as home:
                os.environ["XDG_CACHE_HOME"] = home
                for times, want in ((first, "False"), (cached, "True")):
                    seconds, hit = _in_child(_COMPILE_CHILD).split()
                    assert hit == want, (hit, want)
                    times.append(float(seconds))
    finally:
        os.environ.pop("XDG_CACHE_HOME", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    print(f"\nW2 mlp small, gc.compile(..., backend='numba', whole=True), median of {trials} fresh processes:")
    print(f"| {'cache':<31} | {'median':>12} | {'trials':>24} |")
    print(f"|{'-' * 33}|{'-' * 14}:|{'-' * 25}:|")
    for name, times in (("empty (Numba compiles)", first), ("filled by another process", cached)):
        trials_text = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name:<31} | {statistics.median(times):>10.2f} s | {trials_text:>24} |")
