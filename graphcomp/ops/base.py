"""The Op base class: one op's type inference, forward and bprop in one place.

An Op is a frozen dataclass; its fields are its parameters (``axis``,
``keepdims``), so equal ops compare and hash equal, which merging passes and
printing rely on. Calling an op on Variables builds a node:

    infer(*inputs) -> (shape, dtype)   at build time; errors name op and shapes
    forward(*arrays) -> array          the only numeric definition
    bprop(inputs, output, G) -> list   one gradient per input position, built
                                       from graph ops (None: no gradient)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable, constant, make_apply
from graphcomp.core.site import creation_site, with_site
from graphcomp.core.types import Shape
from graphcomp.errors import ArgumentError, GraphError

__all__ = ["Op", "REGISTRY", "Operand", "as_variable", "weak_constant"]

#: what graphcomp functions accept as an operand: a Variable, or a number or array (made a constant)
Operand = Variable | float | int | bool | complex | np.ndarray | np.generic | list | tuple


#: graphcomp's own op library by name; the op spec table must cover all of them
REGISTRY: dict[str, type[Op]] = {}
_SHARED: dict = {}  # op class -> its one instance when it has no parameters, else False


@dataclasses.dataclass(frozen=True)
class Op:
    """Base class of all ops. Subclasses set ``name`` and define the three methods.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.ops.elementwise import Exp
        >>> y = Exp()(gc.Variable("x", (2,)))
        >>> y.owner.op.name, y.shape
        ('exp', (2,))
    """

    name: ClassVar[str] = ""
    #: False for ops whose output carries no gradient (comparisons, shapes)
    differentiable: ClassVar[bool] = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.__dict__.get("name") and cls.__module__.startswith("graphcomp.ops."):
            REGISTRY[cls.name] = cls

    def __new__(cls, *args, **kwargs):
        # An op without parameters is immutable and equal to every other of its class:
        # one instance serves every node (a 10^5-layer chain makes 10^5 fewer objects).
        if args or kwargs:
            return object.__new__(cls)
        op = _SHARED.get(cls)
        if op is None:  # first call without arguments: decide once per class
            shareable = dataclasses.is_dataclass(cls) and not dataclasses.fields(cls)
            op = _SHARED[cls] = object.__new__(cls) if shareable else False
        return op if op is not False else object.__new__(cls)

    def __call__(self, *inputs) -> Variable:
        for i in inputs:
            if not isinstance(i, Variable):
                inputs = tuple(as_variable(i) for i in inputs)
                break
        try:
            shape, dtype = self.infer(*inputs)
        except GraphError as e:
            raise with_site(e, creation_site()) from None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
            # an op's infer met something it did not expect: still the user's error, said clearly
            raise with_site(ArgumentError(f"{self.label()}: {e}"), creation_site()) from None
        return make_apply(self, inputs, shape, dtype)

    def infer(self, *inputs: Variable) -> tuple[Shape, np.dtype]:
        """Static output shape and dtype; raise ShapeError/DTypeError if impossible."""
        raise NotImplementedError

    def forward(self, *arrays):
        """Compute the output value from input arrays (never modifying them)."""
        raise NotImplementedError

    def bprop(self, inputs: Sequence[Variable], output: Variable, G: Variable) -> list[Variable | None]:
        """Gradients for each input position, given G = dcost/doutput."""
        return [None] * len(inputs)

    def label(self) -> str:
        """The op's name with its parameters, e.g. ``sum[axis=(0,)]``."""
        fields = dataclasses.fields(self)
        if not fields:
            return self.name
        params = ",".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields)
        return f"{self.name}[{params}]"


def as_variable(value) -> Variable:
    """A Variable as is; a number or array becomes a constant.

    Example:
        >>> as_variable(2.0).is_constant
        True
    """
    if isinstance(value, Variable):
        return value
    return constant(value)


_PY_SCALARS = (bool, int, float, complex)
_REPRESENTATIVE = {bool: True, int: 1, float: 1.0, complex: 1j}
_weak_dtypes: dict = {}


def weak_constant(value, like: Variable) -> Variable:
    """A Python number next to ``like`` takes ``like``'s dtype when NumPy would.

    NumPy treats Python scalars as "weak": ``float32_array * 2.0`` stays
    float32. Arrays keep their own dtype.

    Example:
        >>> import graphcomp as gc
        >>> weak_constant(2.0, gc.Variable("x", dtype="float32")).dtype
        dtype('float32')
    """
    if isinstance(value, Variable):
        return value
    kind = type(value)
    if kind in _PY_SCALARS:
        key = (like.dtype, kind)
        dtype = _weak_dtypes.get(key)
        if dtype is None:
            # the promoted dtype depends only on the Python type, not the value
            dtype = _weak_dtypes[key] = np.result_type(like.dtype, _REPRESENTATIVE[kind])
        try:
            return constant(value, dtype=dtype)
        except OverflowError:  # an int too large for like's integer dtype
            return constant(value)
    return constant(value)
