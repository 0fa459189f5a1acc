"""The lecture notes' worked examples, with their numbers, each against the
lecture's own hand derivation (an oracle independent of graphcomp)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphcomp as gc


def test_seed_002_scalar_example_against_the_hand_derivation():
    """y = exp(xz) + xz/log(x) + sin(log(x))/(xz) at x=2, z=3 (lecture 21, 4/5/17)."""
    x_, z_ = 2.0, 3.0
    # the lecture's forward computation ...
    a = x_ * z_
    b = math.log(x_)
    c = math.sin(b)
    d = math.exp(a)
    e = a / b
    f = c / a
    y_ = d + e + f
    # ... and its backward computation, line by line
    dy_dd = dy_de = dy_df = 1.0
    dy_dc = dy_df * (1 / a)
    dy_db = dy_de * (-a / b**2) + dy_dc * math.cos(b)
    dy_da = dy_df * (-c / a**2) + dy_de * (1 / b) + dy_dd * math.exp(a)
    dy_dx = dy_da * z_ + dy_db * (1 / x_)
    dy_dz = dy_da * x_

    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    dx, dz = gc.grad(y, [x, z])
    got = gc.evaluate([y, dx, dz], {x: x_, z: z_})
    np.testing.assert_allclose([float(v) for v in got], [y_, dy_dx, dy_dz], rtol=1e-13)
    assert y_ == pytest.approx(412.19145728, rel=1e-9)


def test_seed_004_sum_times_z_circuit():
    """f = (x + y) z at x=-2, y=5, z=-4: q = 3, f = -12, df/dx = df/dy = z = -4, df/dz = q = 3."""
    x, y, z = gc.Variable("x"), gc.Variable("y"), gc.Variable("z")
    q = x + y
    f = q * z
    got = gc.evaluate([q, f, *gc.grad(f, [x, y, z])], {x: -2.0, y: 5.0, z: -4.0})
    assert [float(v) for v in got] == [3.0, -12.0, -4.0, -4.0, 3.0]


@pytest.mark.parametrize("primitive", [True, False], ids=["sigmoid-op", "1/(1+exp(-s))"])
def test_seed_004_sigmoid_neuron_against_the_flat_code(primitive):
    """f = sigmoid(w0 x0 + w1 x1 + w2) at w0=2, x0=-1, w1=-3, x1=-2, w2=-3, against
    the lecture's "flat code" backward pass (grad_s3 = (1 - L) L ≈ 0.2)."""
    w0_, x0_, w1_, x1_, w2_ = 2.0, -1.0, -3.0, -2.0, -3.0
    s3 = w0_ * x0_ + w1_ * x1_ + w2_
    L = 1 / (1 + math.exp(-s3))
    grad_s3 = (1 - L) * L
    want = {"w0": x0_ * grad_s3, "x0": w0_ * grad_s3, "w1": x1_ * grad_s3, "x1": w1_ * grad_s3, "w2": grad_s3}
    assert round(L, 2) == 0.73 and round(grad_s3, 1) == 0.2  # the lecture's rounded numbers

    names = ["w0", "x0", "w1", "x1", "w2"]
    v = {n: gc.Variable(n) for n in names}
    s = v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["w2"]
    out = gc.sigmoid(s) if primitive else 1 / (1 + gc.exp(-s))
    grads = gc.grad(out, [v[n] for n in names])
    vals = gc.evaluate([out, *grads], {v[n]: val for n, val in zip(names, [w0_, x0_, w1_, x1_, w2_])})
    assert float(vals[0]) == pytest.approx(L, rel=1e-14)
    for n, g in zip(names, vals[1:]):
        assert float(g) == pytest.approx(want[n], rel=1e-12), n


def test_seed_004_matmul_gradient_is_upstream_times_w_transposed():
    """y = x W with the lecture's x (2x3) and W (3x4); dL/dx = (dL/dy) W^T, and the
    lecture's worked entry dL/dx[0, 0] = 3*2 + 2*3 + 1*(-3) + (-1)*9 = 0."""
    x_ = np.array([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
    W_ = np.array([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
    dL_dy = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    x, W = gc.Variable("x", (2, 3)), gc.Variable("W", (3, 4))
    y = x @ W
    L = (y * dL_dy).sum()  # so that dL/dy is the lecture's upstream gradient
    dx, dW = gc.grad(L, [x, W])
    y_val, dx_val, dW_val = gc.evaluate([y, dx, dW], {x: x_, W: W_})
    np.testing.assert_array_equal(y_val, [[-1, -1, 2, 6], [5, 2, 11, 7]])
    np.testing.assert_allclose(dx_val, dL_dy @ W_.T)
    np.testing.assert_allclose(dW_val, x_.T @ dL_dy)
    assert dx_val[0, 0] == 0.0


def _mlp_closed_form(X, labels, W1, W2, lam, reg_scale):
    """The lectures' closed forms (000, 003) in NumPy, column convention x in R^d.

    z = W1 x, h = relu(z), o = W2 h, J = mean cross-entropy + reg_scale*lam*(|W1|^2 + |W2|^2).
    """
    B = X.shape[1]
    Z = W1 @ X
    H = np.maximum(Z, 0)
    Out = W2 @ H
    o_shift = Out - Out.max(axis=0, keepdims=True)
    P = np.exp(o_shift) / np.exp(o_shift).sum(axis=0, keepdims=True)
    L = -np.mean(np.log(P[labels, np.arange(B)]))
    J = L + reg_scale * lam * (np.sum(W1**2) + np.sum(W2**2))
    Y = np.zeros_like(P)
    Y[labels, np.arange(B)] = 1.0
    dJ_do = (P - Y) / B
    dJ_dW2 = dJ_do @ H.T + 2 * reg_scale * lam * W2  # (dJ/do) h^T + lam W2
    dJ_dh = W2.T @ dJ_do
    dJ_dz = dJ_dh * (Z > 0)
    dJ_dW1 = dJ_dz @ X.T + 2 * reg_scale * lam * W1  # (dJ/dz) x^T + lam W1
    return J, dJ_dW1, dJ_dW2


@pytest.mark.parametrize("reg_scale", [0.5, 1.0], ids=["003: lam/2 (|W1|^2+|W2|^2)", "000: lam (sum w1^2 + sum w2^2)"])
def test_seed_000_003_mlp_with_l2_against_the_closed_forms(reg_scale):
    rng = np.random.default_rng(0)
    d, h, q, B, lam = 5, 7, 3, 4, 0.1
    X_ = rng.standard_normal((d, B))
    labels_ = rng.integers(0, q, B)
    W1_, W2_ = rng.standard_normal((h, d)), rng.standard_normal((q, h))

    X, labels = gc.Variable("X", (d, None)), gc.Variable("labels", (None,), "int64")
    W1, W2 = gc.Variable("W1", (h, d)), gc.Variable("W2", (q, h))
    z = W1 @ X
    hid = gc.relu(z)
    o = W2 @ hid
    logp = gc.log_softmax(o, axis=0)
    L = -gc.mean(logp[labels, np.arange(B)])
    s = reg_scale * lam * ((W1 * W1).sum() + (W2 * W2).sum())
    J = L + s
    gW1, gW2 = gc.grad(J, [W1, W2])
    got = gc.evaluate([J, gW1, gW2], {X: X_, labels: labels_, W1: W1_, W2: W2_})
    want = _mlp_closed_form(X_, labels_, W1_, W2_, lam, reg_scale)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
