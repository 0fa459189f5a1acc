"""``gc.dprint``: a graph as an indented text tree."""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.inspect.arguments import count, numbering_or_none, stream
from graphcomp.inspect.numbering import Numbering, outputs_of
from graphcomp.ops.loops.op import Scan

__all__ = ["dprint", "format_graph"]


def _line(v: Variable, ids: Numbering, roles: dict) -> str:
    if v in roles:  # a placeholder of a loop's body: what is bound to it
        what = f"{v.label()} ({roles[v]})"
    elif v.kind in ("input", "parameter"):
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


def _body_items(v: Variable, lead: str, ids: Numbering, roles: dict) -> list[tuple]:
    """The lines printed under loop node ``v`` before its inputs: a header saying
    which body it is, then each body output as a tree (a bar marks the body's
    lines). Records what each placeholder is bound to in ``roles``."""
    op = v.owner.op
    b = op.body
    ins = v.owner.inputs
    nc, nx = len(b.carry_in), len(b.x_in)
    for k, p in enumerate(b.carry_in):
        roles[p] = f"carry entering step t; init #{ids[ins[k]]}"
    for k, p in enumerate(b.x_in):
        roles[p] = f"row t of #{ids[ins[nc + k]]}"
    for m, p in enumerate(b.captured):
        roles[p] = f"captured #{ids[ins[nc + nx + m]]}"
    if b.index is not None:
        roles[b.index] = "the step number t"
    steps = "t = T-1 ... 0" if op.reverse else "t = 0 ... T-1"
    info = op.gradient
    of = v.grad_of
    if op.base is not None:  # a copy of a forward loop, stacking what a gradient reads
        whose = f"the body of #{ids[of]}" if of is not None and of.owner is not None and of.op is op.base else "body"
        extra = ", ".join(b.y_names[len(op.base.body.ys) :])
        head = f"{whose}, run at each step {steps}, also stacking per step: {extra}:"
    elif info is None:
        head = f"body, run at each step {steps}:"
    else:
        loop = f" of #{ids[of]}" if of is not None and of.owner is not None and of.op is info.forward else ""
        kept = ", ".join(ids.describe(k) for k in info.kept) or "nothing"
        how = "only the carries (checkpoint), the rest recomputed" if info.checkpoint else kept
        head = (
            f"gradient body: build_grad on the loop body{loop}, run at each step {steps}; "
            f"the forward loop kept per step: {how}:"
        )
    items = [(head, lead + "  ", "")]
    captions = [f"new {n} = " for n in b.carry_names] + [f"{n} = " for n in b.y_names]
    items += [(o, lead + "  | ", c) for o, c in zip(b.outputs, captions)]
    return items


def format_graph(outputs, max_lines: int = 200, *, numbering: Numbering | None = None) -> str:
    """The text of ``dprint``: one node a line, children indented under it.

    ``outputs`` is a Variable, a list of them, a ``gc.Graph`` or a
    ``gc.backprop`` result (the cost and the gradients). Nodes are numbered by
    their topological position in the printed graph, or by ``numbering`` (a
    ``gc.Numbering``) when a trace or a picture printed beside it must use the
    same numbers. A node read by several others is printed in full once; later mentions
    say ``-> #id``. A gradient node is marked ``[grad via #k]``, where k is
    the node whose bprop (or gradient sum) built it; a node forward mode
    inserted, ``[tangent via #k]`` (its role, ``v.role``). Under a loop node
    (``gc.scan``) its body is printed before its inputs, each line marked ``|``:
    the new carries and per-step outputs as trees down to the body's
    placeholders, which say what is bound to them (the carry entering step t
    and its init, row t of an xs, a captured value); under a gradient loop, the
    gradient body build_grad made and what the forward loop kept for it. Past
    ``max_lines`` lines (an int >= 0) the rest is counted, not shown.

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
        >>> h, _ = gc.scan(lambda h, xt: (gc.tanh(h * xt), None), 1.0, gc.Variable("xs", (5,)))
        >>> print(format_graph(h))
        scan_output[final carry]  #3  () float64
          scan[T=5]  #2  () object
            body, run at each step t = 0 ... T-1:
            | new carry = tanh  #7  () float64
            |   multiply  #6  () float64
            |     carry (carry entering step t; init #1)  #4  () float64
            |     x (row t of #0)  #5  () float64
            1.0 (constant)  #1  () float64
            xs (input)  #0  (5,) float64
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
    roles: dict[Variable, str] = {}
    stack: list[tuple] = [(v, "", "") for v in reversed(outs)]  # (node or header text, lead, caption)
    while stack:
        v, lead, caption = stack.pop()
        if isinstance(v, str):
            if len(lines) < max_lines:
                lines.append(lead + v)
            continue
        loop = v.owner is not None and isinstance(v.op, Scan)
        if len(lines) >= max_lines:
            if v not in shown and v not in hidden:
                hidden.add(v)
                if v.owner is not None:
                    stack.extend((i, lead, "") for i in v.owner.inputs)
                    if loop:
                        stack.extend((o, lead, "") for o in v.owner.op.body.outputs)
            continue
        if v in shown:
            lines.append(f"{lead}{caption}-> #{ids[v]} {v.label()}")
            continue
        shown.add(v)
        lines.append(lead + caption + _line(v, ids, roles))
        if v.owner is not None:
            stack.extend((i, lead + "  ", "") for i in reversed(v.owner.inputs))
            if loop:
                stack.extend(reversed(_body_items(v, lead, ids, roles)))
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
