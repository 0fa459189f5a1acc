"""``gc.Graph``: a read-only view of a graph, with the book's accessors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from graphcomp.core.node import Apply, Variable
from graphcomp.core.traverse import ancestors, as_variable_list, consumers_map, topological
from graphcomp.errors import NotInGraphError

if TYPE_CHECKING:  # networkx is imported when a graph is first asked for its networkx view
    import networkx as nx

__all__ = ["Graph", "show", "set_display"]

# How graphs, back-propagation results and grad_tables draw themselves in a notebook:
# the pictures are inspect's, and nothing in core imports inspect, so it registers here.
_display = None


def set_display(draw) -> None:
    """Register ``draw(obj, include, exclude) -> mimebundle``, the notebook display of
    graphs, back-propagation results and grad_tables (``graphcomp.inspect.dot`` does)."""
    global _display
    _display = draw


def show(obj, include=None, exclude=None) -> dict:
    """The notebook display (a mimebundle) of ``obj``, by the registered ``draw``.

    Example:
        >>> import graphcomp as gc
        >>> "image/svg+xml" in show(gc.Graph(gc.exp(gc.Variable("x"))))
        True
    """
    if _display is None:
        return {"text/plain": repr(obj)}
    return _display(obj, include, exclude)


class Graph:
    """The graph reachable from ``outputs`` (a Variable or a list of them).

    Nodes are the Variable and ``Apply`` objects themselves, edges run from
    inputs towards outputs (Variable -> Apply -> Variable), as in the
    lectures' figures: boxes for Variables, circles for ops. The methods
    mirror Goodfellow et al. (2016), section 6.5.6: ``operation`` is
    get_operation, ``consumers`` get_consumers, ``inputs`` get_inputs.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = x * x; z = gc.exp(y)
        >>> G = gc.Graph(z)
        >>> G.operation(y).name, G.inputs(y) == [x, x], G.consumers(x) == [y]
        ('multiply', True, True)
        >>> G.operation(x) is None
        True
    """

    def __init__(self, outputs: Variable | Iterable[Variable]):
        outs, _ = as_variable_list(outputs, "Graph: outputs")
        self._init(outs, None, None)

    @classmethod
    def of_variables(cls, outputs: list[Variable], variables: set[Variable], consumers: dict | None = None) -> Graph:
        """A graph over exactly ``variables`` (a sub-graph such as G'), with
        its consumers map when the caller already has it.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); y = gc.exp(x)
            >>> len(Graph.of_variables([y], {y}))
            1
        """
        g = object.__new__(cls)
        g._init(outputs, variables, consumers)
        return g

    @classmethod
    def of_order(cls, outputs: list[Variable], order: list[Variable]) -> Graph:
        """The graph of ``outputs`` when the caller has already sorted its
        Variables (``order``: all of them, topologically), as a schedule does.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); y = gc.exp(x)
            >>> Graph.of_order([y], [x, y]).variables == [x, y]
            True
        """
        g = object.__new__(cls)
        g._init(outputs, set(order), None)
        g._variables = list(order)
        return g

    # Everything is computed on first use: back-propagation makes Graphs of
    # whole models that a caller may never look at.
    def _init(self, outputs: list[Variable], members: set[Variable] | None, consumers: dict | None) -> None:
        self.outputs: list[Variable] = list(outputs)
        self._members_ = members
        self._variables: list[Variable] | None = None
        self._consumers_ = consumers
        self._nx: nx.DiGraph | None = None

    @property
    def _members(self) -> set[Variable]:
        if self._members_ is None:
            self._members_ = ancestors(self.outputs)
        return self._members_

    @property
    def variables(self) -> list[Variable]:
        """The Variables of this graph in topological order."""
        if self._variables is None:
            self._variables = topological(self._members)
        return self._variables

    @property
    def consumer_map(self) -> dict[Variable, list[Variable]]:
        """Every Variable's consumers in this graph, as one dict (``consumers(v)``
        for all v at once, without copying; do not change it)."""
        if self._consumers_ is None:
            self._consumers_ = consumers_map(self.variables)
        return self._consumers_

    # -- the book's accessors ----------------------------------------------------
    def operation(self, v: Variable) -> Apply | None:
        """The op application computing ``v`` (``None`` for inputs and constants)."""
        self._check(v)
        return v.owner

    def inputs(self, v: Variable) -> list[Variable]:
        """The Variables ``v``'s op reads, in argument order (``[x, x]`` for ``x*x``).

        These are all of the op's arguments, since its bprop needs them all,
        also when this graph (a pruned G') does not hold every one.
        """
        self._check(v)
        return list(v.inputs)

    def consumers(self, v: Variable) -> list[Variable]:
        """The Variables of this graph computed directly from ``v``, each once."""
        self._check(v)
        return list(self.consumer_map[v])

    # -- whole-graph views -------------------------------------------------------
    @property
    def nodes(self) -> list[Variable | Apply]:
        """Every node, Variables and op applications, in topological order."""
        return self.topological_order()

    @property
    def applies(self) -> list[Apply]:
        """The op applications whose output is in this graph, in topological order."""
        return [n for n in self.topological_order() if isinstance(n, Apply)]

    @property
    def input_variables(self) -> list[Variable]:
        """The graph inputs (fed Variables) in creation order."""
        return [v for v in self.variables if v.kind == "input"]

    def topological_order(self) -> list[Variable | Apply]:
        """Variables and applications, each after everything it depends on.

        An application is part of the graph when it reads one of its
        Variables: in a pruned G' a target's own op stays outside.
        """
        members = self._members
        order: list[Variable | Apply] = []
        for v in self.variables:
            a = v.owner
            if a is not None and (not a.inputs or any(i in members for i in a.inputs)):
                order.append(a)
            order.append(v)
        return order

    def to_networkx(self) -> nx.DiGraph:
        """The ``networkx.DiGraph`` behind this view (built once, then shared).

        Variable nodes carry ``kind="variable"``, applications ``kind="op"``;
        an edge's ``positions`` lists the argument positions it feeds.
        """
        if self._nx is None:
            import networkx as nx

            g = nx.DiGraph()
            for v in self.variables:
                g.add_node(v, kind="variable")
            for a in self.applies:
                v = a.output
                g.add_node(a, kind="op")
                g.add_edge(a, v)
                for pos, i in enumerate(a.inputs):
                    if i in self._members:
                        if g.has_edge(i, a):
                            g.edges[i, a]["positions"].append(pos)
                        else:
                            g.add_edge(i, a, positions=[pos])
            self._nx = g
        return self._nx

    def __contains__(self, v) -> bool:
        if isinstance(v, Apply):
            return v.output in self._members
        return v in self._members

    def __len__(self) -> int:
        return len(self.variables)

    def __iter__(self):
        return iter(self.variables)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return show(self, include, exclude)

    def __repr__(self) -> str:
        names = ", ".join(v.label() for v in self.outputs)
        return f"<Graph of {len(self.variables)} variables, outputs [{names}]>"

    def _check(self, v) -> None:
        if v not in self._members:
            label = v.label() if isinstance(v, Variable) else repr(v)
            raise NotInGraphError(f"{label} is not in this graph")
