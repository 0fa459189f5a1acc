"""Loops as graph nodes: ``gc.scan``, ``gc.fori_loop``, ``gc.map`` (the family's
``__all__``; ``graphcomp.ops.FAMILIES`` makes them ``gc.<name>``).

``tree`` handles nested carries; ``body`` holds a loop's inner graph and runs it;
``op`` is the Scan op, its projections and its gradient; ``build`` the user's
calls; ``merge`` the rewrite that runs a loop and its value-keeping copy as one;
``codegen`` the loop's lines in generated code.
"""

from graphcomp.ops.loops.build import fori_loop, map, scan  # noqa: A004

__all__ = ["fori_loop", "map", "scan"]
