"""Learning-rate schedules: the learning rate as a graph of the step count (``gc.optim.schedules``).

Each schedule takes ``step`` (the step counter ``gc.optim.step_counter()``,
any 0-d integer or float Variable, or plain numbers / a NumPy array of step
numbers, handy to plot a schedule) and returns a float64 Variable of
``step``'s shape: the learning rate to use in the step numbered ``step``
(0 for the first). Give it to an optimiser as ``lr=``; the optimiser advances
the counter the schedule reads. The formulas are PyTorch's closed forms
(``torch.optim.lr_scheduler``), with ``step`` where PyTorch writes
``last_epoch`` and ``scheduler.step()`` called once per optimiser step.

Example:
    >>> import numpy as np, graphcomp as gc
    >>> lr = gc.optim.schedules.cosine(np.arange(5), base_lr=1.0, total_steps=4)
    >>> gc.evaluate(lr, {}).round(4).tolist()
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import graphcomp as gc
from graphcomp.core.site import user_errors
from graphcomp.errors import ArgumentError, DTypeError

__all__ = ["step_decay", "cosine", "linear_warmup", "join"]


def _step_variable(who: str, step) -> gc.Variable:
    """``step`` as a Variable of a real dtype (a counter stays int64)."""
    if not isinstance(step, gc.Variable):
        arr = np.asarray(step)
        if arr.dtype.kind not in "iuf":
            raise ArgumentError(f"{who}: step must be a step number or a Variable, got {step!r}")
        step = gc.constant(arr)
    if step.dtype.kind not in "iuf":
        raise DTypeError(f"{who}: step must be an integer or float Variable, got {step.label()} of dtype {step.dtype}")
    return step


def _as_float(who: str, step) -> gc.Variable:
    step = _step_variable(who, step)
    return step if step.dtype == np.float64 else gc.cast(step, "float64")


def _number(who: str, what: str, value, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{who}: {what} must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise ArgumentError(f"{who}: {what} must be in [{low}, {high}], got {value!r}")
    return float(value)


def _count(who: str, what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ArgumentError(f"{who}: {what} must be a positive int, got {value!r}")
    return int(value)


@user_errors
def step_decay(step, base_lr: float, step_size: int, gamma: float = 0.1) -> gc.Variable:
    """``base_lr * gamma ** floor(step / step_size)``: the rate multiplied by
    ``gamma`` every ``step_size`` steps, as ``torch.optim.lr_scheduler.StepLR``.
    ``step`` must be >= 0 (a counter is). Raises ArgumentError for
    ``step_size < 1``, a negative ``base_lr`` or ``gamma``.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> lr = gc.optim.schedules.step_decay(np.arange(5), 1.0, step_size=2, gamma=0.5)
        >>> gc.evaluate(lr, {}).tolist()
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    t = _as_float("step_decay", step)
    base_lr = _number("step_decay", "base_lr", base_lr)
    step_size = _count("step_decay", "step_size", step_size)
    gamma = _number("step_decay", "gamma", gamma)
    # floor by truncation (steps are >= 0); an exact quotient k*s/s is exactly k in floats
    decays = gc.cast(gc.cast(t / float(step_size), "int64"), "float64")
    return base_lr * gc.power(gamma, decays)


@user_errors
def cosine(step, base_lr: float, total_steps: int, min_lr: float = 0.0) -> gc.Variable:
    """Cosine annealing from ``base_lr`` down to ``min_lr`` over ``total_steps``:
    ``min_lr + (base_lr - min_lr) * (1 + cos(pi * min(step, total_steps) / total_steps)) / 2``,
    PyTorch's closed form of ``CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)``
    (SGDR without restarts, Loshchilov & Hutter 2017); after ``total_steps`` it
    stays at ``min_lr`` (PyTorch's would rise again; optax's stays). Raises
    ArgumentError for ``total_steps < 1`` or a negative rate.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> lr = gc.optim.schedules.cosine(np.array([0, 2, 4, 9]), 0.1, total_steps=4, min_lr=0.01)
        >>> gc.evaluate(lr, {}).round(4).tolist()
        [0.1, 0.055, 0.01, 0.01]
    """
    t = _as_float("cosine", step)
    base_lr = _number("cosine", "base_lr", base_lr)
    total = _count("cosine", "total_steps", total_steps)
    min_lr = _number("cosine", "min_lr", min_lr)
    progress = gc.minimum(t, float(total)) / float(total)
    return min_lr + (base_lr - min_lr) * (1.0 + gc.cos(math.pi * progress)) / 2.0


@user_errors
def linear_warmup(step, base_lr: float, warmup_steps: int, start_factor: float = 0.0) -> gc.Variable:
    """A linear ramp from ``start_factor * base_lr`` at step 0 to ``base_lr`` at
    ``warmup_steps``, then constant: ``base_lr * (start_factor + (1 - start_factor)
    * min(step, warmup_steps) / warmup_steps)``, PyTorch's closed form of
    ``LinearLR(start_factor, end_factor=1.0, total_iters=warmup_steps)`` (Goyal et
    al. 2017's gradual warm-up). Raises ArgumentError for ``warmup_steps < 1`` or
    ``start_factor`` outside [0, 1].

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> lr = gc.optim.schedules.linear_warmup(np.arange(6), 1.0, warmup_steps=4)
        >>> gc.evaluate(lr, {}).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    t = _as_float("linear_warmup", step)
    base_lr = _number("linear_warmup", "base_lr", base_lr)
    warmup = _count("linear_warmup", "warmup_steps", warmup_steps)
    start = _number("linear_warmup", "start_factor", start_factor, high=1.0)
    return base_lr * (start + (1.0 - start) * gc.minimum(t, float(warmup)) / float(warmup))


@user_errors
def join(step, schedules: Sequence[Callable], boundaries: Sequence[int]) -> gc.Variable:
    """Schedules one after another: ``schedules[0](step)`` before
    ``boundaries[0]``, then ``schedules[1](step - boundaries[0])`` before
    ``boundaries[1]``, and so on, each schedule counting its own steps from 0
    (``optax.join_schedules``; PyTorch's ``SequentialLR``). Each entry of
    ``schedules`` is a function of a step Variable, such as
    ``lambda s: cosine(s, 0.1, 900)``. Raises ArgumentError unless there is one
    boundary fewer than schedules, increasing and >= 1.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> S = gc.optim.schedules
        >>> lr = S.join(np.arange(6), [lambda s: S.linear_warmup(s, 1.0, 2),
        ...                            lambda s: S.cosine(s, 1.0, 2)], [2])
        >>> gc.evaluate(lr, {}).tolist()
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    step = _step_variable("join", step)
    try:
        schedules, boundaries = list(schedules), list(boundaries)
    except TypeError:
        raise ArgumentError(
            f"join: schedules and boundaries must be lists, got {schedules!r} and {boundaries!r}"
        ) from None
    if not schedules or len(boundaries) != len(schedules) - 1:
        raise ArgumentError(
            f"join: {len(schedules)} schedule(s) need {max(len(schedules) - 1, 0)} boundaries, got {boundaries!r}"
        )
    for b in boundaries:
        _count("join", "each boundary", b)
    if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:])):
        raise ArgumentError(f"join: boundaries must increase, got {boundaries!r}")
    for fn in schedules:
        if not callable(fn):
            raise ArgumentError(f"join: schedules must be functions of the step, got {fn!r}")
    starts = [0, *boundaries]
    lr = _as_float("join", schedules[-1](step - starts[-1] if starts[-1] else step))
    for fn, start, end in zip(schedules[-2::-1], starts[-2::-1], boundaries[::-1]):
        lr = gc.where(step < end, _as_float("join", fn(step - start if start else step)), lr)
    return lr
