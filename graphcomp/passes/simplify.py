"""Algebraic simplification: one table of local rules, run in one topological
sweep (each rule sees inputs already simplified, so chains collapse at once).

A rule fires only when its result has exactly the node's shape and dtype, so
nothing is silently broadcast or cast: statically, and at run time too where
a dimension is unknown (rules marked exact keep the runtime shape by
construction; the others need fully known shapes). ``x * 0 -> 0`` and
``where(c, x, 0) -> x * c`` assume x is finite (as every compiler that does
them): they turn a NaN or Inf in x into 0, or the other way round. Both are
off under ``check_finite``.
"""

from __future__ import annotations

import threading

import numpy as np

from graphcomp.core.node import Variable, _stacks, constant
from graphcomp.core.types import is_fully_known
from graphcomp.passes.rebuild import rebuilt, transform

name = "simplify"


class _Fired(threading.local):
    def __init__(self):
        self.list: list[tuple[str, Variable, Variable]] = []


_fired = _Fired()


def fired() -> list[tuple[str, Variable, Variable]]:
    """Every firing of this thread's last simplify run (and the stabilize run after
    it): ``(rule name, node before, node after)``, for notebooks. Also readable as
    ``simplify.FIRED``.

    Example:
        >>> import graphcomp as gc
        >>> _ = run([gc.Variable("x") * 1.0])
        >>> [r for r, *_ in fired()]
        ['x*1 -> x']
    """
    return _fired.list


def __getattr__(name: str):
    if name == "FIRED":  # per thread: compiling in several threads at once keeps each one's record
        return _fired.list
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _const(v: Variable, value: float) -> bool:
    return v.kind == "constant" and v.value.size > 0 and bool(np.all(v.value == value))


def _same(v: Variable, r: Variable | None, exact: bool = False) -> Variable | None:
    if r is None or r.shape != v.shape or r.dtype != v.dtype:
        return None
    return r if exact or is_fully_known(v.shape) else None


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
    from graphcomp.api import ones_like, zeros_like

    return (ones_like if value else zeros_like)(v) if is_fully_known(v.shape) else None


def _compose_transpose(v, a):
    inner = a.owner.op.axes
    perm = tuple(inner[k] for k in v.owner.op.axes)
    x = a.inputs[0]
    if perm == tuple(range(len(perm))):
        return x
    from graphcomp.ops.shape import Transpose

    return Transpose(perm)(x)


def _reshape_chain(v, a):
    from graphcomp.ops.shape import Reshape

    return Reshape(v.owner.op.shape)(a.inputs[0])


_BINARY = ("add", "subtract", "multiply", "divide", "power", "maximum", "minimum")
_BROADCASTS = ("broadcast_to", "broadcast_like")


def _unbroadcast(v, x, y):
    """``f(broadcast(a), y) -> f(a, y)`` when ``y`` alone already gives the result its shape."""
    from graphcomp.core.types import broadcast_shapes

    for k, (a, other) in enumerate(((x, y), (y, x))):
        if a.kind == "constant":  # constant folding materialises broadcasts: undo that
            inner, like = _uniform_scalar(a), False
            if inner is None:
                continue
        elif a.owner is None or a.owner.op.name not in _BROADCASTS:
            continue
        else:
            inner = a.owner.inputs[0]
            like = a.owner.op.name == "broadcast_like" and a.owner.inputs[1] is other
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
    from graphcomp.ops.binary import Multiply

    if _const(b, 0) and b.ndim == 0 and a.dtype.kind == "f" and cond.dtype == np.bool_:
        return Multiply()(a, cond)
    return None


def _scaled(c: np.ndarray, t: Variable) -> Variable:
    """``c * t``, with c multiplied into t's own constant factor if it has one (or into
    t itself when t is a constant: folding has run already)."""
    from graphcomp.ops.binary import Multiply

    if t.kind == "constant":
        return constant(np.multiply(c, t.value))
    c = constant(c)
    folded = _scale_of_scale(None, c, t)
    return Multiply()(c, t) if folded is None else folded


def _repeated_terms(v, *terms):
    from graphcomp.ops.binary import AddN

    counts: dict = {}
    for t in terms:
        counts[t] = counts.get(t, 0) + 1
    if len(counts) == len(terms):
        return None
    merged = [t if n == 1 else _scaled(np.array(n, dtype=t.dtype), t) for t, n in counts.items()]
    return merged[0] if len(merged) == 1 else AddN()(*merged)


def _two_terms(v, *terms):
    """A sum of two is a plain add: a ufunc, whose result can reuse a dying buffer."""
    from graphcomp.ops.binary import Add

    return Add()(*terms) if len(terms) == 2 else None


def _scalar_const(v: Variable) -> bool:
    # size 1: the product's shape is the broadcast of all three shapes, grouped either way
    return v.kind == "constant" and v.value.size == 1


def _split_const(x, y):
    """``(c, other)`` for the pair's one-element constant c, or ``(None, None)``."""
    return (x, y) if _scalar_const(x) else (y, x) if _scalar_const(y) else (None, None)


def _scale_of_scale(v, x, y):
    from graphcomp.ops.binary import Multiply

    c, inner = _split_const(x, y)
    if c is None or inner.owner is None or inner.owner.op.name != "multiply":
        return None
    d, rest = _split_const(*inner.owner.inputs)
    if d is None:
        return None
    return Multiply()(constant(np.multiply(c.value, d.value)), rest)


def _negated_scale(v, *args):
    """``-(c*x) -> (-c)*x`` and ``c*(-x) -> (-c)*x`` for a one-element constant c."""
    from graphcomp.ops.binary import Multiply

    if v.owner.op.name == "negative":
        (a,) = args
        if a.owner is None or a.owner.op.name != "multiply":
            return None
        c, rest = _split_const(*a.owner.inputs)
    else:
        c, neg = _split_const(*args)
        rest = neg.owner.inputs[0] if neg is not None and neg.owner and neg.owner.op.name == "negative" else None
    if c is None or rest is None:
        return None
    return Multiply()(constant(np.negative(c.value)), rest)


# name -> (op name(s), rule(v, inputs) -> replacement or None[, exact]); exact rules keep
# the runtime shape by construction, so they also fire where dimensions are unknown
RULES = {
    "x*1 -> x": ("multiply", lambda v, x, y: _either_identity(v, x, y, 1), True),
    "x*0 -> 0": ("multiply", lambda v, x, y: _filled(v, 0) if _const(x, 0) or _const(y, 0) else None),
    "x+0 -> x": ("add", lambda v, x, y: _either_identity(v, x, y, 0), True),
    "x-0 -> x": ("subtract", lambda v, x, y: _identity(v, x, y, 0), True),
    "x/1 -> x": ("divide", lambda v, x, y: _identity(v, x, y, 1), True),
    "x**1 -> x": ("power", lambda v, x, y: _identity(v, x, y, 1), True),
    "x**0 -> 1": ("power", lambda v, x, y: _filled(v, 1) if _const(y, 0) else None),
    "neg(neg x) -> x": ("negative", lambda v, a: a.inputs[0] if a.owner and a.owner.op.name == "negative" else None),
    "transpose(transpose x) -> transpose x": (
        "transpose",
        lambda v, a: _compose_transpose(v, a) if a.owner and a.owner.op.name == "transpose" else None,
    ),
    "reshape(reshape x) -> reshape x": (
        "reshape",
        lambda v, a: _reshape_chain(v, a) if a.owner and a.owner.op.name == "reshape" else None,
    ),
    "reshape x to its shape -> x": ("reshape", lambda v, a: a),
    "sum_to x to its shape -> x": ("sum_to", lambda v, a: a),
    "broadcast_to x to its shape -> x": ("broadcast_to", lambda v, a: a),
    "cast x to its dtype -> x": ("cast", lambda v, a: a),
    "add_n of one term -> the term": ("add_n", lambda v, *terms: terms[0] if len(terms) == 1 else None),
    "add_n(a, b, b) -> add_n(a, 2*b)": ("add_n", _repeated_terms, True),
    "add_n(a, b) -> a + b": ("add_n", _two_terms, True),
    "f(broadcast x, y) -> f(x, y)": (_BINARY, _unbroadcast, True),  # also a folded broadcast (uniform constant)
    "c*(d*x) -> (c*d)*x": ("multiply", _scale_of_scale, True),
    "where(c, x, 0) -> x*c": ("where", _mask_multiply, True),
    "-(c*x) -> (-c)*x": (("negative", "multiply"), _negated_scale, True),
}
_BY_OP: dict[str, list] = {}
_BINARY_SET = frozenset(_BINARY)


def _may_fire(node: Variable) -> bool:
    """False for a binary node none of whose inputs is a constant or a broadcast: every
    binary rule needs one (a test holds each rule to this), and most nodes of a
    gradient graph are such products and sums, so their rules are not even tried."""
    if node.owner.op.name not in _BINARY_SET:
        return True
    for i in node.owner.inputs:
        owner = i.owner
        if owner is None and i.kind == "constant" or owner is not None and owner.op.name in _BROADCASTS:
            return True
    return False


for _rule, (_ops, _fn, *_exact) in RULES.items():
    for _op in (_ops,) if isinstance(_ops, str) else _ops:
        _BY_OP.setdefault(_op, []).append((_rule, _fn, bool(_exact)))


def run(outputs: list[Variable]) -> list[Variable]:
    """Return outputs with the rule table applied everywhere (FIRED restarts here;
    the stabilize pass that runs after adds its own firings).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> (y,) = run([-(-(x * 1.0)) + 0.0])
        >>> y is x, [r for r, *_ in fired()]
        (True, ['x*1 -> x', 'neg(neg x) -> x', 'x+0 -> x'])
    """
    return transform(outputs, *sweep())


def sweep():
    """This pass as ``(visit, visit_leaf)`` for ``transform``; the record of fired rules restarts.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.passes.rebuild import transform
        >>> x = gc.Variable("x")
        >>> transform([x * 1.0], *sweep())[0] is x
        True
    """
    _fired.list.clear()
    return (lambda v, inputs: _rewrite(v, rebuilt(v, inputs))), None


def _rewrite(v: Variable, node: Variable) -> Variable:
    """Apply rules until none fires: a rule's result may match another rule.
    Nodes a rule builds keep v's site and gradient role (built_as, spelled out:
    this runs for most nodes)."""
    if node.owner is None or node.owner.op.name not in _BY_OP or not _may_fire(node):
        return node
    stacks = _stacks
    stacks.site.append(v.site)
    stacks.grad_of.append(v.grad_of)
    try:
        for k in range(8):  # each firing removes a node, so a few rounds suffice
            if node.owner is None or k and not _may_fire(node):  # round 0 was asked before the push
                return node
            for rule, fn, exact in _BY_OP.get(node.owner.op.name, ()):
                replacement = _same(v, fn(node, *node.owner.inputs), exact)
                if replacement is not None and replacement is not node:
                    _fired.list.append((rule, v, replacement))
                    node = replacement
                    break
            else:
                return node
        return node
    finally:
        stacks.grad_of.pop()
        stacks.site.pop()
