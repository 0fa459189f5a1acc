"""Drawing a loop node (``gc.scan``) as a cluster around its body, in ``to_dot``.

The loop's op is drawn as a dashed, rounded cluster titled with the op (the
forward body, or the gradient body build_grad made), holding the body's
placeholders, its nodes and their ops, coloured by role as everywhere else.
Dashed edges bind the loop node's inputs to the placeholders (``init``, ``xs[t]``,
``captured``) and the body's outputs to the loop's packed value (``final``,
``stacked``); a grey edge from each new carry back to its placeholder says that
it is the next step's carry. A loop inside a body is a cluster inside the
cluster. The clusters are built from a work list, without recursion.
"""

from __future__ import annotations

from collections.abc import Callable

from graphcomp.core.node import Variable
from graphcomp.ops.loops.op import Scan

__all__ = ["draw_loop", "body_size", "BINDING"]

#: the colour of the words on the edges that bind a body to its loop
BINDING = "#777777"


def body_size(v: Variable) -> int:
    """How many boxes drawing loop node ``v``'s body takes (its bodies' nodes).

    Example:
        >>> import graphcomp as gc
        >>> h, _ = gc.scan(lambda h, x: (gc.tanh(h * x), None), 1.0, gc.Variable("xs", (3,)))
        >>> body_size(h.owner.inputs[0])
        4
    """
    total, work = 0, [v.op]
    while work:
        op = work.pop()
        nodes = op.body.nodes()
        total += len(nodes)
        work += [u.op for u in nodes if u.owner is not None and isinstance(u.op, Scan)]
    return total


def _title(v: Variable, number: Callable) -> str:
    op = v.op
    steps = "t = T-1 … 0" if op.reverse else "t = 0 … T-1"
    of = v.grad_of
    if op.base is not None:  # a copy of a forward loop, stacking what a gradient reads
        whose = f"#{number(of)}'s" if of is not None and of.owner is not None and of.op is op.base else "the"
        extra = len(op.body.ys) - len(op.base.body.ys)
        return f"{op.label()}  #{number(v)}: {whose} body, also keeping {extra} value(s) per step, each step {steps}"
    if op.gradient is None:
        return f"{op.label()}  #{number(v)}: body, each step {steps}"
    whose = f" of #{number(of)}" if of is not None and of.owner is not None and of.op is op.gradient.forward else ""
    return f"{op.label()}  #{number(v)}: gradient body (build_grad on the body{whose}), each step {steps}"


def draw_loop(
    pic,
    v: Variable,
    box: str,
    inputs: list[tuple[str, tuple] | None],
    *,
    colors_of: Callable,
    op_label: Callable,
    label_of: Callable,
    number: Callable,
    parent: str | None = None,
) -> None:
    """Draw loop node ``v``'s op into ``pic`` (a ``Picture``) as a cluster around its
    body: ``box`` is the DOT name of v's own box (its packed value), ``inputs``
    for each of v's inputs its box's name and the edge label's parts (value and
    gradient, or ``()``), or None where it is not drawn; ``colors_of(variable)``
    gives a role's ``{"fill", "line"}`` colours, ``op_label(op)`` an op's text,
    ``label_of(variable)`` a box's text and ``number(variable)`` its ``#k``.

    Example:
        >>> import graphcomp as gc, graphviz
        >>> from graphcomp.inspect.dot import Picture
        >>> h, _ = gc.scan(lambda h, x: (gc.tanh(h * x), None), 1.0, gc.Variable("xs", (3,)))
        >>> pic = Picture(graphviz.Digraph())
        >>> draw_loop(pic, h.owner.inputs[0], "v2", [("v0", ()), ("v1", ())],
        ...           colors_of=lambda u: {"fill": "white", "line": "black"}, op_label=lambda op: op.name,
        ...           label_of=lambda u: u.label(), number=lambda u: u.id)
        >>> pic.finish()
        >>> sorted(set(pic.members.values())), "tanh" in pic.digraph.source
        (['cluster_v2'], True)
    """
    work = [(v, box, inputs, parent)]
    while work:
        node, out_box, ins, outer = work.pop()
        b = node.op.body
        cluster = f"cluster_{out_box}"
        pic.cluster(cluster, _title(node, number), outer, style="rounded,dashed", color=colors_of(node)["line"],
                    fontsize="10", fontcolor=colors_of(node)["line"])  # fmt: skip
        names = {u: f"{out_box}_{k}" for k, u in enumerate(b.nodes())}
        placeholders = set(b.inputs) | ({b.index} if b.index is not None else set())
        for u, name in names.items():
            colors = colors_of(u)
            attrs = {"shape": "box", "style": "filled", "fillcolor": colors["fill"], "color": colors["line"],
                     "fontsize": "9"}  # fmt: skip
            if u.kind == "constant":
                attrs.update(fillcolor="#f2f2f2", color="#999999")
            elif u.owner is not None:
                attrs["style"] = "filled,rounded"
            elif u in placeholders:
                attrs["style"] = "filled,bold"
            pic.node(name, label_of(u), cluster, **attrs)
        for u, name in names.items():
            if u.owner is None:
                continue
            if isinstance(u.op, Scan):  # a loop in the body: its own cluster, inside this one
                work.append((u, name, [(names[i], ()) for i in u.owner.inputs], cluster))
                continue
            circle = f"{name}_op"
            text = op_label(u.op)
            pic.node(circle, text, cluster, shape="circle" if len(text) <= 3 else "ellipse", style="filled",
                     fillcolor="white", color=colors_of(u)["line"], fontsize="9")  # fmt: skip
            pic.edge(circle, name, color=colors_of(u)["line"])
            for i in dict.fromkeys(u.owner.inputs):
                pic.edge(names[i], circle)
        _bind(pic, node, names, ins, out_box)


def _bind(pic, v: Variable, names: dict, ins: list, out_box: str) -> None:
    """The dashed edges joining loop node ``v``'s body to the rest of the picture."""
    b = v.op.body
    nc, nx = len(b.carry_in), len(b.x_in)
    for k, (outer, p) in enumerate(zip(ins, b.inputs)):
        if outer is None:
            continue
        tail, parts = outer
        word = "init" if k < nc else "[t]" if k < nc + nx else "captured"
        pic.edge(tail, names[p], ((word, BINDING), *parts), style="dashed", arrowhead="empty")
    words = ["final"] * nc + ["stacked"] * len(b.ys)
    for o, word in dict(zip(b.outputs, words)).items():
        pic.edge(names[o], out_box, ((word, BINDING),), style="dashed", arrowhead="empty")
    for p, new in zip(b.carry_in, b.carry_out):
        if new is not p:  # the new carry is the next step's carry: drawn against the flow
            pic.edge(names[new], names[p], (("next step", BINDING),), style="dashed", color=BINDING,
                     constraint="false", arrowhead="empty")  # fmt: skip
