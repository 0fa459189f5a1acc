"""Reductions over axes with NumPy's ``axis``/``keepdims``: sum, max, min,
logsumexp (``mean`` is a composite: sum divided by the element count).

Ties: ``max`` and ``min`` split the gradient evenly among the elements that
attain the extremum (like TensorFlow and JAX), so the gradient of
``max([1, 3, 3])`` is ``[0, 0.5, 0.5]``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_bool, normalize_axes, reduced_shape, result_dtype
from graphcomp.ops.base import Op, Operand, as_variable, size_of_shape
from graphcomp.ops.binary import divide
from graphcomp.ops.compare import Equal
from graphcomp.ops.creation import SizeOf
from graphcomp.ops.elementwise import exp
from graphcomp.ops.identity import Cast
from graphcomp.ops.select import where
from graphcomp.ops.shape import ExpandDims, broadcast_like

__all__ = ["sum", "mean", "max", "min", "logsumexp"]


@dataclasses.dataclass(frozen=True)
class Reduce(Op):
    """A reduction over ``axes`` (a sorted tuple of non-negative axes): it reads every
    input element once (the cost model), and over size-1 axes only it is the identity."""

    axes: tuple
    keepdims: bool = False

    def infer(self, x):
        normalize_axes(self.axes, x.ndim, self.name)
        return reduced_shape(x.shape, self.axes, self.keepdims), self.out_dtype(x.dtype)

    def out_dtype(self, dtype):
        return dtype

    def expand(self, G):
        """G with the reduced axes put back as size 1, ready to broadcast."""
        return G if self.keepdims or not self.axes else ExpandDims(self.axes)(G)

    def label(self) -> str:
        kd = ",keepdims" if self.keepdims else ""
        return f"{self.name}[axis={self.axes}{kd}]"

    def flops(self, v, shape_of):
        return type(self).flops_per_element * size_of_shape(shape_of(v.owner.inputs[0]))

    def sympy(self, sp, v, args):
        return args[0] if all(d == 1 for d in v.owner.inputs[0].shape) else None


@dataclasses.dataclass(frozen=True)
class UfuncReduce(Reduce):
    """A reduction that is a ufunc's ``reduce`` (``np.add.reduce`` for sum)."""

    def expression(self, v, args):
        # np.sum upcasts small integers and bools; the raw ufunc reduction is the same only for floats
        if v.owner.inputs[0].dtype.kind not in "fc":
            return None
        (helper,) = type(self).numpy_helpers
        return f"{helper}({args[0]}, {self.axes!r}, None, None, {self.keepdims})"


class Sum(UfuncReduce):
    name, numpy_helpers = "sum", {"_add_reduce": np.add.reduce}

    def out_dtype(self, dtype):
        return result_dtype(np.sum, dtype)

    def forward(self, x):
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [broadcast_like(self.expand(G), inputs[0])]


class Max(UfuncReduce):
    name, numpy_helpers = "max", {"_max_reduce": np.maximum.reduce}

    def forward(self, x):
        return np.max(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


class Min(UfuncReduce):
    name, numpy_helpers = "min", {"_min_reduce": np.minimum.reduce}

    def forward(self, x):
        return np.min(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


def _extremum_grad(op: Reduce, x, y, G):
    hit = Equal()(x, op.expand(y))
    count = Sum(op.axes, keepdims=True)(hit)  # an integer: 70000 ties are not inf, as in float16
    share = divide_by_count(op.expand(G) if op.keepdims or not op.axes else ExpandDims(op.axes)(G), count)
    return where(hit, share, 0)


# -- counts: exact, then cast (a float16 count of 70000 is inf) -----------------------------------------

_WIDE = np.dtype(np.float64)
_EXACT_UP_TO: dict = {}


def holds_count(dtype: np.dtype, n: int) -> bool:
    """Whether the float ``dtype`` holds every count up to ``n`` exactly (float16: 2048,
    float32: 2**24, float64: 2**53).

    Example:
        >>> holds_count(np.dtype("float16"), 70000), holds_count(np.dtype("float32"), 70000)
        (False, True)
    """
    limit = _EXACT_UP_TO.get(dtype)
    if limit is None:  # np.finfo is slow for a check that runs with every cross-entropy gradient
        limit = _EXACT_UP_TO[dtype] = 2 ** (np.finfo(dtype).nmant + 1)
    return n <= limit


def divide_by_count(x: Variable, count) -> Variable:
    """``x / count`` for a count of elements (a mean's size, a number of ties, a batch),
    with the count exact: counted as an integer, divided in float64 (exact up to
    2**53) and cast back to x's dtype, unless x's own dtype holds the count exactly.
    A float16 count of 70000 is inf, and a float32 one of 2**24 + 1 rounds; NumPy's
    ``mean`` likewise computes float16 means in float32.

    ``x`` is a float (or integer) Variable; ``count`` a Python int (a known size) or an
    integer or float64 Variable (a size known at run time, such as ``SizeOf``'s).
    Returns a Variable of x's shape (broadcast with count's) and x's float dtype.

    Example:
        >>> import graphcomp as gc
        >>> g = gc.constant(np.ones(2, np.float16))
        >>> out = divide_by_count(g, 70000)
        >>> out.dtype, gc.evaluate(out, {}).tolist()
        (dtype('float16'), [1.430511474609375e-05, 1.430511474609375e-05])
    """
    dtype = x.dtype
    if dtype.kind != "f" or dtype.itemsize >= _WIDE.itemsize:
        return divide(x, count)
    if isinstance(count, (int, np.integer)):
        if holds_count(dtype, count):  # the usual case: one rounding, as NumPy's x / n
            return divide(x, int(count))
        return Cast(dtype)(divide(Cast(_WIDE)(x), int(count)))
    if count.dtype != _WIDE:
        count = Cast(_WIDE)(count)
    return Cast(dtype)(divide(Cast(_WIDE)(x), count))


class LogSumExp(Reduce):
    """log(sum(exp(x))) computed stably; its gradient is softmax(x) * G."""

    name, flops_per_element = "logsumexp", 4

    def out_dtype(self, dtype):
        return result_dtype(np.exp, dtype)

    def forward(self, x):
        if not x.size and any(x.shape[a] == 0 for a in self.axes):  # no terms: log(0) = -inf
            with np.errstate(divide="ignore"):
                return np.log(np.sum(np.exp(x), axis=self.axes, keepdims=self.keepdims))
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf: keep log(0) = -inf, not nan
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        return out if self.keepdims else np.squeeze(out, self.axes)

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [self.expand(G) * exp(x - self.expand(output))]

    def sympy(self, sp, v, args):
        return None  # log(exp(x)) over size-1 axes is x, but not as a SymPy identity


# -- builders ---------------------------------------------------------------------------


@user_errors
def sum(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Sum over ``axis`` (``None``: all axes), as ``np.sum``.

    Example:
        >>> import graphcomp as gc
        >>> gc.sum(gc.Variable("x", (2, 3)), axis=0).shape
        (3,)
    """
    x = as_variable(x)
    return Sum(normalize_axes(axis, x.ndim, "sum"), as_bool(keepdims, "sum: keepdims"))(x)


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
    total = Sum(axes, as_bool(keepdims, "mean: keepdims"))(Cast(np.dtype(np.float32))(x) if wide else x)
    dims = [x.shape[a] for a in axes]
    if None in dims:
        count = SizeOf(axes, np.dtype(np.float64) if x.dtype.kind == "f" else result_dtype(np.mean, x.dtype))(x)
    else:
        count = math.prod(dims)
    out = divide_by_count(total, count)
    return Cast(x.dtype)(out) if wide else out


@user_errors
def max(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.max(gc.Variable("x", (2, 3)), axis=1, keepdims=True).shape
        (2, 1)
    """
    x = as_variable(x)
    return Max(normalize_axes(axis, x.ndim, "max"), as_bool(keepdims, "max: keepdims"))(x)


@user_errors
def min(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.min(gc.Variable("x", (2, 3))).shape
        ()
    """
    x = as_variable(x)
    return Min(normalize_axes(axis, x.ndim, "min"), as_bool(keepdims, "min: keepdims"))(x)


@user_errors
def logsumexp(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.logsumexp(gc.constant([1000.0, 1000.0])), {}))
        1000.6931471805599
    """
    x = as_variable(x)
    return LogSumExp(normalize_axes(axis, x.ndim, "logsumexp"), as_bool(keepdims, "logsumexp: keepdims"))(x)
