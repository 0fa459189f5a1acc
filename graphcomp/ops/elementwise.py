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
    # 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|) <= 1: never
    # overflows, and each step rounds once, so the result is within 2-3 ulps (relative)
    # down to the smallest normal numbers (exp(-log1p(exp(-x))) lost up to 31 ulps)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


#: per float dtype, an |x| beyond which cosh(x) would overflow (log of the largest number)
_COSH_LIMIT: dict = {}


def _sech2(x):
    # 1 / cosh(x)**2; |x| is capped below cosh's overflow (sech(x)**2 is no longer a normal
    # number there), so no overflow warning, and 1/cosh squared underflows quietly to 0
    a = np.abs(x)
    limit = _COSH_LIMIT.get(a.dtype)
    if limit is None:
        kind = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
        limit = _COSH_LIMIT[a.dtype] = float(np.log(np.finfo(kind).max))
    if type(a) is not np.ndarray or a.dtype.kind != "f":  # a 0-d value or an int: no buffer to reuse
        r = 1 / np.cosh(np.minimum(a, limit))
        return r * r
    np.minimum(a, limit, out=a)  # a is abs's fresh array: every step writes into it
    np.cosh(a, out=a)
    np.reciprocal(a, out=a)
    return np.multiply(a, a, out=a)


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
        # e * broadcast(g / sum(e)), log(sum(exp x))'s gradient, is inf * 0 where e overflows
        # and 0 * inf where the sum underflows: it is broadcast(g) * exp(x - logsumexp(x))
        from graphcomp.ops.binary import add_n
        from graphcomp.ops.cancel import REDUCTION, split_quotients

        split = split_quotients(G, lambda d: _sum_of(d, y), REDUCTION, _puts_back_the_sum)
        if split is None:
            return G * y
        found, rest = split
        terms = [g * exp(x - s.owner.op.expand(_logsumexp_of(s, x))) for s, g in found]
        return add_n(*terms, *([] if rest is None else [rest * y]))


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
        # 1 - y**2 loses every digit once y rounds to +-1 (|x| > 19 in float64, 9 in
        # float32) while the true derivative is still a normal number down to |x| ~ 355
        return G * sech2(x)


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
        # exp(x), not y + 1: expm1(-40) + 1 is -1 + 1 = 0, while exp(-40) = 4.2e-18
        return G * exp(x)


class Sigmoid(Unary):
    name, fn = "sigmoid", staticmethod(_sigmoid)

    def grad(self, x, y, G):
        # sigmoid(x) * sigmoid(-x) is y * (1 - y) with the 1 - y computed from x: once y
        # rounds to 1 (x > 37 in float64, 17 in float32) 1 - y is 0, the true value is not.
        # Quotients by y or 1 - y (the gradients of log(sigmoid x), log(1 - sigmoid x) and
        # log1p(-sigmoid x)) cancel: g/y * y(1-y) = g * sigmoid(-x), g/(1-y) * y(1-y) = g * y
        from graphcomp.ops.binary import add_n
        from graphcomp.ops.cancel import split_quotients

        split = split_quotients(G, lambda d: _sigmoid_quotient(d, y))
        if split is None:
            return G * (y * sigmoid(-x))
        found, rest = split
        terms = [g * (sigmoid(-x) if kind == "y" else y) for kind, g in found]
        return add_n(*terms, *([] if rest is None else [rest * (y * sigmoid(-x))]))


class Softplus(Unary):
    name, fn = "softplus", staticmethod(_softplus)

    def grad(self, x, y, G):
        return G * sigmoid(x)


class Sech2(Unary):
    """sech(x)**2 = 1 / cosh(x)**2 = 1 - tanh(x)**2: tanh's derivative, accurate to a few
    ulps (relative) wherever it is a normal number (``1 - tanh(x)**2`` is 0 from |x| ~ 19)."""

    name, fn = "sech2", staticmethod(_sech2)

    def grad(self, x, y, G):
        # d/dx sech(x)**2 = -2 sech(x)**2 tanh(x)
        return G * (-2 * (y * tanh(x)))


def _ones(v: Variable) -> bool:
    return v.kind == "constant" and v.value.size > 0 and bool(np.all(v.value == 1))


def _sigmoid_quotient(d: Variable, y: Variable) -> str | None:
    """ "y" when d is the sigmoid's value y, "1-y" when d is 1 - y (or 1 + (-y), which
    log1p(-y)'s bprop divides by), else None."""
    if d is y:
        return "y"
    op = None if d.owner is None else d.owner.op.name
    if op == "subtract" and d.owner.inputs[1] is y and _ones(d.owner.inputs[0]):
        return "1-y"
    if op == "add":
        for one, other in (d.owner.inputs, reversed(d.owner.inputs)):
            if _ones(one) and other.owner is not None and other.owner.op.name == "negative":
                if other.owner.inputs[0] is y:
                    return "1-y"
    return None


def _sum_of(d: Variable, e: Variable) -> Variable | None:
    """d itself when it is a sum (over any axes) of the exp's value e."""
    if d.owner is not None and d.owner.op.name == "sum" and d.owner.inputs[0] is e:
        return d
    return None


def _puts_back_the_sum(s: Variable, chain: tuple) -> bool:
    """Whether the plumbing from g / s up to exp's gradient is the sum's own bprop (its
    axes put back, then a broadcast to e), so that it carries the division by s as a
    division by s broadcast the same way."""
    op, e = s.owner.op, s.owner.inputs[0]
    steps = [(o, extra) for o, extra in chain if o.name != "negative"]
    if not op.keepdims and op.axes:
        if not steps or steps[0][0].name != "expand_dims" or tuple(steps[0][0].axes) != tuple(op.axes):
            return False
        steps = steps[1:]
    if len(steps) > 1:
        return False
    if steps:
        o, extra = steps[0]
        return o.name == "broadcast_like" and extra[0] is e or o.name == "broadcast_to" and o.shape == e.shape
    return True


def _logsumexp_of(s: Variable, x: Variable) -> Variable:
    """logsumexp(x) over s's axes, as the stabilize pass writes log(s) (so the two merge)."""
    from graphcomp.ops.reduce import LogSumExp

    return LogSumExp(s.owner.op.axes, s.owner.op.keepdims)(x)


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


def sech2(x: Operand) -> Variable:
    """sech(x)**2 = 1 / cosh(x)**2, the derivative of tanh, computed from x so that it
    keeps its digits where tanh(x) rounds to +-1 (float dtypes; ints give float64).

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(sech2(gc.constant(0.0)), {}))
        1.0
        >>> float(gc.evaluate(sech2(gc.constant(20.0)), {}))  # 1 - tanh(20)**2 is 0.0
        1.6993417021166355e-17
    """
    return Sech2()(x)


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
