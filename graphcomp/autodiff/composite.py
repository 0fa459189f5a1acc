"""``gc.op_from_graph``: a function of Variables as one node, with the inner graph's
own gradient or a custom one (PyTensor's ``OpFromGraph``, JAX's ``custom_vjp``).

Each call traces ``fn`` on fresh placeholders of the arguments' shapes and
dtypes (a trace per call, so a function that reads different outer values on
different calls is right each time), then closure-converts: every value from
outside that the traced graph reads, other than a constant (an input, a
Parameter, a node built before the call), becomes one more placeholder, and
the node reads it as one more input, so gradients reach it. The op itself is
``graphcomp.ops.composite.OpFromGraph``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from graphcomp.core import collector, provenance
from graphcomp.core.node import Variable, make_apply
from graphcomp.core.site import creation_site
from graphcomp.errors import ArgumentError
from graphcomp.ops.base import as_variable
from graphcomp.ops.composite import OpFromGraph, Subgraph, register_gradient

__all__ = ["op_from_graph"]


def _check_arity(fn: Callable, title: str, n: int) -> None:
    """A group called with a number of inputs its fn does not take raises ArgumentError
    naming the group, where fn's own call would raise a bare TypeError from inside."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: fn's own call will say
        return
    try:
        sig.bind(*range(n))
    except TypeError as e:
        raise ArgumentError(
            f"op_from_graph {title!r}: called with {n} input(s), but its fn takes {sig} ({e}); "
            f"called at {creation_site()}"
        ) from None


def _parameter_names(fn: Callable, n: int) -> list[str]:
    """Placeholder names: fn's own parameter names where it has n positional ones."""
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return params[:n] if len(params) >= n else [f"in{k}" for k in range(n)]


def _outputs(result, title: str) -> tuple[list[Variable], bool]:
    if isinstance(result, (tuple, list)):
        if not result:
            raise ArgumentError(f"op_from_graph {title!r}: fn returned an empty {type(result).__name__}")
        return [as_variable(r) for r in result], False
    try:
        return [as_variable(result)], True
    except (ArgumentError, TypeError, ValueError):
        raise ArgumentError(
            f"op_from_graph {title!r}: fn must return a Variable or a tuple of Variables, got {type(result).__name__}"
        ) from None


def _free_values(outputs: list[Variable], placeholders: set, start: int) -> list[Variable]:
    """What the traced graph reads from outside: inputs and Parameters that are not
    placeholders, and nodes built before the trace began (id < start); constants
    stay inside. In the order first met, walking back from the outputs."""
    free, seen, stack = [], set(placeholders), list(reversed(outputs))
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is None:
            if v.kind != "constant":
                free.append(v)
        elif v.id < start:
            free.append(v)
        else:
            stack.extend(reversed(v.owner.inputs))
    return free


def _closed(outputs: list[Variable], free: list[Variable], stand_ins: list[Variable], start: int) -> list[Variable]:
    """The traced graph with each free value replaced by its stand-in placeholder:
    every node built during the trace that reads one (directly or not) copied, in
    creation order, keeping its site, name and role."""
    new = dict(zip(free, stand_ins))
    region, seen, stack = [], set(free), list(outputs)
    while stack:
        v = stack.pop()
        if v in seen or v.owner is None or v.id < start:
            continue
        seen.add(v)
        region.append(v)
        stack.extend(v.owner.inputs)
    for v in sorted(region, key=lambda v: v.id):
        ins = tuple(new.get(i, i) for i in v.owner.inputs)
        if ins != v.owner.inputs:
            new[v] = make_apply(v.owner.op, ins, v.shape, v.dtype, v.name, built=provenance.of(v))
    return [new.get(o, o) for o in outputs]


def op_from_graph(fn: Callable, *, bprop: Callable | None = None, name: str | None = None) -> Callable:
    """A function of Variables as ONE node: returns a callable that, called on
    Variables (or numbers and arrays, made constants), builds one op node named
    ``name`` whose value is ``fn(*inputs)``'s graph (PyTensor's ``OpFromGraph``).

    The node's gradient is the inner graph's own (build_grad on it, wrapped as one
    more such node per input: a layer's gradient is one box too), unless
    ``bprop(inputs, output, G) -> list`` gives one: a custom gradient (JAX's
    ``custom_vjp``), one Variable or None per input, built from graph ops, which
    is what ``gc.grad`` then returns. ``fn`` may read Variables and Parameters
    from outside (they become inputs of the node, and get gradients), except
    with a custom ``bprop``, which must be given every input it differentiates.
    ``fn`` may return a tuple of Variables: one node per output, without a
    custom ``bprop``.

    The node's output has the shape and dtype of fn's output; ``dprint`` and
    ``to_dot`` show it as one box (``to_dot(..., expand=True)`` draws the inner
    graph inside it); ``gc.compile`` inlines it, so every rewrite sees the inner
    ops; ``gc.jvp`` and second derivatives go through it; ``gc.save`` stores the
    inner graph, and a custom bprop by ``name`` (code is never saved: ``gc.load``
    takes the bprop this process defined under that name, or refuses).

    Raises ``gc.ArgumentError`` for a non-callable ``fn`` or ``bprop``, a
    non-string ``name``, a bad return value of ``fn``, or outside values read
    under a custom ``bprop``; ``gc.BpropError`` when ``bprop`` returns the wrong
    number of gradients.

    Example:
        >>> import graphcomp as gc
        >>> x, W = gc.Variable("x", (2,)), gc.Variable("W", (2, 2))
        >>> layer = gc.op_from_graph(lambda x, W: gc.tanh(x @ W), name="layer")
        >>> y = layer(x, W)
        >>> y.owner.op.label(), y.shape, len(y.owner.op.graph.steps)
        ('layer', (2,), 2)
        >>> clipped = gc.op_from_graph(lambda a: a * 1.0, bprop=lambda ins, out, G: [gc.minimum(G, 1.0)],
        ...                            name="clipped_grad")
        >>> a = gc.Variable("a")
        >>> float(gc.evaluate(gc.grad(clipped(a) * 5.0, a), {a: 2.0}))   # the custom gradient, not 5
        1.0
    """
    if not callable(fn):
        raise ArgumentError(f"op_from_graph: fn must be callable, got {fn!r}")
    if name is not None and not isinstance(name, str):
        raise ArgumentError(f"op_from_graph: name must be a str, got {name!r}")
    title = name or getattr(fn, "__name__", "") or "op_from_graph"
    if title == "<lambda>":
        if bprop is not None:
            raise ArgumentError(
                "op_from_graph: a custom bprop needs name=: gc.save stores the gradient by that name and gc.load "
                "finds the function defined under it (fn is a lambda, which has no name of its own)"
            )
        title = "op_from_graph"
    custom = register_gradient(title, bprop) if bprop is not None else None

    def call(*args):
        inputs = [as_variable(a, f"op_from_graph {title!r}") for a in args]
        _check_arity(fn, title, len(inputs))
        names = _parameter_names(fn, len(inputs))
        with collector.paused():
            placeholders = [Variable(n, i.shape, i.dtype) for n, i in zip(names, inputs)]
            start = placeholders[0].id if placeholders else Variable("(start)").id
            outputs, single = _outputs(fn(*placeholders), title)
            if not single and custom is not None:
                raise ArgumentError(
                    f"op_from_graph {title!r}: fn returned {len(outputs)} outputs; a custom bprop takes one "
                    "output's gradient G, so fn must return one Variable"
                )
            free = _free_values(outputs, set(placeholders), start)
            if free and custom is not None:
                listed = ", ".join(f"{v.label()} (built at {v.site})" for v in free)
                raise ArgumentError(
                    f"op_from_graph {title!r}: fn reads {listed} from outside, but a custom bprop gives gradients "
                    "only to the inputs it is passed; pass them as arguments (as jax.custom_vjp asks)"
                )
            if free:
                stand_ins = [Variable(v.name or f"captured{k}", v.shape, v.dtype) for k, v in enumerate(free)]
                outputs = _closed(outputs, free, stand_ins, start)
                placeholders += stand_ins
            nodes = []
            with provenance.building(site=creation_site()):
                for k, out in enumerate(outputs):
                    shown = title if single else f"{title}[{k}]"
                    nodes.append(OpFromGraph(shown, Subgraph(tuple(placeholders), out), custom)(*inputs, *free))
        return nodes[0] if single else tuple(nodes)

    call.__name__ = call.__qualname__ = title
    call.__doc__ = f"{title}: a graph of {getattr(fn, '__qualname__', fn)!r} used as one node (gc.op_from_graph)."
    return call
