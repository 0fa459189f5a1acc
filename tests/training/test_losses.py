"""mse and binary_cross_entropy_with_logits: values and gradients against closed forms
(mpmath at 50 digits where floats would cancel), finite differences and PyTorch."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd


def _bce_exact(z, y):
    """Mean of log(1 + e^z) - y z, and its gradient (sigmoid(z) - y) / n, at 50 digits."""
    with mpmath.workdps(50):
        return _bce_mp(z, y)


def _bce_mp(z, y):
    n = len(z)
    loss = sum(mpmath.log1p(mpmath.exp(mpmath.mpf(float(a)))) - mpmath.mpf(float(b)) * float(a) for a, b in zip(z, y))
    grad = [(1 / (1 + mpmath.exp(-mpmath.mpf(float(a)))) - mpmath.mpf(float(b))) / n for a, b in zip(z, y)]
    return float(loss / n), np.array([float(g) for g in grad])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_with_logits_is_finite_and_exact_at_logits_of_plus_minus_1000(dtype):
    zv = np.array([1000.0, -1000.0, 1000.0, -1000.0, 1000.0, -1000.0, 40.0, -40.0, 0.0], dtype)
    yv = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.7, 1.0, 0.0, 1.0], dtype)
    z, y = gc.Variable("z", (None,), dtype), gc.Variable("y", (None,), dtype)
    bce = gc.nn.binary_cross_entropy_with_logits(z, y)
    for value, grad in (
        gc.evaluate([bce, gc.grad(bce, z)], {z: zv, y: yv}),
        gc.compile([bce, gc.grad(bce, z)], [z, y])(zv, yv),
    ):
        assert value.dtype == np.dtype(dtype) and grad.dtype == np.dtype(dtype)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        want_value, want_grad = _bce_exact(zv, yv)
        rtol = 1e-15 if dtype == "float64" else 1e-6
        assert float(value) == pytest.approx(want_value, rel=rtol)
        np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=1e-30)


def test_bce_confident_right_answers_cost_their_tiny_true_value_not_zero():
    """softplus(-40) = 4.2e-18: written as softplus(z) - y z, it would cancel to 0."""
    z = gc.Variable("z", (2,))
    got = gc.evaluate(gc.nn.binary_cross_entropy_with_logits(z, [1.0, 0.0]), {z: [40.0, -40.0]})
    with mpmath.workdps(50):
        want = float(mpmath.log1p(mpmath.exp(-40)))
    assert float(got) == pytest.approx(want, rel=1e-14)


def test_bce_gradients_match_finite_differences_for_logits_and_soft_targets():
    rng = np.random.default_rng(0)
    z, y = gc.Variable("z", (3, 4)), gc.Variable("y", (3, 4))
    cost = gc.nn.binary_cross_entropy_with_logits(z, y, pos_weight=np.array([1.0, 2.0, 0.5, 3.0]))
    assert_grads_match_fd(cost, [z, y], [rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))], [0, 1], rng)
    assert_grads_match_fd(cost, [z, y], [rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))], [0, 1], rng)


def test_bce_and_mse_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    zv, yv, pw = rng.standard_normal((5, 3)) * 4, rng.uniform(0, 1, (5, 3)), np.array([0.5, 2.0, 1.0])
    z, y = gc.Variable("z", (None, 3)), gc.Variable("y", (None, 3))
    for ours, theirs in (
        (gc.nn.binary_cross_entropy_with_logits(z, y), lambda a, b: F.binary_cross_entropy_with_logits(a, b)),
        (
            gc.nn.binary_cross_entropy_with_logits(z, y, pos_weight=pw),
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=torch.from_numpy(pw)),
        ),
        (gc.nn.mse(z, y), F.mse_loss),
    ):
        value, gz, gy = gc.evaluate([ours, *gc.grad(ours, [z, y])], {z: zv, y: yv})
        zt, yt = torch.tensor(zv, requires_grad=True), torch.tensor(yv, requires_grad=True)
        lt = theirs(zt, yt)
        lt.backward()
        assert float(value) == pytest.approx(lt.item(), rel=1e-14)
        np.testing.assert_allclose(gz, zt.grad.numpy(), rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(gy, yt.grad.numpy(), rtol=1e-13, atol=1e-16)


def test_mse_against_its_closed_form_and_its_gradient():
    rng = np.random.default_rng(2)
    pv, tv = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    p, t = gc.Variable("p", (None, 2)), gc.Variable("t", (None, 2))
    loss = gc.nn.mse(p, t)
    value, gp = gc.evaluate([loss, gc.grad(loss, p)], {p: pv, t: tv})
    assert float(value) == pytest.approx(np.mean((pv - tv) ** 2), rel=1e-15)
    np.testing.assert_allclose(gp, 2 * (pv - tv) / pv.size, rtol=1e-15)


def test_bool_and_int_targets_are_taken_as_labels():
    z = gc.Variable("z", (3,), "float32")
    loss = gc.nn.binary_cross_entropy_with_logits(z, np.array([True, False, True]))
    assert loss.dtype == np.float32
    want, _ = _bce_exact([0.5, 0.5, -2.0], [1.0, 0.0, 1.0])
    assert float(gc.evaluate(loss, {z: np.array([0.5, 0.5, -2.0], np.float32)})) == pytest.approx(want, rel=1e-6)


def test_shapes_that_would_broadcast_and_integer_logits_are_refused_naming_the_line():
    with pytest.raises(
        gc.ShapeError, match=r"mse: pred has shape \(None, 1\) and target \(None,\).*built at test_losses"
    ):
        gc.nn.mse(gc.Variable("p", (None, 1)), gc.Variable("t", (None,)))
    with pytest.raises(gc.ShapeError, match=r"logits has shape \(3,\) and target \(4,\)"):
        gc.nn.binary_cross_entropy_with_logits(gc.Variable("z", (3,)), np.zeros(4))
    with pytest.raises(gc.DTypeError, match=r"logits must be floats, got z of dtype int64"):
        gc.nn.binary_cross_entropy_with_logits(gc.Variable("z", (3,), "int64"), np.zeros(3))
