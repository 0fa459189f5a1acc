"""NumPy's floating-point warnings, said again naming the node that was running.

A warnings filter's message pattern is asked ``.match(text)`` only when a warning
is issued, so a pattern object of ours sees every NumPy floating-point warning
and nothing runs while none is: the compiled hot path stays as it is. Ours goes
first when graphcomp is imported and whenever a graph is scheduled; the warning
it says again then meets every filter set before (``-W error`` raises it, as an
EvaluationError naming the node; a filter on NumPy's text matches, since ours
begins with it). A filter set after that comes first and sees NumPy's own warning.

The node is found from the frame that issued the warning, walking up: a run loop
registered with :func:`register_run_loop` holds it in its local ``v``; generated
code maps its line to it through its module's ``__graphcomp_lines__``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import warnings

import numpy as np

from graphcomp.core.node import Variable
from graphcomp.errors import NodeWarning

__all__ = ["install_warning_filter", "register_run_loop"]

_FP_WARNING = re.compile(r"(divide by zero|invalid value|overflow|underflow) encountered in ")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NUMPY = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_run_codes: set = set()  # code objects of the interpreter's loops (their local ``v`` is the running node)
_state = threading.local()  # set while a warning is said again: that one passes through
_registries: dict[str, dict] = {}  # per user file, so each node's warning shows once by default


def register_run_loop(*functions) -> None:
    """Declare ``functions`` loops that run one node at a time, holding it in their local ``v``.

    Example:
        >>> def loop(steps):
        ...     for v in steps:
        ...         pass
        >>> register_run_loop(loop)
        >>> loop.__code__ in _run_codes
        True
    """
    _run_codes.update(f.__code__ for f in functions)


def _running_node(frame) -> Variable | None:
    """The node whose op was running in ``frame`` (the one that issued the
    warning) or one of its callers inside graphcomp or NumPy; None when user code
    raised it (then it is the user's warning, left alone)."""
    for _ in range(16):
        if frame is None:
            return None
        code = frame.f_code
        if code in _run_codes:
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


def _gradient_of(v: Variable) -> str:
    """``, in the gradient of log built at model.py:3`` for a node build_grad inserted
    (its provenance's grad_of): the forward op whose bprop the user wrote."""
    of = v.grad_of
    if not isinstance(of, Variable):
        return ""
    what = of.owner.op.label() if of.owner is not None else of.label()
    return f", in the gradient of {what} built at {of.site}"


class _SayWhichNode:
    """The filter's message pattern: says a NumPy warning again, naming the node."""

    def match(self, text: str) -> bool:
        if getattr(_state, "busy", False) or not isinstance(text, str) or not _FP_WARNING.match(text):
            return False
        v = _running_node(sys._getframe(1))
        if not isinstance(v, Variable) or v.owner is None:
            return False
        w = NodeWarning(f"{text} (node {v.owner.op.label()}, built at {v.site}{_gradient_of(v)})")
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
