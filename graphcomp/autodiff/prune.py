"""G' of Algorithm 6.5: G pruned to the ancestors of z that descend from a target."""

from __future__ import annotations

from collections.abc import Iterable

from graphcomp.core import collector
from graphcomp.core.graph import Graph
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, consumers_map, descendants
from graphcomp.errors import ArgumentError


def prune(z: Variable, targets: Variable | Iterable[Variable]) -> Graph:
    """G': the Variables that are ancestors of ``z`` and descendants of ``targets``.

    ``z`` and every target connected to it are included, with the op
    applications between them. A target ``z`` does not depend on is left out.

    Example:
        >>> import graphcomp as gc
        >>> x, w = gc.Variable("x"), gc.Variable("w")
        >>> a = x * w; z = gc.exp(a) + w
        >>> Gp = gc.prune(z, [x])
        >>> sorted(v.label() for v in Gp.variables if v.name)
        ['x']
        >>> len(Gp.variables)   # x, x*w, exp(x*w), z
        4
    """
    if not isinstance(z, Variable):
        raise ArgumentError(f"prune: z must be a Variable, got {z!r}")
    ts, _ = as_variable_list(targets, "prune: targets")
    with collector.paused():
        upstream = ancestors([z])
        consumers = consumers_map(upstream)
        keep = upstream & descendants(ts, consumers)
        # restricting the consumer lists keeps their creation order
        kept = {v: [c for c in consumers[v] if c in keep] for v in keep}
        return Graph.of_variables([z], keep, kept)
