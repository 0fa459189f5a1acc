"""Fused elementwise ops: a connected group of elementwise nodes computed as one.

The ``fuse`` pass (``graphcomp/passes/fuse.py``) replaces such a group by one
``fused`` node whose ``program`` lists the group's steps. Its NumPy forward
runs the steps one after the other, so ``evaluate`` and every backend can run
it; the Numba backend compiles the program into one ufunc, one loop over the
elements with no temporaries (PyTensor's Composite inside Elemwise). Its
bprop expands the program into graph ops and runs each step's own bprop, so a
fused graph is differentiable again.

A program is a tuple of steps. Step ``k`` is named ``t{k}``; input ``j`` is
``a{j}``. A step is ``(op_name, operand, ...)`` with operands named that way,
or ``("constant", number)``. The last step is the result.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.types import broadcast_shapes
from graphcomp.errors import DTypeError, GraphError
from graphcomp.ops.base import REGISTRY, Op, size_of_shape, sympy_number
from graphcomp.ops.binary import add_n

__all__ = ["Fused", "can_fuse", "expand", "fused", "interpret", "literal", "program_dtype", "step_op"]


def can_fuse(op_class: type[Op]) -> bool:
    """Whether a fused program may use ``op_class``: elementwise, without parameters
    (a step names its op only), and with a scalar form for the kernel.

    Example:
        >>> from graphcomp.ops.elementwise import Exp
        >>> from graphcomp.ops.reduce import Sum
        >>> can_fuse(Exp), can_fuse(Sum)
        (True, False)
    """
    if not op_class.elementwise or dataclasses.fields(op_class):
        return False
    return op_class.scalar_form is not None or op_class.scalar is not Op.scalar


def literal(step: tuple) -> float | None:
    """The number a constant step holds, or None for a step that applies an op.

    Example:
        >>> literal(("constant", 2.0)), literal(("exp", "a0"))
        (2.0, None)
    """
    return step[1] if step[0] == "constant" else None


@functools.cache
def step_op(name: str) -> Op:
    """The op a program step names.

    Example:
        >>> step_op("exp").name
        'exp'
    """
    return REGISTRY[name]()


@dataclasses.dataclass(frozen=True)
class Fused(Op):
    """One node computing a program of elementwise steps over its inputs.

    Example:
        >>> import graphcomp as gc
        >>> x, y = gc.Variable("x", (3,)), gc.Variable("y", (3,))
        >>> z = Fused((("multiply", "a0", "a1"), ("tanh", "t0")), ("float64", "float64"))(x, y)
        >>> z.owner.op.label()
        'fused[tanh(a0 * a1)]'
        >>> gc.evaluate(z, {x: [1.0, 2.0, 0.0], y: [0.5, 0.25, 9.0]}).round(4).tolist()
        [0.4621, 0.4621, 0.0]
    """

    name, elementwise = "fused", True
    program: tuple
    dtypes: tuple  # the inputs' dtypes, as strings

    def infer(self, *inputs):
        if len(inputs) != len(self.dtypes):
            raise GraphError(f"fused: the program takes {len(self.dtypes)} inputs, got {len(inputs)}")
        for k, (x, d) in enumerate(zip(inputs, self.dtypes)):
            if x.dtype != np.dtype(d):
                raise DTypeError(f"fused: input a{k} ({x.label()}) has dtype {x.dtype}, the program expects {d}")
        return broadcast_shapes(*(x.shape for x in inputs), op=self.name), program_dtype(self)

    def forward(self, *arrays):
        return interpret(self, arrays, np.float64, lambda name, args: step_op(name).forward(*args))[-1]

    def bprop(self, inputs, output, G):
        steps = expand(self, inputs)
        values = {f"a{j}": x for j, x in enumerate(inputs)} | {f"t{k}": s for k, s in enumerate(steps)}
        terms: dict[str, list[Variable]] = {f"t{len(steps) - 1}": [G]}
        for k in range(len(steps) - 1, -1, -1):  # a reverse sweep over the steps, as build_grad does
            name, *operands = self.program[k]
            if f"t{k}" not in terms or name == "constant":
                continue
            grads = step_op(name).bprop([values[o] for o in operands], steps[k], add_n(*terms[f"t{k}"]))
            for o, g in zip(operands, grads):
                if g is not None:
                    terms.setdefault(o, []).append(g)
        return [add_n(*terms[f"a{j}"]) if f"a{j}" in terms else None for j in range(len(inputs))]

    def label(self) -> str:
        return f"fused[{self.text()}]"

    def sympy(self, sp, v, args):
        return interpret(self, args, lambda c: sympy_number(sp, c), lambda name, a: step_op(name).sympy(sp, None, a))[
            -1
        ]

    def flops(self, v, shape_of):
        return sum(0 if name == "constant" else 1 for name, *_ in self.program) * size_of_shape(shape_of(v))

    def text(self) -> str:
        """The program as one expression over ``a0, a1, ...``, parenthesised as Python
        would need; a step read twice is named first (``t1 = ...; ``).

        Example:
            >>> Fused((("negative", "a0"), ("exp", "t0"), ("subtract", "a1", "t1")), ("float64",) * 2).text()
            'a1 - exp(-a0)'
        """
        uses: dict[str, int] = {}
        for _, *operands in self.program:
            for o in operands:
                if isinstance(o, str):
                    uses[o] = uses.get(o, 0) + 1
        shown: dict[str, tuple[str, int]] = {}  # operand -> (text, precedence)
        named: list[str] = []  # a step read twice is named once, not written out twice
        for k, (name, *operands) in enumerate(self.program):
            args = [shown.get(o, (o, _ATOM)) for o in operands]
            if name == "constant":
                shown[f"t{k}"] = (repr(operands[0]), _ATOM if operands[0] >= 0 else _UNARY)
            elif (infix := REGISTRY[name].infix) is not None:
                symbol, p, side = infix
                if side == "prefix":
                    shown[f"t{k}"] = (f"{symbol}{_wrap(args[0], p)}", p)
                else:
                    # a - (b - c), a / (b * c) and (a ** b) ** c need their parentheses
                    left = _wrap(args[0], p + (side == "right"))
                    right = _wrap(args[1], p + (side == "left") - (side == "right"))
                    shown[f"t{k}"] = (f"{left} {symbol} {right}", p)
            else:
                shown[f"t{k}"] = (f"{name}({', '.join(a for a, _ in args)})", _ATOM)
            if uses.get(f"t{k}", 0) > 1 and name != "constant":
                named.append(f"t{k} = {shown[f't{k}'][0]}; ")
                shown[f"t{k}"] = (f"t{k}", _ATOM)
        return "".join(named) + shown[f"t{len(self.program) - 1}"][0]


_ATOM, _UNARY = 9, 6


def _wrap(arg: tuple[str, int], at_least: int) -> str:
    text, precedence = arg
    return text if precedence >= at_least else f"({text})"


@functools.cache
def program_dtype(op: Fused) -> np.dtype:
    """The dtype of a fused node's result: NumPy's own promotion, quirks included,
    found by running the program once on one element of each input dtype.

    Example:
        >>> program_dtype(Fused((("greater", "a0", "a1"),), ("float64", "float64")))
        dtype('bool')
    """
    with np.errstate(all="ignore"):
        return np.asarray(op.forward(*(np.ones(1, d) for d in op.dtypes))).dtype


def expand(op: Fused, inputs) -> list[Variable]:
    """The program's steps built as ordinary graph ops on ``inputs``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> [s.owner.op.name for s in expand(Fused((("exp", "a0"), ("square", "t0")), ("float64",)), [x])]
        ['exp', 'square']
    """
    return interpret(op, inputs, constant, lambda name, args: step_op(name)(*args))


def interpret(op: Fused, inputs, literal, apply) -> list:
    """Every step's value: ``literal(number)`` for a constant step, ``apply(op_name,
    operand_values)`` for the others. Values, graph nodes and SymPy forms alike.

    Example:
        >>> interpret(Fused((("constant", 2.0), ("multiply", "a0", "t0")), ("float64",)), [3.0], float,
        ...           lambda name, args: args[0] * args[1])
        [2.0, 6.0]
    """
    values = {f"a{j}": x for j, x in enumerate(inputs)}
    steps = []
    for k, (name, *operands) in enumerate(op.program):
        step = literal(operands[0]) if name == "constant" else apply(name, [values[o] for o in operands])
        values[f"t{k}"] = step
        steps.append(step)
    return steps


def fused(program, *inputs: Variable) -> Variable:
    """A fused node computing ``program`` (see the module docstring) over ``inputs``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> fused((("constant", 2.0), ("multiply", "a0", "t0")), x).owner.op.text()
        'a0 * 2.0'
    """
    return Fused(tuple(tuple(s) for s in program), tuple(str(x.dtype) for x in inputs))(*inputs)
