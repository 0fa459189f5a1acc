"""W7 adam: one Adam training step of W2's MLP (cost, gradients, Adam update of both weights)."""

from __future__ import annotations

import math

import numpy as np
from common import JAX, JAX_ROW, NUMBA, NUMBA_ROW, peers, torch
from w2 import w2_hand

import graphcomp as gc

LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8


class HandAdam:
    """A hand-written NumPy training step: the lectures' closed-form gradients (w2_hand),
    then torch.optim.Adam's update rule as a person writes it, state in lists."""

    def __init__(self, X, labels, W1, W2, lam):
        self.X, self.labels, self.lam = X, labels, lam
        self.params = [W1.copy(), W2.copy()]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self):
        J, *grads = w2_hand(self.X, self.labels, *self.params, self.lam)
        self.t += 1
        b1, b2 = BETAS
        step_size = LR / (1 - b1**self.t)
        bc2_sqrt = math.sqrt(1 - b2**self.t)
        for i, g in enumerate(grads):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * (g * g)
            self.params[i] = self.params[i] - step_size * self.m[i] / (np.sqrt(self.v[i]) / bc2_sqrt + EPS)
        return J, *self.params


def w7_function(d, h, q, lam, W1v, W2v, backend=None):
    """graphcomp's W7: J compiled with gc.optim.adam's updates; returns (step, W1, W2)."""
    X, y = gc.Variable("X", (None, d)), gc.Variable("y", (None,), "int64")
    W1, W2 = gc.Parameter(W1v, "W1"), gc.Parameter(W2v, "W2")
    J = gc.nn.cross_entropy(gc.relu(X @ W1) @ W2, y) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
    updates = gc.optim.adam(J, [W1, W2], lr=LR, betas=BETAS, eps=EPS)
    return gc.compile(J, [X, y], updates=updates, backend=backend), W1, W2


def w7_systems(B=256, d=784, h=512, q=10):
    """One system per row; each call is one training step from that system's own state,
    so the agreement check (one call each, from the same initial weights) compares step 1."""
    rng = np.random.default_rng(0)
    Xv, yv = rng.standard_normal((B, d)), rng.integers(0, q, B)
    W1v, W2v, lam = rng.standard_normal((d, h)) * 0.05, rng.standard_normal((h, q)) * 0.05, 1e-3
    hand = HandAdam(Xv, yv, W1v, W2v, lam)
    f, W1, W2 = w7_function(d, h, q, lam, W1v, W2v)
    systems = {
        "hand NumPy (Adam step)": hand.step,
        "graphcomp compile": lambda: (f(Xv, yv), W1.value, W2.value),
    }
    if NUMBA:
        fn, W1n, W2n = w7_function(d, h, q, lam, W1v, W2v, backend="numba")
        systems[NUMBA_ROW] = lambda: (fn(Xv, yv), W1n.value, W2n.value)
    else:
        systems[NUMBA_ROW] = None
    if JAX:
        # the updated weights stay on the device; the agreement check reads them back
        fj, W1j, W2j = w7_function(d, h, q, lam, W1v, W2v, backend="jax")
        systems[JAX_ROW] = lambda: (fj(Xv, yv), W1j.device_value(), W2j.device_value())
    else:
        systems[JAX_ROW] = None
    if torch is not None:
        Xt, yt = torch.from_numpy(Xv), torch.from_numpy(yv)
        W1t, W2t = torch.tensor(W1v, requires_grad=True), torch.tensor(W2v, requires_grad=True)
        opt = torch.optim.Adam([W1t, W2t], lr=LR, betas=BETAS, eps=EPS)

        def torch_w7():
            opt.zero_grad()
            Jt = torch.nn.functional.cross_entropy(torch.relu(Xt @ W1t) @ W2t, yt) + lam / 2 * (
                (W1t * W1t).sum() + (W2t * W2t).sum()
            )
            Jt.backward()
            opt.step()
            return Jt.item(), W1t.detach().numpy(), W2t.detach().numpy()

        systems["PyTorch eager"] = torch_w7
    systems["JAX jit"] = peers.jax_w7(Xv, yv, W1v, W2v, lam, LR, BETAS, EPS)
    return systems
