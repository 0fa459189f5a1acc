"""The scalar specialisation: a graph whose every value is a 0-d float64 also
gets code over Python floats, each op written as its scalar form
(``Op.scalar``, with ``math``), tried first on Python-float arguments. A call
then costs a few microseconds instead of a NumPy call per node."""

from __future__ import annotations

import numpy as np

from graphcomp.core import collector
from graphcomp.core.node import Variable
from graphcomp.runtime.codegen import ROLL_FROM, comment, fixed_names
from graphcomp.runtime.roll import Step, emit, mark
from graphcomp.runtime.schedule import Plan
from graphcomp.runtime.source import Generated, build

__all__ = ["generate_scalar"]


def generate_scalar(
    outputs: list[Variable], args: list[Variable], plan: Plan | None = None, loops: bool | None = None
) -> Generated | None:
    """The graph as Python-float code with ``math``, or None when some value is not a
    0-d float64 or some op has no scalar form.

    ``math`` raises where NumPy returns inf or nan (log(0), 1/0, overflow): the
    caller then runs the NumPy code instead, so results keep NumPy's semantics.

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> g = generate_scalar([gc.exp(x * z)], [x, z])
        >>> print(g.source.splitlines()[2])
            _v... = x * z
        >>> g.fn(1.0, 0.0)
        (np.float64(1.0),)
    """
    with collector.paused():
        return _generate_scalar(outputs, args, plan or Plan.build(outputs), loops)


def _generate_scalar(outputs, args, plan: Plan, loops) -> Generated | None:
    every = list(args) + plan.constants + [s[0] for s in plan.steps]
    if plan.parameters or any(v.shape != () or v.dtype != np.float64 for v in every):
        return None
    namespace: dict = {"_f64": np.float64}
    fixed, header, _ = fixed_names(plan, args, namespace)
    literals = {c: repr(float(c.value)) for c in plan.constants if np.isfinite(c.value)}
    for c in plan.constants:
        namespace[fixed[c]] = float(c.value)
        fixed[c] = literals.get(c, fixed[c])  # a finite constant is written as its literal
    steps = []
    for v, _, ins, _ in plan.steps:
        op = v.owner.op
        # constants as literals, so a form can specialise on them (x**2 is x*x)
        marks = [literals.get(i) or mark(k) for k, i in enumerate(ins)]
        expr = op.scalar(*marks)
        if expr is None:
            return None
        namespace.update(type(op).scalar_helpers)
        label = op.label()
        steps.append(Step(v, expr, ins, [], (), label))
    roll = len(steps) >= ROLL_FROM if loops is None else loops
    body, outs = emit(steps, fixed, outputs, comment, roll=roll, free=False)
    return build(header, [], body, f"return ({', '.join(f'_f64({o})' for o in outs)},)", namespace)
