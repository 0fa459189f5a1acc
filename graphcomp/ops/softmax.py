"""The softmax family: softmax and log_softmax along an axis (primitive for
numerical stability and readable gradient graphs), log_softmax's gradient as
one op, and the softmax cross-entropy with its closed-form gradient."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import (
    broadcast_shapes,
    fmt_shape,
    is_fully_known,
    normalize_axes,
    result_dtype,
    shapes_compatible,
    single_axis,
)
from graphcomp.errors import DTypeError, ShapeError
from graphcomp.ops.base import Op, Operand, as_variable
from graphcomp.ops.creation import SizeOf, ZerosLike
from graphcomp.ops.elementwise import exp
from graphcomp.ops.identity import cast
from graphcomp.ops.reduce import Sum, divide_by_count, holds_count
from graphcomp.ops.shape import SumToLike, check_sum_to, sum_to_array

__all__ = ["softmax", "log_softmax"]


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

    name, flops_per_element = "softmax", 5
    axis: int = -1

    def infer(self, x):
        normalize_axes(self.axis, x.ndim, self.name)
        return x.shape, result_dtype(np.exp, x.dtype)

    def forward(self, x):
        return np.exp(_log_softmax(x, self.axis))

    def bprop(self, inputs, output, G):
        return [SoftmaxGrad(self.axis % output.ndim)(output, G)]


@dataclasses.dataclass(frozen=True)
class LogSoftmax(Op):
    """x - logsumexp(x) along ``axis``."""

    name, flops_per_element = "log_softmax", 5
    axis: int = -1

    def infer(self, x):
        normalize_axes(self.axis, x.ndim, self.name)
        return x.shape, result_dtype(np.exp, x.dtype)

    def forward(self, x):
        return _log_softmax(x, self.axis)

    def bprop(self, inputs, output, G):
        return [LogSoftmaxGrad(self.axis % output.ndim)(output, G)]


@dataclasses.dataclass(frozen=True)
class LogSoftmaxGrad(Op):
    """The gradient through log_softmax as one op: ``G - exp(lsm) * sum(G, axis)``,
    given lsm = log_softmax(x) and G = dcost/dlsm (J^T G for the Jacobian
    I - softmax 1^T, without building it). One node, so that the gradient graph
    reads like the lectures' and a rewrite can recognise the cross-entropy closed
    form in it (``graphcomp/passes/simplify.py``)."""

    helper = True
    name, flops_per_element = "log_softmax_grad", 4
    axis: int

    def infer(self, lsm, G):
        if not shapes_compatible(lsm.shape, G.shape):
            raise ShapeError(f"{self.name}: gradient {fmt_shape(G.shape)} does not match {fmt_shape(lsm.shape)}")
        return lsm.shape, np.result_type(lsm.dtype, G.dtype)

    def forward(self, lsm, G):
        if np.shape(G) != np.shape(lsm):  # unknown dimensions: a gradient of another batch would broadcast
            raise ShapeError(
                f"{self.name}: the gradient has shape {fmt_shape(np.shape(G))} at run time, but log_softmax's "
                f"value has shape {fmt_shape(np.shape(lsm))}; they must be equal"
            )
        return G - np.exp(lsm) * np.sum(G, axis=self.axis, keepdims=True)

    def bprop(self, inputs, output, H):
        # out = G - e * S with e = exp(lsm), S = sum(G): d/dG is H - sum(e * H), d/dlsm is -H * e * S
        lsm, G = inputs
        axis = (self.axis,)
        e = exp(lsm)
        dG = H - Sum(axis, keepdims=True)(e * H)
        dlsm = -(H * e) * Sum(axis, keepdims=True)(G)
        return [dlsm, dG]


def _joint_to(y, shape):
    """``y`` broadcast as an elementwise product with a ``shape`` array broadcasts it, then
    summed back to ``shape`` (multiply's gradient does that summing); ``y`` itself when
    it already has that shape, the common case."""
    if y.shape == shape:
        return y
    return sum_to_array(np.broadcast_to(y, np.broadcast_shapes(y.shape, shape)), shape)


@dataclasses.dataclass(frozen=True)
class SoftmaxCrossEntropyGrad(Op):
    """d/dz of the soft-target cross-entropy ``-sum(Y * log_softmax(z))`` (summed over
    every element, Y broadcasting as the product broadcasts it) from ``lsm`` =
    log_softmax(z) along ``axis``: ``softmax(z) * sum(Y, axis) - Y``, in one pass.

    With one-hot (or any probability) rows of Y this is the lectures' closed form
    softmax(z) - Y, bit for bit (the row sums are exactly 1); rows that sum to
    something else get their own sum, so nothing is assumed about Y. A mean over the
    batch scales it by 1/B outside the op. The simplify pass writes it in place of
    ``log_softmax_grad(lsm, s * Y)`` (``graphcomp/passes/simplify.py``)."""

    helper = True
    name, flops_per_element = "softmax_cross_entropy_grad", 4
    axis: int

    def infer(self, lsm, y):
        joint = broadcast_shapes(lsm.shape, y.shape, op=self.name)
        check_sum_to(self.name, joint, lsm.shape)
        return lsm.shape, np.result_type(lsm.dtype, y.dtype)

    def forward(self, lsm, y):
        y = _joint_to(y, lsm.shape)
        out = np.exp(lsm).astype(np.result_type(lsm, y), copy=False)
        out *= np.add.reduce(y, axis=self.axis, keepdims=True)
        out -= y
        return out

    def bprop(self, inputs, output, H):
        # out = e * S - Y~ with e = exp(lsm), Y~ = Y brought to lsm's shape, S = sum(Y~, axis):
        # d/dlsm is H * e * S; d/dY~ is sum(H * e, axis) - H, carried back to Y's shape
        lsm, y = inputs
        axis = (self.axis,)
        e = exp(lsm)
        same = y.shape == lsm.shape and is_fully_known(y.shape)
        yt = y if same else SumToLike()(y + ZerosLike()(lsm), lsm)
        dlsm = H * e * Sum(axis, keepdims=True)(yt)
        dyt = Sum(axis, keepdims=True)(H * e) - H
        dy = dyt if same else SumToLike()(dyt + ZerosLike()(y), y)
        return [dlsm, dy]


@dataclasses.dataclass(frozen=True)
class SoftmaxGrad(Op):
    """The gradient through softmax as one op: ``s * (G - sum(G * s, axis))``, given
    s = softmax(x) and G = dcost/ds (J^T G for the Jacobian diag(s) - s s^T, without
    building it). One node, so that the stabilize pass can recognise a quotient by s
    in G (log(softmax x)'s gradient) and cancel it: ``G - s * sum(G)``."""

    helper = True
    name, flops_per_element = "softmax_grad", 4
    axis: int

    def infer(self, s, G):
        if not shapes_compatible(s.shape, G.shape):
            raise ShapeError(f"{self.name}: gradient {fmt_shape(G.shape)} does not match {fmt_shape(s.shape)}")
        return s.shape, np.result_type(s.dtype, G.dtype)

    def forward(self, s, G):
        gs = G * s
        out = np.subtract(G, np.add.reduce(gs, axis=self.axis, keepdims=True), out=gs)
        out *= s
        return out

    def bprop(self, inputs, output, H):
        # out = s * (G - S) with S = sum(G * s): d/dG is softmax_grad(s, H) (J is symmetric),
        # d/ds is H * (G - S) - G * sum(H * s)
        s, G = inputs
        total = Sum((self.axis,), keepdims=True)
        return [H * (G - total(G * s)) - G * total(H * s), SoftmaxGrad(self.axis)(s, H)]


# -- cross-entropy: the lectures' closed-form gradient as one op ----------------------------------------


def _divided_by_count(p: np.ndarray, n: int) -> np.ndarray:
    """p / n in place where p's dtype holds n exactly (float32: n <= 2**24), else
    divided in float64 and cast back (a float16 batch of 70000 is inf in float16)."""
    if holds_count(p.dtype, n):
        p /= n
        return p
    return (p / np.float64(n)).astype(p.dtype)


def _rows_and_labels(lsm, labels):
    """The index ``(rows, labels)`` of each row's label, once there is one label per
    row of ``lsm``: a ShapeError naming both shapes otherwise (PyTorch's "Expected
    input batch_size (3) to match target batch_size (2)"), never a label count that
    silently leaves rows without a label or reads past the last row; an IndexError
    naming the first label outside 0 .. classes-1 (NumPy would wrap a negative one)."""
    if labels.shape != lsm.shape[:1]:
        raise ShapeError(
            f"cross_entropy: {lsm.shape[0]} row(s) of logits (shape {fmt_shape(lsm.shape)}) but "
            f"{labels.shape[0] if labels.ndim else 'no'} label(s) (shape {fmt_shape(labels.shape)}); "
            "each row needs exactly one label"
        )
    classes = lsm.shape[1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise IndexError(f"label {bad} is out of range for {classes} classes (labels are 0 .. {classes - 1})")
    return np.arange(len(labels)), labels


def _check_pair(op: str, logits, labels):
    if logits.ndim != 2 or logits.dtype.kind != "f":
        raise ShapeError(
            f"{op}: logits must be a float (batch, classes) array, got {logits.label()} of shape "
            f"{fmt_shape(logits.shape)} and dtype {logits.dtype}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DTypeError(
            f"{op}: labels must be a 1-D integer array, got {labels.label()} of shape "
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
    log_softmax's bprop carries that on to z as one ``log_softmax_grad`` node,
    which the simplify pass rewrites into the lectures' closed form
    G * (softmax(z) - one_hot(labels)) / batch, with softmax(z) = exp(lsm), as
    one ``cross_entropy_grad`` node.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.Variable("z", (2, 3))
        >>> J = gc.nn.cross_entropy(z, gc.constant([0, 2]))
        >>> J.owner.op.name, gc.grad(J, z).owner.op.name
        ('cross_entropy', 'log_softmax_grad')
        >>> [v.owner.op.name for v in gc.compile(gc.grad(J, z)).graph.variables if v.owner]
        ['log_softmax', 'cross_entropy_grad']
    """

    name = "cross_entropy"

    def infer(self, logits, lsm, labels):
        _check_pair(self.name, logits, labels)
        if lsm.shape != logits.shape:
            raise ShapeError(f"{self.name}: log_softmax input {lsm.shape} does not match the logits {logits.shape}")
        return (), logits.dtype

    def forward(self, logits, lsm, labels):
        picked = lsm[_rows_and_labels(lsm, labels)]
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

    helper = True
    name = "cross_entropy_pick_grad"

    def forward(self, lsm, labels):
        p = np.zeros_like(lsm)
        p[_rows_and_labels(lsm, labels)] = -1.0 / max(len(labels), 1)  # float64, then stored
        return p

    def bprop(self, inputs, output, G):
        return [None, None]  # constant in lsm; labels are integers


@dataclasses.dataclass(frozen=True)
class CrossEntropyGrad(_LabelledGrad):
    """d cross_entropy / d logits = (exp(lsm) - one_hot(labels)) / batch from the
    logits' log_softmax ``lsm``, in one pass as a person writes it (softmax,
    subtract 1 at the labels, divide by the batch)."""

    helper = True
    name = "cross_entropy_grad"

    def forward(self, lsm, labels):
        p = np.exp(lsm)
        p[_rows_and_labels(lsm, labels)] -= 1.0
        return _divided_by_count(p, max(len(labels), 1))  # no rows: an empty gradient

    def bprop(self, inputs, output, G):
        # d/dlsm of sum(U * exp(lsm)) / batch; log_softmax's own bprop carries it on to z
        lsm = inputs[0]
        return [divide_by_count(G * exp(lsm), SizeOf((0,), np.dtype(np.int64))(lsm)), None]


# -- builders ---------------------------------------------------------------------------


@user_errors
def softmax(x: Operand, axis: int = -1) -> Variable:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large inputs.

    Example:
        >>> import graphcomp as gc
        >>> gc.evaluate(gc.softmax(gc.constant([0.0, 0.0])), {}).tolist()
        [0.5, 0.5]
    """
    x = as_variable(x)
    return Softmax(single_axis(axis, x.ndim, "softmax"))(x)


@user_errors
def log_softmax(x: Operand, axis: int = -1) -> Variable:
    """x - logsumexp(x) along ``axis``.

    Example:
        >>> import graphcomp as gc
        >>> gc.log_softmax(gc.Variable("x", (2, 3))).shape
        (2, 3)
    """
    x = as_variable(x)
    return LogSoftmax(single_axis(axis, x.ndim, "log_softmax"))(x)


@user_errors
def cross_entropy(logits: Operand, labels: Operand) -> Variable:
    """Mean softmax cross-entropy of ``logits`` (batch, classes) against integer
    ``labels`` (batch,): ``-mean(log_softmax(logits)[rows, labels])``, stable for
    logits of any size. One op; its compiled gradient is the lectures' closed form
    (softmax - one_hot) / batch, one ``cross_entropy_grad`` node (PyTorch's
    ``F.cross_entropy`` with reduction "mean").

    Each row needs exactly one label: a label count other than the row count is
    a ShapeError when both are known at build time, and an EvaluationError (a
    ValueError, as PyTorch's "Expected input batch_size (3) to match target
    batch_size (2)") naming cross_entropy and both shapes when the graph runs,
    from the loss and from each of its gradient ops alike. A label outside
    0 .. classes-1 is an EvaluationError (an IndexError) when the graph runs.
    Raises ShapeError/DTypeError for logits that are not a float (batch,
    classes) array or labels that are not 1-D integers.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.constant([[0.0, 0.0], [1000.0, 0.0]])
        >>> round(float(gc.evaluate(gc.nn.cross_entropy(z, gc.constant([1, 0])), {})), 6)
        0.346574
    """
    logits, labels = as_variable(logits), as_variable(labels)  # the op checks both
    if logits.dtype.kind != "f":
        logits = cast(logits, "float64")  # as log_softmax would promote them
    return CrossEntropy()(logits, log_softmax(logits, axis=-1), labels)
