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


class EvaluationError(GraphError, RuntimeError):
    """An op failed while running; the message names the node and its inputs."""
