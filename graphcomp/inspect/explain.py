"""``gc.explain_grad``: why a gradient is zero, disconnected or not finite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np

from graphcomp.autodiff.backprop import backprop
from graphcomp.autodiff.blocked import describe_block
from graphcomp.autodiff.build_grad import is_disconnected
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors
from graphcomp.core.types import is_differentiable_dtype
from graphcomp.runtime.evaluate import all_finite, evaluate

__all__ = ["Explanation", "explain_grad"]


@dataclasses.dataclass
class Explanation:
    """The verdict on one gradient: ``status`` is ``"no path"``, ``"blocked"``,
    ``"non-finite"``, ``"zero"`` or ``"ok"``; ``node`` is the node to look at."""

    status: str
    message: str
    node: Variable | None = None

    def __str__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return f"**{self.status}**: {self.message}"


def _where(v: Variable) -> str:
    what = v.owner.op.label() if v.owner is not None else v.kind
    return f"{v.label()} ({what}, built at {v.site})"


def explain_grad(
    cost: Variable, x: Variable, feed: Mapping | None = None, *, consider_constant: Iterable[Variable] = ()
) -> Explanation:
    """Say why the gradient of ``cost`` with respect to ``x`` is zero,
    disconnected or non-finite, naming the node responsible.

    Without ``feed`` only the structure is examined: no path, or a path
    blocked by a ``stop_gradient``, a ``consider_constant`` node, a
    comparison or an integer value. With ``feed`` the values are examined
    too: the first node on the path whose gradient turns non-finite (the
    untaken branch of a ``where`` is the classic) or turns exactly zero.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> y = gc.where(x > 0, gc.log(x), 0.0)
        >>> print(gc.explain_grad(y, x, {x: 0.0}).status)
        non-finite
    """
    if x not in ancestors([cost]):
        return Explanation("no path", f"{cost.label()} does not depend on {_where(x)} at all: no path joins them")
    if not is_differentiable_dtype(x.dtype):
        return Explanation("blocked", f"{_where(x)} has dtype {x.dtype}; gradients exist only for floats", x)
    consider_constant = tuple(consider_constant)  # read twice: by backprop, and to describe a block
    r = backprop(cost, [x], consider_constant=consider_constant)
    g = r.grads[x]
    if is_disconnected(g):
        b = r.blocker(x)
        if b is None:
            return Explanation("no path", f"no differentiable path joins {x.label()} to {cost.label()}")
        why = describe_block(b, consider_constant)
        return Explanation("blocked", f"every path from {x.label()} to {cost.label()} crosses {why}: {_where(b)}", b)
    if feed is None:
        return Explanation("ok", f"{cost.label()} depends differentiably on {x.label()}; pass a feed to check values")
    return _explain_values(cost, x, r, feed)


def _explain_values(cost, x, r, feed) -> Explanation:
    path = [v for v in r.pruned.variables]  # topological: x first, cost last
    with np.errstate(all="ignore"):
        values = dict(zip(path, evaluate(path, feed)))
        grads = dict(zip(path, evaluate([r.grad_table[v] for v in path], feed)))
    # walk from the cost back to x: where does the gradient first go bad?
    for v in reversed(path):
        if all_finite(grads[v]):
            continue
        culprits = [c for c in r.pruned.consumers(v) if not _finite_term(r, v, c, feed)]
        c = culprits[0] if culprits else None
        if c is None:
            return Explanation("non-finite", f"the gradient at {_where(v)} is not finite", v)
        D = grads[c]
        local = "its local derivative is infinite or undefined"
        if not all_finite(values[v]) or not all_finite(values[c]):
            local = f"the value of {c.label()} is {_summary(values[c])} here"
        untaken = (
            " A zero incoming gradient times an infinite local derivative gives nan: the untaken branch of a where."
            if np.all(np.asarray(D) == 0)
            else ""
        )  # noqa: E501
        return Explanation(
            "non-finite",
            f"the gradient first turns non-finite at {_where(v)}, in the term from its consumer "
            f"{_where(c)}: {local}.{untaken} Guard the input of that branch, not its output.",
            c,
        )
    gx = np.asarray(grads[x])
    if np.all(gx == 0):
        for v in path:
            if np.all(np.asarray(grads[v]) == 0):
                zero_from = [c for c in r.pruned.consumers(v) if not np.all(np.asarray(grads[c]) == 0)]
                if zero_from:
                    c = zero_from[0]
                    return Explanation(
                        "zero",
                        f"the gradient is exactly zero at these inputs: it vanishes at {_where(c)}, "
                        f"whose local derivative with respect to {v.label()} is zero here",
                        c,
                    )
        return Explanation("zero", "the gradient is exactly zero at these inputs", x)
    return Explanation("ok", f"the gradient is connected and finite (norm {float(np.linalg.norm(gx)):.4g})")


def _finite_term(r, v, c, feed) -> bool:
    terms = [t.term for t in r.provenance.get(v, []) if t.consumer is c]
    if not terms:
        return True
    with np.errstate(all="ignore"):
        return all(all_finite(t) for t in evaluate(terms, feed))


def _summary(a) -> str:
    a = np.asarray(a)
    if a.ndim == 0:
        return str(a.item())
    bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
    return f"non-finite in {bad} of {a.size} places"
