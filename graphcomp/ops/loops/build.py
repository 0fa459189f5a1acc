"""``gc.scan``, ``gc.fori_loop`` and ``gc.map``: trace the body once, build one loop node."""

from __future__ import annotations

import builtins

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import user_errors
from graphcomp.core.traverse import ancestors
from graphcomp.core.types import as_bool, fmt_shape, shapes_compatible
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import weak_constant
from graphcomp.ops.loops.body import Body, close_over
from graphcomp.ops.loops.op import Scan, ScanOutput
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
    ``ShapeError``/``DTypeError``/``ArgumentError`` names the entry and both
    types. A Python number in ``init`` starts as NumPy's type for it (float64,
    int64, bool, complex128) unless the body's new carry has a dtype that number
    converts to as NumPy's weak scalars do (``0.0`` next to a float32 body
    becomes float32; ``0`` next to a float body becomes that float): then the
    body is traced again with that dtype, once. A Python number in ``new_carry``
    or ``y`` takes the carry's dtype, or NumPy's default for a ``y``.

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
    if isinstance(leaf, _PY_NUMBERS):
        return constant(leaf), True
    if isinstance(leaf, (np.ndarray, np.generic)):
        return constant(leaf), False
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
    dtypes = [v.dtype for v in init_vars]
    for _attempt in range(2):
        traced = _trace(f, init_tree, init_vars, dtypes, carry_names, xs_tree, xs_vars, xs_paths, indexed, what)
        retrace = _check_carry(traced, init_vars, dtypes, weak, init_paths, what)
        if not retrace:
            break
        for k, dtype in retrace.items():  # a Python number in init takes the body's dtype, as a weak scalar
            dtypes[k] = dtype
            init_vars[k] = constant(init_leaves[k], dtype=dtype)
    else:  # the second trace, with the body's dtypes, changed them again
        raise DTypeError(f"{what}: the body's carry dtypes change with the init's dtypes; give init typed arrays")
    carry_in, x_in, index, new_carry, ys, y_tree, y_paths, start = traced
    step_leaves = {*carry_in, *x_in, index}
    inner, captures = close_over(new_carry + ys, step_leaves, trace_start=start)
    read = ancestors(inner)
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
    with tracing_loop(index):  # a random draw in the body reads the step number: new numbers each step
        out = f(carry, x, index) if indexed else f(carry, x)
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


def _check_carry(traced, init_vars, dtypes, weak, paths, what) -> dict:
    """Errors for a new carry whose dtype or shape differs from init's; the
    dtypes to retrace with where only a Python number's type was in the way."""
    carry_in, new_carry = traced[0], traced[3]
    retrace = {}
    for k, (p, v) in enumerate(zip(carry_in, new_carry)):
        name = p.name
        if v.dtype != p.dtype:
            if weak[k] and np.result_type(v.dtype, init_vars[k].value.item()) == v.dtype and dtypes[k] != v.dtype:
                retrace[k] = v.dtype
                continue
            raise DTypeError(
                f"{what}: the body's new {name} has dtype {v.dtype} (shape {fmt_shape(v.shape)}, built at "
                f"{v.site}), but {paths[k]} has dtype {p.dtype} (shape {fmt_shape(p.shape)}); "
                f"a carry keeps its dtype: cast one of them"
            )
        if not shapes_compatible(v.shape, p.shape):
            raise ShapeError(
                f"{what}: the body's new {name} has shape {fmt_shape(v.shape)} (built at {v.site}), "
                f"but {paths[k]} has shape {fmt_shape(p.shape)}; a carry keeps its shape from step to step"
            )
    return retrace


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, Variable):
        return f"a single Variable ({value.label()}, shape {fmt_shape(value.shape)})"
    return f"a {type(value).__name__}"
