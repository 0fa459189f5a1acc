"""Unary elementwise ops. Each: a NumPy forward and its derivative, written
with graph ops so it can be differentiated again.

Conventions at non-differentiable points: relu'(0) = 0, abs'(0) = sign(0) = 0.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import result_dtype
from graphcomp.ops.base import Op, Operand


def _sigmoid(x):
    # exp(-log(1 + exp(-x))) never overflows, for either sign of x
    return np.exp(-np.logaddexp(0, -x))


def _softplus(x):
    return np.logaddexp(0, x)


def _relu(x):
    return np.maximum(x, 0)


@dataclasses.dataclass(frozen=True)
class Unary(Op):
    """An elementwise op of one input: ``fn`` forward, ``grad`` its derivative."""

    fn: ClassVar = None

    def infer(self, x):
        return x.shape, result_dtype(type(self).fn, x.dtype)

    def forward(self, x):
        return type(self).fn(x)

    def bprop(self, inputs, output, G):
        return [self.grad(inputs[0], output, G)]

    def grad(self, x, y, G):
        """dcost/dx given y = f(x) and G = dcost/dy."""
        raise NotImplementedError


# -- simple ------------------------------------------------------------------


class Negative(Unary):
    name, fn = "negative", np.negative

    def grad(self, x, y, G):
        return -G


class Exp(Unary):
    name, fn = "exp", np.exp

    def grad(self, x, y, G):
        return G * y


class Log(Unary):
    name, fn = "log", np.log

    def grad(self, x, y, G):
        return G / x


class Sin(Unary):
    name, fn = "sin", np.sin

    def grad(self, x, y, G):
        return G * cos(x)


class Cos(Unary):
    name, fn = "cos", np.cos

    def grad(self, x, y, G):
        return -(G * sin(x))


class Tan(Unary):
    name, fn = "tan", np.tan

    def grad(self, x, y, G):
        return G * (1 + square(y))


class Tanh(Unary):
    name, fn = "tanh", np.tanh

    def grad(self, x, y, G):
        return G * (1 - square(y))


class Sqrt(Unary):
    name, fn = "sqrt", np.sqrt

    def grad(self, x, y, G):
        return G / (2 * y)


class Square(Unary):
    name, fn = "square", np.square

    def grad(self, x, y, G):
        return G * (2 * x)


class Log1p(Unary):
    name, fn = "log1p", np.log1p

    def grad(self, x, y, G):
        return G / (1 + x)


class Expm1(Unary):
    name, fn = "expm1", np.expm1

    def grad(self, x, y, G):
        return G * (y + 1)


class Sigmoid(Unary):
    name, fn = "sigmoid", staticmethod(_sigmoid)

    def grad(self, x, y, G):
        return G * (y * (1 - y))


class Softplus(Unary):
    name, fn = "softplus", staticmethod(_softplus)

    def grad(self, x, y, G):
        return G * sigmoid(x)


# -- non-differentiable points -------------------------------------------------


class Abs(Unary):
    """|x|; the derivative at 0 is sign(0) = 0."""

    name, fn = "abs", np.abs

    def grad(self, x, y, G):
        return G * sign(x)


class Relu(Unary):
    """max(x, 0); relu'(0) = 0, so the gradient flows only where x > 0."""

    name, fn = "relu", staticmethod(_relu)

    def grad(self, x, y, G):
        from graphcomp.ops.binary import where

        return where(x > 0, G, 0)


class Sign(Unary):
    """sign(x): its derivative is 0 everywhere it exists, so abs'' = 0."""

    name, fn = "sign", np.sign

    def grad(self, x, y, G):
        from graphcomp.ops.control import ZerosLike

        return ZerosLike()(G)


# -- builders ------------------------------------------------------------------


def negative(x: Operand) -> Variable:
    """-x elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.negative(gc.constant(2.0)), {}))
        -2.0
    """
    return Negative()(x)


def exp(x: Operand) -> Variable:
    """e**x elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.exp(gc.constant(0.0)), {}))
        1.0
    """
    return Exp()(x)


def log(x: Operand) -> Variable:
    """Natural logarithm elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.log(gc.constant(1.0)), {}))
        0.0
    """
    return Log()(x)


def sin(x: Operand) -> Variable:
    """Sine elementwise (radians).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.sin(gc.constant(0.0)), {}))
        0.0
    """
    return Sin()(x)


def cos(x: Operand) -> Variable:
    """Cosine elementwise (radians).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.cos(gc.constant(0.0)), {}))
        1.0
    """
    return Cos()(x)


def tan(x: Operand) -> Variable:
    """Tangent elementwise (radians).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.tan(gc.constant(0.0)), {}))
        0.0
    """
    return Tan()(x)


def tanh(x: Operand) -> Variable:
    """Hyperbolic tangent elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.tanh(gc.constant(0.0)), {}))
        0.0
    """
    return Tanh()(x)


def sqrt(x: Operand) -> Variable:
    """Square root elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.sqrt(gc.constant(9.0)), {}))
        3.0
    """
    return Sqrt()(x)


def square(x: Operand) -> Variable:
    """x**2 elementwise.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.square(gc.constant(-3.0)), {}))
        9.0
    """
    return Square()(x)


def log1p(x: Operand) -> Variable:
    """log(1 + x), accurate for small x.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.log1p(gc.constant(0.0)), {}))
        0.0
    """
    return Log1p()(x)


def expm1(x: Operand) -> Variable:
    """exp(x) - 1, accurate for small x.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.expm1(gc.constant(0.0)), {}))
        0.0
    """
    return Expm1()(x)


def sigmoid(x: Operand) -> Variable:
    """1 / (1 + exp(-x)), computed without overflow for large |x|.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.sigmoid(gc.constant(0.0)), {}))
        0.5
    """
    return Sigmoid()(x)


def softplus(x: Operand) -> Variable:
    """log(1 + exp(x)), computed without overflow.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.softplus(gc.constant(0.0)), {}))
        0.6931471805599453
    """
    return Softplus()(x)


def abs(x: Operand) -> Variable:  # noqa: A001 - the NumPy name
    """|x| elementwise; its derivative at 0 is taken as 0.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.abs(gc.constant(-2.0)), {}))
        2.0
    """
    return Abs()(x)


def relu(x: Operand) -> Variable:
    """max(x, 0) elementwise; relu'(0) = 0.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.relu(gc.constant(-1.0)), {}))
        0.0
    """
    return Relu()(x)


def sign(x: Operand) -> Variable:
    """-1, 0 or 1 elementwise; its derivative is 0.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.sign(gc.constant(-3.0)), {}))
        -1.0
    """
    return Sign()(x)
