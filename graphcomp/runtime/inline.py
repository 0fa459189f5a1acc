"""Inline NumPy expressions for the generated code.

A node whose op has a short NumPy spelling is written as that expression
(``w[3]``, ``a @ b``, ``_add_reduce(g, (0,), None, None, True)``) instead of a
call to the op's ``forward``: a Python frame less per node, which is most of
the cost when arrays are small. Each form computes exactly what ``forward``
does; ops without a form here are called as usual.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import is_fully_known, normalize_axes
from graphcomp.ops.binary import AddN, Where
from graphcomp.ops.indexing import GetItem, _template_text
from graphcomp.ops.linalg import MatMul
from graphcomp.ops.reduce import Max, Min, Sum
from graphcomp.ops.shape import ExpandDims, Reshape, SumTo, Transpose, sum_to_axes

__all__ = ["inline_expression", "NAMESPACE"]

#: names the inline forms use, bound in the generated module
NAMESPACE = {
    "_add_reduce": np.add.reduce,
    "_max_reduce": np.maximum.reduce,
    "_min_reduce": np.minimum.reduce,
    "_where": np.where,
}


#: sums of more terms call add_n's forward (one result buffer, added into in place) instead of
#: a chain of ``+`` that allocates a temporary per term
_LONG_SUM = 64


def _index_text(template: tuple) -> str:
    # the op's own label spells a basic index as Python does; an empty one is ()
    return _template_text(template) or "()"


def _getitem(op: GetItem, v: Variable, args: list[str]) -> str | None:
    if len(args) != 1:
        return None  # integer-array entries: forward assembles the index
    return f"{args[0]}[{_index_text(op.template)}]"


def _reduce(ufunc: str):
    def form(op, v: Variable, args: list[str]) -> str | None:
        # np.sum upcasts small integers and bools; the raw ufunc reduction is the same only for floats
        if v.owner.inputs[0].dtype.kind not in "fc" or op.axes is None:
            return None
        return f"{ufunc}({args[0]}, {op.axes!r}, None, None, {op.keepdims})"

    return form


def _sum_to(op: SumTo, v: Variable, args: list[str]) -> str | None:
    src = v.owner.inputs[0].shape
    if not is_fully_known(src) or v.owner.inputs[0].dtype.kind not in "fc":
        return None
    axes, lead = sum_to_axes(src, op.shape)
    if not axes:
        return None
    summed = f"_add_reduce({args[0]}, {axes!r}, None, None, True)"
    return f"{summed}.reshape({op.shape!r})" if lead else summed


def _expand_dims(op: ExpandDims, v: Variable, args: list[str]) -> str:
    axes = normalize_axes(op.axes, v.ndim, op.name)
    template = tuple(("n",) if d in axes else ("s", None, None, None) for d in range(v.ndim))
    return f"{args[0]}[{_index_text(template)}]"


_FORMS = {
    GetItem: _getitem,
    Sum: _reduce("_add_reduce"),
    Max: _reduce("_max_reduce"),
    Min: _reduce("_min_reduce"),
    SumTo: _sum_to,
    ExpandDims: _expand_dims,
    Reshape: lambda op, v, a: f"{a[0]}.reshape({op.shape!r})",
    Transpose: lambda op, v, a: f"{a[0]}.transpose({op.axes!r})",
    MatMul: lambda op, v, a: f"{a[0]} @ {a[1]}",
    AddN: lambda op, v, a: " + ".join(a) if len(a) <= _LONG_SUM else None,  # a long one: add_n's in-place loop
    Where: lambda op, v, a: f"_where({', '.join(a)})",
}


def inline_expression(v: Variable, args: list[str]) -> str | None:
    """A NumPy expression computing ``v`` from the names ``args`` of its inputs,
    or None when its op is best called.

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Variable("w", (5,))
        >>> inline_expression(w[3], ["w"])
        'w[3]'
        >>> inline_expression(gc.Variable("a", (2, 3)) @ gc.Variable("b", (3,)), ["a", "b"])
        'a @ b'
    """
    form = _FORMS.get(type(v.owner.op))
    return None if form is None else form(v.owner.op, v, args)
