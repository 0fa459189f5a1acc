"""Numerical stabilisation: rewrite formulas that overflow or lose precision into
the equal, stable ops. Each rule is an identity; only the rounding changes.
A table of ``graphcomp.passes.rules``, as simplify's; all keep the runtime shape.
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.ops.binary import Add, Subtract
from graphcomp.ops.elementwise import Exp, Expm1, Log, Log1p, Sigmoid, Softplus
from graphcomp.ops.reduce import LogSumExp, Sum
from graphcomp.ops.softmax import LogSoftmax, Softmax
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.passes.rules import Rule, RuleTable, is_constant_value

name = "stabilize"

__all__ = ["name", "run", "sweep", "RULES", "TABLE"]


def _is(v: Variable, op_class: type) -> bool:
    return v.owner is not None and isinstance(v.owner.op, op_class)


def _log1p(v, a):
    if not _is(a, Add):
        return None
    p, q = a.inputs
    x = q if is_constant_value(p, 1) else p if is_constant_value(q, 1) else None
    return None if x is None else Log1p()(x)


def _logsumexp(v, a):
    if not (_is(a, Sum) and _is(a.inputs[0], Exp)):
        return None
    s = a.owner.op
    return LogSumExp(s.axes, s.keepdims)(a.inputs[0].inputs[0])


RULES = [
    Rule("log(softmax x) -> log_softmax x", (Log,),
         lambda v, a: LogSoftmax(a.owner.op.axis)(a.inputs[0]) if _is(a, Softmax) else None, True),
    Rule("log(sigmoid x) -> -softplus(-x)", (Log,),
         lambda v, a: -Softplus()(-a.inputs[0]) if _is(a, Sigmoid) else None, True),
    Rule("log(1 + x) -> log1p x", (Log,), _log1p, True),
    Rule("exp(x) - 1 -> expm1 x", (Subtract,),
         lambda v, a, b: Expm1()(a.inputs[0]) if _is(a, Exp) and is_constant_value(b, 1) else None, True),
    Rule("log(sum(exp x)) -> logsumexp x", (Log,), _logsumexp, True),
]  # fmt: skip

TABLE = RuleTable(RULES)


def run(outputs: list[Variable], log: list | None = None) -> list[Variable]:
    """Return outputs with every unstable formula of the table rewritten; each firing
    is appended to ``log`` as ``(rule name, node before, node after)``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> (y,) = run([gc.log(gc.softmax(x))])
        >>> y.owner.op.name
        'log_softmax'
    """
    return transform(outputs, *sweep([] if log is None else log))


def sweep(log: list):
    """This pass as ``(visit, visit_leaf)`` for ``transform``, its firings appended to ``log``.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> (y,) = transform([gc.log(1.0 + gc.Variable("x"))], *sweep([]))
        >>> y.owner.op.name
        'log1p'
    """
    rewrite = TABLE.rewrite
    return (lambda v, inputs: rewrite(v, rebuilt(v, inputs), log)), None
