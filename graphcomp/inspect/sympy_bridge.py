"""To and from SymPy, for scalar and elementwise graphs: closed forms of
gradients, and graphs from formulas."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import ancestors, topological
from graphcomp.errors import ArgumentError, GraphError
from graphcomp.ops.base import REGISTRY, sympy_number
from graphcomp.ops.elementwise import Sqrt
from graphcomp.ops.select import where

__all__ = ["to_sympy", "from_sympy", "SymPyConversionError"]


class SymPyConversionError(GraphError, ValueError):
    """A graph or expression has a part the SymPy bridge cannot carry across."""


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
    if symbols is not None and not isinstance(symbols, dict):
        raise ArgumentError(f"to_sympy: symbols must be a dict from Variables to SymPy symbols, got {symbols!r}")
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
            f"to_sympy: the closed form of {output.label()} (built at {output.site}) written out has {magnitude} "
            f"terms, since its graph of {len(order)} Variables reuses values; "
            "printing or displaying it will not finish. sympy.cse(expr) prints it with the shared parts named once",
            stacklevel=3,
        )


def _convert(v: Variable, expr: dict, symbols: dict) -> sp.Expr:
    if v.kind in ("input", "parameter"):  # a Parameter's value changes between calls: a symbol
        if v not in symbols:
            symbols[v] = sp.Symbol(v.label(), real=True)
        return symbols[v]
    if v.kind == "constant":
        values = np.unique(v.value)
        if values.size != 1:
            raise SymPyConversionError(f"to_sympy: the constant {v.label()} is an array of different values")
        return sympy_number(sp, values[0]) if v.dtype.kind != "b" else sp.true if values[0] else sp.false
    form = v.owner.op.sympy(sp, v, [expr[i] for i in v.owner.inputs])
    if form is None:
        raise SymPyConversionError(
            f"to_sympy: {v.owner.op.label()} (built at {v.site}) is not elementwise; "
            "only scalar and elementwise graphs convert"
        )
    return form


def _sympy_classes() -> dict:
    """SymPy's function classes -> the op class whose SymPy form each one is (``sp.exp`` ->
    ``Exp``, ``sp.Lt`` -> ``Less``), from the ops' own ``sympy_function``."""
    table = {}
    for cls in REGISTRY.values():
        fn = getattr(sp, cls.sympy_function, None) if cls.sympy_function else None
        if isinstance(fn, type):  # sp.sqrt is a function building a Pow: Pow is handled below
            table[fn] = cls
    return table


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

    classes = _sympy_classes()
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
        built[e] = _build(e, [built[a] for a in e.args] if e.args else [], by_name, classes)
    return built[expr]


def _build(e, args, by_name, classes):
    if e.is_Symbol:
        return by_name[e.name]
    if e.is_Number or e in (sp.pi, sp.E):
        return constant(float(e))
    if e in (sp.true, sp.false):
        return constant(bool(e))
    if isinstance(e, (sp.Add, sp.Mul)):
        out = args[0]
        for a in args[1:]:
            out = out + a if isinstance(e, sp.Add) else out * a
        return out
    if isinstance(e, sp.Pow):
        if e.args[1] == -1:
            return 1.0 / args[0]
        if e.args[1] == sp.Rational(1, 2):
            return Sqrt()(args[0])
        return args[0] ** args[1]
    if isinstance(e, sp.Piecewise):
        out = args[-1][0] if e.args[-1][1] == sp.true else None
        if out is None:
            raise SymPyConversionError("from_sympy: a Piecewise needs a final (value, True) branch")
        for value, cond in reversed(args[:-1]):
            out = where(cond, value, out)
        return out
    if isinstance(e, ExprCondPair):
        return tuple(args)
    cls = classes.get(type(e)) or classes.get(getattr(e, "func", None))
    if cls is None:
        raise SymPyConversionError(f"from_sympy: {type(e).__name__} ({e}) has no graphcomp op")
    out = cls()(*args[:2]) if len(args) > 1 else cls()(args[0])
    for a in args[2:]:  # Max(a, b, c) and friends: pairwise
        out = cls()(out, a)
    return out
