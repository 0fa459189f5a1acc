"""Whole-function Numba compilation: the Numba backend's mode in which the
compiled graph is ONE ``numba.njit`` function, so a call is one native call
(PyTensor's Numba linker does the same).

``gc.compile(..., backend="numba")`` takes this mode whenever every node of the
optimised graph has a Numba form (``whole=None``, the default), or on demand
(``whole=True``: a graph it cannot take then warns); ``whole=False`` keeps the
per-op mode (NumPy calls and fused ufunc kernels). ``f.whole`` says which mode
a Function runs in, ``f.whole_reason`` why it is not whole (one line: the
first node without a form, or Numba's own refusal).

The generated module is plain text, one line (or loop nest) per node with the
node as a comment above it, as the NumPy code is: each op's Numba form comes
from ``forms.py`` (keyed by op class) or, for elementwise ops, from the op's own
scalar form; connected elementwise nodes are one loop nest, computed inside a
one-pass reduction's loops where only that reduction reads them
(``groups.py``). The Python wrapper around the native function keeps the input
checks (``gc.compile``'s own), passes array constants and Parameters' values
as arguments, and gives 0-d results NumPy's scalar types. An error inside the
native function (a label out of range, shapes that do not broadcast) makes
the wrapper run the NumPy code instead, which raises the error naming the
node, as the NumPy backend does, or computes the answer NumPy would.

Compiled code is cached on disk (``cache.py``): the module is written to a
file named by a hash of its text (the graph's ops, shapes, dtypes and 0-d
constants, the Numba version and the scalar helpers' sources), and Numba's
``cache=True`` keeps the machine code beside it, so another process compiling
the same graph loads it instead of compiling it again; a changed graph has a
different text, hence a different file.
"""

from __future__ import annotations

import importlib
import keyword
import time
import warnings
from typing import NamedTuple

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import consumers_map
from graphcomp.runtime.backends.numba_whole.cache import cache_dir, load
from graphcomp.runtime.backends.numba_whole.code import (
    ArrayElements,
    Code,
    Unsupported,
    Val,
    dtype_text,
    index_text,
    scalar_literal,
)
from graphcomp.runtime.backends.numba_whole.forms import NO_FORM, ONE_PASS, Node, form_of
from graphcomp.runtime.backends.numba_whole.groups import (
    GroupElements,
    check_dtypes,
    constant_text,
    groups,
    is_elementwise,
    scalar_expression,
)
from graphcomp.runtime.backends.numba_whole.reduce import shape_tuple
from graphcomp.runtime.codegen import aliased_outputs, comment
from graphcomp.runtime.schedule import Plan

__all__ = [
    "compile_whole", "whole_source", "WholeFunction", "WholeInfo", "cache_dir", "reason_for", "MAX_LINES",
    "MAX_LINES_REQUIRED",
]  # fmt: skip

#: ``whole=None`` takes the per-op mode for a function longer than this: Numba's compile time grows
#: faster than the function's length (LLVM optimises it as one function): measured on the 2-core VM,
#: about 2 s at 100 lines, 10 s at 750, 35 s at 1500, 3.5 minutes at 2900
MAX_LINES = 500
#: ``whole=True`` refuses a longer function: compiling it takes many minutes, and near 9000 lines
#: Numba's type inference overflows Python's recursion limit after that long
MAX_LINES_REQUIRED = 3000


def reason_for(plan: Plan) -> str | None:
    """Why the graph scheduled by ``plan`` cannot be one Numba function (the first
    node without a form), or None.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> reason_for(Plan.build([gc.exp(x).sum()])) is None
        True
    """
    for step in plan.steps:
        v = step[0]
        op = v.owner.op
        try:
            if is_elementwise(v):
                check_dtypes(v)
                continue
        except Unsupported as e:
            return str(e)
        if form_of(op) is None:
            why = next((NO_FORM[c] for c in type(op).__mro__ if c in NO_FORM), "it has no whole-function Numba form")
            return f"{op.label()}: {why}"
    for x in plan.inputs + plan.parameters + plan.constants:
        if x.dtype.kind not in "biuf" or x.dtype == np.dtype(np.float16):
            return f"{x.label()} is {x.dtype}, which the whole-function code does not take"
    return None


class _Writer:
    """Writes the whole function's text for one plan."""

    def __init__(self, outputs: list[Variable], args: list[Variable], plan: Plan):
        self.outputs, self.args, self.plan = outputs, args, plan
        self.code = Code()
        self.values: dict[Variable, Val] = {}
        self.params: list[str] = []  # the native function's parameters, in order
        self.feeds: list[tuple[str, object]] = []  # after the inputs: ("constant", array) or ("parameter", p)

    def write(self) -> str:
        used: set[str] = set()
        for k, v in enumerate(self.args):
            self._leaf(v, _identifier(v.name, k, used))
        # names by position, not by node id: the same graph built in another process (or after
        # other graphs) writes the same text, hence finds the same disk cache entry
        for k, c in enumerate(self.plan.constants):
            if c.shape == ():
                self.values[c] = Val(scalar_literal(c.value, c.dtype), (), c.dtype)
            else:
                self._leaf(c, f"_c{k}")
                self.feeds.append(("constant", np.ascontiguousarray(c.value)))
        for k, p in enumerate(self.plan.parameters):
            self._leaf(p, f"_p{k}")
            self.feeds.append(("parameter", p))
        self._body()
        outs = [self.values[v].text for v in self.outputs]
        self.code.add(f"return ({', '.join(outs)},)")
        header = f"def compiled({', '.join(self.params)}):"
        return "\n".join([header, *self.code.lines]) + "\n"

    def _leaf(self, v: Variable, name: str) -> None:
        if v.shape == ():
            self.params.append(f"{name}_0d")
            self.code.add(f"{name} = {name}_0d[()]")
        else:
            self.params.append(name)
        self.values[v] = Val.of(name, v)

    def _body(self) -> None:
        steps = [s[0] for s in self.plan.steps]
        consumers = consumers_map(self.plan.order)
        outputs = set(self.outputs)
        root_of = groups(steps, consumers, outputs)
        members: dict[Variable, list[Variable]] = {}
        for v in steps:
            if v in root_of:
                members.setdefault(root_of[v], []).append(v)
        absorbed: dict[Variable, Variable] = {}  # a reduction -> the group root computed in its loops
        for root in members:
            readers = consumers.get(root, ())
            if root in outputs or len(readers) != 1:
                continue
            (reader,) = readers
            if isinstance(reader.owner.op, ONE_PASS) and reader.owner.inputs[0] is root:
                if root not in reader.owner.inputs[1:]:
                    absorbed[reader] = root
        inside = set(absorbed.values())
        for v in steps:
            if v in root_of and (root_of[v] is not v or v in inside):
                continue  # written with its group's root, or in the reduction that reads it
            self._node(v, members.get(v), absorbed.get(v), members)

    def _node(self, v: Variable, group, absorbed_root, members) -> None:
        code = self.code
        ins = [self.values.get(x) or Val.of(f"<{x.label()}, computed in the loops below>", x) for x in v.owner.inputs]
        op = v.owner.op
        code.add(comment(v, [x.text for x in ins], op.label()))
        name = f"_v{len(self.values)}"
        self.values[v] = Val.of(name, v)
        if group is not None:
            self._group(name, v, group)
            return
        if not v.shape and is_elementwise(v):
            args = [constant_text(x) or val.text for x, val in zip(v.owner.inputs, ins)]
            code.add(f"{name} = {scalar_expression(op, v, args, code)}")
            return
        if absorbed_root is not None:
            source = GroupElements(absorbed_root, members[absorbed_root], self.values)
        else:
            source = ArrayElements(ins[0]) if ins else None
        form_of(op)(Node(v, ins, code, name, source))

    def _group(self, name: str, root: Variable, group: list[Variable]) -> None:
        code = self.code
        src = GroupElements(root, group, self.values)
        dims = src.prepare(code)
        code.add(f"{name} = np.empty({shape_tuple(dims)}, {dtype_text(root.dtype)})")
        idx, loops = code.loops(dims)
        with loops:
            e = src.element(code, idx)
            code.add(f"{index_text(name, idx)} = {e}")


def _identifier(name: str, k: int, used: set[str]) -> str:
    ok = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
    base = name if ok and name not in ("compiled", "np", "math", "njit") else f"input{k}"
    if base in used:
        base = f"{base}{k}"
    used.add(base)
    return base


def whole_source(outputs: list[Variable], args: list[Variable], plan: Plan | None = None) -> tuple[str, dict, list]:
    """The text of the native function for ``outputs`` from ``args``, the scalar
    helpers it calls, and what it takes after the inputs (array constants,
    Parameters). Raises ``Unsupported`` with the reason where a node has no form.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> text, helpers, feeds = whole_source([gc.exp(x * 2.0)], [x])
        >>> print(text.splitlines()[0])
        def compiled(x):
    """
    plan = plan or Plan.build(outputs)
    reason = reason_for(plan)
    if reason is not None:
        raise Unsupported(reason)
    writer = _Writer(outputs, args, plan)
    return writer.write(), writer.code.helpers, writer.feeds


class WholeInfo(NamedTuple):
    """How a whole function was compiled: its module file, whether its machine code came
    from a cache (the disk's, or this process's), the seconds Numba took, its length."""

    path: str
    cached: bool
    seconds: float
    lines: int


class WholeFunction:
    """A compiled graph as one native function, behind the Python wrapper that
    ``Function`` calls (``fn``), with the generated text (``source``) and ``info``
    (a ``WholeInfo``)."""

    def __init__(self, native, source: str, info: WholeInfo, feeds, outputs, numpy_code):
        self.native = native
        self.source = source
        self.info = info
        self._numpy_code = numpy_code  # builds the NumPy code on first need
        self._numpy = None
        self.fn = self._wrapper(feeds, outputs)

    def _wrapper(self, feeds, outputs):
        namespace = {"_native": self.native, "_again": self.again}
        extra = []
        for k, (kind, value) in enumerate(feeds):
            namespace[f"_f{k}"] = value
            extra.append(f"_f{k}" if kind == "constant" else f"_f{k}.value")
        scalars = [k for k, v in enumerate(outputs) if v.shape == ()]
        aliased = aliased_outputs(outputs) - set(scalars)  # the native code returns such an array itself
        if scalars or aliased:
            for k in scalars:
                namespace[f"_t{k}"] = outputs[k].dtype.type
            namespace["_copy"] = np.array

            def item(k):
                return f"_t{k}(r[{k}])" if k in scalars else f"_copy(r[{k}])" if k in aliased else f"r[{k}]"

            result = f"({', '.join(item(k) for k in range(len(outputs)))},)"
        else:
            result = "r"
        text = (
            "def run(*args):\n"
            "    try:\n"
            f"        r = _native(*args{''.join(', ' + e for e in extra)})\n"
            "    except Exception:\n"
            "        return _again(args)\n"
            f"    return {result}\n"
        )
        self.extra = extra
        exec(compile(text, "<graphcomp-whole-wrapper>", "exec"), namespace)  # our own generated text
        return namespace["run"]

    def again(self, args):
        """After an error in the native function: once more with contiguous copies of the
        arguments (Numba's signature takes C-contiguous arrays), else the NumPy code."""
        # a C-contiguous copy of what is not (np.ascontiguousarray would make a 0-d value 1-d)
        fixed = [np.array(a, order="C") if isinstance(a, np.ndarray) and not a.flags.c_contiguous else a for a in args]
        if any(f is not a for f, a in zip(fixed, args)):
            return self.fn(*fixed)
        return self.numpy().fn(*args)

    def numpy(self):
        if self._numpy is None:
            self._numpy = self._numpy_code()
        return self._numpy

    def failure(self, error: BaseException):
        """The error naming the node, for an exception the NumPy code raised."""
        return None if self._numpy is None else self._numpy.failure(error)


def compile_whole(outputs: list[Variable], args: list[Variable], plan: Plan, numpy_code, required: bool = False):
    """The graph as one native function: ``(WholeFunction, None)``, or ``(None, reason)``
    where it cannot be, where its text is longer than ``MAX_LINES_REQUIRED``, or, unless
    ``required``, longer than ``MAX_LINES``. ``numpy_code()`` builds the NumPy code that runs after an error."""
    try:
        source, helpers, feeds = whole_source(outputs, args, plan)
    except Unsupported as e:
        return None, str(e)
    except Exception as e:  # a form that met a node it did not expect: run op by op, and say so
        return None, f"graphcomp could not write the whole function: {type(e).__name__}: {e}"
    lines = source.count("\n")
    if lines > MAX_LINES_REQUIRED:
        return None, (
            f"the whole function would be {lines} lines (more than {MAX_LINES_REQUIRED}), which Numba "
            "takes many minutes to compile, if it can"
        )
    if lines > MAX_LINES and not required:
        return None, (
            f"the whole function would be {lines} lines (more than {MAX_LINES}), which Numba compiles slowly "
            "(seconds per hundred lines); compile(..., whole=True) compiles it anyway"
        )
    numba = importlib.import_module("numba")
    types = [_arg_type(numba, v) for v in args]
    for kind, value in feeds:
        arr = value if kind == "constant" else value.value
        types.append(_arg_type(numba, arr))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            native, path, cached = load(source, helpers, tuple(types))
    except Exception as e:  # Numba's refusal: its first line is the reason
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None, f"Numba could not compile the whole function: {type(e).__name__}: {first}"
    info = WholeInfo(path, cached, time.perf_counter() - start, lines)
    return WholeFunction(native, source, info, feeds, outputs, numpy_code), None


def _arg_type(numba, v):
    """A read-only C-contiguous array of the value's dtype and dimensions (what Numba's
    signature takes; writable arrays convert to it)."""
    dtype, ndim = np.dtype(v.dtype), len(v.shape)
    return numba.types.Array(numba.from_dtype(dtype), ndim, "C", readonly=True)
