"""softmax, log_softmax, cross-entropy, sigmoid, softplus and logsumexp stay finite,
with correct gradients, for inputs of magnitude 1000 (closed forms as oracles)."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc

BIG = np.array([1000.0, -1000.0, 999.0, 0.0])


def _sm(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def _run(build, values):
    x = gc.Variable("x", values.shape)
    y = build(x)
    R = np.linspace(-1, 1, int(np.prod(y.shape)) or 1).reshape(y.shape)
    g = gc.grad((y * R).sum(), x)
    out, gv = gc.evaluate([y, g], {x: values}, check_finite=True)
    return out, gv, R


@pytest.mark.parametrize("values", [BIG, -BIG, BIG * 1.5])
def test_softmax_family(values):
    s = _sm(values)
    out, g, R = _run(gc.softmax, values)
    np.testing.assert_allclose(out, s, atol=1e-300)
    np.testing.assert_allclose(g, s * (R - (R * s).sum()), atol=1e-12)
    out, g, R = _run(gc.log_softmax, values)
    m = values.max()
    lse = m + np.log(np.exp(values - m).sum())
    np.testing.assert_allclose(out, values - lse)
    np.testing.assert_allclose(g, R - s * R.sum(), atol=1e-12)
    out, g, R = _run(gc.logsumexp, values)
    np.testing.assert_allclose(out, lse)
    np.testing.assert_allclose(g, R * s, atol=1e-12)


def test_cross_entropy_of_confident_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    labels = np.array([1, 2])
    x = gc.Variable("x", (2, 3))
    ce = -gc.log_softmax(x)[np.arange(2), labels].mean()
    v, g = gc.evaluate([ce, gc.grad(ce, x)], {x: logits}, check_finite=True)
    p = np.stack([_sm(r) for r in logits])
    lse = np.array([r.max() + np.log(np.exp(r - r.max()).sum()) for r in logits])
    np.testing.assert_allclose(v, np.mean(lse - logits[np.arange(2), labels]))
    np.testing.assert_allclose(g, (p - np.eye(3)[labels]) / 2, atol=1e-12)


@pytest.mark.parametrize("v", [1000.0, -1000.0, 710.0, -745.0])
def test_sigmoid_and_softplus(v):
    values = np.array([v])
    s = 0.5 * (1 + np.tanh(v / 2))  # closed form that cannot overflow
    out, g, R = _run(gc.sigmoid, values)
    np.testing.assert_allclose(out, [s], atol=1e-300)  # e**-745 is a denormal either way
    np.testing.assert_allclose(g, R * s * (1 - s), atol=1e-300)
    out, g, R = _run(gc.softplus, values)
    np.testing.assert_allclose(out, [max(v, 0) + np.log1p(np.exp(-abs(v)))])
    np.testing.assert_allclose(g, R * s, atol=1e-300)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_family_over_an_empty_axis(dtype):
    """logsumexp of no terms is log(0) = -inf, softmax of no entries is empty (as PyTorch
    and scipy); NumPy's maximum, which the stable forms start from, refused an empty axis."""
    x = gc.Variable("x", (3, None), dtype)
    v = np.zeros((3, 0), dtype)
    lse, sm, lsm = gc.logsumexp(x, axis=1), gc.softmax(x, axis=1), gc.log_softmax(x, axis=1)
    cost = gc.sum(sm) + gc.sum(lsm) + gc.sum(gc.logsumexp(x, axis=1, keepdims=True) * 0.0)
    for got in (gc.evaluate([lse, sm, lsm, gc.grad(cost, x)], {x: v}), gc.compile([lse, sm, lsm, gc.grad(cost, x)])(v)):
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(got[0], np.log(np.exp(v).sum(axis=1)))
        assert got[0].dtype == dtype and np.all(np.isneginf(got[0]))
        for a in got[1:]:
            assert a.shape == (3, 0) and a.dtype == dtype
