"""Replaying build_grad: each recorded step of Algorithm 6.6 as a sentence."""

from __future__ import annotations

from collections.abc import Iterator

from graphcomp.autodiff.build_grad import TraceStep

__all__ = ["describe_step", "format_trace", "replay"]


def _name(v) -> str:
    if v is None:
        return "?"
    if v.name:
        return v.name
    if v.owner is not None:
        return f"{v.owner.op.name}#{v.id}"
    return v.label()


def describe_step(step: TraceStep) -> str:
    """One step of Algorithm 6.6 in words.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> r = gc.backprop(gc.exp(x), [x], trace=True)
        >>> describe_step(r.trace[0])
        'build_grad(x): its consumers in G′ are [exp#...]'
    """
    v = _name(step.variable)
    if step.kind == "visit":
        cons = ", ".join(_name(c) for c in step.consumers)
        return f"build_grad({v}): its consumers in G′ are [{cons}]"
    if step.kind == "contribution":
        op = step.consumer.owner.op.name
        return f"  term += {op}.bprop(get_inputs({_name(step.consumer)}), {v}, D)  -> {_name(step.term)}"
    if step.kind == "blocked":
        return f"  no term from {_name(step.consumer)} ({step.note})"
    if step.kind == "sum":
        return f"  grad_table[{v}] = {_name(step.term)}  ({step.note})"
    if step.kind == "memo":
        return f"build_grad({v}): already in grad_table (memo hit)"
    return f"{step.kind} {v}"


def format_trace(trace: list[TraceStep]) -> str:
    """The whole trace, one step a line.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> print(format_trace(gc.backprop(x * x, [x], trace=True).trace).splitlines()[0])
        build_grad(x): its consumers in G′ are [multiply#...]
    """
    return "\n".join(describe_step(s) for s in trace)


def replay(trace: list[TraceStep]) -> Iterator[tuple[int, TraceStep, str]]:
    """Step through a trace: yields (step number, step, sentence), for notebooks.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> steps = list(replay(gc.backprop(gc.sin(x), [x], trace=True).trace))
        >>> steps[-1][2].startswith("  grad_table[x]")
        True
    """
    for k, step in enumerate(trace):
        yield k, step, describe_step(step)
