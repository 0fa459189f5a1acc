"""The error for an op node that failed while running, shared by the interpreter,
the generated code and the interpreter of a loop's body (which imports nothing
else from the runtime)."""

from __future__ import annotations

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.core.types import fmt_shape
from graphcomp.errors import EvaluationError

__all__ = ["op_failure"]


def op_failure(v: Variable, values: list, error: Exception) -> EvaluationError:
    """The error for node ``v`` failing on input ``values``: its op, its inputs'
    shapes and dtypes, the op's exception and where ``v`` was built.

    It is an ``EvaluationError`` that keeps the built-in category of ``error``
    (``ValueError`` for NumPy's shape mismatches, ``IndexError`` for an index out
    of range), so code catching what NumPy raises keeps working. An error that
    already names the node that failed inside ``v`` (a loop's step) and waits
    for ``v``'s line (it has a ``finish(v)``) is finished instead, so the message
    says each thing once.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> e = op_failure(gc.exp(x), [np.ones(2)], ValueError("bad"))
        >>> isinstance(e, ValueError), str(e).split(";")[0]
        (True, 'exp failed on inputs (x: (2,) float64): ValueError: bad')
    """
    finish = getattr(error, "finish", None)
    if finish is not None:
        return finish(v)
    shapes = ", ".join(f"{i.label()}: {_shape_dtype(a)}" for i, a in zip(v.owner.inputs, values))
    e = EvaluationError.of(error)(
        f"{v.owner.op.label()} failed on inputs ({shapes}): {type(error).__name__}: {error}; built at {v.site}"
    )
    e.site = v.site
    e.node = v
    return e


def _shape_dtype(a) -> str:
    if a is None:  # a value the failing line's frame no longer holds
        return "?"
    try:
        return f"{fmt_shape(np.shape(a))} {np.result_type(a)}"
    except Exception:  # a ragged list or an object the op was never meant to get
        return type(a).__name__
