"""Neural-network losses and helpers, built from graph ops (``gc.nn``)."""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_dtype
from graphcomp.errors import ArgumentError, DTypeError
from graphcomp.nn import init  # a submodule: gc.nn.init.kaiming_uniform
from graphcomp.nn.dropout import dropout
from graphcomp.nn.losses import binary_cross_entropy_with_logits, mse
from graphcomp.nn.norm import RunningStats, batch_norm, layer_norm
from graphcomp.ops.base import Operand, as_variable
from graphcomp.ops.compare import equal
from graphcomp.ops.identity import cast
from graphcomp.ops.shape import expand_dims
from graphcomp.ops.softmax import cross_entropy, log_softmax, softmax

__all__ = [
    "one_hot", "cross_entropy", "softmax", "log_softmax", "mse", "binary_cross_entropy_with_logits",
    "batch_norm", "layer_norm", "RunningStats", "init", "dropout",
]  # fmt: skip


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
        raise DTypeError(f"one_hot: labels must be integers, got {labels.label()} of dtype {labels.dtype}")
    bad = isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer))
    if bad or num_classes < 1:
        raise ArgumentError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    dtype = as_dtype(dtype, "one_hot: dtype")
    hits = equal(expand_dims(labels, -1), np.arange(num_classes))
    return cast(hits, dtype)
