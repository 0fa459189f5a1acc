"""Turning a ``DotSource`` into SVG: Graphviz's ``dot`` when installed, else a
networkx + matplotlib drawing (said once, as a warning)."""

from __future__ import annotations

import io
import warnings

import graphviz

__all__ = ["render_svg", "dot_available"]

_warned = False


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program can be run.

    Example:
        >>> isinstance(dot_available(), bool)
        True
    """
    try:
        graphviz.version()
    except (graphviz.ExecutableNotFound, OSError, RuntimeError):
        return False
    return True


def render_svg(src) -> str:
    """SVG text for a ``DotSource``.

    Example:
        >>> import graphcomp as gc
        >>> render_svg(gc.to_dot(gc.exp(gc.Variable("x")))).lstrip().startswith("<")
        True
    """
    global _warned
    try:
        return src.digraph.pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, OSError):
        if not _warned:
            _warned = True
            warnings.warn(
                "Graphviz's 'dot' program was not found; drawing with networkx and matplotlib instead "
                "(install graphviz, e.g. 'apt-get install graphviz', for the full picture)",
                RuntimeWarning,
                stacklevel=3,
            )
        return matplotlib_svg(src.nx_graph)


def matplotlib_svg(g) -> str:
    """Draw the picture's networkx view with matplotlib: boxes for Variables,
    circles for ops, laid out left to right by topological generation.

    Example:
        >>> import graphcomp as gc
        >>> "<svg" in matplotlib_svg(gc.to_dot(gc.exp(gc.Variable("x"))).nx_graph)
        True
    """
    import networkx as nx  # networkx and matplotlib load only for a picture drawn without dot

    try:
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "drawing a graph needs Graphviz's 'dot' program or matplotlib (pip install 'graphcomp[viz]')"
        ) from e
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for n in nodes:
            g.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer") if len(g) else {}
    depth = 1 + max((d["layer"] for _, d in g.nodes(data=True)), default=0)
    fig = Figure(figsize=(min(2 + 1.2 * depth, 40), 5))
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    for kind, shape in (("variable", "s"), ("op", "o")):
        nodes = [n for n, d in g.nodes(data=True) if d["kind"] == kind]
        fills = [g.nodes[n].get("fill", "white") for n in nodes]
        if kind == "op":
            fills = ["white"] * len(nodes)
        widths = [2.5 if g.nodes[n]["pruned"] else 1.0 for n in nodes]
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_shape=shape, node_color=fills, edgecolors="#333333",
                               linewidths=widths, node_size=900, ax=ax)  # fmt: skip
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, node_size=900)
    nx.draw_networkx_labels(g, pos, labels={n: d["label"] for n, d in g.nodes(data=True)}, font_size=7, ax=ax)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()
