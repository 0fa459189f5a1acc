"""The op library, one family per module. Importing this registers every op."""

from graphcomp.ops import (  # noqa: F401
    binary,
    control,
    conv,
    elementwise,
    fused,
    indexing,
    linalg,
    loops,
    nn,
    reduce,
    shape,
    symbolic,
)
from graphcomp.ops.base import REGISTRY, Op

__all__ = ["Op", "REGISTRY"]
