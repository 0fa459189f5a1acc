"""Algorithm 6.5 (the outer skeleton of back-propagation) and what users call
on top of it: grad, jacobian, hessian and hvp."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np

from graphcomp.autodiff.blocked import describe_block
from graphcomp.autodiff.build_grad import GradState, TraceStep, build_grad, is_disconnected
from graphcomp.autodiff.forward import jacobian_forward
from graphcomp.autodiff.prune import prune
from graphcomp.core import collector, provenance
from graphcomp.core.graph import Graph, show
from graphcomp.core.node import Variable, constant
from graphcomp.core.traverse import as_variable_list
from graphcomp.core.types import as_bool, fmt_shape, is_differentiable_dtype, is_fully_known, shapes_compatible
from graphcomp.errors import ArgumentError, GradientError, NonDifferentiableError, ShapeError
from graphcomp.ops.creation import ones_like
from graphcomp.ops.loops.scope import escaped
from graphcomp.ops.shape import broadcast_to, reshape, stack

__all__ = ["BackpropResult", "GradTable", "backprop", "grad", "jacobian", "hessian", "hvp"]


@dataclasses.dataclass
class BackpropResult:
    """What Algorithm 6.5 produced, kept for inspection.

    ``grads``: grad_table restricted to the targets; ``grad_table``: every
    entry, z's seed included; ``pruned``: G'; ``graph``: G after the gradient
    nodes were inserted; ``provenance``: for each V, the consumers' terms
    summed into its gradient; ``trace``: build_grad's steps, when asked for;
    ``blockers``: for each V with no differentiable path to z, the node that
    blocks its paths (None: no path at all).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = gc.sin(x); z = y * y
        >>> r = gc.backprop(z, [x], trace=True)
        >>> [c.consumer is z for c in r.provenance[y]], [s.kind for s in r.trace][:4]
        ([True, True], ['visit', 'contribution', 'contribution', 'sum'])
    """

    grads: dict[Variable, Variable]
    grad_table: dict[Variable, Variable]
    pruned: Graph
    graph: Graph
    provenance: dict
    trace: list | None = None
    blockers: dict = dataclasses.field(default_factory=dict)

    def disconnected(self, target: Variable) -> bool:
        """True when no differentiable path joins ``target`` to z."""
        return is_disconnected(self.grads[target])

    def blocker(self, target: Variable) -> Variable | None:
        """The node that blocks every path from a disconnected ``target`` to z (None:
        there is no path at all).

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); s = gc.stop_gradient(x)
            >>> gc.backprop(s * 2.0, [x]).blocker(x) is s
            True
        """
        return self.blockers.get(target)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return show(self, include, exclude)


class GradTable(dict):
    """The grad_table of Algorithm 6.5: a dict from Variable to its gradient,
    which in a notebook draws itself (z, every entry, and the graph between)."""

    def _repr_mimebundle_(self, include=None, exclude=None):
        return show(self, include, exclude)


def _seed(z: Variable) -> Variable:
    with provenance.gradient_of(z):
        return constant(1.0, dtype=z.dtype) if z.shape == () else ones_like(z)


def backprop(
    z: Variable,
    targets: Variable | Iterable[Variable],
    *,
    consider_constant: Iterable[Variable] = (),
    trace: bool = False,
) -> BackpropResult:
    """Algorithm 6.5: prune G to G', seed ``grad_table[z] = 1``, build_grad each target.

    For a non-scalar ``z`` the seed is ones of z's shape (the gradient of sum(z)).

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> y = x * z
        >>> r = gc.backprop(y, [x, z])
        >>> [float(v) for v in gc.evaluate([r.grads[x], r.grads[z]], {x: 2.0, z: 3.0})]
        [3.0, 2.0]
    """
    if not isinstance(z, Variable):
        raise ArgumentError(f"backprop: z must be a Variable, got {z!r}")
    ts, _ = as_variable_list(targets, "backprop: targets")
    consts, _ = as_variable_list(consider_constant, "backprop: consider_constant")
    trace = as_bool(trace, "backprop: trace")
    with collector.paused():
        G = Graph(z)
        G_pruned = prune(z, ts)
        grad_table: dict[Variable, Variable] = GradTable({z: _seed(z)})
        state = GradState(consider_constant=frozenset(consts), trace=[] if trace else None)
        for V in ts:
            build_grad(V, G, G_pruned, grad_table, state=state)
    if state.trace:
        state.trace = _with_inner_traces(state.trace)
    grads = {V: grad_table[V] for V in ts}
    return BackpropResult(
        grads=grads,
        grad_table=grad_table,
        pruned=G_pruned,
        graph=Graph([z, *grad_table.values()]),
        provenance=state.provenance,
        trace=state.trace,
        blockers={V: state.blocker(V) for V in ts if is_disconnected(grads[V])},
    )


def _with_inner_traces(trace: list[TraceStep]) -> list[TraceStep]:
    """``trace`` with the build_grad steps a bprop ran inside an inner graph (a loop's
    body, ``Op.inner_backprop``) spliced in after the contribution that built it:
    a ``"body"`` step, then that trace one level deeper, each step knowing its loop.
    A loop's bprop is built once for all its inputs, so it is spliced once."""
    out: list[TraceStep] = []
    spliced: set = set()
    for s in trace:
        out.append(s)
        if s.kind != "contribution" or s.term is None or s.term.owner is None:
            continue
        for node in (s.term, *s.term.owner.inputs):  # the backward loop, or a projection of it
            inner = node.owner.op.inner_backprop() if node.owner is not None else None
            if inner is None or not inner.trace or id(node) in spliced:
                continue
            spliced.add(id(node))
            out.append(TraceStep("body", s.consumer, term=node, depth=s.depth, loop=s.loop))
            out += [
                dataclasses.replace(t, depth=t.depth + 1, loop=t.loop if t.loop is not None else s.consumer)
                for t in inner.trace
            ]
            break
    return out


def _why_disconnected(cost: Variable, target: Variable, b: Variable | None, constants: tuple = ()) -> str:
    if b is None:
        return f"there is no path from {target.label()} to {cost.label()}"
    return f"every path is blocked by {describe_block(b, constants)}: {b.label()} built at {b.site}"


def grad(
    cost: Variable,
    wrt: Variable | Sequence[Variable],
    *,
    consider_constant: Iterable[Variable] = (),
    disconnected: str = "raise",
) -> Variable | list[Variable]:
    """Symbolic gradients of the scalar ``cost``, inserted into the same graph.

    Returns one Variable per target (a list when ``wrt`` is a sequence), each
    of its target's shape, which can be differentiated again. A target the
    cost does not depend on raises (``disconnected="raise"``, naming it and
    the node that blocks the path) or gets zeros (``"zero"``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> dx = gc.grad(x ** 3, x)
        >>> float(gc.evaluate(dx, {x: 2.0})), float(gc.evaluate(gc.grad(dx, x), {x: 2.0}))
        (12.0, 12.0)
    """
    _disconnected("grad", disconnected)
    if not isinstance(cost, Variable):
        raise ArgumentError(f"grad: cost must be a Variable, got {cost!r}")
    why = escaped(cost)
    if why is not None:  # a loop body's value: first, before what is wrong with it as a cost
        raise ArgumentError(f"grad: the cost {why}")
    if cost.shape != ():
        raise GradientError(
            f"grad: the cost must be a scalar, but {cost.label()} has shape {fmt_shape(cost.shape)} "
            f"(built at {cost.site}); reduce it with .sum() or use gc.jacobian"
        )
    if not is_differentiable_dtype(cost.dtype):
        raise NonDifferentiableError(
            f"grad: the cost {cost.label()} has dtype {cost.dtype}; only float costs can be differentiated"
        )
    targets, single = as_variable_list(wrt, "grad: wrt")
    for t in targets:
        why = escaped(t)
        if why is not None:  # a loop body's value: it would only be "disconnected" from the cost
            raise ArgumentError(f"grad: wrt {why}")
    for t in targets:
        if not is_differentiable_dtype(t.dtype):
            raise NonDifferentiableError(
                f"grad: cannot differentiate with respect to {t.label()} of dtype {t.dtype} "
                f"(built at {t.site}); gradients exist only for float values"
            )
    # read twice: by backprop, and to explain a block
    consider_constant = tuple(as_variable_list(consider_constant, "grad: consider_constant")[0])
    result = backprop(cost, targets, consider_constant=consider_constant)
    out = []
    for t in targets:
        g = result.grads[t]
        if is_disconnected(g) and disconnected == "raise":
            raise GradientError(
                f"grad: {cost.label()} does not depend on {t.label()} (built at {t.site}): "
                f"{_why_disconnected(cost, t, result.blocker(t), consider_constant)}. "
                'Pass disconnected="zero" to get zeros'
            )
        out.append(g)
    return out[0] if single else out


def _is_connected(y: Variable, x: Variable) -> bool:
    return x in prune(y, [x])


def jacobian(y: Variable, x: Variable, *, disconnected: str = "raise", mode: str = "reverse") -> Variable:
    """dy/dx as a Variable of shape ``y.shape + x.shape``.

    ``mode="reverse"`` builds one gradient per element of y (y's shape must be
    fully known); ``mode="forward"`` one Jacobian-vector product per entry of x
    (``gc.jvp`` with a one-hot v; x's shape must be fully known), as JAX's
    ``jacrev``/``jacfwd``: the same matrix, the cheaper one for a wide
    (``mode="reverse"``) or a tall (``mode="forward"``) Jacobian. Elements of y
    that do not depend on x get zero rows; ``disconnected`` applies to y as a
    whole.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> J = gc.jacobian(x * x, x)
        >>> gc.evaluate(J, {x: [1.0, 3.0]}).tolist()
        [[2.0, 0.0], [0.0, 6.0]]
        >>> gc.evaluate(gc.jacobian(x * x, x, mode="forward"), {x: [1.0, 3.0]}).tolist()
        [[2.0, 0.0], [0.0, 6.0]]
    """
    _disconnected("jacobian", disconnected)
    if mode not in ("reverse", "forward"):
        raise ArgumentError(f'jacobian: mode must be "reverse" or "forward", got {mode!r}')
    if mode == "forward":
        return jacobian_forward(y, x, disconnected=disconnected)
    if not isinstance(y, Variable) or not isinstance(x, Variable):
        raise ArgumentError("jacobian: y and x must be Variables")
    if not is_fully_known(y.shape):
        raise ShapeError(f"jacobian: y's shape {fmt_shape(y.shape)} must be fully known")
    if y.shape == ():
        return grad(y, x, disconnected=disconnected)
    if disconnected == "raise" and not _is_connected(y, x):
        grad(y.sum(), x)  # raises the usual, precise disconnected error
    n = math.prod(y.shape)
    if n == 0:
        return broadcast_to(constant(0, dtype=x.dtype), y.shape + x.shape)
    flat = y.reshape(-1)
    J = stack([grad(flat[i], x, disconnected="zero") for i in range(n)], axis=0)
    if y.ndim == 1:
        return J
    if x.shape.count(None) > 1:
        raise ShapeError(f"jacobian: x's shape {fmt_shape(x.shape)} may have at most one unknown dimension")
    return reshape(J, y.shape + tuple(-1 if d is None else d for d in x.shape))


def hessian(
    cost: Variable, x: Variable, *, consider_constant: Iterable[Variable] = (), disconnected: str = "raise"
) -> Variable:
    """The Hessian of the scalar ``cost`` in ``x``, of shape ``x.shape + x.shape``.

    Built as the Jacobian of ``grad(cost, x)``; a gradient that does not
    depend on x (a linear cost) has a zero Hessian.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> gc.evaluate(gc.hessian((x ** 3).sum(), x), {x: [1.0, 2.0]}).tolist()
        [[6.0, 0.0], [0.0, 12.0]]
    """
    _variables("hessian", cost=cost, x=x)
    _disconnected("hessian", disconnected)
    consider_constant = as_variable_list(consider_constant, "hessian: consider_constant")[0]
    if not is_fully_known(x.shape):
        raise ShapeError(f"hessian: x's shape {fmt_shape(x.shape)} must be fully known")
    g = grad(cost, x, consider_constant=consider_constant, disconnected=disconnected)
    return jacobian(g, x, disconnected="zero")


def _disconnected(who: str, value) -> None:
    if not isinstance(value, str) or value not in ("raise", "zero"):
        raise ArgumentError(f'{who}: disconnected must be "raise" or "zero", got {value!r}'[:300])


def _variables(who: str, **named) -> None:
    """An ArgumentError naming ``who`` and the argument for one that is not a Variable."""
    for what, v in named.items():
        if not isinstance(v, Variable):
            raise ArgumentError(f"{who}: {what} must be a Variable, got {type(v).__name__}: {v!r}"[:300])


def hvp(cost: Variable, x: Variable, v, *, consider_constant: Iterable[Variable] = ()) -> Variable:
    """The Hessian-vector product H v, without building H: grad(grad(cost, x) . v, x).

    ``v`` is a Variable or an array of x's shape.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> gc.evaluate(gc.hvp((x ** 3).sum(), x, [1.0, 1.0]), {x: [1.0, 2.0]}).tolist()
        [6.0, 12.0]
    """
    _variables("hvp", cost=cost, x=x)
    consider_constant = as_variable_list(consider_constant, "hvp: consider_constant")[0]
    if not isinstance(v, Variable):
        try:
            v = constant(np.asarray(v, dtype=x.dtype))
        except (TypeError, ValueError) as e:
            raise ArgumentError(f"hvp: v must be a Variable or an array of x's shape, got {v!r}"[:300]) from e
    if not shapes_compatible(v.shape, x.shape):
        raise ShapeError(f"hvp: v has shape {fmt_shape(v.shape)} but x has shape {fmt_shape(x.shape)}")
    g = grad(cost, x, consider_constant=consider_constant)
    return grad((g * v).sum(), x, consider_constant=consider_constant, disconnected="zero")
