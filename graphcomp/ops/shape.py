"""Shape ops: reshape, transpose, broadcast_to, sum_to, expand_dims, squeeze,
concatenate, stack, flip, pad, and the ``*_like`` forms used where a static shape has
unknown (``None``) dimensions and the runtime shape must come from a
reference Variable."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.node import constant as _constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import (
    as_shape,
    broadcast_shapes,
    fmt_shape,
    is_fully_known,
    normalize_axes,
    shapes_compatible,
)
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.arguments import int_tuple, number, number_as, operand_list
from graphcomp.ops.base import Op, Operand, as_variable, size_of_shape
from graphcomp.ops.indexing import GetItem, getitem, index_text, take_along

__all__ = ["transpose", "reshape", "broadcast_to", "expand_dims", "squeeze", "concatenate", "stack", "flip", "pad"]

# ----------------------------------------------------------------------------
# helpers used by every broadcasting bprop


def sum_to(G: Variable, x: Variable) -> Variable:
    """Sum ``G`` down to ``x``'s shape, undoing broadcasting in a bprop.

    Example:
        >>> import graphcomp as gc
        >>> G = gc.Variable("G", (4, 3)); b = gc.Variable("b", (3,))
        >>> sum_to(G, b).shape
        (3,)
    """
    if G.shape == x.shape and is_fully_known(x.shape):
        return G
    if is_fully_known(x.shape):
        return SumTo(x.shape)(G)
    return SumToLike()(G, x)


def broadcast_like(G: Variable, x: Variable) -> Variable:
    """Broadcast ``G`` up to ``x``'s shape (the bprop of a reduction).

    Example:
        >>> import graphcomp as gc
        >>> broadcast_like(gc.Variable("g", (1, 3)), gc.Variable("x", (4, 3))).shape
        (4, 3)
    """
    if G.shape == x.shape and is_fully_known(x.shape):
        return G
    if is_fully_known(x.shape):
        return BroadcastTo(x.shape)(G)
    return BroadcastLike()(G, x)


def reshape_like(G: Variable, x: Variable) -> Variable:
    """Reshape ``G`` to ``x``'s shape (the bprop of a reshape).

    Example:
        >>> import graphcomp as gc
        >>> reshape_like(gc.Variable("g", (6,)), gc.Variable("x", (2, 3))).shape
        (2, 3)
    """
    if G.shape == x.shape and is_fully_known(x.shape):
        return G
    if is_fully_known(x.shape):
        return Reshape(x.shape)(G)
    return ReshapeLike()(G, x)


def sum_to_axes(src: tuple, shape: tuple) -> tuple[tuple[int, ...], int]:
    """The axes to sum (keeping them) to take ``src`` down to ``shape``, and how many
    leading ones to drop after.

    Example:
        >>> sum_to_axes((5, 3, 4), (1, 4))
        ((0, 1), 1)
    """
    lead = len(src) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and src[lead + i] != 1), lead


def sum_to_array(g: np.ndarray, shape: tuple) -> np.ndarray:
    """``g`` summed down to ``shape`` (leading axes, then size-1 axes), as a bprop undoes
    broadcasting; ``g`` itself when nothing is to be summed.

    Example:
        >>> sum_to_array(np.ones((2, 3)), (1, 3)).tolist()
        [[2.0, 2.0, 2.0]]
    """
    g = np.asarray(g)
    axes, lead = sum_to_axes(g.shape, shape)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
        if lead:
            g = g.reshape(g.shape[lead:])
    return g


def check_sum_to(op: str, src: tuple, dst: tuple) -> None:
    """A ShapeError naming ``op`` unless a ``src`` array can be summed down to ``dst``.

    Example:
        >>> check_sum_to("sum_to", (4, 3), (3,))
        >>> check_sum_to("sum_to", (3,), (4, 3))
        Traceback (most recent call last):
        ...
        graphcomp.errors.ShapeError: sum_to: cannot sum shape (3,) down to (4, 3)
    """
    try:
        ok = len(dst) <= len(src) and shapes_compatible(broadcast_shapes(src, dst), src)
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: cannot sum shape {fmt_shape(src)} down to {fmt_shape(dst)}")


# ----------------------------------------------------------------------------
# ops


def identity_if_same_shape(self, sp, v, args):
    """The SymPy form of a reshape, broadcast or sum back that keeps its input's shape:
    the input itself (on an elementwise graph such ops are plumbing)."""
    x = v.owner.inputs[0]
    return args[0] if v.shape == x.shape or (len(v.shape) == 0 and len(x.shape) == 0) else None


@dataclasses.dataclass(frozen=True)
class Movement(Op):
    """An op that only moves or views data: no arithmetic, the cost model's 0. Its
    result may be a view of its first input (concatenate and stack copy)."""

    flops_per_element, view = 0, True


@dataclasses.dataclass(frozen=True)
class Reshape(Movement):
    """``x.reshape(shape)``; one entry may be -1, as in NumPy."""

    linear = "all"
    name = "reshape"
    shape: tuple

    sympy = identity_if_same_shape

    def infer(self, x):
        shape = self.shape
        if sum(1 for d in shape if d == -1) > 1:
            raise ShapeError(f"reshape: can only specify one unknown dimension, got {shape}")
        if any(d is None or d < -1 for d in shape):
            raise ShapeError(f"reshape: invalid target shape {shape}")
        known = math.prod(d for d in shape if d != -1)
        if not is_fully_known(x.shape):
            return tuple(None if d == -1 else d for d in shape), x.dtype
        size = math.prod(x.shape)
        if -1 in shape:
            if known == 0 or size % known:
                raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.shape)} into {fmt_shape(shape)}")
            return tuple(size // known if d == -1 else d for d in shape), x.dtype
        if known != size:
            raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.shape)} into {fmt_shape(shape)}")
        return shape, x.dtype

    def forward(self, x):
        return np.reshape(x, self.shape)

    def bprop(self, inputs, output, G):
        return [reshape_like(G, inputs[0])]

    def expression(self, v, args):
        return f"{args[0]}.reshape({self.shape!r})"


@dataclasses.dataclass(frozen=True)
class ReshapeLike(Movement):
    """Reshape the first input to the runtime shape of the second."""

    linear = (0,)
    helper = True
    name = "reshape_like"

    sympy = identity_if_same_shape

    def infer(self, x, ref):
        return ref.shape, x.dtype

    def forward(self, x, ref):
        return np.reshape(x, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [reshape_like(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class Transpose(Movement):
    """Permute axes; ``axes`` is a full permutation."""

    linear = "all"
    name = "transpose"
    axes: tuple

    def infer(self, x):
        if sorted(self.axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {self.axes} do not match an array of shape {fmt_shape(x.shape)}")
        return tuple(x.shape[a] for a in self.axes), x.dtype

    def forward(self, x):
        return np.transpose(x, self.axes)

    def bprop(self, inputs, output, G):
        return [Transpose(tuple(int(a) for a in np.argsort(self.axes)))(G)]

    def expression(self, v, args):
        return f"{args[0]}.transpose({self.axes!r})"


@dataclasses.dataclass(frozen=True)
class BroadcastTo(Movement):
    """``np.broadcast_to(x, shape)`` (a read-only view)."""

    linear = "all"
    name = "broadcast_to"
    shape: tuple

    sympy = identity_if_same_shape

    def infer(self, x):
        try:
            out = broadcast_shapes(x.shape, self.shape)
        except ShapeError:
            out = None
        if out is None or len(x.shape) > len(self.shape) or not shapes_compatible(out, self.shape):
            raise ShapeError(f"broadcast_to: cannot broadcast {fmt_shape(x.shape)} to {fmt_shape(self.shape)}")
        return self.shape, x.dtype

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def bprop(self, inputs, output, G):
        return [sum_to(G, inputs[0])]


@dataclasses.dataclass(frozen=True)
class BroadcastLike(Movement):
    """Broadcast the first input to the runtime shape of the second."""

    linear = (0,)
    helper = True
    name = "broadcast_like"

    sympy = identity_if_same_shape

    def infer(self, x, ref):
        broadcast_shapes(x.shape, ref.shape, op=self.name)
        return ref.shape, x.dtype

    def forward(self, x, ref):
        return np.broadcast_to(x, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [sum_to(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class SumBack(Op):
    """Summing a broadcast value back down: one addition per input element, and
    the identity in a SymPy form where nothing was broadcast."""

    numpy_helpers = {"_add_reduce": np.add.reduce}

    def flops(self, v, shape_of):
        return size_of_shape(shape_of(v.owner.inputs[0]))

    sympy = identity_if_same_shape


@dataclasses.dataclass(frozen=True)
class SumTo(SumBack):
    """Sum a broadcast value back down to ``shape`` (leading axes, then size-1 axes)."""

    linear = "all"
    helper = True
    name = "sum_to"
    shape: tuple

    def infer(self, g):
        check_sum_to(self.name, g.shape, self.shape)
        return self.shape, g.dtype

    def forward(self, g):
        return sum_to_array(g, self.shape)

    def bprop(self, inputs, output, G):
        return [broadcast_like(G, inputs[0])]

    def expression(self, v, args):
        src = v.owner.inputs[0]
        # np.sum upcasts small integers and bools; the raw ufunc reduction is the same only for floats
        if not is_fully_known(src.shape) or src.dtype.kind not in "fc":
            return None
        axes, lead = sum_to_axes(src.shape, self.shape)
        if not axes:
            return None
        if axes == tuple(range(lead)):  # only leading axes: dropping them is the reshape
            return f"_add_reduce({args[0]}, {axes!r}, None, None, False)"
        summed = f"_add_reduce({args[0]}, {axes!r}, None, None, True)"
        return f"{summed}.reshape({self.shape!r})" if lead else summed


@dataclasses.dataclass(frozen=True)
class SumToLike(SumBack):
    """Sum the first input down to the runtime shape of the second."""

    linear = (0,)
    helper = True
    name = "sum_to_like"

    def infer(self, g, ref):
        check_sum_to(self.name, g.shape, ref.shape)
        return ref.shape, g.dtype

    def forward(self, g, ref):
        return sum_to_array(g, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [broadcast_like(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class ExpandDims(Movement):
    """Insert size-1 axes at ``axes`` (positions in the output)."""

    linear = "all"
    name = "expand_dims"
    axes: tuple

    def infer(self, x):
        ndim = x.ndim + len(self.axes)
        axes = normalize_axes(self.axes, ndim, self.name)
        it = iter(x.shape)
        return tuple(1 if i in axes else next(it) for i in range(ndim)), x.dtype

    def forward(self, x):
        return np.expand_dims(x, self.axes)

    def bprop(self, inputs, output, G):
        return [Squeeze(self.axes)(G)]

    def expression(self, v, args):
        axes = normalize_axes(self.axes, v.ndim, self.name)
        template = tuple(("n",) if d in axes else ("s", None, None, None) for d in range(v.ndim))
        return f"{args[0]}[{index_text(template) or '()'}]"

    def sympy(self, sp, v, args):
        return args[0] if all(d == 1 for d in v.owner.inputs[0].shape) else None


@dataclasses.dataclass(frozen=True)
class Squeeze(Movement):
    """Remove the size-1 axes ``axes``."""

    linear = "all"
    name = "squeeze"
    axes: tuple

    def infer(self, x):
        axes = normalize_axes(self.axes, x.ndim, self.name)
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ShapeError(f"squeeze: axis {a} of shape {fmt_shape(x.shape)} does not have size 1")
        return tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype

    def forward(self, x):
        return np.squeeze(x, self.axes)

    def bprop(self, inputs, output, G):
        return [ExpandDims(self.axes)(G)]

    def sympy(self, sp, v, args):
        return args[0] if all(d == 1 for d in v.owner.inputs[0].shape) else None


def _check_same_rank(op: str, xs, axis: int | None, stacking: bool) -> None:
    ndim = xs[0].ndim
    for x in xs[1:]:
        if x.ndim != ndim:
            shapes = ", ".join(fmt_shape(v.shape) for v in xs)
            raise ShapeError(f"{op}: all inputs must have the same number of dimensions, got {shapes}")
        for i, (a, b) in enumerate(zip(xs[0].shape, x.shape)):
            if (stacking or i != axis) and a is not None and b is not None and a != b:
                shapes = ", ".join(fmt_shape(v.shape) for v in xs)
                raise ShapeError(f"{op}: shapes {shapes} differ in dimension {i}")


def _merge_dims(xs, i):
    known = [x.shape[i] for x in xs if x.shape[i] is not None]
    return known[0] if known else None


@dataclasses.dataclass(frozen=True)
class Concatenate(Movement):
    """``np.concatenate(xs, axis)``."""

    view = False  # a new array

    linear = "all"
    name = "concatenate"
    axis: int

    def infer(self, *xs):
        if not xs:
            raise ShapeError("concatenate: needs at least one input")
        if xs[0].ndim == 0:
            raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
        (axis,) = normalize_axes(self.axis, xs[0].ndim, self.name)
        _check_same_rank(self.name, xs, axis, stacking=False)
        sizes = [x.shape[axis] for x in xs]
        shape = [_merge_dims(xs, i) for i in range(xs[0].ndim)]
        shape[axis] = None if None in sizes else sum(sizes)
        return tuple(shape), np.result_type(*(x.dtype for x in xs))

    def forward(self, *xs):
        return np.concatenate(xs, axis=self.axis)

    def bprop(self, inputs, output, G):
        axis = self.axis % output.ndim
        sizes = [x.shape[axis] for x in inputs]
        if None not in sizes:
            # every offset is known: each piece is a basic slice of G (a view, one input),
            # not a split_part reading all n inputs' sizes (n**2 edges for n pieces)
            starts = np.cumsum([0] + sizes)
            full = (("s", None, None, None),) * axis
            return [GetItem(full + (("s", int(a), int(b), None),))(G) for a, b in zip(starts[:-1], starts[1:])]
        return _split_by_blocks(self.axis, G, list(inputs))


#: a split_part reads the sizes of at most this many pieces; more are split through blocks
_FAN = 16


def _split_by_blocks(axis: int, G, pieces: list) -> list:
    """G cut along ``axis`` at the run-time sizes of ``pieces``: split_part reads every
    piece's size, so n pieces at once would make n nodes of n inputs (n**2 edges, and
    as many names in the generated code). Pieces are grouped ``_FAN`` to a block
    (a block's size is that of its pieces concatenated), G is cut into blocks, and
    each block into its pieces: about n * _FAN edges per level, a few levels."""
    levels = [pieces]
    while len(levels[-1]) > _FAN:
        below = levels[-1]
        levels.append([_joined(axis, below[k : k + _FAN]) for k in range(0, len(below), _FAN)])
    parts = _cut(axis, G, levels[-1])
    for level in reversed(levels[:-1]):
        parts = [p for j, whole in enumerate(parts) for p in _cut(axis, whole, level[j * _FAN : (j + 1) * _FAN])]
    return parts


def _joined(axis: int, group: list):
    return group[0] if len(group) == 1 else Concatenate(axis)(*group)


def _cut(axis: int, whole, group: list) -> list:
    return [whole] if len(group) == 1 else [SplitPart(axis, k)(whole, *group) for k in range(len(group))]


@dataclasses.dataclass(frozen=True)
class SplitPart(Movement):
    """The ``k``-th piece of ``g`` cut along ``axis`` at the sizes of ``refs``
    (the bprop of concatenate)."""

    linear = "all"
    helper = True
    name = "split_part"
    axis: int
    k: int

    def infer(self, g, *refs):
        return refs[self.k].shape, g.dtype

    def forward(self, g, *refs):
        axis = self.axis % np.ndim(g)
        start = sum(np.shape(r)[axis] for r in refs[: self.k])
        index = [slice(None)] * np.ndim(g)
        index[axis] = slice(start, start + np.shape(refs[self.k])[axis])
        return g[tuple(index)]

    def bprop(self, inputs, output, G):
        refs = inputs[1:]
        zero = _constant(0, dtype=G.dtype)
        pieces = [G if i == self.k else BroadcastLike()(zero, r) for i, r in enumerate(refs)]
        return [Concatenate(self.axis)(*pieces)] + [None] * len(refs)


@dataclasses.dataclass(frozen=True)
class Stack(Movement):
    """``np.stack(xs, axis)``."""

    view = False  # a new array

    linear = "all"
    name = "stack"
    axis: int

    def infer(self, *xs):
        if not xs:
            raise ShapeError("stack: needs at least one input")
        (axis,) = normalize_axes(self.axis, xs[0].ndim + 1, self.name)
        _check_same_rank(self.name, xs, None, stacking=True)
        shape = [_merge_dims(xs, i) for i in range(xs[0].ndim)]
        shape.insert(axis, len(xs))
        return tuple(shape), np.result_type(*(x.dtype for x in xs))

    def forward(self, *xs):
        return np.stack(xs, axis=self.axis)

    def bprop(self, inputs, output, G):
        return [take_along(G, self.axis, k) for k in range(len(inputs))]


@dataclasses.dataclass(frozen=True)
class Flip(Movement):
    """``np.flip(x, axes)``: the elements in reverse order along ``axes`` (a view). Its
    gradient is G flipped the same way."""

    linear = "all"
    name = "flip"
    axes: tuple

    def infer(self, x):
        normalize_axes(self.axes, x.ndim, self.name)
        return x.shape, x.dtype

    def forward(self, x):
        return np.flip(x, self.axes)

    def bprop(self, inputs, output, G):
        return [Flip(self.axes)(G)]

    def sympy(self, sp, v, args):
        return args[0] if all(v.shape[a] == 1 for a in self.axes) else None  # nothing moves


@dataclasses.dataclass(frozen=True)
class Pad(Op):
    """``np.pad(x, widths, constant_values=c)``, NumPy's constant mode: ``widths`` holds one
    ``(before, after)`` pair per axis; ``c`` is a 0-d input of x's dtype. The gradient of x
    is G without the padding; c's, the sum of G over the padding."""

    linear = "all"
    name, flops_per_element = "pad", 0
    widths: tuple

    def infer(self, x, c):
        if len(self.widths) != x.ndim:
            raise ShapeError(
                f"pad: {len(self.widths)} (before, after) pairs for an array of shape {fmt_shape(x.shape)}"
            )
        if c.shape != ():
            raise ShapeError(f"pad: the constant value must be 0-d, got {c.label()} of shape {fmt_shape(c.shape)}")
        if c.dtype != x.dtype:
            raise DTypeError(f"pad: the constant value {c.label()} is {c.dtype}, the array {x.label()} is {x.dtype}")
        shape = tuple(None if d is None else d + b + a for d, (b, a) in zip(x.shape, self.widths))
        return shape, x.dtype

    def forward(self, x, c):
        return np.pad(x, self.widths, mode="constant", constant_values=c)

    def bprop(self, inputs, output, G):
        x, c = inputs
        padded = any(b or a for b, a in self.widths)
        gx = G[tuple(slice(b, -a if a else None) for b, a in self.widths)] if padded else G
        if c.is_constant:
            return [gx, None]
        # 1 on the padding, 0 on x's place: the sum of G over the padding, by one product
        mask = Pad(self.widths)(broadcast_like(_constant(0, dtype=x.dtype), x), _constant(1, dtype=x.dtype))
        return [gx, sum_to(G * mask, c)]


def pad_pairs(pad_width, ndim: int) -> tuple[tuple[int, int], ...]:
    """NumPy's forms of ``pad_width`` as one ``(before, after)`` pair per axis: an int n
    (n before and after every axis), one pair (the same for every axis), or one pair, or one
    int, per axis (``np.pad``'s ``_as_pairs``).

    Example:
        >>> pad_pairs(1, 2), pad_pairs((1, 2), 2), pad_pairs(((1, 2), (0, 3)), 2), pad_pairs([[1], [2]], 2)
        (((1, 1), (1, 1)), ((1, 2), (1, 2)), ((1, 2), (0, 3)), ((1, 1), (2, 2)))
    """
    try:
        widths = np.asarray(pad_width)
    except ValueError:  # ragged nesting
        widths = np.asarray(0.5)
    if widths.dtype.kind not in "iu" or widths.ndim > 2:
        raise ArgumentError(
            f"pad: pad_width must be an int, a (before, after) pair of ints, or one pair per axis; got {pad_width!r}"
        )
    if widths.size and widths.min() < 0:
        raise ArgumentError(f"pad: pad_width must not be negative, got {pad_width!r}")
    flat = [int(w) for w in widths.ravel()]
    if widths.size == 1:
        return ((flat[0], flat[0]),) * ndim
    if widths.size == 2 and widths.shape != (2, 1):
        return ((flat[0], flat[1]),) * ndim
    try:
        pairs = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ShapeError(
            f"pad: pad_width of shape {fmt_shape(widths.shape)} does not fit an array of {ndim} dimensions "
            f"(give one int, one (before, after) pair, or {ndim} pairs); got {pad_width!r}"
        ) from None
    return tuple((int(b), int(a)) for b, a in pairs)


# ----------------------------------------------------------------------------
# builders


@user_errors
def transpose(x: Operand, axes=None) -> Variable:
    """Permute axes; ``None`` reverses them, as ``np.transpose``.

    Example:
        >>> import graphcomp as gc
        >>> gc.transpose(gc.Variable("x", (2, 3, 4)), (1, 0, 2)).shape
        (3, 2, 4)
    """
    x = as_variable(x)
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:
        axes = int_tuple(axes, "transpose: axes")
        if len(axes) != x.ndim:
            raise ShapeError(f"transpose: axes {tuple(axes)} do not match an array of shape {fmt_shape(x.shape)}")
        perm = tuple(a % x.ndim if -x.ndim <= a < x.ndim else a for a in axes)
    return Transpose(perm)(x)


@user_errors
def reshape(x: Operand, shape) -> Variable:
    """Reshape to ``shape``; one entry may be -1.

    Example:
        >>> import graphcomp as gc
        >>> gc.reshape(gc.Variable("x", (2, 6)), (3, -1)).shape
        (3, 4)
    """
    return Reshape(int_tuple(shape, "reshape: shape"))(as_variable(x))


@user_errors
def broadcast_to(x: Operand, shape) -> Variable:
    """Broadcast ``x`` to ``shape``, as ``np.broadcast_to``.

    Example:
        >>> import graphcomp as gc
        >>> gc.broadcast_to(gc.Variable("x", (3,)), (2, 3)).shape
        (2, 3)
    """
    return BroadcastTo(as_shape(shape, "broadcast_to: shape"))(as_variable(x))


@user_errors
def expand_dims(x: Operand, axis) -> Variable:
    """Insert size-1 axes, as ``np.expand_dims``.

    Example:
        >>> import graphcomp as gc
        >>> gc.expand_dims(gc.Variable("x", (3,)), 0).shape
        (1, 3)
    """
    return ExpandDims(int_tuple(axis, "expand_dims: axis"))(as_variable(x))


@user_errors
def squeeze(x: Operand, axis=None) -> Variable:
    """Remove size-1 axes (``None``: every axis statically known to be 1).

    Example:
        >>> import graphcomp as gc
        >>> gc.squeeze(gc.Variable("x", (1, 3, 1))).shape
        (3,)
    """
    x = as_variable(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
    return Squeeze(axes)(x)


@user_errors
def concatenate(xs, axis: int = 0) -> Variable:
    """Join along an existing axis, as ``np.concatenate``.

    Example:
        >>> import graphcomp as gc
        >>> gc.concatenate([gc.Variable("a", (2, 3)), gc.Variable("b", (4, 3))]).shape
        (6, 3)
    """
    xs = [as_variable(x) for x in operand_list(xs, "concatenate")]
    return Concatenate(int_tuple(axis, "concatenate: axis")[0])(*xs)


@user_errors
def stack(xs, axis: int = 0) -> Variable:
    """Join along a new axis, as ``np.stack``.

    Example:
        >>> import graphcomp as gc
        >>> gc.stack([gc.Variable("a", (3,)), gc.Variable("b", (3,))], axis=1).shape
        (3, 2)
    """
    xs = [as_variable(x) for x in operand_list(xs, "stack")]
    return Stack(int_tuple(axis, "stack: axis")[0])(*xs)


@user_errors
def flip(x: Operand, axis=None) -> Variable:
    """The elements of ``x`` in reverse order along ``axis`` (an int, a tuple of ints, or
    None for every axis), as ``np.flip``; shape and dtype unchanged, unknown dimensions
    included. Its gradient is G flipped the same way. An axis out of range or repeated
    raises ``gc.ShapeError``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> gc.evaluate(gc.flip(x, 1), {x: [[1, 2, 3], [4, 5, 6]]}).tolist()
        [[3.0, 2.0, 1.0], [6.0, 5.0, 4.0]]
    """
    x = as_variable(x)
    return Flip(normalize_axes(axis, x.ndim, "flip"))(x)


_GATHER_MODES = ("edge", "reflect", "symmetric", "wrap")


@user_errors
def pad(x: Operand, pad_width, constant_values=0, *, mode: str = "constant") -> Variable:
    """``x`` with ``constant_values`` added around it, as ``np.pad(x, pad_width,
    mode="constant", constant_values=...)``.

    ``pad_width`` takes NumPy's forms: an int n (n before and after every axis), one
    ``(before, after)`` pair for every axis, or one pair (or one int) per axis; negative or
    non-integer widths raise ``gc.ArgumentError``, the wrong number of pairs
    ``gc.ShapeError``. Each dimension grows by its ``before + after`` (an unknown one stays
    unknown); the dtype is x's. ``constant_values`` is one number, which x's dtype must
    hold (an integer x padded with 0.5 or 2**70 raises, where NumPy would pad with 0 or
    overflow), or a 0-d Variable of x's dtype, whose gradient is the sum of G over the
    padding; NumPy's per-axis constant pairs are not supported. The gradient of x is G
    without the padding. A 0-d x is returned as it is, as NumPy does (it has no axis to pad).

    ``mode`` (keyword only) is NumPy's: ``"constant"`` (the default), or ``"edge"``,
    ``"reflect"``, ``"symmetric"`` and ``"wrap"``, which copy entries of x (NumPy's
    ``reflect_type="even"``): built as x indexed by ``np.pad(np.arange(n), ..., mode)``
    along each padded axis, so the gradient sums G over every copy of an entry. Those
    need the padded axes' lengths at build time (``gc.ShapeError`` for an unknown one,
    and for an empty one, as NumPy) and take no ``constant_values``; other modes
    (``"linear_ramp"``, ``"mean"``, ...) raise ``gc.ArgumentError``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 2))
        >>> y = gc.pad(x, ((0, 1), (1, 0)), constant_values=-1.0)
        >>> y.shape, gc.evaluate(y, {x: [[1.0, 2.0]]}).tolist()
        ((None, 3), [[-1.0, 1.0, 2.0], [-1.0, -1.0, -1.0]])
        >>> v = gc.Variable("v", (3,))
        >>> gc.evaluate(gc.pad(v, 2, mode="reflect"), {v: [1.0, 2.0, 3.0]}).tolist()
        [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    """
    x = as_variable(x)
    widths = pad_pairs(pad_width, x.ndim)
    if mode != "constant":
        if not isinstance(mode, str) or mode not in _GATHER_MODES:
            raise ArgumentError(
                f"pad: mode={mode!r} is not supported; graphcomp takes NumPy's modes 'constant', "
                + ", ".join(repr(m) for m in _GATHER_MODES)
            )
        if isinstance(constant_values, Variable) or constant_values != 0:
            raise ArgumentError(f"pad: mode={mode!r} takes no constant_values (NumPy refuses it too)")
        return _gather_pad(x, widths, mode)
    if isinstance(constant_values, Variable):
        c = constant_values
    else:
        value = number(constant_values, "pad: constant_values", bools=True)
        c = _constant(number_as(value, x.dtype, "pad: constant_values"))
    if x.ndim == 0:
        if not (c.shape == () and c.dtype == x.dtype):
            Pad(())(x, c)  # the same checks of the constant as for any x
        return x
    return Pad(widths)(x, c)


def _gather_pad(x: Variable, widths: tuple, mode: str) -> Variable:
    """NumPy's copying pad modes as one integer-array index per padded axis: the
    indices np.pad itself gives ``arange(n)`` padded the same way."""
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape)):
        if not (before or after):
            continue
        if n is None:
            raise ShapeError(f"pad: mode={mode!r} needs the length of axis {axis} at build time; it is unknown")
        if n == 0:
            raise ShapeError(f"pad: cannot extend the empty axis {axis} with mode={mode!r} (only 'constant'), as NumPy")
        index = np.pad(np.arange(n), (before, after), mode=mode)
        x = getitem(x, (slice(None),) * axis + (index,))
    return x
