"""The schedule of a graph: the order in which its nodes run, and when each
value is used for the last time. The interpreter and the code generators both
follow it."""

from __future__ import annotations

import dataclasses

from graphcomp.core import collector
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, topological
from graphcomp.runtime.node_warnings import install_warning_filter

__all__ = ["Plan", "Step"]

#: one op node's step: (variable, its op's forward, its input variables, the variables to free after it)
Step = tuple


@dataclasses.dataclass
class Plan:
    """A schedule for computing ``outputs``: which inputs are fed, which
    constants and Parameters are read, and for each op node its inputs and
    what dies after it."""

    outputs: list[Variable]
    inputs: list[Variable]
    constants: list[Variable]
    parameters: list[Variable]
    steps: list[Step]
    order: list[Variable] = dataclasses.field(default_factory=list, repr=False)  # every Variable, topologically

    @classmethod
    def build(cls, outputs: list[Variable]) -> Plan:
        """Schedule ``outputs``: topological order and last uses.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); y = gc.exp(x) * 2.0
            >>> [s[0].owner.op.name for s in Plan.build([y]).steps]
            ['exp', 'multiply']
        """
        install_warning_filter()  # so NumPy's warnings while it runs name the node
        with collector.paused():
            return cls._build(outputs)

    @classmethod
    def _build(cls, outputs: list[Variable]) -> Plan:
        order = topological(ancestors(outputs))
        inputs = [v for v in order if v.kind == "input"]
        constants = [v for v in order if v.kind == "constant"]
        parameters = [v for v in order if v.kind == "parameter"]
        computed = [v for v in order if v.owner is not None]
        keep = set(outputs)
        last: dict[Variable, int] = {}
        for k, v in enumerate(computed):
            for i in v.owner.inputs:
                last[i] = k
        dies: list[list[Variable]] = [[] for _ in computed]
        for v, k in last.items():
            if v not in keep:
                dies[k].append(v)
        steps = [(v, v.owner.op.forward, v.owner.inputs, dies[k]) for k, v in enumerate(computed)]
        return cls(list(outputs), inputs, constants, parameters, steps, order)
