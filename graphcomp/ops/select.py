"""Elementwise selection: ``where``, ``maximum`` and ``minimum``, with NumPy
broadcasting. The gradient goes to the value selected.

Ties: ``maximum(x, y)`` and ``minimum(x, y)`` split the gradient evenly (half
each) where ``x == y``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.ops.base import Op, Operand, as_variable, operands
from graphcomp.ops.compare import Equal, Greater, Less
from graphcomp.ops.shape import sum_to

__all__ = ["where", "maximum", "minimum"]


def maximum_scalar(a: float, b: float) -> float:
    """max of two floats; a NaN on either side wins, as in ``np.maximum``.

    Example:
        >>> maximum_scalar(1.0, 2.0), maximum_scalar(float("nan"), 2.0)
        (2.0, nan)
    """
    return a if (a >= b or a != a) else b


def minimum_scalar(a: float, b: float) -> float:
    """min of two floats; a NaN on either side wins, as in ``np.minimum``.

    Example:
        >>> minimum_scalar(1.0, 2.0)
        1.0
    """
    return a if (a <= b or a != a) else b


@dataclasses.dataclass(frozen=True)
class Where(Op):
    """``np.where(cond, a, b)``. The gradient goes to the branch that was taken;
    the untaken branch gets zeros, but a NaN or Inf *inside* the untaken
    branch's own gradient still shows (0 * inf = nan), as in every autodiff system."""

    name, elementwise = "where", True
    scalar_form = "({1} if {0} else {2})"
    numpy_helpers = {"_where": np.where}

    def infer(self, cond, a, b):
        shape = broadcast_shapes(cond.shape, a.shape, b.shape, op=self.name)
        return shape, result_dtype(np.where, np.dtype(bool), a.dtype, b.dtype)

    def forward(self, cond, a, b):
        return np.where(cond, a, b)

    def bprop(self, inputs, output, G):
        cond, a, b = inputs
        return [None, sum_to(where(cond, G, 0), a), sum_to(where(cond, 0, G), b)]

    def expression(self, v, args):
        return f"_where({', '.join(args)})"

    def sympy(self, sp, v, args):
        return sp.Piecewise((args[1], args[0]), (args[2], True))


@dataclasses.dataclass(frozen=True)
class Extremum(Op):
    """An elementwise max or min of two broadcasting inputs."""

    elementwise, slow_in_numpy = True, True  # NumPy's NaN-aware loop: worth a kernel alone
    #: the comparison saying where x is the one selected
    wins: ClassVar[type[Op]]

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), result_dtype(type(self).fn, x.dtype, y.dtype)

    def forward(self, x, y):
        return type(self).fn(x, y)

    def bprop(self, inputs, output, G):
        x, y = inputs
        x_wins = self.wins()(x, y)
        tie = Equal()(x, y)
        half = G * 0.5
        gx = where(x_wins, G, where(tie, half, 0))
        gy = where(x_wins, 0, where(tie, half, G))
        return [sum_to(gx, x), sum_to(gy, y)]


class Maximum(Extremum):
    """Elementwise max; where x == y each side gets half the gradient."""

    name, fn, sympy_function, wins = "maximum", np.maximum, "Max", Greater
    scalar_form, scalar_helpers = "maximum_scalar({0}, {1})", {"maximum_scalar": maximum_scalar}


class Minimum(Extremum):
    """Elementwise min; where x == y each side gets half the gradient."""

    name, fn, sympy_function, wins = "minimum", np.minimum, "Min", Less
    scalar_form, scalar_helpers = "minimum_scalar({0}, {1})", {"minimum_scalar": minimum_scalar}


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


def maximum(x: Operand, y: Operand) -> Variable:
    """Elementwise max (``np.maximum``, NaN wins); where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.maximum(gc.constant(1.0), 2.0), {}))
        2.0
    """
    return Maximum()(*operands(x, y))


def minimum(x: Operand, y: Operand) -> Variable:
    """Elementwise min (``np.minimum``, NaN wins); where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.minimum(gc.constant(1.0), 2.0), {}))
        1.0
    """
    return Minimum()(*operands(x, y))
