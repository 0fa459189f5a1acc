"""Inverted dropout (``gc.nn.dropout``), built from a Bernoulli draw and a product."""

from __future__ import annotations

import numpy as np

import graphcomp as gc
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_bool
from graphcomp.errors import ArgumentError, DTypeError

__all__ = ["dropout"]


@user_errors
def dropout(x, rate: float, rng, training: bool = True) -> gc.Variable:
    """Inverted dropout (Srivastava et al. 2014; PyTorch's ``F.dropout``): each entry
    of ``x`` is zeroed with probability ``rate`` and the kept ones are scaled by
    ``1 / (1 - rate)``, so that the expectation is ``x``: ``x * (mask / (1 - rate))``
    with ``mask = rng.bernoulli_like(x, 1 - rate)``, computed as PyTorch computes
    it (the mask divided first). Each run draws a new mask (``gc.random``); the
    gradient is the same ``mask / (1 - rate)``, from the same draw when computed in
    the same run.

    ``x`` is a float Variable of any shape (unknown dimensions included); the
    result has its shape and dtype. ``rate`` is a number in [0, 1]: 0, or
    ``training=False``, returns ``x`` itself (inference); 1 returns ``x * 0``
    (PyTorch's). Raises ArgumentError for a bad ``rate``, ``rng`` or ``training``,
    DTypeError for a non-float ``x``.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> x = gc.Variable("x", (None, 1000))
        >>> y = gc.nn.dropout(x, 0.25, rng)
        >>> v = gc.compile(y, [x])(np.ones((2, 1000)))
        >>> sorted(set(v.ravel().tolist())), bool(abs((v == 0).mean() - 0.25) < 0.03)
        ([0.0, 1.3333333333333333], True)
        >>> gc.nn.dropout(x, 0.25, rng, training=False) is x
        True
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"dropout: rate must be a number in [0, 1], got {rate!r}")
    if not 0.0 <= float(rate) <= 1.0:
        raise ArgumentError(f"dropout: rate must be in [0, 1] (the probability of zeroing an entry), got {rate!r}")
    if not isinstance(rng, gc.random.Generator):
        raise ArgumentError(f"dropout: rng must be a gc.random.Generator, got {rng!r}")
    training = as_bool(training, "dropout: training")
    x = x if isinstance(x, gc.Variable) else gc.constant(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"dropout: x must be a float array, got {x.label()} of dtype {x.dtype}")
    rate = float(rate)
    if not training or rate == 0.0:
        return x
    if rate == 1.0:
        return x * 0.0
    keep = 1.0 - rate
    mask = rng.bernoulli_like(x, keep)
    return x * (mask / keep)
