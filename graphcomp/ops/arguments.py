"""Checking the plain arguments of public functions (ints, axes, lists of arrays),
so a wrong one is a graphcomp error naming the function and the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError

__all__ = ["int_tuple", "operand_list"]


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
