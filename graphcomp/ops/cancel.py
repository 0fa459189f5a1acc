"""Gradients in which a division by an op's own value cancels.

The stabilize pass computes ``log(softmax x)``, ``log(sigmoid x)``, ``log(1 - sigmoid x)``,
``log1p(-sigmoid x)`` and ``log(sum(exp x))`` as stable ops, but ``gc.grad`` builds the
gradient from the graph as it was written: log's bprop gives ``G / s`` with
``s = softmax(x)``, which is inf where s underflows to 0, and softmax's bprop then
multiplies by s again: 0 * inf = nan. So the inner op's bprop looks for such
quotients in its incoming gradient and writes the product in closed form, where
the division cancels:

    softmax   s * (G/s - sum(G/s * s))          = G - s * sum(G)
    sigmoid   s(1-s) * G/s                      = G * sigmoid(-x)
              s(1-s) * G/(1-s)                  = G * s
    exp       e * broadcast(G / sum(e))         = broadcast(G) * exp(x - logsumexp(x))

Each is an identity wherever the quotient is finite and its continuous extension
where it is not, so the gradient is as stable as the stabilised value, in every
derivative order (the closed forms are graph ops), and evaluate, which runs the
graph as written, agrees with compile. A quotient may sit under the linear plumbing
build_grad and the bprops add around a term (``add_n``, ``negative``, ``sum_to``,
and for a reduction, its ``expand_dims`` and ``broadcast``): since that plumbing is
linear, the quotient's numerator is carried through it instead.
"""

from __future__ import annotations

from collections.abc import Callable

from graphcomp.core.node import Variable
from graphcomp.ops.binary import AddN, Divide
from graphcomp.ops.elementwise import Negative
from graphcomp.ops.shape import BroadcastLike, BroadcastTo, ExpandDims, SumTo, SumToLike

__all__ = ["split_quotients", "SUM_TO", "REDUCTION"]

#: the plumbing a quotient reaches an elementwise op through: negation and sums to its shape
SUM_TO = (Negative, SumTo, SumToLike)
#: ... and a reduction's own bprop: its axes put back, then broadcast
REDUCTION = (Negative, ExpandDims, BroadcastTo, BroadcastLike)

_LIMIT = 32  # nodes looked at per gradient: the plumbing is shallow; a long chain of sums is not it


def _terms(G: Variable, linear: tuple) -> list[tuple[Variable, tuple]] | None:
    """G as a sum of terms, each under a chain of linear one-input ops (innermost
    first), or None when G is too big to be plumbing around a few terms."""
    out, stack, seen = [], [(G, ())], 0
    while stack:
        t, chain = stack.pop()
        seen += 1
        if seen > _LIMIT:
            return None
        owner = t.owner
        op = None if owner is None else owner.op
        if isinstance(op, AddN) and all(i.shape == t.shape for i in owner.inputs):
            stack.extend((i, chain) for i in reversed(owner.inputs))
        elif isinstance(op, linear):
            stack.append((owner.inputs[0], ((op, owner.inputs[1:]),) + chain))
        else:
            out.append((t, chain))
    return out


def _apply(t: Variable, chain: tuple) -> Variable:
    for op, extra in chain:
        t = op(t, *extra)
    return t


def split_quotients(
    G: Variable, denominator: Callable[[Variable], object], linear: tuple = SUM_TO, chain_ok=None
) -> tuple[list[tuple[object, Variable]], Variable | None] | None:
    """The terms of ``G`` that are a quotient ``num / d`` with ``denominator(d)`` not None,
    as ``(denominator(d), W(num))`` where W is the linear plumbing around the quotient;
    and the sum of the other terms under their plumbing (None if there are none).
    None when no term is such a quotient: then the op's usual bprop applies.

    ``chain_ok(key, chain)`` may refuse a quotient whose plumbing does not keep the
    identity (a reduction's bprop must put back exactly its own axes).

    Example:
        >>> import graphcomp as gc
        >>> s, g, h = gc.Variable("s", (3,)), gc.Variable("g", (3,)), gc.Variable("h", (3,))
        >>> from graphcomp.ops.binary import add_n
        >>> found, rest = split_quotients(add_n(-(g / s), h), lambda d: "s" if d is s else None)
        >>> [(key, w.owner.op.name, w.owner.inputs[0] is g) for key, w in found], rest is h
        ([('s', 'negative', True)], True)
    """
    if G.owner is None or not isinstance(G.owner.op, (AddN, Divide, *linear)):
        return None  # the usual case (a product, an input): nothing to look through
    terms = _terms(G, linear)
    if terms is None:
        return None
    found, rest = [], []
    for t, chain in terms:
        key = None
        if t.owner is not None and isinstance(t.owner.op, Divide):
            num, d = t.owner.inputs
            key = denominator(d)
            if key is not None and (num.shape != t.shape or chain_ok is not None and not chain_ok(key, chain)):
                key = None  # a broadcast numerator, or plumbing that would not carry it
        if key is None:
            rest.append((t, chain))
        else:
            found.append((key, _apply(num, chain)))
    if not found:
        return None
    others = [_apply(t, chain) for t, chain in rest]
    total = None if not others else others[0] if len(others) == 1 else AddN()(*others)
    return found, total
