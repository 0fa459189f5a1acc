"""Algorithm 6.6 of Goodfellow, Bengio & Courville (2016), ``build_grad``.

    build_grad(V, G, G', grad_table):
        if V is in grad_table: return grad_table[V]
        i <- 1
        for C in get_consumers(V, G'):
            op <- get_operation(C)
            D <- build_grad(C, G, G', grad_table)
            G(i) <- op.bprop(get_inputs(C, G), V, D)
            i <- i + 1
        G <- sum_i G(i)
        grad_table[V] = G
        insert G and the operations creating it into G
        return G

The book's recursion (V's gradient needs each consumer C's first) runs here
on an explicit stack, so a chain of 10^5 nodes is fine: ``_consumers_first``
yields the nodes in an order where every consumer comes before what it
reads, and ``_gradient`` is the loop body above for one V. A term that no
path carries (a blocked consumer, an integer value) is left out and the
blocking node remembered; a V with no term at all gets the zero that
*means* "no differentiable path" (``no_gradient``). Each step is recorded
when a trace list is given, so it can be replayed.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from graphcomp.autodiff.scatter import combine_scatters
from graphcomp.core import provenance
from graphcomp.core.graph import Graph
from graphcomp.core.node import Variable
from graphcomp.core.site import creation_site
from graphcomp.core.types import fmt_shape, is_differentiable_dtype, shapes_compatible
from graphcomp.errors import BpropError
from graphcomp.ops.binary import add_n
from graphcomp.ops.creation import no_gradient
from graphcomp.ops.identity import Cast

__all__ = ["build_grad", "TraceStep", "Contribution", "GradState", "is_disconnected"]


def is_disconnected(g: Variable) -> bool:
    """True when ``g`` is a zero gradient standing for "no differentiable path".

    Example:
        >>> import graphcomp as gc
        >>> x, y = gc.Variable("x"), gc.Variable("y")
        >>> is_disconnected(gc.backprop(x * 2.0, [y]).grads[y])
        True
    """
    return g.owner is not None and g.owner.op.no_gradient


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
    ``"memo"`` (V was already in grad_table) or ``"blocked"``; ``"body"`` says
    that the bprop of the loop node ``variable`` ran build_grad on its body,
    whose steps follow. ``depth`` is 0 for the graph's own steps and 1 + the
    loop's for a step of build_grad on a loop's body (spliced in after the
    loop's contribution by ``gc.backprop``); ``loop`` is that loop node.
    """

    kind: str
    variable: Variable
    consumer: Variable | None = None
    term: Variable | None = None
    consumers: tuple[Variable, ...] = ()
    note: str = ""
    depth: int = 0
    loop: Variable | None = None


@dataclasses.dataclass
class GradState:
    """What build_grad keeps between calls of one back-propagation.

    ``bprops`` caches each consumer's bprop, so a consumer that reads two
    targets calls its bprop once; ``provenance`` maps each V to the
    contributions summed into its gradient; ``blockers`` maps each V whose
    gradient is ``no_gradient`` to the node that blocks its paths (None:
    there is no path at all).
    """

    consider_constant: frozenset = frozenset()
    trace: list | None = None
    pruned: Graph | None = None  # G': bprop_needed builds gradients only for its Variables
    bprops: dict = dataclasses.field(default_factory=dict)
    provenance: dict = dataclasses.field(default_factory=dict)
    blockers: dict = dataclasses.field(default_factory=dict)
    #: a consumer of many inputs (an add_n, stack or concatenate of n terms) -> where it reads
    #: each: asked once per input, so scanning its inputs each time would cost n**2
    positions: dict = dataclasses.field(default_factory=dict)

    def note(self, kind: str, V: Variable, **fields) -> None:
        """Record one step of the algorithm, when a trace is kept."""
        if self.trace is not None:
            self.trace.append(TraceStep(kind, V, **fields))

    def blocker(self, V: Variable) -> Variable | None:
        """The node that blocks every path to V, whose gradient is ``no_gradient``
        (None: no path joins V to the cost at all)."""
        return self.blockers.get(V)


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
    ``{z: gc.constant(1.0)}``. ``G`` is the whole graph the book inserts into:
    graphcomp's nodes are immutable and know their inputs, so inserting a
    gradient node is building it, and ``G`` is not read.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); z = x * x
        >>> table = {z: gc.constant(1.0)}
        >>> g = gc.build_grad(x, gc.Graph(z), gc.prune(z, [x]), table)
        >>> float(gc.evaluate(g, {x: 3.0}))
        6.0
    """
    state = state if state is not None else GradState()
    state.pruned = G_pruned
    if V in grad_table:
        state.note("memo", V, term=grad_table[V])
        return grad_table[V]
    consumers = G_pruned.consumer_map
    # the nodes build_grad inserts point at the user's call that asked for them
    with provenance.building(site=creation_site()):
        for v in _consumers_first(V, consumers, grad_table):
            cons = consumers.get(v, ())
            if state.trace is not None:
                state.note("visit", v, consumers=tuple(cons))
            grad_table[v] = _gradient(v, cons, grad_table, state)
    return grad_table[V]


def _consumers_first(V: Variable, consumers: dict, grad_table: dict):
    """The Variables whose gradient V's needs, each after all its consumers: the
    book's recursion, on an explicit stack."""
    stack = [V]
    while stack:
        v = stack[-1]
        if v in grad_table:
            stack.pop()
            continue
        pending = [c for c in consumers.get(v, ()) if c not in grad_table]
        if pending:
            stack.extend(reversed(pending))  # the first consumer is handled first, as in the book
            continue
        stack.pop()
        yield v


def _gradient(V: Variable, consumers, grad_table: dict, state: GradState) -> Variable:
    """The loop body of Algorithm 6.6 for one V: each consumer's terms, summed."""
    terms: list[Contribution] = []
    blocker = _NO_BLOCKER
    if not is_differentiable_dtype(V.dtype) and (V.owner is None or not V.owner.op.multiple_outputs):
        blocker, consumers = V, ()  # an integer or boolean value (not a packed one): every path stops here
    for C in consumers:
        D = grad_table[C]
        stop = _stop(C, D, state)
        if stop is not _FLOWS:
            blocker = stop if blocker is _NO_BLOCKER else blocker
            state.note("blocked", V, consumer=C, note="consider_constant or disconnected")
            continue
        found, passes_none = _terms(V, C, D, state)
        if passes_none:  # C's op gives V no gradient at some position
            blocker = C if blocker is _NO_BLOCKER else blocker
        terms += found
    state.provenance[V] = terms
    total = _sum(V, [t.term for t in terms], state)
    if not terms:
        state.blockers[V] = None if blocker is _NO_BLOCKER else blocker
    return total


_NO_BLOCKER = object()  # no blocked path met (yet)
_FLOWS = object()  # the gradient flows on through a consumer


def _stop(C: Variable, D: Variable, state: GradState):
    """Where the gradient stops at consumer C: the blocking node (None: no path
    at all behind C), or ``_FLOWS`` when it flows on."""
    if is_disconnected(D):
        return state.blockers.get(C)
    if C in state.consider_constant:
        return C
    return _FLOWS


def _terms(V: Variable, C: Variable, D: Variable, state: GradState) -> tuple[list[Contribution], bool]:
    """C's bprop terms for V, one per position where C reads V (both factors of x*x),
    and whether C's op gave no gradient (None) at one of those positions."""
    grads = state.bprops.get(C)
    if grads is None:  # one bprop call per consumer, however many of its inputs are targets
        provenance.enter(grad_of=C)
        try:
            grads = C.owner.op.bprop_needed(C.owner.inputs, C, D, state.pruned)
        finally:
            provenance.leave()
        state.bprops[C] = grads
    positions = _positions(V, C, state)
    out, passes_none = [], False
    for k in positions:
        g = grads[k]
        if g is None:
            passes_none = True
            continue
        if g.shape != V.shape or g.dtype != V.dtype:
            g = _checked(g, V, C, k)
        out.append(Contribution(C, k, g))
        state.note("contribution", V, consumer=C, term=g)
    return out, passes_none


def _positions(V: Variable, C: Variable, state: GradState):
    """Where C reads V. A consumer of many inputs (an add_n, stack or concatenate of n
    terms) is asked once per input: its positions are indexed once, not scanned n times."""
    inputs = C.owner.inputs
    if len(inputs) == 1:
        return (0,)
    if len(inputs) <= 8:
        return [k for k, i in enumerate(inputs) if i is V]
    where = state.positions.get(C)
    if where is None:
        where = state.positions[C] = {}
        for k, i in enumerate(inputs):
            where.setdefault(i, []).append(k)
    return where[V]


def _sum(V: Variable, terms: list[Variable], state: GradState) -> Variable:
    """G <- sum_i G(i): one add node (scatters into V combined first), or the zero
    that means "no differentiable path" when there is no term."""
    n = len(terms)
    provenance.enter(grad_of=V)
    try:
        if n > 1:
            terms = combine_scatters(terms)
        total = add_n(*terms) if terms else _no_path(V)
    finally:
        provenance.leave()
    if state.trace is not None:
        note = f"{n} term(s)"
        if len(terms) < n:  # groups of scatters at integer indices each became one scatter
            note += f"; scatters combined, {len(terms)} to add"
        state.note("sum", V, term=total, note=note)
    return total


def _no_path(V: Variable) -> Variable:
    """The zero gradient that means "no differentiable path" to V: its op's own
    (a packed value's) or ``no_gradient``."""
    zero = V.owner.op.no_gradient_of(V) if V.owner is not None else None
    return no_gradient(V) if zero is None else zero


def _checked(g: Variable, V: Variable, C: Variable, k: int) -> Variable:
    """A term of V's dtype, or a BpropError when C's bprop gave the wrong shape."""
    if not shapes_compatible(g.shape, V.shape):
        raise BpropError(
            f"{C.owner.op.name}: bprop gave a gradient of shape {fmt_shape(g.shape)} for input {k}, "
            f"which has shape {fmt_shape(V.shape)}; built at {C.site}"
        )
    if g.dtype != V.dtype:
        provenance.enter(grad_of=C)
        try:
            g = Cast(V.dtype)(g)
        finally:
            provenance.leave()
    return g
