"""Ops that steer gradients or make values from shapes: stop_gradient, cast,
zeros_like, ones_like, and the element count used by mean."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.types import is_differentiable_dtype, normalize_axes
from graphcomp.ops.base import Op


@dataclasses.dataclass(frozen=True)
class StopGradient(Op):
    """Identity forward; no gradient flows back through it."""

    name = "stop_gradient"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return x

    def bprop(self, inputs, output, G):
        return [None]


@dataclasses.dataclass(frozen=True)
class Cast(Op):
    """``x.astype(dtype)``. Gradients pass between float dtypes only: a cast to
    an integer or boolean is a non-differentiable hop."""

    name = "cast"
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

    def label(self) -> str:
        return f"cast[{self.dtype}]"


@dataclasses.dataclass(frozen=True)
class ZerosLike(Op):
    """Zeros of ``x``'s runtime shape and dtype."""

    name = "zeros_like"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.zeros_like(x)

    def bprop(self, inputs, output, G):
        return [None]


@dataclasses.dataclass(frozen=True)
class OnesLike(Op):
    """Ones of ``x``'s runtime shape and dtype."""

    name = "ones_like"

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.ones_like(x)

    def bprop(self, inputs, output, G):
        return [None]


@dataclasses.dataclass(frozen=True)
class SizeOf(Op):
    """The number of elements of ``x`` along ``axes``, as a 0-d ``dtype`` value
    (the divisor of a mean over unknown dimensions)."""

    name = "size_of"
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

    name = "arange_like"
    axis: int = 0

    def infer(self, x):
        (axis,) = normalize_axes(self.axis, x.ndim, self.name)
        return (x.shape[axis],), np.dtype(np.int64)

    def forward(self, x):
        return np.arange(np.shape(x)[self.axis], dtype=np.int64)


_WIDE = np.dtype(np.float64)


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


_EXACT_UP_TO: dict = {}


def divide_by_count(x, count):
    """``x / count`` for a count of elements (a mean's size, a number of ties, a batch),
    with the count exact: counted as an integer, divided in float64 (exact up to
    2**53) and cast back to x's dtype, unless x's own dtype holds the count exactly.
    A float16 count of 70000 is inf, and a float32 one of 2**24 + 1 rounds; NumPy's
    ``mean`` likewise computes float16 means in float32.

    ``count`` is a Python int (a known size) or an integer or float64 Variable.

    Example:
        >>> import graphcomp as gc
        >>> g = gc.constant(np.ones(2, np.float16))
        >>> out = divide_by_count(g, 70000)
        >>> out.dtype, gc.evaluate(out, {}).tolist()
        (dtype('float16'), [1.430511474609375e-05, 1.430511474609375e-05])
    """
    from graphcomp.ops.binary import divide

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
