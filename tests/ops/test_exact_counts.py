"""Counts, sizes and normalisers are exact, then cast (issue 14, item 6): the number of
ties of a max or min, the size of a mean (known or unknown), the batch of a
cross-entropy, the ties of a max-pool window.

Oracles: closed forms computed in float64 (or exactly with fractions) and rounded
once to the dtype; NumPy's own ``mean`` for float16 (which sums in float32).
"""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.ops.softmax import CrossEntropyGrad

N = 70000  # more than float16's largest number, 65504


def _both(outputs, inputs, values):
    """evaluate's and compile's results, which must be equal here."""
    a = gc.evaluate(outputs, dict(zip(inputs, values)))
    b = gc.compile(outputs, inputs)(*values)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    return a


@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("shape", [(N,), (None,)])
def test_float16_ties_share_the_gradient_by_an_exact_count(reduce, shape):
    """The handed input: the gradient of max over 70000 equal float16 values is
    float16(1/70000) = 1.4305e-05 each (representable), not 0 (a float16 count is inf)."""
    t = gc.Variable("t", shape, "float16")
    y = getattr(t, reduce)()
    (g,) = _both([gc.grad(y, t)], [t], [np.ones(N, np.float16)])
    assert g.dtype == np.float16
    np.testing.assert_array_equal(g, np.float16(1 / N))


def test_ties_along_an_axis_with_keepdims():
    t = gc.Variable("t", (2, N), "float16")
    v = np.ones((2, N), np.float16)
    v[1, :3] = 2.0  # three ties in row 1, N in row 0
    (g,) = _both([gc.grad(gc.sum(gc.max(t, axis=1, keepdims=True)), t)], [t], [v])
    want = np.zeros((2, N), np.float16)
    want[0] = np.float16(1 / N)
    want[1, :3] = np.float16(1 / 3)
    np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("shape", [(N,), (None,)])
def test_a_float16_mean_sums_in_float32_and_divides_by_an_exact_size(shape):
    """NumPy's np.mean of float16 (float32 intermediates) gives 1.0 for 70000 ones; the
    gradient is float16(1/70000)."""
    t = gc.Variable("t", shape, "float16")
    v = np.ones(N, np.float16)
    m, g = _both([t.mean(), gc.grad(t.mean(), t)], [t], [v])
    assert m.dtype == np.float16 and g.dtype == np.float16
    assert m == np.mean(v) == 1.0
    np.testing.assert_array_equal(g, np.float16(1 / N))


@pytest.mark.parametrize("shape", [(2**24 + 1,), (None,)])
def test_a_float32_mean_over_more_than_2_to_24_elements(shape):
    """2**24 + 1 is not a float32: the gradient is float32(1 / (2**24 + 1)), one ulp
    below float32(1 / 2**24)."""
    n = 2**24 + 1
    t = gc.Variable("t", shape, "float32")
    (g,) = _both([gc.grad(t.mean(), t)], [t], [np.zeros(n, np.float32)])
    want = np.float32(1 / n)
    assert want != np.float32(1 / 2**24)
    assert g.dtype == np.float32 and g[0] == want and g[-1] == want


def test_float16_cross_entropy_over_a_batch_of_70000():
    """Zero logits, two classes, labels 0: the loss is log 2 and the gradient
    (softmax - one_hot) / batch = (-0.5, 0.5) / 70000, each rounded once to float16;
    cross_entropy_grad's own bprop divides by the batch too, rounding once."""
    z = gc.Variable("z", (None, 2), "float16")
    y = gc.Variable("y", (None,), "int64")
    zv, yv = np.zeros((N, 2), np.float16), np.zeros(N, np.int64)
    ce = gc.nn.cross_entropy(z, y)
    dz = gc.grad(ce, z)
    U = gc.constant(np.full((N, 2), 60000.0, np.float16))
    value, grad = _both([ce, dz], [z, y], [zv, yv])
    assert value.dtype == np.float16 and value == np.float16(np.log(2.0))
    np.testing.assert_array_equal(grad[:, 0], np.float16(-0.5 / N))
    np.testing.assert_array_equal(grad[:, 1], np.float16(0.5 / N))
    # cross_entropy_grad (what compile writes for dz): d/dlsm of sum(U * dz) = U * softmax / batch
    lsm = ce.owner.inputs[1]
    closed = CrossEntropyGrad()(lsm, y)
    (dlsm,) = _both([gc.grad(gc.sum(closed * U), lsm)], [z, y], [zv, yv])
    np.testing.assert_array_equal(dlsm, np.float16(60000.0 * 0.5 / N))
    # dz as gc.grad built it (log_softmax_grad of the picks -1/batch, each the exact quotient cast
    # to float16, a subnormal there): its derivative is U * softmax times that cast quotient,
    # one float16 product
    (dlsm,) = _both([gc.grad(gc.sum(dz * U), lsm)], [z, y], [zv, yv])
    np.testing.assert_array_equal(dlsm, np.float16(30000.0 * float(np.float16(1 / N))))


def test_max_pool_ties_are_counted_without_overflow():
    """A 182 x 182 window of equal values has 33124 ties, more than an int16 holds: each
    gets 1/33124 of the gradient; the route back (second order) keeps float16."""
    x = gc.Variable("x", (1, 1, 182, 182), "float16")
    v = np.ones((1, 1, 182, 182), np.float16)
    pooled = gc.max_pool2d(x, 182)
    (g,) = _both([gc.grad(gc.sum(pooled), x)], [x], [v])
    np.testing.assert_array_equal(g, np.float16(1 / 33124))
    # second order: d/dx of sum(u * d/dx sum(pooled**2)) = 2 * route(u) routed again:
    # u = 1 everywhere gives 2 * (33124 * 1/33124) / 33124 = 2/33124 each, in float16
    u = gc.Variable("u", (1, 1, 182, 182), "float16")
    hvp = gc.grad(gc.sum(gc.grad(gc.sum(pooled * pooled), x) * u), x)
    (h,) = _both([hvp], [x, u], [v, v])
    assert h.dtype == np.float16
    np.testing.assert_allclose(h.astype(float), 2 / 33124, rtol=2e-3)
