"""``gc.compile``: a callable for a graph, with the API's calling convention.

For now the callable runs a schedule prepared once (the interpreter's plan);
the rewrite passes and generated code replace the inside, not this surface.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from graphcomp.core.graph import Graph
from graphcomp.core.node import Parameter, Variable
from graphcomp.core.traverse import as_variable_list
from graphcomp.core.types import fmt_shape
from graphcomp.errors import ArgumentError, DTypeError, InputError, ShapeError, SignatureError
from graphcomp.ops.base import weak_constant
from graphcomp.runtime.evaluate import Plan
from graphcomp.runtime.feed import check_value, missing_input_message

__all__ = ["Function", "compile"]


class Function:
    """A compiled graph: call it with input values, positionally or by name.

    ``f.inputs`` is the positional order, ``f.outputs`` the outputs,
    ``f.graph`` the (optimised) graph for inspection.

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
    ):
        self.outputs = outputs
        self.check_finite = check_finite
        self.inputs = inputs
        self.updates = list(updates)
        self._single = single
        self._plan = Plan.build(outputs + [new for _, new in self.updates])
        self.graph = Graph(outputs)
        needed = set(self._plan.inputs)
        self._needed = [v in needed for v in inputs]
        self._by_name: dict[str, list[int]] = {}
        for k, v in enumerate(inputs):
            self._by_name.setdefault(v.name, []).append(k)

    def __call__(self, *args, **kwargs):
        if len(args) > len(self.inputs):
            raise SignatureError(
                f"this function takes {len(self.inputs)} positional input(s) "
                f"({', '.join(v._label() for v in self.inputs)}), got {len(args)}"
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
        env = {}
        for var, value, needed in zip(self.inputs, values, self._needed):
            if not needed:
                continue
            if value is _MISSING:
                raise SignatureError(missing_input_message(var))
            env[var] = check_value(var, value)
        out = self._plan.run(env, self.check_finite)
        if self.updates:
            # every new value was computed from the old ones; only now assign them all
            n = len(self.outputs)
            for (param, _), value in zip(self.updates, out[n:]):
                param.set_value(value)
            out = out[:n]
        return out[0] if self._single else out

    def _names(self) -> str:
        return ", ".join(repr(v.name) for v in self.inputs)

    def __repr__(self) -> str:
        outs = ", ".join(v._label() for v in self.outputs)
        return f"<graphcomp.Function ({self._names()}) -> [{outs}]>"


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
) -> Function:
    """Prepare ``outputs`` to be run many times; returns a callable Function.

    ``inputs`` fixes the positional order (default: the graph's inputs in
    creation order); keyword arguments are taken by Variable name. Listed
    inputs the outputs do not need are accepted and ignored. ``updates``
    maps Parameters to new values: each call computes every new value from
    the old ones, then assigns them all. With
    ``check_finite=True`` each call stops at the first node whose output
    holds NaN or Inf (see ``gc.evaluate``).

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> f = gc.compile([x * z, gc.grad(x * z, x)], [x, z])
        >>> [float(v) for v in f(2.0, z=3.0)]
        [6.0, 3.0]
    """
    outs, single = as_variable_list(outputs)
    pairs = _check_updates(updates)
    graph_inputs = Graph(outs + [new for _, new in pairs]).input_variables
    if inputs is None:
        ins = graph_inputs
    else:
        ins, _ = as_variable_list(inputs, "inputs")
        for v in ins:
            if not v.is_input:
                raise InputError(f"compile: {v._label()!r} (built at {v.site}) is a {v.kind} node, not an input")
        if len(set(ins)) != len(ins):
            raise InputError("compile: an input is listed twice")
        listed = set(ins)
        missing = [v for v in graph_inputs if v not in listed]
        if missing:
            names = ", ".join(f"{v._label()!r} (built at {v.site})" for v in missing)
            raise InputError(f"compile: the outputs need input(s) {names}, which are not in inputs")
    return Function(outs, single, ins, check_finite, pairs)


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
        if new.shape != param.shape and not (
            len(new.shape) == len(param.shape) and all(a is None or a == b for a, b in zip(new.shape, param.shape))
        ):
            raise ShapeError(
                f"compile: the update of Parameter {param._label()!r} has shape {fmt_shape(new.shape)} "
                f"(built at {new.site}), but the Parameter's shape is {fmt_shape(param.shape)}"
            )
        if not np.can_cast(new.dtype, param.dtype, "same_kind"):
            raise DTypeError(
                f"compile: the update of Parameter {param._label()!r} has dtype {new.dtype}, "
                f"which cannot be stored in its {param.dtype}"
            )
        pairs.append((param, new))
    return pairs
