"""A loop in compiled code: a Python ``for`` statement around its body's generated lines.

``gc.compile`` asks each op whether it writes a function of its own
(``Op.generated_callee``); a loop does. Its function binds the carries, slices
each ``xs`` at the step, runs the body's lines (written by the same backend as
every other line, after the same passes: fused by Numba inside), carries the
new carries on and writes each per-step output into row t of its stack. The
function's text and the time to compile it do not depend on T. For a loop over
``xs`` with one carry and one per-step output it reads::

    def _scan13(init0, xs0):
        T = _trip(None, (xs0,))
        c0 = init0
        _y0 = _empty((T, 64), _dtype0)
        try:
            for _step in range(T):
                x0 = xs0[_step]
                # tanh(...) -> (64,) float64, built at model.py:7
                _v12 = _tanh(...)
                c0 = _v12
                _y0[_step] = _v12
        except Exception as _e:
            raise _failed(_e, _step) from _e
        return _LoopValues((c0, _y0))

A failure inside the body names the body's node, the step and both lines
(the body's and the loop's), as ``gc.evaluate`` does.
"""

from __future__ import annotations

import numpy as np

from graphcomp.core.types import fmt_shape
from graphcomp.errors import EvaluationError, GraphError, ShapeError
from graphcomp.ops.loops.body import LoopValues, empty_stack, shape_of, step_failure, trip_count

__all__ = ["loop_function"]


def loop_function(op, v, writer):
    """The compiled function running loop node ``v`` (of Scan ``op``): it takes the
    node's inputs and returns its ``LoopValues``.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (3,))
        >>> total, _ = gc.scan(lambda c, xt: (c + xt * xt, None), 0.0, x)
        >>> f = gc.compile(total)
        >>> float(f([1.0, 2.0, 3.0]))
        14.0
        >>> "for _step in range(T):" in f.source
        True
    """
    b = op.body
    nc, nx, nk = len(b.carry_in), len(b.x_in), len(b.captured)
    what = op.name
    namespace: dict = {
        "_LoopValues": LoopValues,
        "_trip": trip_count,
        "_empty": np.empty,
        "_int64": np.int64,
        "_shape": shape_of,
        "_carry_changed": _carry_changed,
        "_y_changed": _y_changed,
        "_empty_stack": empty_stack,
    }
    inits = [f"init{k}" for k in range(nc)]
    xs = [f"xs{k}" for k in range(nx)]
    names = {p: f"c{k}" for k, p in enumerate(b.carry_in)}
    names.update({p: f"x{k}" for k, p in enumerate(b.x_in)})
    names.update({p: f"k{m}" for m, p in enumerate(b.captured)})
    if b.index is not None:
        names[b.index] = "_i"
    generated: list = []
    # every name the loop's own lines use, bound before the body's callees are named (they avoid these)
    namespace["_failed"] = _failure_handler(what, v, generated)
    for j, y in enumerate(b.ys):
        namespace[f"_dtype{j}"], namespace[f"_yname{j}"], namespace[f"_ystatic{j}"] = y.dtype, b.y_names[j], y.shape
    for k, name in enumerate(b.carry_names):
        namespace[f"_cname{k}"] = name
    body, outs = writer.lines(list(b.outputs), names, namespace)
    xs_tuple = f"({', '.join(xs)},)" if xs else "()"
    head = [(f"T = _trip({op.length!r}, {xs_tuple}, {what!r})", None)]
    loop = [(f"x{k} = xs{k}[_step]", None) for k in range(nx)]
    if b.index is not None:
        loop.append(("_i = _int64(_step)", None))
    loop += body
    stack_head, stack_step, tail = _stacks(b, outs[nc:])
    carry_head, carry_step = _carries(b, names, outs[:nc])
    head += carry_head + stack_head
    loop += stack_step + carry_step  # the ys first: a y may be the carry entering the step
    steps = "range(T - 1, -1, -1)" if op.reverse else "range(T)"
    lines = head + [("try:", None), (f"    for _step in {steps}:", None)]
    lines += [("        " + text, info) for text, info in loop]
    lines += [("except Exception as _e:", None), ("    raise _failed(_e, _step) from _e", None)] + tail
    values = ", ".join([f"c{k}" for k in range(nc)] + [f"_y{j}" for j in range(len(b.ys))])
    params = ", ".join(inits + xs + [f"k{m}" for m in range(nk)])
    ret = f"return _LoopValues(({values}{',' if values else ''}))"
    g = writer.function(f"def _{what}{v.id}({params}):", lines, ret, namespace)
    generated.append(g)
    return g.fn


def _stacks(b, texts: list[str]) -> tuple[list, list, list]:
    """The lines stacking each per-step output y_j (named ``texts[j]`` in the body's
    lines) into ``_y{j}``: before the loop, at each step, and after it (T = 0)."""
    head, step, tail = [], [], []
    for j, (y, text) in enumerate(zip(b.ys, texts)):
        if None not in y.shape:  # rows of a known shape: allocated once, before the loop
            head.append((f"_y{j} = _empty((T, {', '.join(map(str, y.shape))}), _dtype{j})", None))
        else:  # the first step tells the row's shape; every other step must give the same
            like = "None" if b.ys_like[j] is None else f"xs{b.ys_like[j]}"
            head.append((f"_y{j} = None", None))
            step.append((f"if _y{j} is None: _y{j} = _empty((T, *_shape({text})), _dtype{j})", None))
            step.append((f"elif _shape({text}) != _y{j}.shape[1:]: raise _y_changed(_yname{j}, {text}, _y{j})", None))
            tail.append((f"if _y{j} is None: _y{j} = _empty_stack(_ystatic{j}, {like}, _dtype{j})", None))
        step.append((f"_y{j}[_step] = {text}", None))
    return head, step, tail


def _carries(b, names: dict, texts: list[str]) -> tuple[list, list]:
    """The lines starting each carry at its init, and at each step moving the new
    carries (named ``texts``) into place, checking those whose shape is not known."""
    head = [(f"{names[p]} = init{k}", None) for k, p in enumerate(b.carry_in)]
    step = []
    moved = [(names[p], text) for p, text in zip(b.carry_in, texts) if names[p] != text]
    if moved:  # all at once: a new carry may be another's old value
        step.append((f"{', '.join(n for n, _ in moved)}, = {', '.join(t for _, t in moved)},", None))
    for k, (p, out) in enumerate(zip(b.carry_in, b.carry_out)):
        if None in p.shape or None in out.shape:  # a dimension left open: checked at each step
            head.append((f"_cs{k} = _shape(init{k})", None))
            step.append((f"if _shape(c{k}) != _cs{k}: raise _carry_changed(_cname{k}, c{k}, _cs{k})", None))
    return head, step


def _failure_handler(what: str, loop, generated: list):
    """``_failed(error, t)``: the error naming the body's node that failed at step t
    (its inputs, both lines), for any exception raised inside the loop."""

    def failed(error: BaseException, step: int) -> EvaluationError:
        inner = generated[0].failure(error) if generated else None
        if inner is not None:
            said = str(inner)
        elif isinstance(error, GraphError):  # a nested loop's error, or a step's shape check
            said = str(error)
        else:
            said = f"{type(error).__name__}: {error}"
        # the interpreter's words (step_failure), so both say the same; the error already
        # names its node: code generation passes it on as it is
        return step_failure(what, step, said, error).finish(loop)

    return failed


def _carry_changed(name: str, c, shape) -> ShapeError:
    return ShapeError(
        f"the new {name} has shape {fmt_shape(shape_of(c))}, but it entered the loop with shape "
        f"{fmt_shape(shape)}; a carry keeps its shape"
    )


def _y_changed(name: str, y, stack) -> ShapeError:
    return ShapeError(
        f"{name} has shape {fmt_shape(shape_of(y))}, but earlier steps gave {fmt_shape(stack.shape[1:])}; "
        "the outputs of all steps are stacked"
    )
