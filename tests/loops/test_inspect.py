"""Loops seen from outside (issue 17, item 4): dprint prints the body (and the
gradient's body) under the loop node, to_dot draws each body as a cluster in
place of the loop's op (Graphviz and the matplotlib fallback alike), and
gc.backprop(..., trace=True) shows build_grad's steps inside the body. Each is
checked against the body the loop holds and the trace build_grad recorded on
it, and the fallback's drawing against the DOT source read independently."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.inspect import render
from graphcomp.inspect.dot import FORWARD, GRADIENT
from graphcomp.inspect.text import format_graph
from graphcomp.ops.loops.op import Scan

H, D, K = 3, 2, 2


def rnn():
    """The book's RNN (section 10.2) over an unknown number of steps, its loss and dW."""
    W, U, V = gc.Variable("W", (H, H)), gc.Variable("U", (H, D)), gc.Variable("V", (K, H))
    b, c, h0 = gc.Variable("b", (H,)), gc.Variable("c", (K,)), gc.Variable("h0", (H,))
    X, Y = gc.Variable("X", (None, D)), gc.Variable("Y", (None, K))

    def step(h, xy):
        x, y = xy
        h = gc.tanh(b + W @ h + U @ x)
        return h, -(y * gc.log_softmax(c + V @ h)).sum()

    _, losses = gc.scan(step, h0, (X, Y))
    loss = losses.sum()
    return loss, gc.grad(loss, W), locals()


def loops_of(outputs):
    return [v for v in gc.Graph(outputs).variables if v.owner is not None and isinstance(v.op, Scan)]


def number_of(line: str) -> int:
    """The number of the node a dprint line prints (or points to, ``-> #k``)."""
    m = re.search(r"  #(\d+)  ", line) or re.search(r"-> #(\d+)", line)
    return int(m.group(1))


# -- dprint ---------------------------------------------------------------------------------------------------


def test_dprint_prints_the_body_under_the_loop_node_with_what_each_placeholder_is_bound_to():
    loss, _, v = rnn()
    n = gc.Numbering(loss)
    lines = format_graph(loss, numbering=n).splitlines()
    (L,) = loops_of(loss)
    at = next(k for k, line in enumerate(lines) if line.lstrip().startswith("scan[T=?]"))
    assert lines[at + 1].strip() == "body, run at each step t = 0 ... T-1:"
    body_lines = [line for line in lines if "| " in line]
    b = L.op.body
    printed = {number_of(line) for line in body_lines}
    # every node of the body is printed in it, and nothing else is
    assert printed == {n[u] for u in b.nodes() if u.kind != "constant"}
    assert any("| new carry = tanh" in line for line in body_lines)
    assert any("| y = negative" in line for line in body_lines)
    # each placeholder names what the loop binds to it, by the number dprint gives that node
    carry = next(line for line in body_lines if f"#{n[b.carry_in[0]]} " in line)
    assert f"(carry entering step t; init #{n[v['h0']]})" in carry
    x0 = next(line for line in body_lines if f"#{n[b.x_in[0]]} " in line)
    assert f"(row t of #{n[v['X']]})" in x0
    W_in_body = next(line for line in body_lines if line.split("| ", 1)[1].strip().startswith("W (captured"))
    assert f"(captured #{n[v['W']]})" in W_in_body
    # the body comes before the loop's inputs, which are printed as usual
    assert any(line.strip().startswith("h0 (input)") for line in lines[at + 1 + len(body_lines) :])


def test_dprint_prints_the_gradient_body_and_what_the_forward_loop_kept():
    loss, dW, _ = rnn()
    n = gc.Numbering([loss, dW])
    text = format_graph([loss, dW], numbering=n, max_lines=500)
    back = next(u for u in loops_of(dW) if u.op.gradient is not None)
    info = back.op.gradient
    forward = next(u for u in loops_of(loss))
    head = f"gradient body: build_grad on the loop body of #{n[forward]}, run at each step t = T-1 ... 0"
    assert head in text
    kept = ", ".join(n.describe(k) for k in info.kept)
    assert f"the forward loop kept per step: {kept}:" in text and len(info.kept) == 3
    # the gradient body's nodes are printed, those build_grad made marked as gradient nodes
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if head in line)
    grad_body = [line for line in lines[start + 1 :] if "| " in line]
    assert {number_of(line) for line in grad_body} >= {n[u] for u in back.op.body.nodes() if u.owner is not None}
    assert sum("[grad via" in line for line in grad_body) > 10
    # the copy of the forward loop that stacks the kept values says whose body it is
    assert f"the body of #{n[forward]}, run at each step t = 0 ... T-1, also stacking per step: kept" in text


def test_dprint_prints_a_loop_inside_a_body_inside_it():
    x = gc.Variable("x", (3, 4))

    def outer(c, row):
        s, _ = gc.scan(lambda a, e: (a + gc.sin(e), None), 0.0, row)
        return c * s, None

    total, _ = gc.scan(outer, 1.0, x)
    lines = format_graph(total).splitlines()
    inner = [line for line in lines if line.count("| ") >= 2]
    assert any("new carry = add" in line for line in inner) and any("sin" in line for line in inner)
    assert sum("body, run at each step" in line for line in lines) == 2


def test_dprint_counts_what_max_lines_cuts_bodies_included():
    loss, dW, _ = rnn()
    full = format_graph([loss, dW], max_lines=10_000).splitlines()
    cut = format_graph([loss, dW], max_lines=20).splitlines()
    assert len(cut) == 21 and cut[-1].startswith("... ") and "more node(s) not shown" in cut[-1]
    assert cut[:20] == full[:20]
    # what is cut is counted: each node printed in full once, the bodies' nodes too
    printed = {number_of(line) for line in full if re.search(r"  #\d+  ", line)}
    hidden = int(re.search(r"\.\.\. (\d+) more", cut[-1]).group(1))
    shown = {number_of(line) for line in cut[:20] if re.search(r"  #\d+  ", line)}
    assert hidden == len(printed - shown)


# -- to_dot ---------------------------------------------------------------------------------------------------


def _clusters(src: str) -> dict[str, str]:
    """Each ``subgraph cluster_...`` of the DOT source and its text (nested ones inside)."""
    out, starts = {}, [m for m in re.finditer(r"subgraph (cluster_\w+) \{", src)]
    for m in starts:
        depth, k = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(src[k], 0)
            k += 1
        out[m.group(1)] = src[m.end() : k]
    return out


def test_to_dot_draws_each_body_as_a_cluster_in_place_of_the_loop_op():
    loss, dW, _ = rnn()
    n = gc.Numbering([loss, dW])
    src = gc.to_dot([loss, dW], numbering=n)
    clusters = {name: text for name, text in _clusters(src).items() if name != "cluster_legend"}
    loops = loops_of([loss, dW])
    assert len(clusters) == len(loops) == 3  # the loop, its value-keeping copy, the backward loop
    pic = src.picture
    for v in loops:
        name = next(c for c, (label, _, _) in pic.clusters.items() if f"#{n[v]}:" in label)
        body = v.op.body
        drawn = [pic.nodes[m][0] for m, c in pic.members.items() if c == name and not m.endswith("_op")]
        # one box per body node, labelled with the number dprint gives it
        assert len(drawn) == len(body.nodes())
        numbers = {int(k) for label in drawn for k in re.findall(r"#(\d+)", label)}
        assert numbers == {n[u] for u in body.nodes() if u.kind != "constant"}
        fills = {pic.nodes[m][1]["fillcolor"] for m, c in pic.members.items() if c == name and not m.endswith("_op")}
        want = GRADIENT["fill"] if v.op.gradient is not None else FORWARD["fill"]
        assert want in fills
        # each new carry goes to the next step's placeholder against the flow
        backs = [
            (t, h) for t, h, parts, a in pic.edges if a.get("constraint") == "false" and pic.members.get(t) == name
        ]
        assert len(backs) == sum(new is not p for new, p in zip(body.carry_out, body.carry_in))
    # no circle is drawn for a loop's op: its cluster stands there
    assert not any(label.startswith("scan[") for label, _ in pic.nodes.values())
    assert "next step" in src and "stacked" in src and "captured" in src


def test_to_dot_draws_a_loop_inside_a_body_as_a_cluster_inside_the_cluster():
    x = gc.Variable("x", (3, 4))

    def outer(c, row):
        s, _ = gc.scan(lambda a, e: (a + gc.sin(e), None), 0.0, row)
        return c * s, None

    total, _ = gc.scan(outer, 1.0, x)
    src = gc.to_dot(total)
    parents = {name: parent for name, (_, _, parent) in src.picture.clusters.items()}
    (inner,) = [name for name, parent in parents.items() if parent is not None]
    assert parents[parents[inner]] is None
    clusters = _clusters(src)
    assert f"subgraph {inner} " in clusters[parents[inner]]  # nested in the DOT source too
    if render.dot_available():
        svg = src.svg()
        assert svg.count('class="cluster"') >= 3  # two loops and the legend


def test_to_dot_draws_loop_bodies_within_max_nodes_and_says_which_it_did_not():
    loss, dW, _ = rnn()
    src = gc.to_dot([loss, dW], max_nodes=40)
    assert "loop bodies not drawn (over max_nodes=40)" in src.picture.caption
    assert len(src.picture.clusters) < 3


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(render, "_warned", True)
    assert not render.dot_available()


def _dot_texts(src: str) -> list[str]:
    texts = []
    for quoted, html_label, bare in re.findall(r'label=(?:"((?:[^"\\]|\\.)*)"|<(.*?)>(?=[ \]\n])|([^\s\]]+))', src):
        if html_label:
            texts += [html.unescape(t) for t in re.findall(r">([^<>]+)</font>", html_label)]
        else:
            texts += (quoted or bare).replace('\\"', '"').split("\n")
    return [t for t in texts if t.strip()]


def test_the_fallback_draws_every_text_of_the_dot_source_clusters_included(no_dot):
    pytest.importorskip("matplotlib")
    loss, dW, _ = rnn()
    src = gc.to_dot([loss, dW])
    svg = src.svg()
    assert "Generated by graphviz" not in svg
    # each line a <text> element, kept as text (svg.fonttype none)
    drawn = [html.unescape(t) for t in re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)]
    wanted = _dot_texts(src)
    assert any("gradient body" in t for t in wanted)
    missing = [t for t in wanted if t not in drawn]
    assert not missing, missing
    for t in set(wanted):
        assert drawn.count(t) >= wanted.count(t), t


def test_the_fallback_puts_each_body_inside_its_frame_and_the_frames_apart():
    pytest.importorskip("matplotlib")
    x = gc.Variable("x", (3, 4))

    def outer(c, row):
        s, _ = gc.scan(lambda a, e: (a + gc.sin(e), None), 0.0, row)
        return c * s, None

    total, _ = gc.scan(outer, 1.0, x)
    pic = gc.to_dot([total, gc.grad(total, x)]).picture
    nodes, frames, _ = render._layout(pic, render._Measure())

    def box(n):
        return n.x - n.w / 2, n.x + n.w / 2, n.y - n.h / 2, n.y + n.h / 2

    def inside(a, b):
        return b[0] <= a[0] and a[1] <= b[1] and b[2] <= a[2] and a[3] <= b[3]

    for name, holder in pic.members.items():  # every body node within its cluster's frame, and its parents'
        while holder is not None:
            assert inside(box(nodes[name]), box(frames[holder])), (name, holder)
            holder = pic.clusters[holder][2]
    outside = [m for m in pic.nodes if m not in pic.members]
    for f in frames.values():  # no node of the graph outside a loop sits in a frame
        for m in outside:
            a, b = box(nodes[m]), box(f)
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], (m, f.name)
    top = [f for f in frames.values() if pic.clusters[f.name][2] is None]
    for i, f in enumerate(top):
        for g in top[i + 1 :]:
            a, b = box(f), box(g)
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2]


# -- the trace ------------------------------------------------------------------------------------------------


def test_the_trace_shows_build_grad_inside_the_body_after_the_loops_contribution():
    loss, _, v = rnn()
    r = gc.backprop(loss, [v["W"], v["U"]], trace=True)
    steps = r.trace
    (L,) = loops_of(loss)
    k = next(i for i, s in enumerate(steps) if s.kind == "contribution" and s.consumer is L)
    assert steps[k + 1].kind == "body" and steps[k + 1].variable is L
    back = steps[k + 1].term
    inner = back.op.gradient.backprop.trace
    spliced = steps[k + 2 : k + 2 + len(inner)]
    # the body's own trace, one level down, each step knowing its loop
    assert [(s.kind, s.variable, s.term) for s in spliced] == [(s.kind, s.variable, s.term) for s in inner]
    assert all(s.depth == 1 and s.loop is L for s in spliced)
    assert all(s.depth == 0 for s in steps[k + 2 + len(inner) :])
    # the body's build_grad reached the captured W and U placeholders
    sums = {s.variable for s in spliced if s.kind == "sum"}
    captured = set(L.op.body.captured)
    assert {p.name for p in sums if p in captured} == {"W", "U"}
    # spliced once, though the loop's bprop serves both W and U
    assert sum(s.kind == "body" for s in steps) == 1
    text = gc.format_trace(r).splitlines()
    assert any(line.startswith("  | build_grad(") for line in text)
    assert any(".bprop ran build_grad on its loop body" in line for line in text)


def test_the_trace_of_a_nested_loop_goes_two_levels_down():
    x = gc.Variable("x", (3, 4))

    def outer(c, row):
        s, _ = gc.scan(lambda a, e: (a + gc.sin(e) * c, None), 0.0, row)
        return c * s, None

    total, _ = gc.scan(outer, 1.0, x)
    r = gc.backprop(total, [x], trace=True)
    assert max(s.depth for s in r.trace) == 2
    assert sum(s.kind == "body" for s in r.trace) == 2
    assert any(line.startswith("  | | ") for line in gc.format_trace(r).splitlines())


def test_a_value_and_gradient_of_a_loop_still_agree_with_the_unrolled_loop_after_inspection():
    """Inspection builds nodes on the bodies (check_grad's projections, explain's probes):
    the loop's results do not change."""
    loss, dW, v = rnn()
    rng = np.random.default_rng(0)
    T = 5
    feed = {v[k]: rng.standard_normal(v[k].shape if None not in v[k].shape else (T, v[k].shape[1])) for k in v
            if isinstance(v[k], gc.Variable) and v[k].kind == "input"}  # fmt: skip
    before = gc.evaluate([loss, dW], feed)
    gc.check_grad(loss, v["W"], feed)
    gc.explain_grad(loss, v["W"], feed)
    format_graph([loss, dW])
    gc.to_dot([loss, dW])
    after = gc.evaluate([loss, dW], feed)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
