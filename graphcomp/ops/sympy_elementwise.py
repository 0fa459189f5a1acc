"""Elementwise ops defined by a SymPy expression: the forward is lambdified to
NumPy, the bprop is built from ``sympy.diff``, so a user adds an op without
writing its derivative, and its derivatives are ops of the same kind (so
every order can be taken)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import broadcast_shapes, result_dtype
from graphcomp.errors import ArgumentError, GraphError
from graphcomp.ops.base import Op, as_variable
from graphcomp.ops.shape import sum_to

__all__ = ["elementwise"]

if TYPE_CHECKING:  # SymPy (half a second) is imported by the first op that needs it
    import sympy as sp


@lru_cache(maxsize=1024)
def _lambdified(expr: sp.Expr, args: tuple[sp.Symbol, ...]):
    import sympy as sp

    fn = sp.lambdify(args, expr, modules="numpy")
    if not expr.free_symbols:  # a constant derivative: give it the inputs' shape
        const = float(expr)

        def fn(*xs, _c=const):  # noqa: F811 - replaces the lambdified constant
            return np.full(np.broadcast(*xs).shape, _c)

    return fn


@dataclasses.dataclass(frozen=True)
class SymPyElementwise(Op):
    """An elementwise op given by ``expr`` in the symbols ``args``."""

    name, elementwise = "sympy", True
    expr: sp.Expr
    args: tuple

    def infer(self, *xs):
        if len(xs) != len(self.args):
            raise GraphError(f"{self.label()}: takes {len(self.args)} input(s), got {len(xs)}")
        shape = broadcast_shapes(*(x.shape for x in xs), op=self.label())
        dtypes = (np.dtype(np.float64) if x.dtype.kind in "biu" else x.dtype for x in xs)
        dtype = result_dtype(_lambdified(self.expr, self.args), *dtypes)
        return shape, dtype

    def forward(self, *xs):
        # integers are computed in float64, as infer promised
        xs = [np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind in "biu" else x for x in xs]
        return np.asarray(_lambdified(self.expr, self.args)(*xs))

    def bprop(self, inputs, output, G):
        import sympy as sp

        grads = []
        for sym, x in zip(self.args, inputs):
            d = sp.diff(self.expr, sym)
            grads.append(None if d == 0 else sum_to(G * SymPyElementwise(d, self.args)(*inputs), x))
        return grads

    def label(self) -> str:
        return f"sympy[{self.expr}]"

    def sympy(self, sp, v, args):
        return self.expr.xreplace(dict(zip(self.args, args)))


def elementwise(expr, args):
    """A new elementwise op from a SymPy expression; returns a function of Variables.

    ``args`` are the SymPy symbols in argument order. The forward runs the
    expression lambdified to NumPy; the gradient comes from ``sympy.diff``
    and is itself such an op, so it can be differentiated again.

    Example:
        >>> import graphcomp as gc, sympy as sp
        >>> t = sp.Symbol("t")
        >>> swish = gc.elementwise(t / (1 + sp.exp(-t)), [t])
        >>> x = gc.Variable("x")
        >>> round(float(gc.evaluate(gc.grad(swish(x), x), {x: 0.0})), 6)
        0.5
    """
    import sympy as sp

    expr = sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr
    args = tuple(args)
    for a in args:
        if not isinstance(a, sp.Symbol):
            raise ArgumentError(f"elementwise: args must be SymPy symbols, got {a!r}")
    extra = expr.free_symbols - set(args)
    if extra:
        raise ArgumentError(f"elementwise: the expression uses {sorted(map(str, extra))}, which are not in args")
    op = SymPyElementwise(expr, args)

    def build(*xs) -> Variable:
        return op(*(as_variable(x) for x in xs))

    build.__name__ = f"elementwise[{expr}]"
    build.__doc__ = f"The elementwise op {expr} of {', '.join(map(str, args))}."
    build.op = op
    return build
