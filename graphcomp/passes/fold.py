"""Constant folding: a node whose inputs are all constants becomes the constant
it computes, at compile time."""

from __future__ import annotations

import numpy as np

from graphcomp.core import node as _node
from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import ancestors, topological
from graphcomp.passes.rebuild import rebuild

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
    new: dict[Variable, Variable] = {}
    for v in topological(ancestors(outputs)):
        if v.owner is None:
            new[v] = v
            continue
        inputs = tuple(new[i] for i in v.owner.inputs)
        if all(i.kind == "constant" for i in inputs) and v.owner.op.name not in ("size_of", "arange_like"):
            folded = _fold(v, inputs)
            if folded is not None:
                new[v] = folded
                continue
        new[v] = v if inputs == v.owner.inputs else rebuild(v, inputs)
    return [new[o] for o in outputs]


def _fold(v: Variable, inputs) -> Variable | None:
    biggest = max((i.value.size for i in inputs), default=1)
    try:
        with np.errstate(all="ignore"):
            value = np.asarray(v.owner.op.forward(*[i.value for i in inputs]))
    except Exception:  # leave the failure to run time, where it names the node
        return None
    if value.size > max(biggest, 1) * _MAX_GROWTH or value.shape != v.shape or value.dtype != v.dtype:
        return None
    _node._site_override.append(v.site)
    _node._grad_of.append(v.grad_of)
    try:
        return constant(value, name=v.name)
    finally:
        _node._grad_of.pop()
        _node._site_override.pop()
