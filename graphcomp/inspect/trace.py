"""Replaying build_grad: each recorded step of Algorithm 6.6 as a sentence."""

from __future__ import annotations

from collections.abc import Iterator

from graphcomp.autodiff.backprop import BackpropResult
from graphcomp.autodiff.build_grad import TraceStep
from graphcomp.errors import ArgumentError
from graphcomp.inspect.arguments import numbering_or_none
from graphcomp.inspect.numbering import Numbering

__all__ = ["describe_step", "format_trace", "replay"]


def describe_step(step: TraceStep, numbering: Numbering | None = None) -> str:
    """One step of Algorithm 6.6 in words; a node is written ``op#k`` with its
    number in ``numbering`` (a ``gc.Numbering``; pass the one a printed graph
    uses, so that ``#k`` means the same node in both).

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> r = gc.backprop(gc.exp(x), [x], trace=True)
        >>> describe_step(r.trace[0], gc.Numbering(r))
        'build_grad(x): its consumers in G′ are [exp#1]'
    """
    name = (numbering if numbering is not None else _numbering([step])).describe
    text = _sentence(step, name)
    # a step of build_grad on a loop's body: marked with a bar per level of loop it is in
    return "  " + "| " * step.depth + text if step.depth else text


def _sentence(step: TraceStep, name) -> str:
    v = name(step.variable)
    if step.kind == "body":
        return (
            f"  {v}.bprop ran build_grad on its loop body (Algorithm 6.6 on one step, seeded with the "
            f"cotangents of the new carry and y; the backward loop {name(step.term)} runs it over the "
            "steps in reverse: back-propagation through time, section 10.2.2):"
        )
    if step.kind == "visit":
        cons = ", ".join(name(c) for c in step.consumers)
        return f"build_grad({v}): its consumers in G′ are [{cons}]"
    if step.kind == "contribution":
        op = step.consumer.owner.op.name
        return f"  term += {op}.bprop(get_inputs({name(step.consumer)}), {v}, D)  -> {name(step.term)}"
    if step.kind == "blocked":
        return f"  no term from {name(step.consumer)} ({step.note})"
    if step.kind == "sum":
        return f"  grad_table[{v}] = {name(step.term)}  ({step.note})"
    if step.kind == "memo":
        return f"build_grad({v}): already in grad_table (memo hit)"
    return f"{step.kind} {v}"


def _numbering(trace) -> Numbering:
    """The numbering ``dprint`` gives the cost and the gradients a trace built:
    the nodes it visits and stores first, the terms it then summed after them."""
    first = [v for s in trace for v in (s.variable, *s.consumers, s.consumer) if v is not None]
    first += [s.term for s in trace if s.kind == "sum"]
    return Numbering(first)


def format_trace(trace, numbering: Numbering | None = None) -> str:
    """The whole trace, one step a line. ``trace`` is a list of steps or a
    ``gc.backprop(..., trace=True)`` result; without ``numbering`` the nodes are
    numbered as ``dprint`` and ``to_dot`` number that result. A result built
    without ``trace=True`` recorded no steps: ``gc.ArgumentError`` says so,
    as it does for anything else that is not a trace.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> r = gc.backprop(x * x, [x], trace=True)
        >>> print(format_trace(r).splitlines()[0])
        build_grad(x): its consumers in G′ are [multiply#1]
    """

    trace, numbering = _steps(trace, numbering, "format_trace")
    return "\n".join(describe_step(s, numbering) for s in trace)


def replay(trace, numbering: Numbering | None = None) -> Iterator[tuple[int, TraceStep, str]]:
    """Step through a trace (a list of steps or a backprop result): yields
    (step number, step, sentence), for notebooks.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> steps = list(replay(gc.backprop(gc.sin(x), [x], trace=True)))
        >>> steps[-1][2].startswith("  grad_table[x]")
        True
    """

    trace, numbering = _steps(trace, numbering, "replay")
    for k, step in enumerate(trace):
        yield k, step, describe_step(step, numbering)


def _steps(trace, numbering, who: str) -> tuple[list, Numbering]:
    """The steps of ``trace`` (a list of steps or a backprop result) and the numbering
    to name their nodes by; anything else is an ArgumentError naming ``who``."""
    numbering = numbering_or_none(numbering, f"{who}: numbering")
    if isinstance(trace, BackpropResult):
        if trace.trace is None:
            raise ArgumentError(
                f"{who}: this gc.backprop result recorded no trace (it was built without trace=True); "
                "build it with gc.backprop(cost, targets, trace=True) to replay build_grad's steps"
            )
        numbering = numbering if numbering is not None else Numbering(trace)
        trace = trace.trace
    if not isinstance(trace, (list, tuple)) or not all(isinstance(s, TraceStep) for s in trace):
        raise ArgumentError(
            f"{who}: trace must be the steps gc.backprop(..., trace=True) recorded (or its result), got {trace!r}"[:300]
        )
    return list(trace), numbering if numbering is not None else _numbering(trace)
