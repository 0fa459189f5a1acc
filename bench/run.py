"""Benchmarks: every system must compute the same numbers, then medians and
ratios against hand-written references measured in the same run.

Run with ``make bench`` (which pins BLAS and OpenMP to one thread).

W1 (scalar): the lecture's y = exp(xz) + xz/log(x) + sin(log(x))/(xz) at
x=2, z=3 with dy/dx and dy/dz; the reference is the lecture's hand
derivation in plain Python with ``math``.
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphcomp as gc  # noqa: E402


def w1_hand(x, z):
    """The lecture's forward and backward pass, line by line."""
    a = x * z
    b = math.log(x)
    c = math.sin(b)
    d = math.exp(a)
    e = a / b
    f = c / a
    y = d + e + f
    dy_dc = 1 / a
    dy_db = -a / b**2 + dy_dc * math.cos(b)
    dy_da = -c / a**2 + 1 / b + d
    return y, dy_da * z + dy_db / x, dy_da * x


def w1_graph():
    x, z = gc.Variable("x"), gc.Variable("z")
    y = gc.exp(x * z) + x * z / gc.log(x) + gc.sin(gc.log(x)) / (x * z)
    dx, dz = gc.grad(y, [x, z])
    return x, z, [y, dx, dz]


def median_seconds(fn, repeat=7):
    number, _ = timeit.Timer(fn).autorange()
    return statistics.median(t / number for t in timeit.repeat(fn, repeat=repeat, number=number))


def main() -> int:
    x, z, outs = w1_graph()
    f = gc.compile(outs, [x, z])
    systems = {
        "hand (plain Python + math)": lambda: w1_hand(2.0, 3.0),
        "graphcomp evaluate": lambda: gc.evaluate(outs, {x: 2.0, z: 3.0}),
        "graphcomp compile": lambda: f(2.0, 3.0),
    }
    want = np.array(w1_hand(2.0, 3.0))
    for name, fn in systems.items():
        got = np.array([float(v) for v in fn()])
        if not np.allclose(got, want, rtol=1e-12):
            print(f"{name} computed {got}, the reference {want}: not timed", file=sys.stderr)
            return 1
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, single-threaded")  # fmt: skip
    print("\nW1 scalar (seed example: y, dy/dx, dy/dz at x=2, z=3)")
    print(f"{'system':<30} {'median':>12} {'ratio':>8}")
    base = None
    for name, fn in systems.items():
        t = median_seconds(fn)
        base = base or t
        print(f"{name:<30} {t * 1e6:>9.2f} µs {t / base:>7.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
