"""W4 cnn: conv, max-pool, relu, linear, cross-entropy, against a hand-written im2col CNN."""

from __future__ import annotations

import numpy as np
from common import JAX, JAX_ROW, NUMBA, NUMBA_ROW, peers, torch
from numpy.lib.stride_tricks import sliding_window_view

import graphcomp as gc

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


def w4_function(backend=None):
    """graphcomp's W4: the cost and its gradients compiled, inputs x, y, w, Wl."""
    x, y = gc.Variable("x", (None, C, H, H)), gc.Variable("y", (None,), "int64")
    w, Wl = gc.Variable("w", (FILTERS, C, 3, 3)), gc.Variable("Wl", (FLAT, CLASSES))
    logits = gc.relu(gc.max_pool2d(gc.conv2d(x, w), 2)).reshape(-1, FLAT) @ Wl
    cost = gc.nn.cross_entropy(logits, y)
    return gc.compile([cost, *gc.grad(cost, [w, Wl])], [x, y, w, Wl], backend=backend)


def w4_systems():
    xv, yv, wv, Wlv = w4_data()
    f = w4_function()
    fn = w4_function("numba") if NUMBA else None
    fj = w4_function("jax") if JAX else None
    systems = {
        "hand NumPy (im2col)": lambda: w4_hand(xv, yv, wv, Wlv),
        "graphcomp compile": lambda: f(xv, yv, wv, Wlv),
        NUMBA_ROW: (lambda: fn(xv, yv, wv, Wlv)) if fn else None,
        JAX_ROW: (lambda: fj(xv, yv, wv, Wlv)) if fj else None,
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
    systems["JAX jit"] = peers.jax_w4(xv, yv, wv, Wlv)
    return systems
