"""The validity contract every pass keeps: a DAG whose every op node re-infers
to its recorded shape and dtype."""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.core.types import fmt_shape
from graphcomp.errors import GraphError

__all__ = ["VerifyError", "verify", "verify_node"]


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
                raise VerifyError(f"after {after}: {v.label()} reads a node built after it")
        _reinfer(v, after)


def verify_node(node: Variable, replaced: Variable, after: str = "") -> None:
    """Check one node a pass returned for ``replaced``: it re-infers to its recorded
    shape and dtype, which are ``replaced``'s (a rewrite never changes either).

    Example:
        >>> import graphcomp as gc
        >>> y = gc.sin(gc.Variable("x"))
        >>> verify_node(y, y, after="nothing")
    """
    if node.shape != replaced.shape or node.dtype != replaced.dtype:
        raise VerifyError(
            f"after {after}: {replaced.label()} ({fmt_shape(replaced.shape)} {replaced.dtype}) was replaced by "
            f"{node.label()} of {fmt_shape(node.shape)} {node.dtype}"
        )
    if node.owner is not None:
        _reinfer(node, after)


def _reinfer(v: Variable, after: str) -> None:
    shape, dtype = v.owner.op.infer(*v.owner.inputs)
    if tuple(shape) != v.shape or dtype != v.dtype:
        raise VerifyError(
            f"after {after}: {v.owner.op.label()} records {fmt_shape(v.shape)} {v.dtype} but infers "
            f"{fmt_shape(tuple(shape))} {dtype}"
        )
