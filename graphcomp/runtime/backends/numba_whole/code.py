"""The text of a whole-function Numba module: lines, names, and the loop nests
the op forms share (broadcasting element loops, reductions).

Every value of the generated function is either a Numba scalar (a 0-d node) or a
NumPy array of the node's dtype and number of dimensions; its sizes are read
from its ``.shape`` where the graph left them unknown, and written as literals
where it knows them (constant trip counts let LLVM unroll and vectorise).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from graphcomp.core.node import Variable

__all__ = ["Unsupported", "Code", "Val", "Elements", "ArrayElements", "dtype_text", "scalar_literal", "cast_text"]


class Unsupported(Exception):
    """A node whose Numba form cannot be written; the message is the one-line reason."""


def dtype_text(dtype) -> str:
    """The NumPy dtype as generated Numba code names it.

    Example:
        >>> dtype_text("float32"), dtype_text(bool)
        ('np.float32', 'np.bool_')
    """
    dtype = np.dtype(dtype)
    if dtype == np.dtype(bool):
        return "np.bool_"
    if dtype.kind not in "iuf":
        raise Unsupported(f"dtype {dtype} has no whole-function Numba form")
    return f"np.{dtype.name}"


def cast_text(expr: str, dtype) -> str:
    """``expr`` converted to a scalar of ``dtype`` (float64 and bool need no call).

    Example:
        >>> cast_text("a + b", "float32"), cast_text("a + b", "float64")
        ('np.float32(a + b)', 'np.float64(a + b)')
    """
    dtype = np.dtype(dtype)
    if dtype == np.dtype(bool):
        return f"bool({expr})"
    return f"{dtype_text(dtype)}({expr})"


def scalar_literal(value, dtype) -> str:
    """A 0-d constant as literal text of its dtype: ``2.0``, ``np.float32(0.5)``, ``np.inf``.

    Example:
        >>> scalar_literal(np.float64(2.0), "float64"), scalar_literal(0.5, "float32"), scalar_literal(True, bool)
        ('2.0', 'np.float32(0.5)', 'True')
    """
    dtype = np.dtype(dtype)
    if dtype == np.dtype(bool):
        return repr(bool(value))
    if dtype.kind in "iu":
        text = repr(int(value))
        return text if dtype == np.dtype(np.int64) else f"{dtype_text(dtype)}({text})"
    if dtype.kind != "f":
        raise Unsupported(f"a {dtype} constant has no whole-function Numba form")
    v = float(value)
    if math.isnan(v):
        text = "np.nan"
    elif math.isinf(v):
        text = "np.inf" if v > 0 else "(-np.inf)"
    else:
        text = repr(v)
    return text if dtype == np.dtype(np.float64) else f"{dtype_text(dtype)}({text})"


@dataclasses.dataclass
class Val:
    """A value of the generated function: its text (a name, or a literal for a 0-d
    constant), its static shape (None: unknown size) and its dtype.

    Example:
        >>> v = Val("x", (None, 3), np.dtype("float64"))
        >>> v.dim(0), v.dim(1), v.ndim
        ('x.shape[0]', '3', 2)
    """

    text: str
    shape: tuple
    dtype: np.dtype

    @classmethod
    def of(cls, text: str, var: Variable) -> Val:
        return cls(text, tuple(var.shape), var.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self, k: int) -> str:
        """Its size along axis ``k``: a literal where known, else read at run time."""
        d = self.shape[k]
        return str(d) if d is not None else f"{self.text}.shape[{k}]"


class Code:
    """The lines of one generated function, with fresh names and indentation.

    Example:
        >>> c = Code()
        >>> with c.block("for i in range(3):"):
        ...     c.add("s += i")
        >>> c.lines
        ['    for i in range(3):', '        s += i']
    """

    def __init__(self, prefix: str = "_w"):
        self.lines: list[str] = []
        self.depth = 1
        self.prefix = prefix
        self.count = 0
        self.helpers: dict[str, object] = {}  # names the scalar forms call -> the functions

    def fresh(self, base: str = "t") -> str:
        self.count += 1
        return f"{self.prefix}{base}{self.count}"

    def add(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextlib.contextmanager
    def block(self, header: str):
        self.add(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def raise_if(self, condition: str, kind: str, message: str) -> None:
        """A run-time check: the native function raises, and the wrapper runs the NumPy
        code instead, which gives NumPy's answer or an error naming the node."""
        with self.block(f"if {condition}:"):
            self.add(f"raise {kind}({message!r})")

    def loops(self, dims: list[str], base: str = "i") -> tuple[list[str], contextlib.ExitStack]:
        """Index names and an exit stack holding one ``for`` block per dimension."""
        names = [self.fresh(base) for _ in dims]
        stack = contextlib.ExitStack()
        for n, d in zip(names, dims):
            stack.enter_context(self.block(f"for {n} in range({d}):"))
        return names, stack


def index_text(name: str, idx: list[str]) -> str:
    """``a[i, j]``, or the name alone for a scalar."""
    return f"{name}[{', '.join(idx)}]" if idx else name


class Elements:
    """A source of the elements of an array-shaped value over its own index space,
    read inside loops: a stored array (``ArrayElements``) or an elementwise group
    computed where it is read (``graphcomp/runtime/backends/numba_whole/groups.py``)."""

    shape: tuple
    dtype: np.dtype

    def prepare(self, code: Code) -> list[str]:
        """Write what the loops need before they start (once); return the size of each axis."""
        dims = getattr(self, "_dims", None)
        if dims is None:
            dims = self._dims = self.sizes(code)
        return dims

    def sizes(self, code: Code) -> list[str]:
        raise NotImplementedError

    def element(self, code: Code, idx: list[str]) -> str:
        """Write the lines computing the element at ``idx``; return its text."""
        raise NotImplementedError


class ArrayElements(Elements):
    """The elements of a value held in an array (or a scalar)."""

    def __init__(self, val: Val):
        self.val = val
        self.shape = val.shape
        self.dtype = val.dtype

    def sizes(self, code: Code) -> list[str]:
        return [self.val.dim(k) for k in range(self.val.ndim)]

    def element(self, code: Code, idx: list[str]) -> str:
        return index_text(self.val.text, idx)
