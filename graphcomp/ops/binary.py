"""Elementwise arithmetic with NumPy broadcasting: add, subtract, multiply,
divide, power, and the n-ary add that build_grad uses to sum contributions.
Every bprop undoes broadcasting with ``sum_to``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.ops.base import Op, Operand, operands, size_of_shape, weak_constant
from graphcomp.ops.compare import Equal
from graphcomp.ops.elementwise import log
from graphcomp.ops.select import where
from graphcomp.ops.shape import sum_to

__all__ = ["add", "subtract", "multiply", "divide", "power"]


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
    name, fn, symbol = "add", np.add, "+"
    infix = ("+", 4, "both")
    scalar_form = "{0} + {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(G, y)]

    def sympy(self, sp, v, args):
        return args[0] + args[1]


class Subtract(Binary):
    name, fn, symbol = "subtract", np.subtract, "−"
    infix = ("-", 4, "left")
    scalar_form = "{0} - {1}"

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(-G, y)]

    def sympy(self, sp, v, args):
        return args[0] - args[1]


class Multiply(Binary):
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


def _power_dx(x, y):
    """y * x**(y-1), written so that y == 0 gives 0 (not 0 * x**-1 = nan at x = 0), so
    that every derivative of the expression is again the true one, and so that the
    rounding of y - 1 costs no accuracy: where y - 1 is not exact (y = -7.47 in
    float32 loses up to 50 ulps through x**(y-1) at x = 500) the exponent is split
    into y - 1 = hi + lo, both exact, and x**(y-1) = x**hi * x**lo."""
    if y.is_constant:
        # x**0's derivative is the constant 0: its exponent c - 1 = -1 is replaced there
        # (0 * x**0 = 0), and every further derivative keeps 0
        c = y.value
        hi, lo = _two_sum_minus_one(c)
        hi, lo = np.where(c == 0, c, hi)[()], np.where(c == 0, c, lo)[()]
        power = x ** weak_constant(hi, x)
        if np.any(lo != 0):  # at x == 0 the correction is 0**0 = 1, not 0 * inf
            power = power * x ** where(Equal()(x, 0), 0, weak_constant(lo, x))
        return c * power
    # a variable exponent: only the point x == y == 0 has 0 * inf, and there the
    # derivative in x is 0 (x**0 = 1); elsewhere the expression is untouched, so
    # its derivatives in y at y == 0 (1/x for x > 0) stay right
    at_zero = Equal()(x, 0)
    hi, lo = _two_sum_minus_one(y)
    return y * (x ** where(at_zero, where(Equal()(y, 0), 1, hi), hi) * x ** where(at_zero, 0, lo))


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
    return Add()(*operands(x, y))


def subtract(x: Operand, y: Operand) -> Variable:
    """x - y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.subtract(2.0, gc.constant(3.0)), {}))
        -1.0
    """
    return Subtract()(*operands(x, y))


def multiply(x: Operand, y: Operand) -> Variable:
    """x * y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.multiply(2.0, gc.constant(3.0)), {}))
        6.0
    """
    return Multiply()(*operands(x, y))


def divide(x: Operand, y: Operand) -> Variable:
    """x / y (true division) with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.divide(3.0, gc.constant(2.0)), {}))
        1.5
    """
    return Divide()(*operands(x, y))


def power(x: Operand, y: Operand) -> Variable:
    """x ** y with broadcasting.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.power(gc.constant(2.0), 3.0), {}))
        8.0
    """
    return Power()(*operands(x, y))


def add_n(*xs: Variable) -> Variable:
    """The sum of same-shaped terms in one node (build_grad's sum of contributions).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(add_n(gc.constant(1.0), gc.constant(2.0), gc.constant(3.0)), {}))
        6.0
    """
    return xs[0] if len(xs) == 1 else AddN()(*xs)
