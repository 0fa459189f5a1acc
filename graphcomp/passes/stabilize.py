"""Numerical stabilisation: rewrite formulas that overflow or lose precision into
the equal, stable ops. Each rule is an identity; only the rounding changes.

    log(softmax x)        -> log_softmax x
    log(sigmoid x)        -> -softplus(-x)
    log(1 - sigmoid x)    -> -softplus(x)
    log1p(-sigmoid x)     -> -softplus(x)
    log(1 + x)            -> log1p x
    exp(x) - 1            -> expm1 x
    log(sum(exp x))       -> logsumexp x

A rule's result is offered to the rules again (``log(1 + -sigmoid x)`` becomes
``log1p(-sigmoid x)``, then ``-softplus(x)``). The gradients of these formulas, built
by ``gc.grad`` from the graph as written, are made as stable as the values by the
bprops of softmax, sigmoid and exp (``graphcomp.ops.cancel``).
"""

from __future__ import annotations

from graphcomp.core.node import Variable
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.passes.simplify import _const, fired

name = "stabilize"

#: every rule's name, as recorded in ``fired()`` (a test holds each one's gradient to the value's stability)
IDENTITIES = (
    "log(softmax x) -> log_softmax x",
    "log(sigmoid x) -> -softplus(-x)",
    "log(1 - sigmoid x) -> -softplus(x)",
    "log1p(-sigmoid x) -> -softplus(x)",
    "log(1 + x) -> log1p x",
    "exp(x) - 1 -> expm1 x",
    "log(sum(exp x)) -> logsumexp x",
)


def _op(v: Variable, op_name: str) -> bool:
    return v.owner is not None and v.owner.op.name == op_name


def _log(v: Variable, a: Variable):
    from graphcomp.ops.elementwise import Log1p, Softplus
    from graphcomp.ops.nn import LogSoftmax
    from graphcomp.ops.reduce import LogSumExp

    if _op(a, "softmax"):  # log(softmax x) -> log_softmax x
        return "log(softmax x) -> log_softmax x", LogSoftmax(a.owner.op.axis)(a.inputs[0])
    if _op(a, "sigmoid"):  # log(sigmoid x) -> -softplus(-x)
        return "log(sigmoid x) -> -softplus(-x)", -Softplus()(-a.inputs[0])
    if _op(a, "subtract") and _const(a.inputs[0], 1) and _op(a.inputs[1], "sigmoid"):  # log(1 - sigmoid x)
        return "log(1 - sigmoid x) -> -softplus(x)", -Softplus()(a.inputs[1].inputs[0])
    if _op(a, "add"):  # log(1 + x) -> log1p x
        p, q = a.inputs
        x = q if _const(p, 1) else p if _const(q, 1) else None
        if x is not None:
            return "log(1 + x) -> log1p x", Log1p()(x)
    if _op(a, "sum") and _op(a.inputs[0], "exp"):  # log(sum(exp x)) -> logsumexp x
        s = a.owner.op
        return "log(sum(exp x)) -> logsumexp x", LogSumExp(s.axes, s.keepdims)(a.inputs[0].inputs[0])
    return None


def _log1p(v: Variable, a: Variable):
    from graphcomp.ops.elementwise import Softplus

    if _op(a, "negative") and _op(a.inputs[0], "sigmoid"):  # log1p(-sigmoid x) -> -softplus(x)
        return "log1p(-sigmoid x) -> -softplus(x)", -Softplus()(a.inputs[0].inputs[0])
    return None


def _subtract(v: Variable, a: Variable, b: Variable):
    from graphcomp.ops.elementwise import Expm1

    if _op(a, "exp") and _const(b, 1):  # exp(x) - 1 -> expm1 x
        return "exp(x) - 1 -> expm1 x", Expm1()(a.inputs[0])
    return None


RULES = {"log": _log, "log1p": _log1p, "subtract": _subtract}


def run(outputs: list[Variable]) -> list[Variable]:
    """Return outputs with every unstable formula of the table rewritten.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> (y,) = run([gc.log(gc.softmax(x))])
        >>> y.owner.op.name
        'log_softmax'
    """
    return transform(outputs, *sweep())


def sweep():
    """This pass as ``(visit, visit_leaf)`` for ``transform``.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> (y,) = transform([gc.log(1.0 + gc.Variable("x"))], *sweep())
        >>> y.owner.op.name
        'log1p'
    """
    return _visit, None


def _visit(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    node = rebuilt(v, inputs)
    for _ in range(4):  # each firing removes a node; a result may match another rule
        rule = RULES.get(node.owner.op.name) if node.owner is not None else None
        found = rule(node, *node.owner.inputs) if rule else None
        if found is None:
            return node
        label, replacement = found
        if replacement.shape != v.shape or replacement.dtype != v.dtype:
            return node
        fired().append((label, v, replacement))
        node = replacement
    return node
