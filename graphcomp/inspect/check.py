"""``gc.check_grad``: finite differences against every node's bprop, so a wrong
gradient is traced to the op that made it, not only to the whole function."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from graphcomp.autodiff.backprop import backprop, grad
from graphcomp.autodiff.build_grad import is_disconnected
from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.errors import ArgumentError, named
from graphcomp.inspect.fd import coarsest, compare, defaults, symmetric_step, tolerance_argument
from graphcomp.ops.identity import StopGradient
from graphcomp.ops.loops.op import Scan, ScanCotangent, ScanOutput
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.runtime.evaluate import all_finite, evaluate

__all__ = ["GradCheck", "NodeCheck", "check_grad"]


@dataclasses.dataclass(frozen=True)
class NodeCheck:
    """One comparison: ``node``'s bprop for input ``position`` (or the whole
    function for a target, ``position=None``) against finite differences.

    ``status`` is ``"ok"``, ``"wrong"`` (the bprop disagrees with finite
    differences that mean something here) or ``"not checkable"``, ``reason``
    then saying why (``graphcomp.inspect.fd``): an input or value that is not
    finite, a step leaving the function's domain, a non-differentiable point, a
    step that rounds to zero. ``ok`` is ``status == "ok"``."""

    node: Variable
    position: int | None
    analytic: float
    numeric: float
    ok: bool
    status: str = ""
    reason: str = ""
    loop: Variable | None = None  # the loop node whose body ``node`` is in (checked at its first step)

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status", "ok" if self.ok else "wrong")


@dataclasses.dataclass
class GradCheck:
    """All comparisons; ``first_failure`` is the first node (in topological
    order) whose bprop disagrees with finite differences; ``unchecked`` the
    comparisons finite differences could not make here (never counted as wrong,
    never as agreeing either: ``ok`` is False while there is one)."""

    whole: list[NodeCheck]
    nodes: list[NodeCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.whole + self.nodes)

    @property
    def first_failure(self) -> NodeCheck | None:
        return next((c for c in self.nodes if c.status == "wrong"), None)

    @property
    def unchecked(self) -> list[NodeCheck]:
        return [c for c in self.whole + self.nodes if c.status == "not checkable"]

    def __str__(self) -> str:
        mark = {"ok": "yes", "wrong": "NO", "not checkable": "n/a"}
        lines = [f"{'check':<48} {'bprop':>14} {'finite diff':>14}  ok"]
        for c in self.whole + self.nodes:
            lines.append(f"{_what(c)[:48]:<48} {c.analytic:>14.6g} {c.numeric:>14.6g}  {mark[c.status]}")
        for c in self.whole + self.nodes:
            if c.status == "not checkable":
                lines.append(f"not checkable here: {_what(c)}: {c.reason}")
            elif c.reason:
                lines.append(f"note: {_what(c)}: {c.reason}")
        bad = self.first_failure
        if bad is not None:
            lines.append(f"first wrong bprop: {bad.node.owner.op.label()} built at {bad.node.site}")
        elif any(c.status == "wrong" for c in self.whole):
            lines.append("the whole gradient disagrees")
        elif self.unchecked:
            lines.append(f"no wrong bprop found; {len(self.unchecked)} check(s) not checkable at these values")
        else:
            lines.append("all bprops agree")
        return "\n".join(lines)


def _what(c: NodeCheck) -> str:
    if c.position is None:
        return f"d cost / d {c.node.label()}"
    what = f"{c.node.owner.op.label()} input {c.position} ({c.node.site})"
    return what if c.loop is None else f"  body: {what}"  # a node of a loop's body


def check_grad(
    outputs,
    wrt: Variable | Sequence[Variable],
    feed: Mapping,
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
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

    The step is ``eps * max(1, |v|)`` for each entry ``v`` moved, rounded to
    its dtype; ``eps``, ``rtol`` and ``atol`` default to the precision of
    the values involved (float64: 1e-6, 1e-4, 1e-6; float32: 5e-3, 1e-3,
    1e-4; float16: 0.1, 1e-2, 1e-2), the tolerance growing by the rounding
    error of both sides (``graphcomp.inspect.fd``). Where finite differences
    mean nothing (an input or value that is not finite, a step that leaves the
    function's domain, a kink whose one-sided differences disagree, a step
    that rounds to zero) the check says ``"not checkable"`` and why, never
    that a bprop is wrong; at a kink a bprop giving a value between the
    one-sided differences (relu'(0) = 0) is such a point. A node's
    derivatives are checked where its incoming gradient is not 0 when
    elsewhere they are not finite (the untaken branch of a ``where``).

    A loop (``gc.scan``) and its projections are checked as one op: its bprop
    (the backward loop) is given random cotangents of all its float outputs at
    once and compared with finite differences of the whole loop; before it, the
    bprops of its body's nodes are checked at the values of its first step
    (rows ``body:``; ``NodeCheck.loop`` is the loop node), so a wrong one is named
    on the line of the body that built it.

    Raises ``gc.ArgumentError`` (naming check_grad) for ``eps`` that is not a
    positive finite number, ``rtol``/``atol`` that are not non-negative finite
    numbers, a ``seed`` that is not an int >= 0, a ``feed`` that is not a
    mapping, or ``outputs``/``wrt``/``consider_constant`` that are not Variables.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> report = gc.check_grad(gc.tanh(x) * x, x, {x: [0.1, -0.5, 2.0]})
        >>> report.ok, report.first_failure is None
        (True, True)
        >>> print(gc.check_grad(gc.relu(x).sum(), x, {x: [0.0, 1.0, -1.0]}).whole[0].status)
        not checkable
    """
    settings = _settings(eps, rtol, atol, seed, feed)
    rng = np.random.default_rng(seed)
    outs, _ = as_variable_list(outputs, "check_grad: outputs")
    if not outs:
        raise ArgumentError("check_grad: outputs must hold at least one Variable, got an empty sequence")
    targets, _ = as_variable_list(wrt, "check_grad: wrt")
    consider_constant = tuple(as_variable_list(consider_constant, "check_grad: consider_constant")[0])
    with named("check_grad"):
        return _check(outs, targets, feed, rng, settings, consider_constant)


def _check(outs, targets, feed, rng, settings, consider_constant) -> GradCheck:
    with np.errstate(all="ignore"):
        out_values = evaluate(outs, feed)
    cost = None
    for o, val in zip(outs, out_values):
        term = (o * constant(rng.standard_normal(np.shape(val)))).sum() if np.ndim(val) else o
        cost = term if cost is None else cost + term
    whole = _check_whole(cost, targets, feed, rng, settings, consider_constant)
    nodes = _check_nodes(cost, targets, feed, rng, settings, consider_constant)
    return GradCheck(whole, nodes)


def _settings(eps, rtol, atol, seed, feed) -> tuple:
    """The user's ``(eps, rtol, atol)`` (None: by dtype), checked."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ArgumentError(f"check_grad: seed must be an int >= 0 (NumPy's default_rng seed), got {seed!r}")
    if not isinstance(feed, Mapping):
        raise ArgumentError(f"check_grad: feed must be a mapping from Variables (or names) to values, got {feed!r}")
    return (
        tolerance_argument(eps, "check_grad: eps", positive=True),
        tolerance_argument(rtol, "check_grad: rtol", positive=False),
        tolerance_argument(atol, "check_grad: atol", positive=False),
    )


def _resolved(settings, precision) -> tuple[float, float, float]:
    """``(eps, rtol, atol)``: the user's, else those of ``precision``."""
    return tuple(given if given is not None else default for given, default in zip(settings, defaults(precision)))


def _check_whole(cost, targets, feed, rng, settings, consider_constant):
    with np.errstate(all="ignore"):
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
        if f is cost:  # cost does not read t at all
            out.append(NodeCheck(t, None, 0.0, 0.0, True))
            continue
        if not all_finite(value):
            out.append(_unchecked(t, None, f"input not finite: {t.label()} holds {_non_finite(value)}"))
            continue
        precision = coarsest([v.dtype for v in ancestors([f])] + [t.dtype])
        h, rtol, atol = _resolved(settings, precision)

        def phi(point, f=f, base=base, holder=holder):
            with np.errstate(all="ignore"):
                v = float(evaluate(f, {**base, holder: point}))
            return v, abs(v)

        direction = _direction(u, value)  # a relative step for large values
        verdict = compare(phi, value, t.dtype, direction, g, h, rtol, atol, precision, phi(value))
        out.append(_node_check(t, None, verdict))
    return out


def _node_check(v, position, verdict) -> NodeCheck:
    return NodeCheck(v, position, verdict.analytic, verdict.numeric, verdict.status == "ok", verdict.status,
                     verdict.reason)  # fmt: skip


def _unchecked(v, position, reason: str) -> NodeCheck:
    return NodeCheck(v, position, float("nan"), float("nan"), False, "not checkable", reason)


def _non_finite(a) -> str:
    a = np.asarray(a)
    bad = a[~np.isfinite(a)]
    return f"{', '.join(str(b) for b in np.unique(bad)[:3])} (at {bad.size} of {a.size} places)"


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


def _flows(cost, targets, consider_constant) -> tuple[dict[Variable, set[int]], dict]:
    """For each node, the input positions whose bprop term reaches a target's
    gradient: exactly the local derivatives that gradient is made of.

    Walked back from the targets through build_grad's provenance, so a term
    that went to a stop_gradient or consider_constant node and stopped there
    is left out, as is every constant and integer input (which get none).
    Also returns the grad_table: each node's incoming gradient."""
    r = backprop(cost, targets, consider_constant=consider_constant)
    provenance = r.provenance
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
    return flows, r.grad_table


def _check_nodes(cost, targets, feed, rng, settings, consider_constant):
    flows, grad_table = _flows(cost, targets, consider_constant)
    # a loop and its projections are one unit: its packed value is no array to move
    path = [v for v in topological(flows) if not _projects_a_loop(v)]
    inputs_needed = topological({i for v in path for i in v.owner.inputs})
    with np.errstate(all="ignore"):
        values = dict(zip(inputs_needed, evaluate(inputs_needed, feed))) if inputs_needed else {}
    incoming = _Incoming(grad_table, feed)
    out = []
    for v in path:
        op, ins = v.owner.op, v.owner.inputs
        args = [np.asarray(values[i]) for i in ins]
        holders = [Variable(f"in{k}", a.shape, a.dtype) for k, a in enumerate(args)]
        y = op(*holders)
        if isinstance(op, Scan):  # its body's bprops first: a wrong one is named, not only the loop
            out += _check_body(v, args, rng, settings)
            out += _check_loop(v, args, holders, y, flows[v], rng, settings)
            continue
        R = rng.standard_normal(y.shape)
        cotangent = Variable("G", y.shape, np.float64)
        grads = op.bprop(holders, y, cotangent)
        for k, g in enumerate(grads):
            if k not in flows[v] or g is None:
                continue
            u = rng.standard_normal(args[k].shape)
            out.append(_check_local(v, k, op, args, holders, cotangent, g, R, u, settings, incoming))
    return out


def _check_loop(v, args, holders, y, flowing, rng, settings) -> list[NodeCheck]:
    """A loop node's bprop (the backward loop), given random cotangents of all its float
    outputs at once, against central differences of the whole loop, input by input."""
    op = v.owner.op
    R, G = _loop_cotangent(op, args, rng)
    grads = op.bprop(holders, y, G)
    precision = coarsest([a.dtype for a in args if a.dtype.kind == "f"] or [np.dtype(np.float64)])
    eps, rtol, atol = _resolved(settings, precision)
    out = []
    for k, g in enumerate(grads):
        if k not in flowing or g is None:
            continue
        u = rng.standard_normal(args[k].shape)
        g_val = evaluate(g, dict(zip(holders, args)))
        analytic = float(np.sum(np.asarray(g_val) * u))
        numeric = _loop_fd(op, args, k, u, R, eps)
        ok = bool(np.isclose(analytic, numeric, rtol=rtol, atol=atol))
        out.append(NodeCheck(v, k, analytic, numeric, ok))
    return out


def _check_body(loop: Variable, args: list, rng, settings) -> list[NodeCheck]:
    """Every bprop of loop node ``loop``'s body, checked as ``_check_nodes`` checks a
    graph, at the values of its first step (t = 0, or T-1 when reversed), against
    a random projection of the step's outputs (new carries and ys); none when T = 0.
    A loop in the body is checked the same way, one level down."""
    op: Scan = loop.op
    b = op.body
    nc, nx = len(b.carry_in), len(b.x_in)
    xs = args[nc : nc + nx]
    T = op.length if op.length is not None else (len(xs[0]) if xs else 0)
    if T == 0:
        return []
    t = T - 1 if op.reverse else 0
    feed = dict(zip(b.carry_in, args[:nc]))
    feed.update({p: a[t] for p, a in zip(b.x_in, xs)})
    feed.update(zip(b.captured, args[nc + nx :]))
    if b.index is not None:
        feed[b.index] = np.int64(t)
    cost = None
    for o in b.outputs:
        if o.dtype.kind == "f":
            term = (o * constant(rng.standard_normal(np.shape(evaluate(o, feed))))).sum()
            cost = term if cost is None else cost + term
    read = ancestors([cost]) if cost is not None else set()
    targets = [p for p in b.inputs if p.dtype.kind == "f" and p in read]
    if not targets:
        return []
    inside = set(b.nodes())  # not the projection built here to check them
    checks = _check_nodes(cost, targets, feed, rng, settings, ())
    # a loop inside the body brings its own body's checks (``loop`` set to it), kept as they are
    return [c if c.loop is not None else dataclasses.replace(c, loop=loop) for c in checks
            if c.loop is not None or c.node in inside]  # fmt: skip


def _projects_a_loop(v: Variable) -> bool:
    """A projection (``scan_output``) of a loop node: checked with its loop."""
    return isinstance(v.op, ScanOutput) and isinstance(v.owner.inputs[0].op, Scan)


def _loop_cotangent(op: Scan, args: list, rng) -> tuple[list, Variable]:
    """Random weights R_k for each float output of the loop (run once on ``args`` for
    their shapes) and the packed cotangent G = ScanCotangent(slots, n)(*R_k) that the
    loop's bprop reads, as build_grad would assemble it from the projections."""
    outputs = op.forward(*args).values
    R: list = [None] * len(outputs)
    for k, a in enumerate(outputs):
        if np.asarray(a).dtype.kind == "f":
            R[k] = rng.standard_normal(np.shape(a))
    slots = tuple(k for k, r in enumerate(R) if r is not None)
    return R, ScanCotangent(slots, len(outputs))(*[constant(R[k]) for k in slots])


def _loop_fd(op, args, k, u, R, eps) -> float:
    """d/dt sum(R_j * output_j(args with input k moved by t u)) at t = 0 for the loop
    op ``op``, by central differences (R holds one weight array per output, None for
    an integer one)."""

    def f(shift):
        moved = list(args)
        moved[k] = args[k] + shift * u
        out = op.forward(*moved)
        return sum(float(np.sum(np.asarray(a) * r)) for a, r in zip(out.values, R) if r is not None)

    return (f(eps) - f(-eps)) / (2 * eps)


class _Incoming:
    """Each node's incoming gradient at the feed (its grad_table entry), evaluated
    once, the first time a node's local check needs to know where it is 0."""

    def __init__(self, grad_table, feed):
        self.grad_table, self.feed, self.values = grad_table, feed, None

    def __getitem__(self, v) -> np.ndarray | None:
        if self.values is None:
            keys = [u for u in self.grad_table if not is_disconnected(self.grad_table[u])]
            with np.errstate(all="ignore"):
                self.values = dict(zip(keys, evaluate([self.grad_table[u] for u in keys], self.feed)))
        hit = self.values.get(v)
        return None if hit is None else np.asarray(hit)


def _check_local(v, k, op, args, holders, cotangent, g, R, u, settings, incoming) -> NodeCheck:
    """Input ``k`` of node ``v``: d/dt sum(R * op(args, input k moved by t u)) at t = 0,
    by central differences, against the bprop's ``g`` for that input with G = R.

    Entries that are not finite are never moved. Where the op's value is not finite,
    or a step leaves its domain, the check is made again where the node's incoming
    gradient is not 0 (the rest the gradient does not use: the untaken branch of a
    ``where``); if that cannot be done, the point is not checkable. An elementwise
    op at a kink is checked again without the entries at the kink."""
    precision = coarsest([a.dtype for a in args] + [v.dtype])
    h, rtol, atol = _resolved(settings, precision)
    finite_inputs = all(all_finite(a) for a in args if a.dtype.kind in "fc")
    mapped = op.elementwise and args[k].shape == np.shape(R)  # input entry i feeds output entry i alone
    verdict = _local_verdict(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision)
    if verdict.reason.startswith("non-differentiable") and mapped:
        return _node_check(v, k, _without_kinks(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision,
                                                verdict))  # fmt: skip
    if verdict.status == "ok" or verdict.reason.startswith(("the step rounds", "non-differentiable")):
        return _node_check(v, k, verdict)
    if verdict.status == "wrong" and (finite_inputs or math.isfinite(verdict.analytic)):
        return _node_check(v, k, verdict)
    G = incoming[v]
    unused = None if G is None or G.shape != np.shape(R) or not np.any(G == 0) else G == 0
    if unused is not None:
        masked = _local_verdict(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision, unused,
                                still=unused if mapped else None)  # fmt: skip
        if masked.status == "ok" or (masked.status == "wrong" and math.isfinite(masked.analytic)):
            return _node_check(
                v,
                k,
                dataclasses.replace(
                    masked,
                    reason="checked where its incoming gradient is not "
                    "0 (elsewhere finite differences are undefined, and the gradient does not use them)",
                ),
            )
    if not finite_inputs:
        n, bad = next((n, a) for n, a in enumerate(args) if a.dtype.kind in "fc" and not all_finite(a))
        return _unchecked(v, k, f"input not finite: input {n} holds {_non_finite(bad)}")
    return _node_check(v, k, verdict)


def _without_kinks(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision, verdict):
    """An elementwise op at a kink: the entries at the kink found one by one (their own
    one-sided differences keep disagreeing as the step shrinks), the others checked
    as usual; the kink's entries are said, not checked."""
    a = args[k]
    direction = _direction(u, a)
    d, d4 = (symmetric_step(a, direction, s, a.dtype) for s in (h, h / 4))
    base = a.astype(np.float64)

    def y(step):
        moved = list(args)
        moved[k] = (base + step).astype(a.dtype)
        with np.errstate(all="ignore"):
            return np.asarray(op.forward(*moved), dtype=np.float64)

    y0 = y(0.0)
    with np.errstate(all="ignore"):
        gap = np.abs(y(d) - 2 * y0 + y(-d)) / h
        p4, m4 = y(d4), y(-d4)
        gap4 = np.abs(p4 - 2 * y0 + m4) / (h / 4)
        noise = 8 * np.finfo(precision).eps * (np.abs(p4) + np.abs(m4) + 2 * np.abs(y0)) / (h / 4)
    kinks = (d4 != 0) & (gap4 > noise) & (gap4 >= 0.5 * gap)
    if not np.any(kinks) or np.all(kinks | (d4 == 0)):
        return verdict
    rest = _local_verdict(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision, still=kinks)
    where = ", ".join(f"{float(x):.4g}" for x in np.unique(a[kinks])[:3])
    note = f"not checked at {int(np.count_nonzero(kinks))} non-differentiable place(s) (input {k} = {where})"
    return dataclasses.replace(rest, reason=f"{rest.reason}; {note}" if rest.reason else note)


def _direction(u: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``u`` scaled by ``max(1, |a|)``: a relative step for large entries (0 where
    ``a`` is not finite: such an entry is never moved)."""
    with np.errstate(all="ignore"):
        scale = np.where(np.isfinite(a), np.maximum(1.0, np.abs(a.astype(np.float64))), 0.0)
    return np.asarray(u * scale)


def _local_verdict(op, args, k, holders, cotangent, g, R, u, h, rtol, atol, precision, unused=None, still=None):
    """compare() on the op alone; ``unused`` (or None) marks the output places left out,
    ``still`` (or None) the entries of input ``k`` not moved."""
    R_used = R if unused is None else np.where(unused, 0.0, R)
    direction = _direction(u, args[k])
    if still is not None:
        direction = np.where(still, 0.0, direction)

    def phi(point):
        moved = list(args)
        moved[k] = point
        with np.errstate(all="ignore"):
            y = np.asarray(op.forward(*moved), dtype=np.float64)
            terms = np.where(R_used != 0, y * R_used, 0.0)
        return float(np.sum(terms)), float(np.sum(np.abs(terms)))

    with np.errstate(all="ignore"):
        g_val = np.asarray(evaluate(g, {**dict(zip(holders, args)), cotangent: R_used}), dtype=np.float64)
    return compare(phi, args[k], args[k].dtype, direction, g_val, h, rtol, atol, precision, phi(args[k]))
