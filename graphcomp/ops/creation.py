"""Ops that make values from shapes: arrays of a given shape (``zeros``,
``ones``, ``full``, ``eye``, ``arange``, NumPy's), zeros and ones shaped like
another value, an element count, the row numbers of a batch, and the zero
gradient that stands for "no differentiable path"."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.node import constant as _constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_dtype, fmt_shape, is_fully_known, normalize_axes
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.ops.arguments import int_tuple, number, number_as
from graphcomp.ops.base import Op, Operand, as_variable
from graphcomp.ops.shape import BroadcastTo, sum_to

__all__ = ["constant", "zeros_like", "ones_like", "zeros", "ones", "full", "eye", "arange"]

constant = user_errors(_constant)


@dataclasses.dataclass(frozen=True)
class ZerosLike(Op):
    """Zeros of ``x``'s runtime shape and dtype."""

    linear = "all"
    name, flops_per_element = "zeros_like", 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.zeros_like(x)

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(0)


@dataclasses.dataclass(frozen=True)
class OnesLike(Op):
    """Ones of ``x``'s runtime shape and dtype."""

    name, flops_per_element = "ones_like", 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.ones_like(x)

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(1)


@dataclasses.dataclass(frozen=True)
class NoGradient(Op):
    """Zeros of ``shape`` and ``dtype`` standing for "no differentiable path": the
    gradient build_grad gives a target the cost does not depend on, or depends on
    only through a blocked path (``gc.grad(..., disconnected="zero")``)."""

    helper = True
    name, no_gradient, flops_per_element = "no_gradient", True, 0
    shape: tuple
    dtype: np.dtype

    def infer(self):
        return self.shape, self.dtype

    def forward(self):
        return np.broadcast_to(np.zeros((), self.dtype), self.shape)  # a view: no array is filled

    def sympy(self, sp, v, args):
        return sp.Integer(0)

    def label(self) -> str:
        return f"no_gradient[{self.shape}]"


@dataclasses.dataclass(frozen=True)
class NoGradientLike(Op):
    """``NoGradient`` shaped like ``x`` at run time (a target with unknown dimensions)."""

    helper = True
    name, no_gradient, flops_per_element = "no_gradient_like", True, 0

    def infer(self, x):
        return x.shape, x.dtype

    def forward(self, x):
        return np.broadcast_to(np.zeros((), np.result_type(x)), np.shape(x))

    def bprop(self, inputs, output, G):
        return [None]

    def sympy(self, sp, v, args):
        return sp.Integer(0)


@dataclasses.dataclass(frozen=True)
class SizeOf(Op):
    """The number of elements of ``x`` along ``axes``, as a 0-d ``dtype`` value
    (the divisor of a mean over unknown dimensions)."""

    helper = True
    name, foldable, flops_per_element = "size_of", False, 0  # it reads only a shape, known at run time
    axes: tuple
    dtype: np.dtype

    def infer(self, x):
        normalize_axes(self.axes, x.ndim, self.name)
        return (), self.dtype

    def forward(self, x):
        shape = np.shape(x)
        return np.asarray(math.prod(shape[a] for a in self.axes), dtype=self.dtype)

    def label(self) -> str:
        return f"size_of[axes={self.axes}]"


@dataclasses.dataclass(frozen=True)
class ArangeLike(Op):
    """``0, 1, ..., n - 1`` for n = the runtime size of ``x`` along ``axis`` (an index,
    not differentiable): the row numbers of a batch of unknown size."""

    helper = True
    name, differentiable, foldable, flops_per_element = "arange_like", False, False, 0
    axis: int = 0

    def infer(self, x):
        (axis,) = normalize_axes(self.axis, x.ndim, self.name)
        return (x.shape[axis],), np.dtype(np.int64)

    def forward(self, x):
        return np.arange(np.shape(x)[self.axis], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class Full(Op):
    """An array of ``shape`` filled with the 0-d input (``np.full``), in the input's dtype.
    The fill value's gradient is the sum of G."""

    name, flops_per_element, linear = "full", 0, "all"
    shape: tuple

    def infer(self, value):
        if value.shape != ():
            raise ShapeError(f"full: the fill value must be 0-d, got {value.label()} of shape {fmt_shape(value.shape)}")
        return self.shape, value.dtype

    def forward(self, value):
        return np.full(self.shape, value)

    def bprop(self, inputs, output, G):
        return [sum_to(G, inputs[0])]

    def sympy(self, sp, v, args):
        return args[0]  # every element is the fill value


@dataclasses.dataclass(frozen=True)
class Eye(Op):
    """``np.eye(n, m, k, dtype)``: ones on the ``k``-th diagonal of an n x m array, zeros elsewhere."""

    name, flops_per_element = "eye", 0
    n: int
    m: int
    k: int
    dtype: np.dtype

    def infer(self):
        return (self.n, self.m), self.dtype

    def forward(self):
        return np.eye(self.n, self.m, self.k, dtype=self.dtype)

    def label(self) -> str:
        return f"eye[{self.n}x{self.m}, k={self.k}, {self.dtype}]"


@dataclasses.dataclass(frozen=True)
class Arange(Op):
    """``np.arange(start, stop, step, dtype)``: its length ceil((stop - start) / step), as NumPy
    computes it, is known when the graph is built."""

    name, flops_per_element = "arange", 0
    start: int | float
    stop: int | float
    step: int | float
    dtype: np.dtype

    def infer(self):
        return (arange_length(self.start, self.stop, self.step),), self.dtype

    def forward(self):
        return np.arange(self.start, self.stop, self.step, dtype=self.dtype)

    def label(self) -> str:
        return f"arange[{self.start!r}, {self.stop!r}, {self.step!r}, {self.dtype}]"

    # -0.0 == 0.0, yet arange(-0.0, 2.0) starts with -0.0: merging compares the numbers as written
    def __eq__(self, other):
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return repr(self.start), repr(self.stop), repr(self.step), self.dtype


def arange_length(start, stop, step) -> int:
    """The length of ``np.arange(start, stop, step)``: ceil((stop - start) / step) computed
    as NumPy computes it (in the arguments' own arithmetic, then a float), at least 0.

    Example:
        >>> arange_length(0, 10, 3), arange_length(1.0, 2.0, 0.1), arange_length(5, 0, 1)
        (4, 10, 0)
    """
    length = math.ceil((stop - start) / step)
    return max(length, 0)


def _shape(shape, what: str) -> tuple[int, ...]:
    if shape is None or (isinstance(shape, (tuple, list)) and any(d is None for d in shape)):
        raise ShapeError(f"{what} must be ints, got {shape!r}; for a shape known only at run time, use zeros_like")
    dims = int_tuple(shape, what)
    if any(d < 0 for d in dims):
        raise ShapeError(f"{what} must be non-negative, got {shape!r}")
    return dims


def _fill(shape, value, dtype, fn: str) -> Variable:
    """``Full`` of ``value`` in ``dtype`` (None: ``value``'s own, as NumPy gives it), refusing
    a value the dtype would change (``full((2,), 2.5, "int64")``: NumPy makes it 2)."""
    shape = _shape(shape, f"{fn}: shape")
    number(value, f"{fn}: value", bools=True)
    # a NumPy scalar keeps its own dtype (np.full(2, np.float32(1)) is float32)
    array = np.asarray(value) if dtype is None else number_as(value, _dtype(dtype, fn), f"{fn}: value")
    if array.dtype == object:  # np.asarray(2**70): NumPy has no dtype for it
        raise ArgumentError(f"{fn}: value {value!r} is beyond every NumPy integer dtype (int64, uint64)")
    return Full(shape)(_constant(array))


def no_gradient(x: Variable) -> Variable:
    """The zero gradient of ``x`` that stands for "no differentiable path".

    Example:
        >>> import graphcomp as gc
        >>> g = no_gradient(gc.Variable("x", (2,)))
        >>> g.owner.op.no_gradient, gc.evaluate(g, {}).tolist()
        (True, [0.0, 0.0])
    """
    if is_fully_known(x.shape):
        return NoGradient(x.shape, x.dtype)()
    return NoGradientLike()(x)


@user_errors
def zeros_like(x: Operand) -> Variable:
    """Zeros of ``x``'s shape and dtype (a constant when the shape is known).

    Example:
        >>> import graphcomp as gc
        >>> gc.zeros_like(gc.Variable("x", (2,))).shape
        (2,)
    """
    x = as_variable(x)
    if is_fully_known(x.shape):
        return BroadcastTo(x.shape)(_constant(0, dtype=x.dtype)) if x.shape else _constant(0, dtype=x.dtype)
    return ZerosLike()(x)


@user_errors
def ones_like(x: Operand) -> Variable:
    """Ones of ``x``'s shape and dtype (a constant when the shape is known).

    Example:
        >>> import graphcomp as gc
        >>> gc.ones_like(gc.Variable("x", (None, 2))).shape
        (None, 2)
    """
    x = as_variable(x)
    if is_fully_known(x.shape):
        return BroadcastTo(x.shape)(_constant(1, dtype=x.dtype)) if x.shape else _constant(1, dtype=x.dtype)
    return OnesLike()(x)


@user_errors
def zeros(shape, dtype="float64") -> Variable:
    """An array of zeros of ``shape`` (an int or a tuple of ints) and ``dtype``, as ``np.zeros``:
    a node with a constant value (one ``full`` node, not an array stored in the graph;
    ``gc.compile`` folds a small one into a constant).

    A shape with unknown (None) or negative entries raises ``gc.ShapeError``; for zeros of a
    shape known only at run time, ``gc.zeros_like``.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.zeros((2, 3), "float32")
        >>> z.shape, z.dtype, gc.evaluate(z, {}).sum()
        ((2, 3), dtype('float32'), np.float32(0.0))
    """
    return _fill(shape, 0, dtype, "zeros")


@user_errors
def ones(shape, dtype="float64") -> Variable:
    """An array of ones of ``shape`` and ``dtype``, as ``np.ones`` (see ``zeros``).

    Example:
        >>> import graphcomp as gc
        >>> gc.evaluate(gc.ones(3, "int64"), {}).tolist()
        [1, 1, 1]
    """
    return _fill(shape, 1, dtype, "ones")


@user_errors
def full(shape, value, dtype=None) -> Variable:
    """An array of ``shape`` filled with the number ``value``, as ``np.full``: its dtype is
    ``dtype``, or NumPy's for ``value`` (an int gives int64, a float float64, a bool bool).

    ``value`` must be a number (a Variable or an array raises ``gc.ArgumentError``: fill
    with a Variable by ``gc.broadcast_to``), and ``dtype`` must hold it exactly
    (``full(2, 2.5, "int64")``, which NumPy makes 2, raises).

    Example:
        >>> import graphcomp as gc
        >>> f = gc.full((2,), 7)
        >>> f.dtype, gc.evaluate(f, {}).tolist(), gc.full((2,), 7, "float32").dtype
        (dtype('int64'), [7, 7], dtype('float32'))
    """
    return _fill(shape, value, dtype, "full")


@user_errors
def eye(n: int, m: int | None = None, dtype="float64", *, k: int = 0) -> Variable:
    """The n x m array with ones on its ``k``-th diagonal (0: the main one, positive: above)
    and zeros elsewhere, as ``np.eye``; ``m`` defaults to ``n``.

    Negative sizes raise ``gc.ShapeError``; sizes that are not ints, ``gc.ArgumentError``.

    Example:
        >>> import graphcomp as gc
        >>> gc.evaluate(gc.eye(2, 3, k=1), {}).tolist()
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    (n,) = _shape(_integer(n, "eye: n"), "eye: n")
    (m,) = (n,) if m is None else _shape(_integer(m, "eye: m"), "eye: m")
    return Eye(n, m, _integer(k, "eye: k"), _dtype(dtype, "eye"))()


@user_errors
def arange(start, stop=None, step=1, dtype=None) -> Variable:
    """Evenly spaced values in [start, stop), ``step`` apart, as ``np.arange``; ``arange(n)``
    counts 0 ... n-1. The dtype is ``dtype``, or NumPy's for the arguments (all ints give
    int64, a float among them float64); its length ceil((stop - start) / step) is known
    when the graph is built. NumPy scalars are taken as Python numbers.

    Arguments that are not real numbers (a Variable included: this builds a constant; for
    the indices of a run-time length, index a Variable) raise ``gc.ArgumentError``, as
    does a zero or non-finite step.

    Example:
        >>> import graphcomp as gc
        >>> a, b = gc.arange(4), gc.arange(0.0, 1.0, 0.25)
        >>> a.dtype, gc.evaluate(a, {}).tolist(), b.shape, gc.evaluate(b, {}).tolist()
        (dtype('int64'), [0, 1, 2, 3], (4,), [0.0, 0.25, 0.5, 0.75])
    """
    if stop is None:
        start, stop = 0, start
    start, stop, step = (number(v, f"arange: {w}") for v, w in ((start, "start"), (stop, "stop"), (step, "step")))
    if step == 0 or not all(math.isfinite(v) for v in (start, stop, step)):
        raise ArgumentError(
            f"arange: start, stop and step must be finite and step nonzero, got {start}, {stop}, {step}"
        )
    for v, w in ((start, "start"), (stop, "stop"), (step, "step")):
        if isinstance(v, int) and not -(2**63) <= v < 2**63:
            raise ArgumentError(f"arange: {w} {v} is beyond int64, NumPy's integer for arange")
    if arange_length(start, stop, step) > np.iinfo(np.intp).max:
        raise ArgumentError(f"arange: {arange_length(start, stop, step)} entries are more than an array can hold")
    if dtype is None:  # NumPy's rule for these argument types, read from an empty arange of the same types
        dtype = np.arange(start * 0, stop * 0, step).dtype
    return Arange(start, stop, step, _dtype(dtype, "arange"))()


def _integer(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{what} must be an int, got {value!r}")
    return int(value)


def _dtype(dtype, fn: str) -> np.dtype:
    try:
        return as_dtype(dtype)
    except ArgumentError:
        raise ArgumentError(f"{fn}: dtype must be a NumPy dtype, got {dtype!r}") from None
