"""Indexing as NumPy does it: ints, slices, ``None``, ``...`` and integer
arrays (``x[rows, cols]``), with the scatter-add gradient; and boolean masks
(``x[mask]``), with the scatter of G back to the selected places.

An index is stored as a hashable template; integer-array entries are extra
inputs of the op, so index arrays can themselves be computed in the graph.
A boolean mask is an input too (a Variable, or an array made a constant); its
result's length depends on the data, so it is unknown (``None``) at build time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import broadcast_shapes, fmt_shape, is_fully_known, shapes_compatible
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import Op, size_of_shape

__all__ = ["getitem"]

# template entries: ("i", k) int, ("s", start, stop, step) slice, ("n",) newaxis,
# ("e",) ellipsis, ("a",) the next integer-array input
_FULL = ("s", None, None, None)
_MASK_ALONE = "getitem: a boolean mask must be the whole index (x[mask]), not one entry of a tuple index"


def _int_or_none(v, what):
    if v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)):
        return None if v is None else int(v)
    raise ArgumentError(f"getitem: slice {what} must be an int or None, got {v!r}")


def parse_index(index) -> tuple[tuple, list[Variable]]:
    """Split a NumPy-style index into a hashable template and array inputs.

    Example:
        >>> t, arrays = parse_index((slice(1, 3), 0))
        >>> t, arrays
        ((('s', 1, 3, None), ('i', 0)), [])
    """
    if not isinstance(index, tuple):
        index = (index,)
    template, arrays = [], []
    for e in index:
        if e is None:
            template.append(("n",))
        elif e is Ellipsis:
            template.append(("e",))
        elif isinstance(e, slice):
            template.append(
                ("s", _int_or_none(e.start, "start"), _int_or_none(e.stop, "stop"), _int_or_none(e.step, "step"))
            )
        elif isinstance(e, (bool, np.bool_)):
            raise ArgumentError("getitem: a Python bool is not an index; select with a boolean array, x[mask]")
        elif isinstance(e, (int, np.integer)):
            template.append(("i", int(e)))
        else:
            v = e if isinstance(e, Variable) else None
            if v is None:
                try:
                    arr = np.asarray(e)
                except (ValueError, TypeError, OverflowError):
                    arr = np.asarray(None)  # refused below, as NumPy refuses it
                if arr.dtype == object:
                    raise ArgumentError(
                        f"getitem: the index entry {e!r} is not an array of ints: a ragged nested list (rows of "
                        "different lengths), an int beyond int64 or another object; NumPy refuses it too"[:300]
                    )
                if arr.dtype == bool:
                    raise ArgumentError(_MASK_ALONE)
                if arr.dtype.kind not in "iu":
                    raise ArgumentError(
                        f"getitem: {arr.dtype} indices are not supported; index with ints, slices, integer arrays "
                        "or a boolean mask"
                    )
                v = constant(arr)
            elif v.dtype == bool:
                raise ArgumentError(_MASK_ALONE)
            elif v.dtype.kind not in "iu":
                raise DTypeError(
                    f"getitem: an index Variable must have an integer dtype, got {v.label()} of dtype {v.dtype}"
                )
            template.append(("a",))
            arrays.append(v)
    if sum(1 for t in template if t[0] == "e") > 1:
        raise ShapeError("getitem: an index can only have a single ellipsis ('...')")
    return tuple(template), arrays


def _expand(template: tuple, ndim: int) -> tuple:
    consumed = sum(1 for t in template if t[0] in "isa")
    if consumed > ndim:
        raise ShapeError(
            f"getitem: too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    fill = (_FULL,) * (ndim - consumed)
    for k, t in enumerate(template):
        if t[0] == "e":
            return template[:k] + fill + template[k + 1 :]
    return template + fill


def index_shape(shape: tuple, template: tuple, array_shapes: list[tuple]) -> tuple:
    """The static shape of ``x[index]`` for ``x`` of ``shape``, NumPy's rules.

    Example:
        >>> index_shape((5, 6, 7), (("a",), ("s", None, None, None), ("a",)), [(2,), (2,)])
        (2, 6)
    """
    entries = _expand(template, len(shape))
    has_adv = any(t[0] == "a" for t in entries)
    ADV = object()
    parts: list = []
    adv_shapes: list = []
    arrays = iter(array_shapes)
    dim = 0
    for t in entries:
        kind = t[0]
        if kind == "n":
            parts.append(1)
            continue
        n = shape[dim]
        if kind == "i":
            if n is not None and not -n <= t[1] < n:
                raise ShapeError(f"getitem: index {t[1]} is out of bounds for axis {dim} with size {n}")
            if has_adv:
                parts.append(ADV)
                adv_shapes.append(())
        elif kind == "s":
            if t[3] == 0:
                raise ShapeError("getitem: slice step cannot be zero")
            if n is None:
                parts.append(None)
            else:
                parts.append(len(range(*slice(t[1], t[2], t[3]).indices(n))))
        else:
            parts.append(ADV)
            adv_shapes.append(next(arrays))
        dim += 1
    if not has_adv:
        return tuple(parts)
    adv = broadcast_shapes(*adv_shapes, op="getitem")
    where = [k for k, p in enumerate(parts) if p is ADV]
    rest = [p for p in parts if p is not ADV]
    if where == list(range(where[0], where[-1] + 1)):  # adjacent: result dims stay in place
        at = where[0]
        return tuple(rest[:at]) + adv + tuple(rest[at:])
    return adv + tuple(rest)  # separated: NumPy puts the broadcast dims first


def _runtime_index(template: tuple, arrays) -> tuple:
    it = iter(arrays)
    out = []
    for t in template:
        kind = t[0]
        if kind == "i":
            out.append(t[1])
        elif kind == "s":
            out.append(slice(t[1], t[2], t[3]))
        elif kind == "n":
            out.append(None)
        elif kind == "e":
            out.append(Ellipsis)
        else:
            out.append(next(it))
    return tuple(out)


def index_text(template: tuple) -> str:
    """A template spelled as Python writes the index (``[]`` for an array entry).

    Example:
        >>> index_text((("s", 1, None, None), ("i", 0), ("n",)))
        '1:, 0, None'
    """
    parts = []
    for t in template:
        if t[0] == "i":
            parts.append(str(t[1]))
        elif t[0] == "s":
            a, b, c = ("" if v is None else str(v) for v in t[1:])
            parts.append(f"{a}:{b}" + (f":{c}" if c else ""))
        else:
            parts.append({"n": "None", "e": "...", "a": "[]"}[t[0]])
    return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class GetItem(Op):
    """``x[index]``: inputs are ``x`` then the integer-array entries of the index."""

    linear, view = (0,), True  # a basic index is a view of x
    name, flops_per_element = "getitem", 0
    template: tuple

    def infer(self, x, *arrays):
        t = self.template
        if len(t) == 1 and t[0][0] == "i" and x.shape:  # x[k], a layer's weight: NumPy's rule is short
            n = x.shape[0]
            if n is not None and -n <= t[0][1] < n:
                return x.shape[1:], x.dtype
        return index_shape(x.shape, t, [a.shape for a in arrays]), x.dtype

    def forward(self, x, *arrays):
        return x[_runtime_index(self.template, arrays)]

    def bprop(self, inputs, output, G):
        x, *arrays = inputs
        if is_fully_known(x.shape):
            grad = IndexGrad(self.template, x.shape)(G, *arrays)
        else:
            grad = IndexGradLike(self.template)(G, x, *arrays)
        return [grad] + [None] * len(arrays)

    def label(self) -> str:
        return f"getitem[{index_text(self.template)}]"

    def expression(self, v, args):
        if len(args) != 1:
            return None  # integer-array entries: forward assembles the index
        return f"{args[0]}[{index_text(self.template) or '()'}]"


@dataclasses.dataclass(frozen=True)
class Scatter(Op):
    """A scatter-add into zeros: one addition per element of the gradient scattered."""

    def flops(self, v, shape_of):
        return size_of_shape(shape_of(v.owner.inputs[0]))


def _scatter(template, shape, g, arrays):
    out = np.zeros(shape, dtype=np.result_type(g))
    index = _runtime_index(template, arrays)
    if arrays:
        np.add.at(out, index, g)  # repeated indices must accumulate
    else:
        out[index] = g  # basic indexing never repeats an element
    return out


@dataclasses.dataclass(frozen=True)
class IndexGrad(Scatter):
    """The gradient of ``x[index]``: zeros of ``shape`` with ``g`` added at the
    indexed places (a scatter-add, so repeated indices accumulate)."""

    linear = (0,)
    helper = True
    name = "index_grad"
    template: tuple
    shape: tuple

    def infer(self, g, *arrays):
        t, shape = self.template, self.shape
        if len(t) == 1 and t[0][0] == "i" and shape and shape[0] is not None and -shape[0] <= t[0][1] < shape[0]:
            expected = shape[1:]  # x[k]'s gradient, once per layer: the short rule, as GetItem's
        else:
            expected = index_shape(shape, t, [a.shape for a in arrays])
        _check_grad_shape(self.name, g.shape, expected)
        return shape, g.dtype

    def forward(self, g, *arrays):
        return _scatter(self.template, self.shape, g, arrays)

    def bprop(self, inputs, output, G):
        g, *arrays = inputs
        return [GetItem(self.template)(G, *arrays)] + [None] * len(arrays)

    def label(self) -> str:
        return f"index_grad[{index_text(self.template)}; {fmt_shape(self.shape)}]"


@dataclasses.dataclass(frozen=True)
class IndexGradLike(Scatter):
    """``IndexGrad`` for a reference whose static shape has unknown dimensions."""

    linear = (0,)
    helper = True
    name = "index_grad_like"
    template: tuple

    def infer(self, g, ref, *arrays):
        expected = index_shape(ref.shape, self.template, [a.shape for a in arrays])
        _check_grad_shape(self.name, g.shape, expected)
        return ref.shape, g.dtype

    def forward(self, g, ref, *arrays):
        return _scatter(self.template, np.shape(ref), g, arrays)

    def bprop(self, inputs, output, G):
        g, ref, *arrays = inputs
        return [GetItem(self.template)(G, *arrays), None] + [None] * len(arrays)

    def label(self) -> str:
        return f"index_grad_like[{index_text(self.template)}]"


def _check_grad_shape(op, got, expected):
    if not shapes_compatible(got, expected):
        raise ShapeError(
            f"{op}: gradient of shape {fmt_shape(got)} does not match the indexed shape {fmt_shape(expected)}"
        )


@user_errors
def getitem(x: Variable, index) -> Variable:
    """``x[index]`` with NumPy semantics: basic and integer-array indexing, and a
    boolean mask (see ``BooleanMask``; a mask must be the whole index).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (4, 5))
        >>> x[1:3].shape, x[:, 0].shape, x[[0, 2], [1, 3]].shape
        ((2, 5), (4,), (2,))
        >>> x[x > 0.0].shape
        (None,)
    """
    if type(index) is int:  # the common x[k] needs no parsing
        return GetItem((("i", index),))(x)
    mask = _as_mask(index)
    if mask is not None:
        return BooleanMask()(x, mask)
    template, arrays = parse_index(index)
    return GetItem(template)(x, *arrays)


def take_along(x: Variable, axis: int, k: int) -> Variable:
    """``x`` indexed by the int ``k`` along ``axis`` (the bprop of stack).

    Example:
        >>> import graphcomp as gc
        >>> take_along(gc.Variable("x", (2, 3)), 1, 0).shape
        (2,)
    """
    axis = axis % x.ndim
    return GetItem((_FULL,) * axis + (("i", k),))(x)


# -- boolean masks ---------------------------------------------------------------------------


def _as_mask(index) -> Variable | None:
    """A boolean mask index as a Variable (an array or list made a constant), else None."""
    if isinstance(index, tuple) and len(index) == 1:  # x[(mask,)] is x[mask], as in NumPy
        index = index[0]
    if isinstance(index, Variable):
        return index if index.dtype == bool else None
    if isinstance(index, (np.ndarray, list)):
        try:
            arr = np.asarray(index)
        except (ValueError, TypeError, OverflowError):  # ragged: not a mask; parse_index says what it is
            return None
        if arr.dtype == bool and arr.ndim >= 1:
            return constant(arr)
    return None


def _check_mask(op: str, x_shape: tuple, mask_shape: tuple, known: bool) -> None:
    """A mask covers the leading axes of x, as NumPy's: mask.shape == x.shape[:mask.ndim]."""
    k = len(mask_shape)
    if k == 0 or k > len(x_shape):
        raise ShapeError(
            f"{op}: a boolean mask of shape {fmt_shape(mask_shape)} cannot index an array of shape "
            f"{fmt_shape(x_shape)} (it needs 1 to {len(x_shape)} dimensions, matching the leading ones)"
        )
    lead = tuple(x_shape[:k])
    if not (shapes_compatible(lead, mask_shape) if known else lead == tuple(mask_shape)):
        raise ShapeError(
            f"{op}: a boolean mask of shape {fmt_shape(mask_shape)} does not match the array of shape "
            f"{fmt_shape(x_shape)} it indexes (its shape must be the array's leading dimensions {fmt_shape(lead)})"
        )


@dataclasses.dataclass(frozen=True)
class BooleanMask(Op):
    """``x[mask]``, NumPy's boolean-mask selection: ``mask`` (bool) has ``x``'s shape,
    or its leading dimensions; the result stacks the selected entries (or
    sub-arrays) in row-major order along one axis of unknown length, ``(None,) +
    x.shape[mask.ndim:]``. The gradient scatters G back to the selected places,
    zeros elsewhere (all zeros for a mask that selects nothing).

    A mask of the wrong shape is a ShapeError at build time when the shapes are
    known, and when the graph runs otherwise.
    """

    name, flops_per_element = "boolean_mask", 0

    def infer(self, x, mask):
        if mask.dtype != bool:
            raise DTypeError(f"{self.name}: the mask must be boolean, got {mask.label()} of dtype {mask.dtype}")
        _check_mask("getitem", x.shape, mask.shape, known=True)
        return (None,) + x.shape[mask.ndim :], x.dtype

    def forward(self, x, mask):
        _check_mask("getitem", np.shape(x), np.shape(mask), known=False)
        return x[mask]

    def bprop(self, inputs, output, G):
        x, mask = inputs
        return [BooleanMaskGrad(x.shape)(G, mask), None]


@dataclasses.dataclass(frozen=True)
class BooleanMaskGrad(Op):
    """The gradient of ``x[mask]``: zeros of ``x``'s shape (``shape``, static; the
    runtime shape comes from the mask and G) with G written at the selected places."""

    name, flops_per_element = "boolean_mask_grad", 0
    shape: tuple

    def infer(self, g, mask):
        k = mask.ndim
        if g.ndim != 1 + len(self.shape) - k:
            raise ShapeError(
                f"{self.name}: G of shape {fmt_shape(g.shape)} does not fit a mask of shape {fmt_shape(mask.shape)} "
                f"over {fmt_shape(self.shape)}"
            )
        runtime = tuple(mask.shape) + tuple(g.shape[1:])
        if not shapes_compatible(runtime, self.shape):
            raise ShapeError(f"{self.name}: mask and G give shape {fmt_shape(runtime)}, not {fmt_shape(self.shape)}")
        return tuple(a if a is not None else b for a, b in zip(self.shape, runtime)), g.dtype

    def forward(self, g, mask):
        g = np.asarray(g)
        out = np.zeros(np.shape(mask) + g.shape[1:], dtype=g.dtype)
        out[mask] = g
        return out

    def bprop(self, inputs, output, G):
        return [BooleanMask()(G, inputs[1]), None]

    def label(self) -> str:
        return f"boolean_mask_grad[{fmt_shape(self.shape)}]"
