"""The ``linear`` trait (``graphcomp/ops/base.py``) is true of every op that
declares it: on each spec row's values, the op's NumPy forward satisfies
f(a U1 + U2) = a f(U1) + f(U2) in the inputs it claims, the others held fixed.
Forward mode trusts the trait to pass a custom bprop as linear in G, so a false
claim would bring back the silently wrong tangents it refuses."""

from __future__ import annotations

import numpy as np
import pytest

import graphcomp as gc
from graphcomp.core.traverse import ancestors, topological
from tests.helpers import feed_for
from tests.ops.spec import SPECS
from tests.ops.test_spec import _inputs, _values


def _claimed_sets(op, n: int) -> list[tuple[int, ...]]:
    trait = type(op).linear
    if trait == "all":
        return [tuple(range(n))]
    if trait == "each":
        return [(k,) for k in range(n)]
    return [tuple(trait)]


def _rows():
    rows = []
    for s in SPECS:
        out = s.build(*_inputs(s))
        if any(v.owner is not None and type(v.owner.op).linear is not None for v in ancestors([out])):
            rows.append(s)
    return rows


ROWS = _rows()


def test_the_trait_is_declared_by_the_ops_forward_mode_needs():
    declared = {v.owner.op.name for s in ROWS for v in ancestors([s.build(*_inputs(s))]) if v.owner is not None
                and type(v.owner.op).linear is not None}  # fmt: skip
    assert declared >= {"add", "subtract", "multiply", "divide", "negative", "sum", "matmul", "reshape", "transpose",
                        "getitem", "where", "pad", "concatenate", "stack", "cumsum", "einsum"}  # fmt: skip


@pytest.mark.parametrize("s", ROWS, ids=[s.id for s in ROWS])
def test_every_claim_of_linearity_holds_on_the_ops_own_forward(s):
    inputs, values = _inputs(s), _values(s)
    out = s.build(*inputs)
    nodes = [v for v in topological(ancestors([out])) if v.owner is not None and type(v.owner.op).linear is not None]
    feed = feed_for(out, inputs, values)
    rng = np.random.default_rng(7)
    for v in nodes:
        op, ins = v.owner.op, v.owner.inputs
        args = [np.asarray(a) for a in gc.evaluate(list(ins), feed)]
        for positions in _claimed_sets(op, len(ins)):
            if not op.linear_in(frozenset(positions), frozenset(), len(ins)):
                continue  # an op narrowing its trait (a cast to an integer dtype)
            if any(args[k].dtype.kind not in "fc" for k in positions):
                continue  # integer index inputs are never the varying ones
            U1 = [rng.standard_normal(args[k].shape).astype(args[k].dtype) for k in positions]
            U2 = [rng.standard_normal(args[k].shape).astype(args[k].dtype) for k in positions]
            a = -1.75

            def f(us, op=op, positions=positions, args=args):
                moved = list(args)
                for k, u in zip(positions, us):
                    moved[k] = u
                return np.asarray(op.forward(*moved), dtype=np.float64)

            both = f([a * u1 + u2 for u1, u2 in zip(U1, U2)])
            np.testing.assert_allclose(
                both, a * f(U1) + f(U2), rtol=1e-5, atol=1e-5, err_msg=f"{op.label()} {positions}"
            )
