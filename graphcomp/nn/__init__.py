"""Neural-network losses and helpers, built from graph ops (``gc.nn``)."""

from __future__ import annotations

import numpy as np

from graphcomp import api
from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.errors import ArgumentError, DTypeError
from graphcomp.nn import init  # a submodule: gc.nn.init.kaiming_uniform
from graphcomp.nn.losses import binary_cross_entropy_with_logits, mse
from graphcomp.nn.norm import RunningStats, batch_norm, layer_norm
from graphcomp.ops.base import Operand, as_variable
from graphcomp.ops.nn import CrossEntropy

__all__ = [
    "one_hot", "cross_entropy", "softmax", "log_softmax", "mse", "binary_cross_entropy_with_logits",
    "batch_norm", "layer_norm", "RunningStats", "init",
]  # fmt: skip

softmax = api.softmax
log_softmax = api.log_softmax


@user_errors
def one_hot(labels: Operand, num_classes: int, dtype="float64") -> Variable:
    """Integer labels of shape S as one-hot rows of shape S + (num_classes,).

    Example:
        >>> import graphcomp as gc
        >>> gc.evaluate(gc.nn.one_hot(gc.constant([2, 0]), 3), {}).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    labels = as_variable(labels)
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: labels must be integers, got {labels._label()} of dtype {labels.dtype}")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ArgumentError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    hits = api.equal(api.expand_dims(labels, -1), np.arange(num_classes))
    return api.cast(hits, dtype)


@user_errors
def cross_entropy(logits: Operand, labels: Operand) -> Variable:
    """Mean softmax cross-entropy of ``logits`` (batch, classes) against integer
    ``labels`` (batch,): ``-mean(log_softmax(logits)[rows, labels])``, stable for
    logits of any size. One op; its gradient is the lectures' closed form
    (softmax - one_hot) / batch, one ``cross_entropy_grad`` node. A label outside
    0 .. classes-1 is an error when the graph runs.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.constant([[0.0, 0.0], [1000.0, 0.0]])
        >>> round(float(gc.evaluate(gc.nn.cross_entropy(z, gc.constant([1, 0])), {})), 6)
        0.346574
    """
    logits, labels = as_variable(logits), as_variable(labels)  # the op checks both
    if logits.dtype.kind != "f":
        logits = api.cast(logits, "float64")  # as log_softmax would promote them
    return CrossEntropy()(logits, api.log_softmax(logits, axis=-1), labels)
