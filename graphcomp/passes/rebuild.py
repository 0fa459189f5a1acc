"""Rebuilding a node on new inputs, keeping where and why it was built."""

from __future__ import annotations

from graphcomp.core import node as _node
from graphcomp.core.node import Variable, make_apply


def rebuild(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    """``v``'s op applied to ``inputs``, with v's shape, dtype, name, creation site
    and gradient role (a pass rewrites the graph; it does not move the user's line).

    Example:
        >>> import graphcomp as gc
        >>> x, y = gc.Variable("x"), gc.Variable("y")
        >>> s = gc.sin(x)
        >>> t = rebuild(s, (y,))
        >>> t.inputs == (y,), t.site == s.site
        (True, True)
    """
    _node._site_override.append(v.site)
    _node._grad_of.append(v.grad_of)
    try:
        out = make_apply(v.owner.op, inputs, v.shape, v.dtype, v.name)
    finally:
        _node._grad_of.pop()
        _node._site_override.pop()
    return out
