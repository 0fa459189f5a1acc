"""A loop body: an inner graph over placeholder Variables, and the small
interpreter that runs it once per step.

The body of ``gc.scan(f, init, xs)`` is ``f`` traced once: its inputs are
placeholders (the carry entering the step, the slices of ``xs`` at the step,
the step number ``t``, and one placeholder per value from outside that the body
reads, its *captures*); its outputs are the new carry and the step's ``y``.
Nothing in a body refers to a node outside it: ``close_over`` replaces every
outer value the traced graph reads by a capture placeholder (closure
conversion, as JAX makes a closed jaxpr), so the loop node can list the
captured values as its own inputs.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable, make_apply
from graphcomp.core.traverse import ancestors, topological
from graphcomp.core.types import fmt_shape
from graphcomp.errors import EvaluationError, GraphError, InputError, ShapeError
from graphcomp.runtime.failure import op_failure

__all__ = [
    "Body",
    "LoopValues",
    "close_over",
    "run_loop",
    "first_non_finite",
    "step_failure",
    "trip_count",
    "shape_of",
    "empty_stack",
]


class LoopValues:
    """A loop node's value at run time: the tuple of its outputs (final carries,
    then the stacked per-step outputs). Projection nodes take them apart.

    Deliberately not a sequence, so NumPy keeps it whole (a 0-d object array)
    wherever generic code looks at a value.

    Example:
        >>> v = LoopValues((np.zeros(2), None)) + LoopValues((np.ones(2), np.ones(3)))
        >>> [None if a is None else a.tolist() for a in v.values]
        [[1.0, 1.0], [1.0, 1.0, 1.0]]
    """

    __slots__ = ("values",)

    def __init__(self, values: tuple):
        self.values = values

    def __add__(self, other: LoopValues) -> LoopValues:
        # cotangent packs are summed slot by slot; None stands for a zero slot
        if not isinstance(other, LoopValues) or len(other.values) != len(self.values):
            return NotImplemented
        out = []
        for a, b in zip(self.values, other.values):
            out.append(b if a is None else a if b is None else a + b)
        return LoopValues(tuple(out))

    __radd__ = __add__

    def __repr__(self) -> str:
        shapes = ", ".join("None" if a is None else fmt_shape(np.shape(a)) for a in self.values)
        return f"<LoopValues {shapes}>"


class Body:
    """The inner graph of a loop: placeholders in, new carries and per-step outputs out.

    ``carry_in``, ``x_in``, ``captured`` are the placeholders bound, in this
    order, to the loop node's inputs (init, xs, captured values); ``index`` (or
    None) is bound to the step number t; ``carry_out`` and ``ys`` are inner
    Variables. The first ``n_user_ys`` of ``ys`` are what the user's ``f``
    returned; the rest are values kept for the backward loop. ``ys_like[j]`` is
    the position in ``xs`` whose slice has y_j's shape (used only for T = 0,
    where no step tells an unknown dimension). Immutable once built.

    Example:
        >>> import graphcomp as gc
        >>> c, x = gc.Variable("carry"), gc.Variable("x")
        >>> b = Body((c,), (x,), (), None, (c + x,), (c * x,))
        >>> [v.name for v in b.inputs], len(b.program.steps)
        (['carry', 'x'], 2)
    """

    __slots__ = (
        "carry_in",
        "x_in",
        "captured",
        "index",
        "carry_out",
        "ys",
        "carry_names",
        "y_names",
        "ys_like",
        "n_user_ys",
        "_program",
    )

    def __init__(
        self,
        carry_in,
        x_in,
        captured,
        index,
        carry_out,
        ys,
        *,
        carry_names=None,
        y_names=None,
        ys_like=None,
        n_user_ys=None,
    ):
        self.carry_in = tuple(carry_in)
        self.x_in = tuple(x_in)
        self.captured = tuple(captured)
        self.index = index
        self.carry_out = tuple(carry_out)
        self.ys = tuple(ys)
        self.carry_names = tuple(carry_names or (f"carry[{k}]" for k in range(len(self.carry_in))))
        self.y_names = tuple(y_names or (f"y[{k}]" for k in range(len(self.ys))))
        self.ys_like = tuple(ys_like or (None,) * len(self.ys))
        self.n_user_ys = len(self.ys) if n_user_ys is None else n_user_ys
        self._program = None
        if len(self.carry_out) != len(self.carry_in):
            raise GraphError(f"Body: {len(self.carry_in)} carries in but {len(self.carry_out)} out")

    @property
    def inputs(self) -> tuple[Variable, ...]:
        """The placeholders bound to the loop node's inputs, in its input order."""
        return self.carry_in + self.x_in + self.captured

    @property
    def outputs(self) -> tuple[Variable, ...]:
        """New carries, then per-step outputs: the loop node's outputs in order."""
        return self.carry_out + self.ys

    def with_ys(self, extra, names, like=None) -> Body:
        """This body with more per-step outputs (values kept for a backward loop).

        Example:
            >>> import graphcomp as gc
            >>> c = gc.Variable("carry")
            >>> b = Body((c,), (), (), None, (gc.sin(c),), ())
            >>> b2 = b.with_ys([c], ["kept carry"])
            >>> len(b2.ys), b2.n_user_ys
            (1, 0)
        """
        return Body(
            self.carry_in,
            self.x_in,
            self.captured,
            self.index,
            self.carry_out,
            self.ys + tuple(extra),
            carry_names=self.carry_names,
            y_names=self.y_names + tuple(names),
            ys_like=self.ys_like + tuple(like or (None,) * len(extra)),
            n_user_ys=self.n_user_ys,
        )

    def with_outputs(self, outputs) -> Body:
        """This body computing ``outputs`` (new carries, then ys, as ``self.outputs``)
        from the same placeholders: the body after the rewrite passes.

        Example:
            >>> import graphcomp as gc
            >>> c = gc.Variable("carry")
            >>> b = Body((c,), (), (), None, (c * 1.0,), ())
            >>> b.with_outputs([c]).carry_out == (c,)
            True
        """
        outputs = tuple(outputs)
        nc = len(self.carry_out)
        return Body(
            self.carry_in,
            self.x_in,
            self.captured,
            self.index,
            outputs[:nc],
            outputs[nc:],
            carry_names=self.carry_names,
            y_names=self.y_names,
            ys_like=self.ys_like,
            n_user_ys=self.n_user_ys,
        )

    @property
    def program(self) -> _Program:
        """The body as numbered steps for the interpreter (built on first use)."""
        if self._program is None:
            self._program = _Program(self)
        return self._program

    def nodes(self) -> list[Variable]:
        """Every Variable of the body, topologically (placeholders and constants included)."""
        return topological(ancestors(list(self.outputs) + list(self.inputs)))


class _Program:
    """The body's op nodes in topological order, each reading and writing
    numbered registers; placeholders and constants have registers of their own."""

    __slots__ = ("size", "preset", "carry", "xs", "captured", "index", "carry_out", "ys", "steps")

    def __init__(self, body: Body):
        slot: dict[Variable, int] = {}
        leaves = body.inputs + ((body.index,) if body.index is not None else ())
        for v in leaves:
            if v in slot:
                raise GraphError(f"Body: the placeholder {v.label()} is bound twice")
            slot[v] = len(slot)
        self.preset: list[tuple[int, object]] = []
        self.steps: list[tuple] = []
        for v in topological(ancestors(body.outputs)):
            if v in slot:
                continue
            slot[v] = len(slot)
            if v.owner is not None:
                self.steps.append((slot[v], _callee(v.owner.op), tuple(slot[i] for i in v.owner.inputs), v))
            elif v.kind == "constant":
                self.preset.append((slot[v], v.value))
            else:  # closure conversion makes every outer value a placeholder
                raise GraphError(f"Body: {v.label()} (built at {v.site}) is read but is not one of the body's inputs")
        self.size = len(slot)
        nc, nx = len(body.carry_in), len(body.x_in)
        self.carry = tuple(range(nc))
        self.xs = tuple(range(nc, nc + nx))
        self.captured = tuple(range(nc + nx, nc + nx + len(body.captured)))
        self.index = slot[body.index] if body.index is not None else None
        self.carry_out = tuple(slot[v] for v in body.carry_out)
        self.ys = tuple(slot[v] for v in body.ys)


def _callee(op):
    """What a step calls: the op's ``fn`` when that is its whole forward (a ufunc),
    else its forward. A frame less per step, as the generated code does."""
    return type(op).fn or op.forward


def shape_of(a) -> tuple:
    """The shape of a value an op returned (an array, a NumPy scalar, a Python number).

    Example:
        >>> shape_of(np.zeros((2, 3))), shape_of(1.5)
        ((2, 3), ())
    """
    try:
        return a.shape
    except AttributeError:  # a forward that returned a Python number
        return np.shape(a)


def empty_stack(shape: tuple, like, dtype) -> np.ndarray:
    """The stacked per-step outputs of a loop that ran no step: shape ``(0, *row)``,
    the row being ``like``'s slice (an xs whose slice has the y's shape) or the
    static ``shape`` with its unknown dimensions 0 (no step told them).

    Example:
        >>> empty_stack((None, 3), None, np.float64).shape
        (0, 0, 3)
    """
    row = np.shape(like)[1:] if like is not None else tuple(0 if d is None else d for d in shape)
    return np.empty((0, *row), dtype=dtype)


def trip_count(length: int | None, xs, what: str) -> int:
    """T: ``length``, or the common leading dimension of the arrays ``xs``."""
    T = length
    first = None
    for k, a in enumerate(xs):
        n = np.shape(a)[0]
        if T is None:
            T, first = n, k
        elif n != T:
            said = f"xs[{first}] has {T}" if first is not None else f"the loop's length is {T}"
            raise InputError(
                f"{what}: xs[{k}] has leading dimension {n} (shape {fmt_shape(np.shape(a))}), but {said}; "
                "every xs must have the same number of steps"
            )
    if T is None:
        raise GraphError(f"{what}: no xs and no length: the number of steps is unknown")
    return T


def run_loop(body: Body, arrays, reverse: bool, length: int | None, what: str) -> LoopValues:
    """Run ``body`` for T steps (t = 0 .. T-1, or T-1 .. 0 with ``reverse``):
    bind the carries, the slices ``xs[t]``, the captures and t, run the steps,
    carry the new carries on and write each y into row t of its stacked output.

    Example:
        >>> import graphcomp as gc
        >>> c, x = gc.Variable("carry"), gc.Variable("x")
        >>> b = Body((c,), (x,), (), None, (c + x,), (c,))
        >>> out = run_loop(b, [np.array(0.0), np.array([1.0, 2.0, 3.0])], False, None, "scan")
        >>> float(out.values[0]), out.values[1].tolist()
        (6.0, [0.0, 1.0, 3.0])
    """
    p = body.program
    nc, nx = len(p.carry), len(p.xs)
    carry = list(arrays[:nc])
    xs = arrays[nc : nc + nx]
    T = trip_count(length, xs, what)
    regs: list = [None] * p.size
    for k, value in p.preset:
        regs[k] = value
    for k, value in zip(p.captured, arrays[nc + nx :]):
        regs[k] = value
    shapes = [np.shape(c) for c in carry]
    bufs: list = [None] * len(p.ys)
    steps, carry_slots, x_slots, out_slots, y_slots, index = p.steps, p.carry, p.xs, p.carry_out, p.ys, p.index
    for t in range(T - 1, -1, -1) if reverse else range(T):
        for k, value in zip(carry_slots, carry):
            regs[k] = value
        for k, a in zip(x_slots, xs):
            regs[k] = a[t]
        if index is not None:
            regs[index] = np.array(t, dtype=np.int64)
        try:
            for out, fn, ins, node in steps:  # noqa: B007 (node names the failing step below)
                if len(ins) == 2:
                    regs[out] = fn(regs[ins[0]], regs[ins[1]])
                elif len(ins) == 1:
                    regs[out] = fn(regs[ins[0]])
                else:
                    regs[out] = fn(*[regs[i] for i in ins])
        except Exception as e:
            raise step_failure(what, t, op_failure(node, [regs[i] for i in ins], e), e) from e
        carry = [regs[k] for k in out_slots]
        for k, c in enumerate(carry):
            if shape_of(c) != shapes[k]:
                said = ShapeError(
                    f"the new {body.carry_names[k]} has shape {fmt_shape(np.shape(c))}, "
                    f"but it entered the loop with shape {fmt_shape(shapes[k])}; a carry keeps its shape"
                )
                raise step_failure(what, t, said, said)
        for j, k in enumerate(y_slots):
            y = regs[k]
            buf = bufs[j]
            if buf is None:
                buf = bufs[j] = np.empty((T,) + np.shape(y), dtype=body.ys[j].dtype)
            elif shape_of(y) != buf.shape[1:]:
                said = ShapeError(
                    f"{body.y_names[j]} has shape {fmt_shape(np.shape(y))}, but earlier "
                    f"steps gave {fmt_shape(buf.shape[1:])}; the outputs of all steps are stacked"
                )
                raise step_failure(what, t, said, said)
            buf[t] = y
    if T == 0:
        for j, y in enumerate(body.ys):
            like = body.ys_like[j]
            bufs[j] = empty_stack(y.shape, None if like is None else xs[like], y.dtype)
    return LoopValues(tuple(carry) + tuple(bufs))


def first_non_finite(body: Body, arrays, reverse: bool, length: int | None):
    """Run ``body`` as ``run_loop`` does until a body node's value is the first
    non-finite one (NaN or Inf in a float value whose inputs are all finite):
    returns ``(t, node, values)``, ``values`` mapping the node and its inputs to
    their values at step t; None when every value of every step is finite.
    ``gc.explain_grad`` says with it where inside a loop a cost turns non-finite.

    Example:
        >>> import graphcomp as gc
        >>> c, x = gc.Variable("carry"), gc.Variable("x")
        >>> b = Body((c,), (x,), (), None, (c + gc.log(x),), ())
        >>> t, node, values = first_non_finite(b, [np.array(0.0), np.array([1.0, 2.0, 0.0])], False, None)
        >>> t, node.owner.op.name, float(values[node])
        (2, 'log', -inf)
    """
    p = body.program
    nc, nx = len(p.carry), len(p.xs)
    carry = list(arrays[:nc])
    xs = arrays[nc : nc + nx]
    T = trip_count(length, xs, "scan")
    regs: list = [None] * p.size
    for k, value in p.preset:
        regs[k] = value
    for k, value in zip(p.captured, arrays[nc + nx :]):
        regs[k] = value
    with np.errstate(all="ignore"):
        for t in range(T - 1, -1, -1) if reverse else range(T):
            for k, value in zip(p.carry, carry):
                regs[k] = value
            for k, a in zip(p.xs, xs):
                regs[k] = a[t]
            if p.index is not None:
                regs[p.index] = np.array(t, dtype=np.int64)
            for out, fn, ins, node in p.steps:
                regs[out] = fn(*[regs[i] for i in ins])
                if not _finite(regs[out]) and all(_finite(regs[i]) for i in ins):
                    return t, node, _step_values(body, p, regs, node)
            carry = [regs[k] for k in p.carry_out]
    return None


def _step_values(body: Body, p: _Program, regs: list, last: Variable) -> dict:
    """Every body value of the step so far, up to ``last``: placeholders and op nodes
    (a constant's is its ``value``)."""
    leaves = body.inputs + ((body.index,) if body.index is not None else ())
    slots = list(p.carry + p.xs + p.captured) + ([p.index] if p.index is not None else [])
    values = {v: regs[k] for v, k in zip(leaves, slots)}
    for out, _, _, node in p.steps:
        values[node] = regs[out]
        if node is last:
            break
    return values


def _finite(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def step_failure(what: str, t: int, said, cause: BaseException) -> EvaluationError:
    """The error of a loop whose step ``t`` failed, ``said`` (an error or text) naming
    what failed there: ``what: at step t=..., said``. It keeps ``cause``'s built-in
    category (``ValueError``, ``IndexError``) and waits for the loop node's line:
    ``finish(loop)`` (which the interpreter calls with the node it ran) returns it
    completed, ``...; in the loop built at <line>``, naming the loop node. Generated
    code says the same words (``graphcomp.ops.loops.codegen``).

    Example:
        >>> e = step_failure("scan", 2, "getitem failed", IndexError("index 5"))
        >>> isinstance(e, IndexError), str(e)
        (True, 'scan: at step t=2, getitem failed')
    """
    kind = EvaluationError.of(cause)
    e = kind(f"{what}: at step t={t}, {said}")

    def finish(loop: Variable) -> EvaluationError:
        done = kind(f"{e}; in the loop built at {loop.site}")
        done.site, done.node = loop.site, loop
        return done

    e.finish = finish
    return e


def close_over(
    outputs,
    step_leaves,
    *,
    cut: dict | None = None,
    outer_of: dict | None = None,
    trace_start: int | None = None,
) -> tuple[list[Variable], list[tuple[Variable, Variable]]]:
    """Closure conversion with loop-invariant code motion.

    Walks back from ``outputs`` (inner Variables of a traced body) and sorts
    each node: *per step* when it depends on a step placeholder
    (``step_leaves``, or a node in ``cut``, which is replaced by its
    placeholder ``cut[node]``) or when its op is ``stateful`` (a random draw
    differs from run to run and from step to step: never hoisted), *invariant*
    otherwise. Invariant values are
    computed once, outside the loop: each one a per-step node reads (or that
    is an output) gets a capture placeholder, paired with its outer value
    (``outer_of[v]`` for a placeholder standing for an outer value; an
    invariant node rebuilt over outer values; a node built outside the body,
    id below ``trace_start``, as is). Constants stay inside. Per-step nodes
    that read a captured or cut value are rebuilt over the placeholders.

    Returns the body's outputs and the ``(placeholder, outer value)`` pairs.

    Example:
        >>> import graphcomp as gc
        >>> W = gc.Variable("W", (2,))
        >>> start = gc.constant(0.0).id
        >>> c = gc.Variable("carry", (2,))
        >>> (new,), caps = close_over([c * gc.exp(W)], {c}, trace_start=start)
        >>> [(p.name, o.owner.op.name) for p, o in caps], new.inputs[1] is caps[0][0]
        ([('exp', 'exp')], True)
    """
    cut = cut or {}
    outer_of = outer_of or {}
    region: set[Variable] = set()
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if v in region:
            continue
        region.add(v)
        if v in cut or v in step_leaves or v.owner is None or (trace_start is not None and v.id < trace_start):
            continue
        stack.extend(v.owner.inputs)
    per_step: dict[Variable, Variable] = {}  # per-step node -> its inner version
    outer: dict[Variable, Variable] = {}  # invariant node -> its value outside the loop
    placeholder: dict[Variable, Variable] = {}  # invariant node -> its capture placeholder
    captures: list[tuple[Variable, Variable]] = []

    def inner(i: Variable) -> Variable:
        if i in per_step:
            return per_step[i]
        if i.owner is None and i.kind == "constant":
            return i
        p = placeholder.get(i)
        if p is None:
            p = placeholder[i] = Variable(i.label(), i.shape, i.dtype)
            captures.append((p, outer[i]))
        return p

    for v in topological(region):
        if v in cut:
            per_step[v] = cut[v]
        elif v in step_leaves:
            per_step[v] = v
        elif v.owner is None or (trace_start is not None and v.id < trace_start):
            if v in outer_of:
                outer[v] = outer_of[v]
            elif trace_start is not None or (v.owner is None and v.kind == "constant"):
                outer[v] = v
            else:
                raise GraphError(f"loop body: {v.label()} (built at {v.site}) is neither an input nor a capture")
        else:
            ins = v.owner.inputs
            # a stateful op (a random draw) is never hoisted: it differs from run to run, and a
            # draw reading the step number differs from step to step (graphcomp/ops/random.py)
            if v.owner.op.stateful or any(i in per_step for i in ins):
                new_ins = tuple(inner(i) for i in ins)
                per_step[v] = v if new_ins == ins else rebuild(v, new_ins)
            else:
                outs = tuple(outer[i] for i in ins)
                outer[v] = v if outs == ins else rebuild(v, outs)
    return [inner(o) for o in outputs], captures


def rebuild(v: Variable, inputs: tuple[Variable, ...]) -> Variable:
    """``v``'s op over ``inputs``, with v's shape, dtype, name, site and gradient role.

    Example:
        >>> import graphcomp as gc
        >>> s = gc.sin(gc.Variable("x"))
        >>> t = rebuild(s, (gc.Variable("y"),))
        >>> t.inputs[0].name, t.site == s.site
        ('y', True)
    """
    return make_apply(v.owner.op, inputs, v.shape, v.dtype, v.name, built=(v.site, v.grad_of))
