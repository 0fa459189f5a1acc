"""The loop op (``scan``), its projections, and its gradient.

One ``Scan`` node computes every output of a loop at once: its value is a
``LoopValues`` (final carries, then the stacked per-step outputs), and one
``ScanOutput`` node per output takes it apart. Evaluate and compile run each
node once, so a loop whose final carry and ``ys`` are both used runs once.
The packed value has dtype ``object`` and shape ``()``; only these ops read it.

The gradient (``Scan.bprop``) is Algorithm 6.6 applied to the body, as
Goodfellow et al. (2016, section 10.2.2) compute back-propagation through time:
``gc.backprop`` on the body's inner graph, seeded with the cotangents of the
new carry and of y, gives the body's gradient with respect to the carry
entering the step, the slice x_t and the captured values. A second loop over
the reversed steps runs that gradient body: its carries are the carry's
cotangent (started at the final carry's cotangent) and one running sum per
captured value; its per-step outputs are the slices' gradients. What the
gradient body reads from the forward step (the residuals) comes from a copy of
the forward loop that also stacks those values per step, or, with
``checkpoint=True``, only the carries, the rest recomputed.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any, ClassVar

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors
from graphcomp.core.types import fmt_shape, is_differentiable_dtype, shapes_compatible
from graphcomp.errors import ArgumentError, BpropError, DTypeError, GraphError, ShapeError
from graphcomp.ops.base import REGISTRY, Op
from graphcomp.ops.binary import AddN, add, add_n
from graphcomp.ops.creation import zeros_like
from graphcomp.ops.loops.body import Body, LoopValues, close_over, run_loop
from graphcomp.ops.loops.draws import loop_state_updates, stateful_nodes

__all__ = ["Scan", "ScanOutput", "ScanCotangent", "PackedNoGradient", "GradientInfo", "PACKED", "body_backprop"]

#: the dtype of a loop node's packed value (a tuple of arrays, not an array)
PACKED = np.dtype(object)


@dataclasses.dataclass(frozen=True, eq=False)
class Scan(Op):
    """A loop: ``body`` run for T steps; one node whatever T.

    Inputs: the initial carries, the stacked ``xs`` (leading axis T), the
    captured values, in the order of ``body.inputs``. ``length`` is T when
    known at build time (None: read from the xs at run time); ``reverse`` runs
    t = T-1 .. 0; ``checkpoint`` makes its gradient keep only the carries per
    step and recompute the rest. ``gradient`` is set on a loop built by
    another loop's bprop: whose gradient it is and the body's back-propagation
    (grad_table, provenance, trace). Ops compare by identity (two loops are the
    same loop only when they are one object).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (4,))
        >>> total, ys = gc.scan(lambda c, xt: (c + xt, c * xt), 0.0, x)
        >>> total.owner.inputs[0].owner.op.label()
        'scan[T=4]'
        >>> [a.tolist() for a in gc.evaluate([total, ys], {x: [1.0, 2.0, 3.0, 4.0]})]
        [10.0, [0.0, 2.0, 9.0, 24.0]]
    """

    name = "scan"
    #: build_grad: this op's output packs several values, whose gradient is the packed cotangents
    multiple_outputs: ClassVar[bool] = True
    #: its packed value is no constant, and folding would run the whole loop at compile time
    foldable: ClassVar[bool] = False

    body: Body
    reverse: bool = False
    length: int | None = None
    checkpoint: bool = False
    gradient: Any = None  # GradientInfo of a backward loop
    base: Any = None  # the Scan this one extends with values kept for a gradient

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def n_outputs(self) -> int:
        """How many values the loop computes (carries, then stacked ys)."""
        return len(self.body.carry_out) + len(self.body.ys)

    def output_types(self) -> list[tuple[tuple, np.dtype]]:
        """The static (shape, dtype) of each output: a final carry has its
        placeholder's, a stacked y its step value's with T in front."""
        b = self.body
        T = self.length
        return [(p.shape, p.dtype) for p in b.carry_in] + [((T,) + y.shape, y.dtype) for y in b.ys]

    def output_names(self) -> list[str]:
        """How each output is called in labels and messages."""
        b = self.body
        ys = [("ys" + n[1:]) if n.startswith("y") else n for n in b.y_names]
        return [f"final {n}" for n in b.carry_names] + ys

    def infer(self, *inputs):
        b = self.body
        if len(inputs) != len(b.inputs):
            raise ArgumentError(f"scan: the body takes {len(b.inputs)} inputs, got {len(inputs)}")
        nc, nx = len(b.carry_in), len(b.x_in)
        for k, (v, p) in enumerate(zip(inputs, b.inputs)):
            if k < nc:
                what, shape = f"init for {b.carry_names[k]}", p.shape
            elif k < nc + nx:
                if not v.shape:
                    raise ShapeError(f"scan: xs[{k - nc}] has shape () with no leading axis to scan over")
                what, shape = f"xs[{k - nc}]", (self.length,) + p.shape
            else:
                what, shape = f"captured {p.label()}", p.shape
            if not shapes_compatible(v.shape, shape):
                raise ShapeError(f"scan: {what} has shape {fmt_shape(v.shape)}, the body expects {fmt_shape(shape)}")
            if v.dtype != p.dtype:
                raise DTypeError(f"scan: {what} has dtype {v.dtype}, the body expects {p.dtype}")
        return (), PACKED

    def forward(self, *arrays):
        return run_loop(self.body, arrays, self.reverse, self.length, self.name)

    def bprop(self, inputs, output, G):
        return _scan_vjp(output, G, (True,) * len(inputs))

    def bprop_needed(self, inputs, output, G, needed):
        """bprop for only the inputs in ``needed`` (build_grad passes G'): each
        gradient of a loop costs work at every step."""
        if needed is None:
            return self.bprop(inputs, output, G)
        return _scan_vjp(output, G, tuple(i in needed for i in inputs))

    def no_gradient_of(self, v):
        return PackedNoGradient(self.n_outputs)()

    @property
    def stateful(self) -> bool:
        """A loop whose body draws random numbers differs from run to run, as its draws do
        (``graphcomp/ops/loops/draws.py``)."""
        return bool(stateful_nodes(self))

    def state_updates(self, inputs):
        return loop_state_updates(self, inputs)

    def inner_graphs(self):
        return (list(self.body.outputs),)

    def with_inner_graphs(self, graphs):
        (outputs,) = graphs
        return dataclasses.replace(self, body=self.body.with_outputs(outputs))

    def inner_backprop(self):
        """The body's back-propagation a backward loop was built from (None for a forward loop)."""
        info = self.gradient
        return None if info is None else info.backprop

    def generated_callee(self, v, writer):
        from graphcomp.ops.loops.codegen import loop_function  # codegen imports body, as this module does

        return loop_function(self, v, writer)

    def kept_inputs(self, v: Variable) -> list[Variable]:
        """For backward loop node ``v``: its inputs holding the forward values kept per
        step for it (each ``(T, ...)``, in ``gradient.kept``'s order); [] for a forward loop.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x", (5,))
            >>> h, _ = gc.scan(lambda h, xt: (gc.tanh(h * xt), None), 1.0, x)
            >>> back = gc.grad(h, x).owner.inputs[0]
            >>> [k.owner.op.label() for k in back.op.kept_inputs(back)]    # h_{t-1}: tanh's output is h_t
            ['scan_output[kept carry]']
        """
        if self.gradient is None:
            return []
        nc = len(self.body.carry_in)
        return list(v.owner.inputs[nc : nc + len(self.gradient.kept)])

    def steps(self, v: Variable, shape_of) -> int | None:
        """T for loop node ``v``: ``length``, or the leading dimension of an xs as
        ``shape_of`` gives it (runtime or static shapes); None when unknown."""
        if self.length is not None:
            return self.length
        nc = len(self.body.carry_in)
        for x in v.owner.inputs[nc : nc + len(self.body.x_in)]:
            n = shape_of(x)[0]
            if n is not None:
                return n
        return None

    def flops(self, v: Variable, shape_of) -> int:
        """T times the FLOPs of one step: the body's ops' own estimates, each
        placeholder having the shape of what is bound to it (a carry its init's, a
        slice its xs' row, a capture its value's); an unknown T counts as 1, as an
        unknown dimension does."""
        b = self.body
        ins = v.owner.inputs
        nc, nx = len(b.carry_in), len(b.x_in)
        bound = {p: shape_of(i) for p, i in zip(b.carry_in, ins)}
        bound.update({p: tuple(shape_of(i))[1:] for p, i in zip(b.x_in, ins[nc:])})
        bound.update({p: shape_of(i) for p, i in zip(b.captured, ins[nc + nx :])})

        def inner(u: Variable):
            return bound.get(u, u.shape)

        T = self.steps(v, shape_of)
        per_step = sum(u.owner.op.flops(u, inner) for u in b.nodes() if u.owner is not None)
        return (1 if T is None else T) * per_step

    def label(self) -> str:
        parts = [f"T={'?' if self.length is None else self.length}"]
        if self.reverse:
            parts.append("reverse")
        if self.gradient is not None:
            parts.insert(0, "grad")
        if self.base is not None:
            parts.append(f"keeps {len(self.body.ys) - len(self.base.body.ys)}")
        if self.checkpoint:
            parts.append("checkpoint")
        return f"scan[{', '.join(parts)}]"


@dataclasses.dataclass(frozen=True)
class ScanOutput(Op):
    """Output ``index`` of a loop node (``what`` names it in labels).

    Example:
        >>> import graphcomp as gc
        >>> total, ys = gc.scan(lambda c, xt: (c + xt, c), 0.0, gc.Variable("x", (3,)))
        >>> total.owner.op.label(), ys.owner.op.label(), ys.shape
        ('scan_output[final carry]', 'scan_output[ys]', (3,))
    """

    name = "scan_output"
    flops_per_element = 0  # a projection: no arithmetic
    index: int
    what: str = ""

    def infer(self, packed):
        op = packed.op
        if not isinstance(op, Scan) or not 0 <= self.index < op.n_outputs:
            raise ArgumentError(f"scan_output[{self.index}] reads a loop node's outputs, got {packed.label()}")
        return op.output_types()[self.index]

    def forward(self, packed):
        return packed.values[self.index]

    def expression(self, v, args):
        return f"{args[0]}.values[{self.index}]"

    def bprop(self, inputs, output, G):
        if not is_differentiable_dtype(output.dtype):
            return [None]
        return [ScanCotangent((self.index,), inputs[0].op.n_outputs)(G)]

    def label(self) -> str:
        return f"scan_output[{self.what or self.index}]"


@dataclasses.dataclass(frozen=True)
class ScanCotangent(Op):
    """The gradient of a loop node's packed value: its inputs are the
    cotangents of the outputs at positions ``slots`` (of ``n``); the others are
    zero. build_grad sums these with add_n; ``Scan.bprop`` reads them apart."""

    name, foldable, flops_per_element = "scan_cotangent", False, 0  # a packed value is no constant
    slots: tuple
    n: int

    def infer(self, *gs):
        return (), PACKED

    def forward(self, *gs):
        values: list = [None] * self.n
        for s, g in zip(self.slots, gs):
            values[s] = g if values[s] is None else values[s] + g
        return LoopValues(tuple(values))

    def label(self) -> str:
        return f"scan_cotangent[{','.join(map(str, self.slots))}]"


@dataclasses.dataclass(frozen=True)
class LoopOutputs(Op):
    """The root of a body's back-propagation: it reads the body's outputs, and
    its bprop hands each one its given cotangent (PyTensor's known_grads). A body
    output that is also an intermediate (a new carry that y reads) then gets
    both its cotangent and its consumers' terms. Never evaluated."""

    name = "loop_outputs"
    cotangents: tuple

    def infer(self, *outputs):
        return (), np.dtype(np.float64)

    def forward(self, *arrays):
        raise GraphError("loop_outputs is the seed of a body's gradient; it has no value")

    def bprop(self, inputs, output, G):
        return list(self.cotangents)


@dataclasses.dataclass(frozen=True)
class PackedNoGradient(Op):
    """The "no differentiable path" gradient of a loop node's packed value (of
    ``n`` outputs): every slot zero. build_grad gives it where no term reaches the
    loop; a consumer's bprop is never called with it."""

    name, no_gradient, foldable, flops_per_element = "packed_no_gradient", True, False, 0
    n: int

    def infer(self):
        return (), PACKED

    def forward(self):
        return LoopValues((None,) * self.n)


# internal ops: they never appear in a user's forward graph, so the op spec table has no row for them
for _cls in (ScanCotangent, LoopOutputs, PackedNoGradient):
    REGISTRY.pop(_cls.name, None)


@dataclasses.dataclass
class GradientInfo:
    """What a backward loop was built from, for inspection.

    ``forward``: the Scan op whose gradient this is; ``backprop``: the
    ``gc.backprop`` result on its body (``grad_table``, ``provenance``,
    ``trace``; the seed is a ``loop_outputs`` node holding the cotangent
    placeholders); ``kept``: the forward body's values stacked per step for
    this loop to read; ``checkpoint``: whether only carries were kept.
    """

    forward: Scan
    backprop: Any
    kept: tuple
    checkpoint: bool


# forward loop node -> {kept values: (loop node that also stacks them, output index of each)}
_KEEPING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cotangent_slots(G: Variable, n: int) -> dict[int, Variable]:
    """The cotangent of each of a loop's outputs, read off the packed gradient
    build_grad assembled (ScanCotangent nodes, summed by add_n)."""
    terms: dict[int, list[Variable]] = {}
    stack = [G]
    while stack:
        g = stack.pop()
        op = g.op
        if isinstance(op, ScanCotangent):
            for s, v in zip(op.slots, g.inputs):
                terms.setdefault(s, []).append(v)
        elif isinstance(op, AddN):
            stack.extend(reversed(g.inputs))
        else:
            raise BpropError(
                f"scan: the gradient of a loop's outputs must be the packed cotangents of its projections, "
                f"got {g.label()} (built at {g.site})"
            )
    return {s: vs[0] if len(vs) == 1 else add_n(*vs) for s, vs in sorted(terms.items())}


def _scan_vjp(L: Variable, G: Variable, needed) -> list[Variable | None]:
    """The gradients of loop node ``L``'s inputs given the packed cotangent ``G``:
    projections of a backward loop (see the module docstring)."""
    from graphcomp.autodiff.backprop import backprop
    from graphcomp.autodiff.build_grad import is_disconnected

    op: Scan = L.owner.op
    b = op.body
    nc, nx, nk = len(b.carry_in), len(b.x_in), len(b.captured)
    none: list = [None] * (nc + nx + nk)
    cot = _cotangent_slots(G, op.n_outputs)
    diff = [is_differentiable_dtype(p.dtype) for p in b.inputs]
    want_x = [k for k in range(nx) if diff[nc + k] and needed[nc + k]]
    want_c = [m for m in range(nk) if diff[nc + nx + m] and needed[nc + nx + m]]
    carries = [k for k in range(nc) if diff[k]]
    targets = [b.carry_in[k] for k in carries] + [b.x_in[k] for k in want_x] + [b.captured[m] for m in want_c]
    ybar = {
        j: Variable(f"d {b.y_names[j]}", y.shape, y.dtype)
        for j, y in enumerate(b.ys)
        if nc + j in cot and is_differentiable_dtype(y.dtype)
    }
    if not targets:
        return none
    # S: the carries whose cotangent is not zero at some step: those with a final
    # cotangent, and every carry the body's outputs with a cotangent depend on
    S = {k for k in carries if k in cot}
    lam: dict[int, Variable] = {}
    while True:
        for k in sorted(S):
            lam.setdefault(k, Variable(f"d {b.carry_names[k]}", b.carry_in[k].shape, b.carry_in[k].dtype))
        seeds = [(b.carry_out[k], lam[k]) for k in sorted(S)] + [(b.ys[j], ybar[j]) for j in sorted(ybar)]
        if not seeds:
            return none
        root = LoopOutputs(tuple(c for _, c in seeds))(*(o for o, _ in seeds))
        r = backprop(root, targets, trace=True)
        reached = {k for k in carries if not is_disconnected(r.grads[b.carry_in[k]])}
        if reached <= S:
            break
        S |= reached
    S_ = sorted(S)
    d_x = {k: r.grads[b.x_in[k]] for k in want_x if not is_disconnected(r.grads[b.x_in[k]])}
    d_c = {m: r.grads[b.captured[m]] for m in want_c if not is_disconnected(r.grads[b.captured[m]])}
    if not S_ and not d_x and not d_c:
        return none
    sums = {m: Variable(f"sum d {b.captured[m].label()}", b.captured[m].shape, b.captured[m].dtype) for m in d_c}
    new_lam = []
    for k in S_:
        g = r.grads[b.carry_in[k]]
        new_lam.append(g if k in reached else zeros_like(lam[k]))  # zeros of lam's shape, not the kept carry's
    outs = new_lam + [add(sums[m], d_c[m]) for m in sorted(d_c)] + [d_x[k] for k in sorted(d_x)]
    n_bc = len(S_) + len(d_c)

    # what the backward body reads from the forward step
    forward = ancestors(b.outputs)
    index = b.index
    step_leaves = set(b.carry_in) | set(b.x_in) | set(lam.values()) | set(sums.values()) | set(ybar.values())
    if index is not None:
        step_leaves.add(index)
    kept_nodes = [] if op.checkpoint else _residuals(outs, forward)
    cut = {v: Variable(f"kept {v.label()}", v.shape, v.dtype) for v in kept_nodes}
    outer_of = dict(zip(b.captured, L.owner.inputs[nc + nx :]))
    inner_outs, captures = close_over(outs, step_leaves | set(cut.values()), cut=cut, outer_of=outer_of)
    read = ancestors(inner_outs)

    # the per-step values the backward loop slices: kept forward values, the forward xs, the cotangents of ys
    kept = [v for v in kept_nodes if cut[v] in read] + [b.carry_in[k] for k in range(nc) if b.carry_in[k] in read]
    shifted = _shifted_carries(b, cut, read)
    kept = [v for v in kept if v not in shifted]
    source, stacks = _kept_stacks(L, kept)
    x_in, xs_outer, like = [], [], {}
    for v in kept:
        x_in.append(cut.get(v, v))
        xs_outer.append(stacks[v])
    for k in range(nx):
        unknown_dx = k in d_x and None in b.x_in[k].shape
        if b.x_in[k] in read or unknown_dx:  # an unread slice still tells dx's shape when T = 0
            like[k] = len(x_in)
            x_in.append(b.x_in[k])
            xs_outer.append(L.owner.inputs[nc + k])
    for j in sorted(ybar):
        if ybar[j] in read:
            x_in.append(ybar[j])
            xs_outer.append(cot[nc + j])
    if not x_in and op.length is None:  # nothing to slice, yet T is known only from the forward xs
        x_in.append(Variable("steps", b.x_in[0].shape, b.x_in[0].dtype))
        xs_outer.append(L.owner.inputs[nc])
    inits = [cot[k] if k in cot else zeros_like(L.owner.inputs[k]) for k in S_]
    inits += [zeros_like(L.owner.inputs[nc + nx + m]) for m in sorted(d_c)]
    names = source.owner.op.output_names()
    inits += [ScanOutput(k, names[k])(source) for k in shifted.values()]  # the final carries
    body = Body(
        [lam[k] for k in S_] + [sums[m] for m in sorted(d_c)] + [cut[v] for v in shifted],
        x_in,
        [p for p, _ in captures],
        index if index is not None and index in read else None,
        inner_outs[:n_bc] + [b.carry_in[k] for k in shifted.values()],
        inner_outs[n_bc:],
        carry_names=[f"d {b.carry_names[k]}" for k in S_]
        + [f"sum d {b.captured[m].label()}" for m in sorted(d_c)]
        + [f"{b.carry_names[k]} after the step" for k in shifted.values()],
        y_names=[f"d x[{k}]" for k in sorted(d_x)],
        ys_like=[like.get(k) for k in sorted(d_x)],
    )
    info = GradientInfo(op, r, tuple(kept), op.checkpoint)
    back = Scan(body, not op.reverse, op.length, op.checkpoint, gradient=info)
    LB = back(*inits, *xs_outer, *[o for _, o in captures])
    names = back.output_names()
    grads = list(none)
    for pos, k in enumerate(S_):
        if needed[k]:
            grads[k] = ScanOutput(pos, f"d init[{k}]" if nc > 1 else "d init")(LB)
    for pos, m in enumerate(sorted(d_c), start=len(S_)):
        grads[nc + nx + m] = ScanOutput(pos, names[pos])(LB)
    for pos, k in enumerate(sorted(d_x), start=n_bc + len(shifted)):
        grads[nc + k] = ScanOutput(pos, f"d xs[{k}]")(LB)
    return grads


def body_backprop(loop: Variable, used, targets, *, consider_constant=()):
    """``gc.backprop`` on loop node ``loop``'s body, from the outputs whose cotangent
    is not zero at some step: those at the output positions ``used`` (the projections
    the cost reads) and every new carry whose carry entering the step reaches one of
    them (the backward loop's carry then brings a cotangent into the previous step),
    each weighted by ones. ``targets`` are body placeholders; returns the
    BackpropResult (None when no float output is seeded). The inspectors ask it why
    a gradient does not pass a loop (its ``blocker``), and where inside it a local
    derivative is not finite.

    Example:
        >>> import graphcomp as gc
        >>> w, xs = gc.Variable("w"), gc.Variable("xs", (4,))
        >>> h, _ = gc.scan(lambda h, x: (gc.stop_gradient(h) * x + w, None), 1.0, xs)
        >>> L = h.owner.inputs[0]
        >>> r = body_backprop(L, [0], [L.op.body.carry_in[0]])
        >>> r.blocker(L.op.body.carry_in[0]).op.name
        'stop_gradient'
    """
    from graphcomp.autodiff.backprop import backprop
    from graphcomp.autodiff.build_grad import is_disconnected

    b = loop.op.body
    nc = len(b.carry_in)
    carries = [k for k in range(nc) if is_differentiable_dtype(b.carry_in[k].dtype)]
    seeded = set(used)
    wanted = list(dict.fromkeys([*targets, *(b.carry_in[k] for k in carries)]))
    while True:
        terms = [b.outputs[k].sum() for k in sorted(seeded) if is_differentiable_dtype(b.outputs[k].dtype)]
        if not terms:
            return None
        root = terms[0] if len(terms) == 1 else add_n(*terms)
        r = backprop(root, wanted, consider_constant=consider_constant)
        reached = {k for k in carries if not is_disconnected(r.grads[b.carry_in[k]])}
        if reached <= seeded:
            return r
        seeded |= reached


def _residuals(outs: list[Variable], forward: set[Variable]) -> list[Variable]:
    """The forward body's values the gradient graph ``outs`` reads directly: the
    residuals to keep per step. A nested loop's packed value is never kept (its
    projections are; a nested loop the gradient needs again is recomputed)."""
    kept, seen, stack = [], set(), list(outs)
    while stack:
        v = stack.pop()
        if v in seen or v.owner is None:
            continue
        seen.add(v)
        if v in forward and v.dtype != PACKED:
            kept.append(v)
            continue
        stack.extend(v.owner.inputs)
    return sorted(kept, key=lambda v: v.id)


def _shifted_carries(b: Body, cut: dict, read: set) -> dict[Variable, int]:
    """The new carries the backward body reads whose entering carry it reads too:
    ``{new carry k: k}``. The two are one series shifted by a step, so only the
    entering one is kept per step; the backward loop carries the new one (the
    final carry first, then each step's entering carry, the next step's new one)."""
    out: dict[Variable, int] = {}
    for k, (p, new) in enumerate(zip(b.carry_in, b.carry_out)):
        if new is not p and new in cut and cut[new] in read and p in read and new not in out:
            out[new] = k
    return out


def _kept_stacks(L: Variable, kept: list[Variable]) -> tuple[Variable, dict[Variable, Variable]]:
    """The loop node holding the stacked per-step values of the forward body values
    ``kept``, and for each the Variable holding them: ``L`` when it already stacks
    them all, else a copy of ``L`` that also stacks the others (made once per ``L``
    and set of values; both read the same inputs)."""
    op: Scan = L.owner.op
    b = op.body
    nc = len(b.carry_in)
    have = {y: nc + j for j, y in enumerate(b.ys)}
    extra = [v for v in kept if v not in have]
    out: dict[Variable, Variable] = {}
    source, where = L, have
    if extra:
        memo = _KEEPING.setdefault(L, {})
        key = tuple(v.id for v in extra)
        hit = memo.get(key)
        if hit is None:
            names = [f"kept {v.label()}" for v in extra]
            keeping = Scan(b.with_ys(extra, names), op.reverse, op.length, op.checkpoint, base=op)
            node = keeping(*L.owner.inputs)
            n0 = keeping.n_outputs - len(extra)
            hit = memo[key] = (node, {**have, **{v: n0 + j for j, v in enumerate(extra)}})
        source, where = hit
    names = source.owner.op.output_names()
    for v in kept:
        out[v] = ScanOutput(where[v], names[where[v]])(source)
    return source, out
