"""save/load: a versioned zip of JSON and .npz that never runs code; round trips
keep gradient nodes, names and shapes; damaged files are refused clearly."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import sympy as sp

import graphcomp as gc
from graphcomp.core.traverse import ancestors


def _model():
    x, W = gc.Variable("x", (None, 3)), gc.Variable("W", (3, 2))
    t = sp.Symbol("t")
    swish = gc.elementwise(t / (1 + sp.exp(-t)), [t])
    J = gc.logsumexp(swish(x @ W), axis=1).mean() + 0.1 * (W * W).sum() + gc.constant(np.arange(2.0)).sum()
    return x, W, J, gc.grad(J, [x, W])


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)


def test_round_trip_keeps_gradient_nodes_names_shapes_and_results(tmp_path):
    x, W, J, grads = _model()
    path = gc.save([J, *grads], tmp_path / "model.gcz")
    J2, gx2, gW2 = gc.load(path)
    before, after = (
        sorted(ancestors([J, *grads]), key=lambda v: v.id),
        sorted(ancestors([J2, gx2, gW2]), key=lambda v: v.id),
    )
    assert [(v.name, v.shape, v.dtype, v.role, v.kind) for v in before] == [
        (v.name, v.shape, v.dtype, v.role, v.kind) for v in after
    ]
    assert [str(v.site) for v in before] == [str(v.site) for v in after]
    feed = {"x": np.random.default_rng(0).standard_normal((5, 3)), "W": np.ones((3, 2))}
    want = gc.compile([J, *grads])(**feed)
    got = gc.compile([J2, gx2, gW2])(**feed)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)
    assert isinstance(gc.load(gc.save(J, tmp_path / "one.gcz")), gc.Variable)


def test_loading_never_unpickles(tmp_path):
    path = gc.save(_model()[2], tmp_path / "m.gcz")
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["constants.npz", "graph.json", "manifest.json"]
        assert json.loads(z.read("manifest.json"))["version"] == 1


@pytest.mark.parametrize("damage", ["truncated", "edited", "edited-with-checksum", "future", "not-a-zip", "op"])
def test_damaged_files_are_refused_with_a_clear_error(tmp_path, damage):
    path = gc.save(_model()[2], tmp_path / "m.gcz")
    bad = tmp_path / "bad.gcz"
    data = open(path, "rb").read()

    def shape(members, fix_checksum=False):
        g = json.loads(members["graph.json"])
        g["nodes"][1]["shape"] = [7, 2]  # W's shape, changed
        members["graph.json"] = json.dumps(g).encode()
        if fix_checksum:
            import hashlib

            m = json.loads(members["manifest.json"])
            m["sha256"]["graph.json"] = hashlib.sha256(members["graph.json"]).hexdigest()
            members["manifest.json"] = json.dumps(m).encode()

    def unknown_op(members):
        import hashlib

        g = json.loads(members["graph.json"])
        next(n for n in g["nodes"] if n["kind"] == "op")["op"]["name"] = "os.system"
        members["graph.json"] = json.dumps(g).encode()
        m = json.loads(members["manifest.json"])
        m["sha256"]["graph.json"] = hashlib.sha256(members["graph.json"]).hexdigest()
        members["manifest.json"] = json.dumps(m).encode()

    def future(members):
        m = json.loads(members["manifest.json"])
        m["version"] = 99
        members["manifest.json"] = json.dumps(m).encode()

    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
        message = "truncated or damaged"
    elif damage == "not-a-zip":
        bad.write_bytes(b"just text")
        message = "not a readable graphcomp file"
    elif damage == "edited":
        _rewrite(path, bad, shape)
        message = "changed after it was saved"
    elif damage == "edited-with-checksum":
        _rewrite(path, bad, lambda m: shape(m, fix_checksum=True))
        message = "does not describe a valid graph|when rebuilt"
    elif damage == "op":
        _rewrite(path, bad, unknown_op)
        message = "unknown op 'os.system'"
    else:
        _rewrite(path, bad, future)
        message = "format version 99, newer"
    with pytest.raises(gc.LoadError, match=message):
        gc.load(bad)


def test_ops_that_are_not_graphcomps_are_not_saved(tmp_path):
    from tests.inspect.test_explain_check_cost_trace import WrongCube

    with pytest.raises(gc.GraphError, match="not one of graphcomp's ops"):
        gc.save(WrongCube()(gc.Variable("x")), tmp_path / "m.gcz")
