"""Why a path carries no gradient: one description shared by ``gc.grad``'s
disconnected error and ``gc.explain_grad``."""

from __future__ import annotations

from collections.abc import Iterable

from graphcomp.core.node import Variable
from graphcomp.core.types import is_differentiable_dtype
from graphcomp.ops.compare import Compare
from graphcomp.ops.identity import StopGradient

__all__ = ["describe_block"]


def describe_block(blocker: Variable, consider_constant: Iterable[Variable] = ()) -> str:
    """What ``blocker`` is, as the reason no gradient passes it: a consider_constant
    node, a stop_gradient, a non-differentiable op, an integer or boolean value,
    or an op whose bprop gives that input no gradient.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> describe_block(gc.stop_gradient(x)), describe_block(x > 0)
        ('a stop_gradient', 'the comparison greater (non-differentiable op greater)')
    """
    op = blocker.op
    if any(blocker is c for c in consider_constant):
        return "a consider_constant node"
    if isinstance(op, StopGradient):
        return "a stop_gradient"
    if isinstance(op, Compare):
        return f"the comparison {op.name} (non-differentiable op {op.name})"
    if op is not None and not op.differentiable:
        return f"the non-differentiable op {op.name}"
    if not is_differentiable_dtype(blocker.dtype) and not (op is not None and op.multiple_outputs):
        return f"an integer or boolean value ({blocker.dtype})"
    if op is not None:
        return f"{op.name}, which passes no gradient to that input"
    return f"the {blocker.kind} {blocker.label()}"
