"""The benchmark's workloads, small: graphcomp's compiled functions (both backends)
compute what the hand-written references of ``bench/run.py`` compute (the lectures'
closed forms, a hand im2col CNN, the hand loops of the chain). ``make bench``
checks this before timing; here CI checks it, so the benchmark cannot rot unseen."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


def _ours(systems: dict) -> dict:
    """The reference (first) and graphcomp's rows; the peers are the benchmark's business."""
    first = next(iter(systems))
    return {n: f for n, f in systems.items() if n == first or n.startswith("graphcomp")}


@pytest.mark.parametrize(
    "workload",
    ["w1", "w1-np.float64", "w1-np.float32", "w1-0d", "w2-small", "w2-tiny", "w2-lsm", "w2-log-softmax", "w4",
     "w5", "w3-chain", "w7-small"],
)  # fmt: skip
def test_graphcomp_computes_what_the_hand_written_references_compute(bench, workload):
    systems = {
        "w1": lambda: bench.w1_systems(),
        "w1-np.float64": lambda: bench.w1_systems("np.float64"),
        "w1-np.float32": lambda: bench.w1_systems("np.float32"),
        "w1-0d": lambda: bench.w1_systems("0-d array"),
        "w2-lsm": lambda: bench.w2_generic_systems(32, 64, 128, 10, "log_softmax"),
        "w2-log-softmax": lambda: bench.w2_generic_systems(5, 7, 6, 3, "log(softmax)"),
        "w2-small": lambda: bench.w2_systems(32, 64, 128, 10),
        "w2-tiny": lambda: bench.w2_systems(5, 7, 6, 3),
        "w4": lambda: bench.w4_systems(),
        "w5": lambda: bench.w5_systems(50),
        "w3-chain": lambda: _w3(bench, 40),
        "w7-small": lambda: bench.w7_systems(32, 64, 128, 10),
    }[workload]()
    ours = _ours(systems)
    assert len(ours) >= 2 and any(n.startswith("graphcomp compile") for n in ours)
    # W7's systems keep state: each check is one more training step of every system, in step
    for _ in range(3 if workload == "w7-small" else 1):
        assert bench.disagreeing(ours) is None


def _w3(bench, n):
    data = bench.w3_data(n)
    _, f = bench.w3_prepare(n)
    return {"hand NumPy loop": lambda: bench.w3_hand(*data), "graphcomp compile": lambda: f(*data)}
