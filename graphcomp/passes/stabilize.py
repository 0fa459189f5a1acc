"""Numerical stabilisation: rewrite formulas that overflow or lose precision into
the equal, stable ops. Each rule is an identity; only the rounding changes.
A table of ``graphcomp.passes.rules``, as simplify's; all keep the runtime shape.

    log(softmax x)        -> log_softmax x
    log(sigmoid x)        -> -softplus(-x)
    log(1 - sigmoid x)    -> -softplus(x)
    log1p(-sigmoid x)     -> -softplus(x)
    log(1 + x)            -> log1p x
    exp(x) - 1            -> expm1 x
    log(sum(exp x))       -> logsumexp x

A rule's result is offered to the rules again (``log(1 + -sigmoid x)`` becomes
``log1p(-sigmoid x)``, then ``-softplus(x)``). ``gc.grad`` built the gradients of
these formulas from the graph as written, through quotients by the softmax, the
sigmoid or the sum of exps that are infinite where those underflow; the
gradient rules (``GRADIENT_RULES``, ``graphcomp.passes.cancel``) cancel them, so
that wherever a stabilised value is finite, so are its first and second derivatives.
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.ops.binary import Add, Divide, Multiply, Subtract
from graphcomp.ops.elementwise import Exp, Expm1, Log, Log1p, Negative, Sigmoid, SigmoidGrad, Softplus
from graphcomp.ops.reduce import LogSumExp, Sum
from graphcomp.ops.softmax import LogSoftmax, Softmax, SoftmaxGrad
from graphcomp.passes import cancel
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.passes.rules import Rule, RuleTable, is_constant_value

name = "stabilize"

__all__ = ["name", "run", "sweep", "RULES", "VALUE_RULES", "GRADIENT_RULES", "IDENTITIES", "TABLE"]


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


def _log_one_minus_sigmoid(v, a):
    if _is(a, Subtract) and is_constant_value(a.inputs[0], 1) and _is(a.inputs[1], Sigmoid):
        return -Softplus()(a.inputs[1].inputs[0])
    return None


def _log1p_minus_sigmoid(v, a):
    if _is(a, Negative) and _is(a.inputs[0], Sigmoid):
        return -Softplus()(a.inputs[0].inputs[0])
    return None


#: the stable values: each rule's name is its identity
VALUE_RULES = [
    Rule("log(softmax x) -> log_softmax x", (Log,),
         lambda v, a: LogSoftmax(a.owner.op.axis)(a.inputs[0]) if _is(a, Softmax) else None, True),
    Rule("log(sigmoid x) -> -softplus(-x)", (Log,),
         lambda v, a: -Softplus()(-a.inputs[0]) if _is(a, Sigmoid) else None, True),
    Rule("log(1 - sigmoid x) -> -softplus(x)", (Log,), _log_one_minus_sigmoid, True),
    Rule("log1p(-sigmoid x) -> -softplus(x)", (Log1p,), _log1p_minus_sigmoid, True),
    Rule("log(1 + x) -> log1p x", (Log,), _log1p, True),
    Rule("exp(x) - 1 -> expm1 x", (Subtract,),
         lambda v, a, b: Expm1()(a.inputs[0]) if _is(a, Exp) and is_constant_value(b, 1) else None, True),
    Rule("log(sum(exp x)) -> logsumexp x", (Log,), _logsumexp, True),
]  # fmt: skip

#: every value rule's identity, as recorded in a compile's ``rewrites``
IDENTITIES = tuple(rule.name for rule in VALUE_RULES)

#: their gradients, as gc.grad built them from the formulas as written: quotients by a
#: positive value (infinite where it underflows) that cancel (``graphcomp.passes.cancel``)
GRADIENT_RULES = [
    Rule("softmax_grad(s, N/s) -> log_softmax_grad(log_softmax x, N)", (SoftmaxGrad,), cancel.softmax_quotients, True),
    Rule("sigmoid_grad(x, N/sigmoid x) -> N*sigmoid(-x); N/(1 - sigmoid x) -> N*sigmoid(x)", (SigmoidGrad,),
         cancel.sigmoid_quotients, True),
    Rule("exp(x) * broadcast(N/sum(exp x)) -> broadcast(N) * exp(x - logsumexp x)", (Multiply,),
         cancel.exp_sum_quotients, True),
    Rule("softmax_grad(s, H)*k/s -> (H - sum(H*s))*k", (Divide,), cancel.softmax_factors, True),
    Rule("sigmoid_grad(x, H)*k/sigmoid x -> H*sigmoid(-x)*k; /(1 - sigmoid x) -> H*sigmoid(x)*k", (Divide,),
         cancel.sigmoid_factors, True),
    Rule("sum(H*exp x)*k/sum(exp x) -> sum(H*exp(x - logsumexp x))*k", (Divide,), cancel.exp_sum_factors, True),
    Rule("(N/v)*v -> N for v > 0", (Multiply,), cancel.quotient_times_denominator, True),
]  # fmt: skip

RULES = VALUE_RULES + GRADIENT_RULES

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
