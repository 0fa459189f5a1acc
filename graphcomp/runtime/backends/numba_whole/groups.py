"""Elementwise groups of the whole-function code: each connected group of
elementwise nodes becomes one loop nest with every member's scalar form inlined,
and a group read only by a one-pass reduction is computed inside that
reduction's loops (no array is stored for it).

A node joins the group of its consumers when it is elementwise (a scalar form,
a ``fused`` program, a cast, or a broadcast), has more than zero dimensions,
the group root's static shape, is not an output, and all its consumers are in
that group: so only the root is read from outside (the rule of the ``fuse``
pass, ``graphcomp/passes/fuse.py``, here with transcendental ops and every
float dtype too, since the whole function has no NumPy loop to prefer).
Broadcasting follows NumPy's: sizes known at build time are literals; an
unknown size is read from the arrays, checked, and a size-1 axis is read at
index 0.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.ops.base import Op
from graphcomp.ops.binary import Add, AddN, Multiply, Subtract
from graphcomp.ops.compare import Compare
from graphcomp.ops.elementwise import Abs, Negative, Rounding, Square
from graphcomp.ops.fused import Fused, literal, step_op
from graphcomp.ops.identity import Cast
from graphcomp.ops.select import Clip, Extremum, Where
from graphcomp.ops.shape import BroadcastLike, BroadcastTo
from graphcomp.ops.sympy_elementwise import SymPyElementwise
from graphcomp.passes.fuse import group_roots
from graphcomp.runtime.backends.numba_whole.code import Code, Elements, Unsupported, Val, cast_text, index_text

__all__ = ["LOOPED", "is_elementwise", "groups", "Broadcast", "GroupElements", "scalar_expression", "constant_text"]

#: elementwise ops whose scalar form computes what NumPy does on integers too (no division, no libm call)
_INTEGER_SAFE = (Add, Subtract, Multiply, AddN, Negative, Abs, Square, Extremum, Where, Compare, Cast, Clip, Rounding)


def _sympy_scalar(op: SymPyElementwise, args: list[str]) -> str:
    """A SymPy-defined op's expression printed as Python over ``math`` (SymPy's ``pycode``),
    its symbols replaced by ``args`` (as floats: the op computes integers in float64)."""
    import sympy

    names = [sympy.Symbol(f"gcarg{k}x") for k in range(len(args))]
    text = sympy.pycode(op.expr.xreplace(dict(zip(op.args, names))), fully_qualified_modules=True)
    for name, arg in sorted(zip(names, args), key=lambda p: -len(str(p[0]))):
        text = text.replace(str(name), f"float({arg})")
    return text


#: elementwise op classes whose scalar form this backend writes itself (they have none of their own)
SCALAR_FORMS = {SymPyElementwise: _sympy_scalar}


#: op classes that are elementwise here though not by their trait (broadcasts, casts, fused programs)
LOOPED = (BroadcastTo, BroadcastLike, Cast, Fused, *SCALAR_FORMS)


def is_elementwise(v: Variable) -> bool:
    """Whether node ``v`` computes each element from the elements at its position only,
    with a scalar form the generated loops can inline."""
    op = v.owner.op if v.owner is not None else None
    if op is None:
        return False
    if isinstance(op, LOOPED):
        return True
    return type(op).elementwise and op.scalar(*(f"a{j}" for j in range(len(v.owner.inputs)))) is not None


def check_dtypes(v: Variable) -> None:
    """Refuse dtypes whose scalar arithmetic in Numba would not be NumPy's."""
    for x in (v, *v.owner.inputs):
        if x.dtype.kind not in "biuf" or x.dtype == np.dtype(np.float16):
            raise Unsupported(f"{v.owner.op.label()} on {x.dtype} has no whole-function Numba form")
    if v.dtype.kind in "iu" and not isinstance(v.owner.op, _INTEGER_SAFE):
        raise Unsupported(f"{v.owner.op.label()} with an integer result has no whole-function Numba form")


def groups(order: list[Variable], consumers: dict, outputs: set) -> dict[Variable, Variable]:
    """Each elementwise node with dimensions -> the root of its group (itself when alone).

    ``order`` is topological; ``consumers`` maps a node to the nodes reading it."""
    return group_roots(
        order,
        consumers,
        outputs,
        lambda v: v.owner is not None and bool(v.shape) and is_elementwise(v),
        # broadcast_like reads its reference's shape, not its elements: that value must be stored
        lambda c, v: isinstance(c.owner.op, BroadcastLike) and c.owner.inputs[1] is v,
    )


def constant_text(x: Variable) -> str | None:
    """A 0-d float, int or bool constant as the text a scalar form specialises on (``2.0``)."""
    if not x.is_constant or x.shape != ():
        return None
    kind = x.dtype.kind
    if kind == "f":
        value = float(x.value)
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return repr(value)
    if kind in "iu":
        return repr(int(x.value))
    if kind == "b":
        return repr(bool(x.value))
    return None


def scalar_expression(op: Op, v: Variable, args: list[str], code: Code) -> str:
    """Node ``v``'s op over scalar operands ``args`` (texts), converted to ``v``'s dtype,
    with the functions its form calls bound in ``code.helpers``."""
    if isinstance(op, (BroadcastTo, BroadcastLike)):
        return args[0]
    if isinstance(op, Cast):
        expr = args[0] if v.owner.inputs[0].dtype.kind != "b" or v.dtype.kind == "b" else f"int({args[0]})"
        return cast_text(f"{args[0]} != 0" if v.dtype.kind == "b" else expr, v.dtype)
    if isinstance(op, Fused):
        return cast_text(_program(op, args, code), v.dtype)
    if isinstance(op, Rounding) and v.dtype.kind in "iu":
        return cast_text(args[0], v.dtype)  # an integer is its own floor, ceiling and rounding
    if isinstance(op, SymPyElementwise):
        return cast_text(_sympy_scalar(op, args), v.dtype)
    code.helpers.update(type(op).scalar_helpers)
    return cast_text(op.scalar(*args), v.dtype)


def _program(op: Fused, args: list[str], code: Code) -> str:
    """A fused program's steps as lines; the text of its last step."""
    names = {f"a{j}": a for j, a in enumerate(args)}
    for k, step in enumerate(op.program):
        number = literal(step)
        if number is not None:
            names[f"t{k}"] = repr(float(number))
            continue
        step_class = type(step_op(step[0]))
        code.helpers.update(step_class.scalar_helpers)
        name = code.fresh("s")
        code.add(f"{name} = {step_op(step[0]).scalar(*(names[o] for o in step[1:]))}")
        names[f"t{k}"] = name
    return names[f"t{len(op.program) - 1}"]


class Broadcast:
    """NumPy's broadcasting of ``leaves`` (values, 0-d ones excluded) to ``shape`` (a
    static shape), in generated code: the size of each axis (a literal where known,
    else read from the arrays and checked), and how each leaf is indexed. ``exact``
    values give their sizes without broadcasting (``broadcast_like``'s reference)."""

    def __init__(self, shape: tuple, leaves: list[Val], exact: list[Val] = ()):
        self.shape = tuple(shape)
        self.leaves = list(leaves)
        self.exact = list(exact)
        self.index: dict[str, list] = {}
        self.dims: list[str] | None = None

    def sizes(self, code: Code) -> list[str]:
        if self.dims is None:
            n = len(self.shape)
            self.dims = [self._size(code, k, n) for k in range(n)]
        return self.dims

    def _size(self, code: Code, k: int, n: int) -> str:
        """The size of output axis ``k``, checking every leaf against it; records how each
        leaf is indexed along it."""
        static = self.shape[k]
        reads = [(val, k - (n - val.ndim)) for val in self.leaves if k - (n - val.ndim) >= 0]
        exact = [(val, k - (n - val.ndim)) for val in self.exact if k - (n - val.ndim) >= 0]
        unknown = [(val, j) for val, j in reads if val.shape[j] is None]
        exact_unknown = [(val, j) for val, j in exact if val.shape[j] is None]
        if static is not None:
            size = str(static)
        elif exact_unknown:
            size = exact_unknown[0][0].dim(exact_unknown[0][1])
        elif len(unknown) == 1:
            size = unknown[0][0].dim(unknown[0][1])
        elif not unknown:
            size = "1"
        else:
            size = code.fresh("n")
            code.add(f"{size} = 1")
            for val, j in unknown:
                s = val.dim(j)
                with code.block(f"if {s} != 1:"):
                    code.raise_if(f"{size} != 1 and {size} != {s}", "ValueError", "shapes cannot be broadcast")
                    code.add(f"{size} = {s}")
        for val, j in exact_unknown:
            if val.dim(j) != size:
                code.raise_if(f"{val.dim(j)} != {size}", "ValueError", "shapes cannot be broadcast")
        for val, j in reads:
            d = val.shape[j]
            if d == 1 or static == 1:
                where = "0"  # broadcast along this axis (or the axis has one entry)
            elif d is not None or val.dim(j) == size:
                where = None  # the loop index itself
            else:
                if static is not None or exact_unknown:  # the size came from elsewhere: check this one
                    code.raise_if(
                        f"{val.dim(j)} != 1 and {val.dim(j)} != {size}", "ValueError", "shapes cannot be broadcast"
                    )
                flag = code.fresh("b")
                code.add(f"{flag} = 1 if {val.dim(j)} != 1 else 0")
                where = flag
            self.index.setdefault(val.text, []).append(where)
        return size

    def at(self, val: Val, idx: list[str]) -> str:
        """The text of ``val``'s element at the output index ``idx``."""
        if not val.ndim:
            return val.text
        at = []
        for i, where in zip(idx[len(idx) - val.ndim :], self.index[val.text]):
            at.append(i if where is None else "0" if where == "0" else f"{i} * {where}")
        return index_text(val.text, at)


class GroupElements(Elements):
    """The elements of a group's root, computed where they are read: each leaf (an input
    of the group from outside it) read by NumPy's broadcasting, each member's scalar form
    in order. ``values`` names every Variable already computed (leaves included)."""

    def __init__(self, root: Variable, members: list[Variable], values: dict[Variable, Val]):
        self.shape = tuple(root.shape)
        self.dtype = root.dtype
        self.root = root
        self.members = members  # topological, the root last
        self.values = values
        inside = set(members)
        leaves: list[Val] = []  # read element by element
        exact: list[Val] = []  # whose shape the result takes exactly (broadcast_like's reference)
        seen: set[str] = set()
        for m in members:
            ins = m.owner.inputs
            if isinstance(m.owner.op, BroadcastLike):
                exact.append(values[ins[1]])
                ins = ins[:1]
            for x in ins:
                if x in inside or x.shape == ():
                    continue
                val = values[x]
                if val.text not in seen:
                    seen.add(val.text)
                    leaves.append(val)
        self.broadcast = Broadcast(self.shape, leaves, exact)

    def sizes(self, code: Code) -> list[str]:
        return self.broadcast.sizes(code)

    def element(self, code: Code, idx: list[str]) -> str:
        texts: dict[Variable, str] = {}
        loaded: dict[str, str] = {}
        for val in self.broadcast.leaves:
            name = code.fresh("e")
            code.add(f"{name} = {self.broadcast.at(val, idx)}")
            loaded[val.text] = name
        for m in self.members:
            args = []
            for x in m.owner.inputs:
                if x in texts:
                    args.append(texts[x])
                elif x.shape == ():
                    args.append(constant_text(x) or self.values[x].text)
                else:
                    args.append(loaded.get(self.values[x].text, ""))
            expr = scalar_expression(m.owner.op, m, args, code)
            if m is self.members[-1]:
                return expr
            name = code.fresh("m")
            code.add(f"{name} = {expr}")
            texts[m] = name
        raise AssertionError("a group has at least one member")
