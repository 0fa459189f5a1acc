"""Central finite differences that say when they cannot be trusted.

``gc.check_grad`` compares a bprop's directional derivative with the central
difference ``(phi(+d) - phi(-d)) / 2h`` of ``phi(t) = f(a + t v)``. That
comparison means something only where ``f`` is smooth and finite around ``a``,
and with a step that the dtype can represent. ``compare`` returns a
``Verdict``: ``"ok"``, ``"wrong"`` (the bprop disagrees with finite differences
that are trustworthy here) or ``"not checkable"`` with the reason (an input or
value that is not finite, a step that leaves the function's domain, a kink
whose one-sided differences disagree, a step that rounds to zero).

The step is relative (``h max(1, |a_i|)`` for each entry) and suited to the
dtype: about the cube root of its machine epsilon, which balances the
truncation error of central differences (``h**2 f''' / 6``) against the
rounding error (``eps f / h``) (Nocedal & Wright, *Numerical Optimization*,
2006, section 8.1). The points are rounded to the dtype, and the step actually
taken is what the bprop is compared along. The tolerance adds to ``rtol`` and
``atol`` the rounding error of both sides at that precision; where they still
disagree, a step four times smaller tells a truncation error (which shrinks 16
times), a kink (the one-sided differences keep disagreeing) and a wrong bprop
(which stays) apart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable

import numpy as np

from graphcomp.errors import ArgumentError

__all__ = ["Verdict", "defaults", "coarsest", "symmetric_step", "compare", "tolerance_argument"]

#: the step (relative to max(1, |a|)), rtol and atol used for each float dtype when not given
_DEFAULTS = {
    np.dtype(np.float16): (1e-1, 1e-2, 1e-2),
    np.dtype(np.float32): (5e-3, 1e-3, 1e-4),
    np.dtype(np.float64): (1e-6, 1e-4, 1e-6),
}
_NOISE = 4.0  # rounding errors of a sum, in machine epsilons of its largest terms


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``status`` is ``"ok"``, ``"wrong"`` or ``"not checkable"``; ``reason`` says why
    a point is not checkable; ``analytic`` and ``numeric`` are the two directional
    derivatives compared (per unit of the step)."""

    status: str
    analytic: float = math.nan
    numeric: float = math.nan
    reason: str = ""


def defaults(dtype) -> tuple[float, float, float]:
    """``(eps, rtol, atol)`` for values of ``dtype``: float16, float32 and float64's own;
    any other dtype gets float64's.

    Example:
        >>> defaults("float32")
        (0.005, 0.001, 0.0001)
    """
    return _DEFAULTS.get(np.dtype(dtype), _DEFAULTS[np.dtype(np.float64)])


def coarsest(dtypes: Iterable) -> np.dtype:
    """The float dtype of least precision among ``dtypes`` (float64 when none is a float):
    the precision a computation mixing them has.

    Example:
        >>> coarsest(["float64", "int64", "float32"])
        dtype('float32')
    """
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"]
    return max(floats, key=lambda d: np.finfo(d).eps, default=np.dtype(np.float64))


def tolerance_argument(value, what: str, *, positive: bool):
    """``None`` or a finite real number (positive or non-negative), else an ArgumentError
    naming ``what`` (``"check_grad: eps"``).

    Example:
        >>> tolerance_argument(1e-3, "check_grad: eps", positive=True)
        0.001
        >>> tolerance_argument(0, "check_grad: eps", positive=True)
        Traceback (most recent call last):
        ...
        graphcomp.errors.ArgumentError: check_grad: eps must be a positive finite number or None, got 0
    """
    if value is None:
        return None
    kind = "a positive" if positive else "a non-negative"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentError(f"{what} must be {kind} finite number or None, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ArgumentError(f"{what} must be {kind} finite number or None, got {value!r}")
    return v


def symmetric_step(a: np.ndarray, direction: np.ndarray, h: float, dtype) -> np.ndarray:
    """The step ``d`` (float64) nearest ``h * direction`` such that ``a + d`` and ``a - d``
    are both exactly values of ``dtype``: so the points are the ones evaluated and the
    step is what the bprop is compared along. Entries where no such step exists (``a``
    not finite, the step rounds to zero, an overflow) are 0: not moved.

    Example:
        >>> a = np.array([1.0, 2.0], np.float16)
        >>> symmetric_step(a, np.ones(2), 1e-5, np.float16)    # below float16's spacing
        array([0., 0.])
        >>> symmetric_step(a, np.ones(2), 0.1, np.float16)
        array([0.09960938, 0.09960938])
    """
    dtype = np.dtype(dtype)
    base = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        plus = (base + h * np.asarray(direction, dtype=np.float64)).astype(dtype).astype(np.float64)
        d = plus - base
        minus = base - d
        exact = np.isfinite(d) & np.isfinite(base) & (minus.astype(dtype).astype(np.float64) == minus)
    return np.where(exact, d, 0.0)


def compare(
    phi: Callable[[np.ndarray], tuple[float, float]],
    a: np.ndarray,
    dtype,
    direction: np.ndarray,
    g: np.ndarray,
    h: float,
    rtol: float,
    atol: float,
    precision,
    at_a: tuple[float, float],
) -> Verdict:
    """Compare ``g . v`` (the bprop's directional derivative; ``g`` the gradient at ``a``)
    with central differences of ``phi`` along ``v = direction``, steps ``h`` and ``h / 4``.

    ``phi(point)`` returns ``(value, scale)``: the scalar function at a point of
    ``dtype`` and the size of the terms summed into it (for its rounding error);
    ``at_a`` is that pair at ``a`` itself; ``precision`` the dtype the function is
    computed in.

    Example:
        >>> a = np.array([0.0, 1.0])
        >>> def relu_sum(p): return float(np.maximum(p, 0).sum()), float(np.abs(p).sum())
        >>> compare(relu_sum, a, "float64", np.ones(2), np.array([0.0, 1.0]), 1e-6, 1e-4, 1e-6,
        ...         "float64", relu_sum(a)).reason.split(":")[0]
        'non-differentiable point'
    """
    eps_m = float(np.finfo(np.dtype(precision)).eps)
    g = np.asarray(g, dtype=np.float64)
    first = _central(phi, a, dtype, direction, g, h, eps_m, at_a)
    if isinstance(first, Verdict):
        return first
    if _agree(first, rtol, atol):
        return Verdict("ok", first.analytic, first.numeric)
    second = _central(phi, a, dtype, direction, g, h / 4, eps_m, at_a)
    if isinstance(second, Verdict):
        if second.reason.startswith("the step rounds"):  # no smaller step to look closer with
            return Verdict("wrong", first.analytic, first.numeric)
        return second
    an, n = second.analytic, second.numeric
    kink = _kink(first, second, at_a[0])
    if kink is not None:
        below, above = kink
        lo, hi = min(below, above), max(below, above)
        slack = atol + rtol * max(abs(lo), abs(hi)) + second.noise
        if not math.isfinite(an) or lo - slack <= an <= hi + slack:  # a subgradient, as relu'(0) = 0 is
            return Verdict("not checkable", an, n, f"non-differentiable point: the one-sided differences "
                           f"disagree ({below:.6g} from below, {above:.6g} from above)")  # fmt: skip
        return Verdict("wrong", an, n)
    # what a 4 times smaller step changed is the h**2 error (15/16 of it), never a wrong bprop's
    truncation = abs((first.numeric - first.analytic) - (n - an)) / 15
    return Verdict("ok" if _agree(second, rtol, atol, truncation) else "wrong", an, n)


@dataclasses.dataclass
class _Difference:
    """One central difference with step ``d`` (``h`` its scale): the function at both
    points and the size of their terms, both derivatives, and their rounding error."""

    h: float
    d: np.ndarray
    plus: float
    minus: float
    scale: float
    numeric: float
    analytic: float
    noise: float


def _agree(c: _Difference, rtol: float, atol: float, extra: float = 0.0) -> bool:
    an, n = c.analytic, c.numeric
    return math.isfinite(an) and abs(an - n) <= atol + rtol * max(abs(an), abs(n)) + c.noise + extra


def _central(phi, a, dtype, direction, g, h, eps_m, at_a) -> _Difference | Verdict:
    """The central difference with step ``h``, or the Verdict saying why finite
    differences mean nothing here."""
    value, scale = at_a
    d = symmetric_step(a, direction, h, dtype)
    if np.size(d) and not np.any(d):
        return Verdict(
            "not checkable", reason=f"the step rounds to zero in {np.dtype(dtype)} (eps={h:g}): nothing moved"
        )
    if not math.isfinite(value):
        return Verdict("not checkable", reason="finite differences undefined: the value here is not finite")
    base = np.asarray(a, dtype=np.float64)
    plus, s_plus = phi((base + d).astype(dtype))
    minus, s_minus = phi((base - d).astype(dtype))
    if not (math.isfinite(plus) and math.isfinite(minus)):
        turned = plus if not math.isfinite(plus) else minus
        return Verdict("not checkable", reason=f"finite differences undefined here: a step of {h:g} leaves the "
                       f"function's domain (its value turns {turned})")  # fmt: skip
    with np.errstate(all="ignore"):
        gd = np.where(d != 0, g * d, 0.0)
        analytic = float(np.sum(gd)) / h
        terms = max(s_plus, s_minus, scale)
        noise = _NOISE * eps_m * (terms / h + float(np.sum(np.abs(gd))) / h)
    return _Difference(h, d, plus, minus, terms, (plus - minus) / (2 * h), analytic, noise)


def _kink(first: _Difference, second: _Difference, value: float) -> tuple[float, float] | None:
    """The one-sided differences ``(from below, from above)`` with the smaller step when
    they disagree beyond what a smooth function's curvature makes of them: for a smooth
    function their gap shrinks with the step (4 times here), at a kink it stays."""
    gap = abs(first.plus - 2 * value + first.minus) / first.h
    gap4 = abs(second.plus - 2 * value + second.minus) / second.h
    if gap4 <= 2 * second.noise or gap4 < 0.5 * gap:
        return None
    return (value - second.minus) / second.h, (second.plus - value) / second.h
