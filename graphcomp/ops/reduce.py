"""Reductions over axes with NumPy's ``axis``/``keepdims``: sum, max, min,
logsumexp (``mean`` is a composite: sum divided by the element count).

Ties: ``max`` and ``min`` split the gradient evenly among the elements that
attain the extremum (like TensorFlow and JAX), so the gradient of
``max([1, 3, 3])`` is ``[0, 0.5, 0.5]``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.types import normalize_axes, reduced_shape, result_dtype
from graphcomp.ops.base import Op
from graphcomp.ops.shape import ExpandDims, broadcast_like


@dataclasses.dataclass(frozen=True)
class Reduce(Op):
    """A reduction over ``axes`` (a sorted tuple of non-negative axes)."""

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


class Sum(Reduce):
    name = "sum"

    def out_dtype(self, dtype):
        return result_dtype(np.sum, dtype)

    def forward(self, x):
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [broadcast_like(self.expand(G), inputs[0])]


class Max(Reduce):
    name = "max"

    def forward(self, x):
        return np.max(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


class Min(Reduce):
    name = "min"

    def forward(self, x):
        return np.min(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


def _extremum_grad(op: Reduce, x, y, G):
    from graphcomp.ops.binary import Equal, where
    from graphcomp.ops.control import divide_by_count

    hit = Equal()(x, op.expand(y))
    count = Sum(op.axes, keepdims=True)(hit)  # int64: 70000 ties are not inf, as in float16
    share = divide_by_count(op.expand(G) if op.keepdims or not op.axes else ExpandDims(op.axes)(G), count)
    return where(hit, share, 0)


class LogSumExp(Reduce):
    """log(sum(exp(x))) computed stably; its gradient is softmax(x) * G."""

    name = "logsumexp"

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
        from graphcomp.ops.elementwise import exp

        (x,) = inputs
        return [self.expand(G) * exp(x - self.expand(output))]
