"""Reductions as generated loop nests: one pass over the elements of a source
(a stored array, or an elementwise group computed where it is read), each
source axis kept, kept as size 1, or summed away.

Where the reduced axes are the innermost ones the accumulator is a local
variable (a register); otherwise the result array accumulates in place. Sums
add in order along the axes, not pairwise as NumPy does: results differ from
NumPy's in the last bits (relative 1e-15 on float64 for the sizes of a graph).
"""

from __future__ import annotations

import numpy as np

from graphcomp.ops.select import maximum_scalar, minimum_scalar
from graphcomp.runtime.backends.numba_whole.code import Code, Elements, cast_text, dtype_text, index_text

__all__ = ["KEEP", "ZERO", "DROP", "accumulate", "shape_tuple", "reduce_mapping", "identity_of", "maximum_of"]

KEEP, ZERO, DROP = "keep", "zero", "drop"  # what a reduction does with each source axis


def shape_tuple(dims: list[str]) -> str:
    """A tuple expression of sizes: ``(a, b)``, ``(a,)``, ``()``.

    Example:
        >>> shape_tuple(["n", "3"]), shape_tuple(["n"])
        ('(n, 3)', '(n,)')
    """
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def reduce_mapping(ndim: int, axes: tuple, keepdims: bool) -> list:
    """What ``Reduce(axes, keepdims)`` does with each of ``ndim`` axes.

    Example:
        >>> reduce_mapping(3, (1,), True), reduce_mapping(2, (0, 1), False)
        (['keep', 'zero', 'keep'], ['drop', 'drop'])
    """
    return [(ZERO if keepdims else DROP) if k in axes else KEEP for k in range(ndim)]


def identity_of(kind: str, dtype) -> str:
    """The start of a sum (``sum``), product (``prod``), max or min in ``dtype``."""
    dtype = np.dtype(dtype)
    if kind == "sum":
        return cast_text("0", dtype)
    if kind == "prod":
        return cast_text("1", dtype)
    if dtype.kind == "f":
        return cast_text("-np.inf" if kind == "max" else "np.inf", dtype)
    info = np.iinfo(dtype)
    return cast_text(str(info.min if kind == "max" else info.max), dtype)


def maximum_of(kind: str, code: Code) -> str:
    """The combining text of a NaN-propagating max or min (NumPy's ``np.max``)."""
    code.helpers["maximum_scalar"] = maximum_scalar
    code.helpers["minimum_scalar"] = minimum_scalar
    return "maximum_scalar({a}, {e})" if kind == "max" else "minimum_scalar({a}, {e})"


def accumulate(
    code: Code,
    src: Elements,
    mapping: list,
    out: str,
    init: str,
    combine: str,
    acc_dtype,
    out_dtype,
    flags: dict | None = None,
    out_dims: list[str] | None = None,
    finish: str = "{a}",
    nonempty: bool = False,
) -> None:
    """Write ``out`` = the reduction of ``src``'s elements: ``combine`` (a format of
    ``{a}``, the accumulator, and ``{e}``, the element) from ``init``, per ``mapping``
    (one of KEEP, ZERO, DROP per source axis); ``flags`` maps an axis to the name of
    an int that is 0 where the result's axis has size 1 at run time (``sum_to_like``);
    ``out_dims`` gives the result's sizes where they are not the source's. A result
    with no axes is a scalar. ``finish`` (a format of ``{a}``) is applied once per
    result element. ``nonempty`` raises ValueError over an empty reduction (a max has
    no identity)."""
    flags = flags or {}
    dims = src.prepare(code)
    if out_dims is None:
        out_dims = [d if m == KEEP else "1" for d, m in zip(dims, mapping) if m != DROP]
    if nonempty:
        for d, m in zip(dims, mapping):
            if m != KEEP and not d.isdigit():
                code.raise_if(f"{d} == 0", "ValueError", "zero-size array to a reduction operation with no identity")
    acc_t, out_t = np.dtype(acc_dtype), np.dtype(out_dtype)
    done = (lambda a: cast_text(finish.format(a=a), out_t)) if finish != "{a}" or acc_t != out_t else (lambda a: a)
    reduced = [k for k, m in enumerate(mapping) if m != KEEP and k not in flags]
    kept = [k for k, m in enumerate(mapping) if m == KEEP and k not in flags]
    if not out_dims:  # a scalar result
        acc = code.fresh("acc")
        code.add(f"{acc} = {init}")
        idx, loops = code.loops(dims)
        with loops:
            e = src.element(code, idx)
            code.add(f"{acc} = {combine.format(a=acc, e=e)}")
        code.add(f"{out} = {done(acc)}")
        return
    code.add(f"{out} = np.empty({shape_tuple(out_dims)}, {dtype_text(out_t)})")
    if not flags and kept == list(range(len(kept))):  # the reduced axes are the innermost: a local accumulator
        outer, loops = code.loops([dims[k] for k in kept])
        with loops:
            acc = code.fresh("acc")
            code.add(f"{acc} = {init}")
            inner, inner_loops = code.loops([dims[k] for k in reduced])
            with inner_loops:
                e = src.element(code, outer + inner)
                code.add(f"{acc} = {combine.format(a=acc, e=e)}")
            at = list(outer) + ["0" for k in reduced if mapping[k] == "zero"]
            code.add(f"{index_text(out, at)} = {done(acc)}")
        return
    # the general case: the result accumulates in place (in acc_dtype), then is finished
    buf = out if acc_t == out_t and finish == "{a}" else code.fresh("buf")
    if buf != out:
        code.add(f"{buf} = np.empty({shape_tuple(out_dims)}, {dtype_text(acc_t)})")
    code.add(f"{buf}[...] = {init}")
    idx, loops = code.loops(dims)
    with loops:
        e = src.element(code, idx)
        at = []
        for k, (i, m) in enumerate(zip(idx, mapping)):
            if k in flags:
                at.append(f"{i} * {flags[k]}")
            elif m == KEEP:
                at.append(i)
            elif m == ZERO:
                at.append("0")
        slot = index_text(buf, at)
        code.add(f"{slot} = {combine.format(a=slot, e=e)}")
    if buf != out:
        flat_out, flat_buf = code.fresh("fo"), code.fresh("fb")
        code.add(f"{flat_out} = {out}.reshape(-1)")
        code.add(f"{flat_buf} = {buf}.reshape(-1)")
        i = code.fresh("i")
        with code.block(f"for {i} in range({flat_out}.size):"):
            code.add(f"{flat_out}[{i}] = {done(f'{flat_buf}[{i}]')}")
