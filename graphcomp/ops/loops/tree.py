"""Nested tuples and lists of leaves (carries, slices, outputs of a loop body).

A structure is a leaf (a Variable, a number, an array), ``None`` (nothing), or a
tuple or list of structures: JAX's pytrees without dicts. Flattening gives the
leaves in order and a ``Tree`` that rebuilds the same structure around new leaves;
two structures match when their Trees are equal. Nesting is the user's (a few
levels), so these helpers recurse over it; they never walk a graph.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Tree", "flatten", "unflatten"]


class Tree(NamedTuple):
    """The shape of a nested structure: ``kind`` is ``"leaf"``, ``"none"``,
    ``"tuple"`` or ``"list"``; ``children`` are the Trees of a tuple's or list's items.

    Example:
        >>> leaves, tree, _ = flatten((1, [2, None]))
        >>> leaves, str(tree)
        ([1, 2], '(*, [*, None])')
    """

    kind: str
    children: tuple = ()

    def __str__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(str(c) for c in self.children)
        if self.kind == "tuple":
            return f"({inner},)" if len(self.children) == 1 else f"({inner})"
        return f"[{inner}]"

    @property
    def n_leaves(self) -> int:
        """How many leaves the structure holds."""
        if self.kind == "leaf":
            return 1
        return sum(c.n_leaves for c in self.children)


_LEAF = Tree("leaf")
_NONE = Tree("none")


def flatten(structure: Any, prefix: str = "") -> tuple[list, Tree, list[str]]:
    """The leaves of ``structure`` in order, its Tree, and each leaf's path
    (``prefix[1][0]``), which error messages use to name an entry.

    Example:
        >>> leaves, tree, paths = flatten((10, (20, 30)), "init")
        >>> leaves, paths
        ([10, 20, 30], ['init[0]', 'init[1][0]', 'init[1][1]'])
    """
    leaves: list = []
    paths: list[str] = []
    tree = _flatten(structure, prefix, leaves, paths)
    return leaves, tree, paths


def _flatten(s, path: str, leaves: list, paths: list) -> Tree:
    if s is None:
        return _NONE
    if isinstance(s, (tuple, list)):
        kids = tuple(_flatten(item, f"{path}[{k}]", leaves, paths) for k, item in enumerate(s))
        return Tree("tuple" if isinstance(s, tuple) else "list", kids)
    leaves.append(s)
    paths.append(path)
    return _LEAF


def unflatten(tree: Tree, leaves) -> Any:
    """The structure ``tree`` describes, holding ``leaves`` in order.

    Example:
        >>> _, tree, _ = flatten((1, [2, None]))
        >>> unflatten(tree, ["a", "b"])
        ('a', ['b', None])
    """
    it = iter(leaves)
    out = _unflatten(tree, it)
    if next(it, _END) is not _END:
        raise ValueError("unflatten: more leaves than the structure holds")
    return out


_END = object()


def _unflatten(tree: Tree, it) -> Any:
    if tree.kind == "leaf":
        return next(it)
    if tree.kind == "none":
        return None
    items = [_unflatten(c, it) for c in tree.children]
    return tuple(items) if tree.kind == "tuple" else items
