"""The validity contract every pass keeps: a DAG whose every op node re-infers
to its recorded shape and dtype."""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.core.types import fmt_shape
from graphcomp.errors import GraphError


class VerifyError(GraphError, AssertionError):
    """A pass left an invalid graph (a bug in that pass)."""


def verify(outputs: list[Variable], after: str = "") -> None:
    """Check the graph of ``outputs``; raise VerifyError naming the pass and the node.

    Example:
        >>> import graphcomp as gc
        >>> verify([gc.sin(gc.Variable("x"))], after="nothing")
    """
    order = topological(ancestors(outputs))
    position = {v: k for k, v in enumerate(order)}
    for v in order:
        if v.owner is None:
            continue
        for i in v.owner.inputs:
            if position[i] >= position[v]:
                raise VerifyError(f"after {after}: {v._label()} reads a node built after it")
        shape, dtype = v.owner.op.infer(*v.owner.inputs)
        if tuple(shape) != v.shape or dtype != v.dtype:
            raise VerifyError(
                f"after {after}: {v.owner.op.label()} records {fmt_shape(v.shape)} {v.dtype} but infers "
                f"{fmt_shape(tuple(shape))} {dtype}"
            )
