"""The convolution and pooling forms (#20 item 4): the NumPy forms (im2col + batched
matmul) and the Numba backend's kernels, chosen per shape, compute what the plain
loops of the spec table compute, what the previous NumPy forms computed (kept here
as oracles), and what PyTorch computes; ties, NaN windows, odd sizes, strides,
padding and float32 included."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import graphcomp as gc
from graphcomp.ops.conv import (
    Conv2D,
    Conv2DInputGrad,
    Conv2DInputGradLike,
    Conv2DWeightGrad,
    MaxPool2D,
    MaxPool2DGrad,
)
from tests.ops.spec import _conv_grads_loop, _conv_loop, _pool_grad_loop, _pool_loop

# (stride, padding, x shape, w shape): W4's layer, channels both ways, strides, padding, odd sizes
CONVS = [
    (1, 0, (4, 1, 10, 10), (3, 1, 3, 3)),
    (1, 1, (2, 3, 7, 6), (4, 3, 3, 2)),
    (2, 1, (3, 2, 9, 8), (5, 2, 3, 3)),
    (3, 2, (2, 4, 8, 11), (2, 4, 2, 4)),
    (1, 0, (2, 16, 6, 6), (16, 16, 3, 3)),  # 256 channel pairs: the input gradient takes the matmul form
    (2, 0, (0, 2, 5, 5), (3, 2, 3, 3)),  # an empty batch
]


def _tol(dtype):
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-5}


# -- the previous NumPy forms, kept as oracles -----------------------------------------------------------------


def _old_windows(x, kh, kw, s, p):
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::s, ::s]


def _old_conv(x, w, s, p):
    out = np.tensordot(_old_windows(x, w.shape[2], w.shape[3], s, p), w, axes=([1, 4, 5], [1, 2, 3]))
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _old_input_grad(g, w, s, p, height, width):
    n, o, ho, wo = g.shape
    _, c, kh, kw = w.shape
    out = np.zeros((n, c, height + 2 * p, width + 2 * p), dtype=np.result_type(g, w))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + s * ho : s, j : j + s * wo : s] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    return out[:, :, p : p + height, p : p + width]


def _old_weight_grad(x, g, s, p, kh, kw):
    win = _old_windows(x, kh, kw, s, p)[:, :, : g.shape[2], : g.shape[3]]
    return np.tensordot(g, win, axes=([0, 2, 3], [0, 2, 3]))


def _data(xs, ws, s, p, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    ho, wo = (xs[2] + 2 * p - ws[2]) // s + 1, (xs[3] + 2 * p - ws[3]) // s + 1
    return x, w, rng.standard_normal((xs[0], ws[0], ho, wo)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("s, p, xs, ws", CONVS)
def test_numpy_conv_forms_equal_the_plain_loops_and_the_previous_forms(s, p, xs, ws, dtype):
    x, w, g = _data(xs, ws, s, p, dtype)
    y = Conv2D(s, p).forward(x, w)
    dx = Conv2DInputGrad(s, p, xs[2], xs[3]).forward(g, w)
    dw = Conv2DWeightGrad(s, p, ws[2], ws[3]).forward(x, g)
    assert y.dtype == dx.dtype == dw.dtype == dtype and y.flags.c_contiguous
    loop_dx, loop_dw = _conv_grads_loop(x.astype(float), w.astype(float), g.astype(float), s, p)
    for got, loop, old in [
        (y, _conv_loop(x.astype(float), w.astype(float), s, p), _old_conv(x, w, s, p)),
        (dx, loop_dx, _old_input_grad(g, w, s, p, xs[2], xs[3])),
        (dw, loop_dw, _old_weight_grad(x, g, s, p, ws[2], ws[3])),
    ]:
        np.testing.assert_allclose(got, loop, **_tol(dtype))
        np.testing.assert_allclose(got, old, **_tol(dtype))


def test_mixed_and_integer_dtypes_promote_as_before():
    x, w, _ = _data((2, 2, 5, 5), (3, 2, 3, 3), 1, 0)
    xi = np.round(x * 4).astype(np.int64)
    assert Conv2D(1, 0).forward(x.astype(np.float32), w).dtype == np.float64
    np.testing.assert_array_equal(Conv2D(1, 0).forward(xi, xi[:3]), _old_conv(xi, xi[:3], 1, 0))


def test_a_run_time_channel_mismatch_is_an_error_naming_the_node():
    x, w = gc.Variable("x", (None, None, 5, 5)), gc.Variable("w", (3, 2, 3, 3))
    y = gc.conv2d(x, w)
    with pytest.raises(gc.EvaluationError, match="conv2d"):
        gc.evaluate(y, {x: np.zeros((1, 4, 5, 5)), w: np.zeros((3, 2, 3, 3))})


# -- the Numba backend's kernels --------------------------------------------------------------------------------


@pytest.fixture
def kernels():
    pytest.importorskip("numba")
    from graphcomp.runtime.backends import numba_conv

    return numba_conv


def _callee(kernels, op):
    return kernels.OVERRIDES[type(op)](op)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("s, p, xs, ws", CONVS)
def test_the_numba_input_gradient_equals_the_numpy_form(kernels, s, p, xs, ws, dtype):
    x, w, g = _data(xs, ws, s, p, dtype)
    op = Conv2DInputGrad(s, p, xs[2], xs[3])
    assert kernels.uses_kernel(op, g, w) == (s == 1 and ws[0] * ws[1] < kernels.INPUT_GRAD_MAX_CHANNEL_PAIRS)
    got = _callee(kernels, op)(g, w)
    assert got.dtype == dtype and got.shape == xs
    np.testing.assert_allclose(got, op.forward(g, w), **_tol(dtype))
    like = Conv2DInputGradLike(s, p)
    np.testing.assert_allclose(_callee(kernels, like)(g, w, x), op.forward(g, w), **_tol(dtype))


def _pool_inputs(shape, dtype, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if ties:  # few distinct values: most windows hold tied maxima, some 3 or 4 of them
        x = np.round(x)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (1, 2, 7, 9), (3, 1, 2, 2), (0, 2, 4, 4)])
@pytest.mark.parametrize("ties", [False, True])
def test_the_numba_max_pool_and_its_gradient_equal_the_numpy_forms(kernels, shape, dtype, ties):
    x = _pool_inputs(shape, dtype, ties=ties)
    pool, grad = MaxPool2D(2, 2), MaxPool2DGrad(2, 2)
    assert kernels.uses_kernel(pool, x) and kernels.uses_kernel(grad, x)
    y = _callee(kernels, pool)(x)
    np.testing.assert_array_equal(y, pool.forward(x))
    np.testing.assert_array_equal(y, _pool_loop(x, 2, 2).astype(dtype))
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    dx = _callee(kernels, grad)(x, y, g)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, grad.forward(x, y, g), rtol=1e-7 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(dx, _pool_grad_loop(x, g, 2, 2), **_tol(dtype))


def test_the_numba_max_pool_keeps_nan_and_signed_zero_as_numpy_does(kernels):
    x = np.array([[[[1.0, np.nan, 0.0, 2.0], [0.5, 3.0, 2.0, 1.0], [-0.0, 0.0, -1.0, -2.0], [0.0, -0.0, -3.0, -4.0]]]])
    y = _callee(kernels, MaxPool2D(2, 2))(x)
    want = MaxPool2D(2, 2).forward(x)
    np.testing.assert_array_equal(y, want)
    assert np.signbit(y[0, 0, 1, 0]) == np.signbit(want[0, 0, 1, 0])
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = _callee(kernels, MaxPool2DGrad(2, 2))(x, y, g)
    # the NaN window's maximum equals none of its elements: no gradient, in both forms
    assert np.all(dx[0, 0, :2, :2] == 0)
    np.testing.assert_array_equal(dx, MaxPool2DGrad(2, 2).forward(x, y, g))
    np.testing.assert_array_equal(dx[0, 0, 2:, :2], [[0.75, 0.75], [0.75, 0.75]])  # four tied zeros share 3


def test_shapes_the_kernels_do_not_take_run_the_numpy_forms(kernels):
    x = _pool_inputs((2, 2, 7, 7), np.float64)
    for op in (MaxPool2D(3, 2), MaxPool2D(2, 1)):
        assert not kernels.uses_kernel(op, x) and _callee(kernels, op) == op.forward
    xi = np.arange(32).reshape(1, 2, 4, 4)
    assert not kernels.uses_kernel(MaxPool2D(2, 2), xi)
    np.testing.assert_array_equal(_callee(kernels, MaxPool2D(2, 2))(xi), MaxPool2D(2, 2).forward(xi))
    g, w = np.ones((1, 3, 2, 2), np.float32), np.ones((3, 2, 2, 2))  # mixed dtypes
    op = Conv2DInputGrad(1, 0, 3, 3)
    assert not kernels.uses_kernel(op, g, w)
    np.testing.assert_array_equal(_callee(kernels, op)(g, w), op.forward(g, w))


def test_a_gradient_that_does_not_fit_the_image_is_an_error_not_a_write_past_the_end(kernels):
    op = Conv2DInputGrad(1, 0, 4, 4)
    with pytest.raises(ValueError, match="does not fit"):
        _callee(kernels, op)(np.ones((1, 3, 5, 5)), np.ones((3, 2, 3, 3)))


def _cnn(backend=None, batch=None):
    x, y = gc.Variable("x", (batch, 1, 12, 12)), gc.Variable("y", (batch,), "int64")
    w, Wl = gc.Variable("w", (4, 1, 3, 3)), gc.Variable("Wl", (4 * 5 * 5, 3))
    logits = gc.relu(gc.max_pool2d(gc.conv2d(x, w), 2)).reshape(-1, 100) @ Wl
    cost = gc.nn.cross_entropy(logits, y)
    outs = [cost, *gc.grad(cost, [x, w, Wl])]
    return outs, gc.compile(outs, [x, y, w, Wl], backend=backend), (x, y, w, Wl)


def test_a_cnn_step_gives_the_same_numbers_on_both_backends_and_when_interpreted(kernels):
    rng = np.random.default_rng(2)
    values = [rng.standard_normal((6, 1, 12, 12)), rng.integers(0, 3, 6), rng.standard_normal((4, 1, 3, 3)),
              rng.standard_normal((100, 3)) * 0.1]  # fmt: skip
    outs, f_numpy, inputs = _cnn()
    _, f_numba, _ = _cnn("numba")
    interpreted = gc.evaluate(outs, dict(zip(inputs, values)))
    for a, b, c in zip(f_numpy(*values), f_numba(*values), interpreted):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, c, rtol=1e-12, atol=1e-14)


# -- PyTorch ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, "numba"])
@pytest.mark.parametrize("s, p, xs, ws", [c for c in CONVS if c[2][0]])
def test_conv2d_and_its_gradients_against_pytorch(s, p, xs, ws, backend):
    torch = pytest.importorskip("torch")
    if backend:
        pytest.importorskip("numba")
    x, w, g = _data(xs, ws, s, p)
    X, W = gc.Variable("x", xs), gc.Variable("w", ws)
    y = gc.conv2d(X, W, stride=s, padding=p)
    f = gc.compile([y, *gc.grad((y * gc.constant(g)).sum(), [X, W])], [X, W], backend=backend)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, stride=s, padding=p)
    gx, gw = torch.autograd.grad((yt * torch.tensor(g)).sum(), [xt, wt])
    for got, want in zip(f(x, w), [yt.detach(), gx, gw]):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("backend", [None, "numba"])
@pytest.mark.parametrize("size, stride, shape", [(2, 2, (2, 3, 8, 6)), (2, 2, (1, 2, 7, 9)), (3, 2, (2, 2, 9, 7))])
def test_max_pool2d_and_its_gradient_against_pytorch(size, stride, shape, backend):
    """Distinct values (PyTorch sends a tied window's gradient to one element, graphcomp splits it)."""
    torch = pytest.importorskip("torch")
    if backend:
        pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.uniform(0, 1e-3, shape)
    X = gc.Variable("x", shape)
    y = gc.max_pool2d(X, size, stride)
    g = rng.standard_normal(y.shape)
    f = gc.compile([y, gc.grad((y * gc.constant(g)).sum(), X)], [X], backend=backend)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, size, stride)
    (gx,) = torch.autograd.grad((yt * torch.tensor(g)).sum(), [xt])
    got_y, got_g = f(x)
    np.testing.assert_array_equal(got_y, yt.detach().numpy())
    np.testing.assert_allclose(got_g, gx.numpy(), rtol=1e-15)
