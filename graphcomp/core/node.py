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
from typing import TYPE_CHECKING, Any

import numpy as np

from graphcomp.core import provenance
from graphcomp.core.site import creation_site
from graphcomp.core.types import Shape, as_dtype, as_shape, fmt_shape
from graphcomp.errors import ArgumentError, InputError

if TYPE_CHECKING:
    from graphcomp.ops.base import Op

__all__ = ["Variable", "Apply", "Parameter", "constant", "make_apply"]

_ids = itertools.count()


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
        flows to ``V`` through this op. (build_grad itself keeps the positions'
        terms apart, to show which position gave which.)

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
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def __repr__(self) -> str:
        args = ", ".join(v.label() for v in self.inputs)
        return f"<{self.op.label()}({args}) #{self.id}>"

    def __reduce__(self):
        raise ArgumentError("graphcomp nodes are not pickled; use gc.save (a later issue)")


class Variable(_Frozen):
    """A value in a graph. ``gc.Variable(name, shape, dtype)`` makes a graph input.

    ``shape`` entries are ints or ``None`` (unknown, e.g. a batch dimension).
    Op outputs and constants are Variables too; ``v.owner`` is the ``Apply``
    computing ``v`` (``None`` for inputs and constants). Operators build new
    nodes: ``x * y``, ``x @ W``, ``x[1:3]``, ``x.sum(axis=0)``.

    The NumPy-like operators and methods (``x * y``, ``x @ W``, ``x[1:3]``,
    ``x.sum(axis=0)``, ``x.T``) belong to the op library, which installs them
    on this class (``graphcomp/ops/operators.py``), as ``jax.numpy`` installs
    its array methods on JAX's tracers: core knows nothing about ops.

    ``v.role`` says why the node exists (``graphcomp.core.provenance.ROLES``):
    ``"forward"`` for the user's own nodes, ``"grad"`` for nodes build_grad
    inserted, ``"tangent"`` for nodes forward mode (``gc.jvp``) inserted.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (None, 3))
        >>> y = (x * 2).sum(axis=1)
        >>> y.shape, y.dtype, x.is_input, y.role
        ((None,), dtype('float64'), True, 'forward')
    """

    __slots__ = ("id", "name", "shape", "dtype", "owner", "value", "site", "grad_of", "role", "__weakref__")
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

    # == and != stay identity comparisons: Variables key dicts (grad_table).
    __hash__ = object.__hash__

    def __iter__(self):
        # Without this, Python would iterate through __getitem__ forever.
        raise ArgumentError(f"a symbolic Variable ({self.label()}) cannot be iterated; index it instead")

    def __bool__(self):
        raise ArgumentError(
            f"the truth value of a symbolic Variable ({self.label()}) is unknown until it is "
            "evaluated; use gc.where for a choice inside the graph"
        )

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise ArgumentError(f"len() of {self.label()} with shape {fmt_shape(self.shape)} is not known")
        return self.shape[0]

    def __reduce__(self):
        raise ArgumentError("graphcomp nodes are not pickled; use gc.save (a later issue)")

    # -- printing ----------------------------------------------------------------
    def label(self) -> str:
        """A short text naming this node: its name, a constant's value, else its op's name.

        Example:
            >>> import graphcomp as gc
            >>> gc.Variable("x").label(), gc.constant(2.0).label(), gc.exp(gc.Variable("x")).label()
            ('x', '2.0', 'exp')
        """
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
        return f"<Variable {self.label()} {what} shape={fmt_shape(self.shape)} dtype={self.dtype}>"


# Slot setters: the fastest way past _Frozen.__setattr__, and every node pays it.
_V = {name: Variable.__dict__[name].__set__ for name in Variable.__slots__ if name != "__weakref__"}
_A = {name: Apply.__dict__[name].__set__ for name in Apply.__slots__ if name != "__weakref__"}
_v_id, _v_name, _v_shape, _v_dtype = _V["id"], _V["name"], _V["shape"], _V["dtype"]
_v_owner, _v_value, _v_site, _v_grad_of = _V["owner"], _V["value"], _V["site"], _V["grad_of"]
_v_role = _V["role"]
_a_id, _a_op, _a_inputs, _a_output, _a_site = _A["id"], _A["op"], _A["inputs"], _A["output"], _A["site"]
_v_value_get = Variable.__dict__["value"].__get__
_stacks = provenance.stacks


def _init(v, shape, dtype, name, owner, value, built=None):
    _v_id(v, next(_ids))
    _v_name(v, name)
    _v_shape(v, shape)
    _v_dtype(v, dtype)
    _v_owner(v, owner)
    _v_value(v, value)
    if built is None:  # user-level code: the innermost provenance block, else the user's line
        stacks = _stacks
        sites = stacks.site
        if sites:
            site, grad_of, role = sites[-1], stacks.grad_of[-1], stacks.role[-1]
            if site is None:
                site = creation_site(3)
        else:
            site, grad_of, role = creation_site(3), None, None  # 1 is _init, 2 its caller in graphcomp
    else:
        site, grad_of, *explicit = built
        role = explicit[0] if explicit else None
    _v_site(v, site)
    _v_grad_of(v, grad_of)
    # provenance.role_of, inlined: every node pays it
    _v_role(v, role if role is not None else "forward" if grad_of is None else "grad")


class _Cell:
    """The mutable box a Parameter's current value lives in (nodes stay immutable).

    A backend that keeps values on an accelerator (JAX) stores the current value
    there as ``device``; the NumPy copy ``array`` is then made only when asked."""

    __slots__ = ("_array", "device")

    def __init__(self, array):
        self._array, self.device = array, None

    @property
    def array(self) -> np.ndarray:
        arr = self._array
        if arr is None:  # only the device holds the current value: copy it back now
            arr = self._array = _owned(self.device, None, "Parameter: cannot read back")
        return arr

    @array.setter
    def array(self, arr: np.ndarray) -> None:
        self._array, self.device = arr, None


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
            raise ArgumentError(f"gc.Parameter takes a value, not a Variable ({value.label()})")
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
                f"Parameter {self.label()!r}: the new value has shape {fmt_shape(arr.shape)}, "
                f"but the Parameter's shape is {fmt_shape(self.shape)}"
            )
        if arr.dtype != self.dtype and not np.can_cast(arr.dtype, self.dtype, "same_kind"):
            raise InputError(f"Parameter {self.label()!r}: cannot store {arr.dtype} in a {self.dtype} Parameter")
        _v_value_get(self).array = _owned(arr, self.dtype, "set_value: cannot store")

    def device_value(self):
        """The current value as a device backend stored it (a ``jax.Array``), or None
        when the current value was set from NumPy (``gc.Parameter``, ``set_value``)."""
        return _v_value_get(self).device

    def set_device_value(self, value, host_current: bool = False) -> None:
        """Make ``value``, an array of this Parameter's shape and dtype that a device
        backend computed (``compile(..., backend="jax")``), the current value. It stays
        where it is; ``value`` and ``get_value`` copy it to NumPy when first asked.
        ``host_current=True``: ``value`` is a device copy of the current NumPy value,
        which stays current too.

        Example:
            >>> import numpy as np, graphcomp as gc
            >>> W = gc.Parameter([1.0, 2.0], "W")
            >>> W.set_device_value(np.array([3.0, 4.0]))  # a backend's array; NumPy's stands in here
            >>> W.get_value().tolist(), W.device_value() is not None
            ([3.0, 4.0], True)
        """
        if tuple(value.shape) != self.shape or np.dtype(value.dtype) != self.dtype:
            raise InputError(
                f"Parameter {self.label()!r}: a device value of shape {fmt_shape(tuple(value.shape))} and dtype "
                f"{value.dtype} cannot stand for this {fmt_shape(self.shape)} {self.dtype} Parameter"
            )
        cell = _v_value_get(self)
        if not host_current:
            cell._array = None
        cell.device = value


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


def make_apply(
    op: Op, inputs: tuple[Variable, ...], shape: Shape, dtype: np.dtype, name=None, built: tuple | None = None
) -> Variable:
    """Build an ``Apply`` of ``op`` on ``inputs`` and return its output Variable.

    Ops call this after inferring the output's type; users call ops instead.
    ``built`` is the node's provenance ``(site, grad_of, role)`` when the caller
    knows it (a pass rebuilding a node keeps the user's line and the node's
    role: ``graphcomp.core.provenance.of(v)``); by default
    it comes from ``graphcomp.core.provenance``.

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
    _init(out, shape, dtype, name, node, None, built)
    _a_output(node, out)
    _a_site(node, out.site)
    return out


def constant(value: Any, name: str | None = None, dtype=None, built: tuple | None = None) -> Variable:
    """A constant embedded in the graph (scalar or array), stored read-only.

    ``built`` is its provenance ``(site, grad_of, role)`` when the caller knows it
    (constant folding keeps the folded node's), as in ``make_apply``.

    Example:
        >>> import graphcomp as gc
        >>> c = gc.constant([1.0, 2.0], name="c")
        >>> c.shape, c.dtype, c.is_constant
        ((2,), dtype('float64'), True)
    """
    if isinstance(value, Variable):
        raise ArgumentError(f"gc.constant takes a value, not a Variable ({value.label()})")
    arr = _owned(value, dtype, "gc.constant: cannot embed")
    v = object.__new__(Variable)
    _init(v, arr.shape, arr.dtype, name, None, arr, built)
    return v
