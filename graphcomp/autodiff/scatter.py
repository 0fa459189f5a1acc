"""Summing many scatter gradients as one scatter.

When a model reads ``w[0], w[1], ..., w[N-1]``, each read's bprop scatters its
gradient into zeros shaped like ``w``. Summing those N arrays of size N costs
O(N^2) time and, while they are all alive, O(N^2) memory. The sum is the same
as one scatter-add of the N gradients, stacked, at the N indices: O(N). This
is how build_grad adds up such terms:

- integer reads ``w[k]``, ``w[i, j]``, also along a later axis (``w[:, k]``), for a
  ``w`` of known shape (``index_grad``) or with unknown dimensions
  (``index_grad_like``, whose target shape is read from ``w`` at run time: the
  terms combine when they scatter into the same ``w``);
- slices along one axis (``w[k:k+2]``, ``w[:, 3:5]``, what ``concatenate``'s
  gradient or a hand-made window reads) of a ``w`` of known shape: their
  gradients, joined along that axis, are added at the concatenated index ranges,
  when the slices are short beside ``w`` (many windows); a few long slices keep their
  own pads, which cost less than a scatter of all they cover.

Repeated or overlapping indices accumulate (``np.add.at``), as the sum did.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.ops.indexing import IndexGrad, IndexGradLike
from graphcomp.ops.shape import Concatenate, Stack

__all__ = ["combine_scatters"]

_FULL = ("s", None, None, None)
_SCATTER_COST = 4  # element passes of concatenate + scatter-add per covered position, against one add's


def _axis_and_rest(template: tuple) -> tuple[int, tuple] | None:
    """``(a, entries)``: the template is ``a`` full slices, then ``entries`` (ints, or
    one slice), then only full slices; None for any other template."""
    a = 0
    while a < len(template) and template[a] == _FULL:
        a += 1
    end = a
    while end < len(template) and template[end][0] == "i":
        end += 1
    if end == a and a < len(template) and template[a][0] == "s":
        end = a + 1
    if end == a or any(t != _FULL for t in template[end:]):
        return None
    return a, template[a:end]


def _key(term: Variable):
    """``(group, indices)``: the scatters of one group add into the same target (a static
    shape, or the same reference Variable for a shape known only at run time) along
    the same axis, and combine into one; ``indices`` is this term's share: a tuple of
    ints, or for a slice the list of positions it covers."""
    owner = term.owner
    if owner is None:
        return None
    kind = type(owner.op)
    if kind is IndexGrad and len(owner.inputs) == 1:
        target = owner.op.shape
    elif kind is IndexGradLike and len(owner.inputs) == 2:
        target = owner.inputs[1]  # the Variable whose run-time shape the scatter takes
    else:
        return None
    found = _axis_and_rest(owner.op.template)
    if found is None:
        return None
    a, entries = found
    if entries[0][0] == "i":
        return (kind, target, a, len(entries), term.dtype), tuple(t[1] for t in entries)
    if kind is not IndexGrad:  # a slice of an unknown length covers positions known only at run time
        return None
    positions = range(*slice(*entries[0][1:]).indices(target[a]))
    return (kind, target, a, "slice", term.dtype), positions


def _worth_combining(key: tuple, members: list) -> bool:
    """Whether one scatter beats summing the group's own scatters. Integer reads always
    combine: each one's scatter is a whole target for one element. A slice's scatter is a
    pad, so k slices summed cost about k passes over the target, against a few passes over
    the positions they cover for the concatenate and the scatter-add (whose per-element cost
    is several times an add's, and which XLA on CPU runs serially): short windows of a long
    target combine, a few long slices (Rosenbrock's ``x[1:]``, ``x[:-1]``) do not."""
    kind, target, a, depth, _ = key
    if depth != "slice":
        return True
    covered = sum(len(positions) for _, _, positions in members)
    return len(members) * target[a] > _SCATTER_COST * covered


def combine_scatters(terms: list[Variable]) -> list[Variable]:
    """Replace the scatters among ``terms`` that add into one target along one axis by
    one scatter per group.

    Terms are kept in order; a group of two or more scatters ``index_grad[k; shape](g_k)``
    becomes ``index_grad[[]; shape](stack(g), ks)`` (slices: ``concatenate(g)`` and the
    positions they cover), placed where the group's first term was.

    Example:
        >>> import graphcomp as gc
        >>> w = gc.Variable("w", (3,))
        >>> terms = [IndexGrad((("i", k),), (3,))(gc.constant(float(k + 1))) for k in range(3)]
        >>> (one,) = combine_scatters(terms)
        >>> one.owner.op.label(), gc.evaluate(one, {}).tolist()
        ('index_grad[[]; (3,)]', [1.0, 2.0, 3.0])
        >>> windows = [IndexGrad((("s", k, k + 2, None),), (10,))(gc.constant([1.0, 1.0])) for k in range(8)]
        >>> gc.evaluate(combine_scatters(windows)[0], {}).tolist()
        [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 0.0]
        >>> halves = [IndexGrad((("s", k, k + 6, None),), (10,))(gc.constant(np.ones(6))) for k in (0, 4)]
        >>> len(combine_scatters(halves))  # two long slices: their two pads cost less than a scatter
        2
    """
    groups: dict = {}
    for position, t in enumerate(terms):
        k = _key(t)
        if k is not None:
            groups.setdefault(k[0], []).append((position, t, k[1]))
    groups = {key: members for key, members in groups.items() if len(members) > 1 and _worth_combining(key, members)}
    if not groups:
        return terms
    # by position, not by node: one node can be two terms (x + x reads x twice)
    replaced: dict[int, Variable | None] = {}
    for (kind, target, a, depth, _), members in groups.items():
        gs = [t.owner.inputs[0] for _, t, _ in members]
        if depth == "slice":
            values = Concatenate(a)(*gs)
            index = [constant(np.fromiter((p for _, _, ps in members for p in ps), dtype=np.intp))]
        else:
            values = Stack(a)(*gs)
            index = [constant(np.array([ints[j] for _, _, ints in members], dtype=np.intp)) for j in range(depth)]
        template = (_FULL,) * a + (("a",),) * len(index)
        replaced.update((position, None) for position, _, _ in members)
        if kind is IndexGrad:
            combined = IndexGrad(template, target)(values, *index)
        else:
            combined = IndexGradLike(template)(values, target, *index)
        replaced[members[0][0]] = combined
    kept = (replaced.get(k, t) for k, t in enumerate(terms))
    return [t for t in kept if t is not None]
