"""Ops whose value is their input's: ``stop_gradient``, which blocks the
gradient, ``cast``, which changes the dtype, and ``match_shape`` and
``MinCount``, which check at run time a shape that unknown dimensions left open."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_dtype, fmt_shape, is_differentiable_dtype, shapes_compatible
from graphcomp.errors import InputError, ShapeError
from graphcomp.ops.base import Op, Operand, as_variable

__all__ = ["stop_gradient", "cast", "match_shape"]


@dataclasses.dataclass(frozen=True)
class StopGradient(Op):
    """Identity forward; no gradient flows back through it."""

    name, flops_per_element, view = "stop_gradient", 0, True

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

    name, elementwise, linear = "cast", True, "all"
    view = True  # astype(copy=False): x itself where the dtype is already the target
    dtype: np.dtype

    def linear_in(self, varying, zero, n) -> bool:
        # rounding to an integer or a bool is not linear; between float dtypes it is
        return self.dtype.kind in "fc" and super().linear_in(varying, zero, n)

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


@dataclasses.dataclass(frozen=True)
class MatchShape(Op):
    """``x`` itself, once its run-time shape is found equal to ``like``'s; ``what``
    names, for the error, who asked (``"jvp: v"``). Where unknown dimensions leave
    a static check open, this makes the run-time one instead of letting NumPy
    broadcast a mismatch silently. The gradient passes to ``x`` unchanged."""

    linear, view = (0,), True
    name, flops_per_element = "match_shape", 0
    what: str

    def infer(self, x, like):
        if not shapes_compatible(x.shape, like.shape):
            raise ShapeError(f"{self.what}: shape {fmt_shape(x.shape)} does not match {fmt_shape(like.shape)}")
        return tuple(a if a is not None else b for a, b in zip(x.shape, like.shape)), x.dtype

    def forward(self, x, like):
        if np.shape(x) != np.shape(like):
            raise InputError(
                f"{self.what}: its value has shape {fmt_shape(np.shape(x))}, "
                f"which must be {fmt_shape(np.shape(like))} at run time"
            )
        return x

    def bprop(self, inputs, output, G):
        return [G, None]

    def sympy(self, sp, v, args):
        return args[0]


@dataclasses.dataclass(frozen=True)
class MinCount(Op):
    """``x`` itself, once the number of values its ``axes`` hold at run time (the
    product of their sizes) is at least ``minimum``; ``what`` says, for the error,
    who needs them (``"batch_norm: training-mode statistics"``). Batch statistics over
    a batch whose size is unknown until run time check it here, as PyTorch raises
    "Expected more than 1 value per channel when training", instead of writing the
    NaN of an empty mean or of an n/(n-1) correction into running statistics. The
    gradient passes to ``x`` unchanged.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 3))
        >>> y = MinCount((0,), 2, "stats")(x)
        >>> gc.evaluate(y, {x: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}).shape
        (2, 3)
        >>> try:
        ...     gc.evaluate(y, {x: [[1.0, 2.0, 3.0]]})
        ... except ValueError as e:
        ...     print(str(e).split("InputError: ")[1].split(";")[0])
        stats: at least 2 values over axes (0,) are needed, got 1 (an input of shape (1, 3))
    """

    name, flops_per_element = "min_count", 0
    axes: tuple
    minimum: int
    what: str

    def infer(self, x):
        for a in self.axes:
            if not 0 <= a < x.ndim:
                raise ShapeError(f"{self.what}: axis {a} is out of range for {fmt_shape(x.shape)}")
        return x.shape, x.dtype

    def forward(self, x):
        shape = np.shape(x)
        count = math.prod(shape[a] for a in self.axes)
        if count < self.minimum:
            raise InputError(
                f"{self.what}: at least {self.minimum} values over axes {self.axes} are needed, got {count} "
                f"(an input of shape {fmt_shape(shape)})"
            )
        return x

    def bprop(self, inputs, output, G):
        return [G]

    def sympy(self, sp, v, args):
        return args[0]

    def label(self) -> str:
        return f"min_count[axes={self.axes!r},minimum={self.minimum!r}]"  # ``what`` is for the error


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


@user_errors
def match_shape(x: Operand, like: Operand, what: str = "match_shape") -> Variable:
    """``x``, checked to have ``like``'s shape: statically where the shapes are known,
    at run time where unknown dimensions leave it open (no silent broadcasting).

    Takes and returns arrays of any dtype; ``what`` names the caller in the errors:
    ``gc.ShapeError`` at build time, ``gc.EvaluationError`` (from ``gc.InputError``) at
    run time.

    Example:
        >>> import graphcomp as gc
        >>> x, v = gc.Variable("x", (None,)), gc.Variable("v", (None,))
        >>> y = gc.match_shape(v, x, "v")
        >>> y.shape, gc.evaluate(y, {v: [1.0, 2.0], x: [0.0, 0.0]}).tolist()
        ((None,), [1.0, 2.0])
        >>> try:
        ...     gc.evaluate(y, {v: [1.0], x: [0.0, 0.0]})
        ... except gc.EvaluationError as e:
        ...     print(str(e).split("InputError: ")[1].split(";")[0])
        v: its value has shape (1,), which must be (2,) at run time
    """
    return MatchShape(str(what))(as_variable(x), as_variable(like))
