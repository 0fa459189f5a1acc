"""A graph used as one op: ``gc.op_from_graph`` (PyTensor's ``OpFromGraph``,
JAX's ``custom_vjp``).

An ``OpFromGraph`` node holds a closed inner graph (a ``Subgraph``: placeholder
inputs, one output, nothing else read from outside) and computes its output
from the node's inputs. Its gradient is the inner graph's own, built by
build_grad on the inner graph once and wrapped as one more ``OpFromGraph`` per
input (so a layer's gradient is one readable box too), or the user's
``bprop`` (``CustomGradient``). ``gc.compile`` inlines it (the ``inline`` pass,
``graphcomp/passes/inline.py``), so every rewrite sees the inner ops.

A custom gradient is code, which a saved file never holds: it is saved by
name and found again, on load, among the custom gradients this process has
defined (``CUSTOM_GRADIENTS``, filled by ``gc.op_from_graph(..., bprop=,
name=)``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import sys
import traceback
import types
from collections.abc import Callable

import numpy as np

from graphcomp.core import collector, provenance
from graphcomp.core.node import Variable, make_apply
from graphcomp.core.site import Site
from graphcomp.core.types import fmt_shape, is_differentiable_dtype
from graphcomp.errors import ArgumentError, BpropError, GraphError, ShapeError
from graphcomp.ops.base import Op, as_variable

__all__: list[str] = []  # the public builder is gc.op_from_graph (graphcomp/autodiff/composite.py)


class Subgraph:
    """A closed inner graph: ``inputs`` (placeholder input Variables), one
    ``output``, and the nodes between them, which read nothing else but
    constants. Immutable; compared by identity (two traces are two graphs).

    ``steps`` is its schedule (each op node, its op's forward, its inputs) and
    ``nodes`` every inner Variable in topological order, inputs first.

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a", (2,))
        >>> sub = Subgraph((a,), gc.exp(a) * 2.0)
        >>> sub.run([0.0, 0.0]).tolist(), len(sub.steps)
        ([2.0, 2.0], 2)
    """

    __slots__ = ("inputs", "output", "nodes", "steps", "constants", "_gradients", "__weakref__")

    def __init__(self, inputs: tuple[Variable, ...], output: Variable):
        self.inputs, self.output = tuple(inputs), output
        known = set(self.inputs)
        seen, stack, region = set(known), [output], []
        while stack:  # the nodes between the placeholders and the output, without recursion
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            region.append(v)
            if v.owner is not None:
                stack.extend(v.owner.inputs)
            elif v.kind != "constant":
                raise GraphError(
                    f"op_from_graph: the inner graph reads {v.label()} ({v.kind}, built at {v.site}), "
                    "which is neither one of its inputs nor a constant"
                )
        region.sort(key=lambda v: v.id)  # ids grow with creation: a topological order
        self.nodes = list(self.inputs) + region
        self.constants = [v for v in region if v.owner is None]
        self.steps = [(v, v.owner.op.forward, v.owner.inputs) for v in region if v.owner is not None]
        self._gradients = None

    def run(self, *arrays):
        """The output's value for the inputs' values (a small interpreter, as
        ``gc.evaluate`` runs a graph)."""
        env = dict(zip(self.inputs, arrays))
        for c in self.constants:
            env[c] = c.value
        for v, forward, ins in self.steps:
            env[v] = forward(*[env[i] for i in ins])
        return env[self.output]

    def gradients(self, title: str) -> list[Subgraph | None]:
        """The inner graph's gradient for each input, each a Subgraph over the inputs
        and one more placeholder ``G`` (the output's gradient); None where no gradient
        flows. Built once, by build_grad on the inner graph (Algorithm 6.6)."""
        if self._gradients is None:
            self._gradients = _inner_gradients(self, title)
        return self._gradients

    def __repr__(self) -> str:
        return f"<Subgraph {len(self.inputs)} input(s) -> {self.output.label()}, {len(self.steps)} op node(s)>"


def _inner_gradients(sub: Subgraph, title: str) -> list[Subgraph | None]:
    # build_grad lives above the op library; imported here, when a gradient is first asked for
    from graphcomp.autodiff.build_grad import GradState, build_grad, is_disconnected
    from graphcomp.autodiff.prune import prune
    from graphcomp.core.graph import Graph

    out = sub.output
    # the nodes are gradient nodes wherever the gradient is first asked for (inside jvp, too)
    with collector.paused(), provenance.building(site=None, grad_of=None, role="grad"):
        G = Variable(f"d{title}", out.shape, out.dtype)
        table, state = {out: G}, GradState()
        whole, pruned = Graph(out), prune(out, list(sub.inputs))
        grads: list[Subgraph | None] = []
        for p in sub.inputs:
            g = build_grad(p, whole, pruned, table, state=state) if is_differentiable_dtype(p.dtype) else None
            grads.append(None if g is None or is_disconnected(g) else Subgraph((*sub.inputs, G), g))
    return grads


@dataclasses.dataclass(frozen=True, eq=False)
class CustomGradient:
    """A user's gradient for an op_from_graph group: ``bprop(inputs, output, G) ->
    list`` (one gradient Variable or None per input, from graph ops), under the
    group's ``name``, by which a saved graph finds it again."""

    name: str
    bprop: Callable

    @property
    def qualname(self) -> str:
        """The function's module and qualified name, saved to check the one found on load."""
        fn = self.bprop
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"

    @property
    def defined_at(self) -> str:
        """Where the function was written (``file.py:LINE``; every lambda's qualname is
        ``<lambda>``, so this is what tells two apart), or ``"?"``."""
        code = _code_of(self.bprop)
        return "?" if code is None else str(Site((code.co_filename, code.co_firstlineno)))

    def describe(self) -> str:
        """The function's qualified name and where it was written, for messages."""
        return f"{self.qualname} (defined at {self.defined_at})"

    def fingerprint(self) -> dict:
        """What identifies the function beyond its name (``fingerprint``), computed now."""
        return fingerprint(self.bprop)


def _code_of(fn):
    """The code object a callable runs (a function's, a bound method's, a partial's
    function's, a callable object's ``__call__``), or None for a builtin."""
    for _ in range(8):  # partials of partials: a short chain, never a cycle
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif isinstance(fn, types.FunctionType):
            return fn.__code__
        elif callable(fn) and not isinstance(fn, (type, types.BuiltinFunctionType)):
            fn = type(fn).__call__
        else:
            return None
    return None


def _value_text(value, functions: list) -> str:
    """A closure cell's, default's or partial argument's value as fingerprint text: plain
    values by repr, arrays by their bytes' digest, functions queued to be fingerprinted
    too, anything else by its type (its state is not the function's code)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_value_text(v, functions) for v in value) + ")"
    if isinstance(value, np.ndarray):
        return (
            f"array{value.shape}{value.dtype.str}:{hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}"
        )
    if isinstance(value, np.generic):
        return repr(value.item())
    if _code_of(value) is not None and not isinstance(value, type):
        functions.append(value)
        return f"<function {getattr(value, '__qualname__', type(value).__qualname__)}>"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _const_text(c) -> str:
    # a frozenset's repr follows string hashing, which differs between processes: sorted
    if isinstance(c, frozenset):
        return "frozenset(" + ",".join(sorted(_const_text(v) for v in c)) + ")"
    if isinstance(c, tuple):
        return "(" + ",".join(_const_text(v) for v in c) + ")"
    return repr(c)


def fingerprint(fn: Callable) -> dict:
    """What a custom gradient computes, as digests a saved graph keeps to find the same
    function again on load: ``code`` hashes its bytecode, constants, names and argument
    names (and those of the functions it defines inside, the functions of its own
    module it calls, and the functions and plain values its closure and defaults
    hold); it is
    exact but belongs to one Python version (``python``). ``portable`` leaves the
    bytecode out, for files read by another Python version. Plain global values it
    reads (a module-level scale) count too; library functions and objects' state do not.

    Two functions written differently have different fingerprints (``G * 2.0`` and
    ``G / 2.0`` differ in their bytecode, ``G * 2.0`` and ``G * 3.0`` in a constant);
    the same source defined again (a notebook cell run twice) has the same one.

    Example:
        >>> a, b = fingerprint(lambda i, o, G: [G * 2.0]), fingerprint(lambda i, o, G: [G * 3.0])
        >>> a["code"] == b["code"], a == fingerprint(lambda i, o, G: [G * 2.0]), sorted(a)
        (False, True, ['code', 'portable', 'python'])
    """
    code_hash, portable_hash = hashlib.sha256(), hashlib.sha256()
    functions, seen_functions, seen_code = [fn], set(), set()
    while functions:  # the function, the functions it reaches, each once; no recursion
        f = functions.pop()
        if id(f) in seen_functions:
            continue
        seen_functions.add(id(f))
        parts = []
        if isinstance(f, functools.partial):
            parts.append(
                "partial" + _value_text(f.args, functions) + _value_text(sorted(f.keywords.items()), functions)
            )
            functions.append(f.func)
        code = _code_of(f)
        if code is None:
            parts.append(f"<builtin {getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', repr(f))}>")
        else:
            plain = inspect.unwrap(f) if isinstance(f, types.FunctionType) else None
            if plain is not None:
                cells = [c.cell_contents if _filled(c) else None for c in (plain.__closure__ or ())]
                parts.append(_value_text(tuple(cells), functions))
                parts.append(_value_text(plain.__defaults__ or (), functions))
                parts.append(_value_text(sorted((plain.__kwdefaults__ or {}).items()), functions))
                parts.extend(f"{n}={_value_text(v, functions)}" for n, v in _globals_read(plain, code))
            codes = [code]
            while codes:
                c = codes.pop()
                if id(c) in seen_code:
                    continue
                seen_code.add(id(c))
                names = (c.co_argcount, c.co_kwonlyargcount, c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars)
                consts = ",".join(_const_text(k) for k in c.co_consts if not isinstance(k, types.CodeType))
                parts.append(f"{names!r}|{consts}")
                code_hash.update(c.co_code)
                codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        text = "\n".join(parts).encode()
        code_hash.update(text)
        portable_hash.update(text)
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "code": code_hash.hexdigest()[:32],
        "portable": portable_hash.hexdigest()[:32],
    }


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell (a name bound later) raises
    except ValueError:
        return False
    return True


_PLAIN = (bool, int, float, complex, str, bytes, tuple, np.ndarray, np.generic)


def _globals_read(fn: types.FunctionType, code: types.CodeType) -> list[tuple[str, object]]:
    """The globals fn's code (nested code included) reads that are part of what it
    computes: functions of its own module (a helper the bprop calls) and plain values
    (a module-level scale). Library functions (``gc.minimum``, ``np.clip``) and
    modules are not walked."""
    names, codes = set(), [code]
    while codes:
        c = codes.pop()
        names.update(c.co_names)
        codes.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    found = []
    for n in sorted(names):
        g = fn.__globals__.get(n)
        if (isinstance(g, types.FunctionType) and g.__module__ == fn.__module__) or isinstance(g, _PLAIN):
            found.append((n, g))
    return found


#: the custom gradients this process has defined, by group name: where ``gc.load`` finds them
CUSTOM_GRADIENTS: dict[str, CustomGradient] = {}


def register_gradient(name: str, bprop: Callable) -> CustomGradient:
    """Record ``bprop`` as group ``name``'s custom gradient (a later definition under
    the same name replaces it, as re-running a notebook cell does; ``gc.save`` refuses
    a graph holding two different custom gradients under one name, and ``gc.load``
    one whose saved gradient is not the function defined now, by ``fingerprint``).

    ``bprop`` must take three positional arguments ``(inputs, output, G)``; another
    signature raises ``gc.ArgumentError`` here, naming the function and its line.

    Example:
        >>> register_gradient("doubled", lambda inputs, output, G: [G * 2.0]).name
        'doubled'
    """
    if not callable(bprop):
        raise ArgumentError(f"op_from_graph: bprop must be callable, got {bprop!r}")
    grad = CustomGradient(name, bprop)
    try:
        signature = inspect.signature(bprop)
    except (TypeError, ValueError):  # a builtin without a signature: its first call will say
        signature = None
    if signature is not None:
        try:
            signature.bind(None, None, None)
        except TypeError as e:
            raise ArgumentError(
                f"op_from_graph {name!r}: the custom bprop {grad.describe()} must take three arguments "
                f"(inputs, output, G), as bprop(inputs, output, G) -> list; it is {_shown(bprop)}{signature} ({e})"
            ) from None
    CUSTOM_GRADIENTS[name] = grad
    return grad


def _shown(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


@dataclasses.dataclass(frozen=True)
class OpFromGraph(Op):
    """``graph`` as one op, shown as ``title``: the node's inputs are bound to the
    inner graph's placeholders, in order. Its gradient is the inner graph's own,
    or ``custom``'s (a ``CustomGradient``)."""

    name, foldable = "op_from_graph", True
    title: str
    graph: Subgraph
    custom: CustomGradient | None = None

    def infer(self, *inputs):
        ins = self.graph.inputs
        if len(inputs) != len(ins):
            raise ArgumentError(f"{self.title}: takes {len(ins)} input(s), got {len(inputs)}")
        for k, (i, p) in enumerate(zip(inputs, ins)):
            if i.shape != p.shape or i.dtype != p.dtype:
                raise ShapeError(
                    f"{self.title}: input {k} ({i.label()}) is {fmt_shape(i.shape)} {i.dtype}, but the inner "
                    f"graph was built for {fmt_shape(p.shape)} {p.dtype}"
                )
        return self.graph.output.shape, self.graph.output.dtype

    def forward(self, *arrays):
        return self.graph.run(*arrays)

    def bprop(self, inputs, output, G):
        if self.custom is not None:
            return self._custom(inputs, output, G)
        out = []
        for sub, p in zip(self.graph.gradients(self.title), self.graph.inputs):
            out.append(None if sub is None else OpFromGraph(f"grad({self.title}, {p.label()})", sub)(*inputs, G))
        return out

    def _custom(self, inputs, output, G):
        try:
            grads = self.custom.bprop(list(inputs), output, G)
        except Exception as e:
            new = self._failed(e, output)
            if new is e:
                raise
            raise new from e
        if not isinstance(grads, (list, tuple)) or len(grads) != len(inputs):
            raise BpropError(
                f"{self.title}: the custom bprop {self.custom.describe()} must return a list of {len(inputs)} "
                f"gradient(s) (a Variable or None per input), got {type(grads).__name__}"
                + (f" of length {len(grads)}" if isinstance(grads, (list, tuple)) else "")
                + f"; the group was built at {output.site}"
            )
        out = []
        for k, g in enumerate(grads):
            try:
                out.append(None if g is None else as_variable(g))
            except GraphError as e:
                raise BpropError(
                    f"{self.title}: the custom bprop {self.custom.describe()} returned {type(g).__name__} as the "
                    f"gradient of input {k}, which is not a Variable or an array ({e}); the group was built at "
                    f"{output.site}"
                ) from None
        return out

    def _failed(self, e: Exception, output: Variable) -> Exception:
        """The exception a custom bprop raised, said again naming the group, the function
        and the bprop's line that raised it (a graphcomp error keeps its class, so
        ``except gc.ShapeError`` still catches it; any other becomes a BpropError)."""
        code = _code_of(self.custom.bprop)
        line = None
        for frame, lineno in traceback.walk_tb(e.__traceback__):
            if code is not None and frame.f_code is code:
                line = Site((frame.f_code.co_filename, lineno))
        where = f" at {line}" if line is not None else ""
        text = (
            f"{self.title}: the custom bprop {self.custom.describe()} raised {type(e).__name__}{where}: {e}; "
            f"the group was built at {output.site}"
        )
        if isinstance(e, GraphError):
            try:
                new = type(e)(text)
            except TypeError:  # an error class with a signature of its own
                return e
            new.site = e.site
            return new
        return BpropError(text)

    def label(self) -> str:
        return self.title

    def short_label(self) -> str:
        return self.title

    def inner(self) -> tuple[tuple[Variable, ...], Variable]:
        return self.graph.inputs, self.graph.output

    def flops(self, v, shape_of) -> int:
        # the inner ops' own estimates, at the inner graph's static shapes
        return sum(n.owner.op.flops(n, lambda u: u.shape) for n, _, _ in self.graph.steps)

    def __repr__(self) -> str:
        return f"OpFromGraph({self.title!r}, {self.graph!r}{', custom bprop' if self.custom else ''})"


def instantiate(op: OpFromGraph, inputs: tuple[Variable, ...], built: tuple) -> Variable:
    """``op``'s inner graph copied onto ``inputs`` (its placeholders replaced by
    them), every copy built with the provenance ``built`` but its own site: what
    inlining puts in place of the node.

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a")
        >>> op = OpFromGraph("twice", Subgraph((a,), a * 2.0))
        >>> x = gc.Variable("x")
        >>> y = instantiate(op, (x,), provenance.of(x))
        >>> y.owner.op.name, y.owner.inputs[0] is x
        ('multiply', True)
    """
    sub = op.graph
    new = dict(zip(sub.inputs, inputs))
    _, grad_of, role = built
    for v, _, ins in sub.steps:
        new[v] = make_apply(v.owner.op, tuple(new.get(i, i) for i in ins), v.shape, v.dtype, v.name,
                            built=(v.site, grad_of, role))  # fmt: skip
    return new.get(sub.output, sub.output)
