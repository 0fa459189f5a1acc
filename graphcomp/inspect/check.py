"""``gc.check_grad``: finite differences against every node's bprop, so a wrong
gradient is traced to the op that made it, not only to the whole function."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from graphcomp.autodiff.backprop import grad
from graphcomp.autodiff.prune import prune
from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import ancestors, as_variable_list
from graphcomp.core.types import is_differentiable_dtype
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.runtime.evaluate import evaluate

__all__ = ["GradCheck", "NodeCheck", "check_grad"]


@dataclasses.dataclass(frozen=True)
class NodeCheck:
    """One comparison: ``node``'s bprop for input ``position`` (or the whole
    function for a target, ``position=None``) against finite differences."""

    node: Variable
    position: int | None
    analytic: float
    numeric: float
    ok: bool


@dataclasses.dataclass
class GradCheck:
    """All comparisons; ``first_failure`` is the first node (in topological
    order) whose bprop disagrees with finite differences."""

    whole: list[NodeCheck]
    nodes: list[NodeCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.whole + self.nodes)

    @property
    def first_failure(self) -> NodeCheck | None:
        return next((c for c in self.nodes if not c.ok), None)

    def __str__(self) -> str:
        lines = [f"{'check':<48} {'bprop':>14} {'finite diff':>14}  ok"]
        for c in self.whole + self.nodes:
            what = (
                f"d cost / d {c.node.label()}"
                if c.position is None
                else f"{c.node.owner.op.label()} input {c.position} ({c.node.site})"
            )
            lines.append(f"{what[:48]:<48} {c.analytic:>14.6g} {c.numeric:>14.6g}  {'yes' if c.ok else 'NO'}")
        bad = self.first_failure
        lines.append("all bprops agree" if self.ok else f"first wrong bprop: {bad.node.owner.op.label()} "
                     f"built at {bad.node.site}" if bad else "the whole gradient disagrees")  # fmt: skip
        return "\n".join(lines)


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    return bool(np.isclose(a, b, rtol=rtol, atol=atol))


def check_grad(
    outputs,
    wrt: Variable | Sequence[Variable],
    feed: Mapping,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    seed: int = 0,
) -> GradCheck:
    """Compare gradients with central finite differences along random directions,
    for the whole function and for every node's bprop on the path.

    ``wrt`` may hold inputs, Parameters, constants or inner nodes: finite
    differences move the target itself and hold what it is computed from,
    which is the derivative build_grad's grad_table holds for it.
    ``outputs`` is reduced to a scalar by a fixed random projection. The
    per-node check runs each op's forward on its actual input values, so the
    first node whose bprop is wrong is named even inside a long graph.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> report = gc.check_grad(gc.tanh(x) * x, x, {x: [0.1, -0.5, 2.0]})
        >>> report.ok, report.first_failure is None
        (True, True)
    """
    rng = np.random.default_rng(seed)
    outs, _ = as_variable_list(outputs)
    targets, _ = as_variable_list(wrt, "wrt")
    out_values = evaluate(outs, feed)
    cost = None
    for o, val in zip(outs, out_values):
        term = (o * constant(rng.standard_normal(np.shape(val)))).sum() if np.ndim(val) else o
        cost = term if cost is None else cost + term
    whole = _check_whole(cost, targets, feed, rng, eps, rtol, atol)
    nodes = _check_nodes(cost, targets, feed, rng, eps, rtol, atol)
    return GradCheck(whole, nodes)


def _check_whole(cost, targets, feed, rng, eps, rtol, atol):
    grads = evaluate(grad(cost, targets, disconnected="zero"), feed)
    values = evaluate(list(targets), feed)
    out = []
    for t, g, value in zip(targets, grads, values):
        holder, f = _as_function_of(cost, t)
        base = _feed_for(f, feed)
        value = np.asarray(value, dtype=t.dtype)
        u = rng.standard_normal(value.shape)
        # the points in t's own dtype (float32 refuses a float64 feed); the step taken
        # is then what rounding left of eps * u, so both sides use that step
        plus, minus = (np.asarray(value + s * eps * u, dtype=t.dtype) for s in (1, -1))
        step = (plus.astype(np.float64) - minus.astype(np.float64)) / (2 * eps)
        if f is cost:  # cost does not read t at all
            numeric = 0.0
        else:
            numeric = (float(evaluate(f, {**base, holder: plus})) - float(evaluate(f, {**base, holder: minus}))) / (
                2 * eps
            )
        analytic = float(np.sum(np.asarray(g, dtype=np.float64) * step))
        out.append(NodeCheck(t, None, analytic, numeric, _close(analytic, numeric, rtol, atol)))
    return out


def _as_function_of(cost: Variable, t: Variable) -> tuple[Variable, Variable]:
    """``cost`` with ``t`` replaced by a new input: the function whose derivative
    grad_table holds for ``t`` (an input, a Parameter, a constant or an inner
    node, whose own inputs then stay as they are)."""
    holder = Variable(t.name or "target", t.shape, t.dtype)
    (f,) = transform(
        [cost],
        lambda v, inputs: holder if v is t else rebuilt(v, inputs),
        lambda v: holder if v is t else v,
    )
    return holder, f


def _feed_for(f: Variable, feed: Mapping) -> dict:
    """The entries of ``feed`` that ``f`` reads (evaluate refuses the others)."""
    inputs = [v for v in ancestors([f]) if v.kind == "input"]
    held, names = set(inputs), {v.name for v in inputs}
    return {k: a for k, a in feed.items() if (k in held if isinstance(k, Variable) else k in names)}


def _check_nodes(cost, targets, feed, rng, eps, rtol, atol):
    path = [v for v in prune(cost, targets).variables if v.owner is not None]
    inputs_needed = sorted({i for v in path for i in v.owner.inputs}, key=lambda v: v.id)
    values = dict(zip(inputs_needed, evaluate(inputs_needed, feed))) if inputs_needed else {}
    out = []
    for v in path:
        op, ins = v.owner.op, v.owner.inputs
        args = [np.asarray(values[i]) for i in ins]
        holders = [Variable(f"in{k}", a.shape, a.dtype) for k, a in enumerate(args)]
        y = op(*holders)
        R = rng.standard_normal(y.shape)
        grads = op.bprop(holders, y, constant(R))
        for k, (h, g) in enumerate(zip(holders, grads)):
            if g is None or not is_differentiable_dtype(h.dtype):
                continue
            u = rng.standard_normal(args[k].shape)
            g_val = evaluate(g, {hh: a for hh, a in zip(holders, args)})
            analytic = float(np.sum(np.asarray(g_val) * u))
            numeric = _local_fd(op, args, k, u, R, eps)
            out.append(NodeCheck(v, k, analytic, numeric, _close(analytic, numeric, rtol, atol)))
    return out


def _local_fd(op, args, k, u, R, eps) -> float:
    """d/dt sum(R * op(args with input k moved by t u)) at t = 0, by central differences."""

    def f(shift):
        moved = list(args)
        moved[k] = args[k] + shift * u
        return float(np.sum(np.asarray(op.forward(*moved)) * R))

    return (f(eps) - f(-eps)) / (2 * eps)
