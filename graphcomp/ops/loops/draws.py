"""A loop whose body draws random numbers: the loop node is itself ``stateful`` (it
differs from run to run, so it is never folded or hoisted out of an enclosing loop)
and asks each run to advance the generators its body's draws read, as a draw
outside loops does (``Op.state_updates``; ``graphcomp/runtime/state.py``).

The body's draws read their generator's state through a capture placeholder, so
the loop maps each placeholder back to the loop node's input before asking the
draw (or a nested loop) for its updates. How a draw gets new numbers at every step
is in ``graphcomp/ops/random.py`` ("Draws inside loops").
"""

from __future__ import annotations

import weakref

from graphcomp.core.node import Variable

__all__ = ["stateful_nodes", "loop_state_updates"]

_STATEFUL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Scan op -> its body's stateful nodes


def stateful_nodes(op) -> tuple[Variable, ...]:
    """The nodes of loop op ``op``'s body whose ops are stateful (draws, nested loops
    that draw), found once per op.

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> _, ys = gc.scan(lambda c, x: (c, x + rng.normal(())), 0.0, gc.Variable("x", (3,)))
        >>> loop = ys.owner.inputs[0].owner.op
        >>> [v.owner.op.name for v in stateful_nodes(loop)], loop.stateful
        (['random_normal'], True)
    """
    found = _STATEFUL.get(op)
    if found is None:
        found = _STATEFUL[op] = tuple(v for v in op.body.nodes() if v.owner is not None and v.owner.op.stateful)
    return found


def loop_state_updates(op, inputs) -> list[tuple[Variable, Variable]]:
    """The ``(Parameter, new value)`` pairs one run of loop ``op`` applied to ``inputs``
    must apply: those of its body's stateful nodes, each asked with the body's
    placeholders replaced by the loop node's inputs they stand for (a generator state
    captured from outside is the Parameter itself again).

    Example:
        >>> import graphcomp as gc
        >>> rng = gc.random.Generator(0)
        >>> _, ys = gc.scan(lambda c, x: (c, x + rng.normal(())), 0.0, gc.Variable("x", (3,)))
        >>> L = ys.owner.inputs[0]
        >>> [(p is rng.state, new.owner.op.name) for p, new in loop_state_updates(L.owner.op, L.owner.inputs)]
        [(True, 'add')]
    """
    outer = dict(zip(op.body.inputs, inputs))
    found: list = []
    for v in stateful_nodes(op):
        found += v.owner.op.state_updates(tuple(outer.get(i, i) for i in v.owner.inputs))
    return found
