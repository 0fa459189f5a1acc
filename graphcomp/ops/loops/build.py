"""``gc.scan``, ``gc.fori_loop`` and ``gc.map``: trace the body once, build one loop node."""

from __future__ import annotations

import builtins

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import creation_site, user_errors
from graphcomp.core.traverse import ancestors, topological
from graphcomp.core.types import as_bool, fmt_shape, shapes_compatible
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import weak_constant
from graphcomp.ops.loops.body import Body, close_over
from graphcomp.ops.loops.op import Scan, ScanOutput
from graphcomp.ops.loops.scope import seal
from graphcomp.ops.loops.tree import flatten, unflatten
from graphcomp.ops.random import tracing_loop

__all__ = ["scan", "fori_loop", "map"]

_PY_NUMBERS = (bool, int, float, complex)


@user_errors
def scan(f, init, xs=None, length: int | None = None, reverse: bool = False, *, checkpoint: bool = False):
    """Loop ``f(carry, x) -> (new_carry, y)`` over the leading axis of ``xs``: returns ``(final_carry, ys)``.

    JAX's ``lax.scan``, as one graph node whatever T. ``f`` is traced once,
    on placeholders, into the loop's body. ``carry``, ``x`` and ``y`` are each
    a Variable, a (nested) tuple or list of them, or None. ``xs`` (a Variable,
    an array, or a tuple/list of them) has a common leading axis of length T,
    which may be unknown (None) when built; ``x`` is its slice at step t.
    ``length`` gives T when ``xs`` is None. ``ys`` stacks each ``y`` on a new
    leading axis. With ``reverse=True`` the steps run t = T-1 .. 0 and
    ``ys[t]`` is still step t's. Variables and Parameters from outside that
    ``f`` reads are captured, read only; what ``f`` computes from them alone is
    computed once, before the loop.

    ``new_carry`` must have ``init``'s structure, shapes and dtypes, else a
    ``ShapeError``/``DTypeError``/``ArgumentError`` names the entry, both types
    and the lines of the body, of init and of the loop. A Python number in
    ``init`` is weak, as in NumPy (NEP 50) and JAX: its carry takes the dtype
    the body's new carry has next to it (``0.0`` next to a float32 body becomes
    float32, ``1`` next to a float32 body too); one that only Python numbers
    meet keeps NumPy's type for it (float64, int64, bool, complex128). The body
    is traced again to find it (up to twice per such number). A number the
    carry's dtype cannot hold (``300`` in an int8 carry, ``1.5`` in an int32
    one) is an error. NumPy arrays and scalars are strong: they keep their
    dtype. A Python number in ``new_carry`` or ``y`` takes the carry's dtype,
    or NumPy's default for a ``y``.

    ``gc.grad`` differentiates through the loop with respect to ``init``,
    ``xs`` and every captured Variable and Parameter (summed over the steps):
    the gradient is a loop over the reversed steps whose body is the body's
    gradient built by Algorithm 6.6 (back-propagation through time, Goodfellow
    et al. 2016, section 10.2.2). By default it reads the forward values its
    body needs, stacked per step by the forward loop; ``checkpoint=True`` keeps
    only the carries per step and recomputes the rest in the backward loop
    (less memory for long sequences, one more forward step per backward step).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 2))          # T unknown until run
        >>> w = gc.Variable("w", (2,))
        >>> h, hs = gc.scan(lambda h, xt: (gc.tanh(h * w + xt),) * 2, gc.zeros_like(w), x)
        >>> h.shape, hs.shape, h.dtype
        ((2,), (None, 2), dtype('float64'))
        >>> feed = {x: [[0.5, 1.0], [0.0, -1.0], [1.0, 0.0]], w: [0.5, 2.0]}
        >>> gc.evaluate(hs, feed).round(4).tolist()
        [[0.4621, 0.7616], [0.227, 0.4802], [0.8053, 0.7444]]
        >>> gc.evaluate(gc.grad(h.sum(), w), feed).round(4).tolist()
        [0.1568, 0.7366]
    """
    return _scan(f, init, xs, length, reverse, checkpoint, indexed=False, what="scan")


@user_errors
def fori_loop(lower: int, upper: int, body, init, *, checkpoint: bool = False):
    """``carry = body(i, carry)`` for i = lower .. upper-1; returns the final carry.

    JAX's ``lax.fori_loop`` with bounds known when the graph is built: a
    ``gc.scan`` of ``max(upper - lower, 0)`` steps whose step number, plus
    ``lower``, is ``i`` (a 0-d int64 Variable). ``init`` and the carry are as
    in ``gc.scan`` (same errors for a carry that changes structure, shape or
    dtype); the gradient too. Bounds that are not ints raise ``ArgumentError``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> y = gc.fori_loop(1, 4, lambda i, c: c * x + i.astype("float64"), 0.0)   # ((1)x + 2)x + 3
        >>> float(gc.evaluate(y, {x: 2.0})), float(gc.evaluate(gc.grad(y, x), {x: 2.0}))
        (11.0, 6.0)
    """
    for name, v in (("lower", lower), ("upper", upper)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ArgumentError(
                f"fori_loop: {name} must be an int known when the graph is built, got {v!r}; "
                "for a number of steps known only at run time, use gc.scan over xs"
            )
    lower, upper = int(lower), int(upper)

    def step(carry, _x, t):
        i = t if lower == 0 else t + lower
        return body(i, carry), None

    steps = builtins.max(upper - lower, 0)
    final, _ = _scan(step, init, None, steps, False, checkpoint, indexed=True, what="fori_loop")
    return final


@user_errors
def map(f, xs, *, checkpoint: bool = False):  # noqa: A001
    """``ys[t] = f(xs[t])`` for every t: ``gc.scan`` without a carry (JAX's ``lax.map``).

    ``xs`` and ``f``'s result are as ``gc.scan``'s ``xs`` and ``y`` (nested
    tuples and lists of Variables); ``ys`` has T in front of each shape. xs
    without a leading axis, or of different lengths, raise ``ShapeError``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3, 2))
        >>> ys = gc.map(lambda r: r.sum() * 2.0, x)
        >>> ys.shape, gc.evaluate(ys, {x: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}).tolist()
        ((3,), [6.0, 14.0, 22.0])
    """
    if xs is None:
        raise ArgumentError("map: xs is None; there is nothing to map over")
    _, ys = _scan(lambda c, x: (None, f(x)), None, xs, None, False, checkpoint, indexed=False, what="map")
    return ys


def _leaf_variable(leaf, path: str, what: str) -> tuple[Variable, bool]:
    """A structure's leaf as a Variable, and whether it was a Python number ("weak")."""
    if isinstance(leaf, Variable):
        return leaf, False
    if isinstance(leaf, (np.ndarray, np.generic)):  # NumPy's scalars are strong (np.float64 is also a float)
        return constant(leaf), False
    if isinstance(leaf, _PY_NUMBERS):
        return constant(leaf), True
    raise ArgumentError(f"{what}: {path} is a {type(leaf).__name__}; expected a Variable, an array or a number")


def _check_xs(xs_vars, paths, length, what) -> int | None:
    """The static T the xs agree on (None: unknown), or a ShapeError naming two that differ."""
    T, source = length, "length" if length is not None else None
    for v, path in zip(xs_vars, paths):
        if not v.shape:
            raise ShapeError(f"{what}: {path} has shape () and no leading axis to scan over")
        n = v.shape[0]
        if n is None:
            continue
        if T is None:
            T, source = n, f"{path} (shape {fmt_shape(v.shape)})"
        elif n != T:
            raise ShapeError(
                f"{what}: {path} has shape {fmt_shape(v.shape)}, {n} steps, but {source} gives {T}; "
                "every xs must have the same leading dimension"
            )
    return T


def _scan(f, init, xs, length, reverse, checkpoint, *, indexed: bool, what: str):
    reverse, checkpoint = as_bool(reverse, f"{what}: reverse"), as_bool(checkpoint, f"{what}: checkpoint")
    if length is not None and (isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0):
        raise ArgumentError(f"{what}: length must be a non-negative int, got {length!r}")
    if not callable(f):
        raise ArgumentError(f"{what}: f must be callable, got {type(f).__name__}")
    length = None if length is None else int(length)
    init_leaves, init_tree, init_paths = flatten(init, "init")
    inits = [_leaf_variable(leaf, p, what) for leaf, p in zip(init_leaves, init_paths)]
    init_vars = [v for v, _ in inits]
    weak = [w for _, w in inits]
    xs_leaves, xs_tree, xs_paths = flatten(xs, "xs")
    xs_vars = [_leaf_variable(leaf, p, what)[0] for leaf, p in zip(xs_leaves, xs_paths)]
    if not xs_vars and length is None:
        raise ArgumentError(f"{what}: give xs to scan over or the number of steps as length")
    T = _check_xs(xs_vars, xs_paths, length, what)
    carry_names = ["carry" + p[4:] for p in init_paths]

    def trace(dtypes):
        return _trace(f, init_tree, init_vars, dtypes, carry_names, xs_tree, xs_vars, xs_paths, indexed, what)

    traced = _settle_weak(trace, init_leaves, init_vars, weak, init_paths, what)
    _check_carry(traced, init_leaves, init_vars, init_paths, what)
    carry_in, x_in, index, new_carry, ys, y_tree, y_paths, start = traced
    # the body is a copy over fresh placeholders: the traced nodes stay the user's, and any
    # use of one that reads a placeholder is refused from now on (graphcomp/ops/loops/scope.py)
    fresh = {p: Variable(p.name, p.shape, p.dtype) for p in (*carry_in, *x_in, index)}
    inner, captures = close_over(new_carry + ys, set(), cut=fresh, trace_start=start)
    read = ancestors(inner)
    carry_in, x_in, index = [fresh[p] for p in carry_in], [fresh[p] for p in x_in], fresh[index]
    body = Body(
        carry_in,
        x_in,
        [p for p, _ in captures],
        index if index in read else None,
        inner[: len(carry_in)],
        inner[len(carry_in) :],
        carry_names=carry_names,
        y_names=y_paths,
    )
    op = Scan(body, bool(reverse), T, bool(checkpoint))
    L = op(*init_vars, *xs_vars, *[o for _, o in captures])
    names = op.output_names()
    outs = [ScanOutput(k, names[k])(L) for k in range(op.n_outputs)]
    return unflatten(init_tree, outs[: len(carry_in)]), unflatten(y_tree, outs[len(carry_in) :])


def _trace(f, init_tree, init_vars, dtypes, carry_names, xs_tree, xs_vars, xs_paths, indexed, what):
    """Call ``f`` once on fresh placeholders; return them and what it built."""
    carry_in = [Variable(n, v.shape, d) for n, v, d in zip(carry_names, init_vars, dtypes)]
    x_in = [Variable("x" + p[2:], v.shape[1:], v.dtype) for p, v in zip(xs_paths, xs_vars)]
    index = Variable("t", (), "int64")
    start = carry_in[0].id if carry_in else x_in[0].id if x_in else index.id  # the body's nodes come after
    carry = unflatten(init_tree, carry_in)
    x = unflatten(xs_tree, x_in)
    said = {p: f"the {p.name} entering step t" for p in carry_in}
    said.update((p, f"the slice {p.name} of {path} at step t") for p, path in zip(x_in, xs_paths))
    said[index] = "the step number t"
    try:
        with tracing_loop(index):  # a random draw in the body reads the step number: new numbers each step
            out = f(carry, x, index) if indexed else f(carry, x)
    finally:  # what f built reads these placeholders: it is the body's alone (graphcomp/ops/loops/scope.py)
        seal(start, Variable("end").id, said, what, creation_site())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise ArgumentError(
            f"{what}: f must return a pair (new_carry, y), got {_describe(out)}; "
            "return (new_carry, None) when there is no per-step output"
        )
    new, y = out
    new_leaves, new_tree, new_paths = flatten(new, "new carry")
    if new_tree != init_tree:
        raise ArgumentError(
            f"{what}: f returned a new carry of structure {new_tree}, but init has structure {init_tree}; "
            "the carry keeps its structure from step to step"
        )
    new_carry = []
    for leaf, path, p in zip(new_leaves, new_paths, carry_in):
        if isinstance(leaf, _PY_NUMBERS):
            leaf = weak_constant(leaf, p)
        new_carry.append(_leaf_variable(leaf, path.replace("new carry", "the new carry"), what)[0])
    y_leaves, y_tree, y_paths = flatten(y, "y")
    ys = [_leaf_variable(leaf, path, what)[0] for leaf, path in zip(y_leaves, y_paths)]
    return carry_in, x_in, index, new_carry, ys, y_tree, y_paths, start


#: the dtypes NumPy gives Python numbers: a body's constant of another dtype was typed by the user
_PYTHON_DTYPES = frozenset(np.dtype(t) for t in (bool, np.int_, float, complex))
#: the dtypes a weak carry is traced with to see which typed value decides it, narrowest first
_LADDERS = {
    bool: ((np.dtype(bool),),),
    int: (
        tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64)),
        tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64)),
    ),
    float: (tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64)),),
    complex: (tuple(np.dtype(t) for t in (np.complex64, np.complex128)),),
}


def _settle_weak(trace, init_leaves, init_vars, weak, paths, what):
    """Trace the body until each Python number in init has the dtype its new carry
    has when the number is weak (NEP 50, JAX's weak types); return the last trace.

    A weak carry whose new carry depends on a typed value (a slice of xs, a
    captured Variable, a NumPy constant, a typed carry) takes the dtype that value
    gives it: the body is traced once more with the weak carries at their kind's
    narrowest dtype (``_probe``), so ``0.0 + x_t`` is float32 for a float32 x.
    One that only Python numbers and weak carries decide keeps NumPy's type for
    the number (float64, int64), unless the body changes it (``c.astype``,
    ``gc.tanh`` of an int). A decided carry is typed from then on: the next trace
    may decide the others (a weak carry reading a decided one), so this ends
    after at most one round per weak carry.
    """
    undecided = [k for k, w in enumerate(weak) if w]
    dtypes = [v.dtype for v in init_vars]
    while True:
        traced = trace(dtypes)
        if not undecided:
            return traced
        carry_in, new_carry, start = traced[0], traced[3], traced[7]
        typed = _typed_carries(carry_in, new_carry, undecided, start)
        decided = {k: new_carry[k].dtype for k in undecided if k not in typed}
        if typed:
            probed = _probe(trace, dtypes, undecided, init_leaves)
            for k in typed:
                decided[k] = new_carry[k].dtype if probed is None else probed[k]
        changed = False
        for k, dtype in decided.items():
            if k in typed or dtype != dtypes[k]:
                if dtype != dtypes[k]:
                    init_vars[k] = _weak_init(init_leaves[k], dtype, new_carry[k], carry_in[k].name, paths[k], what)
                    dtypes[k] = dtype
                    changed = True
                undecided.remove(k)
        if not changed:
            return traced


def _typed_carries(carry_in, new_carry, undecided, start) -> set:
    """The weak carries (positions in ``undecided``) whose new carry depends on a
    typed value: anything but weak carries and constants of Python numbers' dtypes
    (``start``: the first id of the body's trace; older nodes are typed outer values)."""
    weak_leaves = {carry_in[k] for k in undecided}
    region: set = set()
    stack = [new_carry[k] for k in undecided]
    while stack:
        v = stack.pop()
        if v in region:
            continue
        region.add(v)
        if v.owner is not None and v.id >= start and v not in weak_leaves:
            stack.extend(v.owner.inputs)
    typed: dict = {}
    for v in topological(region):
        if v in weak_leaves:
            typed[v] = False
        elif v.id < start:
            typed[v] = True
        elif v.owner is None:
            typed[v] = v.kind != "constant" or v.dtype not in _PYTHON_DTYPES
        else:
            typed[v] = any(typed[i] for i in v.owner.inputs)
    return {k for k in undecided if typed[new_carry[k]]}


def _probe(trace, dtypes, undecided, init_leaves) -> list | None:
    """The new carries' dtypes with the weak carries at the narrowest dtypes of their
    kind the body accepts (a wider one where it refuses: ``c + 1000`` does not fit
    int8), so that a typed value next to them wins as it wins over a weak number.
    For a Python int both int8 and uint8 are tried, the narrower result kept
    (``0 + x`` is uint8 for a uint8 x, int8 for an int8 one). None when no probe
    narrower than NumPy's type for the number traced."""
    kinds = {k: next(t for t in _PY_NUMBERS if isinstance(init_leaves[k], t)) for k in undecided}
    n_ladders = builtins.max(len(_LADDERS[kind]) for kind in kinds.values())
    results = []
    for which in range(n_ladders):
        for rung in range(4):
            probe = list(dtypes)
            for k, kind in kinds.items():
                ladders = _LADDERS[kind]
                ladder = ladders[builtins.min(which, len(ladders) - 1)]
                probe[k] = ladder[builtins.min(rung, len(ladder) - 1)]
            if probe == dtypes:
                break
            try:
                traced = trace(probe)
            except Exception:  # noqa: BLE001 (a probe the body refuses: try a wider one)
                continue
            results.append([v.dtype for v in traced[3]])
            break
    if not results:
        return None
    best = list(results[0])
    for other in results[1:]:
        for k in undecided:
            if other[k].itemsize < best[k].itemsize:
                best[k] = other[k]
    return best


def _weak_init(value, dtype, new, name, path, what) -> Variable:
    """The Python number ``value`` as the carry's dtype, as NumPy converts a weak
    scalar; a DTypeError (the kind would change: 0.5 into an int carry) or an
    ArgumentError (300 does not fit int8) naming both lines otherwise."""
    said = f"{path} is the Python {type(value).__name__} {value!r}"
    if np.result_type(dtype, value) != dtype:
        raise DTypeError(
            f"{what}: the body's new {name} has dtype {dtype} (shape {fmt_shape(new.shape)}, built at {new.site}), "
            f"but {said}, which NumPy would not turn into {dtype}; a carry keeps its dtype: cast one of them"
        )
    try:
        return constant(value, dtype=dtype)
    except ArgumentError:
        raise ArgumentError(
            f"{what}: the body's new {name} has dtype {dtype} (built at {new.site}), but {said}, which does "
            f"not fit {dtype} (NumPy refuses it too)"
        ) from None


def _init_origin(leaf, var) -> str:
    """Where init's entry comes from: a Variable's line, or what the value was."""
    if isinstance(leaf, Variable):
        return f"built at {var.site}"
    if isinstance(leaf, _PY_NUMBERS) and not isinstance(leaf, np.generic):
        return f"the Python {type(leaf).__name__} {leaf!r}"
    return f"a NumPy {type(leaf).__name__} of dtype {var.dtype}"


def _check_carry(traced, init_leaves, init_vars, paths, what) -> None:
    """Errors for a new carry whose dtype or shape differs from init's, naming the
    body's line, init's and (by ``user_errors``) the loop's."""
    carry_in, new_carry = traced[0], traced[3]
    for k, (p, v) in enumerate(zip(carry_in, new_carry)):
        name, init = p.name, f"{paths[k]} ({_init_origin(init_leaves[k], init_vars[k])})"
        if v.dtype != p.dtype:
            raise DTypeError(
                f"{what}: the body's new {name} has dtype {v.dtype} (shape {fmt_shape(v.shape)}, built at "
                f"{v.site}), but {init} has dtype {p.dtype} (shape {fmt_shape(p.shape)}); "
                "a carry keeps its dtype: cast one of them"
            )
        if not shapes_compatible(v.shape, p.shape):
            raise ShapeError(
                f"{what}: the body's new {name} has shape {fmt_shape(v.shape)} (built at {v.site}), "
                f"but {init} has shape {fmt_shape(p.shape)}; a carry keeps its shape from step to step"
            )


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, Variable):
        return f"a single Variable ({value.label()}, shape {fmt_shape(value.shape)})"
    return f"a {type(value).__name__}"
