"""Ops that make values from shapes: zeros and ones shaped like another value,
an element count, the row numbers of a batch, and the zero gradient that
stands for "no differentiable path"."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.node import constant as _constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import is_fully_known, normalize_axes
from graphcomp.ops.base import Op, Operand, as_variable
from graphcomp.ops.shape import BroadcastTo

__all__ = ["constant", "zeros_like", "ones_like"]

constant = user_errors(_constant)


@dataclasses.dataclass(frozen=True)
class ZerosLike(Op):
    """Zeros of ``x``'s runtime shape and dtype."""

    name, flops_per_element = "zeros_like", 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.zeros_like(x)

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(0)


@dataclasses.dataclass(frozen=True)
class OnesLike(Op):
    """Ones of ``x``'s runtime shape and dtype."""

    name, flops_per_element = "ones_like", 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.ones_like(x)

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(1)


@dataclasses.dataclass(frozen=True)
class NoGradient(Op):
    """Zeros of ``shape`` and ``dtype`` standing for "no differentiable path": the
    gradient build_grad gives a target the cost does not depend on, or depends on
    only through a blocked path (``gc.grad(..., disconnected="zero")``)."""

    helper = True
    name, no_gradient, flops_per_element = "no_gradient", True, 0
    shape: tuple
    dtype: np.dtype

    def infer(self):
        return self.shape, self.dtype

    def forward(self):
        return np.broadcast_to(np.zeros((), self.dtype), self.shape)  # a view: no array is filled

    def sympy(self, sp, v, args):
        return sp.Integer(0)

    def label(self) -> str:
        return f"no_gradient[{self.shape}]"


@dataclasses.dataclass(frozen=True)
class NoGradientLike(Op):
    """``NoGradient`` shaped like ``x`` at run time (a target with unknown dimensions)."""

    helper = True
    name, no_gradient, flops_per_element = "no_gradient_like", True, 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.broadcast_to(np.zeros((), np.result_type(x)), np.shape(x))

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(0)


@dataclasses.dataclass(frozen=True)
class SizeOf(Op):
    """The number of elements of ``x`` along ``axes``, as a 0-d ``dtype`` value
    (the divisor of a mean over unknown dimensions)."""

    helper = True
    name, foldable, flops_per_element = "size_of", False, 0  # it reads only a shape, known at run time
    axes: tuple
    dtype: np.dtype

    def infer(self, x):
        normalize_axes(self.axes, x.ndim, self.name)
        return (), self.dtype

    def forward(self, x):
        shape = np.shape(x)
        return np.asarray(math.prod(shape[a] for a in self.axes), dtype=self.dtype)

    def label(self) -> str:
        return f"size_of[axes={self.axes}]"


@dataclasses.dataclass(frozen=True)
class ArangeLike(Op):
    """``0, 1, ..., n - 1`` for n = the runtime size of ``x`` along ``axis`` (an index,
    not differentiable): the row numbers of a batch of unknown size."""

    helper = True
    name, differentiable, foldable, flops_per_element = "arange_like", False, False, 0
    axis: int = 0

    def infer(self, x):
        (axis,) = normalize_axes(self.axis, x.ndim, self.name)
        return (x.shape[axis],), np.dtype(np.int64)

    def forward(self, x):
        return np.arange(np.shape(x)[self.axis], dtype=np.int64)


def no_gradient(x: Variable) -> Variable:
    """The zero gradient of ``x`` that stands for "no differentiable path".

    Example:
        >>> import graphcomp as gc
        >>> g = no_gradient(gc.Variable("x", (2,)))
        >>> g.owner.op.no_gradient, gc.evaluate(g, {}).tolist()
        (True, [0.0, 0.0])
    """
    if is_fully_known(x.shape):
        return NoGradient(x.shape, x.dtype)()
    return NoGradientLike()(x)


@user_errors
def zeros_like(x: Operand) -> Variable:
    """Zeros of ``x``'s shape and dtype (a constant when the shape is known).

    Example:
        >>> import graphcomp as gc
        >>> gc.zeros_like(gc.Variable("x", (2,))).shape
        (2,)
    """
    x = as_variable(x)
    if is_fully_known(x.shape):
        return BroadcastTo(x.shape)(_constant(0, dtype=x.dtype)) if x.shape else _constant(0, dtype=x.dtype)
    return ZerosLike()(x)


@user_errors
def ones_like(x: Operand) -> Variable:
    """Ones of ``x``'s shape and dtype (a constant when the shape is known).

    Example:
        >>> import graphcomp as gc
        >>> gc.ones_like(gc.Variable("x", (None, 2))).shape
        (None, 2)
    """
    x = as_variable(x)
    if is_fully_known(x.shape):
        return BroadcastTo(x.shape)(_constant(1, dtype=x.dtype)) if x.shape else _constant(1, dtype=x.dtype)
    return OnesLike()(x)
