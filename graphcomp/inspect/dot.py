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

import os
from collections import Counter
from collections.abc import Mapping

import graphviz
import numpy as np

from graphcomp.autodiff.backprop import BackpropResult
from graphcomp.core.graph import Graph, set_display
from graphcomp.core.node import Variable
from graphcomp.core.provenance import ROLES
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.core.types import as_bool, fmt_shape
from graphcomp.errors import ArgumentError, named
from graphcomp.inspect.arguments import choice, count, feed_or_none, numbering_or_none, text_or_none
from graphcomp.inspect.bodies import BINDING, body_size, draw_loop
from graphcomp.inspect.groups import draw_group
from graphcomp.inspect.numbering import Numbering
from graphcomp.inspect.render import render as render_picture
from graphcomp.ops.loops.op import Scan
from graphcomp.runtime.evaluate import evaluate

__all__ = ["to_dot", "DotSource", "Picture", "output_format"]

FORWARD = {"fill": "#dbe9f6", "line": "#1f5fa8"}
GRADIENT = {"fill": "#fde3c8", "line": "#c25e00"}
TANGENT = {"fill": "#eadcf6", "line": "#6a3d9a"}
#: each node role's colours (a role is provenance's: ``graphcomp.core.provenance.ROLES``)
ROLE_COLORS = {"forward": FORWARD, "grad": GRADIENT, "tangent": TANGENT}
#: roles a picture shows without a legend (the lectures' forward and gradient pictures; a
#: back-propagation result's legend names them); any other role drawn brings the legend
_PLAIN_ROLES = {"forward", "grad"}
PRUNED_LINE = "#111111"
#: Graphviz's directions for the ranks: left to right, right to left, top to bottom, bottom to top
RANKDIRS = ("LR", "RL", "TB", "BT")


#: file suffixes and what ``DotSource.save`` writes for each
PICTURE_SUFFIXES = (".svg", ".png", ".pdf")
SOURCE_SUFFIXES = (".dot", ".gv")


def output_format(path) -> str:
    """What a file named ``path`` gets: ``"svg"``, ``"png"`` or ``"pdf"`` (a rendered
    picture) or ``"dot"`` (the source, for ``.dot`` and ``.gv``), by its suffix.

    Raises ``gc.ArgumentError`` for any other suffix, rather than writing a file
    whose content does not match its name.

    Example:
        >>> output_format("seed.PNG"), output_format("seed.gv")
        ('png', 'dot')
    """
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix in PICTURE_SUFFIXES:
        return suffix[1:]
    if suffix in SOURCE_SUFFIXES:
        return "dot"
    known = ", ".join(PICTURE_SUFFIXES + SOURCE_SUFFIXES)
    raise ArgumentError(
        f"cannot tell the format of {str(path)!r} from its suffix {suffix or '(none)'!r}; use one of {known}"
    )


class Picture:
    """The picture ``to_dot`` drew, recorded once for both renderers: the DOT
    source Graphviz lays out, and the same nodes, labels, edge labels, legend
    and caption for the matplotlib drawing used where ``dot`` is not installed.

    ``nodes`` maps a DOT node name to ``(label, attributes)``; ``edges`` holds
    ``(tail, head, parts, attributes)``, ``parts`` being the edge label's lines
    as ``(text, colour)``; ``legend`` lists ``(label, attributes)``. A loop's
    body is a cluster: ``clusters`` maps a cluster's name to ``(label,
    attributes, parent cluster or None)`` and ``members`` a node's name to the
    cluster it is drawn in (``finish()`` puts the clusters into the DOT source).
    Edges are stored as the DOT source writes them: an edge between two
    gradient nodes is written from the node that reads to the node read, with
    ``dir=back``, so that the gradient graph runs back beside the forward graph
    instead of after it.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> pic = gc.to_dot(gc.backprop(gc.exp(x), [x]), feed={x: 0.0}).picture
        >>> pic.nodes["v0"][0], [p for t, h, p, _ in pic.edges if t == "v0"]
        ('x  #0', [(('0', '#2b7a0b'), ('1', '#c0392b'))])
    """

    def __init__(self, digraph: graphviz.Digraph):
        self.digraph = digraph
        self.nodes: dict[str, tuple[str, dict]] = {}
        self.edges: list[tuple[str, str, tuple, dict]] = []
        self.legend: list[tuple[str, dict]] = []
        self.caption = ""
        self.clusters: dict[str, tuple[str, dict, str | None]] = {}
        self.members: dict[str, str] = {}
        self._subgraphs: dict[str, graphviz.Digraph] = {}

    def cluster(self, name: str, label: str, parent: str | None = None, **attrs) -> None:
        """A cluster (a loop's body) named ``name`` (starting ``cluster``), inside ``parent``."""
        sub = graphviz.Digraph(name=name)
        sub.attr(label=label, **attrs)
        self._subgraphs[name] = sub
        self.clusters[name] = (label, attrs, parent)

    def node(self, name: str, label: str, cluster: str | None = None, **attrs) -> None:
        (self.digraph if cluster is None else self._subgraphs[cluster]).node(name, label, **attrs)
        self.nodes[name] = (label, attrs)
        if cluster is not None:
            self.members[name] = cluster

    def finish(self) -> None:
        """Put the clusters into the DOT source, each inside its parent (a subgraph is
        copied when added, so the innermost go first)."""
        for name in reversed(list(self._subgraphs)):
            parent = self.clusters[name][2]
            (self.digraph if parent is None else self._subgraphs[parent]).subgraph(self._subgraphs[name])
        self._subgraphs.clear()

    def edge(self, tail: str, head: str, parts: tuple = (), *, backward: bool = False, **attrs) -> None:
        """An edge from ``tail`` (the value) to ``head`` (who reads it); ``backward``
        lays it out against the rank direction: written ``head -> tail`` with
        ``dir=back``, so the arrow still points at ``head``."""
        if backward:
            tail, head, attrs = head, tail, {**attrs, "dir": "back"}
        if parts:
            html = "<br/>".join(f'<font color="{c}">{_html(t)}</font>' for t, c in parts)
            attrs = {**attrs, "label": f"<{html}>"}
        self.digraph.edge(tail, head, **attrs)
        attrs.pop("label", None)
        self.edges.append((tail, head, tuple(parts), attrs))


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DotSource(str):
    """DOT source text that also renders itself.

    It is a ``str`` (the DOT source), with ``.digraph`` (the
    ``graphviz.Digraph``), ``.picture`` (what was drawn), ``.svg()``,
    ``.render(format)``, ``.save(path)`` and, in Jupyter, a picture: from
    Graphviz's ``dot`` program, or where ``dot`` is not installed a matplotlib
    drawing of the same nodes, labels, edge values and gradients, legend and
    caption (``graphcomp.inspect.render``).

    Example:
        >>> import graphcomp as gc
        >>> src = gc.to_dot(gc.exp(gc.Variable("x")))
        >>> src.startswith("digraph") and "exp" in src
        True
    """

    digraph: graphviz.Digraph
    picture: Picture

    def svg(self, *, timeout: float | None = None) -> str:
        """The picture as SVG text (drawn with matplotlib where ``dot`` is missing
        or runs past ``timeout`` seconds, as ``render``)."""
        return render_picture(self, "svg", timeout=timeout).decode("utf-8")

    def render(self, format: str = "svg", *, timeout: float | None = None) -> bytes:  # noqa: A002 - Graphviz's name
        """The picture as ``"svg"``, ``"png"`` or ``"pdf"`` bytes.

        Graphviz's ``dot`` lays it out when installed, given ``timeout`` seconds
        (default ``graphcomp.inspect.render.LAYOUT_TIMEOUT``, 20 s); past that, or
        without ``dot``, the same picture is drawn with matplotlib and a warning says so.

        Example:
            >>> import graphcomp as gc
            >>> gc.to_dot(gc.exp(gc.Variable("x"))).render("png")[:4]
            b'\x89PNG'
        """
        return render_picture(self, format, timeout=timeout)

    def save(self, path, *, timeout: float | None = None) -> str:
        """Write the file ``path`` in the format its suffix names: ``.svg``, ``.png``
        or ``.pdf`` a rendered picture (``timeout`` as for ``render``), ``.dot`` or
        ``.gv`` the DOT source; any other suffix, or a path that is not a string
        or ``os.PathLike``, raises ``gc.ArgumentError`` and writes nothing. Returns the path.

        Example:
            >>> import graphcomp as gc, os, tempfile
            >>> src = gc.to_dot(gc.exp(gc.Variable("x")))
            >>> path = src.save(os.path.join(tempfile.mkdtemp(), "g.gv"))
            >>> open(path).read() == src
            True
        """
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentError(f"save: path must be a file name (a str or os.PathLike), got {path!r}")
        fmt = output_format(path)
        data = str(self).encode("utf-8") if fmt == "dot" else self.render(fmt, timeout=timeout)
        with open(path, "wb") as f:
            f.write(data)
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


def _label(v: Variable, number: int, names: Mapping | None = None, value=None) -> str:
    if v.kind == "constant":  # its value, and the #k dprint and the trace give it
        return f"{_short(v.value)}  #{number}"
    head = v.name or (names or {}).get(v, "")
    head = f"{head}  #{number}" if head else f"#{number}"  # the number dprint and the trace give it
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
    outs, _ = as_variable_list(outputs, "to_dot: outputs")
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
    numbering: Numbering | None = None,
    expand: bool = False,
) -> DotSource:
    """A Graphviz picture of the graph of ``outputs`` (Variables, a Graph, or a
    ``gc.backprop`` result, whose G' and targets are then highlighted).

    With ``feed``, each edge shows the value of the Variable it leaves and,
    where a grad_table is known, the gradient with respect to it. Graphs with
    more than ``max_nodes`` Variables keep the nodes nearest the inputs and
    the outputs and collapse the middle into one node that counts its ops.
    Each box carries the node's ``#k``, as ``dprint`` and the trace number it,
    constants too (pass ``numbering``, a ``gc.Numbering``, to share one with them).
    The gradient graph runs back beside the forward graph, from the cost
    towards the inputs (its edges are written ``head -> tail`` with
    ``dir=back``), so a gradient node sits near the forward values it reads:
    Graphviz then lays out a chain of 50 layers and its gradient in seconds,
    where drawing the gradient after the forward graph took it minutes.
    Rendering gives ``dot`` a timeout (``DotSource.render``).
    An op_from_graph group is one op; ``expand=True`` draws its inner graph
    inside it, as a cluster (groups inside groups too; Graphviz's picture only).
    A loop (``gc.scan``) is drawn as a cluster around its body in place of its
    op (a gradient loop: the gradient body build_grad made, its nodes coloured
    as gradient nodes), dashed edges binding the loop's inputs to the body's
    placeholders and its outputs to the loop's value, a grey one from each new
    carry to the next step's; bodies whose boxes would pass ``max_nodes`` (all
    bodies counted together) are drawn as one op, as the caption says. The
    matplotlib drawing shows the same clusters.
    ``rankdir`` is Graphviz's (``"LR"``, ``"RL"``, ``"TB"``, ``"BT"``); ``title``
    a caption. Raises ``gc.ArgumentError`` naming to_dot and the argument for
    one of the wrong kind: ``max_nodes`` not an int >= 1, another ``rankdir``,
    a ``title`` that is not a string, a ``feed`` or ``grad_table`` that is not
    a mapping, ``outputs``/``targets``/``pruned`` that are not Variables.

    Example:
        >>> import graphcomp as gc
        >>> x, y, z = gc.Variable("x"), gc.Variable("y"), gc.Variable("z")
        >>> r = gc.backprop((x + y) * z, [x, y, z])
        >>> src = gc.to_dot(r, feed={x: -2.0, y: 5.0, z: -4.0})
        >>> "-12" in src and "-4" in src   # f's value, and df/dx on x's edge
        True
    """
    outs, in_pruned, target_set, table = _unpack(outputs)
    feed = feed_or_none(feed, "to_dot: feed")
    max_nodes = count(max_nodes, "to_dot: max_nodes", least=1)
    rankdir = choice(rankdir, RANKDIRS, "to_dot: rankdir")
    title = text_or_none(title, "to_dot: title")
    numbering = numbering_or_none(numbering, "to_dot: numbering")
    expand = as_bool(expand, "to_dot: expand")
    if grad_table is not None:
        table = _grad_table(grad_table)
    if pruned is not None:
        in_pruned = set(
            pruned.variables if isinstance(pruned, Graph) else as_variable_list(pruned, "to_dot: pruned")[0]
        )
    if targets is not None:
        target_set = set(as_variable_list(targets, "to_dot: targets")[0])
    order = topological(ancestors(outs))
    numbers = (numbering if numbering is not None else Numbering()).add(outs)
    shown, hidden = _collapse(order, max_nodes)
    shown_set = set(shown)
    with named("to_dot"):
        values = _values(order, feed, table)

    dot = graphviz.Digraph("graphcomp", graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11"})
    dot.attr("node", fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9", color="#555555")
    pic = Picture(dot)
    ids = {v: f"v{k}" for k, v in enumerate(order)}
    names = _gradient_names(table)
    read = {i for v in shown if v.owner is not None for i in v.owner.inputs}
    budget, undrawn, body_roles = max_nodes, 0, set()  # boxes left for loop bodies; loops drawn without one
    for v in shown:
        # a value with no edge leaving it is written in its box
        value = values[v][0] if v in values and v not in read else None
        label = _label(v, numbers[v], names, value)
        _add_variable(pic, v, ids[v], label, v in in_pruned, v in target_set, v in outs)
        loop = v.owner is not None and isinstance(v.op, Scan)
        if loop and body_size(v) <= budget:
            budget -= body_size(v)
            body_roles |= {u.role for u in v.op.body.nodes()}
            inputs = [(ids[i], _edge_parts(values.get(i))) if i in shown_set else None for i in v.owner.inputs]
            draw_loop(pic, v, ids[v], inputs, colors_of=lambda u: ROLE_COLORS[u.role], op_label=_op_label,
                      label_of=lambda u: _label(u, numbers[u], names), number=numbers.__getitem__)  # fmt: skip
        elif loop:
            undrawn += 1
            _add_apply(pic, v, ids, shown_set, in_pruned, values)
        elif v.owner is not None and expand and v.owner.op.inner() is not None:
            inputs = [ids[i] if i in shown_set else None for i in v.owner.inputs]
            draw_group(dot, v, ids[v], inputs, lambda u: ROLE_COLORS[u.role], _op_label)
        elif v.owner is not None:
            _add_apply(pic, v, ids, shown_set, in_pruned, values)
    if hidden:
        _add_collapsed(pic, hidden, ids, shown, shown_set)
    caption = title or ""
    if hidden:
        caption += f"{' — ' if caption else ''}showing {len(shown)} of {len(order)} variables"
    if undrawn:
        caption += f"{' — ' if caption else ''}{undrawn} loop bodies not drawn (over max_nodes={max_nodes})"
    if caption:
        dot.attr(label=caption, labelloc="t")
        pic.caption = caption
    roles = {v.role for v in shown} | body_roles
    if in_pruned or target_set or values or roles - _PLAIN_ROLES or pic.clusters:
        _legend(
            pic,
            highlights=bool(in_pruned or target_set),
            values=bool(values),
            grads=bool(table and values),
            roles=roles,
            loops=bool(pic.clusters),
        )
    pic.finish()
    src = DotSource(dot.source)
    src.digraph = dot
    src.picture = pic
    return src


def _grad_table(table) -> Mapping:
    """A grad_table: Variables to their gradients (Variables), as gc.backprop returns it."""
    if not isinstance(table, Mapping) or not all(
        isinstance(k, Variable) and isinstance(g, Variable) for k, g in table.items()
    ):
        raise ArgumentError(
            f"to_dot: grad_table must map Variables to their gradients (Variables), got {table!r}"[:300]
        )
    return table


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


def _add_variable(pic, v, name, label, in_pruned, is_target, is_output):
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
    pic.node(name, label, **attrs)


def _add_apply(pic, v, ids, shown_set, in_pruned, values):
    a = v.owner
    colors = ROLE_COLORS[v.role]
    circle = f"a{ids[v][1:]}"
    pruned = v in in_pruned and any(i in in_pruned for i in a.inputs)
    pic.node(
        circle,
        _op_label(a.op),
        shape="box3d" if a.op.inner() is not None else "circle" if len(_op_label(a.op)) <= 3 else "ellipse",
        style="filled",
        fillcolor="white",
        color=PRUNED_LINE if pruned else colors["line"],
        penwidth="2.5" if pruned else "1.2",
    )
    backward = v.role == "grad"
    pic.edge(circle, ids[v], color=colors["line"], backward=backward)
    seen = set()
    for i in a.inputs:
        if i in seen:
            continue
        seen.add(i)
        if i not in shown_set:
            continue
        pic.edge(ids[i], circle, _edge_parts(values.get(i)), backward=backward and i.role == "grad")


VALUE_COLOR = "#2b7a0b"
GRAD_COLOR = "#c0392b"


def _edge_parts(pair) -> tuple:
    """The edge's label, as lecture 004 writes it: the value above, the gradient below."""
    if pair is None:
        return ()
    value, grad = pair
    parts = [(_short(value), VALUE_COLOR)]
    if grad is not None:
        parts.append((_short(grad), GRAD_COLOR))
    return tuple(parts)


def _add_collapsed(pic, hidden, ids, shown, shown_set):
    counts = Counter(v.owner.op.name if v.owner is not None else v.kind for v in hidden)
    common = ", ".join(f"{n:,} {op}" for op, n in counts.most_common(4))
    more = "" if len(counts) <= 4 else f", … ({len(counts) - 4} more kinds)"
    pic.node(
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
        pic.edge(n, "collapsed", style="dashed")
    for n in sorted(reads_out):
        pic.edge("collapsed", n, style="dashed")


def _legend(pic, *, highlights: bool, values: bool, grads: bool, roles: set, loops: bool = False):
    entries = []
    for role, text in ROLES.items():  # the roles drawn (forward and grad around a G′; both in loop bodies)
        plain = role in _PLAIN_ROLES
        if (role in roles and not plain) or (highlights and plain) or (loops and plain and role in roles):
            legend_name = {"forward": "legend_fwd", "grad": "legend_grad"}.get(role, f"legend_{role}")
            entries.append(
                (legend_name, text, {"shape": "box", "style": "filled", "fillcolor": ROLE_COLORS[role]["fill"]})
            )
    if highlights:
        entries += [
            ("legend_pruned", "in G′", {"shape": "box", "penwidth": "2.5", "color": PRUNED_LINE}),
            ("legend_target", "target", {"shape": "box", "peripheries": "2"}),
        ]
    if loops:
        entries.append(("legend_loop", "loop body: dashed edges bind it to its loop, grey ones carry to the next step",
                        {"shape": "box", "style": "rounded,dashed", "color": BINDING}))  # fmt: skip
    if values:  # what the two lines on an edge are
        entries.append(("legend_value", "value (edge label, first line)", {"shape": "plain", "fontcolor": VALUE_COLOR}))
    if grads:
        entries.append(("legend_gradient", "gradient of the cost (second line)",
                        {"shape": "plain", "fontcolor": GRAD_COLOR}))  # fmt: skip
    with pic.digraph.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", fontsize="9", color="#bbbbbb")
        for name, text, attrs in entries:
            leg.node(name, text, fontsize="9", **attrs)
            pic.legend.append((text, {"fontsize": "9", **attrs}))


def _display(obj, include=None, exclude=None) -> dict:
    """A Graph, a back-propagation result or a grad_table, drawn for a notebook."""
    if isinstance(obj, dict):  # a grad_table: z, every entry, and the graph between
        return to_dot(list(obj.values()), grad_table=obj)._repr_mimebundle_(include, exclude)
    return to_dot(obj)._repr_mimebundle_(include, exclude)


set_display(_display)
