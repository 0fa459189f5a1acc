"""Unary elementwise ops. Each: its NumPy function, its scalar and SymPy forms,
and its derivative written with graph ops so it can be differentiated again.

Conventions at non-differentiable points: relu'(0) = 0, abs'(0) = sign(0) = 0.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import result_dtype
from graphcomp.ops.base import Op, Operand
from graphcomp.ops.creation import zeros_like
from graphcomp.ops.select import maximum_scalar, where

__all__ = [
    "negative", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "square", "log1p", "expm1",
    "sigmoid", "softplus", "abs", "relu", "sign",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Unary(Op):
    """An elementwise op of one input: ``fn`` forward, ``grad`` its derivative."""

    elementwise = True

    def infer(self, x):
        return x.shape, result_dtype(type(self).fn, x.dtype)

    def forward(self, x):
        return type(self).fn(x)

    def bprop(self, inputs, output, G):
        return [self.grad(inputs[0], output, G)]

    def grad(self, x, y, G):
        """dcost/dx given y = f(x) and G = dcost/dy."""
        raise NotImplementedError


# -- numerics shared by the NumPy and scalar forms -----------------------------------------------------


def _sigmoid(x):
    # exp(-log(1 + exp(-x))) never overflows, for either sign of x
    return np.exp(-np.logaddexp(0, -x))


def _softplus(x):
    return np.logaddexp(0, x)


def _relu(x):
    return np.maximum(x, 0)


def sigmoid_scalar(x: float) -> float:
    """The logistic function of one float, without overflow for either sign.

    Example:
        >>> sigmoid_scalar(0.0), sigmoid_scalar(-1000.0)
        (0.5, 0.0)
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # never overflows for x < 0
    return e / (1.0 + e)


def softplus_scalar(x: float) -> float:
    """log(1 + exp(x)) of one float, without overflow.

    Example:
        >>> softplus_scalar(1000.0)
        1000.0
    """
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-math.fabs(x)))  # the module's abs is gc.abs


def sign_scalar(x: float) -> float:
    """-1, 0 or 1 for one float; sign(0) = 0 and sign(nan) = nan, as np.sign.

    Example:
        >>> sign_scalar(-3.0), sign_scalar(0.0)
        (-1.0, 0.0)
    """
    return 1.0 if x > 0 else (-1.0 if x < 0 else x)


# -- simple ----------------------------------------------------------------------------------------------


class Negative(Unary):
    name, fn, symbol = "negative", np.negative, "neg"
    scalar_form, infix = "-{0}", ("-", 6, "prefix")

    def grad(self, x, y, G):
        return -G

    def sympy(self, sp, v, args):
        return -args[0]


class Exp(Unary):
    name, fn, sympy_function = "exp", np.exp, "exp"
    scalar_form, transcendental = "_exp({0})", True
    scalar_helpers = {"_exp": math.exp}

    def grad(self, x, y, G):
        return G * y


class Log(Unary):
    name, fn, sympy_function = "log", np.log, "log"
    stable_hint = (
        "For the log of a probability p = sigmoid(z): log_sigmoid(z) = -softplus(-z), and log(1 - p) = -softplus(z); "
        "as a loss, gc.nn.binary_cross_entropy_with_logits(z, y); for log(softmax(z)), gc.log_softmax(z)."
    )
    scalar_form, transcendental = "_log({0})", True
    scalar_helpers = {"_log": math.log}

    def grad(self, x, y, G):
        return G / x


class Sin(Unary):
    name, fn, sympy_function = "sin", np.sin, "sin"
    scalar_form, transcendental = "_sin({0})", True
    scalar_helpers = {"_sin": math.sin}

    def grad(self, x, y, G):
        return G * cos(x)


class Cos(Unary):
    name, fn, sympy_function = "cos", np.cos, "cos"
    scalar_form, transcendental = "_cos({0})", True
    scalar_helpers = {"_cos": math.cos}

    def grad(self, x, y, G):
        return -(G * sin(x))


class Tan(Unary):
    name, fn, sympy_function = "tan", np.tan, "tan"
    scalar_form, transcendental = "_tan({0})", True
    scalar_helpers = {"_tan": math.tan}

    def grad(self, x, y, G):
        return G * (1 + square(y))


class Tanh(Unary):
    name, fn, sympy_function = "tanh", np.tanh, "tanh"
    scalar_form, transcendental = "_tanh({0})", True
    scalar_helpers = {"_tanh": math.tanh}

    def grad(self, x, y, G):
        return G * (1 - square(y))


class Sqrt(Unary):
    name, fn, sympy_function = "sqrt", np.sqrt, "sqrt"
    stable_hint = "sqrt's derivative 1/(2 sqrt(x)) is infinite at 0: sqrt(x + eps), or gc.norm for a length."
    scalar_form, scalar_helpers = "_sqrt({0})", {"_sqrt": math.sqrt}

    def grad(self, x, y, G):
        return G / (2 * y)


class Square(Unary):
    name, fn = "square", np.square
    scalar_form = "{0} * {0}"

    def grad(self, x, y, G):
        return G * (2 * x)

    def sympy(self, sp, v, args):
        return args[0] ** 2


class Log1p(Unary):
    name, fn = "log1p", np.log1p
    scalar_form, transcendental = "_log1p({0})", True
    scalar_helpers = {"_log1p": math.log1p}

    def grad(self, x, y, G):
        return G / (1 + x)

    def sympy(self, sp, v, args):
        return sp.log(1 + args[0])


class Expm1(Unary):
    name, fn = "expm1", np.expm1
    scalar_form, transcendental = "_expm1({0})", True
    scalar_helpers = {"_expm1": math.expm1}

    def grad(self, x, y, G):
        return G * (y + 1)

    def sympy(self, sp, v, args):
        return sp.exp(args[0]) - 1


class Sigmoid(Unary):
    name, fn = "sigmoid", staticmethod(_sigmoid)
    scalar_form, scalar_helpers = "sigmoid_scalar({0})", {"sigmoid_scalar": sigmoid_scalar}
    slow_in_numpy, flops_per_element = True, 4  # several NumPy passes: worth a kernel even alone

    def grad(self, x, y, G):
        return G * (y * (1 - y))

    def sympy(self, sp, v, args):
        return 1 / (1 + sp.exp(-args[0]))


class Softplus(Unary):
    name, fn = "softplus", staticmethod(_softplus)
    scalar_form, scalar_helpers = "softplus_scalar({0})", {"softplus_scalar": softplus_scalar}
    slow_in_numpy, flops_per_element = True, 4

    def grad(self, x, y, G):
        return G * sigmoid(x)

    def sympy(self, sp, v, args):
        return sp.log(1 + sp.exp(args[0]))


# -- non-differentiable points ---------------------------------------------------------------------------


class Abs(Unary):
    """|x|; the derivative at 0 is sign(0) = 0."""

    name, fn, sympy_function = "abs", np.abs, "Abs"
    scalar_form = "abs({0})"

    def grad(self, x, y, G):
        return G * sign(x)


class Relu(Unary):
    """max(x, 0); relu'(0) = 0, so the gradient flows only where x > 0."""

    name, fn = "relu", staticmethod(_relu)
    scalar_form, scalar_helpers = "maximum_scalar({0}, 0.0)", {"maximum_scalar": maximum_scalar}
    slow_in_numpy = True  # NumPy's NaN-aware maximum loop

    def grad(self, x, y, G):
        return where(x > 0, G, 0)

    def sympy(self, sp, v, args):
        return sp.Max(args[0], 0)


class Sign(Unary):
    """sign(x): its derivative is 0 everywhere it exists, so abs'' = 0."""

    name, fn, sympy_function = "sign", np.sign, "sign"
    scalar_form, scalar_helpers = "sign_scalar({0})", {"sign_scalar": sign_scalar}

    def grad(self, x, y, G):
        return zeros_like(G)


# -- builders: one per op, the same but for their docstrings --------------------------------------------------


def _public(op_class: type[Unary], summary: str, example: str, result: str):
    """The public function applying ``op_class`` elementwise, with ``summary`` and a
    runnable example: ``example`` evaluates to ``result``."""
    op = op_class()

    def build(x: Operand) -> Variable:
        return op(x)

    build.__name__ = build.__qualname__ = op_class.name
    build.__doc__ = (
        f"{summary}\n\n    Example:\n        >>> import graphcomp as gc\n"
        f"        >>> float(gc.evaluate(gc.{op_class.name}(gc.constant({example})), {{}}))\n"
        f"        {result}\n    "
    )
    return build


negative = _public(Negative, "-x elementwise (also the unary ``-`` operator).", "2.0", "-2.0")
exp = _public(Exp, "e**x elementwise, ``np.exp``.", "0.0", "1.0")
log = _public(Log, "Natural logarithm elementwise, ``np.log`` (-inf at 0, nan below).", "1.0", "0.0")
sin = _public(Sin, "Sine elementwise (radians).", "0.0", "0.0")
cos = _public(Cos, "Cosine elementwise (radians).", "0.0", "1.0")
tan = _public(Tan, "Tangent elementwise (radians).", "0.0", "0.0")
tanh = _public(Tanh, "Hyperbolic tangent elementwise.", "0.0", "0.0")
sqrt = _public(Sqrt, "Square root elementwise.", "9.0", "3.0")
square = _public(Square, "x**2 elementwise.", "-3.0", "9.0")
log1p = _public(Log1p, "log(1 + x), accurate for small x (``np.log1p``).", "0.0", "0.0")
expm1 = _public(Expm1, "exp(x) - 1, accurate for small x (``np.expm1``).", "0.0", "0.0")
sigmoid = _public(Sigmoid, "1 / (1 + exp(-x)), computed without overflow for large |x|.", "0.0", "0.5")
softplus = _public(Softplus, "log(1 + exp(x)), computed without overflow.", "0.0", "0.6931471805599453")
abs = _public(Abs, "|x| elementwise; its derivative at 0 is taken as 0.", "-2.0", "2.0")  # noqa: A001
relu = _public(Relu, "max(x, 0) elementwise; relu'(0) = 0.", "-1.0", "0.0")
sign = _public(Sign, "-1, 0 or 1 elementwise (``np.sign``); its derivative is 0.", "-3.0", "-1.0")
