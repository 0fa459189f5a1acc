"""Random numbers in a static graph (``gc.random``).

``rng = gc.random.Generator(seed)`` holds a state, ``rng.state``: a 0-d int64
Parameter counting the runs that have drawn from it. ``rng.normal(...)``,
``rng.uniform(...)`` and ``rng.bernoulli(...)`` build random nodes; every call
of a compiled function, and every ``gc.evaluate``, that computes one draws new
numbers and adds 1 to the state (``gc.compile`` adds that update to the
function's ``updates``). The numbers of a draw are a pure function of
(seed, which draw of this generator, the state): counter-based, as JAX's and
TensorFlow's stateless random ops, with NumPy's Philox (see
``graphcomp/ops/random.py``). Hence:

- the same seed reproduces the same sequence of calls; ``rng.state.set_value(k)``
  replays from call k; ``gc.save``/``gc.load`` keep the state with the graph;
- two draws in one call are independent, and a value and its gradient computed
  in one call see the same draw (compile the training step as one function:
  a loss and its gradient compiled apart draw twice);
- threads: a call holds the generator's lock from reading its state to writing
  it back, so concurrent calls drawing from one generator take turns, each with
  its own numbers (never two calls with the same draws), while calls drawing
  nothing are not held up. For draws in parallel, give each thread a Generator
  of its own (different seeds);
- inside ``with gc.random.frozen():`` runs leave the states as they were:
  every run draws the same numbers (finite differences, ``gc.check_grad``).

Gradients: no gradient flows into a draw (its op is not differentiable).
``normal`` is ``mean + std * z`` and ``uniform`` is ``low + (high - low) * u``,
built from graph ops, so gradients do flow into ``mean``, ``std``, ``low`` and
``high`` when they are Variables: the reparameterisation trick (Kingma &
Welling 2014), as ``torch.distributions.Normal.rsample`` (``torch.normal``
gives them none). ``bernoulli`` is a comparison: no gradient flows into ``p``.

Example:
    >>> import numpy as np, graphcomp as gc
    >>> rng = gc.random.Generator(0)
    >>> x = gc.Variable("x", (None, 3))
    >>> noisy = x + rng.normal_like(x, std=0.1)
    >>> f = gc.compile(noisy, [x])
    >>> a, b = f(np.zeros((2, 3))), f(np.zeros((2, 3)))
    >>> a.shape, bool((a != b).all()), int(rng.state.value)
    ((2, 3), True, 2)
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from graphcomp.core.node import Parameter, Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, fmt_shape
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import as_variable
from graphcomp.ops.random import RandomBernoulli, RandomNormal, RandomUniform, loop_steps
from graphcomp.runtime.state import frozen

__all__ = ["Generator", "frozen"]


def _seed(seed) -> int:
    if seed is None:  # fresh entropy, kept in rng.seed so that the run can be repeated
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"Generator: seed must be a non-negative int (or None for a fresh one), got {seed!r}")
    return int(seed)


def _shape(who: str, shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool) else shape
    try:
        dims = tuple(shape)
    except TypeError:
        raise ArgumentError(f"{who}: shape must be a tuple of ints, got {shape!r}") from None
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise ArgumentError(
            f"{who}: shape must be a tuple of non-negative ints, got {shape!r} (use {who}_like for a run-time shape)"
        )
    return tuple(int(d) for d in dims)


def _number(who: str, what: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{who}: {what} must be a number or a Variable, got {value!r}")
    if not math.isfinite(value):
        raise ArgumentError(f"{who}: {what} must be finite, got {value!r}")
    return float(value)


def _float_dtype(who: str, dtype, operands: list) -> np.dtype:
    """``dtype``, or by default the Variables' common float dtype (float64 with none)."""
    variables = [v for v in operands if isinstance(v, Variable)]
    for v in variables:
        if v.dtype.kind != "f":
            raise DTypeError(f"{who}: {v.label()} has dtype {v.dtype}; the parameters of a draw must be floats")
    if dtype is None:
        return np.result_type(*[v.dtype for v in variables]) if variables else np.dtype(np.float64)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ArgumentError(f"{who}: dtype must be a float dtype, got {dtype!r}") from None
    if dtype.kind != "f":
        raise DTypeError(f"{who}: dtype must be a float dtype (float16, float32, float64), got {dtype}")
    for v in variables:
        if v.dtype != dtype:
            raise DTypeError(
                f"{who}: {v.label()} has dtype {v.dtype} but the draw is {dtype}; cast it (gc.cast) or omit dtype"
            )
    return dtype


def _fits(who: str, what: str, v, shape) -> None:
    """Refuse a parameter that would broadcast the draw to a bigger shape (nothing is
    broadcast silently)."""
    if not isinstance(v, Variable):
        return
    try:
        joint = broadcast_shapes(shape, v.shape, op=who)
    except ShapeError:
        joint = None
    if joint is None or len(joint) != len(shape) or any(a is not None and a != b for a, b in zip(shape, joint)):
        raise ShapeError(
            f"{who}: {what} has shape {fmt_shape(v.shape)}, which does not broadcast to the draw's shape "
            f"{fmt_shape(shape)}"
        )


class Generator:
    """A seeded source of random nodes: its state, ``rng.state``, is a 0-d int64
    Parameter counting the runs that drew from it, which every compiled call and
    every ``gc.evaluate`` of a graph holding one of its draws advances by 1
    (module docstring: how the numbers are made, threads, gradients).

    ``seed`` is a non-negative int (NumPy's rule), or None for fresh entropy
    (``rng.seed`` then tells it). ``name`` names the state Parameter
    (``"<name>.state"``). Raises ArgumentError for a bad seed.

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(42)
        >>> z = rng.normal((2, 3), dtype="float32")
        >>> z.shape, z.dtype, rng.state.value.tolist()
        ((2, 3), dtype('float32'), 0)
        >>> first = gc.evaluate(z); second = gc.evaluate(z)
        >>> bool((first != second).all()), int(rng.state.value)
        (True, 2)
        >>> rng.state.set_value(0)   # replay from the first call
        >>> bool((gc.evaluate(z) == first).all())
        True
    """

    def __init__(self, seed: int | None = None, name: str = "rng"):
        if not isinstance(name, str):
            raise ArgumentError(f"Generator: name must be a str, got {name!r}")
        self.seed = _seed(seed)
        self.state = Parameter(np.int64(0), f"{name}.state")
        self._draws = itertools.count()  # next() is atomic in CPython: threads building graphs get distinct draws

    def __repr__(self) -> str:
        return f"Generator(seed={self.seed}, state={int(self.state.value)})"

    def _draw(self, op_class, shape, dtype, *inputs) -> Variable:
        # inside a loop body being traced, the draw also reads each enclosing loop's step
        # number: a new draw at every step (graphcomp/ops/random.py, "Draws inside loops")
        steps = loop_steps()
        op = op_class(self.seed, next(self._draws), shape, np.dtype(dtype), len(steps))
        return op(self.state, *steps, *inputs)

    # -- normal ---------------------------------------------------------------------------------
    @user_errors
    def normal(self, shape, mean=0.0, std=1.0, dtype=None) -> Variable:
        """Normal numbers N(mean, std²) of ``shape`` (a tuple of ints): ``mean + std * z``
        with ``z`` standard normal (``numpy.random.Generator.normal``'s formula).

        ``mean`` and ``std`` are numbers (``std >= 0``) or float Variables that
        broadcast to ``shape``; gradients flow into them (reparameterisation), not
        into ``z``. ``dtype`` (float16/32/64) defaults to the Variables' dtype,
        else float64; numbers take the draw's dtype. Raises ArgumentError for a
        bad shape or number, ShapeError when ``mean``/``std`` would broadcast the
        draw, DTypeError for a non-float dtype or a Variable of another dtype.

        Example:
            >>> import graphcomp as gc
            >>> rng = gc.random.Generator(0)
            >>> v = gc.evaluate(rng.normal((20000,), mean=3.0, std=2.0))
            >>> round(float(v.mean()), 1), round(float(v.std()), 1)
            (3.0, 2.0)
        """
        shape = _shape("normal", shape)
        return self._normal("normal", shape, mean, std, dtype)

    @user_errors
    def normal_like(self, x: Variable, mean=0.0, std=1.0, dtype=None) -> Variable:
        """``normal`` with ``x``'s run-time shape (unknown dimensions included); ``dtype``
        defaults to ``x``'s when it is a float. No gradient flows into ``x``.

        Example:
            >>> import numpy as np, graphcomp as gc
            >>> x = gc.Variable("x", (None, 4))
            >>> z = gc.random.Generator(0).normal_like(x)
            >>> z.shape, gc.evaluate(z, {x: np.ones((3, 4))}).shape
            ((None, 4), (3, 4))
        """
        x = _like("normal_like", x)
        dtype = _like_dtype(x, dtype, mean, std)
        return self._normal("normal_like", x, mean, std, dtype)

    def _normal(self, who: str, shape_or_x, mean, std, dtype) -> Variable:
        if not isinstance(mean, Variable):
            mean = _number(who, "mean", mean)
        if not isinstance(std, Variable):
            std = _number(who, "std", std)
            if std < 0:
                raise ArgumentError(f"{who}: std must be >= 0, got {std!r}")
        dtype = _float_dtype(who, dtype, [mean, std])
        like = isinstance(shape_or_x, Variable)
        shape = shape_or_x.shape if like else shape_or_x
        _fits(who, "mean", mean, shape)
        _fits(who, "std", std, shape)
        z = self._draw(RandomNormal, None if like else shape, dtype, *([shape_or_x] if like else []))
        if isinstance(std, Variable) or std != 1.0:
            z = z * std
        if isinstance(mean, Variable) or mean != 0.0:
            z = z + mean
        return z

    # -- uniform --------------------------------------------------------------------------------
    @user_errors
    def uniform(self, shape, low=0.0, high=1.0, dtype=None) -> Variable:
        """Uniform numbers on [low, high) of ``shape``: ``low + (high - low) * u`` with
        ``u`` uniform on [0, 1) (``numpy.random.Generator.uniform``'s formula).

        ``low``/``high`` are numbers (``low <= high``) or float Variables that
        broadcast to ``shape``; gradients flow into them (reparameterisation), not
        into ``u``. ``dtype`` as in ``normal``. Raises as ``normal`` does, and
        ArgumentError when ``low > high``.

        Example:
            >>> import graphcomp as gc
            >>> v = gc.evaluate(gc.random.Generator(0).uniform((1000,), -2.0, 2.0, dtype="float32"))
            >>> v.dtype, bool(v.min() >= -2.0 and v.max() < 2.0)
            (dtype('float32'), True)
        """
        shape = _shape("uniform", shape)
        return self._uniform("uniform", shape, low, high, dtype)

    @user_errors
    def uniform_like(self, x: Variable, low=0.0, high=1.0, dtype=None) -> Variable:
        """``uniform`` with ``x``'s run-time shape; ``dtype`` defaults to ``x``'s when
        it is a float. No gradient flows into ``x``.

        Example:
            >>> import numpy as np, graphcomp as gc
            >>> x = gc.Variable("x", (None,), "float32")
            >>> u = gc.random.Generator(0).uniform_like(x)
            >>> u.dtype, gc.evaluate(u, {x: np.zeros(5, "float32")}).shape
            (dtype('float32'), (5,))
        """
        x = _like("uniform_like", x)
        dtype = _like_dtype(x, dtype, low, high)
        return self._uniform("uniform_like", x, low, high, dtype)

    def _uniform(self, who: str, shape_or_x, low, high, dtype) -> Variable:
        if not isinstance(low, Variable):
            low = _number(who, "low", low)
        if not isinstance(high, Variable):
            high = _number(who, "high", high)
        if not isinstance(low, Variable) and not isinstance(high, Variable) and low > high:
            raise ArgumentError(f"{who}: low must be <= high, got low={low!r}, high={high!r}")
        dtype = _float_dtype(who, dtype, [low, high])
        like = isinstance(shape_or_x, Variable)
        shape = shape_or_x.shape if like else shape_or_x
        _fits(who, "low", low, shape)
        _fits(who, "high", high, shape)
        u = self._draw(RandomUniform, None if like else shape, dtype, *([shape_or_x] if like else []))
        numbers = not isinstance(low, Variable) and not isinstance(high, Variable)
        width = high - low  # a Python float when both are numbers: the same rounding as NumPy's
        if not numbers or width != 1.0:
            u = u * width
        if isinstance(low, Variable) or low != 0.0:
            u = u + low
        return u

    # -- bernoulli ------------------------------------------------------------------------------
    @user_errors
    def bernoulli(self, shape, p, dtype="float64") -> Variable:
        """1 with probability ``p``, else 0, of ``shape`` and ``dtype`` (any numeric or
        bool dtype; float64 by default, as ``torch.bernoulli`` keeps its input's float
        dtype): ``u < p`` for ``u`` uniform on [0, 1).

        ``p`` is a number in [0, 1] or a real Variable that broadcasts to ``shape``
        (its values are checked at run time). No gradient flows into ``p``.
        Raises ArgumentError for a bad shape or ``p``, ShapeError when ``p`` would
        broadcast the draw.

        Example:
            >>> import graphcomp as gc
            >>> m = gc.evaluate(gc.random.Generator(0).bernoulli((10000,), 0.3))
            >>> sorted(set(m.tolist())), round(float(m.mean()), 2)
            ([0.0, 1.0], 0.3)
        """
        shape = _shape("bernoulli", shape)
        return self._bernoulli("bernoulli", shape, p, dtype)

    @user_errors
    def bernoulli_like(self, x: Variable, p, dtype=None) -> Variable:
        """``bernoulli`` with ``x``'s run-time shape; ``dtype`` defaults to ``x``'s.
        No gradient flows into ``x``.

        Example:
            >>> import numpy as np, graphcomp as gc
            >>> x = gc.Variable("x", (None, 2), "float32")
            >>> m = gc.random.Generator(0).bernoulli_like(x, 0.5)
            >>> m.dtype, gc.evaluate(m, {x: np.zeros((3, 2), "float32")}).shape
            (dtype('float32'), (3, 2))
        """
        x = _like("bernoulli_like", x)
        return self._bernoulli("bernoulli_like", x, p, x.dtype if dtype is None else dtype)

    def _bernoulli(self, who: str, shape_or_x, p, dtype) -> Variable:
        if not isinstance(p, Variable):
            p = _number(who, "p", p)
            if not 0.0 <= p <= 1.0:
                raise ArgumentError(f"{who}: p must be in [0, 1], got {p!r}")
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ArgumentError(f"{who}: dtype must be a numeric or bool dtype, got {dtype!r}") from None
        if dtype.kind not in "biuf":
            raise DTypeError(f"{who}: dtype must be a numeric or bool dtype, got {dtype}")
        like = isinstance(shape_or_x, Variable)
        extra = [shape_or_x] if like else []
        return self._draw(RandomBernoulli, None if like else shape_or_x, dtype, as_variable(p), *extra)


def _like(who: str, x) -> Variable:
    if not isinstance(x, Variable):
        raise ArgumentError(f"{who}: x must be a Variable (its run-time shape is used), got {x!r}")
    return x


def _like_dtype(x: Variable, dtype, *operands):
    if dtype is not None or any(isinstance(v, Variable) for v in operands):
        return dtype
    return x.dtype if x.dtype.kind == "f" else None
