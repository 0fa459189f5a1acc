"""The pass pipeline: a plain list, run in order, each pass switchable by name."""

from __future__ import annotations

from collections.abc import Iterable

from graphcomp.core.gcpause import gc_paused
from graphcomp.core.node import Variable
from graphcomp.passes import cse, dce, fold, fuse, simplify, stabilize
from graphcomp.passes.verify import verify

#: the passes gc.compile runs, in order
PASSES = [cse, fold, simplify, stabilize, cse, dce]

#: passes a backend asks for by name (``backend.passes``), run after the others
BACKEND_PASSES = {fuse.name: fuse}


def pass_names() -> list[str]:
    """The names of the passes, in the order they run.

    Example:
        >>> pass_names()
        ['merge', 'constant-fold', 'simplify', 'stabilize', 'dead-code']
    """
    return list(dict.fromkeys(p.name for p in PASSES))


def optimize(
    outputs: list[Variable], skip: Iterable[str] = (), check: bool = False, extra: Iterable[str] = ()
) -> list[Variable]:
    """Run every pass not named in ``skip``, then the backend passes named in
    ``extra`` (see ``BACKEND_PASSES``); with ``check``, verify after each.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> (y,) = optimize([gc.sin(x) + gc.sin(x)], check=True)
        >>> [v.owner.op.name for v in gc.Graph(y).variables if v.owner]
        ['sin', 'add']
    """
    skip = set(skip)
    unknown = (skip - set(pass_names()) - set(BACKEND_PASSES)) | (set(extra) - set(BACKEND_PASSES))
    if unknown:
        from graphcomp.errors import ArgumentError

        raise ArgumentError(f"compile: unknown pass(es) {sorted(unknown)}; the passes are {pass_names()}")
    with gc_paused():
        for p in PASSES + [BACKEND_PASSES[n] for n in extra]:
            if p.name in skip:
                continue
            outputs = p.run(outputs)
            if check:
                verify(outputs, after=p.name)
    return outputs
