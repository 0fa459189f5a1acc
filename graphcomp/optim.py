"""Optimisers as update dicts for ``gc.compile(..., updates=...)`` (``gc.optim``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphcomp.autodiff.backprop import grad
from graphcomp.core.node import Parameter, Variable
from graphcomp.errors import ArgumentError

__all__ = ["sgd"]


def sgd(cost: Variable, params: Sequence[Parameter], lr, momentum: float = 0.0) -> dict:
    """Stochastic gradient descent: ``{p: p - lr * dcost/dp}``, or with momentum
    ``mu``: a velocity v per parameter, ``v <- mu v - lr g`` and ``p <- p + v``
    (the velocities are Parameters too, in the returned dict).

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Parameter(3.0, "w")
        >>> step = gc.compile(w * w, [], updates=gc.optim.sgd(w * w, [w], lr=0.25))
        >>> [float(step()) for _ in range(3)], float(w.value)
        ([9.0, 2.25, 0.5625], 0.375)
    """
    params = list(params)
    for p in params:
        if not isinstance(p, Parameter):
            raise ArgumentError(f"sgd: params must be Parameters, got {p!r}")
    if not 0.0 <= momentum < 1.0:
        raise ArgumentError(f"sgd: momentum must be in [0, 1), got {momentum!r}")
    grads = grad(cost, params)
    updates: dict = {}
    for p, g in zip(params, grads):
        if momentum == 0.0:
            updates[p] = p - lr * g
            continue
        v = Parameter(np.zeros(p.shape, p.dtype), name=f"{p.name or 'param'}_velocity")
        v_new = momentum * v - lr * g
        updates[v] = v_new
        updates[p] = p + v_new
    return updates
