"""``gc.compile``: optimise a graph once, then call it many times.

The user's graph is never changed: the passes build a new one (``f.graph``),
from which one straight-line Python function is generated (``f.source``),
repeated blocks of lines written as loops.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from graphcomp.core import collector
from graphcomp.core.graph import Graph
from graphcomp.core.node import Parameter, Variable
from graphcomp.core.site import creation_site
from graphcomp.core.traverse import as_variable_list
from graphcomp.core.types import as_bool, fmt_shape, shapes_compatible
from graphcomp.errors import ArgumentError, DTypeError, InputError, ShapeError, SignatureError
from graphcomp.ops.base import weak_constant
from graphcomp.ops.loops.scope import placeholder_of
from graphcomp.passes.pipeline import check_pass_names, optimize, pass_names
from graphcomp.runtime.backends import backend as backend_of
from graphcomp.runtime.codegen import generate
from graphcomp.runtime.evaluate import run_plan
from graphcomp.runtime.feed import check_value, missing_input_message
from graphcomp.runtime.scalar import generate_scalar
from graphcomp.runtime.schedule import Plan
from graphcomp.runtime.state import held, is_frozen, state_updates

__all__ = ["Function", "compile"]


class Function:
    """A compiled graph: call it with input values, positionally or by name.

    ``f.inputs`` is the positional order, ``f.outputs`` the outputs,
    ``f.graph`` the (optimised) graph for inspection, ``f.rewrites`` the
    rewrite rules that fired while optimising: ``(rule, node before, node after)``.
    ``f.whole`` is True when the graph runs as one native function (the Numba
    backend's whole-function mode), ``f.whole_reason`` says why not where that
    mode was tried (None otherwise), ``f.whole_info`` how it was compiled (its
    file, whether it came from the disk cache, seconds, lines; None when not whole).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> f = gc.compile(x.sum() * 2.0)
        >>> float(f([1.0, 2.0])), float(f(x=[3.0, 4.0])), f.inputs == [x]
        (6.0, 14.0, True)
    """

    def __init__(
        self,
        outputs: list[Variable],
        single: bool,
        inputs: list[Variable],
        check_finite: bool = False,
        updates: list[tuple[Variable, Variable]] = (),
        passes: Iterable[str] | None = None,
        verify_passes: bool = False,
        backend=None,
        loops: bool | None = None,
        shard: Mapping | None = None,
        whole: bool | None = False,
    ):
        self.outputs = outputs
        self.backend = backend = backend_of(backend)
        self.check_finite = check_finite
        self.inputs = inputs
        self.updates = list(updates)
        self.rewrites: list = []
        self._single = single
        if passes is not None:
            check_pass_names(passes, backend.passes)
        skip = set() if passes is None else set(pass_names() + list(backend.passes)) - set(passes)
        if check_finite:
            # the guard must see the values the user's graph makes: no rewrite that
            # could drop a NaN or Inf (x * 0 -> 0) or compute it elsewhere
            skip |= {"constant-fold", "simplify", "stabilize"} | set(backend.passes)
        roots = outputs + [new for _, new in self.updates]
        # one pause over every phase: between two of them Python's cyclic collector would
        # sweep the whole graph (seconds for a million nodes) and free nothing
        with collector.paused():
            optimized = optimize(roots, skip=skip, check=verify_passes, extra=backend.passes, log=self.rewrites)
            plan = Plan.build(optimized)  # one schedule serves f.graph, the checked loop and both code generators
            if hasattr(backend, "check"):
                backend.check(s[0].owner.op for s in plan.steps)
            self.graph = Graph.of_order(optimized, plan.order)
            needed = set(plan.inputs)
            self._needed = [v in needed for v in inputs]
            self._args = [v for v in inputs if v in needed]
            # a backend that keeps values on a device (JAX) runs the code itself, Parameters as arguments
            device = getattr(backend, "device_function", None)
            if shard and device is None:
                raise ArgumentError(
                    f"compile: shard splits inputs over devices, which backend {backend.name!r} does not run on; "
                    "use backend='jax'"
                )
            params = plan.parameters if device is not None else []
            self.whole, self.whole_reason, self.whole_info = False, None, None
            self._generated = (
                self._whole(optimized, plan, backend, whole, check_finite, loops) if device is None else None
            )
            if self._generated is None:
                self._generated = generate(optimized, self._args + params, backend=backend, plan=plan, loops=loops)
            self._device = None
            if device is not None:
                n = len(outputs)
                self._device = device(self._generated, plan, self._args, params, n, self.updates, shard or {})
            self._plan = plan if check_finite else None
            # all-scalar float graphs also get Python-float code, tried first on Python-float arguments
            scalar = not check_finite and len(self._args) == len(inputs) and self._device is None
            # a device backend's all-scalar float64 graph takes Python floats without the full input checks
            self._device_floats = (
                self._device is not None
                and not check_finite
                and len(self._args) == len(inputs)
                and all(v.shape == () and v.dtype == np.float64 for v in inputs)
            )
            self._scalar = generate_scalar(optimized, inputs, plan=plan, loops=loops) if scalar else None
        self._by_name: dict[str, list[int]] = {}
        for k, v in enumerate(inputs):
            self._by_name.setdefault(v.name, []).append(k)
        # the common call, every input an ndarray already of its Variable's dtype and shape,
        # is checked by comparing shapes with these patterns (None: any size) and nothing else
        self._fast = None
        if len(self._args) == len(inputs) and self._plan is None:
            self._fast = [(v.dtype, v.shape, None in v.shape) for v in inputs]

    def _whole(self, optimized, plan, backend, whole, check_finite, loops):
        """The whole-function code where the backend has that mode and the graph
        qualifies, else None (``self.whole_reason`` says why)."""
        make = getattr(backend, "whole_function", None)
        if whole is False or make is None:
            return None
        if check_finite:
            self.whole_reason = "check_finite runs the graph node by node"
            generated = None
        elif loops and whole is None:
            self.whole_reason = "loops=True rolls repeated lines into Python loops, which the native function has not"
            generated = None
        else:
            args = self._args

            def numpy_code():  # what runs after an error in the native code: NumPy's, naming the node
                return generate(optimized, args, backend="numpy", plan=plan, loops=loops)

            generated, self.whole_reason = make(optimized, args, plan, numpy_code, required=bool(whole))
        self.whole = generated is not None
        self.whole_info = getattr(generated, "info", None)
        if whole and not self.whole:
            site = creation_site()  # the user's gc.compile line, as optim's warnings do
            warnings.warn_explicit(
                f"compile: the graph runs op by op, not as one native function: {self.whole_reason}",
                RuntimeWarning,
                site.filename,
                site.line,
            )
        return generated

    @property
    def source(self) -> str:
        """The generated Python, one line per node with the node as a comment, a
        repeated block as one loop (for an all-scalar graph, the Python-float
        version tried first)."""
        return (self._scalar or self._generated).source

    def __call__(self, *args, **kwargs):
        if self._device_floats and not kwargs and len(args) == len(self._args):
            floats = _as_floats(args)
            if floats is not None:
                return self._finish(self._device([np.float64(a) for a in floats]))
        if self._scalar is not None and not kwargs and len(args) == len(self._args):
            floats = _as_floats(args)
            if floats is not None:
                try:
                    out = self._scalar.fn(*floats)
                except (ArithmeticError, ValueError):
                    pass  # math refuses what NumPy answers with inf or nan: use the NumPy code
                else:
                    if not self.updates:
                        return out[0] if self._single else list(out)
                    return self._finish(out)
        if self._fast is not None and not kwargs and len(args) == len(self._fast) and self._all_ready(args):
            out = self._run_generated(args)
            return self._finish(out) if self.updates else (out[0] if self._single else list(out))
        if len(args) > len(self.inputs):
            raise SignatureError(
                f"this function takes {len(self.inputs)} positional input(s) "
                f"({', '.join(v.label() for v in self.inputs)}), got {len(args)}"
            )
        values = list(args) + [_MISSING] * (len(self.inputs) - len(args))
        for name, value in kwargs.items():
            slots = self._by_name.get(name)
            if not slots:
                raise SignatureError(f"unexpected keyword argument {name!r}; the inputs are {self._names()}")
            if len(slots) > 1:
                raise SignatureError(f"the keyword {name!r} names {len(slots)} inputs; pass them positionally")
            if values[slots[0]] is not _MISSING:
                raise SignatureError(f"input {name!r} was given twice (positionally and by keyword)")
            values[slots[0]] = value
        checked = []
        for var, value, needed in zip(self.inputs, values, self._needed):
            if not needed:
                continue
            if value is _MISSING:
                raise SignatureError(missing_input_message(var))
            if self._device is not None and self._device.accepts(var, value):
                checked.append(value)  # already on the device, of the right dtype and shape
                continue
            checked.append(check_value(var, value))
        if self._plan is not None:
            out = run_plan(self._plan, dict(zip(self._args, checked)), check_finite=True)
        else:
            out = self._run_generated(checked)
        return self._finish(out)

    def _run_generated(self, args):
        """Call the generated function; an exception inside it names the failing node."""
        if self._device is not None:
            return self._device(args)  # it stores the updated Parameters itself
        try:
            return self._generated.fn(*args)
        except Exception as e:
            failure = self._generated.failure(e)
            if failure is None:
                raise
            raise failure from e

    def _all_ready(self, args) -> bool:
        for a, (dtype, shape, unknown) in zip(args, self._fast):
            if type(a) is not np.ndarray or a.dtype != dtype:
                return False
            if a.shape != shape and not (unknown and shapes_compatible(shape, a.shape)):
                return False
        return True

    def _finish(self, out):
        if self.updates:
            # every new value was computed from the old ones; only now assign them all
            n = len(self.outputs)
            for (param, new), value in zip(self.updates, out[n:]):
                if np.shape(value) != param.shape:  # all checked first: a refused update assigns none
                    raise InputError(
                        f"compile: the update of Parameter {param.label()!r} (built at {new.site}) has shape "
                        f"{fmt_shape(np.shape(value))} in this call, but the Parameter's shape is "
                        f"{fmt_shape(param.shape)}; no Parameter was updated"
                    )
            for (param, _), value in zip(self.updates, out[n:]):
                param.set_value(value)
            out = out[:n]
        return out[0] if self._single else list(out)

    def _names(self) -> str:
        return ", ".join(repr(v.name) for v in self.inputs)

    def __repr__(self) -> str:
        outs = ", ".join(v.label() for v in self.outputs)
        return f"<graphcomp.Function ({self._names()}) -> [{outs}]>"


#: scalar types that hold a float64 value exactly, so the Python-float code computes with them what
#: the NumPy code would after the input check's safe cast (np.float32 and np.float16 widen exactly)
_EXACT_FLOATS = frozenset({float, np.float64, np.float32, np.float16})


def _as_floats(args) -> list[float] | None:
    """The arguments as Python floats when each is a float scalar, a 0-d float array or an
    int that a float64 holds exactly (what the input check would accept and convert without
    loss), else None: the NumPy path then checks them and says what is wrong.

    Example:
        >>> _as_floats([2.0, np.float32(0.5), np.array(3.0), 4]), _as_floats([np.ones(2)])
        ([2.0, 0.5, 3.0, 4.0], None)
    """
    out = []
    for a in args:
        kind = type(a)
        if kind is float:
            out.append(a)
        elif kind in _EXACT_FLOATS or (kind is int and -(2**53) <= a <= 2**53):
            out.append(float(a))
        elif kind is np.ndarray and a.ndim == 0 and a.dtype.type in _EXACT_FLOATS:
            out.append(float(a))
        else:
            return None
    return out


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def compile(  # noqa: A001
    outputs: Variable | Sequence[Variable],
    inputs: Sequence[Variable] | None = None,
    *,
    updates: Mapping | None = None,
    check_finite: bool = False,
    passes: Iterable[str] | None = None,
    verify_passes: bool = False,
    backend=None,
    loops: bool | None = None,
    shard: Mapping | None = None,
    whole: bool | None = False,
) -> Function:
    """Prepare ``outputs`` to be run many times; returns a callable Function.

    ``inputs`` fixes the positional order (default: the graph's inputs in
    creation order); keyword arguments are taken by Variable name. Listed
    inputs the outputs do not need are accepted and ignored. ``updates``
    maps Parameters to new values: each call computes every new value from
    the old ones, then assigns them all. Each new value must have its
    Parameter's shape (checked here where known, and before anything is
    assigned where unknown dimensions leave it to the call) and a dtype that
    casts to the Parameter's without loss (NumPy's "safe" casting, as fed
    values): a float64 update of a float32 Parameter is a DTypeError (compute
    it in float32, or ``gc.cast`` it), while a Python number, or a list of
    them, takes the Parameter's dtype (``{w: 0.0}`` for a float32 ``w``). With
    ``check_finite=True`` each call stops at the first node whose output
    holds NaN or Inf (see ``gc.evaluate``); it then runs only the passes that
    keep every value as the user's graph makes it. ``passes`` names the rewrite passes
    to run (default: all; see ``graphcomp.passes.pipeline.pass_names()``), so
    each pass's effect can be seen in ``f.graph`` and ``f.source``;
    ``verify_passes`` checks the graph after every pass. ``backend`` is
    ``"numpy"`` (the default), ``"numba"`` (fuses elementwise chains into
    compiled loops; needs the ``numba`` extra) or a backend object (see
    ``graphcomp.runtime.backends``); ``"jax"`` writes ``jax.numpy`` code that
    ``jax.jit`` compiles for any device JAX sees (needs the ``jax`` extra; see
    ``graphcomp.runtime.backends.jax``). ``shard={x: "batch", ...}`` (JAX only) splits
    those inputs along their leading axis over all the devices JAX sees, replicates
    everything else, and XLA combines the gradients: data parallelism, each call one
    step of the whole batch. ``loops=True`` writes a block of
    lines that repeats (an unrolled chain of layers and its gradient) as one
    ``for`` loop, ``False`` never does; the default rolls schedules of 2000 nodes
    or more, where straight-line code stops being readable and CPython's compiler
    dominates the compile time. A graph that draws random numbers
    (``gc.random``) gets the updates that advance its generators' states added
    to ``updates``: each call draws new numbers. ``whole`` (Numba backend): False (the
    default) runs op by op; None compiles the whole graph as one native function where
    every node has a Numba form, and runs op by op otherwise (``f.whole``,
    ``f.whole_reason`` say which and why); True asks for it and warns where the graph
    cannot. Not the default because Numba takes seconds to compile a whole function
    (about 7 s for W2's gradient; milliseconds from the disk cache after).

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> f = gc.compile([x * z, gc.grad(x * z, x)], [x, z])
        >>> [float(v) for v in f(2.0, z=3.0)]
        [6.0, 3.0]
    """
    outs, single = as_variable_list(outputs, "compile: outputs")
    if not outs and not updates:  # an update-only step (a training step returning nothing) is fine
        raise ArgumentError("compile: outputs must hold at least one Variable (or updates), got an empty sequence")
    check_finite = as_bool(check_finite, "compile: check_finite")
    verify_passes = as_bool(verify_passes, "compile: verify_passes")
    passes = _pass_list(passes)
    if loops is not None and not isinstance(loops, (bool, np.bool_)):
        raise ArgumentError(f"compile: loops must be True, False or None (roll long schedules), got {loops!r}")
    if whole is not None and not isinstance(whole, (bool, np.bool_)):
        raise ArgumentError(f"compile: whole must be True, False or None (whole where possible), got {whole!r}")
    pairs = _check_updates(updates)
    graph = Graph(outs + [new for _, new in pairs])
    graph_inputs = graph.input_variables
    for v in graph_inputs:
        where = placeholder_of(v)
        if where is not None:  # a body's value escaped its loop: it would become an input of its own
            raise ArgumentError(f"compile: the outputs read {v.label()!r} (built at {v.site}), which is {where}")
    states = _state_updates(graph, pairs)
    if inputs is None:
        ins = graph_inputs
    else:
        ins, _ = as_variable_list(inputs, "compile: inputs")
        for v in ins:
            if not v.is_input:
                raise InputError(f"compile: {v.label()!r} (built at {v.site}) is a {v.kind} node, not an input")
        if len(set(ins)) != len(ins):
            twice = next(v for k, v in enumerate(ins) if v in ins[:k])
            raise InputError(f"compile: the input {twice.label()!r} (built at {twice.site}) is listed twice")
        listed = set(ins)
        missing = [v for v in graph_inputs if v not in listed]
        if missing:
            names = ", ".join(f"{v.label()!r} (built at {v.site})" for v in missing)
            raise InputError(f"compile: the outputs need input(s) {names}, which are not in inputs")
    if whole and not hasattr(backend_of(backend), "whole_function"):
        raise ArgumentError("compile: whole=True needs a backend with a whole-function mode (backend='numba')")
    shard = _check_shard(shard, ins)
    if not states:
        return Function(outs, single, ins, check_finite, pairs, passes, verify_passes, backend, loops, shard, whole)
    args = (outs, single, ins, check_finite, pairs + states, passes, verify_passes, backend, loops, shard, whole)
    return _DrawingFunction([p for p, _ in states], *args)


def _pass_list(passes) -> list[str] | None:
    """``passes`` as a list of names: one name alone is that pass, not its letters."""
    if passes is None:
        return None
    if isinstance(passes, str):
        return [passes]
    if not isinstance(passes, Iterable) or isinstance(passes, Mapping):
        raise ArgumentError(f"compile: passes must be a pass name or a sequence of them, got {passes!r}"[:300])
    out = list(passes)
    if not all(isinstance(p, str) for p in out):
        raise ArgumentError(f"compile: passes must be a pass name or a sequence of them, got {passes!r}"[:300])
    return out


def _state_updates(graph: Graph, pairs: list) -> list[tuple[Variable, Variable]]:
    """The updates that advance the states the graph's stateful ops read (random
    generators), refusing a user's update of one."""
    states = state_updates(graph.variables)
    mine = {p for p, _ in pairs}
    for param, _ in states:
        if param in mine:
            raise ArgumentError(
                f"compile: Parameter {param.label()!r} is the state of a random generator, which every call "
                "advances by itself; it cannot also be in updates"
            )
    return states


class _DrawingFunction(Function):
    """A Function whose graph draws random numbers: each call holds its generators'
    locks from reading their states to writing them back (concurrent calls take
    turns, each with its own draws; see ``graphcomp.runtime.state``)."""

    def __init__(self, states: list, *args):
        super().__init__(*args)
        self._states = states

    def __call__(self, *args, **kwargs):
        with held(self._states):
            if not is_frozen():
                return super().__call__(*args, **kwargs)
            kept = [p.value for p in self._states]
            try:
                return super().__call__(*args, **kwargs)
            finally:
                for p, value in zip(self._states, kept):
                    p.set_value(value)


def _check_shard(shard: Mapping | None, inputs: list[Variable]) -> dict:
    """Validate ``{input: "batch"}``: inputs of this function with a leading axis."""
    if shard is None:
        return {}
    if not isinstance(shard, Mapping):
        raise ArgumentError(f'compile: shard must be a dict from inputs to "batch", got {shard!r}')
    listed = set(inputs)
    for v, how in shard.items():
        if not isinstance(v, Variable) or v not in listed:
            raise ArgumentError(f"compile: shard names {v!r}, which is not an input of this function")
        if how != "batch":
            raise ArgumentError(
                f'compile: shard[{v.label()!r}] is {how!r}; the one way to split an input is "batch" '
                "(along its leading axis)"
            )
        if v.ndim == 0:
            raise ShapeError(f"compile: input {v.label()!r} is 0-d: it has no leading (batch) axis to split")
    return dict(shard)


def _check_updates(updates: Mapping | None) -> list[tuple[Variable, Variable]]:
    """Validate ``{parameter: new value}`` when compiling, not when first called."""
    if updates is None:
        return []
    if not isinstance(updates, Mapping):
        raise ArgumentError(f"compile: updates must be a dict from Parameters to new values, got {updates!r}")
    pairs = []
    for param, new in updates.items():
        if not isinstance(param, Parameter):
            raise ArgumentError(f"compile: only Parameters can be updated, got {param!r}")
        new = weak_constant(new, param)
        if not shapes_compatible(new.shape, param.shape):
            raise ShapeError(
                f"compile: the update of Parameter {param.label()!r} has shape {fmt_shape(new.shape)} "
                f"(built at {new.site}), but the Parameter's shape is {fmt_shape(param.shape)}"
            )
        if not np.can_cast(new.dtype, param.dtype, "safe"):
            # NumPy's "safe" casting, the rule fed values follow: a float64 update of a float32
            # Parameter would compute in float64 and round on every step without saying so
            raise DTypeError(
                f"compile: the update of Parameter {param.label()!r} has dtype {new.dtype} (built at {new.site}), "
                f"which cannot be stored in its {param.dtype} without loss; compute it in {param.dtype} "
                f"or cast it (gc.cast(update, {str(param.dtype)!r}))"
            )
        pairs.append((param, new))
    return pairs
