"""Constant folding: a node whose inputs are all constants becomes the constant
it computes, at compile time."""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable, built_as, constant
from graphcomp.passes.rebuild import rebuilt, transform

name = "constant-fold"

# do not materialise a broadcast: folding must not turn a tiny constant into a big array
_MAX_GROWTH = 4096


def run(outputs: list[Variable]) -> list[Variable]:
    """Return outputs with every all-constant subgraph computed once.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> (y,) = run([x * (gc.constant(2.0) * 3.0)])
        >>> float(y.inputs[1].value)
        6.0
    """
    return transform(outputs, *sweep())


def sweep():
    """This pass as ``(visit, visit_leaf)`` for ``transform``.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> (y,) = transform([gc.constant(2.0) * 3.0], *sweep())
        >>> float(y.value)
        6.0
    """
    return _visit, None


# size_of and arange_like read only their input's runtime shape
_NEVER = frozenset({"size_of", "arange_like"})


def _visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    for i in inputs:  # most nodes read an op's output: ask the cheap question first
        if i.owner is not None or i.kind != "constant":
            return rebuilt(v, inputs)
    if v.owner.op.name not in _NEVER and v.dtype.kind != "O":  # a loop's packed outputs are no constant
        folded = _fold(v, inputs)
        if folded is not None:
            return folded
    return rebuilt(v, inputs)


def _fold(v: Variable, inputs) -> Variable | None:
    biggest = max((i.value.size for i in inputs), default=1)
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(v.owner.op.forward(*[i.value for i in inputs]))
    except Exception:  # leave the failure to run time, where it names the node
        return None
    if value.size > max(biggest, 1) * _MAX_GROWTH or value.shape != v.shape or value.dtype != v.dtype:
        return None
    with built_as(v.site, v.grad_of):
        return constant(value, name=v.name)
