"""Optimisers as update dicts for ``gc.compile(..., updates=...)`` (``gc.optim``).

Each optimiser returns ``{Parameter: new value}`` for the parameters *and* for
its own state (moment estimates, momentum buffers, the step counter), all
Parameters, so that one call of the compiled function is one optimisation
step. The update rules are PyTorch's ``torch.optim`` ones, written out in the
docstrings, so that the same initial values give the same parameters step
after step.

**The step counter.** ``step_counter()`` is a 0-d int64 Parameter holding the
number of steps taken so far: 0 during the first call, then 1, 2, ... (the
optimiser's update adds 1 after each call). A learning-rate schedule is a graph
computed from it (``gc.optim.schedules``); the optimiser advances the counter
that ``lr`` reads, or the one passed as ``step=``, or (Adam and friends need
one for their bias correction) a fresh one of its own. A ``step=`` other than
the counter ``lr`` reads gets a UserWarning at the user's line: that schedule
would stay frozen unless something else advances its counter (an epoch
counter the training loop sets between epochs does).

Example:
    >>> import graphcomp as gc
    >>> w = gc.Parameter([3.0, -2.0], "w")
    >>> cost = (w * w).sum()
    >>> step = gc.optim.step_counter()
    >>> lr = gc.optim.schedules.step_decay(step, 0.1, step_size=2, gamma=0.5)
    >>> train = gc.compile([cost, lr], [], updates=gc.optim.adam(cost, [w], lr=lr))
    >>> [round(float(train()[1]), 3) for _ in range(5)], int(step.value)
    ([0.1, 0.1, 0.05, 0.05, 0.025], 5)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

import graphcomp as gc
from graphcomp.core.site import creation_site, user_errors
from graphcomp.core.types import as_bool
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.optim import schedules

__all__ = ["sgd", "adam", "adamw", "rmsprop", "step_counter", "clip_grad_norm", "schedules"]


def step_counter(name: str = "step") -> gc.Parameter:
    """A new step counter: a 0-d int64 Parameter, 0 before the first step.

    Pass it to schedules and (as ``step=``) to optimisers; the optimiser's
    updates add 1 to it once per compiled call, after the call has read it.
    ``counter.set_value(k)`` resumes at step k.

    Example:
        >>> import graphcomp as gc
        >>> k = gc.optim.step_counter()
        >>> k.shape, k.dtype, int(k.value)
        ((), dtype('int64'), 0)
    """
    if not isinstance(name, str):
        raise ArgumentError(f"step_counter: name must be a str, got {name!r}")
    return gc.Parameter(np.int64(0), name)


def _is_counter(v) -> bool:
    return isinstance(v, gc.Parameter) and v.shape == () and v.dtype.kind in "iu"


def _counter(who: str, lr, step):
    """The step counter this optimiser reads and advances, or None if it needs none.

    ``step`` given: that one, with a warning when ``lr`` reads another counter,
    which this optimiser then leaves where it is (a frozen schedule, unless the
    user advances it: an epoch counter set between epochs is one). Else the 0-d
    integer Parameter that a scheduled ``lr`` reads (a counter nobody advanced
    would freeze the schedule)."""
    found = [v for v in gc.Graph(lr).variables if _is_counter(v)] if isinstance(lr, gc.Variable) else []
    if step is not None:
        if not _is_counter(step):
            raise ArgumentError(
                f"{who}: step must be a step counter (a 0-d integer Parameter, gc.optim.step_counter()), got {step!r}"
            )
        others = [v for v in found if v is not step]
        if others:
            read = ", ".join(f"{v.label()!r} (built at {v.site})" for v in others)
            given = f"{step.label()!r} (built at {step.site})"
            site = creation_site()
            warnings.warn_explicit(
                f"{who}: lr reads the step counter {read}, but step= is {given}, the only counter this "
                "optimiser advances: the schedule stays where it is unless something else advances its "
                "counter (pass that counter as step=, or build the schedule from the one given)",
                UserWarning,
                site.filename,
                site.line,
            )
        return step
    if len(found) > 1:
        names = ", ".join(repr(v.label()) for v in found)
        raise ArgumentError(f"{who}: lr reads several step counters ({names}); say which one to advance with step=")
    return found[0] if found else None


def _check_params(who: str, params) -> list:
    try:
        params = [params] if isinstance(params, gc.Variable) else list(params)
    except TypeError:
        raise ArgumentError(f"{who}: params must be a list of Parameters, got {params!r}") from None
    if not params:
        raise ArgumentError(f"{who}: params is empty; give the Parameters to train")
    seen = set()
    for p in params:
        if not isinstance(p, gc.Parameter):
            raise ArgumentError(f"{who}: params must be Parameters, got {p!r}")
        if p.dtype.kind != "f":
            raise DTypeError(f"{who}: Parameter {p.label()!r} has dtype {p.dtype}; only float Parameters are trained")
        if p in seen:
            raise ArgumentError(f"{who}: Parameter {p.label()!r} is listed twice")
        seen.add(p)
    return params


def _check_lr(who: str, lr):
    """A non-negative number as a float, or a 0-d float or integer Variable."""
    if isinstance(lr, gc.Variable):
        if lr.shape != ():
            raise ShapeError(f"{who}: lr must be a scalar, got {lr.label()} of shape {lr.shape}")
        if lr.dtype.kind not in "fiu":
            raise DTypeError(f"{who}: lr must be a number, got {lr.label()} of dtype {lr.dtype}")
        return lr
    return _nonneg(who, "lr", lr)


def _nonneg(who: str, what: str, value, below: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{who}: {what} must be a number, got {value!r}")
    if not 0.0 <= float(value) < below:
        bound = "" if below == math.inf else f" and < {below}"
        raise ArgumentError(f"{who}: {what} must be >= 0{bound}, got {value!r}")
    return float(value)


def _cast(v, dtype):
    """A scalar factor in the parameter's dtype, so a float32 model stays float32."""
    if isinstance(v, gc.Variable) and v.dtype != dtype:
        return gc.cast(v, dtype)
    return v


@user_errors
def clip_grad_norm(grads: Sequence[gc.Variable], max_norm: float) -> list[gc.Variable]:
    """The gradients scaled so that their global Euclidean norm is at most
    ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``: with
    ``total = sqrt(sum_i sum(g_i**2))``, each ``g_i * min(1, max_norm / (total + 1e-6))``.

    ``grads`` is a non-empty list of float Variables (or arrays). Returns a list of
    Variables, each of its gradient's shape and dtype. Raises ArgumentError for an
    empty or non-list ``grads`` or a ``max_norm`` that is not a number >= 0,
    DTypeError for a gradient that is not a float.

    Example:
        >>> import graphcomp as gc
        >>> (g,) = gc.optim.clip_grad_norm([gc.constant([3.0, 4.0])], 1.0)
        >>> [round(v, 6) for v in gc.evaluate(g, {}).tolist()]
        [0.6, 0.8]
    """
    max_norm = _nonneg("clip_grad_norm", "max_norm", max_norm)
    grads = _check_grads(grads)
    squares = [gc.sum(gc.square(g)) for g in grads]
    total = gc.sqrt(squares[0] if len(squares) == 1 else gc.stack(squares).sum())
    coef = gc.minimum(max_norm / (total + 1e-6), 1.0)
    return [g * _cast(coef, g.dtype) for g in grads]


def _check_grads(grads) -> list[gc.Variable]:
    if isinstance(grads, (gc.Variable, np.ndarray, str, bytes)):
        raise ArgumentError(f"clip_grad_norm: grads must be a list of gradients, got {grads!r}")
    try:
        grads = [g if isinstance(g, gc.Variable) else gc.constant(g) for g in grads]
    except (TypeError, ArgumentError):
        raise ArgumentError(f"clip_grad_norm: grads must be a list of gradients (Variables), got {grads!r}") from None
    if not grads:
        raise ArgumentError("clip_grad_norm: grads is empty; give the gradients to clip (a list of Variables)")
    for g in grads:
        if g.dtype.kind != "f":
            raise DTypeError(f"clip_grad_norm: gradients must be floats, got {g.label()} of dtype {g.dtype}")
    return grads


def _gradients(who: str, cost, params, max_grad_norm) -> list:
    if not isinstance(cost, gc.Variable):
        raise ArgumentError(f"{who}: cost must be a 0-d Variable (the loss to minimise), got {cost!r}")
    grads = gc.grad(cost, params)
    if max_grad_norm is not None:
        grads = clip_grad_norm(grads, _nonneg(who, "max_grad_norm", max_grad_norm))
    return grads


def _state(p: gc.Parameter, what: str) -> gc.Parameter:
    """A zero-initialised state tensor of ``p``'s shape and dtype, named after both."""
    return gc.Parameter(np.zeros(p.shape, p.dtype), f"{p.name or 'param'}.{what}")


def _advance(updates: dict, counter) -> None:
    if counter is not None:
        updates[counter] = counter + 1


@user_errors
def sgd(
    cost: gc.Variable,
    params: Sequence[gc.Parameter],
    lr,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    *,
    max_grad_norm: float | None = None,
    step: gc.Parameter | None = None,
) -> dict:
    """Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0): with
    ``g`` the gradient (clipped first when ``max_grad_norm`` is given),

        g <- g + weight_decay * p
        buf <- momentum * buf + g                    (momentum > 0; buf starts at 0)
        d <- g + momentum * buf if nesterov else buf
        p <- p - lr * d

    The momentum buffers are Parameters (``<name>.momentum_buffer``) in the
    returned dict. Writing the velocity as ``buf`` (not ``v <- mu v - lr g``)
    keeps the step right when ``lr`` changes between steps (a schedule).

    Args: ``cost`` a 0-d Variable; ``params`` float Parameters; ``lr`` a
    number or a 0-d Variable (a schedule of ``step``); ``step`` a step counter
    to advance (default: the one ``lr`` reads, if any; a UserWarning when
    ``lr`` reads another one, which this optimiser then leaves where it is).
    Raises ArgumentError
    for a bad hyper-parameter, ``nesterov`` without momentum, or a
    non-Parameter; GradientError when ``cost`` does not depend on a parameter.

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Parameter(3.0, "w")
        >>> step = gc.compile(w * w, [], updates=gc.optim.sgd(w * w, [w], lr=0.25))
        >>> [float(step()) for _ in range(3)], float(w.value)
        ([9.0, 2.25, 0.5625], 0.375)
    """
    params = _check_params("sgd", params)
    nesterov = as_bool(nesterov, "sgd: nesterov")
    lr = _check_lr("sgd", lr)
    momentum = _nonneg("sgd", "momentum", momentum, below=1.0)
    weight_decay = _nonneg("sgd", "weight_decay", weight_decay)
    if nesterov and momentum == 0.0:
        raise ArgumentError("sgd: nesterov=True needs momentum > 0 (as torch.optim.SGD)")
    counter = _counter("sgd", lr, step)
    grads = _gradients("sgd", cost, params, max_grad_norm)
    updates: dict = {}
    for p, g in zip(params, grads):
        if weight_decay:
            g = g + weight_decay * p
        d = g
        if momentum:
            buf = _state(p, "momentum_buffer")
            updates[buf] = d = momentum * buf + g
            if nesterov:
                d = g + momentum * d
        updates[p] = p - _cast(lr, p.dtype) * d
    _advance(updates, counter)
    return updates


def _check_betas(who: str, betas) -> tuple[float, float]:
    if not isinstance(betas, Sequence) or len(betas) != 2:
        raise ArgumentError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
    return _nonneg(who, "beta1", betas[0], below=1.0), _nonneg(who, "beta2", betas[1], below=1.0)


def _adam(
    who: str, cost, params, lr, betas, eps, weight_decay, decoupled, amsgrad, max_grad_norm, step
) -> dict:  # fmt: skip
    params = _check_params(who, params)
    amsgrad = as_bool(amsgrad, f"{who}: amsgrad")
    lr = _check_lr(who, lr)
    beta1, beta2 = _check_betas(who, betas)
    eps = _nonneg(who, "eps", eps)
    weight_decay = _nonneg(who, "weight_decay", weight_decay)
    counter = _counter(who, lr, step)
    if counter is None:
        counter = step_counter(f"{who}.step")
    grads = _gradients(who, cost, params, max_grad_norm)
    # the bias corrections in float64 whatever the parameters' dtype, as torch's Python floats
    t = gc.cast(counter, "float64") + 1.0
    bias_correction1 = 1.0 - gc.power(beta1, t)
    bias_correction2_sqrt = gc.sqrt(1.0 - gc.power(beta2, t))
    step_size = (gc.cast(lr, "float64") if isinstance(lr, gc.Variable) else lr) / bias_correction1
    updates: dict = {}
    for p, g in zip(params, grads):
        if weight_decay and not decoupled:
            g = g + weight_decay * p
        m, v = _state(p, "exp_avg"), _state(p, "exp_avg_sq")
        updates[m] = m_new = beta1 * m + (1.0 - beta1) * g
        updates[v] = v_new = beta2 * v + (1.0 - beta2) * (g * g)
        if amsgrad:
            v_max = _state(p, "max_exp_avg_sq")
            updates[v_max] = v_new = gc.maximum(v_max, v_new)
        denom = gc.sqrt(v_new) / _cast(bias_correction2_sqrt, p.dtype) + eps
        decayed = p * (1.0 - _cast(lr, p.dtype) * weight_decay) if weight_decay and decoupled else p
        updates[p] = decayed - _cast(step_size, p.dtype) * (m_new / denom)
    _advance(updates, counter)
    return updates


@user_errors
def adam(
    cost: gc.Variable,
    params: Sequence[gc.Parameter],
    lr=1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    amsgrad: bool = False,
    max_grad_norm: float | None = None,
    step: gc.Parameter | None = None,
) -> dict:
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam``: with ``t`` the step
    number (1 in the first call) and ``g`` the gradient (clipped first when
    ``max_grad_norm`` is given),

        g <- g + weight_decay * p                    (L2 penalty, coupled)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v); use v_max for v     (amsgrad=True)
        p <- p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    (eps is added after the bias correction of sqrt(v), as torch does.) The
    moments are Parameters ``<name>.exp_avg``, ``<name>.exp_avg_sq``; ``t``
    comes from the step counter (``step=``, or the one ``lr`` reads, or a new
    one, ``adam.step``), all in the returned dict.

    Raises ArgumentError for a hyper-parameter out of range (betas in [0, 1),
    lr, eps, weight_decay >= 0) or a non-Parameter.

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Parameter(1.0, "w")
        >>> step = gc.compile(w * w, [], updates=gc.optim.adam(w * w, [w], lr=0.1))
        >>> _ = [step() for _ in range(3)]
        >>> round(float(w.value), 6)  # each early Adam step moves w by about lr (torch.optim.Adam: 0.701586)
        0.701586
    """
    return _adam("adam", cost, params, lr, betas, eps, weight_decay, False, amsgrad, max_grad_norm, step)


@user_errors
def adamw(
    cost: gc.Variable,
    params: Sequence[gc.Parameter],
    lr=1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    *,
    amsgrad: bool = False,
    max_grad_norm: float | None = None,
    step: gc.Parameter | None = None,
) -> dict:
    """AdamW (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``: Adam without
    the L2 term, the weight decay decoupled from the gradient:

        p <- p * (1 - lr * weight_decay), then Adam's step from g

    (see ``adam`` for the rest, state and errors).

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Parameter(1.0, "w")
        >>> step = gc.compile(0.0 * w, [], updates=gc.optim.adamw(0.0 * w, [w], lr=0.1, weight_decay=0.5))
        >>> _ = step(); float(w.value)   # zero gradient: only the decay acts
        0.95
    """
    return _adam("adamw", cost, params, lr, betas, eps, weight_decay, True, amsgrad, max_grad_norm, step)


@user_errors
def rmsprop(
    cost: gc.Variable,
    params: Sequence[gc.Parameter],
    lr=1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    *,
    weight_decay: float = 0.0,
    centered: bool = False,
    max_grad_norm: float | None = None,
    step: gc.Parameter | None = None,
) -> dict:
    """RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``: with ``g``
    the gradient (clipped first when ``max_grad_norm`` is given),

        g <- g + weight_decay * p
        s <- alpha * s + (1 - alpha) * g**2
        a <- alpha * a + (1 - alpha) * g;  avg <- sqrt(s - a**2) + eps   (centered=True)
        avg <- sqrt(s) + eps                                             (otherwise)
        buf <- momentum * buf + g / avg;  p <- p - lr * buf              (momentum > 0)
        p <- p - lr * g / avg                                            (otherwise)

    (eps outside the square root, as torch.) State: ``<name>.square_avg``,
    ``<name>.grad_avg``, ``<name>.momentum_buffer``. Raises ArgumentError
    for a hyper-parameter out of range (alpha, momentum in [0, 1)).

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Parameter(1.0, "w")
        >>> step = gc.compile(w * w, [], updates=gc.optim.rmsprop(w * w, [w], lr=0.01))
        >>> _ = step(); round(float(w.value), 6)   # 1 - 0.01 * 2 / (sqrt(0.01 * 4) + 1e-8)
        0.9
    """
    params = _check_params("rmsprop", params)
    centered = as_bool(centered, "rmsprop: centered")
    lr = _check_lr("rmsprop", lr)
    alpha = _nonneg("rmsprop", "alpha", alpha, below=1.0)
    eps = _nonneg("rmsprop", "eps", eps)
    momentum = _nonneg("rmsprop", "momentum", momentum, below=1.0)
    weight_decay = _nonneg("rmsprop", "weight_decay", weight_decay)
    counter = _counter("rmsprop", lr, step)
    grads = _gradients("rmsprop", cost, params, max_grad_norm)
    updates: dict = {}
    for p, g in zip(params, grads):
        if weight_decay:
            g = g + weight_decay * p
        s = _state(p, "square_avg")
        updates[s] = s_new = alpha * s + (1.0 - alpha) * (g * g)
        if centered:
            a = _state(p, "grad_avg")
            updates[a] = a_new = alpha * a + (1.0 - alpha) * g
            avg = gc.sqrt(s_new - a_new * a_new) + eps
        else:
            avg = gc.sqrt(s_new) + eps
        lr_p = _cast(lr, p.dtype)
        if momentum:
            buf = _state(p, "momentum_buffer")
            updates[buf] = buf_new = momentum * buf + g / avg
            updates[p] = p - lr_p * buf_new
        else:
            updates[p] = p - lr_p * (g / avg)
    _advance(updates, counter)
    return updates
