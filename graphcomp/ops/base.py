"""The op protocol: everything about one op lives in its class.

An Op is a frozen dataclass; its fields are its parameters (``axis``,
``keepdims``), so equal ops compare and hash equal, which merging and
printing rely on. Calling an op on Variables builds a node. The rest of
graphcomp asks the op, never a table keyed by its name:

    infer(*inputs) -> (shape, dtype)     at build time; errors name op and shapes
    forward(*arrays) -> array            NumPy: the only numeric definition
    bprop(inputs, output, G) -> list     one gradient per input position, built
                                         from graph ops (None: no gradient)
    label()                              the op with its parameters, for printing
    short_label()                        the op in a word, as an unnamed node is called in
                                         back-references and messages (its name; a group's own)

Traits (class attributes) that passes, backends and inspectors read:

    name               the op's persistent name: saved files and labels
    differentiable     False: its output carries no gradient (comparisons)
    no_gradient        its output is the zero that stands for "no differentiable path"
    elementwise        each output element depends only on the input elements at
                       its (broadcast) position: fusion, SymPy forms, scalar code
    foldable           constant folding may compute it at compile time
    stateful           its value changes from run to run although its inputs do not: it
                       reads a state (a Parameter) that each run advances through
                       ``state_updates`` (random draws, ``graphcomp/ops/random.py``).
                       A stateful op is never constant-folded (set ``foldable = False``
                       too) and never hoisted out of a loop as loop-invariant; merging
                       two such nodes is right only when they are equal ops on the same
                       inputs (for a draw: the same draw, hence the same numbers)
    helper             graphcomp builds it around a user's op (a mean's element count, a
                       bprop's sum_to), no public function alone: explanations name the
                       user's op it serves
    stable_hint        what to write instead where the op's value or derivative is not
                       finite (log of 0: log_sigmoid, binary_cross_entropy_with_logits);
                       ``stable_hint_for(v)`` gives it for one node (a power's depends
                       on its exponent)
    flops_per_element  the cost model's FLOPs per output element (0: data movement)
    transcendental     a libm call per element (Numba runs these slower than NumPy)
    slow_in_numpy      NumPy runs it in several passes: worth a fused kernel alone
    view               its NumPy form may return its first input or a view of it (a
                       compiled function copies such an output of an input, see codegen)
    symbol             its short label in pictures (``+``, ``×``)
    infix              ``(operator, precedence, associativity)`` when printed as Python
                       writes it (``("-", 4, "left")``; ``"prefix"`` for unary minus)
    fn                 set when forward is exactly ``fn(*arrays)`` (a NumPy function):
                       the generated code calls it directly; when it is a ufunc, its
                       result may reuse a dying buffer through ``out=``
    linear             in which inputs the output is linear (f(a u + w) = a f(u) + f(w),
                       the other inputs held fixed): "all" (jointly in every input: add,
                       sum, reshape), "each" (in any one input alone: multiply, matmul),
                       or a tuple of positions (jointly in those: where's two branches);
                       None (the default): not known to be. Forward mode reads it to
                       check that a custom bprop is linear in G (``linear_in``)
    multiple_outputs   its value packs several outputs (a loop's) that projection ops
                       take apart: it carries a gradient whatever its dtype (object),
                       the packed cotangents of its projections

Forms, one per kind of consumer, each None where the op has none:

    scalar(*args) -> str            an expression over Python floats (``math``), for
                                    the scalar fast path and Numba's fused kernels;
                                    ``scalar_form`` is its format string and
                                    ``scalar_helpers`` the functions it calls
    expression(v, args) -> str      a short inline NumPy expression for generated
                                    code (``w[3]``, ``a @ b``); ``numpy_helpers``
                                    binds the names it uses
    sympy(sp, v, args)              the SymPy form (``sympy_function`` names a
                                    SymPy function of the same arity)
    flops(v, shape_of) -> int       the cost model (default: flops_per_element per
                                    output element)
    inner() -> (inputs, output)     the inner graph of an op that holds one (an
                                    op_from_graph group), for the printers to expand
    state_updates(inputs) -> list   a stateful op's ``(Parameter, new value)`` pairs
                                    that one run applies after it has read them all
                                    (``gc.compile`` adds them to its updates,
                                    ``gc.evaluate`` assigns them; default: none)

Hooks for ops that hold graphs of their own (a loop's body), each with a default
that suits every other op:

    bprop_needed(inputs, output, G, needed)   bprop told which inputs need a
                                    gradient (the Variables of G'): a loop builds
                                    only those, each costing work at every step
    no_gradient_of(v) -> Variable   the "no differentiable path" zero of a value
                                    the generic one cannot stand for (a packed value)
    inner_graphs() / with_inner_graphs(graphs)   the output lists of the graphs it
                                    runs inside itself, for the passes to optimise
    generated_callee(v, writer)     a function written for node ``v`` in generated code
                                    (a loop: a ``for`` statement around its body's lines)
    inner_backprop() -> result      the back-propagation an op built to run inside itself
                                    (a backward loop: build_grad on the forward body), whose
                                    trace ``gc.backprop(..., trace=True)`` splices in

A backend module holds only its own overrides, keyed by op class
(``graphcomp/runtime/backends/``); ``docs/architecture.md`` shows how to add an
op and a backend.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from graphcomp.core.node import Variable, constant, make_apply
from graphcomp.core.site import creation_site, with_site
from graphcomp.core.types import Shape
from graphcomp.errors import ArgumentError, GraphError

__all__ = [
    "Op", "REGISTRY", "Operand", "as_variable", "weak_constant", "operands", "size_of_shape", "sympy_number",
    "parameter_names", "INPUT_CHECKS",
]  # fmt: skip

#: what graphcomp functions accept as an operand: a Variable, or a number or array (made a constant)
Operand = Variable | float | int | bool | complex | np.ndarray | np.generic | list | tuple


#: graphcomp's own op library by name (the names saved files use); the op spec table covers all of them
REGISTRY: dict[str, type[Op]] = {}
_SHARED: dict = {}  # op class -> its one instance when it has no parameters, else False

#: ``check(op, inputs)`` calls each op makes before it infers its output: a GraphError it raises is the
#: user's, with the line. Loops refuse a value from a body whose trace is over (``graphcomp.ops.loops.scope``).
INPUT_CHECKS: list[Callable] = []


def size_of_shape(shape: Shape) -> int:
    """The element count of a shape, an unknown dimension counted as 1 (the cost model's guess).

    Example:
        >>> size_of_shape((None, 3, 4))
        12
    """
    return math.prod(1 if d is None else d for d in shape)


def sympy_number(sp, value):
    """A number as SymPy should show it: an integer exactly, a short decimal as the
    fraction the user typed (0.1 -> 1/10), anything else as a Float.

    Example:
        >>> import sympy
        >>> sympy_number(sympy, 2.0), sympy_number(sympy, 0.1)
        (2, 1/10)
    """
    v = float(value)
    if v.is_integer() and abs(v) < 2**53:
        return sp.Integer(int(v))
    text = repr(v)
    return sp.Rational(text) if len(text) <= 8 and "e" not in text else sp.Float(v)


@dataclasses.dataclass(frozen=True)
class Op:
    """Base class of all ops. Subclasses set ``name`` and define ``infer``, ``forward``
    and ``bprop``; traits and forms (see the module docstring) have defaults.

    Example:
        >>> import graphcomp as gc
        >>> from graphcomp.ops.elementwise import Exp
        >>> y = Exp()(gc.Variable("x", (2,)))
        >>> y.owner.op.name, y.shape, Exp.elementwise, Exp().scalar("t")
        ('exp', (2,), True, '_exp(t)')
    """

    name: ClassVar[str] = ""
    differentiable: ClassVar[bool] = True
    no_gradient: ClassVar[bool] = False
    elementwise: ClassVar[bool] = False
    foldable: ClassVar[bool] = True
    stateful: ClassVar[bool] = False
    helper: ClassVar[bool] = False
    stable_hint: ClassVar[str] = ""
    flops_per_element: ClassVar[int] = 1
    transcendental: ClassVar[bool] = False
    slow_in_numpy: ClassVar[bool] = False
    view: ClassVar[bool] = False
    symbol: ClassVar[str | None] = None
    infix: ClassVar[tuple[str, int, str] | None] = None
    fn: ClassVar[Callable | None] = None
    multiple_outputs: ClassVar[bool] = False
    linear: ClassVar[str | tuple[int, ...] | None] = None
    scalar_form: ClassVar[str | None] = None
    scalar_helpers: ClassVar[dict[str, Callable]] = {}
    numpy_helpers: ClassVar[dict[str, object]] = {}
    sympy_function: ClassVar[str | None] = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.__dict__.get("name") and cls.__module__.startswith("graphcomp.ops."):
            other = REGISTRY.get(cls.name)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise GraphError(f"two ops are named {cls.name!r}: {other.__qualname__} and {cls.__qualname__}")
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
            for check in INPUT_CHECKS:
                check(self, inputs)
            shape, dtype = self.infer(*inputs)
        except GraphError as e:
            raise with_site(e, creation_site()) from None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as e:
            # an op's infer met something it did not expect: still the user's error, said clearly
            raise with_site(ArgumentError(f"{self.label()}: {e}"), creation_site()) from None
        return make_apply(self, inputs, shape, dtype)

    # -- the three methods of the book's ops ------------------------------------------------------
    def infer(self, *inputs: Variable) -> tuple[Shape, np.dtype]:
        """Static output shape and dtype; raise ShapeError/DTypeError if impossible."""
        raise NotImplementedError

    def forward(self, *arrays):
        """Compute the output value from input arrays (never modifying them)."""
        fn = type(self).fn
        if fn is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither forward nor fn")
        return fn(*arrays)

    def bprop(self, inputs: Sequence[Variable], output: Variable, G: Variable) -> list[Variable | None]:
        """Gradients for each input position, given G = dcost/doutput."""
        return [None] * len(inputs)

    def bprop_needed(self, inputs: Sequence[Variable], output: Variable, G: Variable, needed) -> list:
        """``bprop`` when only the inputs in ``needed`` (a container of Variables: G',
        the nodes whose gradient is being built) need a gradient; an op may return
        None for the others. Most ops build every input's term: this calls ``bprop``."""
        return self.bprop(inputs, output, G)

    def label(self) -> str:
        """The op's name with its parameters, e.g. ``sum[axis=(0,)]``."""
        names = parameter_names(type(self))
        if not names:
            return self.name
        params = ",".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.name}[{params}]"

    def linear_in(self, varying: frozenset, zero: frozenset, n: int) -> bool:
        """Whether the output is linear in the inputs at positions ``varying`` together,
        the others held fixed, where the inputs at ``zero`` are zeros: some set the op
        is jointly linear in (the ``linear`` trait) holds every varying position, and
        its other positions are zeros (``x + 0`` is linear in x, ``x + 1`` is not).

        Example:
            >>> from graphcomp.ops.binary import Add, Multiply
            >>> Add().linear_in({0}, set(), 2), Add().linear_in({0}, {1}, 2), Multiply().linear_in({0}, set(), 2)
            (False, True, True)
            >>> Multiply().linear_in({0, 1}, set(), 2)
            False
        """
        trait = type(self).linear
        if trait is None or not varying:
            return False
        if trait == "all":
            sets = [frozenset(range(n))]
        elif trait == "each":
            sets = [frozenset((k,)) for k in range(n)]
        else:
            sets = [frozenset(trait)]
        return any(varying <= s and s <= (set(varying) | set(zero)) for s in sets)

    def short_label(self) -> str:
        """The op in one word, naming an unnamed node in back-references (``-> #3 exp``)
        and messages: ``name`` for graphcomp's ops; an op whose instances differ in kind
        (an op_from_graph group: ``layer``) says which.

        Example:
            >>> from graphcomp.ops.reduce import Sum
            >>> Sum((0,)).short_label(), Sum((0,)).label()
            ('sum', 'sum[axis=(0,)]')
        """
        return self.name

    # -- forms ------------------------------------------------------------------------------------
    def scalar(self, *args: str) -> str | None:
        """An expression computing this op on Python floats, or None.

        ``args`` are its operands' texts: names, or literals for constants
        (``"2.0"``), so a form may specialise on them. It calls only the
        functions its ``scalar_helpers`` name (``{"_exp": math.exp}``); Numba
        compiles the same text into fused kernels, so it must be plain scalar code.
        """
        form = type(self).scalar_form
        return None if form is None else form.format(*args)

    def expression(self, v: Variable, args: list[str]) -> str | None:
        """A short NumPy expression computing node ``v`` from its inputs' names, or None
        to call ``fn``/``forward`` (it may use the names in ``numpy_helpers``)."""
        return None

    def sympy(self, sp, v: Variable, args: list):
        """The SymPy form of node ``v`` given its inputs' SymPy forms, or None.

        ``sp`` is the ``sympy`` module (imported only by the SymPy bridge)."""
        fn = type(self).sympy_function
        return None if fn is None else getattr(sp, fn)(*args)

    def flops(self, v: Variable, shape_of: Callable[[Variable], Shape]) -> int:
        """An estimate of the floating-point operations computing node ``v`` takes,
        ``shape_of`` giving each Variable's (runtime or static) shape."""
        per = type(self).flops_per_element
        return per * size_of_shape(shape_of(v)) if per else 0

    def inner(self) -> tuple[tuple[Variable, ...], Variable] | None:
        """The inner graph of an op that holds one (``gc.op_from_graph``): its placeholder
        inputs, bound in order to the node's inputs, and its output; None for other ops.
        ``to_dot(..., expand=True)`` draws it inside the node."""
        return None

    def stable_hint_for(self, v: Variable) -> str:
        """What to write instead where node ``v``'s value or derivative is not finite:
        ``stable_hint``, unless the op can tell more from v's inputs (a power's exponent)."""
        return self.stable_hint

    def no_gradient_of(self, v: Variable) -> Variable | None:
        """The zero standing for "no differentiable path" to this op's output ``v``
        when the generic one (zeros of v's shape and dtype) cannot, else None."""
        return None

    # -- ops holding graphs of their own (a loop's body) ----------------------------------------
    def inner_graphs(self) -> tuple[list[Variable], ...]:
        """The output lists of the graphs this op runs inside itself, for the rewrite
        passes to optimise (their leaves stay as they are); () for most ops."""
        return ()

    def with_inner_graphs(self, graphs: Sequence[list[Variable]]) -> Op:
        """This op with its inner graphs' outputs replaced by ``graphs``, one list per
        entry of ``inner_graphs()``, computing the same values from the same leaves."""
        raise NotImplementedError(f"{type(self).__name__} has no inner graphs")

    def generated_callee(self, v: Variable, writer) -> Callable | None:
        """A function generated for node ``v`` to call in compiled code, or None to
        call ``fn``/``forward`` (most ops). A loop writes a Python ``for`` loop around
        its body's generated lines. ``writer`` is the code generator's
        (``graphcomp.runtime.codegen.Writer``): it writes an inner graph's lines with
        the same backend and compiles a function from lines. A backend overriding
        this op's class (JAX's ``lax.scan``) is asked instead."""
        return None

    def inner_backprop(self):
        """The ``gc.backprop`` result this op's inner graph was built from (a backward
        loop's body: build_grad on the forward loop's body), for traces; None for
        other ops."""
        return None

    def state_updates(self, inputs: Sequence[Variable]) -> list[tuple[Variable, Variable]]:
        """For a ``stateful`` op applied to ``inputs``: the ``(Parameter, new value)``
        pairs each run of a graph holding it must apply, once, after the run (a
        random draw advances its generator's count of runs); none by default."""
        return []

    def fusible(self, v: Variable) -> bool:
        """Whether node ``v`` may join a fused elementwise kernel, beyond the traits
        (an op whose kernel form suits only some nodes says no for the others)."""
        return True


_PARAMETERS: dict[type, tuple[str, ...]] = {}


def parameter_names(op_class: type) -> tuple[str, ...]:
    """The names of an op class's parameters (its dataclass fields), looked up once per
    class (``dataclasses.fields`` is slow, and labels and loop rolling ask per node).

    Example:
        >>> from graphcomp.ops.reduce import Sum
        >>> parameter_names(Sum)
        ('axes', 'keepdims')
    """
    names = _PARAMETERS.get(op_class)
    if names is None:
        names = _PARAMETERS[op_class] = tuple(f.name for f in dataclasses.fields(op_class))
    return names


def as_variable(value, what: str | None = None) -> Variable:
    """A Variable as is; a number or array becomes a constant. A value that cannot be
    one (a ragged list, an int beyond int64) raises ``gc.ArgumentError`` naming
    ``what`` (the function and argument) when given.

    Example:
        >>> as_variable(2.0).is_constant
        True
        >>> as_variable([[1, 2], [3]], "add")
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: add: an operand is not a number or a rectangular array (gc.constant: cannot ...
    """
    if isinstance(value, Variable):
        return value
    return _embedded(value, what)


def _embedded(value, what: str | None, dtype=None) -> Variable:
    try:
        return constant(value, dtype=dtype)
    except ArgumentError as e:
        if what is None:
            raise
        raise ArgumentError(f"{what}: an operand is not a number or a rectangular array ({e})"[:400]) from None


_PY_SCALARS = (bool, int, float, complex)
_REPRESENTATIVE = {bool: True, int: 1, float: 1.0, complex: 1j}
_weak_dtypes: dict = {}


def weak_constant(value, like: Variable, what: str | None = None) -> Variable:
    """A Python number, or a list or tuple of them, next to ``like`` takes ``like``'s
    dtype when NumPy would for a Python number; ``what`` (the function's name) names
    a value that cannot be a constant.

    NumPy treats Python scalars as "weak" (NEP 50): ``float32_array * 2.0`` stays
    float32, ``int8_array + 1`` stays int8, ``int_array * 0.5`` becomes float64.
    graphcomp extends the rule to Python lists and tuples of numbers, which NumPy
    would first turn into a float64 (int64, ...) array: written next to a Variable
    they are literals of the same kind as a Python number, as a fed list takes its
    Variable's dtype (``graphcomp/runtime/feed.py``); so a float32 model stays float32
    when a loss target or a batch-norm scale is written as a list. A Python int that
    ``like``'s integer dtype cannot hold (``300`` next to int8) is an ArgumentError, as
    NumPy raises OverflowError. NumPy arrays and NumPy scalars keep their dtype (they
    are strong, as in NumPy).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", dtype="float32")
        >>> weak_constant(2.0, x).dtype, weak_constant([0.0, 1.0], x).dtype, weak_constant(np.ones(2), x).dtype
        (dtype('float32'), dtype('float32'), dtype('float64'))
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
        except ArgumentError:  # an int that like's integer dtype cannot hold: NumPy refuses it too (NEP 50)
            raise ArgumentError(
                f"{what or 'gc.constant'}: the Python {kind.__name__} {value!r} does not fit {dtype}, the dtype of "
                f"{like.label()} (NumPy refuses it too)"
            ) from None
    if kind in (list, tuple):
        dtype = _weak_list_dtype(value, like)
        if dtype is None:  # not a list of Python numbers (ragged, NumPy scalars): as NumPy takes it
            return _embedded(value, what)
        try:
            return constant(value, dtype=dtype)
        except ArgumentError:
            raise ArgumentError(
                f"{what or 'gc.constant'}: the Python {kind.__name__} {value!r} does not fit {dtype}, the dtype of "
                f"{like.label()} (NumPy refuses its numbers too)"[:400]
            ) from None
    return _embedded(value, what)


#: the dtype NumPy gives a list of Python numbers of each kind, and that kind's representative
_PYTHON_DEFAULT = {np.dtype(bool): True, np.dtype(np.int_): 1, np.dtype(float): 1.0, np.dtype(complex): 1j}


def _weak_list_dtype(value, like: Variable):
    """The dtype a list or tuple of Python numbers takes next to ``like``, or None for a
    value that is not one (ragged, of NumPy scalars of other dtypes, of Variables)."""
    try:
        converted = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        return None
    representative = _PYTHON_DEFAULT.get(converted.dtype)
    if representative is None:
        return None
    return np.result_type(like.dtype, representative)


def operands(x: Operand, y, what: str | None = None) -> tuple[Variable, Variable]:
    """Coerce a pair of operands, Python numbers (and lists of them) taking the other
    side's dtype (``weak_constant``); ``what`` (the function's name) names a failure
    to make one a constant.

    Example:
        >>> import graphcomp as gc
        >>> a, b = operands(gc.Variable("x", dtype="float32"), 2)
        >>> b.dtype
        dtype('float32')
    """
    if isinstance(x, Variable):
        return x, weak_constant(y, x, what)
    if isinstance(y, Variable):
        return weak_constant(x, y, what), y
    return as_variable(x, what), as_variable(y, what)
