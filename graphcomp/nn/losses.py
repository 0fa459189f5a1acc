"""Regression and binary-classification losses, built from graph ops (``gc.nn.mse``, ...)."""

from __future__ import annotations

import graphcomp as gc
from graphcomp.core.site import user_errors
from graphcomp.core.types import fmt_shape
from graphcomp.errors import DTypeError, ShapeError
from graphcomp.ops.base import weak_constant

__all__ = ["mse", "binary_cross_entropy_with_logits"]


def _variable(x, like: gc.Variable | None = None) -> gc.Variable:
    """``x`` as a Variable; a Python number or list next to ``like`` takes its dtype when
    its kind fits (NumPy's weak scalars, see ``graphcomp.ops.base.weak_constant``)."""
    if isinstance(x, gc.Variable):
        return x
    return gc.constant(x) if like is None else weak_constant(x, like)


def _same_shape(who: str, a: gc.Variable, b: gc.Variable, names: tuple[str, str]) -> gc.Variable:
    """``b``, checked to have ``a``'s shape: refused here when the known dimensions
    differ, and at run time (``gc.match_shape``) where unknown ones leave it open.
    What would broadcast is refused: PyTorch warns there, and it is nearly always a bug
    (a (B, 1) prediction against a (B,) target makes a (B, B) loss)."""
    same = a.ndim == b.ndim and all(p is None or q is None or p == q for p, q in zip(a.shape, b.shape))
    if not same:
        raise ShapeError(
            f"{who}: {names[0]} has shape {fmt_shape(a.shape)} and {names[1]} {fmt_shape(b.shape)}; "
            "they must be equal (nothing is broadcast)"
        )
    if None in a.shape or None in b.shape:
        return gc.match_shape(b, a, f"{who}: {names[1]} (against {names[0]})")
    return b


def _operands(pred, target) -> tuple[gc.Variable, gc.Variable]:
    """Both as Variables, a Python number or list on one side taking the other's dtype."""
    if isinstance(pred, gc.Variable) or not isinstance(target, gc.Variable):
        pred = _variable(pred)
        return pred, _variable(target, pred)
    return _variable(pred, target), target


@user_errors
def mse(pred, target) -> gc.Variable:
    """Mean squared error ``mean((pred - target)**2)`` over every entry, as
    ``torch.nn.functional.mse_loss`` (reduction ``"mean"``).

    ``pred`` and ``target`` (Variables or arrays) must have the same shape: the
    known dimensions are compared when built, the others when the graph runs
    (``gc.match_shape``); nothing is broadcast. The result is 0-d, of NumPy's
    promoted dtype, a Python number or list taking the other side's dtype (a
    float32 ``pred`` and ``[0.0, 1.0]`` give float32, see README's *dtypes*).
    Raises ShapeError for different known shapes; an EvaluationError (a
    ValueError) naming ``mse``, the target's and the prediction's shapes when
    the values' shapes differ at run time.

    Example:
        >>> import graphcomp as gc
        >>> p = gc.Variable("p", (None, 2))
        >>> float(gc.evaluate(gc.nn.mse(p, [[1.0, 2.0], [3.0, 4.0]]), {p: [[1.0, 0.0], [3.0, 5.0]]}))
        1.25
    """
    pred, target = _operands(pred, target)
    target = _same_shape("mse", pred, target, ("pred", "target"))
    return gc.mean(gc.square(pred - target))


@user_errors
def binary_cross_entropy_with_logits(logits, target, *, pos_weight=None) -> gc.Variable:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``target`` in
    [0, 1], as ``torch.nn.functional.binary_cross_entropy_with_logits``:

        mean(pos_weight * target * softplus(-logits) + (1 - target) * softplus(logits))

    which is ``-[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]`` written
    without a log of a probability: finite, with the finite gradient
    ``(sigmoid(z) - y) / size`` (for ``pos_weight`` 1), for logits of any
    finite size, in float32 as in float64 (softplus is ``logaddexp(0, x)``, and
    each term is a softplus of the side that is small when the label is
    right, so a confident right answer costs ~exp(-|z|), not 0 by cancellation).

    ``logits``: a float Variable or array; ``target``: the same shape (float,
    or bool/int labels, cast to the logits' dtype; a Python list takes the
    logits' dtype), checked when built for known dimensions and when the
    graph runs for unknown ones (nothing is broadcast); ``pos_weight``: None,
    a number or an array broadcast against the last axis (weights the
    positive term, as PyTorch's). Returns a 0-d Variable. Raises ShapeError
    for different known shapes, DTypeError for non-float logits, and an
    EvaluationError (a ValueError) naming the loss and both shapes when the
    values' shapes differ at run time.

    Example:
        >>> import graphcomp as gc
        >>> z = gc.Variable("z", (4,))
        >>> bce = gc.nn.binary_cross_entropy_with_logits(z, [1.0, 0.0, 1.0, 0.0])
        >>> feed = {z: [1000.0, -1000.0, -1000.0, 1000.0]}
        >>> float(gc.evaluate(bce, feed)), gc.evaluate(gc.grad(bce, z), feed).tolist()
        (500.0, [0.0, 0.0, -0.25, 0.25])
    """
    logits = _variable(logits)
    target = _variable(target, logits)
    if logits.dtype.kind != "f":
        raise DTypeError(
            f"binary_cross_entropy_with_logits: logits must be floats, got {logits.label()} of dtype {logits.dtype}"
        )
    target = _same_shape("binary_cross_entropy_with_logits", logits, target, ("logits", "target"))
    if target.dtype != logits.dtype and target.dtype.kind in "biu":
        target = gc.cast(target, logits.dtype)
    positive = target * gc.softplus(-logits)
    if pos_weight is not None:
        positive = _variable(pos_weight, logits) * positive
    return gc.mean(positive + (1.0 - target) * gc.softplus(logits))
