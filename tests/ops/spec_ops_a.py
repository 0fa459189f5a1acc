"""Spec rows for the ops of issue #16 part A: erf, log_sigmoid, floor, ceil, round,
clip, arctan2, zeros/ones/full/eye/arange, flip and pad.

Every reference is plain NumPy or mpmath (erf: NumPy has none, and graphcomp's
goes through C's erf, so the reference must not). Domains keep finite
differences away from kinks and jumps: rounding ops get fractional parts far
from their jumps, clip gets values far from its bounds.
"""

from __future__ import annotations

import mpmath
import numpy as np

import graphcomp as gc
from graphcomp.ops.creation import Full
from tests.ops.spec import normal, spec

# -- elementwise ----------------------------------------------------------------------------------


def erf_reference(x):
    """erf by mpmath at 30 digits, in the dtype NumPy's float ufuncs give (np.sin's)."""
    x = np.asarray(x)
    with mpmath.workdps(30):
        out = np.array([float(mpmath.erf(mpmath.mpf(float(v)))) for v in x.ravel()]).reshape(x.shape)
    return out.astype(np.sin(np.zeros(1, x.dtype)).dtype)


def _log_sigmoid(x):
    return -np.logaddexp(0, -x)


def wide(rng, shape):
    """Both tails and the middle: log_sigmoid and erf are checked where they bend and where they flatten."""
    return rng.uniform(-6.0, 6.0, shape)


def integer_plus(low, high):
    """Integers plus a fractional part in [low, high]: away from the jumps of floor and ceil
    (fractions 0 and 1) or of round (fraction 0.5), so finite differences see the flat parts."""

    def draw(rng, shape):
        frac = rng.uniform(low, high, shape)
        return rng.integers(-4, 5, shape) + np.where(rng.random(shape) < 0.5, frac, 1.0 - frac)

    return draw


for shape in [(), (3,), (2, 3, 4)]:
    spec(f"erf{shape}", gc.erf, erf_reference, [shape], wide, second=True)
    spec(f"log_sigmoid{shape}", gc.log_sigmoid, _log_sigmoid, [shape], wide, second=True)
    spec(f"floor{shape}", gc.floor, np.floor, [shape], integer_plus(0.2, 0.8), second=True)
    spec(f"ceil{shape}", gc.ceil, np.ceil, [shape], integer_plus(0.2, 0.8), second=True)
    spec(f"round{shape}", gc.round, np.round, [shape], integer_plus(0.1, 0.4), second=True)
spec("erf-int", gc.erf, erf_reference, [(4,)], lambda rng, shape: rng.integers(-3, 4, shape), dtypes=["int64"],
     grad=False)  # fmt: skip
spec("erf-float32", gc.erf, erf_reference, [(3,)], wide, dtypes=["float32"], grad=False)
spec("log_sigmoid-float32", gc.log_sigmoid, _log_sigmoid, [(3,)], wide, dtypes=["float32"], grad=False)
for name, fn, ref in [("floor", gc.floor, np.floor), ("ceil", gc.ceil, np.ceil), ("round", gc.round, np.round)]:
    spec(f"{name}-int", fn, ref, [(4,)], lambda rng, shape: rng.integers(-9, 9, shape), dtypes=["int64"], grad=False)

# -- arctan2: broadcasting, random points (never the origin) ------------------------------------------

for a, b in [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((2, 1, 4), (3, 1))]:
    spec(f"arctan2{a}{b}", gc.arctan2, np.arctan2, [a, b], normal, second=True)
spec("arctan2-python-number", lambda y: gc.arctan2(y, -2.0), lambda y: np.arctan2(y, -2.0), [(3,)], second=True)
spec("arctan2-float32", gc.arctan2, np.arctan2, [(3,), (3,)], normal, dtypes=["float32", "float32"], grad=False)

# -- clip: x kept 0.1 or more from its bounds, so each element stays on one side -----------------------


def away_from_unit_bounds(rng, shape):
    """Values in [-2, -1.2], [-0.8, 0.8] or [1.2, 2]: never within 0.1 of a bound in [-1.1, -0.9] or [0.9, 1.1]."""
    region = rng.integers(0, 3, shape)
    return np.choose(region, [rng.uniform(-2, -1.2, shape), rng.uniform(-0.8, 0.8, shape), rng.uniform(1.2, 2, shape)])


def near(value):
    return lambda rng, shape: rng.uniform(value - 0.1, value + 0.1, shape)


spec("clip-numbers", lambda x: gc.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0), [(3, 4)], away_from_unit_bounds,
     second=True)  # fmt: skip
spec("clip-variable-bounds", gc.clip, np.clip, [(3, 4), (4,), ()], [away_from_unit_bounds, near(-1.0), near(1.0)],
     second=True)  # fmt: skip
# a_min > a_max: every element is a_max, whose gradient is then G everywhere
spec("clip-crossed-bounds", gc.clip, np.clip, [(3, 4), (), (4,)], [away_from_unit_bounds, near(1.0), near(-1.0)],
     second=True)  # fmt: skip
spec("clip-no-lower", lambda x, hi: gc.clip(x, None, hi), lambda x, hi: np.clip(x, None, hi), [(5,), ()],
     [away_from_unit_bounds, near(1.0)], second=True)  # fmt: skip
spec("clip-no-upper", lambda x: gc.clip(x, -1.0, None), lambda x: np.clip(x, -1.0, None), [(5,)],
     away_from_unit_bounds)  # fmt: skip
spec("clip-int", lambda x: gc.clip(x, 0, 5), lambda x: np.clip(x, 0, 5), [(6,)],
     lambda rng, shape: rng.integers(-9, 9, shape), dtypes=["int64"], grad=False)  # fmt: skip
spec("clip-int-by-float", lambda x: gc.clip(x, 0.5, None), lambda x: np.clip(x, 0.5, None), [(6,)],
     lambda rng, shape: rng.integers(-9, 9, shape), dtypes=["int64"], grad=False)  # fmt: skip
spec("clip-float32", lambda x: gc.clip(x, -1.0, 1.0), lambda x: np.clip(x, np.float32(-1), np.float32(1)), [(5,)],
     away_from_unit_bounds, dtypes=["float32"], grad=False)  # fmt: skip

# -- creation: NumPy's values and dtypes, and a gradient through a sum with them ------------------------

spec("zeros", lambda: gc.zeros((2, 3)), lambda: np.zeros((2, 3)), [], grad=False)
spec("zeros-int", lambda: gc.zeros(4, "int32"), lambda: np.zeros(4, "int32"), [], grad=False)
spec("ones-plus-x", lambda x: gc.ones((2, 3)) * x, lambda x: np.ones((2, 3)) * x, [(3,)], second=True)
spec("full-int", lambda: gc.full((2, 2), 7), lambda: np.full((2, 2), 7), [], grad=False)
spec("full-float", lambda: gc.full(3, -0.5), lambda: np.full(3, -0.5), [], grad=False)
spec("full-bool", lambda: gc.full((2,), True), lambda: np.full((2,), True), [], grad=False)
spec("full-dtype", lambda: gc.full((2,), 3, "float32"), lambda: np.full((2,), 3, "float32"), [], grad=False)
# the op underneath, with a Variable fill value: its gradient is the sum of G
spec("full-of-variable", lambda v: Full((2, 3))(v), lambda v: np.full((2, 3), v), [()], second=True)
spec("eye", lambda: gc.eye(3), lambda: np.eye(3), [], grad=False)
spec("eye-rect-k", lambda x: gc.eye(2, 4, k=1) @ x, lambda x: np.eye(2, 4, k=1) @ x, [(4, 3)], second=True)
spec("eye-int", lambda: gc.eye(3, 2, "int64", k=-1), lambda: np.eye(3, 2, k=-1, dtype="int64"), [], grad=False)
for args in [(5,), (2, 9, 3), (5.0,), (1.0, 2.0, 0.1), (10, 0, -3), (-3.5, 7.25, 0.3), (0, 1, 0.5)]:
    spec(f"arange{args}", lambda args=args: gc.arange(*args), lambda args=args: np.arange(*args), [], grad=False)
spec("arange-dtype", lambda: gc.arange(0, 6, 2, "float32"), lambda: np.arange(0, 6, 2, dtype="float32"), [],
     grad=False)  # fmt: skip
spec("arange-times-x", lambda x: gc.arange(4.0) * x, lambda x: np.arange(4.0) * x, [(4,)], second=True)

# -- flip and pad ---------------------------------------------------------------------------------------------

for axis in [None, 0, -1, (0, 2), ()]:
    spec(f"flip-axis{axis}", lambda x, axis=axis: gc.flip(x, axis), lambda x, axis=axis: np.flip(x, axis),
         [(2, 3, 4)], second=True)  # fmt: skip
spec("flip-int", lambda x: gc.flip(x, 0), lambda x: np.flip(x, 0), [(3,)], lambda rng, shape: rng.integers(0, 9, shape),
     dtypes=["int64"], grad=False)  # fmt: skip

PAD_WIDTHS = [
    ("one-int", 1),
    ("one-tuple", (2,)),
    ("pair-for-all", (1, 2)),
    ("pair-per-axis", ((1, 0), (0, 2))),
    ("one-pair-nested", ((0, 3),)),
    ("int-per-axis", ((1,), (2,))),
    ("zero", 0),
]
for name, widths in PAD_WIDTHS:
    spec(f"pad-{name}", lambda x, w=widths: gc.pad(x, w), lambda x, w=widths: np.pad(x, w), [(2, 3)], second=True)
spec("pad-constant", lambda x: gc.pad(x, ((1, 1), (0, 2)), constant_values=-2.5),
     lambda x: np.pad(x, ((1, 1), (0, 2)), constant_values=-2.5), [(2, 3)], second=True)  # fmt: skip
spec("pad-variable-constant", lambda x, c: gc.pad(x, ((1, 0), (2, 1)), constant_values=c),
     lambda x, c: np.pad(x, ((1, 0), (2, 1)), constant_values=c), [(2, 3), ()], second=True)  # fmt: skip
spec("pad-3d", lambda x: gc.pad(x, ((0, 1), (2, 0), (1, 1))), lambda x: np.pad(x, ((0, 1), (2, 0), (1, 1))),
     [(2, 3, 2)], second=True)  # fmt: skip
spec("pad-int", lambda x: gc.pad(x, 1, constant_values=7), lambda x: np.pad(x, 1, constant_values=7), [(3,)],
     lambda rng, shape: rng.integers(0, 9, shape), dtypes=["int64"], grad=False)  # fmt: skip
spec("pad-float32", lambda x: gc.pad(x, (1, 2), constant_values=0.1), lambda x: np.pad(x, (1, 2), constant_values=0.1),
     [(3,)], dtypes=["float32"], grad=False)  # fmt: skip
