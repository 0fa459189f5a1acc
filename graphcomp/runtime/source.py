"""Turning generated lines into a function: compiled with ``exec``, registered
with ``linecache`` so tracebacks show the source, with each line mapped back to
the node it computes so a failure names that node."""

from __future__ import annotations

import itertools
import linecache

from graphcomp.errors import EvaluationError
from graphcomp.runtime.evaluate import op_failure

__all__ = ["Generated", "build"]

_counter = itertools.count()


class Generated:
    """The generated function, its source, and the map from lines back to nodes."""

    def __init__(self, fn, source: str, filename: str, lines: dict[int, object]):
        self.fn = fn
        self.source = source
        self.filename = filename
        self.lines = lines  # line number -> a roll.Line or roll.LoopLine (the node it computes)

    def failure(self, error: BaseException) -> EvaluationError | None:
        """The graphcomp error for an exception raised inside the generated code."""
        tb = error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename and tb.tb_lineno in self.lines:
                return _failure(self.lines[tb.tb_lineno], tb.tb_frame, error)
            tb = tb.tb_next
        return None


def _failure(info, frame, error: BaseException) -> EvaluationError:
    """The error naming the node a failing line computed, with its inputs' values."""
    v = info.node(frame.f_locals.get("_t"))
    values = []
    for text in info.args[: len(v.owner.inputs)]:
        try:  # the argument's text in the generated code: a name, or a list entry
            values.append(eval(text, frame.f_globals, frame.f_locals))  # our own generated text
        except Exception:
            values.append(None)
    return op_failure(v, values, error)


def build(header: str, prelude: list[str], body: list[tuple], ret: str, namespace: dict) -> Generated:
    """Compile the function ``header`` + ``prelude`` + ``body`` + ``ret`` in ``namespace``.

    ``body`` is a list of ``(line, info)``; ``info`` says which node a line
    computes (None for comments and ``del`` lines).

    Example:
        >>> g = build("def compiled(x):", [], [("y = x + 1", None)], "return (y,)", {})
        >>> g.fn(1.0), g.source.splitlines()[1]
        ((2.0,), '    y = x + 1')
    """
    lines = [header] + ["    " + p for p in prelude]
    line_of: dict[int, object] = {}
    for text, info in body:
        lines.append("    " + text)
        if info is not None:
            line_of[len(lines)] = info
    lines.append("    " + ret)
    source = "\n".join(lines) + "\n"
    filename = f"<graphcomp-compiled-{next(_counter)}>"
    namespace["__graphcomp_lines__"] = line_of  # how a NumPy warning raised on a line finds its node
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated text, never user input
    return Generated(namespace["compiled"], source, filename, line_of)
