"""The op library, one family per module. Importing this registers every op."""

from graphcomp.ops import binary, control, elementwise, indexing, linalg, nn, reduce, shape, symbolic  # noqa: F401
from graphcomp.ops.base import REGISTRY, Op

__all__ = ["Op", "REGISTRY"]
