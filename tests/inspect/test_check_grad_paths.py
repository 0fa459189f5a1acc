"""check_grad checks exactly the local derivatives the gradient is built from:
never a constant (the 2 of x**2), an integer, or a path cut by stop_gradient
or consider_constant (issue 14, item 8). The right verdicts come from closed
forms and from central differences computed here with NumPy."""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from tests.inspect.test_explain_check_cost_trace import WrongCube


def _checked(report) -> set[tuple[str, int]]:
    return {(c.node.owner.op.name, c.position) for c in report.nodes}


def _fd(f, x, eps=1e-6):
    """Central differences of the scalar NumPy function f at x, entry by entry."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_the_square_of_a_vector_with_a_negative_entry_is_accepted():
    """The issue's input: d sum(x**2)/dx = 2x; power's derivative in its exponent 2.0
    (NaN at -2) is not part of that gradient and must not be checked."""
    x = gc.Variable("x", (3,))
    value = np.array([1.0, -2.0, 3.0])
    cost = gc.sum(x**2)
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), {x: value}), 2 * value)  # closed form
    report = gc.check_grad(cost, x, {x: value})
    assert report.ok, str(report)
    assert report.first_failure is None
    assert _checked(report) == {("power", 0), ("sum", 0)}


def test_a_mean_squared_error_is_accepted():
    rng = np.random.default_rng(0)
    X, t = rng.standard_normal((6, 3)), rng.standard_normal(6)
    w = gc.Variable("w", (3,))
    x, target = gc.Variable("x", (6, 3)), gc.Variable("t", (6,))
    cost = ((x @ w - target) ** 2).mean()
    w0 = rng.standard_normal(3)
    closed = 2 * X.T @ (X @ w0 - t) / 6  # d/dw mean((Xw - t)^2)
    feed = {w: w0, x: X, target: t}
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, w), feed), closed, rtol=1e-12)
    report = gc.check_grad(cost, w, feed)
    assert report.ok, str(report)
    on_path = set(gc.prune(cost, [w]).variables)
    for c in report.nodes:  # every checked input is one the gradient flows through
        assert c.node.owner.inputs[c.position] in on_path
    assert ("power", 1) not in _checked(report) and ("subtract", 1) not in _checked(report)


def test_a_hand_written_batch_norm_is_accepted():
    rng = np.random.default_rng(1)
    X, R = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    gamma0, beta0 = rng.standard_normal(3), rng.standard_normal(3)
    x, gamma, beta = gc.Variable("x", (5, 3)), gc.Variable("gamma", (3,)), gc.Variable("beta", (3,))
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    y = (x - mu) / gc.sqrt(var + 1e-5) * gamma + beta
    cost = (y * gc.constant(R)).sum()

    def f(a):
        m = a.mean(0)
        return float((((a - m) / np.sqrt(((a - m) ** 2).mean(0) + 1e-5) * gamma0 + beta0) * R).sum())

    feed = {x: X, gamma: gamma0, beta: beta0}
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), feed), _fd(f, X), rtol=1e-6, atol=1e-8)
    report = gc.check_grad(cost, [x, gamma, beta], feed)
    assert report.ok, str(report)
    assert ("power", 1) not in _checked(report)


def test_a_path_cut_by_stop_gradient_is_held_fixed_on_both_sides():
    """sum(stop_gradient(x) * x): gc.grad gives x (the stopped factor is a constant);
    finite differences that moved it too would give 2x and blame a correct graph."""
    x = gc.Variable("x", (3,))
    value = np.array([0.5, -1.5, 2.0])
    cost = (gc.stop_gradient(x) * x).sum()
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), {x: value}), value)
    report = gc.check_grad(cost, x, {x: value})
    assert report.ok, str(report)
    assert abs(report.whole[0].numeric - report.whole[0].analytic) < 1e-6
    assert _checked(report) == {("multiply", 1), ("sum", 0)}


def test_a_wrong_bprop_behind_a_cut_is_never_asked_for_but_one_on_the_path_is():
    x = gc.Variable("x", (3,))
    value = np.array([0.5, -1.5, 2.0])
    behind = gc.stop_gradient(WrongCube()(x)) * x  # the gradient never uses wrong_cube's bprop
    assert gc.check_grad(behind.sum(), x, {x: value}).ok
    on_path = WrongCube()(x) ** 2.0  # a constant exponent beside a wrong bprop on the path
    report = gc.check_grad(on_path.sum(), x, {x: value})
    assert not report.ok and report.first_failure.node.owner.op.name == "wrong_cube"


def test_consider_constant_is_taken_and_held_fixed():
    """sum(y * x) with y = 3x held constant: the gradient is y = 3x (not 6x)."""
    x = gc.Variable("x", (3,))
    value = np.array([0.5, -1.5, 2.0])
    y = x * 3.0
    cost = (y * x).sum()
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x, consider_constant=[y]), {x: value}), 3 * value)
    report = gc.check_grad(cost, x, {x: value}, consider_constant=[y])
    assert report.ok, str(report)
    assert _checked(report) == {("multiply", 1), ("sum", 0)}  # not y's own multiply by 3.0
    # without it, the full derivative 6x is what is compared, and agrees too
    assert gc.check_grad(cost, x, {x: value}).ok


def test_integer_inputs_are_never_checked():
    """x[idx] * x ** n with integer idx and n: only the float positions are derivatives."""
    x, idx, n = gc.Variable("x", (4,)), gc.Variable("i", (2,), "int64"), gc.Variable("n", (), "int64")
    cost = (x[idx] * x[idx] ** n).sum()
    feed = {x: np.array([0.3, -1.2, 2.0, 0.7]), idx: np.array([1, 3]), n: np.array(3)}
    report = gc.check_grad(cost, x, feed)
    assert report.ok, str(report)
    for c in report.nodes:
        assert c.node.owner.inputs[c.position].dtype.kind == "f"
