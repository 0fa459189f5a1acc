"""Merge (common-subexpression elimination): nodes computing the same op on the
same inputs become one. Gradient graphs are full of them: the seed example
builds x*z three times, and each consumer's bprop rebuilds what it reads."""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.passes.rebuild import rebuilt, transform

name = "merge"

_SMALL = 64  # constants up to this many elements are merged by value


def _constant_key(v: Variable):
    a = v.value
    if a.size > _SMALL:
        return ("const-id", v.id)
    return ("const", a.dtype.str, a.shape, a.tobytes())


def run(outputs: list[Variable], log: list | None = None) -> list[Variable]:
    """Return outputs whose graph has no two nodes with the same op on the same inputs.

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> y = gc.exp(x * z) + x * z
        >>> (out,) = run([y])
        >>> sum(1 for v in gc.Graph(out).variables if v.owner and v.owner.op.name == "multiply")
        1
    """
    return transform(outputs, *sweep(log))


def sweep(log: list | None = None):
    """This pass as ``(visit, visit_leaf)`` for ``transform``, with fresh state (it
    logs nothing: merging is not a rule).

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> x = gc.Variable("x")
        >>> (y,) = transform([gc.sin(x) + gc.sin(x)], *sweep())
        >>> y.inputs[0] is y.inputs[1]
        True
    """
    seen: dict = {}

    def leaf(v: Variable) -> Variable:
        return seen.setdefault(_constant_key(v) if v.kind == "constant" else ("leaf", v.id), v)

    def visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
        key = (v.owner.op, inputs)  # Variables hash and compare by identity
        if key not in seen:
            seen[key] = rebuilt(v, inputs)
        return seen[key]

    return visit, leaf
