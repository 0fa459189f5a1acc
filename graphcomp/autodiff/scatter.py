"""Summing many scatter gradients as one scatter.

When a model reads ``w[0], w[1], ..., w[N-1]``, each read's bprop scatters its
gradient into zeros shaped like ``w``. Summing those N arrays of size N costs
O(N^2) time and, while they are all alive, O(N^2) memory. The sum is the same
as one scatter-add of the N gradients, stacked, at the N indices: O(N). This
is how build_grad adds up such terms.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.ops.indexing import IndexGrad
from graphcomp.ops.shape import Stack

__all__ = ["combine_scatters"]

_FULL = ("s", None, None, None)


def _int_prefix(template: tuple) -> tuple[int, ...] | None:
    """The leading integer indices of a template that has only full slices after them."""
    depth = 0
    while depth < len(template) and template[depth][0] == "i":
        depth += 1
    if depth == 0 or any(t != _FULL for t in template[depth:]):
        return None
    return tuple(t[1] for t in template[:depth])


def _key(term: Variable):
    owner = term.owner
    if owner is None or type(owner.op) is not IndexGrad or len(owner.inputs) != 1:
        return None
    ints = _int_prefix(owner.op.template)
    if ints is None:
        return None
    return (owner.op.shape, len(ints), term.dtype), ints


def combine_scatters(terms: list[Variable]) -> list[Variable]:
    """Replace the integer-indexed scatters among ``terms`` by one scatter per target shape.

    Terms are kept in order; a group of two or more scatters ``index_grad[k; shape](g_k)``
    of the same shape becomes ``index_grad[[]; shape](stack(g), ks)``, placed where the
    group's first term was.

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Variable("w", (3,))
        >>> terms = [IndexGrad((("i", k),), (3,))(gc.constant(float(k + 1))) for k in range(3)]
        >>> (one,) = combine_scatters(terms)
        >>> one.owner.op.label(), gc.evaluate(one, {}).tolist()
        ('index_grad[[]; (3,)]', [1.0, 2.0, 3.0])
    """
    groups: dict = {}
    for position, t in enumerate(terms):
        k = _key(t)
        if k is not None:
            groups.setdefault(k[0], []).append((position, t, k[1]))
    groups = {key: members for key, members in groups.items() if len(members) > 1}
    if not groups:
        return terms
    # by position, not by node: one node can be two terms (x + x reads x twice)
    replaced: dict[int, Variable | None] = {}
    for (shape, depth, _), members in groups.items():
        values = Stack(0)(*(t.owner.inputs[0] for _, t, _ in members))
        index = [constant(np.array([ints[j] for _, _, ints in members], dtype=np.intp)) for j in range(depth)]
        template = (("a",),) * depth
        replaced.update((position, None) for position, _, _ in members)
        replaced[members[0][0]] = IndexGrad(template, shape)(values, *index)
    kept = (replaced.get(k, t) for k, t in enumerate(terms))
    return [t for t in kept if t is not None]
