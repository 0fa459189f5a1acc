"""Backends: how each node of a compiled graph becomes a line of generated code.

A backend is one module. It asks each op for its generic forms (``fn``,
``forward``, ``expression``, ``scalar``: see ``graphcomp.ops.base``) and keeps
only its own overrides, keyed by op class (as PyTensor's ``jax_funcify`` is
keyed by the Op class), plus the op classes it cannot emit.
``docs/architecture.md`` walks through adding one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from graphcomp.errors import ArgumentError
from graphcomp.ops.base import Op

__all__ = ["Backend", "backend", "BACKENDS"]

#: backend name -> (module, class): imported when first asked for (Numba is an optional extra)
BACKENDS = {
    "numpy": ("graphcomp.runtime.backends.numpy", "NumpyBackend"),
    "numba": ("graphcomp.runtime.backends.numba", "NumbaBackend"),
    "jax": ("graphcomp.runtime.backends.jax", "JaxBackend"),
}


class Backend:
    """The interface code generation asks; subclasses set the class attributes and
    may override ``callee``/``expression``.

    ``callee(op)``: the callable a node's line calls. ``expression(op, v, args)``:
    an inline expression for node ``v`` of ``op`` over its inputs' names, or None
    to call (``op`` is ``v``'s op, or an equal one whose integers print as slots).
    ``helpers(op)``: names such an expression uses. ``namespace``: names every
    line may use. ``passes``: backend passes to run (``fuse``). ``overrides``: op
    class -> ``form(op)`` giving the callee, looked up along the op's class
    hierarchy. ``unsupported``: op classes this backend cannot emit.
    """

    name = ""
    passes: tuple[str, ...] = ()
    namespace: dict = {}
    overrides: dict[type, Callable] = {}
    unsupported: tuple[type, ...] = ()

    def override(self, op: Op) -> Callable | None:
        """This backend's form for ``op``'s class (or a base class), or None."""
        cls = type(op)
        cache = type(self).__dict__.get("_found")
        if cache is None:
            cache = {}
            type(self)._found = cache  # per backend class, as its overrides are
        if cls not in cache:
            cache[cls] = next((self.overrides[c] for c in cls.__mro__ if c in self.overrides), None)
        return cache[cls]

    def callee(self, op: Op) -> Callable:
        """The Python callable a node of ``op`` calls."""
        raise NotImplementedError

    def expression(self, op: Op, v, args: list[str]) -> str | None:
        """An inline expression computing node ``v`` of ``op`` from its inputs' names, or None."""
        return None

    def helpers(self, op: Op) -> dict:
        """The names ``op``'s inline expression uses, to bind in the generated module."""
        return {}

    def check(self, ops: Iterable[Op]) -> None:
        """Refuse a graph with an op this backend cannot emit, listing every such op."""
        missing = sorted({op.name for op in ops if isinstance(op, self.unsupported)})
        if missing:
            raise ArgumentError(f"compile: backend {self.name!r} cannot run the op(s) {missing}")


def backend(spec) -> Backend:
    """The backend object for ``compile(..., backend=spec)``: a name in ``BACKENDS``,
    None (NumPy), or an object with ``callee`` and ``passes``.

    Example:
        >>> backend("numpy").name
        'numpy'
    """
    if spec is None:
        spec = "numpy"
    if isinstance(spec, str):
        if spec not in BACKENDS:
            names = [repr(n) for n in BACKENDS]
            raise ArgumentError(
                f"compile: unknown backend {spec!r}; the backends are {', '.join(names[:-1])} and {names[-1]}"
            )
        module, cls = BACKENDS[spec]
        return getattr(importlib.import_module(module), cls)()
    missing = [m for m in ("callee", "passes") if not hasattr(spec, m)]
    if missing:
        raise ArgumentError(
            f"compile: the backend {spec!r} has no {' or '.join(missing)} (see graphcomp.runtime.backends)"
        )
    return spec
