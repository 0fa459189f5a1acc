"""Generated code: one straight-line Python function per compiled graph.

Each node is one assignment with the node as a comment above it (as
PyTensor's ``fgraph_to_python``); intermediates are deleted after their last
use; a block of lines that repeats is written once as a ``for`` loop
(``graphcomp.runtime.roll``). What a node's line calls comes from a backend,
so other array libraries can plug in without touching the passes.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
import re

import numpy as np

from graphcomp.core.gcpause import gc_paused
from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.ops.binary import Binary
from graphcomp.ops.elementwise import Unary
from graphcomp.ops.linalg import MatMul
from graphcomp.runtime.evaluate import EvaluationError, Plan, op_failure
from graphcomp.runtime.inline import NAMESPACE as INLINE_NAMESPACE
from graphcomp.runtime.inline import inline_expression
from graphcomp.runtime.roll import Step, emit, mark

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

    def __init__(self, fn, source: str, filename: str, lines: dict[int, object]):
        self.fn = fn
        self.source = source
        self.filename = filename
        self.lines = lines  # line number -> the node it computes, or a LoopLine

    def failure(self, error: BaseException) -> EvaluationError | None:
        """The graphcomp error for an exception raised inside the generated code."""
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename and tb.tb_lineno in self.lines:
                return _failure(self.lines[tb.tb_lineno], tb.tb_frame, error)
            tb = tb.tb_next
        return None


def _failure(info, frame, error: BaseException) -> EvaluationError:
    """The error naming the node a failing line computed, with its inputs' values."""
    v = info.node(frame.f_locals.get("_t"))
    values = []
    for text in info.args[: len(v.owner.inputs)]:
        try:  # the argument's text in the generated code: a name, or a list entry
            values.append(eval(text, frame.f_globals, frame.f_locals))  # our own generated text
        except Exception:
            values.append(None)
    return op_failure(v, values, error)


_dtype_text: dict = {}  # str(dtype) is slow and a graph has few dtypes

_SHOWN = 8  # inputs a comment names; a stack of 10^5 layer terms says how many

#: schedules at least this long are rolled into loops by default (``compile(..., loops=None)``)
ROLL_FROM = 2000


def _comment(v: Variable, args: list[str]) -> str:
    ins = v.owner.inputs
    shown = ", ".join(i._label() if i.name else a for i, a in zip(ins[:_SHOWN], args))
    if len(ins) > _SHOWN:
        shown += f", ... ({len(ins)} inputs)"
    role = " [grad]" if v.grad_of is not None else ""
    dtype = _dtype_text.get(v.dtype) or _dtype_text.setdefault(v.dtype, str(v.dtype))
    return f"# {v.owner.op.label()}({shown}) -> {fmt_shape(v.shape)} {dtype}{role}, built at {v.site}"


class _Callees:
    """One generated name per distinct callee (``_multiply``), bound in the namespace.

    Equal ops make equal callees, so a name also says which lines do the same thing:
    what loop rolling looks for, and fewer names for CPython to compile."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.names: dict = {}
        self.by_op: dict = {}  # id(op) -> name: every layer's Multiply() is one object
        self.suffix: dict = {}  # base name -> the last number given it: 10^4 distinct ops stay linear

    def of(self, op, backend) -> str:
        """The name of the callee the backend gives for ``op``."""
        hit = self.by_op.get(id(op))
        if hit is None:
            hit = self.by_op[id(op)] = self.name(backend.callee(op), op)
        return hit

    def name(self, fn, op) -> str:
        # bound methods of equal ops do the same; equal ops are distinct objects
        key = (fn.__func__, fn.__self__) if hasattr(fn, "__self__") and hasattr(fn, "__func__") else (fn,)
        try:
            hit = self.names.get(key)
        except TypeError:  # an unhashable op: its own name
            key, hit = (id(fn), fn), None
        if hit is None:
            base = "_" + re.sub(r"\W", "_", getattr(fn, "__name__", "") if isinstance(fn, np.ufunc) else op.name)
            hit, k = base, self.suffix.get(base, 1)
            while hit in self.namespace:
                k += 1
                hit = f"{base}_{k}"
            self.suffix[base] = k
            self.namespace[hit] = fn
            self.names[key] = hit
        return hit


def generate(
    outputs: list[Variable], args: list[Variable], backend=None, plan: Plan | None = None, loops: bool | None = None
) -> Generated:
    """Write and compile the function computing ``outputs`` from ``args`` (the
    needed inputs, in call order).

    ``loops`` rolls repeated blocks of lines into ``for`` loops (see
    ``graphcomp.runtime.roll``); None rolls schedules of ``ROLL_FROM`` steps or more.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> g = generate([gc.sin(x) * 2.0], [x])
        >>> float(g.fn(0.5)[0]) == 2 * float(np.sin(0.5))
        True
        >>> print(g.source.splitlines()[0])
        def compiled(x):
    """
    with gc_paused():  # a schedule of 10^6 steps allocates millions of objects, none of them cyclic garbage
        return _generate(outputs, args, backend, plan, loops)


def _generate(outputs, args, backend, plan, loops) -> Generated:
    backend = backend or NumpyBackend()
    plan = plan or Plan.build(outputs)
    namespace: dict = dict(getattr(backend, "namespace", {}))
    fixed, header, prelude = _fixed_names(plan, args, namespace)
    callees = _Callees(namespace)
    reusable = _reusable_buffers(plan, backend)
    inline = getattr(backend, "expression", None)  # optional in the backend interface
    steps = []
    marks = [mark(k) for k in range(8)]
    templates: dict[str, str] = {}  # one string per distinct template: a million steps share a few hundred
    for v, _, ins, dies in plan.steps:
        while len(marks) <= len(ins):
            marks.append(mark(len(marks)))
        refs = ins
        expr = inline(v, marks[: len(ins)]) if inline is not None else None
        if expr is None:
            call = ", ".join(marks[: len(ins)])
            if v in reusable:
                for d in dies:
                    if d in reusable and _fits(d, v):  # write into a buffer that dies here: no allocation
                        call += f", out={marks[len(ins)]}"
                        refs = (*ins, d)
                        break
            expr = f"{callees.of(v.owner.op, backend)}({call})"
        steps.append(Step(v, templates.setdefault(expr, expr), refs, dies))
    roll = len(steps) >= ROLL_FROM if loops is None else loops
    body, outs = emit(steps, fixed, outputs, _comment, roll=roll)
    return _build(header, prelude, body, f"return ({', '.join(outs)},)", namespace)


def _fixed_names(plan: Plan, args: list[Variable], namespace: dict) -> tuple[dict, str, list]:
    """Names of the values that are not steps: arguments, constants (bound in the
    namespace), Parameters (read at each call); the def line and the prelude."""
    fixed: dict[Variable, str] = {}
    used: set[str] = set()
    # generated names start with "_"; an input's own name never does, so none collide
    for k, v in enumerate(args):
        fixed[v] = _identifier(v.name, k, used)
    for v in plan.constants:
        fixed[v] = f"_c{v.id}"
        namespace[fixed[v]] = v.value
    prelude = []
    for p in plan.parameters:
        fixed[p] = f"_p{p.id}"
        namespace[f"_P{p.id}"] = p
        prelude.append(f"{fixed[p]} = _P{p.id}.value  # Parameter {p._label()}, its value at this call")
    return fixed, f"def compiled({', '.join(fixed[v] for v in args)}):", prelude


def _reusable_buffers(plan: Plan, backend) -> set[Variable]:
    """Intermediates whose buffer an elementwise op may overwrite once they die.

    A buffer qualifies when a ufunc made it (a fresh array, never the caller's
    and never a view), its static shape is fully known and not 0-d (ufuncs
    return NumPy scalars there), and every node reading it is a ufunc too, so
    no view of it can outlive it.
    """
    by_op: dict = {}  # ops repeat (every multiply is one Multiply()): ask the backend once per op
    ufunc = {}
    for v, _, _, _ in plan.steps:
        op = v.owner.op
        known = by_op.get(id(op))  # by identity: an op's own hash is Python code
        if known is None:
            known = by_op[id(op)] = isinstance(backend.callee(op), np.ufunc)
        ufunc[v] = known
    out = {v for v, _, _, _ in plan.steps if ufunc[v] and v.shape and None not in v.shape}
    for v, _, ins, _ in plan.steps:
        if not ufunc[v]:
            out.difference_update(ins)  # a non-ufunc reader may keep a view of its input
    return out


def _fits(buffer: Variable, v: Variable) -> bool:
    return buffer.shape == v.shape and buffer.dtype == v.dtype


def _build(header: str, prelude: list[str], body: list[tuple], ret: str, namespace: dict) -> Generated:
    """Compile the generated lines; register them so tracebacks show the source."""
    lines = [header] + ["    " + p for p in prelude]
    line_of: dict[int, object] = {}
    for text, info in body:
        lines.append("    " + text)
        if info is not None:
            line_of[len(lines)] = info
    lines.append("    " + ret)
    source = "\n".join(lines) + "\n"
    filename = f"<graphcomp-compiled-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated text, never user input
    return Generated(namespace["compiled"], source, filename, line_of)


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
    "sech2": "(1.0 / _cosh({0})) ** 2",  # math.cosh raises OverflowError past |x| ~ 710: NumPy then
    "sqrt": "_sqrt({0})",
    "square": "{0} * {0}",
    "log1p": "_log1p({0})",
    "expm1": "_expm1({0})",
    "abs": "abs({0})",
}


def generate_scalar(
    outputs: list[Variable], args: list[Variable], plan: Plan | None = None, loops: bool | None = None
) -> Generated | None:
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
    with gc_paused():
        return _generate_scalar(outputs, args, plan, loops)


def _generate_scalar(outputs, args, plan, loops) -> Generated | None:
    import math

    plan = plan or Plan.build(outputs)
    every = list(args) + plan.constants + [s[0] for s in plan.steps]
    if plan.parameters or any(v.shape != () or v.dtype != np.float64 for v in every):
        return None
    if any(s[0].owner.op.name not in SCALAR_FORMS and s[0].owner.op.name != "add_n" for s in plan.steps):
        return None
    namespace = {
        f"_{f}": getattr(math, f)
        for f in ("exp", "log", "sin", "cos", "tan", "tanh", "cosh", "sqrt", "log1p", "expm1", "pow")
    }
    namespace["_f64"] = np.float64
    fixed, header, _ = _fixed_names(plan, args, namespace)
    for c in plan.constants:
        namespace[fixed[c]] = float(c.value)
    steps = []
    for v, _, ins, _ in plan.steps:
        marks = [mark(k) for k in range(len(ins))]
        op = v.owner.op.name
        expr = " + ".join(marks) if op == "add_n" else SCALAR_FORMS[op].format(*marks)
        steps.append(Step(v, expr, ins, []))
    roll = len(steps) >= ROLL_FROM if loops is None else loops
    body, outs = emit(steps, fixed, outputs, _comment, roll=roll, free=False)
    return _build(header, [], body, f"return ({', '.join(f'_f64({o})' for o in outs)},)", namespace)
