"""Buffer reuse in generated code: which intermediates an elementwise op may
overwrite (``out=``) once they die, so a call allocates fewer arrays."""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.runtime.schedule import Plan

__all__ = ["reusable_buffers", "fits"]


def reusable_buffers(plan: Plan, backend) -> set[Variable]:
    """Intermediates whose buffer an elementwise op may overwrite once they die.

    A buffer qualifies when a ufunc made it (a fresh array, never the caller's
    and never a view), its static shape is fully known and not 0-d (ufuncs
    return NumPy scalars there), and every node reading it is a ufunc too, so
    no view of it can outlive it.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.runtime.backends.numpy import NumpyBackend
        >>> x = gc.Variable("x", (3,)); y = gc.exp(x); z = y * 2.0
        >>> reusable_buffers(Plan.build([z]), NumpyBackend()) == {y, z}
        True
    """
    by_op: dict = {}  # ops repeat (every multiply is one Multiply()): ask the backend once per op
    ufunc = {}
    for v, _, _, _ in plan.steps:
        op = v.owner.op
        known = by_op.get(id(op))  # by identity: an op's own hash is Python code
        if known is None:
            known = by_op[id(op)] = isinstance(backend.callee(op), np.ufunc)
        ufunc[v] = known
    out = {v for v, _, _, _ in plan.steps if ufunc[v] and v.shape and None not in v.shape}
    for v, _, ins, _ in plan.steps:
        if not ufunc[v]:
            out.difference_update(ins)  # a non-ufunc reader may keep a view of its input
    return out


def fits(buffer: Variable, v: Variable) -> bool:
    """Whether ``v``'s result can be written into ``buffer``: same shape and dtype."""
    return buffer.shape == v.shape and buffer.dtype == v.dtype
