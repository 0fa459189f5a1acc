"""Merge loops: a forward loop and the copies of it that keep values for
gradients run as one loop.

``gc.grad`` through a loop ``L`` builds ``L'``, the same loop over the same
inputs with more per-step outputs (the values the backward loop reads: the
residuals). A graph that asks for ``L``'s value and its gradient holds both and
would run the forward steps twice; a second gradient (grad of grad, or grads
asked for separately) adds more copies. This pass replaces every loop of such a
family (same first loop, same inputs) by one loop that keeps the union of what
they keep, and points each projection (``scan_output``) at its value in it, as
PyTensor's ``scan_merge`` merges scans over the same inputs.
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.ops.loops.op import Scan, ScanOutput
from graphcomp.passes.rebuild import build_like, rebuilt

__all__ = ["name", "run"]

name = "merge-loops"


def run(outputs: list[Variable], log: list | None = None) -> list[Variable]:
    """``outputs`` with each family of loops over the same inputs (a loop and its
    value-keeping copies) computed by one loop keeping what all of them keep.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> h, _ = gc.scan(lambda h, xt: (gc.sin(h * xt), None), 1.0, x)
        >>> g = gc.grad(h, x)
        >>> before = [v for v in gc.Graph([h, g]).variables if isinstance(v.op, Scan)]
        >>> after = [v for v in gc.Graph(run([h, g])).variables if isinstance(v.op, Scan)]
        >>> len(before), len(after)      # the loop, its copy, the backward loop
        (3, 2)
    """
    order = topological(ancestors(outputs))
    families: dict = {}  # (first loop's op, inputs) -> its loops in the graph
    for v in order:
        if isinstance(v.op, Scan):
            families.setdefault((id(_first(v.op)), v.owner.inputs), []).append(v)
    merged: dict[Variable, tuple[Scan, dict[int, int]]] = {}  # loop -> (the family's loop, where its outputs went)
    for members in families.values():
        if len(members) > 1:
            merged.update(_union(members))
    if not merged:
        return list(outputs)
    new: dict[Variable, Variable] = {}
    by_op: dict[int, Variable] = {}  # the family's loop, built once
    for v in order:
        if v.owner is None:
            new[v] = v
            continue
        ins = tuple(new[i] for i in v.owner.inputs)
        if v in merged:
            op = merged[v][0]
            node = by_op.get(id(op))
            if node is None:
                node = by_op[id(op)] = v if op is v.op and ins == v.owner.inputs else build_like(v, op, ins)
            new[v] = node
        elif isinstance(v.op, ScanOutput) and v.owner.inputs[0] in merged:
            op, where = merged[v.owner.inputs[0]]
            k = where[v.op.index]
            new[v] = build_like(v, ScanOutput(k, op.output_names()[k]), ins)
        else:
            new[v] = rebuilt(v, ins)
    return [new[o] for o in outputs]


def _first(op: Scan) -> Scan:
    """The loop a value-keeping copy (of a copy ...) was made from."""
    while op.base is not None:
        op = op.base
    return op


def _union(members: list[Variable]) -> dict[Variable, tuple[Scan, dict[int, int]]]:
    """One loop keeping every value the members keep (a member that already keeps
    them all, or a new copy of the first loop), and for each member the position
    of each of its outputs in that loop."""
    first = _first(members[0].op)
    n0 = first.n_outputs
    kept: dict[Variable, int] = {}  # a kept body value -> its output position in the union
    for v in members:
        for y in v.op.body.ys[len(first.body.ys) :]:
            kept.setdefault(y, n0 + len(kept))
    widest = max(members, key=lambda v: v.op.n_outputs).op
    if widest.n_outputs == n0 + len(kept):
        op = widest
        kept = {y: len(first.body.carry_out) + j for j, y in enumerate(op.body.ys)}
    else:
        names = [f"kept {y.label()}" for y in kept]
        op = Scan(first.body.with_ys(list(kept), names), first.reverse, first.length, first.checkpoint, base=first)
    out = {}
    for v in members:
        b = v.op.body
        ys = b.ys[len(first.body.ys) :]
        where = {k: k for k in range(n0)}
        where.update({n0 + j: kept[y] for j, y in enumerate(ys)})
        out[v] = (op, where)
    return out
