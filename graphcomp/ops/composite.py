"""A graph used as one op: ``gc.op_from_graph`` (PyTensor's ``OpFromGraph``,
JAX's ``custom_vjp``).

An ``OpFromGraph`` node holds a closed inner graph (a ``Subgraph``: placeholder
inputs, one output, nothing else read from outside) and computes its output
from the node's inputs. Its gradient is the inner graph's own, built by
build_grad on the inner graph once and wrapped as one more ``OpFromGraph`` per
input (so a layer's gradient is one readable box too), or the user's
``bprop`` (``CustomGradient``). ``gc.compile`` inlines it (the ``inline`` pass,
``graphcomp/passes/inline.py``), so every rewrite sees the inner ops.

A custom gradient is code, which a saved file never holds: it is saved by
name and found again, on load, among the custom gradients this process has
defined (``CUSTOM_GRADIENTS``, filled by ``gc.op_from_graph(..., bprop=,
name=)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from graphcomp.core import collector, provenance
from graphcomp.core.node import Variable, make_apply
from graphcomp.core.types import fmt_shape, is_differentiable_dtype
from graphcomp.errors import ArgumentError, BpropError, GraphError, ShapeError
from graphcomp.ops.base import Op, as_variable

__all__: list[str] = []  # the public builder is gc.op_from_graph (graphcomp/autodiff/composite.py)


class Subgraph:
    """A closed inner graph: ``inputs`` (placeholder input Variables), one
    ``output``, and the nodes between them, which read nothing else but
    constants. Immutable; compared by identity (two traces are two graphs).

    ``steps`` is its schedule (each op node, its op's forward, its inputs) and
    ``nodes`` every inner Variable in topological order, inputs first.

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a", (2,))
        >>> sub = Subgraph((a,), gc.exp(a) * 2.0)
        >>> sub.run([0.0, 0.0]).tolist(), len(sub.steps)
        ([2.0, 2.0], 2)
    """

    __slots__ = ("inputs", "output", "nodes", "steps", "constants", "_gradients", "__weakref__")

    def __init__(self, inputs: tuple[Variable, ...], output: Variable):
        self.inputs, self.output = tuple(inputs), output
        known = set(self.inputs)
        seen, stack, region = set(known), [output], []
        while stack:  # the nodes between the placeholders and the output, without recursion
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            region.append(v)
            if v.owner is not None:
                stack.extend(v.owner.inputs)
            elif v.kind != "constant":
                raise GraphError(
                    f"op_from_graph: the inner graph reads {v.label()} ({v.kind}, built at {v.site}), "
                    "which is neither one of its inputs nor a constant"
                )
        region.sort(key=lambda v: v.id)  # ids grow with creation: a topological order
        self.nodes = list(self.inputs) + region
        self.constants = [v for v in region if v.owner is None]
        self.steps = [(v, v.owner.op.forward, v.owner.inputs) for v in region if v.owner is not None]
        self._gradients = None

    def run(self, *arrays):
        """The output's value for the inputs' values (a small interpreter, as
        ``gc.evaluate`` runs a graph)."""
        env = dict(zip(self.inputs, arrays))
        for c in self.constants:
            env[c] = c.value
        for v, forward, ins in self.steps:
            env[v] = forward(*[env[i] for i in ins])
        return env[self.output]

    def gradients(self, title: str) -> list[Subgraph | None]:
        """The inner graph's gradient for each input, each a Subgraph over the inputs
        and one more placeholder ``G`` (the output's gradient); None where no gradient
        flows. Built once, by build_grad on the inner graph (Algorithm 6.6)."""
        if self._gradients is None:
            self._gradients = _inner_gradients(self, title)
        return self._gradients

    def __repr__(self) -> str:
        return f"<Subgraph {len(self.inputs)} input(s) -> {self.output.label()}, {len(self.steps)} op node(s)>"


def _inner_gradients(sub: Subgraph, title: str) -> list[Subgraph | None]:
    # build_grad lives above the op library; imported here, when a gradient is first asked for
    from graphcomp.autodiff.build_grad import GradState, build_grad, is_disconnected
    from graphcomp.autodiff.prune import prune
    from graphcomp.core.graph import Graph

    out = sub.output
    # the nodes are gradient nodes wherever the gradient is first asked for (inside jvp, too)
    with collector.paused(), provenance.building(site=None, grad_of=None, role="grad"):
        G = Variable(f"d{title}", out.shape, out.dtype)
        table, state = {out: G}, GradState()
        whole, pruned = Graph(out), prune(out, list(sub.inputs))
        grads: list[Subgraph | None] = []
        for p in sub.inputs:
            g = build_grad(p, whole, pruned, table, state=state) if is_differentiable_dtype(p.dtype) else None
            grads.append(None if g is None or is_disconnected(g) else Subgraph((*sub.inputs, G), g))
    return grads


@dataclasses.dataclass(frozen=True, eq=False)
class CustomGradient:
    """A user's gradient for an op_from_graph group: ``bprop(inputs, output, G) ->
    list`` (one gradient Variable or None per input, from graph ops), under the
    group's ``name``, by which a saved graph finds it again."""

    name: str
    bprop: Callable

    @property
    def qualname(self) -> str:
        """The function's module and qualified name, saved to check the one found on load."""
        fn = self.bprop
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


#: the custom gradients this process has defined, by group name: where ``gc.load`` finds them
CUSTOM_GRADIENTS: dict[str, CustomGradient] = {}


def register_gradient(name: str, bprop: Callable) -> CustomGradient:
    """Record ``bprop`` as group ``name``'s custom gradient (a later definition under
    the same name replaces it, as re-running a notebook cell does).

    Example:
        >>> register_gradient("doubled", lambda inputs, output, G: [G * 2.0]).name
        'doubled'
    """
    if not callable(bprop):
        raise ArgumentError(f"op_from_graph: bprop must be callable, got {bprop!r}")
    grad = CustomGradient(name, bprop)
    CUSTOM_GRADIENTS[name] = grad
    return grad


@dataclasses.dataclass(frozen=True)
class OpFromGraph(Op):
    """``graph`` as one op, shown as ``title``: the node's inputs are bound to the
    inner graph's placeholders, in order. Its gradient is the inner graph's own,
    or ``custom``'s (a ``CustomGradient``)."""

    name, foldable = "op_from_graph", True
    title: str
    graph: Subgraph
    custom: CustomGradient | None = None

    def infer(self, *inputs):
        ins = self.graph.inputs
        if len(inputs) != len(ins):
            raise ArgumentError(f"{self.title}: takes {len(ins)} input(s), got {len(inputs)}")
        for k, (i, p) in enumerate(zip(inputs, ins)):
            if i.shape != p.shape or i.dtype != p.dtype:
                raise ShapeError(
                    f"{self.title}: input {k} ({i.label()}) is {fmt_shape(i.shape)} {i.dtype}, but the inner "
                    f"graph was built for {fmt_shape(p.shape)} {p.dtype}"
                )
        return self.graph.output.shape, self.graph.output.dtype

    def forward(self, *arrays):
        return self.graph.run(*arrays)

    def bprop(self, inputs, output, G):
        if self.custom is not None:
            return self._custom(inputs, output, G)
        out = []
        for sub, p in zip(self.graph.gradients(self.title), self.graph.inputs):
            out.append(None if sub is None else OpFromGraph(f"grad({self.title}, {p.label()})", sub)(*inputs, G))
        return out

    def _custom(self, inputs, output, G):
        grads = self.custom.bprop(list(inputs), output, G)
        if not isinstance(grads, (list, tuple)) or len(grads) != len(inputs):
            raise BpropError(
                f"{self.title}: the custom bprop {self.custom.qualname} must return a list of {len(inputs)} "
                f"gradient(s) (a Variable or None per input), got {type(grads).__name__}"
                + (f" of length {len(grads)}" if isinstance(grads, (list, tuple)) else "")
                + f"; the group was built at {output.site}"
            )
        return [None if g is None else as_variable(g) for g in grads]

    def label(self) -> str:
        return self.title

    def inner(self) -> tuple[tuple[Variable, ...], Variable]:
        return self.graph.inputs, self.graph.output

    def flops(self, v, shape_of) -> int:
        # the inner ops' own estimates, at the inner graph's static shapes
        return sum(n.owner.op.flops(n, lambda u: u.shape) for n, _, _ in self.graph.steps)

    def __repr__(self) -> str:
        return f"OpFromGraph({self.title!r}, {self.graph!r}{', custom bprop' if self.custom else ''})"


def instantiate(op: OpFromGraph, inputs: tuple[Variable, ...], built: tuple) -> Variable:
    """``op``'s inner graph copied onto ``inputs`` (its placeholders replaced by
    them), every copy built with the provenance ``built`` but its own site: what
    inlining puts in place of the node.

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a")
        >>> op = OpFromGraph("twice", Subgraph((a,), a * 2.0))
        >>> x = gc.Variable("x")
        >>> y = instantiate(op, (x,), provenance.of(x))
        >>> y.owner.op.name, y.owner.inputs[0] is x
        ('multiply', True)
    """
    sub = op.graph
    new = dict(zip(sub.inputs, inputs))
    _, grad_of, role = built
    for v, _, ins in sub.steps:
        new[v] = make_apply(v.owner.op, tuple(new.get(i, i) for i in ins), v.shape, v.dtype, v.name,
                            built=(v.site, grad_of, role))  # fmt: skip
    return new.get(sub.output, sub.output)
