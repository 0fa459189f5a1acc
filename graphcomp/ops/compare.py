"""Elementwise comparisons with NumPy broadcasting: boolean results, no gradient.

``==`` and ``!=`` on Variables stay identity comparisons (Variables key
dicts such as grad_table); ``gc.equal`` and ``gc.not_equal`` compare values.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes
from graphcomp.ops.base import Op, Operand, operands

__all__ = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]


@dataclasses.dataclass(frozen=True)
class Compare(Op):
    """A comparison of two broadcasting inputs by ``fn``: boolean, not differentiable."""

    differentiable, elementwise = False, True

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), np.dtype(bool)

    def forward(self, x, y):
        return type(self).fn(x, y)

    def bprop(self, inputs, output, G):
        return [None, None]


class Less(Compare):
    name, fn, symbol, sympy_function = "less", np.less, "<", "Lt"
    scalar_form, infix = "({0} < {1})", ("<", 3, "both")


class LessEqual(Compare):
    name, fn, symbol, sympy_function = "less_equal", np.less_equal, "≤", "Le"
    scalar_form, infix = "({0} <= {1})", ("<=", 3, "both")


class Greater(Compare):
    name, fn, symbol, sympy_function = "greater", np.greater, ">", "Gt"
    scalar_form, infix = "({0} > {1})", (">", 3, "both")


class GreaterEqual(Compare):
    name, fn, symbol, sympy_function = "greater_equal", np.greater_equal, "≥", "Ge"
    scalar_form, infix = "({0} >= {1})", (">=", 3, "both")


class Equal(Compare):
    name, fn, symbol, sympy_function = "equal", np.equal, "==", "Eq"
    scalar_form, infix = "({0} == {1})", ("==", 3, "both")


class NotEqual(Compare):
    name, fn, symbol, sympy_function = "not_equal", np.not_equal, "!=", "Ne"
    scalar_form, infix = "({0} != {1})", ("!=", 3, "both")


def less(x: Operand, y: Operand) -> Variable:
    """x < y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.less(gc.constant(1.0), 2.0), {}))
        True
    """
    return Less()(*operands(x, y, "less"))


def less_equal(x: Operand, y: Operand) -> Variable:
    """x <= y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.less_equal(gc.constant(1.0), 1.0), {}))
        True
    """
    return LessEqual()(*operands(x, y, "less_equal"))


def greater(x: Operand, y: Operand) -> Variable:
    """x > y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.greater(gc.constant(1.0), 2.0), {}))
        False
    """
    return Greater()(*operands(x, y, "greater"))


def greater_equal(x: Operand, y: Operand) -> Variable:
    """x >= y (boolean, not differentiable).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.greater_equal(gc.constant(1.0), 2.0), {}))
        False
    """
    return GreaterEqual()(*operands(x, y, "greater_equal"))


def equal(x: Operand, y: Operand) -> Variable:
    """x == y elementwise (boolean); ``==`` on Variables stays identity.

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.equal(gc.constant(1.0), 1.0), {}))
        True
    """
    return Equal()(*operands(x, y, "equal"))


def not_equal(x: Operand, y: Operand) -> Variable:
    """x != y elementwise (boolean).

    Example:
        >>> import graphcomp as gc
        >>> bool(gc.evaluate(gc.not_equal(gc.constant(1.0), 1.0), {}))
        False
    """
    return NotEqual()(*operands(x, y, "not_equal"))
