"""Static shapes and dtypes: broadcasting with unknown (``None``) dimensions,
NumPy dtype promotion, axis normalisation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from graphcomp.errors import ArgumentError, ShapeError

Shape = tuple  # a tuple of int | None

__all__ = [
    "Shape",
    "as_bool",
    "single_axis",
    "as_shape",
    "as_dtype",
    "broadcast_shapes",
    "shapes_compatible",
    "is_fully_known",
    "normalize_axes",
    "reduced_shape",
    "is_differentiable_dtype",
    "fmt_shape",
]


def fmt_shape(shape: Shape) -> str:
    """Format a shape as a Python tuple, ``None`` for unknown dims.

    Example:
        >>> fmt_shape((None, 3))
        '(None, 3)'
    """
    return repr(tuple(shape))


def as_shape(shape: int | Iterable[int | None] | None, what: str = "shape") -> Shape:
    """Normalise a user-given shape to a tuple of ``int | None``; ``what`` names the
    argument in the error (``"broadcast_to: shape"``).

    Example:
        >>> as_shape(3), as_shape([None, 2])
        ((3,), (None, 2))
    """
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes, dict)) or not isinstance(shape, Iterable):
        raise ArgumentError(f"{what} must be a tuple of non-negative ints or None, got {shape!r}")
    out = []
    for d in shape:
        if d is None:
            out.append(None)
        elif isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
            out.append(int(d))
        else:
            raise ShapeError(f"{what} entries must be non-negative ints or None, got {shape!r}")
    return tuple(out)


def as_dtype(dtype, what: str = "dtype") -> np.dtype:
    """Normalise a dtype spec (``"float64"``, ``np.float32``, ...) to ``np.dtype``;
    ``what`` names the argument in the error (``"cast: dtype"``).

    Example:
        >>> as_dtype("float32")
        dtype('float32')
    """
    try:
        return np.dtype(dtype)
    except TypeError as e:
        raise ArgumentError(f"{what}: not a dtype: {dtype!r}") from e


def as_bool(value, what: str) -> bool:
    """A flag argument (``keepdims``) as a bool: True or False (NumPy's bool too), else an
    ArgumentError naming ``what`` (a string or a number is not silently taken as a flag).

    Example:
        >>> as_bool(np.True_, "sum: keepdims")
        True
        >>> as_bool("yes", "sum: keepdims")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: sum: keepdims must be True or False, got 'yes'
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(f"{what} must be True or False, got {value!r}")


def is_fully_known(shape: Shape) -> bool:
    """True when no dimension of ``shape`` is ``None``.

    Example:
        >>> is_fully_known((2, 3)), is_fully_known((None, 3))
        (True, False)
    """
    return None not in shape


def is_differentiable_dtype(dtype: np.dtype) -> bool:
    """Gradients flow only through floating and complex values.

    Example:
        >>> is_differentiable_dtype(np.dtype("int64"))
        False
    """
    return dtype.kind in "fc"


def _broadcast_dim(a: int | None, b: int | None) -> int | None:
    if a == 1:
        return b
    if b == 1:
        return a
    if a is None:
        return b  # an unknown dim either equals b or is 1 and broadcasts to b
    if b is None:
        return a
    if a == b:
        return a
    raise ValueError


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """NumPy broadcasting of static shapes; ``None`` is an unknown size.

    Example:
        >>> broadcast_shapes((None, 1), (3,))
        (None, 3)
    """
    if len(shapes) == 2:  # the common case, kept fast: graphs are built node by node
        a, b = shapes
        if a == b and None not in a:
            return a
        if not a:
            return b
        if not b:
            return a
    ndim = max((len(s) for s in shapes), default=0)
    result: list[int | None] = [1] * ndim
    for s in shapes:
        padded = (1,) * (ndim - len(s)) + tuple(s)
        for i, d in enumerate(padded):
            try:
                result[i] = _broadcast_dim(result[i], d)
            except ValueError:
                listed = " and ".join(fmt_shape(x) for x in shapes)
                raise ShapeError(f"{op}: shapes {listed} cannot be broadcast together") from None
    return tuple(result)


def shapes_compatible(a: Shape, b: Shape) -> bool:
    """True when two static shapes may describe the same runtime shape.

    Example:
        >>> shapes_compatible((None, 3), (2, 3)), shapes_compatible((2,), (3,))
        (True, False)
    """
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Turn an ``axis`` argument into a sorted tuple of non-negative axes.

    ``None`` means every axis. Out-of-range or repeated axes raise ShapeError.

    Example:
        >>> normalize_axes(-1, 3, "sum"), normalize_axes(None, 2, "sum")
        ((2,), (0, 1))
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise ArgumentError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise ArgumentError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def single_axis(axis, ndim: int, op: str) -> int:
    """One ``axis`` argument as a non-negative int (softmax's): a tuple is an error.

    Example:
        >>> single_axis(-1, 3, "softmax")
        2
    """
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ArgumentError(f"{op}: axis must be one int, got {axis!r}")
    (a,) = normalize_axes(axis, ndim, op)
    return a


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool) -> Shape:
    """The shape after reducing ``axes`` of ``shape``.

    Example:
        >>> reduced_shape((2, 3, 4), (1,), False), reduced_shape((2, 3), (1,), True)
        ((2, 4), (2, 1))
    """
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


@lru_cache(maxsize=4096)
def _result_dtype_cached(fn, dtypes: tuple[np.dtype, ...]) -> np.dtype:
    args = [np.ones(1, dtype=d) for d in dtypes]
    with np.errstate(all="ignore"):
        return np.asarray(fn(*args)).dtype


def result_dtype(fn, *dtypes: np.dtype) -> np.dtype:
    """The dtype NumPy gives ``fn(*arrays)`` for arrays of ``dtypes``.

    Found by running ``fn`` once on one-element arrays and cached, so every
    elementwise op follows NumPy's promotion exactly, quirks included.

    Example:
        >>> result_dtype(np.exp, np.dtype("int64"))
        dtype('float64')
    """
    return _result_dtype_cached(fn, dtypes)
