"""Cost accounting: forward against gradient node counts and estimated FLOPs,
so the book's claim that back-propagation costs about as much as the forward
pass can be seen on a real graph."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.runtime.evaluate import evaluate

__all__ = ["CostReport", "cost_report", "flops"]


def flops(v: Variable, shapes: Mapping | None = None) -> int:
    """An estimate of the floating-point operations computing ``v`` takes.

    Shapes come from ``shapes`` (runtime shapes) where given, else the static
    ones (an unknown dimension counts as 1). Elementwise ops cost one per
    element, a matmul 2mkn, a reduction one per input element, pure data
    movement nothing.

    Example:
        >>> import graphcomp as gc
        >>> flops(gc.Variable("a", (3, 4)) @ gc.Variable("b", (4, 5)))
        120
    """
    if v.owner is None:
        return 0
    shapes = shapes or {}

    def shape_of(u):
        return shapes.get(u, u.shape)

    return v.owner.op.flops(v, shape_of)


@dataclasses.dataclass
class CostReport:
    """Node counts and FLOP estimates of a forward graph and of the gradient
    nodes build_grad added to it."""

    forward_nodes: int
    gradient_nodes: int
    forward_flops: int
    gradient_flops: int

    @property
    def ratio(self) -> float:
        """Gradient FLOPs per forward FLOP."""
        return self.gradient_flops / self.forward_flops if self.forward_flops else math.inf

    def __str__(self) -> str:
        return (
            f"{'':<10}{'op nodes':>10}{'FLOPs':>16}\n"
            f"{'forward':<10}{self.forward_nodes:>10,}{self.forward_flops:>16,}\n"
            f"{'gradient':<10}{self.gradient_nodes:>10,}{self.gradient_flops:>16,}\n"
            f"gradient / forward FLOPs = {self.ratio:.2f}"
        )

    def _repr_markdown_(self) -> str:
        return (
            "| | op nodes | FLOPs |\n|---|---:|---:|\n"
            f"| forward | {self.forward_nodes:,} | {self.forward_flops:,} |\n"
            f"| gradient | {self.gradient_nodes:,} | {self.gradient_flops:,} |\n\n"
            f"gradient / forward FLOPs = **{self.ratio:.2f}**"
        )


def cost_report(cost: Variable, grads, feed: Mapping | None = None) -> CostReport:
    """Count the forward graph of ``cost`` against the gradient nodes of ``grads``.

    With ``feed``, FLOPs use the runtime shapes of an evaluation.

    Example:
        >>> import graphcomp as gc
        >>> x, W = gc.Variable("x", (64,)), gc.Variable("W", (32, 64))
        >>> J = gc.sum(gc.tanh(W @ x))
        >>> r = cost_report(J, gc.grad(J, W))
        >>> r.forward_flops, r.gradient_flops
        (4160, 4256)
    """
    grad_list, _ = as_variable_list(grads, "grads")
    forward = ancestors([cost])
    gradient = ancestors(grad_list) - forward
    shapes = None
    if feed is not None:
        everything = topological(forward | gradient)
        shapes = {v: np.shape(val) for v, val in zip(everything, evaluate(everything, feed))}
    f_ops = [v for v in forward if v.owner is not None]
    g_ops = [v for v in gradient if v.owner is not None]
    return CostReport(
        forward_nodes=len(f_ops),
        gradient_nodes=len(g_ops),
        forward_flops=sum(flops(v, shapes) for v in f_ops),
        gradient_flops=sum(flops(v, shapes) for v in g_ops),
    )
