"""The Numba backend: ``gc.compile(..., backend="numba")``.

It asks for the ``fuse`` pass, then compiles each fused node's program into a
NumPy ufunc with ``numba.vectorize``: one loop over the elements in machine
code, broadcasting and ``out=`` as any ufunc, no temporaries between the
steps. Every other node runs as under the NumPy backend. Numba is an optional
extra (``pip install 'graphcomp[numba]'``); kernels are compiled once per
program and input dtypes, and shared by every compiled function.

Floating-point behaviour is NumPy's: division by zero gives inf or nan with
NumPy's warnings, never an exception.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from graphcomp.errors import ArgumentError
from graphcomp.ops.fused import Fused, program_dtype
from graphcomp.runtime.codegen import SCALAR_FORMS, NumpyBackend

__all__ = ["NumbaBackend", "kernel", "kernel_source"]

#: op name -> expression over scalars in a kernel; ``_name`` helpers are below
KERNEL_FORMS = dict(SCALAR_FORMS)
KERNEL_FORMS.update(
    {
        "maximum": "_maximum({0}, {1})",
        "minimum": "_minimum({0}, {1})",
        "relu": "_maximum({0}, 0.0)",
        "sigmoid": "_sigmoid({0})",
        "softplus": "_softplus({0})",
        "sign": "_sign({0})",
        "less": "{0} < {1}",
        "less_equal": "{0} <= {1}",
        "greater": "{0} > {1}",
        "greater_equal": "{0} >= {1}",
        "equal": "{0} == {1}",
        "not_equal": "{0} != {1}",
        "where": "{1} if {0} else {2}",
    }
)


def _maximum(a, b):
    return a if (a >= b or a != a) else b  # a NaN on either side wins, as in np.maximum


def _minimum(a, b):
    return a if (a <= b or a != a) else b


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # never overflows for x < 0
    return e / (1.0 + e)


def _softplus(x):
    return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))


def _sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else x)  # sign(0) = 0 and sign(nan) = nan


_HELPERS = (_maximum, _minimum, _sigmoid, _softplus, _sign)


class NumbaBackend(NumpyBackend):
    """Fuses elementwise chains into Numba ufuncs; NumPy for everything else.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> f = gc.compile(gc.relu(x * 2.0 + 1.0), backend="numba")
        >>> f.graph.variables[-1].owner.op.label()
        'fused[relu(a0 * 2.0 + 1.0)]'
        >>> f([0.0, 1.0, -1.0]).tolist()
        [1.0, 3.0, 0.0]
    """

    name = "numba"
    passes = ("fuse",)

    def __init__(self):
        _numba()  # say now, not at the first fused node, that Numba is missing

    def callee(self, op):
        """A compiled ufunc for a fused node, else what the NumPy backend calls.

        Example:
            >>> from graphcomp.ops.fused import Fused
            >>> k = NumbaBackend().callee(Fused((("exp", "a0"), ("negative", "t0")), ("float64",)))
            >>> isinstance(k, np.ufunc), float(k(0.0))
            (True, -1.0)
        """
        if isinstance(op, Fused):
            return kernel(op)
        return super().callee(op)


def kernel_source(op: Fused) -> str:
    """The scalar Python function Numba compiles for a fused node.

    Example:
        >>> print(kernel_source(Fused((("multiply", "a0", "a1"), ("tanh", "t0")), ("float64",) * 2)))
        def kernel(a0, a1):
            t0 = a0 * a1
            t1 = _tanh(t0)
            return t1
    """
    args = ", ".join(f"a{j}" for j in range(len(op.dtypes)))
    lines = [f"def kernel({args}):"]
    for k, (name, *operands) in enumerate(op.program):
        if name == "constant":
            expr = repr(float(operands[0]))
        elif name == "add_n":
            expr = " + ".join(operands)
        elif name == "power" and _is_constant(op, operands[1], 2.0):
            expr = f"{operands[0]} * {operands[0]}"  # NumPy's x**2 is exactly x*x
        else:
            expr = KERNEL_FORMS[name].format(*operands)
        lines.append(f"    t{k} = {expr}")
    lines.append(f"    return t{len(op.program) - 1}")
    return "\n".join(lines)


def _is_constant(op: Fused, operand: str, value: float) -> bool:
    if not operand.startswith("t"):
        return False
    step = op.program[int(operand[1:])]
    return step[0] == "constant" and step[1] == value


@functools.cache
def kernel(op: Fused) -> np.ufunc:
    """The fused node's program compiled by Numba into a NumPy ufunc (cached).

    Example:
        >>> k = kernel(Fused((("multiply", "a0", "a0"), ("add", "t0", "a1")), ("float64",) * 2))
        >>> k(np.array([1.0, 2.0]), 0.5).tolist()
        [1.5, 4.5]
    """
    numba = _numba()
    names = ("exp", "log", "sin", "cos", "tan", "tanh", "cosh", "sqrt", "log1p")
    namespace = {f"_{f}": getattr(math, f) for f in names}
    namespace.update({"_expm1": math.expm1, "_pow": math.pow})
    namespace.update({h.__name__: _jitted(h) for h in _HELPERS})
    exec(kernel_source(op), namespace)  # our own generated text, never user input
    types = [numba.from_dtype(np.dtype(d)) for d in op.dtypes]
    signature = numba.from_dtype(program_dtype(op))(*types)
    return numba.vectorize([signature], nopython=True)(namespace["kernel"]).ufunc


@functools.cache
def _jitted(helper):
    return _numba().njit(inline="always")(helper)


def _numba():
    try:
        import numba
    except ImportError:
        raise ArgumentError(
            "compile: backend 'numba' needs Numba, which is not installed: pip install 'graphcomp[numba]'"
        ) from None
    return numba
