"""Algorithm 6.6 of Goodfellow, Bengio & Courville (2016), ``build_grad``.

The book's recursion (the gradient of V needs the gradient of each consumer
C first) runs here on an explicit stack, so a chain of 10^5 nodes is fine.
Each step is recorded when a trace list is given, so it can be replayed.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any, NamedTuple

from graphcomp.autodiff.scatter import combine_scatters
from graphcomp.core.graph import Graph
from graphcomp.core.node import Variable, _stacks, gradient_context
from graphcomp.core.site import creation_site
from graphcomp.core.types import fmt_shape, is_differentiable_dtype, shapes_compatible
from graphcomp.errors import BpropError
from graphcomp.ops.binary import add_n
from graphcomp.ops.control import Cast

__all__ = ["build_grad", "TraceStep", "Contribution", "GradState", "blocker_of", "is_disconnected"]

# A zero gradient standing for "no differentiable path", with the node that
# blocks the path (None when there is no path at all). Weak, so it dies with
# the gradient node.
_disconnected: weakref.WeakKeyDictionary[Variable, Any] = weakref.WeakKeyDictionary()
_NO_BLOCKER = object()


# Disconnected zeros are made by zeros_like: a constant, a broadcast constant or
# a zeros_like node. Checking that first keeps the weak-dict lookup (slow,
# pure Python) off build_grad's path for ordinary gradients.
_ZERO_MAKERS = frozenset({"broadcast_to", "zeros_like"})


def _marked(g: Variable) -> bool:
    owner = g.owner
    if owner is not None and owner.op.name not in _ZERO_MAKERS:
        return False
    return g in _disconnected


def is_disconnected(g: Variable) -> bool:
    """True when ``g`` is a zero gradient standing for "no differentiable path".

    Example:
        >>> import graphcomp as gc
        >>> x, y = gc.Variable("x"), gc.Variable("y")
        >>> is_disconnected(gc.backprop(x * 2.0, [y]).grads[y])
        True
    """
    return _marked(g)


def blocker_of(g: Variable) -> Variable | None:
    """The node that blocks every path behind a disconnected gradient, if any.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); s = gc.stop_gradient(x)
        >>> blocker_of(gc.backprop(s * 2.0, [x]).grads[x]) is s
        True
    """
    b = _disconnected.get(g)
    return None if b is _NO_BLOCKER else b


class Contribution(NamedTuple):
    """One term of a gradient: ``consumer``'s bprop, at input ``position``, gave ``term``."""

    consumer: Variable
    position: int
    term: Variable


@dataclasses.dataclass(frozen=True)
class TraceStep:
    """One step of build_grad, for replaying the algorithm.

    ``kind`` is ``"visit"`` (V and its consumers in G'), ``"contribution"``
    (one consumer's bprop term), ``"sum"`` (the entry stored in grad_table),
    ``"memo"`` (V was already in grad_table) or ``"blocked"``.
    """

    kind: str
    variable: Variable
    consumer: Variable | None = None
    term: Variable | None = None
    consumers: tuple[Variable, ...] = ()
    note: str = ""


@dataclasses.dataclass
class GradState:
    """What build_grad keeps between calls of one back-propagation.

    ``bprops`` caches each consumer's bprop, so a consumer that reads two
    targets calls its bprop once; ``provenance`` maps each V to the
    contributions summed into its gradient.
    """

    consider_constant: frozenset = frozenset()
    trace: list | None = None
    bprops: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)
    #: a consumer of many inputs (an add_n, stack or concatenate of n terms) -> where it reads
    #: each: asked once per input, so scanning its inputs each time would cost n**2
    positions: dict = dataclasses.field(default_factory=dict)


def build_grad(
    V: Variable,
    G: Graph,
    G_pruned: Graph,
    grad_table: dict[Variable, Variable],
    *,
    state: GradState | None = None,
) -> Variable:
    """Algorithm 6.6: add V's gradient to G and grad_table, memoised; return it.

    For each consumer C of V in G', the gradient D of C is built first, then
    ``op.bprop(inputs, C, D)`` gives C's term(s) for V (summed over the input
    positions where C reads V, as in x*x); the terms of all consumers are
    summed by one add node. The caller seeds ``grad_table`` with
    ``{z: gc.constant(1.0)}``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); z = x * x
        >>> table = {z: gc.constant(1.0)}
        >>> g = gc.build_grad(x, gc.Graph(z), gc.prune(z, [x]), table)
        >>> float(gc.evaluate(g, {x: 3.0}))
        6.0
    """
    state = state if state is not None else GradState()
    trace = state.trace
    if V in grad_table:
        if trace is not None:
            trace.append(TraceStep("memo", V, term=grad_table[V]))
        return grad_table[V]
    sites = _stacks.site  # this thread's: build_grad may run in several threads at once
    sites.append(creation_site())
    try:
        _build(V, G_pruned, grad_table, state)
    finally:
        sites.pop()
    return grad_table[V]


def _build(V: Variable, G_pruned: Graph, grad_table: dict, state: GradState) -> None:
    trace = state.trace
    consumers = G_pruned._consumers
    stack = [V]
    while stack:
        v = stack[-1]
        if v in grad_table:
            stack.pop()
            continue
        cons = consumers.get(v, ())
        pending = [c for c in cons if c not in grad_table]
        if pending:
            stack.extend(reversed(pending))  # the first consumer is handled first, as in the book
            continue
        stack.pop()
        if trace is not None:
            trace.append(TraceStep("visit", v, consumers=tuple(cons)))
        grad_table[v] = _gradient_of(v, cons, grad_table, state)


def _gradient_of(v: Variable, consumers, grad_table, state: GradState) -> Variable:
    trace = state.trace
    terms: list[Variable] = []
    contributions: list[Contribution] = []
    blocker: Any = _NO_BLOCKER
    if not is_differentiable_dtype(v.dtype):
        blocker = v  # an integer or boolean value: the path stops here
        consumers = []
    for c in consumers:
        D = grad_table[c]
        if _marked(D):
            why = _disconnected[D]
        elif c in state.consider_constant:
            why = c
        else:
            why = None
        if why is not None:
            if blocker is _NO_BLOCKER:
                blocker = why
            if trace is not None:
                trace.append(TraceStep("blocked", v, consumer=c, note="consider_constant or disconnected"))
            continue
        grads = state.bprops.get(c)
        if grads is None:
            roles = _stacks.grad_of
            roles.append(c)
            try:
                grads = c.owner.op.bprop(c.owner.inputs, c, D)
            finally:
                roles.pop()
            state.bprops[c] = grads
        ins = c.owner.inputs
        if len(ins) == 1:
            positions = (0,)
        elif len(ins) <= 8:
            positions = [k for k, i in enumerate(ins) if i is v]
        else:
            where = state.positions.get(c)
            if where is None:
                where = state.positions[c] = {}
                for k, i in enumerate(ins):
                    where.setdefault(i, []).append(k)
            positions = where[v]
        for k in positions:
            g = grads[k]
            if g is None:
                if blocker is _NO_BLOCKER:
                    blocker = c
                continue
            if g.shape != v.shape or g.dtype != v.dtype:
                g = _checked(g, v, c, k)
            terms.append(g)
            contributions.append(Contribution(c, k, g))
            if trace is not None:
                trace.append(TraceStep("contribution", v, consumer=c, term=g))
    state.provenance[v] = contributions
    n = len(terms)
    roles = _stacks.grad_of  # gradient_context(v), spelled out: this runs for every node
    roles.append(v)
    try:
        if n > 1:
            terms = combine_scatters(terms)
        if not terms:
            from graphcomp.api import zeros_like

            total = zeros_like(v)
            _disconnected[total] = blocker
        elif len(terms) == 1:
            total = terms[0]
        else:
            total = add_n(*terms)
    finally:
        roles.pop()
    if trace is not None:
        note = f"{n} term(s)"
        if len(terms) < n:  # groups of scatters at integer indices each became one scatter
            note += f"; scatters combined, {len(terms)} to add"
        trace.append(TraceStep("sum", v, term=total, note=note))
    return total


def _checked(g: Variable, v: Variable, c: Variable, k: int) -> Variable:
    if not shapes_compatible(g.shape, v.shape):
        raise BpropError(
            f"{c.owner.op.name}: bprop gave a gradient of shape {fmt_shape(g.shape)} for input {k}, "
            f"which has shape {fmt_shape(v.shape)}; built at {c.site}"
        )
    if g.dtype != v.dtype:
        with gradient_context(c):
            g = Cast(v.dtype)(g)
    return g
