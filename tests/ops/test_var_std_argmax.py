"""var, std, argmax, argmin: NumPy's values, the closed-form gradients of var and std
(and std's chosen gradient 0 where it is 0), PyTorch's as an oracle where installed,
NumPy's first-of-ties for argmax/argmin, and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.helpers import assert_grads_match_fd


@pytest.mark.parametrize("ddof", [0, 1, 2, 0.5])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2)])
def test_var_and_std_gradients_equal_the_closed_forms(axis, ddof):
    """d var / dx = 2 (x - mean) / (N - ddof); d std / dx = (x - mean) / ((N - ddof) std)."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal(np.var(xv, axis=axis).shape)
    n = xv.size if axis is None else np.prod([xv.shape[a] for a in np.atleast_1d(axis)])
    dev = xv - xv.mean(axis=axis, keepdims=True)
    wk = np.expand_dims(w, axis) if axis is not None else w
    want_var = wk * 2 * dev / (n - ddof)
    want_std = wk * dev / ((n - ddof) * np.std(xv, axis=axis, ddof=ddof, keepdims=True))
    for shape in [(3, 4, 5), (None, 4, None)]:
        x = gc.Variable("x", shape)
        v, s = gc.var(x, axis=axis, ddof=ddof), gc.std(x, axis=axis, ddof=ddof)
        got = gc.evaluate(
            [v, s, gc.grad((v * gc.constant(w)).sum(), x), gc.grad((s * gc.constant(w)).sum(), x)], {x: xv}
        )
        np.testing.assert_allclose(got[0], np.var(xv, axis=axis, ddof=ddof), rtol=1e-14)
        np.testing.assert_allclose(got[1], np.std(xv, axis=axis, ddof=ddof), rtol=1e-14)
        np.testing.assert_allclose(got[2], want_var, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got[3], want_std, rtol=1e-12, atol=1e-15)


def test_std_gradient_is_zero_where_std_is_zero_and_its_derivatives_stay_finite():
    """The chosen convention (README): 0 where every entry along the axes is equal.
    Rows: constant (std 0) and not; the other row's gradient is still the closed form."""
    xv = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    x = gc.Variable("x", (2, 3))
    s = gc.std(x, axis=1)
    g = gc.grad(s.sum(), x)
    h = gc.jacobian(g, x)
    got_g, got_h = gc.evaluate([g, h], {x: xv})
    row = xv[1]
    np.testing.assert_array_equal(got_g[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(got_g[1], (row - row.mean()) / (3 * row.std()), rtol=1e-14)
    assert np.all(np.isfinite(got_h))
    # whereas the chain rule through sqrt(var) gives 0 * inf = NaN there
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = gc.evaluate(gc.grad(gc.sqrt(gc.var(x, axis=1)).sum(), x), {x: xv})
    assert np.isnan(naive[0]).all()


def test_std_at_zero_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    xv = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    t = torch.tensor(xv, requires_grad=True)
    torch.std(t, dim=1, correction=0).sum().backward()
    x = gc.Variable("x", (2, 3))
    np.testing.assert_allclose(gc.evaluate(gc.grad(gc.std(x, axis=1).sum(), x), {x: xv}), t.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std_first_and_second_derivatives_match_pytorch(name, ddof):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xv, w, u = rng.standard_normal((3, 5)), rng.standard_normal(3), rng.standard_normal((3, 5))
    t = torch.tensor(xv, requires_grad=True)
    y = getattr(torch, name)(t, dim=1, correction=ddof)
    (tg,) = torch.autograd.grad((y * torch.tensor(w)).sum(), t, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(u)).sum(), t)
    x = gc.Variable("x", (3, 5))
    cost = (getattr(gc, name)(x, axis=1, ddof=ddof) * gc.constant(w)).sum()
    g = gc.grad(cost, x)
    h = gc.grad((g * gc.constant(u)).sum(), x)
    got_g, got_h = gc.evaluate([g, h], {x: xv})
    np.testing.assert_allclose(got_g, tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got_h, th.numpy(), rtol=1e-10, atol=1e-13)


def test_var_std_keep_float32_and_widen_integers_as_numpy():
    f = gc.Variable("f", (4,), "float32")
    assert gc.var(f).dtype == np.float32 and gc.std(f).dtype == np.float32
    assert gc.grad(gc.std(f), f).dtype == np.float32
    i = gc.Variable("i", (4,), "int64")
    assert gc.var(i).dtype == np.var(np.ones(4, np.int64)).dtype == np.float64
    assert float(gc.evaluate(gc.var(i, ddof=1), {i: [1, 2, 3, 6]})) == pytest.approx(np.var([1, 2, 3, 6], ddof=1))


def test_var_with_unknown_count_divides_by_the_runtime_count():
    x = gc.Variable("x", (None, 3))
    xv = np.random.default_rng(2).standard_normal((7, 3))
    v = gc.var(x, axis=0, ddof=1)
    assert v.shape == (3,)
    np.testing.assert_allclose(gc.evaluate(v, {x: xv}), np.var(xv, axis=0, ddof=1), rtol=1e-14)
    assert_grads_match_fd((v * gc.constant([1.0, -2.0, 0.5])).sum(), [x], [xv], [0], np.random.default_rng(3))


@pytest.mark.parametrize(
    "call, error, words",
    [(lambda x: gc.var(x, ddof=True), gc.ArgumentError, "var: ddof must be a number"),
     (lambda x: gc.std(x, ddof="1"), gc.ArgumentError, "std: ddof must be a number"),
     (lambda x: gc.var(x, ddof=float("nan")), gc.ArgumentError, "var: ddof must be finite"),
     (lambda x: gc.var(x, axis=1, ddof=3), gc.ShapeError, "var: ddof=3 leaves no degrees of freedom for the 3"),
     (lambda x: gc.std(x, axis=2), gc.ShapeError, "std: axis 2 is out of bounds"),
     (lambda x: gc.var(gc.cast(x, "complex128")), gc.DTypeError, "var: cast"),
     (lambda x: gc.argmax(x, axis=(0, 1)), gc.ArgumentError, "argmax: axis must be an int or None"),
     (lambda x: gc.argmin(x, axis=5), gc.ShapeError, "argmin: axis 5 is out of bounds"),
     (lambda x: gc.argmax(x[:0], axis=0), gc.ShapeError, "argmax: an empty sequence (axis 0 of shape (0, 3))")],
)  # fmt: skip
def test_bad_arguments_name_the_function_the_argument_and_the_users_line(call, error, words):
    with pytest.raises(error) as e:
        call(gc.Variable("x", (2, 3)))
    assert words in str(e.value) and "built at test_var_std_argmax.py" in str(e.value)


# -- argmax, argmin -------------------------------------------------------------------------------------


def test_argmax_and_argmin_return_the_first_of_ties_as_numpy():
    xv = np.array([[1.0, 3.0, 3.0, 0.0], [0.0, 0.0, -1.0, -1.0], [5.0, 5.0, 5.0, 5.0]])
    x = gc.Variable("x", (None, 4))
    for fn, ref in [(gc.argmax, np.argmax), (gc.argmin, np.argmin)]:
        for axis in (None, 0, 1):
            got = gc.evaluate(fn(x, axis=axis), {x: xv})
            np.testing.assert_array_equal(got, ref(xv, axis=axis))
    assert gc.evaluate(gc.argmax(x, axis=1), {x: xv}).tolist() == [1, 0, 0]
    assert gc.evaluate(gc.argmin(x, axis=1), {x: xv}).tolist() == [3, 2, 0]
    nan = np.array([1.0, np.nan, 7.0, np.nan])  # NumPy: the first NaN wins either way
    v = gc.Variable("v", (4,))
    assert gc.evaluate([gc.argmax(v), gc.argmin(v)], {v: nan}) == [np.argmax(nan), np.argmin(nan)] == [1, 1]


def test_argmax_is_int64_with_numpys_shapes_and_carries_no_gradient():
    x = gc.Variable("x", (2, None, 4))
    for axis, keepdims in [(None, False), (None, True), (1, False), (-1, True)]:
        a = gc.argmax(x, axis=axis, keepdims=keepdims)
        want = np.argmax(np.zeros((2, 3, 4)), axis=axis, keepdims=keepdims)
        assert a.dtype == np.int64 and len(a.shape) == np.ndim(want)
    assert not gc.argmax(x).owner.op.differentiable
    y = gc.cast(gc.argmax(x), "float64")
    with pytest.raises(gc.GradientError, match="non-differentiable op argmax"):
        gc.grad(y, x)
    assert not gc.evaluate(gc.grad(y, x, disconnected="zero"), {x: np.ones((2, 3, 4))}).any()


def test_argmax_of_a_runtime_empty_axis_fails_naming_the_node():
    x = gc.Variable("x", (None, 3))
    with pytest.raises(gc.EvaluationError, match=r"argmax\[axis=\(0,\)\] failed .* empty"):
        gc.evaluate(gc.argmax(x, axis=0), {x: np.zeros((0, 3))})
