"""The NumPy-like functions users build graphs with. They only build nodes.

Every function accepts Variables, Python numbers and NumPy arrays; numbers
and arrays become constants (Python numbers take the other operand's dtype,
as NumPy's weak scalars do).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from graphcomp.core import node as _node
from graphcomp.core.node import Variable
from graphcomp.core.node import constant as _constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_dtype, as_shape, fmt_shape, is_fully_known, normalize_axes, result_dtype
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.ops import binary as _b
from graphcomp.ops import control as _c
from graphcomp.ops import conv as _conv
from graphcomp.ops import elementwise as _e
from graphcomp.ops import linalg as _l
from graphcomp.ops import nn as _nn
from graphcomp.ops import reduce as _r
from graphcomp.ops import shape as _s
from graphcomp.ops.base import Operand, as_variable
from graphcomp.ops.indexing import getitem as _getitem

__all__ = [
    "Variable", "constant", "add", "subtract", "multiply", "divide", "power", "negative",
    "matmul", "dot", "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "getitem", "exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "square", "log1p",
    "expm1", "sigmoid", "relu", "softplus", "sign", "maximum", "minimum", "where", "sum",
    "mean", "max", "min", "logsumexp", "transpose", "reshape", "broadcast_to", "concatenate",
    "stack", "expand_dims", "squeeze", "softmax", "log_softmax", "conv2d", "max_pool2d", "stop_gradient", "cast",
    "zeros_like", "ones_like",
]  # fmt: skip


def _ints(value, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple, or a clear error."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise ArgumentError(f"{what} must be an int or a sequence of ints, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ArgumentError(f"{what} must be an int or a sequence of ints, got {value!r}")
        out.append(int(v))
    return tuple(out)


def _sequence(xs, what: str) -> list:
    if isinstance(xs, (Variable, str, bytes)) or not isinstance(xs, Sequence | np.ndarray):
        raise ArgumentError(f"{what}: expects a list of arrays, got {type(xs).__name__}")
    return list(xs)


constant = user_errors(_constant)
getitem = user_errors(_getitem)

# -- arithmetic and comparisons (each also an operator on Variable) ---------------------

add = _b.add
subtract = _b.subtract
multiply = _b.multiply
divide = _b.divide
power = _b.power
less = _b.less
less_equal = _b.less_equal
greater = _b.greater
greater_equal = _b.greater_equal
equal = _b.equal
not_equal = _b.not_equal
maximum = _b.maximum
minimum = _b.minimum
where = _b.where

# -- unary elementwise ------------------------------------------------------------------

negative = _e.negative
exp = _e.exp
log = _e.log
sin = _e.sin
cos = _e.cos
tan = _e.tan
tanh = _e.tanh
sqrt = _e.sqrt
abs = _e.abs  # noqa: A001
square = _e.square
log1p = _e.log1p
expm1 = _e.expm1
sigmoid = _e.sigmoid
relu = _e.relu
softplus = _e.softplus
sign = _e.sign


# -- reductions ---------------------------------------------------------------------------


@user_errors
def sum(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Sum over ``axis`` (``None``: all axes), as ``np.sum``.

    Example:
        >>> import graphcomp as gc
        >>> gc.sum(gc.Variable("x", (2, 3)), axis=0).shape
        (3,)
    """
    x = as_variable(x)
    return _r.Sum(normalize_axes(axis, x.ndim, "sum"), bool(keepdims))(x)


@user_errors
def mean(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """Mean over ``axis``, as ``np.mean``: the sum divided by the element count.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.mean(gc.constant([1.0, 2.0, 6.0])), {}))
        3.0
    """
    x = as_variable(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    # NumPy's mean sums float16 in float32 (70000 ones would sum to inf); the count is
    # exact (an int, or float64 at run time) and the division is done where it is exact
    wide = x.dtype == np.float16
    total = _r.Sum(axes, bool(keepdims))(_c.Cast(np.dtype(np.float32))(x) if wide else x)
    dims = [x.shape[a] for a in axes]
    if None in dims:
        count = _c.SizeOf(axes, np.dtype(np.float64) if x.dtype.kind == "f" else result_dtype(np.mean, x.dtype))(x)
    else:
        count = math.prod(dims)
    out = _c.divide_by_count(total, count)
    return _c.Cast(x.dtype)(out) if wide else out


@user_errors
def max(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.max(gc.Variable("x", (2, 3)), axis=1, keepdims=True).shape
        (2, 1)
    """
    x = as_variable(x)
    return _r.Max(normalize_axes(axis, x.ndim, "max"), bool(keepdims))(x)


@user_errors
def min(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.min(gc.Variable("x", (2, 3))).shape
        ()
    """
    x = as_variable(x)
    return _r.Min(normalize_axes(axis, x.ndim, "min"), bool(keepdims))(x)


@user_errors
def logsumexp(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.logsumexp(gc.constant([1000.0, 1000.0])), {}))
        1000.6931471805599
    """
    x = as_variable(x)
    return _r.LogSumExp(normalize_axes(axis, x.ndim, "logsumexp"), bool(keepdims))(x)


# -- linear algebra -------------------------------------------------------------------------


@user_errors
def matmul(a: Operand, b: Operand) -> Variable:
    """Matrix product with ``np.matmul``'s semantics (also ``a @ b``).

    Example:
        >>> import graphcomp as gc
        >>> (gc.Variable("a", (3, 4)) @ gc.Variable("b", (4, 5))).shape
        (3, 5)
    """
    a, b = _b.operands(a, b)
    return _l.MatMul()(a, b)


@user_errors
def dot(a: Operand, b: Operand) -> Variable:
    """``np.dot``: a scalar operand multiplies; otherwise the last axis of ``a`` is
    summed against the only axis of a 1-D ``b``, or against the second-to-last
    axis of ``b``, giving ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``.

    For stacks of matrices ``matmul`` is usually what is meant: ``dot`` pairs
    every leading index of ``a`` with every leading index of ``b``.

    Example:
        >>> import graphcomp as gc
        >>> gc.dot(gc.Variable("u", (3,)), gc.Variable("v", (3,))).shape
        ()
        >>> gc.dot(gc.Variable("a", (2, 3, 4)), gc.Variable("b", (5, 4, 6))).shape
        (2, 3, 5, 6)
    """
    a, b = _b.operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2 or a.ndim == 1:
        return _l.MatMul()(a, b)  # no stack in b, or a 1-D a: matmul pairs the indices as dot does
    return _dot_nd(a, b)


def _dot_nd(a: Variable, b: Variable) -> Variable:
    """np.dot of two operands of 2+ dimensions, one of them 3+: b's summed axis moved
    first, both flattened to matrices, one matmul, then the result's shape (so the
    gradient is matmul's, through a reshape and a transpose)."""
    n, m = b.shape[-2], b.shape[-1]
    if a.shape[-1] is not None and n is not None and a.shape[-1] != n:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned ({a.shape[-1]} != {n})"
        )
    lead_a, lead_b = a.shape[:-1], b.shape[:-2]
    n = a.shape[-1] if n is None else n
    if n is None or not is_fully_known(lead_b + (m,)) or lead_a.count(None) > 1:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)}: a stack in b needs b's shape and "
            "the summed axis known, and at most one unknown dimension in a; use gc.matmul or reshape first"
        )
    k = b.ndim
    moved = transpose(b, (k - 2, *range(k - 2), k - 1))  # (n, *lead_b, m)
    flat = _l.MatMul()(reshape(a, (-1, n)), reshape(moved, (n, math.prod(lead_b) * m)))
    return reshape(flat, tuple(-1 if d is None else d for d in lead_a + lead_b + (m,)))


# -- shape ------------------------------------------------------------------------------


@user_errors
def transpose(x: Operand, axes: Sequence[int] | None = None) -> Variable:
    """Permute axes; ``None`` reverses them, as ``np.transpose``.

    Example:
        >>> import graphcomp as gc
        >>> gc.transpose(gc.Variable("x", (2, 3, 4)), (1, 0, 2)).shape
        (3, 2, 4)
    """
    x = as_variable(x)
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:
        axes = _ints(axes, "transpose: axes")
        if len(axes) != x.ndim:
            raise ShapeError(f"transpose: axes {tuple(axes)} do not match an array of shape {fmt_shape(x.shape)}")
        perm = tuple(a % x.ndim if -x.ndim <= a < x.ndim else a for a in (int(a) for a in axes))
    return _s.Transpose(perm)(x)


@user_errors
def reshape(x: Operand, shape) -> Variable:
    """Reshape to ``shape``; one entry may be -1.

    Example:
        >>> import graphcomp as gc
        >>> gc.reshape(gc.Variable("x", (2, 6)), (3, -1)).shape
        (3, 4)
    """
    return _s.Reshape(_ints(shape, "reshape: shape"))(as_variable(x))


@user_errors
def broadcast_to(x: Operand, shape) -> Variable:
    """Broadcast ``x`` to ``shape``, as ``np.broadcast_to``.

    Example:
        >>> import graphcomp as gc
        >>> gc.broadcast_to(gc.Variable("x", (3,)), (2, 3)).shape
        (2, 3)
    """
    return _s.BroadcastTo(as_shape(shape))(as_variable(x))


@user_errors
def expand_dims(x: Operand, axis) -> Variable:
    """Insert size-1 axes, as ``np.expand_dims``.

    Example:
        >>> import graphcomp as gc
        >>> gc.expand_dims(gc.Variable("x", (3,)), 0).shape
        (1, 3)
    """
    return _s.ExpandDims(_ints(axis, "expand_dims: axis"))(as_variable(x))


@user_errors
def squeeze(x: Operand, axis=None) -> Variable:
    """Remove size-1 axes (``None``: every axis statically known to be 1).

    Example:
        >>> import graphcomp as gc
        >>> gc.squeeze(gc.Variable("x", (1, 3, 1))).shape
        (3,)
    """
    x = as_variable(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
    return _s.Squeeze(axes)(x)


@user_errors
def concatenate(xs: Sequence, axis: int = 0) -> Variable:
    """Join along an existing axis, as ``np.concatenate``.

    Example:
        >>> import graphcomp as gc
        >>> gc.concatenate([gc.Variable("a", (2, 3)), gc.Variable("b", (4, 3))]).shape
        (6, 3)
    """
    xs = [as_variable(x) for x in _sequence(xs, "concatenate")]
    return _s.Concatenate(_ints(axis, "concatenate: axis")[0])(*xs)


@user_errors
def stack(xs: Sequence, axis: int = 0) -> Variable:
    """Join along a new axis, as ``np.stack``.

    Example:
        >>> import graphcomp as gc
        >>> gc.stack([gc.Variable("a", (3,)), gc.Variable("b", (3,))], axis=1).shape
        (3, 2)
    """
    xs = [as_variable(x) for x in _sequence(xs, "stack")]
    return _s.Stack(_ints(axis, "stack: axis")[0])(*xs)


# -- neural networks -----------------------------------------------------------------------


@user_errors
def softmax(x: Operand, axis: int = -1) -> Variable:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large inputs.

    Example:
        >>> import graphcomp as gc
        >>> gc.evaluate(gc.softmax(gc.constant([0.0, 0.0])), {}).tolist()
        [0.5, 0.5]
    """
    x = as_variable(x)
    (a,) = normalize_axes(axis, x.ndim, "softmax")
    return _nn.Softmax(a)(x)


@user_errors
def log_softmax(x: Operand, axis: int = -1) -> Variable:
    """x - logsumexp(x) along ``axis``.

    Example:
        >>> import graphcomp as gc
        >>> gc.log_softmax(gc.Variable("x", (2, 3))).shape
        (2, 3)
    """
    x = as_variable(x)
    (a,) = normalize_axes(axis, x.ndim, "log_softmax")
    return _nn.LogSoftmax(a)(x)


@user_errors
def conv2d(x: Operand, w: Operand, stride: int = 1, padding: int = 0) -> Variable:
    """2-D cross-correlation of NCHW images with OIHW weights, as in every
    deep-learning framework; ``padding`` zeros on each side.

    Example:
        >>> import graphcomp as gc
        >>> gc.conv2d(gc.Variable("x", (None, 1, 28, 28)), gc.Variable("w", (8, 1, 3, 3)), padding=1).shape
        (None, 8, 28, 28)
    """
    stride, padding = _ints(stride, "conv2d: stride")[0], _ints(padding, "conv2d: padding")[0]
    if stride < 1 or padding < 0:
        raise ArgumentError(f"conv2d: stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    return _conv.Conv2D(stride, padding)(as_variable(x), as_variable(w))


@user_errors
def max_pool2d(x: Operand, size: int = 2, stride: int | None = None) -> Variable:
    """The maximum of each ``size`` x ``size`` window of NCHW images, windows
    ``stride`` apart (default: ``size``); a remainder that does not fill a
    window is dropped. Tied maxima share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.max_pool2d(gc.Variable("x", (None, 8, 7, 7))).shape
        (None, 8, 3, 3)
    """
    size = _ints(size, "max_pool2d: size")[0]
    stride = size if stride is None else _ints(stride, "max_pool2d: stride")[0]
    return _conv.MaxPool2D(size, stride)(as_variable(x))


# -- gradient control and helpers ----------------------------------------------------------------


@user_errors
def stop_gradient(x: Operand) -> Variable:
    """Identity in the forward pass; no gradient flows back through it.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> gc.grad(x * gc.stop_gradient(x), x).owner is not None
        True
    """
    return _c.StopGradient()(as_variable(x))


@user_errors
def cast(x: Operand, dtype) -> Variable:
    """``x.astype(dtype)``; gradients flow only between float dtypes.

    Example:
        >>> import graphcomp as gc
        >>> gc.cast(gc.Variable("x"), "float32").dtype
        dtype('float32')
    """
    return _c.Cast(as_dtype(dtype))(as_variable(x))


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
        return broadcast_to(_constant(0, dtype=x.dtype), x.shape) if x.shape else _constant(0, dtype=x.dtype)
    return _c.ZerosLike()(x)


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
        return broadcast_to(_constant(1, dtype=x.dtype), x.shape) if x.shape else _constant(1, dtype=x.dtype)
    return _c.OnesLike()(x)


_node._api = sys.modules[__name__]
