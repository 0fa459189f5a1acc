"""Algebraic simplification: one table of local rules (``graphcomp.passes.rules``),
run in one topological sweep (each rule sees inputs already simplified, so
chains collapse at once).

``x * 0 -> 0`` and ``where(c, x, 0) -> x * c`` assume x is finite (as every
compiler that does them): they turn a NaN or Inf in x into 0, or the other
way round. Both are off under ``check_finite``. The second fires only on
gradient nodes (relu's gradient as the lectures write it, where it is 3-4x
faster than a select): a ``where`` the user wrote, or forward mode built, is
a guard (``where(x > 0, sqrt(x), 0)``) and keeps its meaning.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.types import broadcast_shapes, is_fully_known
from graphcomp.ops.binary import Add, AddN, Divide, Multiply, Power, Subtract
from graphcomp.ops.creation import ones_like, zeros_like
from graphcomp.ops.elementwise import Negative
from graphcomp.ops.identity import Cast
from graphcomp.ops.linalg import MatMul
from graphcomp.ops.reduce import Sum
from graphcomp.ops.select import Maximum, Minimum, Where
from graphcomp.ops.shape import BroadcastLike, BroadcastTo, ExpandDims, Reshape, SumTo, SumToLike, Transpose
from graphcomp.ops.softmax import (
    CrossEntropyGrad,
    CrossEntropyPickGrad,
    LogSoftmaxGrad,
    Softmax,
    SoftmaxCrossEntropyGrad,
)
from graphcomp.passes.rebuild import rebuilt, transform
from graphcomp.passes.rules import Rule, RuleTable, is_constant_value

name = "simplify"

__all__ = ["name", "run", "sweep", "RULES", "TABLE", "BINARY", "scalar_root"]

_const = is_constant_value


def _identity(v: Variable, x: Variable, c: Variable, value: float) -> Variable | None:
    """``x`` when ``c`` is the constant ``value`` and ``x`` alone gives the result's
    shape: statically, or at run time too when ``c`` is 0-d (it cannot broadcast x)."""
    if not _const(c, value) or x.shape != v.shape:
        return None
    return x if c.ndim == 0 or is_fully_known(v.shape) else None


def _either_identity(v: Variable, x: Variable, y: Variable, value: float) -> Variable | None:
    r = _identity(v, x, y, value)
    return r if r is not None else _identity(v, y, x, value)


def _filled(v: Variable, value: int) -> Variable | None:
    """Zeros or ones of ``v``'s shape and dtype, when that shape is known (a constant)."""
    return (ones_like if value else zeros_like)(v) if is_fully_known(v.shape) else None


def _compose_transpose(v, a):
    inner = a.owner.op.axes
    perm = tuple(inner[k] for k in v.owner.op.axes)
    x = a.inputs[0]
    if perm == tuple(range(len(perm))):
        return x
    return Transpose(perm)(x)


def _reshape_chain(v, a):
    return Reshape(v.owner.op.shape)(a.inputs[0])


#: the binary elementwise ops: every rule for them needs a constant or a broadcast input
BINARY = (Add, Subtract, Multiply, Divide, Power, Maximum, Minimum)
_BROADCASTS = (BroadcastTo, BroadcastLike)


def _unbroadcast(v, x, y):
    """``f(broadcast(a), y) -> f(a, y)`` when ``y`` alone already gives the result its shape."""
    for k, (a, other) in enumerate(((x, y), (y, x))):
        if a.kind == "constant":  # constant folding materialises broadcasts: undo that
            inner, like = _uniform_scalar(a), False
            if inner is None:
                continue
        elif a.owner is None or not isinstance(a.owner.op, _BROADCASTS):
            continue
        else:
            inner = a.owner.inputs[0]
            like = isinstance(a.owner.op, BroadcastLike) and a.owner.inputs[1] is other
        if like or (is_fully_known(v.shape) and broadcast_shapes(inner.shape, other.shape) == v.shape):
            args = (inner, other) if k == 0 else (other, inner)
            return v.owner.op(*args)
    return None


def _uniform_scalar(c: Variable) -> Variable | None:
    """The 0-d constant whose broadcast ``c`` is, for a constant array of one repeated value."""
    a = c.value
    if a.size <= 1 or a.flat[-1] != a.flat[0] or not (a == a.flat[0]).all():  # most arrays differ at once
        return None
    return constant(a.flat[0], dtype=a.dtype)


def _mask_multiply(v, cond, a, b):
    if v.role != "grad":  # a guard the user wrote: x may be NaN or Inf where c is False
        return None
    if _const(b, 0) and b.ndim == 0 and a.dtype.kind == "f" and cond.dtype == np.bool_:
        return Multiply()(a, cond)
    return None


def _scaled(c: np.ndarray, t: Variable) -> Variable:
    """``c * t``, with c multiplied into t's own constant factor if it has one (or into
    t itself when t is a constant: folding has run already)."""
    if t.kind == "constant":
        return constant(np.multiply(c, t.value))
    c = constant(c)
    folded = _scale_of_scale(None, c, t)
    return Multiply()(c, t) if folded is None else folded


def _repeated_terms(v, *terms):
    counts: dict = {}
    for t in terms:
        counts[t] = counts.get(t, 0) + 1
    if len(counts) == len(terms):
        return None
    merged = [t if n == 1 else _scaled(np.array(n, dtype=t.dtype), t) for t, n in counts.items()]
    return merged[0] if len(merged) == 1 else AddN()(*merged)


def _two_terms(v, *terms):
    """A sum of two is a plain add: a ufunc, whose result can reuse a dying buffer."""
    return Add()(*terms) if len(terms) == 2 else None


def _scalar_const(v: Variable) -> bool:
    # size 1: the product's shape is the broadcast of all three shapes, grouped either way
    return v.kind == "constant" and v.value.size == 1


def _split_const(x, y):
    """``(c, other)`` for the pair's one-element constant c, or ``(None, None)``."""
    return (x, y) if _scalar_const(x) else (y, x) if _scalar_const(y) else (None, None)


def _scale_of_scale(v, x, y):
    c, inner = _split_const(x, y)
    if c is None or inner.owner is None or not isinstance(inner.owner.op, Multiply):
        return None
    d, rest = _split_const(*inner.owner.inputs)
    if d is None:
        return None
    return Multiply()(constant(np.multiply(c.value, d.value)), rest)


def _negated_scale(v, *args):
    """``-(c*x) -> (-c)*x`` and ``c*(-x) -> (-c)*x`` for a one-element constant c."""
    if isinstance(v.owner.op, Negative):
        (a,) = args
        if a.owner is None or not isinstance(a.owner.op, Multiply):
            return None
        c, rest = _split_const(*a.owner.inputs)
    else:
        c, neg = _split_const(*args)
        rest = neg.owner.inputs[0] if neg is not None and _is(neg, Negative) else None
    if c is None or rest is None:
        return None
    return Multiply()(constant(np.negative(c.value)), rest)


def _is(v: Variable, op_class: type) -> bool:
    return v.owner is not None and isinstance(v.owner.op, op_class)


def _cross_entropy_closed_form(v, lsm, G):
    """``log_softmax_grad(lsm, s * cross_entropy_pick_grad(lsm, y)) -> s * cross_entropy_grad(lsm, y)``:
    through log_softmax, cross-entropy's gradient -one_hot/B becomes the lectures'
    (softmax - one_hot)/B, computed in one pass as a person writes it."""
    if _is(G, CrossEntropyPickGrad) and G.owner.inputs[0] is lsm:  # the scale 1 already simplified away
        return CrossEntropyGrad()(lsm, G.owner.inputs[1])
    if not _is(G, Multiply):
        return None
    for scale, pick in (G.owner.inputs, G.owner.inputs[::-1]):
        if _is(pick, CrossEntropyPickGrad) and pick.owner.inputs[0] is lsm and scale.shape == ():
            return scale * CrossEntropyGrad()(lsm, pick.owner.inputs[1])
    return None


def _equal(a: Variable, b: Variable) -> bool:
    """``a`` and ``b`` compute the same value: the same node, or equal ops on the same
    inputs (a rule's new node before the second merge has joined it to its twin)."""
    if a is b:
        return True
    oa, ob = a.owner, b.owner
    return (
        oa is not None
        and ob is not None
        and oa.op == ob.op
        and len(oa.inputs) == len(ob.inputs)
        and all(p is q for p, q in zip(oa.inputs, ob.inputs))
    )


#: ops that keep a uniform value uniform: a broadcast of a 0-d value stays one through them
_UNIFORM_CHAIN = (ExpandDims, BroadcastTo, BroadcastLike, Reshape)


def scalar_root(x: Variable) -> Variable | None:
    """The 0-d value whose broadcast ``x`` is (through expand_dims, broadcasts and
    reshapes: the gradient of a mean or a sum), ``x`` itself when 0-d, a one-element
    constant as a 0-d one, else None.

    Example:
        >>> import graphcomp as gc
        >>> s, r = gc.Variable("s"), gc.Variable("r", (None, 3))
        >>> b = gc.broadcast_to(gc.expand_dims(s, 0), (4,))
        >>> scalar_root(b) is s, scalar_root(r)
        (True, None)
    """
    while x.ndim and x.owner is not None and isinstance(x.owner.op, _UNIFORM_CHAIN):
        x = x.owner.inputs[0]
    if x.ndim and x.kind == "constant" and x.value.size == 1:  # folding made the first steps a constant
        return constant(x.value.reshape(()))
    return x if x.ndim == 0 else None


def _broadcast_of_scalar(v, x, *ref):
    """``broadcast(broadcasts of a 0-d s) -> broadcast(s)``: the same uniform value of
    the same shape (the outer broadcast's target) without the intermediate views."""
    s = scalar_root(x)
    return None if s is None or s is x else v.owner.op(s, *ref)


def _scaled_targets(G: Variable, lsm: Variable) -> tuple[Variable, Variable] | None:
    """``(s, Y)`` with ``G = s * Y~`` for a 0-d ``s``, where Y~ is ``Y`` as the product
    ``Y * lsm`` broadcasts it, summed back to lsm's shape: the gradient a sum or mean of
    ``Y * lsm`` sends to ``lsm``. None for any other G, or where a shape is unknown
    that this depends on."""
    if _is(G, SumToLike) and _equal(G.owner.inputs[1], lsm) and _is(G.owner.inputs[0], Multiply):
        p, q = G.owner.inputs[0].owner.inputs
        for m, y in ((p, q), (q, p)):
            # m: a 0-d s broadcast to the product r = Y * lsm, so that m * Y is s * Y broadcast as r
            if _is(m, BroadcastLike) and m.owner.inputs[0].ndim == 0 and _is(m.owner.inputs[1], Multiply):
                r = m.owner.inputs[1].owner.inputs
                if any(f is y for f in r) and any(_equal(f, lsm) for f in r):
                    return m.owner.inputs[0], y
        return None
    # every shape known: the builders left out the broadcasts, so G is s * Y itself
    if _is(G, Multiply) and is_fully_known(lsm.shape):
        p, q = G.owner.inputs
        for m, y in ((p, q), (q, p)):
            s = scalar_root(m)
            if s is not None and y.shape == lsm.shape and m.shape in ((), lsm.shape):
                return s, y
    return None


def _negated(s: Variable) -> Variable:
    """-s, written as folding would leave it: a constant negated, ``-(-x)`` as x,
    ``c / x`` and ``c * x`` with the constant c negated."""
    if s.kind == "constant":
        return constant(np.negative(s.value))
    if _is(s, Negative):
        return s.owner.inputs[0]
    if _is(s, (Divide, Multiply)) and s.owner.inputs[0].kind == "constant":
        c, x = s.owner.inputs
        return s.owner.op(constant(np.negative(c.value)), x)
    return Negative()(s)


def _soft_target_closed_form(v, lsm, G):
    """``log_softmax_grad(lsm, s*Y) -> (-s) * softmax_cross_entropy_grad(lsm, Y)``: the
    gradient of ``-mean(sum(Y * log_softmax(z)))`` becomes the lectures' (softmax(z) - Y)/B
    for one-hot rows, and softmax(z) * sum(Y) - Y, scaled, for rows that sum to anything."""
    found = _scaled_targets(G, lsm)
    if found is None:
        return None
    s, y = found
    return _negated(s) * SoftmaxCrossEntropyGrad(v.owner.op.axis)(lsm, y)


def _dot(v, p):
    """``a @ b`` for the whole sum of a product of two float64 vectors of one known
    length (a gradient's ``sum_to(G * x)`` for a scalar weight): BLAS's dot reads a and b
    once, where the product and its sum are two passes and two NumPy calls. float32
    keeps the pairwise sum, which BLAS's single-precision dot does not match."""
    if not _is(p, Multiply) or v.shape != ():
        return None
    a, b = p.owner.inputs
    if a.ndim != 1 or a.shape != b.shape or not is_fully_known(a.shape) or not a.dtype == b.dtype == np.float64:
        return None
    return MatMul()(a, b)


RULES = [
    Rule("x*1 -> x", (Multiply,), lambda v, x, y: _either_identity(v, x, y, 1), True),
    Rule("x*0 -> 0", (Multiply,), lambda v, x, y: _filled(v, 0) if _const(x, 0) or _const(y, 0) else None),
    Rule("x+0 -> x", (Add,), lambda v, x, y: _either_identity(v, x, y, 0), True),
    Rule("x-0 -> x", (Subtract,), lambda v, x, y: _identity(v, x, y, 0), True),
    Rule("x/1 -> x", (Divide,), lambda v, x, y: _identity(v, x, y, 1), True),
    Rule("x**1 -> x", (Power,), lambda v, x, y: _identity(v, x, y, 1), True),
    Rule("x**0 -> 1", (Power,), lambda v, x, y: _filled(v, 1) if _const(y, 0) else None),
    Rule("neg(neg x) -> x", (Negative,), lambda v, a: a.inputs[0] if _is(a, Negative) else None, True),
    Rule(
        "transpose(transpose x) -> transpose x",
        (Transpose,),
        lambda v, a: _compose_transpose(v, a) if _is(a, Transpose) else None,
        True,
    ),
    Rule("reshape(reshape x) -> reshape x", (Reshape,),
         lambda v, a: _reshape_chain(v, a) if _is(a, Reshape) else None, True),
    Rule("reshape x to its shape -> x", (Reshape,), lambda v, a: a),
    Rule("sum_to x to its shape -> x", (SumTo,), lambda v, a: a),
    Rule("broadcast_to x to its shape -> x", (BroadcastTo,), lambda v, a: a),
    Rule("cast x to its dtype -> x", (Cast,), lambda v, a: a),
    Rule("add_n of one term -> the term", (AddN,), lambda v, *terms: terms[0] if len(terms) == 1 else None),
    Rule("add_n(a, b, b) -> add_n(a, 2*b)", (AddN,), _repeated_terms, True),
    Rule("add_n(a, b) -> a + b", (AddN,), _two_terms, True),
    Rule("f(broadcast x, y) -> f(x, y)", BINARY, _unbroadcast, True),  # also a folded broadcast (uniform constant)
    Rule("c*(d*x) -> (c*d)*x", (Multiply,), _scale_of_scale, True),
    Rule("where(c, x, 0) -> x*c", (Where,), _mask_multiply, True),
    Rule("-(c*x) -> (-c)*x", (Negative, Multiply), _negated_scale, True),
    Rule("log_softmax_grad(lsm, [s*]pick(lsm, y)) -> [s*]cross_entropy_grad(lsm, y)", (LogSoftmaxGrad,),
         _cross_entropy_closed_form, True),
    Rule("broadcast(broadcasts of a 0-d s) -> broadcast(s)", (BroadcastLike, BroadcastTo), _broadcast_of_scalar, True),
    Rule("log_softmax_grad(lsm, s*Y) -> (-s)*softmax_cross_entropy_grad(lsm, Y)", (LogSoftmaxGrad,),
         _soft_target_closed_form, True),
    Rule("sum(a*b) of vectors -> a @ b", (Sum, SumTo), _dot),
]  # fmt: skip


#: a binary node's rules need one of its inputs to be a constant or made by one of these
_MAY_FIRE_INPUTS = (BroadcastTo, BroadcastLike, Softmax)


def _may_fire(node: Variable) -> bool:
    """False for a binary node none of whose inputs is a constant, a broadcast or a
    softmax: every binary rule needs one (a test holds each rule to this), and most
    nodes of a gradient graph are such products and sums, so their rules are not even
    tried."""
    if not isinstance(node.owner.op, BINARY):
        return True
    for i in node.owner.inputs:
        owner = i.owner
        if owner is None and i.kind == "constant" or owner is not None and isinstance(owner.op, _MAY_FIRE_INPUTS):
            return True
    return False


TABLE = RuleTable(RULES, _may_fire)


def run(outputs: list[Variable], log: list | None = None) -> list[Variable]:
    """Return outputs with the rule table applied everywhere; each firing is appended
    to ``log`` as ``(rule name, node before, node after)``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> log = []
        >>> (y,) = run([-(-(x * 1.0)) + 0.0], log)
        >>> y is x, [r for r, *_ in log]
        (True, ['x*1 -> x', 'neg(neg x) -> x', 'x+0 -> x'])
    """
    return transform(outputs, *sweep([] if log is None else log))


def sweep(log: list):
    """This pass as ``(visit, visit_leaf)`` for ``transform``, its firings appended to ``log``.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> x = gc.Variable("x")
        >>> transform([x * 1.0], *sweep([]))[0] is x
        True
    """
    rewrite = TABLE.rewrite
    return (lambda v, inputs: rewrite(v, rebuilt(v, inputs), log)), None
