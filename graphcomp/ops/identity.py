"""Ops whose value is their input's: ``stop_gradient``, which blocks the
gradient, and ``cast``, which changes the dtype."""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_dtype, is_differentiable_dtype
from graphcomp.ops.base import Op, Operand, as_variable

__all__ = ["stop_gradient", "cast"]


@dataclasses.dataclass(frozen=True)
class StopGradient(Op):
    """Identity forward; no gradient flows back through it."""

    name, flops_per_element = "stop_gradient", 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return x

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return args[0]


@dataclasses.dataclass(frozen=True)
class Cast(Op):
    """``x.astype(dtype)``. Gradients pass between float dtypes only: a cast to
    an integer or boolean is a non-differentiable hop."""

    name, elementwise = "cast", True
    dtype: np.dtype

    def infer(self, x):
        return x.shape, self.dtype

    def forward(self, x):
        return np.asarray(x).astype(self.dtype, copy=False)

    def bprop(self, inputs, output, G):
        (x,) = inputs
        if not (is_differentiable_dtype(x.dtype) and is_differentiable_dtype(self.dtype)):
            return [None]
        return [G if x.dtype == self.dtype else Cast(x.dtype)(G)]

    def sympy(self, sp, v, args):
        return args[0] if self.dtype.kind in "fc" else None

    def label(self) -> str:
        return f"cast[{self.dtype}]"


@user_errors
def stop_gradient(x: Operand) -> Variable:
    """Identity in the forward pass; no gradient flows back through it.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> gc.grad(x * gc.stop_gradient(x), x).owner is not None
        True
    """
    return StopGradient()(as_variable(x))


@user_errors
def cast(x: Operand, dtype) -> Variable:
    """``x.astype(dtype)``; gradients flow only between float dtypes.

    Example:
        >>> import graphcomp as gc
        >>> gc.cast(gc.Variable("x"), "float32").dtype
        dtype('float32')
    """
    return Cast(as_dtype(dtype, "cast"))(as_variable(x))
