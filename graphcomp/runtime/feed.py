"""Checking fed values against their Variables: nothing is silently broadcast,
truncated or cast with loss."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape, shapes_compatible
from graphcomp.errors import InputError, InputTypeError
from graphcomp.ops.loops.scope import placeholder_of

__all__ = ["check_value", "bind_feed", "missing_input_message"]

_PY_SCALARS = (bool, int, float, complex)


def _kind_ok(src_kind: str, dst_kind: str) -> bool:
    # Python numbers are "weak", as in NumPy: an int fits any numeric Variable,
    # a float any inexact one, a complex only a complex one.
    order = "biufc"
    if src_kind not in order or dst_kind not in order:
        return False
    if src_kind in "iu":
        return dst_kind in "iufc"
    return order.index(src_kind) <= order.index(dst_kind)


def check_value(var: Variable, value) -> np.ndarray:
    """Convert ``value`` for input ``var`` or raise an error naming both shapes.

    Arrays must cast safely (no loss) to the Variable's dtype; Python numbers
    and lists take the Variable's dtype when their kind fits (an int into a
    float Variable, never a float into an int one).

    Example:
        >>> import graphcomp as gc
        >>> check_value(gc.Variable("x", (2,)), [1, 2]).dtype
        dtype('float64')
    """
    if isinstance(value, Variable):
        raise InputTypeError(f"the value fed for {_describe(var)} is a symbolic Variable ({value.label()}), not data")
    weak = isinstance(value, (_PY_SCALARS, list, tuple)) and not isinstance(value, np.generic)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise InputTypeError(f"the value fed for {_describe(var)} is not an array: {e}") from None
    if arr.dtype != var.dtype:
        ok = _kind_ok(arr.dtype.kind, var.dtype.kind) if weak else np.can_cast(arr.dtype, var.dtype, "safe")
        if not ok:
            raise InputTypeError(
                f"the value fed for {_describe(var)} has dtype {arr.dtype}, which cannot be converted "
                f"to {var.dtype} without loss; convert it explicitly"
            )
        with np.errstate(over="raise", invalid="raise"):
            try:
                arr = arr.astype(var.dtype)
            except (OverflowError, FloatingPointError) as e:
                raise InputTypeError(f"the value fed for {_describe(var)} does not fit {var.dtype}: {e}") from None
    if not shapes_compatible(var.shape, arr.shape):
        raise InputError(
            f"the value fed for {_describe(var)} has shape {fmt_shape(arr.shape)}, "
            f"but the Variable's shape is {fmt_shape(var.shape)}"
        )
    return arr


def _describe(var: Variable) -> str:
    return f"input {var.label()!r} (built at {var.site})"


def missing_input_message(var: Variable) -> str:
    """The error text for a needed input that was not fed.

    Example:
        >>> import graphcomp as gc
        >>> missing_input_message(gc.Variable("x", (3,))).split(" (")[0]
        "no value was fed for input 'x'"
    """
    where = placeholder_of(var)
    if where is not None:  # a value that escaped its loop body: no feed can give it meaning
        return f"no value was fed for {_describe(var)}: it is {where}"
    return (
        f"no value was fed for {_describe(var)}; it needs an array of shape {fmt_shape(var.shape)} "
        f"and dtype {var.dtype}"
    )


def bind_feed(inputs: Iterable[Variable], feed: Mapping | None) -> dict[Variable, np.ndarray]:
    """Match ``feed`` (keys: Variables or their names) to ``inputs`` and check each value.

    An input Variable that ``inputs`` does not hold is checked and ignored; a
    name must name one of ``inputs``; constants and op nodes cannot be fed.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> bind_feed([x], {"x": 2.0})[x]
        array(2.)
    """
    inputs = list(inputs)
    feed = {} if feed is None else feed
    if not isinstance(feed, Mapping):
        raise InputTypeError(f"feed must be a dict from Variables (or names) to values, got {type(feed).__name__}")
    members = set(inputs)
    by_name: dict[str, list[Variable]] = {}
    for v in inputs:
        by_name.setdefault(v.name, []).append(v)
    env: dict[Variable, np.ndarray] = {}
    for key, value in feed.items():
        if isinstance(key, Variable):
            if not key.is_input:
                raise InputError(
                    f"{key.label()!r} (built at {key.site}) is a {key.kind} node, not an input; only inputs are fed"
                )
            if key not in members:
                # an input these outputs do not need (a gradient that is constant in
                # it, say): accepted, checked, and ignored, as compile does
                check_value(key, value)
                continue
            var = key
        elif isinstance(key, str):
            found = by_name.get(key, [])
            if not found:
                names = ", ".join(sorted(repr(n) for n in by_name)) or "none"
                raise InputError(f"no input of the graph is named {key!r}; its inputs are {names}")
            if len(found) > 1:
                raise InputError(f"the name {key!r} names {len(found)} inputs; feed them by Variable instead")
            var = found[0]
        else:
            raise InputTypeError(f"feed keys must be Variables or names, got {key!r}")
        if var in env:
            raise InputError(f"input {var.label()!r} was fed twice (by Variable and by name)")
        env[var] = check_value(var, value)
    for v in inputs:
        if v not in env:
            raise InputError(missing_input_message(v))
    return env
