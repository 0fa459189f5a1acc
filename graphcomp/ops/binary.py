"""Binary and n-ary elementwise ops with NumPy broadcasting: arithmetic,
maximum/minimum, comparisons, where, and the n-ary add that build_grad uses to
sum contributions. Every bprop undoes broadcasting with ``sum_to``.

Ties: ``maximum(x, y)`` and ``minimum(x, y)`` split the gradient evenly (half
each) where ``x == y``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.ops.base import Op, Operand, as_variable, weak_constant
from graphcomp.ops.shape import sum_to


def operands(x: Operand, y) -> tuple[Variable, Variable]:
    """Coerce a pair of operands, Python numbers taking the other side's dtype.

    Example:
        >>> import graphcomp as gc
        >>> a, b = operands(gc.Variable("x", dtype="float32"), 2)
        >>> b.dtype
        dtype('float32')
    """
    if isinstance(x, Variable):
        return x, weak_constant(y, x)
    if isinstance(y, Variable):
        return weak_constant(x, y), y
    return as_variable(x), as_variable(y)


@dataclasses.dataclass(frozen=True)
class Binary(Op):
    """An elementwise op of two broadcasting inputs."""

    fn: ClassVar = None

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), result_dtype(type(self).fn, x.dtype, y.dtype)

    def forward(self, x, y):
        return type(self).fn(x, y)


# -- arithmetic ------------------------------------------------------------------


class Add(Binary):
    name, fn = "add", np.add

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(G, y)]


class Subtract(Binary):
    name, fn = "subtract", np.subtract

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G, x), sum_to(-G, y)]


class Multiply(Binary):
    name, fn = "multiply", np.multiply

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G * y, x), sum_to(G * x, y)]


class Divide(Binary):
    name, fn = "divide", np.true_divide

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G / y, x), sum_to(-(G * output) / y, y)]


class Power(Binary):
    """x ** y. d/dx = y * x**(y-1), and 0 where y == 0 (x**0 is 1 for every x, 0
    included), so the repeated derivatives of a polynomial are right at 0.
    d/dy = x**y * log(x), and 0 at x == 0 (0**y is locally constant for y > 0),
    as in JAX and PyTorch; NaN for x < 0, where x**y is not real for nearby y."""

    name, fn = "power", np.power

    def bprop(self, inputs, output, G):
        x, y = inputs
        return [sum_to(G * _power_dx(x, y), x), sum_to(G * (output * _log_or_zero_at_zero(x)), y)]


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
    from graphcomp.ops.elementwise import log

    if x.is_constant and np.all(x.value != 0):  # 2.0 ** y: no zero to guard
        return log(x)
    return log(where(Equal()(x, 0), 1, x))


# -- non-differentiable points -----------------------------------------------------


class Maximum(Binary):
    """Elementwise max; where x == y each side gets half the gradient."""

    name, fn = "maximum", np.maximum

    def bprop(self, inputs, output, G):
        x, y = inputs
        return _extremum_grads(x, y, G, x > y)


class Minimum(Binary):
    """Elementwise min; where x == y each side gets half the gradient."""

    name, fn = "minimum", np.minimum

    def bprop(self, inputs, output, G):
        x, y = inputs
        return _extremum_grads(x, y, G, x < y)


def _extremum_grads(x: Operand, y, G, x_wins):
    tie = Equal()(x, y)
    half = G * 0.5
    gx = where(x_wins, G, where(tie, half, 0))
    gy = where(x_wins, 0, where(tie, half, G))
    return [sum_to(gx, x), sum_to(gy, y)]


# -- comparisons (boolean, not differentiable) -----------------------------------------


@dataclasses.dataclass(frozen=True)
class Compare(Binary):
    differentiable = False

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), np.dtype(bool)

    def bprop(self, inputs, output, G):
        return [None, None]


class Less(Compare):
    name, fn = "less", np.less


class LessEqual(Compare):
    name, fn = "less_equal", np.less_equal


class Greater(Compare):
    name, fn = "greater", np.greater


class GreaterEqual(Compare):
    name, fn = "greater_equal", np.greater_equal


class Equal(Compare):
    name, fn = "equal", np.equal


class NotEqual(Compare):
    name, fn = "not_equal", np.not_equal


# -- selection and sums ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Where(Op):
    """``np.where(cond, a, b)``. The gradient goes to the branch that was taken;
    the untaken branch gets zeros, but a NaN or Inf *inside* the untaken
    branch's own gradient still shows (0 * inf = nan), as in every autodiff system."""

    name = "where"

    def infer(self, cond, a, b):
        shape = broadcast_shapes(cond.shape, a.shape, b.shape, op=self.name)
        return shape, result_dtype(np.where, np.dtype(bool), a.dtype, b.dtype)

    def forward(self, cond, a, b):
        return np.where(cond, a, b)

    def bprop(self, inputs, output, G):
        cond, a, b = inputs
        return [None, sum_to(where(cond, G, 0), a), sum_to(where(cond, 0, G), b)]


@dataclasses.dataclass(frozen=True)
class AddN(Op):
    """The sum of n same-shaped terms: build_grad's one add node per gradient."""

    name = "add_n"

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


def maximum(x: Operand, y: Operand) -> Variable:
    """Elementwise max; where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.maximum(gc.constant(1.0), 2.0), {}))
        2.0
    """
    return Maximum()(*operands(x, y))


def minimum(x: Operand, y: Operand) -> Variable:
    """Elementwise min; where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.minimum(gc.constant(1.0), 2.0), {}))
        1.0
    """
    return Minimum()(*operands(x, y))


def less(x: Operand, y: Operand) -> Variable:
    """x < y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.less(gc.constant(1.0), 2.0), {}))
        True
    """
    return Less()(*operands(x, y))


def less_equal(x: Operand, y: Operand) -> Variable:
    """x <= y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.less_equal(gc.constant(1.0), 1.0), {}))
        True
    """
    return LessEqual()(*operands(x, y))


def greater(x: Operand, y: Operand) -> Variable:
    """x > y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.greater(gc.constant(1.0), 2.0), {}))
        False
    """
    return Greater()(*operands(x, y))


def greater_equal(x: Operand, y: Operand) -> Variable:
    """x >= y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.greater_equal(gc.constant(1.0), 2.0), {}))
        False
    """
    return GreaterEqual()(*operands(x, y))


def equal(x: Operand, y: Operand) -> Variable:
    """x == y elementwise (boolean); ``==`` on Variables stays identity.

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.equal(gc.constant(1.0), 1.0), {}))
        True
    """
    return Equal()(*operands(x, y))


def not_equal(x: Operand, y: Operand) -> Variable:
    """x != y elementwise (boolean).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.not_equal(gc.constant(1.0), 1.0), {}))
        False
    """
    return NotEqual()(*operands(x, y))


def where(cond: Operand, a: Operand, b: Operand) -> Variable:
    """``a`` where ``cond`` is true, else ``b`` (``np.where``), with broadcasting.

    The gradient flows only into the branch taken; a NaN or Inf inside the
    untaken branch's own gradient still shows, as in every autodiff system.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.constant([-1.0, 2.0])
        >>> gc.evaluate(gc.where(x > 0, x, 0.0), {}).tolist()
        [0.0, 2.0]
    """
    cond = as_variable(cond)
    a, b = operands(a, b)
    return Where()(cond, a, b)


def add_n(*xs: Variable) -> Variable:
    """The sum of same-shaped terms in one node (build_grad's sum of contributions).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(add_n(gc.constant(1.0), gc.constant(2.0), gc.constant(3.0)), {}))
        6.0
    """
    return xs[0] if len(xs) == 1 else AddN()(*xs)
