"""The pass pipeline: a plain list, run in order, each pass switchable by name.

The local passes (merge, fold, simplify, stabilize) share one sweep over the
graph: each node goes through each pass in turn, its inputs already through
all of them, so a graph is traversed and rebuilt once instead of once per
pass. That sweep is the one meaning of the pipeline: ``check=True`` verifies
the very nodes it builds, naming the pass that made a bad one, so what is
verified is what is compiled. A pass seen again (the second merge) starts a
new sweep, since it must see every node the passes before it built. Backend
passes (``fuse``) run after, alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphcomp.core import collector
from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError
from graphcomp.passes import fold, fuse, inline, merge, merge_loops, simplify, stabilize
from graphcomp.passes.rebuild import build_like, rebuilt, transform
from graphcomp.passes.verify import verify, verify_node

__all__ = ["PASSES", "BACKEND_PASSES", "pass_names", "check_pass_names", "optimize"]

#: the passes gc.compile runs, in order (inline first: the others then see the inner ops of
#: op_from_graph groups)
PASSES = [inline, merge, fold, simplify, stabilize, merge_loops, merge]

#: passes that rewrite only graphs holding ops with inner graphs (loops)
_FOR_LOOPS = (merge_loops,)

#: passes a backend asks for by name (``backend.passes``), run after the others
BACKEND_PASSES = {fuse.name: fuse}


def pass_names() -> list[str]:
    """The names of the passes, in the order they run.

    Example:
        >>> pass_names()
        ['inline', 'merge', 'constant-fold', 'simplify', 'stabilize', 'merge-loops']
    """
    return list(dict.fromkeys(p.name for p in PASSES))


def check_pass_names(names: Iterable[str], backend_passes: Iterable[str] = ()) -> None:
    """Refuse a pass name that is neither a pass nor one of the backend's passes.

    Example:
        >>> check_pass_names(["merge", "fuse"], ["fuse"])
        >>> check_pass_names(["merg"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: compile: unknown pass(es) ['merg']; the passes are ['inline', 'merge', ...]
    """
    known = pass_names() + list(backend_passes)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ArgumentError(f"compile: unknown pass(es) {unknown}; the passes are {known}")


def optimize(
    outputs: list[Variable],
    skip: Iterable[str] = (),
    check: bool = False,
    extra: Iterable[str] = (),
    log: list | None = None,
) -> list[Variable]:
    """Run every pass not named in ``skip``, then the backend passes named in
    ``extra`` (see ``BACKEND_PASSES``); with ``check``, verify every node each pass
    builds. Rewrite rules that fire are appended to ``log``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> (y,) = optimize([gc.sin(x) + gc.sin(x)], check=True)
        >>> [v.owner.op.name for v in gc.Graph(y).variables if v.owner]
        ['sin', 'add']
    """
    skip, extra = set(skip), list(extra)
    check_pass_names(skip | set(extra), BACKEND_PASSES)
    log = [] if log is None else log
    chosen = [p for p in PASSES + [BACKEND_PASSES[n] for n in extra] if p.name not in skip]
    inner: list | None = None  # the nodes with inner graphs the first sweep met (None: no sweep yet)
    with collector.paused():
        for group in _groups(chosen):
            if hasattr(group[0], "sweep"):
                notice = [] if inner is None else None
                outputs = transform(outputs, *_composed(group, log, check, notice))
                inner = inner if notice is None else notice
            elif group[0] in _FOR_LOOPS and inner == []:
                continue  # no loop in the graph
            else:
                outputs = group[0].run(outputs)
            if check:
                verify(outputs, after="+".join(p.name for p in group))
        if inner is None or inner:
            outputs = _inner_graphs(outputs, lambda graph: optimize(graph, skip, check, extra, log))
            if check:
                verify(outputs, after="inner graphs")
    return outputs


def _inner_graphs(outputs: list[Variable], optimize_one) -> list[Variable]:
    """``outputs`` with the inner graphs of every op holding some (a loop's body)
    each through ``optimize_one``; each such op is rebuilt once."""
    done: dict[int, object] = {}

    def visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
        op = v.owner.op
        graphs = op.inner_graphs()
        if not graphs:
            return rebuilt(v, inputs)
        new = done.get(id(op))
        if new is None:
            new = done[id(op)] = op.with_inner_graphs([optimize_one(g) for g in graphs])
        return build_like(v, new, inputs)

    return transform(outputs, visit)


def _groups(passes: list) -> list[list]:
    """Runs of passes that can share one sweep: each has a ``sweep``, and a pass seen
    again (the second merge) starts a new sweep, since it must see every node the
    rules before it built, nested ones included."""
    groups: list[list] = []
    for p in passes:
        if groups and hasattr(p, "sweep") and hasattr(groups[-1][-1], "sweep") and p not in groups[-1]:
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


#: how many times one node's rewrite by a later pass is offered to the earlier ones again
_OFFERED_AGAIN = 2


def _composed(passes: list, log: list, check: bool, notice: list | None = None):
    """Local passes run in one sweep: each node goes through every pass in turn, its
    inputs already through all of them. Each rewrite reads only the node and its
    rewritten inputs, so this computes what one sweep per pass computes, in a graph
    of about the same size (the rewrites meet the nodes in another order: constants
    folded apart are merged before simplify sees them, so ``add_n(a, b, b)`` can fire
    where it could not, and the other way round), with one traversal and one
    rebuild per node instead of one per pass (W3 at N = 10^4: 120 000 nodes built
    instead of 320 000, about 1.3x less CPU time).
    """
    sweeps = [(p.name, *p.sweep(log)) for p in passes]
    # a node some pass returned -> where the whole chain took it: when merging hands back
    # a node met before, the later passes must not rewrite it a second time
    final: dict[Variable, Variable] = {}

    def visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
        node, met, k, again = v, [], 0, _OFFERED_AGAIN
        while k < len(sweeps):
            name, visit_one, _ = sweeps[k]
            before = node
            node = visit_one(node, inputs if node is v else node.owner.inputs)
            if check:
                verify_node(node, v, after=name)
            if node in final:
                node = final[node]
                break
            if node.owner is None:  # folded to a constant: a leaf like any other (merged by value)
                node = leaf(node)
                break
            met.append(node)
            # a later pass made another op (stabilize's log_softmax_grad for a softmax's
            # quotient): the earlier passes' rules may match it, as they would have had
            # the user built it, so it goes through the chain again (a bounded number of times)
            if k and again and type(node.owner.op) is not type(before.owner.op):
                k, again = 0, again - 1
                continue
            k += 1
        for m in met:
            final[m] = node
        if notice is not None and node.owner is not None and node.owner.op.inner_graphs():
            notice.append(node)
        return node

    def leaf(v: Variable) -> Variable:
        for _, _, leaf_one in sweeps:
            if leaf_one is not None:
                v = leaf_one(v)
        return v

    return visit, leaf
