"""A body's values stay in the body: what ``f`` computed from the step's
placeholders cannot be used once its trace is over.

``gc.scan`` traces ``f`` on placeholders (the carry entering the step, the
slices of ``xs``, the step number). The loop node's body is a copy of what the
trace built (``graphcomp.ops.loops.build``), so the traced nodes themselves
belong to no graph: one that escapes the body (appended to a list, stored in a
global) has no value outside the loop, as a JAX tracer that leaks from
``lax.scan`` has none (JAX raises UnexpectedTracerError). Node ids grow as nodes
are built, so a trace is an interval of ids; ``seal`` records it when the trace
ends, and every op built afterwards (``graphcomp.ops.base.INPUT_CHECKS``) checks
that no input is a traced node reading a placeholder of a sealed trace:
``ArgumentError`` naming the value, the placeholder it reads, the loop's line and
the line using it. What the body computed from constants and outer values alone
reads no placeholder: it escapes harmlessly (the loop computes it once, before
the loop, anyway).
"""

from __future__ import annotations

import bisect
import threading

from graphcomp.core.node import Variable
from graphcomp.errors import ArgumentError
from graphcomp.ops.base import INPUT_CHECKS

__all__ = ["seal", "check_inputs", "placeholder_of", "escaped"]


class _Trace:
    """One finished trace: ids ``start`` .. ``end - 1``, its placeholders (id -> what
    it stands for), the loop's words and line, what is known of its nodes (id ->
    the placeholder a node reads, or None), and the trace around it."""

    __slots__ = ("start", "end", "placeholders", "what", "site", "known", "parent")

    def __init__(self, start, end, placeholders, what, site):
        self.start, self.end, self.placeholders, self.what, self.site = start, end, placeholders, what, site
        self.known: dict[int, Variable | None] = {}
        self.parent: _Trace | None = None


_lock = threading.Lock()
_starts: list[int] = []  # the sealed traces' starts, ascending
_traces: list[_Trace] = []  # in the same order
_end = [0]  # past the last id of every sealed trace: a node from there on is in none of them


def seal(start: int, end: int, placeholders: dict, what: str, site) -> None:
    """Record that the trace of ids ``start`` .. ``end - 1`` is over: from now on an op
    reading one of its nodes that reads one of ``placeholders`` (Variable -> what it
    stands for, e.g. "the slice x of xs at step t") is refused.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x"); y = x * 2.0; end = gc.Variable("end").id
        >>> seal(x.id, end, {x: "the slice x"}, "scan", "here.py:1")
        >>> try:
        ...     gc.exp(y)
        ... except gc.ArgumentError as e:
        ...     print(str(e).split(";")[0])
        exp: its input multiply was built inside the body of the scan built at here.py:1 and reads x (the slice x)
    """
    trace = _Trace(start, end, {p.id: (p, said) for p, said in placeholders.items()}, what, site)
    with _lock:
        k = bisect.bisect_left(_starts, start)
        # the traces sealed inside this one (nested loops ended first) are its children
        j = k
        while j < len(_traces) and _traces[j].start < end:
            if _traces[j].parent is None:
                _traces[j].parent = trace
            j += 1
        _starts.insert(k, start)
        _traces.insert(k, trace)
        _end[0] = max(_end[0], end)


def _innermost(i: int) -> _Trace | None:
    """The innermost sealed trace whose ids hold ``i``."""
    k = bisect.bisect_right(_starts, i) - 1
    if k < 0:
        return None
    trace = _traces[k]
    while trace is not None and not (trace.start <= i < trace.end):
        trace = trace.parent
    return trace


def _advice(trace: _Trace) -> str:
    return (
        "a body's values exist only while a step runs: return it from the body (as the step's y, "
        f"stacked over the steps, or in the carry) and use the {trace.what}'s outputs"
    )


def placeholder_of(v: Variable) -> str | None:
    """Where ``v`` comes from when it is a placeholder of a finished trace (the carry
    entering a step, a slice of xs, the step number), in words, and what to do instead;
    None for any other Variable. An output that reads one, handed straight to ``gc.evaluate``, needs it
    fed: the error says it exists only inside the loop.

    Example:
        >>> import graphcomp as gc
        >>> leaked = []
        >>> _ = gc.scan(lambda c, x: (leaked.append(x) or c + x, None), gc.constant(0.0), gc.Variable("xs", (3,)))
        >>> placeholder_of(leaked[0]).split(" of xs")[0], placeholder_of(gc.Variable("x"))
        ('the slice x', None)
    """
    if not _starts or not _starts[0] <= v.id < _end[0]:
        return None
    trace = _innermost(v.id)
    while trace is not None:
        hit = trace.placeholders.get(v.id)
        if hit is not None:
            return f"{hit[1]}, a placeholder of the body of the {trace.what} built at {trace.site}; {_advice(trace)}"
        trace = trace.parent
    return None


def _reads(trace: _Trace, v: Variable) -> Variable | None:
    """The placeholder of ``trace`` that ``v`` reads, or None (walking back only
    through nodes of the trace: older nodes cannot read its placeholders)."""
    known = trace.known
    if v.id in known:
        return known[v.id]
    seen, stack = {v.id}, [v]
    found = None
    while stack:
        u = stack.pop()
        hit = trace.placeholders.get(u.id)
        if hit is not None:
            found = hit[0]
            break
        if known.get(u.id) is not None:
            found = known[u.id]
            break
        if u.owner is None or u.id in known:
            continue
        for i in u.owner.inputs:
            if i.id >= trace.start and i.id not in seen:
                seen.add(i.id)
                stack.append(i)
    if found is None:
        for i in seen:  # nothing they read is a placeholder: every one is clean
            known[i] = None
    else:
        known[v.id] = found
    return found


def check_inputs(op, inputs) -> None:
    """Refuse an input that a loop body computed from its placeholders once that
    body's trace is over (the module docstring)."""
    if not _starts:
        return
    for v in inputs:
        why = escaped(v)
        if why is not None:
            raise ArgumentError(f"{op.label()}: its input {why}")


def escaped(v: Variable) -> str | None:
    """Why ``v`` has no value outside its loop, when a finished trace computed it from a
    placeholder (where it was built, what it reads, what to do instead); None otherwise.
    ``grad`` and ``jvp`` ask this of their arguments, as every op does of its inputs.

    Example:
        >>> import graphcomp as gc
        >>> leaked = []
        >>> _ = gc.scan(lambda c, x: (leaked.append(c * x) or c + x, None), gc.constant(0.0), gc.Variable("xs", (3,)))
        >>> escaped(leaked[0]).split(" and ")[0], escaped(gc.Variable("x"))
        ('multiply was built inside the body of the scan built at <doctest ...>:1', None)
    """
    if not _starts or not _starts[0] <= v.id < _end[0]:  # most values: built before every trace, or after them all
        return None
    trace = _innermost(v.id)
    while trace is not None:
        p = _reads(trace, v)
        if p is not None:
            said = trace.placeholders[p.id][1]
            what = f"is {said}" if v is p else f"reads {p.label()} ({said})"
            return f"{v.label()} was built inside the body of the {trace.what} built at {trace.site} and {what}; " + (
                _advice(trace)
            )
        trace = trace.parent
    return None


INPUT_CHECKS.append(check_inputs)
