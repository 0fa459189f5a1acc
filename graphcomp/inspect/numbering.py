"""``gc.Numbering``: one number per node, shared by everything shown together.

dprint, a build_grad trace, a to_dot picture and the messages printed beside
them all write a node as ``#k``; given one Numbering they mean the same node by
the same k. Each of them, called alone on the same outputs, builds the same
numbering: k is the node's position in the topological order (creation order)
of everything the outputs are computed from.
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.errors import ArgumentError

__all__ = ["Numbering", "outputs_of"]


def outputs_of(obj, what: str = "outputs") -> list[Variable]:
    """The Variables a printout of ``obj`` shows: a Variable or a list of them,
    a ``gc.Graph`` (its outputs) or a ``gc.backprop`` result (the cost, then
    each target's gradient). Anything else is an ArgumentError naming ``what``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x)
        >>> outputs_of(gc.backprop(y, [x]))[0] is y
        True
    """
    from graphcomp.autodiff.backprop import BackpropResult
    from graphcomp.core.graph import Graph

    if isinstance(obj, BackpropResult):
        return [next(iter(obj.grad_table)), *obj.grads.values()]
    if isinstance(obj, Graph):
        return list(obj.outputs)
    return as_variable_list(obj, what)[0]


class Numbering:
    """Numbers for the nodes of one printout: ``numbering[v]`` is ``v``'s ``k``
    in ``#k``.

    ``Numbering(outputs)`` numbers every node ``outputs`` are computed from
    (Variables, a ``gc.Graph`` or a ``gc.backprop`` result) in topological
    order, from 0; then the nodes of each loop's body (``Op.inner_graphs``), loop
    by loop in that order, and the bodies of loops inside those. A node asked for later (a gradient term that a trace
    mentions but the printed graph does not hold) gets the next free number,
    after its own unnumbered inputs, so no two nodes ever share one. Pass the
    same Numbering to ``dprint``, ``format_trace``, ``to_dot`` and
    ``describe`` to print them together.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x) * x
        >>> n = Numbering(y)
        >>> n[x], n[y], n.describe(y.owner.inputs[0])
        (0, 2, 'exp#1')
    """

    def __init__(self, outputs=None):
        self._numbers: dict[Variable, int] = {}
        if outputs is not None:
            self._add(outputs, "Numbering: outputs")

    def add(self, outputs) -> Numbering:
        """Number what ``outputs`` are computed from and is not numbered yet,
        in topological order after the numbers already given; returns self.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); a = gc.sin(x); b = gc.cos(x)
            >>> n = Numbering(a).add(b)
            >>> n[x], n[a], n[b]
            (0, 1, 2)
        """
        return self._add(outputs, "Numbering.add: outputs")

    def _add(self, outputs, what: str) -> Numbering:
        numbers = self._numbers
        graphs = [outputs_of(outputs, what)]
        while graphs:  # a graph, then the inner graphs (loop bodies) of its nodes, level by level
            order = topological(ancestors(graphs.pop(0)))
            for v in order:
                if v not in numbers:
                    numbers[v] = len(numbers)
            graphs += [list(g) for v in order if v.owner is not None for g in v.owner.op.inner_graphs()]
        return self

    def __getitem__(self, v: Variable) -> int:
        hit = self._numbers.get(v)
        if hit is None:
            self._add(v, "Numbering[v]: v")
            hit = self._numbers[v]
        return hit

    def __contains__(self, v) -> bool:
        return v in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def describe(self, v: Variable | None) -> str:
        """How a sentence names ``v``: its name if it has one, its value if it is
        a constant, else ``op#k``; ``?`` for None. Anything else than a Variable or
        None raises ``gc.ArgumentError``.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x")
            >>> Numbering(gc.sin(x)).describe(x)
            'x'
        """
        if v is None:
            return "?"
        if not isinstance(v, Variable):
            raise ArgumentError(f"Numbering.describe: v must be a Variable or None, got {v!r}"[:300])
        if v.name:
            return v.name
        if v.owner is not None:
            return f"{v.owner.op.name}#{self[v]}"
        return v.label()
