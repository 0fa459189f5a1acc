"""Inlining: every ``op_from_graph`` node is replaced by a copy of its inner
graph on the node's inputs, so the passes after it (merge, fold, simplify,
stabilize) see, and rewrite, the inner ops. A group inside a group is inlined
by the next round; the rounds stop when none is left (as many as the deepest
nesting)."""

from __future__ import annotations

from graphcomp.core import provenance
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors
from graphcomp.ops.composite import OpFromGraph, instantiate
from graphcomp.passes.rebuild import rebuilt, transform

name = "inline"


def _visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    op = v.owner.op
    if isinstance(op, OpFromGraph):
        # the copies keep their own lines in fn, and take the node's role (forward, grad, tangent)
        return instantiate(op, inputs, provenance.of(v))
    return rebuilt(v, inputs)


def _has_group(outputs: list[Variable]) -> bool:
    return any(v.owner is not None and isinstance(v.owner.op, OpFromGraph) for v in ancestors(outputs))


def run(outputs: list[Variable]) -> list[Variable]:
    """``outputs`` with every op_from_graph node inlined, nested ones included.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> twice = gc.op_from_graph(lambda a: a * 2.0, name="twice")
        >>> (y,) = run([gc.exp(twice(twice(x)))])
        >>> [v.owner.op.name for v in gc.Graph(y).variables if v.owner]
        ['multiply', 'multiply', 'exp']
    """
    while _has_group(outputs):
        outputs = transform(outputs, _visit)
    return outputs
