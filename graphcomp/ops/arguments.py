"""Checking the plain arguments of public functions (ints, axes, lists of arrays),
so a wrong one is a graphcomp error naming the function and the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError

__all__ = ["int_tuple", "operand_list", "number", "number_as"]


def int_tuple(value, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple, or an ArgumentError naming ``what``.

    Example:
        >>> int_tuple(3, "reshape: shape"), int_tuple([2, -1], "reshape: shape")
        ((3,), (2, -1))
        >>> int_tuple(1.5, "stack: axis")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: stack: axis must be an int or a sequence of ints, got 1.5
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise ArgumentError(f"{what} must be an int or a sequence of ints, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ArgumentError(f"{what} must be an int or a sequence of ints, got {value!r}")
        out.append(int(v))
    return tuple(out)


def operand_list(xs, what: str) -> list:
    """A list or tuple of operands as a list, or an ArgumentError naming ``what``.

    Example:
        >>> len(operand_list([1.0, 2.0], "stack"))
        2
    """
    if isinstance(xs, (Variable, str, bytes)) or not isinstance(xs, Sequence | np.ndarray):
        raise ArgumentError(f"{what}: expects a list of arrays, got {type(xs).__name__}")
    return list(xs)


def number(value, what: str, bools: bool = False):
    """A number argument (a NumPy scalar becomes a Python one), or an ArgumentError naming
    ``what``; a Variable is refused with a pointer to the functions that take Variables.

    Example:
        >>> number(np.float32(0.5), "arange: step"), number(True, "full: value", bools=True)
        (0.5, True)
        >>> number([1, 2], "pad: constant_values")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: pad: constant_values must be a real number, got [1, 2]
    """
    if isinstance(value, Variable):
        raise ArgumentError(
            f"{what} must be a number, got the Variable {value.label()}; this builds a constant "
            "(gc.broadcast_to, gc.zeros_like and gc.ones_like take Variables)"
        )
    is_bool = isinstance(value, (bool, np.bool_))
    if (is_bool and not bools) or not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        kind = "a real number or a bool" if bools else "a real number"
        raise ArgumentError(f"{what} must be {kind}, got {value!r}")
    return value.item() if isinstance(value, np.generic) else value


def number_as(value, dtype: np.dtype, what: str) -> np.ndarray:
    """``value`` as a 0-d array of ``dtype``, or an ArgumentError where the dtype would
    change it beyond rounding: an integer or bool dtype must hold it exactly, a float
    dtype must keep it finite (NumPy would make 2.5 into 2, and 300 into 44 as uint8).

    Example:
        >>> number_as(0.1, np.dtype("float32"), "full: value").dtype
        dtype('float32')
        >>> number_as(2.5, np.dtype("int64"), "full: value")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: full: value 2.5 does not fit dtype int64 (it would become 2)
        >>> number_as(2**70, np.dtype("int64"), "pad: constant_values")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: pad: constant_values 1180591620717411303424 does not fit dtype int64
    """
    source = np.asarray(value)
    with np.errstate(all="ignore"):
        try:
            cast = source.astype(dtype)
        except (OverflowError, TypeError):  # a Python int beyond every NumPy integer (2**70)
            raise ArgumentError(f"{what} {value!r} does not fit dtype {dtype}") from None
        if dtype.kind in "fc":
            fits = bool(np.isfinite(cast)) or not bool(np.isfinite(source))
        else:
            fits = bool(cast == source)
    if not fits:
        raise ArgumentError(f"{what} {value!r} does not fit dtype {dtype} (it would become {cast})")
    return cast
