"""The op library, one family per module. Importing it registers every op and
installs Variable's operators.

``FAMILIES`` lists the modules whose public functions (each module's
``__all__``) are graphcomp's NumPy-like API: adding a function to a family's
``__all__`` is all it takes to make it ``gc.<name>``.
"""

from graphcomp.ops import (
    binary,
    compare,
    composite,
    conv,
    creation,
    cumulative,
    elementwise,
    fused,
    identity,
    indexing,
    linalg,
    loops,
    operators,
    random,
    reduce,
    select,
    shape,
    softmax,
    sympy_elementwise,
)
from graphcomp.ops.base import REGISTRY, Op

__all__ = ["Op", "REGISTRY", "FAMILIES", "composite", "fused", "operators", "random"]

#: the modules whose ``__all__`` are public functions of ``graphcomp``
FAMILIES = (
    binary,
    compare,
    select,
    elementwise,
    reduce,
    cumulative,
    linalg,
    shape,
    indexing,
    softmax,
    conv,
    creation,
    identity,
    sympy_elementwise,
    loops,
)

operators.install()
