"""The Numba backend: ``gc.compile(..., backend="numba")``.

It asks for the ``fuse`` pass, then compiles each fused node's program into a
NumPy ufunc with ``numba.vectorize``: one loop over the elements in machine
code, broadcasting and ``out=`` as any ufunc, no temporaries between the
steps. The kernel's text is each step op's own scalar form (``Op.scalar``),
the same text the Python-float fast path runs; nothing is written twice.
Every other node runs as under the NumPy backend. Numba is an optional extra
(``pip install 'graphcomp[numba]'``); kernels are compiled once per program
and input dtypes, and shared by every compiled function.

Floating-point behaviour is NumPy's: division by zero gives inf or nan with
NumPy's warnings, never an exception; a NaN operand of a comparison (``less``,
``maximum``, ``clip``, ``relu``, ``sign``) warns nowhere, as in NumPy: the
kernels compare floats by their bits (``numba_quiet``), since machine code's
float compares raise the invalid flag on NaN where NumPy's do not.

Whole-function mode (``graphcomp/runtime/backends/numba_whole/``): asked for
(``gc.compile(..., whole=True)``, or ``whole=None``: where possible) and where every
node of the graph has a Numba form, ``gc.compile`` compiles the whole graph as
one ``numba.njit`` function instead (``whole_function`` below), cached on disk.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from graphcomp.errors import ArgumentError
from graphcomp.ops.fused import Fused, literal, program_dtype, step_op
from graphcomp.runtime.backends.numba_conv import OVERRIDES as CONV_OVERRIDES
from graphcomp.runtime.backends.numba_quiet import QUIET_FORMS, quiet_helpers
from graphcomp.runtime.backends.numba_whole import compile_whole
from graphcomp.runtime.backends.numpy import NumpyBackend

__all__ = ["NumbaBackend", "kernel", "kernel_source"]


def _kernel_callee(op: Fused) -> np.ufunc:
    return kernel(op)


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
    overrides = {Fused: _kernel_callee, **CONV_OVERRIDES}

    def __init__(self):
        _numba()  # say now, not at the first fused node, that Numba is missing

    def whole_function(self, outputs, args, plan, numpy_code, required=False):
        """The graph as one ``numba.njit`` function: ``(code, None)``, or ``(None, reason)``
        where a node has no Numba form (see ``graphcomp.runtime.backends.numba_whole``)."""
        return compile_whole(outputs, args, plan, numpy_code, required)


def kernel_source(op: Fused) -> str:
    """The scalar Python function Numba compiles for a fused node: each step is its
    op's scalar form, constants written as literals.

    Example:
        >>> print(kernel_source(Fused((("multiply", "a0", "a1"), ("tanh", "t0")), ("float64",) * 2)))
        def kernel(a0, a1):
            t0 = a0 * a1
            t1 = _tanh(t0)
            return t1
    """
    args = ", ".join(f"a{j}" for j in range(len(op.dtypes)))
    lines = [f"def kernel({args}):"]
    literals: dict[str, str] = {}
    for k, step in enumerate(op.program):
        number = literal(step)
        if number is not None:
            expr = literals[f"t{k}"] = repr(float(number))
        else:
            op_ = step_op(step[0])
            args_ = [literals.get(o, o) for o in step[1:]]
            quiet = QUIET_FORMS.get(type(op_))  # a comparison that raises no flag on NaN (numba_quiet)
            expr = quiet.format(*args_) if quiet is not None else op_.scalar(*args_)
        lines.append(f"    t{k} = {expr}")
    lines.append(f"    return t{len(op.program) - 1}")
    return "\n".join(lines)


@functools.cache
def kernel(op: Fused) -> np.ufunc:
    """The fused node's program compiled by Numba into a NumPy ufunc (cached).

    Example:
        >>> k = kernel(Fused((("multiply", "a0", "a0"), ("add", "t0", "a1")), ("float64",) * 2))
        >>> k(np.array([1.0, 2.0]), 0.5).tolist()
        [1.5, 4.5]
    """
    numba = _numba()
    quiet = quiet_helpers()
    namespace: dict = {"_lt": quiet["_lt"], "_le": quiet["_le"]}
    for step in op.program:
        if literal(step) is None:
            for helper, fn in type(step_op(step[0])).scalar_helpers.items():
                namespace[helper] = quiet.get(fn) or _jitted(fn)
    exec(kernel_source(op), namespace)  # our own generated text, never user input
    types_ = [numba.from_dtype(np.dtype(d)) for d in op.dtypes]
    signature = numba.from_dtype(program_dtype(op))(*types_)
    return numba.vectorize([signature], nopython=True)(namespace["kernel"]).ufunc


@functools.cache
def _jitted(helper):
    """A scalar helper as Numba calls it: builtins (math.exp) as they are, our own
    Python functions compiled and inlined."""
    if isinstance(helper, types.BuiltinFunctionType):
        return helper
    return _numba().njit(inline="always")(helper)


def _numba():
    try:
        import numba
    except ImportError:
        raise ArgumentError(
            "compile: backend 'numba' needs Numba, which is not installed: pip install 'graphcomp[numba]'"
        ) from None
    return numba
