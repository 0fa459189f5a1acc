"""Variable's NumPy-like operators and methods, installed by the op library.

Core's ``Variable`` knows nothing about ops; this module gives it ``+ - * / **
@``, unary ``-``, ``abs``, the comparisons, indexing, ``.T`` and the methods
``sum mean max min reshape transpose astype``, each delegating to the public
function of the same meaning (as ``jax.numpy`` installs its array methods on
JAX's tracers). ``==`` and ``!=`` stay identity comparisons: Variables key
dicts such as grad_table.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.ops import binary, compare, elementwise, identity, indexing, linalg, reduce, shape

__all__ = ["install"]


def _sum(self, axis=None, keepdims: bool = False) -> Variable:
    """Sum over ``axis``; see ``gc.sum``."""
    return reduce.sum(self, axis=axis, keepdims=keepdims)


def _mean(self, axis=None, keepdims: bool = False) -> Variable:
    """Mean over ``axis``; see ``gc.mean``."""
    return reduce.mean(self, axis=axis, keepdims=keepdims)


def _max(self, axis=None, keepdims: bool = False) -> Variable:
    """Maximum over ``axis``; see ``gc.max``."""
    return reduce.max(self, axis=axis, keepdims=keepdims)


def _min(self, axis=None, keepdims: bool = False) -> Variable:
    """Minimum over ``axis``; see ``gc.min``."""
    return reduce.min(self, axis=axis, keepdims=keepdims)


def _reshape(self, *new_shape) -> Variable:
    """Reshape; ``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` both work."""
    if len(new_shape) == 1 and not isinstance(new_shape[0], (int, np.integer)):
        new_shape = new_shape[0]
    return shape.reshape(self, new_shape)


def _transpose(self, *axes) -> Variable:
    """Permute axes; ``x.transpose()`` reverses them, as NumPy."""
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    return shape.transpose(self, axes if axes != () else None)


def _astype(self, dtype) -> Variable:
    """Cast to ``dtype``; gradients flow only between float dtypes."""
    return identity.cast(self, dtype)


def _T(self) -> Variable:
    """The transpose (axes reversed), as ``numpy.ndarray.T``."""
    return shape.transpose(self)


def _swapped(fn):
    def reflected(self, other):
        return fn(other, self)

    return reflected


def _pos(self) -> Variable:
    return self


METHODS = {
    "__add__": binary.add,
    "__radd__": _swapped(binary.add),
    "__sub__": binary.subtract,
    "__rsub__": _swapped(binary.subtract),
    "__mul__": binary.multiply,
    "__rmul__": _swapped(binary.multiply),
    "__truediv__": binary.divide,
    "__rtruediv__": _swapped(binary.divide),
    "__pow__": binary.power,
    "__rpow__": _swapped(binary.power),
    "__matmul__": linalg.matmul,
    "__rmatmul__": _swapped(linalg.matmul),
    "__neg__": elementwise.negative,
    "__pos__": _pos,
    "__abs__": elementwise.abs,
    "__lt__": compare.less,
    "__le__": compare.less_equal,
    "__gt__": compare.greater,
    "__ge__": compare.greater_equal,
    "__getitem__": indexing.getitem,
    "sum": _sum,
    "mean": _mean,
    "max": _max,
    "min": _min,
    "reshape": _reshape,
    "transpose": _transpose,
    "astype": _astype,
    "T": property(_T),
}


def install() -> None:
    """Give ``Variable`` its operators and methods (done once, when graphcomp.ops is imported).

    Example:
        >>> import graphcomp as gc
        >>> (gc.Variable("x", (2, 3)).T + 1.0).shape
        (3, 2)
    """
    for name, fn in METHODS.items():
        setattr(Variable, name, fn)
