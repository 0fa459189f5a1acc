"""Elementwise fusion: each connected group of elementwise nodes becomes one
``fused`` node (``graphcomp/ops/fused.py``).

A backend pass: the Numba backend runs it, since it compiles a fused node into
one loop; under NumPy a fused node runs step by step and gains nothing.

A node joins the group of its consumers when it is elementwise, a float64 or
bool array of the group result's static shape, not an output, and every one of
its consumers is in that one group. Only a group's result is then read from
outside, so replacing a group by one node cannot make a cycle. (With unknown
sizes a member could broadcast at run time; the kernel then broadcasts it too,
so values stay right; at worst a member is computed once per result element.)
One-element float64 constants become literals of the program; 0-d values stay
outside (they cost one NumPy scalar operation, and the scalar code path wants
them).
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, consumers_map, topological
from graphcomp.ops.fused import Fused, can_fuse
from graphcomp.passes.rebuild import build_like, rebuilt

name = "fuse"

_KINDS = (np.dtype("float64"), np.dtype(bool))


def _fusible(v: Variable) -> bool:
    """A node a kernel can compute and that is worth it. Transcendental ops (exp,
    log, tanh, ...) stay NumPy calls between the groups: Numba compiles them to one
    libm call per element, about 4x slower than NumPy's SIMD loops."""
    if v.owner is None or v.dtype not in _KINDS or v.shape == ():
        return False
    op = v.owner.op
    return can_fuse(type(op)) and not op.transcendental and op.fusible(v)


def groups(outputs: list[Variable]) -> dict[Variable, Variable]:
    """Each fusible node's group, named by the group's result node.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> y = gc.sqrt(x * 2.0 + 1.0)
        >>> len(set(groups([y]).values()))
        1
    """
    order = topological(ancestors(outputs))
    return group_roots(order, consumers_map(order), set(outputs), _fusible)


def group_roots(order: list[Variable], consumers: dict, outputs: set, member, kept=None) -> dict[Variable, Variable]:
    """Each node ``member(v)`` admits -> the root of its group (itself when alone): a node
    joins the group of its consumers when they all belong to one group of its shape and it
    is not an output. ``order`` is topological, ``consumers`` maps a node to the nodes
    reading it; ``kept(c, v)`` True marks a consumer that reads only ``v``'s shape, which
    must then be stored (it keeps v out of every group). The fuse pass and the
    whole-function Numba code group by this one rule.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,)); y = gc.exp(x) * 2.0
        >>> order = [x, y.owner.inputs[0], y]
        >>> roots = group_roots(order, consumers_map(order), {y}, lambda v: v.owner is not None)
        >>> roots[order[1]] is y and roots[y] is y
        True
    """
    group: dict[Variable, Variable] = {}
    for v in reversed(order):  # consumers first
        if not member(v):
            continue
        around = {None if kept is not None and kept(c, v) else group.get(c) for c in consumers.get(v, ())}
        if v not in outputs and len(around) == 1:
            (root,) = around
            if root is not None and root.shape == v.shape:
                group[v] = root
                continue
        group[v] = v
    return group


def run(outputs: list[Variable]) -> list[Variable]:
    """Replace every group of two or more elementwise nodes (or one that NumPy runs
    slowly) by one fused node.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> (y,) = run([gc.relu(x * 2.0 + 1.0)])
        >>> y.owner.op.label()
        'fused[relu(a0 * 2.0 + 1.0)]'
    """
    group = groups(outputs)
    members: dict[Variable, list[Variable]] = {}
    for v, root in group.items():
        members.setdefault(root, []).append(v)
    new: dict[Variable, Variable] = {}
    for v in topological(ancestors(outputs)):
        if v.owner is None:
            new[v] = v
        elif v in group and (len(members[group[v]]) > 1 or v.owner.op.slow_in_numpy):
            if group[v] is v:
                new[v] = _fuse(v, members[v], new)
        else:
            new[v] = rebuilt(v, tuple(new[i] for i in v.owner.inputs))
    return [new[o] for o in outputs]


def _literal(c: Variable) -> bool:
    """A finite one-element float64 constant: a literal in the kernel. A member has the
    group's shape, so such a constant cannot add dimensions; as an input it would be
    a stride-0 operand, which keeps Numba's loop from vectorising (measured 1.6x)."""
    return c.kind == "constant" and c.value.size == 1 and c.dtype == np.float64 and bool(np.isfinite(c.value).all())


def _fuse(root: Variable, group: list[Variable], new: dict[Variable, Variable]) -> Variable:
    """One fused node computing ``root`` from the group's outside inputs."""
    inside = set(group)
    operand: dict[Variable, str] = {}
    outside: list[Variable] = []
    program: list[tuple] = []
    for v in sorted(group, key=lambda m: m.id):  # creation order is topological
        args = []
        for i in v.owner.inputs:
            if i not in operand:
                if _literal(i):
                    program.append(("constant", float(i.value.reshape(()))))
                    operand[i] = f"t{len(program) - 1}"
                else:
                    assert i not in inside, "a member is read before it is computed"
                    outside.append(i)
                    operand[i] = f"a{len(outside) - 1}"
            args.append(operand[i])
        program.append((v.owner.op.name, *args))
        operand[v] = f"t{len(program) - 1}"
    op = Fused(tuple(program), tuple(str(i.dtype) for i in outside))
    return build_like(root, op, tuple(new[i] for i in outside))
