"""A Variable has the numpy.ndarray methods of the ops that exist (x.prod(), x.var(ddof=1),
x.argmax(1), x.cumsum(), x.clip(0, 1), x.flatten(), ...), with NumPy's method signatures.
Oracles: the same method of a NumPy array of the fed values; the gradients against central
finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd

VALUES = np.array([[0.5, -1.5, 2.0], [3.0, 0.25, -0.75]])

#: method call on a Variable or an array alike, and whether it carries a gradient
CASES = {
    "prod()": (lambda a: a.prod(), True),
    "prod(axis=1, keepdims=True)": (lambda a: a.prod(axis=1, keepdims=True), True),
    "var()": (lambda a: a.var(), True),
    "var(0, ddof=1)": (lambda a: a.var(0, ddof=1), True),
    "std(1, keepdims=True)": (lambda a: a.std(1, keepdims=True), True),
    "std(ddof=1)": (lambda a: a.std(ddof=1), True),
    "argmax()": (lambda a: a.argmax(), False),
    "argmax(1)": (lambda a: a.argmax(1), False),
    "argmin(axis=0, keepdims=True)": (lambda a: a.argmin(axis=0, keepdims=True), False),
    "cumsum()": (lambda a: a.cumsum(), True),
    "cumsum(1)": (lambda a: a.cumsum(1), True),
    "clip(0, 1)": (lambda a: a.clip(0.0, 1.0), True),
    "clip(max=1)": (lambda a: a.clip(max=1.0), True),
    "clip(min=-1)": (lambda a: a.clip(min=-1.0), True),
    "round()": (lambda a: a.round(), True),
    "dot(v)": (lambda a: a.dot(np.array([1.0, -2.0, 0.5])), True),
    "flatten()": (lambda a: a.flatten(), True),
    "ravel()": (lambda a: a.ravel(), True),
    "swapaxes(0, 1)": (lambda a: a.swapaxes(0, 1), True),
    "swapaxes(-1, 0)": (lambda a: a.swapaxes(-1, 0), True),
    "reshape(3, 1, 2).squeeze(1)": (lambda a: a.reshape(3, 1, 2).squeeze(1), True),
    "reshape(1, 6).squeeze()": (lambda a: a.reshape(1, 6).squeeze(), True),
}


@pytest.mark.parametrize("call", sorted(CASES))
def test_each_method_computes_what_numpys_method_computes(call):
    method, _ = CASES[call]
    for shape in ((2, 3), (None, 3)):
        x = gc.Variable("x", shape)
        y = method(x)
        want = method(VALUES)
        got = gc.evaluate(y, {x: VALUES})
        assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype, call
        assert np.allclose(got, want, rtol=1e-14, atol=0), call
        assert np.allclose(gc.compile(y, [x])(VALUES), want, rtol=1e-14, atol=0), call


@pytest.mark.parametrize("call", sorted(c for c in CASES if CASES[c][1]))
def test_the_gradients_of_the_methods_match_finite_differences(call):
    method, _ = CASES[call]
    x = gc.Variable("x", (2, 3))
    rng = np.random.default_rng(0)
    y = method(x)
    cost = (gc.sin(y) * rng.standard_normal(y.shape)).sum()
    assert_grads_match_fd(cost, [x], [VALUES + 0.01 * rng.standard_normal((2, 3))], [0], rng)


def test_the_methods_raise_graphcomp_errors_naming_themselves():
    x = gc.Variable("x", (2, 3))
    with pytest.raises(gc.ArgumentError, match=r"round: decimals must be 0.*got 2"):
        x.round(2)
    with pytest.raises(gc.ArgumentError, match=r"swapaxes: axis2 must be an axis of a 2-d array, got 2"):
        x.swapaxes(0, 2)
    with pytest.raises(gc.ArgumentError, match=r"var: keepdims must be True or False, got 'yes'"):
        x.var(keepdims="yes")
    with pytest.raises(gc.ArgumentError, match=r"argmax: axis must be an int or None"):
        x.argmax((0, 1))
    with pytest.raises(gc.ShapeError, match=r"squeeze"):
        x.squeeze(0)
