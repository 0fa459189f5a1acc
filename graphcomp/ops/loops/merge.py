"""A rewrite for phase 2's pipeline: a forward loop and its copy that keeps
values for a gradient run as one loop.

``gc.grad`` through a loop ``L`` builds ``L'``, the same loop over the same
inputs with more per-step outputs (the values the backward loop reads). A graph
that asks for ``L``'s value and the gradient holds both, and would run the
forward steps twice. ``run`` replaces ``L`` by ``L'`` (whose first outputs are
``L``'s), as PyTensor's ``scan_merge`` merges scans over the same inputs.
Written as a pass (``name``, ``run``), not yet in ``gc.compile``'s pipeline.
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.ops.loops.body import rebuild
from graphcomp.ops.loops.op import Scan

__all__ = ["name", "run"]

name = "merge-loops"


def run(outputs: list[Variable]) -> list[Variable]:
    """``outputs`` with every loop that has a value-keeping copy over the same
    inputs replaced by that copy (the one keeping most, when there are several).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> h, _ = gc.scan(lambda h, xt: (gc.sin(h * xt), None), 1.0, x)
        >>> outs = run([h, gc.grad(h, x)])
        >>> len({v.owner.inputs[0] for v in [outs[0], *outs[1].owner.inputs[0].owner.inputs[1:3]]})
        1
    """
    order = topological(ancestors(outputs))
    widest: dict = {}  # (base op, inputs) -> the copy keeping most
    for v in order:
        op = v.op
        if isinstance(op, Scan) and op.base is not None:
            key = (id(op.base), v.owner.inputs)
            best = widest.get(key)
            if best is None or op.n_outputs > best.op.n_outputs:
                widest[key] = v
    if not widest:
        return list(outputs)
    new: dict[Variable, Variable] = {}
    for v in order:
        if v in new:  # a copy already rebuilt where the loop it replaces stood
            continue
        if v.owner is None:
            new[v] = v
            continue
        ins = tuple(new[i] for i in v.owner.inputs)
        op = v.op
        wide = None
        if isinstance(op, Scan):
            wide = widest.get((id(op if op.base is None else op.base), v.owner.inputs))
        if wide is not None and wide is not v:
            if wide not in new:
                # its inputs are v's: the copy can stand here
                new[wide] = wide if ins == wide.owner.inputs else rebuild(wide, ins)
            new[v] = new[wide]
        else:
            new[v] = v if ins == v.owner.inputs else rebuild(v, ins)
    return [new[o] for o in outputs]
