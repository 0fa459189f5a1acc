"""One error hierarchy for everything graphcomp raises on purpose.

Each class also derives from the built-in exception users already catch, so
``except ValueError`` keeps working.

Example:
    >>> import graphcomp as gc
    >>> try:
    ...     gc.Variable("a", (3, 4)) @ gc.Variable("b", (5, 6))
    ... except gc.ShapeError as e:
    ...     print(str(e).split(";")[0])
    matmul: shapes (3, 4) and (5, 6) are not aligned (4 != 5)
"""

from __future__ import annotations

import threading


class GraphError(Exception):
    """Base class of every error graphcomp raises on purpose.

    ``site`` is the user's file:line the error points at, when known.
    """

    site = None


class ArgumentError(GraphError, TypeError, ValueError):
    """A graphcomp function was called with an argument of the wrong kind or value."""


class ShapeError(GraphError, ValueError):
    """An op was given shapes (or axes) it cannot combine."""


class DTypeError(GraphError, TypeError):
    """An op was given a dtype it cannot work with."""


class InputError(GraphError, ValueError):
    """A fed value is missing, unknown or does not match its Variable."""


class InputTypeError(InputError, TypeError):
    """A fed value's dtype cannot be converted losslessly to its Variable's."""


class SignatureError(InputError, TypeError):
    """A compiled Function was called with the wrong arguments."""


class GradientError(GraphError, ValueError):
    """A gradient was asked that does not exist (disconnected, non-scalar cost)."""


class NonDifferentiableError(GradientError, TypeError):
    """A gradient was asked with respect to, or through, an integer or boolean value."""


class NotInGraphError(GraphError, LookupError):
    """A node was looked up in a Graph that does not hold it."""


class NonFiniteError(GraphError, FloatingPointError):
    """``check_finite=True`` found a node whose output holds NaN or Inf."""


class BpropError(GraphError, RuntimeError):
    """An op's bprop returned a gradient of the wrong shape or kind (a bug in that op)."""


class EvaluationError(GraphError):
    """An op failed while running; the message names the node, its inputs' shapes
    and dtypes, what went wrong and where the node was built.

    What is raised also derives from the built-in category of the op's own
    exception, as NumPy and PyTensor raise it: a shape or value problem is a
    ``ValueError``, an index out of range an ``IndexError``; an exception of no
    more specific category is a ``RuntimeError``. ``node`` is the failing node,
    ``__cause__`` the op's exception.

    Example:
        >>> import numpy as np, graphcomp as gc
        >>> a, b = gc.Variable("a", (None, 4)), gc.Variable("b", (None, 3))
        >>> try:
        ...     gc.evaluate(a @ b, {a: np.ones((2, 4)), b: np.ones((5, 3))})
        ... except ValueError as e:
        ...     print(isinstance(e, gc.EvaluationError), e.node.owner.op.name)
        True matmul
    """

    node = None

    @classmethod
    def of(cls, error: BaseException) -> type[EvaluationError]:
        """The EvaluationError class that also derives from ``error``'s built-in
        categories (the most specific built-in classes among its bases).

        Example:
            >>> cls = EvaluationError.of(IndexError("k"))
            >>> issubclass(cls, EvaluationError), issubclass(cls, IndexError), issubclass(cls, RuntimeError)
            (True, True, False)
        """
        return _evaluation_class(_builtin_kinds(type(error)))

    def __reduce__(self):
        return _rebuild_evaluation_error, (self.__class__.__bases__[1:], self.args)


def _builtin_kinds(kind: type) -> tuple[type, ...]:
    """The most specific built-in exception classes ``kind`` derives from."""
    found = [c for c in kind.__mro__ if c.__module__ == "builtins" and c not in (BaseException, Exception, object)]
    specific = tuple(c for c in found if not any(o is not c and issubclass(o, c) for o in found))
    return specific or (RuntimeError,)


_evaluation_classes: dict[tuple[type, ...], type] = {}


def _evaluation_class(kinds: tuple[type, ...]) -> type:
    hit = _evaluation_classes.get(kinds)
    if hit is None:
        try:
            hit = type("EvaluationError", (EvaluationError, *kinds), {"__module__": __name__})
        except TypeError:  # a built-in with its own instance layout (OSError's): no common subclass
            hit = _evaluation_class((RuntimeError,)) if kinds != (RuntimeError,) else None
            if hit is None:
                raise
        hit.__qualname__ = "EvaluationError"
        _evaluation_classes[kinds] = hit
    return hit


def _rebuild_evaluation_error(kinds: tuple[type, ...], args: tuple) -> EvaluationError:
    return _evaluation_class(kinds)(*args)


class NodeWarning(RuntimeWarning):
    """A NumPy floating-point warning (``log`` of a negative, a division by zero,
    an overflow) raised while a node ran, said again naming the node and the
    line that built it (NumPy's text, then ``(node log, built at model.py:12)``);
    shown at that line. A node of a gradient also names the forward op whose
    gradient it is part of (``(node divide, built at model.py:14, in the gradient
    of log built at model.py:12)``: 14 is the ``gc.grad`` line). ``node`` is the
    node, ``text`` NumPy's own message. A ``RuntimeWarning``, so filters for those apply.

    Example:
        >>> import warnings, numpy as np, graphcomp as gc
        >>> x = gc.Variable("x", (2,))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always", gc.NodeWarning)
        ...     _ = gc.evaluate(gc.log(x), {x: np.array([1.0, -1.0])})
        >>> w = caught[0].message
        >>> type(w).__name__, w.node.owner.op.name, w.text
        ('NodeWarning', 'log', 'invalid value encountered in log')
    """

    node = None
    text = ""


class named:  # noqa: N801 - used as a context manager, like contextlib's
    """Say which public function a feed problem came from: an ``InputError`` raised
    inside (a value missing or of the wrong shape, found by the evaluation that
    function runs) is raised again, of the same class, its message beginning
    ``who: ``. Only the outermost ``named`` block says it, so a function that calls
    another names itself, as the user called it.

    Example:
        >>> import graphcomp as gc
        >>> x = gc.Variable("x")
        >>> try:
        ...     with named("to_dot"):
        ...         gc.evaluate(x * 2.0, {})
        ... except gc.InputError as e:
        ...     print(str(e).split(" (")[0])
        to_dot: no value was fed for input 'x'
    """

    _depth = threading.local()

    def __init__(self, who: str):
        self.who = who

    def __enter__(self):
        self._depth.n = getattr(self._depth, "n", 0) + 1
        return self

    def __exit__(self, kind, error, tb):
        self._depth.n -= 1
        if self._depth.n or not isinstance(error, InputError) or str(error).startswith(f"{self.who}:"):
            return False
        again = type(error)(f"{self.who}: {error}")
        again.site = error.site
        raise again.with_traceback(tb) from error.__cause__
