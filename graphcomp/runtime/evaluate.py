"""The interpreter: run the needed nodes in topological order, freeing each
intermediate value after its last use (as JAX's ``eval_jaxpr``)."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
import warnings
from collections.abc import Mapping

import numpy as np

from graphcomp.core.gcpause import gc_paused
from graphcomp.core.node import Variable
from graphcomp.core.traverse import ancestors, as_variable_list, topological
from graphcomp.core.types import fmt_shape
from graphcomp.errors import EvaluationError, NodeWarning, NonFiniteError
from graphcomp.runtime.feed import bind_feed

__all__ = ["Plan", "evaluate", "EvaluationError", "all_finite", "op_failure"]


@dataclasses.dataclass
class Plan:
    """A schedule for computing ``outputs``: which inputs are fed, which
    constants are read, and for each op node its inputs and what dies after it."""

    outputs: list[Variable]
    inputs: list[Variable]
    constants: list[Variable]
    parameters: list[Variable]
    steps: list[tuple]  # (variable, forward, input variables, variables to free)
    order: list[Variable] = dataclasses.field(default_factory=list, repr=False)  # every Variable, topologically

    @classmethod
    def build(cls, outputs: list[Variable]) -> Plan:
        """Schedule ``outputs``: topological order and last uses.

        Example:
            >>> import graphcomp as gc
            >>> x = gc.Variable("x"); y = gc.exp(x) * 2.0
            >>> [s[0].owner.op.name for s in Plan.build([y]).steps]
            ['exp', 'multiply']
        """
        install_warning_filter()  # so NumPy's warnings while it runs name the node
        with gc_paused():
            return cls._build(outputs)

    @classmethod
    def _build(cls, outputs: list[Variable]) -> Plan:
        order = topological(ancestors(outputs))
        inputs = [v for v in order if v.kind == "input"]
        constants = [v for v in order if v.kind == "constant"]
        parameters = [v for v in order if v.kind == "parameter"]
        computed = [v for v in order if v.owner is not None]
        keep = set(outputs)
        last: dict[Variable, int] = {}
        for k, v in enumerate(computed):
            for i in v.owner.inputs:
                last[i] = k
        dies: list[list[Variable]] = [[] for _ in computed]
        for v, k in last.items():
            if v not in keep:
                dies[k].append(v)
        steps = [(v, v.owner.op.forward, v.owner.inputs, dies[k]) for k, v in enumerate(computed)]
        return cls(list(outputs), inputs, constants, parameters, steps, order)

    def run(self, env: dict, check_finite: bool = False) -> list:
        """Run the schedule on ``env`` (inputs bound) and return the outputs' values."""
        if check_finite:
            return self._run_checked(env)
        for c in self.constants:
            env[c] = c.value
        for p in self.parameters:  # the value current at this call
            env[p] = p.value
        for step in self.steps:
            v, forward, ins, dies = step
            try:
                env[v] = forward(*[env[i] for i in ins])
            except Exception as e:
                raise op_failure(v, [env.get(i) for i in ins], e) from e
            for d in dies:
                del env[d]
        return [env[o] for o in self.outputs]

    def _run_checked(self, env: dict) -> list:
        """The same loop, stopping at the first op whose output holds NaN or Inf."""
        for c in self.constants:
            env[c] = c.value
        for p in self.parameters:  # the value current at this call
            env[p] = p.value
        for v, forward, ins, dies in self.steps:
            args = [env[i] for i in ins]
            try:
                with np.errstate(all="ignore"):
                    out = forward(*args)
            except Exception as e:
                raise op_failure(v, args, e) from e
            if not all_finite(out):
                raise _non_finite(v, args, out)
            env[v] = out
            for d in dies:
                del env[d]
        return [env[o] for o in self.outputs]


def all_finite(a) -> bool:
    """True unless ``a`` is a float or complex array holding NaN or Inf.

    Example:
        >>> all_finite([1.0, float("inf")]), all_finite([1, 2])
        (False, True)
    """
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _describe(a) -> str:
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or a.size == 0:
        return f"{fmt_shape(a.shape)} {a.dtype}"
    finite = np.isfinite(a)
    bad = int(a.size - np.count_nonzero(finite))
    lo, hi = (float(a[finite].min()), float(a[finite].max())) if bad < a.size else (float("nan"), float("nan"))
    return f"{fmt_shape(a.shape)} {a.dtype} min {lo:.4g} max {hi:.4g}, {bad} non-finite"


def _non_finite(v: Variable, args: list, out) -> NonFiniteError:
    a = np.asarray(out)
    bad = int(a.size - np.count_nonzero(np.isfinite(a)))
    kinds = "/".join(k for k, f in (("nan", np.isnan), ("inf", np.isinf)) if f(a).any())
    ins = "; ".join(f"{i._label()}: {_describe(x)}" for i, x in zip(v.owner.inputs, args))
    e = NonFiniteError(
        f"{v.owner.op.label()} produced {kinds} in {bad} of {a.size} element(s), the first non-finite "
        f"value in the graph; its inputs: {ins}; built at {v.site}"
    )
    e.site = v.site
    e.node = v
    return e


def op_failure(v: Variable, values: list, error: Exception) -> EvaluationError:
    """The error for node ``v`` failing on input ``values``: its op, its inputs'
    shapes and dtypes, the op's exception and where ``v`` was built.

    It is an ``EvaluationError`` that keeps the built-in category of ``error``
    (``ValueError`` for NumPy's shape mismatches, ``IndexError`` for an index out
    of range), so code catching what NumPy raises keeps working.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> e = op_failure(gc.exp(x), [np.ones(2)], ValueError("bad"))
        >>> isinstance(e, ValueError), str(e).split(";")[0]
        (True, 'exp failed on inputs (x: (2,) float64): ValueError: bad')
    """
    shapes = ", ".join(f"{i._label()}: {_shape_dtype(a)}" for i, a in zip(v.owner.inputs, values))
    e = EvaluationError.of(error)(
        f"{v.owner.op.label()} failed on inputs ({shapes}): {type(error).__name__}: {error}; built at {v.site}"
    )
    e.site = v.site
    e.node = v
    return e


def _shape_dtype(a) -> str:
    if a is None:  # a value the failing line's frame no longer holds
        return "?"
    try:
        return f"{fmt_shape(np.shape(a))} {np.result_type(a)}"
    except Exception:  # a ragged list or an object the op was never meant to get
        return type(a).__name__


def evaluate(outputs: Variable | list[Variable], feed: Mapping | None = None, *, check_finite: bool = False):
    """Interpret the graph: returns an array for one output, a list for a list.

    ``feed`` maps input Variables (or their names) to values; only the nodes
    the outputs need are run, each intermediate freed after its last use.
    With ``check_finite=True`` evaluation stops at the first node whose
    output holds NaN or Inf and raises ``gc.NonFiniteError`` naming it, its
    inputs (shape, min, max, non-finite count) and where it was built.

    Example:
        >>> import graphcomp as gc
        >>> x, z = gc.Variable("x"), gc.Variable("z")
        >>> float(gc.evaluate(x * z + 1, {x: 2.0, "z": 3.0}))
        7.0
    """
    outs, single = as_variable_list(outputs)
    plan = Plan.build(outs)
    values = plan.run(bind_feed(plan.inputs, feed), check_finite)
    return values[0] if single else values


# -- NumPy's warnings, said again naming the node -----------------------------------------------------------------
#
# A warnings filter's message pattern is asked ``.match(text)`` only when a warning
# is issued, so a pattern object of ours sees every NumPy floating-point warning
# and nothing runs while none is: the compiled hot path stays as it is. Ours goes
# first when graphcomp is imported; the warning it says again then meets every
# filter set before (``-W error`` raises it, as an EvaluationError naming the
# node; a filter on NumPy's text matches, since ours begins with it). A filter set
# after the import comes first and sees NumPy's own warning.

_FP_WARNING = re.compile(r"(divide by zero|invalid value|overflow|underflow) encountered in ")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NUMPY = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_RUN_CODES = frozenset({Plan.run.__code__, Plan._run_checked.__code__})
_state = threading.local()  # set while a warning is said again: that one passes through
_registries: dict[str, dict] = {}  # per user file, so each node's warning shows once by default


def _running_node(frame) -> Variable | None:
    """The node whose op was running in ``frame`` (the one that issued the
    warning) or one of its callers inside graphcomp or NumPy; None when user code
    raised it (then it is the user's warning, left alone)."""
    for _ in range(16):
        if frame is None:
            return None
        code = frame.f_code
        if code in _RUN_CODES:
            return frame.f_locals.get("v")
        lines = frame.f_globals.get("__graphcomp_lines__")
        if lines is not None:
            info = lines.get(frame.f_lineno)
            return None if info is None else info.node(frame.f_locals.get("_t"))
        name = code.co_filename
        if not (name.startswith(_PACKAGE) or name.startswith(_NUMPY) or name.startswith("<")):
            return None
        frame = frame.f_back
    return None


class _SayWhichNode:
    """The filter's message pattern: says a NumPy warning again, naming the node."""

    def match(self, text: str) -> bool:
        if getattr(_state, "busy", False) or not isinstance(text, str) or not _FP_WARNING.match(text):
            return False
        v = _running_node(sys._getframe(1))
        if not isinstance(v, Variable) or v.owner is None:
            return False
        w = NodeWarning(f"{text} (node {v.owner.op.label()}, built at {v.site})")
        w.node, w.text = v, text
        site = v.site
        _state.busy = True
        try:
            warnings.warn_explicit(w, NodeWarning, site.filename, site.line, registry=_registries.setdefault(
                site.filename, {}))  # fmt: skip
        finally:
            _state.busy = False
        return True  # NumPy's own, which points into graphcomp, is then ignored


_SAY_WHICH_NODE = _SayWhichNode()


def install_warning_filter() -> None:
    """Put graphcomp's filter first in ``warnings.filters`` unless it is there.

    Done on import and whenever a graph is scheduled (``evaluate``, ``compile``),
    since ``warnings.catch_warnings`` (pytest wraps each test in one) restores the
    list it found on entry when it exits.

    Example:
        >>> import warnings
        >>> install_warning_filter()
        >>> sum(f[1] is _SAY_WHICH_NODE for f in warnings.filters)
        1
    """
    for f in warnings.filters:
        if f[1] is _SAY_WHICH_NODE:
            return
    # filterwarnings bumps the filters' version (stale "already shown" records are
    # dropped); its placeholder pattern is then swapped for ours
    warnings.filterwarnings("ignore", message="graphcomp-node-warning", category=RuntimeWarning)
    for k, f in enumerate(warnings.filters):
        if f[0] == "ignore" and getattr(f[1], "pattern", None) == "graphcomp-node-warning":
            warnings.filters[k] = ("ignore", _SAY_WHICH_NODE, RuntimeWarning, None, 0)
            break


install_warning_filter()
