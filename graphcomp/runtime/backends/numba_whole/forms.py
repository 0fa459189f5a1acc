"""Each op's Numba form in the whole-function code, keyed by op class (looked up
along the class hierarchy, as every backend's overrides are).

Elementwise ops need no entry: their form is derived from the op's own scalar
form (``Op.scalar``) by ``groups.py``. A form here writes the lines that assign
node ``n.v``'s value to ``n.out``: NumPy calls Numba compiles (views for slices
and transposes), BLAS products (``kernels.gemm``) or generated loops
(reductions with ``axis``/``keepdims``, soft-max and its gradients, the
cross-entropy ops, integer-array indexing and its scatter-add, in which
repeated indices accumulate). A form raises ``Unsupported`` for a node it cannot
write; ``NO_FORM`` says why an op has none. A check that fails at run time
raises inside the native function, and the wrapper runs the NumPy code instead,
which gives NumPy's answer or an error naming the node.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.ops.base import Op
from graphcomp.ops.composite import OpFromGraph
from graphcomp.ops.conv import (
    Conv2D,
    Conv2DInputGrad,
    Conv2DInputGradLike,
    Conv2DWeightGrad,
    MaxPool2D,
    MaxPool2DGrad,
    MaxPool2DRoute,
)
from graphcomp.ops.creation import (
    Arange,
    ArangeLike,
    Eye,
    Full,
    NoGradient,
    NoGradientLike,
    OnesLike,
    SizeOf,
    ZerosLike,
)
from graphcomp.ops.cumulative import AffineScan, Cumsum, ExclusiveCumprod
from graphcomp.ops.identity import MatchShape, MinCount, StopGradient
from graphcomp.ops.indexing import BooleanMask, BooleanMaskGrad, GetItem, IndexGrad, IndexGradLike
from graphcomp.ops.linalg import Einsum, MatMul, Norm
from graphcomp.ops.loops.op import Scan, ScanOutput
from graphcomp.ops.random import RandomBernoulli, RandomNormal, RandomUniform
from graphcomp.ops.reduce import ArgMax, ArgMin, ExclusiveProd, LogSumExp, Max, Min, Prod, Std, Sum, Var
from graphcomp.ops.shape import (
    Concatenate,
    ExpandDims,
    Flip,
    Pad,
    Reshape,
    ReshapeLike,
    SplitPart,
    Squeeze,
    Stack,
    SumTo,
    SumToLike,
    Transpose,
)
from graphcomp.ops.softmax import (
    CrossEntropy,
    CrossEntropyGrad,
    CrossEntropyPickGrad,
    LogSoftmax,
    LogSoftmaxGrad,
    Softmax,
    SoftmaxCrossEntropyGrad,
    SoftmaxGrad,
)
from graphcomp.runtime.backends.numba_whole.code import (
    Code,
    Elements,
    Unsupported,
    Val,
    cast_text,
    dtype_text,
    index_text,
)
from graphcomp.runtime.backends.numba_whole.groups import Broadcast
from graphcomp.runtime.backends.numba_whole.kernels import gemm
from graphcomp.runtime.backends.numba_whole.reduce import (
    DROP,
    KEEP,
    ZERO,
    accumulate,
    identity_of,
    maximum_of,
    reduce_mapping,
    shape_tuple,
)

__all__ = ["Node", "FORMS", "NO_FORM", "form_of", "ONE_PASS"]


@dataclasses.dataclass
class Node:
    """What a form is given: the node, its inputs' values, the code to write into, the
    name to assign, and the elements of its first input (an elementwise group computed
    in the form's own loops, for the one-pass reductions of ``ONE_PASS``)."""

    v: Variable
    ins: list[Val]
    code: Code
    out: str
    source: Elements

    @property
    def op(self) -> Op:
        return self.v.owner.op


def _float_only(n: Node, what: str = "") -> None:
    for x in (n.v, *n.ins):
        if x.dtype.kind not in "fiub" or x.dtype == np.dtype(np.float16):
            raise Unsupported(f"{n.op.label()}{what} on {x.dtype} has no whole-function Numba form")


def _scalar_out(n: Node, expr: str) -> None:
    n.code.add(f"{n.out} = {cast_text(expr, n.v.dtype)}")


def _contiguous(val: Val) -> str:
    return f"np.ascontiguousarray({val.text})"


def _dims(val: Val) -> list[str]:
    return [val.dim(k) for k in range(val.ndim)]


# -- values passed through --------------------------------------------------------------------------------------


def _identity(n: Node) -> None:
    n.code.add(f"{n.out} = {n.ins[0].text}")


def _match_shape(n: Node) -> None:
    x, like = n.ins
    for k in range(x.ndim):
        if x.shape[k] is None or like.shape[k] is None:
            n.code.raise_if(f"{x.dim(k)} != {like.dim(k)}", "ValueError", "match_shape: shapes differ at run time")
    _identity(n)


def _min_count(n: Node) -> None:
    """x itself once its ``axes`` hold at least ``minimum`` values (the NumPy code then names the node)."""
    x = n.ins[0]
    count = " * ".join(x.dim(a) for a in n.op.axes) or "1"
    n.code.raise_if(f"{count} < {n.op.minimum}", "ValueError", "too few values")
    _identity(n)


# -- creation ---------------------------------------------------------------------------------------------------


def _filled(n: Node, dims: list[str], value: str) -> None:
    if not dims:
        _scalar_out(n, value)
        return
    n.code.add(f"{n.out} = np.full({shape_tuple(dims)}, {cast_text(value, n.v.dtype)}, {dtype_text(n.v.dtype)})")


def _zeros_like(n: Node) -> None:
    _filled(n, _dims(n.ins[0]), "0")


def _ones_like(n: Node) -> None:
    _filled(n, _dims(n.ins[0]), "1")


def _no_gradient(n: Node) -> None:
    if None in n.v.shape:
        raise Unsupported(f"{n.op.label()} has unknown dimensions")
    _filled(n, [str(d) for d in n.v.shape], "0")


def _size_of(n: Node) -> None:
    x = n.ins[0]
    count = " * ".join(x.dim(a) for a in n.op.axes) or "1"
    _scalar_out(n, count)


def _arange_like(n: Node) -> None:
    n.code.add(f"{n.out} = np.arange({n.ins[0].dim(n.op.axis)})")


def _full(n: Node) -> None:
    _filled(n, [str(d) for d in n.op.shape], n.ins[0].text)


def _constant_array(n: Node) -> None:
    """An op with no inputs whose value a compile-time constant fixes (eye, arange)."""
    raise Unsupported(f"{n.op.label()} is folded into a constant unless the constant-fold pass is off")


# -- shape ------------------------------------------------------------------------------------------------------


def _reshaped(n: Node, x: Val, dims: list[str]) -> None:
    """``x`` with the sizes ``dims`` (a view of a contiguous copy); a scalar in or out."""
    if x.ndim == 0:
        _filled(n, dims, x.text)
        return
    if not dims:
        n.code.raise_if(f"{x.text}.size != 1", "ValueError", "cannot reshape to a scalar")
        n.code.add(f"{n.out} = {_contiguous(x)}.reshape(1)[0]")
        return
    n.code.add(f"{n.out} = {_contiguous(x)}.reshape({shape_tuple(dims)})")


def _reshape(n: Node) -> None:
    dims = [str(d) for d in n.op.shape]
    if "-1" in dims and n.ins[0].ndim == 0:
        dims = ["1" if d == "-1" else d for d in dims]
    _reshaped(n, n.ins[0], dims)


def _reshape_like(n: Node) -> None:
    _reshaped(n, n.ins[0], _dims(n.ins[1]))


def _transpose(n: Node) -> None:
    x = n.ins[0]
    axes = tuple(n.op.axes)
    if axes == tuple(range(x.ndim)):
        _identity(n)
    elif axes == (1, 0):
        n.code.add(f"{n.out} = {x.text}.T")
    else:
        n.code.add(f"{n.out} = {x.text}.transpose({shape_tuple([str(a) for a in axes])})")


def _expand_dims(n: Node) -> None:
    x = n.ins[0]
    ndim = n.v.ndim
    axes = {a % ndim for a in n.op.axes}
    it = iter(_dims(x))
    _reshaped(n, x, ["1" if k in axes else next(it) for k in range(ndim)])


def _squeeze(n: Node) -> None:
    x = n.ins[0]
    axes = {a % x.ndim for a in n.op.axes}
    for a in axes:
        if x.shape[a] is None:
            n.code.raise_if(f"{x.dim(a)} != 1", "ValueError", "squeeze: an axis does not have size 1")
    _reshaped(n, x, [x.dim(k) for k in range(x.ndim) if k not in axes])


def _at_axis(axis: int, what: str) -> str:
    return ", ".join([":"] * axis + [what])


def _concatenate(n: Node) -> None:
    axis = n.op.axis % n.v.ndim
    first = n.ins[0]
    sizes = [x.dim(axis) for x in n.ins]
    dims = [first.dim(k) if k != axis else " + ".join(sizes) for k in range(n.v.ndim)]
    for k in range(n.v.ndim):
        if k != axis:
            for x in n.ins[1:]:
                if x.shape[k] is None or first.shape[k] is None:
                    n.code.raise_if(f"{x.dim(k)} != {dims[k]}", "ValueError", "concatenate: sizes differ")
    n.code.add(f"{n.out} = np.empty({shape_tuple(dims)}, {dtype_text(n.v.dtype)})")
    start = "0"
    for x, size in zip(n.ins, sizes):
        stop = size if start == "0" else f"{start} + {size}"
        n.code.add(f"{n.out}[{_at_axis(axis, f'{start}:{stop}')}] = {x.text}")
        start = stop


def _split_part(n: Node) -> None:
    g, *refs = n.ins
    axis = n.op.axis % g.ndim
    k = n.op.k
    start = " + ".join(r.dim(axis) for r in refs[:k]) or "0"
    n.code.add(f"{n.out} = {g.text}[{_at_axis(axis, f'{start}:{start} + {refs[k].dim(axis)}')}]")


def _stack(n: Node) -> None:
    axis = n.op.axis % n.v.ndim
    first = n.ins[0]
    dims = _dims(first)
    dims.insert(axis, str(len(n.ins)))
    for k in range(first.ndim):
        for x in n.ins[1:]:
            if x.shape[k] is None or first.shape[k] is None:
                n.code.raise_if(f"{x.dim(k)} != {first.dim(k)}", "ValueError", "stack: shapes differ")
    n.code.add(f"{n.out} = np.empty({shape_tuple(dims)}, {dtype_text(n.v.dtype)})")
    for j, x in enumerate(n.ins):
        n.code.add(f"{n.out}[{_at_axis(axis, str(j))}] = {x.text}")


def _flip(n: Node) -> None:
    x = n.ins[0]
    if x.ndim == 0 or not n.op.axes:
        _identity(n)
        return
    index = ", ".join("::-1" if k in n.op.axes else ":" for k in range(x.ndim))
    n.code.add(f"{n.out} = {x.text}[{index}]")


def _pad(n: Node) -> None:
    x, c = n.ins
    widths = n.op.widths
    dims = [f"{x.dim(k)} + {b + a}" if b + a else x.dim(k) for k, (b, a) in enumerate(widths)]
    n.code.add(f"{n.out} = np.full({shape_tuple(dims)}, {c.text}, {dtype_text(n.v.dtype)})")
    index = ", ".join(f"{b}:{b} + {x.dim(k)}" for k, (b, _) in enumerate(widths))
    n.code.add(f"{n.out}[{index}] = {x.text}")


# -- indexing ---------------------------------------------------------------------------------------------------


def _expanded(template: tuple, ndim: int) -> tuple:
    """The template with its ellipsis (or the end) filled by full slices: one entry per
    axis of x, plus the new axes."""
    consumed = sum(1 for t in template if t[0] in "isa")
    fill = (("s", None, None, None),) * (ndim - consumed)
    for k, t in enumerate(template):
        if t[0] == "e":
            return template[:k] + fill + template[k + 1 :]
    return template + fill


def _slice_text(t: tuple) -> str:
    a, b, c = ("" if v is None else str(v) for v in t[1:])
    return f"{a}:{b}" + (f":{c}" if c else "")


def _int_index(code: Code, x: Val, axis: int, k: int) -> str:
    """A Python int index along ``axis``, checked where the size is unknown."""
    if x.shape[axis] is None:
        size = x.dim(axis)
        code.raise_if(f"{k} < -{size} or {k} >= {size}", "IndexError", "index out of bounds")
        if k < 0:
            return f"{size} - {-k}"
    elif k < 0:
        return str(x.shape[axis] + k)
    return str(k)


def _basic_index(code: Code, x: Val, entries: tuple) -> str:
    parts, axis = [], 0
    for t in entries:
        if t[0] == "n":
            parts.append("None")
            continue
        parts.append(_int_index(code, x, axis, t[1]) if t[0] == "i" else _slice_text(t))
        axis += 1
    return ", ".join(parts)


def _getitem(n: Node) -> None:
    x, *arrays = n.ins
    if x.ndim == 0:
        raise Unsupported(f"{n.op.label()} of a 0-d value")
    entries = _expanded(n.op.template, x.ndim)
    if not arrays:
        if n.v.ndim == 0:
            _scalar_out(n, f"{x.text}[{_basic_index(n.code, x, entries)}]")
        elif all(t[0] != "n" for t in entries):
            n.code.add(f"{n.out} = {x.text}[{_basic_index(n.code, x, entries)}]")
        else:  # new axes: a view without them, then a reshape (Numba's views take no None)
            kept = tuple(t for t in entries if t[0] != "n")
            view = n.code.fresh("view")
            n.code.add(f"{view} = {x.text}[{_basic_index(n.code, x, kept)}]")
            dims, j = [], 0
            for t in entries:
                if t[0] == "n":
                    dims.append("1")
                elif t[0] == "s":
                    dims.append(f"{view}.shape[{j}]")
                    j += 1
            n.code.add(f"{n.out} = np.ascontiguousarray({view}).reshape({shape_tuple(dims)})")
        return
    _advanced(n, x, arrays, entries, scatter=None)


def _advanced(n: Node, x: Val, arrays: list[Val], entries: tuple, scatter: Val | None) -> None:
    """Integer-array indexing (NumPy's advanced indexing) as one loop nest over the
    result: the slices are taken first as a view; the index arrays broadcast together;
    ints count as 0-d index arrays; the broadcast axes stand where the first array
    stood when the arrays (and ints) are adjacent, else first. With ``scatter`` (the
    gradient G), the loop adds G's element into zeros shaped like ``x`` (whose text is
    unused) instead: repeated indices accumulate."""
    code = n.code
    if any(t[0] in "ne" for t in entries):
        raise Unsupported(f"{n.op.label()}: new axes mixed with index arrays")
    kinds = [t[0] for t in entries]
    adv = [k for k, kind in enumerate(kinds) if kind in "ia"]
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    nb = max([a.ndim for a in arrays])
    bdims = []  # the broadcast shape of the index arrays
    for k in range(nb):
        size = code.fresh("nb")
        code.add(f"{size} = 1")
        for a in arrays:
            j = k - (nb - a.ndim)
            if j < 0:
                continue
            with code.block(f"if {a.dim(j)} != 1:"):
                code.raise_if(f"{size} != 1 and {size} != {a.dim(j)}", "IndexError", "index arrays cannot broadcast")
                code.add(f"{size} = {a.dim(j)}")
        bdims.append(size)
    if scatter is None:
        base = x.text
    else:
        base = n.out
        code.add(f"{base} = np.zeros({shape_tuple(_dims(x))}, {dtype_text(n.v.dtype)})")
    if any(t[0] == "s" and t[1:] != (None, None, None) for t in entries):
        view = code.fresh("view")
        code.add(f"{view} = {base}[{', '.join(_slice_text(t) if t[0] == 's' else ':' for t in entries)}]")
    else:
        view = base
    rest = [k for k, kind in enumerate(kinds) if kind == "s"]
    where = adv[0] if adjacent else 0
    before = [k for k in rest if k < where] if adjacent else []
    after = [k for k in rest if k >= where] if adjacent else rest
    axes = [("s", k) for k in before] + [("b", j) for j in range(nb)] + [("s", k) for k in after]
    sizes = [f"{view}.shape[{k}]" if kind == "s" else bdims[k] for kind, k in axes]
    if scatter is None:
        code.add(f"{n.out} = np.empty({shape_tuple(sizes) if sizes else '()'}, {dtype_text(n.v.dtype)})")
    idx, loops = code.loops(sizes)
    with loops:
        at_axis = {k: i for (kind, k), i in zip(axes, idx) if kind == "s"}
        bidx = [i for (kind, _), i in zip(axes, idx) if kind == "b"]
        src = []
        arrays_it = iter(arrays)
        for k, t in enumerate(entries):
            if t[0] == "s":
                src.append(at_axis[k])
                continue
            j = code.fresh("j")
            if t[0] == "i":
                code.add(f"{j} = {t[1]}")
            else:
                a = next(arrays_it)
                at = []
                for kk in range(a.ndim):
                    b = bidx[nb - a.ndim + kk]
                    d = a.shape[kk]
                    at.append("0" if d == 1 else b if d is not None else f"({b} if {a.dim(kk)} != 1 else 0)")
                code.add(f"{j} = {index_text(a.text, at)}")
            size = x.dim(k)
            code.raise_if(f"{j} < -{size} or {j} >= {size}", "IndexError", "index out of bounds")
            with code.block(f"if {j} < 0:"):
                code.add(f"{j} += {size}")
            src.append(j)
        if scatter is None:
            code.add(f"{index_text(n.out, idx)} = {index_text(view, src)}")
        else:
            slot = index_text(view, src)
            code.add(f"{slot} = {slot} + {index_text(scatter.text, idx)}")


def _scatter(n: Node, g: Val, ref: Val, arrays: list[Val]) -> None:
    """Zeros shaped like ``ref`` with ``g`` added at the indexed places (index_grad)."""
    entries = _expanded(n.op.template, ref.ndim)
    if arrays:
        _advanced(n, ref, arrays, entries, scatter=g)
        return
    n.code.add(f"{n.out} = np.zeros({shape_tuple(_dims(ref))}, {dtype_text(n.v.dtype)})")
    target = Val(n.out, ref.shape, n.v.dtype)
    kept = tuple(t for t in entries if t[0] != "n")
    index = _basic_index(n.code, target, kept)
    if all(t[0] == "i" for t in kept):
        if g.ndim:
            raise Unsupported(f"{n.op.label()}: ints with new axes only")
        n.code.add(f"{n.out}[{index}] = {g.text}")
        return
    view = n.code.fresh("view")
    n.code.add(f"{view} = {n.out}[{index}]")
    # g has the view's axes and the new axes (size 1), in the index's order: copy element by element
    idx, loops = n.code.loops(_dims(g))
    with loops:
        at = [i for t, i in zip([t for t in entries if t[0] in "sn"], idx) if t[0] == "s"]
        n.code.add(f"{index_text(view, at)} = {index_text(g.text, idx)}")


def _index_grad(n: Node) -> None:
    g, *arrays = n.ins
    _scatter(n, g, Val("", tuple(n.op.shape), n.v.dtype), arrays)


def _index_grad_like(n: Node) -> None:
    g, ref, *arrays = n.ins
    _scatter(n, g, ref, arrays)


# -- linear algebra ---------------------------------------------------------------------------------------------


def _matmul(n: Node) -> None:
    """``np.matmul``: one BLAS product (``kernels.gemm``) per batch element, written into the
    result; a 1-D operand is a matrix of one row (a) or one column (b) whose axis the result
    drops (NumPy's rule)."""
    a, b = n.ins
    if n.v.dtype.kind != "f" or n.v.dtype == np.dtype(np.float16):
        raise Unsupported(f"matmul of {a.dtype} and {b.dtype} has no whole-function Numba form (BLAS takes floats)")
    code = n.code
    texts = [x.text if x.dtype == n.v.dtype else f"{x.text}.astype({dtype_text(n.v.dtype)})" for x in (a, b)]
    ndim = max(a.ndim, b.ndim, 2)
    dropped = []
    if a.ndim == 1:
        a, texts[0] = _as_matrix(code, a, texts[0], (1, a.shape[0]), ("1", a.dim(0)))
        dropped.append(ndim - 2)
    if b.ndim == 1:
        b, texts[1] = _as_matrix(code, b, texts[1], (b.shape[0], 1), (b.dim(0), "1"))
        dropped.append(ndim - 1)
    if not dropped:
        _batched_matmul(n, a, b, texts, n.out, ndim)
        return
    full = code.fresh("mm")
    _batched_matmul(n, a, b, texts, full, ndim)
    if n.v.ndim == 0:
        _scalar_out(n, f"{full}[0, 0]")
        return
    dims = [f"{full}.shape[{k}]" for k in range(ndim) if k not in dropped]
    code.add(f"{n.out} = {full}.reshape({shape_tuple(dims)})")


def _as_matrix(code: Code, x: Val, text: str, shape: tuple, dims: tuple) -> tuple[Val, str]:
    """A 1-D operand as a 2-D view (a contiguous vector needs no copy), under a fresh name."""
    name = code.fresh("mv")
    code.add(f"{name} = np.ascontiguousarray({text}).reshape(({dims[0]}, {dims[1]}))")
    return Val(name, shape, x.dtype), name


def _check_inner(code: Code, a: Val, b: Val) -> None:
    """The run-time check that a product's inner sizes agree, where the graph does not know both."""
    inner = (a.dim(a.ndim - 1), b.dim(b.ndim - 2))
    if inner[0] != inner[1]:
        code.raise_if(f"{inner[0]} != {inner[1]}", "ValueError", "matmul: shapes not aligned")


def _batched_matmul(n: Node, a: Val, b: Val, texts: list[str], out: str, ndim: int) -> None:
    """np.matmul of matrices ``a`` and ``b`` (2-D or more) over broadcast batch axes into ``out``
    (``ndim`` axes, allocated here): one BLAS product per batch element."""
    code = n.code
    nb = ndim - 2
    bdims = []
    for k in range(nb):
        cands = [(x, k - (nb - (x.ndim - 2))) for x in (a, b) if k - (nb - (x.ndim - 2)) >= 0]
        size = code.fresh("nb")
        code.add(f"{size} = 1")
        for x, j in cands:
            with code.block(f"if {x.dim(j)} != 1:"):
                code.raise_if(f"{size} != 1 and {size} != {x.dim(j)}", "ValueError", "matmul: batch axes differ")
                code.add(f"{size} = {x.dim(j)}")
        bdims.append(size)
    dims = [*bdims, a.dim(a.ndim - 2), b.dim(b.ndim - 1)]
    _check_inner(code, a, b)
    code.add(f"{out} = np.empty({shape_tuple(dims)}, {dtype_text(n.v.dtype)})")
    code.helpers["_gemm"] = gemm
    idx, loops = code.loops(bdims)
    with loops:
        ats = []
        for x, text in zip((a, b), texts):
            at = [f"({idx[nb - (x.ndim - 2) + j]} if {x.dim(j)} != 1 else 0)" for j in range(x.ndim - 2)]
            ats.append(index_text(text, at))
        code.add(f"_gemm({ats[0]}, {ats[1]}, {index_text(out, idx)})")


# -- reductions ------------------------------------------------------------------------------------------------


def _reduce(kind: str) -> Callable[[Node], None]:
    def form(n: Node) -> None:
        _float_only(n)
        x = n.source
        if kind in ("max", "min") and x.dtype.kind == "b":
            raise Unsupported(f"{n.op.label()} of booleans has no whole-function Numba form")
        out_t = n.v.dtype
        acc_t = np.dtype(np.float64) if kind == "sum" and out_t == np.dtype(np.float32) else out_t
        if kind in ("max", "min"):
            combine = maximum_of(kind, n.code)
        else:
            combine = "{a} + {e}" if kind == "sum" else "{a} * {e}"
        mapping = reduce_mapping(len(x.shape), n.op.axes, n.op.keepdims)
        accumulate(
            n.code, n.source, mapping, n.out, identity_of(kind, acc_t), combine, acc_t, out_t,
            nonempty=kind in ("max", "min"),
        )  # fmt: skip

    return form


def _sum_to(n: Node) -> None:
    _float_only(n)
    g = n.source
    lead = len(g.shape) - n.v.ndim
    mapping = [DROP] * lead
    for k, d in enumerate(n.v.shape):
        mapping.append(ZERO if d == 1 and g.shape[lead + k] != 1 else KEEP)
    acc_t = np.dtype(np.float64) if n.v.dtype == np.dtype(np.float32) else n.v.dtype
    accumulate(n.code, n.source, mapping, n.out, identity_of("sum", acc_t), "{a} + {e}", acc_t, n.v.dtype)


def _sum_to_like(n: Node) -> None:
    _float_only(n)
    g = n.source
    ref = n.ins[1]
    lead = len(g.shape) - ref.ndim
    mapping, flags = [DROP] * lead, {}
    for k in range(ref.ndim):
        d, gd = ref.shape[k], g.shape[lead + k]
        if d == 1:
            mapping.append(ZERO if gd != 1 else KEEP)
        elif d is not None or gd == 1:
            mapping.append(KEEP)
        else:  # summed where the reference has size 1 at run time
            flag = n.code.fresh("f")
            n.code.add(f"{flag} = 1 if {ref.dim(k)} != 1 else 0")
            flags[lead + k] = flag
            mapping.append(KEEP)
    acc_t = np.dtype(np.float64) if n.v.dtype == np.dtype(np.float32) else n.v.dtype
    out_dims = _dims(ref)
    gdims = n.source.prepare(n.code)
    for k in range(ref.ndim):  # the result's sizes must be the reference's, as NumPy's broadcast_to would check
        if ref.shape[k] is None and g.shape[lead + k] != 1:
            n.code.raise_if(f"{ref.dim(k)} != 1 and {ref.dim(k)} != {gdims[lead + k]}", "ValueError", "cannot sum")
    accumulate(
        n.code, n.source, mapping, n.out, identity_of("sum", acc_t), "{a} + {e}", acc_t, n.v.dtype,
        flags=flags, out_dims=out_dims,
    )  # fmt: skip


def _axis_loops(code: Code, x: Val, axes: tuple):
    """An exit stack of loops over every axis of ``x`` but ``axes``, their indices by
    axis, and the sizes of ``axes``."""
    outer = [k for k in range(x.ndim) if k not in axes]
    names, stack = code.loops([x.dim(k) for k in outer])
    return dict(zip(outer, names)), stack


def _index_at(x_ndim: int, outer: dict, inner: dict) -> list[str]:
    return [outer[k] if k in outer else inner[k] for k in range(x_ndim)]


def _slice_pass(code: Code, x: Val, axes: tuple, outer: dict, body: Callable[[list[str]], None]) -> None:
    """Loops over ``axes`` inside the outer ones, ``body`` given each element's index."""
    names, stack = code.loops([x.dim(k) for k in axes], "j")
    with stack:
        body(_index_at(x.ndim, outer, dict(zip(axes, names))))


def _log_sum_exp(n: Node) -> None:
    """logsumexp over the axes, one slice at a time: the max (a non-finite max shifts by 0,
    as LogSumExp.forward does), then the sum of exponentials."""
    _float_only(n)
    x = n.ins[0]
    code = n.code
    axes = tuple(n.op.axes)
    out_t = n.v.dtype
    code.helpers.update(_MATH)
    if n.v.ndim:
        code.add(f"{n.out} = np.empty({shape_tuple(_out_dims(x, axes, n.op.keepdims))}, {dtype_text(out_t)})")
    outer, stack = _axis_loops(code, x, axes)
    with stack:
        m, s = code.fresh("m"), code.fresh("s")
        code.add(f"{m} = -np.inf")
        maxi = maximum_of("max", code).format(a=m, e="{e}")
        _slice_pass(code, x, axes, outer, lambda at: code.add(f"{m} = {maxi.format(e=index_text(x.text, at))}"))
        with code.block(f"if not _isfinite({m}):"):
            code.add(f"{m} = 0.0")
        code.add(f"{s} = 0.0")
        _slice_pass(code, x, axes, outer, lambda at: code.add(f"{s} += _exp({index_text(x.text, at)} - {m})"))
        result = cast_text(f"_log({s}) + {m}", out_t)
        _store(n, x, axes, outer, result)


def _out_dims(x: Val, axes: tuple, keepdims: bool) -> list[str]:
    return [("1" if keepdims else None) if k in axes else x.dim(k) for k in range(x.ndim) if keepdims or k not in axes]


def _store(n: Node, x: Val, axes: tuple, outer: dict, value: str) -> None:
    if not n.v.ndim:
        n.code.add(f"{n.out} = {value}")
        return
    at = [("0" if k in axes else outer[k]) for k in range(x.ndim) if n.op.keepdims or k not in axes]
    n.code.add(f"{index_text(n.out, at)} = {value}")


def _moment(n: Node) -> None:
    """var and std: the mean of each slice, then the sum of squared deviations over N - ddof."""
    _float_only(n)
    x = n.ins[0]
    if x.dtype.kind != "f":
        raise Unsupported(f"{n.op.label()} of {x.dtype} has no whole-function Numba form")
    code = n.code
    axes = tuple(n.op.axes)
    code.helpers.update(_MATH)
    count = " * ".join(x.dim(a) for a in axes) or "1"
    if n.v.ndim:
        code.add(f"{n.out} = np.empty({shape_tuple(_out_dims(x, axes, n.op.keepdims))}, {dtype_text(n.v.dtype)})")
    outer, stack = _axis_loops(code, x, axes)
    with stack:
        s, d = code.fresh("s"), code.fresh("d")
        code.add(f"{s} = 0.0")
        _slice_pass(code, x, axes, outer, lambda at: code.add(f"{s} += {index_text(x.text, at)}"))
        code.add(f"{s} = {s} / ({count})")
        code.add(f"{d} = 0.0")
        _slice_pass(code, x, axes, outer, lambda at: code.add(f"{d} += ({index_text(x.text, at)} - {s}) ** 2"))
        value = f"{d} / ({count} - {n.op.ddof!r})"
        if isinstance(n.op, Std):
            value = f"_sqrt({value})"
        _store(n, x, axes, outer, cast_text(value, n.v.dtype))


def _arg_extremum(n: Node) -> None:
    """argmax/argmin: the first of ties, the first NaN if any (NumPy's)."""
    _float_only(n)
    x = n.ins[0]
    code = n.code
    axes = tuple(n.op.axes)
    better = ">" if isinstance(n.op, ArgMax) else "<"
    if not axes:  # a 0-d value is its own only element
        _filled(n, ["1"] * n.v.ndim, "0")
        return
    flat = len(axes) > 1
    for a in axes:
        if x.shape[a] is None:
            code.raise_if(f"{x.dim(a)} == 0", "ValueError", "attempt to get argmax of an empty sequence")
    if n.v.ndim:
        code.add(f"{n.out} = np.empty({shape_tuple(_out_dims(x, axes, n.op.keepdims))}, np.int64)")
    outer, stack = _axis_loops(code, x, axes)
    with stack:
        best, at_best, count, found_nan = code.fresh("b"), code.fresh("k"), code.fresh("c"), code.fresh("nan")
        code.add(f"{best} = 0.0")
        code.add(f"{at_best} = -1")
        code.add(f"{count} = -1")
        code.add(f"{found_nan} = False")

        def body(at):
            e = index_text(x.text, at)
            k = f"{count}" if flat else at[axes[0]]
            if flat:
                code.add(f"{count} += 1")
            with code.block(f"if not {found_nan}:"):
                with code.block(f"if {e} != {e}:"):
                    code.add(f"{found_nan} = True")
                    code.add(f"{at_best} = {k}")
                with code.block(f"elif {at_best} < 0 or {e} {better} {best}:"):
                    code.add(f"{best} = {e}")
                    code.add(f"{at_best} = {k}")

        _slice_pass(code, x, axes, outer, body)
        _store(n, x, axes, outer, at_best)


def _norm(n: Node) -> None:
    _float_only(n)
    x = n.source
    if x.dtype.kind != "f":
        raise Unsupported(f"{n.op.label()} of {x.dtype} has no whole-function Numba form")
    n.code.helpers.update(_MATH)
    mapping = reduce_mapping(len(x.shape), n.op.axes, n.op.keepdims)
    acc_t = np.dtype(np.float64) if n.v.dtype == np.dtype(np.float32) else n.v.dtype
    accumulate(
        n.code, n.source, mapping, n.out, identity_of("sum", acc_t), "{a} + {e} * {e}", acc_t, n.v.dtype,
        finish="_sqrt({a})",
    )  # fmt: skip


# -- soft-max and cross-entropy ---------------------------------------------------------------------------------

_MATH = {"_exp": math.exp, "_log": math.log, "_sqrt": math.sqrt, "_isfinite": math.isfinite}


def _softmax(log: bool) -> Callable[[Node], None]:
    def form(n: Node) -> None:
        """Each slice along the axis: its max (a non-finite max shifts by 0, as
        _log_softmax does), the log of the sum of exp(x - max), then
        x - max - log(sum) (and its exp for softmax), NumPy's order of operations."""
        _float_only(n)
        x = n.ins[0]
        if x.dtype.kind != "f":
            raise Unsupported(f"{n.op.label()} of {x.dtype} has no whole-function Numba form")
        code = n.code
        axis = n.op.axis % x.ndim
        code.helpers.update(_MATH)
        code.add(f"{n.out} = np.empty({shape_tuple(_dims(x))}, {dtype_text(n.v.dtype)})")
        outer, stack = _axis_loops(code, x, (axis,))
        with stack:
            m, s = code.fresh("m"), code.fresh("s")
            code.add(f"{m} = -np.inf")
            maxi = maximum_of("max", code).format(a=m, e="{e}")
            _slice_pass(code, x, (axis,), outer, lambda at: code.add(f"{m} = {maxi.format(e=index_text(x.text, at))}"))
            with code.block(f"if not _isfinite({m}):"):
                code.add(f"{m} = 0.0")
            code.add(f"{s} = 0.0")
            _slice_pass(code, x, (axis,), outer, lambda at: code.add(f"{s} += _exp({index_text(x.text, at)} - {m})"))
            code.add(f"{s} = _log({s})")

            def write(at):
                value = f"({index_text(x.text, at)} - {m}) - {s}"
                code.add(f"{index_text(n.out, at)} = {'_exp(' + value + ')' if not log else value}")

            _slice_pass(code, x, (axis,), outer, write)

    return form


def _same_shape(code: Code, a: Val, b: Val, what: str) -> None:
    """The run-time check that ``a`` and ``b`` agree in every dimension the graph does not know."""
    for k in range(a.ndim):
        if a.shape[k] is None or b.shape[k] is None:
            code.raise_if(f"{a.dim(k)} != {b.dim(k)}", "ValueError", f"{what}: shapes differ")


def _sum_then_write(n: Node, ref: Val, axis: int, term: Callable, value: Callable) -> None:
    """``n.out`` shaped like ``ref``, one slice along ``axis`` at a time: first ``t``, the
    slice's sum of ``term(at)``, then each element ``value(at, t)`` (the soft-max gradients)."""
    code = n.code
    code.add(f"{n.out} = np.empty({shape_tuple(_dims(ref))}, {dtype_text(n.v.dtype)})")
    outer, stack = _axis_loops(code, ref, (axis,))
    with stack:
        t = code.fresh("s")
        code.add(f"{t} = 0.0")
        _slice_pass(code, ref, (axis,), outer, lambda at: code.add(f"{t} += {term(at)}"))
        _slice_pass(code, ref, (axis,), outer, lambda at: code.add(f"{index_text(n.out, at)} = {value(at, t)}"))


def _log_softmax_grad(n: Node) -> None:
    """G - exp(lsm) * sum(G along the axis), one slice at a time."""
    _float_only(n)
    lsm, g = n.ins
    n.code.helpers.update(_MATH)
    _same_shape(n.code, lsm, g, "log_softmax_grad")
    _sum_then_write(
        n,
        lsm,
        n.op.axis,
        lambda at: index_text(g.text, at),
        lambda at, t: f"{index_text(g.text, at)} - _exp({index_text(lsm.text, at)}) * {t}",
    )


def _softmax_grad(n: Node) -> None:
    """s * (G - sum(G * s along the axis)), one slice at a time."""
    _float_only(n)
    s_, g = n.ins
    _same_shape(n.code, s_, g, "softmax_grad")
    _sum_then_write(
        n,
        s_,
        n.op.axis % s_.ndim,
        lambda at: f"{index_text(g.text, at)} * {index_text(s_.text, at)}",
        lambda at, t: f"{index_text(s_.text, at)} * ({index_text(g.text, at)} - {t})",
    )


def _softmax_cross_entropy_grad(n: Node) -> None:
    """exp(lsm) * sum(Y along the axis) - Y, Y broadcast to lsm's shape, one slice at a time."""
    _float_only(n)
    lsm, y = n.ins
    n.code.helpers.update(_MATH)
    cast = Broadcast(lsm.shape, [y] if y.ndim else [], exact=[lsm])
    cast.sizes(n.code)
    _sum_then_write(
        n,
        lsm,
        n.op.axis % lsm.ndim,
        lambda at: cast.at(y, at),
        lambda at, t: f"_exp({index_text(lsm.text, at)}) * {t} - {cast.at(y, at)}",
    )


def _check_labels(code: Code, labels: Val, rows: str, classes: str) -> None:
    if labels.dim(0) != rows:
        code.raise_if(f"{labels.dim(0)} != {rows}", "ValueError", "one label per row")
    i = code.fresh("r")
    with code.block(f"for {i} in range({rows}):"):
        code.raise_if(f"{labels.text}[{i}] < 0 or {labels.text}[{i}] >= {classes}", "IndexError", "label out of range")


def _cross_entropy(n: Node) -> None:
    _, lsm, labels = n.ins
    code = n.code
    rows, classes = lsm.dim(0), lsm.dim(1)
    _check_labels(code, labels, rows, classes)
    s, i = code.fresh("s"), code.fresh("r")
    code.add(f"{s} = 0.0")
    with code.block(f"for {i} in range({rows}):"):
        code.add(f"{s} += {lsm.text}[{i}, {labels.text}[{i}]]")
    _scalar_out(n, f"-({s} / {rows}) if {rows} > 0 else np.nan")


def _cross_entropy_pick_grad(n: Node) -> None:
    lsm, labels = n.ins
    code = n.code
    rows, classes = lsm.dim(0), lsm.dim(1)
    _check_labels(code, labels, rows, classes)
    code.add(f"{n.out} = np.zeros({shape_tuple(_dims(lsm))}, {dtype_text(n.v.dtype)})")
    i = code.fresh("r")
    with code.block(f"for {i} in range({rows}):"):
        code.add(f"{n.out}[{i}, {labels.text}[{i}]] = -1.0 / max({rows}, 1)")


def _cross_entropy_grad(n: Node) -> None:
    lsm, labels = n.ins
    code = n.code
    rows, classes = lsm.dim(0), lsm.dim(1)
    code.helpers.update(_MATH)
    _check_labels(code, labels, rows, classes)
    code.add(f"{n.out} = np.empty({shape_tuple(_dims(lsm))}, {dtype_text(n.v.dtype)})")
    scale = code.fresh("q")
    code.add(f"{scale} = 1.0 / max({rows}, 1)")
    i, j = code.fresh("r"), code.fresh("c")
    with code.block(f"for {i} in range({rows}):"):
        with code.block(f"for {j} in range({classes}):"):
            hit = f"(1.0 if {j} == {labels.text}[{i}] else 0.0)"
            code.add(f"{n.out}[{i}, {j}] = (_exp({lsm.text}[{i}, {j}]) - {hit}) * {scale}")


# -- running ops -------------------------------------------------------------------------------------------------


def _running(n: Node, step: Callable[[str, str, str], str], first: str, exclusive: bool) -> None:
    """A scan along the op's axis: ``acc`` starts at ``first``; each element's result is
    ``acc`` before (exclusive) or after (inclusive) ``acc = step(acc, element, index)``."""
    _float_only(n)
    x = n.ins[0]
    code = n.code
    axis = n.op.axis
    code.add(f"{n.out} = np.empty({shape_tuple(_dims(x))}, {dtype_text(n.v.dtype)})")
    outer, stack = _axis_loops(code, x, (axis,))
    with stack:
        acc, j = code.fresh("acc"), code.fresh("j")
        code.add(f"{acc} = {cast_text(first, n.v.dtype)}")
        size = x.dim(axis)
        with code.block(f"for {j} in range({size}):"):
            k = f"{size} - 1 - {j}" if n.op.reverse else j
            at = _index_at(x.ndim, outer, {axis: k})
            if exclusive:
                code.add(f"{index_text(n.out, at)} = {acc}")
            code.add(f"{acc} = {step(acc, index_text(x.text, at), k)}")
            if not exclusive:
                code.add(f"{index_text(n.out, at)} = {acc}")


def _affine_scan(n: Node) -> None:
    """s_0 = 0, s_(k+1) = a_k s_k + b_k along the axis (from the end with ``reverse``), each
    output the s before its step; a and b broadcast to the output's shape."""
    a, b = n.ins
    code = n.code
    axis = n.op.axis
    cast = Broadcast(n.v.shape, [a, b])
    dims = cast.sizes(code)
    code.add(f"{n.out} = np.empty({shape_tuple(dims)}, {dtype_text(n.v.dtype)})")
    outer = [k for k in range(len(dims)) if k != axis]
    names, stack = code.loops([dims[k] for k in outer])
    with stack:
        acc, j = code.fresh("acc"), code.fresh("j")
        code.add(f"{acc} = {cast_text('0', n.v.dtype)}")
        with code.block(f"for {j} in range({dims[axis]}):"):
            k = f"{dims[axis]} - 1 - {j}" if n.op.reverse else j
            idx = _index_at(len(dims), dict(zip(outer, names)), {axis: k})
            code.add(f"{index_text(n.out, idx)} = {acc}")
            code.add(f"{acc} = {cast_text(f'{cast.at(a, idx)} * {acc} + {cast.at(b, idx)}', n.v.dtype)}")


def _boolean_mask(n: Node) -> None:
    """``x[mask]``: the selected entries (or sub-arrays) in row-major order; their count is
    the number of True entries, found first."""
    x, mask = n.ins
    code = n.code
    k = mask.ndim
    for j in range(k):
        code.raise_if(f"{mask.dim(j)} != {x.dim(j)}", "IndexError", "the mask does not match the array")
    flat_mask, flat_x, count, i = code.fresh("fm"), code.fresh("fx"), code.fresh("c"), code.fresh("i")
    rest = _dims(x)[k:]
    block = " * ".join(rest) or "1"
    code.add(f"{flat_mask} = {_contiguous(mask)}.reshape(-1)")
    code.add(f"{flat_x} = {_contiguous(x)}.reshape(({flat_mask}.size, {block}))")
    code.add(f"{count} = 0")
    with code.block(f"for {i} in range({flat_mask}.size):"):
        with code.block(f"if {flat_mask}[{i}]:"):
            code.add(f"{count} += 1")
    flat = code.fresh("fo")
    code.add(f"{flat} = np.empty(({count}, {block}), {dtype_text(n.v.dtype)})")
    code.add(f"{count} = 0")
    with code.block(f"for {i} in range({flat_mask}.size):"):
        with code.block(f"if {flat_mask}[{i}]:"):
            code.add(f"{flat}[{count}] = {flat_x}[{i}]")
            code.add(f"{count} += 1")
    code.add(f"{n.out} = {flat}.reshape({shape_tuple([count, *rest])})")


def _boolean_mask_grad(n: Node) -> None:
    """Zeros of the mask's shape (and G's trailing axes) with G's rows written, in order, at
    the mask's True places."""
    g, mask = n.ins
    code = n.code
    rest = _dims(g)[1:]
    block = " * ".join(rest) or "1"
    flat_mask, flat_g, flat, count, i = (code.fresh(b) for b in ("fm", "fg", "fo", "c", "i"))
    code.add(f"{flat_mask} = {_contiguous(mask)}.reshape(-1)")
    code.add(f"{flat_g} = {_contiguous(g)}.reshape(({g.dim(0)}, {block}))")
    code.add(f"{flat} = np.zeros(({flat_mask}.size, {block}), {dtype_text(n.v.dtype)})")
    code.add(f"{count} = 0")
    with code.block(f"for {i} in range({flat_mask}.size):"):
        with code.block(f"if {flat_mask}[{i}]:"):
            code.raise_if(f"{count} >= {g.dim(0)}", "ValueError", "G has fewer rows than the mask selects")
            code.add(f"{flat}[{i}] = {flat_g}[{count}]")
            code.add(f"{count} += 1")
    code.raise_if(f"{count} != {g.dim(0)}", "ValueError", "G has more rows than the mask selects")
    code.add(f"{n.out} = {flat}.reshape({shape_tuple([*_dims(mask), *rest])})")


def _cumsum(n: Node) -> None:
    _running(n, lambda a, e, k: f"{a} + {e}", "0", exclusive=False)


def _exclusive_cumprod(n: Node) -> None:
    _running(n, lambda a, e, k: f"{a} * {e}", "1", exclusive=True)


# -- the table ---------------------------------------------------------------------------------------------------

#: op class -> its Numba form (elementwise ops need none: groups.py derives theirs from the scalar form)
FORMS: dict[type, Callable[[Node], None]] = {
    StopGradient: _identity,
    MatchShape: _match_shape,
    MinCount: _min_count,
    ZerosLike: _zeros_like,
    OnesLike: _ones_like,
    NoGradient: _no_gradient,
    NoGradientLike: _zeros_like,
    SizeOf: _size_of,
    ArangeLike: _arange_like,
    Full: _full,
    Eye: _constant_array,
    Arange: _constant_array,
    Reshape: _reshape,
    ReshapeLike: _reshape_like,
    Transpose: _transpose,
    ExpandDims: _expand_dims,
    Squeeze: _squeeze,
    Concatenate: _concatenate,
    SplitPart: _split_part,
    Stack: _stack,
    Flip: _flip,
    Pad: _pad,
    SumTo: _sum_to,
    SumToLike: _sum_to_like,
    GetItem: _getitem,
    IndexGrad: _index_grad,
    IndexGradLike: _index_grad_like,
    MatMul: _matmul,
    Sum: _reduce("sum"),
    Max: _reduce("max"),
    Min: _reduce("min"),
    Prod: _reduce("prod"),
    Norm: _norm,
    LogSumExp: _log_sum_exp,
    Var: _moment,
    Std: _moment,
    ArgMax: _arg_extremum,
    ArgMin: _arg_extremum,
    Softmax: _softmax(log=False),
    LogSoftmax: _softmax(log=True),
    LogSoftmaxGrad: _log_softmax_grad,
    SoftmaxGrad: _softmax_grad,
    SoftmaxCrossEntropyGrad: _softmax_cross_entropy_grad,
    CrossEntropy: _cross_entropy,
    CrossEntropyPickGrad: _cross_entropy_pick_grad,
    CrossEntropyGrad: _cross_entropy_grad,
    Cumsum: _cumsum,
    ExclusiveCumprod: _exclusive_cumprod,
    AffineScan: _affine_scan,
    BooleanMask: _boolean_mask,
    BooleanMaskGrad: _boolean_mask_grad,
}

#: the reductions that read their input once, in order: an elementwise group read only by one is computed in its loops
ONE_PASS = (Sum, Max, Min, Prod, SumTo, SumToLike, Norm)

#: op class -> why it has no Numba form (a graph holding one runs op by op)
NO_FORM: dict[type, str] = {
    Einsum: "einsum has no loop form yet",
    ExclusiveProd: "exclusive_prod (prod's scaled gradient) has no loop form yet",
    Conv2D: "convolutions run their own kernels (im2col and BLAS, or a Numba loop), op by op",
    Conv2DInputGrad: "convolutions run their own kernels (im2col and BLAS, or a Numba loop), op by op",
    Conv2DInputGradLike: "convolutions run their own kernels (im2col and BLAS, or a Numba loop), op by op",
    Conv2DWeightGrad: "convolutions run their own kernels (im2col and BLAS, or a Numba loop), op by op",
    MaxPool2D: "pooling runs its own kernels (a Numba loop or strided NumPy), op by op",
    MaxPool2DGrad: "pooling runs its own kernels (a Numba loop or strided NumPy), op by op",
    MaxPool2DRoute: "pooling runs its own kernels (a Numba loop or strided NumPy), op by op",
    Scan: "loops (gc.scan) run as Python loops around their body",
    ScanOutput: "loops (gc.scan) run as Python loops around their body",
    RandomNormal: "random draws advance a generator's state in Python",
    RandomUniform: "random draws advance a generator's state in Python",
    RandomBernoulli: "random draws advance a generator's state in Python",
    OpFromGraph: "an op_from_graph group is inlined by the passes before code generation",
}

_found: dict[type, Callable | None] = {}


def form_of(op: Op) -> Callable[[Node], None] | None:
    """The Numba form of ``op``'s class (or a base class), or None."""
    cls = type(op)
    if cls not in _found:
        _found[cls] = next((FORMS[c] for c in cls.__mro__ if c in FORMS), None)
    return _found[cls]
