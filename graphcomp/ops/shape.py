"""Shape ops: reshape, transpose, broadcast_to, sum_to, expand_dims, squeeze,
concatenate, stack, and the ``*_like`` forms used where a static shape has
unknown (``None``) dimensions and the runtime shape must come from a
reference Variable."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import (
    broadcast_shapes,
    fmt_shape,
    is_fully_known,
    normalize_axes,
    shapes_compatible,
)
from graphcomp.errors import ShapeError
from graphcomp.ops.base import Op

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


def _sum_to_array(g: np.ndarray, shape: tuple) -> np.ndarray:
    g = np.asarray(g)
    axes, lead = sum_to_axes(g.shape, shape)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
        if lead:
            g = g.reshape(g.shape[lead:])
    return g


def _check_sum_to(op: str, src: tuple, dst: tuple) -> None:
    try:
        ok = len(dst) <= len(src) and shapes_compatible(broadcast_shapes(src, dst), src)
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: cannot sum shape {fmt_shape(src)} down to {fmt_shape(dst)}")


# ----------------------------------------------------------------------------
# ops


@dataclasses.dataclass(frozen=True)
class Reshape(Op):
    """``x.reshape(shape)``; one entry may be -1, as in NumPy."""

    name = "reshape"
    shape: tuple

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


@dataclasses.dataclass(frozen=True)
class ReshapeLike(Op):
    """Reshape the first input to the runtime shape of the second."""

    name = "reshape_like"

    def infer(self, x, ref):
        return ref.shape, x.dtype

    def forward(self, x, ref):
        return np.reshape(x, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [reshape_like(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class Transpose(Op):
    """Permute axes; ``axes`` is a full permutation."""

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


@dataclasses.dataclass(frozen=True)
class BroadcastTo(Op):
    """``np.broadcast_to(x, shape)`` (a read-only view)."""

    name = "broadcast_to"
    shape: tuple

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
class BroadcastLike(Op):
    """Broadcast the first input to the runtime shape of the second."""

    name = "broadcast_like"

    def infer(self, x, ref):
        broadcast_shapes(x.shape, ref.shape, op=self.name)
        return ref.shape, x.dtype

    def forward(self, x, ref):
        return np.broadcast_to(x, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [sum_to(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class SumTo(Op):
    """Sum a broadcast value back down to ``shape`` (leading axes, then size-1 axes)."""

    name = "sum_to"
    shape: tuple

    def infer(self, g):
        _check_sum_to(self.name, g.shape, self.shape)
        return self.shape, g.dtype

    def forward(self, g):
        return _sum_to_array(g, self.shape)

    def bprop(self, inputs, output, G):
        return [broadcast_like(G, inputs[0])]


@dataclasses.dataclass(frozen=True)
class SumToLike(Op):
    """Sum the first input down to the runtime shape of the second."""

    name = "sum_to_like"

    def infer(self, g, ref):
        _check_sum_to(self.name, g.shape, ref.shape)
        return ref.shape, g.dtype

    def forward(self, g, ref):
        return _sum_to_array(g, np.shape(ref))

    def bprop(self, inputs, output, G):
        return [broadcast_like(G, inputs[0]), None]


@dataclasses.dataclass(frozen=True)
class ExpandDims(Op):
    """Insert size-1 axes at ``axes`` (positions in the output)."""

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


@dataclasses.dataclass(frozen=True)
class Squeeze(Op):
    """Remove the size-1 axes ``axes``."""

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
class Concatenate(Op):
    """``np.concatenate(xs, axis)``."""

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
            from graphcomp.ops.indexing import GetItem

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
class SplitPart(Op):
    """The ``k``-th piece of ``g`` cut along ``axis`` at the sizes of ``refs``
    (the bprop of concatenate)."""

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
        from graphcomp.ops.control import ZerosLike

        refs = inputs[1:]
        pieces = [G if i == self.k else ZerosLike()(r) for i, r in enumerate(refs)]
        return [Concatenate(self.axis)(*pieces)] + [None] * len(refs)


@dataclasses.dataclass(frozen=True)
class Stack(Op):
    """``np.stack(xs, axis)``."""

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
        from graphcomp.ops.indexing import take_along

        return [take_along(G, self.axis, k) for k in range(len(inputs))]
