"""Cost accounting: forward against gradient node counts and estimated FLOPs,
so the book's claim that back-propagation costs about as much as the forward
pass can be seen on a real graph; for loops, T times a step's FLOPs and the
memory the forward loop keeps per step for the backward loop."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.errors import ArgumentError, named
from graphcomp.inspect.arguments import feed_or_none
from graphcomp.ops.base import size_of_shape
from graphcomp.ops.loops.op import Scan
from graphcomp.passes import merge_loops
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
    nodes build_grad added to it.

    A loop counts as one node and T times its body's FLOPs. ``kept_bytes_per_step``
    is the memory the forward loops keep at each step for the backward loops
    (the forward values their gradient bodies read: JAX's residuals), and
    ``kept_bytes`` that for all T steps (None when a T is known neither from the
    graph nor from a feed); both 0 without loops.
    """

    forward_nodes: int
    gradient_nodes: int
    forward_flops: int
    gradient_flops: int
    kept_bytes_per_step: int = 0
    kept_bytes: int | None = 0

    @property
    def ratio(self) -> float:
        """Gradient FLOPs per forward FLOP."""
        return self.gradient_flops / self.forward_flops if self.forward_flops else math.inf

    def _kept(self) -> str:
        total = "T unknown" if self.kept_bytes is None else f"{self.kept_bytes:,} bytes in all"
        return f"kept per step for the backward loops: {self.kept_bytes_per_step:,} bytes ({total})"

    def __str__(self) -> str:
        text = (
            f"{'':<10}{'op nodes':>10}{'FLOPs':>16}\n"
            f"{'forward':<10}{self.forward_nodes:>10,}{self.forward_flops:>16,}\n"
            f"{'gradient':<10}{self.gradient_nodes:>10,}{self.gradient_flops:>16,}\n"
            f"gradient / forward FLOPs = {self.ratio:.2f}"
        )
        return text + (f"\n{self._kept()}" if self.kept_bytes_per_step else "")

    def _repr_markdown_(self) -> str:
        text = (
            "| | op nodes | FLOPs |\n|---|---:|---:|\n"
            f"| forward | {self.forward_nodes:,} | {self.forward_flops:,} |\n"
            f"| gradient | {self.gradient_nodes:,} | {self.gradient_flops:,} |\n\n"
            f"gradient / forward FLOPs = **{self.ratio:.2f}**"
        )
        return text + (f"\n\n{self._kept()}" if self.kept_bytes_per_step else "")


def cost_report(cost: Variable, grads, feed: Mapping | None = None) -> CostReport:
    """Count the forward graph of ``cost`` against the gradient nodes of ``grads``.

    With ``feed``, FLOPs use the runtime shapes of an evaluation. A loop
    (``gc.scan``) is one node of T times its body's FLOPs; the graph is counted
    as ``gc.evaluate`` and ``gc.compile`` run it, a loop and the copies of it
    that keep values for a gradient merged into one forward loop (so keeping
    costs memory, ``kept_bytes_per_step``, not FLOPs). Raises
    ``gc.ArgumentError`` naming cost_report for a ``cost`` that is not a
    Variable, ``grads`` that are not Variables or a ``feed`` that is not a mapping.

    Example:
        >>> import graphcomp as gc
        >>> x, W = gc.Variable("x", (64,)), gc.Variable("W", (32, 64))
        >>> J = gc.sum(gc.tanh(W @ x))
        >>> r = cost_report(J, gc.grad(J, W))
        >>> r.forward_flops, r.gradient_flops
        (4160, 4256)
        >>> xs = gc.Variable("xs", (100,))
        >>> h, _ = gc.scan(lambda h, xt: (gc.tanh(h * xt), None), 1.0, xs)
        >>> r = cost_report(h, gc.grad(h, xs))
        >>> r.forward_flops, r.kept_bytes_per_step, r.kept_bytes    # 100 steps of 2 FLOPs; h_{t-1} and h*x_t kept
        (200, 16, 1600)
    """
    if not isinstance(cost, Variable):
        raise ArgumentError(f"cost_report: cost must be a Variable, got {type(cost).__name__}: {cost!r}"[:300])
    grad_list, _ = as_variable_list(grads, "cost_report: grads")
    feed = feed_or_none(feed, "cost_report: feed")
    cost, *grad_list = merge_loops.run([cost, *grad_list])
    forward = ancestors([cost])
    gradient = ancestors(grad_list) - forward
    shapes = None
    if feed is not None:
        everything = topological(forward | gradient)
        with named("cost_report"):
            shapes = {v: np.shape(val) for v, val in zip(everything, evaluate(everything, feed))}
    f_ops = [v for v in forward if v.owner is not None]
    g_ops = [v for v in gradient if v.owner is not None]
    per_step, total = _kept_bytes(g_ops, shapes or {})
    return CostReport(
        forward_nodes=len(f_ops),
        gradient_nodes=len(g_ops),
        forward_flops=sum(flops(v, shapes) for v in f_ops),
        gradient_flops=sum(flops(v, shapes) for v in g_ops),
        kept_bytes_per_step=per_step,
        kept_bytes=total,
    )


def _kept_bytes(g_ops: list[Variable], shapes: Mapping) -> tuple[int, int | None]:
    """Bytes per step, and for all steps, of the forward values the backward loops
    among ``g_ops`` read, each stacked value counted once however many read it."""
    stacks: dict = {}
    for v in g_ops:
        if isinstance(v.op, Scan):
            for s in v.op.kept_inputs(v):
                # one stacked value: a projection of one loop node at one position
                key = (s.owner.inputs[0], s.op.index) if s.owner is not None else s
                stacks.setdefault(key, s)
    per_step, total = 0, 0
    for s in stacks.values():
        shape = tuple(shapes.get(s, s.shape))
        row = size_of_shape(shape[1:]) * s.dtype.itemsize
        per_step += row
        total = None if total is None or shape[0] is None else total + shape[0] * row
    return per_step, total
