"""batch_norm and layer_norm: values against NumPy's closed form, gradients against finite
differences and PyTorch, running statistics and the inference function against PyTorch's
BatchNorm buffers and their closed form."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd

EPS = 1e-5


def _np_norm(x, axes, gamma_b, beta_b, eps=EPS):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma_b + beta_b


# (x shape, batch_norm axis, the shape gamma broadcasts as)
BN_CASES = [((6, 3), 0, (3,)), ((4, 3, 5, 5), (0, 2, 3), (3, 1, 1)), ((5, 2, 7), (0, 2), (2, 1))]
# (x shape, layer_norm axis, the shape gamma broadcasts as)
LN_CASES = [((4, 6), -1, (6,)), ((3, 4, 5), (-2, -1), (4, 5)), ((3, 4, 5), 1, (4, 1))]


def _case(shape, gshape, seed=0):
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal(shape) * 2 + 1
    feat = tuple(d for d in gshape if d != 1)
    return rng, xv, rng.standard_normal(feat), rng.standard_normal(feat)


@pytest.mark.parametrize("shape,axis,gshape", BN_CASES)
def test_batch_norm_values_and_gradients_against_numpy_and_finite_differences(shape, axis, gshape):
    rng, xv, gv, bv = _case(shape, gshape)
    x, g, b = gc.Variable("x", (None, *shape[1:])), gc.Variable("g", gv.shape), gc.Variable("b", bv.shape)
    y = gc.nn.batch_norm(x, g, b, axis=axis)
    axes = axis if isinstance(axis, tuple) else (axis,)
    want = _np_norm(xv, axes, gv.reshape(gshape), bv.reshape(gshape))
    np.testing.assert_allclose(gc.evaluate(y, {x: xv, g: gv, b: bv}), want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gc.compile(y, [x, g, b])(xv, gv, bv), want, rtol=1e-13, atol=1e-13)
    R = rng.standard_normal(shape)
    cost = gc.sum(gc.tanh(y) * R)  # nonlinear, so the gradient of the normalisation is not trivially zero
    assert_grads_match_fd(cost, [x, g, b], [xv, gv, bv], [0, 1, 2], rng)


@pytest.mark.parametrize("shape,axis,gshape", LN_CASES)
def test_layer_norm_values_and_gradients_against_numpy_and_finite_differences(shape, axis, gshape):
    rng, xv, gv, bv = _case(shape, gshape, seed=1)
    x, g, b = gc.Variable("x", (None, *shape[1:])), gc.Variable("g", gv.shape), gc.Variable("b", bv.shape)
    y = gc.nn.layer_norm(x, g, b, axis=axis)
    axes = axis if isinstance(axis, tuple) else (axis,)
    want = _np_norm(xv, axes, gv.reshape(gshape), bv.reshape(gshape))
    np.testing.assert_allclose(gc.evaluate(y, {x: xv, g: gv, b: bv}), want, rtol=1e-13, atol=1e-13)
    cost = gc.sum(gc.tanh(y) * rng.standard_normal(shape))
    assert_grads_match_fd(cost, [x, g, b], [xv, gv, bv], [0, 1, 2], rng)


def _grads_vs_torch(torch, ours, theirs, xv, gv, bv, shape):
    x, g, b = gc.Variable("x", (None, *shape[1:])), gc.Variable("g", gv.shape), gc.Variable("b", bv.shape)
    R = np.random.default_rng(5).standard_normal(shape)
    y = ours(x, g, b)
    cost = gc.sum(y * y * R)
    got = gc.evaluate([y, *gc.grad(cost, [x, g, b])], {x: xv, g: gv, b: bv})
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (xv, gv, bv))
    yt = theirs(xt, gt, bt)
    (yt * yt * torch.from_numpy(R)).sum().backward()
    for mine, want in zip(got, [yt.detach(), xt.grad, gt.grad, bt.grad]):
        np.testing.assert_allclose(mine, want.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("shape,axis,gshape", BN_CASES)
def test_batch_norm_values_and_gradients_match_torch_training_mode(shape, axis, gshape):
    torch = pytest.importorskip("torch")
    _, xv, gv, bv = _case(shape, gshape)
    F = torch.nn.functional  # per channel of (N, C, ...): our axes (0, 2, ...)
    _grads_vs_torch(
        torch,
        lambda x, g, b: gc.nn.batch_norm(x, g, b, axis=axis),
        lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=EPS),
        xv,
        gv,
        bv,
        shape,
    )


@pytest.mark.parametrize("shape,axis,gshape", LN_CASES[:2])
def test_layer_norm_values_and_gradients_match_torch(shape, axis, gshape):
    torch = pytest.importorskip("torch")
    _, xv, gv, bv = _case(shape, gshape, seed=1)
    _grads_vs_torch(
        torch,
        lambda x, g, b: gc.nn.layer_norm(x, g, b, axis=axis),
        lambda x, g, b: torch.nn.functional.layer_norm(x, gv.shape, g, b, eps=EPS),
        xv,
        gv,
        bv,
        shape,
    )


def _train_and_predict(shape, axis, batches, known_batch):
    """Three training calls updating the running statistics, then the inference function."""
    C = shape[1]
    x = gc.Variable("x", shape if known_batch else (None, *shape[1:]))
    g, b = gc.Parameter(np.linspace(0.5, 1.5, C), "g"), gc.Parameter(np.linspace(-1, 1, C), "b")
    stats = gc.nn.RunningStats((C,))

    def model(x, training):
        return gc.nn.batch_norm(x, g, b, axis=axis, running=stats, training=training)

    train = gc.compile(model(x, True), [x], updates=stats.updates)
    outs = [train(xb) for xb in batches]
    predict = gc.compile(model(x, False), [x])
    return outs, stats, predict(batches[0]), g.get_value(), b.get_value()


@pytest.mark.parametrize("known_batch", [True, False], ids=["known-batch", "unknown-batch"])
@pytest.mark.parametrize("shape,axis", [((6, 3), 0), ((4, 3, 2, 5), (0, 2, 3))])
def test_running_statistics_and_the_inference_function_follow_the_closed_form(shape, axis, known_batch):
    rng = np.random.default_rng(7)
    batches = [rng.standard_normal(shape) * (k + 1) + k for k in range(3)]
    axes = axis if isinstance(axis, tuple) else (axis,)
    _, stats, predicted, gv, bv = _train_and_predict(shape, axis, batches, known_batch)
    n = np.prod([shape[a] for a in axes])
    rm, rv = np.zeros(shape[1]), np.ones(shape[1])
    for xb in batches:
        rm = 0.9 * rm + 0.1 * xb.mean(axis=axes)
        rv = 0.9 * rv + 0.1 * xb.var(axis=axes) * n / (n - 1)  # PyTorch's unbiased running variance
    np.testing.assert_allclose(stats.mean.value, rm, rtol=1e-14)
    np.testing.assert_allclose(stats.var.value, rv, rtol=1e-14)
    bshape = (shape[1],) + (1,) * (len(shape) - 2)
    want = (batches[0] - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + EPS) * gv.reshape(bshape)
    np.testing.assert_allclose(predicted, want + bv.reshape(bshape), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape,axis", [((6, 3), 0), ((4, 3, 2, 5), (0, 2, 3))])
def test_running_statistics_and_inference_match_torch_batch_norm(shape, axis):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    batches = [rng.standard_normal(shape) * (k + 1) + k for k in range(3)]
    outs, stats, predicted, gv, bv = _train_and_predict(shape, axis, batches, known_batch=False)
    rm, rv = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    w, b = torch.from_numpy(gv), torch.from_numpy(bv)
    F = torch.nn.functional
    for out, xb in zip(outs, batches):
        want = F.batch_norm(torch.from_numpy(xb), rm, rv, w, b, training=True, momentum=0.1, eps=EPS)
        np.testing.assert_allclose(out, want.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.mean.value, rm.numpy(), rtol=1e-13)
    np.testing.assert_allclose(stats.var.value, rv.numpy(), rtol=1e-13)
    want = F.batch_norm(torch.from_numpy(batches[0]), rm, rv, w, b, training=False, eps=EPS)
    np.testing.assert_allclose(predicted, want.numpy(), rtol=1e-12, atol=1e-12)


def test_a_batch_norm_mlp_trains_with_adam_and_its_statistics_in_one_step():
    """The optimiser's and the statistics' updates compile together: one call, one step of each."""
    rng = np.random.default_rng(9)
    X, Y = rng.standard_normal((32, 4)), rng.integers(0, 2, 32)
    x, y = gc.Variable("x", (None, 4)), gc.Variable("y", (None,), "int64")
    W1 = gc.Parameter(gc.nn.init.kaiming_uniform((4, 8), rng=rng), "W1")
    W2 = gc.Parameter(gc.nn.init.xavier_uniform((8, 2), rng=rng), "W2")
    g, b = gc.Parameter(np.ones(8), "g"), gc.Parameter(np.zeros(8), "b")
    stats = gc.nn.RunningStats((8,))
    cost = gc.nn.cross_entropy(gc.relu(gc.nn.batch_norm(x @ W1, g, b, running=stats)) @ W2, y)
    step = gc.compile(cost, [x, y], updates={**gc.optim.adam(cost, [W1, W2, g, b], lr=0.05), **stats.updates})
    losses = [float(step(X, Y)) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert not np.allclose(stats.mean.value, 0.0)  # the statistics moved with the steps


def test_float32_inputs_stay_float32():
    x = gc.Variable("x", (None, 3), "float32")
    g = gc.Parameter(np.ones(3, np.float32), "g")
    y = gc.nn.batch_norm(x, g, None)
    assert y.dtype == np.float32 and gc.nn.layer_norm(x, g, None).dtype == np.float32
    xv = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(gc.evaluate(y, {x: xv}), _np_norm(xv.astype(float), (0,), 1.0, 0.0), rtol=1e-5)


def test_bad_arguments_are_refused_naming_the_shapes_and_the_line():
    x = gc.Variable("x", (None, 3, 4, 4))
    with pytest.raises(gc.ShapeError, match=r"gamma must have shape \(3,\).*got g of shape \(4,\).*test_norm"):
        gc.nn.batch_norm(x, gc.Variable("g", (4,)), None, axis=(0, 2, 3))
    with pytest.raises(gc.ShapeError, match=r"beta must have shape \(4, 4\)"):
        gc.nn.layer_norm(x, None, np.zeros(4), axis=(2, 3))
    with pytest.raises(gc.ShapeError, match=r"axis 4 is out of range for an input of 4 dimension"):
        gc.nn.layer_norm(x, None, None, axis=4)
    with pytest.raises(gc.ShapeError, match=r"repeats an axis"):
        gc.nn.batch_norm(x, None, None, axis=(0, -4))
    with pytest.raises(gc.ArgumentError, match=r"training=False normalises with running statistics"):
        gc.nn.batch_norm(x, None, None, axis=(0, 2, 3), training=False)
    with pytest.raises(gc.ArgumentError, match=r"eps must be a number >= 0"):
        gc.nn.layer_norm(x, None, None, eps=-1.0)
    stats = gc.nn.RunningStats(3)
    with pytest.raises(gc.ShapeError, match=r"running statistics of shape \(3,\) do not fit the features \(4,\)"):
        gc.nn.batch_norm(gc.Variable("h", (None, 4)), None, None, running=stats)
    gc.nn.batch_norm(x, None, None, axis=(0, 2, 3), running=stats)
    with pytest.raises(gc.ArgumentError, match=r"already holds the updates of the batch_norm built at test_norm.py"):
        gc.nn.batch_norm(x, None, None, axis=(0, 2, 3), running=stats)
    with pytest.raises(gc.ArgumentError, match=r"1 value per feature.*at least 2"):
        gc.nn.batch_norm(gc.Variable("h", (1, 3)), None, None, running=gc.nn.RunningStats(3))
    with pytest.raises(gc.ArgumentError, match=r"momentum must be a number in \[0, 1\]"):
        gc.nn.RunningStats(3, momentum=2.0)
