"""The graph IR: Variables and the Op applications (``Apply``) that compute them.

A Variable is a value in the graph: a graph input (fed at run time), a
constant, or the output of an ``Apply``. An ``Apply`` is one use of an Op on
input Variables; it has exactly one output Variable. Both are immutable once
built and compared by identity, so they can key dicts such as ``grad_table``.
Ids grow with creation, and inputs exist before the nodes that read them, so
sorting by id is a topological order.
"""

from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from graphcomp.core.site import creation_site
from graphcomp.core.types import Shape, as_dtype, as_shape, fmt_shape
from graphcomp.errors import ArgumentError, InputError

if TYPE_CHECKING:
    from graphcomp.ops.base import Op

__all__ = ["Variable", "Apply", "Parameter", "constant", "gradient_context"]

_ids = itertools.count()


class _Stacks(threading.local):
    """What the nodes built now inherit, per thread (graphs may be built from several
    threads at once): ``grad_of``, set while build_grad inserts nodes, so each knows
    whose gradient it helps build (for pictures and traces); ``site``, set by
    build_grad and the passes, the creation site instead of walking the stack."""

    def __init__(self):
        self.grad_of: list[Any] = []
        self.site: list = []


_stacks = _Stacks()

# graphcomp.api installs itself here; Variable's operators delegate to it.
# A late binding keeps core free of an import cycle with the op library.
_api: Any = None


@contextmanager
def gradient_context(v: Variable):
    """Mark every node built inside the block as part of ``v``'s gradient.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> with gradient_context(x):
        ...     g = x * 2.0
        >>> g.role, g.grad_of is x
        ('grad', True)
    """
    _stacks.grad_of.append(v)
    try:
        yield
    finally:
        _stacks.grad_of.pop()


@contextmanager
def built_as(site, grad_of: Variable | None):
    """Build nodes inside the block as if at ``site`` in ``grad_of``'s gradient:
    how passes and the loader rebuild a node without moving the user's line.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.core.site import Site
        >>> with built_as(Site(("model.py", 7)), None):
        ...     y = gc.exp(gc.Variable("x"))
        >>> str(y.site)
        'model.py:7'
    """
    stacks = _stacks
    stacks.site.append(site)
    stacks.grad_of.append(grad_of)
    try:
        yield
    finally:
        stacks.grad_of.pop()
        stacks.site.pop()


class _Frozen:
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; build a new node instead")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is immutable")


class Apply(_Frozen):
    """One application of an Op to input Variables, producing ``output``.

    These are the circles of the lectures' graph pictures; Variables are the boxes.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> y = gc.exp(x)
        >>> y.owner.op.name, y.owner.inputs == (x,), y.owner.output is y
        ('exp', True, True)
    """

    __slots__ = ("id", "op", "inputs", "output", "site", "__weakref__")

    @property
    def name(self) -> str:
        """The op's name, e.g. ``"multiply"``."""
        return self.op.name

    def bprop(self, inputs, V: Variable, D: Variable) -> Variable | None:
        """The book's ``op.bprop(get_inputs(C), V, D)``: this op's term of V's gradient.

        ``D`` is the gradient of this application's output; the result sums
        the op's per-position gradients over every position where it reads
        ``V`` (both factors of ``x * x``), or is ``None`` when no gradient
        flows to ``V`` through this op.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); C = x * x
            >>> term = C.owner.bprop(C.owner.inputs, x, gc.constant(1.0))
            >>> float(gc.evaluate(term, {x: 3.0}))
            6.0
        """
        grads = self.op.bprop(tuple(inputs), self.output, D)
        terms = [g for i, g in zip(self.inputs, grads) if i is V and g is not None]
        if not terms:
            return None
        from graphcomp.ops.binary import add_n

        return add_n(*terms)

    def __repr__(self) -> str:
        args = ", ".join(v._label() for v in self.inputs)
        return f"<{self.op.label()}({args}) #{self.id}>"

    def __reduce__(self):
        raise ArgumentError("graphcomp nodes are not pickled; use gc.save (a later issue)")


class Variable(_Frozen):
    """A value in a graph. ``gc.Variable(name, shape, dtype)`` makes a graph input.

    ``shape`` entries are ints or ``None`` (unknown, e.g. a batch dimension).
    Op outputs and constants are Variables too; ``v.owner`` is the ``Apply``
    computing ``v`` (``None`` for inputs and constants). Operators build new
    nodes: ``x * y``, ``x @ W``, ``x[1:3]``, ``x.sum(axis=0)``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 3))
        >>> y = (x * 2).sum(axis=1)
        >>> y.shape, y.dtype, x.is_input
        ((None,), dtype('float64'), True)
    """

    __slots__ = ("id", "name", "shape", "dtype", "owner", "value", "site", "grad_of", "__weakref__")
    __array_ufunc__ = None  # np.ones(3) + x defers to Variable.__radd__
    __array_priority__ = 1000

    def __init__(self, name: str, shape=(), dtype="float64"):
        if not isinstance(name, str):
            raise ArgumentError(f"Variable name must be a str, got {name!r}")
        _init(self, as_shape(shape), as_dtype(dtype), name, None, None)

    @property
    def kind(self) -> str:
        """``"input"``, ``"constant"``, ``"parameter"`` or ``"op"`` (computed by an op)."""
        if self.owner is not None:
            return "op"
        return "input" if self.value is None else "constant"

    @property
    def role(self) -> str:
        """``"grad"`` for nodes build_grad inserted, ``"forward"`` otherwise."""
        return "forward" if self.grad_of is None else "grad"

    # -- structure -----------------------------------------------------------
    @property
    def op(self) -> Op | None:
        """The Op computing this Variable, or ``None`` for inputs and constants."""
        return None if self.owner is None else self.owner.op

    @property
    def inputs(self) -> tuple[Variable, ...]:
        """The Variables this one is computed from, in argument order."""
        return () if self.owner is None else self.owner.inputs

    @property
    def is_input(self) -> bool:
        """True for a graph input (a Variable fed at run time)."""
        return self.kind == "input"

    @property
    def is_constant(self) -> bool:
        """True for a constant embedded in the graph."""
        return self.kind == "constant"

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def T(self) -> Variable:
        """The transpose (axes reversed), as ``numpy.ndarray.T``."""
        return _api.transpose(self)

    # -- methods (NumPy-like) ----------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Variable:
        """Sum over ``axis``; see ``gc.sum``."""
        return _api.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Variable:
        """Mean over ``axis``; see ``gc.mean``."""
        return _api.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Variable:
        """Maximum over ``axis``; see ``gc.max``."""
        return _api.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Variable:
        """Minimum over ``axis``; see ``gc.min``."""
        return _api.min(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape) -> Variable:
        """Reshape; ``x.reshape(2, 3)`` and ``x.reshape((2, 3))`` both work."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _api.reshape(self, shape)

    def transpose(self, *axes) -> Variable:
        """Permute axes; ``x.transpose()`` reverses them, as NumPy."""
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            axes = axes[0]
        return _api.transpose(self, axes if axes != () else None)

    def astype(self, dtype) -> Variable:
        """Cast to ``dtype``; gradients flow only between float dtypes."""
        return _api.cast(self, dtype)

    # -- operators -------------------------------------------------------------
    def __add__(self, other):
        return _api.add(self, other)

    def __radd__(self, other):
        return _api.add(other, self)

    def __sub__(self, other):
        return _api.subtract(self, other)

    def __rsub__(self, other):
        return _api.subtract(other, self)

    def __mul__(self, other):
        return _api.multiply(self, other)

    def __rmul__(self, other):
        return _api.multiply(other, self)

    def __truediv__(self, other):
        return _api.divide(self, other)

    def __rtruediv__(self, other):
        return _api.divide(other, self)

    def __pow__(self, other):
        return _api.power(self, other)

    def __rpow__(self, other):
        return _api.power(other, self)

    def __matmul__(self, other):
        return _api.matmul(self, other)

    def __rmatmul__(self, other):
        return _api.matmul(other, self)

    def __neg__(self):
        return _api.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _api.abs(self)

    def __lt__(self, other):
        return _api.less(self, other)

    def __le__(self, other):
        return _api.less_equal(self, other)

    def __gt__(self, other):
        return _api.greater(self, other)

    def __ge__(self, other):
        return _api.greater_equal(self, other)

    # == and != stay identity comparisons: Variables key dicts (grad_table).
    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _api.getitem(self, index)

    def __iter__(self):
        # Without this, Python would iterate through __getitem__ forever.
        raise ArgumentError(f"a symbolic Variable ({self._label()}) cannot be iterated; index it instead")

    def __bool__(self):
        raise ArgumentError(
            f"the truth value of a symbolic Variable ({self._label()}) is unknown until it is "
            "evaluated; use gc.where for a choice inside the graph"
        )

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise ArgumentError(f"len() of {self._label()} with shape {fmt_shape(self.shape)} is not known")
        return self.shape[0]

    def __reduce__(self):
        raise ArgumentError("graphcomp nodes are not pickled; use gc.save (a later issue)")

    # -- printing ----------------------------------------------------------------
    def _label(self) -> str:
        if self.name is not None:
            return self.name
        if self.kind == "constant":
            v = self.value
            if v.ndim == 0:
                return repr(v.item())
            return f"const{fmt_shape(v.shape)}"
        if self.owner is not None:
            return self.owner.op.name
        return f"{self.kind}#{self.id}"

    def __repr__(self) -> str:
        what = self.owner.op.label() if self.owner is not None else self.kind
        return f"<Variable {self._label()} {what} shape={fmt_shape(self.shape)} dtype={self.dtype}>"


# Slot setters: the fastest way past _Frozen.__setattr__, and every node pays it.
_V = {name: Variable.__dict__[name].__set__ for name in Variable.__slots__ if name != "__weakref__"}
_A = {name: Apply.__dict__[name].__set__ for name in Apply.__slots__ if name != "__weakref__"}
_v_id, _v_name, _v_shape, _v_dtype = _V["id"], _V["name"], _V["shape"], _V["dtype"]
_v_owner, _v_value, _v_site, _v_grad_of = _V["owner"], _V["value"], _V["site"], _V["grad_of"]
_a_id, _a_op, _a_inputs, _a_output, _a_site = _A["id"], _A["op"], _A["inputs"], _A["output"], _A["site"]
_v_value_get = Variable.__dict__["value"].__get__


def _init(v, shape, dtype, name, owner, value):
    _v_id(v, next(_ids))
    _v_name(v, name)
    _v_shape(v, shape)
    _v_dtype(v, dtype)
    _v_owner(v, owner)
    _v_value(v, value)
    stacks = _stacks
    site, grad_of = stacks.site, stacks.grad_of
    _v_site(v, site[-1] if site else creation_site(3))  # 1 is _init, 2 its caller in graphcomp
    _v_grad_of(v, grad_of[-1] if grad_of else None)


class _Cell:
    """The mutable box a Parameter's current value lives in (nodes stay immutable)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


class Parameter(Variable):
    """A graph leaf that holds its value across calls: the state a training loop carries.

    It is read like a constant when a graph runs, never fed; ``gc.compile(...,
    updates={p: new_value})`` assigns it, once per call, after every update has
    been computed from the old values.

    Example:
        >>> import graphcomp as gc
        >>> W = gc.Parameter([1.0, 2.0], "W")
        >>> step = gc.compile([W.sum()], [], updates={W: W * 2.0})
        >>> [float(step()[0]), float(step()[0])], W.get_value().tolist()
        ([3.0, 6.0], [4.0, 8.0])
    """

    __slots__ = ()

    def __init__(self, value, name: str | None = None):
        if isinstance(value, Variable):
            raise ArgumentError(f"gc.Parameter takes a value, not a Variable ({value._label()})")
        if name is not None and not isinstance(name, str):
            raise ArgumentError(f"Parameter name must be a str, got {name!r}")
        arr = _owned(value, None, "gc.Parameter: cannot store")
        _init(self, arr.shape, arr.dtype, name, None, _Cell(arr))

    @property
    def kind(self) -> str:
        return "parameter"

    @property
    def value(self) -> np.ndarray:
        """The current value (read-only; use ``set_value`` to change it)."""
        return _v_value_get(self).array

    def get_value(self) -> np.ndarray:
        """A copy of the current value."""
        return _v_value_get(self).array.copy()

    def set_value(self, value) -> None:
        """Replace the value; its shape and dtype must match the Parameter's."""
        arr = np.asarray(value)
        if arr.shape != self.shape:
            raise InputError(
                f"Parameter {self._label()!r}: the new value has shape {fmt_shape(arr.shape)}, "
                f"but the Parameter's shape is {fmt_shape(self.shape)}"
            )
        if arr.dtype != self.dtype and not np.can_cast(arr.dtype, self.dtype, "same_kind"):
            raise InputError(f"Parameter {self._label()!r}: cannot store {arr.dtype} in a {self.dtype} Parameter")
        _v_value_get(self).array = _owned(arr, self.dtype, "set_value: cannot store")


def _owned(value, dtype, refusal: str) -> np.ndarray:
    """A private, read-only numeric copy of ``value`` (the caller's array may change)."""
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise ArgumentError(f"{refusal} a {type(value).__name__} value: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise ArgumentError(f"{refusal} a value of dtype {arr.dtype} ({type(value).__name__})")
    arr.setflags(write=False)
    return arr


def make_apply(op: Op, inputs: tuple[Variable, ...], shape: Shape, dtype: np.dtype, name=None) -> Variable:
    """Build an ``Apply`` of ``op`` on ``inputs`` and return its output Variable.

    Ops call this after inferring the output's type; users call ops instead.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.ops.elementwise import Exp
        >>> x = gc.Variable("x")
        >>> make_apply(Exp(), (x,), (), x.dtype).owner.op.name
        'exp'
    """
    node = object.__new__(Apply)
    _a_id(node, next(_ids))
    _a_op(node, op)
    _a_inputs(node, inputs)
    out = object.__new__(Variable)
    _init(out, shape, dtype, name, node, None)
    _a_output(node, out)
    _a_site(node, out.site)
    return out


def constant(value: Any, name: str | None = None, dtype=None) -> Variable:
    """A constant embedded in the graph (scalar or array), stored read-only.

    Example:
        >>> import graphcomp as gc
        >>> c = gc.constant([1.0, 2.0], name="c")
        >>> c.shape, c.dtype, c.is_constant
        ((2,), dtype('float64'), True)
    """
    if isinstance(value, Variable):
        raise ArgumentError(f"gc.constant takes a value, not a Variable ({value._label()})")
    arr = _owned(value, dtype, "gc.constant: cannot embed")
    v = object.__new__(Variable)
    _init(v, arr.shape, arr.dtype, name, None, arr)
    return v
