"""Every op of issue #16's statistics, products, scans, norm, einsum and masks survives
save and load with its gradients (first and second order): its parameters (axes,
ddof, reverse, subscripts, shapes with unknown dimensions) are stored, and the
loaded graph computes what the saved one did."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors
from graphcomp.ops.binary import add_n
from tests.helpers import feed_for
from tests.ops.spec_ops_b import OURS
from tests.ops.test_spec import _inputs, _values


@pytest.mark.parametrize("s", OURS, ids=[s.id for s in OURS])
def test_saved_and_loaded_graph_computes_the_same(s, tmp_path):
    inputs, values = _inputs(s, unknown=s.unknown), _values(s)
    out = s.build(*inputs)
    outs = [out]
    if s.grad and s.diff_positions():
        wrt = [inputs[k] for k in s.diff_positions()]
        first = gc.grad((out * out).sum() if out.shape == () else (out * gc.sin(out)).sum(), wrt)
        outs += first
        if s.second:
            outs += gc.grad(add_n(*[g.sum() for g in first]) if len(first) > 1 else first[0].sum(), wrt,
                            disconnected="zero")  # fmt: skip
    loaded = gc.load(gc.save(outs, tmp_path / "g.gcz"))
    by_name = {v.name: v for v in ancestors(loaded) if v.is_input}
    feed = feed_for(outs, inputs, values)
    want = gc.evaluate(outs, feed)
    got = gc.evaluate(loaded, {by_name[v.name]: a for v, a in feed.items()})
    for w, g in zip(want, got):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert [v.owner.op.label() for v in loaded if v.owner] == [v.owner.op.label() for v in outs if v.owner]
