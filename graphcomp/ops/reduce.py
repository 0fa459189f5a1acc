"""Reductions over axes with NumPy's ``axis``/``keepdims``: sum, max, min,
logsumexp, prod, var, std, argmax, argmin (``mean`` is a composite: sum divided
by the element count).

Ties: ``max`` and ``min`` split the gradient evenly among the elements that
attain the extremum (like TensorFlow and JAX), so the gradient of
``max([1, 3, 3])`` is ``[0, 0.5, 0.5]``. ``argmax`` and ``argmin`` return the
first of tied entries, as NumPy does, and carry no gradient.

``prod``'s gradient is G times the product of the other entries, computed with
exclusive running products (``graphcomp/ops/cumulative.py``), never prod / x:
with one zero entry only that entry's gradient is nonzero, with two every one
is 0, and its derivatives of every order are exact there too.

``std``'s gradient where the std is 0 (all entries along the axes equal) is 0:
the std is not differentiable there (it is a norm of the deviations), and 0 is
the subgradient of least size, as for ``norm`` at the origin; sqrt(var) would
give 0 * inf = NaN.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.site import user_errors
from graphcomp.core.types import as_bool, fmt_shape, normalize_axes, reduced_shape, result_dtype
from graphcomp.errors import ArgumentError, DTypeError, ShapeError
from graphcomp.ops.base import Op, Operand, as_variable, size_of_shape
from graphcomp.ops.binary import divide
from graphcomp.ops.compare import Equal, equal
from graphcomp.ops.creation import SizeOf
from graphcomp.ops.cumulative import exclusive_products
from graphcomp.ops.elementwise import exp
from graphcomp.ops.identity import Cast
from graphcomp.ops.select import where
from graphcomp.ops.shape import ExpandDims, broadcast_like

__all__ = ["sum", "mean", "max", "min", "logsumexp", "prod", "var", "std", "argmax", "argmin"]


@dataclasses.dataclass(frozen=True)
class Reduce(Op):
    """A reduction over ``axes`` (a sorted tuple of non-negative axes): it reads every
    input element once (the cost model), and over size-1 axes only it is the identity."""

    axes: tuple
    keepdims: bool = False

    def infer(self, x):
        normalize_axes(self.axes, x.ndim, self.name)
        return reduced_shape(x.shape, self.axes, self.keepdims), self.out_dtype(x.dtype)

    def out_dtype(self, dtype):
        return dtype

    def expand(self, G):
        """G with the reduced axes put back as size 1, ready to broadcast."""
        return G if self.keepdims or not self.axes else ExpandDims(self.axes)(G)

    def label(self) -> str:
        kd = ",keepdims" if self.keepdims else ""
        return f"{self.name}[axis={self.axes}{kd}]"

    def flops(self, v, shape_of):
        return type(self).flops_per_element * size_of_shape(shape_of(v.owner.inputs[0]))

    def sympy(self, sp, v, args):
        return args[0] if all(d == 1 for d in v.owner.inputs[0].shape) else None


@dataclasses.dataclass(frozen=True)
class UfuncReduce(Reduce):
    """A reduction that is a ufunc's ``reduce`` (``np.add.reduce`` for sum)."""

    def expression(self, v, args):
        # np.sum upcasts small integers and bools; the raw ufunc reduction is the same only for floats
        if v.owner.inputs[0].dtype.kind not in "fc":
            return None
        (helper,) = type(self).numpy_helpers
        return f"{helper}({args[0]}, {self.axes!r}, None, None, {self.keepdims})"


class Sum(UfuncReduce):
    name, numpy_helpers = "sum", {"_add_reduce": np.add.reduce}

    def out_dtype(self, dtype):
        return result_dtype(np.sum, dtype)

    def forward(self, x):
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [broadcast_like(self.expand(G), inputs[0])]


class Max(UfuncReduce):
    name, numpy_helpers = "max", {"_max_reduce": np.maximum.reduce}

    def forward(self, x):
        return np.max(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


class Min(UfuncReduce):
    name, numpy_helpers = "min", {"_min_reduce": np.minimum.reduce}

    def forward(self, x):
        return np.min(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [_extremum_grad(self, inputs[0], output, G)]


def _extremum_grad(op: Reduce, x, y, G):
    hit = Equal()(x, op.expand(y))
    count = Sum(op.axes, keepdims=True)(hit)  # an integer: 70000 ties are not inf, as in float16
    share = divide_by_count(op.expand(G) if op.keepdims or not op.axes else ExpandDims(op.axes)(G), count)
    return where(hit, share, 0)


# -- counts: exact, then cast (a float16 count of 70000 is inf) -----------------------------------------

_WIDE = np.dtype(np.float64)
_EXACT_UP_TO: dict = {}


def holds_count(dtype: np.dtype, n: int) -> bool:
    """Whether the float ``dtype`` holds every count up to ``n`` exactly (float16: 2048,
    float32: 2**24, float64: 2**53).

    Example:
        >>> holds_count(np.dtype("float16"), 70000), holds_count(np.dtype("float32"), 70000)
        (False, True)
    """
    limit = _EXACT_UP_TO.get(dtype)
    if limit is None:  # np.finfo is slow for a check that runs with every cross-entropy gradient
        limit = _EXACT_UP_TO[dtype] = 2 ** (np.finfo(dtype).nmant + 1)
    return n <= limit


def divide_by_count(x: Variable, count) -> Variable:
    """``x / count`` for a count of elements (a mean's size, a number of ties, a batch),
    with the count exact: counted as an integer, divided in float64 (exact up to
    2**53) and cast back to x's dtype, unless x's own dtype holds the count exactly.
    A float16 count of 70000 is inf, and a float32 one of 2**24 + 1 rounds; NumPy's
    ``mean`` likewise computes float16 means in float32.

    ``x`` is a float (or integer) Variable; ``count`` a Python int (a known size) or an
    integer or float64 Variable (a size known at run time, such as ``SizeOf``'s).
    Returns a Variable of x's shape (broadcast with count's) and x's float dtype.

    Example:
        >>> import graphcomp as gc
        >>> g = gc.constant(np.ones(2, np.float16))
        >>> out = divide_by_count(g, 70000)
        >>> out.dtype, gc.evaluate(out, {}).tolist()
        (dtype('float16'), [1.430511474609375e-05, 1.430511474609375e-05])
    """
    dtype = x.dtype
    if dtype.kind != "f" or dtype.itemsize >= _WIDE.itemsize:
        return divide(x, count)
    if isinstance(count, (int, np.integer)):
        if holds_count(dtype, count):  # the usual case: one rounding, as NumPy's x / n
            return divide(x, int(count))
        return Cast(dtype)(divide(Cast(_WIDE)(x), int(count)))
    if count.dtype != _WIDE:
        count = Cast(_WIDE)(count)
    return Cast(dtype)(divide(Cast(_WIDE)(x), count))


class LogSumExp(Reduce):
    """log(sum(exp(x))) computed stably; its gradient is softmax(x) * G."""

    name, flops_per_element = "logsumexp", 4

    def out_dtype(self, dtype):
        return result_dtype(np.exp, dtype)

    def forward(self, x):
        if not x.size and any(x.shape[a] == 0 for a in self.axes):  # no terms: log(0) = -inf
            with np.errstate(divide="ignore"):
                return np.log(np.sum(np.exp(x), axis=self.axes, keepdims=self.keepdims))
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf: keep log(0) = -inf, not nan
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        return out if self.keepdims else np.squeeze(out, self.axes)

    def bprop(self, inputs, output, G):
        (x,) = inputs
        return [self.expand(G) * exp(x - self.expand(output))]

    def sympy(self, sp, v, args):
        return None  # log(exp(x)) over size-1 axes is x, but not as a SymPy identity


class Prod(UfuncReduce):
    """``np.prod``. Its gradient is G times the product of the other entries of each
    reduced slice, from exclusive running products: no division, so it is exact
    where entries are 0, and so are its own derivatives."""

    name, numpy_helpers = "prod", {"_multiply_reduce": np.multiply.reduce}

    def out_dtype(self, dtype):
        return result_dtype(np.prod, dtype)

    def forward(self, x):
        return np.prod(x, axis=self.axes, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        (x,) = inputs
        # Over several axes, one at a time: the others in x's slice along the first axis,
        # times the others among the slice products along the next, and so on.
        others, part = None, x
        for k, a in enumerate(self.axes):
            if x.shape[a] == 1:
                continue  # one entry: no other to multiply, and the product is the entry
            term = exclusive_products(part, a)
            others = term if others is None else others * term
            if k + 1 < len(self.axes):
                part = Prod((a,), keepdims=True)(part)
        if others is None:
            return [broadcast_like(self.expand(G), x)]
        return [self.expand(G) * others]


def check_real(fn: str, x: Variable) -> None:
    """Refuse complex ``x`` for ``fn``, a function of |x|**2 whose complex gradient would be a
    convention of its own (var, std, norm), with a DTypeError naming both.

    Example:
        >>> import graphcomp as gc
        >>> check_real("norm", gc.Variable("c", (2,), "complex128"))
        Traceback (most recent call last):
        ...
        graphcomp.errors.DTypeError: norm: c is complex (complex128); norm takes real values (apply it to abs(x) ...
    """
    if x.dtype.kind == "c":
        raise DTypeError(
            f"{fn}: {x.label()} is complex ({x.dtype}); {fn} takes real values (apply it to abs(x) or to the real "
            "and imaginary parts)"
        )


def _count(x: Variable, axes: tuple) -> int | None:
    """The number of entries along ``axes`` when known at build time."""
    dims = [x.shape[a] for a in axes]
    return None if None in dims else math.prod(dims)


@dataclasses.dataclass(frozen=True)
class Moment(Reduce):
    """A reduction of the deviations from the mean, divided by N - ``ddof`` (NumPy's
    "delta degrees of freedom": 0 for the population, 1 for the unbiased sample variance)."""

    ddof: int | float = 0
    flops_per_element = 4

    def infer(self, x):
        check_real(self.name, x)
        out = super().infer(x)
        n = _count(x, self.axes)
        if n is not None and n - self.ddof <= 0:
            raise ShapeError(
                f"{self.name}: ddof={self.ddof!r} leaves no degrees of freedom for the {n} entries along axis "
                f"{self.axes} of shape {fmt_shape(x.shape)} (N - ddof must be positive)"
            )
        return out

    def out_dtype(self, dtype):
        return result_dtype(np.var, dtype)

    def label(self) -> str:
        ddof = f",ddof={self.ddof}" if self.ddof else ""
        return super().label()[:-1] + ddof + "]"

    def deviation_over_dof(self, x: Variable):
        """(x - mean(x)) / (N - ddof) along the axes, as graph ops."""
        deviation = x - mean(x, axis=self.axes, keepdims=True)
        n = _count(x, self.axes)
        if n is not None:
            return deviation * (1.0 / (n - self.ddof))
        return deviation / (SizeOf(self.axes, deviation.dtype)(x) - self.ddof)

    def sympy(self, sp, v, args):
        # one entry: no deviation (ddof=0); with ddof >= 1 the value is NaN, not a closed form
        return sp.Integer(0) if all(d == 1 for d in v.owner.inputs[0].shape) and self.ddof == 0 else None


class Var(Moment):
    """``np.var(x, axis, ddof=ddof)``: sum((x - mean)**2) / (N - ddof). Its gradient
    2 (x - mean) / (N - ddof) needs no term through the mean (the deviations sum to 0)."""

    name, numpy_helpers = "var", {"_var": np.var}

    def forward(self, x):
        return np.var(x, axis=self.axes, ddof=self.ddof, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        return [self.expand(G) * (2.0 * self.deviation_over_dof(inputs[0]))]

    def expression(self, v, args):
        return f"_var({args[0]}, {self.axes!r}, None, None, {self.ddof!r}, {self.keepdims!r})"


class Std(Moment):
    """``np.std``: sqrt(var). Its gradient (x - mean) / ((N - ddof) std) is 0 where the
    std is 0 (a subgradient; the division is by 1 there, so no inf appears in any
    derivative)."""

    name, numpy_helpers = "std", {"_std": np.std}

    def forward(self, x):
        return np.std(x, axis=self.axes, ddof=self.ddof, keepdims=self.keepdims)

    def bprop(self, inputs, output, G):
        safe = where(equal(output, 0.0), 1.0, output)  # where std is 0 every deviation is 0 too
        return [self.expand(G) * self.deviation_over_dof(inputs[0]) / self.expand(safe)]

    def expression(self, v, args):
        return f"_std({args[0]}, {self.axes!r}, None, None, {self.ddof!r}, {self.keepdims!r})"


class ArgExtremum(Reduce):
    """The int64 index of the largest (smallest) entry, the first of ties, as NumPy:
    along one axis, or into the flattened array when ``axes`` are all of several axes."""

    differentiable = False

    def infer(self, x):
        out = super().infer(x)
        for a in self.axes:
            if x.shape[a] == 0:
                raise ShapeError(
                    f"{self.name}: an empty sequence (axis {a} of shape {fmt_shape(x.shape)}) has no {self.name}"
                )
        return out

    def out_dtype(self, dtype):
        return np.dtype(np.int64)

    def numpy_axis(self):
        """NumPy's ``axis``: None (the flattened array) unless exactly one axis."""
        return self.axes[0] if len(self.axes) == 1 else None

    def forward(self, x):
        (pick,) = type(self).numpy_helpers.values()
        return np.asarray(pick(x, axis=self.numpy_axis(), keepdims=self.keepdims), dtype=np.int64)

    def bprop(self, inputs, output, G):
        return [None]

    def expression(self, v, args):
        (helper,) = type(self).numpy_helpers
        return f"{helper}({args[0]}, {self.numpy_axis()!r}, keepdims={self.keepdims!r})"

    def sympy(self, sp, v, args):
        return sp.Integer(0) if all(d == 1 for d in v.owner.inputs[0].shape) else None


class ArgMax(ArgExtremum):
    name, numpy_helpers = "argmax", {"_argmax": np.argmax}


class ArgMin(ArgExtremum):
    name, numpy_helpers = "argmin", {"_argmin": np.argmin}


# -- builders ---------------------------------------------------------------------------


@user_errors
def sum(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Sum over ``axis`` (``None``: all axes), as ``np.sum``.

    Example:
        >>> import graphcomp as gc
        >>> gc.sum(gc.Variable("x", (2, 3)), axis=0).shape
        (3,)
    """
    x = as_variable(x)
    return Sum(normalize_axes(axis, x.ndim, "sum"), as_bool(keepdims, "sum: keepdims"))(x)


@user_errors
def mean(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """Mean over ``axis``, as ``np.mean``: the sum divided by the element count.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.mean(gc.constant([1.0, 2.0, 6.0])), {}))
        3.0
    """
    x = as_variable(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    # NumPy's mean sums float16 in float32 (70000 ones would sum to inf); the count is
    # exact (an int, or float64 at run time) and the division is done where it is exact
    wide = x.dtype == np.float16
    total = Sum(axes, as_bool(keepdims, "mean: keepdims"))(Cast(np.dtype(np.float32))(x) if wide else x)
    dims = [x.shape[a] for a in axes]
    if None in dims:
        count = SizeOf(axes, np.dtype(np.float64) if x.dtype.kind == "f" else result_dtype(np.mean, x.dtype))(x)
    else:
        count = math.prod(dims)
    out = divide_by_count(total, count)
    return Cast(x.dtype)(out) if wide else out


@user_errors
def max(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.max(gc.Variable("x", (2, 3)), axis=1, keepdims=True).shape
        (2, 1)
    """
    x = as_variable(x)
    return Max(normalize_axes(axis, x.ndim, "max"), as_bool(keepdims, "max: keepdims"))(x)


@user_errors
def min(x: Operand, axis=None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient evenly.

    Example:
        >>> import graphcomp as gc
        >>> gc.min(gc.Variable("x", (2, 3))).shape
        ()
    """
    x = as_variable(x)
    return Min(normalize_axes(axis, x.ndim, "min"), as_bool(keepdims, "min: keepdims"))(x)


@user_errors
def logsumexp(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """log(sum(exp(x))) over ``axis``, computed without overflow.

    Example:
        >>> import graphcomp as gc
        >>> float(gc.evaluate(gc.logsumexp(gc.constant([1000.0, 1000.0])), {}))
        1000.6931471805599
    """
    x = as_variable(x)
    return LogSumExp(normalize_axes(axis, x.ndim, "logsumexp"), as_bool(keepdims, "logsumexp: keepdims"))(x)


@user_errors
def prod(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """Product over ``axis`` (``None``: all axes), as ``np.prod`` (its dtype: integers
    and booleans widen to int64).

    The gradient of each entry is G times the product of the other entries of its
    slice (PyTorch's rule where an entry is 0, here everywhere): with one zero in a
    slice only that entry's gradient is nonzero, with two all are 0, and nothing is
    divided by 0. Being built from exclusive running products, it is exact to every
    order (second derivatives included) at zeros too.

    Raises ShapeError for an axis out of range or repeated.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> gc.prod(x, axis=1).shape
        (2,)
        >>> g = gc.grad(gc.prod(x), x)
        >>> gc.evaluate(g, {x: [[1.0, 2.0, 0.0], [3.0, 1.0, 1.0]]}).tolist()
        [[0.0, 0.0, 6.0], [0.0, 0.0, 0.0]]
    """
    x = as_variable(x)
    return Prod(normalize_axes(axis, x.ndim, "prod"), as_bool(keepdims, "prod: keepdims"))(x)


def _ddof(ddof, fn: str):
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{fn}: ddof must be a number (NumPy's delta degrees of freedom), got {ddof!r}")
    if not math.isfinite(ddof):
        raise ArgumentError(f"{fn}: ddof must be finite, got {ddof!r}")
    return int(ddof) if isinstance(ddof, (int, np.integer)) else float(ddof)


@user_errors
def var(x: Operand, axis=None, ddof=0, keepdims: bool = False) -> Variable:
    """Variance over ``axis``, as ``np.var``: sum((x - mean)**2) / (N - ddof), with N the
    number of entries reduced (``ddof=1``: the unbiased sample variance, PyTorch's
    default ``correction=1``). The dtype is NumPy's (floats keep theirs; integers
    and booleans give float64).

    Its gradient is 2 (x - mean) / (N - ddof) times G.

    Raises ArgumentError for a ``ddof`` that is not a finite number, ShapeError when
    N - ddof <= 0 with N known at build time (NumPy would return inf or NaN; with
    N known only at run time, NumPy's inf or NaN it is), DTypeError for complex x.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> gc.var(x, axis=1).shape, gc.var(x, axis=1, keepdims=True).shape
        ((2,), (2, 1))
        >>> float(gc.evaluate(gc.var(gc.constant([1.0, 2.0, 3.0, 6.0]), ddof=1), {}))
        4.666666666666667
    """
    x = as_variable(x)
    return Var(normalize_axes(axis, x.ndim, "var"), as_bool(keepdims, "var: keepdims"), _ddof(ddof, "var"))(x)


@user_errors
def std(x: Operand, axis=None, ddof=0, keepdims: bool = False) -> Variable:
    """Standard deviation over ``axis``, as ``np.std``: sqrt(var(x, axis, ddof)).

    Its gradient is (x - mean) / ((N - ddof) std) times G, and 0 where the std is
    0 (every entry equal): the std is not differentiable there and 0 is the
    subgradient of least size (sqrt(var)'s chain rule would give NaN). Note that
    NumPy's std of equal entries is exactly 0 only when their mean is exact
    (``std([0.1] * 3)`` is about 1e-17).

    Raises as ``var``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> float(gc.evaluate(gc.std(x), {x: [1.0, 2.0, 3.0]}))
        0.816496580927726
        >>> gc.evaluate(gc.grad(gc.std(x), x), {x: [2.0, 2.0, 2.0]}).tolist()
        [0.0, 0.0, 0.0]
    """
    x = as_variable(x)
    return Std(normalize_axes(axis, x.ndim, "std"), as_bool(keepdims, "std: keepdims"), _ddof(ddof, "std"))(x)


def _arg_axis(x: Variable, axis, fn: str) -> tuple:
    if axis is None:
        return tuple(range(x.ndim))
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ArgumentError(f"{fn}: axis must be an int or None (NumPy's {fn} takes one axis), got {axis!r}")
    return normalize_axes(axis, x.ndim, fn)


@user_errors
def argmax(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """The index of the largest entry along ``axis`` (``None``: into the flattened
    array), as ``np.argmax``: int64, the first of tied entries, no gradient (a
    gradient asked through it is disconnected).

    Raises ArgumentError for an axis that is not an int, ShapeError for one out of
    range or for an empty axis known at build time.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> gc.argmax(x, axis=1).shape, gc.argmax(x).dtype
        ((2,), dtype('int64'))
        >>> gc.evaluate(gc.argmax(x, axis=1), {x: [[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]]}).tolist()
        [1, 0]
    """
    x = as_variable(x)
    return ArgMax(_arg_axis(x, axis, "argmax"), as_bool(keepdims, "argmax: keepdims"))(x)


@user_errors
def argmin(x: Operand, axis=None, keepdims: bool = False) -> Variable:
    """The index of the smallest entry along ``axis``, as ``np.argmin`` (see ``argmax``).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2, 3))
        >>> int(gc.evaluate(gc.argmin(x), {x: [[1.0, 5.0, 0.0], [0.0, 3.0, 2.0]]}))
        2
    """
    x = as_variable(x)
    return ArgMin(_arg_axis(x, axis, "argmin"), as_bool(keepdims, "argmin: keepdims"))(x)
