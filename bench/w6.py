"""W6 rnn: the book's recurrent network (Goodfellow et al. 2016, section 10.2), the
loss summed over T steps, its value and the gradients of all five weights by
back-propagation through time; graphcomp's ``gc.scan`` against a hand-written
NumPy BPTT (equations 10.18-10.28), PyTorch (an eager Python loop, autograd) and
JAX (``lax.scan`` under ``jit``), when installed.

    h_t = tanh(b + h_{t-1} W + x_t U),  o_t = c + h_t V,  L = sum_t -sum(y_t * log softmax(o_t))

with a batch of 32 sequences (rows), hidden 128, input 64, 64 classes and
one-hot targets y_t.
"""

from __future__ import annotations

import time

import numpy as np
from common import NUMBA, NUMBA_ROW, torch
from harness import run
from peers import jax

import graphcomp as gc

B, H, D, K = 32, 128, 64, 64


def w6_data(T: int, seed: int = 0):
    """(h0, X, Y, W, U, V, b, c): X (T, B, D) inputs, Y (T, B, K) one-hot targets."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, B, D))
    Y = np.eye(K)[rng.integers(0, K, (T, B))]
    W = rng.standard_normal((H, H)) / np.sqrt(H)
    U = rng.standard_normal((D, H)) / np.sqrt(D)
    V = rng.standard_normal((H, K)) / np.sqrt(H)
    return np.zeros((B, H)), X, Y, W, U, V, rng.standard_normal(H) * 0.1, rng.standard_normal(K) * 0.1


def w6_build(T: int | None):
    """The loss as one ``gc.scan`` node, and its inputs (h0, X, Y, then the weights)."""
    h0, X, Y = gc.Variable("h0", (B, H)), gc.Variable("X", (T, B, D)), gc.Variable("Y", (T, B, K))
    W, U, V = gc.Variable("W", (H, H)), gc.Variable("U", (D, H)), gc.Variable("V", (H, K))
    b, c = gc.Variable("b", (H,)), gc.Variable("c", (K,))

    def step(h, xy):
        x, y = xy
        h = gc.tanh(b + h @ W + x @ U)
        return h, -(y * gc.log_softmax(c + h @ V, axis=-1)).sum()

    _, losses = gc.scan(step, h0, (X, Y))
    return losses.sum(), [h0, X, Y, W, U, V, b, c]


def w6_prepare(T: int | None, backend=None):
    """Seconds to build, differentiate and compile; the Function (value, dW, dU, dV, db, dc)."""
    t0 = time.perf_counter()
    loss, inputs = w6_build(T)
    f = gc.compile([loss, *gc.grad(loss, inputs[3:])], inputs, backend=backend)
    return time.perf_counter() - t0, f


def w6_hand(h0, X, Y, W, U, V, b, c):
    """Back-propagation through time written out (equations 10.18-10.28): a forward
    loop keeping each h_t and softmax(o_t), then a backward loop accumulating the
    weights' gradients."""
    hs, ps, loss = [h0], [], 0.0
    for t in range(len(X)):
        h = np.tanh(b + hs[-1] @ W + X[t] @ U)
        o = c + h @ V
        o = o - o.max(axis=1, keepdims=True)
        e = np.exp(o)
        s = e.sum(axis=1, keepdims=True)
        loss -= (Y[t] * (o - np.log(s))).sum()
        hs.append(h)
        ps.append(e / s)
    dW, dU, dV = np.zeros_like(W), np.zeros_like(U), np.zeros_like(V)
    db, dc = np.zeros_like(b), np.zeros_like(c)
    dh_next = np.zeros_like(h0)
    for t in range(len(X) - 1, -1, -1):
        do = ps[t] - Y[t]  # 10.18, one-hot targets
        dV += hs[t + 1].T @ do
        dc += do.sum(axis=0)
        da = (do @ V.T + dh_next) * (1.0 - hs[t + 1] * hs[t + 1])  # 10.20-10.21 through tanh
        db += da.sum(axis=0)
        dW += hs[t].T @ da
        dU += X[t].T @ da
        dh_next = da @ W.T
    return loss, dW, dU, dV, db, dc


def w6_torch(h0, X, Y, W, U, V, b, c):
    """PyTorch: the same loop in eager mode, gradients by autograd."""
    if torch is None:
        return None
    ts = [torch.tensor(a) for a in (h0, X, Y)]
    ws = [torch.tensor(a, requires_grad=True) for a in (W, U, V, b, c)]

    def call():
        h, Xt, Yt = ts
        W_, U_, V_, b_, c_ = ws
        loss = 0.0
        for t in range(len(Xt)):
            h = torch.tanh(b_ + h @ W_ + Xt[t] @ U_)
            loss = loss - (Yt[t] * torch.log_softmax(c_ + h @ V_, dim=-1)).sum()
        grads = torch.autograd.grad(loss, ws)
        return [loss.detach().numpy(), *(g.numpy() for g in grads)]

    return call


def w6_jax(h0, X, Y, W, U, V, b, c):
    """JAX: ``lax.scan`` over the steps under ``jit``, gradients by ``value_and_grad``."""
    if jax is None:
        return None
    import jax.numpy as jnp

    def loss(W, U, V, b, c, h0, X, Y):
        def step(h, xy):
            x, y = xy
            h = jnp.tanh(b + h @ W + x @ U)
            return h, -(y * jax.nn.log_softmax(c + h @ V, axis=-1)).sum()

        _, losses = jax.lax.scan(step, h0, (X, Y))
        return losses.sum()

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4)))

    def call():
        value, grads = jax.block_until_ready(f(W, U, V, b, c, h0, X, Y))
        return [np.asarray(value), *(np.asarray(g) for g in grads)]

    return call


def w6(lengths=(100, 1000)) -> bool:
    print("\nW6 rnn (B=32, hidden 128, input 64, 64 classes): build + grad + compile, one scan node")
    print(f"| {'T':>6} | {'NumPy backend':>14} | {'T unknown':>10} |")
    print(f"|{'-' * 8}:|{'-' * 16}:|{'-' * 12}:|")
    for T in lengths:
        print(f"| {T:>6} | {w6_prepare(T)[0]:>12.3f} s | {w6_prepare(None)[0]:>8.3f} s |")
    ok = True
    for T in lengths:
        data = w6_data(T)
        _, f = w6_prepare(T)
        systems = {"hand NumPy BPTT": lambda d=data: w6_hand(*d), "graphcomp compile": lambda f=f, d=data: f(*d)}
        if NUMBA:
            _, fn = w6_prepare(T, backend="numba")
            systems[NUMBA_ROW] = lambda f=fn, d=data: f(*d)
        systems["PyTorch eager"] = w6_torch(*data)
        systems["JAX lax.scan (jit)"] = w6_jax(*data)
        ok &= run(f"W6 rnn, T={T}: loss and the gradients of W, U, V, b, c", systems)
    return ok
