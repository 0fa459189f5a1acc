"""Algebraic simplification: one table of local rules, run in one topological
sweep (each rule sees inputs already simplified, so chains collapse at once).

A rule fires only when its result has exactly the node's shape and dtype, so
nothing is silently broadcast or cast. ``x * 0 -> 0`` assumes x is finite
(as every compiler that does it): it drops a NaN or Inf in x.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import is_fully_known
from graphcomp.passes.rebuild import rebuilt, transform

name = "simplify"

#: every firing of the last run: (rule name, node before, node after), for notebooks
FIRED: list[tuple[str, Variable, Variable]] = []


def _const(v: Variable, value: float) -> bool:
    return v.kind == "constant" and v.value.size > 0 and bool(np.all(v.value == value))


def _same(v: Variable, r: Variable | None) -> Variable | None:
    return r if r is not None and r.shape == v.shape and r.dtype == v.dtype and is_fully_known(v.shape) else None


def _zeros(v: Variable) -> Variable | None:
    from graphcomp.api import zeros_like

    return zeros_like(v) if is_fully_known(v.shape) else None


def _compose_transpose(v, a):
    inner = a.owner.op.axes
    perm = tuple(inner[k] for k in v.owner.op.axes)
    x = a.inputs[0]
    if perm == tuple(range(len(perm))):
        return x
    from graphcomp.ops.shape import Transpose

    return Transpose(perm)(x)


def _reshape_chain(v, a):
    from graphcomp.ops.shape import Reshape

    return Reshape(v.owner.op.shape)(a.inputs[0])


# name -> (op name, rule(v, inputs) -> replacement or None)
RULES = {
    "x*1 -> x": ("multiply", lambda v, x, y: x if _const(y, 1) else y if _const(x, 1) else None),
    "x*0 -> 0": ("multiply", lambda v, x, y: _zeros(v) if _const(x, 0) or _const(y, 0) else None),
    "x+0 -> x": ("add", lambda v, x, y: x if _const(y, 0) else y if _const(x, 0) else None),
    "x-0 -> x": ("subtract", lambda v, x, y: x if _const(y, 0) else None),
    "x/1 -> x": ("divide", lambda v, x, y: x if _const(y, 1) else None),
    "x**1 -> x": ("power", lambda v, x, y: x if _const(y, 1) else None),
    "neg(neg x) -> x": ("negative", lambda v, a: a.inputs[0] if a.owner and a.owner.op.name == "negative" else None),
    "transpose(transpose x) -> transpose x": (
        "transpose",
        lambda v, a: _compose_transpose(v, a) if a.owner and a.owner.op.name == "transpose" else None,
    ),
    "reshape(reshape x) -> reshape x": (
        "reshape",
        lambda v, a: _reshape_chain(v, a) if a.owner and a.owner.op.name == "reshape" else None,
    ),
    "reshape x to its shape -> x": ("reshape", lambda v, a: a),
    "sum_to x to its shape -> x": ("sum_to", lambda v, a: a),
    "broadcast_to x to its shape -> x": ("broadcast_to", lambda v, a: a),
    "cast x to its dtype -> x": ("cast", lambda v, a: a),
    "add_n of one term -> the term": ("add_n", lambda v, *terms: terms[0] if len(terms) == 1 else None),
}
_BY_OP: dict[str, list] = {}
for _rule, (_op, _fn) in RULES.items():
    _BY_OP.setdefault(_op, []).append((_rule, _fn))


def run(outputs: list[Variable]) -> list[Variable]:
    """Return outputs with the rule table applied everywhere (FIRED restarts here;
    the stabilize pass that runs after adds its own firings).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> (y,) = run([-(-(x * 1.0)) + 0.0])
        >>> y is x, [r for r, *_ in FIRED]
        (True, ['x*1 -> x', 'neg(neg x) -> x', 'x+0 -> x'])
    """
    FIRED.clear()
    return transform(outputs, lambda v, inputs: _rewrite(v, rebuilt(v, inputs)))


def _rewrite(v: Variable, node: Variable) -> Variable:
    """Apply rules until none fires: a rule's result may match another rule."""
    for _ in range(8):  # each firing removes a node, so a few rounds suffice
        if node.owner is None:
            return node
        for rule, fn in _BY_OP.get(node.owner.op.name, ()):
            replacement = _same(v, fn(node, *node.owner.inputs))
            if replacement is not None and replacement is not node:
                FIRED.append((rule, v, replacement))
                node = replacement
                break
        else:
            return node
    return node
