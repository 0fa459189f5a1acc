"""The Python-float fast path of an all-scalar float64 graph takes every argument type a
user passes (Python floats and ints, NumPy float scalars, 0-d arrays) with the same
results and the same errors as the NumPy code it stands in for."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def _seed_example():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    return [y, *gc.grad(y, [x, z])], [x, z]


KINDS = {
    "float": float,
    "int": int,
    "np.float64": np.float64,
    "np.float32": np.float32,
    "0-d float64": lambda v: np.array(v, dtype=np.float64),
    "0-d float32": lambda v: np.array(v, dtype=np.float32),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_scalar_type_gives_what_the_interpreter_gives_through_the_fast_path(kind, monkeypatch):
    outs, ins = _seed_example()
    f = gc.compile(outs, ins)
    make = KINDS[kind]
    x, z = make(2), make(3)
    want = gc.evaluate(outs, {ins[0]: x, ins[1]: z})
    calls = []
    fast = f._scalar.fn
    monkeypatch.setattr(f._scalar, "fn", lambda *a: calls.append(a) or fast(*a))
    got = f(x, z)
    assert calls, f"{kind} did not take the Python-float path"
    assert all(type(v) is float for v in calls[0])
    for g, w in zip(got, want):
        assert type(g) is np.float64
        assert g == pytest.approx(float(w), rel=1e-15)


def test_the_fast_path_agrees_with_the_numpy_code_bit_for_bit_where_math_and_numpy_agree():
    x = gc.Variable("x")
    y = x * x + 3.0 * x - 1.5
    f = gc.compile([y, gc.grad(y, x)], [x])
    for v in (0.1, -2.5, 7.0):
        np.testing.assert_array_equal(f(np.float64(v)), gc.evaluate([y, gc.grad(y, x)], {x: v}))


def test_values_math_refuses_fall_back_to_numpy_semantics():
    x = gc.Variable("x")
    f = gc.compile(gc.log(x), [x])
    with np.errstate(divide="ignore"):
        for v in (0.0, np.float64(0.0), np.array(0.0), np.float32(0.0)):
            assert f(v) == -np.inf  # math.log(0) raises; NumPy gives -inf


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.ones(2), gc.InputError),
        ("2.0", gc.InputTypeError),
        (np.array(2.0 + 1j), gc.InputTypeError),
        (2**60 + 1, None),  # an int no float64 holds exactly: the NumPy path's conversion decides
    ],
)
def test_what_the_fast_path_does_not_take_gets_the_numpy_paths_checks(bad, error):
    x = gc.Variable("x")
    f = gc.compile(x * 2.0, [x])
    if error is None:
        assert f(bad) == np.float64(bad) * 2.0
    else:
        with pytest.raises(error):
            f(bad)
