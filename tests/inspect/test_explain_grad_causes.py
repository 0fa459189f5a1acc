"""explain_grad names the real cause (user report 1, item 6): a cost that is not
finite although its gradient is, a non-finite value fed in (to x, or to another
input of the op that reads x), a non-scalar cost refused as gc.grad refuses it,
arguments checked, and the stable-form hint for x ** p with 0 < p < 1 as for sqrt.
NumPy computes the values and closed-form derivatives each premise rests on."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc


def test_a_cost_that_is_not_finite_is_said_although_its_gradient_is_finite():
    """sum(log x) at x = [-1, 1, 2]: the cost is nan (log of -1), the gradient 1/x is finite."""
    x = gc.Variable("x", (3,))
    value = np.array([-1.0, 1.0, 2.0])
    cost = gc.sum(gc.log(x))
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.sum(np.log(value)))
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), {x: value}), 1 / value)  # finite
    e = gc.explain_grad(cost, x, {x: value})
    assert e.status == "non-finite"
    assert e.node is cost.owner.inputs[0]  # the log node
    assert "is not finite here" in e.message and "where x is -1" in e.message
    assert "connected and finite" not in e.message


def test_a_nan_fed_to_another_input_makes_the_cost_not_finite_and_is_named():
    """sum(x) + sum(w): d/dx = 1 everywhere, finite; the cost is nan because w is."""
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (3,))
    cost = gc.sum(x) + gc.sum(w)
    feed = {x: np.ones(3), w: np.array([np.nan, 1.0, 1.0])}
    np.testing.assert_array_equal(gc.evaluate(gc.grad(cost, x), feed), np.ones(3))
    e = gc.explain_grad(cost, x, feed)
    assert e.status == "non-finite" and e.node is w
    assert "w (input" in e.message and "is fed nan at 1 of 3 places" in e.message


def test_a_nan_fed_into_x_is_named():
    x = gc.Variable("x", (3,))
    e = gc.explain_grad(gc.sum(gc.log(x)), x, {x: np.array([np.nan, 1.0, 2.0])})
    assert e.status == "non-finite" and e.node is x
    assert "is fed nan at 1 of 3 places" in e.message


def test_a_consumers_input_that_is_not_finite_is_the_cause_not_an_infinite_derivative():
    """d sum(x w)/dx = w: nan where w is, while multiply's derivative is finite for finite w."""
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (3,))
    feed = {x: np.ones(3), w: np.array([np.nan, 1.0, 1.0])}
    e = gc.explain_grad(gc.sum(x * w), x, feed)
    assert e.node is w and "local derivative" not in e.message
    # the cost kept finite by a where: the gradient (0 * nan) is still not finite, and w is named
    m = gc.Variable("m", (3,), "bool")
    cost = gc.sum(gc.where(m, x * w, 0.0))
    feed[m] = np.array([False, True, True])
    assert np.isfinite(gc.evaluate(cost, feed)) and not np.all(np.isfinite(gc.evaluate(gc.grad(cost, x), feed)))
    e = gc.explain_grad(cost, x, feed)
    assert e.status == "non-finite" and e.node is w
    assert "its input w (input" in e.message and "local derivative" not in e.message


def test_a_cost_that_is_not_a_scalar_is_refused_as_grad_refuses_it():
    x = gc.Variable("x", (3,))
    with pytest.raises(gc.GradientError, match="grad: the cost must be a scalar"):
        gc.grad(x * 2.0, x)
    with pytest.raises(gc.GradientError, match=r"explain_grad: the cost must be a scalar, but .* shape \(3,\)"):
        gc.explain_grad(x * 2.0, x, {x: np.ones(3)})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: gc.explain_grad(3, x), "explain_grad: cost must be a Variable"),
        (lambda x: gc.explain_grad(gc.sum(x), 3), "explain_grad: x must be a Variable"),
        (lambda x: gc.explain_grad(gc.sum(x), x, [1.0]), "explain_grad: feed must be a mapping"),
        (lambda x: gc.explain_grad(gc.sum(x), x, consider_constant=5), "explain_grad: consider_constant must be"),
        (lambda x: gc.explain_grad(gc.sum(x), x, consider_constant=[3]), "explain_grad: consider_constant must be"),
        (lambda x: gc.grad(gc.sum(x), x, consider_constant=5), "grad: consider_constant must be"),
    ],
)
def test_wrong_arguments_are_argument_errors_naming_the_function(call, message):
    x = gc.Variable("x", (3,))
    with pytest.raises(gc.ArgumentError, match=message):
        call(x)


@pytest.mark.parametrize("p", [0.5, 0.25])
def test_a_fractional_power_gets_the_stable_form_hint_sqrt_gets(p):
    """d x**p / dx = p x**(p-1): infinite at 0 for 0 < p < 1, as sqrt's is."""
    with np.errstate(divide="ignore"):
        assert np.isinf(p * np.float64(0.0) ** (p - 1))
    x = gc.Variable("x", (3,))
    e = gc.explain_grad(gc.sum(x**p), x, {x: np.array([0.0, 1.0, 2.0])})
    assert e.status == "non-finite"
    assert f"(x + eps) ** {p:g}" in e.message
    sqrt = gc.explain_grad(gc.sum(gc.sqrt(x)), x, {x: np.array([0.0, 1.0, 2.0])})
    assert "sqrt(x + eps)" in sqrt.message


def test_no_fractional_power_hint_where_it_does_not_apply():
    """x ** -1 at 0 is infinite in value, not a derivative sqrt's advice would fix."""
    x = gc.Variable("x", (3,))
    e = gc.explain_grad(gc.sum(x**-1.0), x, {x: np.array([0.0, 1.0, 2.0])})
    assert e.status == "non-finite" and "x + eps" not in e.message
