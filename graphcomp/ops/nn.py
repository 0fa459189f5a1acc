"""Neural-network ops: softmax and log_softmax along an axis, primitive for
numerical stability and for readable gradient graphs."""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.types import normalize_axes, result_dtype
from graphcomp.ops.base import Op
from graphcomp.ops.reduce import Sum


def _log_softmax(x, axis):
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    finite = np.isfinite(m)
    if not finite.all():  # a row of -inf (or inf, nan): shift by 0 there, and log(0) is meant
        with np.errstate(divide="ignore"):
            m = np.where(finite, m, 0)
            shifted = x - m
            return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
    shifted = x - m  # the row's maximum is 0 here, so the sum of exps is at least 1
    s = np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)
    shifted -= np.log(s, out=s)
    return shifted


@dataclasses.dataclass(frozen=True)
class Softmax(Op):
    """exp(x) / sum(exp(x)) along ``axis``, computed as exp(log_softmax(x))."""

    name = "softmax"
    axis: int = -1

    def infer(self, x):
        normalize_axes(self.axis, x.ndim, self.name)
        return x.shape, result_dtype(np.exp, x.dtype)

    def forward(self, x):
        return np.exp(_log_softmax(x, self.axis))

    def bprop(self, inputs, output, G):
        # J^T G for J = diag(y) - y y^T, without building J
        y = output
        return [y * (G - Sum((self.axis % y.ndim,), keepdims=True)(G * y))]


@dataclasses.dataclass(frozen=True)
class LogSoftmax(Op):
    """x - logsumexp(x) along ``axis``."""

    name = "log_softmax"
    axis: int = -1

    def infer(self, x):
        normalize_axes(self.axis, x.ndim, self.name)
        return x.shape, result_dtype(np.exp, x.dtype)

    def forward(self, x):
        return _log_softmax(x, self.axis)

    def bprop(self, inputs, output, G):
        from graphcomp.ops.elementwise import exp

        axis = (self.axis % output.ndim,)
        return [G - exp(output) * Sum(axis, keepdims=True)(G)]
