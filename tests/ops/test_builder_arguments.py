"""Bad arguments of public functions raise graphcomp errors (report user2, items 10 and 11),
never Python's bare OverflowError / ValueError / TypeError: a value that cannot become a
constant (an int beyond every NumPy integer, a ragged list) names the function that was
given it and the user's line; a keyword the function does not take names the function
and lists what it takes. The NumPy arguments added for the report (``norm(ord=)``,
``pad(mode=)``, ``round(decimals)``, ``pad`` of a 0-d array) are checked against NumPy's
own results, their gradients against finite differences and closed forms."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd

HERE = os.path.basename(__file__)
x = gc.Variable("x", (3,))
xi = gc.Variable("xi", (3,), dtype="int32")
RAGGED = [[1, 2], [3]]
HUGE = 2**70

# (builder call, the function its message must name, words it must contain)
BAD_VALUES = {
    "pad-constant-huge": (lambda: gc.pad(gc.constant(np.array([1, 2])), 1, constant_values=HUGE), "pad", "int64"),
    "full-huge": (lambda: gc.full(2, HUGE), "full", "beyond"),
    "full-dtype-huge": (lambda: gc.full(2, HUGE, dtype="int64"), "full", "int64"),
    "constant-huge": (lambda: gc.constant(HUGE), "constant", "beyond"),
    "arange-huge": (lambda: gc.arange(HUGE), "arange", "int64"),
    "getitem-ragged": (lambda: x[RAGGED], "getitem", "ragged"),
    "getitem-huge": (lambda: x[[HUGE]], "getitem", "int64"),
    "add-ragged": (lambda: gc.add(x, RAGGED), "add", "rectangular"),
    "operator-ragged": (lambda: x * RAGGED, "multiply", "rectangular"),
    "matmul-ragged": (lambda: gc.matmul(x, RAGGED), "matmul", "rectangular"),
    "where-ragged": (lambda: gc.where(x > 0, x, RAGGED), "where", "rectangular"),
    "less-ragged": (lambda: gc.less(RAGGED, x), "less", "rectangular"),
    "int32-plus-huge": (lambda: xi + 2**40, "add", "int32"),
    "clip-huge": (lambda: gc.clip(xi, 0, HUGE), "clip", "int32"),
    "maximum-huge": (lambda: gc.maximum(xi, -HUGE), "maximum", "int32"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_a_value_that_cannot_be_a_constant_raises_argument_error_naming_the_function(case):
    call, fn, words = BAD_VALUES[case]
    with pytest.raises(gc.ArgumentError) as info:
        call()
    text = str(info.value)
    assert text.startswith(fn) or f"{fn}:" in text or f"gc.{fn}" in text, text
    assert words in text, text
    # the built-in class a user catching NumPy's error would catch
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_numpy_refuses_the_same_values():
    """The cases above are errors in NumPy too (so refusing is not a loss): NEP 50's out-of-bound
    Python int, a ragged array, an int beyond int64 / uint64."""
    with pytest.raises(OverflowError):
        np.zeros(3, np.int32) + 2**40
    with pytest.raises(ValueError):
        np.asarray(RAGGED, dtype=float)
    with pytest.raises(OverflowError):
        np.asarray(HUGE, dtype=np.int64)
    with pytest.raises((IndexError, ValueError)):
        np.zeros(3)[RAGGED]


BAD_KEYWORDS = {
    "exp-out": (lambda: gc.exp(x, out=None), "exp", "out", "(x)"),
    "sum-dtype": (lambda: gc.sum(x, dtype="float32"), "sum", "dtype", "gc.cast"),
    "sum-out": (lambda: gc.sum(x, out=None), "sum", "out", "keepdims"),
    "concatenate-casting": (lambda: gc.concatenate([x, x], casting="same_kind"), "concatenate", "casting", "axis"),
    "maximum-missing": (lambda: gc.maximum(x), "maximum", "missing", "(x, y)"),
    "jvp-unknown": (lambda: gc.jvp(x * 2.0, x, np.ones(3), wrt=x), "jvp", "wrt", "consider_constant"),
    "grad-unknown": (lambda: gc.grad(gc.sum(x), x, create_graph=True), "grad", "create_graph", "disconnected"),
    "round-float-decimals": (lambda: gc.round(x, decimals=2.5), "round", "decimals", "int"),
    "norm-ord-3": (lambda: gc.norm(x, ord=3), "norm", "ord=3", "inf"),
    "norm-nuc": (lambda: gc.norm(gc.Variable("m", (2, 2)), ord="nuc"), "norm", "nuc", "SVD"),
    "pad-linear-ramp": (lambda: gc.pad(x, 1, mode="linear_ramp"), "pad", "linear_ramp", "reflect"),
    "pad-reflect-constant": (lambda: gc.pad(x, 1, mode="reflect", constant_values=1.0), "pad", "constant_values", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_KEYWORDS))
def test_an_argument_a_function_does_not_take_names_it_and_what_it_takes(case):
    call, fn, word, takes = BAD_KEYWORDS[case]
    with pytest.raises(gc.ArgumentError) as info:
        call()
    text = str(info.value)
    assert text.startswith(f"{fn}:"), text
    assert word in text and takes in text, text


def test_builder_errors_name_the_users_line():
    with pytest.raises(gc.ArgumentError, match=rf"built at {HERE}:\d+"):
        gc.pad(x, 1, mode="mean")
    with pytest.raises(gc.ArgumentError, match=rf"built at {HERE}:\d+"):
        gc.norm(x, out=None)
    with pytest.raises(gc.ArgumentError, match=rf"built at {HERE}:\d+"):
        gc.round(x, 1.5)


def test_a_group_called_with_the_wrong_number_of_inputs_names_itself():
    f = gc.op_from_graph(lambda a: a * 2.0, name="twice")
    with pytest.raises(gc.ArgumentError, match=rf"op_from_graph 'twice': called with 2 input\(s\), .*\(a\).*{HERE}"):
        f(x, x)
    with pytest.raises(gc.ArgumentError, match="op_from_graph 'twice'.*rectangular"):
        f(RAGGED)


def test_a_type_error_raised_inside_a_function_is_not_mistaken_for_a_bad_call():
    """Only the call's own signature failure is rewritten; a TypeError from inside keeps its class and text."""

    def broken(a):
        return len(5)  # a bug in the user's fn: TypeError from inside, not a bad call

    f = gc.op_from_graph(broken, name="broken")
    with pytest.raises(TypeError, match="has no len"):
        f(x)
    assert not isinstance(pytest.raises(TypeError, f, x).value, gc.ArgumentError)


# -- norm(ord=) against NumPy -------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0]
MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]


@pytest.mark.parametrize("order", VECTOR_ORDS, ids=str)
def test_vector_norms_equal_numpys(order):
    rng = np.random.default_rng(1)
    v = rng.standard_normal((4, 5))
    v[0, 1] = 0.0
    m = gc.Variable("m", (4, 5))
    for axis in (0, 1, -1):
        for keepdims in (False, True):
            want = np.linalg.norm(v, ord=order, axis=axis, keepdims=keepdims)
            got = gc.evaluate(gc.norm(m, axis=axis, keepdims=keepdims, ord=order), {m: v})
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-14)
    v1 = v[0]
    y = gc.Variable("y", (5,))
    np.testing.assert_allclose(gc.evaluate(gc.norm(y, ord=order), {y: v1}), np.linalg.norm(v1, ord=order), rtol=1e-14)


@pytest.mark.parametrize("order", MATRIX_ORDS, ids=str)
def test_matrix_norms_equal_numpys(order):
    rng = np.random.default_rng(2)
    v = rng.standard_normal((3, 4, 5))
    t = gc.Variable("t", (3, 4, 5))
    for axis in ((1, 2), (2, 0), (0, 1)):
        for keepdims in (False, True):
            want = np.linalg.norm(v, ord=order, axis=axis, keepdims=keepdims)
            got = gc.evaluate(gc.norm(t, axis=axis, keepdims=keepdims, ord=order), {t: v})
            assert got.shape == want.shape, (axis, keepdims)
            np.testing.assert_allclose(got, want, rtol=1e-14)
    m = gc.Variable("m", (4, 5))
    np.testing.assert_allclose(gc.evaluate(gc.norm(m, ord=order), {m: v[0]}), np.linalg.norm(v[0], ord=order))


@pytest.mark.parametrize("order", [1, np.inf, -np.inf, 2], ids=str)
def test_vector_norm_gradients_match_finite_differences(order):
    rng = np.random.default_rng(3)
    y = gc.Variable("y", (6,))
    v = rng.standard_normal(6)  # distinct |entries|: no tie in the max/min, no zero in |x|
    assert_grads_match_fd(gc.norm(y, ord=order), [y], [v], [0], rng)


@pytest.mark.parametrize("order", [1, -1, np.inf, -np.inf, "fro"], ids=str)
def test_matrix_norm_gradients_match_finite_differences(order):
    rng = np.random.default_rng(4)
    m = gc.Variable("m", (3, 4))
    assert_grads_match_fd(gc.norm(m, ord=order), [m], [rng.standard_normal((3, 4))], [0], rng)


def test_norm_ord_one_gradient_is_the_sign_and_ord_inf_picks_the_largest_entry():
    y = gc.Variable("y", (4,))
    v = np.array([3.0, -5.0, 0.0, 1.0])
    np.testing.assert_array_equal(gc.evaluate(gc.grad(gc.norm(y, ord=1), y), {y: v}), np.sign(v))
    np.testing.assert_array_equal(gc.evaluate(gc.grad(gc.norm(y, ord=np.inf), y), {y: v}), [0.0, -1.0, 0.0, 0.0])


def test_norm_ord_integer_input_gives_numpys_dtype():
    i = gc.Variable("i", (3,), dtype="int32")
    v = np.array([1, -2, 3], np.int32)
    for order in (1, np.inf, 0):
        got = gc.evaluate(gc.norm(i, ord=order), {i: v})
        want = np.linalg.norm(v, ord=order)
        assert got.dtype == want.dtype and got == want


# -- pad(mode=) and a 0-d pad against NumPy -----------------------------------------------------------------

MODES = ["edge", "reflect", "symmetric", "wrap"]
WIDTHS = [1, (2, 1), ((1, 0), (2, 3))]


@pytest.mark.parametrize("mode", MODES)
def test_copying_pad_modes_equal_numpys_and_their_gradient_sums_g_over_the_copies(mode):
    rng = np.random.default_rng(5)
    v = rng.standard_normal((3, 4))
    m = gc.Variable("m", (3, 4))
    for width in WIDTHS:
        y = gc.pad(m, width, mode=mode)
        want = np.pad(v, width, mode=mode)
        np.testing.assert_array_equal(gc.evaluate(y, {m: v}), want)
        np.testing.assert_array_equal(gc.compile(y, [m])(v), want)
        # closed form: entry k of x appears wherever np.pad of the indices holds k
        w = rng.standard_normal(want.shape)
        index = np.pad(np.arange(12).reshape(3, 4), width, mode=mode)
        grad_want = np.bincount(index.ravel(), weights=w.ravel(), minlength=12).reshape(3, 4)
        grad = gc.grad(gc.sum(y * gc.constant(w)), m)
        np.testing.assert_allclose(gc.evaluate(grad, {m: v}), grad_want, rtol=1e-14)


def test_copying_pad_modes_refuse_unknown_and_empty_axes_as_numpy():
    with pytest.raises(gc.ShapeError, match="unknown"):
        gc.pad(gc.Variable("u", (None, 2)), 1, mode="edge")
    with pytest.raises(gc.ShapeError, match="empty"):
        gc.pad(gc.Variable("e", (0, 2)), 1, mode="wrap")
    with pytest.raises(ValueError):
        np.pad(np.zeros((0, 2)), 1, mode="wrap")


@pytest.mark.parametrize("value", [3.0, np.float32(2.5), 7])
def test_pad_of_a_zero_d_array_is_the_array_as_numpy(value):
    """np.pad(np.array(3.0), 1) is 3.0: a 0-d array has no axis to pad (report item 11)."""
    c = gc.constant(value)
    want = np.pad(np.asarray(value), 1, constant_values=1)
    for y in (gc.pad(c, 1, constant_values=1), gc.pad(c, ((1, 2),))):
        got = gc.evaluate(y, {})
        assert got.shape == want.shape == () and got.dtype == want.dtype and got == np.asarray(value)
    s = gc.Variable("s", ())
    np.testing.assert_array_equal(gc.compile(gc.pad(s, 2), [s])(np.array(4.0)), np.pad(np.array(4.0), 2))
    assert float(gc.evaluate(gc.grad(gc.pad(s, 2) * 3.0, s), {s: 4.0})) == 3.0


def test_pad_of_a_zero_d_array_still_checks_its_constant():
    s = gc.Variable("s", ())
    with pytest.raises(gc.ArgumentError):
        gc.pad(gc.constant(np.int64(1)), 1, constant_values=0.5)
    with pytest.raises(gc.GraphError):
        gc.pad(s, 1, constant_values=gc.Variable("c", (2,)))


# -- round(decimals) against NumPy --------------------------------------------------------------------------


@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2, 10, 20, -10])
def test_round_to_decimals_equals_numpys_bit_for_bit(decimals):
    rng = np.random.default_rng(6)
    v = np.concatenate([rng.standard_normal(50) * 10.0 ** rng.integers(-5, 8, 50), [2.675, -0.125, 0.5, 1250.0]])
    y = gc.Variable("y", v.shape)
    r = gc.round(y, decimals)
    np.testing.assert_array_equal(gc.evaluate(r, {y: v}), np.round(v, decimals))
    np.testing.assert_array_equal(gc.compile(r, [y])(v), np.round(v, decimals))
    v32 = v.astype(np.float32)
    y32 = gc.Variable("y32", v.shape, dtype="float32")
    got = gc.evaluate(gc.round(y32, decimals), {y32: v32})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.round(v32, decimals))


@pytest.mark.parametrize("decimals", [1, -1, -2])
def test_round_integers_to_decimals_as_numpy(decimals):
    v = np.array([-1250, -15, 0, 7, 25, 149, 150, 12345], np.int64)
    i = gc.Variable("i", v.shape, dtype="int64")
    got = gc.evaluate(gc.round(i, decimals), {i: v})
    want = np.round(v, decimals)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_round_to_decimals_has_gradient_zero():
    y = gc.Variable("y", (3,))
    g = gc.evaluate(gc.grad(gc.sum(gc.round(y, 2)), y), {y: np.array([0.123, 4.5678, -1.0])})
    np.testing.assert_array_equal(g, np.zeros(3))
