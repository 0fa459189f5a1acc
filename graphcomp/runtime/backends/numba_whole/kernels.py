"""Functions the whole-function code calls that Numba compiles once for all graphs.

Each is plain Python that Numba compiles with ``cache=True`` when a generated
function first calls it with new argument types (``cache.py`` marks them by
``graphcomp_kernel``): their machine code is kept beside this file (or in
Numba's own cache directory where this one is read-only), so a graph compiled
later, in any process, links it instead of compiling it again. ``np.dot``'s
implementation is the slowest part of compiling a small graph, and one is
compiled per distinct layout of its operands (C-contiguous, a transpose,
read-only or not).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dot"]


def dot(a, b):
    """``np.dot`` of two 1-D or 2-D float arrays of one dtype (BLAS).

    Example:
        >>> dot(np.eye(2), np.ones(2)).tolist()
        [1.0, 1.0]
    """
    return np.dot(a, b)


dot.graphcomp_kernel = True
