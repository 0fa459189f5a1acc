"""Is a graph linear in one of its nodes? A static check, from the ops' ``linear``
trait (``graphcomp/ops/base.py``).

Forward mode transposes back-propagation (``graphcomp/autodiff/forward.py``):
it builds g(u) = J^T u for a seed u and differentiates <g(u), v> in u, which
gives J v only when g is linear in u. Every op's own bprop is; a user's custom
bprop (``gc.op_from_graph(..., bprop=)``) need not be: ``clip(G, -1, 1)`` or
``G * G`` is not, and transposing it would give a tangent that is silently
wrong (0 for ``G * G``: its derivative at u = 0). So forward mode asks this
module first, and refuses such a group, as ``jax.jvp`` refuses a
``custom_vjp`` function.

Each node is, with respect to the source node: independent of it (``CONST``),
a zero (``ZERO``: a zero constant, ``zeros_like``, a "no gradient" zero),
linear in it (``LINEAR``), or not known to be linear (``NONLINEAR``). An op
node with no varying input is independent; otherwise it is linear when its op
is linear in its varying inputs jointly with the others zeros
(``Op.linear_in``): ``G * x`` and ``where(m, G, 0)`` are, ``G * G``,
``G + 1`` and ``maximum(G, -1)`` are not. An ``op_from_graph`` group is
looked into. The check is sound, not complete: a linear graph built from ops
without the trait (``sqrt(G * G)`` for G >= 0 aside, which is not linear
anyway) is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphcomp.core import collector, provenance
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.ops.creation import ZerosLike

__all__ = ["CONST", "ZERO", "LINEAR", "NONLINEAR", "nonlinear_node", "custom_bprop_nonlinearity"]

CONST, ZERO, LINEAR, NONLINEAR = "const", "zero", "linear", "nonlinear"


def _leaf_status(v: Variable) -> str:
    if v.kind == "constant" and not np.any(v.value):
        return ZERO
    return CONST


def _statuses(outputs: Sequence[Variable], known: dict[Variable, str]) -> tuple[dict, Variable | None]:
    """Each node's status, the leaves in ``known`` given; and the first node (in
    topological order) that is nonlinear although none of its inputs is."""
    status = dict(known)
    culprit = None
    for v in topological(ancestors(outputs)):
        if v in status:
            continue
        if v.owner is None:
            status[v] = _leaf_status(v)
            continue
        op, ins = v.owner.op, v.owner.inputs
        states = [status[i] for i in ins]
        if NONLINEAR in states:
            status[v] = NONLINEAR
            continue
        varying = frozenset(k for k, s in enumerate(states) if s == LINEAR)
        zero = frozenset(k for k, s in enumerate(states) if s == ZERO)
        if not varying:
            # zeros: a "no gradient" zero, zeros_like, and an op linear in inputs that are all zeros (0 * x)
            zeros = (
                op.no_gradient
                or isinstance(op, ZerosLike)
                or (bool(zero) and op.linear_in(zero, frozenset(), len(ins)))
            )
            status[v] = ZERO if zeros else CONST
            continue
        inner = op.inner()
        if inner is not None:  # a group: linear when its inner graph is (nested groups: bounded by their nesting)
            placeholders, out = inner
            inside, _ = _statuses([out], dict(zip(placeholders, states)))
            linear = inside[out] in (LINEAR, ZERO)
        else:
            linear = op.linear_in(varying, zero, len(ins))
        status[v] = LINEAR if linear else NONLINEAR
        if not linear and culprit is None:
            culprit = v
    return status, culprit


def nonlinear_node(outputs: Sequence[Variable], source: Variable) -> Variable | None:
    """The first node at which ``outputs`` stop being (known to be) linear in
    ``source``, or None when every output is linear in it (or independent of it).

    Example:
        >>> import graphcomp as gc
        >>> G, x = gc.Variable("G", (3,)), gc.Variable("x", (3,))
        >>> nonlinear_node([(G * x).sum(), gc.where(x > 0, G, 0.0)], G) is None
        True
        >>> nonlinear_node([gc.minimum(gc.maximum(G, -1.0), 1.0)], G).owner.op.name
        'maximum'
        >>> nonlinear_node([G * G], G).owner.op.name, nonlinear_node([G + 1.0], G).owner.op.name
        ('multiply', 'add')
    """
    status, culprit = _statuses(list(outputs), {source: LINEAR})
    if all(status[o] != NONLINEAR for o in outputs):
        return None
    return culprit


def custom_bprop_nonlinearity(node: Variable) -> Variable | None:
    """For a node of an op_from_graph group with a custom bprop: the node of that
    bprop's gradient graph that is not linear in G, or None when the bprop is linear
    in G. The bprop is built once more on placeholders of the node's inputs, output
    and G (it must not depend on their values, since it builds a graph).

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a")
        >>> ste = gc.op_from_graph(gc.sign, bprop=lambda ins, out, G: [G * 2.0], name="twice_ste")
        >>> clip = gc.op_from_graph(lambda u: u * 1.0, bprop=lambda ins, out, G: [gc.minimum(G, 1.0)], name="cg")
        >>> custom_bprop_nonlinearity(ste(a)) is None, custom_bprop_nonlinearity(clip(a)).owner.op.name
        (True, 'minimum')
    """
    op, ins = node.owner.op, node.owner.inputs
    with collector.paused(), provenance.building(site=None, grad_of=None, role="grad"):
        holders = [Variable(f"in{k}", i.shape, i.dtype) for k, i in enumerate(ins)]
        output = Variable("output", node.shape, node.dtype)
        G = Variable("G", node.shape, node.dtype)
        grads = [g for g in op.bprop(holders, output, G) if g is not None]
    return nonlinear_node(grads, G) if grads else None
