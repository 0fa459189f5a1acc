"""Forward mode: Jacobian-vector products built into the same graph, by the
transpose of back-propagation.

The gradient build_grad inserts for a seed u at y, g(u) = J^T u, is linear in u.
Differentiating that linear map once more, with respect to u, along v,
transposes it back: d/du <J^T u, v> = J v. So

    jvp(y, x, v) = build_grad(u, ...) of  w = sum(g(u) * v),  g = build_grad(x) seeded grad_table[y] = u

(the "transpose trick": Townsend 2017; JAX's ``linear_transpose`` runs the
other way round). It needs nothing from an op but its bprop: every op,
op_from_graph groups and loops included, and the result can be differentiated
again (jvp of jvp, jvp of grad, grad of jvp). Its nodes are marked as tangent
nodes (``v.role == "tangent"``, ``graphcomp.core.provenance``).

u is zeros of y's shape computed in the graph, never fed: J v does not depend
on u's value (the map is linear), and a bprop that reads u's shape only (an
unknown dimension's ``broadcast_like``) still has it at run time.

The trick needs every bprop on the path linear in G. graphcomp's own are; a
custom bprop of an ``op_from_graph`` group (JAX's ``custom_vjp``) need not be
(``clip(G, -1, 1)``, ``G * G``): forward mode checks each custom bprop on the
path statically (``graphcomp/autodiff/linearity.py``, the ops' ``linear``
trait) and refuses one not linear in G with a ``gc.GradientError`` naming the
group, as ``jax.jvp`` refuses a ``custom_vjp`` function. A linear one (the
straight-through estimator's ``[G]``, a scaled ``[G * 2.0]``) goes through:
forward mode then applies the transpose of the custom gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from graphcomp.autodiff.blocked import describe_block
from graphcomp.autodiff.build_grad import GradState, build_grad, is_disconnected
from graphcomp.autodiff.linearity import custom_bprop_nonlinearity
from graphcomp.autodiff.prune import prune
from graphcomp.core import collector, provenance
from graphcomp.core.graph import Graph
from graphcomp.core.node import Variable, constant
from graphcomp.core.site import creation_site
from graphcomp.core.traverse import ancestors, as_variable_list
from graphcomp.core.types import fmt_shape, is_differentiable_dtype, is_fully_known, shapes_compatible
from graphcomp.errors import ArgumentError, DTypeError, GradientError, NonDifferentiableError, ShapeError
from graphcomp.ops.binary import add_n
from graphcomp.ops.composite import OpFromGraph
from graphcomp.ops.creation import zeros_like
from graphcomp.ops.identity import match_shape
from graphcomp.ops.loops.scope import escaped
from graphcomp.ops.shape import expand_dims, reshape, stack

__all__ = ["jvp", "jacobian_forward", "Linearized", "linearize", "check_custom_bprops"]


class Linearized:
    """y's derivative in ``xs`` as a linear map, ready to apply to tangents: the
    gradient ``grads`` = J^T u built once for the seed ``u`` at y. ``apply(vs)``
    builds one Jacobian-vector product; a forward-mode Jacobian applies it once per
    input entry, sharing the gradient.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> lin = linearize(x * x, [x])
        >>> gc.evaluate(lin.apply([gc.constant([1.0, 0.0])]), {x: [3.0, 4.0]}).tolist()
        [6.0, 0.0]
    """

    def __init__(
        self,
        y: Variable,
        xs: list[Variable],
        u: Variable,
        grads: list[Variable],
        state: GradState,
        G: Graph,
        consider_constant: tuple = (),
    ):
        self.y, self.xs, self.u, self.grads, self.state = y, xs, u, grads, state
        self.G = G  # build_grad's G, which it does not read (nodes know their inputs)
        self.consider_constant = consider_constant

    def connected(self, k: int) -> bool:
        """Whether a differentiable path joins ``xs[k]`` to y."""
        return not is_disconnected(self.grads[k])

    def why_disconnected(self, k: int) -> str:
        """Why no gradient joins ``xs[k]`` to y: the blocking node, or no path."""
        b = self.state.blocker(self.xs[k])
        if b is None:
            return f"there is no path from {self.xs[k].label()} to {self.y.label()}"
        return f"every path is blocked by {describe_block(b, self.consider_constant)}: {b.label()} built at {b.site}"

    def apply(self, vs: list[Variable | None]) -> Variable:
        """J v (summed over the xs): the gradient of <g(u), v> with respect to u.

        ``vs[k]`` is the tangent of ``xs[k]`` (None: no term), checked by ``jvp``.
        """
        with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
            pairs = [(g, v) for k, (g, v) in enumerate(zip(self.grads, vs)) if v is not None and self.connected(k)]
            terms = [(g * v).sum() for g, v in pairs]
            return self.transpose(add_n(*terms) if len(terms) > 1 else terms[0] if terms else None)

    def transpose(self, w: Variable | None) -> Variable:
        """The gradient of the scalar ``w`` (built from the grads) with respect to u:
        the tangent of y. Zeros where nothing joins them."""
        with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
            if w is None:
                return zeros_like(self.u)
            with collector.paused():
                table = {w: constant(1.0, dtype=w.dtype)}
                return build_grad(self.u, self.G, prune(w, [self.u]), table, state=GradState())


def linearize(y: Variable, xs: list[Variable], consider_constant: tuple = (), fn: str = "jvp") -> Linearized:
    """The first half of forward mode: the gradient of y in ``xs`` for a seed u of
    y's shape (zeros computed in the graph), built once, as tangent nodes; the nodes
    in ``consider_constant`` are held fixed, as ``gc.grad``'s argument. Refuses
    (``gc.GradientError``, naming ``fn``) a custom bprop on the path that is not
    linear in G (``check_custom_bprops``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> lin = linearize(gc.sin(x), [x])
        >>> lin.u.role, lin.grads[0].role
        ('tangent', 'tangent')
    """
    G_pruned = prune(y, xs)
    check_custom_bprops(G_pruned.variables, fn)
    with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
        u = zeros_like(y)
        with collector.paused():
            table = {y: u}
            state = GradState(consider_constant=frozenset(consider_constant))
            G = Graph(y)
            grads = [build_grad(x, G, G_pruned, table, state=state) for x in xs]
    return Linearized(y, xs, u, grads, state, G, tuple(consider_constant))


def check_custom_bprops(path: list[Variable], fn: str = "jvp") -> None:
    """Refuse forward mode through an op_from_graph group, on ``path`` (G') or inside
    a group or loop body on it, whose custom bprop is not linear in G: transposing it
    would give a wrong tangent without a word (module docstring).

    Example:
        >>> import graphcomp as gc
        >>> a = gc.Variable("a")
        >>> sq = gc.op_from_graph(lambda u: u * 1.0, bprop=lambda ins, out, G: [G * G], name="sqg")
        >>> try:
        ...     gc.jvp(sq(a) * 3.0, a, 1.0)
        ... except gc.GradientError as e:
        ...     print(str(e)[:78])
        jvp: forward mode cannot go through the op_from_graph group 'sqg' (built at <d
    """
    seen, stack, checked = set(), list(path), set()
    while stack:
        v = stack.pop()
        if v in seen or v.owner is None:
            continue
        seen.add(v)
        op = v.owner.op
        if isinstance(op, OpFromGraph) and op.custom is not None:
            key = (id(op.custom), tuple((i.shape, i.dtype) for i in v.owner.inputs))
            if key not in checked:
                checked.add(key)
                bad = custom_bprop_nonlinearity(v)
                if bad is not None:
                    raise GradientError(_nonlinear_message(v, op, bad, fn))
        inner = op.inner()
        if inner is not None:
            stack.extend(ancestors([inner[1]]))
        for graph in op.inner_graphs():
            stack.extend(ancestors(graph))


def _nonlinear_message(v: Variable, op: OpFromGraph, bad: Variable, fn: str) -> str:
    return (
        f"{fn}: forward mode cannot go through the op_from_graph group {op.title!r} (built at {v.site}): its custom "
        f"bprop {op.custom.describe()} is not linear in G ({bad.owner.op.short_label()}, built at {bad.site}, is "
        "not linear in it), and forward mode transposes each bprop, which is right only for one linear in G (as "
        "jax.jvp refuses a custom_vjp function). Differentiate it with gc.grad, write the group without bprop= "
        "(its inner graph's own derivative), or make the bprop linear in G"
    )


def _check_y(y, fn: str) -> None:
    if not isinstance(y, Variable):
        raise ArgumentError(f"{fn}: y must be a Variable, got {y!r}")
    if not is_differentiable_dtype(y.dtype):
        raise NonDifferentiableError(
            f"{fn}: y ({y.label()}, built at {y.site}) has dtype {y.dtype}; only float values can be differentiated"
        )


def _check_x(x: Variable, fn: str) -> None:
    if not is_differentiable_dtype(x.dtype):
        raise NonDifferentiableError(
            f"{fn}: cannot differentiate with respect to {x.label()} of dtype {x.dtype} "
            f"(built at {x.site}); tangents exist only for float values"
        )


def _tangent(x: Variable, v, what: str) -> Variable:
    """``v`` as x's tangent: an array becomes a constant of x's dtype, a Variable must
    have x's dtype and shape (checked at run time where dimensions are unknown)."""
    if not isinstance(v, Variable):
        try:
            arr = np.asarray(v, dtype=x.dtype)
        except (TypeError, ValueError) as e:
            raise ArgumentError(f"jvp: {what} must be a Variable or an array of {x.label()}'s shape: {e}") from None
        with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
            v = constant(arr)
    elif v.dtype != x.dtype:
        raise DTypeError(
            f"jvp: {what} ({v.label()}) has dtype {v.dtype}, but {x.label()} has dtype {x.dtype}; "
            "a tangent has its primal's dtype (as in jax.jvp)"
        )
    if not shapes_compatible(v.shape, x.shape):
        raise ShapeError(
            f"jvp: {what} has shape {fmt_shape(v.shape)}, but {x.label()} (built at {x.site}) "
            f"has shape {fmt_shape(x.shape)}; a tangent has its primal's shape"
        )
    if v.shape != x.shape or not is_fully_known(x.shape):
        with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
            v = match_shape(v, x, f"jvp: {what} for {x.label()}")
    return v


def jvp(
    y: Variable,
    x: Variable | Sequence[Variable],
    v,
    *,
    disconnected: str = "raise",
    consider_constant: Sequence[Variable] = (),
) -> Variable:
    """Forward mode: the Jacobian of ``y`` with respect to ``x``, times ``v``, as a
    Variable of y's shape and dtype, built into the same graph (JAX's ``jax.jvp``
    tangent output).

    ``v`` is a Variable of x's shape and dtype or an array of x's shape (made a
    constant of x's dtype); a list ``x`` takes a list ``v`` and gives the sum of
    the products, J_1 v_1 + J_2 v_2 + .... Unknown dimensions are allowed: v's
    shape is then checked against x's at run time. An ``x`` that y does not
    depend on (or only through a blocked path: ``stop_gradient``, a comparison)
    raises ``gc.GradientError``, as ``gc.grad`` does, or with
    ``disconnected="zero"`` contributes zeros. The nodes in ``consider_constant``
    are held fixed, as in ``gc.grad``: no tangent flows through them.

    Built by the transpose trick over build_grad (module docstring): every op
    with a bprop has a forward mode, and the result, whose nodes have the role
    ``"tangent"``, can be differentiated again. Raises ``gc.ArgumentError``,
    ``gc.ShapeError`` (v's shape), ``gc.DTypeError`` (v's dtype),
    ``gc.NonDifferentiableError`` (integer x or y), ``gc.GradientError`` (also for
    an op_from_graph group on the path whose custom bprop is not linear in G,
    which forward mode cannot transpose: ``check_custom_bprops``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> t = gc.jvp(gc.sin(x) * x, x, [1.0, 0.0])   # (cos(x) x + sin(x)) v
        >>> t.shape, t.role, [round(a, 6) for a in gc.evaluate(t, {x: [0.0, 1.0]}).tolist()]
        ((2,), 'tangent', [0.0, 0.0])
        >>> a, b = gc.Variable("a"), gc.Variable("b")
        >>> float(gc.evaluate(gc.jvp(a * b, [a, b], [1.0, 2.0]), {a: 3.0, b: 5.0}))   # b*1 + a*2
        11.0
    """
    if disconnected not in ("raise", "zero"):
        raise ArgumentError(f'jvp: disconnected must be "raise" or "zero", got {disconnected!r}')
    _check_y(y, "jvp")
    if isinstance(x, Variable):
        xs, vs, names = [x], [v], ["v"]
    else:
        if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
            raise ArgumentError(f"jvp: x must be a Variable or a list of Variables, got {x!r}")
        xs = list(x)
        if isinstance(v, Variable) or not isinstance(v, Sequence) or len(v) != len(xs):
            raise ArgumentError(
                f"jvp: a list of {len(xs)} x takes a list of {len(xs)} tangents v, got "
                f"{type(v).__name__}{'' if not isinstance(v, Sequence) else f' of length {len(v)}'}"
            )
        vs, names = list(v), [f"v[{k}]" for k in range(len(xs))]
    for xk in xs:
        if not isinstance(xk, Variable):
            raise ArgumentError(f"jvp: x must be Variables, got {type(xk).__name__}: {xk!r}")
        _check_x(xk, "jvp")
    held, _ = as_variable_list(consider_constant, "jvp: consider_constant")
    for what, u in [("y", y), *(("x", xk) for xk in xs)]:
        why = escaped(u)
        if why is not None:  # a loop body's value: it would only be "disconnected" from y
            raise ArgumentError(f"jvp: {what} {why}")
    tangents = [_tangent(xk, vk, name) for xk, vk, name in zip(xs, vs, names)]
    lin = linearize(y, xs, tuple(held))
    for k in range(len(xs)):
        if disconnected == "raise" and not lin.connected(k):
            raise GradientError(
                f"jvp: {y.label()} does not depend on {xs[k].label()} (built at {xs[k].site}): "
                f'{lin.why_disconnected(k)}. Pass disconnected="zero" to get zeros'
            )
    return lin.apply(tangents)


def jacobian_forward(y: Variable, x: Variable, *, disconnected: str = "raise") -> Variable:
    """dy/dx of shape ``y.shape + x.shape`` by forward mode: one Jacobian-vector
    product per entry of x (a one-hot v), sharing one linearization; what
    ``gc.jacobian(y, x, mode="forward")`` builds. x's shape must be fully known
    (y's may have unknown dimensions: the dual of reverse mode's requirement).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> J = jacobian_forward(gc.stack([x[0] * x[1], gc.sin(x[0])]), x)
        >>> [[round(a, 4) for a in row] for row in gc.evaluate(J, {x: [0.0, 2.0]}).tolist()]
        [[2.0, 0.0], [1.0, 0.0]]
    """
    if disconnected not in ("raise", "zero"):
        raise ArgumentError(f'jacobian: disconnected must be "raise" or "zero", got {disconnected!r}')
    _check_y(y, "jacobian")
    if not isinstance(x, Variable):
        raise ArgumentError(f"jacobian: x must be a Variable, got {x!r}")
    _check_x(x, "jacobian")
    if not is_fully_known(x.shape):
        raise ShapeError(f'jacobian(mode="forward"): x\'s shape {fmt_shape(x.shape)} must be fully known')
    lin = linearize(y, [x], fn="jacobian")
    if not lin.connected(0) and disconnected == "raise":
        raise GradientError(
            f"jacobian: {y.label()} does not depend on {x.label()} (built at {x.site}): "
            f'{lin.why_disconnected(0)}. Pass disconnected="zero" to get zeros'
        )
    n = math.prod(x.shape)
    with provenance.building(site=creation_site(), grad_of=None, role="tangent"):
        if n == 0 or not lin.connected(0):
            return _zero_jacobian(lin.u, x)
        if x.shape == ():
            return lin.transpose(lin.grads[0])
        flat = lin.grads[0].reshape(-1)
        return _columns(y, x, [lin.transpose(flat[k]) for k in range(n)])


def _zero_jacobian(u: Variable, x: Variable) -> Variable:
    """Zeros of y.shape + x.shape (u has y's shape, its dimensions perhaps unknown):
    broadcasting needs no reshape, so it works for an empty x too."""
    zeros = zeros_like(u)
    if x.ndim:
        zeros = expand_dims(zeros, tuple(range(u.ndim, u.ndim + x.ndim)))
    return zeros * constant(np.zeros(x.shape, dtype=u.dtype))


def _columns(y: Variable, x: Variable, cols: list[Variable]) -> Variable:
    """The Jacobian from its columns J[..., k] (one per flattened entry of x)."""
    J = stack(cols, axis=-1)
    if x.ndim == 1:
        return J
    if y.shape.count(None) > 1:
        raise ShapeError(
            f'jacobian(mode="forward"): y\'s shape {fmt_shape(y.shape)} may have at most one unknown dimension '
            f"when x has {x.ndim} dimensions"
        )
    return reshape(J, tuple(-1 if d is None else d for d in y.shape) + tuple(x.shape))
