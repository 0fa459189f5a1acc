"""``gc.explain_grad``: why a gradient is zero, disconnected or not finite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from graphcomp.autodiff.backprop import backprop
from graphcomp.autodiff.blocked import describe_block
from graphcomp.autodiff.build_grad import is_disconnected
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.core.types import fmt_shape, is_differentiable_dtype
from graphcomp.errors import ArgumentError, GradientError, named
from graphcomp.ops.creation import ones_like
from graphcomp.ops.loops.body import Body, first_non_finite, run_loop
from graphcomp.ops.loops.op import Scan, ScanOutput, body_backprop
from graphcomp.ops.select import Where
from graphcomp.runtime.evaluate import all_finite, evaluate

__all__ = ["Explanation", "explain_grad"]


@dataclasses.dataclass
class Explanation:
    """The verdict on one gradient: ``status`` is ``"no path"``, ``"blocked"``,
    ``"non-finite"``, ``"zero"`` or ``"ok"``; ``node`` is the node to look at."""

    status: str
    message: str
    node: Variable | None = None

    def __str__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return f"**{self.status}**: {self.message}"


def _where(v: Variable, consumers=None) -> str:
    """``v`` as the user knows it: its op and line; a helper node graphcomp built
    around a user's op (a mean's element count) also names that op."""
    what = v.owner.op.label() if v.owner is not None else v.kind
    text = f"{v.label()} ({what}, built at {v.site})"
    owner = _served(v, consumers) if consumers is not None else None
    if owner is not None:
        text += f", a helper of {owner.label()} ({owner.owner.op.label()}, built at {owner.site})"
    return text


def _served(v: Variable, consumers) -> Variable | None:
    """The first user-built op node that helper node ``v`` feeds, or None when ``v`` is
    not a helper."""
    seen, stack = set(), [v]
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u is not v and u.owner is not None and not u.owner.op.helper:
            return u
        if u is v and (u.owner is None or not u.owner.op.helper):
            return None
        stack.extend(consumers(u))
    return None


def explain_grad(
    cost: Variable, x: Variable, feed: Mapping | None = None, *, consider_constant: Iterable[Variable] = ()
) -> Explanation:
    """Say why the gradient of ``cost`` with respect to ``x`` is zero,
    disconnected or non-finite, naming the node responsible.

    Without ``feed`` only the structure is examined: no path, or a path
    blocked by a ``stop_gradient``, a ``consider_constant`` node, a
    comparison or an integer value. With ``feed`` the values are examined
    too, and every reason given is checked on them: a cost that is itself not
    finite (the node whose value first turns non-finite, its inputs' values
    there and its own derivative), else the first node whose gradient term
    turns non-finite (an infinite local derivative; times a zero from the
    untaken branch of a ``where`` it is nan), or where it turns exactly zero.
    A node graphcomp built around a user's op (a mean's element count) is
    named with the op it serves. A non-finite value fed in (NaN in ``x``, or
    in ``w`` of ``x * w``) is named as the cause, not the derivative of the
    op that reads it.

    Raises ``gc.GradientError`` for a cost that is not a scalar (as
    ``gc.grad`` does) and ``gc.ArgumentError`` (naming explain_grad) for a
    ``cost`` or ``x`` that is not a Variable, a ``feed`` that is not a
    mapping, or a ``consider_constant`` that is not a sequence of Variables.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> y = gc.where(x > 0, gc.log(x), 0.0)
        >>> print(gc.explain_grad(y, x, {x: 0.0}).status)
        non-finite
    """
    consider_constant = _arguments(cost, x, feed, consider_constant)
    with named("explain_grad"):
        return _explain(cost, x, feed, consider_constant)


def _explain(cost, x, feed, consider_constant) -> Explanation:
    if x not in ancestors([cost]):
        return Explanation("no path", f"{cost.label()} does not depend on {_where(x)} at all: no path joins them")
    if not is_differentiable_dtype(x.dtype):
        return Explanation("blocked", f"{_where(x)} has dtype {x.dtype}; gradients exist only for floats", x)
    r = backprop(cost, [x], consider_constant=consider_constant)
    g = r.grads[x]
    if is_disconnected(g):
        b = r.blocker(x)
        if b is None:
            return Explanation("no path", f"no differentiable path joins {x.label()} to {cost.label()}")
        if isinstance(b.op, Scan):  # the loop passes none: say which node of its body stops it
            inside = _blocked_in_body(r, b, x, cost, consider_constant)
            if inside is not None:
                return inside
        why = describe_block(b, consider_constant)
        return Explanation("blocked", f"every path from {x.label()} to {cost.label()} crosses {why}: {_where(b)}", b)
    inside = _blocked_in_a_loop(r, x, cost, consider_constant)
    if inside is not None:
        return inside
    if feed is None:
        return Explanation("ok", f"{cost.label()} depends differentiably on {x.label()}; pass a feed to check values")
    return _explain_values(cost, x, r, feed)


def _arguments(cost, x, feed, consider_constant) -> tuple:
    """The arguments checked as gc.grad checks its own; consider_constant as a tuple
    (read twice: by backprop, and to describe a block)."""
    for what, v in (("cost", cost), ("x", x)):
        if not isinstance(v, Variable):
            raise ArgumentError(f"explain_grad: {what} must be a Variable, got {type(v).__name__}: {v!r}"[:300])
    if feed is not None and not isinstance(feed, Mapping):
        raise ArgumentError(f"explain_grad: feed must be a mapping from Variables (or names) to values, got {feed!r}")
    if cost.shape != ():
        raise GradientError(
            f"explain_grad: the cost must be a scalar, but {cost.label()} has shape {fmt_shape(cost.shape)} "
            f"(built at {cost.site}); reduce it with .sum(), as gc.grad asks"
        )
    return tuple(as_variable_list(consider_constant, "explain_grad: consider_constant")[0])


def _explain_values(cost, x, r, feed) -> Explanation:
    path = list(r.pruned.variables)  # topological: x first, cost last
    everything = topological(ancestors([cost]))
    with np.errstate(all="ignore"):
        values = dict(zip(everything, evaluate(everything, feed)))
        grads = dict(zip(path, evaluate([r.grad_table[v] for v in path], feed)))
    consumers = r.pruned.consumers
    if not all_finite(values[cost]):
        origin = _first_non_finite_value(everything, values)
        if origin is not None and origin.owner is None:
            return _non_finite_leaf(origin, cost, values)
        if origin is not None and _projected_loop(origin) is not None:
            inside = _non_finite_in_loop(_projected_loop(origin), cost, values)
            if inside is not None:
                return inside
        if origin is not None:
            return _non_finite_value(origin, cost, values, consumers)
    if not all_finite(grads[x]):
        return _non_finite_gradient(r, path, values, grads, feed, consumers)
    gx = np.asarray(grads[x])
    if np.all(gx == 0):
        for v in path:
            if np.all(np.asarray(grads[v]) == 0):
                zero_from = [c for c in consumers(v) if not np.all(np.asarray(grads[c]) == 0)]
                if zero_from:
                    c = zero_from[0]
                    return Explanation(
                        "zero",
                        f"the gradient is exactly zero at these inputs: it vanishes at {_where(c, consumers)}, "
                        f"whose local derivative with respect to {v.label()} is zero here",
                        c,
                    )
        return Explanation("zero", "the gradient is exactly zero at these inputs", x)
    return Explanation("ok", f"the gradient is connected and finite (norm {float(np.linalg.norm(gx)):.4g})")


def _first_non_finite_value(order, values) -> Variable | None:
    """The first node (in topological ``order``) whose value is not finite while every
    input's is: where the forward pass itself goes bad (log of 0, a division by 0), or
    a value fed, stored or written in that is not finite."""
    for v in order:
        if all_finite(values[v]):
            continue
        if v.owner is None or all(all_finite(values[i]) for i in v.owner.inputs):
            return v
    return None


def _non_finite_leaf(v: Variable, cost: Variable, values: dict) -> Explanation:
    """The cost is not finite because a value it reads already was: fed, a Parameter's or a constant."""
    text = _non_finite(values[v])
    held = {"input": f"{_where(v)} is fed {text}", "parameter": f"the Parameter {_where(v)} holds {text}"}
    return Explanation(
        "non-finite",
        f"the cost {_where(cost)} is not finite here, so neither is its gradient: a value it reads is not finite "
        f"before any op runs: {held.get(v.kind, f'the constant {_where(v)} holds {text}')}. Feed finite values "
        "(np.isfinite), or find where they turned non-finite before (gc.evaluate(..., check_finite=True))",
        v,
    )


def _non_finite_value(v: Variable, cost: Variable, values: dict, consumers, inside: str = "") -> Explanation:
    """The cost is not finite because ``v`` is not: say where, at which input values, and
    what ``v``'s own derivative is there (from its bprop, on the values). ``inside``
    says at which step of which loop, for a node of a loop's body."""
    bad = ~np.isfinite(np.asarray(values[v]))
    inputs = ", ".join(f"{i.label()} is {_at(values[i], bad, v.shape)}" for i in v.owner.inputs if i.dtype.kind in "fc")
    local = _local_derivative(v, values, bad)
    hint = v.owner.op.stable_hint_for(v)
    hint = f" {hint}" if hint else ""
    return Explanation(
        "non-finite",
        f"the cost {_where(cost)} is not finite here, so neither is its gradient: the value first turns non-finite "
        f"{inside}at {_where(v, consumers)}, which is {_at(values[v], bad, v.shape)} where {inputs}"
        f"{local}. Keep its input where {v.owner.op.name} is finite, or use a stable form.{hint}",
        v,
    )


# -- loops: what happens inside a body ----------------------------------------------------------------


def _projected_loop(v: Variable) -> Variable | None:
    """The loop node ``v`` is an output of (``v`` a ``scan_output``), or None."""
    if v.owner is not None and isinstance(v.op, ScanOutput) and isinstance(v.owner.inputs[0].op, Scan):
        return v.owner.inputs[0]
    return None


def _placeholder_role(loop: Variable, k: int) -> str:
    """What the body's k-th placeholder stands for, in words."""
    b = loop.op.body
    nc, nx = len(b.carry_in), len(b.x_in)
    if k < nc:
        return f"the carry entering a step ({b.carry_names[k]})"
    if k < nc + nx:
        return f"the slice x_t of xs[{k - nc}] ({b.x_in[k - nc].label()})"
    return f"its captured {b.captured[k - nc - nx].label()}"


def _body_blockers(r, loop: Variable, consider_constant) -> list[tuple[int, Variable | None]] | None:
    """For each input position of ``loop`` on a path of G' (from the target): the body's
    node blocking every path from its placeholder to the step's outputs whose cotangent
    is not zero (None: no path inside the body at all). None if one position passes."""
    b = loop.op.body
    on_path = set(r.pruned.variables)
    used = [c.op.index for c in r.pruned.consumers(loop) if isinstance(c.op, ScanOutput)]
    found = []
    for k, i in enumerate(loop.owner.inputs):
        p = b.inputs[k]
        if i not in on_path or not is_differentiable_dtype(p.dtype):
            continue
        rb = body_backprop(loop, used, [p], consider_constant=consider_constant)
        if rb is not None and not is_disconnected(rb.grads[p]):
            return None
        found.append((k, rb.blocker(p) if rb is not None else None))
    return found or None


def _blocked_in_body(r, loop: Variable, x: Variable, cost: Variable, consider_constant, note: str = ""):
    """The explanation naming the body's node that stops every gradient through
    ``loop`` (None when the body gives no such node)."""
    found = _body_blockers(r, loop, consider_constant)
    named = [(k, inner) for k, inner in found or () if inner is not None]
    if not named:
        return None
    k, inner = named[0]
    why = describe_block(inner, consider_constant)
    return Explanation(
        "blocked",
        f"every path from {x.label()} to {cost.label()} crosses {_where(loop)}, whose body passes no gradient to "
        f"{_placeholder_role(loop, k)}: inside the body every path from it crosses {why}: {_where(inner)}{note}",
        inner,
    )


def _blocked_in_a_loop(r, x: Variable, cost: Variable, consider_constant) -> Explanation | None:
    """A loop that every path from ``x`` crosses and whose body stops the gradient of
    every placeholder ``x`` reaches: the gradient is built (the loop cannot know T is
    not 0) but is zero once a step runs."""
    on_path = set(r.pruned.variables)
    for loop in r.pruned.variables:
        if loop.owner is None or not isinstance(loop.op, Scan) or not _every_path_crosses(cost, x, loop, on_path):
            continue
        found = _body_blockers(r, loop, consider_constant)
        if not found:
            continue
        carries = any(k < len(loop.op.body.carry_in) for k, _ in found)
        note = "; so the gradient is zero whenever the loop runs a step" + (
            " (with T = 0 the final carry is init itself, and its gradient passes)"
            if carries and loop.op.length is None
            else ""
        )
        explained = _blocked_in_body(r, loop, x, cost, consider_constant, note)
        if explained is not None:
            return explained
    return None


def _every_path_crosses(cost: Variable, x: Variable, loop: Variable, on_path: set) -> bool:
    """Whether every path of G' from ``x`` to ``cost`` goes through ``loop``."""
    seen, stack = {loop}, [cost]
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u is x:
            return False
        if u.owner is not None:
            stack.extend(i for i in u.owner.inputs if i in on_path)
    return True


def _loop_args(loop: Variable, values: dict) -> list:
    return [values[i] if i in values else i.value for i in loop.owner.inputs]


def _non_finite_in_loop(loop: Variable, cost: Variable, values: dict) -> Explanation | None:
    """The cost is not finite because a value inside ``loop``'s body is not: run the
    loop again, stopping at the first step and body node where it turns non-finite
    (descending into a loop inside the body the same way)."""
    where = []
    args = _loop_args(loop, values)
    while True:
        op = loop.op
        found = first_non_finite(op.body, args, op.reverse, op.length)
        if found is None:
            return None
        t, node, step_values = found
        where.append(f"at step t={t} of {_where(loop)}, ")
        inner = _projected_loop(node)
        if inner is None:
            break
        loop, args = inner, _loop_args(inner, step_values)
    for i in node.owner.inputs:  # constants have no register: their value is their own
        if i not in step_values and i.kind == "constant":
            step_values[i] = i.value
    return _non_finite_value(node, cost, step_values, None, "".join(where))


def _non_finite_gradient_in_loop(r, v: Variable, loop: Variable, values: dict) -> Explanation | None:
    """The term from ``loop`` to ``v`` is not finite: find the step and the body node
    whose local derivative is not finite there. One pass of the loop stacks the body's
    gradient with respect to ``v``'s placeholder (the step's outputs weighted by ones)
    and the carries entering each step; the last step whose gradient is not finite (the
    first the backward loop meets) is then explained as a graph of its own."""
    op = loop.op
    b = op.body
    nc, nx = len(b.carry_in), len(b.x_in)
    used = [c.op.index for c in r.pruned.consumers(loop) if isinstance(c.op, ScanOutput)]
    args = _loop_args(loop, values)
    for k, i in enumerate(loop.owner.inputs):
        p = b.inputs[k]
        if i is not v or not is_differentiable_dtype(p.dtype):
            continue
        rb = body_backprop(loop, used, [p])
        if rb is None or is_disconnected(rb.grads[p]):
            continue
        probe = Body(b.carry_in, b.x_in, b.captured, b.index, b.carry_out, [rb.grads[p], *b.carry_in])
        with np.errstate(all="ignore"):
            out = run_loop(probe, args, op.reverse, op.length, op.name).values
        stacked = out[nc]
        steps = range(len(stacked)) if op.reverse else range(len(stacked) - 1, -1, -1)
        t = next((t for t in steps if not all_finite(stacked[t])), None)
        if t is None:
            continue
        feed = {c: out[nc + 1 + j][t] for j, c in enumerate(b.carry_in)}
        feed.update({x: a[t] for x, a in zip(b.x_in, args[nc : nc + nx])})
        feed.update(zip(b.captured, args[nc + nx :]))
        if b.index is not None:
            feed[b.index] = np.int64(t)
        path = list(rb.pruned.variables)
        read = sorted({u for w in path if w.owner is not None for u in w.owner.inputs} - set(path), key=lambda u: u.id)
        with np.errstate(all="ignore"):
            body_values = dict(zip(path + read, evaluate(path + read, feed)))
            grads = dict(zip(path, evaluate([rb.grad_table[w] for w in path], feed)))
        e = _non_finite_gradient(rb, path, body_values, grads, feed, rb.pruned.consumers)
        return Explanation(
            e.status,
            f"inside the body of {_where(loop)}, at step t={t} (the step's outputs weighted by ones): {e.message}",
            e.node,  # fmt: skip
        )
    return None


def _non_finite_gradient(r, path, values, grads, feed, consumers) -> Explanation:
    """The values are finite but the gradient is not: the first term, from the cost
    back, that is not finite although its consumer's gradient is: that consumer's local
    derivative is infinite here (times a zero from an untaken where branch: nan)."""
    for v in reversed(path):
        if all_finite(grads[v]):
            continue
        culprits = [c for c in consumers(v) if not _finite_term(r, v, c, feed)]
        if not culprits:
            return Explanation("non-finite", f"the gradient at {_where(v, consumers)} is not finite", v)
        c = culprits[0]
        if isinstance(c.op, Scan):  # the local derivative of a loop: look inside its body
            inside = _non_finite_gradient_in_loop(r, v, c, values)
            if inside is not None:
                return inside
        D = np.asarray(grads[c])
        bad = ~np.isfinite(np.asarray(_term(r, v, c, feed)))
        others = [i for i in c.owner.inputs if i is not v and i.dtype.kind in "fc" and not all_finite(values[i])]
        if others:  # the derivative reads a value that is not finite: that value is the cause
            w = others[0]
            return Explanation(
                "non-finite",
                f"the gradient first turns non-finite at {_where(v, consumers)}, in the term from {_where(c)}: "
                f"its input {_where(w)} is not finite ({_non_finite(values[w])}) and the derivative with respect to "
                f"{v.label()} reads it. Keep {w.label()} finite.",
                w,
            )
        local = f"its local derivative with respect to {v.label()} is not finite where {v.label()} is " + _at(
            values[v], bad, v.shape
        )
        message = (
            f"the gradient first turns non-finite at {_where(v, consumers)}, in the term from {_where(c)}: {local}."
        )
        zero = bool(np.all(D[bad] == 0)) if D.shape == np.shape(bad) else bool(np.all(D == 0))
        branch = _untaken_where(c, path, consumers) if zero else None
        if branch is not None:
            message += (
                f" Its incoming gradient is 0 there, from the untaken branch of a where ({_where(branch)}), "
                "and 0 times an infinite local derivative is nan: guard the input of that branch, not its output."
            )
        else:
            message += f" Keep {v.label()} where {c.owner.op.name}'s derivative is finite."
            hint = c.owner.op.stable_hint_for(c)
            if hint:
                message += f" {hint}"
        return Explanation("non-finite", message, c)
    return Explanation("non-finite", "the gradient is not finite")


def _untaken_where(c: Variable, path, consumers) -> Variable | None:
    """A ``where`` between ``c`` and the cost (a consumer of c's, or further on), which
    is where a zero gradient comes from when a branch is not taken."""
    stack, seen = list(consumers(c)), set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if isinstance(u.owner.op, Where):
            return u
        stack.extend(consumers(u))
    return None


def _at(value, bad, shape) -> str:
    """``value`` where ``bad`` holds (all of it when shapes differ), as a short text."""
    a = np.asarray(value)
    if a.ndim == 0 or a.shape != np.shape(bad):
        return _summary(a)
    picked = np.unique(a[bad])
    shown = ", ".join(f"{float(p):.4g}" if a.dtype.kind in "fc" else str(p) for p in picked[:3])
    more = ", ..." if picked.size > 3 else ""
    return f"{shown}{more} (at {int(np.count_nonzero(bad))} of {a.size} places)"


def _local_derivative(v: Variable, values: dict, bad) -> str:
    """``; its derivative there is ...``: v's own bprop with G = 1, on the values."""
    op, ins = v.owner.op, v.owner.inputs
    try:
        holders = [Variable(f"in{k}", np.shape(values[i]), i.dtype) for k, i in enumerate(ins)]
        y = op(*holders)
        grads = op.bprop(holders, y, ones_like(y))
        parts = []
        for i, g in zip(ins, grads):
            if g is None or i.dtype.kind not in "fc":
                continue
            with np.errstate(all="ignore"):
                d = evaluate(g, dict(zip(holders, (values[u] for u in ins))))
            parts.append(f"d{v.owner.op.name}/d{i.label()} is {_at(d, bad, v.shape)}")
    except Exception:  # an op whose bprop cannot be evaluated alone: say nothing rather than guess
        return ""
    return f"; its derivative {', '.join(parts)}" if parts else ""


def _term(r, v, c, feed):
    terms = [t.term for t in r.provenance.get(v, []) if t.consumer is c]
    with np.errstate(all="ignore"):
        vals = evaluate(terms, feed)
    return vals[0] if len(vals) == 1 else sum(vals[1:], vals[0])


def _finite_term(r, v, c, feed) -> bool:
    terms = [t.term for t in r.provenance.get(v, []) if t.consumer is c]
    if not terms:
        return True
    with np.errstate(all="ignore"):
        return all(all_finite(t) for t in evaluate(terms, feed))


def _summary(a) -> str:
    a = np.asarray(a)
    if a.ndim == 0:
        return str(a.item())
    bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
    return f"non-finite in {bad} of {a.size} places"


def _non_finite(a) -> str:
    """Which values are not finite and how many: ``nan at 1 of 3 places``."""
    a = np.asarray(a)
    bad = a[~np.isfinite(a)]
    if a.ndim == 0:
        return str(a.item())
    return f"{', '.join(str(b) for b in np.unique(bad)[:3])} at {bad.size} of {a.size} places"
