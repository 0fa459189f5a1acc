"""A Python number in a loop's init is weak (NEP 50, JAX's weak types): the carry
takes the dtype its new carry has next to the body's typed values. Oracles: the
same body run by a Python loop over NumPy arrays starting from the Python number
(NumPy's own promotion decides each step's dtype), and ``jax.lax.scan`` with x64
where JAX is installed."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.loops.common import assert_close

RNG = np.random.default_rng(7)


def _numpy_loop(body, init, xs):
    """The final carry of ``body`` run by a Python loop from the Python value ``init``."""
    carry = init
    for t in range(len(xs)):
        carry = body(np, carry, xs[t])
    return carry


def _dtypes(carry) -> list:
    return [np.asarray(c).dtype for c in (carry if isinstance(carry, tuple) else (carry,))]


# (name, body(m, carry, x) -> new carry written for graphcomp and NumPy alike, init, xs dtype)
CASES = [
    ("float init, float32 xs", lambda m, c, x: c + x, 0.0, "float32"),
    ("float init, float16 xs", lambda m, c, x: c * 0.5 + x, 0.0, "float16"),
    ("float init, float64 xs", lambda m, c, x: c + x, 0.0, "float64"),
    ("int init, float32 xs", lambda m, c, x: c * x + 1, 1, "float32"),
    ("int init, int8 xs", lambda m, c, x: c + x, 0, "int8"),
    ("int init, uint8 xs", lambda m, c, x: c + x, 0, "uint8"),
    ("int init wider than int8, int32 xs", lambda m, c, x: c + x + 1000, 0, "int32"),
    ("float init, int32 xs (NumPy: float64)", lambda m, c, x: c + x, 0.5, "int32"),
    ("bool init, int16 xs", lambda m, c, x: c + x, True, "int16"),
    ("float init, the body alone", lambda m, c, x: c * 0.5 + 1.0, 0.0, "float32"),
    ("int init, the body alone", lambda m, c, x: c * 2 + 1, 1, "float32"),
    ("int init, a float constant", lambda m, c, x: c * 0.5, 3, "float32"),
    (
        "a tuple: one decided by xs, one by the other carry",
        lambda m, c, x: (c[0] + x, c[1] + c[0]),
        (0.0, 1.0),
        "float32",
    ),
    ("a tuple: one typed, one weak alone", lambda m, c, x: (c[0] + x, c[1] * 2.0), (0.0, 1.0), "float32"),
    ("a tuple of an int and a float", lambda m, c, x: (c[0] + 1, c[1] + x), (0, 0.0), "float32"),
]


# JAX promotes a weak init once, with the types of the first trace; where that does not settle
# the carry (a bool that becomes an int, a carry typed by another weak one) it refuses the body
_JAX_REFUSES = ("bool init, int16 xs", "a tuple: one decided by xs, one by the other carry")
JAX_CASES = [c for c in CASES if c[0] not in _JAX_REFUSES]


def _xs(dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.uniform(0.5, 1.5, 4).astype(dtype)
    return np.arange(1, 5).astype(dtype)


@pytest.mark.parametrize("name, body, init, dtype", CASES, ids=[c[0] for c in CASES])
def test_scan_carry_dtype_and_value_are_a_numpy_loop_s(name, body, init, dtype):
    data = _xs(dtype)
    want = _numpy_loop(body, init, data)
    xs = gc.Variable("xs", (None,), dtype)
    final, _ = gc.scan(lambda c, x: (body(gc, c, x), None), init, xs)
    finals = final if isinstance(final, tuple) else (final,)
    assert [v.dtype for v in finals] == _dtypes(want), name
    got = gc.evaluate(list(finals), {xs: data})
    for g, w in zip(got, want if isinstance(want, tuple) else (want,)):
        assert g.dtype == np.asarray(w).dtype
        assert_close(g, w, rtol=1e-3 if np.asarray(w).dtype == np.float16 else 1e-6, what=name)
    compiled = gc.compile(list(finals), [xs])(data)
    for g, w in zip(compiled, got):
        assert g.dtype == w.dtype and np.array_equal(g, w)


@pytest.mark.parametrize("name, body, init, dtype", JAX_CASES, ids=[c[0] for c in JAX_CASES])
def test_scan_carry_dtype_is_jax_lax_scan_s(name, body, init, dtype):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    data = _xs(dtype)
    with jax.enable_x64(True):
        want, _ = jax.lax.scan(lambda c, x: (body(jnp, c, x), None), init, jnp.asarray(data))
        want_dtypes = [np.dtype(w.dtype) for w in (want if isinstance(want, tuple) else (want,))]
    xs = gc.Variable("xs", (None,), dtype)
    final, _ = gc.scan(lambda c, x: (body(gc, c, x), None), init, xs)
    assert [v.dtype for v in (final if isinstance(final, tuple) else (final,))] == want_dtypes, name


def test_weak_types_pass_through_ops_as_in_jax():
    # tanh of the weak carry is still weak, so a float32 xs decides: JAX's rule. (A NumPy
    # loop would say float64 here: np.tanh of a Python float returns a strong np.float64.)
    x32 = gc.Variable("x32", (None,), "float32")
    final, _ = gc.scan(lambda c, x: (gc.tanh(c) + x, None), 0.0, x32)
    assert final.dtype == np.float32
    data = _xs("float32")
    want = np.float32(0.0)
    for x in data:
        want = np.tanh(want) + x
    assert_close(gc.evaluate(final, {x32: data}), want, rtol=1e-6)
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    with jax.enable_x64(True):
        got, _ = jax.lax.scan(lambda c, x: (jnp.tanh(c) + x, None), 0.0, jnp.asarray(data))
        assert got.dtype == np.float32


def test_fori_loop_init_is_weak_too():
    w32 = gc.Variable("w", (), "float32")
    for init in (0.0, 1, True):
        c = gc.fori_loop(0, 3, lambda i, c: c * w32 + 1.0, init)
        want = init
        for _ in range(3):
            want = want * np.float32(0.5) + 1.0
        assert c.dtype == np.asarray(want).dtype == np.float32
        assert_close(gc.evaluate(c, {w32: np.float32(0.5)}), want, rtol=1e-6)
    # a carry read only with the step number: int64 i decides, as NumPy's 0.0 + int64 is float64
    c = gc.fori_loop(0, 4, lambda i, c: c + i, 0.0)
    assert c.dtype == np.float64 and float(gc.evaluate(c, {})) == 6.0


def test_strong_inits_keep_their_dtype():
    # NumPy scalars and arrays are strong, as in NumPy: the body must keep their dtype
    x32 = gc.Variable("x32", (None,), "float32")
    assert gc.scan(lambda c, x: (c + x, None), np.float64(0.0), x32)[0].dtype == np.float64
    assert gc.scan(lambda c, x: (c + x, None), np.float32(0.0), x32)[0].dtype == np.float32
    with pytest.raises(gc.DTypeError, match=r"new carry has dtype float64.*init \(a NumPy float16"):
        gc.scan(lambda c, x: (c + x, None), np.float16(0.0), gc.Variable("x64", (None,)))


def test_a_weak_number_that_does_not_fit_the_carry_is_an_error():
    i8 = gc.Variable("i8", (None,), "int8")
    with pytest.raises(gc.ArgumentError, match=r"init is the Python int 300, which does not fit int8"):
        gc.scan(lambda c, x: (c + x, None), 300, i8)
    with pytest.raises(gc.ArgumentError, match=r"init\[1\] is the Python int -1, which does not fit uint8"):
        gc.scan(lambda c, x: ((c[0], c[1] + x), None), (0.0, -1), gc.Variable("u8", (None,), "uint8"))
    # a float next to an integer body is refused: the carry would be cut to an int
    with pytest.raises(gc.DTypeError, match=r"init is the Python float 1.5, which NumPy would not turn into int32"):
        gc.scan(lambda c, x: (c.astype("int32") + x, None), 1.5, gc.Variable("i32", (None,), "int32"))


def test_the_gradient_of_a_weak_float32_carry_is_float32_and_right():
    # the loop's value is 0.0 + sum_t w^(T-1-t)... : central differences in float64 as the oracle
    x32 = gc.Variable("x32", (None,), "float32")
    w = gc.Variable("w", (), "float32")
    final, _ = gc.scan(lambda c, x: (c * w + x, None), 0.0, x32)
    (g,) = gc.grad(final, [w])
    data, w0 = _xs("float32"), np.float32(0.7)
    got = gc.evaluate(g, {x32: data, w: w0})
    assert got.dtype == np.float32

    def loop(wv):
        c = 0.0
        for x in data.astype(np.float64):
            c = c * wv + x
        return c

    eps = 1e-6
    assert_close(got, (loop(0.7 + eps) - loop(0.7 - eps)) / (2 * eps), rtol=1e-5)
