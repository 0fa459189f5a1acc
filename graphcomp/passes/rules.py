"""Rule tables: local rewrites, each one line with its identity as its name,
keyed by the op classes they apply to. ``simplify`` and ``stabilize`` are two
tables run by this one engine.

A rule is ``fn(node, *inputs) -> replacement or None``. It fires only when
its replacement has exactly the node's shape and dtype, so nothing is
silently broadcast or cast: statically, and at run time too where a
dimension is unknown (rules marked ``exact`` keep the runtime shape by
construction; the others need fully known shapes). Every firing is appended
to the ``log`` the caller passes: ``(rule name, node before, node after)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from graphcomp.core import provenance
from graphcomp.core.node import Variable
from graphcomp.core.types import is_fully_known

__all__ = ["Rule", "RuleTable", "is_constant_value"]

#: the rewrites fired in one compile: (rule name, node before, node after)
RewriteLog = list


class Rule(NamedTuple):
    """One rewrite: ``name`` is its identity (``"x*1 -> x"``), ``ops`` the op classes
    of the nodes it looks at, ``fn`` the rewrite, ``exact`` True when it keeps the
    runtime shape by construction (so it may fire where dimensions are unknown)."""

    name: str
    ops: tuple[type, ...]
    fn: Callable
    exact: bool = False


def is_constant_value(v: Variable, value: float) -> bool:
    """True when ``v`` is a non-empty constant every element of which equals ``value``.

    Example:
        >>> import graphcomp as gc
        >>> is_constant_value(gc.constant([1.0, 1.0]), 1), is_constant_value(gc.Variable("x"), 1)
        (True, False)
    """
    return v.kind == "constant" and v.value.size > 0 and bool(np.all(v.value == value))


class RuleTable:
    """Rules indexed by op class, applied to a node until none fires.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.ops.elementwise import Negative
        >>> table = RuleTable([Rule("neg(neg x) -> x", (Negative,),
        ...                         lambda v, a: a.inputs[0] if isinstance(a.op, Negative) else None, True)])
        >>> x = gc.Variable("x"); log = []
        >>> table.rewrite(-(-x), -(-x), log) is x, [name for name, *_ in log]
        (True, ['neg(neg x) -> x'])
    """

    def __init__(self, rules: list[Rule], may_fire: Callable[[Variable], bool] | None = None):
        self.rules = rules
        self.may_fire = may_fire  # a quick test that spares trying the rules of most nodes
        self.by_class: dict[type, list[Rule]] = {}
        for rule in rules:
            for cls in rule.ops:
                self.by_class.setdefault(cls, []).append(rule)

    def rewrite(self, v: Variable, node: Variable, log: RewriteLog) -> Variable:
        """``node`` (``v`` rebuilt on rewritten inputs) after the rules, applied until
        none fires: a rule's result may match another rule. Nodes a rule builds
        keep v's creation site and gradient role."""
        by_class, may_fire = self.by_class, self.may_fire
        if node.owner is None or type(node.owner.op) not in by_class or (may_fire and not may_fire(node)):
            return node
        provenance.enter(*provenance.of(v))
        try:
            for k in range(8):  # each firing removes a node, so a few rounds suffice
                if node.owner is None or (k and may_fire and not may_fire(node)):  # round 0 was asked above
                    return node
                for rule in by_class.get(type(node.owner.op), ()):
                    replacement = _same(v, rule.fn(node, *node.owner.inputs), rule.exact)
                    if replacement is not None and replacement is not node:
                        log.append((rule.name, v, replacement))
                        node = replacement
                        break
                else:
                    return node
            return node
        finally:
            provenance.leave()


def _same(v: Variable, r: Variable | None, exact: bool) -> Variable | None:
    if r is None or r.shape != v.shape or r.dtype != v.dtype:
        return None
    return r if exact or is_fully_known(v.shape) else None
