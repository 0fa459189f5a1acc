"""Matrix products with NumPy's ``matmul`` semantics (1-D operands promoted,
leading axes broadcast as a stack). The gradients are the lectures'
dL/dx = (dL/dy) W^T and dL/dW = x^T (dL/dy): no Jacobian is ever built.

Also NumPy's ``einsum``, whose gradient with respect to each operand is again
an einsum (of G and the other operands), and the Euclidean (Frobenius) ``norm``,
whose gradient x / norm is 0 at the origin (the subgradient of least size;
sqrt(sum(x**2))'s chain rule gives 0/0 there)."""

from __future__ import annotations

import dataclasses
import functools
import math
import string

import numpy as np

from graphcomp.core.node import Variable, constant
from graphcomp.core.site import user_errors
from graphcomp.core.types import (
    as_bool,
    broadcast_shapes,
    fmt_shape,
    is_differentiable_dtype,
    is_fully_known,
    normalize_axes,
    result_dtype,
)
from graphcomp.errors import ArgumentError, ShapeError
from graphcomp.ops.base import Op, Operand, as_variable, operands, size_of_shape
from graphcomp.ops.binary import multiply
from graphcomp.ops.compare import Equal, equal, not_equal
from graphcomp.ops.creation import ArangeLike, ones_like
from graphcomp.ops.elementwise import abs as absolute
from graphcomp.ops.identity import Cast
from graphcomp.ops.reduce import Reduce, check_real
from graphcomp.ops.reduce import max as reduce_max
from graphcomp.ops.reduce import min as reduce_min
from graphcomp.ops.reduce import sum as reduce_sum
from graphcomp.ops.select import where
from graphcomp.ops.shape import ExpandDims, Squeeze, Transpose, reshape, sum_to, transpose

__all__ = ["matmul", "dot", "einsum", "norm"]


def _swap_last(v):
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return Transpose(axes)(v)


@dataclasses.dataclass(frozen=True)
class MatMul(Op):
    """``np.matmul``: a ufunc, so the generated code calls it directly."""

    linear = "each"
    name, fn, symbol = "matmul", np.matmul, "@"
    numpy_helpers = {"_dot": np.dot}

    def infer(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: operands must have at least one dimension, got {fmt_shape(a.shape)} and {fmt_shape(b.shape)}"
            )
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka is not None and kb is not None and ka != kb:
            raise ShapeError(
                f"matmul: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned ({ka} != {kb})"
            )
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op=self.name)
        rows = a.shape[-2:-1] if a.ndim >= 2 else ()
        cols = b.shape[-1:] if b.ndim >= 2 else ()
        return batch + rows + cols, result_dtype(np.matmul, a.dtype, b.dtype)

    def bprop(self, inputs, output, G):
        a, b = inputs
        # Promote 1-D operands to matrices as NumPy does, then use the 2-D rules.
        a2 = ExpandDims((0,))(a) if a.ndim == 1 else a
        b2 = ExpandDims((1,))(b) if b.ndim == 1 else b
        G2 = G
        if a.ndim == 1:  # the row axis NumPy dropped sits before the column axis, if any
            G2 = ExpandDims((-2 if b.ndim >= 2 else -1,))(G2)
        if b.ndim == 1:
            G2 = ExpandDims((-1,))(G2)
        da = MatMul()(G2, _swap_last(b2))
        db = MatMul()(_swap_last(a2), G2)
        if max(a.ndim, b.ndim) > 2:  # batch axes may have been broadcast: sum them back
            da, db = sum_to(da, a2), sum_to(db, b2)
        # else da is (m, k) and db (k, n) already, even where m or n is unknown
        da = Squeeze((0,))(da) if a.ndim == 1 else da
        db = Squeeze((1,))(db) if b.ndim == 1 else db
        return [da, db]

    def expression(self, v, args):
        a, b = v.owner.inputs
        if a.ndim == 1 and b.ndim == 1:  # the same BLAS dot, a quarter less call overhead than @
            return f"_dot({args[0]}, {args[1]})"
        return f"{args[0]} @ {args[1]}"

    def flops(self, v, shape_of):
        k = shape_of(v.owner.inputs[0])[-1] or 1
        return 2 * k * size_of_shape(shape_of(v))


# -- builders ---------------------------------------------------------------------------


@user_errors
def matmul(a: Operand, b: Operand) -> Variable:
    """Matrix product with ``np.matmul``'s semantics (also ``a @ b``).

    Example:
        >>> import graphcomp as gc
        >>> (gc.Variable("a", (3, 4)) @ gc.Variable("b", (4, 5))).shape
        (3, 5)
    """
    a, b = operands(a, b, "matmul")
    return MatMul()(a, b)


@user_errors
def dot(a: Operand, b: Operand) -> Variable:
    """``np.dot``: a scalar operand multiplies; otherwise the last axis of ``a`` is
    summed against the only axis of a 1-D ``b``, or against the second-to-last
    axis of ``b``, giving ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]``.

    For stacks of matrices ``matmul`` is usually what is meant: ``dot`` pairs
    every leading index of ``a`` with every leading index of ``b``.

    Example:
        >>> import graphcomp as gc
        >>> gc.dot(gc.Variable("u", (3,)), gc.Variable("v", (3,))).shape
        ()
        >>> gc.dot(gc.Variable("a", (2, 3, 4)), gc.Variable("b", (5, 4, 6))).shape
        (2, 3, 5, 6)
    """
    a, b = operands(a, b, "dot")
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2 or a.ndim == 1:
        return MatMul()(a, b)  # no stack in b, or a 1-D a: matmul pairs the indices as dot does
    return _dot_nd(a, b)


def _dot_nd(a: Variable, b: Variable) -> Variable:
    """np.dot of two operands of 2+ dimensions, one of them 3+: b's summed axis moved
    first, both flattened to matrices, one matmul, then the result's shape (so the
    gradient is matmul's, through a reshape and a transpose)."""
    n, m = b.shape[-2], b.shape[-1]
    if a.shape[-1] is not None and n is not None and a.shape[-1] != n:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} are not aligned ({a.shape[-1]} != {n})"
        )
    lead_a, lead_b = a.shape[:-1], b.shape[:-2]
    n = a.shape[-1] if n is None else n
    if n is None or not is_fully_known(lead_b + (m,)) or lead_a.count(None) > 1:
        raise ShapeError(
            f"dot: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)}: a stack in b needs b's shape and "
            "the summed axis known, and at most one unknown dimension in a; use gc.matmul or reshape first"
        )
    k = b.ndim
    moved = transpose(b, (k - 2, *range(k - 2), k - 1))  # (n, *lead_b, m)
    flat = MatMul()(reshape(a, (-1, n)), reshape(moved, (n, math.prod(lead_b) * m)))
    return reshape(flat, tuple(-1 if d is None else d for d in lead_a + lead_b + (m,)))


# -- einsum -------------------------------------------------------------------------------------

#: the letters einsum labels with, in NumPy's implicit-output order (by character code)
_LABELS = string.ascii_uppercase + string.ascii_lowercase


def _einsum_error(subscripts: str, shapes, problem: str, kind=ShapeError):
    listed = ", ".join(fmt_shape(s) for s in shapes)
    return kind(f"einsum({subscripts!r}) with operand shapes {listed}: {problem}")


def einsum_canonical(subscripts: str, shapes: list) -> str:
    """NumPy's einsum subscripts in explicit form, checked against the operands' ranks:
    spaces dropped, and the implicit output (labels used once, in alphabetical order,
    after ``...`` if any term has one) written out.

    Example:
        >>> einsum_canonical("ij,jk", [(2, 3), (3, 4)]), einsum_canonical("...ii", [(5, 2, 2)])
        ('ij,jk->ik', '...ii->...')
    """

    def fail(problem, kind=ArgumentError):
        raise _einsum_error(subscripts, shapes, problem, kind)

    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        fail("'->' may appear only once")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        fail(f"the subscripts have {len(terms)} operand term(s) for {len(shapes)} operand(s)")
    for term in terms + [rhs]:
        for c in term.replace("...", "", 1):
            if c == ".":
                fail("'.' may appear only in one '...' per term")
            if c not in _LABELS:
                fail(f"invalid subscript {c!r}: labels are letters (a-z, A-Z), with ',', '->' and '...'")
    ranks = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if named > len(shape) or ("..." not in term and named != len(shape)):
            hint = "" if "..." in term or named > len(shape) else " (use '...' for the others)"
            fail(f"term {term!r} names {named} dimension(s) of operand {k}, which has {len(shape)}{hint}", ShapeError)
        ranks.append(len(shape) - named)
    if not arrow:
        counts = {c: lhs.count(c) for c in lhs if c in _LABELS}
        output = ("..." if "..." in lhs else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
        return f"{','.join(terms)}->{output}"
    for c in rhs.replace("...", ""):
        if rhs.count(c) > 1:
            fail(f"the output names {c!r} more than once")
        if c not in lhs:
            fail(f"the output names {c!r}, which no operand's term has")
    if max(ranks) > 0 and "..." not in rhs:
        fail("'...' stands for dimensions of the operands, so the output needs '...' too (sum them explicitly)")
    return f"{','.join(terms)}->{rhs}"


@functools.lru_cache(maxsize=1024)
def _letter_plan(canonical: str, ndims: tuple) -> tuple[tuple[str, ...], str]:
    """The terms and output of explicit subscripts with each ``...`` written as letters
    of its own (the broadcast dimensions, right-aligned), so every dimension has a label."""
    lhs, rhs = canonical.split("->")
    terms = lhs.split(",")
    ranks = [nd - len(t.replace("...", "")) if "..." in t else 0 for t, nd in zip(terms, ndims)]
    m = max(ranks, default=0)
    free = [c for c in _LABELS if c not in canonical]
    if m > len(free):
        raise ShapeError(f"einsum({canonical!r}): too many dimensions for the 52 labels einsum has")
    dots = "".join(free[:m])
    return tuple(t.replace("...", dots[m - r :]) for t, r in zip(terms, ranks)), rhs.replace("...", dots)


def _label_sizes(subscripts: str, terms, shapes) -> dict:
    """Each label's size, broadcast over the operands as NumPy's einsum does (size 1
    stretches; None is unknown); a repeated label within one operand must match exactly."""
    sizes: dict = {}
    where_from: dict = {}  # label -> the operand whose size it took, for the message

    def fail(problem):
        raise _einsum_error(subscripts, shapes, problem)

    for k, (term, shape) in enumerate(zip(terms, shapes)):
        own: dict = {}
        for label, d in zip(term, shape):
            seen = own.get(label, d)
            if seen is not None and d is not None and seen != d:
                fail(f"operand {k} repeats label {label!r} over dimensions of sizes {seen} and {d}")
            own[label] = d if seen is None else seen
        for label, d in own.items():
            have = sizes.get(label, 1)
            if have not in (1, None) and d not in (1, None) and have != d:
                fail(
                    f"label {label!r} has size {have} in operand {where_from[label]} and {d} in operand {k} "
                    "(sizes must be equal, or 1 to broadcast)"
                )
            if d not in (1, None):
                where_from[label] = k
            # 1 stretches to anything; an unknown size is the known one, if any
            sizes[label] = d if have == 1 or have is None and d != 1 else have
    return sizes


def einsum_shape(canonical: str, shapes: list, shown: str | None = None) -> tuple:
    """The output shape of einsum with explicit subscripts ``canonical`` (errors name
    ``shown``, the subscripts as the user wrote them).

    Example:
        >>> einsum_shape("...ij,jk->...ik", [(None, 2, 3), (3, 4)])
        (None, 2, 4)
    """
    terms, out = _letter_plan(canonical, tuple(len(s) for s in shapes))
    sizes = _label_sizes(shown or canonical, terms, shapes)
    return tuple(sizes[label] for label in out)


def _identity(x: Variable, p: int, q: int, dtype) -> Variable:
    """The identity matrix as large as x's (equal) axes p and q, runtime-sized if unknown."""
    n = x.shape[p] if x.shape[p] is not None else x.shape[q]
    if n is not None:
        return constant(np.eye(n, dtype=dtype))
    r = ArangeLike(p)(x)
    return Cast(np.dtype(dtype))(Equal()(ExpandDims((1,))(r), ExpandDims((0,))(r)))


def _may_broadcast(k: int, inputs, terms) -> bool:
    """Whether an axis of operand k may have size 1 where another operand's same label is larger."""
    for p, label in enumerate(terms[k]):
        if inputs[k].shape[p] not in (1, None):
            continue
        for j, term in enumerate(terms):
            if j != k and any(lj == label and inputs[j].shape[q] != 1 for q, lj in enumerate(term)):
                return True
    return False


def _covered(label: str, k: int, inputs, terms, out: str) -> bool:
    """Whether G or another operand gives ``label`` at least operand k's size (else a
    ones tensor of k's shape must: a label k alone has, or one another operand has at
    size 1 only, or at sizes unknown until run time)."""
    if label in out:
        return True  # G has the label's broadcast size
    mine = {inputs[k].shape[p] for p, lk in enumerate(terms[k]) if lk == label}
    for j, term in enumerate(terms):
        if j == k:
            continue
        for q, lj in enumerate(term):
            d = inputs[j].shape[q]
            if lj == label and (d not in (1, None) or mine == {1} or (d is not None and d in mine)):
                return True  # k's size is d (or 1, summed back later)
    return False


def _einsum_grad(k: int, inputs, terms, out: str, G: Variable) -> Variable:
    """dL/d(operand k): the einsum of G with the other operands into operand k's labels.

    A label repeated in operand k ("ii", a diagonal) gets a fresh letter per extra
    occurrence and an identity matrix joining the two, so the gradient lies on the
    diagonal; a label that only operand k has at its full size (summed away) comes
    from a ones tensor of k's shape, so the gradient is constant along it; an axis of
    k that was broadcast (size 1 against a larger one) is summed back.
    """
    x, term = inputs[k], terms[k]
    subs, ops = [out], [G]
    for j, (t, v) in enumerate(zip(terms, inputs)):
        if j != k:
            subs.append(t)
            ops.append(v)
    free = iter(c for c in _LABELS if c not in "".join(terms) + out)
    target: list[str] = []
    first: dict = {}
    for p, label in enumerate(term):
        if label not in first:
            first[label] = p
            target.append(label)
            continue
        fresh = next(free, None)
        if fresh is None:
            raise ShapeError(f"einsum: too many labels to write the gradient of operand {k} ({term!r})")
        target.append(fresh)
        subs.append(label + fresh)
        ops.append(_identity(x, first[label], p, G.dtype))
    # a repeated label is covered by its identity matrix, which has k's size
    if not all(term.count(label) > 1 or _covered(label, k, inputs, terms, out) for label in first):
        subs.append(term)
        ops.append(ones_like(x))
    grad = Einsum(f"{','.join(subs)}->{''.join(target)}")(*ops)
    return sum_to(grad, x) if _may_broadcast(k, inputs, terms) else grad


@dataclasses.dataclass(frozen=True)
class Einsum(Op):
    """``np.einsum(subscripts, *operands)``, ``subscripts`` in explicit form. The gradient
    for each operand is an einsum of G and the other operands (so it differentiates
    again), as for matmul: dL/dA of ``ij,jk->ik`` is ``ik,jk->ij`` of (G, B)."""

    linear = "each"
    name, numpy_helpers = "einsum", {"_einsum": np.einsum}
    subscripts: str

    def infer(self, *xs):
        shapes = [x.shape for x in xs]
        einsum_canonical(self.subscripts, shapes)  # the op may come from a file: check it as the builder does
        return einsum_shape(self.subscripts, shapes), np.result_type(*(x.dtype for x in xs))

    def forward(self, *xs):
        # with two operands or more, NumPy's path finder may hand the contraction to BLAS
        return np.einsum(self.subscripts, *xs, optimize=len(xs) > 1)

    def bprop(self, inputs, output, G):
        terms, out = _letter_plan(self.subscripts, tuple(x.ndim for x in inputs))
        return [
            _einsum_grad(k, inputs, terms, out, G) if is_differentiable_dtype(x.dtype) else None
            for k, x in enumerate(inputs)
        ]

    def label(self) -> str:
        return f"einsum[{self.subscripts}]"

    def expression(self, v, args):
        return f"_einsum({self.subscripts!r}, {', '.join(args)}, optimize={len(args) > 1})"

    def flops(self, v, shape_of):
        inputs = v.owner.inputs
        shapes = [shape_of(x) for x in inputs]
        terms, _ = _letter_plan(self.subscripts, tuple(len(s) for s in shapes))
        sizes = _label_sizes(self.subscripts, terms, shapes)
        return max(1, len(inputs)) * math.prod(1 if d is None else d for d in sizes.values())


@user_errors
def einsum(subscripts: str, *operands: Operand) -> Variable:
    """NumPy's ``einsum``: explicit (``"ij,jk->ik"``) and implicit (``"ij,jk"``: the
    labels used once, in alphabetical order) forms, repeated labels (``"ii->i"``, a
    diagonal; ``"ii"``, a trace), summed labels, ``...`` for the unnamed dimensions
    (broadcast across operands as NumPy broadcasts), and a size-1 dimension
    broadcast against a labelled one.

    The result's dtype is NumPy's promotion of the operands'; unknown (None)
    dimensions are allowed (a label is known if any of its dimensions is). The
    gradient for each operand is an einsum of G with the other operands
    (an identity matrix puts it on the diagonal of a repeated label, a ones tensor
    spreads it along a label only that operand has, and a broadcast axis is summed
    back), so it differentiates again.

    Raises ArgumentError for subscripts that are not a string or are malformed
    (bad characters, a wrong number of terms, an output label no operand has),
    ShapeError when a term does not fit its operand's rank or a label's sizes
    disagree; each message names the subscripts and the operand shapes.

    Example:
        >>> import graphcomp as gc
        >>> a, b = gc.Variable("a", (2, 3)), gc.Variable("b", (3, 4))
        >>> gc.einsum("ij,jk->ik", a, b).shape, gc.einsum("ij,jk", a, b).shape
        ((2, 4), (2, 4))
        >>> m = gc.Variable("m", (3, 3))
        >>> gc.evaluate(gc.einsum("ii->i", m), {m: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]}).tolist()
        [1.0, 5.0, 9.0]
        >>> gc.grad(gc.einsum("ii", m), m).owner.op.label()
        'einsum[,iA->iA]'
        >>> gc.einsum("...ij,jk->...ik", gc.Variable("s", (None, 5, 2, 3)), b).shape
        (None, 5, 2, 4)
    """
    if not isinstance(subscripts, str):
        raise ArgumentError(
            f"einsum: subscripts must be a string such as 'ij,jk->ik' (NumPy's interleaved operand and "
            f"sublist form is not supported), got {type(subscripts).__name__}"
        )
    if not operands:
        raise ArgumentError(f"einsum({subscripts!r}): needs at least one operand")
    xs = [as_variable(x) for x in operands]
    shapes = [x.shape for x in xs]
    canonical = einsum_canonical(subscripts, shapes)
    einsum_shape(canonical, shapes, shown=subscripts)  # size errors name the user's subscripts
    return Einsum(canonical)(*xs)


# -- norm ---------------------------------------------------------------------------------------


class Norm(Reduce):
    """The Euclidean (Frobenius) norm sqrt(sum(x**2)) over ``axes`` (``np.linalg.norm``
    with ``ord=None``), computed as ``hypot`` is: scaled by s = max|x| first,
    s * sqrt(sum((x/s)**2)), so it neither underflows to 0 nor overflows to inf
    where the norm itself is a normal number (NumPy's sqrt(dot(x, x)) does: 0 for
    float32 [3e-25, 4e-25], whose norm is 5e-25). Its gradient x / norm is 0 where
    the norm is 0, and x / norm, not x, where the squares underflow."""

    name, flops_per_element = "norm", 2

    def infer(self, x):
        check_real(self.name, x)
        return super().infer(x)

    def out_dtype(self, dtype):
        return result_dtype(np.linalg.norm, dtype)

    def forward(self, x):
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(self.out_dtype(x.dtype))
        scale = np.max(np.abs(x), axis=self.axes, keepdims=True, initial=0.0)
        # divide by 1 where there is nothing to scale (all 0) or scaling cannot help (inf, nan)
        safe = np.where((scale == 0) | ~np.isfinite(scale), np.ones_like(scale), scale)
        y = x / safe
        out = np.sqrt(np.add.reduce(y * y, axis=self.axes, keepdims=True)) * safe
        out = np.where(np.isinf(scale), scale, out)  # an inf entry: inf, as NumPy (inf / 1 would square to inf too)
        return out if self.keepdims else np.squeeze(out, self.axes)

    def bprop(self, inputs, output, G):
        # at the origin x is 0 too: divide by 1 there, so the gradient is 0 and no inf appears downstream
        safe = where(equal(output, 0.0), 1.0, output)
        return [self.expand(G) * inputs[0] / self.expand(safe)]

    def sympy(self, sp, v, args):
        return sp.Abs(args[0]) if all(d == 1 for d in v.owner.inputs[0].shape) else None


_VECTOR_ORDS = "None, 2, 1, inf, -inf or 0"
_MATRIX_ORDS = "None, 'fro', 1, -1, inf or -inf"


@user_errors
def norm(x: Operand, axis=None, keepdims: bool = False, *, ord=None) -> Variable:  # noqa: A002 - NumPy's name
    """The Euclidean norm sqrt(sum(x**2)) over ``axis`` (``None``: all axes; for a
    matrix, the Frobenius norm), as ``np.linalg.norm(x, axis=axis, keepdims=keepdims)``
    with its default ``ord``. NumPy takes one or two axes; graphcomp any number,
    same meaning. The dtype is NumPy's (float32 stays float32, integers give float64).
    Computed scaled by max|x| (as ``hypot``), so it is right wherever the norm is a
    normal number, where NumPy's sqrt(dot(x, x)) underflows to 0 or overflows.

    ``ord`` (keyword only: the second positional argument is ``axis``) takes NumPy's
    values that need no decomposition, with NumPy's rules for ``axis`` (an int or
    ``None`` for a 1-D x: a vector norm; a pair of axes or ``None`` for a 2-D x: a
    matrix norm): for vectors 2 (the default), 1 (sum |x|), inf (max |x|), -inf
    (min |x|) and 0 (the count of nonzero entries, which has no gradient); for
    matrices ``'fro'`` (the default), 1 and -1 (the max and min over columns of the
    column sums of |x|), inf and -inf (the same over rows). Other values (``'nuc'``,
    2 and -2 for matrices, which need an SVD, and general p) raise
    ``gc.ArgumentError``.

    Its gradient is x / norm times G, and 0 at the origin (a subgradient, the one of
    least size), where sqrt(sum(x**2)) differentiated by the chain rule gives
    0/0 = NaN; second derivatives are exact wherever the norm is not 0 (at the
    origin, where none exists, they are finite). For the other orders it is the
    gradient of the formula above: ``sign(x)`` for |x| (0 at 0), and the max/min
    split evenly among tied entries (as gc.max).

    Raises ShapeError for an axis out of range or repeated, DTypeError for complex x.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> float(gc.evaluate(gc.norm(x), {x: [3.0, 4.0]}))
        5.0
        >>> gc.evaluate(gc.grad(gc.norm(x), x), {x: [0.0, 0.0]}).tolist()
        [0.0, 0.0]
        >>> [float(gc.evaluate(gc.norm(x, ord=o), {x: [3.0, -4.0]})) for o in (1, float("inf"), -float("inf"), 0)]
        [7.0, 4.0, 3.0, 2.0]
    """
    x = as_variable(x)
    keepdims = as_bool(keepdims, "norm: keepdims")
    if ord is None:
        return Norm(normalize_axes(axis, x.ndim, "norm"), keepdims)(x)
    check_real("norm", x)
    axes = _ord_axes(axis, x.ndim)
    if x.dtype.kind != "f":
        x = Cast(np.dtype(result_dtype(np.linalg.norm, x.dtype)))(x)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    return _matrix_norm(x, ord, axes, keepdims)


def _ord_axes(axis, ndim: int) -> tuple[int, ...]:
    """NumPy's axes for a norm with ``ord``: one (a vector norm) or two (a matrix norm)."""
    if axis is None:
        if ndim not in (1, 2):
            raise ShapeError(
                f"norm: with ord, x must be 1-D or 2-D when axis is None (NumPy's rule), got {ndim}-D; pass axis="
            )
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if len(axes) not in (1, 2):
        raise ShapeError(f"norm: with ord, axis must be one axis or a pair of axes, got {axis!r}")
    normalize_axes(axes, ndim, "norm")  # in range, not repeated
    # the pair in the order given: a matrix norm's rows and columns are (axis[0], axis[1])
    return tuple(int(a) % ndim for a in axes)


def _is(order, value) -> bool:
    return (
        not isinstance(order, (str, bool))
        and isinstance(order, (int, float, np.integer, np.floating))
        and order == value
    )


def _vector_norm(x: Variable, order, axes: tuple, keepdims: bool) -> Variable:
    if _is(order, 2):
        return Norm(axes, keepdims)(x)
    if _is(order, 1):
        return reduce_sum(absolute(x), axes, keepdims)
    if _is(order, np.inf):
        return reduce_max(absolute(x), axes, keepdims)
    if _is(order, -np.inf):
        return reduce_min(absolute(x), axes, keepdims)
    if _is(order, 0):
        return reduce_sum(Cast(x.dtype)(not_equal(x, 0.0)), axes, keepdims)
    raise ArgumentError(f"norm: ord={order!r} is not supported for vectors; graphcomp takes ord={_VECTOR_ORDS}")


def _matrix_norm(x: Variable, order, axes: tuple, keepdims: bool) -> Variable:
    rows, cols = axes
    if order == "fro" and isinstance(order, str):
        return Norm(tuple(sorted(axes)), keepdims)(x)
    # NumPy: ord=±1 sums |x| over the rows (each column's sum) and takes the max/min over the
    # columns; ord=±inf sums over the columns and takes it over the rows
    if _is(order, 1) or _is(order, -1):
        summed, over = rows, cols
    elif _is(order, np.inf) or _is(order, -np.inf):
        summed, over = cols, rows
    else:
        raise ArgumentError(
            f"norm: ord={order!r} is not supported for matrices (2 and -2 and 'nuc' need an SVD); graphcomp takes "
            f"ord={_MATRIX_ORDS}"
        )
    pick = reduce_max if order > 0 else reduce_min
    out = pick(reduce_sum(absolute(x), summed, True), over, True)
    return out if keepdims else Squeeze(tuple(sorted(axes)))(out)
