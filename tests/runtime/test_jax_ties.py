"""Ties on the JAX backend: a max's gradient goes to the elements equal to the max
(``x == max(x)``), which holds only if the comparison reads the bits the max read.
XLA computes a cheap node again inside each fusion that reads it and may round the
copies differently (an FMA in one, a multiply and a subtract in the other), so the
JAX backend computes every operand of a comparison or a max once
(``graphcomp.runtime.backends.jax._materialised``).

The graphs here were found by the random-graph test (seed 290) or reduced from it:
without that, XLA on an FMA CPU lost two rows' max gradients (errors of 3% and 60%).
Values are checked against the NumPy backend and against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.autodiff.test_random_mixed_graphs import mixed_graph

jax = pytest.importorskip("jax")

# the inputs of seed 290's graph (inputs, not results: any values would do, these made XLA's copies differ)
X = np.array([0.10245280491179959, -0.07224664738073396, 0.6711727942339434, 0.23286529722776003])
W = np.array(
    [
        [0.712465599678585, 2.1609799667549474, -0.770992305670034, -0.3744150555437655],
        [-0.28388263352492704, 0.09614389759063378, -0.0956390009209689, 0.15957816007689232],
        [-0.6655407868042024, -0.33045214025823816, -2.0030937590778457, 0.8858547932195517],
        [-1.6336046159408921, -1.0782888453599595, -1.038391667529026, -0.7939325651555643],
    ]
)
w = np.array([[1.9780772470325938], [0.6215239106367355], [-0.22574326982531276], [-1.530686147737976]])


def _agree(got, want, rtol=1e-12):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(float(np.max(np.abs(want))), 1.0))


def test_random_graph_seed_290_computes_on_jax_what_numpy_computes():
    _, (cost, inputs), values = mixed_graph(290)
    outs = [cost, *gc.grad(cost, inputs, disconnected="zero")]
    want = gc.compile(outs, inputs)(*values)
    got = gc.compile(outs, inputs, backend="jax")(*values)
    for g, wv in zip(got, want):
        _agree(g, wv)


def _tie_cost(x):
    """Seed 290's graph by hand: the row maxima of s s^T - x (s = softmax(x)) and the matrix itself, weighted."""
    s = gc.softmax(x, axis=0)
    v = s.reshape((-1, 1)) * s - x
    return (v * W).sum() + (v.max(axis=1, keepdims=True) * w).sum()


def _tie_cost_numpy(x):
    e = np.exp(x - x.max())
    s = e / e.sum()
    v = s[:, None] * s - x
    return float((v * W).sum() + (v.max(axis=1, keepdims=True) * w).sum())


@pytest.mark.parametrize("shape", [(4,), (None,)], ids=["known", "unknown-length"])
def test_the_max_gradient_of_a_recomputed_matrix_reaches_every_row(shape):
    x = gc.Variable("x", shape)
    cost = _tie_cost(x)
    (g,) = gc.grad(cost, [x])
    want = gc.compile([cost, g], [x])(X)
    got = gc.compile([cost, g], [x], backend="jax")(X)
    _agree(got[0], want[0])
    _agree(got[1], want[1])
    # the row maxima are unique here, so the cost is smooth at X: central differences are an oracle
    h = 1e-6
    fd = [(_tie_cost_numpy(X + h * e) - _tie_cost_numpy(X - h * e)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(got[1], fd, rtol=1e-6, atol=1e-8)
    assert got[0] == pytest.approx(_tie_cost_numpy(X), rel=1e-12)


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.0])
def test_materialised_values_are_the_values(value):
    """The conditional's predicate holds for every value, NaN included: nothing is changed."""
    from graphcomp.runtime.backends.jax import _materialised

    a = np.array([value, -0.0, 1.5])
    with jax.enable_x64(True):
        got, same = jax.jit(lambda a, b: _materialised(a * 1.0, b))(a, a)
    np.testing.assert_array_equal(np.asarray(got), a)
    assert np.signbit(np.asarray(got)[1])
    np.testing.assert_array_equal(np.asarray(same), a)
    empty = jax.jit(lambda a: _materialised(a + 1.0)[0])(np.zeros((0, 3)))
    assert empty.shape == (0, 3)
