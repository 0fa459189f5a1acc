"""``gc.dprint``: a graph as an indented text tree."""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.inspect.arguments import count, numbering_or_none, stream
from graphcomp.inspect.numbering import Numbering, outputs_of

__all__ = ["dprint", "format_graph"]


def _line(v: Variable, ids: Numbering) -> str:
    if v.kind in ("input", "parameter"):
        what = f"{v.label()} ({v.kind})"
    elif v.kind == "constant":
        what = f"{v.label()} (constant)"
    else:
        what = v.owner.op.label()
        if v.name:
            what = f"{v.name} = {what}"
    mark = ""
    if v.role != "forward":  # the role provenance gave it: grad, tangent
        of = v.grad_of
        mark = f"  [{v.role}" + (f" via #{ids[of]}" if of in ids else "") + "]"
    return f"{what}  #{ids[v]}  {fmt_shape(v.shape)} {v.dtype}{mark}"


def format_graph(outputs, max_lines: int = 200, *, numbering: Numbering | None = None) -> str:
    """The text of ``dprint``: one node a line, children indented under it.

    ``outputs`` is a Variable, a list of them, a ``gc.Graph`` or a
    ``gc.backprop`` result (the cost and the gradients). Nodes are numbered by
    their topological position in the printed graph, or by ``numbering`` (a
    ``gc.Numbering``) when a trace or a picture printed beside it must use the
    same numbers. A node read by several others is printed in full once; later mentions
    say ``-> #id``. A gradient node is marked ``[grad via #k]``, where k is
    the node whose bprop (or gradient sum) built it; a node forward mode
    inserted, ``[tangent via #k]`` (its role, ``v.role``). Past ``max_lines``
    lines (an int >= 0) the rest is counted, not shown.

    Raises ``gc.ArgumentError`` naming the function and the argument for
    ``outputs`` that are not Variables (a Graph, a backprop result), a
    ``max_lines`` that is not an int >= 0, or a ``numbering`` that is not a
    ``gc.Numbering``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> print(format_graph(gc.exp(x) * x))
        multiply  #2  () float64
          exp  #1  () float64
            x (input)  #0  () float64
          -> #0 x
    """
    return _format(outputs, max_lines, numbering, "format_graph")


def _format(outputs, max_lines, numbering, who: str) -> str:
    outs = outputs_of(outputs, f"{who}: outputs")
    max_lines = count(max_lines, f"{who}: max_lines")
    numbering = numbering_or_none(numbering, f"{who}: numbering")
    ids = (numbering if numbering is not None else Numbering()).add(outs)
    lines: list[str] = []
    shown: set[Variable] = set()
    hidden: set[Variable] = set()
    stack = [(v, 0) for v in reversed(outs)]
    while stack:
        v, depth = stack.pop()
        if len(lines) >= max_lines:
            if v not in shown and v not in hidden:
                hidden.add(v)
                if v.owner is not None:
                    stack.extend((i, depth + 1) for i in v.owner.inputs)
            continue
        pad = "  " * depth
        if v in shown:
            lines.append(f"{pad}-> #{ids[v]} {v.label()}")
            continue
        shown.add(v)
        lines.append(pad + _line(v, ids))
        if v.owner is not None:
            stack.extend((i, depth + 1) for i in reversed(v.owner.inputs))
    if hidden:
        lines.append(f"... {len(hidden)} more node(s) not shown (max_lines={max_lines})")
    return "\n".join(lines)


def dprint(outputs, max_lines: int = 200, file=None, *, numbering: Numbering | None = None) -> None:
    """Print the graph of ``outputs`` as an indented tree, gradient nodes marked
    (the text of ``format_graph``, whose arguments it takes), to ``file`` (a text
    stream; default standard output). A wrong argument raises ``gc.ArgumentError``
    naming dprint and the argument.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> gc.dprint(gc.sin(x))
        sin  #1  () float64
          x (input)  #0  () float64
    """
    file = stream(file, "dprint: file")
    print(_format(outputs, max_lines, numbering, "dprint"), file=file)
