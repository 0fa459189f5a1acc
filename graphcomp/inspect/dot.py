"""``gc.to_dot``: a graph as a Graphviz picture, built with the ``graphviz`` package.

Variables are boxes and op applications circles, as in the lectures' figures.
Forward nodes are blue, nodes that build_grad inserted are orange, nodes that
forward mode (``gc.jvp``) inserted are purple (one colour per role in
``graphcomp.core.provenance.ROLES``, the legend saying which); when a
back-propagation result is drawn, G' is drawn bold and the targets with a
double border. Given a feed, each edge carries the value of the Variable it
leaves (above, green) and the gradient of the cost with respect to it (below,
red), as lecture 004 writes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import graphviz
import numpy as np

from graphcomp.autodiff.backprop import BackpropResult
from graphcomp.core.graph import Graph, set_display
from graphcomp.core.node import Variable
from graphcomp.core.provenance import ROLES
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.core.types import fmt_shape
from graphcomp.inspect.groups import draw_group
from graphcomp.inspect.render import render_svg
from graphcomp.runtime.evaluate import evaluate

__all__ = ["to_dot", "DotSource"]

FORWARD = {"fill": "#dbe9f6", "line": "#1f5fa8"}
GRADIENT = {"fill": "#fde3c8", "line": "#c25e00"}
TANGENT = {"fill": "#eadcf6", "line": "#6a3d9a"}
#: each node role's colours (a role is provenance's: ``graphcomp.core.provenance.ROLES``)
ROLE_COLORS = {"forward": FORWARD, "grad": GRADIENT, "tangent": TANGENT}
#: roles a picture shows without a legend (the lectures' forward and gradient pictures; a
#: back-propagation result's legend names them); any other role drawn brings the legend
_PLAIN_ROLES = {"forward", "grad"}
PRUNED_LINE = "#111111"


class DotSource(str):
    """DOT source text that also renders itself.

    It is a ``str`` (the DOT source), with ``.digraph`` (the
    ``graphviz.Digraph``), ``.svg()``, ``.save(path)`` and, in Jupyter, a
    picture: SVG from Graphviz's ``dot`` program, or a networkx + matplotlib
    drawing where ``dot`` is not installed.

    Example:
        >>> import graphcomp as gc
        >>> src = gc.to_dot(gc.exp(gc.Variable("x")))
        >>> src.startswith("digraph") and "exp" in src
        True
    """

    digraph: graphviz.Digraph
    _nx_args: tuple

    @property
    def nx_graph(self):
        """The same picture as a ``networkx.DiGraph``, for the matplotlib fallback
        (built when first asked for: networkx is not imported before)."""
        return _nx_view(*self._nx_args)

    def svg(self) -> str:
        """The picture as SVG text (falls back to matplotlib without ``dot``)."""
        return render_svg(self)

    def save(self, path: str) -> str:
        """Write ``.dot`` source or an ``.svg`` picture, chosen by the file's suffix."""
        text = self.svg() if str(path).endswith(".svg") else str(self)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return str(path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg(), "text/plain": f"<DOT source, {len(self)} characters>"}


def _short(value) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f"{a.item():.4g}" if a.dtype.kind in "fc" else str(a.item())
    if a.size <= 4:
        return "[" + ", ".join(f"{v:.3g}" if a.dtype.kind in "fc" else str(v) for v in a.ravel()) + "]"
    return f"array{fmt_shape(a.shape)}"


def _label(v: Variable, names: Mapping | None = None, value=None) -> str:
    if v.kind == "constant":
        return _short(v.value)
    head = v.name or (names or {}).get(v, "")
    shape = fmt_shape(v.shape) if v.shape else ""
    shown = f"= {_short(value)}" if value is not None else ""
    return "\n".join(p for p in (head, shape, shown) if p) or " "


def _gradient_names(table: Mapping | None) -> dict:
    """Name each grad_table entry after what it is the gradient of: ∂z/∂x."""
    if not table:
        return {}
    z = next(iter(table))
    zname = z.name or "cost"
    names: dict = {}
    for v, g in table.items():
        if v.name and v is not z:  # one gradient node may serve several (x + y passes G on)
            names[g] = f"{names[g]}, ∂{zname}/∂{v.name}" if g in names else f"∂{zname}/∂{v.name}"
    return names


def _op_label(op) -> str:
    return op.symbol or op.label()


def _unpack(outputs):
    """Accept Variables, a Graph or a BackpropResult; return outputs and highlights."""
    if isinstance(outputs, BackpropResult):
        z = next(iter(outputs.grad_table))
        outs = [z, *outputs.grads.values()]
        return outs, set(outputs.pruned.variables), set(outputs.grads), outputs.grad_table
    if isinstance(outputs, Graph):
        return list(outputs.outputs), set(), set(), None
    outs, _ = as_variable_list(outputs)
    return outs, set(), set(), None


def _collapse(order: list[Variable], max_nodes: int) -> tuple[list[Variable], list[Variable]]:
    if len(order) <= max_nodes:
        return order, []
    head = max_nodes // 2
    return order[:head] + order[len(order) - (max_nodes - head) :], order[head : len(order) - (max_nodes - head)]


def to_dot(
    outputs,
    *,
    feed: Mapping | None = None,
    grad_table: Mapping | None = None,
    pruned=None,
    targets=None,
    max_nodes: int = 300,
    rankdir: str = "LR",
    title: str | None = None,
    expand: bool = False,
) -> DotSource:
    """A Graphviz picture of the graph of ``outputs`` (Variables, a Graph, or a
    ``gc.backprop`` result, whose G' and targets are then highlighted).

    With ``feed``, each edge shows the value of the Variable it leaves and,
    where a grad_table is known, the gradient with respect to it. Graphs with
    more than ``max_nodes`` Variables keep the nodes nearest the inputs and
    the outputs and collapse the middle into one node that counts its ops.
    An op_from_graph group is one op; ``expand=True`` draws its inner graph
    inside it, as a cluster (groups inside groups too).

    Example:
        >>> import graphcomp as gc
        >>> x, y, z = gc.Variable("x"), gc.Variable("y"), gc.Variable("z")
        >>> r = gc.backprop((x + y) * z, [x, y, z])
        >>> src = gc.to_dot(r, feed={x: -2.0, y: 5.0, z: -4.0})
        >>> "-12" in src and "-4" in src   # f's value, and df/dx on x's edge
        True
    """
    outs, in_pruned, target_set, table = _unpack(outputs)
    if grad_table is not None:
        table = grad_table
    if pruned is not None:
        in_pruned = set(pruned.variables if isinstance(pruned, Graph) else pruned)
    if targets is not None:
        target_set = set(as_variable_list(targets, "targets")[0])
    order = topological(ancestors(outs))
    shown, hidden = _collapse(order, max_nodes)
    shown_set = set(shown)
    values = _values(order, feed, table)

    dot = graphviz.Digraph("graphcomp", graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"})
    dot.attr("node", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")
    ids = {v: f"v{k}" for k, v in enumerate(order)}
    names = _gradient_names(table)
    read = {i for v in shown if v.owner is not None for i in v.owner.inputs}
    for v in shown:
        # a value with no edge leaving it is written in its box
        value = values[v][0] if v in values and v not in read else None
        _add_variable(dot, v, ids[v], _label(v, names, value), v in in_pruned, v in target_set, v in outs)
        if v.owner is not None and expand and v.owner.op.inner() is not None:
            inputs = [ids[i] if i in shown_set else None for i in v.owner.inputs]
            draw_group(dot, v, ids[v], inputs, lambda u: ROLE_COLORS[u.role], _op_label)
        elif v.owner is not None:
            _add_apply(dot, v, ids, shown_set, in_pruned, values)
    if hidden:
        _add_collapsed(dot, hidden, ids, shown, shown_set)
    caption = title or ""
    if hidden:
        caption += f"{' — ' if caption else ''}showing {len(shown)} of {len(order)} variables"
    if caption:
        dot.attr(label=caption, labelloc="t")
    roles = {v.role for v in shown}
    if in_pruned or target_set or roles - _PLAIN_ROLES:
        _legend(dot, roles, bool(in_pruned or target_set))
    src = DotSource(dot.source)
    src.digraph = dot
    src._nx_args = (order, shown_set, in_pruned, target_set, names)
    return src


def _values(order, feed, table) -> dict:
    """Each Variable's value and, with a grad_table, its gradient, for the edge labels."""
    if feed is None:
        return {}
    out: dict = {v: [val, None] for v, val in zip(order, evaluate(order, feed))}
    if table:
        keys = [k for k in table if k in out]
        for k, g in zip(keys, evaluate([table[k] for k in keys], feed)):
            out[k][1] = g
    return out


def _add_variable(dot, v, name, label, in_pruned, is_target, is_output):
    colors = ROLE_COLORS[v.role]
    attrs = {
        "shape": "box",
        "style": "filled,rounded" if v.kind == "op" else "filled",
        "fillcolor": colors["fill"],
        "color": PRUNED_LINE if in_pruned else colors["line"],
        "penwidth": "2.5" if in_pruned else "1",
    }
    if v.kind == "constant":
        attrs.update(fillcolor="#f2f2f2", color="#999999", fontsize="9")
    if v.kind == "input":
        attrs["style"] = "filled,bold"
    if is_target:
        attrs["peripheries"] = "2"
    if is_output:
        attrs["penwidth"] = "2.5"
    dot.node(name, label, **attrs)


def _add_apply(dot, v, ids, shown_set, in_pruned, values):
    a = v.owner
    colors = ROLE_COLORS[v.role]
    circle = f"a{ids[v][1:]}"
    pruned = v in in_pruned and any(i in in_pruned for i in a.inputs)
    dot.node(
        circle,
        _op_label(a.op),
        shape="box3d" if a.op.inner() is not None else "circle" if len(_op_label(a.op)) <= 3 else "ellipse",
        style="filled",
        fillcolor="white",
        color=PRUNED_LINE if pruned else colors["line"],
        penwidth="2.5" if pruned else "1.2",
    )
    dot.edge(circle, ids[v], color=colors["line"])
    seen = set()
    for i in a.inputs:
        if i in seen:
            continue
        seen.add(i)
        if i not in shown_set:
            continue
        dot.edge(ids[i], circle, **_edge_label(values.get(i)))


def _edge_label(pair) -> dict:
    if pair is None:
        return {}
    value, grad = pair
    parts = [f'<font color="#2b7a0b">{_short(value)}</font>']
    if grad is not None:
        parts.append(f'<font color="#c0392b">{_short(grad)}</font>')
    return {"label": "<" + "<br/>".join(parts) + ">"}


def _add_collapsed(dot, hidden, ids, shown, shown_set):
    counts = Counter(v.owner.op.name if v.owner is not None else v.kind for v in hidden)
    common = ", ".join(f"{n:,} {op}" for op, n in counts.most_common(4))
    more = "" if len(counts) <= 4 else f", … ({len(counts) - 4} more kinds)"
    dot.node(
        "collapsed",
        f"⋯ {len(hidden):,} variables collapsed\n{common}{more}",
        shape="note",
        style="filled",
        fillcolor="#fff8d6",
        color="#a08400",
    )
    hidden_set = set(hidden)
    feeds_in = {ids[i] for v in hidden if v.owner is not None for i in v.owner.inputs if i in shown_set}
    reads_out = {ids[v] for v in shown if v.owner is not None and any(i in hidden_set for i in v.owner.inputs)}
    for n in sorted(feeds_in):
        dot.edge(n, "collapsed", style="dashed")
    for n in sorted(reads_out):
        dot.edge("collapsed", n, style="dashed")


def _legend(dot, roles: set, highlights: bool):
    with dot.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", fontsize="9", color="#bbbbbb")
        for role, text in ROLES.items():  # the roles drawn (forward and grad around a G′)
            if role in roles or (highlights and role in _PLAIN_ROLES):
                leg.node(f"legend_{role}", text, shape="box", style="filled", fillcolor=ROLE_COLORS[role]["fill"],
                         fontsize="9")  # fmt: skip
        if highlights:
            leg.node("legend_pruned", "in G′", shape="box", penwidth="2.5", color=PRUNED_LINE, fontsize="9")
            leg.node("legend_target", "target", shape="box", peripheries="2", fontsize="9")


def _nx_view(order, shown_set, in_pruned, target_set, names):
    """The same picture's data for the matplotlib fallback."""
    import networkx as nx

    g = nx.DiGraph()
    for v in order:
        if v not in shown_set:
            continue
        g.add_node(("v", v.id), label=_label(v, names), kind="variable", role=v.role, pruned=v in in_pruned,
                   target=v in target_set, fill=ROLE_COLORS[v.role]["fill"])  # fmt: skip
        if v.owner is not None:
            g.add_node(("a", v.id), label=_op_label(v.owner.op), kind="op", role=v.role, pruned=v in in_pruned,
                       target=False)  # fmt: skip
            g.add_edge(("a", v.id), ("v", v.id))
            for i in v.owner.inputs:
                if i in shown_set:
                    g.add_edge(("v", i.id), ("a", v.id))
    return g


def _display(obj, include=None, exclude=None) -> dict:
    """A Graph, a back-propagation result or a grad_table, drawn for a notebook."""
    if isinstance(obj, dict):  # a grad_table: z, every entry, and the graph between
        return to_dot(list(obj.values()), grad_table=obj)._repr_mimebundle_(include, exclude)
    return to_dot(obj)._repr_mimebundle_(include, exclude)


set_display(_display)
