"""Rebuilding a node on new inputs, keeping where and why it was built."""

from __future__ import annotations

from collections.abc import Callable

from graphcomp.core import provenance
from graphcomp.core.node import Variable, make_apply
from graphcomp.core.traverse import ancestors, topological


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
    return build_like(v, v.owner.op, inputs)


def build_like(v: Variable, op, inputs: tuple[Variable, ...]) -> Variable:
    """``op`` applied to ``inputs`` where and as ``v`` was built: its shape, dtype,
    name, creation site and gradient role (for a node that replaces ``v``).

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.ops.elementwise import Cos
        >>> s = gc.sin(gc.Variable("x"))
        >>> c = build_like(s, Cos(), s.owner.inputs)
        >>> c.owner.op.name, c.site == s.site
        ('cos', True)
    """
    return make_apply(op, inputs, v.shape, v.dtype, v.name, built=provenance.of(v))


def rebuilt(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    """``v`` itself when its inputs did not change, else ``rebuild(v, inputs)``.

    Example:
        >>> import graphcomp as gc
        >>> s = gc.sin(gc.Variable("x"))
        >>> rebuilt(s, s.owner.inputs) is s
        True
    """
    return v if inputs == v.owner.inputs else rebuild(v, inputs)


def transform(
    outputs: list[Variable],
    visit: Callable[[Variable, tuple[Variable, ...]], Variable],
    visit_leaf: Callable[[Variable], Variable] | None = None,
) -> list[Variable]:
    """The one sweep every pass makes: in topological order, call ``visit(v,
    new_inputs)`` for each op node (its inputs already rewritten) and
    ``visit_leaf(v)`` for inputs, constants and parameters; return the new outputs.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> transform([gc.sin(x)], rebuilt)[0].owner.op.name
        'sin'
    """
    new: dict[Variable, Variable] = {}
    for v in topological(ancestors(outputs)):
        if v.owner is None:
            new[v] = v if visit_leaf is None else visit_leaf(v)
        else:
            new[v] = visit(v, tuple(new[i] for i in v.owner.inputs))
    return [new[o] for o in outputs]
