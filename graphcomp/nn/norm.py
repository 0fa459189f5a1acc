"""Batch and layer normalisation, built from graph ops (``gc.nn.batch_norm``, ``gc.nn.layer_norm``).

Training-mode statistics are PyTorch's: the mean and the biased variance
(the mean of squared deviations) over ``axis``, ``y = (x - mean) /
sqrt(var + eps) * gamma + beta``. Batch norm's running statistics for
inference live in a ``RunningStats`` (two Parameters), updated through
``gc.compile(..., updates=stats.updates)`` as PyTorch's ``BatchNorm``
updates its buffers (momentum 0.1, the unbiased variance).
"""

from __future__ import annotations

import math

import numpy as np

import graphcomp as gc
from graphcomp.core.site import creation_site, user_errors
from graphcomp.core.types import as_bool, as_dtype, fmt_shape
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import weak_constant
from graphcomp.ops.identity import MinCount

__all__ = ["batch_norm", "layer_norm", "RunningStats"]


class RunningStats:
    """Running mean and variance of a batch-norm layer, for inference: the
    Parameters ``mean`` (zeros) and ``var`` (ones) of the features' ``shape``
    (``gamma``'s shape), as PyTorch's ``running_mean``/``running_var`` buffers.

    A training-mode ``batch_norm(..., running=stats)`` fills ``stats.updates``
    with ``{mean: (1 - momentum) * mean + momentum * batch_mean, var: (1 -
    momentum) * var + momentum * batch_var * n / (n - 1)}`` (``n`` values per
    feature, unbiased as PyTorch's); merge it into the training step's
    ``updates``. ``batch_norm(..., running=stats, training=False)`` normalises
    with them. One training-mode ``batch_norm`` per RunningStats (a second
    raises ArgumentError: make one RunningStats per layer, and a new one for a
    new model). ``dtype`` is the statistics' float dtype (float64 by default; the
    update is computed from the batch's statistics and stored in it), ``momentum``
    a number in [0, 1], ``name`` prefixes the Parameters' names. Raises
    ArgumentError for a bad shape, momentum or name, DTypeError for a dtype that
    is not a float.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> stats = gc.nn.RunningStats((2,))
        >>> x = gc.Variable("x", (None, 2))
        >>> y = gc.nn.batch_norm(x, None, None, running=stats)
        >>> step = gc.compile(y, [x], updates=stats.updates)
        >>> _ = step(np.array([[0.0, 1.0], [2.0, 5.0]]))
        >>> stats.mean.value.tolist(), stats.var.value.tolist()   # 0.1 * (1, 3); 0.9 + 0.1 * (2, 8)
        ([0.1, 0.30000000000000004], [1.1, 1.7000000000000002])
    """

    def __init__(self, shape, momentum: float = 0.1, dtype="float64", name: str = "batch_norm"):
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        try:
            shape = tuple(shape)
        except TypeError:
            raise ArgumentError(f"RunningStats: shape must be positive ints, got {shape!r}") from None
        if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape):
            raise ArgumentError(f"RunningStats: shape must be positive ints, got {shape!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
            raise ArgumentError(f"RunningStats: momentum must be a number in [0, 1], got {momentum!r}")
        dtype = as_dtype(dtype, "RunningStats: dtype")
        if dtype.kind != "f":
            raise DTypeError(
                f"RunningStats: dtype must be a float dtype (float16, float32, float64), got {dtype}; "
                "a running mean and variance are fractions (PyTorch keeps them in the layer's float dtype)"
            )
        if not isinstance(name, str):
            raise ArgumentError(f"RunningStats: name must be a str, got {name!r}")
        self.shape, self.momentum = tuple(int(d) for d in shape), float(momentum)
        self.mean = gc.Parameter(np.zeros(self.shape, dtype), f"{name}.running_mean")
        self.var = gc.Parameter(np.ones(self.shape, dtype), f"{name}.running_var")
        self.updates: dict = {}
        self._filled_at = None

    def __repr__(self) -> str:
        return f"RunningStats(shape={self.shape}, momentum={self.momentum})"


def _axes(who: str, axis, ndim: int) -> tuple[int, ...]:
    raw = (axis,) if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis
    try:
        raw = tuple(raw)
    except TypeError:
        raise ArgumentError(f"{who}: axis must be an int or a tuple of ints, got {axis!r}") from None
    if not raw or any(isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) for a in raw):
        raise ArgumentError(f"{who}: axis must be an int or a tuple of ints, got {axis!r}")
    axes = tuple(int(a) for a in raw)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{who}: axis {a} is out of range for an input of {ndim} dimension(s)")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{who}: axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _affine(who: str, what: str, p, x: gc.Variable, positions: tuple[int, ...]):
    """``p`` (gamma or beta, of the shape of x's ``positions``) reshaped to broadcast
    against x: its entries at those positions, 1 elsewhere."""
    if p is None:
        return None
    p = weak_constant(p, x)  # a list of numbers takes x's dtype, as a Python number would
    want = tuple(x.shape[i] for i in positions)
    if p.ndim != len(want) or any(a is not None and b is not None and a != b for a, b in zip(p.shape, want)):
        raise ShapeError(
            f"{who}: {what} must have shape {fmt_shape(want)} (x's axes {positions} of {fmt_shape(x.shape)}), "
            f"got {p.label()} of shape {fmt_shape(p.shape)}"
        )
    full = [1] * x.ndim
    for i, d in zip(positions, p.shape):
        full[i] = d
    first = next((i for i, d in enumerate(full) if d != 1), len(full))
    if tuple(full[first:]) == p.shape:
        return p  # broadcasting already lines it up
    if None in p.shape:
        raise ShapeError(f"{who}: {what} of shape {fmt_shape(p.shape)} needs known dimensions to be reshaped")
    return gc.reshape(p, tuple(full))


def _scale_shift(y, gamma, beta):
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def _statistics(x: gc.Variable, axes: tuple[int, ...], eps: float):
    """(x - mean) / sqrt(var + eps), the mean and the biased variance, both keepdims."""
    mean = gc.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = gc.mean(gc.square(centred), axis=axes, keepdims=True)  # the lead's gc.var will replace this
    return centred * (1.0 / gc.sqrt(var + eps)), mean, var


def _check_eps(who: str, eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps >= 0:
        raise ArgumentError(f"{who}: eps must be a number >= 0, got {eps!r}")
    return float(eps)


def _count(x: gc.Variable, axes: tuple[int, ...]):
    """How many values each feature's statistics average: an int when known, else a graph."""
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return math.prod(dims)
    one_feature = x[tuple(slice(None) if i in axes else 0 for i in range(x.ndim))]
    return gc.sum(gc.cast(gc.ones_like(one_feature), "float64"))


@user_errors
def batch_norm(
    x, gamma, beta, axis=0, eps: float = 1e-5, *, running: RunningStats | None = None, training: bool = True
) -> gc.Variable:
    """Batch normalisation (Ioffe & Szegedy 2015) with the statistics over ``axis``:
    ``(x - mean) / sqrt(var + eps) * gamma + beta``, the mean and the biased
    variance taken over ``axis`` per feature, as PyTorch's ``BatchNorm`` in
    training mode.

    ``axis`` is the batch axis, or a tuple of axes: ``0`` for (batch,
    features), ``(0, 2, 3)`` for NCHW images (per channel, as
    ``BatchNorm2d``). ``gamma`` and ``beta`` have the shape of the remaining
    axes ((features,), (C,)), or are None (no scale, no shift). With
    ``running=`` a ``RunningStats`` of that shape, a training-mode call puts
    its running-statistics update into ``running.updates``, and
    ``training=False`` normalises with ``running.mean`` and ``running.var``
    instead: compile an inference function from a graph built with
    ``training=False``::

        stats = gc.nn.RunningStats((64,))
        model = lambda x, training: gc.relu(gc.nn.batch_norm(x @ W1, g, b, running=stats, training=training)) @ W2
        cost = gc.nn.cross_entropy(model(x, True), y)
        step = gc.compile(cost, [x, y], updates={**gc.optim.adam(cost, params), **stats.updates})
        predict = gc.compile(model(x, False), [x])

    Training-mode statistics need more than one value per feature, as
    PyTorch's "Expected more than 1 value per channel when training": the
    variance of one value is 0 and its unbiased estimate 0 / 0, which would
    turn the running variance into NaN for good (a last minibatch of one
    example: use ``gc.data.batches(..., drop_last=True)``, as with PyTorch's
    DataLoader). gamma and beta given as Python lists take x's dtype (a
    float32 layer stays float32).

    Returns a Variable of x's shape. Raises ShapeError for an axis out of
    range or gamma/beta/running of the wrong shape, ArgumentError for
    ``training=False`` without ``running``, a RunningStats already used in
    training, a ``training`` that is not True or False, or fewer than 2
    values per feature known when built; an EvaluationError (a ValueError)
    naming batch_norm when a batch has fewer than 2 values per feature at
    run time, before anything is written into the running statistics.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 2))
        >>> y = gc.nn.batch_norm(x, [1.0, 2.0], [0.0, 10.0], eps=0.0)
        >>> gc.evaluate(y, {x: [[1.0, 5.0], [3.0, 1.0]]}).tolist()
        [[-1.0, 12.0], [1.0, 8.0]]
    """
    x = x if isinstance(x, gc.Variable) else gc.constant(x)
    axes = _axes("batch_norm", axis, x.ndim)
    eps = _check_eps("batch_norm", eps)
    training = as_bool(training, "batch_norm: training")
    features = tuple(i for i in range(x.ndim) if i not in axes)
    gamma = _affine("batch_norm", "gamma", gamma, x, features)
    beta = _affine("batch_norm", "beta", beta, x, features)
    if running is not None:
        if not isinstance(running, RunningStats):
            raise ArgumentError(f"batch_norm: running must be a gc.nn.RunningStats, got {running!r}")
        want = tuple(x.shape[i] for i in features)
        if len(want) != len(running.shape) or any(a is not None and a != b for a, b in zip(want, running.shape)):
            raise ShapeError(
                f"batch_norm: running statistics of shape {fmt_shape(running.shape)} do not fit the features "
                f"{fmt_shape(want)} of x {fmt_shape(x.shape)}"
            )
    if not training:
        if running is None:
            raise ArgumentError(
                "batch_norm: training=False normalises with running statistics; pass running=gc.nn.RunningStats(...)"
            )
        mean = _affine("batch_norm", "running mean", running.mean, x, features)
        var = _affine("batch_norm", "running var", running.var, x, features)
        return _scale_shift((x - mean) * (1.0 / gc.sqrt(var + eps)), gamma, beta)
    x = _enough_values(x, axes)
    normalised, mean, var = _statistics(x, axes, eps)
    if running is not None:
        _record_running(running, x, axes, mean, var)
    return _scale_shift(normalised, gamma, beta)


def _enough_values(x: gc.Variable, axes: tuple[int, ...]) -> gc.Variable:
    """``x``, with at least 2 values per feature over ``axes``: PyTorch's rule in
    training mode ("Expected more than 1 value per channel when training"). One value
    normalises to 0 and its running variance would be 0 / 0; none makes every
    statistic NaN. Checked now when the sizes are known, else when the graph runs."""
    dims = [x.shape[a] for a in axes]
    if None in dims:
        return MinCount(axes, 2, "batch_norm: training-mode statistics")(x)
    n = math.prod(dims)
    if n < 2:
        raise ArgumentError(
            f"batch_norm: {n} value{'' if n == 1 else 's'} per feature over axis {axes} of {fmt_shape(x.shape)}; "
            "training-mode statistics need at least 2 (the variance of one value is 0, its unbiased estimate 0 / 0)"
        )
    return x


def _record_running(running: RunningStats, x, axes, mean, var) -> None:
    if running._filled_at is not None:
        raise ArgumentError(
            f"batch_norm: this RunningStats already holds the updates of the batch_norm built at "
            f"{running._filled_at}; use one RunningStats per layer (a new one for a new model)"
        )
    n = _count(x, axes)  # at least 2: checked by _enough_values
    m = running.momentum
    correction = n / (n - 1.0)  # a Python float, or a float64 graph when n is known only at run time
    if isinstance(correction, gc.Variable) and correction.dtype != var.dtype:
        correction = gc.cast(correction, var.dtype)
    batch_mean = gc.reshape(mean, running.shape)
    unbiased = gc.reshape(var, running.shape) * correction
    # stored in the statistics' own dtype, whatever x's (float32 statistics of a float64 layer)
    new_mean = (1.0 - m) * running.mean + m * _as(batch_mean, running.mean.dtype)
    new_var = (1.0 - m) * running.var + m * _as(unbiased, running.var.dtype)
    running.updates[running.mean] = _as(new_mean, running.mean.dtype)
    running.updates[running.var] = _as(new_var, running.var.dtype)
    running._filled_at = creation_site()


def _as(v: gc.Variable, dtype) -> gc.Variable:
    return v if v.dtype == dtype else gc.cast(v, dtype)


@user_errors
def layer_norm(x, gamma, beta, axis=-1, eps: float = 1e-5) -> gc.Variable:
    """Layer normalisation (Ba, Kiros & Hinton 2016): each example normalised
    with the mean and biased variance over ``axis`` (an int or a tuple), then
    ``* gamma + beta``, as ``torch.nn.functional.layer_norm`` over the last
    ``len(axis)`` dimensions. ``gamma`` and ``beta`` have the shape of x's
    ``axis`` dimensions (the normalised shape), or are None. No running
    statistics: training and inference compute the same.

    Returns a Variable of x's shape. Raises ShapeError for an axis out of
    range or a gamma/beta of the wrong shape.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 4))
        >>> y = gc.nn.layer_norm(x, None, None, eps=0.0)
        >>> gc.evaluate(y, {x: [[1.0, 1.0, 3.0, 3.0]]}).tolist()
        [[-1.0, -1.0, 1.0, 1.0]]
    """
    x = x if isinstance(x, gc.Variable) else gc.constant(x)
    axes = _axes("layer_norm", axis, x.ndim)
    eps = _check_eps("layer_norm", eps)
    gamma = _affine("layer_norm", "gamma", gamma, x, axes)
    beta = _affine("layer_norm", "beta", beta, x, axes)
    normalised, _, _ = _statistics(x, axes, eps)
    return _scale_shift(normalised, gamma, beta)
