"""The interpreter: run the needed nodes in topological order, freeing each
intermediate value after its last use (as JAX's ``eval_jaxpr``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.traverse import as_variable_list
from graphcomp.core.types import as_bool, fmt_shape
from graphcomp.errors import EvaluationError, NonFiniteError, named  # noqa: F401 (EvaluationError: importable from here)
from graphcomp.runtime.failure import op_failure
from graphcomp.runtime.feed import bind_feed
from graphcomp.runtime.node_warnings import register_run_loop
from graphcomp.runtime.schedule import Plan
from graphcomp.runtime.state import held, is_frozen, state_updates

__all__ = ["evaluate", "run_plan", "all_finite", "op_failure"]


def run_plan(plan: Plan, env: dict, check_finite: bool = False) -> list:
    """Run ``plan`` on ``env`` (its inputs bound) and return the outputs' values: each
    node's forward in order, each value freed after its last use (JAX's ``eval_jaxpr``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = x * 3.0
        >>> [float(v) for v in run_plan(Plan.build([y]), {x: 2.0})]
        [6.0]
    """
    if check_finite:
        return _run_checked(plan, env)
    for c in plan.constants:
        env[c] = c.value
    for p in plan.parameters:  # the value current at this call
        env[p] = p.value
    for v, forward, ins, dies in plan.steps:
        try:
            env[v] = forward(*[env[i] for i in ins])
        except Exception as e:
            raise op_failure(v, [env.get(i) for i in ins], e) from e
        for d in dies:
            del env[d]
    return [env[o] for o in plan.outputs]


def _run_checked(plan: Plan, env: dict) -> list:
    """The same loop, stopping at the first op whose output holds NaN or Inf."""
    for c in plan.constants:
        env[c] = c.value
    for p in plan.parameters:
        env[p] = p.value
    for v, forward, ins, dies in plan.steps:
        args = [env[i] for i in ins]
        try:
            with np.errstate(all="ignore"):
                out = forward(*args)
        except Exception as e:
            raise op_failure(v, args, e) from e
        if not all_finite(out):
            raise _non_finite(v, args, out)
        env[v] = out
        for d in dies:
            del env[d]
    return [env[o] for o in plan.outputs]


def all_finite(a) -> bool:
    """True unless ``a`` is a float or complex array holding NaN or Inf.

    Example:
        >>> all_finite([1.0, float("inf")]), all_finite([1, 2])
        (False, True)
    """
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _describe(a) -> str:
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or a.size == 0:
        return f"{fmt_shape(a.shape)} {a.dtype}"
    finite = np.isfinite(a)
    bad = int(a.size - np.count_nonzero(finite))
    lo, hi = (float(a[finite].min()), float(a[finite].max())) if bad < a.size else (float("nan"), float("nan"))
    return f"{fmt_shape(a.shape)} {a.dtype} min {lo:.4g} max {hi:.4g}, {bad} non-finite"


def _non_finite(v: Variable, args: list, out) -> NonFiniteError:
    a = np.asarray(out)
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    kinds = "/".join(k for k, f in (("nan", np.isnan), ("inf", np.isinf)) if f(a).any())
    ins = "; ".join(f"{i.label()}: {_describe(x)}" for i, x in zip(v.owner.inputs, args))
    e = NonFiniteError(
        f"{v.owner.op.label()} produced {kinds} in {bad} of {a.size} element(s), the first non-finite "
        f"value in the graph; its inputs: {ins}; built at {v.site}"
    )
    e.site = v.site
    e.node = v
    return e


def evaluate(outputs: Variable | list[Variable], feed: Mapping | None = None, *, check_finite: bool = False):
    """Interpret the graph: returns an array for one output, a list for a list.

    ``feed`` maps input Variables (or their names) to values; only the nodes
    the outputs need are run, each intermediate freed after its last use.
    With ``check_finite=True`` evaluation stops at the first node whose
    output holds NaN or Inf and raises ``gc.NonFiniteError`` naming it, its
    inputs (shape, min, max, non-finite count) and where it was built.
    A graph that draws random numbers (``gc.random``) advances its generators'
    states after each evaluation, so the next one draws new numbers. A loop
    (``gc.scan``) runs once for all of its outputs, and once with the copies of
    it that keep values for its gradients (as ``gc.compile``'s merge-loops pass).

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> float(gc.evaluate(x * z + 1, {x: 2.0, "z": 3.0}))
        7.0
    """
    outs, single = as_variable_list(outputs, "evaluate: outputs")
    check_finite = as_bool(check_finite, "evaluate: check_finite")
    plan = Plan.build(outs)
    if any(type(s[0].owner.op).multiple_outputs for s in plan.steps):
        plan = _one_run_per_loop(outs, plan)
        outs = plan.outputs
    # a draw reads a Parameter (its generator's state): only graphs reading one may draw
    updates = state_updates(s[0] for s in plan.steps) if plan.parameters else []
    with named("evaluate"):
        if updates:
            values = _run_advancing(outs, updates, feed, check_finite)
        else:
            values = run_plan(plan, bind_feed(plan.inputs, feed), check_finite)
    return values[0] if single else values


def _one_run_per_loop(outs: list, plan: Plan) -> Plan:
    """The plan with each loop and the copies of it that keep values for a gradient
    run as one loop (``gc.compile``'s merge-loops pass), so a value and its
    gradient asked together run the forward steps once."""
    from graphcomp.passes import merge_loops  # only graphs holding a loop pay for the import and the walk

    merged = merge_loops.run(outs)
    return plan if all(a is b for a, b in zip(merged, outs)) else Plan.build(merged)


def _run_advancing(outs: list, updates: list, feed, check_finite: bool) -> list:
    """Run ``outs`` and the stateful ops' updates, then assign those (see
    ``graphcomp.runtime.state``): the next run draws new numbers."""
    plan = Plan.build(outs + [new for _, new in updates])
    env = bind_feed(plan.inputs, feed)
    with held(p for p, _ in updates):
        values = run_plan(plan, env, check_finite)
        if not is_frozen():
            for (param, _), value in zip(updates, values[len(outs) :]):
                param.set_value(value)
    return values[: len(outs)]


register_run_loop(run_plan, _run_checked)  # a NumPy warning while they run names their node ``v``
