"""Loops as graph nodes: ``gc.scan``, ``gc.fori_loop``, ``gc.map``.

``tree`` handles nested carries; ``body`` holds a loop's inner graph and runs it;
``op`` is the Scan op, its projections and its gradient; ``build`` the user's calls.
"""

from graphcomp.ops.loops.body import Body, LoopValues
from graphcomp.ops.loops.build import fori_loop, map, scan  # noqa: A004
from graphcomp.ops.loops.op import GradientInfo, Scan, ScanOutput

__all__ = ["Body", "GradientInfo", "LoopValues", "Scan", "ScanOutput", "fori_loop", "map", "scan"]
