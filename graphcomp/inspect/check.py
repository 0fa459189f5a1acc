"""``gc.check_grad``: finite differences against every node's bprop, so a wrong
gradient is traced to the op that made it, not only to the whole function."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from graphcomp.autodiff.backprop import backprop, grad
from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.ops.composite import OpFromGraph
from graphcomp.ops.identity import StopGradient
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
    #: what was compared: "finite differences", or "linear in G" (a custom bprop at
    #: bprop(a G1 + b G2) against a bprop(G1) + b bprop(G2), projected alike)
    test: str = "finite differences"


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
                if c.test == "finite differences"
                else f"{c.node.owner.op.label()} input {c.position} {c.test}"
            )
            lines.append(f"{what[:48]:<48} {c.analytic:>14.6g} {c.numeric:>14.6g}  {'yes' if c.ok else 'NO'}")
        bad = self.first_failure
        why = "" if bad is None or bad.test == "finite differences" else " (its custom bprop is not linear in G)"
        lines.append("all bprops agree" if self.ok else f"first wrong bprop: {bad.node.owner.op.label()} "
                     f"built at {bad.node.site}{why}" if bad else "the whole gradient disagrees")  # fmt: skip
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
    consider_constant=(),
) -> GradCheck:
    """Compare gradients with central finite differences along random directions,
    for the whole function and for every node's bprop on the path.

    ``wrt`` may hold inputs, Parameters, constants or inner nodes: finite
    differences move the target itself and hold what it is computed from,
    which is the derivative build_grad's grad_table holds for it.
    ``outputs`` is reduced to a scalar by a fixed random projection. The
    per-node check runs each op's forward on its actual input values, so the
    first node whose bprop is wrong is named even inside a long graph.

    Only the derivatives the gradient is built from are checked: for each node
    of G', the input positions through which build_grad sent a term. A
    constant (the exponent of ``x ** 2``), an integer, and a path cut by
    ``gc.stop_gradient`` or by a node in ``consider_constant`` (as
    ``gc.grad``'s argument) are never asked for. The whole-function finite
    differences hold those cut nodes at their values too, since that is the
    function whose derivative ``gc.grad`` gives.

    A custom bprop (``gc.op_from_graph(..., bprop=)``) is also checked to be
    linear in G, as every bprop must be (J^T G): at cotangents a thousand times
    larger and smaller than the finite-difference one, of either sign, and
    summed (``bprop(a G1 + b G2) = a bprop(G1) + b bprop(G2)``), so a bprop that
    clips or squares G is named even where a unit cotangent would pass.

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
    consider_constant = tuple(consider_constant)
    whole = _check_whole(cost, targets, feed, rng, eps, rtol, atol, consider_constant)
    nodes = _check_nodes(cost, targets, feed, rng, eps, rtol, atol, consider_constant)
    return GradCheck(whole, nodes)


def _check_whole(cost, targets, feed, rng, eps, rtol, atol, consider_constant):
    grads = evaluate(grad(cost, targets, disconnected="zero", consider_constant=consider_constant), feed)
    values = evaluate(list(targets), feed)
    cut = _cut_nodes(cost, consider_constant)
    cut_values = dict(zip(cut, evaluate(cut, feed))) if cut else {}
    out = []
    for t, g, value in zip(targets, grads, values):
        holder, f = _as_function_of(cost, t, {c: a for c, a in cut_values.items() if c is not t})
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


def _cut_nodes(cost: Variable, consider_constant: tuple) -> list[Variable]:
    """The nodes gc.grad treats as constants: stop_gradient outputs and the
    consider_constant nodes, which finite differences must hold fixed too."""
    held = set(consider_constant)
    return [
        v
        for v in topological(ancestors([cost]))
        if v in held or (v.owner is not None and isinstance(v.owner.op, StopGradient))
    ]


def _as_function_of(cost: Variable, t: Variable, frozen: Mapping | None = None) -> tuple[Variable, Variable]:
    """``cost`` with ``t`` replaced by a new input: the function whose derivative
    grad_table holds for ``t`` (an input, a Parameter, a constant or an inner
    node, whose own inputs then stay as they are). Each node in ``frozen``
    becomes a constant holding the value given for it."""
    holder = Variable(t.name or "target", t.shape, t.dtype)
    frozen = frozen or {}
    fixed = {v: constant(np.asarray(a, dtype=v.dtype)) for v, a in frozen.items()}

    def swap(v):
        return holder if v is t else fixed.get(v, v)

    (f,) = transform([cost], lambda v, inputs: swap(v) if v is t or v in fixed else rebuilt(v, inputs), swap)
    return holder, f


def _feed_for(f: Variable, feed: Mapping) -> dict:
    """The entries of ``feed`` that ``f`` reads (evaluate refuses the others)."""
    inputs = [v for v in ancestors([f]) if v.kind == "input"]
    held, names = set(inputs), {v.name for v in inputs}
    return {k: a for k, a in feed.items() if (k in held if isinstance(k, Variable) else k in names)}


def _flows(cost, targets, consider_constant) -> dict[Variable, set[int]]:
    """For each node, the input positions whose bprop term reaches a target's
    gradient: exactly the local derivatives that gradient is made of.

    Walked back from the targets through build_grad's provenance, so a term
    that went to a stop_gradient or consider_constant node and stopped there
    is left out, as is every constant and integer input (which get none)."""
    provenance = backprop(cost, targets, consider_constant=consider_constant).provenance
    flows: dict[Variable, set[int]] = {}
    seen = set(targets)
    stack = list(targets)
    while stack:
        v = stack.pop()
        for c in provenance.get(v, ()):
            flows.setdefault(c.consumer, set()).add(c.position)
            if c.consumer not in seen:
                seen.add(c.consumer)
                stack.append(c.consumer)
    return flows


def _check_nodes(cost, targets, feed, rng, eps, rtol, atol, consider_constant):
    flows = _flows(cost, targets, consider_constant)
    path = topological(flows)
    inputs_needed = topological({i for v in path for i in v.owner.inputs})
    values = dict(zip(inputs_needed, evaluate(inputs_needed, feed))) if inputs_needed else {}
    out = []
    for v in path:
        op, ins = v.owner.op, v.owner.inputs
        args = [np.asarray(values[i]) for i in ins]
        holders = [Variable(f"in{k}", a.shape, a.dtype) for k, a in enumerate(args)]
        y = op(*holders)
        R = rng.standard_normal(y.shape)
        grads = op.bprop(holders, y, constant(R))
        for k, g in enumerate(grads):
            if k not in flows[v] or g is None:
                continue
            u = rng.standard_normal(args[k].shape)
            g_val = evaluate(g, {hh: a for hh, a in zip(holders, args)})
            analytic = float(np.sum(np.asarray(g_val) * u))
            numeric = _local_fd(op, args, k, u, R, eps)
            out.append(NodeCheck(v, k, analytic, numeric, _close(analytic, numeric, rtol, atol)))
        if isinstance(op, OpFromGraph) and op.custom is not None:
            out += _check_linear_in_G(v, holders, args, flows[v], rng, rtol, atol)
    return out


#: (a, b) of the cotangents a G1 + b G2 a custom bprop is checked at: large, small, of both signs, summed
_COMBINATIONS = ((1e3, 0.0), (-1e-3, 0.0), (1.0, 1.0), (-250.0, 4e-2))


def _check_linear_in_G(v, holders, args, positions, rng, rtol, atol) -> list[NodeCheck]:
    """A custom bprop's linearity in G on the node's own values: bprop(a G1 + b G2)
    against a bprop(G1) + b bprop(G2), each projected on a random direction."""
    op = v.owner.op
    G = Variable("G", v.shape, v.dtype)
    grads = op.bprop(holders, op(*holders), G)
    feed = dict(zip(holders, args))
    out = []
    for k in sorted(positions):
        if grads[k] is None:
            continue
        u = rng.standard_normal(args[k].shape)

        def project(R, g=grads[k], u=u):
            return float(np.sum(np.asarray(evaluate(g, {**feed, G: R}), dtype=np.float64) * u))

        G1, G2 = rng.standard_normal(v.shape), rng.standard_normal(v.shape)
        base1, base2 = project(G1), project(G2)
        for a, b in _COMBINATIONS:
            combined, expected = project(a * G1 + b * G2), a * base1 + b * base2
            scale = max(abs(a), abs(b))
            ok = bool(np.isclose(combined, expected, rtol=rtol, atol=atol * scale))
            at = f"{a:g} G" if b == 0 else f"{a:g} G1 + {b:g} G2"
            out.append(NodeCheck(v, k, combined, expected, ok, f"linear in G ({at})"))
    return out


def _local_fd(op, args, k, u, R, eps) -> float:
    """d/dt sum(R * op(args with input k moved by t u)) at t = 0, by central differences."""

    def f(shift):
        moved = list(args)
        moved[k] = args[k] + shift * u
        return float(np.sum(np.asarray(op.forward(*moved)) * R))

    return (f(eps) - f(-eps)) / (2 * eps)
