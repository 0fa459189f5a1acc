"""Iterative graph walks. Nothing here recurses: graphs of 10^5+ nodes are normal."""

from __future__ import annotations

from collections.abc import Iterable

from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError

__all__ = ["ancestors", "topological", "consumers_map", "descendants", "as_variable_list"]


def as_variable_list(outputs, what: str = "outputs") -> tuple[list[Variable], bool]:
    """Normalise a Variable or a sequence of Variables; also say if it was a single one.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> as_variable_list(x)[1], len(as_variable_list([x, x])[0])
        (True, 2)
    """
    if isinstance(outputs, Variable):
        return [outputs], True
    if isinstance(outputs, (str, bytes)) or not isinstance(outputs, Iterable):
        raise ArgumentError(f"{what} must be a Variable or a sequence of Variables, got {outputs!r}")
    out = list(outputs)
    for v in out:
        if not isinstance(v, Variable):
            raise ArgumentError(f"{what} must be Variables, got {type(v).__name__}: {v!r}")
    return out, False


def ancestors(outputs: Iterable[Variable]) -> set[Variable]:
    """Every Variable that ``outputs`` are computed from, ``outputs`` included.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x)
        >>> ancestors([y]) == {x, y}
        True
    """
    seen: set[Variable] = set()
    add, stack = seen.add, list(outputs)
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        if v in seen:
            continue
        add(v)
        owner = v.owner
        if owner is not None:
            push(owner.inputs)
    return seen


def topological(variables: Iterable[Variable]) -> list[Variable]:
    """Variables in a topological order (inputs before the nodes that read them).

    A node is always built after its inputs, so creation order is topological.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x)
        >>> topological({y, x}) == [x, y]
        True
    """
    return sorted(variables, key=_by_id)


def _by_id(v) -> int:
    return v.id


def consumers_map(variables: Iterable[Variable]) -> dict[Variable, list[Variable]]:
    """For each Variable, the Variables in the same set computed directly from it.

    Each consumer appears once per input, even when it reads it twice (x*x),
    and consumers are listed in creation order.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = x * x
        >>> consumers_map([x, y])[x] == [y]
        True
    """
    ordered = topological(variables)
    members = set(ordered)
    cons: dict[Variable, list[Variable]] = {v: [] for v in ordered}
    for v in ordered:
        owner = v.owner
        if owner is None:
            continue
        for i in owner.inputs:
            # v's appends all happen here, so a repeat (x*x) would be cons[i]'s last entry
            if i in members and (not cons[i] or cons[i][-1] is not v):
                cons[i].append(v)
    return cons


def descendants(targets: Iterable[Variable], consumers: dict[Variable, list[Variable]]) -> set[Variable]:
    """``targets`` and everything computed from them, following ``consumers``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.exp(x); z = gc.Variable("z")
        >>> descendants([x], consumers_map([x, y, z])) == {x, y}
        True
    """
    seen: set[Variable] = set()
    add, stack = seen.add, [t for t in targets if t in consumers]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        if v in seen:
            continue
        add(v)
        push(consumers[v])
    return seen
