"""Elementwise arithmetic with NumPy broadcasting: add, subtract, multiply,
divide, power, arctan2, and the n-ary add that build_grad uses to sum
contributions. Every bprop undoes broadcasting with ``sum_to``.

``arctan2(y, x)`` is discontinuous at (0, 0), where it has no derivative: its
gradient there is 0 for both arguments, and so are its second derivatives (as
PyTorch gives, and as ``norm``'s gradient at the origin), not the NaN of 0/0
that JAX gives.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.ops.base import Op, Operand, operands, size_of_shape, weak_constant
from graphcomp.ops.compare import Equal, Greater
from graphcomp.ops.elementwise import abs as abs_
from graphcomp.ops.elementwise import log, square
from graphcomp.ops.identity import StopGradient
from graphcomp.ops.select import maximum, where
from graphcomp.ops.shape import sum_to

__all__ = ["add", "subtract", "multiply", "divide", "power", "arctan2"]


@dataclasses.dataclass(frozen=True)
class Binary(Op):
    """An elementwise op of two broadcasting inputs, computed by ``fn``."""

    elementwise = True

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), result_dtype(type(self).fn, x.dtype, y.dtype)

    def forward(self, x, y):
        return type(self).fn(x, y)


# -- arithmetic ------------------------------------------------------------------


class Add(Binary):
    linear = "all"
    name, fn, symbol = "add", np.add, "+"
    infix = ("+", 4, "both")
    scalar_form = "{0} + {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(G, y)]

    def sympy(self, sp, v, args):
        return args[0] + args[1]


class Subtract(Binary):
    linear = "all"
    name, fn, symbol = "subtract", np.subtract, "−"
    infix = ("-", 4, "left")
    scalar_form = "{0} - {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(-G, y)]

    def sympy(self, sp, v, args):
        return args[0] - args[1]


class Multiply(Binary):
    linear = "each"
    name, fn, symbol = "multiply", np.multiply, "×"
    infix = ("*", 5, "both")
    scalar_form = "{0} * {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G * y, x), sum_to(G * x, y)]

    def sympy(self, sp, v, args):
        # x * mask, as simplify writes a select of x or 0: a Piecewise
        conditions = (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom)
        for cond, value in (args, args[::-1]):
            if isinstance(cond, conditions):
                return sp.Piecewise((value, cond), (0, True))
        return args[0] * args[1]


class Divide(Binary):
    linear = (0,)
    name, fn, symbol = "divide", np.true_divide, "÷"
    infix = ("/", 5, "left")
    scalar_form = "{0} / {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G / y, x), sum_to(-(G * output) / y, y)]

    def sympy(self, sp, v, args):
        return args[0] / args[1]


class Power(Binary):
    """x ** y. d/dx = y * x**(y-1), and 0 where y == 0 (x**0 is 1 for every x, 0
    included), so the repeated derivatives of a polynomial are right at 0.
    d/dy = x**y * log(x), and 0 at x == 0 (0**y is locally constant for y > 0),
    as in JAX and PyTorch; NaN for x < 0, where x**y is not real for nearby y."""

    name, fn, symbol = "power", np.power, "**"
    infix = ("**", 7, "right")
    scalar_form, scalar_helpers = "_pow({0}, {1})", {"_pow": math.pow}

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G * _power_dx(x, y), x), sum_to(G * (output * _log_or_zero_at_zero(x)), y)]

    def stable_hint_for(self, v):
        # x ** p with a constant 0 < p < 1 is sqrt's case: the derivative p x**(p-1) is infinite at 0
        e = v.owner.inputs[1]
        if e.kind != "constant" or e.shape != () or not 0 < float(e.value) < 1:
            return ""
        p = float(e.value)
        length = ", or gc.norm for a length" if p == 0.5 else ""
        return f"x ** {p:g}'s derivative {p:g} x ** ({p - 1:g}) is infinite at 0: (x + eps) ** {p:g}{length}."

    def scalar(self, *args):
        if args[1] == "2.0":  # NumPy computes x**2 as x*x, exactly: so do the scalar code and kernels
            return f"{args[0]} * {args[0]}"
        return super().scalar(*args)

    def fusible(self, v):
        # only x**2 has a kernel form as exact as NumPy's; other powers call libm either way
        e = v.owner.inputs[1]
        return e.kind == "constant" and e.shape == () and float(e.value) == 2.0

    def sympy(self, sp, v, args):
        return args[0] ** args[1]


class Arctan2(Binary):
    """The angle of the point (x, y), ``np.arctan2(y, x)``, in [-pi, pi]. Its gradients
    are x/(x**2 + y**2) for y and -y/(x**2 + y**2) for x, both 0 at (0, 0) where there is
    no derivative, and 0 at an infinite x or y (their limit: the gradient's size is 1/r;
    JAX and PyTorch give 0 for one and NaN for the other). Both are computed with x and y
    scaled by s = max(|x|, |y|), so that x**2 + y**2 neither underflows (|x|, |y| <
    1e-154, or 1e-19 in float32) nor overflows; s is held constant (a stop_gradient):
    x/(x**2 + y**2) is homogeneous of degree -1, so (x/s)/((x/s)**2 + (y/s)**2)/s equals
    it for any constant s, and so do its derivatives, which are then computed scaled
    too: every order is right wherever its true value is a float (the second at
    (1e-150, 2e-150) is -1.6e299, where unscaled formulas give -inf or NaN)."""

    name, fn, sympy_function = "arctan2", np.arctan2, "atan2"
    scalar_form, scalar_helpers, transcendental = "_atan2({0}, {1})", {"_atan2": math.atan2}, True

    def bprop(self, inputs, output, G):
        y, x = inputs
        s = StopGradient()(maximum(abs_(x), abs_(y)))
        origin = Equal()(s, weak_constant(0, s))
        far = Greater()(s, weak_constant(float(np.finfo(output.dtype).max), s))  # an infinite x or y

        def guarded(value, v):
            # value at the origin and at infinity; the guards keep 0/0 and inf/inf out of the branch
            # not taken, and of its gradients, where a NaN would show through a zero multiplier
            return where(origin, value, where(far, value, v))

        scale = guarded(1, s)
        xs, ys = guarded(0, x) / scale, guarded(0, y) / scale
        r2 = guarded(1, square(xs) + square(ys))  # in [1, 2] where the gradient is taken
        gy = guarded(0, G * ((xs / r2) / scale))
        gx = guarded(0, -(G * ((ys / r2) / scale)))
        return [sum_to(gy, y), sum_to(gx, x)]


def _power_dx(x, y):
    """y * x**(y-1), written so that y == 0 gives 0 (not 0 * x**-1 = nan at x = 0), so
    that every derivative of the expression is again the true one, and so that the
    rounding of y - 1 costs no accuracy: where y - 1 is not exact (y = -7.47 in
    float32 loses up to 50 ulps through x**(y-1) at x = 500) the exponent is split
    into y - 1 = hi + lo, both exact, and x**(y-1) = x**hi * x**lo.

    The correction x**lo is held constant (a stop_gradient): its derivatives are at most
    |lo / hi| <= 2**-53 of x**hi's, below the rounding of the result, and where x**hi
    is infinite (x = 0 with y < 1, or a huge y) the product rule would multiply that
    infinity by the correction's zero derivative: NaN where the true second derivative
    is +-inf (as JAX and PyTorch give)."""
    if y.is_constant:
        # x**0's derivative is the constant 0: its exponent c - 1 = -1 is replaced there
        # (0 * x**0 = 0), and every further derivative keeps 0
        c = y.value
        hi, lo = _two_sum_minus_one(c)
        hi, lo = np.where(c == 0, c, hi)[()], np.where(c == 0, c, lo)[()]
        power = x ** weak_constant(hi, x)
        if np.any(lo != 0):  # at x == 0 the correction is 0**0 = 1, not 0 * inf
            power = power * StopGradient()(x ** where(Equal()(x, 0), 0, weak_constant(lo, x)))
        return c * power
    # a variable exponent: only the point x == y == 0 has 0 * inf, and there the
    # derivative in x is 0 (x**0 = 1); elsewhere the expression is untouched, so
    # its derivatives in y at y == 0 (1/x for x > 0) stay right
    at_zero = Equal()(x, 0)
    hi, lo = _two_sum_minus_one(y)
    return y * (x ** where(at_zero, where(Equal()(y, 0), 1, hi), hi) * StopGradient()(x ** where(at_zero, 0, lo)))


def _two_sum_minus_one(y):
    """``(hi, lo)`` with hi = y - 1 rounded and lo its exact rounding error (Knuth's
    TwoSum, exact in any binary floating-point format), for arrays or graph nodes.
    The float ops are kept as written: none of the passes reassociates them."""
    hi = y - 1
    back = hi - y  # -1, up to hi's rounding
    return hi, (y - (hi - back)) + (-1 - back)


def _log_or_zero_at_zero(x):
    """log(x), with log(1) = 0 in place of log(0) = -inf: the exponent's gradient
    x**y * log(x) is then 0 * 0 at x == 0, and so is its every derivative
    (JAX's ``_replace_zero`` in ``_pow_jvp_rhs``)."""
    if x.is_constant and np.all(x.value != 0):  # 2.0 ** y: no zero to guard
        return log(x)
    return log(where(Equal()(x, 0), 1, x))


#: the most terms an add_n's inline ``a + b + ...`` holds
_LONG_SUM = 64


@dataclasses.dataclass(frozen=True)
class AddN(Op):
    """The sum of n same-shaped terms: build_grad's one add node per gradient."""

    linear = "all"
    name, symbol, elementwise = "add_n", "Σ", True

    def infer(self, *xs):
        shape = broadcast_shapes(*(x.shape for x in xs), op=self.name)
        return shape, np.result_type(*(x.dtype for x in xs))

    def forward(self, *xs):
        total = np.add(xs[0], xs[1])
        for x in xs[2:]:
            total += x  # total is a fresh array made by np.add above
        return total

    def bprop(self, inputs, output, G):
        return [sum_to(G, x) for x in inputs]

    def scalar(self, *args):
        return " + ".join(args)

    def expression(self, v, args):
        # a long sum calls forward (one result buffer, added into in place) instead of a
        # chain of ``+`` that allocates a temporary per term
        return " + ".join(args) if len(args) <= _LONG_SUM else None

    def sympy(self, sp, v, args):
        return sp.Add(*args)

    def flops(self, v, shape_of):
        return (len(v.owner.inputs) - 1) * size_of_shape(shape_of(v))


# -- builders ---------------------------------------------------------------------------


def add(x: Operand, y: Operand) -> Variable:
    """x + y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.add(2.0, gc.constant(3.0)), {}))
        5.0
    """
    return Add()(*operands(x, y, "add"))


def subtract(x: Operand, y: Operand) -> Variable:
    """x - y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.subtract(2.0, gc.constant(3.0)), {}))
        -1.0
    """
    return Subtract()(*operands(x, y, "subtract"))


def multiply(x: Operand, y: Operand) -> Variable:
    """x * y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.multiply(2.0, gc.constant(3.0)), {}))
        6.0
    """
    return Multiply()(*operands(x, y, "multiply"))


def divide(x: Operand, y: Operand) -> Variable:
    """x / y (true division) with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.divide(3.0, gc.constant(2.0)), {}))
        1.5
    """
    return Divide()(*operands(x, y, "divide"))


def power(x: Operand, y: Operand) -> Variable:
    """x ** y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.power(gc.constant(2.0), 3.0), {}))
        8.0
    """
    return Power()(*operands(x, y, "power"))


def arctan2(y: Operand, x: Operand) -> Variable:
    """The angle of the point (x, y) in radians, in [-pi, pi], elementwise with broadcasting
    (``np.arctan2``, C's ``atan2``: signed zeros and infinities as IEEE 754 says).

    Takes two broadcasting operands; returns their broadcast shape, in their promoted float
    dtype (integers give float64). Gradients: d/dy = x/(x**2 + y**2), d/dx = -y/(x**2 + y**2);
    at (0, 0), where the function jumps and has no derivative, both are 0, and so are their
    own derivatives (PyTorch gives 0 too, JAX NaN). Shapes that do not broadcast raise ``gc.ShapeError``.

    Example:
        >>> import graphcomp as gc
        >>> y, x = gc.Variable("y", (3,)), gc.Variable("x", (3,))
        >>> a = gc.arctan2(y, x)
        >>> a.shape, gc.evaluate(a, {y: [1.0, 0.0, -1.0], x: [0.0, -1.0, 0.0]}).round(4).tolist()
        ((3,), [1.5708, 3.1416, -1.5708])
        >>> dy, dx = gc.grad(a.sum(), [y, x])
        >>> gc.evaluate([dy, dx], {y: [1.0, 0.0, 0.0], x: [1.0, 2.0, 0.0]})[0].tolist()
        [0.5, 0.5, 0.0]
    """
    return Arctan2()(*operands(y, x, "arctan2"))


def add_n(*xs: Variable) -> Variable:
    """The sum of same-shaped terms in one node (build_grad's sum of contributions).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(add_n(gc.constant(1.0), gc.constant(2.0), gc.constant(3.0)), {}))
        6.0
    """
    return xs[0] if len(xs) == 1 else AddN()(*xs)
