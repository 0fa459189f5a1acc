"""gc.save / gc.load with loops (issue 17, item 4): a loaded loop runs, compiles,
merges and differentiates like the original (checked against the original's
results and against finite differences of the loaded graph), nested loops,
op_from_graph groups inside bodies, reversed and indexed loops included; a
damaged loop record is refused."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.inspect.text import format_graph
from graphcomp.ops.loops import body as body_module
from graphcomp.ops.loops.op import Scan
from tests.loops.common import assert_close, central_fd

H, D, K = 3, 2, 4


def rnn(checkpoint=False):
    W, U, V = gc.Variable("W", (H, H)), gc.Variable("U", (H, D)), gc.Variable("V", (K, H))
    b, c, h0 = gc.Variable("b", (H,)), gc.Variable("c", (K,)), gc.Variable("h0", (H,))
    X, Y = gc.Variable("X", (None, D)), gc.Variable("Y", (None, K))

    def step(h, xy):
        x, y = xy
        h = gc.tanh(b + W @ h + U @ x)
        return h, -(y * gc.log_softmax(c + V @ h)).sum()

    _, losses = gc.scan(step, h0, (X, Y), checkpoint=checkpoint)
    return losses.sum(), [W, U, V, b, c, h0, X, Y]


def feed_by_name(T=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((H, H)) * 0.5, "U": rng.standard_normal((H, D)), "V": rng.standard_normal((K, H)),
            "b": rng.standard_normal(H) * 0.1, "c": rng.standard_normal(K) * 0.1, "h0": rng.standard_normal(H),
            "X": rng.standard_normal((T, D)), "Y": np.eye(K)[rng.integers(0, K, T)]}  # fmt: skip


def inputs_of(outputs):
    return {v.name: v for v in gc.Graph(outputs).variables if v.kind == "input" and v.name}


def version(path) -> int:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("manifest.json"))["version"]


@pytest.mark.parametrize("checkpoint", [False, True])
def test_a_loaded_rnn_runs_compiles_and_differentiates_like_the_original(tmp_path, checkpoint):
    loss, vs = rnn(checkpoint)
    W, U, V = vs[:3]
    grads = gc.grad(loss, vs[:6])
    hv = gc.hvp(loss, W, gc.ones_like(W))
    path = gc.save([loss, *grads, hv], tmp_path / "rnn.gcz")
    assert version(path) == 3
    loaded = gc.load(path)
    feed = feed_by_name()
    want = gc.evaluate([loss, *grads, hv], feed)
    for got, w in zip(gc.evaluate(loaded, feed), want):
        assert_close(got, w, rtol=0, atol=0)
    ins = inputs_of(loaded)
    order = ["W", "U", "V", "b", "c", "h0", "X", "Y"]
    f = gc.compile(loaded, [ins[k] for k in order])
    for got, w in zip(f(*(feed[k] for k in order)), want):
        assert_close(got, w, rtol=1e-12, atol=1e-14)
    # the loaded forward loop, differentiated again, against finite differences of the loaded loss
    L2 = loaded[0]
    again = gc.evaluate(gc.grad(L2, [ins["U"], ins["X"]]), feed)
    rng = np.random.default_rng(7)
    for name, g in zip(["U", "X"], again):
        d = rng.standard_normal(feed[name].shape)

        def at(a, name=name):
            return float(gc.evaluate(L2, {**feed, name: a}))

        assert np.isclose(np.sum(g * d), central_fd(at, feed[name], d), rtol=1e-7, atol=1e-9), name
    assert_close(again[0], want[2], rtol=1e-12, atol=1e-14)


def test_a_loaded_value_and_gradient_still_run_the_forward_steps_once(tmp_path, monkeypatch):
    loss, vs = rnn()
    loaded = gc.load(gc.save([loss, gc.grad(loss, vs[0])], tmp_path / "g.gcz"))
    loops = [v for v in gc.Graph(loaded).variables if v.owner is not None and isinstance(v.op, Scan)]
    copy = next(v for v in loops if v.op.base is not None)
    forward = next(v for v in loops if v.op.base is None and v.op.gradient is None)
    assert copy.op.base is forward.op  # the copy still names its loop, so they merge
    back = next(v for v in loops if v.op.gradient is not None)
    assert back.op.gradient.forward is forward.op and len(back.op.gradient.kept) == 3
    calls = []
    real = body_module.run_loop
    monkeypatch.setattr("graphcomp.ops.loops.op.run_loop", lambda *a: calls.append(1) or real(*a))
    gc.evaluate(loaded, feed_by_name())
    assert len(calls) == 2
    text = format_graph(loaded, max_lines=1000)
    assert f"gradient body: build_grad on the loop body of #{gc.Numbering(loaded)[forward]}" in text


def test_nested_reversed_indexed_loops_and_groups_inside_bodies_round_trip(tmp_path):
    x, w = gc.Variable("x", (None, 4)), gc.Variable("w")
    twice = gc.op_from_graph(lambda a: a * 2.0 + gc.sin(a), name="twice_sin")

    def outer(c, row):
        s, zs = gc.scan(lambda a, e: (a * gc.cos(e * w) + c, twice(e)), 0.5, row, reverse=True)
        return gc.tanh(c * s), zs

    total, ys = gc.scan(outer, 1.0, x)
    counted = gc.fori_loop(1, 4, lambda i, c: c * w + gc.sin(i.astype("float64") * c), total)
    outs = [counted, ys, *gc.grad(counted + ys.sum(), [x, w])]
    path = gc.save(outs, tmp_path / "nested.gcz")
    loaded = gc.load(path)
    for n in (3, 0):  # T = 0 too: an empty stack whose row shape the body's ys_like gives
        feed = {"x": np.random.default_rng(n).standard_normal((n, 4)), "w": 0.7}
        for got, want in zip(gc.evaluate(loaded, feed), gc.evaluate(outs, feed)):
            assert_close(got, want, rtol=0, atol=0)
    ins = inputs_of(loaded)
    assert gc.check_grad(loaded[0], [ins["x"], ins["w"]], {ins["x"]: np.ones((2, 4)), ins["w"]: 0.7}).ok


def test_graphs_without_loops_keep_their_format_version(tmp_path):
    x = gc.Variable("x")
    assert version(gc.save(gc.sin(x), tmp_path / "plain.gcz")) == 1
    group = gc.op_from_graph(lambda a: a * 3.0, name="thrice_v")
    assert version(gc.save(group(x), tmp_path / "group.gcz")) == 2


def _edit(path, dst, change):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    graph = json.loads(members["graph.json"])
    change(graph)
    members["graph.json"] = json.dumps(graph).encode()
    manifest = json.loads(members["manifest.json"])
    manifest["sha256"]["graph.json"] = hashlib.sha256(members["graph.json"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return dst


def test_a_damaged_loop_record_is_refused(tmp_path):
    loss, vs = rnn()
    path = gc.save([loss, gc.grad(loss, vs[0])], tmp_path / "g.gcz")

    def placeholder_is_an_op(g):
        body = next(s for s in g["subgraphs"] if "body" in s)
        op_node = next(n["id"] for n in body["nodes"] if n["kind"] == "op")
        body["body"]["carry_in"] = [op_node]

    def copy_names_no_loop(g):
        node = next(n for n in g["nodes"] if n.get("op", {}).get("params", {}).get("base"))
        node["op"]["params"]["base"] = {"loop": 0}

    def gradient_record_malformed(g):
        node = next(n for n in g["nodes"] if n.get("op", {}).get("params", {}).get("gradient"))
        node["op"]["params"]["gradient"]["gradient"]["kept"] = "two"

    for change, message in [(placeholder_is_an_op, "not a placeholder"), (copy_names_no_loop, "not a loop"),
                            (gradient_record_malformed, "malformed")]:  # fmt: skip
        bad = _edit(path, tmp_path / f"{change.__name__}.gcz", change)
        with pytest.raises(gc.LoadError, match=message):
            gc.load(bad)
