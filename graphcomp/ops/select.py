"""Elementwise selection: ``where``, ``maximum``, ``minimum`` and ``clip``, with
NumPy broadcasting. The gradient goes to the value selected.

Ties: ``maximum(x, y)`` and ``minimum(x, y)`` split the gradient evenly (half
each) where ``x == y``. ``clip(x, a_min, a_max)`` gives it all to ``x`` where
``a_min <= x <= a_max`` (both bounds inclusive, as PyTorch's ``clamp``), and to
the bound taken only where ``x`` is strictly outside, so along any direction
the gradients add up to the derivative (``clip(x+t, a_min+t, a_max+t)`` is
``clip(x, a_min, a_max) + t``: the three gradients sum to G everywhere).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.errors import DTypeError
from graphcomp.ops.base import Op, Operand, as_variable, operands, weak_constant
from graphcomp.ops.compare import Equal, Greater, Less, LessEqual
from graphcomp.ops.shape import sum_to

__all__ = ["where", "maximum", "minimum", "clip"]


def maximum_scalar(a: float, b: float) -> float:
    """max of two floats; a NaN on either side wins, as in ``np.maximum``.

    Example:
        >>> maximum_scalar(1.0, 2.0), maximum_scalar(float("nan"), 2.0)
        (2.0, nan)
    """
    return a if (a >= b or a != a) else b


def minimum_scalar(a: float, b: float) -> float:
    """min of two floats; a NaN on either side wins, as in ``np.minimum``.

    Example:
        >>> minimum_scalar(1.0, 2.0)
        1.0
    """
    return a if (a <= b or a != a) else b


@dataclasses.dataclass(frozen=True)
class Where(Op):
    """``np.where(cond, a, b)``. The gradient goes to the branch that was taken;
    the untaken branch gets zeros, but a NaN or Inf *inside* the untaken
    branch's own gradient still shows (0 * inf = nan), as in every autodiff system."""

    linear = (1, 2)
    name, elementwise = "where", True
    scalar_form = "({1} if {0} else {2})"
    numpy_helpers = {"_where": np.where}

    def infer(self, cond, a, b):
        shape = broadcast_shapes(cond.shape, a.shape, b.shape, op=self.name)
        return shape, result_dtype(np.where, np.dtype(bool), a.dtype, b.dtype)

    def forward(self, cond, a, b):
        return np.where(cond, a, b)

    def bprop(self, inputs, output, G):
        cond, a, b = inputs
        return [None, sum_to(where(cond, G, 0), a), sum_to(where(cond, 0, G), b)]

    def expression(self, v, args):
        return f"_where({', '.join(args)})"

    def sympy(self, sp, v, args):
        return sp.Piecewise((args[1], args[0]), (args[2], True))


@dataclasses.dataclass(frozen=True)
class Extremum(Op):
    """An elementwise max or min of two broadcasting inputs."""

    elementwise, slow_in_numpy = True, True  # NumPy's NaN-aware loop: worth a kernel alone
    #: the comparison saying where x is the one selected
    wins: ClassVar[type[Op]]

    def infer(self, x, y):
        return broadcast_shapes(x.shape, y.shape, op=self.name), result_dtype(type(self).fn, x.dtype, y.dtype)

    def forward(self, x, y):
        return type(self).fn(x, y)

    def bprop(self, inputs, output, G):
        x, y = inputs
        x_wins = self.wins()(x, y)
        tie = Equal()(x, y)
        half = G * 0.5
        gx = where(x_wins, G, where(tie, half, 0))
        gy = where(x_wins, 0, where(tie, half, G))
        return [sum_to(gx, x), sum_to(gy, y)]


class Maximum(Extremum):
    """Elementwise max; where x == y each side gets half the gradient."""

    name, fn, sympy_function, wins = "maximum", np.maximum, "Max", Greater
    scalar_form, scalar_helpers = "maximum_scalar({0}, {1})", {"maximum_scalar": maximum_scalar}


class Minimum(Extremum):
    """Elementwise min; where x == y each side gets half the gradient."""

    name, fn, sympy_function, wins = "minimum", np.minimum, "Min", Less
    scalar_form, scalar_helpers = "minimum_scalar({0}, {1})", {"minimum_scalar": minimum_scalar}


@dataclasses.dataclass(frozen=True)
class Clip(Op):
    """``np.clip(x, a_min, a_max)``, which is ``minimum(maximum(x, a_min), a_max)``: where
    ``a_min > a_max`` every element is ``a_max``. The gradient goes to ``x`` where
    ``a_min <= x <= a_max``, to ``a_min`` where ``x < a_min <= a_max``, and to ``a_max``
    where ``x > a_max`` or ``a_max < a_min``: exactly one of the three at each element
    (none where ``x`` is NaN), so at a tie the bound gets 0 and the sum stays right."""

    name, elementwise, slow_in_numpy = "clip", True, True  # NumPy's NaN-aware loop, as maximum's
    flops_per_element = 2
    scalar_form = "minimum_scalar(maximum_scalar({0}, {1}), {2})"
    scalar_helpers = {"maximum_scalar": maximum_scalar, "minimum_scalar": minimum_scalar}

    def infer(self, x, a_min, a_max):
        shape = broadcast_shapes(x.shape, a_min.shape, a_max.shape, op=self.name)
        return shape, result_dtype(np.clip, x.dtype, a_min.dtype, a_max.dtype)

    def forward(self, x, a_min, a_max):
        return np.clip(x, a_min, a_max)

    def bprop(self, inputs, output, G):
        x, a_min, a_max = inputs
        ordered = LessEqual()(a_min, a_max)
        inside = where(LessEqual()(a_min, x), where(LessEqual()(x, a_max), G, 0), 0)
        below = where(Less()(x, a_min), where(ordered, G, 0), 0)
        above = where(Greater()(x, a_max), G, where(ordered, 0, G))
        return [sum_to(inside, x), sum_to(below, a_min), sum_to(above, a_max)]

    def sympy(self, sp, v, args):
        return sp.Min(sp.Max(args[0], args[1]), args[2])


def _bound(value, x: Variable, which: str, extreme: str) -> Variable:
    """A clip bound as a Variable: a Python number takes x's dtype where NumPy would
    (weak), and None is the dtype's own extreme, which never changes x or its dtype."""
    if value is not None:
        return weak_constant(value, x, f"clip: {which}")
    kind = x.dtype.kind
    if kind == "f":
        return constant(-np.inf if extreme == "min" else np.inf, dtype=x.dtype)
    if kind in "iu":
        info = np.iinfo(x.dtype)
        return constant(info.min if extreme == "min" else info.max, dtype=x.dtype)
    if kind == "b":
        return constant(extreme != "min")
    raise DTypeError(f"clip: cannot clip {x.label()} of dtype {x.dtype} ({which} is None)")


@user_errors
def clip(x: Operand, a_min, a_max) -> Variable:
    """``np.clip``: each element of ``x`` limited to [``a_min``, ``a_max``] (``a_max`` wins
    where ``a_min > a_max``; NaN in any argument gives NaN), with broadcasting.

    ``a_min`` and ``a_max`` are numbers, arrays, Variables, or None (no bound on that side).
    Returns the broadcast shape of the three, in NumPy's dtype for them (Python numbers
    are weak: a float32 ``x`` clipped by 0.0 and 1.0 stays float32). Shapes that do not
    broadcast raise ``gc.ShapeError``.

    Gradient (PyTorch's ``clamp``): ``x`` gets G where ``a_min <= x <= a_max``, both bounds
    inclusive, and 0 outside; a bound gets G where it is the value taken with ``x``
    strictly beyond it (``a_max`` also wherever ``a_min > a_max``). At ``x == a_min`` the
    gradient goes to ``x`` and ``a_min`` gets 0, so the gradients of ``x`` and its bounds
    always sum to G, as moving all three together moves the output one for one.

    Example:
        >>> import graphcomp as gc
        >>> x, hi = gc.Variable("x", (4,)), gc.Variable("hi")
        >>> y = gc.clip(x, 0.0, hi)
        >>> gc.evaluate(y, {x: [-1.0, 0.0, 0.5, 3.0], hi: 1.0}).tolist()
        [0.0, 0.0, 0.5, 1.0]
        >>> dx, dhi = gc.grad(y.sum(), [x, hi])
        >>> gc.evaluate([dx, dhi], {x: [-1.0, 0.0, 0.5, 3.0], hi: 1.0})[0].tolist()
        [0.0, 1.0, 1.0, 0.0]
    """
    x = as_variable(x)
    return Clip()(x, _bound(a_min, x, "a_min", "min"), _bound(a_max, x, "a_max", "max"))


def where(cond: Operand, a: Operand, b: Operand) -> Variable:
    """``a`` where ``cond`` is true, else ``b`` (``np.where``), with broadcasting.

    The gradient flows only into the branch taken; a NaN or Inf inside the
    untaken branch's own gradient still shows, as in every autodiff system.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.constant([-1.0, 2.0])
        >>> gc.evaluate(gc.where(x > 0, x, 0.0), {}).tolist()
        [0.0, 2.0]
    """
    cond = as_variable(cond, "where")
    a, b = operands(a, b, "where")
    return Where()(cond, a, b)


def maximum(x: Operand, y: Operand) -> Variable:
    """Elementwise max (``np.maximum``, NaN wins); where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.maximum(gc.constant(1.0), 2.0), {}))
        2.0
    """
    return Maximum()(*operands(x, y, "maximum"))


def minimum(x: Operand, y: Operand) -> Variable:
    """Elementwise min (``np.minimum``, NaN wins); where x == y each side gets half the gradient.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.minimum(gc.constant(1.0), 2.0), {}))
        1.0
    """
    return Minimum()(*operands(x, y, "minimum"))
