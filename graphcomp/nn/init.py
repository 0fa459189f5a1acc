"""Weight initialisers (``gc.nn.init``): Glorot/Xavier and He/Kaiming, PyTorch's formulas.

Each returns a NumPy array of ``shape`` and ``dtype`` to give to
``gc.Parameter``. The random numbers come from ``rng``: a NumPy
``Generator`` (or an int seed for ``np.random.default_rng``; None for a fresh
unseeded one) or a ``gc.random.Generator`` (one draw, evaluated at once, which
advances its state).

**Fans.** PyTorch computes fan-in and fan-out from its own layouts: a linear
weight is (out, in), a convolution's (out, in, kh, kw). graphcomp's
``x @ W`` takes W as (in, out), while ``gc.conv2d`` uses PyTorch's OIHW; so by
default a 2-D shape is read as (in, out) and a shape of 3 or more dimensions
as (out, in, *kernel), the kernel's size multiplying both fans (PyTorch's
receptive field). ``in_axis``/``out_axis`` say otherwise (``in_axis=1,
out_axis=0`` for a PyTorch-layout matrix), as ``jax.nn.initializers`` do.

Example:
    >>> import numpy as np, graphcomp as gc
    >>> W = gc.Parameter(gc.nn.init.kaiming_uniform((784, 512), rng=np.random.default_rng(0)), "W")
    >>> W.shape, W.dtype, bool(abs(W.value).max() <= np.sqrt(6 / 784))
    ((784, 512), dtype('float64'), True)
"""

from __future__ import annotations

import math

import numpy as np

from graphcomp import random as gc_random
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.runtime.evaluate import evaluate

__all__ = [
    "calculate_gain",
    "fan_in_and_fan_out",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
]

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``:
    1 for linear, convolutions and sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope**2)) for leaky_relu (slope ``param``, default 0.01),
    3/4 for selu. Raises ArgumentError for an unknown name or a slope that is not a
    finite number.

    Example:
        >>> import graphcomp as gc
        >>> gc.nn.init.calculate_gain("relu"), gc.nn.init.calculate_gain("leaky_relu", 0.0)
        (1.4142135623730951, 1.4142135623730951)
    """
    return _gain("calculate_gain", nonlinearity, param, "param (leaky_relu's negative_slope)")


def _gain(who: str, nonlinearity, param, param_name: str) -> float:
    if not isinstance(nonlinearity, str) or nonlinearity not in (*_GAINS, "leaky_relu"):
        names = ", ".join(sorted([*_GAINS, "leaky_relu"]))
        raise ArgumentError(f"{who}: unknown nonlinearity {nonlinearity!r}; known: {names}")
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _finite(who, param_name, param)
        return math.sqrt(2.0 / (1 + slope**2))
    return _GAINS[nonlinearity]


def _finite(who: str, what: str, value) -> float:
    """A finite real number (a bool is not one), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{who}: {what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ArgumentError(f"{who}: {what} must be finite, got {value!r}")
    return float(value)


def _check_gain(who: str, gain) -> float:
    """A gain scales a standard deviation or a bound: a finite number >= 0 (PyTorch's uniform_
    and normal_ refuse the negative bound or std a negative gain makes)."""
    gain = _finite(who, "gain", gain)
    if gain < 0:
        raise ArgumentError(f"{who}: gain must be >= 0 (it scales a standard deviation), got {gain!r}")
    return gain


def _shape(who: str, shape) -> tuple[int, ...]:
    """A shape of non-negative ints, as NumPy takes it: ``2.5`` (or ``2.0``) is refused,
    never truncated (``np.zeros((2.5, 5))`` raises too)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool) else shape
    try:
        dims = tuple(shape)
    except TypeError:
        raise ArgumentError(f"{who}: shape must be a tuple of ints, got {shape!r}") from None
    if any(isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise ArgumentError(f"{who}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def fan_in_and_fan_out(shape, in_axis: int | None = None, out_axis: int | None = None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: the sizes of its input and
    output axes, each times the product of the other axes (the receptive field,
    PyTorch's ``_calculate_fan_in_and_fan_out``). Default axes: (in, out) for a
    2-D shape (``x @ W``), (out, in, *kernel) for more (``gc.conv2d``'s OIHW).
    Raises ShapeError for fewer than 2 dimensions, ArgumentError for bad axes.

    Example:
        >>> import graphcomp as gc
        >>> gc.nn.init.fan_in_and_fan_out((784, 512)), gc.nn.init.fan_in_and_fan_out((8, 3, 5, 5))
        ((784, 512), (75, 200))
    """
    return _fan_in_and_fan_out("fan_in_and_fan_out", _shape("fan_in_and_fan_out", shape), in_axis, out_axis)


def _fan_in_and_fan_out(who: str, shape: tuple[int, ...], in_axis, out_axis) -> tuple[int, int]:
    if len(shape) < 2:
        raise ShapeError(
            f"{who}: fans need at least 2 dimensions (in and out), got shape {shape}; "
            "initialise biases directly (PyTorch refuses too)"
        )
    default = (0, 1) if len(shape) == 2 else (1, 0)
    axes = []
    for what, a, d in (("in_axis", in_axis, default[0]), ("out_axis", out_axis, default[1])):
        a = d if a is None else a
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -len(shape) <= a < len(shape):
            raise ArgumentError(f"{who}: {what} {a!r} is not an axis of shape {shape}")
        axes.append(int(a) % len(shape))
    if axes[0] == axes[1]:
        raise ArgumentError(f"{who}: in_axis and out_axis are the same axis ({axes[0]})")
    receptive = math.prod(d for i, d in enumerate(shape) if i not in axes)
    return shape[axes[0]] * receptive, shape[axes[1]] * receptive


def _draw(who: str, rng, kind: str, scale: float, shape, dtype) -> np.ndarray:
    """``uniform(-scale, scale)`` or ``normal(0, scale)`` numbers from ``rng``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ArgumentError(f"{who}: dtype must be a float dtype, got {dtype!r}")
    dtype = dt
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_))):
        if rng is not None and rng < 0:
            raise ArgumentError(f"{who}: rng as a seed must be a non-negative int (NumPy's rule), got {rng!r}")
        rng = np.random.default_rng(rng)
    if isinstance(rng, gc_random.Generator):  # a graph of one draw, run now: it advances rng's state
        draw = rng.uniform(shape, -scale, scale) if kind == "uniform" else rng.normal(shape, 0.0, scale)
        return np.asarray(evaluate(draw)).astype(dtype, copy=False)
    if not isinstance(rng, np.random.Generator):
        raise ArgumentError(
            f"{who}: rng must be a numpy Generator, a gc.random.Generator, an int seed or None, got {rng!r}"
        )
    values = rng.uniform(-scale, scale, shape) if kind == "uniform" else rng.normal(0.0, scale, shape)
    return values.astype(dtype, copy=False)


def _fans(who, shape, in_axis, out_axis):
    shape = _shape(who, shape)
    return shape, _fan_in_and_fan_out(who, shape, in_axis, out_axis)


def _xavier_scale(who: str, gain, fans, numerator: float) -> float:
    gain = _check_gain(who, gain)
    if fans[0] + fans[1] == 0:
        raise ShapeError(f"{who}: a weight with fan_in + fan_out 0 has no variance to scale")
    return gain * math.sqrt(numerator / (fans[0] + fans[1]))


def xavier_uniform(shape, gain: float = 1.0, *, rng=None, dtype="float64", in_axis=None, out_axis=None) -> np.ndarray:
    """Glorot & Bengio (2010)'s uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in +
    fan_out))``, as ``torch.nn.init.xavier_uniform_`` (fans: see ``fan_in_and_fan_out``).

    Raises ArgumentError for a ``shape`` that is not a tuple of non-negative ints
    (``2.5`` is refused, not truncated), a ``gain`` that is negative or not finite,
    an ``rng`` that is not a Generator, a non-negative int seed or None, a
    non-float ``dtype`` or a bad axis; ShapeError for fewer than 2 dimensions or
    fans that add up to 0.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> W = gc.nn.init.xavier_uniform((3, 5), rng=0, dtype="float32")
        >>> W.shape, W.dtype, bool(abs(W).max() <= np.sqrt(6 / 8))
        ((3, 5), dtype('float32'), True)
    """
    shape, fans = _fans("xavier_uniform", shape, in_axis, out_axis)
    return _draw("xavier_uniform", rng, "uniform", _xavier_scale("xavier_uniform", gain, fans, 6.0), shape, dtype)


def xavier_normal(shape, gain: float = 1.0, *, rng=None, dtype="float64", in_axis=None, out_axis=None) -> np.ndarray:
    """Glorot & Bengio (2010)'s normal: N(0, std²) with ``std = gain * sqrt(2 / (fan_in +
    fan_out))``, as ``torch.nn.init.xavier_normal_``.

    Raises ArgumentError for a ``shape`` that is not a tuple of non-negative ints
    (``2.5`` is refused, not truncated), a ``gain`` that is negative or not finite,
    an ``rng`` that is not a Generator, a non-negative int seed or None, a
    non-float ``dtype`` or a bad axis; ShapeError for fewer than 2 dimensions or
    fans that add up to 0.

    Example:
        >>> import graphcomp as gc
        >>> W = gc.nn.init.xavier_normal((400, 600), rng=0)
        >>> round(float(W.std()), 3)   # sqrt(2 / 1000)
        0.045
    """
    shape, fans = _fans("xavier_normal", shape, in_axis, out_axis)
    return _draw("xavier_normal", rng, "normal", _xavier_scale("xavier_normal", gain, fans, 2.0), shape, dtype)


def _kaiming_std(who, fans, a, mode, nonlinearity) -> float:
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"{who}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = _gain(who, nonlinearity, a, "a (the negative slope)")
    fan = fans[0] if mode == "fan_in" else fans[1]
    if fan == 0:
        raise ShapeError(f"{who}: a weight with {mode} 0 has no variance to scale")
    return gain / math.sqrt(fan)


def kaiming_uniform(
    shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
    rng=None, dtype="float64", in_axis=None, out_axis=None,
) -> np.ndarray:  # fmt: skip
    """He et al. (2015)'s uniform: U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)``,
    ``gain = calculate_gain(nonlinearity, a)`` and ``fan`` the fan-in or fan-out
    (``mode``), as ``torch.nn.init.kaiming_uniform_`` (same defaults: leaky_relu
    with slope ``a = 0``, i.e. relu's gain sqrt(2)).

    Raises ArgumentError for a ``shape`` that is not a tuple of non-negative ints,
    a slope ``a`` that is not a finite number, an unknown ``mode`` or
    ``nonlinearity``, a bad ``rng``, ``dtype`` or axis; ShapeError for fewer than 2
    dimensions or a fan of 0.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> W = gc.nn.init.kaiming_uniform((8, 1, 3, 3), rng=0)   # conv OIHW: fan_in 9
        >>> bool(abs(W).max() <= np.sqrt(6 / 9))
        True
    """
    shape, fans = _fans("kaiming_uniform", shape, in_axis, out_axis)
    std = _kaiming_std("kaiming_uniform", fans, a, mode, nonlinearity)
    return _draw("kaiming_uniform", rng, "uniform", math.sqrt(3.0) * std, shape, dtype)


def kaiming_normal(
    shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
    rng=None, dtype="float64", in_axis=None, out_axis=None,
) -> np.ndarray:  # fmt: skip
    """He et al. (2015)'s normal: N(0, std²) with ``std = gain / sqrt(fan)``, as
    ``torch.nn.init.kaiming_normal_`` (see ``kaiming_uniform``, and its errors).

    Example:
        >>> import graphcomp as gc
        >>> W = gc.nn.init.kaiming_normal((800, 300), rng=0)
        >>> round(float(W.std()), 3)   # sqrt(2 / 800)
        0.05
    """
    shape, fans = _fans("kaiming_normal", shape, in_axis, out_axis)
    std = _kaiming_std("kaiming_normal", fans, a, mode, nonlinearity)
    return _draw("kaiming_normal", rng, "normal", std, shape, dtype)


#: the same formulas under their other authors' names (Keras's glorot_normal and he_normal
#: draw from a truncated normal; these do not)
glorot_uniform, glorot_normal = xavier_uniform, xavier_normal
he_uniform, he_normal = kaiming_uniform, kaiming_normal
