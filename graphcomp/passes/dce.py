"""Dead-code elimination: only what the outputs read is kept.

Graphs are reached from their outputs, so a node no output reads is already
gone from the compiled graph; this pass makes that explicit and counts it
(the gradient nodes a bprop builds for inputs that are not targets, say)."""

from __future__ import annotations

from graphcomp.core.node import Variable

name = "dead-code"


def run(outputs: list[Variable]) -> list[Variable]:
    """The outputs unchanged: their graph holds exactly the live nodes.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> unused = gc.exp(x)
        >>> [len(gc.Graph(o).variables) for o in run([gc.sin(x)])]
        [2]
    """
    return list(outputs)
