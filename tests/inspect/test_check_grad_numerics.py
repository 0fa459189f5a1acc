"""check_grad's finite differences, where they mean something and where they do not
(user report 1, item 5): a step suited to the dtype and the size of each value, a
point that cannot be checked said so (never a wrong bprop), and a wrong bprop still
caught. Right gradients are established here by closed forms in NumPy first."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from tests.inspect.test_explain_check_cost_trace import WrongCube


def _statuses(report) -> list[str]:
    return [c.status for c in report.whole + report.nodes]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_right_gradient_in_low_precision_is_accepted_at_the_default_step(dtype):
    """sum(tanh(x) x): d/dx = tanh x + x (1 - tanh^2 x). float32 used to disagree with
    eps=1e-6 (rounding), float16's step rounded to zero ("0 0 yes") and tanh was blamed."""
    value = np.array([0.1, -0.5, 2.0], dtype)
    x = gc.Variable("x", (3,), dtype)
    cost = gc.sum(gc.tanh(x) * x)
    t = np.tanh(value.astype(np.float64))
    closed = t + value * (1 - t**2)
    np.testing.assert_allclose(
        gc.evaluate(gc.grad(cost, x), {x: value}), closed, rtol=2e-3 if dtype == "float16" else 1e-6
    )
    report = gc.check_grad(cost, x, {x: value})
    assert report.ok, str(report)
    assert _statuses(report) == ["ok"] * len(_statuses(report))
    assert abs(report.whole[0].numeric) > 0.1  # the points moved: something was compared
    assert "first wrong bprop" not in str(report)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_a_wrong_bprop_is_caught_in_every_precision(dtype):
    """wrong_cube's derivative is 2x**2 instead of 3x**2: a third off, caught in each dtype."""
    x = gc.Variable("x", (4,), dtype)
    value = np.array([0.3, -0.7, 0.8, 1.1], dtype)
    report = gc.check_grad(gc.sin(WrongCube()(x)).sum(), x, {x: value})
    assert not report.ok
    assert report.first_failure is not None and report.first_failure.node.owner.op.name == "wrong_cube"
    assert report.whole[0].status == "wrong"


def test_a_step_that_rounds_to_zero_is_not_a_pass():
    x = gc.Variable("x", (3,), "float16")
    report = gc.check_grad(gc.sum(x * x), x, {x: np.array([1.0, 2.0, 3.0], np.float16)}, eps=1e-5)
    assert not report.ok and report.first_failure is None
    assert report.whole[0].status == "not checkable"
    assert "rounds to zero in float16" in report.whole[0].reason


def test_the_untaken_branch_of_a_where_is_not_blamed():
    """sum(where(x > 0, log x, 0)): the gradient is 1/x where x > 0, else 0; log's finite
    difference at a negative x is nan, but the gradient does not use it."""
    x = gc.Variable("x", (4,))
    value = np.array([-2.0, -0.5, 0.5, 2.0])
    cost = gc.sum(gc.where(x > 0, gc.log(x), 0.0))
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), {x: value}), np.where(value > 0, 1 / value, 0.0))
    report = gc.check_grad(cost, x, {x: value})
    assert report.ok, str(report)
    log = next(c for c in report.nodes if c.node.owner.op.name == "log")
    assert log.status == "ok" and "incoming gradient is not 0" in log.reason


def test_a_wrong_bprop_on_the_taken_branch_is_still_caught():
    x = gc.Variable("x", (4,))
    value = np.array([-2.0, -0.5, 0.5, 2.0])
    cost = gc.sum(gc.where(x > 0, WrongCube()(gc.log(x)), 0.0))  # nan under the untaken branch
    report = gc.check_grad(cost, x, {x: value})
    assert report.first_failure is not None and report.first_failure.node.owner.op.name == "wrong_cube"


def test_a_kink_is_a_non_differentiable_point_not_a_wrong_bprop():
    """relu at 0: the central difference gives half the slope; the convention relu'(0) = 0
    lies between the one-sided differences (0 from below, 1 from above)."""
    x = gc.Variable("x", (3,))
    report = gc.check_grad(gc.sum(gc.relu(x)), x, {x: np.array([0.0, 1.0, -1.0])})
    assert report.first_failure is None and not report.ok
    assert report.whole[0].status == "not checkable"
    assert report.whole[0].reason.startswith("non-differentiable point")
    relu = next(c for c in report.nodes if c.node.owner.op.name == "relu")  # elementwise: the kink is found
    assert relu.status == "ok" and "not checked at 1 non-differentiable place(s) (input 0 = 0)" in relu.reason
    assert "first wrong bprop" not in str(report) and "not checkable here" in str(report)
    # away from the kink the same graph is checked, and passes
    assert gc.check_grad(gc.sum(gc.relu(x)), x, {x: np.array([0.5, 1.0, -1.0])}).ok


class WrongRelu(gc.Op):
    """relu whose derivative is 2 where x > 0 (it is 1)."""

    name = "wrong_relu"
    elementwise = True  # each output entry reads its input entry alone: a kink is found entry by entry

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.maximum(x, 0)

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [G * gc.where(x > 0, 2.0, 0.0)]


@pytest.mark.parametrize("seed", range(5))
def test_a_wrong_bprop_at_a_kink_is_caught_when_it_is_no_one_sided_slope(seed):
    """At x = 0 any value between the one-sided slopes 0 and 1 would do (the bprop says 0);
    at x = 1 and 2 it says 2 where the slope is 1: caught beside the kink."""
    x = gc.Variable("x", (3,))
    report = gc.check_grad(gc.sum(WrongRelu()(x)), x, {x: np.array([0.0, 1.0, 2.0])}, seed=seed)
    assert report.first_failure is not None and report.first_failure.node.owner.op.name == "wrong_relu"


def test_large_values_take_a_relative_step():
    """x = 1e10 with an absolute step of 1e-6 moved nothing: the difference was 0."""
    x = gc.Variable("x", (3,))
    value = np.array([1e10, 1.0, 2.0])
    cost = gc.sum(x**2)
    np.testing.assert_allclose(gc.evaluate(gc.grad(cost, x), {x: value}), 2 * value)
    report = gc.check_grad(cost, x, {x: value})
    assert report.ok, str(report)
    assert abs(report.whole[0].numeric) > 1e9


@pytest.mark.parametrize(
    "build, value, reason",
    [
        (gc.log, [1e-7, 1.0, 2.0], "leaves the function's domain"),  # the step crosses 0
        (gc.sqrt, [0.0, 1.0, 2.0], "leaves the function's domain"),  # the derivative is infinite
        (lambda x: x**2.0, [np.nan, 1.0, 2.0], "input not finite"),
        (gc.exp, [np.inf, 1.0, 2.0], "input not finite"),
    ],
)
def test_points_where_finite_differences_are_undefined_say_so(build, value, reason):
    x = gc.Variable("x", (3,))
    report = gc.check_grad(gc.sum(build(x)), x, {x: np.array(value)})
    assert report.first_failure is None, str(report)
    assert not report.ok
    assert report.whole[0].status == "not checkable" and reason in report.whole[0].reason
    assert "first wrong bprop" not in str(report)


def test_a_nan_fed_to_another_input_is_a_value_that_is_not_finite():
    x, w = gc.Variable("x", (3,)), gc.Variable("w", (3,))
    report = gc.check_grad(gc.sum(x * w), x, {x: np.ones(3), w: np.array([np.nan, 1.0, 1.0])})
    assert report.first_failure is None and report.whole[0].status == "not checkable"
    assert "not finite" in report.whole[0].reason


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"eps": 0}, "eps must be a positive finite number"),
        ({"eps": -1.0}, "eps must be a positive finite number"),
        ({"eps": float("nan")}, "eps must be a positive finite number"),
        ({"eps": "1e-3"}, "eps must be a positive finite number"),
        ({"rtol": "a"}, "rtol must be a non-negative finite number"),
        ({"rtol": -1e-3}, "rtol must be a non-negative finite number"),
        ({"atol": float("inf")}, "atol must be a non-negative finite number"),
        ({"seed": 1.5}, "seed must be an int"),
        ({"seed": -3}, "seed must be an int >= 0"),
        ({"consider_constant": 5}, "consider_constant must be a Variable or a sequence of Variables"),
    ],
)
def test_bad_settings_are_argument_errors_naming_check_grad(kwargs, message):
    x = gc.Variable("x", (3,))
    with pytest.raises(gc.ArgumentError, match=f"check_grad: {message}"):
        gc.check_grad(gc.sum(x**2), x, {x: np.ones(3)}, **kwargs)


def test_bad_outputs_wrt_and_feed_are_argument_errors_naming_check_grad():
    x = gc.Variable("x", (3,))
    for call in (
        lambda: gc.check_grad(3, x, {x: np.ones(3)}),
        lambda: gc.check_grad(gc.sum(x), "x", {x: np.ones(3)}),
        lambda: gc.check_grad(gc.sum(x), x, [np.ones(3)]),
    ):
        with pytest.raises(gc.ArgumentError, match="check_grad"):
            call()
