"""Generated code: one straight-line Python function per compiled graph.

Each node is one assignment with the node as a comment above it (as
PyTensor's ``fgraph_to_python``); intermediates are deleted after their last
use; a block of lines that repeats is written once as a ``for`` loop
(``graphcomp.runtime.roll``). What a node's line calls comes from a backend
(``graphcomp.runtime.backends``), so other array libraries plug in without
touching the passes. Compiling the lines is ``graphcomp.runtime.source``'s;
which buffers may be reused, ``graphcomp.runtime.buffers``'s; the Python-float
version, ``graphcomp.runtime.scalar``'s.
"""

from __future__ import annotations

import keyword
import re

import numpy as np

from graphcomp.core import collector
from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.errors import GraphError
from graphcomp.runtime.backends import Backend
from graphcomp.runtime.backends import backend as backend_of
from graphcomp.runtime.buffers import fits, reusable_buffers
from graphcomp.runtime.roll import Step, emit, int_slots, mark
from graphcomp.runtime.schedule import Plan
from graphcomp.runtime.source import Generated, build

__all__ = ["generate", "comment", "fixed_names", "Writer", "ROLL_FROM", "aliased_outputs"]

_dtype_text: dict = {}  # str(dtype) is slow and a graph has few dtypes

_SHOWN = 8  # inputs a comment names; a stack of 10^5 layer terms says how many

#: schedules at least this long are rolled into loops by default (``compile(..., loops=None)``)
ROLL_FROM = 2000


def comment(v: Variable, args: list[str], label: str) -> str:
    """The comment above node ``v``'s line: its op's ``label``, its inputs, shape,
    dtype, gradient role and the user's line that built it.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> comment(gc.exp(x), ["x"], "exp").split(", built at")[0]
        '# exp(x) -> (2,) float64'
    """
    ins = v.owner.inputs
    shown = ", ".join(i.label() if i.name else a for i, a in zip(ins[:_SHOWN], args))
    if len(ins) > _SHOWN:
        shown += f", ... ({len(ins)} inputs)"
    role = "" if v.role == "forward" else f" [{v.role}]"
    dtype = _dtype_text.get(v.dtype) or _dtype_text.setdefault(v.dtype, str(v.dtype))
    return f"# {label}({shown}) -> {fmt_shape(v.shape)} {dtype}{role}, built at {v.site}"


class _Callees:
    """One generated name per distinct callee (``_multiply``), bound in the namespace.

    Equal ops make equal callees, so a name also says which lines do the same thing:
    what loop rolling looks for, and fewer names for CPython to compile."""

    def __init__(self, namespace: dict, writer: Writer):
        self.namespace = namespace
        self.writer = writer
        self.names: dict = {}
        self.by_op: dict = {}  # id(op) -> name: every layer's Multiply() is one object
        self.suffix: dict = {}  # base name -> the last number given it: 10^4 distinct ops stay linear

    def of(self, op, backend, v: Variable) -> str:
        """The name of the callee for ``op``: a function it writes (a loop), else the backend's."""
        hit = self.by_op.get(id(op))
        if hit is None:
            fn = self.writer.callee(op, v)
            hit = self.by_op[id(op)] = self.name(backend.callee(op), op) if fn is None else self.bind(fn)
        return hit

    def bind(self, fn) -> str:
        """A function code generation wrote, under its own name (``_scan13`` for node 13)."""
        self.namespace[fn.__name__] = fn
        return fn.__name__

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
    with collector.paused():  # a schedule of 10^6 steps allocates millions of objects, none of them cyclic garbage
        return _generate(outputs, args, backend_of(backend), plan or Plan.build(outputs), loops)


def _generate(outputs, args, backend: Backend, plan: Plan, loops) -> Generated:
    namespace: dict = dict(getattr(backend, "namespace", {}))
    fixed, header, prelude = fixed_names(plan, args, namespace)
    writer = Writer(backend, loops)
    body, outs = _lines(plan, fixed, outputs, writer, namespace)
    copy = getattr(backend, "copy_output", None)  # absent where arrays are immutable (JAX)
    if copy is not None:
        aliased = aliased_outputs(outputs)
        if aliased:
            namespace["_copy"] = copy
            outs = [f"_copy({o})" if k in aliased else o for k, o in enumerate(outs)]
    generated = build(header, prelude, body, f"return ({', '.join(outs)},)", namespace)
    if writer.functions:  # the functions it calls that code generation wrote (loops), shown after it
        generated.source += "".join(f"\n\n{g.source}" for g in writer.functions)
    return generated


def aliased_outputs(outputs: list[Variable]) -> set[int]:
    """The positions of the outputs whose array would be a caller's input, a constant's
    own array, or another output's (the same node twice, or a view of it): a compiled
    function returns a copy there, so that writing into one result changes neither an
    input nor another result. PyTensor copies such outputs too (its ``DeepCopyOp``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,)); y = gc.exp(x)
        >>> sorted(aliased_outputs([x, y, y, y.T, y * 2.0]))
        [0, 2, 3]
    """
    roots: set[Variable] = set()
    aliased = set()
    for k, v in enumerate(outputs):
        while v.owner is not None and type(v.owner.op).view:
            v = v.owner.inputs[0]
        if v.owner is None or v in roots:
            aliased.add(k)
        roots.add(v)
    return aliased


def _lines(plan: Plan, fixed: dict, outputs, writer: Writer, namespace: dict, free: bool = True):
    """The lines computing ``outputs`` by ``plan`` (``fixed`` names its leaves), and the outputs' texts."""
    backend, loops = writer.backend, writer.loops
    callees = _Callees(namespace, writer)
    reusable = reusable_buffers(plan, backend)
    inline = getattr(backend, "expression", None)  # optional in the backend interface
    helpers = getattr(backend, "helpers", None)
    steps = []
    marks = [mark(k) for k in range(8)]
    templates: dict[str, str] = {}  # one string per distinct template: a million steps share a few hundred
    # id(op) -> (the op with its integers as slots, the integers, its label with slots, its label)
    slotted: dict[int, tuple] = {}
    for v, _, ins, dies in plan.steps:
        while len(marks) <= len(ins):
            marks.append(mark(len(marks)))
        op = v.owner.op
        refs, ints = ins, ()
        # the op with its integers as slots, so the line shows where they go (loop rolling moves them)
        known = slotted.get(id(op))
        if known is None:
            skeleton, numbers = int_slots(op)
            known = slotted[id(op)] = (skeleton, numbers, skeleton.label(), op.label() if numbers else None)
        skeleton, numbers, label, plain = known
        expr = inline(skeleton, v, marks[: len(ins)]) if inline is not None else None
        if expr is not None:
            ints = numbers
            if helpers is not None:
                namespace.update(helpers(op))
        else:
            label = plain or label  # a call shows no integer of the op: its label is the op's own
            call = ", ".join(marks[: len(ins)])
            if v in reusable:
                for d in dies:
                    if d in reusable and fits(d, v):  # write into a buffer that dies here: no allocation
                        call += f", out={marks[len(ins)]}"
                        refs = (*ins, d)
                        break
            expr = f"{callees.of(op, backend, v)}({call})"
        steps.append(Step(v, templates.setdefault(expr, expr), refs, dies, ints, templates.setdefault(label, label)))
    roll = len(steps) >= ROLL_FROM if loops is None else loops
    return emit(steps, fixed, outputs, comment, roll=roll, free=free)


class Writer:
    """What code generation offers an op that writes its own function
    (``Op.generated_callee``, a loop): its inner graph's lines, written with the
    same backend as every other line, and a function compiled from lines.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.runtime.backends.numpy import NumpyBackend
        >>> x = gc.Variable("x"); y = gc.exp(x) * 2.0
        >>> w = Writer(NumpyBackend(), None)
        >>> namespace = {}
        >>> lines, (out,) = w.lines([y], {x: "x"}, namespace)
        >>> g = w.function("def compiled(x):", lines, f"return {out}", namespace)
        >>> float(g.fn(0.0))
        2.0
    """

    def __init__(self, backend: Backend, loops: bool | None):
        self.backend = backend
        self.loops = loops
        self.functions: list[Generated] = []  # every function written, inner ones first

    def callee(self, op, v: Variable):
        """The function ``op`` writes for node ``v``, or None: a backend that overrides
        ``op``'s class (JAX's ``lax.scan`` for a loop) runs its own form instead."""
        override = getattr(self.backend, "override", None)
        if override is not None and override(op) is not None:
            return None
        return op.generated_callee(v, self)

    def lines(self, outputs: list[Variable], names: dict[Variable, str], namespace: dict):
        """The lines computing ``outputs`` (an inner graph) from its leaves, each input
        named by ``names`` (constants are bound in ``namespace``), and the outputs'
        texts; ``(text, info)`` pairs, ``info`` naming the node a line computes."""
        plan = Plan.build(outputs)
        fixed = dict(names)
        for c in plan.constants:
            fixed[c] = f"_c{c.id}"
            namespace[fixed[c]] = c.value
        missing = [v.label() for v in plan.inputs + plan.parameters if v not in fixed]
        if missing:
            raise GraphError(f"codegen: the inner graph reads {missing}, which have no names")
        return _lines(plan, fixed, outputs, self, namespace, free=False)

    def function(self, header: str, lines: list[tuple], ret: str, namespace: dict) -> Generated:
        """The function ``header`` + ``lines`` + ``ret`` compiled in ``namespace``,
        with its source and the map from its lines back to nodes."""
        generated = build(header, [], lines, ret, namespace)
        self.functions.append(generated)
        return generated


def fixed_names(plan: Plan, args: list[Variable], namespace: dict) -> tuple[dict, str, list]:
    """Names of the values that are not steps: arguments, constants (bound in the
    namespace), Parameters (read at each call, unless ``args`` lists them); the def
    line and the prelude.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> fixed, header, prelude = fixed_names(Plan.build([x * 2.0]), [x], {})
        >>> header, prelude
        ('def compiled(x):', [])
    """
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
        if p in fixed:  # passed in as an argument (a device backend carries its state that way)
            continue
        fixed[p] = f"_p{p.id}"
        namespace[f"_P{p.id}"] = p
        prelude.append(f"{fixed[p]} = _P{p.id}.value  # Parameter {p.label()}, its value at this call")
    return fixed, f"def compiled({', '.join(fixed[v] for v in args)}):", prelude


def _identifier(name: str, k: int, used: set[str]) -> str:
    ok = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") and name != "compiled"
    base = name if ok else f"input{k}"
    if base in used:
        base = f"{base}{k}"
    used.add(base)
    return base
