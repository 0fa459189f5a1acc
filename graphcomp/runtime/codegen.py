"""Generated code: one straight-line Python function per compiled graph.

Each node is one assignment with the node as a comment above it (as
PyTensor's ``fgraph_to_python``); intermediates are deleted after their last
use. What a node's line calls comes from a backend, so other array libraries
can plug in without touching the passes.
"""

from __future__ import annotations

import itertools
import keyword
import linecache

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.ops.binary import Binary
from graphcomp.ops.elementwise import Unary
from graphcomp.ops.linalg import MatMul
from graphcomp.runtime.evaluate import EvaluationError, Plan, op_failure
from graphcomp.runtime.inline import NAMESPACE as INLINE_NAMESPACE
from graphcomp.runtime.inline import inline_expression

__all__ = ["NumpyBackend", "generate", "Generated"]

_counter = itertools.count()


class NumpyBackend:
    """Runs ops with NumPy: elementwise ops call their ufunc directly, ops with a
    short NumPy spelling are written inline, every other op calls its ``forward``.

    The backend interface is these four members: ``callee(op)`` (the callable a
    node's line calls), ``expression(v, arg_names)`` (an inline expression, or
    None), ``namespace`` (names the expressions use) and ``passes`` (backend
    passes to run, e.g. the Numba backend's ``fuse``). A backend for another
    array library (JAX, CuPy, Dask) supplies its own; the passes never see it."""

    name = "numpy"
    #: backend passes (``graphcomp.passes.pipeline.BACKEND_PASSES``) run after the common ones
    passes: tuple[str, ...] = ()

    def callee(self, op):
        """The Python callable a node's line calls, given the node's op.

        Example:
            >>> import graphcomp as gc
            >>> NumpyBackend().callee(gc.exp(gc.Variable("x")).owner.op) is np.exp
            True
        """
        fn = getattr(type(op), "fn", None)
        if fn is not None and type(op).forward in (Unary.forward, Binary.forward):
            return fn
        if isinstance(op, MatMul):
            return np.matmul  # a ufunc, so its result's buffer can be reused
        return op.forward

    def expression(self, v: Variable, args: list[str]) -> str | None:
        """An inline expression for ``v`` over its inputs' names, or None to call ``callee``.

        Example:
            >>> import graphcomp as gc
            >>> NumpyBackend().expression(gc.Variable("w", (4,))[1:], ["w"])
            'w[1:]'
        """
        return inline_expression(v, args)

    namespace = INLINE_NAMESPACE


class Generated:
    """The generated function, its source, and the map from lines back to nodes."""

    def __init__(self, fn, source: str, filename: str, lines: dict[int, Variable], names: dict[Variable, str]):
        self.fn = fn
        self.source = source
        self.filename = filename
        self.lines = lines
        self.names = names

    def failure(self, error: BaseException) -> EvaluationError | None:
        """The graphcomp error for an exception raised inside the generated code."""
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename and tb.tb_lineno in self.lines:
                v = self.lines[tb.tb_lineno]
                local = tb.tb_frame.f_locals
                return op_failure(v, [local.get(self.names.get(i)) for i in v.owner.inputs], error)
            tb = tb.tb_next
        return None


_dtype_text: dict = {}  # str(dtype) is slow and a graph has few dtypes


def _comment(v: Variable, names: dict) -> str:
    args = ", ".join(i._label() if i.name else names[i] for i in v.owner.inputs)
    role = " [grad]" if v.grad_of is not None else ""
    dtype = _dtype_text.get(v.dtype) or _dtype_text.setdefault(v.dtype, str(v.dtype))
    return f"# {v.owner.op.label()}({args}) -> {fmt_shape(v.shape)} {dtype}{role}, built at {v.site}"


def generate(outputs: list[Variable], args: list[Variable], backend=None, plan: Plan | None = None) -> Generated:
    """Write and compile the function computing ``outputs`` from ``args`` (the
    needed inputs, in call order).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> g = generate([gc.sin(x) * 2.0], [x])
        >>> float(g.fn(0.5)[0]) == 2 * float(np.sin(0.5))
        True
        >>> print(g.source.splitlines()[0])
        def compiled(x):
    """
    backend = backend or NumpyBackend()
    plan = plan or Plan.build(outputs)
    names: dict[Variable, str] = {}
    namespace: dict = dict(getattr(backend, "namespace", {}))
    # generated names start with "_"; an input's own name never does, so none collide
    used: set[str] = set()
    for k, v in enumerate(args):
        names[v] = _identifier(v.name, k, used)
    for v in plan.constants:
        names[v] = f"_c{v.id}"
        namespace[names[v]] = v.value
    lines = [f"def compiled({', '.join(names[v] for v in args)}):"]
    for p in plan.parameters:
        names[p] = f"_p{p.id}"
        namespace[f"_P{p.id}"] = p
        lines.append(f"    {names[p]} = _P{p.id}.value  # Parameter {p._label()}, its value at this call")
    line_of: dict[int, Variable] = {}
    reusable = _reusable_buffers(plan, backend)
    inline = getattr(backend, "expression", None)  # optional in the backend interface
    for v, _, ins, dies in plan.steps:
        names[v] = f"_v{v.id}"
        lines.append(f"    {_comment(v, names)}")
        expr = inline(v, [names[i] for i in ins]) if inline is not None else None
        if expr is None:
            namespace[f"_f{v.id}"] = backend.callee(v.owner.op)
            call = ", ".join(names[i] for i in ins)
            donor = next((d for d in dies if d in reusable and _fits(d, v) and v in reusable), None)
            if donor is not None:  # write into a buffer that dies here: no new allocation
                call += f", out={names[donor]}"
            expr = f"_f{v.id}({call})"
        lines.append(f"    {names[v]} = {expr}")
        line_of[len(lines)] = v
        dead = [names[d] for d in dies if d.kind not in ("constant", "parameter") and d not in args]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    lines.append(f"    return ({', '.join(names[o] for o in outputs)},)")
    return _build(lines, namespace, line_of, names)


def _reusable_buffers(plan: Plan, backend) -> set[Variable]:
    """Intermediates whose buffer an elementwise op may overwrite once they die.

    A buffer qualifies when a ufunc made it (a fresh array, never the caller's
    and never a view), its static shape is fully known and not 0-d (ufuncs
    return NumPy scalars there), and every node reading it is a ufunc too, so
    no view of it can outlive it.
    """
    by_op: dict = {}  # ops repeat (every multiply is Multiply()): ask the backend once per op
    ufunc = {}
    for v, _, _, _ in plan.steps:
        op = v.owner.op
        if op not in by_op:
            by_op[op] = isinstance(backend.callee(op), np.ufunc)
        ufunc[v] = by_op[op]
    out = {v for v, _, _, _ in plan.steps if ufunc[v] and v.shape and None not in v.shape}
    for v, _, ins, _ in plan.steps:
        if not ufunc[v]:
            out.difference_update(ins)  # a non-ufunc reader may keep a view of its input
    return out


def _fits(buffer: Variable, v: Variable) -> bool:
    return buffer.shape == v.shape and buffer.dtype == v.dtype


def _build(lines: list[str], namespace: dict, line_of: dict, names: dict) -> Generated:
    """Compile the generated lines; register them so tracebacks show the source."""
    source = "\n".join(lines) + "\n"
    filename = f"<graphcomp-compiled-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated text, never user input
    return Generated(namespace["compiled"], source, filename, line_of, names)


def _identifier(name: str, k: int, used: set[str]) -> str:
    ok = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") and name != "compiled"
    base = name if ok else f"input{k}"
    if base in used:
        base = f"{base}{k}"
    used.add(base)
    return base


# -- the scalar specialisation ---------------------------------------------------------------------------------

#: op name -> expression over Python floats; {0}, {1} are the inputs
SCALAR_FORMS = {
    "add": "{0} + {1}",
    "subtract": "{0} - {1}",
    "multiply": "{0} * {1}",
    "divide": "{0} / {1}",
    "power": "_pow({0}, {1})",
    "negative": "-{0}",
    "exp": "_exp({0})",
    "log": "_log({0})",
    "sin": "_sin({0})",
    "cos": "_cos({0})",
    "tan": "_tan({0})",
    "tanh": "_tanh({0})",
    "sqrt": "_sqrt({0})",
    "square": "{0} * {0}",
    "log1p": "_log1p({0})",
    "expm1": "_expm1({0})",
    "abs": "abs({0})",
}


def generate_scalar(outputs: list[Variable], args: list[Variable], plan: Plan | None = None) -> Generated | None:
    """The graph as Python-float code with ``math``, or None when some value is not a
    0-d float64 or some op has no scalar form.

    ``math`` raises where NumPy returns inf or nan (log(0), 1/0, overflow): the
    caller then runs the NumPy code instead, so results keep NumPy's semantics.

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> g = generate_scalar([gc.exp(x * z)], [x, z])
        >>> print(g.source.splitlines()[2])
            _v... = x * z
        >>> g.fn(1.0, 0.0)
        (np.float64(1.0),)
    """
    import math

    plan = plan or Plan.build(outputs)
    every = list(args) + plan.constants + [s[0] for s in plan.steps]
    if plan.parameters or any(v.shape != () or v.dtype != np.float64 for v in every):
        return None
    if any(s[0].owner.op.name not in SCALAR_FORMS and s[0].owner.op.name != "add_n" for s in plan.steps):
        return None
    names: dict[Variable, str] = {}
    used: set[str] = set()
    for k, v in enumerate(args):
        names[v] = _identifier(v.name, k, used)
    namespace = {
        f"_{f}": getattr(math, f) for f in ("exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "log1p", "expm1", "pow")
    }
    namespace["_f64"] = np.float64
    for c in plan.constants:
        names[c] = f"_c{c.id}"
        namespace[names[c]] = float(c.value)
    lines = [f"def compiled({', '.join(names[v] for v in args)}):"]
    line_of: dict[int, Variable] = {}
    for v, _, ins, _ in plan.steps:
        names[v] = f"_v{v.id}"
        op = v.owner.op.name
        expr = " + ".join(names[i] for i in ins) if op == "add_n" else SCALAR_FORMS[op].format(*(names[i] for i in ins))
        lines.append(f"    {_comment(v, names)}")
        lines.append(f"    {names[v]} = {expr}")
        line_of[len(lines)] = v
    lines.append(f"    return ({', '.join(f'_f64({names[o]})' for o in outputs)},)")
    return _build(lines, namespace, line_of, names)
