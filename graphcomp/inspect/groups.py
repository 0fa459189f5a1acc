"""Drawing a node that holds an inner graph (an op_from_graph group, ``op.inner()``)
as a cluster around that graph: ``to_dot(..., expand=True)``.

The node's inputs feed the inner graph's placeholders and the inner output
feeds the node's output box, by dashed edges; a group inside the group is a
cluster inside the cluster. The clusters are built from a work list, the
innermost attached first, without recursion.
"""

from __future__ import annotations

from collections.abc import Callable

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape

__all__ = ["draw_group"]

CONSTANT_FILL, CONSTANT_LINE = "#f2f2f2", "#999999"  # as to_dot draws constants


def _box_label(v: Variable) -> str:
    if v.kind == "constant":
        a = v.value
        return repr(a.item()) if a.ndim == 0 else f"const{fmt_shape(a.shape)}"
    parts = [p for p in (v.name, fmt_shape(v.shape) if v.shape else "") if p]
    return "\n".join(parts) or " "


def draw_group(
    dot, v: Variable, box: str, input_boxes: list[str | None], colors_of: Callable, op_label: Callable
) -> None:
    """Draw node ``v``'s op as a cluster around its inner graph into ``dot`` (a
    ``graphviz.Digraph``): ``box`` is the DOT name of v's own box, ``input_boxes``
    those of its inputs (None: not drawn), ``colors_of(variable)`` a role's
    ``{"fill", "line"}`` colours and ``op_label(op)`` an op's circle text.

    Example:
        >>> import graphcomp as gc, graphviz
        >>> twice = gc.op_from_graph(lambda a: a * 2.0, name="twice")
        >>> y = twice(gc.Variable("x"))
        >>> dot = graphviz.Digraph()
        >>> draw_group(dot, y, "v1", ["v0"], lambda v: {"fill": "white", "line": "black"}, lambda op: op.label())
        >>> "cluster_v1" in dot.source and "twice" in dot.source and "multiply" in dot.source
        True
    """
    clusters = []  # (digraph, parent index or None), in creation order: a parent before its children
    edges = []  # every edge into or out of a cluster, added at the top level once the clusters are
    work = [(v, box, input_boxes, None)]
    while work:
        node, name, ins, parent = work.pop()
        op = node.owner.op
        placeholders, output = op.inner()
        sub = type(dot)(name=f"cluster_{name}")
        sub.attr(label=op_label(op), style="rounded,dashed", color=colors_of(node)["line"], fontsize="10")
        here = len(clusters)
        clusters.append((sub, parent))
        names: dict[Variable, str] = {}
        for k, p in enumerate(placeholders):
            names[p] = f"{name}_i{k}"
        for k, inner in enumerate(_inner_nodes(placeholders, output)):
            names.setdefault(inner, f"{name}_n{k}")
        for inner, inner_name in names.items():
            fill, line = (CONSTANT_FILL, CONSTANT_LINE) if inner.kind == "constant" else colors_of(inner).values()
            sub.node(inner_name, _box_label(inner), shape="box", style="filled", fillcolor=fill, color=line,
                     fontsize="9")  # fmt: skip
        for inner in names:
            if inner.owner is None or inner in placeholders:
                continue
            inner_ins = [names[i] for i in inner.owner.inputs]
            if inner.owner.op.inner() is not None:  # a group inside the group: its own cluster
                work.append((inner, names[inner], inner_ins, here))
                continue
            circle = f"{names[inner]}_op"
            sub.node(circle, op_label(inner.owner.op), shape="ellipse", style="filled", fillcolor="white",
                     color=colors_of(inner)["line"], fontsize="9")  # fmt: skip
            sub.edge(circle, names[inner])
            for i in dict.fromkeys(inner_ins):
                sub.edge(i, circle)
        for outer, p in zip(ins, placeholders):
            if outer is not None:
                edges.append((outer, names[p]))
        edges.append((names[output], name))
    for sub, parent in reversed(clusters):  # children first: subgraph() copies what is there
        (dot if parent is None else clusters[parent][0]).subgraph(sub)
    for tail, head in edges:
        dot.edge(tail, head, style="dashed", arrowhead="empty")


def _inner_nodes(placeholders, output: Variable) -> list[Variable]:
    """The inner graph's nodes after the placeholders, in creation (topological) order."""
    seen, stack, out = set(placeholders), [output], []
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        out.append(u)
        if u.owner is not None:
            stack.extend(u.owner.inputs)
    return sorted(out, key=lambda u: u.id)
