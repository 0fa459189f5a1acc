"""Running ops along one axis: ``cumsum`` (NumPy's), and the two scans that make
``prod``'s gradient exact where entries are zero: the exclusive running product
and the exclusive affine scan.

A family of its own because these ops keep the axis they run along, where a
reduction removes it (``Reduce``'s shape rule, ``expand``, cost and SymPy
identity do not fit them): they are NumPy's ``ufunc.accumulate`` where the
reductions are ``ufunc.reduce``.

prod's gradient without a division: d prod(x) / dx_k is the product of the
other entries, L_k * R_k with L_k = x_0 ... x_{k-1} and R_k = x_{k+1} ... x_{n-1}
(``exclusive_cumprod``, forward and reversed), which is PyTorch's rule where an
entry is 0; prod(x) / x_k is 0/0 there. L's own gradient is L_m times
sum_{k>m} W_k x_{m+1} ... x_{k-1}, the exclusive affine scan the other way
(``affine_scan``: s_k = sum_{i<k} b_i a_{i+1} ... a_{k-1}), and the affine scan's
gradient is again an affine scan. The three ops are closed under
differentiation and never divide, so every derivative of ``prod`` (the second,
the third) is exact where entries are 0.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, normalize_axes, result_dtype
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.ops.base import Op, Operand, as_variable, size_of_shape
from graphcomp.ops.shape import Reshape, sum_to

__all__ = ["cumsum"]


@dataclasses.dataclass(frozen=True)
class Running(Op):
    """An op running along ``axis`` (non-negative) whose output has its input's shape;
    ``reverse`` runs it from the end of the axis."""

    axis: int
    reverse: bool = False

    def check_axis(self, ndim: int) -> None:
        """The axis must be in range and stored non-negative, as the builders store it."""
        if normalize_axes(self.axis, ndim, self.name) != (self.axis,):
            raise ShapeError(f"{self.name}: axis {self.axis} must be given as a non-negative axis (< {ndim})")

    def label(self) -> str:
        return f"{self.name}[axis={self.axis}{',reverse' if self.reverse else ''}]"

    def sympy(self, sp, v, args):
        # along an axis of one entry each op is its first step: the SymPy form of that step
        return self.first_step(sp, args) if v.shape[self.axis] == 1 else None

    def first_step(self, sp, args):
        return None


def _along(axis: int, index: slice) -> tuple:
    return (slice(None),) * axis + (index,)


class Cumsum(Running):
    """``np.cumsum(x, axis)``; its gradient is the cumsum of G the other way."""

    linear = "all"
    name, numpy_helpers = "cumsum", {"_cumsum": np.cumsum}

    def infer(self, x):
        self.check_axis(x.ndim)
        return x.shape, result_dtype(np.cumsum, x.dtype)

    def forward(self, x):
        if not self.reverse:
            return np.cumsum(x, axis=self.axis)
        return np.flip(np.cumsum(np.flip(x, self.axis), axis=self.axis), self.axis)

    def bprop(self, inputs, output, G):
        return [Cumsum(self.axis, not self.reverse)(G)]

    def expression(self, v, args):
        return None if self.reverse else f"_cumsum({args[0]}, {self.axis!r})"

    def first_step(self, sp, args):
        return args[0]


class ExclusiveCumprod(Running):
    """The running product of the entries strictly before each one along ``axis``
    (strictly after, with ``reverse``): ``[1, x0, x0*x1, ...]``. No division."""

    name = "exclusive_cumprod"

    def infer(self, x):
        self.check_axis(x.ndim)
        return x.shape, result_dtype(np.cumprod, x.dtype)

    def forward(self, x):
        x = np.asarray(x)
        if self.reverse:
            x = np.flip(x, self.axis)
        out = np.ones(x.shape, result_dtype(np.cumprod, x.dtype))
        if x.shape[self.axis] > 1:
            head, tail = _along(self.axis, slice(None, -1)), _along(self.axis, slice(1, None))
            np.cumprod(x[head], axis=self.axis, out=out[tail])
        return np.flip(out, self.axis) if self.reverse else out

    def bprop(self, inputs, output, G):
        # d L_k / d x_m = L_m * x_{m+1} ... x_{k-1} for k > m: summed against G, an affine scan the other way
        (x,) = inputs
        return [output * AffineScan(self.axis, not self.reverse)(x, G)]

    def first_step(self, sp, args):
        return sp.Integer(1)


class AffineScan(Running):
    """The exclusive scan of the affine maps s -> a_i s + b_i along ``axis``, from 0:
    ``s_k = sum_{i<k} b_i * a_{i+1} * ... * a_{k-1}`` (``i>k`` and ``a_{k+1} ... a_{i-1}``
    with ``reverse``). Its gradient: u = the scan the other way of (a, G); then
    dL/db = u and dL/da = u * s.

    Computed by recursive doubling (Hillis and Steele, 1986): ceil(log2 n)
    whole-array steps, no division, no Python loop over the axis.
    """

    name = "affine_scan"

    def infer(self, a, b):
        shape = broadcast_shapes(a.shape, b.shape, op=self.name)
        self.check_axis(len(shape))
        return shape, result_dtype(np.multiply, a.dtype, b.dtype)

    def forward(self, a, b):
        a, b = np.broadcast_arrays(a, b)
        dtype = result_dtype(np.multiply, a.dtype, b.dtype)
        A, B = np.moveaxis(a, self.axis, -1), np.moveaxis(b, self.axis, -1)
        if self.reverse:
            A, B = A[..., ::-1], B[..., ::-1]
        A, B = A.astype(dtype, copy=True), B.astype(dtype, copy=True)
        n, d = B.shape[-1], 1
        while d < n - 1:  # B[k] becomes the inclusive scan up to k; the last entry is never read
            B[..., d:] += A[..., d:] * B[..., :-d]
            A[..., d:] *= A[..., :-d]  # NumPy buffers overlapping operands
            d *= 2
        out = np.zeros_like(B)
        out[..., 1:] = B[..., :-1]
        if self.reverse:
            out = out[..., ::-1]
        return np.moveaxis(out, -1, self.axis)

    def bprop(self, inputs, output, G):
        a, b = inputs
        u = AffineScan(self.axis, not self.reverse)(a, G)
        return [sum_to(u * output, a), sum_to(u, b)]

    def flops(self, v, shape_of):
        n = shape_of(v)[self.axis] or 1
        return 3 * size_of_shape(shape_of(v)) * max(1, math.ceil(math.log2(max(n, 2))))

    def first_step(self, sp, args):
        return sp.Integer(0)


# -- builders ---------------------------------------------------------------------------


def _axis(axis, ndim: int, fn: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ArgumentError(f"{fn}: axis must be an int or None, got {axis!r}")
    return normalize_axes(axis, ndim, fn)[0]


@user_errors
def cumsum(x: Operand, axis=None) -> Variable:
    """The cumulative sum along ``axis``, as ``np.cumsum``: ``axis=None`` runs over the
    flattened array (a 1-D result; a 0-d ``x`` gives shape ``(1,)``, as NumPy).

    The output has ``x``'s shape (flattened for ``axis=None``) and NumPy's dtype
    (integers and booleans widen to int64). The gradient is the reversed
    cumulative sum of G: dL/dx_i = sum over k >= i of G_k.

    Raises ArgumentError for an ``axis`` that is not an int, ShapeError for one out
    of range.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> gc.cumsum(x, axis=1).shape, gc.cumsum(x).shape
        ((2, 3), (6,))
        >>> gc.evaluate(gc.cumsum(x, axis=1), {x: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]}).tolist()
        [[1.0, 3.0, 6.0], [4.0, 9.0, 15.0]]
        >>> gc.evaluate(gc.grad(gc.cumsum(x, axis=1)[:, 1].sum(), x), {x: [[1.0] * 3] * 2}).tolist()
        [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    """
    x = as_variable(x)
    if x.ndim == 0:
        if axis is not None:
            _axis(axis, 1, "cumsum")  # NumPy treats a 0-d array as 1-D here
        return Cumsum(0)(Reshape((1,))(x))
    if axis is None:
        if x.ndim != 1:
            x = Reshape((-1,))(x)
        return Cumsum(0)(x)
    return Cumsum(_axis(axis, x.ndim, "cumsum"))(x)


def exclusive_products(x: Variable, axis: int) -> Variable:
    """For each entry, the product of the others along ``axis`` (non-negative): the
    gradient of ``prod`` along it, with no division (so exact where entries are 0).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (4,))
        >>> gc.evaluate(exclusive_products(x, 0), {x: [2.0, 0.0, 3.0, 5.0]}).tolist()
        [0.0, 30.0, 0.0, 0.0]
    """
    return ExclusiveCumprod(axis)(x) * ExclusiveCumprod(axis, True)(x)
