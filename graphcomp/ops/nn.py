"""Neural-network ops: softmax and log_softmax along an axis, primitive for
numerical stability and for readable gradient graphs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.types import normalize_axes, result_dtype
from graphcomp.ops.base import Op
from graphcomp.ops.reduce import Sum


def _log_softmax(x, axis):
    if x.shape[axis] == 0:  # no entries to normalise (NumPy's maximum has no identity)
        return np.exp(x)
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    # one sum checks every row (a huge finite sum that overflows just takes the careful path)
    if not math.isfinite(np.add.reduce(m, axis=None)):
        return _log_softmax_nonfinite(x, m, axis)
    shifted = x - m  # each row's maximum is 0 now, so each sum of exps is in [1, n]
    s = np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)
    shifted -= np.log(s, out=s)
    return shifted


def _log_softmax_nonfinite(x, m, axis):
    """Rows with an inf or nan maximum: shift those by 0, and log(0) = -inf is meant."""
    finite = np.isfinite(m)
    with np.errstate(divide="ignore"):
        m = np.where(finite, m, 0)
        shifted = x - m
        return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


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
        from graphcomp.ops.binary import add_n
        from graphcomp.ops.cancel import split_quotients

        y = output
        total = Sum((self.axis % y.ndim,), keepdims=True)
        # quotients g / y (log(softmax x)'s gradient, inf where y underflows) cancel:
        # y * (g/y - sum(g/y * y)) = g - y * sum(g)
        split = split_quotients(G, lambda d: True if d is y else None)
        if split is None:
            return [y * (G - total(G * y))]
        found, rest = split
        g = add_n(*(n for _, n in found))
        return [add_n(g - y * total(g), *([] if rest is None else [y * (rest - total(rest * y))]))]


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

        closed = _cross_entropy_closed_form(output, G)
        if closed is not None:
            return [closed]
        axis = (self.axis % output.ndim,)
        return [G - exp(output) * Sum(axis, keepdims=True)(G)]


def _cross_entropy_closed_form(lsm, G):
    """G' * cross_entropy_grad(lsm, labels) when ``G`` is exactly cross_entropy's
    gradient G' * cross_entropy_pick_grad(lsm, labels) on this log_softmax, else None.

    Through log_softmax's general bprop, G - exp(lsm) * sum(G), that gradient is
    the lectures' (softmax - one_hot) / batch in four array ops; this writes the
    same value as the one node a person would write (and the passes keep).
    """
    from graphcomp.ops.binary import Multiply

    if G.owner is None or not isinstance(G.owner.op, Multiply):
        return None
    for scale, pick in (G.owner.inputs, reversed(G.owner.inputs)):
        if pick.owner is not None and isinstance(pick.owner.op, CrossEntropyPickGrad) and pick.owner.inputs[0] is lsm:
            return scale * CrossEntropyGrad()(lsm, pick.owner.inputs[1])
    return None


# -- cross-entropy: the lectures' closed-form gradient as one op ----------------------------------------


def _divided_by_count(p: np.ndarray, n: int) -> np.ndarray:
    """p / n in place where p's dtype holds n exactly (float32: n <= 2**24), else
    divided in float64 and cast back (a float16 batch of 70000 is inf in float16)."""
    from graphcomp.ops.control import holds_count

    if holds_count(p.dtype, n):
        p /= n
        return p
    return (p / np.float64(n)).astype(p.dtype)


def _rows_and_labels(labels, classes: int):
    """The index ``(rows, labels)`` of each row's label; an IndexError naming the
    first label outside 0 .. classes-1 (NumPy would wrap a negative one)."""
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise IndexError(f"label {bad} is out of range for {classes} classes (labels are 0 .. {classes - 1})")
    return np.arange(len(labels)), labels


def _check_pair(op: str, logits, labels):
    from graphcomp.core.types import fmt_shape, shapes_compatible
    from graphcomp.errors import DTypeError, ShapeError

    if logits.ndim != 2 or logits.dtype.kind != "f":
        raise ShapeError(
            f"{op}: logits must be a float (batch, classes) array, got {logits._label()} of shape "
            f"{fmt_shape(logits.shape)} and dtype {logits.dtype}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: labels must be a 1-D integer array, got {labels._label()} of shape "
            f"{fmt_shape(labels.shape)} and dtype {labels.dtype}"
        )
    if not shapes_compatible(logits.shape[:1], labels.shape):
        raise ShapeError(
            f"{op}: {fmt_shape(logits.shape)} logits need one label per row, got labels of shape "
            f"{fmt_shape(labels.shape)}"
        )


@dataclasses.dataclass(frozen=True)
class CrossEntropy(Op):
    """Mean softmax cross-entropy ``-mean(lsm[rows, labels])`` of logits ``z``
    (batch, classes) against integer labels (batch,), where ``lsm`` is the node
    ``log_softmax(z)``, an input so that the value and the gradient share it.

    The value reads ``lsm`` and the labels only, so ``lsm`` gets the gradient,
    G * -one_hot(labels) / batch (one ``cross_entropy_pick_grad`` node); ``z`` is an
    input so that the node shows whose loss it is, and gets none directly.
    log_softmax's bprop recognises that gradient and passes z the lectures'
    closed form G * (softmax(z) - one_hot(labels)) / batch, with softmax(z) =
    exp(lsm), as one ``cross_entropy_grad`` node.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.Variable("z", (2, 3))
        >>> J = gc.nn.cross_entropy(z, gc.constant([0, 2]))
        >>> J.owner.op.name, gc.grad(J, z).owner.inputs[1].owner.op.name
        ('cross_entropy', 'cross_entropy_grad')
    """

    name = "cross_entropy"

    def infer(self, logits, lsm, labels):
        _check_pair(self.name, logits, labels)
        if lsm.shape != logits.shape:
            from graphcomp.errors import ShapeError

            raise ShapeError(f"{self.name}: log_softmax input {lsm.shape} does not match the logits {logits.shape}")
        return (), logits.dtype

    def forward(self, logits, lsm, labels):
        picked = lsm[_rows_and_labels(labels, lsm.shape[1])]
        if not len(labels):
            return np.float64(np.nan)
        # summed and divided in float64: a float16 sum of a big batch, or its size, overflows
        return lsm.dtype.type(-(np.add.reduce(picked, dtype=np.float64) / len(labels)))

    def bprop(self, inputs, output, G):
        logits, lsm, labels = inputs
        return [None, G * CrossEntropyPickGrad()(lsm, labels), None]


class _LabelledGrad(Op):
    """A cross-entropy gradient: shaped like ``lsm``, with one label per row."""

    def infer(self, lsm, labels):
        _check_pair(self.name, lsm, labels)
        return lsm.shape, lsm.dtype


@dataclasses.dataclass(frozen=True)
class CrossEntropyPickGrad(_LabelledGrad):
    """d cross_entropy / d lsm = -one_hot(labels) / batch, the shape of ``lsm``
    (whose values it does not read: cross_entropy is linear in lsm)."""

    name = "cross_entropy_pick_grad"

    def forward(self, lsm, labels):
        p = np.zeros_like(lsm)
        p[_rows_and_labels(labels, lsm.shape[1])] = -1.0 / max(len(labels), 1)  # float64, then stored
        return p

    def bprop(self, inputs, output, G):
        return [None, None]  # constant in lsm; labels are integers


@dataclasses.dataclass(frozen=True)
class CrossEntropyGrad(_LabelledGrad):
    """d cross_entropy / d logits = (exp(lsm) - one_hot(labels)) / batch from the
    logits' log_softmax ``lsm``, in one pass as a person writes it (softmax,
    subtract 1 at the labels, divide by the batch)."""

    name = "cross_entropy_grad"

    def forward(self, lsm, labels):
        p = np.exp(lsm)
        p[_rows_and_labels(labels, lsm.shape[1])] -= 1.0
        return _divided_by_count(p, max(len(labels), 1))  # no rows: an empty gradient

    def bprop(self, inputs, output, G):
        # d/dlsm of sum(U * exp(lsm)) / batch; log_softmax's own bprop carries it on to z
        from graphcomp.ops.control import SizeOf, divide_by_count
        from graphcomp.ops.elementwise import exp

        lsm = inputs[0]
        return [divide_by_count(G * exp(lsm), SizeOf((0,), np.dtype(np.int64))(lsm)), None]
