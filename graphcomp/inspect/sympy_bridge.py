"""To and from SymPy, for scalar and elementwise graphs: closed forms of
gradients, and graphs from formulas."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.errors import ArgumentError, GraphError

__all__ = ["to_sympy", "from_sympy", "SymPyConversionError"]


class SymPyConversionError(GraphError, ValueError):
    """A graph or expression has a part the SymPy bridge cannot carry across."""


def _number(value) -> sp.Expr:
    v = float(value)
    if v.is_integer() and abs(v) < 2**53:
        return sp.Integer(int(v))
    text = repr(v)
    # a short decimal is what the user typed: keep it exact (0.1 -> 1/10)
    return sp.Rational(text) if len(text) <= 8 and "e" not in text else sp.Float(v)


def _same_shape(v: Variable) -> bool:
    i = v.owner.inputs[0]
    return v.shape == i.shape or (len(v.shape) == 0 and len(i.shape) == 0)


_UNARY = {
    "negative": lambda a: -a,
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "sech2": lambda a: sp.sech(a) ** 2,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sign": sp.sign,
    "square": lambda a: a**2,
    "log1p": lambda a: sp.log(1 + a),
    "expm1": lambda a: sp.exp(a) - 1,
    "sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
    "softplus": lambda a: sp.log(1 + sp.exp(a)),
    "relu": lambda a: sp.Max(a, 0),
    "stop_gradient": lambda a: a,
}
_BINARY = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "power": lambda a, b: a**b,
    "maximum": sp.Max,
    "minimum": sp.Min,
    "less": sp.Lt,
    "less_equal": sp.Le,
    "greater": sp.Gt,
    "greater_equal": sp.Ge,
    "equal": sp.Eq,
    "not_equal": sp.Ne,
}
# shape plumbing that is the identity on an elementwise graph
_IDENTITY_IF_SAME_SHAPE = {"sum_to", "sum_to_like", "broadcast_to", "broadcast_like", "reshape", "reshape_like"}


def to_sympy(output: Variable, *, symbols: dict | None = None) -> sp.Expr:
    """The SymPy expression of a scalar or elementwise graph; inputs and
    Parameters become real symbols named after them.

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> gc.to_sympy(gc.grad(gc.exp(x * z), x))
        z*exp(x*z)
    """
    if not isinstance(output, Variable):
        raise ArgumentError(f"to_sympy: expects a Variable, got {output!r}")
    symbols = {} if symbols is None else symbols
    order = topological(ancestors([output]))
    _warn_if_huge(order, output)
    expr: dict[Variable, sp.Expr] = {}
    for v in order:
        expr[v] = _convert(v, expr, symbols)
    return expr[output]


#: written-out size (terms, counted as often as they appear) past which to_sympy warns
HUGE_TREE = 10**6


def _warn_if_huge(order: list[Variable], output: Variable) -> None:
    """Warn when the expression, written out, repeats shared values exponentially often.

    A graph reuses a value (``h = sin(h) + h``); a printed expression writes it
    out at every use, so a deep graph's closed form can have 2^depth terms.
    SymPy stores it shared, but printing it (or a notebook showing it) does not end.
    """
    # floats, not ints: 2^100000 as an int would make this count quadratic in the depth
    size: dict[Variable, float] = {}
    for v in order:
        size[v] = 1.0 + sum(size[i] for i in v.owner.inputs) if v.owner is not None else 1.0
    terms = size[output]
    if terms > HUGE_TREE:
        magnitude = "more than 10^308" if math.isinf(terms) else f"about 10^{int(math.log10(terms))}"
        warnings.warn(
            f"to_sympy: the closed form of {output._label()} (built at {output.site}) written out has {magnitude} "
            f"terms, since its graph of {len(order)} Variables reuses values; "
            "printing or displaying it will not finish. sympy.cse(expr) prints it with the shared parts named once",
            stacklevel=3,
        )


def _convert(v: Variable, expr: dict, symbols: dict) -> sp.Expr:
    if v.kind in ("input", "parameter"):  # a Parameter's value changes between calls: a symbol
        if v not in symbols:
            symbols[v] = sp.Symbol(v._label(), real=True)
        return symbols[v]
    if v.kind == "constant":
        values = np.unique(v.value)
        if values.size != 1:
            raise SymPyConversionError(f"to_sympy: the constant {v._label()} is an array of different values")
        return _number(values[0]) if v.dtype.kind != "b" else sp.true if values[0] else sp.false
    name = v.owner.op.name
    args = [expr[i] for i in v.owner.inputs]
    if name == "fused":  # the fuse pass's node: its program, step by step
        from graphcomp.ops.fused import interpret

        return interpret(v.owner.op, args, _number, _elementwise)[-1]
    known = _elementwise(name, args)
    if known is not None:
        return known
    if name in ("zeros_like", "ones_like"):
        return sp.Integer(0 if name == "zeros_like" else 1)
    if name == "cast" and v.dtype.kind in "fc":
        return args[0]
    if name == "sympy":
        op = v.owner.op
        return op.expr.xreplace(dict(zip(op.args, args)))
    if name in _IDENTITY_IF_SAME_SHAPE and _same_shape(v):
        return args[0]
    if name in ("sum", "max", "min", "squeeze", "expand_dims") and all(
        d == 1 for d in v.owner.inputs[0].shape
    ):  # a reduction over size-1 axes only
        return args[0]
    raise SymPyConversionError(
        f"to_sympy: {v.owner.op.label()} (built at {v.site}) is not elementwise; "
        "only scalar and elementwise graphs convert"
    )


def _is_condition(e) -> bool:
    # a Symbol is a sympy Boolean too; only relations and logical values are conditions here
    return isinstance(
        e, (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.logic.boolalg.BooleanAtom)
    )


def _elementwise(name: str, args: list) -> sp.Expr | None:
    if name == "multiply" and any(_is_condition(a) for a in args):
        cond, value = args if _is_condition(args[0]) else args[::-1]
        return sp.Piecewise((value, cond), (0, True))  # x * mask, as simplify writes a select
    if name in _UNARY:
        return _UNARY[name](args[0])
    if name in _BINARY:
        return _BINARY[name](*args)
    if name == "add_n":
        return sp.Add(*args)
    if name == "where":
        return sp.Piecewise((args[1], args[0]), (args[2], True))
    return None


_FUNCTIONS = {
    sp.exp: "exp",
    sp.log: "log",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tan: "tan",
    sp.tanh: "tanh",
    sp.Abs: "abs",
    sp.sign: "sign",
}


def from_sympy(expr, variables: Sequence[Variable]) -> Variable:
    """Build the graph of a SymPy expression; symbols are matched to
    ``variables`` by name.

    Example:
        >>> import graphcomp as gc, sympy as sp
        >>> x = gc.Variable("x")
        >>> y = gc.from_sympy(sp.sin(sp.Symbol("x")) ** 2 + 1, [x])
        >>> float(gc.evaluate(y, {x: 0.0}))
        1.0
    """
    from graphcomp import api

    expr = sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr
    by_name = {}
    for v in variables:
        if not isinstance(v, Variable):
            raise ArgumentError(f"from_sympy: variables must be Variables, got {v!r}")
        if v.name in by_name:
            raise SymPyConversionError(f"from_sympy: two Variables are named {v.name!r}")
        by_name[v.name] = v
    missing = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if missing:
        raise SymPyConversionError(f"from_sympy: no Variable named {', '.join(missing)} was given")

    built: dict = {}
    stack = [(expr, False)]
    while stack:  # post-order on an explicit stack
        e, ready = stack.pop()
        if e in built:
            continue
        if not ready and e.args and not e.is_Number:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in built)
            continue
        built[e] = _build(e, [built[a] for a in e.args] if e.args else [], by_name, api)
    return built[expr]


def _build(e, args, by_name, api):
    if e.is_Symbol:
        return by_name[e.name]
    if e.is_Number or e in (sp.pi, sp.E):
        return api.constant(float(e))
    if e in (sp.true, sp.false):
        return api.constant(bool(e))
    if isinstance(e, sp.Add):
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if isinstance(e, sp.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if isinstance(e, sp.Pow):
        base, exp_ = e.args
        if exp_ == -1:
            return 1.0 / args[0]
        if exp_ == sp.Rational(1, 2):
            return api.sqrt(args[0])
        return api.power(args[0], args[1])
    if isinstance(e, (sp.Max, sp.Min)):
        fn = api.maximum if isinstance(e, sp.Max) else api.minimum
        out = args[0]
        for a in args[1:]:
            out = fn(out, a)
        return out
    if isinstance(e, sp.Piecewise):
        out = args[-1][0] if e.args[-1][1] == sp.true else None
        if out is None:
            raise SymPyConversionError("from_sympy: a Piecewise needs a final (value, True) branch")
        for value, cond in reversed(args[:-1]):
            out = api.where(cond, value, out)
        return out
    if isinstance(e, ExprCondPair):
        return tuple(args)
    if isinstance(e, sp.core.relational.Relational):
        ops = {sp.StrictLessThan: api.less, sp.LessThan: api.less_equal, sp.StrictGreaterThan: api.greater,
               sp.GreaterThan: api.greater_equal, sp.Equality: api.equal, sp.Unequality: api.not_equal}  # fmt: skip
        return ops[type(e)](*args)
    fn = _FUNCTIONS.get(type(e)) or _FUNCTIONS.get(getattr(e, "func", None))
    if fn is not None:
        return getattr(api, fn)(*args)
    raise SymPyConversionError(f"from_sympy: {type(e).__name__} ({e}) has no graphcomp op")
