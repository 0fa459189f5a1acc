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
