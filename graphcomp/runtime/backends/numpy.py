"""The NumPy backend, ``gc.compile``'s default: every op's generic forms.

An op whose ``fn`` is its whole forward (a ufunc such as ``np.exp``) is
called directly; an op with a short NumPy ``expression`` (``w[3]``, ``a @ b``,
a ufunc's ``reduce``) is written inline, a Python frame less per node, which
is most of the cost when arrays are small; every other op calls its own
``forward``. This backend has no overrides: the ops' forms are NumPy's.
"""

from __future__ import annotations

import numpy as np

from graphcomp.ops.base import Op
from graphcomp.runtime.backends import Backend

__all__ = ["NumpyBackend"]


class NumpyBackend(Backend):
    """Runs ops with NumPy, from each op's own forms.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> NumpyBackend().callee(gc.exp(gc.Variable("x")).owner.op) is np.exp
        True
        >>> v = gc.Variable("w", (4,))[1:]
        >>> NumpyBackend().expression(v.owner.op, v, ["w"])
        'w[1:]'
    """

    name = "numpy"
    copy_output = staticmethod(np.array)  # an output that would alias an input or another output

    def callee(self, op: Op):
        form = self.override(op) if self.overrides else None
        if form is not None:
            return form(op)
        return type(op).fn or op.forward

    def expression(self, op: Op, v, args: list[str]) -> str | None:
        if self.overrides and self.override(op) is not None:
            return None
        return op.expression(v, args)

    def helpers(self, op: Op) -> dict:
        return type(op).numpy_helpers
