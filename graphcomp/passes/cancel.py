"""Gradient rules of the stabilize pass: quotients by a positive op value that cancel.

The stabilize pass computes ``log(softmax x)``, ``log(sigmoid x)``, ``log(1 - sigmoid x)``,
``log1p(-sigmoid x)`` and ``log(sum(exp x))`` as stable ops, but ``gc.grad`` built the
gradient from the graph as the user wrote it: log's bprop gives ``N / v`` with v the
positive value (``softmax(x)``, ``sigmoid(x)``, ...), infinite where v underflows to 0,
and v's own bprop then multiplies by v again: ``0 * inf = nan``. These rules find such
a quotient in the gradient a node receives and write the product in closed form, where
the division cancels:

    softmax_grad(s, N / s)                 = N - s * sum(N)
    sigmoid_grad(x, N / sigmoid x)         = N * sigmoid(-x)
    sigmoid_grad(x, N / (1 - sigmoid x))   = N * sigmoid(x)
    exp(x) * broadcast(N / sum(exp x))     = broadcast(N) * exp(x - logsumexp(x))

A second derivative, built by ``gc.grad`` from the first as written, meets the same
quotients again, and one more kind: Divide's bprop divides a gradient that carries a
factor of v by v, and the factor cancels:

    softmax_grad(s, H) * k / s             = (H - sum(H * s)) * k
    sigmoid_grad(x, H) * k / sigmoid x     = H * sigmoid(-x) * k    (1 - sigmoid x: sigmoid(x))
    sum(H * exp x) * k / sum(exp x)        = sum(H * exp(x - logsumexp x)) * k
    (N / v) * v                            = N

Each is an identity in real arithmetic, where v > 0, and the continuous extension of
the quotient where v has underflowed. A quotient need not be the whole input: the
input is read as a sum of terms, each a quotient (or a factor) under linear plumbing
(sums, negations, products with other values, ``sum_to``, and for a reduction its
axes put back and broadcast), and each quotient term cancels with its plumbing
carried over to the numerator; the other terms keep the op as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from graphcomp.core.node import Variable
from graphcomp.core.types import is_fully_known
from graphcomp.ops.binary import Add, AddN, Divide, Multiply, Subtract
from graphcomp.ops.elementwise import Exp, Negative, Sigmoid, SigmoidGrad
from graphcomp.ops.reduce import LogSumExp, Sum
from graphcomp.ops.shape import (
    BroadcastLike,
    BroadcastTo,
    ExpandDims,
    Reshape,
    Squeeze,
    SumTo,
    SumToLike,
    broadcast_like,
    sum_to_axes,
)
from graphcomp.ops.softmax import LogSoftmax, LogSoftmaxGrad, Softmax, SoftmaxGrad
from graphcomp.passes.rules import is_constant_value

__all__ = [
    "softmax_quotients", "sigmoid_quotients", "exp_sum_quotients", "softmax_factors", "sigmoid_factors",
    "exp_sum_factors", "quotient_times_denominator",
]  # fmt: skip

#: plumbing a gradient term reaches an elementwise consumer through (a broadcast only
#: where it keeps the shape: a bprop's ``broadcast_like`` of unknown shapes)
_ELEMENTWISE = (Negative, Multiply, Divide, SumTo, SumToLike, BroadcastTo, BroadcastLike)
#: ... and a reduction's gradient: its axes put back, then broadcast
_PUT_BACK = (ExpandDims, BroadcastTo, BroadcastLike)
#: what a factor of the denominator reaches the division through: every step keeps the shape,
#: so the factor and the denominator meet element by element
_FACTOR = (Negative, Multiply, SumTo, SumToLike, BroadcastTo, BroadcastLike)
_RESHAPING = (SumTo, SumToLike, BroadcastTo, BroadcastLike)
_BROADCASTS = (BroadcastTo, BroadcastLike)
#: nodes of plumbing looked at per input: gradients keep it shallow; more is not plumbing
_BUDGET = 64
_NEG = ("neg",)


def _owner_is(v: Variable, op_class) -> bool:
    return v.owner is not None and isinstance(v.owner.op, op_class)


# -- reading an input as a sum of terms under linear plumbing ------------------------------------------


def _passes(v: Variable, through: tuple, reshaping: tuple) -> bool:
    """Whether v is plumbing to look through: one of ``through``, and where it is one of
    ``reshaping``, one that keeps its input's (static) shape."""
    op = v.owner.op
    if isinstance(op, (Add, AddN, Subtract)):
        return True
    if not isinstance(op, through):
        return False
    return not isinstance(op, reshaping) or v.owner.inputs[0].shape == v.shape


def _marks(X: Variable, leaf: Callable, through: tuple, reshaping: tuple) -> dict | None:
    """For each node of X's plumbing, whether a leaf (``leaf(node)`` not None) lies under
    it through linear positions; None when the plumbing is bigger than the budget."""
    has: dict = {}
    stack, seen = [(X, False)], 0
    while stack:
        v, done = stack.pop()
        if v in has and not done:
            continue
        if done:
            has[v] = any(has.get(i, False) for i in _linear_inputs(v))
            continue
        if leaf(v) is not None:
            has[v] = True
            continue
        if v.owner is None or not _passes(v, through, reshaping):
            has[v] = False
            continue
        seen += 1
        if seen > _BUDGET:
            return None
        stack.append((v, True))
        stack.extend((i, False) for i in _linear_inputs(v))
    return has


def _linear_inputs(v: Variable) -> tuple:
    """The inputs of a plumbing node in which it is linear (a quotient's numerator only)."""
    op, ins = v.owner.op, v.owner.inputs
    if isinstance(op, (Add, AddN, Subtract, Multiply)):
        return ins
    return ins[:1]


def _split(X: Variable, leaf: Callable, through: tuple, reshaping: tuple = ()) -> tuple[list, list] | None:
    """``(terms, rest)``: X as a sum of terms, each a leaf under a chain of linear steps
    (``(leaf, leaf(leaf), chain)``, the chain innermost first), and the other parts
    (``(node, chain)``). None when no leaf is found. Ops in ``reshaping`` are looked
    through only where they keep the shape."""
    has = _marks(X, leaf, through, reshaping)
    if not has or not has.get(X):
        return None
    terms, rest = [], []
    stack = [(X, ())]
    while stack:
        v, chain = stack.pop()
        key = leaf(v)
        if key is not None:
            terms.append((v, key, chain))
            continue
        if not has.get(v):
            rest.append((v, chain))
            continue
        op, ins = v.owner.op, v.owner.inputs
        if isinstance(op, (Add, AddN)):
            stack.extend((i, chain) for i in reversed(ins))
        elif isinstance(op, Subtract):
            stack += [(ins[1], (_NEG,) + chain), (ins[0], chain)]
        elif isinstance(op, Negative):
            stack.append((ins[0], (_NEG,) + chain))
        elif isinstance(op, Multiply):
            a, b = ins
            if has.get(a) and has.get(b):  # a product of two terms is not linear in either
                rest.append((v, chain))
            else:
                first = bool(has.get(a))
                stack.append((a if first else b, (("mul", b if first else a, first),) + chain))
        elif isinstance(op, Divide):
            stack.append((ins[0], (("div", ins[1]),) + chain))
        else:  # sum_to, expand_dims, broadcast: an op of one data input
            stack.append((ins[0], (("op", op, ins[1:]),) + chain))
    return terms, rest


def _carry(t: Variable, chain: tuple) -> Variable:
    """``t`` under ``chain``'s steps, innermost first: the term rebuilt on t."""
    for step in chain:
        kind = step[0]
        if kind == "neg":
            t = Negative()(t)
        elif kind == "mul":
            t = Multiply()(t, step[1]) if step[2] else Multiply()(step[1], t)
        elif kind == "div":
            t = Divide()(t, step[1])
        else:
            t = step[1](t, *step[2])
    return t


def _total(parts: list[Variable]) -> Variable | None:
    return None if not parts else parts[0] if len(parts) == 1 else AddN()(*parts)


def _rest(rest: list) -> Variable | None:
    return _total([_carry(v, chain) for v, chain in rest])


def _elementwise_chain(chain: tuple) -> bool:
    return all(step[0] != "op" or isinstance(step[1], _ELEMENTWISE) for step in chain)


# -- the positive values ------------------------------------------------------------------------------


def _sigmoid_kind(d: Variable, x: Variable) -> str | None:
    """``"y"`` when d is sigmoid(x), ``"1-y"`` when d is 1 - sigmoid(x) (or 1 + (-sigmoid x),
    which log1p(-sigmoid x)'s bprop divides by), else None."""
    if _owner_is(d, Sigmoid):
        return "y" if d.owner.inputs[0] is x else None
    if _owner_is(d, Subtract):
        one, y = d.owner.inputs
        return "1-y" if is_constant_value(one, 1) and _is_sigmoid_of(y, x, d) else None
    if _owner_is(d, Add):
        for one, other in (d.owner.inputs, d.owner.inputs[::-1]):
            if is_constant_value(one, 1) and _owner_is(other, Negative) and _is_sigmoid_of(other.inputs[0], x, d):
                return "1-y"
    return None


def _is_sigmoid_of(y: Variable, x: Variable, d: Variable) -> bool:
    return _owner_is(y, Sigmoid) and y.owner.inputs[0] is x and y.shape == d.shape


def _exp_sum(d: Variable, e: Variable | None = None) -> Variable | None:
    """d when it is a sum (over any axes) of an exp's value (``e``, when given)."""
    if _owner_is(d, Sum) and _owner_is(d.owner.inputs[0], Exp) and (e is None or d.owner.inputs[0] is e):
        return d
    return None


def _like(M: Variable, v: Variable) -> Variable:
    """M broadcast like v where M might be smaller (a numerator that a division broadcast);
    M itself where its shape is v's, known or read at run time from the same node (a
    gradient summed back like log(s) has s's shape whatever the batch)."""
    if M.shape == v.shape and (is_fully_known(v.shape) or _same_run_time_shape(M, v)):
        return M
    return broadcast_like(M, v)


def _shape_root(v: Variable) -> Variable:
    """The node v takes its run-time shape from, through ops of one input that keep it."""
    while v.owner is not None and len(v.owner.inputs) == 1 and v.shape == v.owner.inputs[0].shape:
        if not (v.owner.op.elementwise or isinstance(v.owner.op, (Softmax, LogSoftmax))):
            break
        v = v.owner.inputs[0]
    return v


def _same_run_time_shape(M: Variable, v: Variable) -> bool:
    """M is summed or broadcast like a node of v's run-time shape."""
    if not _owner_is(M, (SumToLike, BroadcastLike)):
        return False
    return _shape_root(M.owner.inputs[1]) is _shape_root(v)


def _stable_softmax(S: Variable) -> Variable:
    """exp(x - logsumexp(x)) over the sum S = sum(exp x)'s axes, broadcast like x: the
    logsumexp is the one the stabilize pass writes for log(S), so the two merge."""
    op, x = S.owner.op, S.owner.inputs[0].owner.inputs[0]
    lse = LogSumExp(op.axes, op.keepdims)(x)
    return Exp()(x - op.expand(lse))


# -- first derivatives: quotients ------------------------------------------------------------------------


def softmax_quotients(v: Variable, s: Variable, G: Variable) -> Variable | None:
    """``softmax_grad(s, N / s + R) -> log_softmax_grad(log_softmax x, N) + softmax_grad(s, R)``
    for s = softmax x: softmax's bprop of log's ``N / s`` is log_softmax's gradient
    ``N - softmax(x) * sum(N)``, with no division by a softmax that may have underflowed
    to 0; as one log_softmax_grad node, it meets the cross-entropy rules of the
    simplify pass, and its log_softmax merges with the stabilized value's.

    Example:
        >>> import graphcomp as gc
        >>> x, N = gc.Variable("x", (3,)), gc.Variable("N", (3,))
        >>> s = gc.softmax(x)
        >>> v = SoftmaxGrad(0)(s, N / s)
        >>> softmax_quotients(v, *v.owner.inputs).owner.op.name
        'log_softmax_grad'
    """
    if not _owner_is(s, Softmax):
        return None
    found = _split(
        G, lambda d: True if _owner_is(d, Divide) and d.owner.inputs[1] is s else None, _ELEMENTWISE, _BROADCASTS
    )
    if found is None:
        return None
    terms, rest = found
    kept = [(t, chain) for t, _, chain in terms if _elementwise_chain(chain)]
    if not kept:
        return None
    rest += [(t, chain) for t, _, chain in terms if not _elementwise_chain(chain)]
    axis = v.owner.op.axis
    M = _like(_total([_carry(t.owner.inputs[0], chain) for t, chain in kept]), s)
    closed = LogSoftmaxGrad(axis)(LogSoftmax(axis)(s.owner.inputs[0]), M)
    R = _rest(rest)
    return closed if R is None else closed + SoftmaxGrad(axis)(s, _like(R, s))


def sigmoid_quotients(v: Variable, x: Variable, G: Variable) -> Variable | None:
    """``sigmoid_grad(x, N / sigmoid x) -> N * sigmoid(-x)`` and
    ``sigmoid_grad(x, N / (1 - sigmoid x)) -> N * sigmoid(x)`` (the rest keeps sigmoid_grad).

    Example:
        >>> import graphcomp as gc
        >>> x, N = gc.Variable("x", (3,)), gc.Variable("N", (3,))
        >>> v = SigmoidGrad()(x, N / gc.sigmoid(x))
        >>> sigmoid_quotients(v, *v.owner.inputs).owner.op.name
        'multiply'
    """
    found = _split(
        G, lambda d: _sigmoid_kind(d.owner.inputs[1], x) if _owner_is(d, Divide) else None, _ELEMENTWISE, _BROADCASTS
    )
    if found is None:
        return None
    terms, rest = found
    parts = []
    for kind in ("y", "1-y"):
        chosen = [(t, chain) for t, k, chain in terms if k == kind]
        if chosen:
            M = _total([_carry(t.owner.inputs[0], chain) for t, chain in chosen])
            parts.append(M * Sigmoid()(Negative()(x) if kind == "y" else x))
    R = _rest(rest)
    return _total(parts + ([] if R is None else [SigmoidGrad()(x, R)]))


def exp_sum_quotients(v: Variable, a: Variable, b: Variable) -> Variable | None:
    """``exp(x) * broadcast(N / sum(exp x)) -> broadcast(N) * exp(x - logsumexp(x))``
    (log(sum(exp x))'s gradient through the sum and the exp; the rest keeps the product).

    Example:
        >>> import graphcomp as gc
        >>> x, N = gc.Variable("x", (3,)), gc.Variable("N")
        >>> e = gc.exp(x)
        >>> v = gc.broadcast_to(N / gc.sum(e), (3,)) * e
        >>> exp_sum_quotients(v, *v.owner.inputs).owner.op.name
        'multiply'
    """
    for e, G in ((a, b), (b, a)):
        if _owner_is(e, Exp) and G.owner is not None:
            found = _split(G, lambda d, e=e: _sum_quotient(d, e), _ELEMENTWISE + _PUT_BACK)
            if found is not None:
                return _exp_closed_form(e, *found)
    return None


def _sum_quotient(d: Variable, e: Variable) -> Variable | None:
    if _owner_is(d, Divide):
        return _exp_sum(d.owner.inputs[1], e)
    return None


def _exp_closed_form(e: Variable, terms: list, rest: list) -> Variable | None:
    by_sum: dict = {}
    for t, S, chain in terms:
        if _puts_back(S, chain):
            by_sum.setdefault(S, []).append((t, chain))
        else:
            rest.append((t, chain))
    if not by_sum:
        return None
    parts = [_total([_carry(t.owner.inputs[0], chain) for t, chain in found]) * _stable_softmax(S)
             for S, found in by_sum.items()]  # fmt: skip
    R = _rest(rest)
    return _total(parts + ([] if R is None else [R * e]))


def _puts_back(S: Variable, chain: tuple) -> bool:
    """Whether ``chain`` (innermost first) is elementwise steps, then the sum's own axes
    put back (``expand_dims``, then a broadcast to the exp's shape, either optional
    where it changes nothing), then elementwise steps: so that dividing by S inside is
    dividing by S put back at each element, where exp(x) / S is a softmax."""
    op, e = S.owner.op, S.owner.inputs[0]
    if all(d == 1 for d in S.shape):  # one sum (0-d, or kept dims of size 1): every element divides by it
        return True
    steps = [(k, step) for k, step in enumerate(chain) if step[0] == "op" and isinstance(step[1], _PUT_BACK)]
    if not steps:
        return op.keepdims or not op.axes
    first, last = steps[0][0], steps[-1][0]
    if last - first + 1 != len(steps):
        return False
    ops = [step[1] for _, step in steps]
    if isinstance(ops[0], ExpandDims):
        if op.keepdims or tuple(ops[0].axes) != tuple(op.axes):
            return False
        ops = ops[1:]
    elif not op.keepdims and op.axes:
        return False
    if len(ops) > 1:
        return False
    if ops:
        b = ops[0]
        extra = chain[last][2]
        return b.shape == e.shape if isinstance(b, BroadcastTo) else extra[0].shape == e.shape
    return True


# -- second derivatives: factors of the denominator ----------------------------------------------------------


def _factors(Y: Variable, d: Variable, divided: Callable) -> Variable | None:
    """``Y / d`` with every term of Y that has a factor of d (``divided(node)``: a function
    building that factor divided by d, or None) written without the division."""
    found = _split(Y, divided, _FACTOR, _RESHAPING)
    if found is None:
        return None
    terms, rest = found
    parts = [_carry(build(), chain) for _, build, chain in terms]
    R = _rest(rest)
    return _total(parts + ([] if R is None else [Divide()(R, d)]))


def softmax_factors(v: Variable, Y: Variable, d: Variable) -> Variable | None:
    """``softmax_grad(s, H) * k / s -> (H - sum(H * s)) * k``.

    Example:
        >>> import graphcomp as gc
        >>> s, H = gc.softmax(gc.Variable("x", (3,))), gc.Variable("H", (3,))
        >>> softmax_factors(None, SoftmaxGrad(0)(s, H), s).owner.op.name
        'subtract'
    """
    if not _owner_is(d, Softmax):
        return None

    def divided(F):
        if not (_owner_is(F, SoftmaxGrad) and F.owner.inputs[0] is d):
            return None
        H, axis = F.owner.inputs[1], (F.owner.op.axis,)
        return lambda: H - Sum(axis, keepdims=True)(H * d)

    return _factors(Y, d, divided)


def sigmoid_factors(v: Variable, Y: Variable, d: Variable) -> Variable | None:
    """``sigmoid_grad(x, H) * k / sigmoid(x) -> H * sigmoid(-x) * k`` (by 1 - sigmoid x:
    ``H * sigmoid(x) * k``).

    Example:
        >>> import graphcomp as gc
        >>> x, H = gc.Variable("x", (3,)), gc.Variable("H", (3,))
        >>> sigmoid_factors(None, SigmoidGrad()(x, H), gc.sigmoid(x)).owner.op.name
        'multiply'
    """

    if not _positive(d) or _owner_is(d, (Softmax, Sum)):
        return None  # not a sigmoid or 1 - sigmoid: nothing to look for (most divisions)

    def divided(F):
        if not _owner_is(F, SigmoidGrad):
            return None
        x, H = F.owner.inputs
        kind = _sigmoid_kind(d, x)
        if kind is None:
            return None
        return lambda: H * Sigmoid()(Negative()(x) if kind == "y" else x)

    return _factors(Y, d, divided)


def exp_sum_factors(v: Variable, Y: Variable, d: Variable) -> Variable | None:
    """``sum(H * exp x) * k / sum(exp x) -> sum(H * exp(x - logsumexp x)) * k``, the sum
    as a bprop writes it too (sum_to, then the reduced axes squeezed).

    Example:
        >>> import graphcomp as gc
        >>> x, H = gc.Variable("x", (3,)), gc.Variable("H", (3,))
        >>> e = gc.exp(x)
        >>> exp_sum_factors(None, gc.sum(H * e), gc.sum(e)).owner.op.name
        'sum'
    """
    S = _exp_sum(d)
    if S is None:
        return None
    return _factors(Y, d, lambda F: _summed_over(F, S))


def _summed_over(F: Variable, S: Variable) -> Callable | None:
    """A builder of F / S when F is a sum of ``k * e`` over exactly S's axes (e = S's exp),
    as ``sum`` writes it or as bprops do (``sum_to``, then the reduced axes squeezed, with
    shape-keeping sums and broadcasts of unknown shapes around): the same sum of ``k * w``,
    w = exp(x - logsumexp x)."""
    e, op = S.owner.inputs[0], S.owner.op
    above, t = [], F  # the steps from the sum up to F, outermost first
    while _owner_is(t, (Squeeze, Reshape)) and len(above) < 4:
        above.append(t)
        t = t.owner.inputs[0]
    if not _owner_is(t, (Sum, SumTo, SumToLike)):
        return None
    total, below, u = t, [], t.owner.inputs[0]  # below: shape-keeping steps down to the product
    while _owner_is(u, _RESHAPING) and u.owner.inputs[0].shape == u.shape and len(below) < 4:
        below.append(u)
        u = u.owner.inputs[0]
    if not (_owner_is(u, Multiply) and e in u.owner.inputs and u.shape == e.shape and F.shape == S.shape):
        return None
    if isinstance(total.owner.op, Sum):
        axes, lead = tuple(total.owner.op.axes), 0
    else:
        target = total.owner.op.shape if isinstance(total.owner.op, SumTo) else total.owner.inputs[1].shape
        axes, lead = sum_to_axes(e.shape, target)
    if lead or axes != tuple(op.axes):
        return None
    k_first = u.owner.inputs[1] is e
    k = u.owner.inputs[0] if k_first else u.owner.inputs[1]

    def build():
        w = _stable_softmax(S)
        out = Multiply()(k, w) if k_first else Multiply()(w, k)
        for step in [*reversed(below), total, *reversed(above)]:
            out = step.owner.op(out, *step.owner.inputs[1:])
        return out

    return build


def quotient_times_denominator(v: Variable, a: Variable, b: Variable) -> Variable | None:
    """``(N / d) * d -> N`` for d a positive op value (softmax, sigmoid, 1 - sigmoid, a
    sum of exps): the product a bprop writes when it multiplies its incoming gradient
    by its own value.

    Example:
        >>> import graphcomp as gc
        >>> s, N = gc.softmax(gc.Variable("x", (3,))), gc.Variable("N", (3,))
        >>> v = (N / s) * s
        >>> quotient_times_denominator(v, *v.owner.inputs) is N
        True
    """
    for q, d in ((a, b), (b, a)):
        if _owner_is(q, Divide) and q.owner.inputs[1] is d and _positive(d):
            N = q.owner.inputs[0]  # shaped like the product: a gradient of d's consumer
            return N if N.shape == v.shape else broadcast_like(N, d) if d.shape == v.shape else None
    return None


def _positive(d: Variable) -> bool:
    if _owner_is(d, (Softmax, Sigmoid)):
        return True
    if _exp_sum(d) is not None:
        return True
    if _owner_is(d, (Subtract, Add)):
        ins = d.owner.inputs
        for y in ins:
            inner = y.inputs[0] if _owner_is(y, Negative) else y
            if _owner_is(inner, Sigmoid) and _sigmoid_kind(d, inner.owner.inputs[0]) == "1-y":
                return True
    return False
