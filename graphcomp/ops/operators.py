"""Variable's NumPy-like operators and methods, installed by the op library.

Core's ``Variable`` knows nothing about ops; this module gives it ``+ - * / **
@``, unary ``-``, ``abs``, the comparisons, indexing, ``.T`` and the methods of
``numpy.ndarray`` for the ops that exist: ``sum mean max min prod var std argmax
argmin cumsum clip round dot reshape flatten ravel squeeze swapaxes transpose
astype``, each delegating to the public function of the same meaning, with
NumPy's method signature where the two differ (``x.clip(min, max)``,
``x.var(axis, ddof=1)``), as ``jax.numpy`` installs its array methods on JAX's
tracers. ``==`` and ``!=`` stay identity comparisons: Variables key dicts such
as grad_table.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.errors import ArgumentError
from graphcomp.ops import binary, compare, cumulative, elementwise, identity, indexing, linalg, reduce, select, shape

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


def _prod(self, axis=None, keepdims: bool = False) -> Variable:
    """Product over ``axis``; see ``gc.prod``."""
    return reduce.prod(self, axis=axis, keepdims=keepdims)


def _var(self, axis=None, *, ddof=0, keepdims: bool = False) -> Variable:
    """Variance over ``axis`` with NumPy's ``ddof``; see ``gc.var``."""
    return reduce.var(self, axis=axis, ddof=ddof, keepdims=keepdims)


def _std(self, axis=None, *, ddof=0, keepdims: bool = False) -> Variable:
    """Standard deviation over ``axis`` with NumPy's ``ddof``; see ``gc.std``."""
    return reduce.std(self, axis=axis, ddof=ddof, keepdims=keepdims)


def _argmax(self, axis=None, *, keepdims: bool = False) -> Variable:
    """Index of the largest entry along ``axis``; see ``gc.argmax``."""
    return reduce.argmax(self, axis=axis, keepdims=keepdims)


def _argmin(self, axis=None, *, keepdims: bool = False) -> Variable:
    """Index of the smallest entry along ``axis``; see ``gc.argmin``."""
    return reduce.argmin(self, axis=axis, keepdims=keepdims)


def _cumsum(self, axis=None) -> Variable:
    """Cumulative sum along ``axis`` (``None``: flattened); see ``gc.cumsum``."""
    return cumulative.cumsum(self, axis=axis)


def _clip(self, min=None, max=None) -> Variable:  # noqa: A002 - ndarray.clip's names
    """Limit to [``min``, ``max``], as ``ndarray.clip(min, max)``; see ``gc.clip``."""
    return select.clip(self, min, max)


@user_errors
def _round(self, decimals=0) -> Variable:
    """The nearest integer, halves to the even one, as ``ndarray.round()``; see ``gc.round``.
    Only ``decimals=0`` is offered (an ArgumentError otherwise)."""
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, (int, np.integer)) or decimals != 0:
        raise ArgumentError(f"round: decimals must be 0 (rounding to other decimals is not offered), got {decimals!r}")
    return elementwise.round(self)


def _dot(self, b) -> Variable:
    """``np.dot(self, b)``; see ``gc.dot``."""
    return linalg.dot(self, b)


def _flatten(self) -> Variable:
    """The entries as a 1-D Variable in row-major order, as ``ndarray.flatten()``
    (a graph never shares memory with its input's value, so ``ravel`` is the same)."""
    return shape.reshape(self, (-1,))


def _squeeze(self, axis=None) -> Variable:
    """Remove size-1 axes; see ``gc.squeeze``."""
    return shape.squeeze(self, axis=axis)


@user_errors
def _swapaxes(self, axis1, axis2) -> Variable:
    """Exchange two axes, as ``ndarray.swapaxes``: a transpose."""
    perm = list(range(self.ndim))
    for what, a in (("axis1", axis1), ("axis2", axis2)):
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) or not -self.ndim <= a < self.ndim:
            raise ArgumentError(f"swapaxes: {what} must be an axis of a {self.ndim}-d array, got {a!r}")
    i, j = int(axis1) % self.ndim, int(axis2) % self.ndim
    perm[i], perm[j] = perm[j], perm[i]
    return shape.transpose(self, tuple(perm))


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
    "prod": _prod,
    "var": _var,
    "std": _std,
    "argmax": _argmax,
    "argmin": _argmin,
    "cumsum": _cumsum,
    "clip": _clip,
    "round": _round,
    "dot": _dot,
    "reshape": _reshape,
    "flatten": _flatten,
    "ravel": _flatten,
    "squeeze": _squeeze,
    "swapaxes": _swapaxes,
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
