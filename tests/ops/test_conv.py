"""conv2d and max_pool2d beyond the spec table: batch of unknown size, the tie rule,
and second order through conv2d."""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from tests.helpers import assert_grads_match_fd
from tests.ops.spec import _conv_loop


def test_conv2d_with_an_unknown_batch_runs_and_differentiates():
    x, w = gc.Variable("x", (None, 2, 5, 5)), gc.Variable("w", (3, 2, 3, 3))
    y = gc.conv2d(x, w, stride=2, padding=1)
    assert y.shape == (None, 3, 3, 3)
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal((4, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(gc.evaluate(y, {x: xv, w: wv}), _conv_loop(xv, wv, 2, 1), atol=1e-12)
    R = gc.constant(rng.standard_normal((4, 3, 3, 3)))
    assert_grads_match_fd((y * R).sum(), [x, w], [xv, wv], [0, 1], rng)


def test_tied_maxima_share_the_gradient_evenly():
    x = gc.Variable("x", (1, 1, 2, 4))
    xv = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]])  # window 1: two 3s; window 2: four 2s
    g = gc.evaluate(gc.grad(gc.max_pool2d(x).sum(), x), {x: xv})
    np.testing.assert_array_equal(g, [[[[0, 0.5, 0.25, 0.25], [0.5, 0, 0.25, 0.25]]]])


def test_second_order_through_conv2d():
    """d/dw of <grad_x conv(x, w)^2, U> against finite differences: conv's input
    gradient (a transposed convolution) is itself differentiated."""
    rng = np.random.default_rng(1)
    x, w = gc.Variable("x", (1, 2, 5, 4)), gc.Variable("w", (2, 2, 2, 3))
    y = gc.conv2d(x, w, stride=1, padding=1)
    gx = gc.grad((y * y).sum(), x)
    inner = (gx * gc.constant(rng.standard_normal((1, 2, 5, 4)))).sum()
    xv, wv = rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((2, 2, 2, 3))
    assert_grads_match_fd(inner, [x, w], [xv, wv], [0, 1], rng, eps=1e-5, rtol=1e-5)


def test_bad_shapes_are_refused_when_built():
    import pytest

    with pytest.raises(gc.ShapeError, match=r"conv2d: input shape \(2, 3, 5, 5\) has 3 channels.*expect 2"):
        gc.conv2d(gc.Variable("x", (2, 3, 5, 5)), gc.Variable("w", (4, 2, 3, 3)))
    with pytest.raises(gc.ShapeError, match="does not fit"):
        gc.max_pool2d(gc.Variable("x", (1, 1, 1, 5)), 2)


def test_unknown_height_and_width_differentiate_at_every_input_size():
    """With a stride, G's size does not say which input size it came from (7 and 8
    rows both give 4 outputs): the input gradient reads x's size when it runs."""
    x, w = gc.Variable("x", (2, 3, None, None)), gc.Variable("w", (4, 3, 3, 3))
    y = gc.conv2d(x, w, stride=2, padding=1)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3, 3, 3))
    for hw in ((7, 6), (8, 5)):
        X = rng.standard_normal((2, 3, *hw))
        R = gc.constant(rng.standard_normal(_conv_loop(X, W, 2, 1).shape))
        cost = (y * R).sum()
        dx, dw = gc.compile(gc.grad(cost, [x, w]), [x, w])(X, W)
        assert dx.shape == X.shape and dw.shape == W.shape
        assert_grads_match_fd(cost, [x, w], [X, W], [0, 1], rng)
        # the same gradient as a graph built with the sizes known
        xs = gc.Variable("xs", X.shape)
        known = gc.grad((gc.conv2d(xs, w, stride=2, padding=1) * R).sum(), xs)
        np.testing.assert_allclose(dx, gc.evaluate(known, {xs: X, w: W}), rtol=1e-12, atol=1e-12)
