"""Timing: interleaved rounds, ratios within a round; the agreement check before timing."""

from __future__ import annotations

import statistics
import sys
import timeit

import numpy as np
from common import torch


def interleaved(systems: dict, rounds: int = 15) -> dict:
    """``{name: (median seconds, median ratio to the first system)}``.

    Each round times every system once, in a rotated order; a ratio is taken within
    a round, so the machine's drift (a shared VM's neighbours) cancels out of it."""
    names = list(systems)
    numbers = {n: max(1, timeit.Timer(systems[n]).autorange()[0] // 4) for n in names}  # ~50 ms each
    times: dict = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            times[n].append(timeit.timeit(systems[n], number=numbers[n]) / numbers[n])
    ref = times[names[0]]
    return {n: (statistics.median(ts), statistics.median(t / b for t, b in zip(ts, ref))) for n, ts in times.items()}


def disagreeing(systems: dict) -> str | None:
    """The first installed system whose numbers differ from the first system's, or None."""
    names = [n for n, fn in systems.items() if fn is not None]
    want = [np.asarray(v, dtype=float) for v in systems[names[0]]()]
    for name in names[1:]:
        got = [np.asarray(v, dtype=float) for v in systems[name]()]
        if len(got) != len(want) or not all(np.allclose(g, w, rtol=1e-8, atol=1e-10) for g, w in zip(got, want)):
            return name
    return None


def run(title: str, systems: dict) -> bool:
    """Check every installed system against the first, then print medians and ratios."""
    if torch is None:
        systems.setdefault("PyTorch eager", None)
    names = [n for n, fn in systems.items() if fn is not None]
    wrong = disagreeing(systems)
    if wrong is not None:
        print(f"{title}: {wrong} computed different numbers from {names[0]}: not timed", file=sys.stderr)
        return False
    print(f"\n{title}")
    print(f"| {'system':<31} | {'median':>12} | {'ratio':>7} |")
    print(f"|{'-' * 33}|{'-' * 14}:|{'-' * 8}:|")
    measured = interleaved({n: systems[n] for n in names})
    for name in systems:
        if name not in measured:
            print(f"| {name:<31} | {'not installed':>12} | {'':>7} |")
            continue
        t, ratio = measured[name]
        unit, scale = ("ms", 1e3) if t > 1e-3 else ("µs", 1e6)
        print(f"| {name:<31} | {t * scale:>9.2f} {unit} | {ratio:>6.2f}× |")
    return True
