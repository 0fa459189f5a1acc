"""Turning a ``DotSource`` into a picture: Graphviz's ``dot`` program when it is
installed, else a matplotlib drawing of the same ``Picture`` (said once, as a
warning).

The drawing is the same picture, not a sketch of it: every node with its label
(name, ``#k``, shape, value), boxes for Variables and circles for ops in the
same colours and line widths, every edge with its value and gradient, the
legend and the caption. Only the layout is graphcomp's own, Graphviz's method
in small (Sugiyama et al. 1981, as Gansner et al. 1993 use it for ``dot``):
ranks by longest path, an edge that skips ranks routed through one point per
rank, its label a point of its own with the label's size, two ranks per edge
so labels never sit on nodes, barycentre sweeps for the order within a rank.
Every label is measured with the renderer that draws it, and its node is sized
to hold it.
"""

from __future__ import annotations

import io
import math
import subprocess
import warnings

import graphviz

from graphcomp.errors import ArgumentError

__all__ = ["render", "render_svg", "dot_available", "draw", "figure"]

_warned = False

FORMATS = ("svg", "png", "pdf")


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


#: seconds Graphviz's ``dot`` may take to lay a picture out before the matplotlib drawing is used instead
LAYOUT_TIMEOUT = 20.0


def render(src, format: str = "svg", *, timeout: float | None = None) -> bytes:  # noqa: A002 - Graphviz's own name
    """The picture of a ``DotSource`` as ``"svg"``, ``"png"`` or ``"pdf"`` bytes:
    from ``dot`` when it runs, else from ``draw`` (a warning says so once).

    ``dot`` gets ``timeout`` seconds (default ``LAYOUT_TIMEOUT``, 20): a layout
    that runs past it is stopped and the same picture is drawn with matplotlib,
    with a warning naming the picture's size; later renders of the same
    ``DotSource`` use the drawing at once rather than wait again (unless given
    a longer timeout). Raises
    ``gc.ArgumentError`` for another format or a timeout that is not a positive
    number of seconds.

    Example:
        >>> import graphcomp as gc
        >>> render(gc.to_dot(gc.exp(gc.Variable("x"))), "svg").lstrip().startswith(b"<")
        True
    """
    global _warned
    if format not in FORMATS:
        raise ArgumentError(f"render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    seconds = layout_timeout(timeout, "render")
    if seconds <= getattr(src, "_layout_timed_out", 0.0):  # dot ran out of this much time on it before
        return draw(src.picture, format)
    try:
        return _run_dot(str(src), format, seconds)
    except subprocess.TimeoutExpired:
        src._layout_timed_out = seconds
        nodes, edges = len(src.picture.nodes), len(src.picture.edges)
        warnings.warn(
            f"Graphviz's 'dot' did not lay out this picture ({nodes} nodes, {edges} edges) within {seconds:g} s; "
            "drawing the same picture with matplotlib instead (pass timeout= to wait longer, or a smaller "
            "max_nodes to to_dot)",
            RuntimeWarning,
            stacklevel=3,
        )
    except (OSError, _DotFailed) as e:
        if not _warned:
            _warned = True
            why = "was not found" if isinstance(e, OSError) else f"failed ({e})"
            warnings.warn(
                f"Graphviz's 'dot' program {why}; drawing the same picture with matplotlib instead "
                "(install graphviz, e.g. 'apt-get install graphviz', for Graphviz's own layout)",
                RuntimeWarning,
                stacklevel=3,
            )
    return draw(src.picture, format)


def layout_timeout(timeout, who: str) -> float:
    """``timeout`` as seconds (None: ``LAYOUT_TIMEOUT``), or an ArgumentError naming ``who``.

    Example:
        >>> layout_timeout(None, "render") == LAYOUT_TIMEOUT, layout_timeout(2, "save")
        (True, 2.0)
    """
    if timeout is None:
        return float(LAYOUT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 or timeout == math.inf:
        raise ArgumentError(f"{who}: timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class _DotFailed(Exception):
    """``dot`` ran and exited with an error (its message says why)."""


def _run_dot(source: str, format: str, seconds: float) -> bytes:  # noqa: A002
    """Graphviz's own ``dot -T<format>`` on ``source``, stopped after ``seconds``
    (``subprocess.run`` kills it then and raises ``TimeoutExpired``)."""
    done = subprocess.run(
        ["dot", f"-T{format}"], input=source.encode("utf-8"), capture_output=True, timeout=seconds, check=False
    )
    if done.returncode != 0:
        raise _DotFailed(done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}")
    return done.stdout


def render_svg(src) -> str:
    """SVG text for a ``DotSource`` (``render(src, "svg")`` as text).

    Example:
        >>> import graphcomp as gc
        >>> render_svg(gc.to_dot(gc.exp(gc.Variable("x")))).lstrip().startswith("<")
        True
    """
    return render(src, "svg").decode("utf-8")


def draw(picture, format: str = "svg") -> bytes:  # noqa: A002
    """Draw a ``Picture`` (``to_dot(...).picture``) with matplotlib, without
    Graphviz: ``"svg"``, ``"png"`` or ``"pdf"`` bytes. In SVG each line of text
    is a ``<text>`` element (matplotlib's ``svg.fonttype = "none"``), as in
    Graphviz's SVG: labels can be searched, selected and copied, and a viewer
    draws them in its own font.

    Example:
        >>> import graphcomp as gc
        >>> b">exp</text>" in draw(gc.to_dot(gc.exp(gc.Variable("x"))).picture)
        True
    """
    if format not in FORMATS:
        raise ArgumentError(f"draw: format must be one of {', '.join(FORMATS)}, got {format!r}")
    fig = figure(picture)
    buf = io.BytesIO()
    dpi = min(100.0, 20000 * 72 / max(fig.get_size_inches().max() * 72, 1))  # PNG side at most 20000 pixels
    from matplotlib import rc_context

    with rc_context({"svg.fonttype": "none"}):  # text stays text, not glyph outlines
        fig.savefig(buf, format=format, dpi=dpi)
    return buf.getvalue()


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "drawing a graph needs Graphviz's 'dot' program or matplotlib (pip install 'graphcomp[viz]')"
        ) from e
    return Figure, FigureCanvasAgg


# -- measures, in points ------------------------------------------------------------------------------------------

_PAD_X, _PAD_Y = 8.0, 5.0  # text to border, as Graphviz's default margin (0.11 x 0.055 inches)
_RANK_GAP = 16.0  # between a rank and the next (a node's rank and its edges' label rank)
_NODE_GAP = 12.0  # between two nodes of one rank
_MARGIN = 12.0


def _fontsize(attrs: dict, default: float) -> float:
    try:
        return float(attrs.get("fontsize", default))
    except ValueError:
        return default


class _Measure:
    """Text extents, in points, from the renderer that will draw them."""

    def __init__(self):
        Figure, FigureCanvasAgg = _matplotlib()
        self.fig = Figure(figsize=(1, 1), dpi=72)  # 1 pixel = 1 point
        self.renderer = FigureCanvasAgg(self.fig).get_renderer()
        self.cache: dict = {}

    def __call__(self, text: str, size: float) -> tuple[float, float]:
        key = (text, size)
        hit = self.cache.get(key)
        if hit is None:
            t = self.fig.text(0, 0, text, fontsize=size, ha="center", va="center", multialignment="center")
            box = t.get_window_extent(self.renderer)
            t.remove()
            hit = self.cache[key] = (box.width, box.height)
        return hit


class _Node:
    __slots__ = ("name", "label", "attrs", "shape", "w", "h", "rank", "x", "y", "order", "parts", "inside")

    def __init__(self, name, label, attrs, shape, w, h, parts=()):
        self.name, self.label, self.attrs, self.shape = name, label, attrs, shape
        self.w, self.h, self.parts = w, h, parts
        self.rank, self.x, self.y, self.order = 0, 0.0, 0.0, 0.0
        self.inside: tuple = ()  # a cluster's frame: (what it holds, their centre x and y, its title's height)


def _sized(name: str, label: str, attrs: dict, measure: _Measure) -> _Node:
    shape = attrs.get("shape", "box")
    tw, th = measure(label, _fontsize(attrs, 10))
    if shape == "circle":
        d = max(tw, th) * 1.15 + 2 * _PAD_Y
        w = h = max(d, 26.0)
    elif shape == "ellipse":  # an ellipse through the corners of the text box, with room
        w, h = max(tw * 1.42 + 2 * _PAD_Y, 40.0), max(th * 1.42 + 2 * _PAD_Y, 26.0)
    elif shape == "plain":
        w, h = tw, th
    else:
        w, h = max(tw + 2 * _PAD_X, 36.0), max(th + 2 * _PAD_Y, 22.0)
    if attrs.get("peripheries") == "2":
        w, h = w + 8, h + 8
    return _Node(name, label, attrs, shape, w, h)


# -- the layout ---------------------------------------------------------------------------------------------------


def _ranks(names: list[str], edges: list) -> dict[str, int]:
    """Longest path from a source, by Kahn's order. Edges as the DOT source writes
    them (the gradient graph's drawn backward) can close a cycle, as in a graph of
    second derivatives: then, as ``dot`` does, the cycle is broken by turning an
    edge round: the first waiting node in ``names`` is taken as if ready, and each
    edge is laid out from the end taken first to the other."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    indeg = dict.fromkeys(names, 0)
    for t, h in edges:
        succ[t].append(h)
        indeg[h] += 1
    ready = [n for n in names if indeg[n] == 0]
    order: dict[str, int] = {}
    waiting = iter(names)
    while len(order) < len(names):
        if not ready:  # a cycle: break it at the first node not taken yet
            ready.append(next(n for n in waiting if n not in order))
        n = ready.pop()
        if n in order:
            continue
        order[n] = len(order)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0 and m not in order:
                ready.append(m)
    later: dict[str, list[str]] = {n: [] for n in names}  # each edge from the end taken first: a DAG
    for t, h in edges:
        a, b = (t, h) if order[t] < order[h] else (h, t)
        later[a].append(b)
    rank = dict.fromkeys(names, 0)
    for n in sorted(names, key=order.__getitem__):
        for m in later[n]:
            rank[m] = max(rank[m], rank[n] + 1)
    fed = {b for bs in later.values() for b in bs}
    for n in names:  # a constant or an input sits just before its first reader, as dot puts it
        if n not in fed and later[n]:
            rank[n] = min(rank[m] for m in later[n]) - 1
    return rank


_CLUSTER_PAD = 10.0  # a cluster's frame around what it holds


def _layout(picture, measure: _Measure):
    """Nodes with positions (points, y downwards), each cluster's frame, each edge
    laid out as a polyline of nodes (by its index in ``picture.edges``).

    A cluster (a loop's body) is laid out first, innermost first, as a graph of
    its own; then it is one node of its parent's layout, of its frame's size, and
    what it holds is moved into the frame. An edge into or out of a cluster, and
    one against the flow (``constraint="false"``: a carry to the next step), is
    drawn straight across, but still orders and ranks the nodes it joins."""
    nodes = {n: _sized(n, label, attrs, measure) for n, (label, attrs) in picture.nodes.items()}
    clusters = getattr(picture, "clusters", {})
    members = getattr(picture, "members", {})
    parent = {c: p for c, (_, _, p) in clusters.items()}
    depth: dict = {}
    for c in clusters:  # a parent is made before its clusters
        depth[c] = 0 if parent[c] is None else depth[parent[c]] + 1
    frames = {}
    for c, (label, attrs, _) in clusters.items():
        frames[c] = _Node(c, label, attrs, "cluster", 0.0, 0.0)

    def rep(n: str, level):
        """The item of ``level`` (a cluster, or None: the top) that holds ``n``, or None."""
        while True:
            holder = members.get(n) if n in nodes else parent[n]
            if holder == level:
                return n
            if holder is None:
                return None
            n = holder

    chains: dict[int, list] = {}
    for level in sorted(clusters, key=lambda c: -depth[c]) + [None]:
        items = {n: nodes[n] for n in nodes if members.get(n) == level}
        items.update({c: frames[c] for c in clusters if parent[c] == level})
        drawn, guides = [], []
        for k, (t, h, parts, attrs) in enumerate(picture.edges):
            if attrs.get("constraint") == "false":
                continue
            rt, rh = rep(t, level), rep(h, level)
            if rt is None or rh is None or rt == rh:
                continue
            if rt == t and rh == h:
                drawn.append((k, t, h, parts, attrs))
            else:
                guides.append((k, rt, rh, nodes[t], nodes[h], parts, attrs))
        level_chains, dummies = _arrange(items, drawn, guides, measure)
        chains.update(level_chains)
        if level is not None:
            _fit(frames[level], list(items.values()) + dummies, measure)
    for c in sorted(clusters, key=lambda c: depth[c]):  # each frame is where its parent put it: fill it
        f = frames[c]
        held, cx, cy, title = f.inside
        dx, dy = f.x - cx, f.y + title / 2 - cy
        for n in held:
            n.x += dx
            n.y += dy
    return nodes, frames, chains


def _arrange(items: dict, drawn: list, guides: list, measure: _Measure) -> tuple[dict, list]:
    """Lay out one graph (the top, or a cluster's inside): ranks, bends and labels of
    the ``drawn`` edges, order within ranks, positions. ``guides`` are edges that
    only rank and order (they join something inside a cluster)."""
    names = list(items)
    rank = _ranks(names, [(t, h) for _, t, h, _, _ in drawn] + [(t, h) for _, t, h, *_ in guides])
    for n in names:
        items[n].rank = 2 * rank[n]  # the odd ranks between hold the edges' labels and bends
    chains, dummies, layout = {}, [], []
    for k, t, h, parts, attrs in drawn:
        points_at = t if attrs.get("dir") == "back" else h
        if items[h].rank < items[t].rank:  # turned round to break a cycle: laid out from h
            t, h = h, t
        attrs = {**attrs, "arrow": "end" if points_at == h else "start"}
        chain = [items[t]]
        for r in range(items[t].rank + 1, items[h].rank):
            if r == items[t].rank + 1 and parts:
                d = _label_node(k, r, parts, attrs, measure)
            else:
                d = _Node(f"_e{k}_{r}", "", attrs, "point", 0.0, 6.0)
            d.rank = r
            chain.append(d)
            dummies.append(d)
        chain.append(items[h])
        chains[k] = (chain, attrs)
        layout.append((chain, attrs))
    for k, t, h, tail, head, parts, attrs in guides:  # into a cluster: its label gets a place at this level
        points_at = tail if attrs.get("dir") == "back" else head
        if items[h].rank < items[t].rank:
            t, h, tail, head = h, t, head, tail
        attrs = {**attrs, "arrow": "end" if points_at is head else "start"}
        if parts and items[h].rank > items[t].rank + 1:
            d = _label_node(k, items[t].rank + 1, parts, attrs, measure)
            d.rank = items[t].rank + 1
            dummies.append(d)
            chains[k] = ([tail, d, head], attrs)
            layout.append(([items[t], d, items[h]], attrs))
        else:
            layout.append(([items[t], items[h]], attrs))
    ranks: dict[int, list[_Node]] = {}
    for n in list(items.values()) + dummies:
        ranks.setdefault(n.rank, []).append(n)
    _order(ranks, layout)
    _place(ranks, layout)
    return chains, dummies


def _label_node(k: int, r: int, parts: tuple, attrs: dict, measure: _Measure) -> _Node:
    """The point of edge ``k`` at rank ``r`` that holds its label, of the label's size."""
    text = "\n".join(p for p, _ in parts)
    tw, th = measure(text, _fontsize(attrs, 9))
    return _Node(f"_e{k}_{r}", text, attrs, "label", tw + 6, th + 4, parts)


def _fit(frame: _Node, held: list, measure: _Measure) -> None:
    """Size a cluster's frame around what it holds (laid out), its title on top."""
    size = _fontsize(frame.attrs, 10)
    tw, th = measure(frame.label, size)
    title = th + 6
    if held:
        left = min(n.x - n.w / 2 for n in held)
        right = max(n.x + n.w / 2 for n in held)
        top = min(n.y - n.h / 2 for n in held)
        bottom = max(n.y + n.h / 2 for n in held)
    else:
        left = right = top = bottom = 0.0
    frame.w = max(right - left, tw) + 2 * _CLUSTER_PAD
    frame.h = bottom - top + 2 * _CLUSTER_PAD + title
    frame.inside = (held, (left + right) / 2, (top + bottom) / 2, title)


def _neighbours(chains) -> tuple[dict, dict]:
    up: dict = {}
    down: dict = {}
    for chain, _ in chains:
        for a, b in zip(chain, chain[1:]):
            down.setdefault(id(a), []).append(b)
            up.setdefault(id(b), []).append(a)
    return up, down


def _order(ranks: dict[int, list[_Node]], chains) -> None:
    """Barycentre sweeps: each node moves to the mean position of its neighbours
    in the rank swept from, which uncrosses most edges of a DAG this size."""
    up, down = _neighbours(chains)
    for nodes in ranks.values():
        for k, n in enumerate(nodes):
            n.order = float(k)
    keys = sorted(ranks)
    for sweep in range(8):
        seq, side = (keys[1:], up) if sweep % 2 == 0 else (keys[-2::-1], down)
        for r in seq:
            for n in ranks[r]:
                near = side.get(id(n))
                if near:
                    n.order = sum(m.order for m in near) / len(near)
            ranks[r].sort(key=lambda n: n.order)
            for k, n in enumerate(ranks[r]):
                n.order = float(k)


def _place(ranks: dict[int, list[_Node]], chains) -> None:
    """x by rank (each rank as wide as its widest node); y stacked in order, then
    pulled towards the neighbours' mean while keeping every gap."""
    x = 0.0
    keys = sorted(ranks)
    prev_half = 0.0
    for r in keys:
        half = max(n.w for n in ranks[r]) / 2
        x += prev_half + half + (_RANK_GAP if r != keys[0] else 0.0)
        for n in ranks[r]:
            n.x = x
        prev_half = half
    for nodes in ranks.values():
        _stack(nodes, [0.0] * len(nodes))
    up, down = _neighbours(chains)
    for sweep in range(24):
        seq, side = (keys, up) if sweep % 2 == 0 else (keys[::-1], down)
        for r in seq:
            want = []
            for n in ranks[r]:
                # a bend or a label lies between its two ends: straight edges read best
                near = up.get(id(n), []) + down.get(id(n), []) if n.shape in ("point", "label") else side.get(id(n))
                want.append(sum(m.y for m in near) / len(near) if near else n.y)
            _stack(ranks[r], want)


def _stack(nodes: list[_Node], want: list[float]) -> None:
    """Put ``nodes`` in their order at the wanted heights where the gaps allow,
    then shift them all so that on average they sit where wanted."""
    prev = None
    for n, w in zip(nodes, want):
        n.y = w if prev is None else max(w, prev.y + (prev.h + n.h) / 2 + _NODE_GAP)
        prev = n
    shift = sum(w - n.y for n, w in zip(nodes, want)) / len(nodes) if nodes else 0.0
    for n in nodes:
        n.y += shift


# -- the drawing --------------------------------------------------------------------------------------------------


def _color(attrs: dict, key: str, default: str) -> str:
    return attrs.get(key, default)


def _boundary(n: _Node, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the segment from ``n``'s centre to ``toward`` leaves ``n``."""
    dx, dy = toward[0] - n.x, toward[1] - n.y
    if n.shape in ("point", "label") or (dx == 0 and dy == 0):
        return n.x, n.y
    a, b = n.w / 2, n.h / 2
    if n.shape in ("circle", "ellipse"):
        t = 1.0 / ((dx / a) ** 2 + (dy / b) ** 2) ** 0.5
    else:
        t = min(a / abs(dx) if dx else float("inf"), b / abs(dy) if dy else float("inf"))
    return n.x + t * dx, n.y + t * dy


def _draw_node(ax, n: _Node, x: float, y: float) -> None:
    a = n.attrs
    style = a.get("style", "")
    fill = _color(a, "fillcolor", "white") if "filled" in style else "none"
    line = _color(a, "color", "black")
    width = float(a.get("penwidth", 2.0 if "bold" in style else 1.0))
    if "bold" in style:
        width = max(width, 2.0)
    w, h = n.w, n.h
    if n.shape != "plain":
        if a.get("peripheries") == "2":
            _outline(ax, n.shape, x, y, w, h, line, width, "none", "rounded" in style)
            w, h = w - 8, h - 8
        _outline(ax, n.shape, x, y, w, h, line, width, fill, "rounded" in style)
    ax.text(x, y, n.label, fontsize=_fontsize(a, 10), ha="center", va="center", multialignment="center",
            color=_color(a, "fontcolor", "black"), zorder=4)  # fmt: skip


def _outline(ax, shape, x, y, w, h, line, width, fill, rounded) -> None:
    from matplotlib.patches import Circle, Ellipse, FancyBboxPatch

    if shape == "circle":
        patch = Circle((x, y), w / 2)
    elif shape == "ellipse":
        patch = Ellipse((x, y), w, h)
    else:
        style = "round,pad=0,rounding_size=5" if rounded else "square,pad=0"
        patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style)
    patch.set(facecolor=fill, edgecolor=line, linewidth=width, zorder=3)
    ax.add_patch(patch)


def _draw_frame(ax, f: _Node) -> None:
    """A cluster: a rounded (dashed) frame, its title along the top."""
    from matplotlib.patches import FancyBboxPatch

    a = f.attrs
    color = _color(a, "color", "#888888")
    frame = FancyBboxPatch((f.x - f.w / 2, -f.y - f.h / 2), f.w, f.h, boxstyle="round,pad=0,rounding_size=8",
                           facecolor="none", edgecolor=color, linewidth=1.0,
                           linestyle="--" if "dashed" in a.get("style", "") else "-", zorder=1)  # fmt: skip
    ax.add_patch(frame)
    size = _fontsize(a, 10)
    ax.text(f.x, -f.y + f.h / 2 - _CLUSTER_PAD / 2, f.label, fontsize=size, ha="center", va="top",
            color=_color(a, "fontcolor", "black"), zorder=4)  # fmt: skip


def _draw_across(ax, a: _Node, b: _Node, parts: tuple, attrs: dict, measure: _Measure) -> None:
    """An edge drawn straight from ``a`` to ``b`` (into a cluster), or bent (a carry
    going back to the next step), its label at the middle."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    back = attrs.get("constraint") == "false"
    first, last = _boundary(a, (b.x, b.y)), _boundary(b, (a.x, a.y))
    mx, my = (first[0] + last[0]) / 2, (first[1] + last[1]) / 2
    if back:  # bow out of the straight line so it is not drawn over the forward path
        dx, dy = last[0] - first[0], last[1] - first[1]
        length = max((dx * dx + dy * dy) ** 0.5, 1.0)
        bow = max(40.0, 0.2 * length)
        cx, cy = mx + dy / length * bow, my - dx / length * bow
        path = Path([(first[0], -first[1]), (cx, -cy), (last[0], -last[1])], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
        mx, my = (mx + cx) / 2, (my + cy) / 2  # the curve's apex, where its label goes
    else:
        path = Path([(first[0], -first[1]), (last[0], -last[1])])
    style = "<|-" if attrs.get("dir") == "back" else "-|>"  # written head -> tail: the arrow points at the tail
    arrow = FancyArrowPatch(path=path, arrowstyle=style, mutation_scale=9, color=_color(attrs, "color", "#555555"),
                            linewidth=1.0, linestyle="--" if attrs.get("style") == "dashed" else "-",
                            zorder=2)  # fmt: skip
    ax.add_patch(arrow)
    if parts:
        text = "\n".join(p for p, _ in parts)
        tw, th = measure(text, _fontsize(attrs, 9))
        label = _Node("_across", text, attrs, "label", tw + 6, th + 4, parts)
        label.x, label.y = mx, my
        _draw_parts(ax, label, _fontsize(attrs, 9))


def _draw_edge(ax, chain: list[_Node], attrs: dict) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    pts = []
    for n in chain[1:-1]:  # a label is crossed from its left side to its right
        pts += [(n.x - n.w / 2, n.y), (n.x + n.w / 2, n.y)] if n.w else [(n.x, n.y)]
    first = _boundary(chain[0], pts[0] if pts else (chain[-1].x, chain[-1].y))
    last = _boundary(chain[-1], pts[-1] if pts else (chain[0].x, chain[0].y))
    verts = [first, *pts, last]
    color = _color(attrs, "color", "#555555")
    style = "-|>" if attrs.get("arrow", "end") == "end" else "<|-"
    arrow = FancyArrowPatch(path=Path([(x, -y) for x, y in verts]), arrowstyle=style, mutation_scale=9,
                            color=color, linewidth=1.0, linestyle="--" if attrs.get("style") == "dashed" else "-",
                            zorder=2)  # fmt: skip
    ax.add_patch(arrow)
    for n in chain[1:-1]:
        if n.parts:
            _draw_parts(ax, n, _fontsize(attrs, 9))


def _draw_parts(ax, n: _Node, size: float) -> None:
    """The edge label's lines, each in its colour, on a white ground over the edge."""
    from matplotlib.patches import FancyBboxPatch

    ground = FancyBboxPatch((n.x - n.w / 2, -n.y - n.h / 2), n.w, n.h, boxstyle="round,pad=0,rounding_size=3",
                            facecolor="white", edgecolor="none", alpha=0.9, zorder=3)  # fmt: skip
    ax.add_patch(ground)
    step = n.h / len(n.parts) if n.parts else 0
    top = -n.y + n.h / 2
    for k, (text, color) in enumerate(n.parts):
        ax.text(n.x, top - step * (k + 0.5), text, fontsize=size, color=color, ha="center", va="center", zorder=4)


def figure(picture):
    """The matplotlib Figure ``draw`` saves: one point of layout is one point
    of paper, so every label has the room it was measured to need.

    Example:
        >>> import graphcomp as gc
        >>> fig = figure(gc.to_dot(gc.exp(gc.Variable("x"))).picture)
        >>> sorted(t.get_text() for t in fig.axes[0].texts)
        ['#1', 'exp', 'x  #0']
    """
    Figure, FigureCanvasAgg = _matplotlib()
    measure = _Measure()
    nodes, frames, chains = _layout(picture, measure)
    every = list(nodes.values())
    outline = every + list(frames.values())
    xs = [n.x - n.w / 2 for n in outline] + [n.x + n.w / 2 for n in outline]
    ys = [n.y - n.h / 2 for n in outline] + [n.y + n.h / 2 for n in outline]
    for chain, _ in chains.values():
        for d in chain[1:-1]:
            xs += [d.x - d.w / 2, d.x + d.w / 2]
            ys += [d.y - d.h / 2, d.y + d.h / 2]
    left, right = (min(xs), max(xs)) if xs else (0.0, 0.0)
    top, bottom = (min(ys), max(ys)) if ys else (0.0, 0.0)
    legend = [_sized(f"_legend{k}", text, attrs, measure) for k, (text, attrs) in enumerate(picture.legend)]
    legend_h = (max(n.h for n in legend) + 26) if legend else 0.0
    legend_w = sum(n.w + 10 for n in legend) + 10 if legend else 0.0
    caption_h = measure(picture.caption, 11)[1] + 8 if picture.caption else 0.0
    caption_w = measure(picture.caption, 11)[0] if picture.caption else 0.0
    width = max(right - left, legend_w, caption_w) + 2 * _MARGIN
    height = (bottom - top) + legend_h + caption_h + 2 * _MARGIN
    fig = Figure(figsize=(max(width, 1.0) / 72, max(height, 1.0) / 72))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    x0 = left - _MARGIN - (width - 2 * _MARGIN - (right - left)) / 2
    ax.set_xlim(x0, x0 + width)
    ax.set_ylim(-(bottom + _MARGIN + legend_h), -(top - _MARGIN - caption_h))
    for f in frames.values():
        _draw_frame(ax, f)
    for k, (t, h, parts, attrs) in enumerate(picture.edges):
        if k in chains:
            _draw_edge(ax, *chains[k])
        else:  # into or out of a cluster, or back to the next step
            _draw_across(ax, nodes[t], nodes[h], parts, attrs, measure)
    for n in every:
        _draw_node(ax, n, n.x, -n.y)
    if picture.caption:
        ax.text(x0 + width / 2, -(top - caption_h / 2 - 4), picture.caption, fontsize=11, ha="center", va="center")
    if legend:
        _draw_legend(ax, legend, x0 + width / 2, -(bottom + 8), legend_w, legend_h)
    return fig


def _draw_legend(ax, legend, centre_x, top_y, w, h) -> None:
    from matplotlib.patches import Rectangle

    frame = Rectangle((centre_x - w / 2, top_y - h), w, h, facecolor="none", edgecolor="#bbbbbb", linewidth=1)
    ax.add_patch(frame)
    ax.text(centre_x, top_y - 8, "legend", fontsize=9, ha="center", va="center")
    x = centre_x - w / 2 + 10
    row = top_y - 16 - max(n.h for n in legend) / 2
    for n in legend:
        _draw_node(ax, n, x + n.w / 2, row)
        x += n.w + 10
